"""Matching features for one leaked record: normalized keys in plain text, for the matcher only.

They live in memory (an in-memory DuckDB during resolve) and are never written to disk or logged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from owabi.records import normalize

T = TypeVar("T")

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
)


def safe(function: Callable[[str], T], value: str | None) -> T | None:
    """A value the normalizer rejects is treated as missing for matching (import already kept it)."""
    if not value:
        return None
    try:
        return function(value) or None
    except normalize.NormalizeError:
        return None


def features(record_pk: int, sealed: dict[str, Any]) -> dict[str, Any]:
    name = sealed.get("subject_name")
    name_key = safe(normalize.name_key, name)
    spaced = safe(normalize.name, name) or ""
    family_name, _, given_name = spaced.partition(" ")
    kana = safe(normalize.kana, sealed.get("subject_kana"))
    kana_key = normalize.kana_key(kana) if kana else None
    family_kana, _, given_kana = (kana or "").partition(" ")
    guardian = safe(normalize.name_key, sealed.get("guardian_name"))
    guardian_kana = safe(normalize.kana, sealed.get("guardian_kana"))
    birth = safe(normalize.date, sealed.get("subject_birth_date"))
    address = safe(normalize.address, sealed.get("address"))
    return {
        "unique_id": record_pk,
        "name_key": name_key,
        "name_fold": normalize.fold_variants(name_key) if name_key else None,
        "kana_key": kana_key,
        "kana_romaji": normalize.kana_romaji(kana) if kana else None,
        "family_kana": normalize.kana_key(family_kana) if given_kana else None,
        "given_kana": normalize.kana_key(given_kana) if given_kana else None,
        "given_romaji": normalize.kana_romaji(given_kana) if given_kana else None,
        "family_name": family_name if given_name else None,
        "given_name": given_name.replace(" ", "") if given_name else None,
        "dob": birth.isoformat() if isinstance(birth, date) else None,
        "gender": safe(normalize.gender, sealed.get("subject_gender")),
        "phone": safe(normalize.phone, sealed.get("phone")),
        "email": safe(normalize.email, sealed.get("email")),
        "postal": safe(normalize.postal_code, sealed.get("postal_code")),
        "address_key": f"{address.key()}#{address.room}" if address and address.key() else None,
        "prefecture": (address.prefecture or None) if address else None,
        "guardian_fold": normalize.fold_variants(guardian) if guardian else None,
        "guardian_kana": normalize.kana_key(guardian_kana) if guardian_kana else None,
    }


def is_placeholder(sealed: dict[str, Any]) -> bool:
    """A pre-birth row: a due date and a guardian, no name of its own yet."""
    return not sealed.get("subject_name") and bool(sealed.get("expected_delivery_date"))
