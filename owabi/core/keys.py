"""Data-key rotation: re-seal every encrypted column with the current key, online.

Rotation steps (docs/operations.md): add the new key to OWABI_DATA_KEYS, point OWABI_DATA_KEY_ID at it
and restart (new writes use it, old blobs still open), run `owabi keys rotate`, then drop the old key.
Each batch is its own short transaction and each row is rewritten only if its blob is unchanged since
it was read, so the application keeps running and a concurrent write is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from django.apps import apps
from django.db import connection, models, transaction

from owabi.core import audit, crypto
from owabi.core.fields import SealedBytesField


@dataclass
class RotationResult:
    scanned: int = 0
    resealed: int = 0
    skipped_concurrent: int = 0


class Reindexed(Protocol):
    """What one app's reindexer did: rows scanned, and rows whose keyed hashes changed."""

    scanned: int
    changed: int


Reindexer = Callable[..., Reindexed]

# Apps that keep keyed hashes (blind indexes) register how to recompute them, in their AppConfig.ready():
# `owabi keys reindex` runs each after the index key changes, and core imports no domain app to do so.
REINDEXERS: dict[str, Reindexer] = {}


def register_reindexer(name: str, reindexer: Reindexer) -> None:
    """`reindexer(actor=, batch=, progress=)` recomputes the app's keyed hashes and says how many."""
    REINDEXERS[name] = reindexer


def sealed_columns() -> Iterator[tuple[type[models.Model], SealedBytesField]]:
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, SealedBytesField):
                yield model, field


def count_by_key() -> dict[str, int]:
    """How many sealed values each key id protects (reads headers only)."""
    counts: dict[str, int] = {}
    for model, field in sealed_columns():
        for blob in _raw_blobs(model, field):
            key_id = crypto.key_id_of(blob[1])
            counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def _quoted(model: type[models.Model], field: SealedBytesField) -> tuple[str, str, str]:
    """Quoted table, primary-key column and sealed column, for raw SQL."""
    names = (model._meta.db_table, model._meta.pk.column, field.column)
    table, pk, column = (connection.ops.quote_name(name) for name in names)
    return table, pk, column


def _raw_blobs(
    model: type[models.Model], field: SealedBytesField, batch: int = 2000
) -> Iterator[tuple[int, bytes]]:
    table, pk, column = _quoted(model, field)
    last = -1
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {pk}, {column} FROM {table} WHERE {pk} > %s AND {column} IS NOT NULL "  # noqa: S608
                f"ORDER BY {pk} LIMIT %s",
                [last, batch],
            )
            rows = cursor.fetchall()
        if not rows:
            return
        for row_pk, blob in rows:
            yield row_pk, bytes(blob)
        last = rows[-1][0]


def _reseal(
    model: type[models.Model],
    field: SealedBytesField,
    pending: list[tuple[int, bytes]],
    target: str,
    result: RotationResult,
) -> None:
    """Re-seal one batch in one short transaction; a row changed since it was read is left alone."""
    table, pk, column = _quoted(model, field)
    with transaction.atomic(), connection.cursor() as cursor:
        for row_pk, old in pending:
            new = crypto.seal(crypto.unseal(old, field.aad), field.aad, key_id=target)
            cursor.execute(
                f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",  # noqa: S608
                [new, row_pk, old],
            )
            if cursor.rowcount == 1:
                result.resealed += 1
            else:
                result.skipped_concurrent += 1


def rotate(*, actor: str, batch: int = 2000, progress: Callable[[int], None] | None = None) -> RotationResult:
    """Re-seal every value not sealed with the current key."""
    target = crypto.current_key_id()
    result = RotationResult()
    for model, field in sealed_columns():
        pending: list[tuple[int, bytes]] = []
        for row_pk, blob in _raw_blobs(model, field, batch):
            result.scanned += 1
            if crypto.key_id_of(blob) != target:
                pending.append((row_pk, blob))
            if len(pending) >= batch:
                _reseal(model, field, pending, target, result)
                pending = []
                if progress:
                    progress(result.scanned)
        if pending:
            _reseal(model, field, pending, target, result)
    audit.record(
        actor=actor,
        action="keys.rotate",
        data={"key_id": target, "scanned": result.scanned, "resealed": result.resealed},
    )
    return result
