"""Staff signed in through the real two-step sign-in (password, then a TOTP code), for page tests."""

from __future__ import annotations

import time

from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from owabi.core import staff


def _token(username: str) -> str:
    device = TOTPDevice.objects.get(user__username=username)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def staff_client(username: str, *roles: str) -> Client:
    """A new staff user with these roles, signed in with both factors."""
    made = staff.add_staff(username=username, roles=list(roles), actor="test")
    client = Client()
    assert client.post("/staff/login", {"username": username, "password": made.password}).status_code == 302
    assert client.post("/staff/login/code", {"token": _token(username)})["Location"] == "/staff/"
    return client
