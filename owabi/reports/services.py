"""Writes of regulator reporting. Each validates, writes in one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from owabi.core import audit
from owabi.incidents.models import Incident
from owabi.reports import deadlines
from owabi.reports.models import SITUATIONS, Assessment
from owabi.reports.reportability import conclude, derive

NOTE_MAX = 2000


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
