"""Whether an incident must be reported to the PPC (施行規則第7条), as far as owabi's data can tell.

Four situations, any one of which makes a leak reportable unless the data was under 高度な暗号化 with its
key safe (research/japan.md §1.1, §1.4):
1. 要配慮個人情報 (sensitive) — from 1 person;
2. 財産的被害が生じるおそれ (financial: card data, bank accounts, log-ins) — from 1 person;
3. 不正の目的をもって行われたおそれ (malicious: an attack, insider theft) — from 1 person;
4. more than 1,000 people (regimes.toml threshold_people).
The first two are derived from the categories present in the records (and those the team declared),
the third from the incident, the fourth from the resolved people. A person then confirms or corrects
each (services.assess), with a note where they decide otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.records import selectors as records
from owabi.reports.deadlines import regime
from owabi.reports.models import SITUATIONS

LABELS = {
    "sensitive": ("第1号", "要配慮個人情報が含まれる"),
    "financial": ("第2号", "不正に利用されることにより財産的被害が生じるおそれ"),
    "malicious": ("第3号", "不正の目的をもって行われたおそれ"),
    "many_people": ("第4号", "本人の数が1,000人を超える"),
}


@dataclass(frozen=True)
class Finding:
    situation: str
    applies: bool
    basis: dict[str, Any] = field(default_factory=dict)  # counts and category codes, never values


@dataclass(frozen=True)
class Derived:
    findings: dict[str, Finding]

    @property
    def situations(self) -> list[str]:
        return [name for name in SITUATIONS if self.findings[name].applies]


def conclude(situations: dict[str, bool], *, encrypted: bool, key_safe: bool) -> bool:
    """Reportable: any situation applies, and the data was not both strongly encrypted and its key safe."""
    return any(situations.get(name, False) for name in SITUATIONS) and not (encrypted and key_safe)


def derive(incident: Incident) -> Derived:
    present = records.category_counts(incident=incident)
    declared = [code for code in incident.declared_categories if categories.is_known(code)]
    known = sorted(
        set(present) | set(declared),
        key=lambda code: (
            list(categories.BY_CODE).index(code) if categories.is_known(code) else len(categories.BY_CODE)
        ),
    )

    def flagged(attribute: str) -> dict[str, Any]:
        codes = [
            code for code in known if categories.is_known(code) and getattr(categories.get(code), attribute)
        ]
        return {
            "categories": codes,
            "records": {code: present.get(code, 0) for code in codes},
            "declared": [code for code in codes if code in declared],
        }

    sensitive, financial = flagged("sensitive"), flagged("financial")
    counted = records.counts(incident=incident)
    threshold = int(regime("appi").get("threshold_people", 1000))
    resolved = counted.subjects > 0 and counted.unresolved == 0
    people = counted.subjects if resolved else max(counted.subjects, counted.records)
    findings = {
        "sensitive": Finding("sensitive", bool(sensitive["categories"]), sensitive),
        "financial": Finding("financial", bool(financial["categories"]), financial),
        "malicious": Finding(
            "malicious", bool(incident.malicious), {"incident_malicious": incident.malicious}
        ),
        "many_people": Finding(
            "many_people",
            people > threshold,
            {
                "people": people,
                "threshold": threshold,
                "subjects": counted.subjects,
                "records": counted.records,
                # Before resolution the records stand in for the people: an upper bound for most exports,
                # to be confirmed once resolve has run.
                "counted_as": "subjects" if resolved else "records_before_resolution",
            },
        ),
    }
    return Derived(findings=findings)
