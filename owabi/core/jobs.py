"""Background jobs as database rows: enqueue idempotently, claim under a lease, record the outcome.

A worker claims a row (PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`; SQLite: a conditional UPDATE
inside a `BEGIN IMMEDIATE` transaction), renews its lease while the handler runs and writes the outcome
only while it still holds the row. A killed worker's job is claimed again once its lease expires, so a
restart loses nothing; handlers must be idempotent because a job may start more than once.

Jobs carry ids, never PII: payloads name rows, errors keep only the exception class (see SafeJobError),
and logs name job ids and kinds.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import random
import secrets
import signal
import socket
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import import_module
from itertools import islice
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, close_old_connections, connection, connections, transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from owabi.core import audit
from owabi.core.models import Job

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Job], dict[str, Any] | None]

BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
LEASE_EXPIRED_ERROR = "lease expired: the worker stopped during the last allowed attempt"
_KIND_MAX = Job._meta.get_field("kind").max_length or 100
_KEY_MAX = Job._meta.get_field("key").max_length or 200
_WORKER_ID_MAX = Job._meta.get_field("locked_by").max_length or 100

_handlers: dict[str, Handler] = {}
_discovered = False
_discover_lock = threading.RLock()


class SafeJobError(Exception):
    """A failure whose message was checked to carry no PII, so it is kept in `Job.last_error`."""


class Outcome(enum.StrEnum):
    DONE = "done"
    RETRY = "retry"
    FAILED = "failed"
    LOST = "lost"  # the lease passed to another worker; this run's outcome was discarded


# --- handlers -------------------------------------------------------------------------------------


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register `fn(payload, job) -> dict | None` for `kind`; the returned dict becomes `Job.result`."""
    if not kind or len(kind) > _KIND_MAX:
        raise ValueError(f"a job kind is 1 to {_KIND_MAX} characters")

    def register(fn: Handler) -> Handler:
        existing = _handlers.get(kind)
        if existing is not None and _qualified_name(existing) != _qualified_name(fn):
            raise ImproperlyConfigured(
                f"job kind {kind!r} is handled by both {_qualified_name(existing)} and {_qualified_name(fn)}"
            )
        _handlers[kind] = fn
        return fn

    return register


def discover_handlers() -> None:
    """Import every installed app's `jobs` module and each of settings.OWABI_JOB_MODULES, once."""
    global _discovered
    with _discover_lock:
        if _discovered:
            return
        autodiscover_modules("jobs")
        for module in settings.OWABI_JOB_MODULES:
            import_module(module)
        _discovered = True


def registered_kinds() -> list[str]:
    discover_handlers()
    return sorted(_handlers)


def _qualified_name(fn: Callable[..., object]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


# --- enqueue --------------------------------------------------------------------------------------


def enqueue(
    *,
    kind: str,
    key: str,
    payload: dict[str, Any] | None = None,
    run_after: datetime | None = None,
    max_attempts: int = 5,
) -> Job:
    """Queue one job, or return the one already queued under (kind, key).

    Call it inside the transaction of the change that needs the job, so both commit or neither does.
    The unique constraint, not a prior read, makes concurrent calls with one key yield one row.
    """
    job = _new_job(kind=kind, key=key, payload=payload, run_after=run_after, max_attempts=max_attempts)
    Job.objects.bulk_create([job], ignore_conflicts=True)
    return Job.objects.get(kind=kind, key=key)


def enqueue_many(
    *,
    kind: str,
    items: Iterable[tuple[str, dict[str, Any] | None]],
    run_after: datetime | None = None,
    max_attempts: int = 5,
    batch_size: int = 1000,
) -> None:
    """Queue (key, payload) items in batched inserts, skipping keys already queued; all or nothing."""
    when = run_after or timezone.now()
    iterator = iter(items)
    with transaction.atomic():
        while batch := list(islice(iterator, batch_size)):
            jobs = [
                _new_job(kind=kind, key=key, payload=payload, run_after=when, max_attempts=max_attempts)
                for key, payload in batch
            ]
            Job.objects.bulk_create(jobs, batch_size=batch_size, ignore_conflicts=True)


def _new_job(
    *, kind: str, key: str, payload: dict[str, Any] | None, run_after: datetime | None, max_attempts: int
) -> Job:
    if not kind or len(kind) > _KIND_MAX:
        raise ValueError(f"a job kind is 1 to {_KIND_MAX} characters")
    if not key or len(key) > _KEY_MAX:
        raise ValueError(f"a job key is 1 to {_KEY_MAX} characters")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if run_after is not None and timezone.is_naive(run_after):
        raise ValueError("run_after must be timezone-aware")
    if payload is not None and not isinstance(payload, dict):
        raise TypeError("a job payload is a dict")
    return Job(
        kind=kind,
        key=key,
        payload=payload or {},
        run_after=run_after or timezone.now(),
        max_attempts=max_attempts,
    )


# --- claim ----------------------------------------------------------------------------------------


def _ready(now: datetime) -> Q:
    """Queued and due, or running under a lease that expired (its worker died or stalled)."""
    return Q(status=Job.Status.QUEUED, run_after__lte=now) | Q(status=Job.Status.RUNNING, lease_until__lt=now)


def claim(
    *, worker_id: str, limit: int = 1, lease_seconds: int, kinds: Sequence[str] | None = None
) -> list[Job]:
    """Lease up to `limit` ready jobs to `worker_id`; no job goes to two workers.

    PostgreSQL locks the candidates with SKIP LOCKED, so concurrent claimers take different rows.
    SQLite ignores FOR UPDATE but serializes writers (BEGIN IMMEDIATE); either way each row is taken
    by an UPDATE that re-checks it is still ready and unclaimed since it was read.
    """
    if not worker_id or len(worker_id) > _WORKER_ID_MAX:
        raise ValueError(f"a worker id is 1 to {_WORKER_ID_MAX} characters")
    if limit < 1 or lease_seconds < 1:
        raise ValueError("limit and lease_seconds must be at least 1")
    claimed: list[Job] = []
    with transaction.atomic():
        while len(claimed) < limit:
            now = timezone.now()
            progressed = False
            for job in _candidates(now=now, count=limit - len(claimed), kinds=kinds):
                taken = _take(job=job, now=now, worker_id=worker_id, lease_seconds=lease_seconds)
                progressed = progressed or taken is not None
                if taken:
                    claimed.append(job)
            if not progressed:
                break
    return claimed


def _candidates(*, now: datetime, count: int, kinds: Sequence[str] | None) -> list[Job]:
    """Expired leases first (a dead worker's job), then due jobs, earliest run_after first.

    Both reads walk the (status, run_after) index, so the pile of finished jobs never slows a claim;
    ordering by id would scan past it. Ties in run_after come in index order (SQLite: by id).
    """
    jobs = Job.objects.filter(kind__in=kinds) if kinds else Job.objects.all()
    jobs = jobs.select_for_update(skip_locked=True)
    found = list(jobs.filter(status=Job.Status.RUNNING, lease_until__lt=now).order_by("lease_until")[:count])
    if len(found) < count:
        due = jobs.filter(status=Job.Status.QUEUED, run_after__lte=now).order_by("run_after")
        found += due[: count - len(found)]
    return found


def _take(*, job: Job, now: datetime, worker_id: str, lease_seconds: int) -> bool | None:
    """Claim one candidate row: True if claimed, False if it had no attempts left, None if it moved."""
    still_ready = Job.objects.filter(_ready(now), pk=job.pk, attempts=job.attempts)
    if job.attempts >= job.max_attempts:
        if not still_ready.update(
            status=Job.Status.FAILED, lease_until=None, finished_at=now, last_error=LEASE_EXPIRED_ERROR
        ):
            return None
        logger.warning("job %s (%s) failed: lease expired on attempt %s", job.pk, job.kind, job.attempts)
        return False
    lease_until = now + timedelta(seconds=lease_seconds)
    if not still_ready.update(
        status=Job.Status.RUNNING,
        locked_by=worker_id,
        lease_until=lease_until,
        started_at=now,
        attempts=F("attempts") + 1,
    ):
        return None
    if job.status == Job.Status.RUNNING:
        logger.info("job %s (%s) reclaimed from an expired lease", job.pk, job.kind)
    job.status = Job.Status.RUNNING
    job.locked_by = worker_id
    job.lease_until = lease_until
    job.started_at = now
    job.attempts += 1
    return True


# --- run ------------------------------------------------------------------------------------------


def run_job(*, job: Job, lease_seconds: int) -> Outcome:
    """Run a claimed job's handler and record the outcome, unless the lease passed to another worker.

    The lease is renewed while the handler runs. Failures keep only the exception's class in
    `last_error` (messages may carry PII) unless it is a SafeJobError.
    """
    if job.status != Job.Status.RUNNING or not job.locked_by:
        raise ValueError("run_job takes a job returned by claim()")
    discover_handlers()
    fn = _handlers.get(job.kind)
    if fn is None:
        return _record_failure(job=job, error=f"no handler registered for job kind {job.kind!r}", final=True)
    started = time.monotonic()
    try:
        with _Heartbeat(job=job, lease_seconds=lease_seconds):
            result = fn(job.payload, job)
            if result is not None and not isinstance(result, dict):
                raise TypeError("a job handler returns a dict or None")
            json.dumps(result)  # fail here, as the handler's error, rather than in the UPDATE below
    except Exception as exc:
        name = _error_name(exc)
        where = _where(exc)
        logger.warning("job %s (%s) attempt %s raised %s at %s", job.pk, job.kind, job.attempts, name, where)
        error = f"{name}: {exc}" if isinstance(exc, SafeJobError) else name
        return _record_failure(job=job, error=error, final=job.attempts >= job.max_attempts)
    now = timezone.now()
    if not _owned(job).update(status=Job.Status.DONE, result=result, lease_until=None, finished_at=now):
        logger.warning(
            "job %s (%s): lease lost during attempt %s; result discarded", job.pk, job.kind, job.attempts
        )
        return Outcome.LOST
    job.status, job.result, job.lease_until, job.finished_at = Job.Status.DONE, result, None, now
    logger.info(
        "job %s (%s) done on attempt %s in %.2fs", job.pk, job.kind, job.attempts, time.monotonic() - started
    )
    return Outcome.DONE


def _owned(job: Job) -> QuerySet[Job]:
    """The job's row while this claim (worker id and attempt number) still holds it."""
    return Job.objects.filter(
        pk=job.pk, status=Job.Status.RUNNING, locked_by=job.locked_by, attempts=job.attempts
    )


def _record_failure(*, job: Job, error: str, final: bool) -> Outcome:
    now = timezone.now()
    if final:
        fields: dict[str, Any] = {"status": Job.Status.FAILED, "finished_at": now}
        outcome = Outcome.FAILED
    else:
        fields = {"status": Job.Status.QUEUED, "run_after": now + retry_delay(job.attempts), "locked_by": ""}
        outcome = Outcome.RETRY
    if not _owned(job).update(lease_until=None, last_error=error, **fields):
        logger.warning(
            "job %s (%s): lease lost during attempt %s; failure discarded", job.pk, job.kind, job.attempts
        )
        return Outcome.LOST
    for name, value in {"lease_until": None, "last_error": error, **fields}.items():
        setattr(job, name, value)
    if final:
        logger.warning("job %s (%s) failed after %s attempts", job.pk, job.kind, job.attempts)
    return outcome


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with up to 10% jitter, so jobs that failed together do not retry together."""
    seconds = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds * random.uniform(1.0, 1.1))  # noqa: S311 - jitter, not a secret


def _error_name(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _where(exc: BaseException) -> str:
    """Where it was raised (file, line, function): a place to look without the message's data."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"


class _Heartbeat:
    """Renews the lease every lease/3 seconds on its own connection, so a long handler keeps its job."""

    def __init__(self, *, job: Job, lease_seconds: int) -> None:
        self._job_id = job.pk
        self._kind = job.kind
        self._owned = _owned(job)
        self._lease = timedelta(seconds=lease_seconds)
        self._interval = lease_seconds / 3
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job.pk}-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                try:
                    renewed = self._owned.update(lease_until=timezone.now() + self._lease)
                except DatabaseError:
                    logger.warning("job %s (%s): lease renewal failed; retrying", self._job_id, self._kind)
                    connection.close()
                    continue
                if not renewed:
                    logger.warning("job %s (%s): lease lost to another worker", self._job_id, self._kind)
                    return
        finally:
            connections.close_all()


# --- worker ---------------------------------------------------------------------------------------


@dataclass
class WorkerStats:
    claimed: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)


def default_worker_id() -> str:
    """host:pid:random, so restarts and workers on other hosts never share an id."""
    suffix = f":{os.getpid()}:{secrets.token_hex(3)}"
    return socket.gethostname()[: _WORKER_ID_MAX - len(suffix)] + suffix


def run_worker(
    *,
    worker_id: str | None = None,
    lease_seconds: int,
    poll_seconds: float,
    burst: bool,
    max_jobs: int | None,
    kinds: Sequence[str] | None,
) -> WorkerStats:
    """Claim and run jobs one at a time until stopped, `max_jobs` ran, or (burst) none is ready.

    SIGTERM or SIGINT lets the current job finish, then the loop ends; a second signal acts as usual.
    One job per claim, so the worker never holds a lease on a job it has not started.
    """
    worker_id = worker_id or default_worker_id()
    discover_handlers()
    stats = WorkerStats()
    stop = _StopFlag()
    stop.install()
    logger.info("worker %s started (kinds: %s)", worker_id, ",".join(kinds) if kinds else "all")
    try:
        while not stop.requested and (max_jobs is None or stats.claimed < max_jobs):
            close_old_connections()
            jobs = claim(worker_id=worker_id, limit=1, lease_seconds=lease_seconds, kinds=kinds)
            if not jobs:
                if burst:
                    break
                stop.sleep(poll_seconds)
                continue
            for job in jobs:
                stats.claimed += 1
                stats.outcomes[run_job(job=job, lease_seconds=lease_seconds)] += 1
    finally:
        stop.uninstall()
        close_old_connections()
    logger.info(
        "worker %s stopped%s: %s claimed, %s",
        worker_id,
        " on signal" if stop.requested else "",
        stats.claimed,
        ", ".join(f"{stats.outcomes[outcome]} {outcome}" for outcome in Outcome),
    )
    return stats


class _StopFlag:
    """Set by SIGTERM/SIGINT; the handler only flips a flag, the loop decides when to stop."""

    _SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach the main thread only; a worker in a thread is stopped by max_jobs/burst
        for signum in self._SIGNALS:
            previous = signal.signal(signum, self._on_signal)
            self._previous[signum] = signal.SIG_DFL if previous is None else previous

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        signal.signal(signum, self._previous.pop(signum, signal.SIG_DFL))

    def sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.requested and (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(remaining, 0.2))


# --- maintenance and selectors --------------------------------------------------------------------


@transaction.atomic
def retry_failed(*, kind: str | None = None, actor: str = "system") -> int:
    """Queue failed jobs again with a fresh attempt budget (after the cause was fixed); returns how many."""
    failed = Job.objects.filter(status=Job.Status.FAILED)
    if kind:
        failed = failed.filter(kind=kind)
    count = failed.update(
        status=Job.Status.QUEUED,
        attempts=0,
        run_after=timezone.now(),
        locked_by="",
        lease_until=None,
        finished_at=None,
    )
    audit.record(actor=actor, action="jobs.retry_failed", data={"kind": kind or "", "count": count})
    logger.info("requeued %s failed jobs%s", count, f" of kind {kind}" if kind else "")
    return count


def counts_by_status(*, kind: str | None = None) -> dict[str, int]:
    jobs = Job.objects.all() if kind is None else Job.objects.filter(kind=kind)
    counts = dict.fromkeys(Job.Status.values, 0)
    for row in jobs.values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def counts_by_kind() -> dict[str, dict[str, int]]:
    """{kind: {status: count}} with every status present, kinds sorted."""
    table: dict[str, dict[str, int]] = {}
    for row in Job.objects.values("kind", "status").annotate(n=Count("id")).order_by("kind"):
        table.setdefault(row["kind"], dict.fromkeys(Job.Status.values, 0))[row["status"]] = row["n"]
    return table
