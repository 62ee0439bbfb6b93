"""Who is signed in to the portal: one notice per session, found only through this module.

A session holds the notice's id and when it was last used. Sign-in never keeps a session key the
client brought (no fixation); an idle session ends after IDLE_SECONDS; sign-out flushes it. Every
signed-in page gets the notice from `current_notice`, and every object it shows is reached from that
notice (redress selectors), so changing a number in a URL reaches nothing of anyone else's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from owabi.notices import selectors
from owabi.notices.models import Notice
from owabi.redress import selectors as redress_selectors

IDLE_SECONDS = 30 * 60
_TOUCH_EVERY = 60  # seconds between session writes that keep an active session alive
SESSION_NOTICE = "portal.notice"
SESSION_SEEN = "portal.seen"


def client_address(request: HttpRequest) -> str:
    """The client's address for rate limits (REMOTE_ADDR; a TLS proxy in front sets it through the
    WSGI server's forwarded-address handling, never from a header we trust blindly)."""
    return str(request.META.get("REMOTE_ADDR") or "")


def start(request: HttpRequest, notice: Notice) -> None:
    if request.session.session_key is not None:  # a key the client sent is never kept (fixation)
        request.session.cycle_key()
    # else the session is new: it gets a fresh key when saved, without an empty row first
    request.session[SESSION_NOTICE] = notice.pk
    request.session[SESSION_SEEN] = int(time.time())


def end(request: HttpRequest) -> None:
    request.session.flush()


def current_notice(request: HttpRequest) -> Notice | None:
    pk = request.session.get(SESSION_NOTICE)
    if pk is None:
        return None
    now = int(time.time())
    seen = int(request.session.get(SESSION_SEEN) or 0)
    if now - seen > IDLE_SECONDS:
        end(request)
        return None
    notice = selectors.signed_in_notice(int(pk))
    if notice is None:
        end(request)
        return None
    if now - seen > _TOUCH_EVERY:
        request.session[SESSION_SEEN] = now
    return notice


View = Callable[..., HttpResponse]


def signed_in(view: View) -> View:
    """The view runs with `request.notice` set, or the person is sent to the sign-in page. Once retention
    has erased the incident's personal data, every signed-in page is the one that says so: when, what
    is kept and whom to call (the view itself would only show empty pages, and must change nothing)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        notice = current_notice(request)
        if notice is None:
            return HttpResponseRedirect(reverse("portal:home") + "?expired=1")
        request.notice = notice  # type: ignore[attr-defined]
        erased_on = redress_selectors.erased_on(notice.incident_id)
        if erased_on is not None:
            return render(request, "portal/erased.html", {"erased_on": erased_on})
        return view(request, *args, **kwargs)

    return wrapper
