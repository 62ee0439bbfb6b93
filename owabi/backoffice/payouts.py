"""The payouts page: approved claims into batches, a second person approves, the 全銀 file goes to the
browser, the bank's result file comes back. Each view calls one service of owabi.redress.payouts; the
services check the role again and enforce four eyes, so a page cannot get around them.

The pages show references, amounts, dates and statuses, never a name or an account: finance works with
batch and claim references, and the file itself leaves only as a download (a POST, audited by the
export service), never through a link that could be replayed or logged."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from owabi.backoffice.auth import staff_required
from owabi.backoffice.views import _base, _incident
from owabi.incidents.models import Incident
from owabi.redress import payouts
from owabi.redress.models import Claim, Payout, PayoutBatch
from owabi.redress.payees import ACCOUNT_TYPES, PayeeError, check_account

# A bank's result file for the 9,999 transfers of one batch is about 1.2 MB.
MAX_RESULT_BYTES = 4 * 1024 * 1024
FOUR_EYES = "バッチを作成した人は承認できません。別の担当者（財務・管理者）が承認してください。"


def _batch(reference: str) -> PayoutBatch:
    batch = PayoutBatch.objects.select_related("incident").filter(reference=reference).first()
    if batch is None:
        raise Http404("no such batch")
    return batch


def _page(incident: Incident, batch: PayoutBatch | None = None) -> str:
    if batch is not None:
        return reverse("staff:payout_batch", args=[batch.reference])
    return reverse("staff:payouts") + f"?incident={incident.slug}"


def _refused(request: HttpRequest, incident: Incident, error: payouts.PayoutError, back: str) -> HttpResponse:
    message = FOUR_EYES if isinstance(error, payouts.FourEyes) else f"できませんでした：{error}"
    return render(
        request, "backoffice/message.html", _base(request, incident, message=message, back=back), status=409
    )


@staff_required("payouts")
def payouts_page(request: HttpRequest) -> HttpResponse:
    incident = _incident(request)
    in_batch = Payout.objects.filter(claim=OuterRef("pk"), status__in=payouts.LIVE)
    waiting = Claim.objects.filter(incident=incident, status=Claim.Status.APPROVED).exclude(Exists(in_batch))
    return render(
        request,
        "backoffice/payouts.html",
        _base(
            request,
            incident,
            batches=payouts.batches(incident),
            waiting=waiting.count(),
            returned=Claim.objects.filter(incident=incident, status=Claim.Status.RETURNED).count(),
        ),
    )


@staff_required("payouts")
def batch_page(request: HttpRequest, reference: str) -> HttpResponse:
    batch = _batch(reference)
    rows = [
        (payout, payouts.reason(payout))
        for payout in batch.payouts.select_related("claim").order_by("pk")  # no payee: no account here
    ]
    return render(
        request,
        "backoffice/payout_batch.html",
        _base(request, batch.incident, batch=batch, rows=rows, account_types=list(ACCOUNT_TYPES.items())),
    )


@require_POST
@staff_required("payouts")
def create(request: HttpRequest) -> HttpResponse:
    incident = _incident(request)
    try:
        day = date.fromisoformat(request.POST.get("transfer_date", ""))
    except ValueError:
        return _refused(
            request,
            incident,
            payouts.PayoutError("振込指定日を YYYY-MM-DD で入力してください"),
            _page(incident),
        )
    try:
        result = payouts.create_batch(incident=incident, transfer_date=day, created_by=request.user)  # type: ignore[arg-type]
    except payouts.PayoutError as error:
        return _refused(request, incident, error, _page(incident))
    batch = result.batch
    moved = f"（{batch.requested_date} は銀行休業日のため翌営業日）" if result.moved else ""
    messages.success(
        request,
        f"バッチ {batch.reference} を作成しました：{batch.count}件、{batch.total_yen:,}円、"
        f"振込指定日 {batch.transfer_date}{moved}。別の担当者の承認を待っています。",
    )
    if result.waiting:
        messages.warning(request, f"上限を超えた承認済みの請求 {result.waiting}件は次のバッチに回ります。")
    for claim_reference, what in result.left_out:
        messages.warning(request, f"請求 {claim_reference}：振込先の {what} が確認できないため外しました。")
    return HttpResponseRedirect(_page(incident, batch))


@require_POST
@staff_required("payouts")
def approve(request: HttpRequest, reference: str) -> HttpResponse:
    batch = _batch(reference)
    try:
        payouts.approve_batch(batch=batch, approved_by=request.user)  # type: ignore[arg-type]
    except payouts.PayoutError as error:
        return _refused(request, batch.incident, error, _page(batch.incident, batch))
    messages.success(request, f"バッチ {batch.reference} を承認しました。振込ファイルを出力できます。")
    return HttpResponseRedirect(_page(batch.incident, batch))


@require_POST
@staff_required("payouts")
def cancel(request: HttpRequest, reference: str) -> HttpResponse:
    batch = _batch(reference)
    try:
        payouts.cancel_batch(batch=batch, cancelled_by=request.user, reason=request.POST.get("reason", ""))  # type: ignore[arg-type]
    except payouts.PayoutError as error:
        return _refused(request, batch.incident, error, _page(batch.incident, batch))
    messages.success(request, f"バッチ {batch.reference} を取り消しました。請求は次のバッチを待ちます。")
    return HttpResponseRedirect(_page(batch.incident, batch))


@require_POST
@staff_required("payouts")
def download(request: HttpRequest, reference: str) -> HttpResponse:
    """The 総合振込 file, as an attachment to a POST: the first download marks the batch exported; a
    later one ("again", with a reason) gives the same bytes and is audited as such."""
    batch = _batch(reference)
    again = request.POST.get("again") == "1"
    try:
        file = payouts.download_batch(
            batch=batch,
            exported_by=request.user,  # type: ignore[arg-type]
            again=again,
            reason=request.POST.get("reason", ""),
        )
    except payouts.PayoutError as error:
        return _refused(request, batch.incident, error, _page(batch.incident, batch))
    response = HttpResponse(file.data, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="{file.name}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@staff_required("payouts")
def results(request: HttpRequest) -> HttpResponse:
    """The bank's result file, uploaded: each transfer paid or returned (組戻し) with the bank's reason."""
    incident = _incident(request)
    upload = request.FILES.get("file")
    if upload is None or not upload.size or upload.size > MAX_RESULT_BYTES:
        error = payouts.PayoutError("銀行の振込結果ファイルを選んでください（4 MB まで）")
        return _refused(request, incident, error, _page(incident))
    try:
        outcome = payouts.import_result_data(
            incident=incident,
            name="振込結果ファイル",
            data=upload.read(),
            imported_by=request.user,  # type: ignore[arg-type]
        )
    except payouts.PayoutError as error:
        return _refused(request, incident, error, _page(incident))
    messages.success(
        request,
        f"バッチ {outcome.batch.reference}：振込済 {outcome.paid}件、返却（組戻し）{outcome.returned}件、"
        f"変更なし {outcome.unchanged}件、結果待ち {outcome.pending}件。",
    )
    return HttpResponseRedirect(_page(incident, outcome.batch))


@require_POST
@staff_required("payouts")
def correct_account(request: HttpRequest, reference: str) -> HttpResponse:
    """Finance records the corrected account of a returned (組戻し) claim, as the claimant gave it on
    the phone, with a reason; the claim is then approved again for the next batch. The account is
    checked as on the portal and never shown back."""
    claim = Claim.objects.select_related("incident").filter(reference=reference.strip().upper()).first()
    if claim is None:
        raise Http404("no such claim")
    back = request.POST.get("batch", "")
    batch = PayoutBatch.objects.filter(incident=claim.incident, reference=back).first()
    try:
        account = check_account(
            bank_code=request.POST.get("bank_code", ""),
            branch_code=request.POST.get("branch_code", ""),
            account_type=request.POST.get("account_type", ""),
            account_number=request.POST.get("account_number", ""),
            holder=request.POST.get("holder", ""),
        )
        claim = payouts.correct_account(
            claim=claim,
            account=account,
            actor=f"staff:{request.user.pk}",
            by="staff",
            reason=request.POST.get("reason", ""),
        )
    except PayeeError as error:
        return _refused(
            request, claim.incident, payouts.PayoutError(error.message), _page(claim.incident, batch)
        )
    except payouts.PayoutError as error:
        return _refused(request, claim.incident, error, _page(claim.incident, batch))
    then = (
        "次のバッチでお支払いします"
        if claim.status == Claim.Status.APPROVED
        else "同じ口座が別の方の請求にもあるため、審査に戻しました"
    )
    messages.success(request, f"請求 {claim.reference} の振込先口座を訂正しました。{then}。")
    return HttpResponseRedirect(_page(claim.incident, batch))
