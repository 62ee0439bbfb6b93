"""The requests queue: deletion, marketing opt-out, contact corrections, misuse reports and letters to
post again, each with its due date, status and owner. Staff take a request, put it back, and finish it
with a note; the person is told when it is done (owabi.redress.request_queue). A request's page shows
what the person wrote and whose records it concerns: personal data, so each view is audited."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from owabi.backoffice.auth import actor, staff_required
from owabi.backoffice.views import PAGE, _base, _incident
from owabi.core import audit
from owabi.records.models import LeakRecord
from owabi.redress import crm, request_queue
from owabi.redress.models import Request

STATUSES = [("open", "未完了"), ("overdue", "期限超過"), *Request.Status.choices, ("all", "すべて")]


def _request(reference: str) -> Request:
    found = (
        Request.objects.select_related("incident", "owner", "notice", "subject")
        .filter(reference=reference)
        .first()
    )
    if found is None:
        raise Http404("no such request")
    return found


def _refused(request: HttpRequest, item: Request, error: Exception) -> HttpResponse:
    back = reverse("staff:request", args=[item.reference])
    return render(
        request,
        "backoffice/message.html",
        _base(request, item.incident, message=str(error), back=back),
        status=409,
    )


@staff_required("work_requests")
def queue(request: HttpRequest) -> HttpResponse:
    incident = _incident(request)
    status = request.GET.get("status", "open")
    kind = request.GET.get("kind", "")
    mine = request.GET.get("mine") == "1"
    query = request_queue.queue(
        incident,
        status=status,
        kind=kind,
        mine=request.user if mine else None,  # type: ignore[arg-type]
    )
    page = Paginator(query, PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/requests.html",
        _base(
            request,
            incident,
            page=page,
            status=status,
            statuses=STATUSES,
            kind=kind,
            kinds=Request.Kind.choices,
            mine=mine,
            today=timezone.localdate(),
            overdue=request_queue.overdue(incident).count(),
        ),
    )


def _records(item: Request) -> list[dict[str, Any]]:
    """The leaked records the request concerns (its person, else every person of its recipient): the
    source system and its record id are how staff find the customer in the company's systems."""
    if item.subject_id is not None:
        query = LeakRecord.objects.filter(membership__subject_id=item.subject_id)
    elif item.recipient_id is not None:
        query = LeakRecord.objects.filter(membership__subject__recipient_id=item.recipient_id)
    else:
        return []
    rows = []
    for record in query.select_related("source_file").order_by("pk"):
        sealed = record.sealed or {}
        rows.append(
            {
                "source": sealed.get("source") or record.source_file.source,
                "record_id": record.record_id,
                "name": sealed.get("subject_name") or sealed.get("guardian_name") or "",
            }
        )
    return rows


@staff_required("work_requests")
def detail(request: HttpRequest, reference: str) -> HttpResponse:
    item = _request(reference)
    audit.record(
        actor=actor(request),
        action="backoffice.view_request",
        object_type="request",
        object_id=item.pk,
        data={"reference": item.reference},
    )
    details = item.details or {}
    to = (item.notice.content.get("to") or {}) if item.notice is not None else {}
    return render(
        request,
        "backoffice/request.html",
        _base(
            request,
            item.incident,
            item=item,
            text=details.get("text", ""),
            contact=sorted((details.get("contact") or {}).items()),
            note=details.get("done_note", ""),
            addressee=to.get("name", ""),
            records=_records(item),
            mailable=request_queue.mailable(item),
            is_open=item.status in request_queue.OPEN,
            overdue=item.status in request_queue.OPEN and item.due_on < timezone.localdate(),
        ),
    )


@require_POST
@staff_required("work_requests")
def take(request: HttpRequest, reference: str) -> HttpResponse:
    item = _request(reference)
    try:
        request_queue.take(request=item, user=request.user)  # type: ignore[arg-type]
    except request_queue.RequestError as error:
        return _refused(request, item, error)
    messages.success(request, f"依頼 {item.reference} の担当になりました。")
    return HttpResponseRedirect(reverse("staff:request", args=[item.reference]))


@require_POST
@staff_required("work_requests")
def release(request: HttpRequest, reference: str) -> HttpResponse:
    item = _request(reference)
    try:
        request_queue.release(request=item, user=request.user, reason=request.POST.get("reason", ""))  # type: ignore[arg-type]
    except request_queue.RequestError as error:
        return _refused(request, item, error)
    messages.success(request, f"依頼 {item.reference} を未着手に戻しました。")
    return HttpResponseRedirect(reverse("staff:request", args=[item.reference]))


@require_POST
@staff_required("work_requests")
def complete(request: HttpRequest, reference: str) -> HttpResponse:
    item = _request(reference)
    try:
        done = request_queue.complete(
            request=item,
            user=request.user,  # type: ignore[arg-type]
            note=request.POST.get("note", ""),
            outcome=request.POST.get("outcome", ""),
        )
    except request_queue.RequestError as error:
        return _refused(request, item, error)
    if request_queue.mailable(done):
        messages.success(request, f"依頼 {done.reference} を記録しました。ご本人へ確認のメールを送ります。")
    else:
        messages.warning(
            request,
            f"依頼 {done.reference} を記録しました。"
            "メールアドレスがないため、電話か郵便でご本人へお知らせください。",
        )
    return HttpResponseRedirect(reverse("staff:request", args=[done.reference]))


@require_POST
@staff_required("work_requests")
def export(request: HttpRequest) -> HttpResponse:
    """The CSV for the company's other systems (owabi.redress.crm), as a download: a POST, audited."""
    incident = _incident(request)
    since = None
    if request.POST.get("since"):
        try:
            since = date.fromisoformat(request.POST["since"])
        except ValueError:
            back = reverse("staff:requests") + f"?incident={incident.slug}"
            message = "日付は YYYY-MM-DD で入力してください"
            return render(
                request,
                "backoffice/message.html",
                _base(request, incident, message=message, back=back),
                status=409,
            )
    result = crm.export_requests(incident=incident, actor=actor(request), since=since, via="download")
    response = HttpResponse(result.text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{crm.file_name(incident)}"'
    response["Cache-Control"] = "no-store"
    return response
