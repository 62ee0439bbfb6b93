"""The JSON API for the company's other systems: every operation as a good token, a token of another
incident, a token without the operation's scope, a revoked or expired token, a token that is none of
ours and no token; each call audited without personal data; bad tokens and busy tokens throttled (429
with Retry-After); bodies bounded and never echoed; and the OpenAPI description exercised by
schemathesis with no server error."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings

from owabi.core import api_tokens, ratelimit, staff
from owabi.core.models import ApiToken, AuditEvent
from owabi.incidents.services import create_incident
from owabi.notices import bounces
from owabi.notices import setup as notice_setup
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.sending import message_id
from owabi.redress import request_queue, selectors
from owabi.redress import services as redress
from tests.portal_support import EXAMPLE, ROWS, PortalData

pytestmark = pytest.mark.django_db

BASE = "/api/v1/incidents/test-leak"
ALL = list(api_tokens.SCOPES)


def _token(incident: Any, scopes: list[str], name: str = "vendor", days: int = 90) -> str:
    return api_tokens.create_token(incident_id=incident.pk, name=name, scopes=scopes, actor="t", days=days)[1]


def _call(method: str, path: str, token: str | None, body: Any = None, address: str = "127.0.0.1") -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    client = Client(REMOTE_ADDR=address)
    if method == "get":
        return client.get(path, **headers)
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def data(portal_data: PortalData) -> PortalData:
    """The portal's incident with its e-mail notices handed over (each with the Message-ID the sender
    gives it; sending itself is tests/test_notice_sending.py's) and a letter for the adult, whose
    e-mail bounced."""
    setup = NoticeSetup.objects.get(incident=portal_data.incident)
    for notice in (portal_data.guardian, portal_data.adult, portal_data.twin_a, portal_data.twin_b):
        notice.message_id = message_id(notice, setup)
        Notice.objects.filter(pk=notice.pk).update(message_id=notice.message_id, status="sent")
    bounces.apply_reports(
        incident=portal_data.incident,  # type: ignore[arg-type]
        reports=[bounces.Report(portal_data.adult.message_id, "bounce", "5.1.1")],
        actor="t",
    )
    return portal_data


def _letter(data: PortalData) -> Notice:
    return Notice.objects.get(incident=data.incident, channel="letter", recipient=data.adult.recipient)


def _operations(data: PortalData) -> dict[str, tuple[str, str, str, Any]]:
    """Each operation's scope, method, path and a good body."""
    return {
        "returns": (
            "returns",
            "post",
            f"{BASE}/returns",
            {"letters": [{"reference": f"L{_letter(data).pk:09d}", "reason": "宛所不明"}]},
        ),
        "bounces": (
            "bounces",
            "post",
            f"{BASE}/bounces",
            {"reports": [{"message_id": data.guardian.message_id, "type": "complaint"}]},
        ),
        "codes": (
            "stock",
            "post",
            f"{BASE}/options/emoney/codes",
            {"codes": [{"code": "NEW-CODE-1", "gift_id": "G9", "management_number": "M9"}]},
        ),
        "stock": ("stock", "get", f"{BASE}/stock", None),
        "requests": ("requests", "get", f"{BASE}/requests", None),
    }


@pytest.mark.parametrize("operation", ["returns", "bounces", "codes", "stock", "requests"])
def test_each_operation_answers_only_a_good_token_of_its_incident_and_scope(
    data: PortalData, operation: str
) -> None:
    scope, method, path, body = _operations(data)[operation]
    other = create_incident(actor="t", slug="other-leak", name="別の事案", discovered_on=date(2026, 11, 2))
    good = _token(data.incident, [scope], name="good")
    elsewhere = _token(other, ALL, name="elsewhere")
    wrong = _token(data.incident, [s for s in ALL if s != scope], name="wrong")
    revoked = _token(data.incident, ALL, name="revoked")
    api_tokens.revoke_token(incident_id=data.incident.pk, name="revoked", actor="t")  # type: ignore[attr-defined]
    expired = _token(data.incident, ALL, name="expired", days=1)
    ApiToken.objects.filter(name="expired").update(expires_at=timezone.now() - timedelta(seconds=1))
    forged = "owabi_" + "A" * 43

    for token, status in (
        (None, 401),
        (forged, 401),
        ("not-a-token", 401),
        (revoked, 401),
        (expired, 401),
        (elsewhere, 403),
        (wrong, 403),
        (good, 200),
    ):
        response = _call(method, path, token, body)
        assert response.status_code == status, (token, response.content)
        assert response["Content-Type"].startswith("application/json")
        assert "detail" in response.json() or status == 200
    outcomes = {
        ApiToken.objects.get(pk=event.object_id).name: (event.data["outcome"], event.data["status"])
        for event in AuditEvent.objects.filter(action="api.call")
    }
    assert outcomes == {
        "revoked": ("revoked", 401),
        "expired": ("expired", 401),
        "elsewhere": ("other_incident", 403),
        "wrong": ("wrong_scope", 403),
        "good": ("ok", 200),
    }
    event = AuditEvent.objects.get(action="api.call", data__outcome="ok")
    assert event.actor == f"api:{event.object_id}" and event.data["operation"] == operation
    nowhere = _call(method, path.replace("test-leak", "no-such-leak"), good, body)
    assert nowhere.status_code == 403  # as for another incident: no probing for slugs
    assert ApiToken.objects.get(name="good").last_used_at is not None


def test_returns_mark_the_letter_returned_all_or_none(data: PortalData) -> None:
    token = _token(data.incident, ["returns"])
    letter = _letter(data)
    good = {"reference": f"L{letter.pk:09d}", "reason": "受取拒否"}
    missing = {"reference": "L999999999", "reason": "宛所不明"}
    response = _call("post", f"{BASE}/returns", token, {"letters": [good, missing]})
    assert response.status_code == 400
    assert response.json() == {"detail": "request: 1 references are not letters of this incident"}
    letter.refresh_from_db()
    assert letter.status != "returned"
    response = _call("post", f"{BASE}/returns", token, {"letters": [good]})
    assert response.json() == {"rows": 1, "returned": 1, "already": 0}
    letter.refresh_from_db()
    assert (letter.status, letter.last_error) == ("returned", "returned: refused")
    assert AuditEvent.objects.get(action="notices.returned").actor.startswith("api:")
    named = {"letters": [{"reference": "山田太郎", "reason": "宛所不明"}]}
    response = _call("post", f"{BASE}/returns", token, named)
    assert response.status_code == 422 and "山田" not in response.content.decode()
    assert "letters.0.reference: String should match pattern" in response.json()["detail"]
    named = {"letters": [{"reference": good["reference"], "reason": "山田太郎"}]}
    response = _call("post", f"{BASE}/returns", token, named)
    assert response.status_code == 400 and "山田" not in response.content.decode()
    assert response.json()["detail"].startswith("letters[1]: unknown reason; one of ")


def test_bounces_mark_the_notice_and_a_letter_follows(data: PortalData) -> None:
    token = _token(data.incident, ["bounces"])
    body = {
        "reports": [
            {"message_id": data.twin_a.message_id, "type": "bounce", "status": "5.1.1"},
            {"message_id": data.twin_b.message_id, "type": "temporary", "status": "4.2.2"},
            {"message_id": "<someone.else@example.jp>", "type": "bounce"},
        ]
    }
    response = _call("post", f"{BASE}/bounces", token, body)
    assert response.json() == {"reports": 3, "bounced": 1, "complaints": 0, "ignored": 2, "letters": 1}
    data.twin_a.refresh_from_db()
    assert data.twin_a.status == "bounced"
    bad = _call(
        "post",
        f"{BASE}/bounces",
        token,
        {"reports": [{"message_id": "hanako1@example.jp", "type": "bounce"}]},
    )
    assert bad.status_code == 422 and "hanako" not in bad.content.decode()


def test_gift_codes_are_added_sealed_and_counted(data: PortalData) -> None:
    token = _token(data.incident, ["stock"])
    option = selectors.option(data.incident.pk, "emoney")  # type: ignore[attr-defined]
    assert option is not None
    before = selectors.stock(option.pk)
    body = {
        "codes": [
            {"code": "NEW-CODE-1", "gift_id": "G9", "management_number": "M9", "expires": "2027-12-31"},
            {"code": "GIFT-0000-SECRET", "gift_id": "G0", "management_number": "M0"},  # in the pool
            {"code": "NEW-CODE-1", "gift_id": "G9", "management_number": "M9"},  # twice in the body
            {"code": " ", "gift_id": "G8", "management_number": "M8"},
        ]
    }
    response = _call("post", f"{BASE}/options/emoney/codes", token, body)
    assert response.json() == {
        "added": 1,
        "duplicates": 2,
        "rejects": [{"index": 4, "reason": "code, gift_id and management_number are all required"}],
    }
    assert "CODE" not in response.content.decode()
    assert selectors.stock(option.pk) == before + 1
    event = AuditEvent.objects.filter(action="redress.codes.import").last()
    assert event is not None and event.actor.startswith("api:") and "NEW-CODE" not in json.dumps(event.data)
    stock = _call("get", f"{BASE}/stock", token).json()
    emoney = next(item for item in stock["options"] if item["key"] == "emoney")
    assert emoney == {"key": "emoney", "kind": "code", "chosen": 0, "free": before + 1}
    missing = _call("post", f"{BASE}/options/nothing/codes", token, body)
    assert missing.status_code == 404 and "nothing" not in missing.content.decode()


def test_done_requests_come_as_system_and_record_id(data: PortalData) -> None:
    worker = staff.add_staff(username="worker", roles=["agent"], actor="t").user
    child = data.people(data.guardian)[0]
    done = redress.file_request(notice=data.guardian, kind="delete", person=child, actor="t")
    request_queue.complete(request=done, user=worker, note="done")  # type: ignore[arg-type]
    redress.file_request(notice=data.adult, kind="delete", actor="t")  # still open
    token = _token(data.incident, ["requests"])
    response = _call("get", f"{BASE}/requests", token)
    today = timezone.localdate().isoformat()
    assert response.json() == {
        "requests": 1,
        "rows": [
            {
                "request": done.reference,
                "kind": "delete",
                "done_on": today,
                "system": "members",
                "record_id": "K1",
            }
        ],
        "without_records": [],
    }
    text = response.content.decode()
    for line in ROWS.splitlines():  # no leaked value but the record id
        for value in line.split(",")[1:]:
            if value:
                assert value not in text, value
    event = AuditEvent.objects.get(action="redress.requests.export")
    assert event.data["via"] == "api" and event.data["rows"] == 1
    later = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert _call("get", f"{BASE}/requests?since={later}", token).json()["rows"] == []
    assert _call("get", f"{BASE}/requests?since=yesterday", token).status_code == 422


def test_bad_tokens_are_audited_then_the_client_is_throttled(data: PortalData, frozen_clock: float) -> None:
    good = _token(data.incident, ["stock"], name="good")
    revoked = _token(data.incident, ["stock"], name="revoked")
    api_tokens.revoke_token(incident_id=data.incident.pk, name="revoked", actor="t")  # type: ignore[attr-defined]
    limit = ratelimit.POLICIES["api.refused.client"].limit
    attempts = [f"owabi_{index:043d}" for index in range(limit - 3)] + [revoked, "not-a-token", ""]
    for raw in attempts:
        response = _call("get", f"{BASE}/stock", raw or None, address="203.0.113.9")
        assert response.status_code == 401, raw
    for raw in (attempts[0], good):  # over the limit: even a good token is not looked up
        response = _call("get", f"{BASE}/stock", raw, address="203.0.113.9")
        assert response.status_code == 429
        assert response.json() == {"detail": "too many requests; retry later"}
        window = ratelimit.POLICIES["api.refused.client"].window
        assert int(response["Retry-After"]) == window - int(frozen_clock) % window
    assert _call("get", f"{BASE}/stock", good, address="198.51.100.7").status_code == 200

    refused = list(AuditEvent.objects.filter(action="api.refused"))
    assert len(refused) == limit - 1  # the revoked token is audited under its id, as before
    assert {event.data["outcome"] for event in refused} == {"unknown", "missing"}
    hashes = {event.data["token_hash"] for event in refused}
    assert len(hashes) == limit - 1 and "" in hashes  # one per distinct string; none for no token
    assert len({event.data["client_hash"] for event in refused}) == 1
    logged = json.dumps([event.data for event in AuditEvent.objects.all()])
    assert attempts[0] not in logged and attempts[0][6:20] not in logged and "203.0.113.9" not in logged
    revoked_event = AuditEvent.objects.get(action="api.call", data__outcome="revoked")
    assert revoked_event.object_id == str(ApiToken.objects.get(name="revoked").pk)
    throttled = AuditEvent.objects.get(action="api.throttled")  # once, not once per refused call
    assert throttled.data["policy"] == "api.refused.client"
    good_pk = str(ApiToken.objects.get(name="good").pk)
    assert AuditEvent.objects.filter(action="api.call", object_id=good_pk).count() == 1  # the other address's


def test_a_good_token_works_within_its_limit_then_waits(
    data: PortalData, frozen_clock: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ratelimit.POLICIES, "api.calls.token", ratelimit.Policy(3, 60, "test"))
    busy = _token(data.incident, ["stock"], name="busy")
    other = _token(data.incident, ["stock"], name="other")
    assert [_call("get", f"{BASE}/stock", busy).status_code for _ in range(3)] == [200, 200, 200]
    for _ in range(2):
        response = _call("get", f"{BASE}/stock", busy)
        assert response.status_code == 429
        assert int(response["Retry-After"]) == 60 - int(frozen_clock) % 60
    assert _call("get", f"{BASE}/stock", other).status_code == 200
    outcomes = [
        (event.data["outcome"], event.data["status"])
        for event in AuditEvent.objects.filter(
            action="api.call", object_id=str(ApiToken.objects.get(name="busy").pk)
        )
    ]
    assert outcomes == [("ok", 200)] * 3 + [("throttled", 429)]
    assert not AuditEvent.objects.filter(action="api.refused").exists()  # a busy token is no bad token
    assert not ratelimit.is_limited("api.refused.client", "127.0.0.1")


def test_bodies_are_bounded_and_bad_values_are_not_echoed(data: PortalData) -> None:
    token = _token(data.incident, ALL)
    letters = [{"reference": "L1", "reason": "宛所不明"}] * 10_001
    assert _call("post", f"{BASE}/returns", token, {"letters": letters}).status_code == 422
    assert _call("post", f"{BASE}/returns", token, {"letters": []}).status_code == 422
    secret = "山田\x00太郎"
    response = _call("post", f"{BASE}/returns", token, {"letters": [{"reference": secret, "reason": "x"}]})
    assert response.status_code == 422 and "山田" not in response.content.decode()
    long = {"codes": [{"code": "C" * 201, "gift_id": "g", "management_number": "m"}]}
    response = _call("post", f"{BASE}/options/emoney/codes", token, long)
    assert response.status_code == 422 and "CCC" not in response.content.decode()
    huge = {"codes": [{"code": "x" * 200, "gift_id": "g" * 100, "management_number": "m" * 100}] * 9_000}
    assert _call("post", f"{BASE}/options/emoney/codes", token, huge).status_code == 413
    broken = Client().post(
        f"{BASE}/returns",
        data="{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert broken.status_code in (400, 422)
    assert AuditEvent.objects.filter(action="api.call", data__outcome="invalid").exists()


def test_the_command_shows_a_token_once_and_stores_only_its_hash(
    data: PortalData, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command(
        "api", "token", "create", "--incident", "test-leak", "--scope", "returns,bounces", "--name", "pv"
    )
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(name="pv")
    assert raw.startswith("owabi_") and len(raw) == 49
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest() and token.scopes == ["bounces", "returns"]
    assert raw not in json.dumps(list(ApiToken.objects.values()), default=str) + json.dumps(
        list(AuditEvent.objects.values_list("data", flat=True))
    )
    call_command("api", "token", "list", "--incident", "test-leak")
    assert "pv" in (listing := capsys.readouterr().out) and "active" in listing and raw not in listing
    call_command("api", "token", "revoke", "--incident", "test-leak", "--name", "pv", "--reason", "rotated")
    assert _call("get", f"{BASE}/requests", raw).status_code == 401
    with pytest.raises(CommandError, match="scopes must be some of"):
        call_command(
            "api", "token", "create", "--incident", "test-leak", "--scope", "everything", "--name", "x"
        )
    with pytest.raises(CommandError, match="no token of that name"):
        call_command("api", "token", "revoke", "--incident", "test-leak", "--name", "nobody")
    with pytest.raises(CommandError, match="already"):
        call_command(
            "api", "token", "create", "--incident", "test-leak", "--scope", "returns", "--name", "pv"
        )


def test_the_openapi_description_is_served_without_a_docs_page(db: None) -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    description = response.json()
    assert set(description["paths"]) == {
        "/api/v1/incidents/{slug}/returns",
        "/api/v1/incidents/{slug}/bounces",
        "/api/v1/incidents/{slug}/options/{key}/codes",
        "/api/v1/incidents/{slug}/stock",
        "/api/v1/incidents/{slug}/requests",
    }
    assert Client().get("/api/v1/docs").status_code == 404


# The description as the app serves it, fetched in-process through the WSGI application.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def one_connection() -> Iterator[None]:
    """Django's test client keeps the test's database connection open across requests; a bare WSGI
    call would close it at the end of each request, so do as the test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_token(incident: Any, tmp_path: Path) -> str:
    """A token for an incident with its notices set up and a gift-code option with a pool."""
    setup = notice_setup.load(EXAMPLE)
    notice_setup.apply(incident=incident, data=setup, actor="t")
    redress.set_catalog(incident=incident, options=setup["redress"]["options"], actor="t")
    pool = tmp_path / "codes.csv"
    pool.write_text("code,gift_id,management_number\nC1,G1,M1\n", encoding="utf-8")
    redress.import_codes(incident=incident, option_key="emoney", path=pool, actor="t")
    return _token(incident, ALL, name="fuzz")


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_survives_generated_requests(
    case: Any, fuzz_token: str, one_connection: None
) -> None:
    """Generated bodies and parameters, on the real incident (and its gift option, half the time):
    any answer but a server error."""
    case.path_parameters = {**(case.path_parameters or {}), "slug": "test-leak"}
    if "key" in case.path_parameters and len(case.path_parameters["key"]) % 2:
        case.path_parameters["key"] = "emoney"
    response = case.call(headers={"Authorization": f"Bearer {fuzz_token}"})
    case.validate_response(response, checks=[schemathesis.checks.not_a_server_error])
