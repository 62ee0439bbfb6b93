"""Writes for incidents. Each service validates, writes, and records its audit event in one transaction."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction

from owabi.core import audit
from owabi.incidents import categories
from owabi.incidents.models import Incident


@transaction.atomic
def create_incident(
    *,
    actor: str,
    slug: str,
    name: str,
    discovered_on: date,
    occurred_from: date | None = None,
    occurred_to: date | None = None,
    cause: str = "",
    malicious: bool = False,
    declared_categories: list[str] | None = None,
) -> Incident:
    declared = list(dict.fromkeys(declared_categories or []))
    unknown = [code for code in declared if not categories.is_known(code)]
    if unknown:
        raise ValidationError({"declared_categories": f"unknown category codes: {', '.join(unknown)}"})
    incident = Incident(
        slug=slug,
        name=name,
        discovered_on=discovered_on,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        cause=cause,
        malicious=malicious,
        declared_categories=declared,
    )
    incident.full_clean()
    incident.save()
    audit.record(
        actor=actor,
        action="incident.create",
        object_type="incident",
        object_id=incident.pk,
        data={"slug": slug, "malicious": malicious, "declared_categories": declared},
    )
    return incident
