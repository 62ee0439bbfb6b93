"""Back-office views: parse input, call one service or selector, render. Each view names the action it
needs (owabi.core.roles); each view of personal data writes an audit event."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from owabi.backoffice.auth import actor, staff_required
from owabi.backoffice.evidence import render_page
from owabi.backoffice.exports import csv_response
from owabi.core import audit
from owabi.core.roles import can
from owabi.incidents.models import Incident
from owabi.redress import review, selectors
from owabi.redress.models import Claim, Evidence, Option
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
