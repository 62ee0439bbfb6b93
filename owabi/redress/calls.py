"""Support calls: the agent logs each call about a person, with its topic, outcome and any follow-up.
The notes are sealed; the audit event names the topic and outcome, never what was said."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from owabi.core import audit
from owabi.records.models import Subject
from owabi.redress.models import Call

MAX_NOTES = 2000


class CallError(ValueError):
    """A call that cannot be logged as given (the message names no value)."""


def log_call(
    *,
    subject: Subject,
    topic: str,
    outcome: str,
    summary: str,
    follow_up: str = "",
    follow_up_on: date | None = None,
    user: User,
    actor: str,
) -> Call:
    """Log one call about `subject`. A summary is required (it is the call's reason for the record);
    an outcome that needs a follow-up says what and by when."""
    if topic not in Call.Topic.values or outcome not in Call.Outcome.values:
        raise CallError(_("用件と結果を選んでください"))
    summary, follow_up = summary.strip(), follow_up.strip()
    if not summary:
        raise CallError(_("通話の内容を記入してください"))
    if len(summary) > MAX_NOTES or len(follow_up) > MAX_NOTES:
        raise CallError(_("記入は%(max)d文字までです") % {"max": MAX_NOTES})
    if outcome == Call.Outcome.FOLLOW_UP and not (follow_up and follow_up_on):
        raise CallError(_("追加対応の内容と期日を記入してください"))
    with transaction.atomic():
        call = Call.objects.create(
            incident_id=subject.incident_id,
            subject=subject,
            recipient_id=subject.recipient_id,
            topic=topic,
            outcome=outcome,
            notes={"summary": summary, "follow_up": follow_up},
            follow_up_on=follow_up_on,
            staff=user,
        )
        audit.record(
            actor=actor,
            action="redress.call",
            object_type="call",
            object_id=call.pk,
            data={
                "subject": subject.pk,
                "topic": topic,
                "outcome": outcome,
                "follow_up_on": follow_up_on.isoformat() if follow_up_on else None,
            },
        )
    return call
