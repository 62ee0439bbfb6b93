"""The e-mail notices' sending state in the database, as senders write it (owabi.notices.sending).

A notice is leased (`sending_by`, `lease_until`, one more attempt), its hand-over recorded just before
its message goes out (`handed_at`, `message_id`), the server's acceptance recorded the moment it comes
(`sent_at`), and at the end of each batch `record_batch` marks the batch's notices sent or bounced
together with the batch's audit event. A lease that finds a hand-over still open marks the notice for
reconciliation; `recover` records what a stopped sender's server accepted and no batch recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from owabi.core import audit
from owabi.core.bulk import chunked
from owabi.incidents.models import Incident
from owabi.notices.models import Notice

MAX_ATTEMPTS = 10  # leases of one notice (a lease handed back untried does not count)
MAX_BATCH = 10_000  # notices per lease, hence per audit event


@dataclass
class Batch:
    """What became of one lease, recorded at its end in one transaction with its audit event."""

    accepted: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # 5xx at RCPT: notice -> last_error


def lease(incident: Incident, worker: str, batch: int, lease_seconds: int) -> list[Notice]:
    """Take up to `batch` free prepared e-mail notices: one locking SELECT and one UPDATE per batch."""
    now = timezone.now()
    until = now + timedelta(seconds=lease_seconds)
    free = Q(sending_by="") | Q(lease_until__lt=now)
    waiting = Q(status=Notice.Status.PREPARED, sent_at__isnull=True)
    with transaction.atomic():
        pks = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(free, waiting, incident=incident, channel=Notice.Channel.EMAIL)
            .filter(attempts__lt=MAX_ATTEMPTS)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not pks:
            return []
        # The condition is repeated: SQLite has no row locks, and another sender may have taken some.
        Notice.objects.filter(free, waiting, pk__in=pks).update(
            sending_by=worker,
            lease_until=until,
            attempts=F("attempts") + 1,
            # An open hand-over: its sender stopped between the message and the server's reply.
            needs_reconciliation=Case(
                When(handed_at__isnull=False, then=Value(True)), default=F("needs_reconciliation")
            ),
            handed_at=None,
        )
    return list(_ours(pks, worker).order_by("pk"))


def _ours(pks: list[int], worker: str) -> QuerySet[Notice]:
    """Those of `pks` this worker holds and has not sent yet."""
    return Notice.objects.filter(pk__in=pks, sending_by=worker, status=Notice.Status.PREPARED)


def renew(notices: list[Notice], worker: str, lease_seconds: int) -> list[Notice]:
    """Hold the rest of a batch for another lease period; returns the notices still ours (a sender
    stalled past its lease may have lost some to another)."""
    until = timezone.now() + timedelta(seconds=lease_seconds)
    pks = [notice.pk for notice in notices]
    _ours(pks, worker).update(lease_until=until)
    still = set(_ours(pks, worker).values_list("pk", flat=True))
    return [notice for notice in notices if notice.pk in still]


_TABLE = Notice._meta.db_table
_MARKABLE = frozenset({"sent_at", "message_id", "last_error", "handed_at", "needs_reconciliation"})


def _execute(sql: str, params: list[Any]) -> int:
    """One statement in autocommit, written out: two run for every e-mail, and the ORM's query building
    cost more than the database round trip. On PostgreSQL it is a server-side prepared statement on
    psycopg's own cursor (Django's cursors bind parameters on the client)."""
    if db_connection.vendor != "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute(sql, params)
            return int(cursor.rowcount)
    import psycopg

    db_connection.ensure_connection()
    raw = db_connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's prepared statements off for the whole connection (its own cursors
        # never prepare), and prepare=True below was then silently ignored: the server parsed and
        # planned the statement for every e-mail, about 100 µs of its CPU each time.
        raw.prepare_threshold = 5
    with psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        return int(cursor.rowcount)


def mark(notice: Notice, worker: str, *, release: bool, untried: bool = False, **values: object) -> bool:
    """Write `values` while still holding the lease; `release` lets go of it too. `untried`: handed back
    without a send, so the attempt counted at the lease is given back."""
    assert set(values) <= _MARKABLE, values
    names = sorted(values)
    assignments = [f"{name} = %s" for name in names]
    if release:
        assignments[:0] = ["sending_by = ''", "lease_until = NULL"]
    if untried:
        assignments.append("attempts = attempts - 1")
    sql = (  # names from the model and a fixed list only; values are parameters
        f"UPDATE {_TABLE} SET {', '.join(assignments)} WHERE id = %s AND sending_by = %s"  # noqa: S608
    )
    params = [values[name] for name in names]
    if db_connection.vendor != "postgresql":  # psycopg takes an aware datetime as it is
        params = [
            db_connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for v in params
        ]
    return bool(_execute(sql, [*params, notice.pk, worker]))


def fast_commits() -> None:
    """On PostgreSQL, this sender thread's connection (its own: Django keeps one per thread) commits
    without waiting for the WAL to reach the disk; an fsync per e-mail was otherwise the wait that
    dominated. A killed sender loses nothing by it, since the server has the write; only a crash of the
    database server itself could lose the last few writes, and those notices would then be sent again
    with their fixed Message-ID, the same outcome as a sender killed before recording the acceptance
    (unmarked for reconciliation if the hand-over's own write was among those lost)."""
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


def record_batch(incident: Incident, actor: str, worker: str | None, done: Batch) -> None:
    """Mark a batch's accepted notices sent and its refused ones bounced, and write the batch's audit
    event, in one transaction. Only notices still prepared change: a run's start may have recorded a
    stalled sender's already. `worker` None: notices accepted under a lease that is gone."""
    if not done.accepted and not done.refused:
        return
    with transaction.atomic():
        sent = list(
            Notice.objects.select_for_update()
            .filter(pk__in=done.accepted, status=Notice.Status.PREPARED, sent_at__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Notice.objects.filter(pk__in=sent).update(status=Notice.Status.SENT, sending_by="", lease_until=None)
        bounced = list(
            Notice.objects.select_for_update()
            .filter(pk__in=list(done.refused), status=Notice.Status.PREPARED, sending_by=worker or "")
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for error in sorted({done.refused[pk] for pk in bounced}):
            Notice.objects.filter(pk__in=[pk for pk in bounced if done.refused[pk] == error]).update(
                status=Notice.Status.BOUNCED, last_error=error, sending_by="", lease_until=None
            )
        if not sent and not bounced:
            return
        data: dict[str, Any] = {"channel": "email", "sent": sent, "bounced": bounced}
        if worker is None:
            data["recovered"] = True
        audit.record(
            actor=actor, action="notices.sent", object_type="incident", object_id=incident.pk, data=data
        )


def recover(incident: Incident, actor: str, *, run: str = "") -> int:
    """Record the notices the server accepted whose batch never was: their sender died between the
    acceptance and the batch's end. Those of stopped senders (their lease ran out) and, with `run`,
    those of this run's own senders, all finished by now. Returns how many."""
    stopped = _stopped()
    if run:
        stopped |= Q(sending_by__startswith=run)
    pks = list(
        Notice.objects.filter(
            stopped,
            incident=incident,
            channel=Notice.Channel.EMAIL,
            status=Notice.Status.PREPARED,
            sent_at__isnull=False,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for chunk in chunked(pks, MAX_BATCH):
        record_batch(incident, actor, None, Batch(accepted=chunk))
    return len(pks)


def hand_back(notices: list[Notice], worker: str, **values: object) -> None:
    """Let go of leased notices that were never tried (see mark's `untried`)."""
    for notice in notices:
        mark(notice, worker, release=True, untried=True, **values)


@dataclass(frozen=True)
class Unsettled:
    """E-mail notices whose sending is not settled, as `notices status` shows them."""

    reconcile: int  # the message may have gone out twice: check the mail provider's log
    unrecorded: int  # accepted by the server, not recorded as sent yet (the next run records them)


def _stopped() -> Q:
    """Notices no live sender holds."""
    return Q(lease_until__lt=timezone.now()) | Q(sending_by="")


def unsettled(incident: Incident) -> Unsettled:
    stopped = _stopped()
    email = Notice.objects.filter(incident=incident, channel=Notice.Channel.EMAIL)
    open_hand_over = Q(status=Notice.Status.PREPARED, handed_at__isnull=False) & stopped
    return Unsettled(
        reconcile=email.filter(Q(needs_reconciliation=True) | open_hand_over).count(),
        unrecorded=email.filter(stopped, status=Notice.Status.PREPARED, sent_at__isnull=False).count(),
    )
