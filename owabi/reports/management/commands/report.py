from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from owabi.core.files import write_private
from owabi.core.management.arguments import output_file
from owabi.incidents.cli import incident_or_error
from owabi.reports import deadlines, exports, selectors
from owabi.reports.models import ReportVersion

STAGES = ("preliminary", "final", "sokuho", "kakuho")


class Command(BaseCommand):
    help = (
        "Write the APPI report to the regulator (速報 or 確報) as PDF, Markdown or JSON, figures as of now."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="regime", required=True, metavar="{appi}")
        appi = sub.add_parser("appi", help="The APPI report to the PPC (速報 or 確報), with its 9 items")
        appi.add_argument("--incident", required=True, help="the incident's slug (owabi incident list)")
        appi.add_argument(
            "--stage",
            required=True,
            choices=STAGES,
            help="preliminary (速報, sokuho) or final (確報, kakuho)",
        )
        appi.add_argument(
            "--out",
            required=True,
            type=output_file,
            metavar="FILE",
            help="the file to write; its extension picks the format: .pdf, .md or .json",
        )
        appi.add_argument(
            "--version", type=int, metavar="N", help="a saved version exactly as saved (figures as of then)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        fmt = out.suffix.lower().lstrip(".")
        if fmt not in exports.FORMATS:
            raise CommandError(f"--out must end in .pdf, .md or .json, not {out.suffix or '(nothing)'}")
        incident = incident_or_error(options["incident"])
        stage = deadlines.stage_key("appi", options["stage"])
        try:
            draft = selectors.draft(incident, stage, version_number=options["version"])
        except ReportVersion.DoesNotExist:
            raise CommandError(f"no saved version {options['version']} of the {stage} report") from None
        data = exports.render(draft, fmt)
        with write_private(out, "wb") as handle:
            handle.write(data)
        saved = f"version {draft.version.number}" if draft.version else "unsaved draft"
        as_of = timezone.localtime(draft.as_of)
        self.stdout.write(
            f"wrote the {draft.stage_label} ({stage}, {saved}, figures as of {as_of:%Y-%m-%d %H:%M}) to {out}"
        )
