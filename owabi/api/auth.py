"""Who is calling: a bearer token (owabi.core.api_tokens), allowed one incident and some operations.

No token, an unknown one, a revoked or an expired one: 401. A good token used for another incident or
an operation outside its scopes: 403. An incident that does not exist answers like another incident's,
so a token cannot probe for slugs. Every call made with a known token is audited, refused or not;
a call with no token or an unknown one is audited as `api.refused`, naming the token only by a keyed
hash (so repeated tries of one string can be told apart) and the client by another.

Rate limits (owabi.core.ratelimit): calls without a usable token count against their client address,
and a client over `api.refused.client` is answered 429 before any token is looked up; calls with a good
token count against `api.calls.token`. Both answer 429 with Retry-After, and each audits only the call
that reaches its limit, so a flood cannot flood the audit log.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import HttpError, Throttled
from ninja.security.http import HttpAuthBase

from owabi.core import api_tokens, audit, ratelimit
from owabi.core.crypto import keyed_hash
from owabi.core.models import ApiToken

REFUSED = "api.refused.client"
CALLS = "api.calls.token"


def operation_of(request: HttpRequest) -> str:
    match = request.resolver_match
    return (match.url_name or "") if match else ""


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR (a TLS proxy in front sets it through the server; see config/settings.py)."""
    return str(request.META.get("REMOTE_ADDR") or "-")


def _throttled(policy: str) -> Throttled:
    return Throttled(wait=ratelimit.retry_after(policy))


def _refused(request: HttpRequest, client: str, raw: str, found: api_tokens.Check) -> None:
    """Count a call without a usable token against its client and audit it (never the token)."""
    count = ratelimit.count_hit(REFUSED, client)
    limit = ratelimit.POLICIES[REFUSED].limit
    if count > limit:  # lost a race with the check before: refuse as a limited client is refused
        raise _throttled(REFUSED)
    if found.token is not None:
        api_tokens.record_use(
            token=found.token, operation=operation_of(request), outcome=found.refusal, status=401
        )
    else:
        audit.record(
            actor="api:-",
            action="api.refused",
            object_type="api_token",
            data={
                "operation": operation_of(request),
                "outcome": found.refusal,
                "status": 401,
                "token_hash": keyed_hash("api_token", raw)[:16],
                "client_hash": keyed_hash("client", client)[:16],
            },
        )
    if count == limit:
        audit.record(
            actor="api:-",
            action="api.throttled",
            object_type="api_token",
            object_id=found.token.pk if found.token else "",
            data={"policy": REFUSED, "client_hash": keyed_hash("client", client)[:16]},
        )


class TokenAuth(HttpAuthBase):
    """`Authorization: Bearer owabi_…`. Unlike ninja's HttpBearer it never logs the header."""

    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> ApiToken | None:
        client = client_address(request)
        if ratelimit.is_limited(REFUSED, client):
            raise _throttled(REFUSED)
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        raw = raw.strip() if scheme.lower() == "bearer" else ""
        found = api_tokens.check(raw) if raw else api_tokens.Check(None, "missing")
        if found.token is None or found.refusal:
            _refused(request, client, raw, found)
            return None
        token = found.token
        count = ratelimit.count_hit(CALLS, str(token.pk))
        if count > ratelimit.POLICIES[CALLS].limit:
            if count == ratelimit.POLICIES[CALLS].limit + 1:
                api_tokens.record_use(
                    token=token, operation=operation_of(request), outcome="throttled", status=429
                )
            raise _throttled(CALLS)
        return token


def allowed(request: HttpRequest, slug: str, scope: str) -> ApiToken:
    """The calling token, once it is shown to be for this incident and operation (403 otherwise)."""
    token = getattr(request, "auth", None)
    assert isinstance(token, ApiToken)  # every operation is behind TokenAuth
    refusal = ""
    if token.incident.slug != slug:
        refusal = "other_incident"
    elif scope not in token.scopes:
        refusal = "wrong_scope"
    if refusal:
        api_tokens.record_use(token=token, operation=operation_of(request), outcome=refusal, status=403)
        raise HttpError(403, "this token is not allowed this operation on this incident")
    return token
