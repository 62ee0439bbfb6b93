"""Back-office views: parse input, call one service or selector, render. Each view names the action it
needs (owabi.core.roles); each view of personal data writes an audit event."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from owabi.backoffice import search as support_search
from owabi.backoffice.auth import actor, staff_required
from owabi.backoffice.evidence import render_page
from owabi.backoffice.exports import csv_response
from owabi.backoffice.forms import ActionForms
from owabi.backoffice.timeline import timeline_of
from owabi.core import audit, ratelimit
from owabi.core.roles import can
from owabi.incidents.models import Incident
from owabi.notices import selectors as notice_selectors
from owabi.notices import services as notice_services
from owabi.notices.models import Notice
from owabi.records import review as records_review
from owabi.records import selectors as record_selectors
from owabi.records.models import Subject
from owabi.records.resolve.explanation import explain_pair
from owabi.redress import calls, request_queue, review, selectors
from owabi.redress import services as redress_services
from owabi.redress.models import Choice, Claim, Evidence, Option
from owabi.reports.dashboard import funnel

PAGE = 50


def _incident(request: HttpRequest) -> Incident:
    slug = request.GET.get("incident") or request.POST.get("incident")
    incidents = Incident.objects.order_by("-created_at")
    incident = incidents.filter(slug=slug).first() if slug else incidents.first()
    if incident is None:
        raise Http404("no incident")
    return incident


def _base(request: HttpRequest, incident: Incident, **extra: Any) -> dict[str, Any]:
    return {
        "incident": incident,
        "incidents": Incident.objects.order_by("-created_at"),
        "may": {
            action: can(request.user, action)
            for action in (
                "search",
                "review_claims",
                "work_requests",
                "manage_codes",
                "payouts",
                "review_resolution",
                "report",
            )
        },
        **extra,
    }


@staff_required("dashboard")
def home(request: HttpRequest) -> HttpResponse:
    incident = _incident(request)
    figures = funnel(incident)
    top = max([count for _, count in figures.steps] or [1]) or 1
    bars = [(name, count, round(count * 100 / top)) for name, count in figures.steps]
    return render(request, "backoffice/dashboard.html", _base(request, incident, figures=figures, bars=bars))


@staff_required("dashboard")
def dashboard_csv(request: HttpRequest) -> HttpResponse:
    incident = _incident(request)
    figures = funnel(incident)
    rows: list[list[object]] = [["section", "name", "value"]]
    rows += [["funnel", name, count] for name, count in figures.steps]
    rows += [
        ["notices", f"{channel}:{status}", n] for (channel, status), n in sorted(figures.notices.items())
    ]
    rows += [["per_day_sent", day.isoformat(), sent] for day, sent, _ in figures.per_day]
    rows += [["per_day_signed_in", day.isoformat(), signed] for day, _, signed in figures.per_day]
    rows += [["choices", key, n] for key, n in sorted(figures.choices.items())]
    rows += [["claims", status, n] for status, n in sorted(figures.claims.items())]
    rows += [["requests", f"{kind}:{status}", n] for (kind, status), n in sorted(figures.requests.items())]
    rows += [["cost_yen", name, yen] for name, yen in sorted(figures.cost.items())]
    return csv_response(f"owabi-{incident.slug}-dashboard.csv", rows)


@staff_required("review_claims")
def claims(request: HttpRequest) -> HttpResponse:
    incident = _incident(request)
    status = request.GET.get("status", "open")
    query = Claim.objects.filter(incident=incident).select_related("payee")
    if status == "open":
        query = query.filter(status__in=["submitted", "info_requested", "recommended"])
    elif status in Claim.Status.values:
        query = query.filter(status=status)
    if request.GET.get("flagged"):
        query = query.filter(score__gt=0)
    page = Paginator(query.order_by("-score", "created_at"), PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "backoffice/claims.html",
        _base(request, incident, page=page, status=status, statuses=Claim.Status.choices),
    )


@staff_required("review_claims")
def claim(request: HttpRequest, reference: str) -> HttpResponse:
    found = Claim.objects.select_related("payee", "incident").filter(reference=reference).first()
    if found is None:
        raise Http404("no such claim")
    review.rescore(found)
    audit.record(
        actor=actor(request), action="backoffice.view_claim", object_type="claim", object_id=found.pk
    )
    return render(
        request,
        "backoffice/claim.html",
        _base(
            request,
            found.incident,
            claim=found,
            signals=[(s["code"], review.SIGNALS[s["code"]][1], s["weight"]) for s in found.signals],
            evidence=list(found.evidence.values("pk", "content_type", "size")),
            may_see_evidence=can(request.user, "view_evidence"),
            decisions=review.DECISIONS,
            error=request.GET.get("error", ""),
        ),
    )


@require_POST
@staff_required("review_claims")
def decide_claim(request: HttpRequest, reference: str) -> HttpResponse:
    found = Claim.objects.filter(reference=reference).first()
    if found is None:
        raise Http404("no such claim")
    try:
        review.decide(
            claim=found,
            decision=request.POST.get("decision", ""),
            user=request.user,  # type: ignore[arg-type]
            reason=request.POST.get("reason", ""),
            message=request.POST.get("message", ""),
        )
    except review.ReviewError as error:
        return render(
            request,
            "backoffice/message.html",
            _base(request, found.incident, message=str(error), back=reverse("staff:claim", args=[reference])),
            status=409,
        )
    return HttpResponseRedirect(reverse("staff:claim", args=[reference]))


@staff_required("view_evidence")
def evidence_page(request: HttpRequest, pk: int, page: int) -> HttpResponse:
    """One page of an uploaded file, re-rendered as a PNG: the reviewer never gets the raw upload."""
    item = Evidence.objects.filter(pk=pk).first()
    if item is None:
        raise Http404("no such file")
    image = render_page(bytes(item.content), item.content_type, page)
    if image is None:
        raise Http404("no such page")
    audit.record(
        actor=actor(request),
        action="backoffice.view_evidence",
        object_type="evidence",
        object_id=item.pk,
        data={"claim": item.claim_id, "page": page},
    )
    response = HttpResponse(image, content_type="image/png")
    response["Cache-Control"] = "no-store"
    response["Content-Disposition"] = "inline"
    return response


@staff_required("manage_codes")
def codes(request: HttpRequest) -> HttpResponse:
    incident = _incident(request)
    rows = []
    for option in selectors.catalog(incident.pk):
        chosen = option.choices.exclude(status__in=["cancelled", "rejected"]).count()
        free = selectors.stock(option.pk) if option.kind == Option.Kind.CODE else None
        rows.append(
            {"option": option, "chosen": chosen, "free": free, "low": free is not None and free < 100}
        )
    return render(request, "backoffice/codes.html", _base(request, incident, rows=rows))


# --- Support console ------------------------------------------------------------------------------------
SEARCH_FIELDS = ("name", "phone", "card_last4", "postal_code", "email", "code")


@staff_required("search")
def search(request: HttpRequest) -> HttpResponse:
    """Find a caller. A POST form only: what was typed never reaches a URL, a log or the audit (which
    records the kinds of key used and whom they found)."""
    incident = _incident(request)
    context = _base(request, incident, values={})
    if request.method != "POST":
        return render(request, "backoffice/search.html", context)
    values = {name: request.POST.get(name, "")[:200] for name in SEARCH_FIELDS}
    context["values"] = values
    if not ratelimit.hit("staff.search.user", str(request.user.pk)):
        context["error"] = "検索の回数が上限に達しました。しばらくしてから、または管理者にご相談ください。"
        return render(request, "backoffice/search.html", context, status=429)
    try:
        found = support_search.search(incident=incident, values=values)
    except support_search.SearchError as error:
        context["error"] = str(error)
        return render(request, "backoffice/search.html", context, status=200)
    audit.record(
        actor=actor(request),
        action="backoffice.search",
        object_type="incident",
        object_id=incident.pk,
        data={"kinds": found.kinds, "subjects": [person.subject_id for person in found.people][:100]},
    )
    rows = [(person, found.notices.get(person.recipient_id or 0, [])) for person in found.people]
    return render(request, "backoffice/search.html", {**context, "searched": True, "rows": rows})


# What the person page says after an action (the URL carries the key, never a text or a value).
DONE = {
    "resend": "お知らせの再送を手配しました。",
    "unlock": "ログインの一時停止を解除しました。",
    "choose": "補償の選択を記録しました。",
    "request": "依頼を記録しました。",
    "call": "通話を記録しました。",
}


@staff_required("view_person")
def person(request: HttpRequest, public_id: str) -> HttpResponse:
    """Everything about one person, in time order. Each viewing is audited."""
    subject = record_selectors.person(public_id)
    if subject is None:
        raise Http404("no such person")
    timeline = timeline_of(subject)
    audit.record(
        actor=actor(request), action="backoffice.view_person", object_type="subject", object_id=subject.pk
    )
    return render(
        request,
        "backoffice/person.html",
        _base(
            request,
            subject.incident,
            timeline=timeline,
            may_act=can(request.user, "act_for_person"),
            forms=ActionForms.empty(subject),
            done=DONE.get(request.GET.get("done", ""), ""),
        ),
    )


# --- Acting for a caller: each action needs a reason and is audited by the service it calls --------------
def _acted(request: HttpRequest, subject: Subject, done: str) -> HttpResponse:
    return HttpResponseRedirect(reverse("staff:person", args=[subject.public_id]) + f"?done={done}")


def _refused(request: HttpRequest, subject: Subject, message: str) -> HttpResponse:
    back = reverse("staff:person", args=[subject.public_id])
    return render(
        request,
        "backoffice/message.html",
        _base(request, subject.incident, message=message, back=back),
        status=409,
    )


def _subject_or_404(public_id: str) -> Subject:
    subject = record_selectors.person(public_id)
    if subject is None:
        raise Http404("no such person")
    return subject


def _notice_for(subject: Subject) -> Notice:
    notice = notice_selectors.live_notice(subject.recipient_id) if subject.recipient_id else None
    if notice is None:
        raise redress_services.RedressError("この方にはまだお知らせがないため、代わりに手続きできません")
    return notice


@require_POST
@staff_required("act_for_person")
def act(request: HttpRequest, public_id: str, action: str) -> HttpResponse:
    """One action for the caller (resend, unlock, choose, request, call), from the person page's forms."""
    subject = _subject_or_404(public_id)
    form = ActionForms.bound(action, request.POST, subject)
    if form is None:
        raise Http404("no such action")
    if not form.is_valid():
        return _refused(request, subject, form.first_error())
    data, who = form.cleaned_data, actor(request)
    try:
        if action == "resend":
            if subject.recipient_id is None:
                raise notice_services.ResendError("この方にはお知らせの宛先がありません")
            request_queue.resend_notice(
                recipient_id=subject.recipient_id,
                channel=data["channel"],
                postal_code=data["postal_code"],
                address=data["address"],
                email=data["email"],
                user=request.user,  # type: ignore[arg-type]
                reason=data["reason"],
            )
        elif action == "unlock":
            notice = next(
                (
                    n
                    for n, _ in timeline_of(subject).notices
                    if n.pk == data["notice"] and not n.reminder_of_id
                ),
                None,
            )
            if notice is None:
                raise Http404("no such notice")
            notice_services.lift_lockout(code_typed=notice.code, actor=who, reason=data["reason"])
        elif action == "choose":
            address = {key: data[f"voucher_{key}"] for key in ("name", "postal_code", "address")}
            redress_services.choose(
                notice=_notice_for(subject),
                person=subject.number,
                option_key=data["option"],
                address=address if any(address.values()) else None,
                by=Choice.By.STAFF,
                actor=who,
                reason=data["reason"],
            )
        elif action == "request":
            redress_services.file_request(
                notice=_notice_for(subject),
                kind=data["kind"],
                person=subject.number,
                text=data["text"],
                by=Choice.By.STAFF,
                actor=who,
                reason=data["reason"],
            )
        else:
            calls.log_call(
                subject=subject,
                topic=data["topic"],
                outcome=data["outcome"],
                summary=data["summary"],
                follow_up=data["follow_up"],
                follow_up_on=data["follow_up_on"],
                user=request.user,  # type: ignore[arg-type]
                actor=who,
            )
    except (notice_services.ResendError, redress_services.RedressError, calls.CallError) as error:
        return _refused(request, subject, str(error))
    return _acted(request, subject, action)


# --- Resolution review -------------------------------------------------------------------------------------
# A decision is kept on the pair and applied by the next run of resolve (owabi.records.review): say so.
APPLIED_AT_RESOLVE = (
    "判断を記録しました。まだ人物のまとまりは変わっていません：次回の名寄せ（owabi resolve）の実行で"
    "反映されます。それまでは検索・人物のページ・お知らせは今のまとまりのままです。"
)


@staff_required("review_resolution")
def review_queue(request: HttpRequest) -> HttpResponse:
    """The pairs the matcher was unsure about (record ids and scores only: no personal data here)."""
    incident = _incident(request)
    decided = request.GET.get("status") == "decided"
    pairs = record_selectors.review_queue(incident, decided=decided).select_related("record_a", "record_b")
    page = Paginator(pairs, PAGE).get_page(request.GET.get("page"))
    resolved = record_selectors.resolved_at(incident.pk)
    waiting = {pair.pk for pair in page if record_selectors.waits_for_resolve(pair, resolved)}
    return render(
        request,
        "backoffice/review.html",
        _base(request, incident, page=page, decided=decided, waiting=waiting),
    )


@staff_required("review_resolution")
def review_pair(request: HttpRequest, pk: int) -> HttpResponse:
    """One pair side by side, with the evidence levels `owabi resolve --explain` shows. Audited."""
    incident = _incident(request)
    pair = record_selectors.review_pair(incident, pk)
    if pair is None:
        raise Http404("no such pair")
    if request.method == "POST":
        try:
            records_review.decide(
                pair=pair,
                decision=request.POST.get("decision", ""),
                actor=actor(request),
                reason=request.POST.get("reason", "")[:500],
            )
        except records_review.ReviewError as error:
            back = reverse("staff:review_pair", args=[pk]) + f"?incident={incident.slug}"
            return render(
                request,
                "backoffice/message.html",
                _base(request, incident, message=str(error), back=back),
                status=409,
            )
        messages.success(request, APPLIED_AT_RESOLVE)
        return HttpResponseRedirect(reverse("staff:review") + f"?incident={incident.slug}")
    explanation = explain_pair(incident=incident, record_a=pair.record_a, record_b=pair.record_b)
    audit.record(
        actor=actor(request),
        action="backoffice.view_review_pair",
        object_type="review_pair",
        object_id=pair.pk,
    )
    left, right = record_selectors.record_view(pair.record_a), record_selectors.record_view(pair.record_b)
    fields = [name for name in record_selectors.SHOWN if name in left.values or name in right.values]
    rows = [(name, left.values.get(name, ""), right.values.get(name, "")) for name in fields]
    return render(
        request,
        "backoffice/review_pair.html",
        _base(
            request,
            incident,
            pair=pair,
            left=left,
            right=right,
            rows=rows,
            levels=sorted(explanation.levels.items()) if explanation else [],
            waiting=record_selectors.waits_for_resolve(pair, record_selectors.resolved_at(incident.pk)),
            probability=explanation.probability if explanation else pair.probability,
        ),
    )
