"""The job runtime: idempotent enqueue, exclusive claims, leases, failures, and workers killed mid-job."""

from __future__ import annotations

import logging
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone

from owabi.core import audit, jobs
from owabi.core.models import Job
from tests import job_handlers
from tests.conftest import OWABI, REPO

LONG_LEASE = 300


# --- helpers --------------------------------------------------------------------------------------


def expire_lease(job: Job) -> None:
    """Stand in for time passing: the holder's lease ends now."""
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))


def make_due(job: Job) -> None:
    """Stand in for time passing: the backoff is over."""
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())


def claim_one(worker_id: str, **kwargs: Any) -> Job:
    claimed = jobs.claim(worker_id=worker_id, lease_seconds=kwargs.pop("lease_seconds", LONG_LEASE), **kwargs)
    assert len(claimed) == 1
    return claimed[0]


def in_threads(count: int, target: Callable[[int], None]) -> None:
    """Run target(i) in `count` threads, each on its own database connection; re-raise their errors."""
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            target(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def wait_until(condition: Callable[[], bool], *, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def attempt_lines(trace: Path, key: str) -> list[str]:
    path = trace / f"{key}.attempts"
    return path.read_text().split() if path.exists() else []


def wait_for_leases_to_expire() -> None:
    """A killed worker's lease outlives it; wait for the last one to run out, as a new worker would."""
    latest = max(
        (job.lease_until for job in Job.objects.filter(status=Job.Status.RUNNING) if job.lease_until),
        default=None,
    )
    if latest is not None:
        time.sleep(max((latest - timezone.now()).total_seconds(), 0) + 0.1)


@pytest.fixture
def worker_env(subprocess_env: dict[str, str]) -> dict[str, str]:
    return {**subprocess_env, "OWABI_JOB_MODULES": "tests.job_handlers"}


class Workers:
    """Starts `owabi jobs work` subprocesses, their output in one log file per worker."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            [*OWABI, "jobs", "work", "--poll", "0.1", *args],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.started.append(process)
        return process

    def burst(self, *args: str) -> None:
        process = self.start("--burst", *args)
        assert process.wait(timeout=60) == 0, self.output()

    def output(self) -> str:
        return "\n".join(path.read_text() for path in sorted(self.logs.glob("worker-*.log")))

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    logs = tmp_path / "logs"
    logs.mkdir()
    started = Workers(worker_env, logs)
    yield started
    started.stop_all()


@pytest.fixture
def trace(tmp_path: Path) -> Path:
    path = tmp_path / "trace"
    path.mkdir()
    return path


# --- enqueue --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_enqueues_a_key_once() -> None:
    first = jobs.enqueue(kind="test.echo", key="incident-1", payload={"n": 1})
    again = jobs.enqueue(kind="test.echo", key="incident-1", payload={"n": 2})
    other = jobs.enqueue(kind="test.echo", key="incident-2")

    assert again.pk == first.pk
    assert again.payload == {"n": 1}
    assert other.pk != first.pk
    assert Job.objects.count() == 2
    assert jobs.enqueue(kind="test.sleep", key="incident-1").pk not in {first.pk, other.pk}


@pytest.mark.django_db
def test_it_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        jobs.enqueue(kind="test.echo", key="")
    with pytest.raises(ValueError):
        jobs.enqueue(kind="test.echo", key="k" * 201)
    with pytest.raises(ValueError):
        jobs.enqueue(kind="test.echo", key="k", max_attempts=0)
    with pytest.raises(ValueError):
        jobs.enqueue(kind="test.echo", key="k", run_after=timezone.now().replace(tzinfo=None))
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_it_enqueues_many_skipping_keys_already_queued() -> None:
    jobs.enqueue(kind="test.echo", key="r00001", payload={"first": True})
    items = [(f"r{i:05d}", {"i": i}) for i in range(2500)]

    jobs.enqueue_many(kind="test.echo", items=iter(items + items[:10]), batch_size=1000)

    assert Job.objects.filter(kind="test.echo").count() == 2500
    assert Job.objects.get(key="r00001").payload == {"first": True}
    assert Job.objects.get(key="r02499").payload == {"i": 2499}


def test_concurrent_enqueues_of_one_key_make_one_row(transactional_db: None) -> None:
    barrier = threading.Barrier(4)
    ids: list[int] = []

    def enqueue(i: int) -> None:
        barrier.wait()
        ids.append(jobs.enqueue(kind="test.echo", key="same", payload={"thread": i}).pk)

    in_threads(4, enqueue)

    assert len(set(ids)) == 1
    assert Job.objects.count() == 1


# --- claim ----------------------------------------------------------------------------------------


def test_concurrent_claimers_never_get_the_same_job(transactional_db: None) -> None:
    jobs.enqueue_many(kind="test.echo", items=((f"job-{i}", {"i": i}) for i in range(60)))
    barrier = threading.Barrier(4, timeout=60)
    # Every claimer holds a first batch before any goes on, so the claims overlap however the threads
    # are scheduled (60 jobs, at most 2 a claim: no first claim comes back empty).
    first_claims_held = threading.Barrier(4, timeout=60)
    claimed: dict[str, list[int]] = {}

    def work(i: int) -> None:
        worker_id = f"worker-{i}"
        mine = claimed.setdefault(worker_id, [])
        barrier.wait()
        first = True
        while batch := jobs.claim(worker_id=worker_id, limit=2, lease_seconds=LONG_LEASE):
            if first:
                first_claims_held.wait()
                first = False
            for job in batch:
                mine.append(job.pk)
                assert jobs.run_job(job=job, lease_seconds=LONG_LEASE) == jobs.Outcome.DONE

    in_threads(4, work)

    all_claims = [pk for pks in claimed.values() for pk in pks]
    assert len(all_claims) == len(set(all_claims)) == 60
    assert sum(1 for pks in claimed.values() if pks) > 1, "the claimers did not actually overlap"
    for job in Job.objects.all():
        assert (job.status, job.attempts) == (Job.Status.DONE, 1)
        assert job.result is not None and job.pk in claimed[job.result["worker"]]


@pytest.mark.django_db
def test_it_does_not_claim_a_job_before_its_run_after() -> None:
    jobs.enqueue(kind="test.echo", key="later", run_after=timezone.now() + timedelta(hours=1))
    assert jobs.claim(worker_id="w1", lease_seconds=LONG_LEASE) == []

    due = jobs.enqueue(kind="test.echo", key="now")
    assert claim_one("w1").pk == due.pk


@pytest.mark.django_db
def test_it_claims_only_the_kinds_asked_for() -> None:
    jobs.enqueue(kind="test.echo", key="a")
    sleeper = jobs.enqueue(kind="test.sleep", key="b", payload={"sleep": 0})
    assert claim_one("w1", kinds=["test.sleep"]).pk == sleeper.pk
    assert jobs.claim(worker_id="w1", lease_seconds=LONG_LEASE, kinds=["test.sleep"]) == []


@pytest.mark.django_db
def test_it_reclaims_a_job_whose_lease_expired() -> None:
    job = jobs.enqueue(kind="test.echo", key="k")
    first = claim_one("dead-worker")
    assert (first.pk, first.attempts, first.status) == (job.pk, 1, Job.Status.RUNNING)
    assert jobs.claim(worker_id="w2", lease_seconds=LONG_LEASE) == []

    expire_lease(job)
    second = claim_one("w2")

    assert (second.pk, second.attempts, second.locked_by) == (job.pk, 2, "w2")
    job.refresh_from_db()
    assert (job.status, job.attempts, job.locked_by) == (Job.Status.RUNNING, 2, "w2")


@pytest.mark.django_db
def test_a_job_whose_worker_died_on_its_last_attempt_fails_and_the_next_job_is_claimed() -> None:
    job = jobs.enqueue(kind="test.echo", key="k", max_attempts=2)
    claim_one("w1")
    expire_lease(job)
    claim_one("w2")
    expire_lease(job)
    behind = jobs.enqueue(kind="test.echo", key="behind")

    assert claim_one("w3").pk == behind.pk

    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error) == (Job.Status.FAILED, 2, jobs.LEASE_EXPIRED_ERROR)
    assert job.finished_at is not None


# --- run ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_runs_and_records_its_result() -> None:
    job = jobs.enqueue(kind="test.echo", key="k", payload={"incident": 7})
    claimed = claim_one("w1")

    assert jobs.run_job(job=claimed, lease_seconds=LONG_LEASE) == jobs.Outcome.DONE

    job.refresh_from_db()
    assert job.status == Job.Status.DONE
    assert job.result == {"worker": "w1", "attempt": 1, "payload": {"incident": 7}}
    assert job.finished_at is not None and job.lease_until is None


@pytest.mark.django_db
def test_a_failing_job_backs_off_then_fails_keeping_only_the_error_class(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    job = jobs.enqueue(kind="test.fail", key="k", max_attempts=3)

    for attempt in (1, 2):
        before = timezone.now()
        assert jobs.run_job(job=claim_one("w1"), lease_seconds=LONG_LEASE) == jobs.Outcome.RETRY
        job.refresh_from_db()
        assert (job.status, job.attempts, job.last_error) == (Job.Status.QUEUED, attempt, "RuntimeError")
        delay = jobs.BACKOFF_BASE_SECONDS * 2 ** (attempt - 1)
        assert before + timedelta(seconds=delay) <= job.run_after
        assert job.run_after <= timezone.now() + timedelta(seconds=delay * 1.1)
        assert jobs.claim(worker_id="w1", lease_seconds=LONG_LEASE) == [], "claimed during the backoff"
        make_due(job)

    assert jobs.run_job(job=claim_one("w1"), lease_seconds=LONG_LEASE) == jobs.Outcome.FAILED
    job.refresh_from_db()
    assert (job.status, job.attempts, job.last_error) == (Job.Status.FAILED, 3, "RuntimeError")
    assert job.finished_at is not None
    assert jobs.claim(worker_id="w1", lease_seconds=LONG_LEASE) == []
    for text in (job.last_error, caplog.text):
        assert "山田" not in text and "example.jp" not in text and "090-1234" not in text
    assert job_handlers.PII_LIKE not in caplog.text
    assert "RuntimeError" in caplog.text


@pytest.mark.django_db
def test_a_safe_job_error_keeps_its_message() -> None:
    job = jobs.enqueue(kind="test.safe_fail", key="k", max_attempts=1)
    assert jobs.run_job(job=claim_one("w1"), lease_seconds=LONG_LEASE) == jobs.Outcome.FAILED
    job.refresh_from_db()
    assert job.last_error == "tests.job_handlers.NoticeRefused: mail server refused notice 42 (550)"


@pytest.mark.django_db
def test_a_job_of_unknown_kind_fails_at_once() -> None:
    job = jobs.enqueue(kind="test.nobody-handles-this", key="k")
    assert jobs.run_job(job=claim_one("w1"), lease_seconds=LONG_LEASE) == jobs.Outcome.FAILED
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.FAILED, 1)
    assert job.last_error == "no handler registered for job kind 'test.nobody-handles-this'"


@pytest.mark.django_db
def test_a_worker_that_lost_its_lease_cannot_overwrite_the_new_owners_outcome() -> None:
    job = jobs.enqueue(kind="test.echo", key="k")
    stale = claim_one("slow-worker")
    expire_lease(job)
    current = claim_one("new-owner")

    assert jobs.run_job(job=stale, lease_seconds=LONG_LEASE) == jobs.Outcome.LOST
    job.refresh_from_db()
    assert (job.status, job.locked_by, job.result) == (Job.Status.RUNNING, "new-owner", None)

    assert jobs.run_job(job=current, lease_seconds=LONG_LEASE) == jobs.Outcome.DONE
    assert jobs.run_job(job=stale, lease_seconds=LONG_LEASE) == jobs.Outcome.LOST
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.DONE, 2)
    assert job.result == {"worker": "new-owner", "attempt": 2, "payload": {}}


def test_a_running_job_renews_its_lease_so_it_is_not_stolen(transactional_db: None) -> None:
    job = jobs.enqueue(kind="test.sleep", key="long", payload={"sleep": 1.6})
    claimed = claim_one("slow-worker", lease_seconds=1)
    outcomes: list[jobs.Outcome] = []

    def run(_: int) -> None:
        outcomes.append(jobs.run_job(job=claimed, lease_seconds=1))

    runner = threading.Thread(target=lambda: in_threads(1, run))
    runner.start()
    stolen = []
    while runner.is_alive():
        stolen += jobs.claim(worker_id="thief", lease_seconds=LONG_LEASE)
        time.sleep(0.1)
    runner.join()

    assert stolen == []
    assert outcomes == [jobs.Outcome.DONE]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.locked_by) == (Job.Status.DONE, 1, "slow-worker")


def test_a_worker_runs_at_most_max_jobs_and_a_burst_worker_stops_when_none_is_ready(
    transactional_db: None,
) -> None:
    for key in ("a", "b", "c"):
        jobs.enqueue(kind="test.echo", key=key)
    jobs.enqueue(kind="test.echo", key="later", run_after=timezone.now() + timedelta(hours=1))

    def work(max_jobs: int | None) -> jobs.WorkerStats:
        return jobs.run_worker(
            worker_id="w1", lease_seconds=60, poll_seconds=0.1, burst=True, max_jobs=max_jobs, kinds=None
        )

    assert work(2).claimed == 2
    assert jobs.counts_by_status() == {"queued": 2, "running": 0, "done": 2, "failed": 0}
    stats = work(None)
    assert (stats.claimed, stats.outcomes[jobs.Outcome.DONE]) == (1, 1)
    assert jobs.counts_by_status() == {"queued": 1, "running": 0, "done": 3, "failed": 0}


# --- workers as processes -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_killed_workers_job_is_run_again_by_the_next_worker(workers: Workers, trace: Path) -> None:
    job = jobs.enqueue(kind="test.record", key="slow", payload={"dir": str(trace), "sleep": 1.5})
    first = workers.start("--lease", "2")
    wait_until(lambda: attempt_lines(trace, "slow") == ["1"], what="the first attempt to start")

    first.kill()
    first.wait()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.RUNNING, 1)
    wait_for_leases_to_expire()
    workers.burst("--lease", "2")

    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.DONE, 2), workers.output()
    assert attempt_lines(trace, "slow") == ["1", "2"]
    assert (trace / "slow.effect").read_text() == "attempt 2\n"
    assert job.result == {"attempt": 2, "wrote": True}
    assert str(trace) not in workers.output(), "a payload reached the logs"


@pytest.mark.slow
def test_workers_killed_at_random_moments_lose_and_repeat_nothing(workers: Workers, trace: Path) -> None:
    rng = random.Random(20261101)
    keys = [f"r{i:02d}" for i in range(20)]
    jobs.enqueue_many(
        kind="test.record",
        items=((key, {"dir": str(trace), "sleep": round(rng.uniform(0.05, 0.3), 2)}) for key in keys),
    )

    def started() -> int:
        return sum(len(attempt_lines(trace, key)) for key in keys)

    def started_more_than(before: int) -> bool:
        return started() > before or not Job.objects.exclude(status=Job.Status.DONE).exists()

    kills = 3
    for _ in range(kills):
        before = started()
        worker = workers.start("--lease", "2")
        wait_until(partial(started_more_than, before), what="a worker to start a job")
        time.sleep(rng.uniform(0, 0.4))
        worker.kill()
        worker.wait()
    wait_for_leases_to_expire()
    workers.burst("--lease", "2")

    done = {job.key: job for job in Job.objects.filter(status=Job.Status.DONE)}
    assert sorted(done) == keys, workers.output()
    for key, job in done.items():
        starts = attempt_lines(trace, key)
        assert 1 <= len(starts) <= job.attempts <= kills + 1
        effect = (trace / f"{key}.effect").read_text()  # one file, created once by a hard link
        assert effect in {f"attempt {attempt}\n" for attempt in starts}
    assert sum(job.attempts - 1 for job in done.values()) <= kills, "a job ran again without a kill"


@pytest.mark.slow
def test_sigterm_lets_the_current_job_finish(workers: Workers, trace: Path) -> None:
    job = jobs.enqueue(kind="test.record", key="k", payload={"dir": str(trace), "sleep": 1.0})
    worker = workers.start("--lease", "5")
    wait_until(lambda: attempt_lines(trace, "k") == ["1"], what="the job to start")

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=30) == 0, workers.output()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.DONE, 1)
    assert "stopped on signal" in workers.output()


# --- the command ----------------------------------------------------------------------------------


def run_command(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*OWABI, "jobs", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def fail_one(kind: str, key: str) -> Job:
    job = jobs.enqueue(kind=kind, key=key, max_attempts=1)
    assert jobs.run_job(job=claim_one("w1", kinds=[kind]), lease_seconds=LONG_LEASE) == jobs.Outcome.FAILED
    return job


def test_status_prints_counts_by_kind_and_status(worker_env: dict[str, str]) -> None:
    assert run_command(worker_env, "status").strip() == "no jobs"
    for key in ("a", "b", "c"):
        jobs.enqueue(kind="test.echo", key=key)
    jobs.run_job(job=claim_one("w1"), lease_seconds=LONG_LEASE)
    fail_one("test.fail", "x")

    lines = run_command(worker_env, "status").splitlines()

    assert lines[0].split() == ["kind", "queued", "running", "done", "failed"]
    assert [line.split() for line in lines[1:]] == [
        ["test.echo", "2", "0", "1", "0"],
        ["test.fail", "0", "0", "0", "1"],
    ]
    assert jobs.counts_by_status() == {"queued": 2, "running": 0, "done": 1, "failed": 1}
    assert jobs.counts_by_status(kind="test.fail") == {"queued": 0, "running": 0, "done": 0, "failed": 1}


def test_retry_requeues_failed_jobs_with_fresh_attempts(worker_env: dict[str, str]) -> None:
    failed = fail_one("test.fail", "x")
    refused = fail_one("test.safe_fail", "y")

    assert (
        run_command(worker_env, "retry", "--failed", "--kind", "test.fail").strip() == "requeued 1 failed job"
    )
    failed.refresh_from_db()
    refused.refresh_from_db()
    assert (failed.status, failed.attempts, failed.finished_at) == (Job.Status.QUEUED, 0, None)
    assert refused.status == Job.Status.FAILED

    assert run_command(worker_env, "retry", "--failed").strip() == "requeued 1 failed job"
    assert jobs.counts_by_status() == {"queued": 2, "running": 0, "done": 0, "failed": 0}
    assert claim_one("w2").pk == failed.pk
    retries = [e for e in audit.recent(limit=10) if e.action == "jobs.retry_failed"]
    assert [(e.actor, e.data) for e in retries] == [
        ("cli", {"kind": "", "count": 1}),
        ("cli", {"kind": "test.fail", "count": 1}),
    ]


@pytest.mark.django_db
def test_retry_needs_to_be_told_what_to_retry() -> None:
    with pytest.raises(CommandError):
        call_command("jobs", "retry")
