"""Claim review: fraud signals scored when a claim arrives and again when a reviewer opens it, and the
decisions, with four eyes on every approval (a second, different reviewer confirms).

The class is closed (every claim hangs off a notice), so signals look for reuse and speed rather than
strangers: the same payee account or client address behind claims of unrelated recipients, many claims
from one client in a day, amounts over what the kind of loss usually costs, claims near the deadline
from someone who just changed their contact details, and a person whose compensation choice was held as
a possible second payout (research/anchors.md: payout-destination reuse, velocity, device/IP)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from owabi.core import audit
from owabi.notices.models import NoticeSetup
from owabi.redress.models import Choice, Claim, Request

# Amounts above these are usual for nobody; a claim over its cap is flagged, not refused.
CAPS_YEN: dict[str, int] = {"reissue_fee": 5_500, "fraud_charge": 300_000, "other_loss": 50_000}
VELOCITY = 3  # claims from one client address within a day
SIGNALS: dict[str, tuple[int, str]] = {  # code -> (weight, what a reviewer reads)
    "payee_reuse": (40, "同じ振込先口座が別の方の請求にも使われています"),
    "client_reuse": (20, "同じ端末・接続元から別の方の請求があります"),
    "velocity": (20, "同じ接続元から24時間に多数の請求があります"),
    "over_cap": (15, "金額がこの種類の損害の上限目安を超えています"),
    "late_new_contact": (15, "期限間近で、直前に連絡先の変更がありました"),
    "held_choice": (30, "この方のお詫びの品の手続きが重複の可能性で保留中です"),
}


class ReviewError(Exception):
    pass


def score(claim: Claim) -> list[dict[str, Any]]:
    """The signals that hold for `claim` now (codes and weights; no PII)."""
    found: list[str] = []
    others = Claim.objects.filter(incident_id=claim.incident_id)
    if claim.recipient_id is not None:
        others = others.exclude(recipient_id=claim.recipient_id)
    if others.filter(payee__fingerprint=claim.payee.fingerprint).exists():
        found.append("payee_reuse")
    if claim.client and others.filter(client=claim.client).exists():
        found.append("client_reuse")
    if claim.client:
        since = (claim.created_at or timezone.now()) - timedelta(days=1)
        if Claim.objects.filter(client=claim.client, created_at__gte=since).count() > VELOCITY:
            found.append("velocity")
    if claim.amount_yen > CAPS_YEN.get(claim.kind, 0):
        found.append("over_cap")
    setup = NoticeSetup.objects.filter(incident_id=claim.incident_id).first()
    deadline = setup.redress_deadline if setup else None
    arrived = claim.created_at or timezone.now()
    if deadline and claim.recipient_id is not None and (deadline - timezone.localdate(arrived)).days <= 7:
        recent = Request.objects.filter(
            recipient_id=claim.recipient_id,
            kind=Request.Kind.CORRECT_CONTACT,
            created_at__gte=arrived - timedelta(days=30),
        )
        if recent.exists():
            found.append("late_new_contact")
    if (
        claim.subject_id
        and Choice.objects.filter(subject_id=claim.subject_id, status=Choice.Status.HELD).exists()
    ):
        found.append("held_choice")
    return [{"code": code, "weight": SIGNALS[code][0]} for code in found]


def rescore(claim: Claim) -> Claim:
    signals = score(claim)
    total = min(sum(s["weight"] for s in signals), 100)
    if signals != claim.signals or total != claim.score:
        Claim.objects.filter(pk=claim.pk).update(signals=signals, score=total)
        claim.signals, claim.score = signals, total
    return claim


DECISIONS = ("approve", "reject", "request_info")


@transaction.atomic
def decide(*, claim: Claim, decision: str, user: User, reason: str, message: str = "") -> Claim:
    """Approve (first or second pair of eyes), reject, or ask for more information. `reason` is for
    the audit log (no PII); `message` is what the claimant reads on their status page."""
    if decision not in DECISIONS:
        raise ReviewError(_("判断を選んでください"))
    if not reason.strip():
        raise ReviewError(_("理由を入力してください"))
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    open_states = (Claim.Status.SUBMITTED, Claim.Status.INFO_REQUESTED, Claim.Status.RECOMMENDED)
    if claim.status not in open_states:
        raise ReviewError(_("この請求はすでに決定済みです"))
    if decision in ("reject", "request_info") and not message.strip():
        raise ReviewError(_("請求された方へのご連絡を入力してください"))
    before = claim.status
    now = timezone.now()
    if decision == "approve":
        if claim.status == Claim.Status.RECOMMENDED:
            if claim.first_approver_id == user.pk:
                raise ReviewError(_("承認は別の担当者が行ってください（2人目の確認）"))
            claim.status, claim.decided_by, claim.decided_at = Claim.Status.APPROVED, user, now
        else:
            claim.status, claim.first_approver = Claim.Status.RECOMMENDED, user
    elif decision == "reject":
        claim.status, claim.decided_by, claim.decided_at = Claim.Status.REJECTED, user, now
    else:
        claim.status = Claim.Status.INFO_REQUESTED
    if message.strip():
        claim.message = message.strip()
    claim.save()
    audit.record(
        actor=f"staff:{user.pk}",
        action=f"redress.claim.{decision}",
        object_type="claim",
        object_id=claim.pk,
        reason=reason.strip(),
        data={"from": before, "to": claim.status, "score": claim.score},
    )
    return claim
