"""Data-key rotation: re-seal every encrypted column with the current key, bound to its row, online.

Rotation steps (docs/operations.md): add the new key to OWABI_DATA_KEYS, point OWABI_DATA_KEY_ID at it
and restart (new writes use it, old blobs still open), run `owabi keys rotate`, then drop the old key.
The same run re-binds values that an earlier release bound to their column only (with
OWABI_ACCEPT_UNBOUND_SEALS=1 set for the upgrade window); a value that opens for neither its row nor,
in that window, its column is counted as failed and left as it is.
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
    failed: int = 0  # values that do not open for their row: tampered, swapped, or unbound outside the window


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
        for _pk, blob in _raw_blobs(model, field):
            try:
                version = crypto.version_of(blob)
                key_id = crypto.key_id_of(blob) if version else ""
            except crypto.DecryptionError:
                key_id = "(not a sealed value)"
                version = -1
            if version == 0:
                continue  # erased: protected by no key
            if version == crypto.COLUMN_BOUND:
                key_id += " (not yet bound to its row)"
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
    accept_unbound: bool | None,
) -> None:
    """Re-seal one batch in one short transaction; a row changed since it was read is left alone."""
    table, pk, column = _quoted(model, field)
    with transaction.atomic(), connection.cursor() as cursor:
        for row_pk, old in pending:
            try:
                new = field.reseal(old, row_pk, key_id=target, accept_unbound=accept_unbound)
            except crypto.DecryptionError:
                result.failed += 1
                continue
            cursor.execute(
                f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",  # noqa: S608
                [new, row_pk, old],
            )
            if cursor.rowcount == 1:
                result.resealed += 1
            else:
                result.skipped_concurrent += 1


def rotate(
    *,
    actor: str,
    batch: int = 2000,
    progress: Callable[[int], None] | None = None,
    accept_unbound: bool | None = None,
) -> RotationResult:
    """Re-seal every value not sealed with the current key, or not bound to its row. Values bound to their
    column only are re-bound when `accept_unbound` (default: OWABI_ACCEPT_UNBOUND_SEALS) allows."""
    target = crypto.current_key_id()
    result = RotationResult()
    for model, field in sealed_columns():
        pending: list[tuple[int, bytes]] = []
        for row_pk, blob in _raw_blobs(model, field, batch):
            result.scanned += 1
            try:
                version = crypto.version_of(blob)
            except crypto.DecryptionError:  # not a sealed value at all: counted, left as it is
                result.failed += 1
                continue
            if version and (version != crypto.ROW_BOUND or crypto.key_id_of(blob) != target):
                pending.append((row_pk, blob))
            if len(pending) >= batch:
                _reseal(model, field, pending, target, result, accept_unbound)
                pending = []
                if progress:
                    progress(result.scanned)
        if pending:
            _reseal(model, field, pending, target, result, accept_unbound)
    audit.record(
        actor=actor,
        action="keys.rotate",
        data={
            "key_id": target,
            "scanned": result.scanned,
            "resealed": result.resealed,
            "failed": result.failed,
        },
    )
    return result
