"""Reads of notices for the portal and staff: a signed-in notice, what it says about its people, and
the public "is this notice genuine?" check. With the services module, the notices app's front door: other
apps read codes and keys through `display_code`, `login_key_of` and `parse_code`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from django.utils import timezone

from owabi.core import ratelimit
from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.notices import codes, ledger, reminders
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.render import VIA
from owabi.records import cards


def signed_in_notice(pk: int) -> Notice | None:
    """The first notice (not a reminder, not cancelled) a portal session holds, read with its incident
    and the incident's notice setup (every portal page shows the setup's phone and sender)."""
    return (
        Notice.objects.select_related("incident__notice_setup")
        .filter(pk=pk, reminder_of__isnull=True)
        .exclude(status=Notice.Status.CANCELLED)
        .first()
    )


def setup_of(notice: Notice) -> NoticeSetup | None:
    return NoticeSetup.objects.filter(incident_id=notice.incident_id).first()


@dataclass(frozen=True)
class Person:
    """One person a notice covers, as the notice said it (its sealed snapshot)."""

    number: int  # the subject's number: the key redress uses
    name: str
    due: str  # a child not yet born when the data was taken: the expected delivery date
    minor: bool
    items: list[tuple[str, str]]  # (category code, label) in the catalog's order
    cards: list[dict[str, str]]
    via: str = ""  # how their data came to be held, when it was on someone else's order (render.VIA)


def _card(card: dict[str, Any], language: str) -> dict[str, str]:
    """A card as a reader knows it: the brand's name (a code owabi knows, or the export's spelling)."""
    brand = card.get("brand") or ""
    return {"brand": cards.brand_label(brand, language) or brand, "last4": card.get("last4", "")}


def people(notice: Notice, language: str) -> list[Person]:
    """The people of the notice, each with their own cards: a card appears once in the snapshot, naming
    the people whose records held it (older snapshots list cards per person)."""
    shared = notice.content.get("cards")
    out = []
    for person in notice.content.get("people", []):
        number = int(person["number"])
        held = (
            [card for card in shared if number in card.get("holders", [])]
            if shared is not None
            else person.get("cards", [])
        )
        out.append(
            Person(
                number=number,
                name=person.get("name") or "",
                due=person.get("due") or "",
                minor=bool(person.get("minor")),
                items=[
                    (code, categories.label(code, language))
                    for code in person.get("items", [])
                    if categories.is_known(code)
                ],
                cards=[_card(card, language) for card in held],
                via=VIA[person["via"]][language] if person.get("via") in VIA else "",
            )
        )
    return out


def addressee(notice: Notice) -> dict[str, Any]:
    """Who the notice is addressed to: kind, name, postal code, address, e-mail (sealed snapshot)."""
    return dict(notice.content.get("to") or {})


@dataclass(frozen=True)
class Genuine:
    masked_name: str
    channel: str
    mailed_on: date | None  # None: prepared, not yet sent or printed


def mask_name(name: str) -> str:
    """山田 太郎 -> 山＊ 太＊: enough for the holder to recognise, too little to learn a stranger's name."""
    parts = name.split() or [""]
    return " ".join(part[:1] + "＊" * max(len(part) - 1, 1) for part in parts if part) or "＊＊"


def genuine(code_typed: str) -> Genuine | None:
    """What the "is this notice genuine?" page shows for a registration code: the masked name it was
    addressed to and when it was sent, or None when we never issued it. Raises codes.CodeError for a
    code that cannot be one of ours (caught offline, before any lookup)."""
    code = codes.parse_code(code_typed)
    notice = (
        Notice.objects.filter(code=code, reminder_of__isnull=True)
        .exclude(status=Notice.Status.CANCELLED)
        .first()
    )
    if notice is None:
        return None
    sent = notice.sent_at
    return Genuine(
        masked_name=mask_name(addressee(notice).get("name") or ""),
        channel=notice.channel,
        mailed_on=timezone.localdate(sent) if sent else None,
    )


# --- Support console ------------------------------------------------------------------------------------
def recipient_of_code(incident_id: int, code_typed: str) -> int | None:
    """The recipient of the incident's notice with this registration code (a reminder carries its
    notice's code), or None. Raises codes.CodeError for a code that cannot be one of ours, before any
    lookup."""
    code = codes.parse_code(code_typed)
    return (
        Notice.objects.filter(incident_id=incident_id, code=code, reminder_of__isnull=True)
        .values_list("recipient_id", flat=True)
        .first()
    )


def notices_of_recipients(recipient_ids: list[int]) -> dict[int, list[Notice]]:
    """Every notice (first notices and reminders, cancelled ones too) per recipient, oldest first."""
    out: dict[int, list[Notice]] = {pk: [] for pk in recipient_ids}
    for notice in Notice.objects.filter(recipient_id__in=recipient_ids).order_by("prepared_at", "pk"):
        out[cast(int, notice.recipient_id)].append(notice)
    return out


def sign_in_locked(notice: Notice) -> bool:
    """Whether the portal refuses this notice's code for now (too many failed sign-ins)."""
    return ratelimit.is_limited("portal.login.code", notice.code)


SIGN_IN_ACTIONS = {
    "portal.sign_in": "専用ページにログイン",
    "portal.sign_in.locked": "ログインの失敗が続き、一時停止",
    "portal.sign_in.unlock": "ログインの一時停止を解除（窓口）",
    "notices.resend": "お知らせの再送を手配（窓口）",
}


def portal_events(notice_ids: list[int]) -> list[tuple[datetime, int, str, str]]:
    """(time, notice id, action, what it was) of the sign-ins, lockouts, unlocks and resends of these
    notices, from the audit log (which records them; no PII there)."""
    from owabi.core.models import AuditEvent

    events = AuditEvent.objects.filter(
        action__in=list(SIGN_IN_ACTIONS), object_type="notice", object_id__in=[str(pk) for pk in notice_ids]
    ).order_by("seq")
    return [
        (event.at, int(event.object_id), event.action, SIGN_IN_ACTIONS[event.action])
        for event in events.only("at", "object_id", "action")
    ]


def live_notice(recipient_id: int) -> Notice | None:
    """The recipient's first live notice (not a reminder, not cancelled): what staff act through for
    them, as the portal acts through the notice a person signed in with."""
    return (
        Notice.objects.select_related("incident")
        .filter(recipient_id=recipient_id, reminder_of__isnull=True)
        .exclude(status=Notice.Status.CANCELLED)
        .order_by("pk")
        .first()
    )


CodeError = codes.CodeError
CODE_ALPHABET = codes.ALPHABET  # the symbols of codes (no look-alikes), for other human-typed references


def display_code(code: str) -> str:
    """A registration code as printed and shown: in groups (XXXX-XXXX-…)."""
    return codes.group(code)


def login_key_of(code: str) -> str:
    """The login key derived from a registration code (printed beside it on the notice)."""
    return codes.login_key(code)


def parse_code(typed: str) -> str:
    """A code as a person typed it (any width, case, spacing, hyphens), checked; CodeError if not one."""
    return codes.parse_code(typed)


def counts(incident: Incident) -> dict[tuple[str, str, str], int]:
    """Notices and reminders apart, by channel and status (what `owabi notices status` shows)."""
    return reminders.counts(incident)


def unsettled(incident: Incident) -> ledger.Unsettled:
    """The e-mails whose hand-over to the mail server is not settled yet, to reconcile with its log."""
    return ledger.unsettled(incident)
