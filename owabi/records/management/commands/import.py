from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core.management.witness import anchor_after_job
from owabi.incidents.selectors import get_incident
from owabi.records.mapping import load_mapping
from owabi.records.readers import ImportFileError
from owabi.records.services import import_file


class Command(BaseCommand):
    help = "Import one export of leaked records (CSV or TSV, UTF-8 or Shift_JIS/CP932) into an incident."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--incident", required=True, help="incident slug")
        parser.add_argument("--source", default="", help="name of the system the export came from")
        parser.add_argument("--mapping", type=Path, help="TOML mapping file for non-standard headers")
        parser.add_argument(
            "--rejects", type=Path, help="where to write rejected rows (default FILE.rejects.csv)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        incident = get_incident(slug=options["incident"])
        if incident is None:
            raise CommandError(f"no incident with slug {options['incident']!r}")
        started = time.monotonic()

        def progress(rows: int) -> None:
            rate = rows / max(time.monotonic() - started, 1e-9)
            sys.stderr.write(f"\r{path.name}: {rows:,} rows ({rate:,.0f} rows/s)")
            sys.stderr.flush()

        try:
            mapping = load_mapping(options["mapping"]) if options["mapping"] else None
            result = import_file(
                incident=incident,
                path=path,
                source=options["source"],
                actor="cli",
                rejects_path=options["rejects"],
                mapping=mapping,
                progress=progress,
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        sys.stderr.write("\r")
        source_file = result.source_file
        if result.already_imported:
            self.stdout.write(f"{path.name}: already imported into {incident.slug}, nothing to do")
            return
        self.stdout.write(
            f"{path.name} ({source_file.encoding}): in {source_file.rows_in:,}, ok {source_file.rows_ok:,}, "
            f"rejected {source_file.rows_rejected:,} in {time.monotonic() - started:.1f}s"
        )
        if result.rejects_path:
            self.stdout.write(f"rejected rows and reasons: {result.rejects_path}")
        if result.warnings_path:
            rows = len({w.line for w in result.warnings})
            self.stdout.write(
                f"{rows:,} imported rows have values that could not be read (kept, not used for matching):"
                f" {result.warnings_path}"
            )
        anchor_after_job(self)
