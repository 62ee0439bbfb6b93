"""The support console through HTTP: search tolerant of how a caller spells things, the person's
timeline, acting for them with a reason, and the resolution review queue; each role, and audit events
on every view of personal data."""

from __future__ import annotations

import io
import json
import re
import uuid

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from owabi.backoffice.templatetags.staff import LEVELS
from owabi.core import jobs, staff
from owabi.core.models import AuditEvent
from owabi.notices import codes
from owabi.notices import selectors as notice_selectors
from owabi.notices import services as notice_services
from owabi.notices.models import Notice
from owabi.records import resolve_model
from owabi.records.models import LeakRecord, ResolveRun, ReviewPair, Subject
from owabi.records.resolve import resolve
from owabi.records.resolve.clusters import link
from owabi.records.resolve.union_find import find
from owabi.redress.models import Call, Choice, Claim, Request
from tests.portal_support import AS_OF, PortalData, sign_in
from tests.test_backoffice import _png, _staff

pytestmark = pytest.mark.django_db


def _search(client: Client, data: PortalData, **values: str):
    return client.post("/staff/search", {"incident": data.incident.slug, **values})  # type: ignore[attr-defined]


@pytest.fixture
def filed_claim(portal_data: PortalData) -> Claim:
    """A reimbursement claim of 小林 誠, filed through the portal (as tests/test_backoffice.py files it)."""
    client = Client()
    sign_in(client, portal_data.adult)
    client.post(
        "/me/claims/new",
        {
            "person": str(portal_data.people(portal_data.adult)[0]),
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


@pytest.fixture
def agent() -> Client:
    return _staff("agent1", "agent")[0]


TOLERATED = [
    {"name": "小林 誠", "phone": "072-222-3333"},
    {"name": "小林　誠", "phone": "０７２－２２２－３３３３"},  # full width, ideographic space
    {"name": "小林誠", "phone": "072 222 3333"},  # no spaces in the name, spaces in the number
    {"name": "小林 誠 様", "phone": "+81 72-222-3333"},  # 様 and the international form
    {"name": "こばやし まこと", "card_last4": "4242"},  # the reading in hiragana
    {"name": "ｺﾊﾞﾔｼ ﾏｺﾄ", "card_last4": "４２４２"},  # half-width katakana, full-width digits
    {"name": "コバヤシマコト", "postal_code": "〒５９０ー０００１"},
    {"name": "小林 誠", "postal_code": "5900001"},
    {"email": " MAKOTO@Example.JP "},
]


def test_search_finds_the_caller_however_they_spell_it(portal_data: PortalData, agent: Client) -> None:
    for values in TOLERATED:
        page = _search(agent, portal_data, **values)
        text = page.content.decode()
        assert page.status_code == 200, values
        assert "検索結果（1人）" in text and "小林 誠" in text, values
        assert codes.group(portal_data.adult.code) in text, values  # with their notice


def test_search_by_registration_code_typed_loosely(portal_data: PortalData, agent: Client) -> None:
    typed = " ".join(codes.group(portal_data.guardian.code).lower().split("-"))
    text = _search(agent, portal_data, code=typed).content.decode()
    assert "検索結果（2人）" in text and "中村 結衣" in text and "中村 蓮" in text  # both children
    assert "登録コードで" in text
    bad = _search(agent, portal_data, code="AAAAA-AAAAA-AAAAA").content.decode()
    assert "登録コード" in bad and "検索結果" not in bad  # a typo is caught before any lookup


def test_a_guardian_finds_their_children(portal_data: PortalData, agent: Client) -> None:
    text = _search(agent, portal_data, name="中村 由美", phone="0333334444").content.decode()
    assert "検索結果（2人）" in text and "保護者として" in text


def test_not_found_and_not_enough_say_so_without_repeating_nothing_else(
    portal_data: PortalData, agent: Client
) -> None:
    text = _search(agent, portal_data, name="小林 誠", phone="072-222-9999").content.decode()
    assert "検索結果（0人）" in text and "該当する方は見つかりませんでした" in text
    namesake = _search(agent, portal_data, name="山本 花子", card_last4="1111").content.decode()
    assert "検索結果（2人）" in namesake  # both namesakes: the agent asks for more
    alone = _search(agent, portal_data, name="小林 誠").content.decode()
    assert "検索結果" not in alone and "いずれか" in alone  # a name alone is no search


def test_each_search_is_audited_by_kind_never_by_value(portal_data: PortalData, agent: Client) -> None:
    before = AuditEvent.objects.count()
    _search(agent, portal_data, name="小林 誠", phone="072-222-3333", email="makoto@example.jp")
    _search(agent, portal_data, name="誰 でもない", phone="090-0000-0000")
    events = list(AuditEvent.objects.filter(seq__gt=before, action="backoffice.search").order_by("seq"))
    assert [event.data["kinds"] for event in events] == [["name+phone", "email"], ["name+phone"]]
    assert len(events[0].data["subjects"]) == 1 and events[1].data["subjects"] == []
    dumped = json.dumps([(e.data, e.reason, e.object_id) for e in events], ensure_ascii=False)
    for value in ("小林", "072", "makoto", "誰"):
        assert value not in dumped


def test_search_is_a_post_form_and_never_puts_what_was_typed_in_a_url(
    portal_data: PortalData, agent: Client
) -> None:
    page = agent.get("/staff/search", {"name": "小林 誠", "phone": "072-222-3333"})
    assert page.status_code == 200 and "検索結果" not in page.content.decode()  # GET never searches
    assert 'method="post"' in page.content.decode()


def test_support_roles_may_search(portal_data: PortalData) -> None:
    for role in ("agent", "reviewer", "manager", "admin"):
        client, _ = _staff(f"{role}1", role)
        assert client.get("/staff/search").status_code == 200
        found = _search(client, portal_data, name="小林 誠", card_last4="4242").content.decode()
        assert "小林 誠" in found, role


def test_finance_anonymous_and_half_signed_in_staff_cannot_search(portal_data: PortalData) -> None:
    finance, _ = _staff("finance1", "finance")
    assert _search(finance, portal_data, name="小林 誠", card_last4="4242").status_code == 403
    assert _search(Client(), portal_data, name="小林 誠", card_last4="4242")["Location"] == "/staff/login"
    made = staff.add_staff(username="half", roles=["agent"], actor="test")
    half = Client()
    half.post("/staff/login", {"username": "half", "password": made.password})  # no second factor yet
    response = _search(half, portal_data, name="小林 誠", card_last4="4242")
    assert response["Location"] == "/staff/login"
    assert not AuditEvent.objects.filter(action="backoffice.search").exists()


# --- Person timeline -------------------------------------------------------------------------------------
def _subject(data: PortalData, notice: Notice, index: int = 0) -> Subject:
    number = data.people(notice)[index]
    return Subject.objects.get(incident=data.incident, number=number)


def _person_url(subject: Subject) -> str:
    return f"/staff/people/{subject.public_id}/"


def test_the_timeline_shows_everything_about_the_person_in_time_order(
    portal_data: PortalData, agent: Client, filed_claim: Claim
) -> None:
    person = Client()
    sign_in(person, portal_data.adult)  # claim signed in once already; this is the second sign-in
    subject = _subject(portal_data, portal_data.adult)
    before = AuditEvent.objects.count()
    page = agent.get(_person_url(subject))
    text = page.content.decode()
    assert page.status_code == 200
    assert "小林 誠" in text and "コバヤシ マコト" in text and "1975-03-03" in text
    assert "members" in text and "A1" in text  # the record and its source
    assert "クレジットカード番号" in text and "4242" in text  # leaked items; the card by its last 4
    assert codes.group(portal_data.adult.code) in text and "makoto@example.jp" in text
    assert text.count("専用ページにログイン") == 2
    assert filed_claim.reference in text and "1,100円" in text
    order = [text.index(marker) for marker in ("記録を取り込み", "お知らせを準備", "請求 ")]
    assert order == sorted(order)
    viewed = AuditEvent.objects.filter(seq__gt=before, action="backoffice.view_person").get()
    assert viewed.object_id == str(subject.pk) and viewed.data == {}


def test_the_timeline_finds_sign_ins_through_the_audit_object_index(portal_data: PortalData) -> None:
    """The sign-ins come from the audit log by notice id; on a long log that must be an index search
    (the planner is told to avoid scans, since a test-sized table would be scanned anyway)."""
    sign_in(Client(), portal_data.adult)
    notice_ids = [portal_data.adult.pk, portal_data.guardian.pk]
    with CaptureQueriesContext(connection) as queries:
        events = notice_selectors.portal_events(notice_ids)
    assert [action for _at, _pk, action, _text in events] == ["portal.sign_in"]
    (query,) = [q["sql"] for q in queries.captured_queries if "core_auditevent" in q["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + query)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + query)
        plan = " ".join(str(part) for row in cursor.fetchall() for part in row)
    assert "core_audit_object_idx" in plan, plan


def test_a_guardians_child_shows_the_guardians_notice(portal_data: PortalData, agent: Client) -> None:
    child = _subject(portal_data, portal_data.guardian)
    text = agent.get(_person_url(child)).content.decode()
    assert "（未成年）" in text and "保護者あて" in text
    assert codes.group(portal_data.guardian.code) in text and "yumi@example.jp" in text
    assert "小林" not in text  # nobody else's data


def test_the_timeline_is_for_support_roles_only(portal_data: PortalData) -> None:
    url = _person_url(_subject(portal_data, portal_data.adult))
    for role in ("agent", "reviewer", "manager", "admin"):
        client, _ = _staff(f"{role}1", role)
        assert client.get(url).status_code == 200, role
    finance, _ = _staff("finance1", "finance")
    assert finance.get(url).status_code == 403
    assert Client().get(url)["Location"] == "/staff/login"
    owner = Client()
    sign_in(owner, portal_data.adult)  # the person themself, signed in to the portal, is not staff
    assert owner.get(url)["Location"] == "/staff/login"
    agent = _staff("agent2", "agent")[0]
    assert agent.get(f"/staff/people/{uuid.uuid4()}/").status_code == 404
    assert agent.get("/staff/people/1/").status_code == 404  # never a sequential id
    viewed = AuditEvent.objects.filter(action="backoffice.view_person").count()
    assert viewed == 4  # one per view that showed data; refusals and misses show none


# --- Acting for the caller -------------------------------------------------------------------------------
def _act(client: Client, subject: Subject, action: str, **values: str):
    return client.post(
        f"/staff/people/{subject.public_id}/{action}", {f"{action}-{k}": v for k, v in values.items()}
    )


def test_resend_by_letter_to_a_corrected_address_and_by_email_with_a_new_code(
    portal_data: PortalData, agent: Client
) -> None:
    subject = _subject(portal_data, portal_data.adult)
    old = portal_data.adult
    refused = _act(agent, subject, "resend", channel="letter", postal_code="1000001", address="東京都")
    assert refused.status_code == 409 and "理由" in refused.content.decode()
    assert not Notice.objects.filter(recipient=old.recipient, channel="letter").exists()
    done = _act(
        agent,
        subject,
        "resend",
        channel="letter",
        postal_code="１００ー０００１",
        address="東京都千代田区千代田１－１",
        reason="転居のため",
    )
    assert done.status_code == 302 and done["Location"].endswith("?done=resend")
    letter = Notice.objects.get(recipient=old.recipient, channel="letter")
    assert letter.status == "prepared" and letter.code != old.code
    assert letter.content["to"]["postal_code"] == "100-0001"
    assert letter.content["to"]["address"] == "東京都千代田区千代田1-1"
    assert letter.content["people"] == old.content["people"]  # says what the notice said
    old.refresh_from_db()
    assert old.status != "cancelled"  # the e-mail notice stays: another channel
    event = AuditEvent.objects.get(action="notices.resend")
    assert event.reason == "転居のため" and event.data == {
        "channel": "letter",
        "replaces": [],
        "corrected": True,
    }
    assert "千代田" not in json.dumps(event.data, ensure_ascii=False)

    assert (
        _act(agent, subject, "resend", channel="email", email="not an address", reason="x").status_code == 409
    )
    _act(agent, subject, "resend", channel="email", email="Makoto.New@Example.jp", reason="アドレス変更")
    old.refresh_from_db()
    fresh = Notice.objects.get(recipient=old.recipient, channel="email", status="prepared")
    assert old.status == "cancelled" and fresh.content["to"]["email"] == "makoto.new@example.jp"
    person = Client()
    response = person.post("/signin", {"code": codes.group(old.code), "key": codes.login_key(old.code)})
    assert response.status_code == 200  # the old code no longer opens the portal
    sign_in(person, fresh)


def _asks_affected(name: str, phone: str, address: str) -> None:
    """The portal's "am I affected?": a letter-only match is queued for staff to post the notice again."""
    assert Client().post("/affected", {"name": name, "phone": phone}, REMOTE_ADDR=address).status_code == 200
    for job in jobs.claim(worker_id="t", limit=50, lease_seconds=60, kinds=["redress.affected"]):
        jobs.run_job(job=job, lease_seconds=60)


def test_a_resend_by_letter_finishes_the_persons_requests_to_post_it_again(
    portal_data: PortalData, agent: Client
) -> None:
    adult, twin = _subject(portal_data, portal_data.adult), _subject(portal_data, portal_data.twin_a)
    for subject in (adult, twin):  # a letter each, so a lookup finds a letter to post again
        assert _act(agent, subject, "resend", channel="letter", reason="郵送希望").status_code == 302
    _asks_affected("小林 誠", "072-222-3333", "10.9.0.1")
    _asks_affected("山本 花子", "011-111-1111", "10.9.0.2")
    waiting = {r.recipient_id: r for r in Request.objects.filter(kind="resend_notice")}
    assert set(waiting) == {adult.recipient_id, twin.recipient_id}
    assert {r.status for r in waiting.values()} == {"open"}

    _act(agent, subject=adult, action="resend", channel="email", reason="メールでも")
    assert Request.objects.get(pk=waiting[adult.recipient_id].pk).status == "open"  # they asked for a letter

    before = AuditEvent.objects.count()
    assert _act(agent, adult, "resend", channel="letter", reason="依頼により郵送").status_code == 302
    letter = Notice.objects.get(recipient_id=adult.recipient_id, channel="letter", status="prepared")
    done = Request.objects.get(pk=waiting[adult.recipient_id].pk)
    assert done.status == "done" and done.done_at is not None and done.owner is not None
    assert done.details["done_note"] == f"窓口からお知らせを郵送で再送しました（L{letter.pk:09d}）"
    assert Request.objects.get(pk=waiting[twin.recipient_id].pk).status == "open"  # someone else's stays
    closed = AuditEvent.objects.get(seq__gt=before, action="redress.request.complete")
    assert closed.object_id == str(done.pk) and closed.data["resend"] == letter.pk
    assert closed.data["outcome"] == "done"
    assert AuditEvent.objects.filter(seq__gt=before, action="notices.resend").count() == 1
    page = agent.get(_person_url(adult)).content.decode()
    assert f"依頼 {done.reference} を完了" in page

    again = _act(agent, adult, "resend", channel="letter", reason="もう一度")
    assert again.status_code == 302  # nothing left to finish: the resend alone
    assert AuditEvent.objects.filter(action="redress.request.complete").count() == 1


def test_a_replaced_notice_stays_replaced_when_its_bounce_or_return_comes_in_later(
    portal_data: PortalData, agent: Client
) -> None:
    """A resend cancels the old notice and its unsent reminders; a bounce or a returned-letter report that
    arrives for the old one afterwards must not bring its code back to life."""
    subject = _subject(portal_data, portal_data.adult)
    old = portal_data.adult
    incident = old.incident
    sent_as = f"<owabi.{incident.pk}.{old.pk}@example.jp>"
    Notice.objects.filter(pk=old.pk).update(message_id=sent_as, status="sent")
    reminder = Notice.objects.create(
        incident=incident,
        recipient=old.recipient,
        channel="email",
        code=old.code,
        reminder_of=old,
        rule="first",
        language=old.language,
        setup_revision=old.setup_revision,
        content=old.content,
    )
    _act(agent, subject, "resend", channel="email", email="makoto.new@example.jp", reason="アドレス変更")
    bounced = notice_services.apply_reports(
        incident=incident, reports=[notice_services.BounceReport(sent_as, "bounce", "5.1.1")], actor="test"
    )
    assert (bounced.bounced, bounced.ignored) == (0, 1)
    old.refresh_from_db()
    reminder.refresh_from_db()
    assert old.status == "cancelled" and reminder.status == "cancelled"

    _act(
        agent,
        subject,
        "resend",
        channel="letter",
        postal_code="1000001",
        address="東京都千代田区1-1",
        reason="転居",
    )
    first_letter = Notice.objects.get(recipient=old.recipient, channel="letter")
    _act(
        agent,
        subject,
        "resend",
        channel="letter",
        postal_code="1000002",
        address="東京都千代田区2-2",
        reason="訂正",
    )
    first_letter.refresh_from_db()
    assert first_letter.status == "cancelled"
    returned = notice_services.apply_returned(
        incident=incident, wanted=[(first_letter.pk, "unknown")], actor="test", source="test"
    )
    assert (returned.returned, returned.already) == (0, 1)
    first_letter.refresh_from_db()
    assert first_letter.status == "cancelled"
    person = Client()
    for notice in (old, first_letter):
        response = person.post(
            "/signin", {"code": codes.group(notice.code), "key": codes.login_key(notice.code)}
        )
        assert response.status_code == 200 and "/me" not in response.get("Location", "")


def test_lifting_a_lockout_lets_the_person_sign_in_again(portal_data: PortalData, agent: Client) -> None:
    notice = portal_data.adult
    person = Client()
    for _ in range(10):
        person.post("/signin", {"code": codes.group(notice.code), "key": "WRONGKEYWRONG"})
    subject = _subject(portal_data, notice)
    page = agent.get(_person_url(subject)).content.decode()
    assert "ログイン一時停止中" in page
    right = {"code": codes.group(notice.code), "key": codes.login_key(notice.code)}
    assert person.post("/signin", right).status_code == 429
    assert _act(agent, subject, "unlock", notice=str(notice.pk)).status_code == 409  # no reason
    other = _subject(portal_data, portal_data.guardian)  # a notice that is not this person's
    assert _act(agent, other, "unlock", notice=str(notice.pk), reason="x").status_code == 404
    assert _act(agent, subject, "unlock", notice=str(notice.pk), reason="本人確認済み").status_code == 302
    sign_in(Client(), notice)
    event = AuditEvent.objects.get(action="portal.sign_in.unlock")
    assert event.reason == "本人確認済み" and event.object_id == str(notice.pk)


def test_a_choice_and_a_request_recorded_for_the_caller(portal_data: PortalData, agent: Client) -> None:
    subject = _subject(portal_data, portal_data.adult)
    assert _act(agent, subject, "choose", option="emoney").status_code == 409  # no reason
    chosen = _act(agent, subject, "choose", option="emoney", reason="電話で希望")
    assert chosen.status_code == 302
    assert "補償の選択を記録しました" in agent.get(chosen["Location"]).content.decode()
    choice = Choice.objects.get(subject=subject)
    assert choice.by == "staff" and choice.status == "fulfilled"
    assert AuditEvent.objects.get(action="redress.choice").reason == "電話で希望"
    assert _act(agent, subject, "choose", option="book_card", reason="x").status_code == 409  # locked
    assert _act(agent, subject, "request", kind="delete", reason="電話で依頼").status_code == 302
    request = Request.objects.get(subject=subject)
    assert request.kind == "delete" and request.by == "staff"
    assert (
        _act(agent, subject, "request", kind="misuse", reason="x").status_code == 409
    )  # needs what happened
    text = agent.get(_person_url(subject)).content.decode()
    assert choice.reference in text and request.reference in text


def test_a_call_is_logged_with_its_follow_up_and_sealed_notes(portal_data: PortalData, agent: Client) -> None:
    subject = _subject(portal_data, portal_data.adult)
    summary = "カードの再発行について質問。明細を確認するよう案内"
    needs_date = _act(
        agent, subject, "call", topic="claim", outcome="follow_up", summary=summary, follow_up="折り返し"
    )
    assert needs_date.status_code == 409
    done = _act(
        agent,
        subject,
        "call",
        topic="claim",
        outcome="follow_up",
        summary=summary,
        follow_up="明細の確認後に折り返し",
        follow_up_on="2026-12-10",
    )
    assert done.status_code == 302
    call = Call.objects.get()
    assert call.notes["summary"] == summary and call.staff.username == "agent1"
    event = AuditEvent.objects.get(action="redress.call")
    assert event.data["topic"] == "claim" and summary not in json.dumps(event.data, ensure_ascii=False)
    assert summary in agent.get(_person_url(subject)).content.decode()


def test_only_agents_managers_and_admins_act_for_a_caller(portal_data: PortalData) -> None:
    subject = _subject(portal_data, portal_data.adult)
    values = {"topic": "other", "outcome": "resolved", "summary": "問い合わせ"}
    for role in ("manager", "admin"):
        assert _act(_staff(f"{role}1", role)[0], subject, "call", **values).status_code == 302, role
    for role in ("reviewer", "finance"):
        client = _staff(f"{role}1", role)[0]
        assert _act(client, subject, "call", **values).status_code == 403, role
    assert _act(Client(), subject, "call", **values)["Location"] == "/staff/login"
    agent = _staff("agent1", "agent")[0]
    assert _act(agent, subject, "nothing", **values).status_code == 404
    assert agent.get(f"/staff/people/{subject.public_id}/call").status_code == 405  # POST only
    assert Call.objects.count() == 2


# --- Resolution review ------------------------------------------------------------------------------------
def _twins_pair(data: PortalData) -> ReviewPair:
    a, b = sorted(LeakRecord.objects.filter(record_id__in=["T1", "T2"]).values_list("pk", flat=True))
    pair, _ = ReviewPair.objects.update_or_create(
        record_a_id=a, record_b_id=b, defaults={"incident": data.incident, "probability": 0.5}
    )
    return pair


def _subjects_of(*record_ids: str) -> list[int]:
    return [LeakRecord.objects.get(record_id=r).membership.subject_id for r in record_ids]


def test_a_reviewer_sees_a_pair_side_by_side_and_decides_it_for_every_later_run(
    portal_data: PortalData,
) -> None:
    pair = _twins_pair(portal_data)
    reviewer, _ = _staff("reviewer1", "reviewer")
    slug = portal_data.incident.slug  # type: ignore[attr-defined]
    queue = reviewer.get("/staff/review", {"incident": slug}).content.decode()
    assert f"#{pair.pk}" in queue and "T1" in queue and "山本" not in queue  # no personal data in the list
    page = reviewer.get(f"/staff/review/{pair.pk}", {"incident": slug}).content.decode()
    assert "北海道札幌市" in page and "沖縄県那覇市" in page and "1111" in page
    run = ResolveRun.objects.filter(incident=portal_data.incident).last()
    if run and run.model:
        assert "照合の根拠" in page and "モデルがまだありません" not in page
    assert (
        AuditEvent.objects.filter(action="backoffice.view_review_pair", object_id=str(pair.pk)).count() == 1
    )
    url = f"/staff/review/{pair.pk}"
    assert reviewer.post(url, {"incident": slug, "decision": "same"}).status_code == 409  # no reason
    assert reviewer.post(url, {"incident": slug, "decision": "maybe", "reason": "x"}).status_code == 409
    assert (
        reviewer.post(url, {"incident": slug, "decision": "same", "reason": "同じ方と確認"}).status_code
        == 302
    )
    event = AuditEvent.objects.get(action="records.review")
    assert event.reason == "同じ方と確認" and event.data["decision"] == "same"
    resolve(incident=portal_data.incident, actor="t", as_of=AS_OF)
    first, second = _subjects_of("T1", "T2")
    assert first == second  # joined by the decision
    reviewer.post(url, {"incident": slug, "decision": "different", "reason": "別人と確認"})
    resolve(incident=portal_data.incident, actor="t", as_of=AS_OF)
    resolve(incident=portal_data.incident, actor="t", as_of=AS_OF)  # and it holds on every run after
    first, second = _subjects_of("T1", "T2")
    assert first != second
    pair.refresh_from_db()
    assert pair.decision == "different" and pair.decided_by == f"staff:{event.actor.split(':')[1]}"


def test_the_evidence_of_a_pair_is_shown_in_japanese(portal_data: PortalData) -> None:
    pair = _twins_pair(portal_data)
    reviewer, _ = _staff("reviewer1", "reviewer")
    slug = portal_data.incident.slug  # type: ignore[attr-defined]
    run = ResolveRun.objects.filter(incident=portal_data.incident).last()
    assert run is not None and run.model  # the fixture resolved: there is a model to explain with
    page = reviewer.get(f"/staff/review/{pair.pk}", {"incident": slug}).content.decode()
    evidence = page.split("照合の根拠", 1)[1].split("<form", 1)[0]
    cells = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", evidence)
    assert len(cells) == len(run.model["comparisons"])
    for _comparison, shown in cells:
        assert shown in LEVELS.values(), shown  # every level in Japanese, none left as the model names it


def test_every_level_of_the_model_has_its_japanese_label() -> None:
    model = resolve_model.settings(prior=0.001, as_of=AS_OF)
    labels = [lv["label_for_charts"] for c in model["comparisons"] for lv in c["comparison_levels"]]
    assert labels and [label for label in labels if label not in LEVELS] == []


def test_a_decision_is_shown_as_waiting_for_the_next_resolve_until_it_runs(
    portal_data: PortalData, agent: Client
) -> None:
    pair = _twins_pair(portal_data)
    reviewer, _ = _staff("reviewer1", "reviewer")
    slug = portal_data.incident.slug  # type: ignore[attr-defined]
    url = f"/staff/review/{pair.pk}"
    assert "まだ反映されていません" not in reviewer.get(url, {"incident": slug}).content.decode()
    decided = reviewer.post(
        url, {"incident": slug, "decision": "same", "reason": "同じ方と確認"}, follow=True
    )
    assert "次回の名寄せ（owabi resolve）の実行で反映されます" in decided.content.decode()
    assert "まだ反映されていません" in reviewer.get(url, {"incident": slug}).content.decode()
    listing = reviewer.get("/staff/review", {"incident": slug, "status": "decided"}).content.decode()
    assert "未反映：次回の名寄せで反映" in listing

    def timeline() -> str:
        subject = Subject.objects.get(pk=_subjects_of("T1")[0])
        return agent.get(_person_url(subject)).content.decode()

    before = timeline()
    assert (
        "名寄せの判断「同一人物 / Same person」：記録 T1 と T2：未反映（次回の名寄せ resolve で反映）"
        in before
    )
    assert _subjects_of("T1", "T2")[0] != _subjects_of("T1", "T2")[1]  # nothing joined yet

    resolve(incident=portal_data.incident, actor="t", as_of=AS_OF)
    assert len(set(_subjects_of("T1", "T2"))) == 1
    after = timeline()
    assert "名寄せの判断「同一人物 / Same person」：記録 T1 と T2" in after and "未反映" not in after
    assert "まだ反映されていません" not in reviewer.get(url, {"incident": slug}).content.decode()
    listing = reviewer.get("/staff/review", {"incident": slug, "status": "decided"}).content.decode()
    assert "未反映" not in listing


def test_keep_apart_holds_when_a_third_record_would_join_the_two() -> None:
    # 0 and 1 were parted by a reviewer; 2 matches both surely. 2 joins its stronger match only.
    parent, _ = link(3, [(0, 2, 0.999), (1, 2, 0.9999)], same=set(), different={(0, 1)})
    assert find(parent, 0) != find(parent, 1) and find(parent, 2) == find(parent, 1)
    # A longer chain: 0 ~ 2 ~ 3 ~ 1, every link sure; the weakest one is left out.
    pairs = [(0, 2, 0.999), (2, 3, 0.99), (3, 1, 0.9999)]
    parent, _ = link(4, pairs, same=set(), different={(0, 1)})
    assert find(parent, 0) == find(parent, 2) and find(parent, 3) == find(parent, 1)
    assert find(parent, 0) != find(parent, 1)
    # A reviewer's "same" cannot join what another "different" parted either.
    parent, _ = link(3, [], same={(0, 2), (1, 2)}, different={(0, 1)})
    assert find(parent, 0) != find(parent, 1)
    # Without any "different", nothing changes: every sure pair and "same" joins; the unsure wait.
    parent, review = link(4, [(0, 1, 0.999), (2, 3, 0.5)], same={(1, 2)}, different=set())
    assert len({find(parent, i) for i in range(3)}) == 1 and find(parent, 3) == 3
    assert review == [(2, 3, 0.5)]


def test_only_reviewers_managers_and_admins_review_resolution(portal_data: PortalData) -> None:
    pair = _twins_pair(portal_data)
    slug = portal_data.incident.slug  # type: ignore[attr-defined]
    for role in ("agent", "finance"):
        client, _ = _staff(f"{role}1", role)
        assert client.get("/staff/review").status_code == 403, role
        assert client.post(f"/staff/review/{pair.pk}", {"decision": "same", "reason": "x"}).status_code == 403
    for role in ("manager", "admin"):
        client, _ = _staff(f"{role}1", role)
        assert client.get(f"/staff/review/{pair.pk}", {"incident": slug}).status_code == 200, role
    assert Client().get("/staff/review")["Location"] == "/staff/login"
    assert _staff("reviewer1", "reviewer")[0].get("/staff/review/999999").status_code == 404
    pair.refresh_from_db()
    assert pair.decision == "pending"
