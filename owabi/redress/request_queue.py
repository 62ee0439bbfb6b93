"""Working the requests people file (deletion, marketing opt-out, contact corrections, misuse reports,
letters to post again): staff take one (its owner), move it between open and in progress, and finish it,
done or declined, with a note. Finishing queues a confirmation e-mail to the person (owabi.redress.mail
through the `redress.receipt` job, after the commit). Each change is one audited service; the note is
sealed with the request, since staff may have to write what they found.

    open ──take──▶ in_progress ──complete──▶ done | declined
    in_progress ──move──▶ open (back to the queue, owner cleared)
    open | in_progress ──resend_notice (by letter)──▶ done   (requests to post the notice again)
"""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from owabi.core import audit, jobs, roles
from owabi.core.fields import sealed_for_row
from owabi.incidents.models import Incident
from owabi.notices import services as notices
from owabi.notices.models import Notice
from owabi.redress.models import Request
from owabi.redress.services import MAX_TEXT, RedressError

OPEN = (Request.Status.OPEN, Request.Status.IN_PROGRESS)
FINISHED = (Request.Status.DONE, Request.Status.DECLINED)


class RequestError(RedressError):
    """A refusal for staff, one line, in Japanese; names the request's reference, never what it says."""


def _staff(user: User) -> str:
    if not roles.can(user, "work_requests"):
        raise RequestError("依頼を扱えるのは担当者（agent）・管理者（manager、admin）です")
    return f"staff:{user.pk}"


def overdue(incident: Incident, today: date | None = None) -> QuerySet[Request]:
    """The incident's requests past their due date and not finished."""
    return Request.objects.filter(
        incident=incident, status__in=OPEN, due_on__lt=today or timezone.localdate()
    )


def queue(
    incident: Incident, *, status: str = "open", kind: str = "", mine: User | None = None
) -> QuerySet[Request]:
    """The queue as staff filter it: open (open and in progress), overdue, one status or all."""
    query = Request.objects.filter(incident=incident).select_related("owner")
    if status == "open":
        query = query.filter(status__in=OPEN)
    elif status == "overdue":
        query = query.filter(status__in=OPEN, due_on__lt=timezone.localdate())
    elif status in Request.Status.values:
        query = query.filter(status=status)
    if kind in Request.Kind.values:
        query = query.filter(kind=kind)
    if mine is not None:
        query = query.filter(owner=mine)
    return query.order_by("due_on", "pk")


def _change(request: Request, *, allowed: tuple[str, ...], **values: object) -> Request:
    """Write `values` if the request is still in one of the `allowed` states (a conditional update:
    two staff acting at once cannot both finish it)."""
    changed = Request.objects.filter(pk=request.pk, status__in=allowed).update(
        **sealed_for_row(Request, request.pk, values)
    )
    request.refresh_from_db()
    if not changed:
        label = Request.Status(request.status).label
        raise RequestError(f"依頼 {request.reference} は「{label}」のため、この操作はできません")
    return request


def take(*, request: Request, user: User) -> Request:
    """Make `user` the request's owner; an open request moves to in progress. Taking one another staff
    member owns is allowed (someone is away), and the audit event names who held it."""
    actor = _staff(user)
    before = request.owner_id
    with transaction.atomic():
        request = _change(request, allowed=OPEN, owner=user, status=Request.Status.IN_PROGRESS)
        audit.record(
            actor=actor,
            action="redress.request.take",
            object_type="request",
            object_id=request.pk,
            data={"reference": request.reference, "kind": request.kind, "from_owner": before},
        )
    return request


def release(*, request: Request, user: User, reason: str) -> Request:
    """Put an in-progress request back in the queue (open, no owner), with a reason."""
    actor = _staff(user)
    if not reason.strip():
        raise RequestError("戻す理由を書いてください")
    with transaction.atomic():
        request = _change(request, allowed=OPEN, owner=None, status=Request.Status.OPEN)
        audit.record(
            actor=actor,
            action="redress.request.release",
            object_type="request",
            object_id=request.pk,
            reason=reason.strip()[:200],
            data={"reference": request.reference, "kind": request.kind},
        )
    return request


def complete(*, request: Request, user: User, note: str, outcome: str = Request.Status.DONE) -> Request:
    """Finish a request, done or declined, with a note of what was done (sealed with the request). The
    person is told by e-mail where their notice went by e-mail; otherwise staff tell them by phone or
    letter (the page says so)."""
    actor = _staff(user)
    if outcome not in FINISHED:
        raise RequestError("完了か、対応できなかったかを選んでください")
    note = note.strip()
    if not note or len(note) > MAX_TEXT:
        raise RequestError(f"対応の内容を{MAX_TEXT}文字までで書いてください")
    with transaction.atomic():
        current = Request.objects.select_for_update().get(pk=request.pk)
        return _finish(current, user=user, actor=actor, note=note, outcome=outcome)


def _finish(
    current: Request,
    *,
    user: User,
    actor: str,
    note: str,
    outcome: str,
    data: dict[str, object] | None = None,
) -> Request:
    """Finish a locked request: status, note, audit, and the confirmation queued after the commit."""
    details = dict(current.details or {})
    details["done_note"] = note
    request = _change(
        current,
        allowed=OPEN,
        status=outcome,
        done_at=timezone.now(),
        owner=current.owner or user,
        details=details,
    )
    audit.record(
        actor=actor,
        action="redress.request.complete",
        object_type="request",
        object_id=request.pk,
        data={"reference": request.reference, "kind": request.kind, "outcome": outcome, **(data or {})},
    )
    if request.notice_id is not None:
        jobs.enqueue(
            kind="redress.receipt",
            key=f"request_done:{request.pk}",
            payload={"what": "request_done", "id": request.pk, "notice": request.notice_id},
        )
    return request


def resend_notice(
    *,
    recipient_id: int,
    channel: str,
    user: User,
    reason: str,
    postal_code: str = "",
    address: str = "",
    email: str = "",
) -> tuple[Notice, list[Request]]:
    """Resend the recipient's notice (notices.services.resend) and, when it goes by letter, finish the
    recipient's open requests to post it again as done, naming the letter: the resend is what they
    asked for. An e-mail resend leaves them open (they asked for a letter). One transaction.

    Returns the new notice and the requests it finished."""
    actor = f"staff:{user.pk}"
    with transaction.atomic():
        notice = notices.resend(
            recipient_id=recipient_id,
            channel=channel,
            postal_code=postal_code,
            address=address,
            email=email,
            actor=actor,
            reason=reason,
        )
        if notice.channel != Notice.Channel.LETTER:
            return notice, []
        waiting = (
            Request.objects.select_for_update()
            .filter(recipient_id=recipient_id, kind=Request.Kind.RESEND_NOTICE, status__in=OPEN)
            .order_by("pk")
        )
        note = f"窓口からお知らせを郵送で再送しました（{notices.letter_reference(notice)}）"
        closed = [
            _finish(
                current,
                user=user,
                actor=actor,
                note=note,
                outcome=Request.Status.DONE,
                data={"resend": notice.pk},
            )
            for current in waiting
        ]
    return notice, closed


def mailable(request: Request) -> bool:
    """Whether the confirmation goes by e-mail (the notice has an address to write to)."""
    notice = request.notice
    return notice is not None and bool((notice.content.get("to") or {}).get("email"))
