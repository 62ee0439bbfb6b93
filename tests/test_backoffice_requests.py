"""The requests queue through HTTP: who may work it, taking a request, putting it back, finishing it
with a note, the person's confirmation e-mail, overdue requests flagged, and every view audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.utils import timezone

from owabi.core import jobs
from owabi.core.models import AuditEvent
from owabi.redress import services
from owabi.redress.models import Request
from tests.portal_support import PortalData
from tests.staff_clients import staff_client

pytestmark = pytest.mark.django_db


def _send_mail() -> None:
    for job in jobs.claim(worker_id="t", limit=50, lease_seconds=60, kinds=["redress.receipt"]):
        jobs.run_job(job=job, lease_seconds=60)


@pytest.fixture
def filed(portal_data: PortalData) -> dict[str, Request]:
    """A deletion for the guardian's first child, an opt-out and a corrected contact for the adult;
    their receipts mailed, so the outbox holds only what the queue sends."""
    data = portal_data
    made = {
        "delete": services.file_request(
            notice=data.guardian, kind="delete", person=data.people(data.guardian)[0], actor="t"
        ),
        "stop_marketing": services.file_request(notice=data.adult, kind="stop_marketing", actor="t"),
        "correct_contact": services.file_request(
            notice=data.adult, kind="correct_contact", contact={"phone": "090-1111-2222"}, actor="t"
        ),
    }
    _send_mail()
    mail.outbox.clear()
    return made


def test_agents_managers_and_admins_work_the_queue_and_no_one_else(
    portal_data: PortalData, filed: dict[str, Request]
) -> None:
    item = filed["delete"]
    for role in ("agent", "manager", "admin"):
        client = staff_client(f"{role}1", role)
        listing = client.get("/staff/requests?incident=test-leak").content.decode()
        assert all(r.reference in listing for r in filed.values()), role
        assert client.get(f"/staff/requests/{item.reference}").status_code == 200, role
    forms = [
        ("get", "/staff/requests", {}),
        ("get", f"/staff/requests/{item.reference}", {}),
        ("post", f"/staff/requests/{item.reference}/take", {}),
        ("post", f"/staff/requests/{item.reference}/release", {"reason": "x"}),
        ("post", f"/staff/requests/{item.reference}/complete", {"outcome": "done", "note": "x"}),
    ]
    for role in ("reviewer", "finance"):
        client = staff_client(f"{role}1", role)
        for method, url, form in forms:
            assert getattr(client, method)(url, form).status_code == 403, (role, url)
    for method, url, form in forms:
        assert getattr(Client(), method)(url, form)["Location"] == "/staff/login", url
    item.refresh_from_db()
    assert (item.status, item.owner) == ("open", None)
    agent = Client()
    assert agent.get("/staff/requests/R-NOPE-NOPE")["Location"] == "/staff/login"
    assert staff_client("agent9", "agent").get("/staff/requests/R-NOPE-NOPE").status_code == 404
    assert not mail.outbox


def test_a_request_is_taken_finished_with_a_note_and_the_person_is_told(
    portal_data: PortalData, filed: dict[str, Request]
) -> None:
    item = filed["delete"]
    alice, bob = staff_client("alice", "agent"), staff_client("bob", "manager")
    url = f"/staff/requests/{item.reference}"

    # Viewing it shows whose records it concerns, and is audited.
    before = AuditEvent.objects.count()
    page = alice.get(url).content.decode()
    assert "中村 結衣" in page and "K1" in page and "members" in page and "中村 由美" in page
    assert "完了するとメールでお知らせします" in page
    event = AuditEvent.objects.get(seq__gt=before)
    assert (event.action, event.object_id) == ("backoffice.view_request", str(item.pk))
    assert "中村" not in str(event.data)

    assert alice.post(f"{url}/take")["Location"] == url
    item.refresh_from_db()
    assert item.status == "in_progress" and item.owner.username == "alice"
    assert "alice" in alice.get("/staff/requests?incident=test-leak&mine=1").content.decode()
    assert item.reference not in bob.get("/staff/requests?incident=test-leak&mine=1").content.decode()

    # Another may take it over (audited with who held it), or put it back with a reason.
    bob.post(f"{url}/take")
    item.refresh_from_db()
    assert item.owner.username == "bob"
    took = AuditEvent.objects.filter(action="redress.request.take").last()
    assert took is not None and took.data["from_owner"] == User.objects.get(username="alice").pk
    assert bob.post(f"{url}/release", {"reason": ""}).status_code == 409
    assert bob.post(f"{url}/release", {"reason": "on leave"}).status_code == 302
    item.refresh_from_db()
    assert (item.status, item.owner) == ("open", None)

    # Finishing needs an outcome and a note; the note stays with the request, out of the e-mail.
    assert alice.post(f"{url}/complete", {"outcome": "done", "note": " "}).status_code == 409
    assert alice.post(f"{url}/complete", {"outcome": "open", "note": "x"}).status_code == 409
    note = "会員DBの該当レコードを削除（チケット CRM-4411）"
    assert alice.post(f"{url}/complete", {"outcome": "done", "note": note})["Location"] == url
    item.refresh_from_db()
    assert item.status == "done" and item.done_at is not None and item.owner.username == "alice"
    assert item.details["done_note"] == note
    assert "ご本人へ確認のメールを送ります" in alice.get(url).content.decode()
    assert alice.post(f"{url}/complete", {"outcome": "declined", "note": "again"}).status_code == 409
    assert bob.post(f"{url}/take").status_code == 409

    assert not mail.outbox  # after the commit, by the job worker
    _send_mail()
    [message] = mail.outbox
    assert message.to == ["yumi@example.jp"] and "【完了】" in message.subject
    assert item.reference in message.body and "削除しました" in message.body
    assert "CRM-4411" not in message.body
    _send_mail()
    assert len(mail.outbox) == 1  # once
    actions = list(
        AuditEvent.objects.filter(object_type="request", object_id=str(item.pk)).values_list(
            "action", flat=True
        )
    )
    assert [a for a in actions if a.startswith("redress.request.")] == [
        "redress.request.take",
        "redress.request.take",
        "redress.request.release",
        "redress.request.complete",
    ]
    assert "CRM-4411" not in str(list(AuditEvent.objects.values_list("data", "reason")))


def test_a_declined_request_asks_the_person_to_call(
    portal_data: PortalData, filed: dict[str, Request]
) -> None:
    item = filed["correct_contact"]
    agent = staff_client("agent1", "agent")
    page = agent.get(f"/staff/requests/{item.reference}").content.decode()
    assert "090-1111-2222" in page
    agent.post(
        f"/staff/requests/{item.reference}/complete", {"outcome": "declined", "note": "本人確認できず"}
    )
    item.refresh_from_db()
    assert item.status == "declined"
    _send_mail()
    [message] = mail.outbox
    assert message.to == ["makoto@example.jp"] and "対応できませんでした" in message.body


def test_overdue_requests_are_flagged(portal_data: PortalData, filed: dict[str, Request]) -> None:
    late = filed["stop_marketing"]
    Request.objects.filter(pk=late.pk).update(due_on=timezone.localdate() - timedelta(days=1))
    agent = staff_client("agent1", "agent")
    listing = agent.get("/staff/requests?incident=test-leak").content.decode()
    assert "期限を過ぎた未完了の依頼が 1件" in listing and "（期限超過）" in listing
    overdue = agent.get("/staff/requests?incident=test-leak&status=overdue").content.decode()
    assert late.reference in overdue and filed["delete"].reference not in overdue
    assert "期限超過" in agent.get(f"/staff/requests/{late.reference}").content.decode()
    agent.post(f"/staff/requests/{late.reference}/complete", {"outcome": "done", "note": "配信停止済"})
    assert "期限を過ぎた" not in agent.get("/staff/requests?incident=test-leak").content.decode()
