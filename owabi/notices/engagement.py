"""What recipients do after their notice, recorded for the reminder rules (owabi.notices.reminders).

The portal calls `sign_in` with the code and key a person typed, and `record` when they choose their
compensation, finish, or ask for no more reminders; support staff record the same on a caller's behalf.
Only times are kept, never what was typed. `sign_in` is the one door to a notice: it applies the
rate-limit policy (owabi.core.ratelimit, portal.login.*) and writes its audit events itself, so no view
or API can forget either.
"""

from __future__ import annotations

from datetime import datetime

from django.core import signing
from django.db import connection, transaction
from django.utils import timezone

from owabi.core import audit, ratelimit
from owabi.notices import codes
from owabi.notices.models import Engagement, Notice, NoticeSetup
from owabi.records.models import Recipient

EVENTS = {
    "signed_in": "signed_in_at",
    "redress_chosen": "redress_chosen_at",
    "finished": "finished_at",
    "reminders_off": "reminders_off_at",
}


class SignInLimited(Exception):
    """Too many failed attempts for this code or from this client: try later, or call (staff can lift
    it). Says nothing about whether the code exists: unknown codes fill their budget the same way."""


_LOGIN_POLICIES = ("portal.login.code", "portal.login.client")


def sign_in(code_typed: str, key_typed: str, *, client: str = "") -> Notice | None:
    """The first notice with this registration code, when the key matches; None otherwise, the same way
    and with the same work whether the code is unknown or the key wrong (a malformed code fails before
    any lookup, as its shape is public). Failures count against the code and the client; over either
    budget, SignInLimited. Records the recipient's first sign-in and audits successes and lockouts."""
    try:
        code = codes.parse_code(code_typed)
    except codes.CodeError:
        return None
    checks = list(zip(_LOGIN_POLICIES, (code, client or "-"), strict=True))
    used = ratelimit.counts(checks)  # both budgets in one read
    if any(ratelimit.exhausted(policy, count) for (policy, _), count in zip(checks, used, strict=True)):
        raise SignInLimited
    # A cancelled notice (replaced by a resend, owabi.notices.resend) opens nothing, like an unknown code.
    notice = (
        Notice.objects.filter(code=code, reminder_of__isnull=True)
        .exclude(status=Notice.Status.CANCELLED)
        .first()
    )
    key_ok = codes.key_matches(code, key_typed)  # computed for unknown codes too: same work either way
    if notice is None or not key_ok:
        with transaction.atomic():  # one commit for the failure's writes
            tripped = [  # this failure used the last of a budget: the next attempt is refused
                policy
                for policy, subject in checks
                if ratelimit.exhausted(policy, ratelimit.count_hit(policy, subject))
            ]
            if tripped:
                audit.record(
                    actor="portal",
                    action="portal.sign_in.locked",
                    object_type="notice" if notice else "",
                    object_id=notice.pk if notice else "",
                    data={"policies": tripped},
                )
        return None
    with transaction.atomic():  # one commit for the sign-in's writes; the audit event last (it locks)
        if used[0]:  # earlier failures against this code are forgiven
            ratelimit.reset("portal.login.code", code)
        if notice.recipient_id is not None:
            record(notice.recipient_id, "signed_in")
        audit.record(actor="portal", action="portal.sign_in", object_type="notice", object_id=notice.pk)
    return notice


def lift_lockout(*, code_typed: str, actor: str, reason: str) -> bool:
    """Staff lift a code's sign-in lockout (after checking the caller). False for a malformed code."""
    try:
        code = codes.parse_code(code_typed)
    except codes.CodeError:
        return False
    ratelimit.reset("portal.login.code", code)
    notice = Notice.objects.filter(code=code, reminder_of__isnull=True).first()
    audit.record(
        actor=actor,
        action="portal.sign_in.unlock",
        object_type="notice" if notice else "",
        object_id=notice.pk if notice else "",
        reason=reason,
    )
    return True


def record(recipient_id: int, event: str, *, at: datetime | None = None) -> None:
    """Note `event` (one of EVENTS) for the recipient; the first time counts, later ones change nothing.
    One statement (an upsert that leaves a recorded time alone), so concurrent first events are safe."""
    column = EVENTS[event]
    at = at or timezone.now()
    table = Engagement._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (recipient_id, {column}, updated_at) VALUES (%s, %s, %s) "  # noqa: S608
            f"ON CONFLICT (recipient_id) DO UPDATE SET {column} = EXCLUDED.{column}, "
            f"updated_at = EXCLUDED.updated_at WHERE {table}.{column} IS NULL",
            [recipient_id, *map(connection.ops.adapt_datetimefield_value, (at, timezone.now()))],
        )


_UNSUBSCRIBE_SALT = "owabi.notices.reminders-off"
# The portal's page for it (owabi/portal/urls.py serves this path).
REMINDERS_OFF_PATH = "/reminders/off/"


def unsubscribe_token(notice: Notice) -> str:
    """The opaque token of a reminder's one-click "no more reminders" link (RFC 8058): the recipient's
    public UUID, signed with the site's key, so it names nobody, counts nothing and cannot be forged."""
    recipients = Recipient.objects.filter(pk=notice.recipient_id) if notice.recipient_id else None
    public_id = recipients.values_list("public_id", flat=True).first() if recipients else None
    return signing.dumps(str(public_id or ""), salt=_UNSUBSCRIBE_SALT)


def reminders_off_url(notice: Notice, setup: NoticeSetup) -> str:
    """The reminder's one-click opt-out link on the incident's portal."""
    return f"{setup.portal_url.rstrip('/')}{REMINDERS_OFF_PATH}{unsubscribe_token(notice)}"


def reminders_off(token: str) -> bool:
    """Stop reminders for the recipient of the notice the token names; False for a bad token. Repeating
    it changes nothing (a mail provider may POST twice)."""
    try:
        public_id = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return False
    recipient = Recipient.objects.filter(public_id=public_id).first() if public_id else None
    notice = (
        Notice.objects.filter(recipient=recipient, reminder_of__isnull=True).order_by("pk").first()
        if recipient
        else None
    )
    if notice is None or notice.recipient_id is None:
        return False
    with transaction.atomic():
        record(notice.recipient_id, "reminders_off")
        audit.record(
            actor="portal", action="notices.reminders_off", object_type="notice", object_id=notice.pk
        )
    return True
