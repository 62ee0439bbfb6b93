"""Sealed columns: bytes (SealedBytesField) or a JSON document (SealedJSONField) stored AES-GCM encrypted
(see owabi.core.crypto). Key rotation (owabi.core.keys) re-seals every column of either kind."""

from __future__ import annotations

from typing import Any

from django.db import models

from owabi.core import crypto


class SealedBytesField(models.BinaryField):
    """Stores bytes sealed with the current data key; reads open them transparently.

    The associated data is "app_label.Model.field", so a blob moved to another column fails to open.
    """

    description = "Encrypted bytes"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        self.aad = f"{cls._meta.label}.{name}".encode()

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return self.open(bytes(value))

    def to_python(self, value: Any) -> Any:
        return value

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if isinstance(value, SealedBlob):
            return connection.Database.Binary(value.blob)
        return connection.Database.Binary(self.seal(value))

    def value_to_string(self, obj: models.Model) -> str:
        raise TypeError("sealed fields are never serialized in plain text")

    def seal(self, value: Any) -> bytes:
        return crypto.seal(bytes(value), self.aad)

    def open(self, blob: bytes) -> Any:
        return crypto.unseal(blob, self.aad)


class SealedJSONField(SealedBytesField):
    """A JSON-serializable value, sealed."""

    description = "Encrypted JSON document"

    def seal(self, value: Any) -> bytes:
        return crypto.seal_json(value, self.aad)

    def open(self, blob: bytes) -> Any:
        return crypto.unseal_json(blob, self.aad)


class SealedBlob:
    """An already sealed value, written as is (key rotation moves blobs without a JSON round trip)."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
