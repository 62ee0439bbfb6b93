"""The regulator clocks on the dashboard: a tag, so the dashboard's view (views.home) stays as it is.
Two small queries (the assessment and the submitted reports), no personal data."""

from __future__ import annotations

from typing import Any

from django import template

from owabi.core.roles import can
from owabi.incidents.models import Incident
from owabi.reports import selectors

register = template.Library()


@register.inclusion_tag("backoffice/_deadlines.html", takes_context=True)
def report_clocks(context: dict[str, Any], incident: Incident) -> dict[str, Any]:
    user = context.get("user")
    return {
        "incident": incident,
        "clocks": selectors.dashboard_clocks(incident),
        "may_report": user is not None and can(user, "report"),
    }
