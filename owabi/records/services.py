"""Import leaked-record exports: stream, reduce card data, seal PII, index, and reject what is unusable.

Every input row ends up either as a LeakRecord or as a line in the rejects file with its line number,
field and reason, and `rows_in == rows_ok + rows_rejected` always holds. No PII is written to the
rejects file, the logs or error messages: the operator finds the row by its line number. A row is
rejected only when it stands for no one or is broken as a record (docs/exports.md). A value that is
present but cannot be read (a birth date that is no date, a card in no known form) does not reject its
row: the person must still be told. It is kept (a card value: left out), left out of matching, noted on
the record and listed in the warnings file.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple, cast

import orjson
from django.conf import settings
from django.db import connection, transaction

from owabi.core import audit, bulk, rowids
from owabi.core.fields import SealedJSONField
from owabi.core.files import csv_writer, write_private
from owabi.core.locks import Busy, exclusive
from owabi.incidents.models import Incident
from owabi.incidents.selectors import closed_reason
from owabi.records import checkpoints, columns, layouts, lookup, match_store
from owabi.records.incoming import Planned
from owabi.records.layout import Layout, read_header, refuse_code_lookalikes, unread
from owabi.records.mapping import Mapping
from owabi.records.models import LeakRecord, LookupKey, SourceFile
from owabi.records.readers import ImportFileError, Row, Table, open_table
from owabi.records.rows import DUPLICATE_ID, Plan, Reject, read_row, row_problem

__all__ = [
    "DUPLICATE_ID",
    "FileOutcome",
    "ImportResult",
    "Opened",
    "Reject",
    "file_sha256",
    "import_file",
    "import_files",
    "open_export",
]

CHUNK = 2000  # rows per unit of work (and per database write)
PARALLEL_MIN_BYTES = 2 << 20  # smaller files are prepared in-process: forking costs more than it saves

_SEALED = cast("SealedJSONField", LeakRecord._meta.get_field("sealed"))


@dataclass
class ImportResult:
    source_file: SourceFile
    already_imported: bool
    rejects: list[Reject] = field(default_factory=list)
    rejects_path: Path | None = None
    warnings: list[Reject] = field(default_factory=list)
    warnings_path: Path | None = None
    records: int = 0  # people kept: a row may hold several (a layout's [people.NAME])
    layout: str = ""  # the built-in layout the file was read with
    suggestion: str = ""  # a built-in layout close to the header, not used (layouts.Match.describe)


class _Prepared(NamedTuple):
    pk: int  # reserved before the row was sealed: its values are bound to it
    record_id: str
    line: int
    role: str
    # The row from record_id on, in _RecordWriter.FIELDS order: COPY text (PostgreSQL), else a tuple.
    values: bytes | tuple[Any, ...]
    lookup_keys: tuple[bytes, ...]  # owabi.records.lookup.record_keys


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file's bytes: how an import recognises a file it has had, whatever its name."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_clean = columns.clean


def import_file(
    *,
    incident: Incident,
    path: Path,
    source: str = "",
    actor: str,
    rejects_path: Path | None = None,
    mapping: Mapping | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    chunk: int = CHUNK,
    report_stem: str = "",
    restart: bool = False,
    checkpoint_rows: int | None = None,
    resuming: Callable[[SourceFile], None] | None = None,
) -> ImportResult:
    """Import one CSV/TSV/Excel export into `incident`. A file already imported into it is a no-op.

    Rows are prepared (validated, card data reduced, normalized, sealed, indexed) by `workers`
    processes (default: one per core for files over PARALLEL_MIN_BYTES, else in-process) and written in
    order, with COPY on PostgreSQL. Every `checkpoint_rows` rows (OWABI_IMPORT_CHECKPOINT_ROWS) are one
    transaction with their checkpoint (owabi.records.checkpoints): a crash loses the rows since the last
    one, and the same file imported again resumes there (`resuming` hears the file's import as it
    stopped), to the records, counts and reports of a run that never stopped. Other bytes under the
    name of an unfinished import are refused; `restart` discards the unfinished import and starts over.
    A file that turns out unreadable part-way leaves nothing of itself. Rejects and warnings go to
    STEM.rejects.csv and STEM.warnings.csv beside the export (STEM: `report_stem`, else the file's name
    without its ending), written before the last commit.
    """
    if reason := closed_reason(incident):
        raise ImportFileError(reason)
    sha = file_sha256(path)
    every = checkpoint_rows or settings.OWABI_IMPORT_CHECKPOINT_ROWS
    with ExitStack() as held:
        # The same file twice at once: the second would stop on the uniqueness of (incident, hash).
        held.enter_context(_importing(incident, path, sha))
        existing = SourceFile.objects.filter(incident=incident, sha256=sha).first()
        if existing is not None and existing.finished:
            return ImportResult(source_file=existing, already_imported=True)
        if existing is not None and restart:
            checkpoints.discard(existing, actor=actor, why="restart")
            existing = None
        if existing is None:
            for stale in checkpoints.changed(incident=incident, path=path, sha256=sha):
                if not restart:
                    raise ImportFileError(
                        f"{path.name}: changed since its import into {incident.slug} stopped at row"
                        f" {stale.rows_in:,} (other bytes, SHA-256); run again with --restart to discard"
                        " the rows imported from it and import this file from the start"
                    )
                held.enter_context(_importing(incident, path, stale.sha256))  # not while it runs
                checkpoints.discard(stale, actor=actor, why="restart with a changed file")
        return _import(
            _Job(incident, path, sha, source, actor, rejects_path, mapping, workers, chunk, report_stem),
            every,
            existing,
            progress,
            resuming,
        )


@contextmanager
def _importing(incident: Incident, path: Path, sha: str) -> Iterator[None]:
    try:
        with exclusive(f"incident:{incident.pk}:import:{sha}"):
            yield
    except Busy:
        raise ImportFileError(
            f"{path.name}: being imported into {incident.slug} by another process right now; run this "
            "again when that has ended (the file is then skipped, already imported)"
        ) from None


class _Job(NamedTuple):
    incident: Incident
    path: Path
    sha: str
    source: str
    actor: str
    rejects_path: Path | None
    mapping: Mapping | None
    workers: int | None
    chunk: int
    report_stem: str


def _reading(rows: Iterable[Any], failed: list[BaseException]) -> Iterator[Any]:
    """`rows`, noting in `failed` an OSError or UnicodeError that reading them raised (the file's fault)."""
    try:
        yield from rows
    except (OSError, UnicodeError) as error:
        failed.append(error)
        raise


def _import(
    job: _Job,
    every: int,
    resume: SourceFile | None,
    progress: Callable[[int], None] | None,
    resuming: Callable[[SourceFile], None] | None,
) -> ImportResult:
    incident, path = job.incident, job.path
    opened = open_export(path, job.mapping, incident=incident.pk, copy=connection.vendor == "postgresql")
    table, mapping, read, rows, plan = opened.table, opened.mapping, opened.read, opened.rows, opened.plan
    header = table.header
    layout, refused = read.standard, read.refused
    column_map = {
        **{header[i]: c for i, c in layout.items()},
        **{header[i]: c for c, indexes in read.joins.items() for i in indexes},
        **{header[i]: columns.SECURITY_CODE for i in refused},
    }
    source = job.source or mapping.source or path.stem
    done = checkpoints.Committed()
    if resume is not None:
        if (resume.mapping, resume.source, resume.encoding) != (column_map, source, table.encoding):
            raise ImportFileError(
                f"{path.name}: its import into {incident.slug} stopped at row {resume.rows_in:,}, read then"
                " with other columns or another source name; give the same --source, --mapping or"
                " --layout as then, or run with --restart to import it from the start"
            )
        done = checkpoints.committed(resume)
        if resuming is not None:
            resuming(resume)
        rows = islice(rows, done.rows_read, None)  # read again, not prepared again
    read_failed: list[BaseException] = []
    rows = _reading(rows, read_failed)
    workers = job.workers
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if path.stat().st_size >= PARALLEL_MIN_BYTES else 1
    rejects, warnings = done.rejects, done.warnings
    seen_ids = done.record_ids
    rows_in, rows_ok, records, last_line = done.rows_read, done.rows_ok, done.records, done.last_line
    chunk = max(1, min(job.chunk, every))
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    source_file = resume
    finished = False
    rejects_path: Path | None = None
    warnings_path: Path | None = None
    try:
        prepared_chunks = _prepared_in_order(pool, plan, rows, chunk, ahead=2 * workers)
        next_progress = rows_in + 10_000
        while not finished:
            with transaction.atomic():
                if source_file is None:
                    source_file = SourceFile.objects.create(
                        incident=incident,
                        source=source,
                        file_name=path.name,
                        source_path=str(path.resolve()),
                        sha256=job.sha,
                        encoding=table.encoding,
                        mapping=column_map,
                    )
                elif source_file is resume and rows_in == done.rows_read:  # this run's first commit
                    source_file.resumed += 1
                    source_file.source_path = str(path.resolve())  # the same bytes may have moved
                    source_file.save(update_fields=["resumed", "source_path"])
                writer = _RecordWriter(incident.pk, source_file.pk)
                new_rejects: list[Reject] = []
                new_warnings: list[Reject] = []
                since = 0
                for prepared in prepared_chunks:
                    new_rejects.extend(prepared.rejects)
                    fresh = []
                    dropped: set[int] = set()  # rows whose own record was a duplicate: their people go too
                    for record in prepared.records:
                        if record.line in dropped:
                            continue
                        if record.record_id in seen_ids:
                            new_rejects.append(Reject(record.line, "record_id", DUPLICATE_ID))
                            dropped.add(record.line)
                        else:
                            seen_ids.add(record.record_id)
                            fresh.append(record)
                    fresh_lines = {record.line for record in fresh}
                    rows_ok += len(fresh_lines)
                    new_warnings.extend(w for w in prepared.warnings if w.line in fresh_lines)
                    writer.write(fresh)
                    if prepared.records:
                        match_store.save(
                            source_file, [record.line for record in prepared.records], prepared.keys
                        )
                    rows_in += prepared.rows
                    since += prepared.rows
                    last_line = prepared.last_line or last_line
                    if progress and rows_in >= next_progress:
                        progress(rows_in)
                        next_progress = rows_in + 10_000
                    if since >= every:
                        break
                else:
                    finished = True
                writer.finish()
                records += writer.written
                rejects += new_rejects
                warnings += new_warnings
                if writer.first_pk is not None:
                    written = LeakRecord.objects.filter(source_file=source_file, pk__gte=writer.first_pk)
                    bulk.check_links(written, ("incident", "source_file"))
                if not finished:
                    checkpoints.record(
                        source_file,
                        rows_read=rows_in,
                        rows_ok=rows_ok,
                        rows_rejected=len(rejects),
                        records=records,
                        last_line=last_line,
                        rejects=new_rejects,
                        warnings=new_warnings,
                    )
                    continue
                source_file.rows_in = rows_in
                source_file.rows_rejected = len(rejects)
                source_file.rows_ok = rows_ok
                source_file.finished = True
                if source_file.rows_ok + source_file.rows_rejected != rows_in:  # pragma: no cover - invariant
                    raise RuntimeError(f"{path.name}: row counts do not reconcile")
                source_file.save()
                # Before the last commit: a report that cannot be written (a read-only folder, a full
                # disk) leaves the import unfinished, rather than finished with no file saying which rows
                # were not imported.
                rejects_path, warnings_path = _write_reports(
                    path, job.rejects_path, job.report_stem, rejects, warnings, partly=rows_in > since
                )
                audit.record(
                    actor=job.actor,
                    action="records.import",
                    object_type="source_file",
                    object_id=source_file.pk,
                    data={
                        "incident": incident.slug,
                        "sha256": job.sha,
                        "rows_in": rows_in,
                        "rows_ok": source_file.rows_ok,
                        "rows_rejected": len(rejects),
                        "rows_with_warnings": len({w.line for w in warnings}),
                        "warnings": len(warnings),
                        "security_code_column_refused": bool(refused),
                        "resumed": source_file.resumed,
                    },
                )
    except ReportNotWritten:
        raise
    except (ImportFileError, OSError, UnicodeError) as error:
        # The file, not the run, failed (unreadable part-way): running it again would fail the same way,
        # so what it committed goes, and the file is as if never imported. Only an error of reading the
        # file: any other (a closed progress pipe, a full disk) leaves the import unfinished, to resume.
        if isinstance(error, ImportFileError) or read_failed:
            committed = SourceFile.objects.filter(incident=incident, sha256=job.sha, finished=False).first()
            if committed is not None:
                checkpoints.discard(committed, actor=job.actor, why="the file could not be read to its end")
        raise
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    assert source_file is not None  # the loop made it
    bulk.refresh_statistics(LeakRecord, LookupKey)  # committed in checkpoint-sized chunks, none analyzed
    return ImportResult(
        source_file,
        False,
        rejects,
        rejects_path if rejects else None,
        warnings,
        warnings_path,
        records=records,
        layout=mapping.name,
        suggestion=opened.suggestion,
    )


@dataclass
class FileOutcome:
    """What became of one file of a run over several (import_files)."""

    path: Path
    result: ImportResult | None = None  # None when the file failed
    error: str = ""  # why it failed: names the file (and line), never a value
    unfinished: bool = False  # it failed with rows committed: its import resumes when run again


def import_files(
    *,
    incident: Incident,
    files: Iterable[Planned],
    actor: str,
    progress: Callable[[Path, int], None] | None = None,
    restart: bool = False,
    resuming: Callable[[Path, SourceFile], None] | None = None,
) -> Iterator[FileOutcome]:
    """Import each file in turn through import_file, yielding each outcome as it is known; `progress`
    hears (file, 0) as a file starts, then (file, rows read) as it goes; `resuming` hears of a file whose
    import stopped before and goes on (import_file's `resuming`). `restart`: each file whose import is
    unfinished (or changed since) starts over.

    Each file is its own import: one that fails (unreadable, an encoding owabi does not know, a
    header it cannot read) leaves nothing of itself and takes nothing from the files before it, and the
    run goes on. Run again, the files already imported are skipped by their hash, the one a crash cut
    off resumes, and the failed ones are tried again. Errors other than these are faults of owabi's and
    stop the run (what was imported before stays imported; the file being imported resumes).
    """
    files = list(files)
    stems = Counter((planned.path.parent, planned.path.stem) for planned in files)
    for planned in files:
        # customers.csv and customers.xlsx side by side: customers.csv.rejects.csv, not one over the other
        shared = stems[planned.path.parent, planned.path.stem] > 1
        if planned.refused:
            yield FileOutcome(planned.path, error=planned.refused)
            continue
        path = planned.path
        if progress is not None:
            progress(path, 0)

        def rows_done(rows: int, path: Path = path) -> None:
            if progress is not None:
                progress(path, rows)

        def goes_on(stopped: SourceFile, path: Path = path) -> None:
            if resuming is not None:
                resuming(path, stopped)

        try:
            result = import_file(
                incident=incident,
                path=path,
                source=planned.source,
                actor=actor,
                mapping=planned.mapping,
                progress=rows_done,
                report_stem=path.name if shared else "",
                restart=restart,
                resuming=goes_on,
            )
        except ImportFileError as error:
            stopped = checkpoints.of_this_file(incident=incident, path=path)
            yield FileOutcome(path, error=str(error), unfinished=bool(stopped))
        except OSError as error:
            yield FileOutcome(
                path, error=f"{path.name}: cannot be read ({error.strerror or 'input/output error'})"
            )
        except UnicodeError as error:
            reason = getattr(error, "reason", "") or "undecodable bytes"
            yield FileOutcome(path, error=f"{path.name}: text that cannot be decoded ({reason})")
        else:
            yield FileOutcome(path, result)


class Opened(NamedTuple):
    """An export opened for import or for a check: how its columns will be read, and its rows."""

    table: Table
    mapping: Mapping
    read: Layout
    rows: Iterator[Row]  # refused columns already blanked
    plan: Plan
    suggestion: str  # a built-in layout close to the header, with its differences ("" when none)


def open_export(path: Path, mapping: Mapping | None, *, incident: int, copy: bool) -> Opened:
    """Open the export and read its header with `mapping`. Without one, a built-in layout whose header
    set is exactly the file's is used; a near one is only suggested (and named when the header cannot be
    read without it)."""
    encoding, delimiter = (mapping.encoding, mapping.delimiter) if mapping else (None, None)
    table = open_table(path, encoding=encoding, delimiter=delimiter)
    suggestion = ""
    if mapping is None:
        found = layouts.match(table.header)
        if found is not None and found.exact:
            mapping = found.layout
        elif found is not None and found.layout.name != "standard":
            suggestion = found.describe()
    elif mapping.name and mapping.name != "standard":
        layouts.check_named(path.name, table.header, mapping)
    mapping = mapping or Mapping()
    header = table.header
    try:
        read = read_header(path, header, mapping)
    except ImportFileError as error:
        if suggestion:
            raise ImportFileError(f"{error}; {suggestion}") from None
        raise
    rows = unread(table.rows(), read.refused)
    card_file = any(c in columns.CARD_COLUMNS or c == "card_expiry" for c in read.standard.values())
    if card_file or read.refused:
        rows = refuse_code_lookalikes(path, header, rows, read.extras, mapping)
    plan = Plan(
        len(header),
        read.standard,
        read.extras,
        bool(read.refused),
        card_file,
        copy=copy,
        incident=incident,
        joins=read.joins,
        codes=read.codes,
        line_ids=mapping.line_ids,
        people=read.people,
    )
    return Opened(table, mapping, read, rows, plan, suggestion)


class ReportNotWritten(ImportFileError):
    """The import's rejects or warnings file cannot be written: its last commit is not made."""


def _write_reports(
    path: Path,
    rejects_path: Path | None,
    stem: str,
    rejects: list[Reject],
    warnings: list[Reject],
    *,
    partly: bool,
) -> tuple[Path | None, Path | None]:
    """Write STEM.rejects.csv and STEM.warnings.csv (those that have lines); where they went. A
    ReportNotWritten, naming the report and the reason, when one cannot be written; `partly`: rows were
    committed before (the import stays unfinished, and resumes), else nothing is imported."""
    rejects.sort(key=lambda r: r.line)
    warnings.sort(key=lambda r: r.line)
    rejects_path = rejects_path or path.with_name((stem or path.stem) + ".rejects.csv")
    warnings_path = rejects_path.with_name((stem or path.stem) + ".warnings.csv")
    for target, lines in ((rejects_path, rejects), (warnings_path, warnings)):
        if not lines:
            continue
        try:
            _write_report(target, path.name, lines)
        except OSError as error:
            why = f"its report {target} cannot be written ({error.strerror or 'input/output error'})"
            if partly:
                raise ReportNotWritten(
                    f"{path.name}: not finished, because {why}; make its folder writable or name another"
                    " with --rejects, and run the same command again: it resumes where it stopped"
                ) from None
            raise ReportNotWritten(
                f"{path.name}: nothing imported, because {why}; make its folder writable or name another "
                "with --rejects"
            ) from None
    return (rejects_path if rejects else None), (warnings_path if warnings else None)


def _write_report(target: Path, file_name: str, lines: list[Reject]) -> None:
    with write_private(target, newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow(["file", "line", "field", "reason"])
        writer.writerows([file_name, r.line, r.field, r.reason] for r in lines)


def _prepared_in_order(
    pool: Any, plan: Plan, rows: Iterable[Row], chunk: int, *, ahead: int
) -> Iterator[_Chunk]:
    """The file's chunks prepared, in file order. Each chunk's row ids are reserved here, inside the
    importing transaction, before a worker seals its rows bound to them (an id of a rejected row is
    simply not used); at most `ahead` chunks are in the workers at once, so memory stays bounded."""
    if pool is None:
        for part in bulk.chunked(rows, chunk):
            yield _prepare_chunk(plan, (part, rowids.allocate(LeakRecord, len(part) * ids_per_row(plan))))
        return
    pending: deque[Any] = deque()
    for part in bulk.chunked(rows, chunk):
        pending.append(
            pool.apply_async(
                _prepare_chunk, (plan, (part, rowids.allocate(LeakRecord, len(part) * ids_per_row(plan))))
            )
        )
        if len(pending) > ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


class _RecordWriter:
    """Appends prepared rows to the LeakRecord table and their lookup keys to LookupKey (COPY on
    PostgreSQL). Record ids were reserved before the rows were sealed, and the keys point at them.

    SQLite gets the keys in key order at the end (`finish`), from a temporary table: keys are random,
    and inserting them as they come sends each to a random page of the key index, which for SQLite's
    small page cache was much of what the keys cost the import."""

    KEYS_TABLE = "owabi_import_lookup_keys"

    FIELDS = (
        *("id", "incident", "source_file", "record_id", "line_no", "role"),
        *("sealed", "categories", "problems"),
    )

    def __init__(self, incident_id: int, source_file_id: int) -> None:
        self.incident_id, self.source_file_id = incident_id, source_file_id
        self.written = 0
        self.first_pk: int | None = None  # the lowest record id written
        self.held_keys = False  # SQLite: the temporary table of keys exists

    def write(self, records: list[_Prepared]) -> None:
        if not records:
            return
        ids = [record.pk for record in records]
        self.first_pk = min(ids[0], self.first_pk or ids[0])
        if isinstance(records[0].values, bytes):
            head = f"\t{self.incident_id}\t{self.source_file_id}\t".encode()
            lines = (
                b"%d%s%s" % (pk, head, cast("bytes", r.values)) for pk, r in zip(ids, records, strict=True)
            )
            self.written += bulk.insert_copy_text(LeakRecord, self.FIELDS, lines)
            keys = (
                b"\\\\x%s\t%d\n" % (key.hex().encode(), pk)
                for pk, record in zip(ids, records, strict=True)
                for key in record.lookup_keys
            )
            bulk.insert_copy_text(LookupKey, lookup.KEY_FIELDS, keys, analyze=False)
        else:
            rows = (
                (pk, self.incident_id, self.source_file_id, *r.values)
                for pk, r in zip(ids, records, strict=True)
            )
            self.written += bulk.insert(LeakRecord, self.FIELDS, rows)
            with connection.cursor() as cursor:
                if not self.held_keys:
                    self.held_keys = True
                    cursor.execute(
                        f"CREATE TEMP TABLE {self.KEYS_TABLE} (key BLOB NOT NULL, record_id INTEGER)"
                    )
                cursor.executemany(
                    f"INSERT INTO {self.KEYS_TABLE} VALUES (%s, %s)",  # noqa: S608
                    [
                        (key, pk)
                        for pk, record in zip(ids, records, strict=True)
                        for key in record.lookup_keys
                    ],
                )

    def finish(self) -> None:
        """Store the keys held back (SQLite)."""
        if self.held_keys:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {LookupKey._meta.db_table} (key, record_id) "  # noqa: S608
                    f"SELECT key, record_id FROM {self.KEYS_TABLE} ORDER BY key, record_id"
                )
                cursor.execute(f"DROP TABLE {self.KEYS_TABLE}")
            self.held_keys = False


class _Chunk(NamedTuple):
    records: list[_Prepared]  # ready to write
    rejects: list[Reject]
    warnings: list[Reject]
    rows: int  # rows seen
    last_line: int  # where the last of them starts in the file (0: no rows)
    keys: bytes  # the records' match keys (match_store.pack); b"" when there are no records


def ids_per_row(plan: Plan) -> int:
    """Row ids reserved for each row: one per person the layout can find on it."""
    return 1 + len(plan.people)


def _prepare_chunk(plan: Plan, job: tuple[list[Row], list[int]]) -> _Chunk:
    """Runs in a worker: raw rows and their reserved ids (ids_per_row(plan) a row) -> records ready to
    write, their match keys, rejects and warnings."""
    rows, ids = job
    per_row = ids_per_row(plan)
    prepared: list[_Prepared] = []
    rejects: list[Reject] = []
    warnings: list[Reject] = []
    keys: list[tuple[str | None, ...]] = []
    lookup_keys = lookup.record_keyer(plan.incident)
    for index, (line, cells, problem) in enumerate(rows):
        if broken := row_problem(plan, line, cells, problem):
            rejects.append(broken)
        else:
            row_ids = ids[index * per_row : (index + 1) * per_row]
            prepared += _prepare(plan, row_ids, line, cells, rejects, warnings, keys, lookup_keys)
    lines, roles = [record.line for record in prepared], [record.role for record in prepared]
    blob = match_store.pack(lines, keys, roles) if prepared else b""
    return _Chunk(prepared, rejects, warnings, len(rows), rows[-1][0] if rows else 0, blob)


def _prepare(
    plan: Plan,
    ids: list[int],
    line: int,
    row: list[str],
    rejects: list[Reject],
    warnings: list[Reject],
    keys: list[tuple[str | None, ...]],
    lookup_keys: Callable[[dict[str, Any]], tuple[bytes, ...]],
) -> list[_Prepared]:
    prepared = []
    reads = list(read_row(plan, line, row, rejects, warnings))
    if len(reads) > len(ids):  # pragma: no cover - read_row gives at most one record per person of the layout
        raise RuntimeError(f"line {line}: {len(reads)} people for {len(ids)} reserved ids")
    for pk, read in zip(ids, reads, strict=False):
        keys.append(read.match_keys)
        stored = (
            read.record_id,
            line,
            read.role,
            _SEALED.seal_row(read.sealed, pk),
            orjson.dumps(sorted(read.leaked)).decode(),  # categories
            orjson.dumps(read.problems).decode(),
        )
        prepared.append(
            _Prepared(
                pk,
                read.record_id,
                line,
                read.role,
                bulk.copy_text(stored) if plan.copy else stored,
                lookup_keys(read.sealed),
            )
        )
    return prepared
