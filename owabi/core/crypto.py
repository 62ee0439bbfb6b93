"""Encryption at rest for leaked PII, and blind indexes for exact-match lookups.

Sealed blob layout:
    version (1 byte) | len(key_id) (1 byte) | key_id | nonce (12) | AES-256-GCM ciphertext+tag
The associated data binds a blob to where it may be opened. Version 2 (ROW_BOUND, what owabi writes)
binds it to its column and its row ("records.LeakRecord.sealed#42", see owabi.core.fields), so a blob
copied into another column, or swapped with another row's, does not decrypt. Version 1 (COLUMN_BOUND)
is what earlier releases wrote: bound to the column only, read during the upgrade only (fields.py). A
lone b"\x00" (ERASED) is what retention leaves: a value that was, and opens as empty. One blob per row
(all PII fields as one JSON document) keeps it to one cipher call per row.

Blind indexes are keyed BLAKE2b-128 over a normalized value, with the index purpose as BLAKE2b's
personalization, so the same value indexed for two purposes gives unrelated hashes. Keyed BLAKE2b is
a MAC by design and about 3x faster than HMAC-SHA256 on this platform (research/tech.md §2 c2).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

COLUMN_BOUND = 1
ROW_BOUND = 2
VERSIONS = (COLUMN_BOUND, ROW_BOUND)
ERASED = b"\x00"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """A sealed value could not be opened: wrong key, unknown key id, wrong column, or tampering."""


_ciphers: dict[tuple[str, bytes], AESGCM] = {}


def _cipher(key_id: str) -> AESGCM:
    try:
        key = settings.OWABI_DATA_KEYS[key_id]
    except KeyError:
        raise DecryptionError(f"unknown data key id {key_id!r}") from None
    cached = _ciphers.get((key_id, key))
    if cached is None:
        cached = _ciphers[(key_id, key)] = AESGCM(key)
    return cached


def current_key_id() -> str:
    return str(settings.OWABI_DATA_KEY_ID)


def version_of(blob: bytes) -> int:
    """The blob's layout version (ROW_BOUND or COLUMN_BOUND), 0 for ERASED; reads the first byte only."""
    blob = bytes(blob)
    if blob == ERASED:
        return 0
    if len(blob) < 2 or blob[0] not in VERSIONS:
        raise DecryptionError("not a sealed value")
    return blob[0]


def key_id_of(blob: bytes) -> str:
    """The id of the key a blob was sealed with (reads the header only)."""
    blob = bytes(blob)
    if len(blob) < 2 or blob[0] not in VERSIONS:
        raise DecryptionError("not a sealed value")
    return blob[2 : 2 + blob[1]].decode("ascii")


def seal(plaintext: bytes, aad: bytes, *, key_id: str | None = None, version: int = ROW_BOUND) -> bytes:
    """Seal `plaintext` bound to `aad`. The version byte says what the caller bound it to (see above)."""
    key_id = key_id or current_key_id()
    encoded_id = key_id.encode("ascii")
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = _cipher(key_id).encrypt(nonce, plaintext, aad)
    return bytes((version, len(encoded_id))) + encoded_id + nonce + ciphertext


def unseal(blob: bytes, aad: bytes) -> bytes:
    blob = bytes(blob)
    key_id = key_id_of(blob)
    start = 2 + len(key_id)
    nonce, ciphertext = blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :]
    try:
        return _cipher(key_id).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptionError("sealed value failed authentication") from None


def sealer() -> Callable[[bytes, bytes], bytes]:
    """`seal` (with the current key) for many values in a row, such as one window of a bulk job: the key
    is looked up once, not once per value (settings are read through a lazy proxy). Make one per batch,
    in the process that uses it."""
    key_id = current_key_id()
    header = bytes((ROW_BOUND, len(key_id))) + key_id.encode("ascii")
    encrypt = _cipher(key_id).encrypt
    urandom = os.urandom

    def seal_one(plaintext: bytes, aad: bytes) -> bytes:
        nonce = urandom(NONCE_BYTES)
        return header + nonce + encrypt(nonce, plaintext, aad)

    return seal_one


def unsealer() -> Callable[[bytes, bytes], bytes]:
    """`unseal` for many ROW_BOUND blobs in a row (one window of a bulk job): each key's cipher is looked
    up once. A blob of another version, or one that does not open, raises DecryptionError as unseal
    does; callers fall back to the one-at-a-time path for those (erased, unbound, failures)."""
    ciphers: dict[bytes, AESGCM] = {}

    def unseal_one(blob: bytes, aad: bytes) -> bytes:
        if type(blob) is not bytes:  # a memoryview, from some drivers
            blob = bytes(blob)
        if len(blob) < 2 or blob[0] != ROW_BOUND:
            raise DecryptionError("not a row-bound sealed value")
        start = 2 + blob[1]
        key_id = blob[2:start]
        cipher = ciphers.get(key_id)
        if cipher is None:
            cipher = ciphers[key_id] = _cipher(key_id.decode("ascii"))
        try:
            return cipher.decrypt(blob[start : start + NONCE_BYTES], blob[start + NONCE_BYTES :], aad)
        except InvalidTag:
            raise DecryptionError("sealed value failed authentication") from None

    return unseal_one


def seal_json(value: Any, aad: bytes, *, key_id: str | None = None, version: int = ROW_BOUND) -> bytes:
    return seal(orjson.dumps(value), aad, key_id=key_id, version=version)


def unseal_json(blob: bytes, aad: bytes) -> Any:
    return orjson.loads(unseal(blob, aad))


def blind_index(purpose: str, *parts: str) -> bytes:
    """Keyed 16-byte hash of already-normalized `parts` for purpose `purpose` (at most 16 ASCII chars).

    Returns b"" when any part is empty, so "no phone" never matches "no phone".
    """
    if not all(parts):
        return b""
    return blind_indexer(purpose)(*parts)


def blind_indexer(purpose: str) -> Callable[..., bytes]:
    """blind_index for one purpose, with OWABI_INDEX_KEY read once, when it is made: for a caller that
    hashes many values of a few purposes (an import's lookup keys, thousands of rows a batch). Make one
    per batch, not one per process, so a changed key is seen."""
    key = settings.OWABI_INDEX_KEY
    keyed = _keyed.get((purpose, key))
    if keyed is None:  # keying hashes a whole block: done once per purpose and key, then copied
        keyed = _keyed[(purpose, key)] = hashlib.blake2b(
            key=key, person=purpose.encode("ascii"), digest_size=16
        )
    fresh = keyed.copy

    def index(*parts: str) -> bytes:
        if not all(parts):
            return b""
        digest = fresh()
        digest.update("\x1f".join(parts).encode())
        return digest.digest()

    return index


_keyed: dict[tuple[str, bytes], Any] = {}


def keyed_hash(purpose: str, value: str) -> str:
    """Hex keyed hash for non-PII keys that must not reveal their input (rate-limit keys, card numbers)."""
    return blind_index(purpose, value).hex()
