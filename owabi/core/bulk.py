"""Fast bulk writes for pipeline stages that touch a million rows: COPY on PostgreSQL.

Django's bulk_create/bulk_update build one SQL statement per batch with a placeholder per value, which
costs tens of microseconds per row in Python; at a million rows that is minutes. These helpers stream
plain tuples instead: COPY FROM STDIN on PostgreSQL (into the table, or into a temporary table that an
`UPDATE … FROM` applies), executemany on SQLite. Values must already be in database form (sealed
fields as bytes, JSON as text). Call them inside `transaction.atomic()`.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, TypeVar, cast

from django.db import IntegrityError, connection, models

T = TypeVar("T")
SQLITE_BATCH = 10_000  # rows per executemany on SQLite


def _names(model: type[models.Model], fields: Sequence[str]) -> tuple[str, list[str]]:
    quote = connection.ops.quote_name
    concrete = [cast("models.Field[Any, Any]", model._meta.get_field(name)) for name in fields]
    return quote(model._meta.db_table), [quote(field.column) for field in concrete]


ANALYZE_AFTER = 10_000  # rows; autovacuum would analyze only after the transaction commits
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


def _bytea(value: bytes) -> str:
    return "\\\\x" + value.hex()


def _boolean(value: bool) -> str:
    return "t" if value else "f"


def _null(value: None) -> str:
    return "\\N"


_COPY_FORM: dict[type, Any] = {
    str: _text,
    int: str,
    bytes: _bytea,
    bool: _boolean,
    type(None): _null,
    uuid.UUID: str,
}


def copy_text(values: Sequence[Any]) -> bytes:
    """One row in PostgreSQL's COPY text format, for the value types owabi writes in bulk (text,
    integers, booleans, bytes, UUIDs, None). Pure: import workers format their rows with it, so the
    process holding the connection only joins bytes. Text must hold no NUL (PostgreSQL text cannot)."""
    try:
        return ("\t".join([_COPY_FORM[type(value)](value) for value in values]) + "\n").encode()
    except KeyError as error:
        raise TypeError(f"copy_text: no COPY form for {error.args[0].__name__}") from None


def insert_copy_text(
    model: type[models.Model], fields: Sequence[str], lines: Iterable[bytes], *, analyze: bool = True
) -> int:
    """Append rows already in COPY text format (copy_text), on PostgreSQL. Returns the rows written.
    analyze=False: no ANALYZE after a large load (for a table no query reads before the commit)."""

    def write(copy: Any) -> int:
        count = 0
        for chunk in chunked(lines, 1000):
            copy.write(b"".join(chunk))
            count += len(chunk)
        return count

    return _copy(model, fields, write, analyze=analyze)


# COPY's binary format (PostgreSQL's COPY page, "Binary Format"): the server
# takes each value as stored, where the text format has it split the line, undo the escapes and parse
# every value (hex of a sealed blob, a timestamp). Each value is its length (-1 for NULL) and its bytes in
# the column type's binary form; a row starts with its number of values. The functions below give a value
# in that form for the column types named: a row written with them must match the table's types exactly
# (an int4 column given 8 bytes is refused by the server, not stored wrong).
COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
COPY_BINARY_TRAILER = b"\xff\xff"
BINARY_NULL = b"\xff\xff\xff\xff"
_POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def binary_text(value: str) -> bytes:
    """A text or varchar value (no NUL)."""
    encoded = value.encode()
    return struct.pack(">i", len(encoded)) + encoded


def binary_int4(value: int) -> bytes:
    return struct.pack(">ii", 4, value)


def binary_int8(value: int) -> bytes:
    return struct.pack(">iq", 8, value)


def binary_bool(value: bool) -> bytes:
    return b"\x00\x00\x00\x01\x01" if value else b"\x00\x00\x00\x01\x00"


def binary_timestamptz(value: datetime) -> bytes:
    """An aware datetime as a timestamptz: microseconds since 2000-01-01 UTC."""
    return struct.pack(">iq", 8, (value - _POSTGRES_EPOCH) // timedelta(microseconds=1))


def insert_copy_binary(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[bytes], *, analyze: bool = True
) -> int:
    """Append rows already in COPY's binary form (each its value count, then each value as the binary_*
    functions give it), on PostgreSQL. Returns the rows written. analyze as insert_copy_text."""

    def write(copy: Any) -> int:
        count = 0
        copy.write(COPY_BINARY_HEADER)
        for chunk in chunked(rows, 1000):
            copy.write(b"".join(chunk))
            count += len(chunk)
        copy.write(COPY_BINARY_TRAILER)
        return count

    return _copy(model, fields, write, analyze=analyze, binary=True)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of `size` (the last one shorter), reading no further ahead than one list: an
    `IN (…)` of bounded length, a batch of rows for a worker, a buffer for COPY."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _copy(
    model: type[models.Model],
    fields: Sequence[str],
    write: Callable[[Any], int],
    *,
    analyze: bool = True,
    binary: bool = False,
) -> int:
    """COPY into the model's table what `write(copy)` writes (it returns the row count), then refresh
    the table's statistics after a large load, so the next queries are planned for its size (autovacuum
    would analyze only after the transaction commits)."""
    table, columns = _names(model, fields)
    with connection.cursor() as cursor:
        form = " (FORMAT BINARY)" if binary else ""
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN{form}") as copy:
            count = write(copy)
    if analyze and count >= ANALYZE_AFTER:
        refresh_statistics(model)
    return count


def refresh_statistics(*tables: type[models.Model]) -> None:
    """Refresh PostgreSQL's statistics of `tables` now, after a load made of many commits each below
    ANALYZE_AFTER rows: the next stage's queries are then planned for the tables' real size, whether or
    not autovacuum runs on the server. Nothing to do on SQLite (its planner keeps no such statistics)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _sqlite_value(value: Any) -> Any:
    """SQLite stores a UUIDField as 32 hex characters (Django's convention); psycopg adapts UUIDs itself."""
    return value.hex if isinstance(value, uuid.UUID) else value


def insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Append rows (values in `fields` order). Returns the number of rows written."""
    if connection.vendor == "postgresql":

        def write(copy: Any) -> int:
            count = 0
            for row in rows:
                copy.write_row(row)
                count += 1
            return count

        return _copy(model, fields, write)
    table, columns = _names(model, fields)
    marks = ", ".join(["%s"] * len(columns))
    count = 0
    with connection.cursor() as cursor:
        # In batches, like COPY's stream: a million rows converted at once doubled resolve's memory for them.
        for chunk in chunked(rows, SQLITE_BATCH):
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                [tuple(_sqlite_value(value) for value in row) for row in chunk],
            )
            count += len(chunk)
    return count


def update(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Set `fields` of existing rows: each row is (primary key, *values in `fields` order)."""
    table, columns = _names(model, fields)
    pk = connection.ops.quote_name(model._meta.pk.column)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE TEMP TABLE owabi_bulk ON COMMIT DROP AS SELECT {pk}, {', '.join(columns)} "  # noqa: S608
                f"FROM {table} WITH NO DATA"
            )
            with cursor.cursor.copy(f"COPY owabi_bulk ({pk}, {', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            assignments = ", ".join(f"{column} = b.{column}" for column in columns)
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} FROM owabi_bulk AS b WHERE t.{pk} = b.{pk}"  # noqa: S608
            )
            cursor.execute("DROP TABLE owabi_bulk")
        else:
            batch = [tuple(_sqlite_value(value) for value in (*row[1:], row[0])) for row in rows]
            assignments = ", ".join(f"{column} = %s" for column in columns)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {pk} = %s", batch)  # noqa: S608
            count = len(batch)
    return count


def check_links(queryset: models.QuerySet[Any], fields: Sequence[str]) -> None:
    """Raise IntegrityError if a row of `queryset` points (through a foreign key in `fields`) at a row
    that does not exist.

    The relations these helpers write in bulk carry no database constraint (`db_constraint=False`):
    PostgreSQL checks a deferred foreign key with one trigger call per row at commit, which cost more
    than the COPY itself. Callers check the links they wrote with this, once, as an anti-join per field
    before their transaction commits.
    """
    broken = []
    for name in fields:
        field = cast("models.ForeignKey[Any, Any]", queryset.model._meta.get_field(name))
        target = cast("type[models.Model]", field.related_model)
        exists = models.Exists(target._default_manager.filter(pk=models.OuterRef(name)))
        count = queryset.exclude(**{f"{name}__isnull": True}).exclude(exists).count()
        if count:
            broken.append(f"{queryset.model._meta.label}.{name}: {count} rows point at nothing")
    if broken:
        raise IntegrityError("; ".join(broken))
