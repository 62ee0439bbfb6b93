"""Row ids reserved before the rows are written, from each table's own id sequence.

Sealed values are bound to their row's id (owabi.core.fields), so the id must be known before the insert.
PostgreSQL: nextval() of the column's sequence, once per id in one statement (never reused, not rolled
back; safe beside any other insert, which draws from the same sequence). SQLite: the table's
AUTOINCREMENT counter in sqlite_sequence, moved forward in one statement under the write lock (owabi's
SQLite transactions begin IMMEDIATE); a rolled-back reservation rolls back with its rows, and an id
reserved but not used is never given again to AUTOINCREMENT, which starts past the counter.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models


def allocate(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh ids for new rows of `model`, in increasing order."""
    if count <= 0:
        return []
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The sequence looked up once (a materialized CTE): as an argument of nextval() the catalog
            # lookup ran for every id and cost ~9 times the nextval itself.
            cursor.execute(
                "WITH sequence AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS id) "
                "SELECT nextval(sequence.id) FROM sequence, generate_series(1, %s)",
                [connection.ops.quote_name(table), column, count],
            )
            return sorted(row[0] for row in cursor.fetchall())
        return _sqlite(cursor, table, column, count)


def _sqlite(cursor: Any, table: str, column: str, count: int) -> list[int]:
    quoted = f'"{table}"'
    # The counter's row exists once the table has had a row; make it exist before the first.
    cursor.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT %s, 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = %s)",
        [table, table],
    )
    cursor.execute(
        f"UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT max({column}) FROM {quoted}), 0)) + %s "  # noqa: S608
        "WHERE name = %s RETURNING seq",
        [count, table],
    )
    last = cursor.fetchone()[0]
    return list(range(last - count + 1, last + 1))
