"""Payout batches: approved claims paid by 全銀協 総合振込 files, and the bank's results back
(docs/payouts.md). Each state change is one service that checks, writes with its audit event in one
transaction, and names batches, claims and payouts only by reference or number, never an account or
a name.

    draft ──approve (a second staff user)──▶ approved ──export──▶ exported ──results──▶ settled
    draft, approved ──cancel──▶ cancelled (their claims wait for the next batch)

A returned (組戻し) claim waits for a corrected account (`correct_account`, from the claimant on the
portal or from finance with a reason); it is then approved again and the next batch pays it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from owabi.core import audit, roles
from owabi.core.files import private_dir, write_private
from owabi.incidents.models import Incident
from owabi.redress import review, zengin
from owabi.redress.models import Claim, Payee, Payout, PayoutBatch, PayoutSetup
from owabi.redress.payees import Account
from owabi.redress.references import new_reference
from owabi.redress.services import RedressError
from owabi.redress.zengin_check import validate

# MMDD carries no year, and banks take files only so far ahead: a transfer date within a month.
MAX_DAYS_AHEAD = 30
LIVE = (Payout.Status.PENDING, Payout.Status.PAID)
PAYER_KEYS = (
    "requester_code",
    "requester_name",
    "bank_code",
    "branch_code",
    "account_type",
    "account_number",
)
PAYER_ACCOUNT_TYPES = ("1", "2", "9")  # 普通, 当座, その他 (the header's 預金種目)
PAYEE_ACCOUNT_TYPES = ("1", "2", "4", "9")  # 普通, 当座, 貯蓄, その他 (the data record's)

# What a claimant reads on the portal when the bank returned the transfer, in the notice's language.
RETURNED_MESSAGE = {
    "ja": "お振込みができませんでした（{reason}）。このページで振込先の口座を訂正していただくか、"
    "お問い合わせ窓口へご連絡ください。口座の訂正後、あらためてお振込みします。",
    "en": "We could not transfer the money ({reason}). Please correct the account on this page, or call "
    "our inquiry line: once the account is corrected, we will transfer it again.",
}


# What the claimant reads once a corrected account is recorded.
CORRECTED_MESSAGE = {
    "ja": "振込先口座の訂正を受け付けました。次回のお振込みでお支払いします。",
    "en": "We have your corrected account. We will transfer the money with our next payment run.",
}
# … and when the corrected account is also another person's payee: a reviewer looks first.
CORRECTED_REVIEW_MESSAGE = {
    "ja": "振込先口座の訂正を受け付けました。確認のうえ、あらためてお振込みします。",
    "en": "We have your corrected account. We will check it, then transfer the money.",
}
CORRECTED_BY = ("portal", "staff")


class PayoutError(RedressError):
    """A refusal for staff, one line; names references and numbers, never an account or a name."""


class FourEyes(PayoutError):
    """The creator of a batch tried to approve it."""


# --- Setup --------------------------------------------------------------------------------------------
def set_payer(*, incident: Incident, payer: dict[str, Any], actor: str, source: str = "setup") -> PayoutSetup:
    """The company's own account and bank codes, from the setup file's [redress.payer]. Codes are
    quoted strings (a TOML number loses leading zeros); the name is written as the bank registered
    it, in half-width kana: converting it could make it differ from what the bank expects."""
    where = f"{source}: [redress.payer]"
    values: dict[str, str] = {}
    for key, length in (
        ("requester_code", 10),
        ("bank_code", 4),
        ("branch_code", 3),
        ("account_number", 7),
    ):
        value = payer.get(key)
        if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > length:
            raise PayoutError(f'{where} {key}: a quoted string of up to {length} digits ("0123…")')
        values[key] = value.zfill(length)
    if payer.get("account_type") not in PAYER_ACCOUNT_TYPES:
        raise PayoutError(f'{where} account_type: "1" (普通), "2" (当座) or "9" (その他)')
    values["account_type"] = str(payer["account_type"])
    name = payer.get("requester_name")
    try:
        zengin.check_name(name if isinstance(name, str) else "", "requester_name", 40)
        zengin.bank_names(values["bank_code"], values["branch_code"])
    except zengin.ZenginError as error:
        raise PayoutError(f"{where} {error}") from None
    values["requester_name"] = str(name)
    unknown = sorted(set(payer) - set(PAYER_KEYS))
    if unknown:
        raise PayoutError(f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(PAYER_KEYS)}")
    with transaction.atomic():
        setup, _created = PayoutSetup.objects.update_or_create(incident=incident, defaults=values)
        audit.record(
            actor=actor, action="redress.payouts.setup", object_type="incident", object_id=incident.pk
        )
    return setup


# --- Batches ------------------------------------------------------------------------------------------
@dataclass
class BatchResult:
    batch: PayoutBatch
    moved: bool  # banks are closed on the day asked for: the transfer date is the next business day
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (claim reference, what fails)
    waiting: int = 0  # approved claims over the cap, left for the next batch


def _staff(user: User) -> str:
    if not roles.can(user, "payouts"):
        raise PayoutError(
            f"user {user.pk}: only active staff with the finance, manager or admin role handle payouts"
        )
    return f"staff:{user.pk}"


def _account(payee: Payee) -> dict[str, str]:
    """The payee's account, checked again now: banks merge and close branches after a claim is made.
    ZenginError names the field that fails."""
    account = dict(payee.sealed)
    zengin.bank_names(account.get("bank_code", ""), account.get("branch_code", ""))
    if account.get("account_type") not in PAYEE_ACCOUNT_TYPES:
        raise zengin.ZenginError("預金種目: not 1, 2, 4 or 9")
    number = account.get("account_number", "")
    if len(number) != 7 or not number.isascii() or not number.isdigit():
        raise zengin.ZenginError("口座番号: not seven digits")
    zengin.check_name(account.get("holder_kana", ""), "受取人名", 30)
    return account


def create_batch(
    *,
    incident: Incident,
    transfer_date: date,
    created_by: User,
    limit: int = zengin.MAX_RECORDS,
    today: date | None = None,
) -> BatchResult:
    """Put the approved claims that are in no live batch into a new draft batch, oldest first, at
    most `limit` (banks' 9,999 records per file): the rest wait for the next batch. A day banks are
    closed moves to the next business day. A claim whose account no longer checks is left out and
    named, to be fixed by staff; it stays approved."""
    actor = _staff(created_by)
    if not 0 < limit <= zengin.MAX_RECORDS:
        raise PayoutError(f"a batch holds 1 to {zengin.MAX_RECORDS} payouts")
    setup = PayoutSetup.objects.filter(incident=incident).first()
    if setup is None:
        raise PayoutError(
            f"incident {incident.slug}: no payer account; load [redress.payer] with "
            "`owabi redress payouts setup` first"
        )
    today = today or timezone.localdate()
    if transfer_date <= today:
        raise PayoutError(f"transfer date {transfer_date}: must be after today ({today})")
    day = zengin.next_business_day(transfer_date)
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise PayoutError(f"transfer date {day}: more than {MAX_DAYS_AHEAD} days ahead")
    in_batch = Payout.objects.filter(claim=OuterRef("pk"), status__in=LIVE)
    waiting = (
        Claim.objects.filter(incident=incident, status=Claim.Status.APPROVED)
        .exclude(Exists(in_batch))
        .select_related("payee")
        .order_by("pk")
    )
    result = BatchResult(batch=PayoutBatch(), moved=day != transfer_date)
    chosen: list[Claim] = []
    for claim in waiting.iterator(chunk_size=1000):
        try:
            _account(claim.payee)
        except zengin.ZenginError as error:
            result.left_out.append((claim.reference, str(error).split(":")[0]))
            continue
        if len(chosen) < limit:
            chosen.append(claim)
        else:
            result.waiting += 1
    if not chosen:
        left = f"; {len(result.left_out)} left out for their accounts" if result.left_out else ""
        raise PayoutError(f"incident {incident.slug}: no approved claim waits for payment{left}")
    payer = {key: getattr(setup, key) for key in PAYER_KEYS}
    try:
        with transaction.atomic():
            batch = PayoutBatch.objects.create(
                incident=incident,
                reference=new_reference("B"),
                transfer_date=day,
                requested_date=transfer_date,
                payer=payer,
                count=len(chosen),
                total_yen=sum(claim.amount_yen for claim in chosen),
                created_by=created_by,
            )
            Payout.objects.bulk_create(
                [
                    Payout(
                        batch=batch,
                        claim=claim,
                        payee=claim.payee,
                        payee_fingerprint=claim.payee.fingerprint,
                        amount_yen=claim.amount_yen,
                    )
                    for claim in chosen
                ],
                batch_size=1000,
            )
            audit.record(
                actor=actor,
                action="redress.payouts.create",
                object_type="payout_batch",
                object_id=batch.pk,
                data={
                    "reference": batch.reference,
                    "count": batch.count,
                    "total_yen": batch.total_yen,
                    "transfer_date": day.isoformat(),
                    "requested_date": transfer_date.isoformat(),
                    "left_out": len(result.left_out),
                    "waiting": result.waiting,
                },
            )
    except IntegrityError:
        raise PayoutError(
            "some of these claims went into another batch made at the same moment; run it again"
        ) from None
    result.batch = batch
    return result


def approve_batch(*, batch: PayoutBatch, approved_by: User) -> PayoutBatch:
    """The second pair of eyes: a staff user other than the batch's creator approves a draft."""
    actor = _staff(approved_by)
    if approved_by.pk == batch.created_by_id:
        raise FourEyes(f"batch {batch.reference}: approved by a second staff user, not by its creator")
    now = timezone.now()
    with transaction.atomic():
        changed = PayoutBatch.objects.filter(pk=batch.pk, status=PayoutBatch.Status.DRAFT).update(
            status=PayoutBatch.Status.APPROVED, approved_by=approved_by, approved_at=now
        )
        if not changed:
            batch.refresh_from_db(fields=["status"])
            raise PayoutError(f"batch {batch.reference} is {batch.status}; only a draft is approved")
        audit.record(
            actor=actor,
            action="redress.payouts.approve",
            object_type="payout_batch",
            object_id=batch.pk,
            data={"reference": batch.reference, "count": batch.count, "total_yen": batch.total_yen},
        )
    batch.refresh_from_db()
    return batch


def cancel_batch(*, batch: PayoutBatch, cancelled_by: User, reason: str) -> PayoutBatch:
    """Drop a batch that has not gone to the bank; its claims wait for the next batch. An exported
    batch is the bank's now: a transfer is recalled through the bank (組戻し), not here."""
    actor = _staff(cancelled_by)
    if not reason.strip():
        raise PayoutError("say why the batch is cancelled (--reason)")
    with transaction.atomic():
        changed = PayoutBatch.objects.filter(
            pk=batch.pk, status__in=[PayoutBatch.Status.DRAFT, PayoutBatch.Status.APPROVED]
        ).update(status=PayoutBatch.Status.CANCELLED)
        if not changed:
            batch.refresh_from_db(fields=["status"])
            raise PayoutError(f"batch {batch.reference} is {batch.status}; it cannot be cancelled")
        batch.payouts.update(status=Payout.Status.CANCELLED)
        audit.record(
            actor=actor,
            action="redress.payouts.cancel",
            object_type="payout_batch",
            object_id=batch.pk,
            reason=reason.strip(),
            data={"reference": batch.reference, "count": batch.count},
        )
    batch.refresh_from_db()
    return batch


# --- The file -----------------------------------------------------------------------------------------
@dataclass
class Export:
    path: Path
    sha256: str
    count: int
    total_yen: int
    again: bool


def file_name(batch: PayoutBatch) -> str:
    """Names the batch, nothing else: the folder listing is no place for names or accounts."""
    return f"zengin-{batch.reference}.txt"


def _private_folder(folder: Path) -> None:
    """A payout file's folder: made private (owabi.core.files), or refused when it exists and others may
    open it (a file of bank accounts must not sit where other users can list or read it)."""
    if not folder.exists():
        private_dir(folder)
    elif not folder.is_dir():
        raise PayoutError(f"{folder}: not a folder")
    elif folder.stat().st_mode & 0o077:
        raise PayoutError(
            f"{folder}: other users can open this folder (mode {folder.stat().st_mode & 0o777:o}); "
            "payout files go in a private (0700) folder"
        )


def _write_private(path: Path, data: bytes) -> None:
    """The file 0600, whole or not at all (owabi.core.files)."""
    with write_private(path, "wb") as handle:
        handle.write(data)


def _file(batch: PayoutBatch) -> bytes:
    payer = zengin.Payer(**{key: batch.payer[key] for key in PAYER_KEYS})
    transfers = []
    for payout in batch.payouts.select_related("payee", "claim").order_by("pk"):
        if payout.claim.status != Claim.Status.APPROVED:
            raise PayoutError(
                f"batch {batch.reference}: claim {payout.claim.reference} is {payout.claim.status} now, "
                "no longer approved; cancel the batch and make a new one"
            )
        try:
            account = _account(payout.payee)
        except zengin.ZenginError as error:
            raise PayoutError(f"batch {batch.reference}, payout {payout.pk}: {error}") from None
        transfers.append(
            zengin.Transfer(
                bank_code=account["bank_code"],
                branch_code=account["branch_code"],
                account_type=account["account_type"],
                account_number=account["account_number"],
                name=account["holder_kana"],
                amount=payout.amount_yen,
                customer_code1=payout.pk,
                customer_code2=batch.pk,
            )
        )
    try:
        data = zengin.write(payer, batch.transfer_date, transfers)
    except zengin.ZenginError as error:
        raise PayoutError(f"batch {batch.reference}: {error}") from None
    problems = validate(data)
    if problems:  # the writer and the validator disagree: a bug, and no file leaves
        raise PayoutError(f"batch {batch.reference}: the file fails the format check: {problems[0]}")
    return data


def export_batch(
    *,
    batch: PayoutBatch,
    exported_by: User,
    out: Path,
    again: bool = False,
    reason: str = "",
    today: date | None = None,
) -> Export:
    """Write an approved batch's 総合振込 file into `out` (a private folder), 0600, and mark the batch
    exported. `again` writes an exported batch's file once more, byte for byte the same, for a file
    that was lost: audited with its reason, since uploading a file twice pays twice."""
    path = out / file_name(batch)

    def deliver(data: bytes) -> None:
        _private_folder(out)
        _write_private(path, data)

    batch, _data, digest = _export(
        batch=batch,
        user=exported_by,
        again=again,
        reason=reason,
        today=today,
        deliver=deliver,
        undo=lambda: path.unlink(missing_ok=True),
        label=path.name,
    )
    return Export(path, digest, batch.count, batch.total_yen, again)


@dataclass
class Download:
    name: str
    data: bytes
    sha256: str
    again: bool


def download_batch(
    *,
    batch: PayoutBatch,
    exported_by: User,
    again: bool = False,
    reason: str = "",
    today: date | None = None,
) -> Download:
    """The same as export_batch, for the back office: the file's bytes are handed to the browser
    instead of written to a folder (no copy of bank accounts left on the server's disk)."""
    batch, data, digest = _export(
        batch=batch,
        user=exported_by,
        again=again,
        reason=reason,
        today=today,
        deliver=lambda data: None,
        undo=lambda: None,
        label="download",
    )
    return Download(file_name(batch), data, digest, again)


def _export(
    *,
    batch: PayoutBatch,
    user: User,
    again: bool,
    reason: str,
    today: date | None,
    deliver: Callable[[bytes], None],
    undo: Callable[[], None],
    label: str,
) -> tuple[PayoutBatch, bytes, str]:
    """Check, build the file, `deliver` it and mark the batch exported with its audit event, in one
    transaction; `undo` takes the delivered file back when the marking fails."""
    actor = _staff(user)
    if again and not reason.strip():
        raise PayoutError("say why the file is written again (--reason)")
    today = today or timezone.localdate()
    with transaction.atomic():
        batch = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
        wanted = PayoutBatch.Status.EXPORTED if again else PayoutBatch.Status.APPROVED
        if batch.status != wanted:
            hint = " (a second staff user approves it first)" if batch.status == "draft" else ""
            hint = hint or (" (--again writes it once more)" if batch.status == "exported" else "")
            raise PayoutError(f"batch {batch.reference} is {batch.status}{hint}")
        if batch.transfer_date <= today:
            raise PayoutError(
                f"batch {batch.reference}: its transfer date {batch.transfer_date} has come; "
                "cancel it and make a new batch"
                if not again
                else f"batch {batch.reference}: its transfer date {batch.transfer_date} has come"
            )
        data = _file(batch)
        digest = hashlib.sha256(data).hexdigest()
        if again and digest != batch.file_sha256:
            raise PayoutError(
                f"batch {batch.reference}: the file would differ from the one exported (the bank "
                "code list changed?); ask the bank what it holds before sending anything"
            )
        deliver(data)
        try:
            now = timezone.now()
            if not again:
                batch.status = PayoutBatch.Status.EXPORTED
                batch.exported_by, batch.exported_at, batch.file_sha256 = user, now, digest
                batch.save(update_fields=["status", "exported_by", "exported_at", "file_sha256"])
            audit.record(
                actor=actor,
                action="redress.payouts.export",
                object_type="payout_batch",
                object_id=batch.pk,
                reason=reason.strip(),
                data={
                    "reference": batch.reference,
                    "file": label,
                    "sha256": digest,
                    "count": batch.count,
                    "total_yen": batch.total_yen,
                    "again": again,
                },
            )
        except BaseException:
            undo()
            raise
    return batch, data, digest


# --- The bank's results -------------------------------------------------------------------------------
@dataclass
class Results:
    batch: PayoutBatch
    paid: int = 0
    returned: int = 0
    unchanged: int = 0
    pending: int = 0  # payouts of the batch the file did not answer


def import_results(*, incident: Incident, path: Path, imported_by: User) -> Results:
    """Read the bank's result file for an exported batch: each payout becomes paid or returned with
    the bank's reason, and its claim with it (the claimant sees it on the portal). All or nothing: a
    record that does not match what was sent refuses the file. Importing a file again changes nothing;
    a later file may turn a paid payout into a returned one (組戻し), never the other way."""
    _staff(imported_by)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise PayoutError(f"{path.name}: cannot be read ({type(error).__name__})") from None
    return import_result_data(incident=incident, name=path.name, data=data, imported_by=imported_by)


def import_result_data(*, incident: Incident, name: str, data: bytes, imported_by: User) -> Results:
    """import_results for a file already read (an upload in the back office); `name` names it in
    errors."""
    actor = _staff(imported_by)
    try:
        parsed = zengin.read_results(data)
    except zengin.ZenginError as error:
        raise PayoutError(f"{name}: {error}") from None
    numbers = {result.batch for result in parsed.results}
    if len(numbers) != 1:
        raise PayoutError(f"{name}: records of {len(numbers)} batches; one file answers one batch")
    with transaction.atomic():
        batch = PayoutBatch.objects.select_for_update().filter(incident=incident, pk=numbers.pop()).first()
        if batch is None:
            raise PayoutError(f"{name}, 顧客コード2: no batch of incident {incident.slug} has that number")
        if batch.status not in (PayoutBatch.Status.EXPORTED, PayoutBatch.Status.SETTLED):
            raise PayoutError(f"{name}: batch {batch.reference} is {batch.status}, not exported")
        if parsed.requester_code != batch.payer["requester_code"]:
            raise PayoutError(f"{name}, record 1 (header), 振込依頼人コード: not this batch's")
        if parsed.transfer_date != batch.transfer_date.strftime("%m%d"):
            raise PayoutError(f"{name}, record 1 (header), 振込指定日: not this batch's")
        payouts = {p.pk: p for p in batch.payouts.select_related("payee", "claim__notice")}
        changes = _changes(name, batch, payouts, parsed.results)
        outcome = Results(batch=batch, unchanged=len(parsed.results) - len(changes))
        now = timezone.now()
        codes: Counter[str] = Counter()
        for payout, code in changes:
            _settle(payout, code, now)
            codes[code] += 1
            if code == zengin.PAID:
                outcome.paid += 1
            else:
                outcome.returned += 1
        outcome.pending = batch.payouts.filter(status=Payout.Status.PENDING).count()
        if not outcome.pending and batch.status == PayoutBatch.Status.EXPORTED:
            batch.status, batch.settled_at = PayoutBatch.Status.SETTLED, now
            batch.save(update_fields=["status", "settled_at"])
        audit.record(
            actor=actor,
            action="redress.payouts.results",
            object_type="payout_batch",
            object_id=batch.pk,
            data={
                "reference": batch.reference,
                "sha256": hashlib.sha256(data).hexdigest(),
                "paid": outcome.paid,
                "returned": outcome.returned,
                "unchanged": outcome.unchanged,
                "pending": outcome.pending,
                "codes": dict(sorted(codes.items())),
            },
        )
    return outcome


def _changes(
    name: str, batch: PayoutBatch, payouts: dict[int, Payout], results: list[zengin.Result]
) -> list[tuple[Payout, str]]:
    """Check every record against what was sent, then list the payouts whose state moves."""
    seen: set[int] = set()
    changes = []
    for result in results:
        where = f"{name}, record {result.record} (data)"
        payout = payouts.get(result.payout)
        if payout is None:
            raise PayoutError(f"{where}, 顧客コード1: no payout of batch {batch.reference} has that number")
        if result.payout in seen:
            raise PayoutError(f"{where}, 顧客コード1: payout {payout.pk} is answered twice")
        seen.add(result.payout)
        account = payout.payee.sealed
        for field_name, sent, got in (
            ("被仕向銀行番号", account["bank_code"], result.bank_code),
            ("被仕向支店番号", account["branch_code"], result.branch_code),
            ("預金種目", account["account_type"], result.account_type),
            ("口座番号", account["account_number"], result.account_number),
            ("振込金額", payout.amount_yen, result.amount),
        ):
            if sent != got:
                raise PayoutError(f"{where}, {field_name}: not what was sent for payout {payout.pk}")
        if payout.status == Payout.Status.PENDING:
            changes.append((payout, result.code))
        elif payout.status == Payout.Status.PAID and result.code != zengin.PAID:
            changes.append((payout, result.code))  # 組戻し: the money came back after all
        elif payout.status == Payout.Status.RETURNED and result.code == zengin.PAID:
            raise PayoutError(
                f"{where}, 振込結果コード: payout {payout.pk} was returned; it cannot become paid"
            )
    return changes


def _settle(payout: Payout, code: str, now: datetime) -> None:
    paid = code == zengin.PAID
    payout.status = Payout.Status.PAID if paid else Payout.Status.RETURNED
    payout.result_code, payout.settled_at = code, now
    payout.save(update_fields=["status", "result_code", "settled_at"])
    claim = payout.claim
    if paid:
        Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.PAID, updated_at=now)
        return
    language = claim.notice.language if claim.notice is not None else "ja"
    label_ja, label_en = zengin.RESULT_CODES[code]
    message = RETURNED_MESSAGE["en" if language == "en" else "ja"].format(
        reason=label_en if language == "en" else label_ja
    )
    Claim.objects.filter(pk=claim.pk).update(status=Claim.Status.RETURNED, message=message, updated_at=now)


# --- Returned transfers -------------------------------------------------------------------------------
class NotReturned(PayoutError):
    """The claim's transfer was not returned by the bank: its account cannot be changed."""


def correct_account(*, claim: Claim, account: Account, actor: str, by: str, reason: str = "") -> Claim:
    """Record a corrected payee account for a claim whose transfer the bank returned (組戻し): typed by
    the claimant on the portal, or by finance (`by="staff"`, with a reason) after a call. `account` is
    checked by payees.check_account, as when the claim was filed. The claim is approved again, so the
    next batch pays it to the new account; the returned payout keeps naming the old one. If the new
    account is also another person's payee, the claim goes back to review (four eyes again) instead."""
    if by not in CORRECTED_BY:
        raise ValueError(f"by: one of {CORRECTED_BY}")
    if by == "staff" and not reason.strip():
        raise PayoutError("a corrected account needs a reason (who asked, how it was checked)")
    with transaction.atomic():
        current = (
            Claim.objects.select_for_update(of=("self",)).select_related("notice", "payee").get(pk=claim.pk)
        )
        if current.status != Claim.Status.RETURNED:
            raise NotReturned(
                f"claim {current.reference}: only a returned transfer's account can be corrected"
            )
        fingerprint = account.fingerprint()
        same = fingerprint == current.payee.fingerprint
        current.payee = Payee.objects.create(
            incident_id=current.incident_id, sealed=account.as_json(), fingerprint=fingerprint
        )
        review.rescore(current)
        again = any(signal["code"] == "payee_reuse" for signal in current.signals)
        language = "en" if current.notice is not None and current.notice.language == "en" else "ja"
        if again:
            current.status = Claim.Status.SUBMITTED
            current.first_approver = current.decided_by = current.decided_at = None
            current.message = CORRECTED_REVIEW_MESSAGE[language]
        else:
            current.status = Claim.Status.APPROVED
            current.message = CORRECTED_MESSAGE[language]
        current.save()
        audit.record(
            actor=actor,
            action="redress.claim.account_corrected",
            object_type="claim",
            object_id=current.pk,
            reason=reason.strip()[:500],
            data={
                "reference": current.reference,
                "by": by,
                "same_account": same,
                "to": current.status,
                "score": current.score,
            },
        )
    return current


# --- Reads --------------------------------------------------------------------------------------------
def batches(incident: Incident) -> list[PayoutBatch]:
    return list(PayoutBatch.objects.filter(incident=incident).order_by("-created_at"))


def batch_of(incident: Incident, reference: str) -> PayoutBatch | None:
    return PayoutBatch.objects.filter(incident=incident, reference=reference.strip().upper()).first()


def reason(payout: Payout) -> str:
    """The bank's reason for a returned payout, in Japanese and English ("" while none)."""
    label = zengin.RESULT_CODES.get(payout.result_code)
    return f"{label[0]} ({label[1]})" if label and payout.result_code != zengin.PAID else ""
