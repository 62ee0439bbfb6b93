"""Reads over records, subjects and recipients."""

from __future__ import annotations

from collections.abc import Iterator

from owabi.incidents.models import Incident
from owabi.records.models import LeakRecord


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
