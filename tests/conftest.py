"""Shared fixtures. Tests run against the database DATABASE_URL names (SQLite by default)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections

pytest_plugins = [
    "tests.mailsink",
    "tests.portal_support",
    "tests.browser",
]  # SMTP sink, portal data, browser

REPO = Path(__file__).resolve().parent.parent
OWABI = [sys.executable, "-m", "owabi"]


def database_url_for_subprocess() -> str:
    """A DATABASE_URL naming the database this test runs on (the test database, not the main one)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


@pytest.fixture(autouse=True)
def audit_witness(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each test anchors the audit chain to a witness of its own, never to the checkout's var/."""
    settings.OWABI_AUDIT_WITNESS = tmp_path_factory.mktemp("witness") / "audit-witness"
    return Path(settings.OWABI_AUDIT_WITNESS)


# The triggers that refuse to empty the audit log (core migration 0003), lifted while Django's test
# flush empties every table after a transactional test: TRUNCATE on PostgreSQL, DELETE on SQLite.
_NO_WIPE = {
    "postgresql": [
        ("core_auditevent", "core_auditevent_no_truncate"),
        ("core_audithead", "core_audithead_no_truncate"),
    ],
    "sqlite": [
        ("core_auditevent", "core_auditevent_no_delete"),
        ("core_audithead", "core_audithead_no_delete"),
    ],
}


def _flushes(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    transactional = marker is not None and bool(
        marker.kwargs.get("transaction") or marker.args[:1] == (True,)
    )
    return transactional or "transactional_db" in getattr(item, "fixturenames", ())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if not _flushes(item):
        return (yield)
    from pytest_django.plugin import blocking_manager_key

    blocker = item.config.stash[blocking_manager_key]
    saved: list[str] = []
    with blocker.unblock(), connection.cursor() as cursor:
        for table, trigger in _NO_WIPE.get(connection.vendor, []):
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
            else:
                cursor.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [trigger]
                )
                saved.extend(sql for (sql,) in cursor.fetchall())
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    database = connection.settings_dict["NAME"]
    try:
        return (yield)
    finally:
        # After the last test the test database is gone, and the connection names the real one.
        if nextitem is not None and connection.settings_dict["NAME"] == database:
            _restore(blocker, saved)


def _restore(blocker: Any, saved: list[str]) -> None:
    with blocker.unblock(), connection.cursor() as cursor:
        for table, trigger in _NO_WIPE.get(connection.vendor, []):
            if connection.vendor == "postgresql":
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        for sql in saved:
            cursor.execute(sql)


@pytest.fixture
def subprocess_env(transactional_db: None) -> dict[str, str]:
    """Environment for running `python -m owabi ...` against this test's database."""
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url_for_subprocess()
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["OWABI_AUDIT_WITNESS"] = str(django_settings.OWABI_AUDIT_WITNESS)  # the test's own (audit_witness)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def incident(db: None):
    from owabi.incidents.services import create_incident

    return create_incident(
        actor="test", slug="test-leak", name="テスト漏えい事案", discovered_on=date(2026, 11, 1)
    )


@pytest.fixture
def open_umask():
    """The loosest umask there is (0): whatever owabi creates must still be private."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@contextmanager
def held_at_first_progress(run: Callable[[Callable[..., None]], object]) -> Iterator[list[object]]:
    """Run `run(progress)` in a thread of its own (its own database connection) and hold it at its first
    progress call while the block runs: a long job caught mid-way, for what else may happen meanwhile.
    The list it yields holds, after the block, what `run` returned or raised."""
    paused, go_on = threading.Event(), threading.Event()
    outcome: list[object] = []

    def progress(*_: object) -> None:
        paused.set()
        go_on.wait(timeout=120)

    def running() -> None:
        try:
            outcome.append(run(progress))
        except Exception as error:
            outcome.append(error)
        finally:
            paused.set()
            connections.close_all()

    thread = threading.Thread(target=running)
    thread.start()
    try:
        assert paused.wait(timeout=120) and not outcome, f"the run ended before it could be held: {outcome}"
        yield outcome
    finally:
        go_on.set()
        thread.join(timeout=300)


def sigkill_when(
    process: subprocess.Popen[Any], ready: Callable[[], bool], what: str, wait: float = 240
) -> None:
    """SIGKILL `process` as soon as `ready()` holds (polled every 2 ms); the test fails if the process
    ends first or nothing is ready within `wait` seconds (`what` names what was awaited)."""
    deadline = time.monotonic() + wait
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            shown = err.decode() if isinstance(err, bytes) else (err or "")
            pytest.fail(f"no {what} before the process ended: {shown[-2000:]}")
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL, f"the process ended before it could be killed ({what})"


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """Rate-limit windows at a fixed moment, so no test straddles a window's end (a run of hundreds of
    sign-in guesses that crossed the top of the hour got a fresh budget midway)."""
    from types import SimpleNamespace

    from owabi.core import ratelimit

    moment = 1_000_000.5
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: moment))
    return moment
