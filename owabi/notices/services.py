"""Prepare notices: one per recipient per channel, each with its code and a snapshot of what it says.

The snapshot holds, for the recipient, the name and address or e-mail the notice goes to and, for each of
their people (themself, or each child), the name, the leaked items, the card brand and last 4 digits and
the systems the records came from. It is sealed like the records it comes from. Notices are rendered
from the snapshot and the incident's NoticeSetup (owabi.notices.render), so what was said can be shown
again exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from django.db import transaction
from django.db.models import Count, Max, Min

from owabi.core import audit
from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.notices import codes
from owabi.notices.models import Notice, NoticeSetup
from owabi.records import normalize
from owabi.records.features import safe
from owabi.records.models import LeakRecord, Membership, Recipient, SourceFile, Subject

BATCH = 1000  # recipients per transaction


class NoticeSetupMissing(Exception):
    """The incident's notices have not been set up (sender, phone, portal, texts)."""


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
    number: int, is_minor: bool, best: dict[str, Any], records: list[tuple[Any, ...]], declared: list[str]
) -> dict[str, Any]:
    """What one person's notice section says. Incident-wide card items (the security code, which owabi
    never receives) are told only to people with card data among their records."""
    items: set[str] = set()
    cards: set[tuple[str, str]] = set()
    sources: set[str] = set()
    for sealed, record_categories, source in records:
        items.update(record_categories)
        sources.add(source)
        if sealed.get("card_last4"):
            cards.add((sealed.get("card_brand") or "", sealed["card_last4"]))
    has_card = bool(cards) or bool(items & _CARD_ITEMS)
    items.update(code for code in declared if has_card or code not in _CARD_ITEMS)
    return {
        "number": number,
        "name": best.get("subject_name") or "",
        "due": "" if best.get("subject_name") else best.get("expected_delivery_date") or "",
        "minor": is_minor,
        "items": sorted(items, key=lambda code: (_ORDER.get(code, len(_ORDER)), code)),
        "cards": [{"brand": brand, "last4": last4} for brand, last4 in sorted(cards)],
        "sources": sorted(sources),
    }


def _postal(sealed: dict[str, Any]) -> str:
    """The postal code as printed on mail (100-0001); as given when it does not read as one."""
    raw = sealed.get("postal_code") or ""
    digits = safe(normalize.postal_code, raw)
    return f"{digits[:3]}-{digits[3:]}" if digits else raw


def content_of(recipient: Recipient, people: list[dict[str, Any]], contact: dict[str, Any]) -> dict[str, Any]:
    guardian = recipient.kind == Recipient.Kind.GUARDIAN
    return {
        "to": {
            "kind": recipient.kind,
            "name": (contact.get("guardian_name") if guardian else contact.get("subject_name")) or "",
            "postal_code": _postal(contact),
            "address": contact.get("address") or "",
            "email": _email(contact),
        },
        "people": people,
    }


def new_notice(
    incident: Incident,
    setup: NoticeSetup,
    recipient_id: int,
    channel: str,
    content: dict[str, Any],
    language: str,
) -> Notice:
    """An unsaved notice with a fresh registration code."""
    return Notice(
        incident=incident,
        recipient_id=recipient_id,
        channel=channel,
        code=codes.new_code(),
        language=language,
        setup_revision=setup.revision,
        content=content,
    )


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
        notices = _prepare_batch(incident, setup, batch, live, sources, result)
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
        pk: (sealed, categories, sources[file_id])
        for pk, sealed, categories, file_id in cast(
            "Iterable[tuple[int, dict[str, Any], list[str], int]]",
            LeakRecord.objects.filter(pk__in=wanted).values_list(
                "pk", "sealed", "categories", "source_file_id"
            ),
        )
    }
    people: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for subject in subjects:
        own = [records[pk] for pk in sorted(members[subject.pk]) if pk in records]
        best = records[subject.best_record_id][0] if subject.best_record_id in records else {}
        people[cast(int, subject.recipient_id)].append(
            _person(subject.number, subject.is_minor, best, own, incident.declared_categories)
        )
    notices = []
    for recipient in batch:
        contact = records[recipient.contact_record_id][0] if recipient.contact_record_id in records else {}
        content = content_of(recipient, people[recipient.pk], contact)
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
