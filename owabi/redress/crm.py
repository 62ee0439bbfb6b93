"""Done deletions and marketing opt-outs, as a CSV the company's other systems apply (docs/exports.md).

The other system needs to find its own customer and nothing more. Every leaked record came from one of
the company's systems with that system's own id (`record_id`, and the system's name: the row's `source`
where the export had one, else the name given at import). System + id finds the customer there, so the
file carries those two, the request's reference, its kind and the day it was done: no name, address,
phone, e-mail or card. A name would add nothing the id does not give, and would put a leaked value in
one more file.

A request about one person lists that person's records; one filed for a whole notice (no person chosen)
lists the records of everyone on it. A request with no record (filed by staff for someone we could not
tie to a record) is counted and left for staff: the other system could not find it anyway.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from owabi.core import audit
from owabi.core.files import csv_writer
from owabi.incidents.models import Incident
from owabi.records.models import LeakRecord
from owabi.redress.models import Request

COLUMNS = ("request", "kind", "done_on", "system", "record_id")
KINDS = (Request.Kind.DELETE, Request.Kind.STOP_MARKETING)


@dataclass
class CrmExport:
    text: str  # the CSV, UTF-8 text, CRLF lines
    sha256: str
    requests: int
    rows: int
    without_records: list[str]  # references of done requests that tie to no record


def file_name(incident: Incident, today: date | None = None) -> str:
    return f"owabi-{incident.slug}-requests-{(today or timezone.localdate()).isoformat()}.csv"


def _records(request: Request) -> list[tuple[str, str]]:
    if request.subject_id is not None:
        query = LeakRecord.objects.filter(membership__subject_id=request.subject_id)
    elif request.recipient_id is not None:
        query = LeakRecord.objects.filter(membership__subject__recipient_id=request.recipient_id)
    else:
        return []
    found = []
    for record in query.select_related("source_file").order_by("pk"):
        sealed: dict[str, Any] = record.sealed or {}
        found.append((str(sealed.get("source") or record.source_file.source), record.record_id))
    return found


@dataclass
class DoneRows:
    rows: list[tuple[str, str, str, str, str]]  # COLUMNS
    requests: int
    without_records: list[str]


def _done_rows(incident: Incident, since: date | None) -> DoneRows:
    query = Request.objects.filter(incident=incident, kind__in=KINDS, status=Request.Status.DONE)
    if since is not None:
        query = query.filter(done_at__date__gte=since)
    rows: list[tuple[str, str, str, str, str]] = []
    without: list[str] = []
    requests = list(query.order_by("done_at", "pk"))
    for request in requests:
        found = list(dict.fromkeys(_records(request)))  # one row per record, in order
        if not found:
            without.append(request.reference)
            continue
        done_on = timezone.localtime(request.done_at).date().isoformat() if request.done_at else ""
        for system, record_id in found:
            rows.append((request.reference, request.kind, done_on, system, record_id))
    return DoneRows(rows, len(requests), without)


def _audit(incident: Incident, actor: str, since: date | None, via: str, done: DoneRows, digest: str) -> None:
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="redress.requests.export",
            object_type="incident",
            object_id=incident.pk,
            data={
                "via": via,
                "since": since.isoformat() if since else None,
                "requests": done.requests,
                "rows": len(done.rows),
                "without_records": len(done.without_records),
                "sha256": digest,
            },
        )


def export_requests(*, incident: Incident, actor: str, since: date | None = None, via: str) -> CrmExport:
    """The incident's done deletion and opt-out requests (done on or after `since`), one row per
    record of the company's systems they concern, oldest first; audited (`via`: "file" or "download")
    with the counts and the file's SHA-256, never its rows."""
    done = _done_rows(incident, since)
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(done.rows)
    text = out.getvalue()
    digest = hashlib.sha256(text.encode()).hexdigest()
    _audit(incident, actor, since, via, done, digest)
    return CrmExport(text, digest, done.requests, len(done.rows), done.without_records)


def done_requests(*, incident: Incident, actor: str, since: date | None = None) -> DoneRows:
    """The rows export_requests writes, as values (for the JSON API); audited the same way (`via`
    "api", the SHA-256 of the rows as canonical JSON)."""
    done = _done_rows(incident, since)
    digest = hashlib.sha256(json.dumps(done.rows, ensure_ascii=False).encode()).hexdigest()
    _audit(incident, actor, since, "api", done, digest)
    return done
