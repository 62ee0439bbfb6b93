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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, cast

import orjson
from django.db import connection, transaction

from owabi.core import audit, bulk, crypto
from owabi.core.files import csv_writer, write_private
from owabi.incidents.models import Incident
from owabi.records import cards, columns, layouts, lookup, match_store, normalize
from owabi.records import features as feature_module
from owabi.records.layout import Layout, read_header, refuse_code_lookalikes, unread
from owabi.records.mapping import Mapping
from owabi.records.models import LeakRecord, LookupKey, SourceFile
from owabi.records.readers import ImportFileError, Row, Table, open_table

CHUNK = 2000  # rows per unit of work (and per database write)
PARALLEL_MIN_BYTES = 2 << 20  # smaller files are prepared in-process: forking costs more than it saves

_SEALED_AAD = LeakRecord._meta.get_field("sealed").aad


@dataclass
class Reject:
    line: int
    field: str
    reason: str


@dataclass
class ImportResult:
    source_file: SourceFile
    already_imported: bool
    rejects: list[Reject] = field(default_factory=list)
    rejects_path: Path | None = None
    warnings: list[Reject] = field(default_factory=list)
    warnings_path: Path | None = None
    layout: str = ""  # the built-in layout the file was read with
    suggestion: str = ""  # a built-in layout close to the header, not used (layouts.Match.describe)


@dataclass(frozen=True)
class Plan:
    """What a worker needs to turn raw rows into database rows (picklable; no database access)."""

    width: int
    layout: dict[int, str]
    extras: dict[int, tuple[str, str]]
    security_code: bool  # a security-code column was refused
    card_file: bool  # the file has card columns
    copy: bool  # format rows for COPY (PostgreSQL)
    incident: int  # lookup keys are made per incident
    joins: dict[str, tuple[int, ...]]  # standard column -> the columns joined into it, in order
    codes: dict[int, str]  # column index -> code kind, read as the name it codes
    line_ids: bool  # no id column: a row's id is its line


class _Prepared(NamedTuple):
    record_id: str
    line: int
    # The row from record_id on, in _RecordWriter.FIELDS order: COPY text (PostgreSQL), else a tuple.
    values: bytes | tuple[Any, ...]
    lookup_keys: tuple[bytes, ...]  # owabi.records.lookup.record_keys


def _sha256(path: Path) -> str:
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
) -> ImportResult:
    """Import one CSV/TSV/Excel export into `incident`. A file already imported into it is a no-op.

    Rows are prepared (validated, card data reduced, normalized, sealed, indexed) by `workers`
    processes (default: one per core for files over PARALLEL_MIN_BYTES, else in-process) and written in
    order, with COPY on PostgreSQL. The whole file is one transaction: a crash leaves nothing behind,
    and the re-run imports it in full.
    """
    sha = _sha256(path)
    existing = SourceFile.objects.filter(incident=incident, sha256=sha).first()
    if existing is not None:
        return ImportResult(source_file=existing, already_imported=True)
    opened = open_export(path, mapping, incident=incident.pk, copy=connection.vendor == "postgresql")
    table, mapping, read, rows, plan = opened.table, opened.mapping, opened.read, opened.rows, opened.plan
    header = table.header
    layout, refused = read.standard, read.refused
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if path.stat().st_size >= PARALLEL_MIN_BYTES else 1
    rejects: list[Reject] = []
    warnings: list[Reject] = []
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    try:
        prepared_chunks: Iterable[_Chunk]
        if pool is not None:
            prepared_chunks = pool.imap(partial(_prepare_chunk, plan), bulk.chunked(rows, chunk))
        else:
            prepared_chunks = map(partial(_prepare_chunk, plan), bulk.chunked(rows, chunk))
        with transaction.atomic():
            source_file = SourceFile.objects.create(
                incident=incident,
                source=source or mapping.source or path.stem,
                file_name=path.name,
                sha256=sha,
                encoding=table.encoding,
                mapping={
                    **{header[i]: c for i, c in layout.items()},
                    **{header[i]: c for c, indexes in read.joins.items() for i in indexes},
                    **{header[i]: columns.SECURITY_CODE for i in refused},
                },
            )
            writer = _RecordWriter(incident.pk, source_file.pk)
            seen_ids: set[str] = set()
            rows_in = 0
            next_progress = 10_000
            for records, chunk_rejects, chunk_warnings, chunk_rows, keys in prepared_chunks:
                rows_in += chunk_rows
                rejects.extend(chunk_rejects)
                fresh = []
                for record in records:
                    if record.record_id in seen_ids:
                        rejects.append(Reject(record.line, "record_id", DUPLICATE_ID))
                    else:
                        seen_ids.add(record.record_id)
                        fresh.append(record)
                fresh_lines = {record.line for record in fresh}
                warnings.extend(w for w in chunk_warnings if w.line in fresh_lines)
                writer.write(fresh)
                if records:
                    match_store.save(source_file, [record.line for record in records], keys)
                if progress and rows_in >= next_progress:
                    progress(rows_in)
                    next_progress = rows_in + 10_000
            writer.finish()
            source_file.rows_in = rows_in
            source_file.rows_rejected = len(rejects)
            source_file.rows_ok = writer.written
            if source_file.rows_ok + source_file.rows_rejected != rows_in:  # pragma: no cover - invariant
                raise RuntimeError(f"{path.name}: row counts do not reconcile")
            source_file.save()
            bulk.check_links(LeakRecord.objects.filter(source_file=source_file), ("incident", "source_file"))
            audit.record(
                actor=actor,
                action="records.import",
                object_type="source_file",
                object_id=source_file.pk,
                data={
                    "incident": incident.slug,
                    "sha256": sha,
                    "rows_in": rows_in,
                    "rows_ok": source_file.rows_ok,
                    "rows_rejected": len(rejects),
                    "rows_with_warnings": len({w.line for w in warnings}),
                    "warnings": len(warnings),
                    "security_code_column_refused": bool(refused),
                },
            )
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    rejects.sort(key=lambda r: r.line)
    warnings.sort(key=lambda r: r.line)
    if rejects:
        rejects_path = rejects_path or path.with_name(path.stem + ".rejects.csv")
        _write_report(rejects_path, path.name, rejects)
    warnings_path = None
    if warnings:
        warnings_path = (rejects_path or path).with_name(path.stem + ".warnings.csv")
        _write_report(warnings_path, path.name, warnings)
    return ImportResult(
        source_file,
        False,
        rejects,
        rejects_path if rejects else None,
        warnings,
        warnings_path,
        layout=mapping.name,
        suggestion=opened.suggestion,
    )


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
    )
    return Opened(table, mapping, read, rows, plan, suggestion)


def _write_report(target: Path, file_name: str, lines: list[Reject]) -> None:
    with write_private(target, newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow(["file", "line", "field", "reason"])
        writer.writerows([file_name, r.line, r.field, r.reason] for r in lines)


class _RecordWriter:
    """Appends prepared rows to the LeakRecord table and their lookup keys to LookupKey (COPY on
    PostgreSQL). Record ids are taken before the write, so that the keys can point at them.

    SQLite gets the keys in key order at the end (`finish`), from a temporary table: keys are random,
    and inserting them as they come sends each to a random page of the key index, which for SQLite's
    small page cache was much of what the keys cost the import."""

    KEYS_TABLE = "owabi_import_lookup_keys"

    FIELDS = ("id", "incident", "source_file", "record_id", "line_no", "sealed", "categories", "problems")

    def __init__(self, incident_id: int, source_file_id: int) -> None:
        self.incident_id, self.source_file_id = incident_id, source_file_id
        self.written = 0
        self.next_id = 0  # SQLite: the next free id, once read
        self.held_keys = False  # SQLite: the temporary table of keys exists

    def write(self, records: list[_Prepared]) -> None:
        if not records:
            return
        ids = self._take_ids(len(records))
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

    def _take_ids(self, count: int) -> list[int]:
        table = LeakRecord._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, count],
                )
                return [row[0] for row in cursor.fetchall()]
            # SQLite: the import's transaction holds the write lock (BEGIN IMMEDIATE), so no other writer
            # takes ids meanwhile; AUTOINCREMENT never reuses one, so start past the highest ever given.
            if not self.next_id:
                cursor.execute(
                    f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "  # noqa: S608
                    f"coalesce((SELECT max(id) FROM {table}), 0))",
                    [table],
                )
                self.next_id = cursor.fetchone()[0] + 1
        ids = list(range(self.next_id, self.next_id + count))
        self.next_id += count
        return ids


class _Chunk(NamedTuple):
    records: list[_Prepared]  # ready to write
    rejects: list[Reject]
    warnings: list[Reject]
    rows: int  # rows seen
    keys: bytes  # the records' match keys, sealed (match_store.pack); b"" when there are no records


def row_problem(plan: Plan, line: int, cells: list[str], problem: str) -> Reject | None:
    """Why a row cannot be read as a record at all (unreadable, wrong width, NUL), or None."""
    if problem:
        return Reject(line, "", problem)
    if len(cells) != plan.width:
        return Reject(line, "", f"expected {plan.width} fields, found {len(cells)}")
    if any("\x00" in cell for cell in cells):
        return Reject(line, "", "contains a NUL character (not text)")
    return None


DUPLICATE_ID = "appears earlier in the same file"


def _prepare_chunk(plan: Plan, rows: list[Row]) -> _Chunk:
    """Runs in a worker: raw rows -> records ready to write, their match keys, rejects and warnings."""
    prepared: list[_Prepared] = []
    rejects: list[Reject] = []
    warnings: list[Reject] = []
    keys: list[tuple[str | None, ...]] = []
    for line, cells, problem in rows:
        if broken := row_problem(plan, line, cells, problem):
            rejects.append(broken)
        elif (record := _prepare(plan, line, cells, rejects, warnings, keys)) is not None:
            prepared.append(record)
    blob = match_store.pack([record.line for record in prepared], keys) if prepared else b""
    return _Chunk(prepared, rejects, warnings, len(rows), blob)


# A row stands for someone with any of these: a name (or its reading, or a guardian's) to address, or a
# contact to reach them by.
_STANDS_FOR_SOMEONE = frozenset(
    {"subject_name", "subject_kana", "guardian_name", "guardian_kana", "phone", "email", "address"}
)
_CARD_FIELDS = frozenset(columns.CARD_COLUMNS)
_NO_ONE = "no name, guardian's name or contact (phone, e-mail, address)"


def _decode(kind: str, value: str) -> str:
    """A coded value as the name it codes (JP-13: 東京都); a value that is no such code stays as it is."""
    if kind == "prefecture" and value:
        return normalize.prefecture_of_code(value) or value
    return value


class RowRead(NamedTuple):
    """One row as import keeps it, before sealing."""

    record_id: str
    sealed: dict[str, Any]  # the values to seal (card numbers reduced, extras under "extras")
    leaked: set[str]  # category codes
    problems: list[str]  # "field: reason", never a value
    match_keys: tuple[str | None, ...]  # features.stored


def read_row(
    plan: Plan, line: int, row: list[str], rejects: list[Reject], warnings: list[Reject]
) -> RowRead | None:
    """A row's values as import keeps them, or None with the reason in `rejects` (no database, no keys
    beyond the card hash: what `--check` shows is what import would write)."""
    values = {column: _clean(row[index]) for index, column in plan.layout.items() if row[index].strip()}
    if plan.codes:
        for index, kind in plan.codes.items():
            if (column := plan.layout.get(index)) in values:
                values[column] = _decode(kind, values[column])
    for column, indexes in plan.joins.items():
        parts = [_decode(plan.codes.get(i, ""), _clean(row[i])) for i in indexes]
        if joined := columns.join(column, parts):
            values[column] = joined
    record_id = values.pop("record_id", "") or (f"line {line}" if plan.line_ids else "")
    if not record_id:
        rejects.append(Reject(line, "record_id", "missing"))
        return None
    if len(record_id) > 100:
        rejects.append(Reject(line, "record_id", "longer than 100 characters"))
        return None
    extra_values = {plan.extras[index][0]: _clean(row[index]) for index in plan.extras if row[index].strip()}
    # Card data: full numbers cut out of every field, then the card columns read.
    notes: list[tuple[str, str]] = []  # (field, reason) of values kept out; never the value
    found: list[cards.ReducedCard] = []
    record_id = cards.cut_from_row(record_id, values, extra_values, found, notes)
    more_cards: list[dict[str, str]] = []
    card_hash, had_card = "", False
    if found or not _CARD_FIELDS.isdisjoint(values):
        card_hash, more_cards, had_card = cards.reduce_row(values, found, notes)
    if _STANDS_FOR_SOMEONE.isdisjoint(values):  # values holds only non-empty ones
        rejects.append(Reject(line, "subject_name", _NO_ONE))
        return None
    leaked = {columns.CATEGORY_OF[c] for c in values if c in columns.CATEGORY_OF}
    leaked |= {category for name, category in plan.extras.values() if name in extra_values}
    if had_card:
        leaked.add("card_number")
    if plan.security_code and (had_card or not plan.card_file):
        leaked.add("card_security_code")
    sealed: dict[str, Any] = dict(values)
    if card_hash:
        sealed["card_number_hash"] = card_hash
    if more_cards:
        sealed["more_cards"] = more_cards
    if extra_values:
        sealed["extras"] = extra_values
    found_problems: list[tuple[str, str]] = []
    match_keys = feature_module.stored(sealed, found_problems)
    problems = [f"{name}: {reason}" for name, reason in notes]
    problems += [f"{name}: {reason}" for name, reason in found_problems]
    warnings.extend(Reject(line, name, reason) for name, reason in notes)
    warnings.extend(
        Reject(line, name, f"{reason} (kept; not used for matching)") for name, reason in found_problems
    )
    return RowRead(record_id, sealed, leaked, problems, match_keys)


def _prepare(
    plan: Plan,
    line: int,
    row: list[str],
    rejects: list[Reject],
    warnings: list[Reject],
    keys: list[tuple[str | None, ...]],
) -> _Prepared | None:
    read = read_row(plan, line, row, rejects, warnings)
    if read is None:
        return None
    keys.append(read.match_keys)
    stored = (
        read.record_id,
        line,
        crypto.seal_json(read.sealed, _SEALED_AAD),
        orjson.dumps(sorted(read.leaked)).decode(),  # categories
        orjson.dumps(read.problems).decode(),
    )
    return _Prepared(
        read.record_id,
        line,
        bulk.copy_text(stored) if plan.copy else stored,
        lookup.record_keys(plan.incident, read.sealed),
    )
