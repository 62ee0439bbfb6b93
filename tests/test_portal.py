"""The portal through HTTP: sign-in, the per-person page, compensation, requests, claims, the genuine
check; every signed-in view as the owner, another recipient, staff and anonymous."""

from __future__ import annotations

import io
import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from PIL import Image

from owabi.core import jobs
from owabi.core.models import AuditEvent
from owabi.notices import codes
from owabi.redress.models import Choice, Claim, Evidence, Request, TodoDone
from tests.portal_support import PortalData, sign_in

pytestmark = pytest.mark.django_db


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "PNG")
    return out.getvalue()


def _run_jobs() -> None:
    for job in jobs.claim(worker_id="t", limit=50, lease_seconds=60, kinds=["redress.receipt"]):
        jobs.run_job(job=job, lease_seconds=60)


def _claim_form(person: int, **extra: object) -> dict[str, object]:
    return {
        "person": str(person),
        "kind": "reissue_fee",
        "amount_yen": "1100",
        "description": "カードを再発行しました",
        "bank_code": "0001",
        "branch_code": "001",
        "account_type": "1",
        "account_number": "1234567",
        "holder": "コバヤシ マコト",
        "agree": "on",
        **extra,
    }


def test_the_home_page_fills_in_the_code_from_the_letters_qr_code(portal_data: PortalData) -> None:
    code = codes.group(portal_data.adult.code)
    page = Client().get("/", {"code": code}).content.decode()
    assert f'value="{code}"' in page
    assert codes.login_key(portal_data.adult.code) not in page


def test_signing_in_shows_each_persons_leaked_items_and_to_dos_and_nobody_elses(
    portal_data: PortalData,
) -> None:
    client = Client()
    before = client.get("/").cookies.get("sessionid")
    sign_in(client, portal_data.guardian)
    assert client.cookies["sessionid"].value != (before.value if before else None)
    page = client.get("/me").content.decode()
    assert "中村 由美 様" in page and "中村 結衣 様" in page and "中村 蓮 様" in page
    assert "生年月日" in page and "電話番号" in page
    assert "小林" not in page and "4242" not in page and "山本" not in page
    assert "カードの利用明細" not in page  # no card of theirs leaked: no card advice
    adult = Client()
    sign_in(adult, portal_data.adult)
    page = adult.get("/me").content.decode()
    assert "下4桁 4242" in page and "カードの利用明細" in page
    assert AuditEvent.objects.filter(action="portal.sign_in", object_id=str(portal_data.adult.pk)).exists()


def test_a_wrong_key_and_an_unknown_code_fail_the_same_way(portal_data: PortalData) -> None:
    known = codes.group(portal_data.adult.code)
    unknown = codes.group(codes.new_code())
    answers = []
    for code in (known, unknown):
        response = Client().post("/signin", {"code": code, "key": "ZZZZZZZZZZ"})
        answers.append((response.status_code, re.sub(rb'value="[^"]*"', b"", response.content)))
    assert answers[0] == answers[1]
    assert "正しくありません" in answers[0][1].decode()


def test_a_malformed_code_is_caught_before_any_lookup(portal_data: PortalData) -> None:
    response = Client().post("/signin", {"code": "ABC", "key": "X"})
    assert response.status_code == 200 and "15文字" in response.content.decode()


SIGNED_IN_PAGES = [
    "/me",
    "/me/people/1/compensation",
    "/me/requests/new",
    "/me/claims/new",
    "/me/claims/K-22222-22222",
]


def test_anonymous_and_staff_without_a_notice_are_sent_to_sign_in(portal_data: PortalData) -> None:
    staff = get_user_model().objects.create_user("agent", password="correct horse battery", is_staff=True)
    as_staff = Client()
    as_staff.force_login(staff)
    for client in (Client(), as_staff):
        for path in SIGNED_IN_PAGES:
            assert client.get(path)["Location"].startswith("/?expired"), path
        assert (
            client.post("/me/todo", {"person": "1", "item": "card_statement", "done": "1"}).status_code == 302
        )
    assert not TodoDone.objects.exists()


def test_another_recipients_people_claims_and_todos_answer_not_found(portal_data: PortalData) -> None:
    owner, other = Client(), Client()
    sign_in(owner, portal_data.adult)
    sign_in(other, portal_data.guardian)
    adult_person = portal_data.people(portal_data.adult)[0]
    response = owner.post("/me/claims/new", _claim_form(adult_person, evidence=io.BytesIO(_png())))
    claim = Claim.objects.get()
    assert response["Location"] == f"/me/claims/{claim.reference}"
    assert owner.get(f"/me/claims/{claim.reference}").status_code == 200
    # The other recipient, with the same reference, the same person number and the same to-do item:
    assert other.get(f"/me/claims/{claim.reference}").status_code == 404
    assert other.get(f"/me/people/{adult_person}/compensation").status_code == 404
    assert (
        other.post("/me/todo", {"person": adult_person, "item": "card_statement", "done": "1"}).status_code
        == 404
    )
    assert (
        other.post("/me/claims/new", _claim_form(adult_person, evidence=io.BytesIO(_png()))).status_code
        == 400
    )
    assert not TodoDone.objects.exists() and Claim.objects.count() == 1
    assert (
        other.post(
            f"/me/people/{adult_person}/compensation", {"option": "donation", "confirm": "1"}
        ).status_code
        == 404
    )
    assert not Choice.objects.exists()


def test_a_to_do_item_can_be_ticked_and_unticked(portal_data: PortalData) -> None:
    client = Client()
    sign_in(client, portal_data.adult)
    person = portal_data.people(portal_data.adult)[0]
    client.post("/me/todo", {"person": person, "item": "card_statement", "done": "1"})
    assert "未完了に戻す" in client.get("/me").content.decode()
    client.post("/me/todo", {"person": person, "item": "card_statement", "done": "0"})
    assert not TodoDone.objects.exists()
    assert client.post("/me/todo", {"person": person, "item": "no_such_item", "done": "1"}).status_code == 404


def test_choosing_a_gift_code_confirms_first_then_shows_the_code_once(portal_data: PortalData) -> None:
    client = Client()
    sign_in(client, portal_data.adult)
    person = portal_data.people(portal_data.adult)[0]
    url = f"/me/people/{person}/compensation"
    confirm = client.post(url, {"option": "emoney"})
    assert "確定する" in confirm.content.decode() and not Choice.objects.exists()
    done = client.post(url, {"option": "emoney", "confirm": "1"}).content.decode()
    choice = Choice.objects.get()
    assert choice.status == "fulfilled" and choice.gift_code.sealed["code"] in done
    assert choice.reference in done
    again = client.get(url).content.decode()
    assert choice.gift_code.sealed["code"] not in again and "すでにお手続き済み" in again
    assert client.post(url, {"option": "donation", "confirm": "1"}).status_code == 409  # fulfilled: final
    assert choice.gift_code.sealed["code"] not in client.get("/me").content.decode()
    _run_jobs()
    receipt = mail.outbox[-1]
    assert receipt.to == ["makoto@example.jp"] and choice.reference in receipt.body
    assert choice.gift_code.sealed["management_number"] in receipt.body
    assert choice.gift_code.sealed["code"] not in receipt.body


def test_a_mailed_voucher_needs_an_address_and_can_be_changed_until_fulfilment(
    portal_data: PortalData,
) -> None:
    client = Client()
    sign_in(client, portal_data.adult)
    url = f"/me/people/{portal_data.people(portal_data.adult)[0]}/compensation"
    blank = client.post(url, {"option": "book_card", "name": "", "postal_code": "", "address": ""})
    assert "郵送先として入力してください" in blank.content.decode() and not Choice.objects.exists()
    address = {"name": "小林 誠", "postal_code": "590-0002", "address": "大阪府堺市堺区2-2"}
    client.post(url, {"option": "book_card", **address, "confirm": "1"})
    choice = Choice.objects.get()
    assert choice.status == "confirmed" and choice.details["postal_code"] == "590-0002"
    client.post(url, {"option": "donation", "confirm": "1"})
    choice.refresh_from_db()
    assert choice.option.key == "donation" and Choice.objects.count() == 1


def test_the_second_notice_of_one_person_is_held_not_paid_twice(portal_data: PortalData) -> None:
    first, second = Client(), Client()
    sign_in(first, portal_data.twin_a)
    sign_in(second, portal_data.twin_b)
    for client, notice in ((first, portal_data.twin_a), (second, portal_data.twin_b)):
        url = f"/me/people/{portal_data.people(notice)[0]}/compensation"
        client.post(url, {"option": "emoney", "confirm": "1"})
    paid, held = Choice.objects.order_by("pk")
    assert paid.status == "fulfilled" and held.status == "held"
    assert not hasattr(held, "gift_code") or held.gift_code is None
    assert "担当者が確認" in second.get("/me").content.decode()


def test_choosing_closes_at_the_deadline(portal_data: PortalData) -> None:
    from owabi.notices.models import NoticeSetup

    NoticeSetup.objects.filter(incident=portal_data.incident).update(redress_deadline="2020-01-01")
    client = Client()
    sign_in(client, portal_data.adult)
    url = f"/me/people/{portal_data.people(portal_data.adult)[0]}/compensation"
    assert "期限を過ぎました" in client.get(url).content.decode()
    assert client.post(url, {"option": "donation", "confirm": "1"}).status_code == 409
    assert not Choice.objects.exists()


def test_a_request_gets_a_reference_and_a_due_date(portal_data: PortalData) -> None:
    client = Client()
    sign_in(client, portal_data.guardian)
    child = portal_data.people(portal_data.guardian)[0]
    page = client.post(
        "/me/requests/new", {"kind": "delete", "person": str(child), "text": ""}
    ).content.decode()
    made = Request.objects.get()
    assert made.reference in page and made.kind == "delete" and made.subject.number == child
    missing = client.post("/me/requests/new", {"kind": "correct_contact"}).content.decode()
    assert "新しい連絡先" in missing and Request.objects.count() == 1
    assert made.reference in client.get("/me").content.decode()


def test_a_claim_with_an_upload_is_sealed_and_its_status_shown(portal_data: PortalData) -> None:
    client = Client()
    sign_in(client, portal_data.adult)
    person = portal_data.people(portal_data.adult)[0]
    response = client.post("/me/claims/new", _claim_form(person, evidence=io.BytesIO(_png())))
    claim = Claim.objects.get()
    assert claim.payee.sealed["holder_kana"] == "ｺﾊﾞﾔｼ ﾏｺﾄ"
    assert Evidence.objects.get().content_type == "image/png"
    page = client.get(response["Location"]).content.decode()
    assert claim.reference in page and "審査待ち" in page


BAD_UPLOADS = [
    (b"just some text, not a photo", "JPEG"),
    (b"%PDF-1.4 but cut short", "壊れています"),  # a PDF without its trailer
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "壊れています"),
    (b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024), "大きすぎます"),
]


def test_wrong_type_malformed_and_oversize_uploads_are_refused_with_a_reason(portal_data: PortalData) -> None:
    client = Client()
    sign_in(client, portal_data.adult)
    person = portal_data.people(portal_data.adult)[0]
    for upload, message in BAD_UPLOADS:
        response = client.post("/me/claims/new", _claim_form(person, evidence=io.BytesIO(upload)))
        assert response.status_code == 400 and message in response.content.decode(), message
    no_file = client.post("/me/claims/new", _claim_form(person))
    assert no_file.status_code == 400 and "1つ以上" in no_file.content.decode()
    assert not Claim.objects.exists()


def test_a_payee_with_an_unknown_branch_or_unwritable_name_is_refused(portal_data: PortalData) -> None:
    client = Client()
    sign_in(client, portal_data.adult)
    person = portal_data.people(portal_data.adult)[0]
    bad_branch = client.post(
        "/me/claims/new", _claim_form(person, branch_code="999", evidence=io.BytesIO(_png()))
    )
    assert "支店コード" in bad_branch.content.decode()
    bad_name = client.post(
        "/me/claims/new", _claim_form(person, holder="小林誠", evidence=io.BytesIO(_png()))
    )
    assert "カタカナ" in bad_name.content.decode()
    assert not Claim.objects.exists()


def test_the_genuine_check_shows_a_masked_name_and_says_when_we_never_sent_a_code(
    portal_data: PortalData,
) -> None:
    client = Client()
    page = client.post("/check", {"code": codes.group(portal_data.adult.code)}).content.decode()
    assert "小＊ 誠＊ 様" in page and "小林" not in page
    page = client.post("/check", {"code": codes.group(codes.new_code())}).content.decode()
    assert "お送りしていません" in page
    assert "15文字" in client.post("/check", {"code": "1234"}).content.decode()


def test_signing_out_and_idling_end_the_session(portal_data: PortalData) -> None:
    client = Client()
    sign_in(client, portal_data.adult)
    client.post("/signout")
    assert client.get("/me").status_code == 302
    sign_in(client, portal_data.adult)
    session = client.session
    session["portal.seen"] = int(time.time()) - 31 * 60
    session.save()
    assert client.get("/me")["Location"].startswith("/?expired")


def test_english_is_one_switch_away(portal_data: PortalData) -> None:
    client = Client()
    client.get("/language/en", {"next": "/"})
    sign_in(client, portal_data.adult)
    page = client.get("/me").content.decode()
    assert "What leaked" in page and "ending in 4242" in page and 'lang="en"' in page
    assert "流出した情報" not in page


def test_the_one_click_reminder_opt_out_needs_a_post_and_a_valid_token(portal_data: PortalData) -> None:
    from owabi.notices import engagement
    from owabi.notices.models import Engagement

    token = engagement.unsubscribe_token(portal_data.adult)
    client = Client(enforce_csrf_checks=True)
    assert "停止する" in client.get(f"/reminders/off/{token}").content.decode()  # a link scanner's GET
    assert not Engagement.objects.filter(reminders_off_at__isnull=False).exists()
    # RFC 8058: the provider POSTs the one-click body, without a form token.
    response = client.post(f"/reminders/off/{token}", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "停止しました" in response.content.decode()
    assert Engagement.objects.get(recipient_id=portal_data.adult.recipient_id).reminders_off_at
    assert client.post(f"/reminders/off/{token}", {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(f"/reminders/off/{token[:-2]}xx", {"List-Unsubscribe": "One-Click"}).status_code == 404
    assert "小林" not in response.content.decode()


def _answer_affected() -> None:
    for job in jobs.claim(worker_id="t", limit=50, lease_seconds=60, kinds=["redress.affected"]):
        jobs.run_job(job=job, lease_seconds=60)


def test_am_i_affected_answers_everyone_with_the_same_bytes(portal_data: PortalData) -> None:
    client = Client()
    match = client.post("/affected", {"name": "小林誠", "phone": "072 222 3333"}, REMOTE_ADDR="10.1.0.1")
    stranger = client.post(
        "/affected", {"name": "田中 一郎", "phone": "090-0000-0000"}, REMOTE_ADDR="10.1.0.2"
    )
    assert match.status_code == stranger.status_code == 200
    assert match.content == stranger.content
    # What was typed is not kept: the queued searches hold keyed hashes only.
    from owabi.core.models import Job

    payloads = str(list(Job.objects.filter(kind="redress.affected").values_list("payload", flat=True)))
    # (Whole values only: a hex digest can hold "072" by chance.)
    assert "小林" not in payloads and "0722223333" not in payloads and "+81722223333" not in payloads
    assert "072 222" not in payloads and "222-3333" not in payloads
    _answer_affected()
    assert [message.to for message in mail.outbox] == [["makoto@example.jp"]]  # the contact on record only
    body = mail.outbox[0].body
    assert codes.group(portal_data.adult.code) in body and codes.login_key(portal_data.adult.code) in body
    assert "田中" not in body


def test_am_i_affected_finds_a_guardian_by_the_childs_contact_and_by_e_mail(portal_data: PortalData) -> None:
    client = Client()
    client.post("/affected", {"name": "なかむら ゆみ", "phone": "03-3333-4444"}, REMOTE_ADDR="10.2.0.1")
    client.post("/affected", {"name": "x", "email": "MAKOTO@example.jp"}, REMOTE_ADDR="10.2.0.2")
    _answer_affected()
    assert sorted(message.to[0] for message in mail.outbox) == ["makoto@example.jp", "yumi@example.jp"]


def test_am_i_affected_is_rate_limited_per_client_and_per_identity(portal_data: PortalData) -> None:
    client = Client()
    names = ["山田 一", "佐藤 二", "鈴木 三", "高橋 四", "田中 五", "伊藤 六", "渡辺 七"]
    statuses = [
        client.post("/affected", {"name": name, "phone": "090-1111-2222"}, REMOTE_ADDR="10.3.0.1").status_code
        for name in names
    ]
    assert statuses == [200] * 5 + [429] * 2
    # The same identity from many addresses: three a day, then the page says so.
    statuses = [
        client.post(
            "/affected", {"name": "小林 誠", "phone": "0722223333"}, REMOTE_ADDR=f"10.4.0.{n}"
        ).status_code
        for n in range(5)
    ]
    assert statuses == [200] * 3 + [429] * 2
    _answer_affected()
    assert len(mail.outbox) == 3  # every answer went to the contact on record, never elsewhere


def test_am_i_affected_needs_a_name_and_one_more_fact(portal_data: PortalData) -> None:
    page = Client().post("/affected", {"name": "小林 誠"}).content.decode()
    assert "いずれか" in page
