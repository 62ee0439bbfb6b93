"""The back office's regulator pages through HTTP: who may open them, the clocks on the dashboard with
their warnings, confirming reportability, saving versions, downloading and marking a report submitted."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from owabi.core.models import AuditEvent
from owabi.incidents.services import create_incident
from owabi.reports import selectors
from owabi.reports.models import Assessment, ReportVersion
from tests.portal_support import PortalData, sign_in
from tests.test_backoffice import _staff

pytestmark = pytest.mark.django_db

PAGES = ["/staff/report", "/staff/report/download?stage=final&format=md"]
POSTS = ["/staff/report/assess", "/staff/report/save", "/staff/report/submitted"]


def test_only_managers_and_admins_open_the_report_pages(portal_data: PortalData) -> None:
    manager, _ = _staff("manager1", "manager")
    admin, _ = _staff("admin1", "admin")
    for client in (manager, admin):
        for path in PAGES:
            assert client.get(path).status_code == 200, path
    for role in ("agent", "reviewer", "finance"):
        client, _ = _staff(f"{role}1", role)
        assert client.get("/staff/").status_code == 200  # the dashboard, with the clocks
        for path in PAGES:
            assert client.get(path).status_code == 403, (role, path)
        for path in POSTS:
            assert client.post(path, {"stage": "final", "cause": "x"}).status_code == 403, (role, path)
    person = Client()
    sign_in(person, portal_data.adult)
    for client in (Client(), person):  # anonymous, and a person signed in to the portal
        for path in PAGES + POSTS:
            response = client.post(path) if path in POSTS else client.get(path)
            assert response["Location"] == "/staff/login", path
    assert manager.get("/staff/report/assess").status_code == 405
    assert ReportVersion.objects.count() == 0 and Assessment.objects.count() == 0


def test_the_dashboard_shows_time_left_and_warns_as_a_deadline_nears(db: None) -> None:
    today = timezone.localdate()
    create_incident(actor="t", slug="calm", name="余裕のある事案", discovered_on=today)
    near = create_incident(
        actor="t", slug="near", name="期限の近い事案", discovered_on=today - timedelta(days=29)
    )
    agent, _ = _staff("agent1", "agent")
    calm = agent.get("/staff/?incident=calm").content.decode()
    assert "報告の期限" in calm and "あと 4日" in calm and "（近づいています）" in calm  # 速報: day 5
    assert 'class="alert"' not in calm
    assert "/staff/report" not in calm  # an agent is not offered the report page
    page = agent.get(f"/staff/?incident={near.slug}").content.decode()
    assert "期限超過" in page  # 速報 long past
    assert "（間近）" in page and 'class="alert"' in page  # 確報: day 30 is today
    manager, _ = _staff("manager1", "manager")
    assert "/staff/report?incident=near" in manager.get(f"/staff/?incident={near.slug}").content.decode()


def test_a_manager_confirms_reportability(portal_data: PortalData) -> None:
    manager, _ = _staff("manager1", "manager")
    slug = portal_data.incident.slug  # type: ignore[attr-defined]
    page = manager.get(f"/staff/report?incident={slug}").content.decode()
    assert "未確認" in page and "クレジットカード番号" in page
    refused = manager.post(
        "/staff/report/assess", {"incident": slug, "situation_malicious": "yes", "situation_financial": "yes"}
    )
    assert refused.status_code == 400 and "malicious" in refused.content.decode()  # no note
    done = manager.post(
        "/staff/report/assess",
        {
            "incident": slug,
            "stage": "final",
            "situation_malicious": "yes",
            "note_malicious": "不正アクセスの痕跡を確認",
            "situation_financial": "yes",
            "regimes": ["appi", "gdpr"],
            "aware_at": "2026-11-01T09:30",
        },
    )
    assert done.status_code == 302 and "saved=assessment" in done["Location"]
    assessment = Assessment.objects.get()
    assert assessment.situations == ["financial", "malicious"] and assessment.regimes == ["appi", "gdpr"]
    assert assessment.confirmed_by.startswith("staff:")
    page = manager.get(f"/staff/report?incident={slug}&stage=final").content.decode()
    assert "報告が必要" in page and "監督機関への通知" in page and "60日（不正の目的のおそれ）" in page
    bad_time = manager.post("/staff/report/assess", {"incident": slug, "aware_at": "yesterday"})
    assert bad_time.status_code == 400


def test_a_manager_edits_versions_downloads_and_submits(portal_data: PortalData) -> None:
    manager, _ = _staff("manager1", "manager")
    incident = portal_data.incident
    slug = incident.slug  # type: ignore[attr-defined]
    for cause in ("SQLインジェクション", "SQLインジェクション（確定）"):
        response = manager.post("/staff/report/save", {"incident": slug, "stage": "final", "cause": cause})
        assert response.status_code == 302
    versions = selectors.versions(incident, "final")  # type: ignore[arg-type]
    assert [v.number for v in versions] == [2, 1] and versions[0].texts[
        "cause"
    ] == "SQLインジェクション（確定）"
    page = manager.get(f"/staff/report?incident={slug}&stage=final").content.decode()
    assert "第2版" in page and "第1版" in page and "SQLインジェクション（確定）" in page
    pdf = manager.get(f"/staff/report/download?incident={slug}&stage=final&format=pdf&version=1")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
    assert "attachment" in pdf["Content-Disposition"] and "no-store" in pdf["Cache-Control"]
    data = json.loads(manager.get(f"/staff/report/download?incident={slug}&stage=final&format=json").content)
    assert data["version"] == 2 and data["items"][3]["text"] == "SQLインジェクション（確定）"
    assert AuditEvent.objects.filter(action="backoffice.download_report").count() == 2
    assert manager.get(f"/staff/report/download?incident={slug}&stage=final&format=exe").status_code == 404
    assert manager.get(f"/staff/report/download?incident={slug}&stage=final&version=9").status_code == 404
    assert manager.get(f"/staff/report/download?incident={slug}&stage=final&version=x").status_code == 404
    assert manager.post("/staff/report/submitted", {"incident": slug, "stage": "final"}).status_code == 400
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    assert (
        manager.post(
            "/staff/report/submitted", {"incident": slug, "stage": "final", "submitted_on": future}
        ).status_code
        == 400
    )
    today = timezone.localdate().isoformat()
    ok = manager.post("/staff/report/submitted", {"incident": slug, "stage": "final", "submitted_on": today})
    assert ok.status_code == 302
    page = manager.get(f"/staff/report?incident={slug}&stage=final").content.decode()
    assert "提出済み" in page and "新しい版として保存" not in page
    late_edit = manager.post("/staff/report/save", {"incident": slug, "stage": "final", "cause": "x"})
    assert late_edit.status_code == 400
    dashboard = manager.get(f"/staff/?incident={slug}").content.decode()
    assert "提出済み" in dashboard  # the final report's clock stops


def test_an_unknown_incident_is_not_found(portal_data: PortalData) -> None:
    manager, _ = _staff("manager1", "manager")
    assert manager.get("/staff/report?incident=nope").status_code == 404
    assert manager.post("/staff/report/save", {"incident": "nope", "cause": "x"}).status_code == 404
