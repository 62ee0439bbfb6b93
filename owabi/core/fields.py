"""SealedJSONField: a JSON document stored AES-GCM encrypted (see owabi.core.crypto)."""

from __future__ import annotations

from typing import Any

from django.db import models

from owabi.core import crypto


class SealedJSONField(models.BinaryField):
    """Stores a JSON-serializable value sealed with the current data key; reads open it transparently.

    The associated data is "app_label.Model.field", so a blob moved to another column fails to open.
    """

    description = "Encrypted JSON document"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        self.aad = f"{cls._meta.label}.{name}".encode()

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return crypto.unseal_json(bytes(value), self.aad)

    def to_python(self, value: Any) -> Any:
        return value

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if isinstance(value, SealedBlob):
            return connection.Database.Binary(value.blob)
        return connection.Database.Binary(crypto.seal_json(value, self.aad))

    def value_to_string(self, obj: models.Model) -> str:
        raise TypeError("sealed fields are never serialized in plain text")


class SealedBlob:
    """An already sealed value, written as is (key rotation moves blobs without a JSON round trip)."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
