"""The JSON API for the company's other systems (docs/architecture.md, docs/decisions.md).

Each operation checks the token (auth.py), parses its body (schemas.py), calls one existing service
or selector, and audits the call. Error texts name positions and rules, never a submitted value.
The OpenAPI description is served at /api/v1/openapi.json; there is no interactive docs page (it
would load its scripts from a CDN).
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Path, Query
from ninja.errors import HttpError, Throttled, ValidationError

from owabi.api import schemas
from owabi.api.auth import TokenAuth, allowed, operation_of
from owabi.core import api_tokens
from owabi.core.models import ApiToken
from owabi.incidents.models import Incident
from owabi.notices import services as notices
from owabi.notices.models import NoticeSetup
from owabi.redress import crm, selectors, services

api = NinjaAPI(
    title="owabi API",
    version="1",
    description="For the company's other systems: returned letters, bounces, gift-code stock and done "
    "requests. Each call needs a bearer token made with `owabi api token create`, for one incident "
    "and some operations.",
    auth=TokenAuth(),
    docs_url=None,
    openapi_url="/openapi.json",
    urls_namespace="api",
)

Slug = Path(..., min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9-]*$")
OptionKey = Path(..., min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")
ERRORS: dict[int, Any] = {code: schemas.Error for code in (400, 401, 403, 404, 409, 413, 422, 429)}


def _incident(token: ApiToken) -> Incident:
    return token.incident


def _done(request: HttpRequest, token: ApiToken) -> None:
    api_tokens.record_use(token=token, operation=operation_of(request), outcome="ok", status=200)


def _refuse(request: HttpRequest, token: ApiToken, status: int, message: str) -> HttpError:
    api_tokens.record_use(token=token, operation=operation_of(request), outcome="invalid", status=status)
    return HttpError(status, message)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Where and which rule, without pydantic's echo of the input."""
    token = getattr(request, "auth", None)
    if isinstance(token, ApiToken):
        api_tokens.record_use(token=token, operation=operation_of(request), outcome="invalid", status=422)
    where = [".".join(str(part) for part in error.get("loc", ())) for error in exc.errors[:20]]
    detail = "invalid request: " + "; ".join(
        f"{place}: {error.get('msg', 'invalid')}" for place, error in zip(where, exc.errors, strict=False)
    )
    return api.create_response(request, {"detail": detail[:2000]}, status=422)


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    """Too many calls (auth.py names the limits): 429 with the seconds until the window ends."""
    response = api.create_response(request, {"detail": "too many requests; retry later"}, status=429)
    response["Retry-After"] = str(exc.wait or 1)
    return response


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return api.create_response(request, {"detail": "the body is too large; send it in parts"}, status=413)


@api.post(
    "/incidents/{slug}/returns",
    response={200: schemas.ReturnsOut, **ERRORS},
    url_name="returns",
    summary="Record returned letters (print vendor)",
)
def post_returns(request: HttpRequest, body: schemas.ReturnsIn, slug: str = Slug) -> Any:
    """Letters returned undelivered, by the reference printed under the address (L000000123) and
    Japan Post's reason (宛所不明, 転居先不明, 受取拒否, … or its English code). All or none."""
    token = allowed(request, slug, "returns")
    wanted: list[tuple[int, str]] = []
    for index, letter in enumerate(body.letters, start=1):
        parsed = notices.parse_letter(letter.reference, letter.reason)
        if isinstance(parsed, str):
            raise _refuse(request, token, 400, f"letters[{index}]: {parsed}")
        wanted.append(parsed)
    try:
        result = notices.apply_returned(
            incident=_incident(token), wanted=wanted, actor=f"api:{token.pk}", source="request"
        )
    except notices.ReturnedFileError as error:
        raise _refuse(request, token, 400, str(error)) from None
    _done(request, token)
    return result


@api.post(
    "/incidents/{slug}/bounces",
    response={200: schemas.BouncesOut, **ERRORS},
    url_name="bounces",
    summary="Record bounces and complaints (mail provider)",
)
def post_bounces(request: HttpRequest, body: schemas.BouncesIn, slug: str = Slug) -> Any:
    """Reports by the Message-ID a notice was sent with: a bounce marks it bounced (and a letter
    follows where there is an address), a complaint is noted, a temporary failure changes nothing."""
    token = allowed(request, slug, "bounces")
    reports = []
    for index, report in enumerate(body.reports, start=1):
        found = notices.MESSAGE_ID.fullmatch(report.message_id.strip())
        if found is None:
            raise _refuse(request, token, 400, f"reports[{index}]: message_id must look like <id@host>")
        reports.append(notices.BounceReport(found.group(0), report.type, report.status.strip()))
    try:
        result = notices.apply_reports(incident=_incident(token), reports=reports, actor=f"api:{token.pk}")
    except NoticeSetup.DoesNotExist:
        raise _refuse(request, token, 409, "the incident's notices are not set up yet") from None
    _done(request, token)
    return result


@api.post(
    "/incidents/{slug}/options/{key}/codes",
    response={200: schemas.CodesOut, **ERRORS},
    url_name="codes",
    summary="Add gift codes to an option's pool (gift provider)",
)
def post_codes(request: HttpRequest, body: schemas.CodesIn, slug: str = Slug, key: str = OptionKey) -> Any:
    """Codes already in the pool are counted as duplicates, so sending a delivery twice is harmless.
    Each code is sealed at rest; the answer never repeats one."""
    token = allowed(request, slug, "stock")
    codes = [code.dict(exclude_none=True) for code in body.codes]
    try:
        result = services.add_codes(
            incident=_incident(token),
            option_key=key,
            codes=codes,
            batch=hashlib.sha256(request.body).hexdigest(),
            actor=f"api:{token.pk}",
        )
    except services.RedressError:
        raise _refuse(request, token, 404, "the incident has no gift-code option of that key") from None
    _done(request, token)
    return {
        "added": result.added,
        "duplicates": result.duplicates,
        "rejects": [{"index": index, "reason": reason} for index, reason in result.rejects],
    }


@api.get(
    "/incidents/{slug}/stock",
    response={200: schemas.StockOut, **ERRORS},
    url_name="stock",
    summary="Compensation options: live choices and codes left",
)
def get_stock(request: HttpRequest, slug: str = Slug) -> Any:
    token = allowed(request, slug, "stock")
    options = selectors.stock_counts(token.incident_id)
    _done(request, token)
    return {"options": options}


@api.get(
    "/incidents/{slug}/requests",
    response={200: schemas.RequestsOut, **ERRORS},
    url_name="requests",
    summary="Done deletion and opt-out requests, by system and record id (docs/exports.md)",
)
def get_requests(request: HttpRequest, slug: str = Slug, since: date | None = Query(None)) -> Any:  # noqa: B008
    """The rows `owabi redress export-requests` writes: request reference, kind, day done, and the
    company system and record id that find the customer there; no name, address or contact."""
    token = allowed(request, slug, "requests")
    done = crm.done_requests(incident=_incident(token), actor=f"api:{token.pk}", since=since)
    _done(request, token)
    return {
        "requests": done.requests,
        "rows": [dict(zip(crm.COLUMNS, row, strict=True)) | {"done_on": row[2] or None} for row in done.rows],
        "without_records": done.without_records,
    }
