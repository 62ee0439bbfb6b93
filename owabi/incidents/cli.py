"""What management commands share about incidents."""

from __future__ import annotations

from django.core.management.base import CommandError

from owabi.incidents.models import Incident
from owabi.incidents.selectors import get_incident


def incident_or_error(slug: str) -> Incident:
    """The incident an `--incident` option names, or the one-line error every command gives."""
    incident = get_incident(slug=slug)
    if incident is None:
        raise CommandError(f"no incident with slug {slug!r}")
    return incident
