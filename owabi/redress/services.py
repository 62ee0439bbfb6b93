"""Writes of the redress domain. Each validates, writes in one transaction with its audit event, and
leaves network side effects (receipt e-mails) to after the commit (STYLE.md rule 1).

Access is the caller's proof of a notice: every function takes the signed-in `notice` and a person
number from it, and finds the subject only among that notice's recipient's subjects, so no caller can
reach another person's data by changing a number.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from owabi.core import audit, jobs
from owabi.core.crypto import blind_index, keyed_hash
from owabi.core.fields import open_values
from owabi.incidents.models import Incident
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.services import record_engagement
from owabi.records import features
from owabi.records.models import LeakRecord, Subject
from owabi.redress import review
from owabi.redress.models import (
    Choice,
    ChoiceKey,
    Claim,
    Evidence,
    GiftCode,
    Option,
    Payee,
    Request,
    TodoDone,
)
from owabi.redress.payees import Account
from owabi.redress.references import new_reference
from owabi.redress.todos import TODO_ITEMS
from owabi.redress.uploads import MAX_FILES, Upload, UploadError

# Requests are answered 遅滞なく (APPI arts. 33-35); we promise the person a reply within this many days.
REQUEST_DAYS = 14
MAX_CLAIM_YEN = 10_000_000  # a typo guard; amounts over an option's cap are a review signal, not refused
MAX_TEXT = 2000


class RedressError(Exception):
    """A refusal the person should read, in the active language; never contains what they typed."""


class NotFound(RedressError):
    """No such person on this notice (the same answer for 'missing' and 'not yours')."""


class Closed(RedressError):
    pass


class Locked(RedressError):
    pass


class OutOfStock(RedressError):
    pass


def _receipt(what: str, pk: int, notice: Notice) -> None:
    """Queue the e-mailed receipt in the transaction of the write it confirms (owabi.redress.jobs):
    sent once by a job worker, after the commit, never lost to a crash in between."""
    stamp = timezone.now().isoformat(timespec="microseconds")  # a changed choice gets a new receipt
    jobs.enqueue(
        kind="redress.receipt",
        key=f"{what}:{pk}:{stamp}",
        payload={"what": what, "id": pk, "notice": notice.pk},
    )


def _setup(incident: Incident) -> NoticeSetup | None:
    return NoticeSetup.objects.filter(incident=incident).first()


def deadline_passed(incident: Incident, today: date | None = None) -> bool:
    return setup_closed(_setup(incident), today)


def setup_closed(setup: NoticeSetup | None, today: date | None = None) -> bool:
    """Whether the redress deadline of a setup already read has passed (deadline_passed reads it)."""
    deadline = setup.redress_deadline if setup else None
    return deadline is not None and (today or timezone.localdate()) > deadline


def person_of(notice: Notice, number: int) -> Subject:
    """The subject numbered `number` among the people of this notice's recipient, or NotFound."""
    subject = (
        Subject.objects.filter(
            incident_id=notice.incident_id, number=number, recipient_id=notice.recipient_id
        ).first()
        if notice.recipient_id is not None
        else None
    )
    if subject is None:
        raise NotFound(_("該当する方が見つかりません"))
    return subject


# --- Catalog and gift-code pool -----------------------------------------------------------------------
def set_catalog(
    *, incident: Incident, options: list[dict[str, Any]], actor: str, source: str = "setup"
) -> None:
    """Create or update the incident's compensation options from the setup file's [[redress.options]].
    An option already chosen cannot change its kind or amount (what people chose must stay true)."""
    if not options:
        raise RedressError(f"{source}: [[redress.options]] lists no option")
    seen: set[str] = set()
    with transaction.atomic():
        for position, raw in enumerate(options):
            key = str(raw.get("key") or "")
            where = f"{source}: [[redress.options]] #{position + 1}"
            if not key or key in seen:
                raise RedressError(f"{where}: key missing or repeated")
            seen.add(key)
            kind = raw.get("kind")
            if kind not in Option.Kind.values:
                raise RedressError(f"{where}: kind must be one of {', '.join(Option.Kind.values)}")
            amount = raw.get("amount_yen")
            if not isinstance(amount, int) or amount <= 0:
                raise RedressError(f"{where}: amount_yen must be a positive whole number")
            if not raw.get("label_ja") or not raw.get("label_en"):
                raise RedressError(f"{where}: label_ja and label_en are required")
            if kind == Option.Kind.DONATION and not raw.get("charity"):
                raise RedressError(f"{where}: a donation names its charity")
            values = {
                "kind": kind,
                "label_ja": str(raw["label_ja"]),
                "label_en": str(raw["label_en"]),
                "description_ja": str(raw.get("description_ja", "")),
                "description_en": str(raw.get("description_en", "")),
                "amount_yen": amount,
                "charity": str(raw.get("charity", "")),
                "position": position,
                "active": bool(raw.get("active", True)),
            }
            option = Option.objects.select_for_update().filter(incident=incident, key=key).first()
            if (
                option is not None
                and option.choices.exists()
                and (option.kind != kind or option.amount_yen != amount)
            ):
                raise RedressError(
                    f"{where}: {key} has been chosen already; its kind and amount cannot change"
                )
            Option.objects.update_or_create(incident=incident, key=key, defaults=values)
        Option.objects.filter(incident=incident).exclude(key__in=seen).update(active=False)
        audit.record(
            actor=actor,
            action="redress.catalog",
            object_type="incident",
            object_id=incident.pk,
            data={"options": sorted(seen)},
        )


@dataclass
class CodesResult:
    added: int = 0
    duplicates: int = 0
    rejects: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def import_codes(*, incident: Incident, option_key: str, path: Path, actor: str) -> CodesResult:
    """Add a gift provider's codes to an option's pool. CSV with the columns code, gift_id and
    management_number (expires optional). Codes already in the pool are skipped, so a re-import is
    harmless; each code is sealed at rest."""
    option = _code_option(incident, option_key)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RedressError(f"{path.name}: not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = {"code", "gift_id", "management_number"} - set(reader.fieldnames or [])
    if missing:
        raise RedressError(f"{path.name}, line 1: missing columns {', '.join(sorted(missing))}")
    rows = [(line, row) for line, row in enumerate(reader, start=2)]
    return _add_codes(option, rows, batch=hashlib.sha256(data).hexdigest(), actor=actor)


def add_codes(
    *, incident: Incident, option_key: str, codes: list[dict[str, str]], batch: str, actor: str
) -> CodesResult:
    """Add codes given as mappings (code, gift_id, management_number, expires optional) to an option's
    pool, as import_codes does for a file; a reject's "line" is the code's position, from 1. `batch`
    names the delivery (the file's or the body's SHA-256)."""
    option = _code_option(incident, option_key)
    return _add_codes(option, list(enumerate(codes, start=1)), batch=batch, actor=actor)


def _code_option(incident: Incident, option_key: str) -> Option:
    option = Option.objects.filter(incident=incident, key=option_key).first()
    if option is None or option.kind != Option.Kind.CODE:
        raise RedressError(f"incident {incident.slug}: no code option named {option_key!r}")
    return option


def _add_codes(
    option: Option, numbered: list[tuple[int, dict[str, Any]]], *, batch: str, actor: str
) -> CodesResult:
    result = CodesResult()
    rows: list[GiftCode] = []
    fingerprints: set[str] = set()
    for line, row in numbered:
        code = (row.get("code") or "").strip()
        gift_id = (row.get("gift_id") or "").strip()
        number = (row.get("management_number") or "").strip()
        if not code or not gift_id or not number:
            result.rejects.append((line, "code, gift_id and management_number are all required"))
            continue
        fingerprint = keyed_hash("gift_code", code)
        if fingerprint in fingerprints:
            result.duplicates += 1
            continue
        fingerprints.add(fingerprint)
        sealed = {"code": code, "gift_id": gift_id, "management_number": number}
        if row.get("expires"):
            sealed["expires"] = row["expires"].strip()
        rows.append(GiftCode(option=option, sealed=sealed, fingerprint=fingerprint, batch=batch))
    with transaction.atomic():
        known = set(
            GiftCode.objects.filter(option=option, fingerprint__in=fingerprints).values_list(
                "fingerprint", flat=True
            )
        )
        fresh = [row for row in rows if row.fingerprint not in known]
        GiftCode.objects.bulk_create(fresh, batch_size=1000)
        result.added = len(fresh)
        result.duplicates += len(rows) - len(fresh)
        audit.record(
            actor=actor,
            action="redress.codes.import",
            object_type="option",
            object_id=option.pk,
            data={
                "batch": batch,
                "added": result.added,
                "duplicates": result.duplicates,
                "rejected": len(result.rejects),
            },
        )
    return result


# --- Compensation choices -----------------------------------------------------------------------------
def _payout_keys(subject: Subject) -> set[bytes]:
    """Who this subject is, as keyed hashes: name + birth date, the full card number, name + phone and
    name + card last 4. Phone or card last 4 alone are household evidence (spouses share them), so they
    count only with the name; a full card number is the person's own."""
    keys: set[bytes] = set()
    sealed_rows = open_values(LeakRecord.objects.filter(membership__subject=subject), "pk", "sealed")
    for pk, sealed in cast("Iterable[tuple[int, dict[str, Any]]]", sealed_rows):
        found = features.features(pk, sealed)
        name = found["name_fold"]
        if sealed.get("card_number_hash"):
            keys.add(blind_index("payout", "card", sealed["card_number_hash"]))
        if not name:
            continue
        if found["dob"]:
            keys.add(blind_index("payout", "name_dob", name, found["dob"]))
        if found["phone"]:
            keys.add(blind_index("payout", "name_phone", name, found["phone"]))
        if found["card_last4"]:
            keys.add(blind_index("payout", "name_card", name, found["card_last4"]))
    return keys


def _hand_out_code(choice: Choice) -> GiftCode:
    """The next free code of the choice's option, taken by this choice alone: concurrent choosers skip
    rows another transaction holds (PostgreSQL), and the conditional update is the final guard."""
    for _attempt in range(20):
        free = GiftCode.objects.filter(option_id=choice.option_id, choice__isnull=True).order_by("pk")
        if connection.vendor == "postgresql":
            free = free.select_for_update(skip_locked=True)
        code = free.first()
        if code is None:
            raise OutOfStock(
                _(
                    "申し訳ありません。ただいまこの品目の在庫がありません。別の品目を選ぶか、時間をおいてお試しください。"
                )
            )
        now = timezone.now()
        if GiftCode.objects.filter(pk=code.pk, choice__isnull=True).update(choice=choice, assigned_at=now):
            code.choice, code.assigned_at = choice, now
            return code
    raise OutOfStock(_("ただいま混み合っています。もう一度お試しください"))


@dataclass
class ChoiceResult:
    choice: Choice
    code: dict[str, str] | None = None  # the gift code, shown once, at the moment it is handed out
    changed: bool = False


def choose(
    *,
    notice: Notice,
    person: int,
    option_key: str,
    address: dict[str, str] | None = None,
    by: str = Choice.By.PORTAL,
    actor: str,
    reason: str = "",
    today: date | None = None,
) -> ChoiceResult:
    """Record the compensation `person` (a subject number on `notice`) chose. One live choice per
    person (the database enforces it); it may be changed until fulfilment starts. A person who matches
    someone who has already chosen through another notice is held for review and told so."""
    if deadline_passed(notice.incident, today):
        raise Closed(_("お手続きの期限を過ぎています"))
    subject = person_of(notice, person)
    option = Option.objects.filter(incident_id=notice.incident_id, key=option_key, active=True).first()
    if option is None:
        raise NotFound(_("その品目は選べません"))
    details = _voucher_address(address) if option.kind == Option.Kind.VOUCHER else None
    try:
        with transaction.atomic():
            result = _choose(notice, subject, option, details, by)
            audit.record(
                actor=actor,
                action="redress.choice.change" if result.changed else "redress.choice",
                object_type="choice",
                object_id=result.choice.pk,
                reason=reason,
                data={
                    "subject": subject.pk,
                    "option": option.key,
                    "status": result.choice.status,
                    "by": by,
                },
            )
            _receipt("choice", result.choice.pk, notice)
    except IntegrityError:
        # A concurrent choice for the same person won the race: theirs stands.
        raise Locked(_("この方の補償はすでに選ばれています")) from None
    if notice.recipient_id is not None:  # reminders stop once everyone on the notice has chosen
        people = Subject.objects.filter(recipient_id=notice.recipient_id).count()
        chosen = Choice.objects.filter(subject__recipient_id=notice.recipient_id).exclude(
            status__in=[Choice.Status.CANCELLED, Choice.Status.REJECTED]
        )
        if chosen.count() >= people:
            record_engagement(notice.recipient_id, "redress_chosen")
    return result


def _voucher_address(address: dict[str, str] | None) -> dict[str, str]:
    address = {k: " ".join(str(v or "").split()) for k, v in (address or {}).items()}
    if not address.get("name") or not address.get("postal_code") or not address.get("address"):
        raise RedressError(_("送付先のお名前・郵便番号・住所を入力してください"))
    if any(len(value) > 200 for value in address.values()):
        raise RedressError(_("送付先が長すぎます"))
    return {"name": address["name"], "postal_code": address["postal_code"], "address": address["address"]}


def _choose(
    notice: Notice, subject: Subject, option: Option, details: dict[str, str] | None, by: str
) -> ChoiceResult:
    live = (
        Choice.objects.select_for_update()
        .filter(subject=subject)
        .exclude(status__in=[Choice.Status.CANCELLED, Choice.Status.REJECTED])
    )
    existing = live.select_related("option").first()
    if existing is not None:
        if existing.status != Choice.Status.CONFIRMED or existing.option.kind == Option.Kind.CODE:
            raise Locked(_("お手配が始まっているため、変更できません"))
        existing.option, existing.details, existing.notice = option, details, notice
        code = None
        if option.kind == Option.Kind.CODE:
            code = _hand_out_code(existing)
            existing.status = Choice.Status.FULFILLED
        existing.save()
        return ChoiceResult(existing, _shown(code), changed=True)
    choice = Choice.objects.create(
        incident_id=notice.incident_id,
        subject=subject,
        notice=notice,
        option=option,
        status=Choice.Status.CONFIRMED,
        reference=new_reference("C"),
        details=details,
        by=by,
    )
    keys = _payout_keys(subject)
    twins = (
        (
            ChoiceKey.objects.filter(incident_id=notice.incident_id, digest__in=list(keys))
            .exclude(choice__subject=subject)
            .exclude(choice__status__in=[Choice.Status.CANCELLED, Choice.Status.REJECTED])
            .exists()
        )
        if keys
        else False
    )
    ChoiceKey.objects.bulk_create(
        [ChoiceKey(choice=choice, incident_id=notice.incident_id, digest=key) for key in sorted(keys)]
    )
    code = None
    if twins:
        choice.status = Choice.Status.HELD
    elif option.kind == Option.Kind.CODE:
        code = _hand_out_code(choice)
        choice.status = Choice.Status.FULFILLED
    choice.save(update_fields=["status"])
    return ChoiceResult(choice, _shown(code))


def _shown(code: GiftCode | None) -> dict[str, str] | None:
    return dict(code.sealed) if code is not None else None


# --- To-do list ----------------------------------------------------------------------------------------
def tick_todo(*, notice: Notice, person: int, item: str, done: bool) -> None:
    """Tick (or untick) one item of a person's to-do list. Not audited: it holds no PII and changes
    nothing the company acts on."""
    if item not in TODO_ITEMS:
        raise NotFound(_("その項目はありません"))
    subject = person_of(notice, person)
    if done:
        TodoDone.objects.get_or_create(recipient_id=notice.recipient_id, subject=subject, item=item)
    else:
        TodoDone.objects.filter(subject=subject, item=item).delete()


# --- Requests ------------------------------------------------------------------------------------------
def file_request(
    *,
    notice: Notice,
    kind: str,
    person: int | None = None,
    text: str = "",
    contact: dict[str, str] | None = None,
    by: str = Choice.By.PORTAL,
    actor: str,
    reason: str = "",
) -> Request:
    """A request staff will work on; the person gets its reference and a reply within REQUEST_DAYS."""
    if kind not in Request.Kind.values:
        raise NotFound(_("その手続きはありません"))
    subject = person_of(notice, person) if person is not None else None
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise RedressError(_("ご記入は%(max)d文字までです") % {"max": MAX_TEXT})
    contact = {k: " ".join(str(v or "").split()) for k, v in (contact or {}).items() if v and str(v).strip()}
    if kind == Request.Kind.CORRECT_CONTACT and not contact:
        raise RedressError(_("新しい連絡先を入力してください"))
    if kind == Request.Kind.MISUSE and not text:
        raise RedressError(_("どのような連絡があったかをご記入ください"))
    with transaction.atomic():
        request = Request.objects.create(
            incident_id=notice.incident_id,
            recipient_id=notice.recipient_id,
            subject=subject,
            notice=notice,
            kind=kind,
            reference=new_reference("R"),
            details={"text": text, "contact": contact} if text or contact else None,
            due_on=timezone.localdate() + timedelta(days=REQUEST_DAYS),
            by=by,
        )
        audit.record(
            actor=actor,
            action="redress.request",
            object_type="request",
            object_id=request.pk,
            reason=reason,
            data={"kind": kind, "subject": subject.pk if subject else None, "by": by},
        )
        _receipt("request", request.pk, notice)
    return request


# --- Claims --------------------------------------------------------------------------------------------
def file_claim(
    *,
    notice: Notice,
    person: int,
    kind: str,
    amount_yen: int,
    description: str,
    occurred_on: date | None,
    account: Account,
    uploads: list[Upload],
    client: str,
    actor: str,
) -> Claim:
    """A reimbursement claim with its evidence and payee account, all sealed. It always hangs off a
    notice: no code, no claim. Fraud signals are scored by the review queue from what is kept here
    (the client's keyed hash, the account's fingerprint)."""
    if kind not in Claim.Kind.values:
        raise NotFound(_("その請求の種類はありません"))
    if deadline_passed(notice.incident):
        raise Closed(_("受付の期限を過ぎています"))
    subject = person_of(notice, person)
    if not 0 < amount_yen <= MAX_CLAIM_YEN:
        raise RedressError(_("金額を正しく入力してください"))
    description = description.strip()
    if not description or len(description) > MAX_TEXT:
        raise RedressError(_("内容を%(max)d文字までで入力してください") % {"max": MAX_TEXT})
    if not uploads:
        raise UploadError(_("領収書や明細の写真・PDFを1つ以上添えてください"))
    if len(uploads) > MAX_FILES:
        raise UploadError(_("添付は%(max)dつまでです") % {"max": MAX_FILES})
    fingerprint = account.fingerprint()
    with transaction.atomic():
        payee = Payee.objects.create(
            incident_id=notice.incident_id, sealed=account.as_json(), fingerprint=fingerprint
        )
        claim = Claim.objects.create(
            incident_id=notice.incident_id,
            subject=subject,
            recipient_id=notice.recipient_id,
            notice=notice,
            kind=kind,
            amount_yen=amount_yen,
            details={
                "description": description,
                "occurred_on": occurred_on.isoformat() if occurred_on else "",
            },
            payee=payee,
            reference=new_reference("K"),
            client=keyed_hash("client", client) if client else "",
        )
        Evidence.objects.bulk_create(
            [
                Evidence(
                    claim=claim,
                    content=upload.content,
                    content_type=upload.content_type,
                    size=len(upload.content),
                )
                for upload in uploads
            ]
        )
        audit.record(
            actor=actor,
            action="redress.claim",
            object_type="claim",
            object_id=claim.pk,
            data={"kind": kind, "amount_yen": amount_yen, "files": len(uploads), "subject": subject.pk},
        )
        review.rescore(claim)  # fraud signals scored on arrival
        _receipt("claim", claim.pk, notice)
    return claim
