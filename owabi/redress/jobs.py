"""Background jobs of the redress domain (owabi.core.jobs): the e-mailed receipts."""

from __future__ import annotations

from typing import Any

from django.utils import translation

from owabi.core import jobs
from owabi.core.models import Job
from owabi.notices.models import Notice
from owabi.redress import affected, mail
from owabi.redress.models import Choice, Claim, Request


@jobs.handler("redress.receipt")
def send_receipt(payload: dict[str, Any], job: Job) -> dict[str, Any]:
    """Mail one receipt. A job runs again only when it did not finish, so a receipt may, rarely, go
    twice after a crash mid-send; never zero times."""
    notice = Notice.objects.filter(pk=payload["notice"]).first()
    what, pk = payload["what"], payload["id"]
    if notice is None:
        return {"sent": False}
    with translation.override(notice.language):
        return {"sent": _send(what, pk, notice)}


def _send(what: str, pk: int, notice: Notice) -> bool:
    if what == "choice":
        choice = Choice.objects.select_related("option").filter(pk=pk).first()
        return choice is not None and mail.choice_receipt(notice, choice)
    if what == "request":
        request = Request.objects.filter(pk=pk).first()
        return request is not None and mail.request_receipt(notice, request)
    if what == "request_done":
        request = Request.objects.filter(pk=pk).first()
        return request is not None and mail.request_done(notice, request)
    claim = Claim.objects.filter(pk=pk).first()
    return claim is not None and mail.claim_receipt(notice, claim)


@jobs.handler(affected.KIND)
def answer_affected(payload: dict[str, Any], job: Job) -> dict[str, Any]:
    """An "am I affected?" search, answered through the contact on record (owabi.redress.affected)."""
    return affected.answer(payload)
