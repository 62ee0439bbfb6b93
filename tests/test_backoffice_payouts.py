"""The payouts page through HTTP: who may open it, a batch made from approved claims and approved by a
second person (four eyes, the same person refused), the 全銀 file downloaded by a POST and audited, and
the bank's result file uploaded to mark each transfer paid or returned (組戻し) with the bank's reason."""

from __future__ import annotations

import tomllib
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from owabi.core.models import AuditEvent
from owabi.redress import payouts, review, services
from owabi.redress.models import Claim, Payout, PayoutBatch
from owabi.redress.payees import check_account
from owabi.redress.uploads import Upload
from owabi.redress.zengin_check import validate
from tests.conftest import REPO
from tests.portal_support import PortalData, sign_in
from tests.staff_clients import staff_client

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)
ACCOUNTS = [  # (bank, branch, type, number, holder): the guardian's two children and the adult
    ("0001", "001", "1", "1234567", "ナカムラ ユイ"),
    ("9900", "019", "1", "7654321", "ナカムラ レン"),
    ("0009", "001", "2", "1111111", "コバヤシ マコト"),
]
SECRETS = ("ﾅｶﾑﾗ", "ナカムラ", "ｺﾊﾞﾔｼ", "1234567", "7654321", "1111111", "中村", "小林")


@pytest.fixture
def approved(portal_data: PortalData) -> list[Claim]:
    """Three claims approved by two reviewers through the claims review, and the payer account."""
    data = portal_data
    filed = []
    for (notice, index), account, amount in zip(
        [(data.guardian, 0), (data.guardian, 1), (data.adult, 0)],
        ACCOUNTS,
        [1100, 25_000, 3_300],
        strict=True,
    ):
        bank, branch, type_, number, holder = account
        filed.append(
            services.file_claim(
                notice=notice,
                person=data.people(notice)[index],
                kind="reissue_fee",
                amount_yen=amount,
                description="カードを再発行しました",
                occurred_on=None,
                account=check_account(
                    bank_code=bank,
                    branch_code=branch,
                    account_type=type_,
                    account_number=number,
                    holder=holder,
                ),
                uploads=[Upload(PNG, "image/png")],
                client="192.0.2.1",
                actor="t",
            )
        )
    first, second = (User.objects.create_user(name, is_staff=True) for name in ("rev1", "rev2"))
    for claim in filed:
        for reviewer in (first, second):
            review.decide(claim=claim, decision="approve", user=reviewer, reason="receipt checked")
    payer = tomllib.loads((REPO / "docs" / "notice-setup.example.toml").read_text(encoding="utf-8"))
    payouts.set_payer(incident=data.incident, payer=payer["redress"]["payer"], actor="t")  # type: ignore[arg-type]
    return filed


def _day() -> str:
    return (timezone.localdate() + timedelta(days=10)).isoformat()


def _made(client: Client, data: PortalData) -> PayoutBatch:
    response = client.post("/staff/payouts/create", {"incident": "test-leak", "transfer_date": _day()})
    batch = PayoutBatch.objects.get(status="draft")
    assert response.status_code == 302 and response["Location"] == f"/staff/payouts/{batch.reference}"
    return batch


def _answer(sent: bytes, codes: dict[int, str]) -> bytes:
    """The bank's result file: what was sent, each data record with its 振込結果コード (byte 114)."""
    out = []
    for record in sent.split(b"\r\n")[:-1]:
        if record[:1] == b"2":
            record = record[:113] + codes[int(record[91:101])].encode() + record[114:]
        out.append(record + b"\r\n")
    return b"".join(out)


def test_only_finance_manager_and_admin_open_the_payouts_page(
    portal_data: PortalData, approved: list[Claim]
) -> None:
    clients = {
        role: staff_client(f"{role}1", role) for role in ("agent", "reviewer", "finance", "manager", "admin")
    }
    for role in ("finance", "manager", "admin"):
        page = clients[role].get("/staff/payouts?incident=test-leak")
        assert page.status_code == 200, role
        assert "振込待ちの請求：<strong>3</strong>件" in page.content.decode()
    assert 'href="/staff/payouts?incident=test-leak"' in clients["finance"].get("/staff/").content.decode()
    assert "/staff/payouts" not in clients["agent"].get("/staff/").content.decode()  # no link either
    batch = _made(clients["finance"], portal_data)
    refused = [
        ("get", "/staff/payouts", {}),
        ("get", f"/staff/payouts/{batch.reference}", {}),
        ("post", "/staff/payouts/create", {"incident": "test-leak", "transfer_date": _day()}),
        ("post", f"/staff/payouts/{batch.reference}/approve", {}),
        ("post", f"/staff/payouts/{batch.reference}/cancel", {"reason": "x"}),
        ("post", f"/staff/payouts/{batch.reference}/file", {}),
        ("post", "/staff/payouts/results", {"incident": "test-leak"}),
    ]
    for role in ("agent", "reviewer"):
        for method, url, form in refused:
            assert getattr(clients[role], method)(url, form).status_code == 403, (role, url)
    for method, url, form in refused:  # anonymous: to the sign-in
        assert getattr(Client(), method)(url, form)["Location"] == "/staff/login", url
    batch.refresh_from_db()
    assert batch.status == "draft" and PayoutBatch.objects.count() == 1
    assert clients["finance"].get("/staff/payouts/B-NOPE-NOPE").status_code == 404


def test_a_batch_made_on_the_page_is_approved_by_a_second_person_and_downloaded_once(
    portal_data: PortalData, approved: list[Claim]
) -> None:
    alice, bob = staff_client("alice", "finance"), staff_client("bob", "finance")
    bad = alice.post("/staff/payouts/create", {"incident": "test-leak", "transfer_date": "2026-13-01"})
    assert bad.status_code == 409 and "YYYY-MM-DD" in bad.content.decode()
    batch = _made(alice, portal_data)
    page = alice.get(f"/staff/payouts/{batch.reference}").content.decode()
    assert "3件" in page and "29,400円" in page and "承認する" in page
    for secret in SECRETS:
        assert secret not in page
    again = alice.post("/staff/payouts/create", {"incident": "test-leak", "transfer_date": _day()})
    assert again.status_code == 409 and "no approved claim waits" in again.content.decode()

    # Four eyes: the creator is refused, with the reason on the page; the batch stays a draft.
    own = alice.post(f"/staff/payouts/{batch.reference}/approve")
    assert own.status_code == 409 and "別の担当者" in own.content.decode()
    batch.refresh_from_db()
    assert batch.status == "draft"
    early = bob.post(f"/staff/payouts/{batch.reference}/file")  # not approved yet: no file
    assert early.status_code == 409 and "approves it first" in early.content.decode()
    assert (
        bob.post(f"/staff/payouts/{batch.reference}/approve")["Location"]
        == f"/staff/payouts/{batch.reference}"
    )
    batch.refresh_from_db()
    assert batch.status == "approved" and batch.approved_by.username == "bob"

    # The file: only by POST, as an attachment, never cached; the first download marks it exported.
    assert alice.get(f"/staff/payouts/{batch.reference}/file").status_code == 405
    before = AuditEvent.objects.count()
    response = alice.post(f"/staff/payouts/{batch.reference}/file")
    assert response.status_code == 200 and response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'attachment; filename="zengin-{batch.reference}.txt"'
    assert "no-store" in response["Cache-Control"]
    sent = response.content
    assert validate(sent) == [] and "ﾅｶﾑﾗ ﾕｲ".encode("cp932") in sent
    batch.refresh_from_db()
    assert batch.status == "exported" and batch.exported_by.username == "alice"
    event = AuditEvent.objects.get(seq__gt=before)
    assert (event.action, event.actor) == ("redress.payouts.export", f"staff:{batch.exported_by_id}")
    assert event.data["file"] == "download" and event.data["again"] is False

    # Once more only on purpose, with a reason, byte for byte the same, and audited as such.
    assert alice.post(f"/staff/payouts/{batch.reference}/file").status_code == 409
    assert alice.post(f"/staff/payouts/{batch.reference}/file", {"again": "1"}).status_code == 409
    second = bob.post(f"/staff/payouts/{batch.reference}/file", {"again": "1", "reason": "file lost"})
    assert second.status_code == 200 and second.content == sent
    last = AuditEvent.objects.filter(action="redress.payouts.export").last()
    assert last is not None and last.data["again"] is True and last.reason == "file lost"
    assert bob.post(f"/staff/payouts/{batch.reference}/cancel", {"reason": "late"}).status_code == 409
    trail = str(list(AuditEvent.objects.values_list("data", "reason")))
    for secret in SECRETS:
        assert secret not in trail


def test_a_draft_is_cancelled_with_a_reason_and_its_claims_wait_for_the_next_batch(
    portal_data: PortalData, approved: list[Claim]
) -> None:
    alice = staff_client("alice", "finance")
    batch = _made(alice, portal_data)
    assert alice.post(f"/staff/payouts/{batch.reference}/cancel", {"reason": " "}).status_code == 409
    assert alice.post(f"/staff/payouts/{batch.reference}/cancel", {"reason": "wrong date"}).status_code == 302
    batch.refresh_from_db()
    assert batch.status == "cancelled"
    assert "振込待ちの請求：<strong>3</strong>件" in alice.get("/staff/payouts").content.decode()


def test_the_banks_result_file_uploaded_on_the_page_marks_transfers_paid_or_returned(
    portal_data: PortalData, approved: list[Claim]
) -> None:
    alice, bob = staff_client("alice", "finance"), staff_client("bob", "manager")
    batch = _made(alice, portal_data)
    bob.post(f"/staff/payouts/{batch.reference}/approve")
    sent = alice.post(f"/staff/payouts/{batch.reference}/file").content
    by_claim = {p.claim_id: p.pk for p in batch.payouts.all()}
    codes = {by_claim[approved[0].pk]: "0", by_claim[approved[1].pk]: "2", by_claim[approved[2].pk]: "0"}

    def upload(data: bytes) -> object:
        return bob.post(
            "/staff/payouts/results",
            {"incident": "test-leak", "file": SimpleUploadedFile("kekka.txt", data)},
        )

    assert upload(b"").status_code == 409
    garbled = upload(b"not a bank file\r\n")
    assert garbled.status_code == 409 and "できませんでした" in garbled.content.decode()
    response = upload(_answer(sent, codes))
    assert response["Location"] == f"/staff/payouts/{batch.reference}"
    page = bob.get(response["Location"]).content.decode()
    assert "振込済 2件、返却（組戻し）1件" in page and "受取人名相違" in page
    assert page.count("振込済") >= 3 and "振込不能・返却" in page
    for secret in SECRETS:
        assert secret not in page
    assert [Claim.objects.get(pk=c.pk).status for c in approved] == ["paid", "returned", "paid"]
    batch.refresh_from_db()
    assert batch.status == "settled"

    # The same file again changes nothing; a later 組戻し turns a paid transfer returned.
    assert "変更なし 3件" in bob.get(upload(_answer(sent, codes))["Location"]).content.decode()
    codes[by_claim[approved[2].pk]] = "5"
    upload(_answer(sent, codes))
    assert Payout.objects.get(claim=approved[2]).status == "returned"
    assert Claim.objects.get(pk=approved[2].pk).status == "returned"
    listing = bob.get("/staff/payouts").content.decode()
    assert "返却された請求：<strong>2</strong>件" in listing
    results = AuditEvent.objects.filter(action="redress.payouts.results")
    assert results.count() == 3 and {e.actor for e in results} == {
        f"staff:{User.objects.get(username='bob').pk}"
    }


# --- Returned transfers: a corrected account, then the next batch ------------------------------------------
def _paid_but_one_returned(data: PortalData, approved: list[Claim]) -> tuple[Client, Client, Claim]:
    """The first batch made, approved, sent and answered: the guardian's second claim came back."""
    alice, bob = staff_client("alice", "finance"), staff_client("bob", "manager")
    batch = _made(alice, data)
    bob.post(f"/staff/payouts/{batch.reference}/approve")
    sent = alice.post(f"/staff/payouts/{batch.reference}/file").content
    codes = {p.pk: "2" if p.claim_id == approved[1].pk else "0" for p in batch.payouts.all()}
    bob.post(
        "/staff/payouts/results",
        {"incident": "test-leak", "file": SimpleUploadedFile("k.txt", _answer(sent, codes))},
    )
    returned = Claim.objects.get(pk=approved[1].pk)
    assert returned.status == "returned"
    return alice, bob, returned


NEW_ACCOUNT = {
    "bank_code": "0001",
    "branch_code": "001",
    "account_type": "1",
    "account_number": "2222222",
    "holder": "なかむら れん",  # typed in hiragana: written as ﾅｶﾑﾗ ﾚﾝ
}


def test_the_claimant_corrects_a_returned_account_and_the_next_batch_pays_it(
    portal_data: PortalData, approved: list[Claim]
) -> None:
    alice, bob, returned = _paid_but_one_returned(portal_data, approved)
    old_payee = returned.payee_id
    url = f"/me/claims/{returned.reference}"

    stranger = Client()  # another person: the adult, signed in with their own notice
    sign_in(stranger, portal_data.adult)
    assert stranger.get(url).status_code == 404
    assert stranger.post(url, NEW_ACCOUNT).status_code == 404
    paid = approved[2]  # the adult's own claim was paid: nothing to correct
    assert "口座を訂正する" not in stranger.get(f"/me/claims/{paid.reference}").content.decode()
    assert stranger.post(f"/me/claims/{paid.reference}", NEW_ACCOUNT).status_code == 409
    assert Claim.objects.get(pk=paid.pk).payee_id == paid.payee_id

    person = Client()
    sign_in(person, portal_data.guardian)
    page = person.get(url).content.decode()
    assert "口座を訂正する" in page and "受取人名相違" in page
    for field, value, error in (
        ("bank_code", "9998", "金融機関コード"),
        ("branch_code", "999", "支店コード"),
        ("holder", "中村 蓮", "カタカナ"),
    ):
        refused = person.post(url, {**NEW_ACCOUNT, field: value})
        assert refused.status_code == 400 and error in refused.content.decode()
    assert Claim.objects.get(pk=returned.pk).status == "returned"
    before = AuditEvent.objects.count()
    done = person.post(url, NEW_ACCOUNT)
    assert done.status_code == 302 and done["Location"] == url
    claim = Claim.objects.get(pk=returned.pk)
    assert claim.status == "approved" and claim.payee_id != old_payee
    assert (
        claim.payee.sealed["holder_kana"] == "ﾅｶﾑﾗ ﾚﾝ" and claim.payee.sealed["account_number"] == "2222222"
    )
    assert claim.message == payouts.CORRECTED_MESSAGE["ja"]
    assert payouts.CORRECTED_MESSAGE["ja"] in person.get(url).content.decode()
    assert person.post(url, NEW_ACCOUNT).status_code == 409  # approved again: not correctable now
    event = AuditEvent.objects.get(seq__gt=before, action="redress.claim.account_corrected")
    assert event.actor == f"portal:notice:{portal_data.guardian.pk}"
    assert event.data == {
        "reference": claim.reference,
        "by": "portal",
        "same_account": False,
        "to": "approved",
        "score": claim.score,
    }
    assert "2222222" not in str(event.data) and "ﾅｶﾑﾗ" not in str(event.data)

    batch = _made(alice, portal_data)  # the next batch: only the corrected claim, to the new account
    assert [(p.claim_id, p.payee_id) for p in batch.payouts.all()] == [(claim.pk, claim.payee_id)]
    bob.post(f"/staff/payouts/{batch.reference}/approve")
    sent = alice.post(f"/staff/payouts/{batch.reference}/file").content
    assert validate(sent) == [] and b"2222222" in sent and b"7654321" not in sent


def test_finance_records_a_corrected_account_with_a_reason(
    portal_data: PortalData, approved: list[Claim]
) -> None:
    alice, _bob, returned = _paid_but_one_returned(portal_data, approved)
    url = f"/staff/payouts/claims/{returned.reference}/account"
    batch = Payout.objects.get(claim=returned).batch
    agent = staff_client("carol", "agent")
    assert agent.post(url, {**NEW_ACCOUNT, "reason": "電話で確認"}).status_code == 403
    page = alice.get(f"/staff/payouts/{batch.reference}").content.decode()
    assert f"請求 {returned.reference} の振込先口座を訂正する" in page
    assert page.count("の振込先口座を訂正する") == 1  # only the returned one
    no_reason = alice.post(url, {**NEW_ACCOUNT, "batch": batch.reference})
    assert no_reason.status_code == 409 and "reason" in no_reason.content.decode()
    bad = alice.post(url, {**NEW_ACCOUNT, "account_number": "12345678", "reason": "電話で確認"})
    assert bad.status_code == 409 and "口座番号" in bad.content.decode()
    assert Claim.objects.get(pk=returned.pk).status == "returned"
    done = alice.post(url, {**NEW_ACCOUNT, "reason": "本人から電話で確認", "batch": batch.reference})
    assert done["Location"] == f"/staff/payouts/{batch.reference}"
    assert "次のバッチでお支払いします" in alice.get(done["Location"]).content.decode()
    claim = Claim.objects.get(pk=returned.pk)
    assert claim.status == "approved" and claim.payee.sealed["account_number"] == "2222222"
    event = AuditEvent.objects.get(action="redress.claim.account_corrected")
    assert event.reason == "本人から電話で確認" and event.data["by"] == "staff"
    assert event.actor == f"staff:{User.objects.get(username='alice').pk}"
    again = alice.post(url, {**NEW_ACCOUNT, "reason": "もう一度"})
    assert again.status_code == 409 and "only a returned transfer" in again.content.decode()
    paid = approved[0]
    assert (
        alice.post(
            f"/staff/payouts/claims/{paid.reference}/account", {**NEW_ACCOUNT, "reason": "x"}
        ).status_code
        == 409
    )
    assert (
        alice.post("/staff/payouts/claims/K-NOPE/account", {**NEW_ACCOUNT, "reason": "x"}).status_code == 404
    )


def test_a_corrected_account_that_pays_someone_else_goes_back_to_review(
    portal_data: PortalData, approved: list[Claim]
) -> None:
    alice, _bob, returned = _paid_but_one_returned(portal_data, approved)
    bank, branch, type_, number, holder = ACCOUNTS[2]  # the adult's account: another person's payee
    response = alice.post(
        f"/staff/payouts/claims/{returned.reference}/account",
        {
            "bank_code": bank,
            "branch_code": branch,
            "account_type": type_,
            "account_number": number,
            "holder": holder,
            "reason": "電話で聞き取り",
        },
    )
    assert response.status_code == 302
    claim = Claim.objects.get(pk=returned.pk)
    assert claim.status == "submitted" and claim.first_approver_id is None and claim.decided_by_id is None
    assert "payee_reuse" in [signal["code"] for signal in claim.signals]
    assert claim.message == payouts.CORRECTED_REVIEW_MESSAGE["ja"]
    again = alice.post("/staff/payouts/create", {"incident": "test-leak", "transfer_date": _day()})
    assert again.status_code == 409  # nothing to pay until two reviewers approve it again
