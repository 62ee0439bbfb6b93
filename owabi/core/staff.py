"""Staff accounts: a user, their roles (groups) and a TOTP second factor. Created from the command line
(`owabi staff add`) by an administrator; the password and the authenticator key are shown once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from owabi.core import audit
from owabi.core.roles import ROLES


class StaffError(ValueError):
    pass


@dataclass
class NewStaff:
    user: AbstractBaseUser
    password: str
    otpauth_url: str  # for the authenticator app (a QR code of it, or typed in)


def _check_roles(roles: list[str]) -> None:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise StaffError(f"roles must be one or more of {', '.join(ROLES)}")


@transaction.atomic
def add_staff(*, username: str, roles: list[str], actor: str, email: str = "") -> NewStaff:
    _check_roles(roles)
    model = get_user_model()
    if model.objects.filter(username=username).exists():
        raise StaffError(f"user {username!r} exists already")
    password = secrets.token_urlsafe(15)
    user = model.objects.create_user(username=username, email=email, password=password, is_staff=True)
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    audit.record(
        actor=actor, action="staff.add", object_type="user", object_id=user.pk, data={"roles": roles}
    )
    return NewStaff(user, password, device.config_url)


@transaction.atomic
def set_roles(*, username: str, roles: list[str], actor: str) -> None:
    _check_roles(roles)
    user = get_user_model().objects.filter(username=username, is_staff=True).first()
    if user is None:
        raise StaffError(f"no staff user {username!r}")
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    for role in roles:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    audit.record(
        actor=actor, action="staff.roles", object_type="user", object_id=user.pk, data={"roles": roles}
    )


@transaction.atomic
def new_authenticator(*, username: str, actor: str) -> str:
    """Replace a staff user's second factor (a lost phone): the old key stops working at once."""
    user = get_user_model().objects.filter(username=username, is_staff=True).first()
    if user is None:
        raise StaffError(f"no staff user {username!r}")
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    audit.record(actor=actor, action="staff.authenticator", object_type="user", object_id=user.pk)
    return str(device.config_url)


def current_code(*, username: str) -> str:
    """The six digits a staff user's authenticator shows now: for the demo and development only (an
    authenticator app is the second factor; a command that prints it would defeat it in production)."""
    from django.conf import settings
    from django_otp.oath import TOTP

    if settings.PRODUCTION:
        raise StaffError("the current code is shown in development only; use the authenticator app")
    device = TOTPDevice.objects.filter(user__username=username, user__is_staff=True).first()
    if device is None:
        raise StaffError(f"no staff user {username!r} with an authenticator")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"
