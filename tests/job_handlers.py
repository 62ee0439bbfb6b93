"""Job handlers for tests only: imported by tests/test_jobs.py and, in worker subprocesses, through
OWABI_JOB_MODULES=tests.job_handlers.

`test.record` leaves traces in the directory its payload names, so a test can count how often a job
started (`<key>.attempts`, one line per start, written before the work) and how often its effect
happened (`<key>.effect`, created atomically and only once, like an idempotent real handler).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from owabi.core import jobs
from owabi.core.models import Job

PII_LIKE = "山田太郎 taro.yamada@example.jp 090-1234-5678"


def _append_line(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, f"{line}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@jobs.handler("test.record")
def record(payload: dict[str, Any], job: Job) -> dict[str, Any]:
    directory = Path(payload["dir"])
    _append_line(directory / f"{job.key}.attempts", str(job.attempts))
    time.sleep(payload.get("sleep", 0))
    effect = directory / f"{job.key}.effect"
    temporary = directory / f".{job.key}.{os.getpid()}.{job.attempts}.tmp"
    temporary.write_text(f"attempt {job.attempts}\n")
    try:
        effect.hardlink_to(temporary)  # atomic, and fails if the effect already exists
        wrote = True
    except FileExistsError:
        wrote = False
    finally:
        temporary.unlink()
    return {"attempt": job.attempts, "wrote": wrote}


@jobs.handler("test.sleep")
def sleep(payload: dict[str, Any], job: Job) -> dict[str, Any]:
    time.sleep(payload["sleep"])
    return {"slept": payload["sleep"]}


@jobs.handler("test.echo")
def echo(payload: dict[str, Any], job: Job) -> dict[str, Any]:
    return {"worker": job.locked_by, "attempt": job.attempts, "payload": payload}


@jobs.handler("test.fail")
def fail(payload: dict[str, Any], job: Job) -> None:
    raise RuntimeError(f"could not notify {PII_LIKE}")


class NoticeRefused(jobs.SafeJobError):
    pass


@jobs.handler("test.safe_fail")
def safe_fail(payload: dict[str, Any], job: Job) -> None:
    raise NoticeRefused("mail server refused notice 42 (550)")
