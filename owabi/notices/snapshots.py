"""What each notice says (its sealed snapshot) and which channels it goes by, built for a window of
recipients at a time from rows read in bulk; `build` runs in worker processes (owabi.notices.services
.prepare reads and writes, the workers open, build and seal).

A window arrives as plain tuples with the sealed records still sealed and the notice ids already
reserved (owabi.core.rowids.allocate): a worker opens each record with its row id, builds each notice's
content, gives it a fresh code and seals the content for the notice's own id, and returns rows ready to
write (COPY's binary form on PostgreSQL, tuples on SQLite). Pure: no database, so any number of workers
can run.
"""

from __future__ import annotations

import functools
import struct
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import orjson

from owabi.core import bulk
from owabi.core.fields import SealedBytesField
from owabi.incidents import categories
from owabi.notices import codes
from owabi.notices.models import Notice, NoticeSetup
from owabi.records import cards as card_brands
from owabi.records import normalize
from owabi.records.features import safe
from owabi.records.models import LeakRecord, Recipient

# The columns a prepared notice is written with, in order (owabi.core.bulk); the rest keep their defaults
# through the values below.
FIELDS = (
    *("id", "incident", "recipient", "channel", "code", "reminder_of", "rule", "language", "status"),
    *("setup_revision", "content", "prepared_at", "status_at", "sending_by", "lease_until", "attempts"),
    *("message_id", "handed_at", "sent_at", "last_error", "needs_reconciliation"),
)
CHANNELS_AT_MOST = 2  # notices one recipient can get (e-mail and letter): the ids reserved per recipient


@dataclass(frozen=True)
class Context:
    """What every window of one run shares."""

    incident: int
    policy: str
    language: str
    revision: int
    declared: list[str]  # the incident's declared categories
    names: dict[str, dict[str, str]]  # per language: source label -> the name readers know
    facts: dict[str, Any]
    file_sources: dict[int, str]  # source file id -> its label
    copy: bool  # rows in COPY's binary form (PostgreSQL), else tuples


@dataclass
class Window:
    """A window of recipients as read, in the order their notices are made (by number)."""

    recipients: list[tuple[int, str, int | None]]  # id, kind, contact record id
    subjects: list[tuple[int, int, bool, int | None, int]]  # id, number, is minor, best record, recipient
    records: list[tuple[int, Any, Any, int, str, int]]  # id, sealed blob, categories, file, role, subject
    live: set[tuple[int, str]]  # (recipient, channel) pairs that have a live notice already
    ids: list[int]  # reserved notice ids, at least one per notice to make
    stamp: str  # prepared_at / status_at, in the database's form


@dataclass
class Built:
    recipients: int  # in the window
    rows: list[Any] = field(default_factory=list)  # bytes (COPY's binary form) or tuples, FIELDS order
    created: dict[str, int] = field(default_factory=lambda: {"email": 0, "letter": 0})
    existing: int = 0
    unreachable: int = 0


_RECORD_SEALED = cast(SealedBytesField, LeakRecord._meta.get_field("sealed"))
_CONTENT = cast(SealedBytesField, Notice._meta.get_field("content"))


def labels(rows: list[tuple[int, Any, int]], file_sources: dict[int, str]) -> set[str]:
    """The source labels of records (id, sealed blob, file id): a row's own, else its file's."""
    found = set()
    open_row = _RECORD_SEALED.row_opener()
    for pk, blob, file_id in rows:
        found.add(open_row(blob, pk).get("source") or file_sources[file_id])
    return found


def build(context: Context, window: Window) -> Built:
    """The window's new notices, as rows to write, and what the run counts."""
    built = Built(len(window.recipients))
    records: dict[int, tuple[dict[str, Any], list[str], str, str]] = {}
    members: dict[int, list[int]] = defaultdict(list)
    open_row, seal_row = _RECORD_SEALED.row_opener(), _CONTENT.row_sealer(encoded=True)
    for pk, blob, record_categories, file_id, role, subject_id in window.records:
        sealed = open_row(blob, pk)
        if isinstance(record_categories, str):
            record_categories = orjson.loads(record_categories)
        records[pk] = (sealed, record_categories, sealed.get("source") or context.file_sources[file_id], role)
        members[subject_id].append(pk)
    contacts = {contact for _, _, contact in window.recipients}
    named: dict[frozenset[str], dict[str, list[str]]] = {}  # a person's labels -> their sources' names

    def sources_of(labels: frozenset[str]) -> dict[str, list[str]]:
        found = named.get(labels)
        if found is None:
            found = named[labels] = {
                language: sorted({known[label] for label in labels if label in known})
                for language, known in context.names.items()
            }
        return found

    people: dict[int, list[dict[str, Any]]] = defaultdict(list)
    own_subject: dict[int, int] = {}  # record id -> subject id, for the recipients' contact records
    for subject_pk, number, is_minor, best_record, recipient_pk in window.subjects:
        mine = sorted(members[subject_pk])
        own = [records[pk] for pk in mine]
        best = records[best_record][0] if best_record in records else {}
        person = _person(number, bool(is_minor), best, own, context.declared, sources_of)
        person["subject"] = subject_pk
        people[recipient_pk].append(person)
        own_subject.update((pk, subject_pk) for pk in mine if pk in contacts)
    ids = iter(window.ids)
    fresh = codes.code_stream()  # drawn in batches: a third of the cost of one code at a time
    encode = _CONTENT.encode
    row = _binary_row(context, window) if context.copy else _sqlite_row(context, window)
    for recipient_pk, kind, contact_record in window.recipients:
        contact = records[contact_record][0] if contact_record in records else {}
        # The recipient is one of their people when their own data leaked: an adult, or a guardian
        # who is a subject too (their contact record is one of their own records).
        self_subject = own_subject.get(contact_record or 0)
        theirs = people[recipient_pk]
        for person in theirs:
            subject_pk = person.pop("subject")
            person["self"] = kind == Recipient.Kind.SELF and subject_pk == self_subject
        theirs.sort(key=lambda person: not person["self"])  # the reader first, then family
        content = content_of(kind, theirs, contact, context.facts)
        channels = _channels(context.policy, content["to"]["email"], bool(content["to"]["address"]))
        if not channels:
            built.unreachable += 1
        plain = b""  # the content encoded once, sealed for each of its notices
        for channel in channels:
            if (recipient_pk, channel) in window.live:
                built.existing += 1
                continue
            pk = next(ids)
            plain = plain or encode(content)
            built.rows.append(row(pk, recipient_pk, channel, next(fresh), seal_row(plain, pk)))
            built.created[channel] += 1
    return built


def _binary_row(context: Context, window: Window) -> Callable[[int, int, str, str, bytes], bytes]:
    """One notice in COPY's binary form (FIELDS order, in the notices table's column types): its id,
    recipient, channel, code and sealed content vary; the rest is the same for the whole window."""
    head = struct.Struct(">hiqiqiq").pack  # the number of values, then id, incident, recipient (int8)
    channels = {channel: bulk.binary_text(channel) for channel in Notice.Channel.values}
    middle = b"".join(
        (
            bulk.BINARY_NULL,  # reminder_of
            bulk.binary_text(""),  # rule
            bulk.binary_text(context.language),
            bulk.binary_text(Notice.Status.PREPARED.value),
            bulk.binary_int4(context.revision),
        )
    )
    length = struct.Struct(">i").pack
    stamp = bulk.binary_timestamptz(datetime.fromisoformat(window.stamp))
    tail = b"".join(
        (
            *(stamp, stamp, bulk.binary_text("")),  # prepared_at, status_at, sending_by
            *(
                bulk.BINARY_NULL,
                bulk.binary_int4(0),
                bulk.binary_text(""),
            ),  # lease_until, attempts, message_id
            *(bulk.BINARY_NULL, bulk.BINARY_NULL, bulk.binary_text("")),  # handed_at, sent_at, last_error
            bulk.binary_bool(False),  # needs_reconciliation
        )
    )
    count, incident = len(FIELDS), context.incident

    def row(pk: int, recipient: int, channel: str, code: str, sealed: bytes) -> bytes:
        return b"".join(
            (
                head(count, 8, pk, 8, incident, 8, recipient),
                channels[channel],
                length(len(code)),
                code.encode(),
                middle,
                length(len(sealed)),
                sealed,
                tail,
            )
        )

    return row


def _sqlite_row(context: Context, window: Window) -> Callable[[int, int, str, str, bytes], tuple[Any, ...]]:
    """One notice as a tuple of values (FIELDS order)."""
    language, status, revision, stamp = (
        context.language,
        Notice.Status.PREPARED.value,
        context.revision,
        window.stamp,
    )

    def row(pk: int, recipient: int, channel: str, code: str, sealed: bytes) -> tuple[Any, ...]:
        return (
            *(pk, context.incident, recipient, channel, code, None, "", language),
            *(status, revision, sealed, stamp, stamp),
            *("", None, 0, "", None, None, "", False),
        )

    return row


def _email(sealed: dict[str, Any]) -> str:
    return safe(normalize.email, sealed.get("email")) or ""


def _channels(policy: str, email: str, has_address: bool) -> list[str]:
    email_ok = bool(email)
    if policy == NoticeSetup.Policy.LETTER:
        return ["letter"] if has_address else []
    if policy == NoticeSetup.Policy.BOTH:
        return [c for c, ok in (("email", email_ok), ("letter", has_address)) if ok]
    return ["email"] if email_ok else ["letter"] if has_address else []


_ORDER = {category.code: index for index, category in enumerate(categories.CATEGORIES)}
_CARD_ITEMS = frozenset(code for code in _ORDER if code.startswith("card_"))


def _person(
    number: int,
    is_minor: bool,
    best: dict[str, Any],
    records: list[tuple[Any, ...]],
    declared: list[str],
    sources_of: Callable[[frozenset[str]], dict[str, list[str]]],
) -> dict[str, Any]:
    """What one person's notice section says. Incident-wide card items (the security code, which owabi
    never receives) are told only to people with card data among their records. `sources_of` gives, per
    language, the names readers know for a set of source labels (checked complete before prepare
    starts); the same sets recur across people, so it answers from what it worked out before, and the
    item lists likewise (both are only read from then on: serialized into the sealed content)."""
    items: set[str] = set()
    cards: set[tuple[str, str]] = set()
    labels: set[str] = set()
    roles: set[str] = set()
    for sealed, record_categories, label, role in records:
        roles.add(role)
        items.update(record_categories)
        labels.add(label)
        if sealed.get("card_last4"):
            cards.add((_brand(sealed.get("card_brand") or ""), sealed["card_last4"]))
    has_card = bool(cards) or bool(items & _CARD_ITEMS)
    items.update(code for code in declared if has_card or code not in _CARD_ITEMS)
    return {
        "number": number,
        "name": best.get("subject_name") or "",
        "due": "" if best.get("subject_name") else best.get("expected_delivery_date") or "",
        "minor": is_minor,
        "self": False,
        # Every record of theirs came from someone else's order, as its delivery address: the notice
        # says so, and names nobody else (their records hold only their own values).
        "via": "shipping_recipient" if roles == {"shipping_recipient"} else "",
        "items": _in_catalog_order(frozenset(items)),
        "card_keys": sorted(cards),
        "sources": sources_of(frozenset(labels)),
    }


@functools.lru_cache(maxsize=4096)
def _in_catalog_order(items: frozenset[str]) -> list[str]:
    """Item codes in the catalog's order (codes it does not know after, by name). Callers only read it."""
    return sorted(items, key=lambda code: (_ORDER.get(code, len(_ORDER)), code))


def _brand(raw: str) -> str:
    """The brand code of an export's spelling (VISA, Visa, ビザ -> VISA); a spelling owabi does not know
    is kept as written, so the reader still sees what the export said."""
    code = card_brands.canonical_brand(raw)
    return code if code is not None else " ".join(raw.split())


def merge_cards(people: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each card once per notice, with the people whose records held it. The same last 4 digits with the
    same brand, or with no brand, is one card (a guardian's card on three children's records is one
    card); with two brands for the same digits, a record without a brand could be either, so it stays
    a line of its own."""
    holders: dict[tuple[str, str], list[int]] = defaultdict(list)
    for person in people:
        for brand, last4 in person.pop("card_keys", []):
            holders[(last4, brand)].append(person["number"])
    brands: dict[str, list[str]] = defaultdict(list)
    for last4, brand in sorted(holders):
        brands[last4].append(brand)
    merged = []
    for last4, found in sorted(brands.items()):
        named = [brand for brand in found if brand]
        if len(named) <= 1:
            numbers = {number for brand in found for number in holders[(last4, brand)]}
            merged.append({"brand": named[0] if named else "", "last4": last4, "holders": sorted(numbers)})
        else:
            merged += [
                {"brand": brand, "last4": last4, "holders": sorted(set(holders[(last4, brand)]))}
                for brand in found
            ]
    return merged


def _postal(sealed: dict[str, Any]) -> str:
    """The postal code as printed on mail (100-0001); as given when it does not read as one."""
    raw = sealed.get("postal_code") or ""
    digits = safe(normalize.postal_code, raw)
    return f"{digits[:3]}-{digits[3:]}" if digits else raw


def content_of(
    kind: str, people: list[dict[str, Any]], contact: dict[str, Any], facts: dict[str, Any]
) -> dict[str, Any]:
    """The snapshot of one notice. The salutation uses the same written form of the name as the list
    (the person's own best record: 髙木 in both places, not 高木 from an address record in one)."""
    guardian = kind == Recipient.Kind.GUARDIAN
    own = next((person for person in people if person["self"]), None)
    if guardian:
        name = contact.get("guardian_name") or ""
    else:
        name = (own["name"] if own else "") or contact.get("subject_name") or ""
    return {
        "to": {
            "kind": kind,
            "name": name,
            "postal_code": _postal(contact),
            "address": contact.get("address") or "",
            "email": _email(contact),
        },
        "people": people,
        "cards": merge_cards(people),
        "facts": facts,
    }
