"""Reminders: a second notice, by rules the response team sets, to people who have not acted yet.

A reminder goes to the same recipient with the same registration code (and so the same login key) as a
notice they were sent, and says the same items; it is sent and printed like any notice (`notices send`,
`notices print`) and counted apart from first notices. A rule says whom to remind and when:

    [[reminders]]                      # in the notice setup TOML
    name = "not-signed-in"             # unique within the incident; each recipient gets it at most once
    unless = "signed_in"               # or "redress_chosen"
    days_after_sent = 21               # remind once the last notice is this many days old, or:
    # days_before_deadline = 14        # remind from this many days before the redress deadline
    channels = ["email", "letter"]     # where to remind, in order of preference (default: both)

Never reminded: a recipient who has finished, who asked for no reminders, or who already had this rule's
reminder; over e-mail, anyone whose notice e-mail drew a complaint or bounced. A reminder goes on the
first channel of the rule's list on which the recipient's notice was delivered (sent and neither bounced
nor returned). A recipient gets at most one reminder a day; the setup's order of rules decides which.
Recipients are read a window of ids at a time, so a run's memory does not grow with the incident.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from owabi.core import audit
from owabi.core.bulk import chunked
from owabi.incidents.models import Incident
from owabi.notices.models import Engagement, Notice, NoticeSetup

UNLESS = ("signed_in", "redress_chosen")
CHANNELS = ("email", "letter")
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class RuleError(ValueError):
    """A reminder rule that cannot be used; names the rule and the field."""


@dataclass(frozen=True)
class Rule:
    name: str
    unless: str
    days_after_sent: int | None = None
    days_before_deadline: int | None = None
    channels: tuple[str, ...] = CHANNELS

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "channels": list(self.channels)}


def parse_rules(raw: object, *, source: str, deadline: date | None) -> list[Rule]:
    """The [[reminders]] tables of a notice setup, checked field by field."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise RuleError(f"{source}: reminders must be [[reminders]] tables")
    rules: list[Rule] = []
    for position, item in enumerate(raw, start=1):
        where = f"{source}: reminder {position}"
        unknown = sorted(set(item) - {rule_field.name for rule_field in fields(Rule)})
        if unknown:
            raise RuleError(f"{where}: unknown field {unknown[0]!r}")
        name = item.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise RuleError(f"{where}: name must be lower-case letters, digits and dashes (at most 40)")
        where = f"{source}: reminder {name!r}"
        if name in {rule.name for rule in rules}:
            raise RuleError(f"{where}: the name is used twice")
        unless = item.get("unless")
        if unless not in UNLESS:
            raise RuleError(f"{where}: unless must be one of {', '.join(UNLESS)}")
        after, before = item.get("days_after_sent"), item.get("days_before_deadline")
        if (after is None) == (before is None):
            raise RuleError(f"{where}: give exactly one of days_after_sent and days_before_deadline")
        days = after if after is not None else before
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 365:
            raise RuleError(f"{where}: days must be a whole number from 0 to 365")
        if before is not None and deadline is None:
            raise RuleError(f"{where}: days_before_deadline needs redress_deadline to be set")
        channels = item.get("channels", list(CHANNELS))
        if (
            not isinstance(channels, list)
            or not channels
            or any(channel not in CHANNELS for channel in channels)
            or len(set(channels)) != len(channels)
        ):
            raise RuleError(f"{where}: channels must be a list of {' and '.join(CHANNELS)}")
        rules.append(Rule(name, unless, after, before, tuple(channels)))
    return rules


def rules_of(setup: NoticeSetup) -> list[Rule]:
    return [Rule(**{**item, "channels": tuple(item.get("channels") or CHANNELS)}) for item in setup.reminders]


@dataclass
class RemindResult:
    created: Counter[tuple[str, str]] = field(default_factory=Counter)  # (rule, channel) -> reminders
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> recipients
    not_due: list[str] = field(default_factory=list)  # rules whose time has not come (or has passed)


class _First(NamedTuple):
    """A delivered first notice, as much of it as a reminder needs."""

    pk: int
    code: str
    language: str


@dataclass
class _Recipient:
    delivered: dict[str, _First] = field(default_factory=dict)  # channel -> delivered first notice
    last_sent: datetime | None = None
    email_blocked: bool = False  # an e-mail notice bounced or drew a complaint
    reminded: set[str] = field(default_factory=set)  # rules already used


def _due(rule: Rule, setup: NoticeSetup, today: date) -> bool:
    if rule.days_before_deadline is None:
        return True
    deadline = setup.redress_deadline
    return deadline is not None and deadline - timedelta(days=rule.days_before_deadline) <= today <= deadline


WINDOW = 5000  # recipient ids per step: memory stays bounded however many notices an incident has
_FIELDS = (
    "recipient_id",
    "channel",
    "status",
    "sent_at",
    "last_error",
    "reminder_of_id",
    "rule",
    "pk",
    "code",
)


def _windows(incident: Incident) -> Iterator[dict[int, _Recipient]]:
    """The recipients' notice states, a window of recipient ids at a time."""
    notices = Notice.objects.filter(incident=incident, recipient__isnull=False)
    bounds = notices.aggregate(low=Min("recipient_id"), high=Max("recipient_id"))
    if bounds["low"] is None:
        return
    for start in range(bounds["low"], bounds["high"] + 1, WINDOW):
        found: dict[int, _Recipient] = defaultdict(_Recipient)
        rows = notices.filter(recipient_id__gte=start, recipient_id__lt=start + WINDOW).values_list(
            *_FIELDS, "language"
        )
        for recipient_id, channel, status, sent_at, last_error, reminder_of, rule, pk, code, language in rows:
            state = found[recipient_id]
            if channel == Notice.Channel.EMAIL and (
                status == Notice.Status.BOUNCED or last_error == "complaint"
            ):
                state.email_blocked = True
            if reminder_of is not None:
                if status != Notice.Status.CANCELLED:
                    state.reminded.add(rule)
            elif status == Notice.Status.SENT and sent_at is not None:
                state.delivered[channel] = _First(pk, code, language)
                state.last_sent = max(filter(None, (state.last_sent, sent_at)))
        if found:
            yield found


def _reason_to_skip(rule: Rule, state: _Recipient, engagement: Engagement | None, today: date) -> str:
    if engagement is not None:
        if engagement.finished_at:
            return "finished"
        if engagement.reminders_off_at:
            return "opted out"
        if engagement.redress_chosen_at or (rule.unless == "signed_in" and engagement.signed_in_at):
            return "already acted"
    if rule.name in state.reminded:
        return "already reminded"
    after, last = rule.days_after_sent, state.last_sent
    if (
        after is not None
        and last is not None
        and timezone.localtime(last).date() > today - timedelta(days=after)
    ):
        return "not yet due"
    return ""


def remind(
    *, incident: Incident, actor: str, today: date | None = None, only: str | None = None
) -> RemindResult:
    """Prepare the reminders that the incident's rules call for today; re-running the same day creates
    nothing twice. `only` limits the run to one rule. A recipient gets at most one reminder a day: when
    two rules fall due together, the first in the setup's order goes out and the other waits for the
    next run."""
    setup = NoticeSetup.objects.get(incident=incident)
    today = today or timezone.localdate()
    rules = [rule for rule in rules_of(setup) if only is None or rule.name == only]
    if only is not None and not rules:
        raise RuleError(f"incident {incident.slug}: no reminder rule named {only!r}")
    result = RemindResult()
    due = [rule for rule in rules if _due(rule, setup, today)]
    result.not_due = [rule.name for rule in rules if rule not in due]
    for states in _windows(incident) if due else ():
        engagements = {e.recipient_id: e for e in Engagement.objects.filter(recipient_id__in=list(states))}
        created: list[Notice] = []
        for recipient_id, state in states.items():
            if not state.delivered:
                continue  # never reached: nothing to remind of, and not counted
            for rule in due:
                reminder = _reminder(rule, state, engagements.get(recipient_id), today, result)
                if reminder is not None:
                    created.append(
                        Notice(
                            incident=incident,
                            recipient_id=recipient_id,
                            channel=reminder[0],
                            code=reminder[1].code,
                            language=reminder[1].language,
                            setup_revision=setup.revision,
                            content={},  # filled in by _save, which reads the first notices' content in bulk
                            reminder_of_id=reminder[1].pk,
                            rule=rule.name,
                        )
                    )
                    break  # one reminder a day
        _save(created, result)
    audit.record(
        actor=actor,
        action="notices.remind",
        object_type="incident",
        object_id=incident.pk,
        data={
            "today": today.isoformat(),
            "created": {f"{rule}/{channel}": count for (rule, channel), count in result.created.items()},
            "skipped": dict(result.skipped),
            "not_due": result.not_due,
        },
    )
    return result


def _reminder(
    rule: Rule, state: _Recipient, engagement: Engagement | None, today: date, result: RemindResult
) -> tuple[str, _First] | None:
    """The channel and first notice of the reminder `rule` calls for, counted; None, counted why not."""
    reason = _reason_to_skip(rule, state, engagement, today)
    if reason:
        result.skipped[reason] += 1
        return None
    for channel in rule.channels:
        if channel in state.delivered and not (channel == "email" and state.email_blocked):
            state.reminded.add(rule.name)
            result.created[(rule.name, channel)] += 1
            return channel, state.delivered[channel]
    result.skipped["no channel of the rule reaches them"] += 1
    return None


def _save(created: list[Notice], result: RemindResult) -> None:
    """The content of the first notices is read only here, for the reminders being made."""
    full = Notice.objects.in_bulk([notice.reminder_of_id for notice in created])
    for notice in created:
        notice.content = full[notice.reminder_of_id].content
    for chunk in chunked(created, 1000):
        try:
            with transaction.atomic():
                Notice.objects.bulk_create(chunk)
        except IntegrityError:
            # Another run made some of these meanwhile: one by one, keeping the others.
            for notice in chunk:
                try:
                    with transaction.atomic():
                        notice.pk = None
                        notice.save(force_insert=True)
                except IntegrityError:
                    result.created[(notice.rule, notice.channel)] -= 1
                    result.skipped["already reminded"] += 1


def counts(incident: Incident) -> dict[tuple[str, str, str], int]:
    """(kind, channel, status) -> notices, where kind is "notice" or "reminder:<rule>"."""
    rows = (
        Notice.objects.filter(incident=incident)
        .values_list("rule", "channel", "status")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {
        (f"reminder:{rule}" if rule else "notice", channel, status): count
        for rule, channel, status, count in rows
    }
