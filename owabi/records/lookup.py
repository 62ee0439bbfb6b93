"""Find leaked records by what a person can tell us: name + phone, name + card last 4, name + postal
code, or e-mail. Every search (portal "am I affected?", support console, API) calls `find`.

Import and search build a key with the same function per purpose (`name_phone_key`, `name_card_key`,
`name_postal_key`, `email_key`), from the shared normalizers (owabi.records.normalize), so a value typed
in any of the spellings the normalizers fold ("山田太郎様 / +81 90 1234 5678" for "山田 太郎 /
090-1234-5678", "mailto:TARO@…" for "taro@…") gives the stored key. A key is a keyed BLAKE2b
(owabi.core.crypto.blind_index, OWABI_INDEX_KEY) over the incident and the normalized parts, with the
purpose as personalization: a key says nothing without the index key, and never matches across
incidents or purposes. A part that is empty or that its normalizer rejects gives no key, so it is
stored nowhere and finds nothing (no exception, and no value in any message).

Names: a person types their name in kanji or in kana (hiragana, katakana, half-width). A name written
only in kana is compared by its reading key (normalize.reading_key: サトー = サトウ, キュウ = キユウ);
any other name by its name key with variant characters folded loosely (normalize.fold_variants: 髙/高,
﨑/崎, 齋/斎, and 斉/斎, which people mix up; a lookup always has a second fact that must agree).
A record is stored under its subject's name and reading, and under its guardian's name and reading as
a guardian: a parent whose own data did not leak is found by their name with the child's phone, card
or postal code, and `find` says in which role.

Keys live in their own narrow table (models.LookupKey: key, record), one row per key, so a record
without a phone, card or e-mail costs nothing (there is no empty key to index) and a new purpose needs
no new column. After this module's normalization or OWABI_INDEX_KEY changes, `owabi keys reindex`
recomputes the stored keys (`reindex`).
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from django.db import transaction

from owabi.core import audit, bulk
from owabi.core.crypto import blind_index, blind_indexer
from owabi.core.fields import open_values
from owabi.incidents.models import Incident
from owabi.records import cards, normalize
from owabi.records.models import LeakRecord, LookupKey


class Role(enum.StrEnum):
    """Whom a hit is about: the record's own person, their guardian (named on a child's row), or the
    record's e-mail address (whoever's it is)."""

    SUBJECT = "subject"
    GUARDIAN = "guardian"
    CONTACT = "contact"


# Purposes (blind_index personalization, at most 16 ASCII characters), per role.
_PURPOSES: dict[tuple[str, Role], str] = {
    ("phone", Role.SUBJECT): "lk.name+phone",
    ("phone", Role.GUARDIAN): "lk.guard+phone",
    ("card", Role.SUBJECT): "lk.name+card",
    ("card", Role.GUARDIAN): "lk.guard+card",
    ("postal", Role.SUBJECT): "lk.name+postal",
    ("postal", Role.GUARDIAN): "lk.guard+postal",
}
_EMAIL_PURPOSE = "lk.email"


# --- What each typed or stored value becomes ----------------------------------------------------------
# Import calls these once per value of a million rows, and values repeat (names, postal codes, one
# household's phone on each child's row): each process remembers recent results, as features.py does.
_MEMO = 1 << 16


def _quiet(normalizer: Callable[[str], str]) -> Callable[[str], str]:
    """`normalizer`, with a value it rejects becoming "" (no key: it finds nothing)."""

    @lru_cache(_MEMO)
    def run(raw: str) -> str:
        try:
            return normalizer(raw)
        except normalize.NormalizeError:
            return ""

    return run


def _name_form(raw: str) -> str:
    # A kanji anywhere in a name: normalize.kana rejects it (it keeps kanji as they are), so the reading
    # is not tried. Most names are written in kanji, and a rejection is an exception: import saw the cost.
    spaced = normalize.name(raw)
    if not normalize.KANJI.search(spaced):
        try:
            return normalize.reading_key(normalize.kana(spaced))
        except normalize.NormalizeError:  # not kana alone: Latin letters, or a mix
            pass
    return normalize.fold_variants(normalize.name_key_of(spaced), loose=True)


def _card_last4(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).strip()
    if len(text) == 4 and text.isascii() and text.isdigit():
        return text
    try:
        return cards.reduce(text).last4  # a masked number (************1234) as the statement shows it
    except cards.CardNumberError:
        return ""


name_form = _quiet(_name_form)
name_form.__doc__ = """How a name is compared: its reading key if written in kana alone, else its name
key with variant characters folded loosely; "" when it is no name."""
phone_form = _quiet(normalize.phone)
email_form = _quiet(normalize.email)
postal_form = _quiet(normalize.postal_code)
card_form = lru_cache(_MEMO)(_card_last4)


# --- One key function per purpose ----------------------------------------------------------------------
def _key(purpose: str, incident_id: int, *forms: str) -> bytes:
    return blind_index(purpose, str(incident_id), *forms)


def name_phone_key(incident_id: int, name: str, phone: str, role: Role = Role.SUBJECT) -> bytes:
    return _key(_PURPOSES["phone", role], incident_id, name_form(name), phone_form(phone))


def name_card_key(incident_id: int, name: str, card_last4: str, role: Role = Role.SUBJECT) -> bytes:
    return _key(_PURPOSES["card", role], incident_id, name_form(name), card_form(card_last4))


def name_postal_key(incident_id: int, name: str, postal_code: str, role: Role = Role.SUBJECT) -> bytes:
    return _key(_PURPOSES["postal", role], incident_id, name_form(name), postal_form(postal_code))


def email_key(incident_id: int, email: str) -> bytes:
    return _key(_EMAIL_PURPOSE, incident_id, email_form(email))


# A record's facts as the key functions above read them: the second fact of each name lookup, and the
# names of each role. record_keys composes the same forms and purposes, each value normalized once.
_SECOND_FACTS = (
    ("phone", "phone", phone_form),
    ("card", "card_last4", card_form),
    ("postal", "postal_code", postal_form),
)
_NAMES = (
    (Role.SUBJECT, ("subject_name", "subject_kana")),
    (Role.GUARDIAN, ("guardian_name", "guardian_kana")),
)


def record_keys(incident_id: int, values: dict[str, Any]) -> tuple[bytes, ...]:
    """The lookup keys of one record, from its values as sealed (cleaned, card numbers reduced): what
    the key functions give for each of its names with each of its contacts, and for its e-mail."""
    return record_keyer(incident_id)(values)


def record_keyer(incident_id: int) -> Callable[[dict[str, Any]], tuple[bytes, ...]]:
    """record_keys for one incident's records, its hashes keyed once (crypto.blind_indexer): what an
    import makes for each batch of rows, where keying each of a row's six or so keys anew cost about an
    eighth of what the keys cost (49 against 43 µs of CPU a record, docs/performance.md)."""
    incident = str(incident_id)
    index = {(kind, role): blind_indexer(purpose) for (kind, role), purpose in _PURPOSES.items()}
    index_email = blind_indexer(_EMAIL_PURPOSE)

    def keys_of(values: dict[str, Any]) -> tuple[bytes, ...]:
        keys: set[bytes] = set()
        seconds = [(kind, form(raw)) for kind, field, form in _SECOND_FACTS if (raw := values.get(field))]
        seconds = [(kind, second) for kind, second in seconds if second]
        if seconds:
            for role, fields in _NAMES:
                for name in {name_form(raw) for field in fields if (raw := values.get(field))}:
                    if name:
                        keys.update(index[kind, role](incident, name, second) for kind, second in seconds)
        if (raw := values.get("email")) and (email := email_form(raw)):
            keys.add(index_email(incident, email))
        return tuple(sorted(keys))

    return keys_of


# --- The one search -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    record: LeakRecord
    role: Role


def query(
    *,
    incident_id: int,
    name: str = "",
    phone: str = "",
    card_last4: str = "",
    postal_code: str = "",
    email: str = "",
) -> dict[bytes, Role]:
    """The keys a search with these values looks for, each with the role it finds a record in: the
    first half of `find`, for callers that must search later without keeping what was typed (the
    portal's "am I affected?" queues the keys, never the values). Empty for values no normalizer
    accepts. Another combination is a programming error (TypeError, naming no values)."""
    seconds = [bool(phone), bool(card_last4), bool(postal_code)]
    if email and not name and not any(seconds):
        wanted = {email_key(incident_id, email): Role.CONTACT}
    elif name and not email and sum(seconds) == 1:
        key_of = name_phone_key if phone else name_card_key if card_last4 else name_postal_key
        second = phone or card_last4 or postal_code
        wanted = {key_of(incident_id, name, second, role): role for role in (Role.SUBJECT, Role.GUARDIAN)}
    else:
        raise TypeError("find: give email alone, or name with one of phone, card_last4, postal_code")
    wanted.pop(b"", None)
    return wanted


def find_keys(*, incident: Incident, wanted: dict[bytes, Role]) -> list[Found]:
    """The incident's records stored under any of `wanted` (from `query`), in import order."""
    if not wanted:
        return []
    hits: dict[int, Role] = {}
    for key, record_id in LookupKey.objects.filter(key__in=list(wanted)).values_list("key", "record_id"):
        role = wanted[bytes(key)]
        if hits.get(record_id) != Role.SUBJECT:  # a record named in both roles is about its subject
            hits[record_id] = role
    records = LeakRecord.objects.filter(incident=incident, pk__in=list(hits)).order_by("pk")
    return [Found(record, hits[record.pk]) for record in records]


def find(
    *,
    incident: Incident,
    name: str = "",
    phone: str = "",
    card_last4: str = "",
    postal_code: str = "",
    email: str = "",
) -> list[Found]:
    """The incident's records that `email` alone, or `name` with one of `phone`, `card_last4` or
    `postal_code`, points at, in import order, each with the role it was found in. A value that is
    blank or that no normalizer accepts finds nothing; the answer never says which value was wrong.
    Asking with another combination is a programming error (TypeError, naming no values)."""
    wanted = query(
        incident_id=incident.pk,
        name=name,
        phone=phone,
        card_last4=card_last4,
        postal_code=postal_code,
        email=email,
    )
    return find_keys(incident=incident, wanted=wanted)


# --- Keeping the stored keys current ------------------------------------------------------------------
KEY_FIELDS = ("key", "record")


@dataclass
class ReindexResult:
    scanned: int = 0
    changed: int = 0


def reindex(*, actor: str, batch: int = 5000, progress: Callable[[int], None] | None = None) -> ReindexResult:
    """Recompute every record's lookup keys from its sealed values under the current OWABI_INDEX_KEY
    (after that key is replaced, or after an upgrade changed how keys are made). Idempotent, and
    resumable by running it again; each batch is its own transaction. While it runs, lookups miss the
    records not yet recomputed."""
    result = ReindexResult()
    last = 0
    while True:
        rows = list(
            open_values(
                LeakRecord.objects.filter(pk__gt=last).order_by("pk")[:batch], "pk", "incident_id", "sealed"
            )
        )
        if not rows:
            break
        first, last = rows[0][0], rows[-1][0]
        keyers: dict[int, Callable[[dict[str, Any]], tuple[bytes, ...]]] = {}
        wanted = {}
        for pk, incident_id, values in rows:
            if incident_id not in keyers:
                keyers[incident_id] = record_keyer(incident_id)
            wanted[pk] = set(keyers[incident_id](cast("dict[str, Any]", values)))
        stored: dict[int, set[bytes]] = {}
        for key, record_id in LookupKey.objects.filter(record_id__gte=first, record_id__lte=last).values_list(
            "key", "record_id"
        ):
            stored.setdefault(record_id, set()).add(bytes(key))
        changed = [pk for pk, keys in wanted.items() if stored.get(pk, set()) != keys]
        if changed:
            with transaction.atomic():
                LookupKey.objects.filter(record_id__in=changed).delete()
                bulk.insert(
                    LookupKey, KEY_FIELDS, ((key, pk) for pk in changed for key in sorted(wanted[pk]))
                )
        result.scanned += len(rows)
        result.changed += len(changed)
        if progress:
            progress(result.scanned)
    audit.record(
        actor=actor, action="records.reindex", data={"scanned": result.scanned, "changed": result.changed}
    )
    return result
