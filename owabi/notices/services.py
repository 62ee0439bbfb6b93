"""Prepare notices: one per recipient per channel, each with its code and a snapshot of what it says.

The snapshot holds, for the recipient, the name and address or e-mail the notice goes to; for each of
their people (themself, or each child), the name, the leaked items and the names of the services the
records came from (as the setup names them: never an internal label or a file name); each card once
(canonical brand, last 4 digits, whose records held it); and the incident's facts as stated on the day
of prepare (how many people, when it happened and was found). It is sealed like the records it comes
from. Notices are rendered from the snapshot and the incident's NoticeSetup (owabi.notices.render), so
what was said can be shown again exactly.

This module is the notices app's front door for writes: other apps and commands call what it defines
or names below (set up, prepare, send, print, sign in, engagement, reminders opt-out, lockouts), never
the modules behind it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from owabi.core import audit
from owabi.core.fields import open_values
from owabi.core.linebreak import FontMissing
from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.notices import codes
from owabi.notices.bounces import MESSAGE_ID, BounceFileError, apply_reports, read_reports
from owabi.notices.bounces import Report as BounceReport
from owabi.notices.engagement import SignInLimited, lift_lockout, reminders_off, sign_in
from owabi.notices.engagement import record as record_engagement
from owabi.notices.ledger import MAX_ATTEMPTS
from owabi.notices.letters import BATCH as LETTER_BATCH
from owabi.notices.letters import LetterTooLong, letter_text, print_letters
from owabi.notices.letters import reference as letter_reference
from owabi.notices.models import Notice, NoticeSetup, new_notice
from owabi.notices.reminders import RuleError, remind
from owabi.notices.render import render
from owabi.notices.resend import ResendError, resend
from owabi.notices.returned import ReturnedFileError, apply_returned, parse_letter, record_returned
from owabi.notices.sending import SendOptionError, send_email
from owabi.notices.setup import SetupError
from owabi.notices.setup import apply as apply_setup
from owabi.notices.setup import load as load_setup
from owabi.records import cards as card_brands
from owabi.records import normalize
from owabi.records.features import safe
from owabi.records.models import LeakRecord, Membership, Recipient, SourceFile, Subject

__all__ = [
    "LETTER_BATCH",
    "MAX_ATTEMPTS",
    "MESSAGE_ID",
    "BounceFileError",
    "BounceReport",
    "FontMissing",
    "LetterTooLong",
    "NoticeSetupMissing",
    "PreviewError",
    "ResendError",
    "ReturnedFileError",
    "RuleError",
    "SendOptionError",
    "SetupError",
    "SignInLimited",
    "apply_reports",
    "apply_returned",
    "apply_setup",
    "content_of",
    "facts_of",
    "letter_reference",
    "lift_lockout",
    "load_setup",
    "merge_cards",
    "new_notice",
    "parse_letter",
    "prepare",
    "preview",
    "print_letters",
    "read_reports",
    "record_engagement",
    "record_returned",
    "remind",
    "reminders_off",
    "resend",
    "send_email",
    "sign_in",
]

BATCH = 1000  # recipients per transaction


class NoticeSetupMissing(Exception):
    """The incident's notices have not been set up (sender, phone, portal, texts)."""


class UnnamedSources(NoticeSetupMissing):
    """Records come from sources the setup gives no reader-facing name for. Refused rather than left
    out: which service a person's data came from is part of what a notice must say (DESIGN.md §2), and
    an internal label is meaningless or misleading to its reader."""


@dataclass
class PrepareResult:
    created: dict[str, int] = field(default_factory=lambda: {"email": 0, "letter": 0})
    existing: int = 0  # recipient/channel pairs that already had a notice
    unreachable: int = 0  # recipients with neither a usable e-mail address nor a postal address


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
    names: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """What one person's notice section says. Incident-wide card items (the security code, which owabi
    never receives) are told only to people with card data among their records. `names` maps each
    language's source labels to the names readers know (checked complete before prepare starts)."""
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
        "items": sorted(items, key=lambda code: (_ORDER.get(code, len(_ORDER)), code)),
        "card_keys": sorted(cards),
        "sources": {
            language: sorted({known[label] for label in labels if label in known})
            for language, known in names.items()
        },
    }


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
    recipient: Recipient, people: list[dict[str, Any]], contact: dict[str, Any], facts: dict[str, Any]
) -> dict[str, Any]:
    """The snapshot of one notice. The salutation uses the same written form of the name as the list
    (the person's own best record: 髙木 in both places, not 高木 from an address record in one)."""
    guardian = recipient.kind == Recipient.Kind.GUARDIAN
    own = next((person for person in people if person["self"]), None)
    if guardian:
        name = contact.get("guardian_name") or ""
    else:
        name = (own["name"] if own else "") or contact.get("subject_name") or ""
    return {
        "to": {
            "kind": recipient.kind,
            "name": name,
            "postal_code": _postal(contact),
            "address": contact.get("address") or "",
            "email": _email(contact),
        },
        "people": people,
        "cards": merge_cards(people),
        "facts": facts,
    }


def prepare(
    *, incident: Incident, actor: str, progress: Callable[[int, int], None] | None = None
) -> PrepareResult:
    """Create the notices that do not exist yet. Re-running creates nothing twice; a recipient added by
    a later import and resolve gets its notice on the next run."""
    setup = NoticeSetup.objects.filter(incident=incident).first()
    if setup is None:
        raise NoticeSetupMissing(
            f"incident {incident.slug}: set up its notices first (owabi notices setup --incident "
            f"{incident.slug} --from FILE.toml)"
        )
    result = PrepareResult()
    sources = dict(SourceFile.objects.filter(incident=incident).values_list("pk", "source"))
    names = _source_names(incident, setup)
    facts = facts_of(incident)
    recipients = Recipient.objects.filter(incident=incident)
    bounds = recipients.aggregate(low=Min("pk"), high=Max("pk"), total=Count("pk"))
    done = 0
    # A window of recipient ids at a time, with only that window's existing notices in memory: an
    # incident of tens of millions of recipients is prepared in bounded memory.
    for start in range(bounds["low"] or 0, (bounds["high"] or -1) + 1, BATCH):
        batch = list(recipients.filter(pk__gte=start, pk__lt=start + BATCH).order_by("number"))
        if not batch:
            continue
        live = set(
            Notice.objects.filter(recipient__in=[recipient.pk for recipient in batch], reminder_of=None)
            .exclude(status=Notice.Status.CANCELLED)
            .values_list("recipient_id", "channel")
        )
        notices = _prepare_batch(incident, setup, batch, live, sources, names, facts, result)
        with transaction.atomic():
            Notice.objects.bulk_create(notices, batch_size=500)
        done += len(batch)
        if progress:
            progress(done, bounds["total"])
    audit.record(
        actor=actor,
        action="notices.prepare",
        object_type="incident",
        object_id=incident.pk,
        data={
            "created": result.created,
            "existing": result.existing,
            "unreachable": result.unreachable,
            "setup_revision": setup.revision,
        },
    )
    return result


def _prepare_batch(
    incident: Incident,
    setup: NoticeSetup,
    batch: list[Recipient],
    live: set[tuple[int, str]],
    sources: dict[int, str],
    names: dict[str, dict[str, str]],
    facts: dict[str, Any],
    result: PrepareResult,
) -> list[Notice]:
    subjects = list(Subject.objects.filter(recipient__in=batch).order_by("number"))
    members: dict[int, list[int]] = defaultdict(list)
    for subject_id, record_id in Membership.objects.filter(subject__in=subjects).values_list(
        "subject_id", "record_id"
    ):
        members[subject_id].append(record_id)
    wanted = {pk for pks in members.values() for pk in pks}
    records = {
        pk: (sealed, categories, sealed.get("source") or sources[file_id], role)
        for pk, sealed, categories, file_id, role in cast(
            "Iterable[tuple[int, dict[str, Any], list[str], int, str]]",
            open_values(
                LeakRecord.objects.filter(pk__in=wanted),
                "pk",
                "sealed",
                "categories",
                "source_file_id",
                "role",
            ),
        )
    }
    people: dict[int, list[dict[str, Any]]] = defaultdict(list)
    own_subject: dict[int, int] = {}  # record id -> subject id, for the recipients' contact records
    contacts = {recipient.contact_record_id for recipient in batch}
    for subject in subjects:
        own = [records[pk] for pk in sorted(members[subject.pk]) if pk in records]
        best = records[subject.best_record_id][0] if subject.best_record_id in records else {}
        person = _person(subject.number, subject.is_minor, best, own, incident.declared_categories, names)
        person["subject"] = subject.pk
        people[cast(int, subject.recipient_id)].append(person)
        own_subject.update((pk, subject.pk) for pk in members[subject.pk] if pk in contacts)
    notices = []
    for recipient in batch:
        contact = records[recipient.contact_record_id][0] if recipient.contact_record_id in records else {}
        # The recipient is one of their people when their own data leaked: an adult, or a guardian
        # who is a subject too (their contact record is one of their own records).
        self_subject = own_subject.get(recipient.contact_record_id or 0)
        for person in people[recipient.pk]:
            subject_pk = person.pop("subject")
            person["self"] = recipient.kind == Recipient.Kind.SELF and subject_pk == self_subject
        people[recipient.pk].sort(key=lambda person: not person["self"])  # the reader first, then family
        content = content_of(recipient, people[recipient.pk], contact, facts)
        channels = _channels(setup.policy, content["to"]["email"], bool(content["to"]["address"]))
        if not channels:
            result.unreachable += 1
        for channel in channels:
            if (recipient.pk, channel) in live:
                result.existing += 1
                continue
            notices.append(new_notice(incident, setup, recipient.pk, channel, content, setup.language))
            result.created[channel] += 1
    return notices


def facts_of(incident: Incident) -> dict[str, Any]:
    """What a notice states about the whole incident, as of today: how many people (the incident's
    subjects now), when it happened and when it was found. Kept in each snapshot: the count a notice
    stated stays what it stated, whatever later imports change."""

    def day(value: Any) -> str:
        return value.isoformat() if value else ""

    return {
        "people": Subject.objects.filter(incident=incident).count(),
        "as_of": timezone.localdate().isoformat(),
        "discovered_on": day(incident.discovered_on),
        "occurred_from": day(incident.occurred_from),
        "occurred_to": day(incident.occurred_to),
    }


def _source_names(incident: Incident, setup: NoticeSetup) -> dict[str, dict[str, str]]:
    """The setup's names for the incident's source labels, per language; UnnamedSources when a label in
    use has no name in the setup's language (checked before any notice is made, so a run never stops
    half-way). A row's own `source` value is read only from files that have that column."""
    files = list(SourceFile.objects.filter(incident=incident).exclude(rows_ok=0))
    labels = {file.source for file in files if "source" not in file.mapping.values()}
    with_column = {file.pk: file.source for file in files if "source" in file.mapping.values()}
    if with_column:
        rows = open_values(
            LeakRecord.objects.filter(source_file__in=list(with_column)),
            "sealed",
            "source_file_id",
            chunk_size=2000,
        )
        for sealed, file_id in cast("Iterable[tuple[dict[str, Any], int]]", rows):
            labels.add(sealed.get("source") or with_column[file_id])
    known = setup.sources.get(setup.language, {})
    unnamed = sorted(label for label in labels if label not in known)
    if unnamed:
        shown = ", ".join(label[:40] for label in unnamed[:10])
        more = f" and {len(unnamed) - 10} more" if len(unnamed) > 10 else ""
        raise UnnamedSources(
            f"incident {incident.slug}: {len(unnamed)} source labels have no name for readers in the notice "
            f"setup ([sources.{setup.language}]): {shown}{more}"
        )
    return {language: dict(names) for language, names in setup.sources.items()}


class PreviewError(ValueError):
    """No notice to preview: a code that is not one, or not this incident's (the message names no value)."""


def preview(*, incident: Incident, code_typed: str, part: str, rule: str, actor: str, reason: str) -> str:
    """One notice (or its `rule` reminder) as it goes out: `part` is "email" (subject and text), "html"
    or "letter" (the letter's text). Looking is audited with the reason, as any staff view of PII is."""
    try:
        code = codes.parse_code(code_typed)
    except codes.CodeError as error:
        raise PreviewError(str(error)) from None
    notice = Notice.objects.filter(incident=incident, code=code, reminder_of=None).first()
    if notice is not None and rule:
        notice = notice.reminders.filter(rule=rule).first()
    if notice is None:
        what = f"{rule!r} reminder" if rule else "notice"
        raise PreviewError(f"this incident has no {what} with that code")
    notice.incident = incident
    audit.record(
        actor=actor,
        action="notices.preview",
        object_type="notice",
        object_id=notice.pk,
        data={"part": part},
        reason=reason,
    )
    setup = NoticeSetup.objects.get(incident=incident)
    if part == "letter":
        return letter_text(notice, setup)
    rendered = render(notice, setup)
    if part == "email":
        return f"Subject: {rendered.subject}\n\n{rendered.text}"
    return rendered.html
