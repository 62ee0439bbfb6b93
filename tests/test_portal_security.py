"""The portal under attack: guessing keys and codes, cross-site requests, framing, and what headers
every page carries."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from owabi.core.models import AuditEvent
from owabi.notices import codes, engagement
from tests.portal_support import PortalData

# The limits' clock stands still (conftest.frozen_clock): hundreds of guesses fall in one window.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


def _guess(client: Client, code: str, key: str, address: str) -> int:
    return client.post("/signin", {"code": code, "key": key}, REMOTE_ADDR=address).status_code


def test_a_thousand_wrong_keys_against_one_code_gain_nothing(portal_data: PortalData) -> None:
    client = Client()
    code = codes.group(portal_data.adult.code)
    # From a thousand addresses, so only the per-code budget stands in the way.
    statuses = [_guess(client, code, f"{n:010d}", f"10.0.{n // 250}.{n % 250}") for n in range(1000)]
    checked = statuses.count(200)  # guesses that reached the key check; the rest were refused unread
    assert checked == 10 and statuses.count(429) == 990
    # The right key is refused too until the window passes or staff lift the lockout.
    assert _guess(client, code, codes.login_key(portal_data.adult.code), "10.9.9.9") == 429
    assert AuditEvent.objects.filter(action="portal.sign_in.locked").count() == 1
    assert engagement.lift_lockout(code_typed=code, actor="staff:1", reason="caller verified by phone")
    assert _guess(client, code, codes.login_key(portal_data.adult.code), "10.9.9.9") == 302


def test_guesses_spread_over_many_codes_from_one_client_are_throttled(portal_data: PortalData) -> None:
    client = Client()
    statuses = [_guess(client, codes.group(codes.new_code()), "AAAAAAAAAA", "192.0.2.7") for _ in range(200)]
    assert statuses.count(200) == 30 and statuses.count(429) == 170
    # Another client is not locked out by the first one's guesses.
    assert (
        _guess(
            client, codes.group(portal_data.adult.code), codes.login_key(portal_data.adult.code), "192.0.2.8"
        )
        == 302
    )


def test_malformed_codes_cost_no_budget_and_reveal_nothing(portal_data: PortalData) -> None:
    client = Client()
    for _ in range(50):
        assert _guess(client, "NOT-A-CODE", "X", "198.51.100.1") == 200
    assert (
        _guess(
            client,
            codes.group(portal_data.adult.code),
            codes.login_key(portal_data.adult.code),
            "198.51.100.1",
        )
        == 302
    )


def test_forms_refuse_cross_site_posts(portal_data: PortalData) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/signin",
        {"code": codes.group(portal_data.adult.code), "key": codes.login_key(portal_data.adult.code)},
    )
    assert response.status_code == 403


@override_settings(
    SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True, SESSION_COOKIE_SECURE=True
)
def test_every_page_sends_the_security_headers(portal_data: PortalData) -> None:
    client = Client()
    for path in ("/", "/check", "/faq", "/announcement", "/no-such-page"):
        response = client.get(path, secure=True)
        csp = response["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    signed = Client()
    response = signed.post(
        "/signin",
        {"code": codes.group(portal_data.adult.code), "key": codes.login_key(portal_data.adult.code)},
        secure=True,
    )
    cookie = response.cookies["sessionid"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    page = signed.get("/me", secure=True)
    assert "no-store" in page["Cache-Control"]


def test_the_genuine_check_is_rate_limited_per_client(portal_data: PortalData) -> None:
    client = Client()
    statuses = [
        client.post("/check", {"code": codes.group(codes.new_code())}, REMOTE_ADDR="203.0.113.5").status_code
        for _ in range(25)
    ]
    assert statuses.count(200) == 20 and statuses.count(429) == 5
