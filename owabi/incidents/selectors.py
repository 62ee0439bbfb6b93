from __future__ import annotations

from owabi.incidents.models import Incident


def get_incident(*, slug: str) -> Incident | None:
    return Incident.objects.filter(slug=slug).first()
