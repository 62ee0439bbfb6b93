"""Writes of regulator reporting. Each validates, writes in one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from owabi.core import audit
from owabi.incidents.models import Incident
from owabi.reports import deadlines, drafts, figures, personal_data, selectors
from owabi.reports.models import SITUATIONS, AnnouncementVersion, Assessment, Report, ReportVersion
from owabi.reports.reportability import conclude, derive

NOTE_MAX = 2000
TITLE_MAX = 200


@transaction.atomic
def assess(
    *,
    incident: Incident,
    actor: str,
    decisions: dict[str, bool] | None = None,
    notes: dict[str, str] | None = None,
    encrypted: bool = False,
    key_safe: bool = False,
    exemption_note: str = "",
    regimes: Iterable[str] = ("appi",),
    aware_at: datetime | None = None,
) -> Assessment:
    """Record a person's confirmation of the four situations. A situation left out of `decisions` takes
    what owabi derived; deciding against the derivation needs a note saying why, and so does claiming
    the encryption exemption."""
    decisions = dict(decisions or {})
    notes = {key: value.strip() for key, value in (notes or {}).items() if value and value.strip()}
    unknown = set(decisions) - set(SITUATIONS) or set(notes) - set(SITUATIONS)
    if unknown:
        raise ValidationError(f"unknown situations: {', '.join(sorted(unknown))}")
    regime_keys = list(dict.fromkeys(regimes))
    missing = [key for key in regime_keys if key not in deadlines.regimes()]
    if missing or not regime_keys:
        raise ValidationError(f"unknown regimes: {', '.join(missing) or '(none)'}")
    derived = derive(incident)
    facts: dict[str, dict[str, object]] = {}
    errors: dict[str, str] = {}
    for name in SITUATIONS:
        finding = derived.findings[name]
        decided = decisions.get(name, finding.applies)
        decisions[name] = decided
        if decided != finding.applies and not notes.get(name):
            errors[name] = "owabi derived otherwise: say why in a note"
        if len(notes.get(name, "")) > NOTE_MAX:
            errors[name] = f"a note has at most {NOTE_MAX} characters"
        facts[name] = {"derived": finding.applies, "basis": finding.basis, "note": notes.get(name, "")}
    if encrypted and key_safe and not exemption_note.strip():
        errors["exemption_note"] = "the exemption needs the facts behind it (cipher, where the key was)"
    if errors:
        raise ValidationError(errors)
    assessment = Assessment.objects.create(
        incident=incident,
        facts=facts,
        encrypted=encrypted,
        key_safe=key_safe,
        exemption_note=exemption_note.strip(),
        regimes=regime_keys,
        aware_at=aware_at,
        reportable=conclude(decisions, encrypted=encrypted, key_safe=key_safe),
        confirmed_by=actor,
        **decisions,
    )
    audit.record(
        actor=actor,
        action="reports.assess",
        object_type="assessment",
        object_id=assessment.pk,
        data={
            "incident": incident.pk,
            "situations": assessment.situations,
            "overridden": sorted(
                name for name in SITUATIONS if decisions[name] != derived.findings[name].applies
            ),
            "exempt": assessment.exempt,
            "reportable": assessment.reportable,
            "regimes": regime_keys,
        },
    )
    return assessment


def _figures_data(counted: figures.Counted) -> dict[str, Any]:
    return {"values": counted.values, "items": [asdict(item) for item in counted.items]}


@transaction.atomic
def save_draft(*, incident: Incident, stage: str, actor: str, texts: dict[str, str]) -> ReportVersion:
    """Save the report's texts as a new version, with the figures counted now. Texts not given keep
    their last saved (or starting) value; a submitted report is not edited."""
    if stage not in drafts.STAGES:
        raise ValidationError({"stage": f"unknown stage {stage!r}"})
    unknown = set(texts) - set(drafts.TEXTS)
    if unknown:
        raise ValidationError({"texts": f"unknown parts: {', '.join(sorted(unknown))}"})
    too_long = [key for key, value in texts.items() if len(value) > drafts.TEXT_MAX]
    if too_long:
        raise ValidationError({key: f"at most {drafts.TEXT_MAX} characters" for key in too_long})
    report, _ = Report.objects.get_or_create(incident=incident, regime="appi", stage=stage)
    report = Report.objects.select_for_update().get(pk=report.pk)
    if report.submitted_on is not None:
        raise ValidationError({"stage": "this report was submitted: it is not edited any more"})
    current = selectors.draft(incident, stage)
    merged = {**current.texts, **{key: value.replace("\r\n", "\n").strip() for key, value in texts.items()}}
    last = report.versions.order_by("-number").first()
    counted = figures.count(incident)
    version = ReportVersion.objects.create(
        report=report,
        number=(last.number if last else 0) + 1,
        texts=merged,
        figures=_figures_data(counted),
        as_of=counted.as_of,
        saved_by=actor,
    )
    audit.record(
        actor=actor,
        action="reports.save_draft",
        object_type="report",
        object_id=report.pk,
        data={"incident": incident.pk, "stage": stage, "version": version.number, "changed": sorted(texts)},
    )
    return version


@transaction.atomic
def mark_submitted(*, incident: Incident, stage: str, actor: str, submitted_on: date) -> Report:
    """Record that the latest saved version went to the regulator on `submitted_on`. A report is
    submitted once; what was sent stays as its saved version."""
    report = Report.objects.select_for_update().filter(incident=incident, regime="appi", stage=stage).first()
    version = report.versions.order_by("-number").first() if report else None
    if report is None or version is None:
        raise ValidationError({"stage": "save the draft before marking it submitted"})
    if report.submitted_on is not None:
        raise ValidationError({"stage": "this report is already marked submitted"})
    if submitted_on < incident.discovered_on or submitted_on > timezone.localdate():
        raise ValidationError({"submitted_on": "between the day of knowledge and today"})
    report.submitted_on, report.submitted_by, report.submitted_version = submitted_on, actor, version
    report.save(update_fields=["submitted_on", "submitted_by", "submitted_version"])
    audit.record(
        actor=actor,
        action="reports.mark_submitted",
        object_type="report",
        object_id=report.pk,
        data={
            "incident": incident.pk,
            "stage": stage,
            "version": version.number,
            "on": submitted_on.isoformat(),
        },
    )
    return report


def _refuse_personal_data(incident: Incident, *texts: str) -> None:
    found = personal_data.find(incident=incident, texts=texts)
    if found:
        raise ValidationError({"body": found.message()}, code="personal_data")


@transaction.atomic
def save_announcement(
    *, incident: Incident, actor: str, title: str, body: str, body_en: str = ""
) -> AnnouncementVersion:
    """Keep a new version of the public announcement (公表), numbered after the last. Refused when it
    holds a value from the incident's records: the message names the kind of value, never the value."""
    title = " ".join(title.split())
    body, body_en = (text.replace("\r\n", "\n").strip() for text in (body, body_en))
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "見出しを入力してください"
    elif len(title) > TITLE_MAX:
        errors["title"] = f"見出しは{TITLE_MAX}文字以内です"
    if not body:
        errors["body"] = "本文を入力してください"
    for key, text in (("body", body), ("body_en", body_en)):
        if len(text) > drafts.TEXT_MAX:
            errors[key] = f"{drafts.TEXT_MAX}文字以内です"
    if errors:
        raise ValidationError(errors)
    _refuse_personal_data(incident, title, body, body_en)
    last = (
        AnnouncementVersion.objects.select_for_update()
        .filter(incident=incident)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    version = AnnouncementVersion.objects.create(
        incident=incident,
        number=(last or 0) + 1,
        title=title,
        body=body,
        body_en=body_en,
        saved_by=actor,
    )
    audit.record(
        actor=actor,
        action="reports.save_announcement",
        object_type="announcement",
        object_id=version.pk,
        data={"incident": incident.pk, "version": version.number},
    )
    return version


@transaction.atomic
def publish_announcement(*, incident: Incident, actor: str, number: int) -> AnnouncementVersion:
    """Publish a saved version: from now on the portal's public page shows it. Checked again first,
    since records imported after it was saved may hold a value it names. Publishing a version published
    before shows it again (an earlier text restored)."""
    version = AnnouncementVersion.objects.select_for_update().filter(incident=incident, number=number).first()
    if version is None:
        raise ValidationError({"number": "その版はありません"})
    _refuse_personal_data(incident, version.title, version.body, version.body_en)
    version.published_at, version.published_by = timezone.now(), actor
    version.save(update_fields=["published_at", "published_by"])
    audit.record(
        actor=actor,
        action="reports.publish_announcement",
        object_type="announcement",
        object_id=version.pk,
        data={"incident": incident.pk, "version": version.number},
    )
    return version
