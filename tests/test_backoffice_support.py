"""The support console through HTTP: search tolerant of how a caller spells things, the person's
timeline, acting for them with a reason, and the resolution review queue; each role, and audit events
on every view of personal data."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from owabi.core import staff
from owabi.core.models import AuditEvent
from owabi.notices import codes
from tests.portal_support import PortalData
from tests.test_backoffice import _staff

pytestmark = pytest.mark.django_db


def _search(client: Client, data: PortalData, **values: str):
    return client.post("/staff/search", {"incident": data.incident.slug, **values})  # type: ignore[attr-defined]


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
