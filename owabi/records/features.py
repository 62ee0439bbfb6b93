"""Matching features for one leaked record: normalized keys in plain text, for the matcher only.

Computed at import and kept sealed (owabi.records.match_store); in plain text only in memory (an
in-memory DuckDB during resolve); never logged.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from typing import Any, TypeVar

from owabi.records import normalize

T = TypeVar("T")

# Bump whenever features() changes: stored match keys of an older version are recomputed by resolve.
VERSION = 3

COLUMNS = (
    "unique_id",
    "name_key",
    "name_fold",
    "kana_key",
    "kana_romaji",
    "family_kana",
    "given_kana",
    "family_name",
    "given_name",
    "given_romaji",
    "dob",
    "gender",
    "phone",
    "email",
    "postal",
    "address_key",
    "prefecture",
    "guardian_fold",
    "guardian_kana",
    "card_last4",
)
# Keys features() returns beyond the matcher's COLUMNS (for placeholders and recipients).
EXTRA_COLUMNS = ("due", "guardian_given_name", "guardian_given_kana")


# Values repeat across an incident's records (birth and due dates, postal codes, a household's address and
# readings, one person's rows in several systems): each worker remembers its recent results. The
# normalizers are pure and return immutable values; a rejected value raises again (errors aren't cached).
_MEMO = 1 << 16
_name = lru_cache(_MEMO)(normalize.name)
_kana = lru_cache(_MEMO)(normalize.kana)
_date = lru_cache(_MEMO)(normalize.date)
_phone = lru_cache(_MEMO)(normalize.phone)
_email = lru_cache(_MEMO)(normalize.email)
_postal_code = lru_cache(_MEMO)(normalize.postal_code)
_address = lru_cache(_MEMO)(normalize.address)
_gender = lru_cache(_MEMO)(normalize.gender)


def safe(function: Callable[[str], T], value: str | None) -> T | None:
    """A value the normalizer rejects is treated as missing for matching (import already kept it)."""
    if not value:
        return None
    try:
        return function(value) or None
    except normalize.NormalizeError:
        return None


def features(
    record_pk: int, sealed: dict[str, Any], problems: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """The matching keys of one record. Values a normalizer rejects are left out of matching and, when
    `problems` is given, reported there as (field, fixed reason) — never the value."""

    def check(function: Callable[[str], T], field: str) -> T | None:
        value = sealed.get(field)
        if not value:
            return None
        try:
            return function(value) or None
        except normalize.NormalizeError as error:
            if problems is not None:
                problems.append((field, error.reason))
            return None

    spaced = check(_name, "subject_name") or ""
    name_key = normalize.name_key_of(spaced) or None if spaced else None
    family_name, _, given_name = spaced.partition(" ")
    kana = check(_kana, "subject_kana")
    kana_key = normalize.reading_key(kana) if kana else None
    family_kana, _, given_kana = (kana or "").partition(" ")
    given_key = normalize.reading_key(given_kana) if given_kana else None
    guardian_spaced = check(_name, "guardian_name")
    guardian = normalize.name_key_of(guardian_spaced) or None if guardian_spaced else None
    guardian_kana = check(_kana, "guardian_kana")
    guardian_given = (guardian_spaced or "").partition(" ")[2]
    guardian_given_kana = (guardian_kana or "").partition(" ")[2]
    birth = check(_date, "subject_birth_date")
    due = check(_date, "expected_delivery_date")
    address = safe(_address, sealed.get("address"))
    return {
        "unique_id": record_pk,
        "name_key": name_key,
        "name_fold": normalize.fold_variants(name_key) if name_key else None,
        "kana_key": kana_key,
        "kana_romaji": normalize.romaji_of_key(kana_key) if kana_key else None,
        "family_kana": normalize.reading_key(family_kana) if given_kana else None,
        "given_kana": given_key,
        "given_romaji": normalize.romaji_of_key(given_key) if given_key else None,
        "family_name": family_name if given_name else None,
        "given_name": given_name.replace(" ", "") if given_name else None,
        "dob": birth.isoformat() if isinstance(birth, date) else None,
        "gender": safe(_gender, sealed.get("subject_gender")),
        "phone": check(_phone, "phone"),
        "email": check(_email, "email"),
        "postal": check(_postal_code, "postal_code"),
        "address_key": f"{address.key()}#{address.room}" if address and address.key() else None,
        "prefecture": (address.prefecture or None) if address else None,
        "guardian_fold": normalize.fold_variants(guardian) if guardian else None,
        "guardian_kana": normalize.reading_key(guardian_kana) if guardian_kana else None,
        "card_last4": card_last4(sealed.get("card_last4")),
        # Not compared by Splink (not in COLUMNS). Pre-birth rows: the due date.
        "due": due.isoformat() if isinstance(due, date) else None,
        # For the recipient assignment: a mother whose own rows give her maiden name is still found by
        # her given name and the household's contact.
        "guardian_given_name": normalize.fold_variants(guardian_given.replace(" ", "")) or None,
        "guardian_given_kana": normalize.reading_key(guardian_given_kana) if guardian_given_kana else None,
    }


def stored(sealed: dict[str, Any], problems: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The keys as stored (owabi.records.match_store): without a record id."""
    match = features(0, sealed, problems)
    del match["unique_id"]
    return match


def card_last4(value: str | None) -> str | None:
    """A card's last four digits: household evidence like a phone (a child's row carries the guardian's
    card, spouses share one), compared only where the person's own identity agrees."""
    digits = unicodedata.normalize("NFKC", value or "").strip()
    return digits if len(digits) == 4 and digits.isascii() and digits.isdigit() else None


def is_placeholder(sealed: dict[str, Any]) -> bool:
    """A pre-birth row: a due date and a guardian, no name of its own yet."""
    return not sealed.get("subject_name") and bool(sealed.get("expected_delivery_date"))
