"""Sealed columns: bytes (SealedBytesField) or a JSON document (SealedJSONField) stored AES-GCM encrypted
(see owabi.core.crypto), each value bound to its column and its row.

The associated data of a value is "app_label.Model.field#<row id>", so a blob copied into another
column, or swapped with another row's blob, fails to open. The row id must exist before the value is
sealed: a model with sealed columns takes its primary key from RowIdField, which reserves the id from
the table's own sequence before the insert (save(), create() and bulk_create() alike; owabi.core.rowids).

Reading is lazy: a loaded row holds the blob and opens it on first access with the row's id. Reads that
bypass model instances (values_list) get a SealedBlob and open it with `field.open_row(blob, pk)`;
bulk writers that bypass save() seal with `field.seal_row(value, pk)`. A QuerySet.update() with a plain
value is refused: it cannot bind each row's value to that row.

Key rotation (owabi.core.keys) re-seals every column of either kind, and re-binds values sealed by the
releases that bound them to their column only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from django.conf import settings
from django.core import checks
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from owabi.core import crypto, rowids

# A sealed value that does not open in its row was moved, copied or altered in the database, or its key
# is missing from the ring: either way someone must look now. One line per value, naming the table,
# column and row id (never a value), at CRITICAL so that log monitoring raises the alarm.
security_log = logging.getLogger("owabi.security")


class SealedBlob:
    """A value as stored (sealed, or crypto.ERASED), written back as is and opened on access."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def __repr__(self) -> str:
        return "<SealedBlob>"


class _OpenOnAccess(DeferredAttribute):
    """Opens a loaded row's blob with that row's id the first time the attribute is read. A data
    descriptor (it has __set__), so it is consulted even when the instance holds the value."""

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, SealedBlob):
            field: SealedBytesField = self.field  # type: ignore[assignment]
            value = field.open_row(value.blob, instance.pk)
            instance.__dict__[field.attname] = value
        return value


class SealedBytesField(models.BinaryField):
    """Stores bytes sealed with the current data key, bound to the column and the row."""

    description = "Encrypted bytes"
    descriptor_class = _OpenOnAccess
    erased_plaintext = b""  # what an erased value opens as

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        self.aad = f"{cls._meta.label}.{name}".encode()

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        model = getattr(self, "model", None)
        if model is not None and not model._meta.abstract and not issubclass(model, RowBound):
            errors.append(
                checks.Error(
                    f"{model._meta.label} has a sealed column but is not a RowBound model",
                    hint="Derive it from owabi.core.fields.RowBound: values are bound to their row id.",
                    obj=self,
                    id="owabi.E001",
                )
            )
        return errors

    # --- database round trip ---------------------------------------------------------------------------

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return SealedBlob(bytes(value))

    def to_python(self, value: Any) -> Any:
        return value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = getattr(model_instance, self.attname)
        if value is None or isinstance(value, SealedBlob):
            return value
        if model_instance.pk is None:  # RowBound models always have one; historical ones (migrations) not
            raise ValueError(
                f"{self.aad.decode()}: the row has no id to bind its value to (reserve one with "
                "owabi.core.rowids.allocate first)"
            )
        return SealedBlob(self.seal_row(value, model_instance.pk))

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if isinstance(value, SealedBlob):
            return connection.Database.Binary(value.blob)
        raise TypeError(
            f"{self.aad.decode()}: a sealed value is written through save() or seal_row(), "
            "which bind it to its row; an update() of many rows cannot"
        )

    def value_to_string(self, obj: models.Model) -> str:
        raise TypeError("sealed fields are never serialized in plain text")

    # --- sealing -----------------------------------------------------------------------------------

    def encode(self, value: Any) -> bytes:
        return bytes(value)

    def decode(self, plaintext: bytes) -> Any:
        return plaintext

    def row_aad(self, pk: int) -> bytes:
        return self.aad + b"#%d" % pk

    def seal_row(self, value: Any, pk: int, *, key_id: str | None = None) -> bytes:
        """`value` sealed for row `pk` of this column."""
        return crypto.seal(self.encode(value), self.row_aad(pk), key_id=key_id)

    def open_row(self, blob: bytes, pk: int) -> Any:
        """The value of row `pk` from its stored blob; raises crypto.DecryptionError if it is not that
        row's (swapped, copied, tampered) or was sealed unbound outside the upgrade window."""
        if bytes(blob) == crypto.ERASED:
            return self.decode(self.erased_plaintext)
        try:
            return self.decode(self.open_bytes(blob, pk))
        except crypto.DecryptionError as error:
            security_log.critical(
                "sealed value does not open: %s.%s row %s (%s); run `owabi keys status`",
                self.model._meta.db_table,
                self.name,
                pk,
                error,
            )
            raise

    def row_sealer(self, *, encoded: bool = False) -> Callable[[Any, int], bytes]:
        """`seal_row` for many rows in a row (one window of a bulk writer), the key looked up once.
        encoded: the values given are already `encode`d (one value sealed for several rows)."""
        seal, encode, aad = crypto.sealer(), self.encode, self.aad

        def seal_one(value: Any, pk: int) -> bytes:
            return seal(encode(value), aad + b"#%d" % pk)

        def seal_encoded(plaintext: bytes, pk: int) -> bytes:
            return seal(plaintext, aad + b"#%d" % pk)

        return seal_encoded if encoded else seal_one

    def row_opener(self) -> Callable[[bytes, int], Any]:
        """`open_row` for many rows in a row (one window of a bulk reader): the same values, and the same
        errors and alarms (a blob that does not open here goes through open_row), each key looked up
        once."""
        unseal, decode, aad, open_row = crypto.unsealer(), self.decode, self.aad, self.open_row

        def open_one(blob: bytes, pk: int) -> Any:
            try:
                return decode(unseal(blob, aad + b"#%d" % pk))
            except crypto.DecryptionError:
                return open_row(blob, pk)  # erased, unbound (upgrade window) or a failure: logged there

        return open_one

    def open_bytes(self, blob: bytes, pk: int, *, accept_unbound: bool | None = None) -> bytes:
        version = crypto.version_of(blob)
        if version == crypto.ROW_BOUND:
            return crypto.unseal(blob, self.row_aad(pk))
        if accept_unbound is None:
            accept_unbound = settings.OWABI_ACCEPT_UNBOUND_SEALS
        if version == crypto.COLUMN_BOUND and accept_unbound:
            return crypto.unseal(blob, self.aad)
        raise crypto.DecryptionError(
            "sealed value is not bound to its row (set OWABI_ACCEPT_UNBOUND_SEALS=1 and run `owabi keys "
            "rotate` to re-bind values written by an earlier release)"
            if version == crypto.COLUMN_BOUND
            else "erased value"
        )

    def reseal(self, blob: bytes, pk: int, *, key_id: str, accept_unbound: bool | None = None) -> bytes:
        """The stored blob of row `pk` re-sealed with `key_id`, bound to the row (key rotation)."""
        plain = self.open_bytes(blob, pk, accept_unbound=accept_unbound)
        return crypto.seal(plain, self.row_aad(pk), key_id=key_id)


class SealedJSONField(SealedBytesField):
    """A JSON-serializable value, sealed."""

    description = "Encrypted JSON document"
    erased_plaintext = b"{}"

    def encode(self, value: Any) -> bytes:
        return orjson.dumps(value)

    def decode(self, plaintext: bytes) -> Any:
        return orjson.loads(plaintext)


class RowIdField(models.BigAutoField):
    """An auto-increment primary key whose value is reserved before the row is written, so the row's
    sealed values can be bound to it (owabi.core.rowids). Same column as BigAutoField, and migrations
    see a BigAutoField: switching a table to it changes no schema (SQLite would copy the whole table)."""

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, "django.db.models.BigAutoField", args, kwargs

    def get_pk_value_on_save(self, instance: models.Model) -> Any:
        return rowids.allocate(type(instance), 1)[0]

    def has_default(self) -> bool:
        # The id comes from get_pk_value_on_save, so a new row is inserted at once (no UPDATE first).
        return True

    def get_default(self) -> Any:
        return None


class RowIdQuerySet(models.QuerySet[Any]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        """Reserve the new rows' ids in one round trip first (else one per row).

        An upsert that updates a sealed column is refused: on a conflict the row already there keeps its
        own id, and the value, sealed for the id reserved here, would no longer open in it.
        """
        meta = self.model._meta
        sealed = [
            name
            for name in kwargs.get("update_fields") or ()
            if isinstance(meta.get_field(name), SealedBytesField)
        ]
        if kwargs.get("update_conflicts") and sealed:
            raise TypeError(
                f"{meta.label}: bulk_create(update_conflicts=True) cannot update the sealed column "
                f"{sealed[0]!r}: on a conflict the value would be bound to another row's id "
                "(update the existing row with sealed_for_row)"
            )
        objs = list(objs)
        new = [obj for obj in objs if obj.pk is None]
        for obj, pk in zip(new, rowids.allocate(self.model, len(new)), strict=True):
            obj.pk = pk
        return super().bulk_create(objs, *args, **kwargs)


class RowBound(models.Model):
    """Base of every model with sealed columns: its ids exist before its rows, so values bind to them."""

    id = RowIdField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")
    objects = RowIdQuerySet.as_manager()

    class Meta:
        abstract = True


def sealed_for_row(model: type[models.Model], pk: int, values: dict[str, Any]) -> dict[str, Any]:
    """`values` for an update() of the one row `pk` of `model`, with each sealed column's value sealed for
    that row (update() itself refuses plain values for sealed columns)."""
    fields = {field.name: field for field in model._meta.concrete_fields}
    return {
        name: SealedBlob(field.seal_row(value, pk))
        if isinstance(field := fields.get(name), SealedBytesField) and value is not None
        else value
        for name, value in values.items()
    }


def open_values(
    queryset: models.QuerySet[Any], *names: str, chunk_size: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """`queryset.values_list(*names)` with every sealed column opened for its row (the rows' ids are read
    alongside to do so). With `chunk_size`, rows are streamed (QuerySet.iterator)."""
    fields = {field.attname: field for field in queryset.model._meta.concrete_fields}
    sealed = [
        (position, field)
        for position, name in enumerate(names)
        if isinstance(field := fields.get(name), SealedBytesField)
    ]
    rows = queryset.values_list("pk", *names)
    for row in rows.iterator(chunk_size) if chunk_size else rows:
        values = list(row[1:])
        for position, field in sealed:
            if values[position] is not None:
                values[position] = field.open_row(values[position].blob, row[0])
        yield tuple(values)
