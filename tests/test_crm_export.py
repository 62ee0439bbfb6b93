"""The export of done deletions and opt-outs for the company's other systems: the command and the
download give the same documented CSV (docs/exports.md), system name and record id only, each export
audited; open, declined and other kinds of requests stay out."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from owabi.core import staff
from owabi.core.models import AuditEvent
from owabi.redress import request_queue, services
from owabi.redress.models import Request
from tests.portal_support import ROWS, PortalData
from tests.staff_clients import staff_client

pytestmark = pytest.mark.django_db

HEADER = ["request", "kind", "done_on", "system", "record_id"]


@pytest.fixture
def done(portal_data: PortalData) -> dict[str, Request]:
    data = portal_data
    worker = staff.add_staff(username="worker", roles=["agent"], actor="t").user
    child = data.people(data.guardian)[0]
    made = {
        "delete": services.file_request(notice=data.guardian, kind="delete", person=child, actor="t"),
        "opt_out": services.file_request(notice=data.guardian, kind="stop_marketing", actor="t"),  # everyone
        "open": services.file_request(notice=data.adult, kind="delete", actor="t"),
        "declined": services.file_request(notice=data.twin_a, kind="delete", actor="t"),
        "contact": services.file_request(
            notice=data.adult, kind="correct_contact", contact={"phone": "090-1"}, actor="t"
        ),
    }
    for key in ("delete", "opt_out", "contact"):
        request_queue.complete(request=made[key], user=worker, note="done")  # type: ignore[arg-type]
    request_queue.complete(request=made["declined"], user=worker, note="no", outcome="declined")  # type: ignore[arg-type]
    return made


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_command_writes_system_and_record_id_of_done_deletions_and_opt_outs(
    portal_data: PortalData, done: dict[str, Request], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "crm" / "requests.csv"
    call_command("redress", "export-requests", "--incident", "test-leak", "--out", str(out))
    assert out.stat().st_mode & 0o777 == 0o600
    text = out.read_text(encoding="utf-8")
    today = timezone.localdate().isoformat()
    rows = _rows(text)
    assert rows[0] == HEADER
    assert sorted(rows[1:]) == sorted(
        [
            [done["delete"].reference, "delete", today, "members", "K1"],
            [done["opt_out"].reference, "stop_marketing", today, "members", "K1"],
            [done["opt_out"].reference, "stop_marketing", today, "members", "K2"],
        ]
    )
    assert "3 records of 2 done requests" in capsys.readouterr().out
    for line in ROWS.splitlines():  # no leaked value but the record id
        for value in line.split(",")[1:]:
            if value:
                assert value not in text, value
    event = AuditEvent.objects.get(action="redress.requests.export")
    assert event.actor == "cli" and event.data["rows"] == 3 and event.data["via"] == "file"
    assert "K1" not in str(event.data)

    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    call_command(
        "redress", "export-requests", "--incident", "test-leak", "--out", str(out), "--since", tomorrow
    )
    assert _rows(out.read_text(encoding="utf-8")) == [HEADER]
    with pytest.raises(CommandError, match="--since must be YYYY-MM-DD"):
        call_command(
            "redress", "export-requests", "--incident", "test-leak", "--out", str(out), "--since", "x"
        )
    with pytest.raises(CommandError, match="a folder"):
        call_command("redress", "export-requests", "--incident", "test-leak", "--out", str(tmp_path))


def test_the_page_download_is_the_same_file_audited_and_for_request_staff_only(
    portal_data: PortalData, done: dict[str, Request], tmp_path: Path
) -> None:
    out = tmp_path / "requests.csv"
    call_command("redress", "export-requests", "--incident", "test-leak", "--out", str(out))
    agent = staff_client("agent1", "agent")
    assert "CSV をダウンロード" in agent.get("/staff/requests?incident=test-leak").content.decode()
    assert agent.get("/staff/requests/export.csv?incident=test-leak").status_code == 405
    response = agent.post("/staff/requests/export.csv", {"incident": "test-leak"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "no-store" in response["Cache-Control"] and "attachment" in response["Content-Disposition"]
    assert response.content == out.read_bytes()
    assert (
        agent.post("/staff/requests/export.csv", {"incident": "test-leak", "since": "soon"}).status_code
        == 409
    )
    event = AuditEvent.objects.filter(action="redress.requests.export").last()
    assert event is not None and event.data["via"] == "download" and event.actor.startswith("staff:")
    for role in ("reviewer", "finance"):
        client = staff_client(f"{role}1", role)
        assert client.post("/staff/requests/export.csv", {"incident": "test-leak"}).status_code == 403
    assert (
        Client().post("/staff/requests/export.csv", {"incident": "test-leak"})["Location"] == "/staff/login"
    )
    assert AuditEvent.objects.filter(action="redress.requests.export").count() == 2
