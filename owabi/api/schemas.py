"""Bodies and answers of the API. Every list and string has a bound, and strings refuse control,
surrogate and unassigned characters, so nothing odd reaches a query or a sealed value."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Annotated, Literal

from ninja import Schema
from pydantic import AfterValidator, Field, StringConstraints

MAX_ITEMS = 10_000  # per call; a bigger delivery is sent in parts


def _plain(value: str) -> str:
    if any(unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn") for char in value):
        raise ValueError("control or invalid characters")
    return value


Plain = AfterValidator(_plain)
Reference = Annotated[str, StringConstraints(max_length=20, pattern=r"^\s*[Ll][0-9]{1,12}\s*$"), Plain]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=40), Plain]
MessageId = Annotated[str, StringConstraints(max_length=250, pattern=r"^\s*<[^<>\s]+@[^<>\s]+>\s*$"), Plain]
Status = Annotated[str, StringConstraints(max_length=20), Plain]
Code = Annotated[str, StringConstraints(min_length=1, max_length=200), Plain]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=100), Plain]
Expires = Annotated[str, StringConstraints(max_length=20), Plain]


class Error(Schema):
    detail: str


class Letter(Schema):
    reference: Reference
    reason: Reason


class ReturnsIn(Schema):
    letters: list[Letter] = Field(min_length=1, max_length=MAX_ITEMS)


class ReturnsOut(Schema):
    rows: int
    returned: int
    already: int


class BounceReport(Schema):
    message_id: MessageId
    type: Literal["bounce", "complaint", "temporary"]
    status: Status = ""


class BouncesIn(Schema):
    reports: list[BounceReport] = Field(min_length=1, max_length=MAX_ITEMS)


class BouncesOut(Schema):
    reports: int
    bounced: int
    complaints: int
    ignored: int
    letters: int


class GiftCodeIn(Schema):
    code: Code
    gift_id: Identifier
    management_number: Identifier
    expires: Expires | None = None


class CodesIn(Schema):
    codes: list[GiftCodeIn] = Field(min_length=1, max_length=MAX_ITEMS)


class Reject(Schema):
    index: int  # the code's position in the body, from 1
    reason: str


class CodesOut(Schema):
    added: int
    duplicates: int
    rejects: list[Reject]


class OptionStock(Schema):
    key: str
    kind: str
    chosen: int
    free: int | None


class StockOut(Schema):
    options: list[OptionStock]


class DoneRequestRow(Schema):
    request: str
    kind: str
    done_on: date | None
    system: str
    record_id: str


class RequestsOut(Schema):
    requests: int
    rows: list[DoneRequestRow]
    without_records: list[str]
