"""Reads of regulator reporting: the current assessment and the clocks that run for an incident."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from owabi.incidents.models import Incident
from owabi.reports import deadlines, drafts, figures
from owabi.reports.models import AnnouncementVersion, Assessment, Report, ReportVersion
from owabi.reports.reportability import derive


def current_assessment(incident: Incident) -> Assessment | None:
    """The latest confirmed assessment, or None while no person has confirmed one."""
    return Assessment.objects.filter(incident=incident).order_by("-confirmed_at", "-pk").first()


def clocks(incident: Incident, assessment: Assessment | None = None) -> list[deadlines.Clock]:
    """Every clock that runs for the incident: the regimes a person confirmed (the APPI until then),
    with 60 days for the final report when the leak may be malicious by the assessment, or by the
    incident while none is confirmed."""
    assessment = assessment or current_assessment(incident)
    malicious = assessment.malicious if assessment else incident.malicious
    return deadlines.clocks(
        known_on=incident.discovered_on,
        malicious=malicious,
        regime_keys=assessment.regimes if assessment else ("appi",),
        aware_at=assessment.aware_at if assessment else None,
    )


def report(incident: Incident, stage: str, regime: str = "appi") -> Report | None:
    return Report.objects.filter(incident=incident, regime=regime, stage=stage).first()


def versions(incident: Incident, stage: str) -> list[ReportVersion]:
    """Every saved version of a report, newest first."""
    return list(
        ReportVersion.objects.filter(report__incident=incident, report__stage=stage).order_by("-number")
    )


def situations(incident: Incident, assessment: Assessment | None) -> list[str]:
    """The situations a person confirmed, or, until one has, those owabi derives."""
    return assessment.situations if assessment else derive(incident).situations


def stored_figures(version: ReportVersion) -> figures.Counted:
    data = version.figures
    return figures.Counted(
        as_of=version.as_of,
        values={key: int(value) for key, value in data.get("values", {}).items()},
        items=[figures.Item(**item) for item in data.get("items", [])],
    )


def draft(incident: Incident, stage: str, *, version_number: int | None = None) -> drafts.Draft:
    """The report at `stage`: the latest saved texts with figures counted now; or, with
    `version_number`, that saved version exactly as it was saved (figures as of its time)."""
    found = report(incident, stage)
    version = None
    if found is not None:
        saved = found.versions.order_by("-number")
        version = saved.filter(number=version_number).first() if version_number else saved.first()
    if version_number and version is None:
        raise ReportVersion.DoesNotExist(f"no version {version_number}")
    assessment = current_assessment(incident)
    counted = stored_figures(version) if version_number and version else figures.count(incident)
    return drafts.build(
        incident=incident,
        stage=stage,
        report=found,
        version=version,
        assessment=assessment,
        clocks=clocks(incident, assessment),
        situations=situations(incident, assessment),
        counted=counted,
        published=published_announcement(incident),
    )


def submitted_stages(incident: Incident) -> dict[str, Report]:
    """The incident's reports marked submitted, by stage."""
    return {
        report.stage: report
        for report in Report.objects.filter(incident=incident, submitted_on__isnull=False).order_by()
    }


def dashboard_clocks(incident: Incident, now: datetime | None = None) -> list[deadlines.Countdown]:
    """Each clock with the time left and how loudly to warn; a submitted APPI report's clock is done.
    (Other regimes' filings are not tracked here yet: their clocks run until the deadline.)"""
    now = now or timezone.now()
    done = submitted_stages(incident)
    return [
        deadlines.countdown(clock, now, done=clock.regime == "appi" and clock.key in done)
        for clock in clocks(incident)
    ]


def announcements(incident: Incident) -> list[AnnouncementVersion]:
    """Every saved version of the public announcement, newest first."""
    return list(AnnouncementVersion.objects.filter(incident=incident).order_by("-number"))


def published_announcement(incident: Incident) -> AnnouncementVersion | None:
    """The version the public page shows: the one published last, or None before any is."""
    return (
        AnnouncementVersion.objects.filter(incident=incident, published_at__isnull=False)
        .order_by("-published_at", "-pk")
        .first()
    )
