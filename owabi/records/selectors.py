"""Reads over records, subjects and recipients."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

from django.db.models import QuerySet

from owabi.incidents.models import Incident
from owabi.records.lookup import Found
from owabi.records.models import LeakRecord, Membership, Subject


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
