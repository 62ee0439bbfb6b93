"""Staff sign-in: password, then a TOTP code (django-otp), then the pages their roles allow.

Every staff page goes through `staff_required(action)`: signed in, verified by the second factor, active
staff, a role that may do the action (owabi.core.roles), and not idle for longer than IDLE_SECONDS.
Failures answer the same way for a wrong user name and a wrong password, and are rate-limited per user
name and per client (owabi.core.ratelimit, staff.login.*)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import django_otp
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_totp.models import TOTPDevice

from owabi.core import audit, ratelimit
from owabi.core.roles import can

IDLE_SECONDS = 15 * 60
PENDING = "staff.pending_user"
SEEN = "staff.seen"

View = Callable[..., HttpResponse]


def _client(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")


def staff_required(action: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @wraps(view)
        @never_cache
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            verified = getattr(user, "is_verified", lambda: False)()
            if not (user.is_authenticated and user.is_active and user.is_staff and verified):
                return HttpResponseRedirect(reverse("staff:login"))
            now = int(time.time())
            if now - int(request.session.get(SEEN) or 0) > IDLE_SECONDS:
                auth_logout(request)
                return HttpResponseRedirect(reverse("staff:login") + "?idle=1")
            request.session[SEEN] = now
            if not can(user, action):
                return HttpResponseForbidden(render(request, "backoffice/forbidden.html").content)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


@never_cache
def login(request: HttpRequest) -> HttpResponse:
    """Step one: user name and password. Success leads to the second factor, not yet to any page."""
    context: dict[str, Any] = {"idle": "idle" in request.GET}
    if request.method == "POST":
        username = request.POST.get("username", "")[:150]
        password = request.POST.get("password", "")
        limited = ratelimit.is_limited("staff.login.user", username) or ratelimit.is_limited(
            "staff.login.client", _client(request)
        )
        user = None if limited else authenticate(request, username=username, password=password)
        if user is not None and user.is_staff and user.is_active:
            request.session.cycle_key()
            request.session[PENDING] = user.pk
            return HttpResponseRedirect(reverse("staff:login_otp"))
        if not limited:
            ratelimit.hit("staff.login.user", username)
            ratelimit.hit("staff.login.client", _client(request))
        context["failed"] = True
        context["limited"] = limited
        return render(request, "backoffice/login.html", context, status=429 if limited else 200)
    return render(request, "backoffice/login.html", context)


@never_cache
def login_otp(request: HttpRequest) -> HttpResponse:
    """Step two: the six-digit code from the authenticator app."""
    pk = request.session.get(PENDING)
    user = get_user_model().objects.filter(pk=pk, is_staff=True, is_active=True).first() if pk else None
    if user is None:
        return HttpResponseRedirect(reverse("staff:login"))
    if request.method == "POST":
        token = "".join(request.POST.get("token", "").split())[:8]
        limited = ratelimit.is_limited("staff.login.user", user.get_username())
        device = None
        if not limited:
            device = next(
                (d for d in TOTPDevice.objects.filter(user=user, confirmed=True) if d.verify_token(token)),
                None,
            )
        if device is not None:
            del request.session[PENDING]
            auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            django_otp.login(request, device)
            request.session[SEEN] = int(time.time())
            ratelimit.reset("staff.login.user", user.get_username())
            audit.record(
                actor=f"staff:{user.pk}", action="staff.sign_in", object_type="user", object_id=user.pk
            )
            return HttpResponseRedirect(reverse("staff:home"))
        if not limited:
            ratelimit.hit("staff.login.user", user.get_username())
        return render(request, "backoffice/login_otp.html", {"failed": True, "limited": limited}, status=200)
    return render(request, "backoffice/login_otp.html")


def logout(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        auth_logout(request)
    return HttpResponseRedirect(reverse("staff:login"))


def actor(request: HttpRequest) -> str:
    """How audit events name the signed-in staff member: by id, never by name."""
    return f"staff:{request.user.pk}"
