"""Which incident the public pages speak for. A deployment serves one company's response: the incident
named by OWABI_PORTAL_INCIDENT, else the one whose notice setup names this host as its portal, else the
only incident with a notice setup. Signed-in pages always use the signed-in notice's own incident."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest

from owabi.notices.models import Notice, NoticeSetup


def portal_setup(request: HttpRequest) -> NoticeSetup | None:
    setups = NoticeSetup.objects.select_related("incident")
    slug = getattr(settings, "OWABI_PORTAL_INCIDENT", "")
    notice = getattr(request, "notice", None)
    if notice is not None and (not slug or notice.incident.slug == slug):
        return setup_of(notice)
    if slug:
        return setups.filter(incident__slug=slug).first()
    host = request.get_host().split(":")[0].lower()
    candidates = list(setups.order_by("-pk")[:50])
    for setup in candidates:
        if (urlsplit(setup.portal_url).hostname or "").lower() == host:
            return setup
    return candidates[0] if len(candidates) == 1 else None


def setup_of(notice: Notice) -> NoticeSetup | None:
    """The notice's own setup: read with the notice when the session's selector joined it in, else here."""
    try:
        return notice.incident.notice_setup
    except NoticeSetup.DoesNotExist:
        return None


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context for every portal page: the company, its official phone and address."""
    if not request.path.startswith("/admin/"):
        return {"portal": portal_setup(request)}
    return {}
