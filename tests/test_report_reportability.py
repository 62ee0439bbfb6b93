"""Reportability under 施行規則第7条: each of the four situations derived from the incident's data, their
combinations, the 高度な暗号化 exemption, a person's confirmation (with a note where they decide
otherwise), and the 60-day final report that follows a malicious finding."""

from __future__ import annotations

from datetime import date
from itertools import product
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from owabi.core.models import AuditEvent
from owabi.incidents.models import Incident
from owabi.incidents.services import create_incident
from owabi.records.services import import_file
from owabi.reports import selectors, services
from owabi.reports.models import SITUATIONS
from owabi.reports.reportability import conclude, derive
from tests.portal_support import PortalData

pytestmark = pytest.mark.django_db

PLAIN = "record_id,subject_name,subject_birth_date,address\n"


def _import(incident: Incident, tmp_path: Path, header: str, rows: list[str]) -> None:
    path = tmp_path / "leak.csv"
    path.write_text(header + "".join(row + "\n" for row in rows), encoding="utf-8")
    import_file(incident=incident, path=path, source="members", actor="t")


def _people(n: int) -> list[str]:
    return [f"R{i},試験 {i}号,1980-01-01,東京都千代田区1-{i}" for i in range(n)]


@pytest.mark.parametrize("situations", list(product([False, True], repeat=4)))
def test_any_situation_makes_it_reportable_unless_encrypted_with_the_key_safe(
    situations: tuple[bool, ...],
) -> None:
    given = dict(zip(SITUATIONS, situations, strict=True))
    assert conclude(given, encrypted=False, key_safe=False) is any(situations)
    assert conclude(given, encrypted=True, key_safe=False) is any(situations)  # the key leaked too
    assert conclude(given, encrypted=True, key_safe=True) is False


def test_names_and_addresses_of_a_few_people_are_not_reportable(incident: Incident, tmp_path: Path) -> None:
    _import(incident, tmp_path, PLAIN, _people(3))
    derived = derive(incident)
    assert derived.situations == []
    assert derived.findings["many_people"].basis["people"] == 3


def test_card_data_is_financial_from_one_person(incident: Incident, tmp_path: Path) -> None:
    _import(incident, tmp_path, "record_id,subject_name,card_brand,card_last4\n", ["C1,試験 太郎,VISA,4242"])
    finding = derive(incident).findings["financial"]
    assert finding.applies
    assert "card_number" in finding.basis["categories"]
    assert finding.basis["records"]["card_number"] == 1


def test_a_declared_category_counts_though_no_row_holds_it(tmp_path: Path, db: None) -> None:
    leak = create_incident(
        actor="t",
        slug="cvv",
        name="x",
        discovered_on=date(2026, 11, 1),
        declared_categories=["card_security_code"],
    )
    _import(leak, tmp_path, PLAIN, _people(1))
    finding = derive(leak).findings["financial"]
    assert finding.applies and finding.basis["declared"] == ["card_security_code"]


def test_health_data_is_sensitive(tmp_path: Path, db: None) -> None:
    leak = create_incident(
        actor="t", slug="clinic", name="x", discovered_on=date(2026, 11, 1), declared_categories=["health"]
    )
    _import(leak, tmp_path, PLAIN, _people(1))
    assert derive(leak).situations == ["sensitive"]


def test_a_malicious_incident_is_situation_3_and_gets_60_days(tmp_path: Path, db: None) -> None:
    leak = create_incident(actor="t", slug="hack", name="x", discovered_on=date(2026, 11, 1), malicious=True)
    assert derive(leak).situations == ["malicious"]
    final = next(c for c in selectors.clocks(leak) if c.key == "final")
    assert final.days[0].on == date(2026, 12, 30) and final.days[0].closed == ("年末年始",)


@pytest.mark.parametrize(("people", "applies"), [(1000, False), (1001, True)])
def test_more_than_1000_people(incident: Incident, tmp_path: Path, people: int, applies: bool) -> None:
    _import(incident, tmp_path, PLAIN, _people(people))
    finding = derive(incident).findings["many_people"]
    assert finding.applies is applies
    assert finding.basis["counted_as"] == "records_before_resolution"


def test_resolved_people_are_counted_as_subjects(portal_data: PortalData) -> None:
    finding = derive(portal_data.incident).findings["many_people"]  # type: ignore[arg-type]
    assert finding.basis["counted_as"] == "subjects"
    assert finding.basis["records"] == 5 and finding.basis["people"] == finding.basis["subjects"] == 5
    # A VISA card and a card's last 4 digits: financial, from one person.
    assert derive(portal_data.incident).situations == ["financial"]  # type: ignore[arg-type]


def test_combinations_card_data_by_an_attacker_to_many(tmp_path: Path, db: None) -> None:
    leak = create_incident(
        actor="t",
        slug="excom",
        name="x",
        discovered_on=date(2026, 11, 1),
        malicious=True,
        declared_categories=["card_security_code", "health"],
    )
    _import(leak, tmp_path, PLAIN, _people(1001))
    assert derive(leak).situations == ["sensitive", "financial", "malicious", "many_people"]


def test_a_person_confirms_and_may_decide_otherwise_only_with_a_note(
    incident: Incident, tmp_path: Path
) -> None:
    _import(incident, tmp_path, PLAIN, _people(2))
    assert selectors.current_assessment(incident) is None
    with pytest.raises(ValidationError) as error:
        services.assess(incident=incident, actor="staff:1", decisions={"malicious": True})
    assert "malicious" in error.value.message_dict
    assessment = services.assess(
        incident=incident,
        actor="staff:1",
        decisions={"malicious": True},
        notes={"malicious": "不正アクセスの痕跡をフォレンジック調査で確認"},
    )
    assert assessment.situations == ["malicious"] and assessment.reportable
    assert assessment.facts["malicious"]["derived"] is False
    assert assessment.confirmed_by == "staff:1"
    assert selectors.current_assessment(incident) == assessment
    # The confirmed finding moves the final report to 60 days, though the incident was not marked.
    final = next(c for c in selectors.clocks(incident) if c.key == "final")
    assert final.basis == "60日（不正の目的のおそれ）"
    event = AuditEvent.objects.filter(action="reports.assess").get()
    assert event.data["overridden"] == ["malicious"] and event.data["reportable"] is True


def test_the_exemption_needs_both_strong_encryption_and_a_safe_key_and_its_facts(
    incident: Incident, tmp_path: Path
) -> None:
    _import(incident, tmp_path, "record_id,subject_name,card_brand,card_last4\n", ["C1,試験 太郎,VISA,4242"])
    kept_key = services.assess(incident=incident, actor="staff:1", encrypted=True)
    assert kept_key.reportable and not kept_key.exempt
    with pytest.raises(ValidationError):
        services.assess(incident=incident, actor="staff:1", encrypted=True, key_safe=True)
    exempt = services.assess(
        incident=incident,
        actor="staff:1",
        encrypted=True,
        key_safe=True,
        exemption_note="AES-256-GCM; 鍵はHSMに別管理され漏えいしていない",
    )
    assert exempt.situations == ["financial"] and exempt.exempt and not exempt.reportable


def test_unknown_situations_and_regimes_are_refused(incident: Incident) -> None:
    with pytest.raises(ValidationError):
        services.assess(incident=incident, actor="t", decisions={"famous": True})
    with pytest.raises(ValidationError):
        services.assess(incident=incident, actor="t", regimes=["ccpa"])


def test_regimes_confirmed_add_their_clocks(incident: Incident) -> None:
    services.assess(incident=incident, actor="t", regimes=["appi", "gdpr"])
    assert [c.regime for c in selectors.clocks(incident)] == ["appi", "appi", "gdpr"]
