"""Match keys at rest: one sealed, compressed Arrow IPC stream per import chunk (MatchBatch).

Import computes each record's normalized matching keys (owabi.records.features) once, in its worker
processes, and stores a chunk's keys as columns. Resolve opens a few hundred blobs instead of a million,
and gets Arrow columns ready for the matcher with no per-record parsing. Keys computed by an older
features.VERSION, or missing, are recomputed from the sealed records and stored again.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

from django.db import connection, transaction

from owabi.core.bulk import chunked
from owabi.core.fields import open_values
from owabi.incidents.models import Incident
from owabi.records import features as feature_module
from owabi.records import ondisk
from owabi.records.models import LeakRecord, MatchBatch, SourceFile

# Every key features.stored() returns, in its order (all strings or null).
KEY_COLUMNS = feature_module.STORED_COLUMNS
RECOMPUTE_CHUNK = 5000


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [("line_no", pa.int64()), ("role", pa.string()), *[(c, pa.string()) for c in KEY_COLUMNS]]
    )


def pack(lines: list[int], keys: list[tuple[str | None, ...]], roles: list[str] | None = None) -> bytes:
    """The keys of `lines` (one tuple per record, as features.stored() returns) as one compressed Arrow
    stream; `save` seals it, bound to its batch's row. A record is found by its line and role (several
    people on one row share the line)."""
    import pyarrow as pa

    arrays = [pa.array(lines, type=pa.int64()), pa.array(roles or [""] * len(lines), type=pa.string())]
    columns = zip(*keys, strict=True) if keys else ([] for _ in KEY_COLUMNS)
    arrays += [pa.array(column, type=pa.string()) for column in columns]
    batch = pa.record_batch(arrays, schema=_schema())
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as out:
        out.write_batch(batch)
    return cast("bytes", sink.getvalue().to_pybytes())


def _table(stream: bytes) -> Any:
    """A batch's keys; a batch stored before records had roles gets the empty role."""
    import pyarrow as pa

    table = pa.ipc.open_stream(pa.py_buffer(stream)).read_all()
    if "role" not in table.column_names:
        table = table.add_column(1, "role", pa.array([""] * table.num_rows, pa.string()))
    return table


def save(source_file: SourceFile, lines: list[int], blob: bytes) -> None:
    MatchBatch.objects.create(
        incident_id=source_file.incident_id,
        source_file=source_file,
        first_line=min(lines),
        last_line=max(lines),
        version=feature_module.VERSION,
        rows=len(lines),
        keys=blob,
    )


def forget(records: Iterable[LeakRecord]) -> int:
    """Delete the batches holding any of `records`' lines (an erasure); resolve recomputes the keys of
    the other records in them. Returns the number of batches deleted."""
    deleted = 0
    for record in records:
        holding = MatchBatch.objects.filter(
            source_file_id=record.source_file_id,
            first_line__lte=record.line_no,
            last_line__gte=record.line_no,
        )
        deleted += holding.delete()[0]
    return deleted


def _record_positions(incident: Incident) -> Any:
    """(pk, source_file, line_no, role) of every record of the incident, as an Arrow table ordered by pk."""
    import pyarrow as pa

    table = LeakRecord._meta.db_table
    query = (
        f"SELECT id, source_file_id, line_no, role FROM {table}"  # noqa: S608
        f" WHERE incident_id = {int(incident.pk)} ORDER BY id"
    )
    names = ["pk", "source_file", "line_no"]
    types = {**dict.fromkeys(names, pa.int64()), "role": pa.string()}
    if connection.vendor == "postgresql":
        # COPY's text and Arrow's CSV reader: a million rows in a fraction of a second, where fetching
        # them as Python tuples took two seconds.
        from pyarrow import csv as pa_csv

        data = bytearray()
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
            for block in copy:
                data += block
        if data:
            return pa_csv.read_csv(
                pa.py_buffer(bytes(data)),
                read_options=pa_csv.ReadOptions(column_names=[*names, "role"]),
                parse_options=pa_csv.ParseOptions(delimiter="\t", quote_char=False),
                convert_options=pa_csv.ConvertOptions(column_types=types, strings_can_be_null=False),
            )
        return pa.table({name: pa.array([], kind) for name, kind in types.items()})
    pks, files, lines = array("q"), array("q"), array("q")
    roles: list[str] = []
    with connection.cursor() as cursor:
        cursor.execute(query)
        while rows := cursor.fetchmany(20_000):
            for pk, file_id, line, role in rows:
                pks.append(pk)
                files.append(file_id)
                lines.append(line)
                roles.append(role)
    return pa.table(
        {
            **{
                name: pa.array(values, type=pa.int64())
                for name, values in zip(names, (pks, files, lines), strict=True)
            },
            "role": pa.array(roles, type=pa.string()),
        }
    )


def _current_keys(incident: Incident, folder: Path | None = None) -> Any:
    """The keys of every current-version batch of the incident, with their source file; with a `folder`,
    each batch's columns go to files there as it is opened, and the table's columns are mapped from them
    (records.ondisk)."""
    import pyarrow as pa

    schema = _schema().insert(0, pa.field("source_file", pa.int64()))
    tables = []
    files = ondisk.Columns(schema, folder, "keys") if folder is not None else None
    batches = MatchBatch.objects.filter(incident=incident, version=feature_module.VERSION)
    for file_id, keys in open_values(batches, "source_file_id", "keys", chunk_size=50):
        table = _table(cast("bytes", keys))
        table = table.add_column(0, "source_file", pa.array([file_id] * table.num_rows, pa.int64()))
        if files is not None:
            files.append(table.cast(schema))
        else:
            tables.append(table)
    if files is not None:
        return files.mapped()
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


def read(
    incident: Incident, say: Callable[[str], None] = lambda _m: None, *, folder: Path | None = None
) -> tuple[Any, int]:
    """Every record's match keys: an Arrow table with `pk` then KEY_COLUMNS, one row per record, ordered
    by pk; and how many records' keys were stale or missing (recomputed and stored now). With a `folder`
    (a run's scratch folder), the key columns are mapped from files there, not held in memory
    (records.ondisk): resolve's way at millions of records."""
    import pyarrow.compute as pc

    positions = _record_positions(incident)
    say(f"  {positions.num_rows:,} records; opening their match keys")
    keys = _current_keys(incident, folder)
    located = _locate(positions, keys)
    stale = sorted(located.filter(pc.is_null(located.column("row"))).column("pk").to_pylist())
    if stale:
        say(f"  recomputing the match keys of {len(stale):,} records (missing or of an older version)")
        _recompute(incident, stale)
        keys = _current_keys(incident, folder)
        located = _locate(positions, keys)
    # One key row per record: none missing (recomputed above), none twice.
    if located.num_rows != positions.num_rows or located.column("row").null_count:  # pragma: no cover
        raise RuntimeError(f"match keys: {located.num_rows} rows for {positions.num_rows} records")
    # Join on the narrow (file, line, row) columns and gather the keys once: joining the key columns
    # themselves copied every string twice (five seconds at a million records). Where the keys are in
    # the records' order already (one import, read back in its order), they are taken as they are: a
    # gathered copy was a second copy of every key at resolve's peak (0.3 GiB a million records).
    keys, rows = keys.select(list(KEY_COLUMNS)), located.column("row")
    # Keys are also stored for rows the import dropped (a repeated line): then there are more key rows
    # than records, and they must be gathered even where the records' rows come first and in order.
    if keys.num_rows != len(rows) or not _in_order(rows):
        keys = keys.take(rows) if folder is None else ondisk.mapped(keys, folder, "ordered", rows=rows)
    return keys.add_column(0, "pk", located.column("pk")), len(stale)


def _in_order(rows: Any) -> bool:
    """Whether the row numbers are 0, 1, 2, ... (no nulls)."""
    import numpy as np

    return rows.null_count == 0 and bool(np.array_equal(rows.to_numpy(), np.arange(len(rows))))


def _locate(positions: Any, keys: Any) -> Any:
    """(pk, row): for every record in pk order, the row of `keys` holding its keys (null: none)."""
    import pyarrow as pa

    rows = keys.select(["source_file", "line_no", "role"]).append_column(
        "row", pa.array(range(keys.num_rows), pa.int64())
    )
    joined = positions.join(rows, keys=["source_file", "line_no", "role"], join_type="left outer")
    return joined.select(["pk", "row"]).sort_by("pk")


def _recompute(incident: Incident, stale: list[int]) -> None:
    """Compute and store the keys of `stale` records, then drop every batch of an older version (each
    record they covered is in `stale` or already in a current batch)."""
    for chunk in chunked(stale, RECOMPUTE_CHUNK):
        by_file: dict[int, list[tuple[int, str, tuple[str | None, ...]]]] = defaultdict(list)
        records = open_values(
            LeakRecord.objects.filter(pk__in=chunk), "source_file_id", "line_no", "role", "sealed"
        )
        for file_id, line, role, sealed in cast("Iterable[tuple[int, int, str, dict[str, Any]]]", records):
            by_file[file_id].append((line, role, feature_module.stored(sealed)))
        with transaction.atomic():
            for file_id, rows in by_file.items():
                rows.sort(key=lambda row: row[:2])
                lines = [line for line, _, _ in rows]
                blob = pack(lines, [keys for _, _, keys in rows], [role for _, role, _ in rows])
                save(SourceFile.objects.get(pk=file_id), lines, blob)
    MatchBatch.objects.filter(incident=incident).exclude(version=feature_module.VERSION).delete()


def keys_by_record(incident: Incident) -> dict[int, dict[str, Any]]:
    """record pk -> its stored match keys (for tests and diagnostics on small incidents)."""
    table, _ = read(incident)
    return {row.pop("pk"): row for row in table.to_pylist()}
