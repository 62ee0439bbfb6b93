"""Reads over records, subjects and recipients."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db.models import Count, Max, Q, QuerySet

from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.records import cards, columns
from owabi.records.lookup import Found
from owabi.records.models import (
    LeakRecord,
    Membership,
    Recipient,
    ResolveRun,
    ReviewPair,
    SourceFile,
    Subject,
)


def iter_clusters(*, incident: Incident, batch: int = 5000) -> Iterator[tuple[str, str, str]]:
    """(record_id as given in the input, subject id, recipient id) for every imported record.

    Unresolved records get empty ids, so a missing resolution shows up in every measurement.
    """
    rows = (
        LeakRecord.objects.filter(incident=incident)
        .order_by("id")
        .values_list("record_id", "membership__subject__number", "membership__subject__recipient__number")
    )
    for record_id, subject, recipient in rows.iterator(chunk_size=batch):
        yield (
            record_id,
            f"S{subject}" if subject is not None else "",
            f"P{recipient}" if recipient is not None else "",
        )


def category_counts(*, incident: Incident) -> dict[str, int]:
    """How many records hold each leaked category, from the rows themselves (the incident's declared
    categories are not added). Grouped by the distinct category lists, which are few."""
    counts: dict[str, int] = {}
    rows = LeakRecord.objects.filter(incident=incident).values_list("categories").annotate(n=Count("pk"))
    for codes, n in rows.order_by():
        for code in codes or []:
            counts[code] = counts.get(code, 0) + n
    return counts


@dataclass(frozen=True)
class Counts:
    records: int  # leaked rows imported (several sources may hold the same person)
    subjects: int  # people, after resolution (名寄せ)
    recipients: int  # addressees: each adult, and one guardian for their minor children
    guardians: int  # recipients who are guardians (whose own data may not have leaked)
    minors: int
    unresolved: int  # records not yet in any subject
    sources: int  # imported files


def counts(*, incident: Incident) -> Counts:
    recipients = Recipient.objects.filter(incident=incident)
    subjects = Subject.objects.filter(incident=incident)
    records = LeakRecord.objects.filter(incident=incident)
    return Counts(
        records=records.count(),
        subjects=subjects.count(),
        recipients=recipients.count(),
        guardians=recipients.filter(kind=Recipient.Kind.GUARDIAN).count(),
        minors=subjects.filter(is_minor=True).count(),
        unresolved=records.filter(membership__isnull=True).count(),
        sources=SourceFile.objects.filter(incident=incident).count(),
    )


# --- Support console: people found, as staff see them ---------------------------------------------------
@dataclass(frozen=True)
class Person:
    """One subject as the support console lists them: who they are (from their fullest record), and how
    the search found them (as the person, as the guardian named on their record, by their e-mail)."""

    subject_id: int
    public_id: uuid.UUID
    number: int
    name: str
    kana: str
    birth_date: str
    is_minor: bool
    recipient_id: int | None
    recipient_number: int | None
    recipient_kind: str
    found_as: tuple[str, ...] = ()


def _people(subjects: Iterable[Subject], found_as: dict[int, set[str]]) -> list[Person]:
    out = []
    for subject in subjects:
        best = cast("dict[str, Any]", subject.best_record.sealed) if subject.best_record else {}
        recipient = subject.recipient
        out.append(
            Person(
                subject_id=subject.pk,
                public_id=subject.public_id,
                number=subject.number,
                name=best.get("subject_name") or "",
                kana=best.get("subject_kana") or "",
                birth_date=best.get("subject_birth_date") or best.get("expected_delivery_date") or "",
                is_minor=subject.is_minor,
                recipient_id=recipient.pk if recipient else None,
                recipient_number=recipient.number if recipient else None,
                recipient_kind=recipient.kind if recipient else "",
                found_as=tuple(sorted(found_as.get(subject.pk, ()))),
            )
        )
    return out


def _subjects() -> QuerySet[Subject]:
    return Subject.objects.select_related("best_record", "recipient").order_by("number")


def people_of_records(found: Iterable[Found]) -> list[Person]:
    """The subjects of the records a lookup found (owabi.records.lookup.find), once each, with the
    roles they were found in; records not resolved yet find nobody."""
    roles: dict[int, set[str]] = {}
    for hit in found:
        roles.setdefault(hit.record.pk, set()).add(str(hit.role))
    found_as: dict[int, set[str]] = {}
    for record_id, subject_id in Membership.objects.filter(record_id__in=list(roles)).values_list(
        "record_id", "subject_id"
    ):
        found_as.setdefault(subject_id, set()).update(roles[record_id])
    return _people(_subjects().filter(pk__in=list(found_as)), found_as)


def people_of_recipients(recipient_ids: Iterable[int], found_as: str = "") -> list[Person]:
    """The subjects a notice's recipient is written to about (themself, or their children)."""
    subjects = list(_subjects().filter(recipient_id__in=list(recipient_ids)))
    return _people(subjects, {subject.pk: {found_as} for subject in subjects} if found_as else {})


def person(public_id: uuid.UUID | str) -> Subject | None:
    """The subject with this public id, or None (the same for a malformed id and a missing one)."""
    try:
        wanted = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return _subjects().select_related("incident").filter(public_id=wanted).first()


@dataclass(frozen=True)
class RecordView:
    """One of a person's leaked records as staff see it: where it came from, what it holds, what leaked.
    Cards only as brand and last 4 digits (the full number was never stored)."""

    pk: int
    record_id: str
    source: str
    file_name: str
    imported_at: datetime
    values: dict[str, str]  # the person's own values, by standard column
    items: list[tuple[str, str]]  # (category code, label)
    card: str  # "VISA 4242", or ""


# What staff see of a person: every standard column but the row's own id and source, and the card
# columns (a card is shown once, as brand + last 4, in `card`).
SHOWN = tuple(
    column
    for column in columns.STANDARD
    if column not in ("record_id", "source") and not column.startswith("card_")
)


def records_of(subject: Subject) -> list[RecordView]:
    """The subject's records in import order, with their sources and leaked items (incident-wide
    declared categories included, as notices list them)."""
    declared = list(subject.incident.declared_categories or [])
    out = []
    rows = (
        LeakRecord.objects.filter(membership__subject=subject)
        .select_related("source_file")
        .order_by("source_file__imported_at", "line_no")
    )
    for record in rows:
        sealed = cast("dict[str, Any]", record.sealed)
        codes = [*record.categories, *(code for code in declared if code not in record.categories)]
        brand, last4 = sealed.get("card_brand") or "", sealed.get("card_last4") or ""
        out.append(
            RecordView(
                pk=record.pk,
                record_id=record.record_id,
                source=sealed.get("source") or record.source_file.source,
                file_name=record.source_file.file_name,
                imported_at=record.source_file.imported_at,
                values={field: str(sealed[field]) for field in SHOWN if sealed.get(field)},
                items=[(code, categories.label(code)) for code in codes if categories.is_known(code)],
                card=f"{cards.brand_label(brand, 'ja') or brand} {last4}".strip() if last4 else "",
            )
        )
    return out


def people_of_subjects(subject_ids: Iterable[int]) -> list[Person]:
    return _people(_subjects().filter(pk__in=list(subject_ids)), {})


def review_queue(incident: Incident, *, decided: bool = False) -> QuerySet[ReviewPair]:
    """The incident's review pairs: pending ones, most likely first (or those decided, latest first)."""
    pairs = ReviewPair.objects.filter(incident=incident)
    if decided:
        return pairs.exclude(decision=ReviewPair.Decision.PENDING).order_by("-decided_at", "pk")
    return pairs.filter(decision=ReviewPair.Decision.PENDING).order_by("-probability", "pk")


def resolved_at(incident_id: int) -> datetime | None:
    """When resolve last finished for the incident: review decisions made after it wait for the next
    run (owabi.records.review), so search and the timeline still show the old grouping."""
    return ResolveRun.objects.filter(incident_id=incident_id).aggregate(last=Max("finished_at"))["last"]


def waits_for_resolve(pair: ReviewPair, resolved: datetime | None) -> bool:
    """Whether the pair's decision is recorded but not yet applied by a run of resolve."""
    decided = pair.decision != ReviewPair.Decision.PENDING and pair.decided_at is not None
    return decided and (resolved is None or pair.decided_at > resolved)  # type: ignore[operator]


def decisions_about(record_ids: list[int]) -> list[ReviewPair]:
    """The decided review pairs with one of these records, in the order they were decided."""
    return list(
        ReviewPair.objects.exclude(decision=ReviewPair.Decision.PENDING)
        .filter(Q(record_a_id__in=record_ids) | Q(record_b_id__in=record_ids))
        .select_related("record_a", "record_b")
        .order_by("decided_at", "pk")
    )


def review_pair(incident: Incident, pk: int) -> ReviewPair | None:
    return (
        ReviewPair.objects.select_related("record_a__source_file", "record_b__source_file")
        .filter(incident=incident, pk=pk)
        .first()
    )


def record_view(record: LeakRecord) -> RecordView:
    """One record as staff see it (its leaked items without the incident-wide declared ones)."""
    sealed = cast("dict[str, Any]", record.sealed)
    brand, last4 = sealed.get("card_brand") or "", sealed.get("card_last4") or ""
    return RecordView(
        pk=record.pk,
        record_id=record.record_id,
        source=sealed.get("source") or record.source_file.source,
        file_name=record.source_file.file_name,
        imported_at=record.source_file.imported_at,
        values={field: str(sealed[field]) for field in SHOWN if sealed.get(field)},
        items=[(code, categories.label(code)) for code in record.categories if categories.is_known(code)],
        card=f"{cards.brand_label(brand, 'ja') or brand} {last4}".strip() if last4 else "",
    )


def imported_file(*, incident: Incident, sha256: str) -> SourceFile | None:
    """The import of a file with these bytes into the incident (under whatever name), or None."""
    return SourceFile.objects.filter(incident=incident, sha256=sha256).first()
