"""What the portal journey the load benchmark drives (bench/bench_portal.py) costs the database: the
queries of a sign-in and of the first page are pinned, so a change that adds round trips fails here
before it shows in the benchmark. Real transactions (not the test's savepoints), so the counts are the
ones a server makes: BEGIN and COMMIT count too."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from owabi.core.models import AuditEvent
from owabi.notices import codes
from owabi.notices.models import Engagement
from owabi.redress.models import Request, TodoDone
from tests.portal_support import PortalData, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

# Both login budgets (1 read), the notice (1); BEGIN, the engagement upsert, the audit head lock, event
# and head update, COMMIT (6); the new session: BEGIN, insert, COMMIT (3).
SIGN_IN = 11
# The session, the notice with its incident and setup, the people's to-dos and choices, the requests and
# the claims: 6, however many people the notice covers.
FIRST_PAGE = 6


def _sql(captured: CaptureQueriesContext) -> str:
    return "\n".join(query["sql"][:160] for query in captured.captured_queries)


def _signed_in(client: Client, notice: object) -> CaptureQueriesContext:
    with CaptureQueriesContext(connection) as captured:
        sign_in(client, notice)  # type: ignore[arg-type]
    return captured


def test_a_sign_in_takes_eleven_queries_the_first_time_and_again(portal_data: PortalData) -> None:
    first = _signed_in(Client(), portal_data.guardian)
    assert len(first) <= SIGN_IN, _sql(first)
    again = _signed_in(Client(), portal_data.guardian)
    assert len(again) <= SIGN_IN, _sql(again)
    # Both were recorded: the audit chain holds an event for each, the engagement its first time only.
    assert AuditEvent.objects.filter(action="portal.sign_in").count() == 2
    engagement = Engagement.objects.get(recipient_id=portal_data.guardian.recipient_id)
    assert engagement.signed_in_at is not None


def test_the_first_page_takes_six_queries_however_many_people_it_shows(portal_data: PortalData) -> None:
    for notice in (portal_data.adult, portal_data.guardian):  # one person, then a guardian of two
        client = Client()
        sign_in(client, notice)
        with CaptureQueriesContext(connection) as captured:
            page = client.get("/me")
        assert page.status_code == 200
        assert len(captured) <= FIRST_PAGE, _sql(captured)
    # Ticked to-dos and a request on the page add no query per row.
    people = portal_data.people(portal_data.guardian)
    for person in people:
        ticked = client.post("/me/todo", {"person": person, "item": "official_contact", "done": "1"})
        assert ticked.status_code == 302
    asked = client.post("/me/requests/new", {"kind": "stop_marketing", "person": ""})
    assert asked.status_code in (200, 302)
    assert TodoDone.objects.count() == len(people) == 2
    assert Request.objects.filter(recipient_id=portal_data.guardian.recipient_id).count() == 1
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/me")
    assert page.status_code == 200
    assert len(captured) <= FIRST_PAGE, _sql(captured)


def test_an_unknown_code_and_a_wrong_key_fail_with_the_same_queries(portal_data: PortalData) -> None:
    client = Client()
    real = codes.group(portal_data.adult.code)
    unknown = codes.group(codes.new_code())

    def failed(code: str, address: str) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = client.post("/signin", {"code": code, "key": "AAAAAAAAAA"}, REMOTE_ADDR=address)
        assert response.status_code == 200 and "sessionid" not in response.cookies
        return [query["sql"].split(" ", 3)[:3] for query in captured.captured_queries]

    assert failed(real, "192.0.2.1") == failed(unknown, "192.0.2.2")


def test_sign_in_never_keeps_a_session_key_the_client_brought(portal_data: PortalData) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore
    planted = store()
    planted["x"] = 1
    planted.save()  # an attacker's real session, its key slipped into the victim's browser
    for key in (planted.session_key, "attackerchosenkeyattackerchosen1"):
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = key
        sign_in(client, portal_data.adult)
        assert client.cookies[settings.SESSION_COOKIE_NAME].value not in (key, "")
        stranger = Client()
        stranger.cookies[settings.SESSION_COOKIE_NAME] = key
        assert stranger.get("/me").status_code == 302  # the planted key opens nothing
