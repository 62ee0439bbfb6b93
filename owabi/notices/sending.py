"""Send e-mail notices through Django's mail layer (SMTP in production), each once.

Protocol, per batch and per notice:
1. Lease: a sender takes up to `batch` prepared e-mail notices (PostgreSQL: SKIP LOCKED; SQLite:
   serialized writers) with one conditional UPDATE that records the sender, a lease deadline, and one
   more attempt.
2. Send: before each send the sender checks, on its own clock, that the lease has at least half its
   length to run (more than the SMTP timeout, which must stay below half the lease); if not, it renews
   the lease on the rest of the batch with one conditional UPDATE and drops any notice that another
   sender has meanwhile taken. The message is rendered and handed to the SMTP server, with a Message-ID
   fixed per notice.
3. Mark: the moment the server accepts, one UPDATE (autocommit) marks the notice sent, only while the
   sender still holds the lease.

A sender killed at any moment loses nothing: its leased notices are taken again once the lease runs out,
so no notice is skipped. No notice is sent twice, with one exception that no SMTP client can close: a
sender killed after the server accepted a message and before step 3 committed (a window of one database
write). That notice is sent again with the same Message-ID, so the receiving mail system and the mailbox
see one message twice over, not two notices; `attempts` > 1 marks such notices for reconciliation
against the mail provider's log. Strict exactly-once would need the SMTP server to take part in our
transaction, which the protocol does not allow. Leases are compared across senders by their clocks, so
hosts that send together must keep their clocks in step (NTP), well within half a lease.

A server that refuses the recipient outright (5xx at RCPT) bounces the notice at once; the letter
fallback picks it up. A transport error (server down, connection lost) hands the notice back and stops
that worker, so a dead server costs one failed attempt, not a loop; notices handed back untried get
their attempt back. A notice stops being retried after MAX_ATTEMPTS leases and stays prepared, counted
as still to send: a notice that crashes its sender every time cannot stop the run for good.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import queue
import signal
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from owabi.core import audit
from owabi.incidents.models import Incident
from owabi.notices.mime import NoticeEmail
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.render import render

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # leases of one notice (a lease handed back untried does not count)
# A new SMTP connection costs a handshake and EHLO on both sides (and a TLS handshake with STARTTLS);
# some servers end a connection after a number of messages.
MESSAGES_PER_CONNECTION = 500


@dataclass
class SendResult:
    sent: int = 0
    reminders: int = 0  # of those sent
    bounced: int = 0
    failed: int = 0  # attempts that will be retried (or gave up after MAX_ATTEMPTS)
    errors: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str, error: str = "") -> None:
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)
            if error:
                self.errors[error] = self.errors.get(error, 0) + 1

    def totals(self) -> dict[str, Any]:
        """The counts as plain data (for the audit log, and from a sender process to the run)."""
        return {
            "sent": self.sent,
            "reminders": self.reminders,
            "bounced": self.bounced,
            "failed": self.failed,
            "errors": dict(self.errors),
        }

    def add(self, totals: dict[str, Any]) -> None:
        """Add another sender's `totals()`."""
        with self._lock:
            for outcome in ("sent", "reminders", "bounced", "failed"):
                setattr(self, outcome, getattr(self, outcome) + totals[outcome])
            for error, count in totals["errors"].items():
                self.errors[error] = self.errors.get(error, 0) + count


class Pacer:
    """At most `rate` sends per second across all worker threads (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            at = max(self.next_at, now)
            self.next_at = at + self.interval
        if at > now:
            time.sleep(at - now)


def message_id(notice: Notice, setup: NoticeSetup) -> str:
    """Fixed per notice: a re-send after a crash is recognisably the same message."""
    domain = setup.sender_email.rpartition("@")[2] or "localhost"
    return f"<owabi.{notice.incident_id}.{notice.pk}@{domain}>"


def _lease(incident: Incident, worker: str, batch: int, lease_seconds: int) -> list[Notice]:
    """Take up to `batch` free prepared e-mail notices: one locking SELECT and one UPDATE per batch."""
    now = timezone.now()
    until = now + timedelta(seconds=lease_seconds)
    free = Q(sending_by="") | Q(lease_until__lt=now)
    with transaction.atomic():
        pks = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(free, incident=incident, channel=Notice.Channel.EMAIL, status=Notice.Status.PREPARED)
            .filter(attempts__lt=MAX_ATTEMPTS)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not pks:
            return []
        # The condition is repeated: SQLite has no row locks, and another sender may have taken some.
        Notice.objects.filter(free, pk__in=pks, status=Notice.Status.PREPARED).update(
            sending_by=worker, lease_until=until, attempts=F("attempts") + 1
        )
    return list(_ours(pks, worker).order_by("pk"))


def _ours(pks: list[int], worker: str) -> QuerySet[Notice]:
    """Those of `pks` this worker holds and has not sent yet."""
    return Notice.objects.filter(pk__in=pks, sending_by=worker, status=Notice.Status.PREPARED)


def _renew(notices: list[Notice], worker: str, lease_seconds: int) -> list[Notice]:
    """Hold the rest of a batch for another lease period; returns the notices still ours (a sender
    stalled past its lease may have lost some to another)."""
    until = timezone.now() + timedelta(seconds=lease_seconds)
    pks = [notice.pk for notice in notices]
    _ours(pks, worker).update(lease_until=until)
    still = set(_ours(pks, worker).values_list("pk", flat=True))
    return [notice for notice in notices if notice.pk in still]


_TABLE = Notice._meta.db_table
_MARKABLE = frozenset({"status", "sent_at", "message_id", "last_error"})


def _execute(sql: str, params: list[Any]) -> int:
    """One statement in autocommit, written out: it runs once per e-mail, and the ORM's query
    building cost more than the database round trip. On PostgreSQL it is a server-side prepared
    statement on psycopg's own cursor (Django's cursors bind parameters on the client)."""
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


def _mark(notice: Notice, worker: str, *, untried: bool = False, **values: object) -> bool:
    """Record the outcome while still holding the lease, and let go of it. `untried`: handed back
    without a send, so the attempt counted at the lease is given back."""
    assert set(values) <= _MARKABLE, values
    names = sorted(values)
    assignments = "".join(f", {name} = %s" for name in names)
    if untried:
        assignments += ", attempts = attempts - 1"
    sql = (  # names from the model and a fixed list only; values are parameters
        f"UPDATE {_TABLE} SET sending_by = '', lease_until = NULL{assignments} "  # noqa: S608
        "WHERE id = %s AND sending_by = %s"
    )
    params = [values[name] for name in names]
    if db_connection.vendor != "postgresql":  # psycopg takes an aware datetime as it is
        params = [
            db_connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for v in params
        ]
    return bool(_execute(sql, [*params, notice.pk, worker]))


def _fast_commits() -> None:
    """On PostgreSQL, this sender thread's connection (its own: Django keeps one per thread) commits
    without waiting for the WAL to reach the disk; an fsync per e-mail was otherwise the wait that
    dominated. A killed sender loses nothing by it, since the server has the write; only a crash of the
    database server itself could lose the last few writes, and those notices would then be sent again
    with their fixed Message-ID, the same outcome as a sender killed before marking."""
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


def _build(notice: Notice, setup: NoticeSetup, connection: object) -> EmailMultiAlternatives:
    rendered = render(notice, setup)
    mail = NoticeEmail(
        sender_name=setup.sender_name,
        sender_address=setup.sender_email,
        message_id=message_id(notice, setup),
        subject=rendered.subject,
        body=rendered.text,
        to=[notice.content["to"]["email"]],
        connection=connection,
    )
    mail.attach_alternative(rendered.html, "text/html")
    return mail


def _worker(
    incident: Incident,
    setup: NoticeSetup,
    worker: str,
    batch: int,
    lease_seconds: int,
    pacer: Pacer,
    result: SendResult,
    limit: int | None,
) -> None:
    """Lease and send until nothing is left, over one SMTP connection that is renewed every
    MESSAGES_PER_CONNECTION messages (between batches). A transport error (server down, connection
    lost) hands the rest of the batch back untried and stops this worker: the run ends, reporting what
    is left. Any other error stops the worker too, counted in the result."""
    smtp: Any = None
    on_connection = 0
    try:
        _fast_commits()
        while limit is None or result.sent < limit:
            renew_at = time.monotonic() + lease_seconds / 2  # taken before the lease: errs early
            take = batch if limit is None else min(batch, limit - result.sent)
            notices = _lease(incident, worker, take, lease_seconds)
            if not notices:
                return
            if smtp is None or on_connection >= MESSAGES_PER_CONNECTION:
                _quit(smtp)
                smtp, on_connection = get_connection(), 0
                try:
                    smtp.open()
                except (smtplib.SMTPException, OSError) as error:
                    _hand_back(notices, worker, last_error=type(error).__name__)
                    result.count("failed", type(error).__name__)
                    logger.warning("notice sender %s: no connection to the mail server (%s)", worker, error)
                    return
            while notices:
                if limit is not None and result.sent >= limit:  # other workers reached it meanwhile
                    _hand_back(notices, worker)
                    return
                pacer.wait()
                if time.monotonic() >= renew_at:
                    renew_at = time.monotonic() + lease_seconds / 2
                    notices = _renew(notices, worker, lease_seconds)
                    if not notices:
                        break
                notice = notices.pop(0)
                on_connection += 1
                if not _send_one(notice, setup, worker, smtp, result):
                    _hand_back(notices, worker)
                    return
    except Exception as error:
        # Anything else (a database error, a notice that cannot be opened) stops this worker and is
        # reported; the notices it held are retried when their lease runs out. The class only: an
        # error's text could hold a value.
        result.count("failed", type(error).__name__)
        logger.error("notice sender %s stopped: %s", worker, type(error).__name__)
    finally:
        _quit(smtp)
        db_connection.close()


def _hand_back(notices: list[Notice], worker: str, **values: object) -> None:
    """Let go of leased notices that were never tried (see _mark's `untried`)."""
    for notice in notices:
        _mark(notice, worker, untried=True, **values)


def _quit(smtp: Any) -> None:
    """Close an SMTP connection; its messages are marked sent or handed back already, so a failing QUIT
    changes nothing."""
    if smtp is not None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.close()


def _send_one(notice: Notice, setup: NoticeSetup, worker: str, smtp: object, result: SendResult) -> bool:
    """Send one leased notice; False when the connection is no longer usable."""
    try:
        _build(notice, setup, smtp).send()
    except smtplib.SMTPRecipientsRefused as error:
        code = next(iter(error.recipients.values()))[0] if error.recipients else 0
        if 500 <= code < 600:
            _mark(notice, worker, status=Notice.Status.BOUNCED, last_error=f"SMTP {code} at RCPT")
            result.count("bounced", f"SMTP {code}")
            return True
        _release(notice, worker, f"SMTP {code} at RCPT", result)
        return True
    except (smtplib.SMTPException, OSError) as error:
        _release(notice, worker, type(error).__name__, result)
        return False
    sent_at, mid = timezone.now(), message_id(notice, setup)
    if _mark(notice, worker, status=Notice.Status.SENT, sent_at=sent_at, message_id=mid):
        result.count("sent")
        if notice.reminder_of_id is not None:
            result.count("reminders")
    return True


def _release(notice: Notice, worker: str, error: str, result: SendResult) -> None:
    _mark(notice, worker, last_error=error[:200])
    result.count("failed", error)
    logger.warning("notice %s: send failed (%s); it will be retried", notice.pk, error)


def _run_threads(
    incident: Incident,
    setup: NoticeSetup,
    *,
    workers: int,
    rate: float | None,
    batch: int,
    lease_seconds: int,
    limit: int | None,
) -> SendResult:
    result = SendResult()
    pacer = Pacer(rate)
    prefix = f"{socket.gethostname()}:{threading.get_native_id()}:{time.time_ns()}"
    threads = [
        threading.Thread(
            target=_worker,
            args=(incident, setup, f"{prefix}:{i}"[:100], batch, lease_seconds, pacer, result, limit),
            name=f"notice-sender-{i}",
        )
        for i in range(max(1, workers))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


def _die_with_parent(parent: int) -> None:
    """A sender process ends when the process that started the run dies (Linux's PR_SET_PDEATHSIG): an
    orphan would go on sending, and a stopped run must stop sending."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _child(parent: int, incident_pk: int, options: dict[str, Any], results: Any) -> None:
    _die_with_parent(parent)
    incident = Incident.objects.get(pk=incident_pk)
    setup = NoticeSetup.objects.get(incident=incident)
    results.put(_run_threads(incident, setup, **options).totals())


def _run_processes(incident: Incident, processes: int, options: dict[str, Any]) -> SendResult:
    """`processes` sender processes, each with its own threads: one process's threads share one
    interpreter lock, and past two they queued for it more than they sent."""
    rate, limit = options["rate"], options["limit"]
    share = {
        **options,
        "rate": rate / processes if rate else None,
        "limit": -(-limit // processes) if limit else None,
    }
    db_connections.close_all()  # each process opens its own
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    children = [
        context.Process(
            target=_child, args=(os.getpid(), incident.pk, share, results), name=f"notice-sender-p{i}"
        )
        for i in range(processes)
    ]
    for child in children:
        child.start()
    total = SendResult()
    received = 0
    while received < processes:
        try:
            total.add(results.get(timeout=1))
        except queue.Empty:
            if all(child.exitcode is not None for child in children):
                break  # a child died without reporting; what it sent is marked, the rest is retried
            continue
        received += 1
    for child in children:
        child.join()
    if received < processes:
        total.count("failed", "sender process died")
    return total


def send_email(
    *,
    incident: Incident,
    actor: str,
    workers: int = 2,
    processes: int = 1,
    rate: float | None = None,
    batch: int = 200,
    lease_seconds: int = 120,
    limit: int | None = None,
) -> SendResult:
    """Send every prepared e-mail notice of the incident with `processes` × `workers` senders; returns
    the counts of this run."""
    setup = NoticeSetup.objects.get(incident=incident)
    options: dict[str, Any] = {
        "workers": workers,
        "rate": rate,
        "batch": batch,
        "lease_seconds": lease_seconds,
        "limit": limit,
    }
    if processes > 1:
        result = _run_processes(incident, processes, options)
    else:
        result = _run_threads(incident, setup, **options)
    audit.record(
        actor=actor,
        action="notices.send",
        object_type="incident",
        object_id=incident.pk,
        data={"channel": "email", "processes": processes, "workers": workers, **result.totals()},
    )
    return result
