"""Bounces and complaints fed back from the mail system, and the fall-back from e-mail to a letter.

Input: delivery status notifications (RFC 3464, one .eml or an mbox of them), abuse feedback reports
(RFC 5965, also in the mbox), or a CSV export from the mail provider with the columns `message_id` and
`type` (bounce | complaint; `status` optional). Notices are found by the Message-ID they were sent with,
never by address, so a report about another message cannot touch a notice.

A permanent failure (DSN action "failed", status 5.x.x, or a CSV bounce) marks the notice bounced; a
temporary one (4.x.x, "delayed") changes nothing. A complaint is recorded on the notice, for the
reminder rules to respect (no e-mail reminder goes to that recipient). Each bounced recipient with a postal
address then gets a letter notice.
"""

from __future__ import annotations

import csv
import email
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import Message
from pathlib import Path
from typing import cast

from django.db import transaction

from owabi.core import audit
from owabi.incidents.models import Incident
from owabi.notices.models import Notice, NoticeSetup, new_notice

MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")


class BounceFileError(ValueError):
    """The file cannot be read as DSNs, an mbox or the provider CSV (names the file and line)."""


@dataclass(frozen=True)
class Report:
    message_id: str
    kind: str  # "bounce" | "complaint"
    status: str  # e.g. "5.1.1", or "" when the report gives none


@dataclass
class BounceResult:
    reports: int = 0
    bounced: int = 0
    complaints: int = 0
    ignored: int = 0  # temporary failures, and reports about messages that are not our notices
    letters: int = 0  # letter notices created as the fall-back


def _reports_in_message(message: Message) -> Iterator[Report]:
    if message.get_content_type() != "multipart/report":
        return
    report_type = message.get_param("report-type") or ""
    original = ""
    fields: list[Message] = []
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            text = inner.as_string() if isinstance(inner, Message) else str(payload or "")
            found = re.search(r"(?im)^message-id:\s*(<[^>]+>)", text)
            original = original or (found.group(1) if found else "")
        elif content_type in ("message/delivery-status", "message/feedback-report"):
            payload = part.get_payload()
            if isinstance(payload, list):
                fields.extend(block for block in payload if isinstance(block, Message))
    if not original:
        return
    if report_type == "feedback-report":
        yield Report(original, "complaint", "")
        return
    for block in fields:
        action = str(block.get("Action", "")).strip().lower()
        status = str(block.get("Status", "")).strip()
        if action == "failed" or status.startswith("5"):
            yield Report(original, "bounce", status)
            return
        if action in ("delayed", "delivered", "relayed", "expanded") or status.startswith(("2", "4")):
            yield Report(original, "temporary", status)
            return


def read_reports(path: Path) -> list[Report]:
    """Every report in a DSN (.eml), an mbox, or the provider CSV."""
    try:
        head = path.read_bytes()[:5]
    except OSError as error:
        raise BounceFileError(f"{path.name}: cannot be read ({type(error).__name__})") from None
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    if head.startswith(b"From "):
        reports: list[Report] = []
        for stored in mailbox.mbox(path, factory=None, create=False):
            reports.extend(_reports_in_message(stored))
        return reports
    single = email.message_from_bytes(path.read_bytes(), policy=policy.compat32)
    return list(_reports_in_message(single))


def _read_csv(path: Path) -> list[Report]:
    reports = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"message_id", "type"} <= set(reader.fieldnames):
            raise BounceFileError(f"{path.name}, line 1: the columns message_id and type are required")
        for line, row in enumerate(reader, start=2):
            found = MESSAGE_ID.search(row.get("message_id") or "")
            kind = (row.get("type") or "").strip().lower()
            if not found or kind not in ("bounce", "complaint", "temporary"):
                raise BounceFileError(
                    f"{path.name}, line {line}: needs a <message-id> and type bounce|complaint"
                )
            reports.append(Report(found.group(0), kind, (row.get("status") or "").strip()))
    return reports


_OURS = re.compile(r"^<owabi\.(\d+)\.(\d+)@")


def _notice_of(incident: Incident, message_id: str) -> Notice | None:
    """The notice sent with this Message-ID (owabi.notices.sending.message_id: <owabi.INCIDENT.NOTICE@…>),
    found by its primary key and checked against the whole Message-ID; None for any other message."""
    found = _OURS.match(message_id)
    if found is None or int(found.group(1)) != incident.pk:
        return None
    return Notice.objects.filter(pk=int(found.group(2)), incident=incident, message_id=message_id).first()


def apply_reports(*, incident: Incident, reports: list[Report], actor: str) -> BounceResult:
    result = BounceResult(reports=len(reports))
    with transaction.atomic():
        for report in reports:
            notice = _notice_of(incident, report.message_id)
            if notice is None or report.kind == "temporary" or notice.status == Notice.Status.CANCELLED:
                result.ignored += 1
            elif report.kind == "complaint":
                Notice.objects.filter(pk=notice.pk).update(last_error="complaint")
                result.complaints += 1
            elif notice.status != Notice.Status.BOUNCED:
                Notice.objects.filter(pk=notice.pk).update(
                    status=Notice.Status.BOUNCED, last_error=f"bounce {report.status}".strip()[:200]
                )
                result.bounced += 1
        result.letters = fall_back_to_letters(incident=incident)
        audit.record(
            actor=actor,
            action="notices.bounces",
            object_type="incident",
            object_id=incident.pk,
            data={
                "reports": result.reports,
                "bounced": result.bounced,
                "complaints": result.complaints,
                "ignored": result.ignored,
                "letters": result.letters,
            },
        )
    return result


def fall_back_to_letters(*, incident: Incident) -> int:
    """A letter notice for every recipient whose e-mail notice bounced and who has a postal address,
    unless they have a live letter notice already. Returns how many were created."""
    setup = NoticeSetup.objects.get(incident=incident)
    has_letter = set(
        Notice.objects.filter(incident=incident, channel=Notice.Channel.LETTER)
        .exclude(status=Notice.Status.CANCELLED)
        .values_list("recipient_id", flat=True)
    )
    created = []
    bounced = Notice.objects.filter(
        incident=incident, channel=Notice.Channel.EMAIL, status=Notice.Status.BOUNCED, recipient__isnull=False
    )
    for notice in bounced:
        if notice.recipient_id in has_letter or not notice.content["to"]["address"]:
            continue
        recipient_id = cast(int, notice.recipient_id)
        created.append(
            new_notice(incident, setup, recipient_id, Notice.Channel.LETTER, notice.content, notice.language)
        )
        has_letter.add(recipient_id)
    Notice.objects.bulk_create(created)
    return len(created)
