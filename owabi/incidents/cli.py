"""What management commands share about incidents."""

from __future__ import annotations

from django.core.management.base import CommandError

from owabi.incidents.models import Incident
from owabi.incidents.selectors import closed_reason, get_incident


def incident_or_error(slug: str, *, open_only: bool = False) -> Incident:
    """The incident an `--incident` option names, or the one-line error every command gives.
    `open_only`: a stage that works on personal data also refuses a closed incident (retention ran)."""
    incident = get_incident(slug=slug)
    if incident is None:
        raise CommandError(f"no incident with slug {slug!r}")
    if open_only and (reason := closed_reason(incident)):
        raise CommandError(reason)
    return incident
