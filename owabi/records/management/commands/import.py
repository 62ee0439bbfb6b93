from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from owabi.core.management.arguments import input_file, input_path, output_file
from owabi.core.management.witness import anchor_after_job
from owabi.incidents.cli import incident_or_error
from owabi.incidents.models import Incident
from owabi.records import incoming, layouts, preview, selectors
from owabi.records.mapping import Mapping, load_mapping
from owabi.records.models import SourceFile
from owabi.records.readers import ImportFileError
from owabi.records.services import ImportResult, file_sha256, import_file, import_files


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _mapping(options: dict[str, Any]) -> Mapping | None:
    if options["mapping"] and options["layout"]:
        raise CommandError("give --mapping or --layout, not both")
    if options["layout"]:
        return layouts.get(options["layout"])
    return load_mapping(Path(options["mapping"])) if options["mapping"] else None


def _result_lines(name: str, result: ImportResult, seconds: float) -> list[str]:
    """What the import of one file did, in lines that reconcile: every row read is kept or rejected;
    warnings are on kept rows."""
    source_file = result.source_file
    out = []
    if result.layout:
        out.append(f"{name}: read with layout {result.layout}")
    elif result.suggestion:
        out.append(f"{name}: {result.suggestion}")
    warned_rows = len({w.line for w in result.warnings})
    out.append(
        f"{name} ({source_file.encoding}): in {source_file.rows_in:,} = kept {source_file.rows_ok:,}"
        f" + rejected {source_file.rows_rejected:,}; {_count(len(result.warnings), 'warning')} on"
        f" {_count(warned_rows, 'kept row')} ({seconds:.1f}s)"
    )
    if result.records != source_file.rows_ok:
        out.append(f"the kept rows hold {result.records:,} people, each a record of their own")
    if source_file.resumed:
        times = "once" if source_file.resumed == 1 else f"{source_file.resumed:,} times"
        out.append(f"{name}: its import stopped and resumed {times}; the counts are the whole file's")
    if result.rejects_path:
        out.append(f"rejected rows and reasons: {result.rejects_path}")
    if result.warnings_path:
        out.append(
            f"kept rows with values that could not be read or were kept out (not used for matching):"
            f" {result.warnings_path}"
        )
    return out


def _resuming(name: str, stopped: SourceFile, incident: Incident) -> str:
    """The line that says an import goes on where it stopped, and from which row."""
    return (
        f"{name}: resuming its import into {incident.slug}, which stopped after row {stopped.rows_in:,}"
        f" (kept {stopped.rows_ok:,} + rejected {stopped.rows_rejected:,}): reading past those rows,"
        f" importing from row {stopped.rows_in + 1:,}"
    )


def _skipped(name: str, result: ImportResult, incident: Incident) -> str:
    earlier = result.source_file
    same = "" if earlier.file_name == name else f" as {earlier.file_name}"
    return (
        f"{name}: skipped, already imported into {incident.slug}{same} (same bytes, SHA-256),"
        f" source {earlier.source}, {timezone.localtime(earlier.imported_at):%Y-%m-%d %H:%M %Z}"
    )


class Command(BaseCommand):
    help = (
        "Import exports of leaked records (CSV/TSV, .xlsx) into an incident: a file, a folder, or a manifest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file",
            type=input_path,
            help="the export (.csv, .tsv, .txt, .xlsx), a folder of them, or a manifest (.toml) listing them",
        )
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
        parser.add_argument(
            "--restart",
            action="store_true",
            help="discard an unfinished import of the file (stopped, or of a changed file) and start over",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if path.is_dir() or path.suffix.lower() == incoming.MANIFEST_SUFFIX:
            self._several(path, options)
            return
        if options["check"]:
            self._check(path, options)
            return
        if not options["incident"]:
            raise CommandError("--incident is required (or --check to look at the file first)")
        incident = incident_or_error(options["incident"], open_only=True)
        started = time.monotonic()
        skipped = 0  # rows committed by the run that stopped: not counted in the rate

        def progress(rows: int) -> None:
            rate = (rows - skipped) / max(time.monotonic() - started, 1e-9)
            sys.stderr.write(f"\r{path.name}: {rows:,} rows ({rate:,.0f} rows/s)")
            sys.stderr.flush()

        def resuming(stopped: SourceFile) -> None:
            nonlocal skipped
            skipped = stopped.rows_in
            sys.stderr.write(_resuming(path.name, stopped, incident) + "\n")
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
                restart=options["restart"],
                resuming=resuming,
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        sys.stderr.write("\r")
        if result.already_imported:
            self.stdout.write(f"{path.name}: already imported into {incident.slug}, nothing to do")
            return
        self.stdout.write("\n".join(_result_lines(path.name, result, time.monotonic() - started)))
        anchor_after_job(self)

    def _check(self, path: Path, options: dict[str, Any]) -> None:
        try:
            check = preview.check_file(path, _mapping(options))
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        self.stdout.write("\n".join(preview.lines(check)))

    def _selection(self, path: Path, options: dict[str, Any]) -> incoming.Selection:
        if options["rejects"]:
            raise CommandError(
                "--rejects names one file's rejects; with several files each gets FILE.rejects.csv beside it"
            )
        try:
            if path.is_dir():
                return incoming.from_folder(path, source=options["source"], mapping=_mapping(options))
            if options["source"] or options["layout"] or options["mapping"]:
                raise CommandError(
                    "a manifest gives each file's source, layout and mapping:"
                    " not --source, --layout or --mapping"
                )
            return incoming.from_manifest(path)
        except ImportFileError as error:
            raise CommandError(str(error)) from None

    def _several(self, path: Path, options: dict[str, Any]) -> None:
        """Every export of a folder, or every file of a manifest: each its own import (its own
        transaction), numbered, then a total that reconciles. Fails (non-zero) if any file failed."""
        selection = self._selection(path, options)
        for name, reason in selection.ignored:
            self.stdout.write(f"ignored {name}: {reason}")
        files = selection.files
        if not files:
            raise CommandError(f"{path}: no export to import (.csv, .tsv, .txt, .xlsx)")
        incident = None
        if options["incident"]:
            incident = incident_or_error(options["incident"], open_only=not options["check"])
        if options["check"]:
            self._check_several(files, incident)
            return
        if incident is None:
            raise CommandError("--incident is required (or --check to look at the files first)")
        total = len(files)
        number = {planned.path: index for index, planned in enumerate(files, start=1)}
        started: dict[Path, float] = {}

        live = sys.stderr.isatty()  # a terminal: one line per file, rewritten; a log: a line each time

        def progress(file: Path, rows: int) -> None:
            at = f"[{number[file]}/{total}] {file.name}"
            if rows == 0:
                started[file] = time.monotonic()
                sys.stderr.write(f"{at} …" + ("" if live else "\n"))
            else:
                rate = rows / max(time.monotonic() - started[file], 1e-9)
                text = f"{at}: {rows:,} rows ({rate:,.0f} rows/s)"
                sys.stderr.write(f"\r\x1b[K{text}" if live else f"{text}\n")
            sys.stderr.flush()

        rows_in = rows_ok = rows_rejected = people = 0
        imported: list[str] = []
        skipped: list[str] = []
        failed: list[str] = []

        def resuming(file: Path, stopped: SourceFile) -> None:
            if live:
                sys.stderr.write("\r\x1b[K")
            sys.stderr.write(f"[{number[file]}/{total}] {_resuming(file.name, stopped, incident)}\n")
            sys.stderr.flush()

        outcomes = import_files(
            incident=incident,
            files=files,
            actor="cli",
            progress=progress,
            restart=options["restart"],
            resuming=resuming,
        )
        for outcome in outcomes:
            if live:
                sys.stderr.write("\r\x1b[K")
            name, at = outcome.path.name, f"[{number[outcome.path]}/{total}]"
            result = outcome.result
            if result is None:
                failed.append(name)
                what = "its import unfinished" if outcome.unfinished else "nothing of it imported"
                self.stdout.write(f"{at} FAILED, {what}: {outcome.error}")
            elif result.already_imported:
                skipped.append(name)
                self.stdout.write(f"{at} {_skipped(name, result, incident)}")
            else:
                imported.append(name)
                source_file = result.source_file
                rows_in += source_file.rows_in
                rows_ok += source_file.rows_ok
                rows_rejected += source_file.rows_rejected
                people += result.records
                seconds = time.monotonic() - started.get(outcome.path, time.monotonic())
                self.stdout.write(f"{at} {name} (source {source_file.source})")
                self.stdout.write("\n".join("  " + line for line in _result_lines(name, result, seconds)))
        summary = (
            f"total: {_count(len(imported), 'file')} imported into {incident.slug}: in {rows_in:,} ="
            f" kept {rows_ok:,} + rejected {rows_rejected:,}"
        )
        if people != rows_ok:
            summary += f" ({people:,} people)"
        summary += f"; {len(skipped):,} skipped, already imported; {len(failed):,} failed"
        if selection.ignored:
            summary += f"; {_count(len(selection.ignored), 'file')} ignored"
        self.stdout.write(summary)
        if imported:
            anchor_after_job(self)
        if failed:
            raise CommandError(
                f"{_count(len(failed), 'file')} of {total} failed: {', '.join(failed)}."
                f" Fix {'it' if len(failed) == 1 else 'them'} and run the same command again:"
                " the files already imported are skipped by their hash, and one whose import was cut off"
                " resumes where it stopped."
            )

    def _check_several(self, files: list[incoming.Planned], incident: Incident | None) -> None:
        """--check on each file; the same bytes seen twice, or already imported (with --incident), are said
        to be skipped by the import."""
        total = len(files)
        seen: dict[str, str] = {}
        failed: list[str] = []
        skipped = 0
        for index, planned in enumerate(files, start=1):
            name = planned.path.name
            self.stdout.write(f"[{index}/{total}] {name}")
            if planned.refused:
                failed.append(name)
                self.stdout.write(f"  cannot be imported: {planned.refused}")
                continue
            try:
                sha = file_sha256(planned.path)
                earlier = selectors.imported_file(incident=incident, sha256=sha) if incident else None
                if earlier is not None and not earlier.finished:
                    self.stdout.write(
                        f"  the import would resume it: its import stopped after row {earlier.rows_in:,}"
                    )
                    earlier = None
                if earlier is not None or sha in seen:
                    skipped += 1
                    what = f"{earlier.file_name} in {incident.slug}" if earlier and incident else seen[sha]
                    self.stdout.write(f"  the import would skip it: the same bytes as {what} (SHA-256)")
                    continue
                seen[sha] = name
                check = preview.check_file(planned.path, planned.mapping)
            except ImportFileError as error:
                failed.append(name)
                self.stdout.write(f"  cannot be imported: {error}")
                continue
            except OSError as error:
                failed.append(name)
                self.stdout.write(f"  cannot be imported: {name}: cannot be read ({error.strerror})")
                continue
            if planned.source:
                self.stdout.write(f"  source {planned.source}")
            # Each file's "nothing was written" is said once for all of them, below.
            lines = [line for line in preview.lines(check) if line != preview.NOTHING_WRITTEN]
            if check.refused_file:
                failed.append(name)
            self.stdout.write("\n".join("  " + line for line in lines))
        self.stdout.write(
            f"checked {_count(total, 'file')}: {total - skipped - len(failed):,} would be imported,"
            f" {skipped:,} skipped (same bytes), {len(failed):,} cannot be;"
            " nothing was written (this was a check)"
        )
        if failed:
            raise CommandError(
                f"{len(failed)} of {_count(total, 'file')} cannot be imported: {', '.join(failed)}"
            )
