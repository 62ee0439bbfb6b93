"""Returned letters (還付): a print vendor's or the mail room's list of returned envelopes, by the reference
printed under each address (owabi.notices.letters.reference) and Japan Post's reason."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from owabi.core import audit
from owabi.incidents.models import Incident
from owabi.notices.models import Notice

# Japan Post's return reasons (還付理由), as printed on the returned envelope's label.
RETURN_REASONS = {
    "宛所不明": "addressee_unknown",  # あて所に尋ねあたりません
    "宛所に尋ねあたりません": "addressee_unknown",
    "転居先不明": "moved_no_forwarding",
    "あて名不完全": "incomplete_address",
    "宛名不完全": "incomplete_address",
    "受取拒否": "refused",
    "受取拒絶": "refused",
    "保管期間経過": "unclaimed",
    "その他": "other",
}
RETURN_CODES = frozenset(RETURN_REASONS.values())


class ReturnedFileError(ValueError):
    """A returned-mail file that cannot be read; names the file and line, never values."""


@dataclass
class ReturnedResult:
    rows: int = 0
    returned: int = 0
    already: int = 0


def parse_letter(reference: str, reason: str) -> tuple[int, str] | str:
    """One returned letter as (notice id, reason code), or why it cannot be read (never the values)."""
    ref = reference.strip().upper()
    reason = reason.strip()
    code = RETURN_REASONS.get(reason, reason if reason in RETURN_CODES else "")
    if not (ref.startswith("L") and ref[1:].isdigit() and ref[1:].isascii() and len(ref) <= 13):
        return "reference must look like L000000123"
    if not code:
        return f"unknown reason; one of {', '.join(sorted(RETURN_REASONS))}"
    return int(ref[1:]), code


def read_returned(path: Path) -> list[tuple[int, str]]:
    """The returned letters of a CSV with the columns `reference` (printed under the address, e.g.
    L000000123) and `reason` (宛所不明, 転居先不明, 受取拒否, … or the English code)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"reference", "reason"} <= set(reader.fieldnames):
                raise ReturnedFileError(f"{path.name}, line 1: the columns reference and reason are required")
            wanted: list[tuple[int, str]] = []
            for line, row in enumerate(reader, start=2):
                parsed = parse_letter(row.get("reference") or "", row.get("reason") or "")
                if isinstance(parsed, str):
                    raise ReturnedFileError(f"{path.name}, line {line}: {parsed}")
                wanted.append(parsed)
    except (OSError, UnicodeDecodeError) as error:
        raise ReturnedFileError(f"{path.name}: cannot be read ({type(error).__name__})") from None
    return wanted


def record_returned(*, incident: Incident, path: Path, actor: str) -> ReturnedResult:
    """Mark letters returned from a CSV (read_returned). All rows are checked before any is applied."""
    return apply_returned(incident=incident, wanted=read_returned(path), actor=actor, source=path.name)


def apply_returned(
    *, incident: Incident, wanted: list[tuple[int, str]], actor: str, source: str
) -> ReturnedResult:
    """Mark the letters (notice id, reason code) returned, all or none; `source` names the input in
    errors (a file name, or "request")."""
    result = ReturnedResult(rows=len(wanted))
    with transaction.atomic():
        found = Notice.objects.filter(incident=incident, channel=Notice.Channel.LETTER)
        known = set(found.filter(pk__in=[pk for pk, _ in wanted]).values_list("pk", flat=True))
        unknown = [pk for pk, _ in wanted if pk not in known]
        if unknown:
            raise ReturnedFileError(f"{source}: {len(unknown)} references are not letters of this incident")
        for pk, code in wanted:
            # A letter already replaced by a resend stays cancelled: its code must not open the portal again.
            changed = found.filter(pk=pk).exclude(
                status__in=[Notice.Status.RETURNED, Notice.Status.CANCELLED]
            )
            if changed.update(status=Notice.Status.RETURNED, last_error=f"returned: {code}"):
                result.returned += 1
            else:
                result.already += 1
        audit.record(
            actor=actor,
            action="notices.returned",
            object_type="incident",
            object_id=incident.pk,
            data={"rows": result.rows, "returned": result.returned, "already": result.already},
        )
    return result
