"""The back office through HTTP: sign-in with a second factor, what each role may open, four eyes on
claim approvals, an audit event on every view of personal data, the dashboard and its CSV."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from PIL import Image, ImageDraw, PngImagePlugin

from owabi.core import staff
from owabi.core.models import AuditEvent
from owabi.redress.models import Claim
from tests.portal_support import PortalData, sign_in

pytestmark = pytest.mark.django_db


def _token(username: str) -> str:
    device = TOTPDevice.objects.get(user__username=username)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def _staff(username: str, *roles: str) -> tuple[Client, str]:
    made = staff.add_staff(username=username, roles=list(roles), actor="test")
    client = Client()
    assert client.post("/staff/login", {"username": username, "password": made.password}).status_code == 302
    assert client.post("/staff/login/code", {"token": _token(username)})["Location"] == "/staff/"
    return client, made.password


def _png() -> bytes:
    """A photo of a receipt, carrying a text chunk a viewer might act on."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<script>alert(1)</script>")
    receipt = Image.new("RGB", (240, 320), "white")
    lines = ImageDraw.Draw(receipt)
    for y in range(30, 290, 24):  # lines of print, a total at the foot
        lines.rectangle((20, y, 220 if y < 260 else 120, y + 8), fill="#555")
    out = io.BytesIO()
    receipt.save(out, "PNG", pnginfo=info)
    return out.getvalue()


@pytest.fixture
def claim(portal_data: PortalData) -> Claim:
    client = Client()
    sign_in(client, portal_data.adult)
    person = portal_data.people(portal_data.adult)[0]
    client.post(
        "/me/claims/new",
        {
            "person": str(person),
            "kind": "reissue_fee",
            "amount_yen": "1100",
            "description": "再発行",
            "bank_code": "0001",
            "branch_code": "001",
            "account_type": "1",
            "account_number": "7654321",
            "holder": "コバヤシ マコト",
            "agree": "on",
            "evidence": io.BytesIO(_png()),
        },
    )
    return Claim.objects.get()


STAFF_PAGES = ["/staff/", "/staff/dashboard.csv", "/staff/claims", "/staff/requests", "/staff/codes"]


def test_no_staff_page_opens_without_the_second_factor(portal_data: PortalData) -> None:
    made = staff.add_staff(username="half", roles=["manager"], actor="test")
    client = Client()
    client.post("/staff/login", {"username": "half", "password": made.password})
    for path in STAFF_PAGES:
        assert client.get(path)["Location"] == "/staff/login", path
    assert client.post("/staff/login/code", {"token": "000000"}).status_code == 200  # wrong code
    assert client.get("/staff/")["Location"] == "/staff/login"
    assert Client().get("/staff/claims")["Location"] == "/staff/login"  # anonymous
    signed = Client()  # a person signed in to the portal is not staff
    sign_in(signed, portal_data.adult)
    assert signed.get("/staff/")["Location"] == "/staff/login"


def test_a_wrong_password_and_an_unknown_user_fail_alike_and_are_throttled(portal_data: PortalData) -> None:
    staff.add_staff(username="agent1", roles=["agent"], actor="test")
    client = Client()
    first = client.post("/staff/login", {"username": "agent1", "password": "nope"}).content
    second = client.post("/staff/login", {"username": "nobody", "password": "nope"}).content
    assert b"\xe6\xad\xa3\xe3\x81\x97\xe3\x81\x8f" in first and first.count(b"alert") == second.count(
        b"alert"
    )
    statuses = [
        client.post("/staff/login", {"username": "agent1", "password": "x"}).status_code for _ in range(6)
    ]
    assert statuses[-1] == 429


def test_each_role_opens_only_its_pages(portal_data: PortalData, claim: Claim) -> None:
    agent, _ = _staff("agent1", "agent")
    finance, _ = _staff("finance1", "finance")
    reviewer, _ = _staff("reviewer1", "reviewer")
    evidence = claim.evidence.get()
    assert agent.get("/staff/").status_code == 200
    assert agent.get("/staff/claims").status_code == 403
    assert agent.get(f"/staff/claims/{claim.reference}").status_code == 403
    assert (
        agent.post(
            f"/staff/claims/{claim.reference}/decide", {"decision": "approve", "reason": "x"}
        ).status_code
        == 403
    )
    assert agent.get("/staff/requests").status_code == 200
    assert finance.get(f"/staff/evidence/{evidence.pk}/1.png").status_code == 403
    assert finance.get("/staff/codes").status_code == 200
    assert reviewer.get("/staff/codes").status_code == 403
    image = reviewer.get(f"/staff/evidence/{evidence.pk}/1.png")
    assert (
        image.status_code == 200
        and image["Content-Type"] == "image/png"
        and "no-store" in image["Cache-Control"]
    )
    assert b"<script>" in bytes(evidence.content)
    assert image.content.startswith(b"\x89PNG") and b"<script>" not in image.content  # pixels re-drawn
    assert reviewer.get(f"/staff/evidence/{evidence.pk}/2.png").status_code == 404
    claim.refresh_from_db()
    assert claim.status == "submitted"


def test_every_view_of_personal_data_is_audited(portal_data: PortalData, claim: Claim) -> None:
    reviewer, _ = _staff("reviewer1", "reviewer")
    before = AuditEvent.objects.count()
    page = reviewer.get(f"/staff/claims/{claim.reference}").content.decode()
    assert "ｺﾊﾞﾔｼ ﾏｺﾄ" in page and "7654321" not in page  # the account number is shown masked
    reviewer.get(f"/staff/evidence/{claim.evidence.get().pk}/1.png")
    actions = list(AuditEvent.objects.filter(seq__gt=before).values_list("action", flat=True))
    assert actions == ["backoffice.view_claim", "backoffice.view_evidence"]


def test_an_approval_needs_a_second_reviewer(portal_data: PortalData, claim: Claim) -> None:
    first, _ = _staff("reviewer1", "reviewer")
    second, _ = _staff("reviewer2", "reviewer")
    url = f"/staff/claims/{claim.reference}/decide"
    assert first.post(url, {"decision": "approve", "reason": "receipt matches"}).status_code == 302
    claim.refresh_from_db()
    assert claim.status == "recommended"
    again = first.post(url, {"decision": "approve", "reason": "again"})
    assert again.status_code == 409 and "別の担当者" in again.content.decode()
    assert second.post(url, {"decision": "approve", "reason": "checked"}).status_code == 302
    claim.refresh_from_db()
    assert claim.status == "approved" and claim.first_approver_id != claim.decided_by_id
    assert second.post(url, {"decision": "reject", "reason": "late", "message": "x"}).status_code == 409
    # The database refuses one person approving twice, whatever code writes the row.
    with pytest.raises(IntegrityError), transaction.atomic():
        Claim.objects.filter(pk=claim.pk).update(decided_by=claim.first_approver)


def test_a_rejection_tells_the_claimant_why(portal_data: PortalData, claim: Claim) -> None:
    reviewer, _ = _staff("reviewer1", "reviewer")
    url = f"/staff/claims/{claim.reference}/decide"
    assert reviewer.post(url, {"decision": "reject", "reason": "no receipt"}).status_code == 409  # no message
    reviewer.post(
        url, {"decision": "reject", "reason": "no receipt", "message": "領収書が確認できませんでした。"}
    )
    person = Client()
    sign_in(person, portal_data.adult)
    page = person.get(f"/me/claims/{claim.reference}").content.decode()
    assert "お支払いできません" in page and "領収書が確認できませんでした" in page


def test_fraud_signals_flag_a_payee_account_used_by_someone_else(
    portal_data: PortalData, claim: Claim
) -> None:
    other = Client(REMOTE_ADDR="198.51.100.9")  # another household, on another connection
    sign_in(other, portal_data.guardian)
    child = portal_data.people(portal_data.guardian)[0]
    other.post(
        "/me/claims/new",
        {
            "person": str(child),
            "kind": "other_loss",
            "amount_yen": "99000",
            "description": "損害",
            "bank_code": "0001",
            "branch_code": "001",
            "account_type": "1",
            "account_number": "7654321",
            "holder": "ナカムラ ユミ",
            "agree": "on",
            "evidence": io.BytesIO(_png()),
        },
    )
    second = Claim.objects.exclude(pk=claim.pk).get()
    assert {s["code"] for s in second.signals} == {"payee_reuse", "over_cap"} and second.score == 55
    reviewer, _ = _staff("reviewer1", "reviewer")
    listing = reviewer.get("/staff/claims?flagged=1").content.decode()
    assert second.reference in listing
    assert "同じ振込先口座" in reviewer.get(f"/staff/claims/{second.reference}").content.decode()


def test_the_dashboard_counts_the_funnel_and_exports_it(portal_data: PortalData, claim: Claim) -> None:
    manager, _ = _staff("manager1", "manager")
    page = manager.get("/staff/").content.decode()
    assert "流出したレコード" in page and "通知を送付" in page
    csv = manager.get("/staff/dashboard.csv")
    assert csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode()
    assert "funnel,records,5" in text and "funnel,people,5" in text and "claims,submitted,1" in text


def test_staff_sessions_end_when_idle(portal_data: PortalData) -> None:
    client, _ = _staff("agent1", "agent")
    session = client.session
    session["staff.seen"] = int(time.time()) - 16 * 60
    session.save()
    assert client.get("/staff/")["Location"] == "/staff/login?idle=1"
    assert client.get("/staff/")["Location"] == "/staff/login"


def test_the_admin_is_for_superusers_with_the_second_factor(portal_data: PortalData) -> None:
    manager, _ = _staff("manager1", "manager")
    assert manager.get("/admin/").status_code == 302  # staff, verified, but not a superuser
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", password="correct horse battery staple")
    plain = Client()
    plain.force_login(root)  # a password session without the second factor
    assert plain.get("/admin/").status_code == 302


def test_the_staff_command_makes_an_account_with_a_second_factor(portal_data: PortalData, capsys) -> None:
    call_command("staff", "add", "clerk", "--role", "agent", "--role", "finance")
    out = capsys.readouterr().out
    assert "otpauth://totp/" in out and "password (shown once)" in out
    assert TOTPDevice.objects.filter(user__username="clerk").count() == 1
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="exists already"):
        call_command("staff", "add", "clerk", "--role", "agent")


def test_the_demo_can_read_its_second_factor_in_development_only(portal_data: PortalData, capsys) -> None:
    from django.core.management.base import CommandError
    from django.test import override_settings

    staff.add_staff(username="demo-manager", roles=["manager"], actor="test")
    call_command("staff", "code", "demo-manager")
    code = capsys.readouterr().out.strip()
    assert len(code) == 6 and code.isdigit() and code == _token("demo-manager")
    with override_settings(PRODUCTION=True), pytest.raises(CommandError, match="development only"):
        call_command("staff", "code", "demo-manager")
