"""Shared fixtures. Tests run against the database DATABASE_URL names (SQLite by default)."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import pytest
from django.db import connection

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


@pytest.fixture
def subprocess_env(transactional_db: None) -> dict[str, str]:
    """Environment for running `python -m owabi ...` against this test's database."""
    env = dict(os.environ)
    env["DATABASE_URL"] = database_url_for_subprocess()
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
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
