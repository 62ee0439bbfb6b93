"""API tokens: created (shown once), checked on every call, revoked. Only SHA-256 digests are stored.

A token is `owabi_` + 43 URL-safe characters (256 random bits). With that much entropy a plain SHA-256
is enough: nobody can guess a token from its digest, and looking a digest up by its unique index is
as fast as it gets. A keyed hash would add a key to rotate and buy nothing here.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from owabi.core import audit
from owabi.core.models import ApiToken

PREFIX = "owabi_"
# The operations a token may be allowed (owabi.api names one scope per operation).
SCOPES = ("returns", "bounces", "stock", "requests")
MAX_DAYS = 366


class TokenError(ValueError):
    """A token that cannot be created or revoked as asked (says why, never the token)."""


@dataclass(frozen=True)
class Check:
    """The outcome of presenting a token: the token when it is known, and why it is refused, if it is."""

    token: ApiToken | None
    refusal: str  # "" when usable; "unknown", "revoked" or "expired"


def digest_of(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    *, incident_id: int, name: str, scopes: list[str], actor: str, days: int = 90
) -> tuple[ApiToken, str]:
    """A new token for one incident and the given operations, valid `days` days. Returns the row and
    the token itself, which is never stored and cannot be shown again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("a token needs a name of 1 to 100 characters")
    wanted = sorted({scope.strip() for scope in scopes if scope.strip()})
    unknown = [scope for scope in wanted if scope not in SCOPES]
    if not wanted or unknown:
        raise TokenError(f"scopes must be some of {', '.join(SCOPES)}")
    if not 1 <= days <= MAX_DAYS:
        raise TokenError(f"a token lives 1 to {MAX_DAYS} days")
    if ApiToken.objects.filter(incident_id=incident_id, name=name).exists():
        raise TokenError("this incident has a token of that name already")
    raw = PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            incident_id=incident_id,
            name=name,
            scopes=wanted,
            digest=digest_of(raw),
            created_by=actor,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        audit.record(
            actor=actor,
            action="api.token.create",
            object_type="api_token",
            object_id=token.pk,
            data={"incident": incident_id, "scopes": wanted, "days": days},
        )
    return token, raw


def revoke_token(*, incident_id: int, name: str, actor: str, reason: str = "") -> ApiToken:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(incident_id=incident_id, name=name).first()
        if token is None:
            raise TokenError("this incident has no token of that name")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record(
                actor=actor,
                action="api.token.revoke",
                object_type="api_token",
                object_id=token.pk,
                reason=reason,
            )
    return token


def tokens_of(incident_id: int) -> list[ApiToken]:
    return list(ApiToken.objects.filter(incident_id=incident_id).order_by("created_at", "pk"))


def check(raw: str, now: datetime | None = None) -> Check:
    """Which token this is and whether it may be used now. A string that is no token of ours is
    "unknown" without a database lookup."""
    if not raw.startswith(PREFIX) or len(raw) > 100:
        return Check(None, "unknown")
    token = ApiToken.objects.select_related("incident").filter(digest=digest_of(raw)).first()
    if token is None:
        return Check(None, "unknown")
    if token.revoked_at is not None:
        return Check(token, "revoked")
    if token.expires_at <= (now or timezone.now()):
        return Check(token, "expired")
    return Check(token, "")


def record_use(*, token: ApiToken, operation: str, outcome: str, status: int) -> None:
    """Audit one call made with a token (ids, the operation and its outcome; never the body)."""
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        audit.record(
            actor=f"api:{token.pk}",
            action="api.call",
            object_type="api_token",
            object_id=token.pk,
            data={
                "incident": token.incident_id,
                "operation": operation,
                "outcome": outcome,
                "status": status,
            },
        )
