"""The response's figures for the back office's dashboard: counts only, never PII. The funnel runs
records → people → recipients → notices sent → delivered or returned → signed in → compensation chosen →
claims filed, approved and paid, plus requests; per channel and per day; and the cost so far."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from owabi.incidents.models import Incident
from owabi.notices.models import Engagement, Notice
from owabi.records.models import LeakRecord, Recipient, Subject
from owabi.redress.models import Choice, Claim, Request

POSTAGE_YEN = 110  # a letter of up to 50 g (定形郵便物); the print vendor's price is added by the team
_LIVE = ("cancelled", "rejected")


@dataclass
class Funnel:
    steps: list[tuple[str, int]]
    notices: dict[tuple[str, str], int]  # (channel, status) -> count
    per_day: list[tuple[date, int, int]]  # day, notices sent, first sign-ins
    choices: dict[str, int]  # option key -> live choices
    claims: dict[str, int]  # status -> count
    requests: dict[tuple[str, str], int]  # (kind, status) -> count
    cost: dict[str, int] = field(default_factory=dict)  # yen: gifts, payouts, postage


def funnel(incident: Incident) -> Funnel:
    notices = Notice.objects.filter(incident=incident, reminder_of=None)
    by_status = Counter(
        {(c, s): n for c, s, n in notices.values_list("channel", "status").annotate(n=Count("pk")).order_by()}
    )
    sent = sum(n for (_, status), n in by_status.items() if status in ("sent", "bounced", "returned"))
    failed = sum(n for (_, status), n in by_status.items() if status in ("bounced", "returned"))
    recipients = Recipient.objects.filter(incident=incident)
    signed_in = Engagement.objects.filter(recipient__in=recipients, signed_in_at__isnull=False).count()
    live_choices = Choice.objects.filter(incident=incident).exclude(status__in=_LIVE)
    choices = dict(live_choices.values_list("option__key").annotate(n=Count("pk")).order_by())
    claims = dict(
        Claim.objects.filter(incident=incident).values_list("status").annotate(n=Count("pk")).order_by()
    )
    requests = Counter(
        {
            (k, s): n
            for k, s, n in Request.objects.filter(incident=incident)
            .values_list("kind", "status")
            .annotate(n=Count("pk"))
            .order_by()
        }
    )
    steps = [
        ("records", LeakRecord.objects.filter(incident=incident).count()),
        ("people", Subject.objects.filter(incident=incident).count()),
        ("recipients", recipients.count()),
        ("notices_sent", sent),
        ("delivered", sent - failed),
        ("bounced_or_returned", failed),
        ("signed_in", signed_in),
        ("compensation_chosen", sum(choices.values())),
        ("claims_filed", sum(claims.values())),
        ("claims_approved", claims.get("approved", 0) + claims.get("paid", 0)),
        ("claims_paid", claims.get("paid", 0)),
        ("deletion_requests", sum(n for (kind, _), n in requests.items() if kind == "delete")),
    ]
    sent_per_day = dict(
        notices.filter(sent_at__isnull=False)
        .annotate(day=TruncDate("sent_at"))
        .values_list("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    in_per_day = dict(
        Engagement.objects.filter(recipient__in=recipients, signed_in_at__isnull=False)
        .annotate(day=TruncDate("signed_in_at"))
        .values_list("day")
        .annotate(n=Count("pk"))
        .order_by()
    )
    days = sorted(set(sent_per_day) | set(in_per_day))
    gifts = live_choices.aggregate(total=Sum("option__amount_yen"))["total"] or 0
    paid = (
        Claim.objects.filter(incident=incident, status="paid").aggregate(total=Sum("amount_yen"))["total"]
        or 0
    )
    letters = sum(
        n for (channel, status), n in by_status.items() if channel == "letter" and status != "prepared"
    )
    return Funnel(
        steps=steps,
        notices=dict(by_status),
        per_day=[(day, sent_per_day.get(day, 0), in_per_day.get(day, 0)) for day in days],
        choices=choices,
        claims=claims,
        requests=dict(requests),
        cost={"gifts": gifts, "payouts": paid, "postage": letters * POSTAGE_YEN},
    )
