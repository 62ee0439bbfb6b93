"""Who is calling: a bearer token (owabi.core.api_tokens), allowed one incident and some operations.

No token, an unknown one, a revoked or an expired one: 401. A good token used for another incident or
an operation outside its scopes: 403. An incident that does not exist answers like another incident's,
so a token cannot probe for slugs. Every call made with a known token is audited, refused or not.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security.http import HttpAuthBase

from owabi.core import api_tokens
from owabi.core.models import ApiToken


def operation_of(request: HttpRequest) -> str:
    match = request.resolver_match
    return (match.url_name or "") if match else ""


class TokenAuth(HttpAuthBase):
    """`Authorization: Bearer owabi_…`. Unlike ninja's HttpBearer it never logs the header."""

    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> ApiToken | None:
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not raw:
            return None
        found = api_tokens.check(raw.strip())
        if found.token is None:
            return None
        if found.refusal:
            api_tokens.record_use(
                token=found.token, operation=operation_of(request), outcome=found.refusal, status=401
            )
            return None
        return found.token


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
