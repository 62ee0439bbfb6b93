from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from owabi.core import audit
from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.incidents.services import create_incident

pytestmark = pytest.mark.django_db


def test_creating_an_incident_is_audited() -> None:
    incident = create_incident(
        actor="cli",
        slug="wifi-2026",
        name="カード情報漏えい",
        discovered_on=date(2026, 11, 20),
        malicious=True,
        declared_categories=["card_security_code", "card_security_code"],
    )
    assert incident.declared_categories == ["card_security_code"]
    (event,) = audit.recent(limit=5)
    assert (event.action, event.object_id, event.actor) == ("incident.create", str(incident.pk), "cli")
    assert audit.verify().ok


def test_unknown_categories_are_refused() -> None:
    with pytest.raises(ValidationError, match="unknown category codes: blood_type"):
        create_incident(
            actor="t", slug="x", name="x", discovered_on=date(2026, 1, 1), declared_categories=["blood_type"]
        )
    assert not Incident.objects.exists()


def test_the_occurrence_window_must_be_ordered() -> None:
    with pytest.raises(ValidationError):
        create_incident(
            actor="t",
            slug="x",
            name="x",
            discovered_on=date(2026, 1, 1),
            occurred_from=date(2026, 2, 1),
            occurred_to=date(2026, 1, 1),
        )


def test_slugs_are_unique() -> None:
    create_incident(actor="t", slug="x", name="x", discovered_on=date(2026, 1, 1))
    with pytest.raises(ValidationError):
        create_incident(actor="t", slug="x", name="y", discovered_on=date(2026, 1, 1))


def test_the_command_creates_and_lists(capsys: pytest.CaptureFixture[str]) -> None:
    call_command(
        "incident",
        "create",
        "--slug",
        "edu",
        "--name",
        "会員情報漏えい",
        "--discovered-on",
        "2026-06-27",
        "--malicious",
        "--declare",
        "card_security_code",
    )
    call_command("incident", "list")
    out = capsys.readouterr().out
    assert "created incident edu" in out
    assert "edu\t2026-06-27\tinvestigating\t会員情報漏えい" in out
    with pytest.raises(CommandError, match="not a date"):
        call_command("incident", "create", "--slug", "y", "--name", "y", "--discovered-on", "27/06/2026")
    with pytest.raises(CommandError, match="declared_categories"):
        call_command(
            "incident",
            "create",
            "--slug",
            "z",
            "--name",
            "z",
            "--discovered-on",
            "2026-06-27",
            "--declare",
            "nope",
        )


def test_every_category_has_both_labels() -> None:
    assert len({c.code for c in categories.CATEGORIES}) == len(categories.CATEGORIES)
    for category in categories.CATEGORIES:
        assert category.ja and category.en
    assert categories.label("card_security_code") == "セキュリティコード"
    assert categories.label("card_security_code", "en") == "Card security code"
    assert categories.get("card_number").financial


@pytest.mark.parametrize(
    "args",
    [
        ["import", "{file}", "--incident", "nope"],
        ["resolve", "--incident", "nope"],
        ["resolve", "--incident", "nope", "--explain", "A1"],
        ["export", "clusters", "--incident", "nope", "--out", "{out}"],
        ["notices", "prepare", "--incident", "nope"],
        ["notices", "status", "--incident", "nope"],
    ],
    ids=["import", "resolve", "explain", "export", "notices prepare", "notices status"],
)
def test_every_command_names_an_unknown_incident_in_one_line(tmp_path, args: list[str]) -> None:
    leak = tmp_path / "leak.csv"
    leak.write_text("record_id,subject_name\nA1,山田 花子\n", encoding="utf-8")
    filled = [arg.format(file=leak, out=tmp_path / "out.csv") for arg in args]
    with pytest.raises(CommandError) as raised:
        call_command(*filled)
    assert str(raised.value) == "no incident with slug 'nope'"
    assert not (tmp_path / "out.csv").exists()
