"""Typed settings helpers: read the environment, fail loudly and clearly on bad values.

Error messages name the variable and what was expected, never the value itself (it may be a secret).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import ipaddress
import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from owabi.core.files import open_private, private_dir, write_private

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip()


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}")
    return number


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (os.environ.get(name) or default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of: {', '.join(choices)}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def decode_key(name: str, encoded: str, *, length: int = 32) -> bytes:
    """Decode one url-safe base64 key of exactly `length` bytes."""
    try:
        padded = encoded.strip() + "=" * (-len(encoded.strip()) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{name} is not valid url-safe base64") from None
    if len(raw) != length:
        raise ImproperlyConfigured(f"{name} must decode to {length} bytes, got {len(raw)}")
    return raw


def parse_keyring(name: str, value: str) -> dict[str, bytes]:
    """Parse `id1:base64key,id2:base64key` into {id: key}. Ids are 1-8 letters or digits."""
    ring: dict[str, bytes] = {}
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not key_id.isalnum() or not key_id.isascii() or len(key_id) > 8:
            raise ImproperlyConfigured(
                f"{name} must be a comma-separated list of id:base64key (id: 1-8 letters or digits)"
            )
        if key_id in ring:
            raise ImproperlyConfigured(f"{name} lists key id {key_id!r} twice")
        ring[key_id] = decode_key(f"{name} (key {key_id!r})", encoded)
    if not ring:
        raise ImproperlyConfigured(f"{name} holds no keys")
    return ring


def is_loopback(host: str) -> bool:
    """localhost or a loopback address (127.0.0.0/8, ::1), decided without asking DNS."""
    host = host.strip().removeprefix("[").removesuffix("]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_weak_key(name: str, key: bytes) -> None:
    """A hand-made key (zeros, a repeated pattern) has few different bytes; 32 random bytes have ~30
    and fewer than 16 with a chance below 1e-15."""
    if len(set(key)) < 16:
        raise ImproperlyConfigured(f"{name} is not a random key: make one with `owabi keys new`")


def new_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


DEV_SECRET_NAMES = (
    "OWABI_SECRET_KEY",
    "OWABI_DATA_KEYS",
    "OWABI_INDEX_KEY",
    "OWABI_AUDIT_KEY",
    "OWABI_NOTICE_KEY",
)


def load_dev_secrets(path: Path) -> dict[str, str]:
    """Development only: read local secrets, creating them on first use (the file is git-ignored)."""
    private_dir(path.parent)
    with open_private(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two first runs at once must agree on one set of keys
        return _load_or_create(path)


def _load_or_create(path: Path) -> dict[str, str]:
    stored = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    defaults = {
        "OWABI_SECRET_KEY": lambda: secrets.token_urlsafe(50),
        "OWABI_DATA_KEYS": lambda: "k1:" + new_key(),
        "OWABI_INDEX_KEY": new_key,
        "OWABI_AUDIT_KEY": new_key,
        "OWABI_NOTICE_KEY": new_key,
    }
    for name, make in defaults.items():
        if name not in stored:
            stored[name] = make()
            changed = True
    if changed:
        with write_private(path) as handle:
            json.dump(stored, handle, indent=2)
    return stored
