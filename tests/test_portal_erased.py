"""After `owabi retention` has erased an incident's personal data, a person who signs in gets a plain page
saying so (when, what is kept, whom to call), in Japanese and in English, instead of empty pages; no
signed-in page acts any more. Someone else, staff and anonymous visitors get nothing more; the sign-in
page says the response has ended."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from owabi.redress import retention
from owabi.redress.models import LegalHold, Request
from tests.portal_support import ROWS, PortalData, sign_in
from tests.staff_clients import staff_client

pytestmark = pytest.mark.django_db

PHONE = "0120-000-000"  # docs/notice-setup.example.toml: the official number
NAMES = sorted({line.split(",")[1] for line in ROWS.splitlines()} | {"中村 由美"})


def _shred(data: PortalData, days_ago: int = 0) -> LegalHold:
    hold = retention.shred(incident=data.incident, actor="test")  # type: ignore[arg-type]
    if days_ago:  # erased some days ago: the page names that day, not today
        LegalHold.objects.filter(pk=hold.pk).update(shredded_at=hold.shredded_at - timedelta(days=days_ago))
        hold.refresh_from_db()
    return hold


def _page(client: Client, path: str = "/me") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_the_owner_reads_when_their_data_was_erased_what_is_kept_and_whom_to_call(
    portal_data: PortalData,
) -> None:
    on = timezone.localdate(_shred(portal_data, days_ago=3).shredded_at)
    client = Client()
    sign_in(client, portal_data.adult)
    page = _page(client)
    assert "このお手続きは終了しました" in page
    assert f"{on.year}年{on.month}月{on.day}日に消去しました" in page
    assert "残している記録" in page and "お名前やご住所など" in page
    assert PHONE in page and f'href="tel:{PHONE.replace("-", "")}"' in page
    assert not [name for name in NAMES if name in page]
    for path in ("/me/requests/new", "/me/claims/new", "/me/people/1/compensation", "/me/claims/K-X"):
        assert "このお手続きは終了しました" in _page(client, path), path


def test_the_page_is_in_english_for_an_english_reader(portal_data: PortalData) -> None:
    on = timezone.localdate(_shred(portal_data).shredded_at)
    client = Client()
    client.get("/language/en")
    sign_in(client, portal_data.guardian)
    page = _page(client)
    assert 'lang="en"' in page and "This response has ended" in page
    assert f"On {on.day} {on.strftime('%B')} {on.year} we erased the personal data" in page
    assert "What we keep" in page and PHONE in page
    assert "このお手続きは終了しました" not in page and "中村" not in page


def test_a_session_open_when_the_data_was_erased_can_no_longer_act(portal_data: PortalData) -> None:
    client = Client()
    sign_in(client, portal_data.adult)
    assert "このお手続きは終了しました" not in _page(client)  # before: the usual page
    _shred(portal_data)
    response = client.post("/me/requests/new", {"kind": "delete", "person": "1", "agree": "on"})
    assert response.status_code == 200 and "このお手続きは終了しました" in response.content.decode()
    assert Request.objects.count() == 0


def test_another_person_sees_only_the_same_page_and_a_wrong_key_still_fails(portal_data: PortalData) -> None:
    _shred(portal_data)
    other = Client()
    sign_in(other, portal_data.twin_a)
    page = _page(other)
    assert "このお手続きは終了しました" in page and not [name for name in NAMES if name in page]
    stranger = Client()
    response = stranger.post("/signin", {"code": portal_data.adult.code, "key": "WRONGKEY22"})
    assert response.status_code == 200 and "正しくありません" in response.content.decode()
    assert "このお手続きは終了しました" not in response.content.decode()


def test_anonymous_visitors_and_staff_are_sent_to_sign_in(portal_data: PortalData) -> None:
    assert "消去しました" not in _page(Client(), "/")
    on = timezone.localdate(_shred(portal_data).shredded_at)
    for client in (Client(), staff_client("manager1", "manager")):
        for path in ("/me", "/me/claims/new"):
            response = client.get(path)
            assert response.status_code == 302 and response["Location"] == "/?expired=1", path
        assert client.post("/me/todo", {"person": "1", "item": "x"})["Location"] == "/?expired=1"
    home = _page(Client(), "/")  # the sign-in page says the response has ended, and when
    assert f"個人情報は{on.year}年{on.month}月{on.day}日に消去しました" in home and PHONE in home
    english = Client()
    english.get("/language/en")
    assert f"on {on.day} {on.strftime('%B')} {on.year} we erased the personal data" in _page(english, "/")
