from __future__ import annotations

import hashlib

import pytest
from django.conf import settings
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from owabi.core import crypto
from owabi.core.env import new_key, parse_keyring

AAD = b"records.LeakRecord.sealed"


@given(st.text())
def test_it_round_trips_any_text(text: str) -> None:
    blob = crypto.seal(text.encode(), AAD)
    assert crypto.unseal(blob, AAD) == text.encode()


def test_it_round_trips_json() -> None:
    value = {"subject_name": "髙橋 𠮷太郎", "phone": "+819012345678", "n": [1, None]}
    assert crypto.unseal_json(crypto.seal_json(value, AAD), AAD) == value


def test_the_ciphertext_does_not_contain_the_plaintext() -> None:
    blob = crypto.seal_json({"name": "山田太郎"}, AAD)
    assert "山田太郎".encode() not in blob
    assert b"\\u5c71" not in blob


def test_each_seal_uses_a_fresh_nonce() -> None:
    assert crypto.seal(b"same", AAD) != crypto.seal(b"same", AAD)


def test_it_refuses_a_blob_from_another_column() -> None:
    blob = crypto.seal(b"x", AAD)
    with pytest.raises(crypto.DecryptionError):
        crypto.unseal(blob, b"notices.Recipient.sealed")


def test_it_refuses_a_tampered_blob() -> None:
    blob = bytearray(crypto.seal(b"hello", AAD))
    blob[-1] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.unseal(bytes(blob), AAD)


def test_it_decrypts_with_an_old_key_after_rotation() -> None:
    old, new = new_key(), new_key()
    with override_settings(OWABI_DATA_KEYS=parse_keyring("T", f"k1:{old}"), OWABI_DATA_KEY_ID="k1"):
        blob = crypto.seal(b"secret", AAD)
    ring = parse_keyring("T", f"k2:{new},k1:{old}")
    with override_settings(OWABI_DATA_KEYS=ring, OWABI_DATA_KEY_ID="k2"):
        assert crypto.key_id_of(blob) == "k1"
        assert crypto.unseal(blob, AAD) == b"secret"
        assert crypto.key_id_of(crypto.seal(b"secret", AAD)) == "k2"


def test_it_refuses_a_blob_whose_key_is_gone() -> None:
    blob = crypto.seal(b"secret", AAD)
    with (
        override_settings(OWABI_DATA_KEYS=parse_keyring("T", f"zz:{new_key()}"), OWABI_DATA_KEY_ID="zz"),
        pytest.raises(crypto.DecryptionError, match="unknown data key"),
    ):
        crypto.unseal(blob, AAD)


def test_blind_indexes_are_stable_keyed_and_purpose_bound() -> None:
    a = crypto.blind_index("name_phone", "ヤマダタロウ", "+819012345678")
    assert a == crypto.blind_index("name_phone", "ヤマダタロウ", "+819012345678")
    assert len(a) == 16
    assert a != crypto.blind_index("name_card", "ヤマダタロウ", "+819012345678")
    assert a != crypto.blind_index("name_phone", "ヤマダタロウ", "+819012345679")
    with override_settings(OWABI_INDEX_KEY=b"\x01" * 32):
        assert a != crypto.blind_index("name_phone", "ヤマダタロウ", "+819012345678")


def test_a_blind_indexer_hashes_as_blind_index_with_the_key_of_when_it_was_made() -> None:
    parts = ("ヤマダタロウ", "+819012345678")
    index = crypto.blind_indexer("name_phone")
    # Keyed BLAKE2b-128 of the parts joined by U+001F, the purpose as personalization (the module's doc).
    expected = hashlib.blake2b(
        "ヤマダタロウ\x1f+819012345678".encode(),
        key=settings.OWABI_INDEX_KEY,
        person=b"name_phone",
        digest_size=16,
    ).digest()
    assert index(*parts) == expected == crypto.blind_index("name_phone", *parts)
    assert index("ヤマダタロウ", "") == b""
    with override_settings(OWABI_INDEX_KEY=b"\x01" * 32):
        again = crypto.blind_indexer("name_phone")
        assert again(*parts) == crypto.blind_index("name_phone", *parts) != index(*parts)


def test_blind_index_parts_cannot_be_shifted() -> None:
    assert crypto.blind_index("p", "ab", "c") != crypto.blind_index("p", "a", "bc")


def test_an_empty_part_gives_no_index() -> None:
    assert crypto.blind_index("name_phone", "ヤマダタロウ", "") == b""
