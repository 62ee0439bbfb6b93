"""Send e-mail notices through Django's mail layer (SMTP in production), each once, each batch audited.

Protocol, per batch and per notice:
1. Lease: a sender takes up to `batch` prepared e-mail notices that the server has not accepted yet
   (PostgreSQL: SKIP LOCKED; SQLite: serialized writers) with one conditional UPDATE that records the
   sender, a lease deadline and one more attempt. A notice taken with a hand-over (step 2) still open
   is marked `needs_reconciliation`: its sender stopped between the message and the server's reply.
2. Send: before each send the sender checks, on its own clock, that the lease has at least half its
   length to run (more than the SMTP timeout, which must stay below half the lease); if not, it renews
   the lease on the rest of the batch with one conditional UPDATE and drops any notice that another
   sender has meanwhile taken. The message is rendered and handed to the SMTP server, with a Message-ID
   fixed per notice. Once the server has taken the envelope, and before the message itself goes out,
   one UPDATE records the hand-over (`handed_at`).
3. Accept: the moment the server accepts, one UPDATE (autocommit) records it (`sent_at`), only while
   the sender still holds the lease.
4. Record: at the end of the batch, one transaction marks its accepted notices sent and its refused
   ones bounced, and writes the batch's audit event (`notices.sent`, naming them).
The database's side of each step is owabi.notices.ledger.

A sender killed at any moment loses nothing: its leased notices are taken again once the lease runs out,
so no notice is skipped, and notices the server accepted whose batch was never recorded are recorded,
with their audit event, by the next run as it starts (or by this run as it ends, for a sender process
of its own that died). No notice is sent twice, with one exception that no SMTP client can close: a
sender stopped after the message went out and before step 3 committed (the server's reply and one
database write). That notice is sent again with the same Message-ID, so the receiving mail system and
the mailbox see one message twice over, not two notices; `needs_reconciliation` marks exactly the
notices whose hand-over ended that way, to be checked against the mail provider's log. A notice handed
back before its message went out (refused, connection refused or lost earlier, batch cut short) is not
marked. Strict exactly-once would need the SMTP server to take part in our transaction, which the
protocol does not allow. Leases are compared across senders by their clocks, so hosts that send
together must keep their clocks in step (NTP), well within half a lease.

A server that refuses the recipient outright (5xx at RCPT) bounces the notice; the letter fallback picks
it up. A transport error (server down, connection lost) hands the notice back and stops that worker, so
a dead server costs one failed attempt, not a loop; notices handed back untried get their attempt back.
A notice stops being retried after MAX_ATTEMPTS leases and stays prepared, counted as still to send and
as given up: a notice that crashes its sender every time cannot stop the run for good.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import multiprocessing
import os
import queue
import signal
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.db import connections as db_connections
from django.utils import timezone

from owabi.core import audit
from owabi.incidents.models import Incident
from owabi.notices import engagement, ledger
from owabi.notices.ledger import MAX_ATTEMPTS, MAX_BATCH
from owabi.notices.mime import NoticeEmail, ReplyLost, SMTPBackend
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.render import render

logger = logging.getLogger(__name__)

# A new SMTP connection costs a handshake and EHLO on both sides (and a TLS handshake with STARTTLS);
# some servers end a connection after a number of messages.
MESSAGES_PER_CONNECTION = 500
# Bounds of a run's options (and ledger.MAX_BATCH): past 64 connections a typo floods the mail server; a
# lease longer than a day strands a stopped sender's notices for that long.
MAX_SENDERS = 64
MAX_LEASE = 86_400
# The server answered with a code: nothing was delivered.
_REFUSALS = (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused)


class SendOptionError(ValueError):
    """An option of a run that cannot work; `option` is its name as `notices send` spells it."""

    def __init__(self, option: str, rule: str) -> None:
        super().__init__(f"{option} {rule}")
        self.option, self.rule = option, rule


class LeaseLost(RuntimeError):
    """The notice was taken by another sender before its message went out (this one stalled)."""


@dataclass
class SendResult:
    sent: int = 0  # accepted by the mail server in this run
    reminders: int = 0  # of those sent
    bounced: int = 0
    failed: int = 0  # attempts that will be retried (or gave up after MAX_ATTEMPTS)
    errors: dict[str, int] = field(default_factory=dict)
    recovered: int = 0  # accepted before a sender stopped, recorded by this run
    left: int = 0  # prepared e-mail notices still to send after the run
    given_up: int = 0  # of those, tried MAX_ATTEMPTS times and no longer taken
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def unsent_by_failure(self) -> bool:
        """Notices remain unsent because sending failed: `notices send` then exits non-zero."""
        return bool(self.left and (self.failed or self.given_up))

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


class _HandOver:
    """Called at the last moment before the message goes out: records the hand-over (and the message's
    fixed id) while the lease is still ours, or stops the send when it no longer is."""

    def __init__(self, notice: Notice, worker: str, message_id: str) -> None:
        self.notice, self.worker, self.message_id = notice, worker, message_id
        self.done = False

    def __call__(self) -> None:
        now = timezone.now()
        if not ledger.mark(
            self.notice, self.worker, release=False, handed_at=now, message_id=self.message_id
        ):
            raise LeaseLost
        self.done = True


def _build(notice: Notice, setup: NoticeSetup, connection: object, before_content: Any = None) -> NoticeEmail:
    rendered = render(notice, setup)
    mail = NoticeEmail(
        sender_name=setup.sender_name,
        sender_address=setup.sender_email,
        message_id=message_id(notice, setup),
        subject=rendered.subject,
        body=rendered.text,
        to=[notice.content["to"]["email"]],
        connection=connection,
        before_content=before_content,
        unsubscribe=engagement.reminders_off_url(notice, setup) if notice.reminder_of_id else "",
    )
    mail.attach_alternative(rendered.html, "text/html")
    return mail


def _worker(
    incident: Incident,
    setup: NoticeSetup,
    worker: str,
    actor: str,
    batch: int,
    lease_seconds: int,
    pacer: Pacer,
    result: SendResult,
    limit: int | None,
) -> None:
    """Lease and send until nothing is left, over one SMTP connection that is renewed every
    MESSAGES_PER_CONNECTION messages (between batches); each batch is recorded as it ends. A transport
    error (server down, connection lost) hands the rest of the batch back untried and stops this
    worker: the run ends, reporting what is left. Any other error stops the worker too, counted in the
    result."""
    smtp: Any = None
    on_connection = 0
    try:
        ledger.fast_commits()
        while limit is None or result.sent < limit:
            renew_at = time.monotonic() + lease_seconds / 2  # taken before the lease: errs early
            take = batch if limit is None else min(batch, limit - result.sent)
            notices = ledger.lease(incident, worker, take, lease_seconds)
            if not notices:
                return
            done = ledger.Batch()
            try:
                if smtp is None or on_connection >= MESSAGES_PER_CONNECTION:
                    _quit(smtp)
                    smtp, on_connection = get_connection(), 0
                    try:
                        smtp.open()
                    except (smtplib.SMTPException, OSError) as error:
                        ledger.hand_back(notices, worker, last_error=type(error).__name__)
                        result.count("failed", type(error).__name__)
                        logger.warning(
                            "notice sender %s: no connection to the mail server (%s)", worker, error
                        )
                        return
                while notices:
                    if limit is not None and result.sent >= limit:  # other workers reached it meanwhile
                        ledger.hand_back(notices, worker)
                        return
                    pacer.wait()
                    if time.monotonic() >= renew_at:
                        renew_at = time.monotonic() + lease_seconds / 2
                        notices = ledger.renew(notices, worker, lease_seconds)
                        if not notices:
                            break
                    notice = notices.pop(0)
                    on_connection += 1
                    if not _send_one(notice, setup, worker, smtp, result, done):
                        ledger.hand_back(notices, worker)
                        return
            finally:
                ledger.record_batch(incident, actor, worker, done)
    except Exception as error:
        # Anything else (a database error, a notice that cannot be opened) stops this worker and is
        # reported; the notices it held are retried when their lease runs out, and those the server
        # accepted are recorded by the run's end. The class only: an error's text could hold a value.
        result.count("failed", type(error).__name__)
        logger.error("notice sender %s stopped: %s", worker, type(error).__name__)
    finally:
        _quit(smtp)
        db_connection.close()


def _quit(smtp: Any) -> None:
    """Close an SMTP connection; its messages are recorded or handed back already, so a failing QUIT
    changes nothing."""
    if smtp is not None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.close()


def _send_one(
    notice: Notice, setup: NoticeSetup, worker: str, smtp: object, result: SendResult, done: ledger.Batch
) -> bool:
    """Send one leased notice; False when the connection is no longer usable."""
    hand_over = _HandOver(notice, worker, message_id(notice, setup))
    mail = _build(notice, setup, smtp, hand_over)
    try:
        if not isinstance(smtp, SMTPBackend):  # files, an outbox: no later moment to wait for
            hand_over()
        mail.send()
    except LeaseLost:
        result.count("failed", "LeaseLost")
        logger.warning("notice %s: taken by another sender before it went out", notice.pk)
        return False
    except smtplib.SMTPRecipientsRefused as error:
        code = next(iter(error.recipients.values()))[0] if error.recipients else 0
        if 500 <= code < 600:
            done.refused[notice.pk] = f"SMTP {code} at RCPT"
            result.count("bounced", f"SMTP {code}")
            return True
        _release(notice, worker, f"SMTP {code} at RCPT", result)
        return True
    except (smtplib.SMTPException, OSError) as error:
        # After the whole message (ReplyLost) nobody knows whether it was delivered. Off the fast path
        # smtplib does not tell how far it got: any failure after the hand-over but a refusal counts.
        unknown = isinstance(error, ReplyLost) or (
            hand_over.done and not mail.plain and not isinstance(error, _REFUSALS)
        )
        _release(notice, worker, type(error).__name__, result, unknown=unknown)
        return False
    if ledger.mark(notice, worker, release=False, sent_at=timezone.now(), handed_at=None):
        done.accepted.append(notice.pk)
        result.count("sent")
        if notice.reminder_of_id is not None:
            result.count("reminders")
    return True


def _release(notice: Notice, worker: str, error: str, result: SendResult, *, unknown: bool = False) -> None:
    """Hand a notice back after a failed send, to be retried; `unknown`: its message may have been
    delivered all the same."""
    if unknown:
        ledger.mark(
            notice, worker, release=True, last_error=error[:200], handed_at=None, needs_reconciliation=True
        )
    else:
        ledger.mark(notice, worker, release=True, last_error=error[:200], handed_at=None)
    result.count("failed", error)
    logger.warning("notice %s: send failed (%s); it will be retried", notice.pk, error)


def _run_threads(
    incident: Incident,
    setup: NoticeSetup,
    *,
    actor: str,
    senders: str,
    workers: int,
    rate: float | None,
    batch: int,
    lease_seconds: int,
    limit: int | None,
) -> SendResult:
    """`workers` sender threads, named `senders` and their number."""
    result = SendResult()
    pacer = Pacer(rate)
    threads = [
        threading.Thread(
            target=_worker,
            args=(incident, setup, f"{senders}{i}", actor, batch, lease_seconds, pacer, result, limit),
            name=f"notice-sender-{i}",
        )
        for i in range(workers)
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
            target=_child,
            args=(os.getpid(), incident.pk, {**share, "senders": f"{options['senders']}p{i}."}, results),
            name=f"notice-sender-p{i}",
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
                break  # a child died without reporting; what it sent is recorded by the run's end
            continue
        received += 1
    for child in children:
        child.join()
    if received < processes:
        total.count("failed", "sender process died")
    return total


def check_options(
    *, workers: int, processes: int, rate: float | None, batch: int, lease_seconds: int, limit: int | None
) -> None:
    """Refuse a run that cannot work. A lease no longer than twice the SMTP timeout lets a second sender
    take a notice whose message may still be on its way; a negative one freed every lease at once and
    sent notices twice."""
    if not 1 <= workers <= MAX_SENDERS:
        raise SendOptionError("workers", f"must be at least 1 and at most {MAX_SENDERS} per process")
    if not 1 <= processes <= MAX_SENDERS:
        raise SendOptionError("processes", f"must be at least 1 and at most {MAX_SENDERS}")
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise SendOptionError("rate", "must be a number of e-mails per second above 0")
    if not 1 <= batch <= MAX_BATCH:
        raise SendOptionError("batch", f"must be at least 1 and at most {MAX_BATCH:,} notices")
    if limit is not None and limit < 1:
        raise SendOptionError("limit", "must be at least 1")
    timeout = getattr(settings, "EMAIL_TIMEOUT", None)
    shortest = 2 * math.ceil(timeout) + 1 if timeout else 1
    if not shortest <= lease_seconds <= MAX_LEASE:
        why = f" (more than twice OWABI_EMAIL_TIMEOUT, {timeout} s)" if timeout else ""
        raise SendOptionError("lease", f"must be at least {shortest} and at most {MAX_LEASE:,} seconds{why}")


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
    the counts of this run and what is left. Raises SendOptionError for options that cannot work."""
    check_options(
        workers=workers, processes=processes, rate=rate, batch=batch, lease_seconds=lease_seconds, limit=limit
    )
    setup = NoticeSetup.objects.get(incident=incident)
    recovered = ledger.recover(incident, actor)
    senders = f"{socket.gethostname()[:40]}:{os.getpid()}:{time.time_ns()}:"
    options: dict[str, Any] = {
        "actor": actor,
        "senders": senders,
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
    result.recovered = recovered + ledger.recover(incident, actor, run=senders)
    waiting = Notice.objects.filter(
        incident=incident, channel=Notice.Channel.EMAIL, status=Notice.Status.PREPARED
    )
    result.left = waiting.count()
    result.given_up = waiting.filter(attempts__gte=MAX_ATTEMPTS).count()
    audit.record(
        actor=actor,
        action="notices.send",
        object_type="incident",
        object_id=incident.pk,
        data={
            "channel": "email",
            "processes": processes,
            "workers": workers,
            **result.totals(),
            "recovered": result.recovered,
            "left": result.left,
            "given_up": result.given_up,
        },
    )
    return result
