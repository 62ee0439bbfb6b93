"""Reads of regulator reporting: the current assessment and the clocks that run for an incident."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from owabi.incidents.models import Incident
from owabi.reports import deadlines
from owabi.reports.models import Assessment


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


def countdowns(incident: Incident, now: datetime | None = None) -> list[deadlines.Countdown]:
    now = now or timezone.now()
    return [deadlines.countdown(clock, now) for clock in clocks(incident)]
