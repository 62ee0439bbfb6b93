"""CSV downloads from the back office, through owabi's one formula-safe csv writer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import IO, cast

from django.http import HttpResponse

from owabi.core.files import csv_writer


def csv_response(filename: str, rows: Iterable[Sequence[object]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    csv_writer(cast(IO[str], response)).writerows(rows)  # HttpResponse is a text file to write to
    return response
