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
VERSION = 7

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
# What stored() returns, in this order: every key but the record id.
STORED_COLUMNS = (*(c for c in COLUMNS if c != "unique_id"), *EXTRA_COLUMNS)


# Values repeat across an incident's records (birth and due dates, postal codes, names and readings, one
# person's rows in several systems): each worker remembers its recent results, keys derived from them
# included. The functions are pure and return immutable values; a rejected value raises again (errors
# aren't cached). Sizes from a 1M-record synthetic leak, one worker's half: names, readings and dates hit
# 34-58 % with 2**16 entries and 51-71 % with 2**18 (as with no bound); an address or phone repeats
# rarely (10-15 %) and gets a small cache. The import's largest process peaks at 558 MiB (282 with 2**16).
_MEMO = 1 << 18
_MEMO_SMALL = 1 << 14


@lru_cache(_MEMO)
def _name_keys(raw: str) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(name_key, its variant fold, family name, given name, the given name's fold) of a raw name; the
    parts only where the name is split."""
    spaced = normalize.name(raw)
    if not spaced:
        return None, None, None, None, None
    key = normalize.name_key_of(spaced) or None
    family, _, given = spaced.partition(" ")
    given = given.replace(" ", "")
    return (
        key,
        normalize.fold_variants(key) if key else None,
        family if given else None,
        given or None,
        normalize.fold_variants(given) or None,
    )


@lru_cache(_MEMO)
def _kana_keys(raw: str) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """(reading key, its romaji, family reading key, given reading key, its romaji) of a raw reading;
    the parts only where the reading is split."""
    kana = normalize.kana(raw)
    if not kana:
        return None, None, None, None, None
    key = normalize.reading_key(kana)
    family, _, given = kana.partition(" ")
    given_key = normalize.reading_key(given) if given else None
    return (
        key,
        normalize.romaji_of_key(key) if key else None,
        normalize.reading_key(family) if given else None,
        given_key,
        normalize.romaji_of_key(given_key) if given_key else None,
    )


@lru_cache(_MEMO)
def _iso_date(raw: str) -> str | None:
    value = normalize.known_date(raw)
    return value.isoformat() if isinstance(value, date) else None


@lru_cache(_MEMO_SMALL)
def _address_keys(raw: str) -> tuple[str | None, str | None]:
    """(address_key, prefecture) of a raw address."""
    address = normalize.address(raw)
    key = address.key()
    return (f"{key}#{address.room}" if key else None), (address.prefecture or None)


_NO_NAME: tuple[None, None, None, None, None] = (None, None, None, None, None)
_phone = lru_cache(_MEMO_SMALL)(normalize.phone)
_email = lru_cache(_MEMO)(normalize.email)
_postal_code = lru_cache(_MEMO)(normalize.postal_code)
_gender = lru_cache(_MEMO_SMALL)(normalize.gender)


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
    """The matching keys of one record, by name (COLUMNS, then EXTRA_COLUMNS). Values a normalizer
    rejects are left out of matching and, when `problems` is given, reported there as (field, fixed
    reason) — never the value."""
    return {"unique_id": record_pk, **dict(zip(STORED_COLUMNS, stored(sealed, problems), strict=True))}


def stored(sealed: dict[str, Any], problems: list[tuple[str, str]] | None = None) -> tuple[str | None, ...]:
    """The keys as stored (owabi.records.match_store): in STORED_COLUMNS order, without a record id."""

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

    name_key, name_fold, family_name, given_name, _ = check(_name_keys, "subject_name") or _NO_NAME
    kana_key, kana_romaji, family_kana, given_kana, given_romaji = (
        check(_kana_keys, "subject_kana") or _NO_NAME
    )
    dob = check(_iso_date, "subject_birth_date")
    due = check(_iso_date, "expected_delivery_date")
    if _placeholder_named(name_key, sealed):
        # A child registered before it was named (高木 ベビー, 小西（未定）): a pre-birth row, matched to the
        # child born near its due date (resolve.clusters.join_placeholders), or near the birth date it
        # gives (a hospital's row before the naming). Its name and reading are no one's. Only a row that
        # names a guardian: join_placeholders places a row through its guardian, and a row without one
        # (a shop order for 高木ゆいちゃん, a nickname) would be left a person of its own, a second notice
        # and a second payout; it is matched by its name like any row.
        name_key = name_fold = family_name = given_name = None
        kana_key = kana_romaji = family_kana = given_kana = given_romaji = None
        due = due or dob
    elif name_key and not kana_key:
        # A name written in kana only (さくらい みき) is its own reading: compared with other rows' readings,
        # it meets the same person's rows written in kanji.
        kana_key, kana_romaji, family_kana, given_kana, given_romaji = (
            safe(_kana_keys, sealed.get("subject_name")) or _NO_NAME
        )
    _, guardian_fold, _, _, guardian_given = check(_name_keys, "guardian_name") or _NO_NAME
    guardian_kana, _, _, guardian_given_kana, _ = check(_kana_keys, "guardian_kana") or _NO_NAME
    gender = safe(_gender, sealed.get("subject_gender"))
    phone = check(_phone, "phone")
    email = check(_email, "email")
    postal = check(_postal_code, "postal_code")
    address_key, prefecture = safe(_address_keys, sealed.get("address")) or (None, None)
    return (
        name_key,
        name_fold,
        kana_key,
        kana_romaji,
        family_kana,
        given_kana,
        family_name,
        given_name,
        given_romaji,
        dob,
        gender,
        phone,
        email,
        postal,
        address_key,
        prefecture,
        guardian_fold,
        guardian_kana,
        card_last4(sealed.get("card_last4")),
        # Not compared by Splink (not in COLUMNS). Pre-birth rows: the due date.
        due,
        # For the recipient assignment: a mother whose own rows give her maiden name is still found by
        # her given name and the household's contact.
        guardian_given,
        guardian_given_kana,
    )


def card_last4(value: str | None) -> str | None:
    """A card's last four digits: household evidence like a phone (a child's row carries the guardian's
    card, spouses share one), compared only where the person's own identity agrees."""
    digits = unicodedata.normalize("NFKC", value or "").strip()
    return digits if len(digits) == 4 and digits.isascii() and digits.isdigit() else None


def _placeholder_named(name_key: str | None, sealed: dict[str, Any]) -> bool:
    """The row's name stands in for a child's not given yet, and the row names the guardian it is placed
    through (see stored())."""
    guardian = sealed.get("guardian_name") or sealed.get("guardian_kana")
    return bool(name_key and normalize.is_placeholder_name(name_key) and guardian)


def is_placeholder(sealed: dict[str, Any]) -> bool:
    """A pre-birth row: a due date (or, under a placeholder name, a birth date), no name of its own yet."""
    name_key = (safe(_name_keys, sealed.get("subject_name")) or _NO_NAME)[0]
    if _placeholder_named(name_key, sealed):
        return bool(sealed.get("expected_delivery_date") or sealed.get("subject_birth_date"))
    return not sealed.get("subject_name") and bool(sealed.get("expected_delivery_date"))
