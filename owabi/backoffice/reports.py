"""Back-office pages for regulator reporting: the clocks, the reportability finding a person confirms,
and the 速報/確報 drafts (edit, keep versions, download, mark submitted). Counts and staff texts only;
the writes are owabi.reports.services, which audit them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from owabi.backoffice.auth import actor, staff_required
from owabi.backoffice.views import _base, _incident
from owabi.core import audit
from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.reports import deadlines, drafts, exports, selectors, services
from owabi.reports.models import SITUATIONS, AnnouncementVersion, ReportVersion
from owabi.reports.reportability import LABELS, derive

CONTENT_TYPES = {"pdf": "application/pdf", "md": "text/markdown; charset=utf-8", "json": "application/json"}


def _stage(request: HttpRequest) -> str:
    stage = request.GET.get("stage") or request.POST.get("stage") or "preliminary"
    return stage if stage in drafts.STAGES else "preliminary"


def _back(incident: Incident, stage: str, fragment: str = "", **extra: str) -> HttpResponseRedirect:
    query = "&".join(
        f"{key}={value}" for key, value in {"incident": incident.slug, "stage": stage, **extra}.items()
    )
    return HttpResponseRedirect(f"{reverse('staff:report')}?{query}{'#' + fragment if fragment else ''}")


def _page(
    request: HttpRequest,
    incident: Incident,
    stage: str,
    *,
    errors: Any = None,
    status: int = 200,
    announcement: dict[str, Any] | None = None,
) -> HttpResponse:
    assessment = selectors.current_assessment(incident)
    derived = derive(incident)
    draft = selectors.draft(incident, stage)
    announcements = selectors.announcements(incident)
    situations = [
        {
            "name": name,
            "number": LABELS[name][0],
            "label": LABELS[name][1],
            "derived": derived.findings[name].applies,
            "basis": derived.findings[name].basis,
            "basis_labels": [
                categories.label(code) for code in derived.findings[name].basis.get("categories", [])
            ],
            "confirmed": getattr(assessment, name) if assessment else None,
            "note": assessment.facts.get(name, {}).get("note", "") if assessment else "",
        }
        for name in SITUATIONS
    ]
    context = _base(
        request,
        incident,
        stage=stage,
        stages=drafts.STAGES,
        clocks=selectors.dashboard_clocks(incident),
        conventions=deadlines.CONVENTIONS,
        assessment=assessment,
        situations=situations,
        regimes=[(key, rules["name"]) for key, rules in deadlines.regimes().items()],
        chosen_regimes=assessment.regimes if assessment else ["appi"],
        draft=draft,
        fields=[(key, label, draft.texts.get(key, "")) for key, (_, label) in drafts.TEXTS.items()],
        versions=selectors.versions(incident, stage),
        today=timezone.localdate(),
        errors=errors or {},
        saved=request.GET.get("saved", ""),
        announcements=announcements,
        published=selectors.published_announcement(incident),
        announcement=announcement or _announcement_form(announcements),
    )
    context["may"]["report"] = True
    return render(request, "backoffice/report.html", context, status=status)


def _announcement_form(announcements: list[AnnouncementVersion]) -> dict[str, Any]:
    """The announcement form, filled with the latest saved version."""
    latest = announcements[0] if announcements else None
    return {
        "title": latest.title if latest else "",
        "body": latest.body if latest else "",
        "body_en": latest.body_en if latest else "",
        "errors": [],
    }


def _errors(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}


@staff_required("report")
def report(request: HttpRequest) -> HttpResponse:
    return _page(request, _incident(request), _stage(request))


@require_POST
@staff_required("report")
def assess(request: HttpRequest) -> HttpResponse:
    incident, stage = _incident(request), _stage(request)
    post = request.POST
    decisions = {
        name: post.get(f"situation_{name}") == "yes" for name in SITUATIONS if post.get(f"situation_{name}")
    }
    aware_at = None
    if post.get("aware_at"):
        try:
            aware_at = timezone.make_aware(datetime.fromisoformat(post["aware_at"]))
        except ValueError:
            return _page(
                request, incident, stage, errors={"aware_at": ["日時の形式が正しくありません"]}, status=400
            )
    try:
        services.assess(
            incident=incident,
            actor=actor(request),
            decisions=decisions,
            notes={name: post.get(f"note_{name}", "") for name in SITUATIONS},
            encrypted=post.get("encrypted") == "on",
            key_safe=post.get("key_safe") == "on",
            exemption_note=post.get("exemption_note", ""),
            regimes=post.getlist("regimes") or ["appi"],
            aware_at=aware_at,
        )
    except ValidationError as error:
        return _page(request, incident, stage, errors=_errors(error), status=400)
    return _back(incident, stage, saved="assessment")


@require_POST
@staff_required("report")
def save(request: HttpRequest) -> HttpResponse:
    incident, stage = _incident(request), _stage(request)
    texts = {key: request.POST[key] for key in drafts.TEXTS if key in request.POST}
    try:
        services.save_draft(incident=incident, stage=stage, actor=actor(request), texts=texts)
    except ValidationError as error:
        return _page(request, incident, stage, errors=_errors(error), status=400)
    return _back(incident, stage, saved="draft")


@require_POST
@staff_required("report")
def submitted(request: HttpRequest) -> HttpResponse:
    incident, stage = _incident(request), _stage(request)
    try:
        on = date.fromisoformat(request.POST.get("submitted_on", ""))
    except ValueError:
        return _page(
            request, incident, stage, errors={"submitted_on": ["日付を入力してください"]}, status=400
        )
    try:
        services.mark_submitted(incident=incident, stage=stage, actor=actor(request), submitted_on=on)
    except ValidationError as error:
        return _page(request, incident, stage, errors=_errors(error), status=400)
    return _back(incident, stage, saved="submitted")


@staff_required("report")
def download(request: HttpRequest) -> HttpResponse:
    incident, stage = _incident(request), _stage(request)
    fmt = request.GET.get("format", "pdf")
    if fmt not in exports.FORMATS:
        raise Http404("no such format")
    version = request.GET.get("version")
    try:
        draft = selectors.draft(incident, stage, version_number=int(version) if version else None)
    except (ValueError, ReportVersion.DoesNotExist):
        raise Http404("no such version") from None
    audit.record(
        actor=actor(request),
        action="backoffice.download_report",
        object_type="incident",
        object_id=incident.pk,
        data={"stage": stage, "format": fmt, "version": draft.version.number if draft.version else None},
    )
    response = HttpResponse(exports.render(draft, fmt), content_type=CONTENT_TYPES[fmt])
    number = draft.version.number if version and draft.version else None
    name = f"owabi-{incident.slug}-appi-{stage}{f'-v{number}' if number else ''}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def _announcement_refused(
    request: HttpRequest,
    incident: Incident,
    stage: str,
    error: ValidationError,
    texts: dict[str, str],
    *,
    publishing: bool = False,
) -> HttpResponse:
    messages = [message for values in _errors(error).values() for message in values]
    form = {**texts, "errors": messages, "publishing": publishing}
    return _page(request, incident, stage, status=400, announcement=form)


@require_POST
@staff_required("report")
def announcement_save(request: HttpRequest) -> HttpResponse:
    incident, stage = _incident(request), _stage(request)
    texts = {key: request.POST.get(key, "") for key in ("title", "body", "body_en")}
    try:
        services.save_announcement(incident=incident, actor=actor(request), **texts)
    except ValidationError as error:
        return _announcement_refused(request, incident, stage, error, texts)
    return _back(incident, stage, "announcement", saved="announcement")


@require_POST
@staff_required("report")
def announcement_publish(request: HttpRequest) -> HttpResponse:
    incident, stage = _incident(request), _stage(request)
    try:
        number = int(request.POST.get("number", ""))
    except ValueError:
        raise Http404("no such version") from None
    try:
        services.publish_announcement(incident=incident, actor=actor(request), number=number)
    except ValidationError as error:
        latest = selectors.announcements(incident)
        texts = {key: value for key, value in _announcement_form(latest).items() if key != "errors"}
        return _announcement_refused(request, incident, stage, error, texts, publishing=True)
    return _back(incident, stage, "announcement", saved="published")
