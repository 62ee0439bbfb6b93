"""What recipients do after their notice, recorded for the reminder rules (owabi.notices.reminders).

The portal calls `sign_in` with the code and key a person typed, and `record` when they choose their
compensation, finish, or ask for no more reminders; support staff record the same on a caller's behalf.
Only times are kept, never what was typed. Rate limiting of sign-in attempts is the portal's job
(owabi.core.ratelimit, policies portal.login.*), before it calls `sign_in`.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from owabi.notices import codes
from owabi.notices.models import Engagement, Notice

EVENTS = {
    "signed_in": "signed_in_at",
    "redress_chosen": "redress_chosen_at",
    "finished": "finished_at",
    "reminders_off": "reminders_off_at",
}


def sign_in(code_typed: str, key_typed: str) -> Notice | None:
    """The first notice with this registration code, when the key matches; None otherwise, the same way
    whether the code is malformed, unknown or the key wrong. Records the recipient's first sign-in."""
    try:
        code = codes.parse_code(code_typed)
    except codes.CodeError:
        return None
    notice = Notice.objects.filter(code=code, reminder_of__isnull=True).first()
    if notice is None or not codes.key_matches(code, key_typed):
        return None
    if notice.recipient_id is not None:
        record(notice.recipient_id, "signed_in")
    return notice


def record(recipient_id: int, event: str, *, at: datetime | None = None) -> None:
    """Note `event` (one of EVENTS) for the recipient; the first time counts, later ones change nothing."""
    column = EVENTS[event]
    at = at or timezone.now()
    for _ in range(2):  # a concurrent first event may create the row between our update and insert
        if Engagement.objects.filter(recipient_id=recipient_id, **{f"{column}__isnull": True}).update(
            **{column: at}
        ):
            return
        if Engagement.objects.filter(recipient_id=recipient_id).exists():
            return  # already recorded
        try:
            with transaction.atomic():
                Engagement.objects.create(recipient_id=recipient_id, **{column: at})
            return
        except IntegrityError:
            continue
