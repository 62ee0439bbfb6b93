from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core.management.arguments import input_file, output_file
from owabi.core.management.witness import anchor_after_job
from owabi.incidents.cli import incident_or_error
from owabi.records import layouts, preview
from owabi.records.mapping import Mapping, load_mapping
from owabi.records.readers import ImportFileError
from owabi.records.services import import_file


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _mapping(options: dict[str, Any]) -> Mapping | None:
    if options["mapping"] and options["layout"]:
        raise CommandError("give --mapping or --layout, not both")
    if options["layout"]:
        return layouts.get(options["layout"])
    return load_mapping(Path(options["mapping"])) if options["mapping"] else None


class Command(BaseCommand):
    help = "Import one export of leaked records (CSV/TSV text or an .xlsx workbook) into an incident."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=input_file, help="the export: .csv, .tsv, .txt or .xlsx")
        parser.add_argument("--incident", help="the incident's slug (owabi incident list); not with --check")
        parser.add_argument(
            "--check",
            action="store_true",
            help="show how the file would be read and what would be kept, masked; write nothing",
        )
        parser.add_argument(
            "--source", default="", help="name of the system the export came from (default: the file name)"
        )
        parser.add_argument(
            "--mapping",
            type=input_file,
            metavar="MAP.toml",
            help="TOML mapping file for non-standard headers",
        )
        parser.add_argument(
            "--layout",
            metavar="NAME",
            help=f"a built-in layout of a known export: {', '.join(layouts.names())}",
        )
        parser.add_argument(
            "--rejects",
            type=output_file,
            metavar="FILE.csv",
            help="where to write rejected rows (default FILE.rejects.csv beside the export)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if options["check"]:
            self._check(path, options)
            return
        if not options["incident"]:
            raise CommandError("--incident is required (or --check to look at the file first)")
        incident = incident_or_error(options["incident"])
        started = time.monotonic()

        def progress(rows: int) -> None:
            rate = rows / max(time.monotonic() - started, 1e-9)
            sys.stderr.write(f"\r{path.name}: {rows:,} rows ({rate:,.0f} rows/s)")
            sys.stderr.flush()

        try:
            mapping = _mapping(options)
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
        if result.layout:
            self.stdout.write(f"{path.name}: read with layout {result.layout}")
        elif result.suggestion:
            self.stdout.write(f"{path.name}: {result.suggestion}")
        # One line that reconciles: every row read is kept or rejected; warnings are on kept rows.
        warned_rows = len({w.line for w in result.warnings})
        self.stdout.write(
            f"{path.name} ({source_file.encoding}): in {source_file.rows_in:,} = kept {source_file.rows_ok:,}"
            f" + rejected {source_file.rows_rejected:,}; {_count(len(result.warnings), 'warning')} on"
            f" {_count(warned_rows, 'kept row')} ({time.monotonic() - started:.1f}s)"
        )
        if result.records != source_file.rows_ok:
            self.stdout.write(f"the kept rows hold {result.records:,} people, each a record of their own")
        if result.rejects_path:
            self.stdout.write(f"rejected rows and reasons: {result.rejects_path}")
        if result.warnings_path:
            self.stdout.write(
                f"kept rows with values that could not be read or were kept out (not used for matching):"
                f" {result.warnings_path}"
            )
        anchor_after_job(self)

    def _check(self, path: Path, options: dict[str, Any]) -> None:
        try:
            check = preview.check_file(path, _mapping(options))
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        self.stdout.write("\n".join(preview.lines(check)))
