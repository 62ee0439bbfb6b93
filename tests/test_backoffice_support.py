"""The support console through HTTP: search tolerant of how a caller spells things, the person's
timeline, acting for them with a reason, and the resolution review queue; each role, and audit events
on every view of personal data."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.test import Client

from owabi.core import staff
from owabi.core.models import AuditEvent
from owabi.notices import codes
from owabi.notices.models import Notice
from owabi.records.models import Subject
from owabi.redress.models import Claim
from tests.portal_support import PortalData, sign_in
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
