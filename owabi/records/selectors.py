"""Reads over records, subjects and recipients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count

from owabi.incidents.models import Incident
from owabi.records.models import LeakRecord, Recipient, SourceFile, Subject


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
