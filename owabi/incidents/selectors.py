from __future__ import annotations

from owabi.incidents.models import Incident


def get_incident(*, slug: str) -> Incident | None:
    return Incident.objects.filter(slug=slug).first()


def closed_reason(incident: Incident) -> str:
    """Why nothing more may be imported, resolved or sent for the incident ("" while it is open).

    `owabi retention` closes an incident when it shreds its personal data: what is left are erased
    values and a legal-hold record, and a stage run on them would fail on the erased values or, worse,
    send notices with nothing true in them. Read from the database, not from the object passed in, which
    may have been loaded before retention ran.
    """
    status = Incident.objects.filter(pk=incident.pk).values_list("status", flat=True).first()
    if status != Incident.Status.CLOSED:
        return ""
    return (
        f"incident {incident.slug} is closed: its personal data was erased (owabi retention), "
        "so nothing more can be imported, resolved, prepared or sent for it"
    )
