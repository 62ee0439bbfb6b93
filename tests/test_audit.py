from __future__ import annotations

import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from owabi.core import audit
from owabi.core.models import AuditEvent, AuditHead
from tests.conftest import OWABI, REPO

pytestmark = pytest.mark.django_db


def _chain(n: int = 5) -> list[AuditEvent]:
    return [
        audit.record(actor="test", action="thing.do", object_type="thing", object_id=i, data={"n": i})
        for i in range(n)
    ]


def _raw(sql: str, params: list[object]) -> None:
    """Tamper directly in the database, the way an attacker with SQL access would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS core_auditevent_append_only")
        cursor.execute(sql, params)


def test_it_verifies_an_untouched_chain() -> None:
    _chain()
    result = audit.verify()
    assert result.ok, result.problems
    assert result.events == 5


def test_it_verifies_an_empty_chain() -> None:
    assert audit.verify().ok


def test_it_links_each_event_to_the_previous_one() -> None:
    events = _chain(3)
    assert events[0].prev_hash == audit.GENESIS
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert [e.seq for e in events] == [1, 2, 3]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "someone-else"),
        ("action", "thing.undo"),
        ("object_id", "99"),
        ("reason", "added later"),
        ("data", '{"n": 42}'),
        ("at", "2020-01-01 00:00:00+00:00"),
    ],
)
def test_it_detects_an_edited_event(column: str, value: str) -> None:
    _chain()
    _raw(f"UPDATE core_auditevent SET {column} = %s WHERE seq = 3", [value])
    result = audit.verify()
    assert not result.ok
    assert any(p.seq == 3 and "edited" in p.what for p in result.problems)


def test_it_detects_a_rehashed_event_without_the_key() -> None:
    """Recomputing a hash needs the audit key; a plain SHA-256 forgery does not fit."""
    import hashlib

    _chain()
    forged = hashlib.sha256(b"forged").hexdigest()
    _raw("UPDATE core_auditevent SET reason = %s, hash = %s WHERE seq = 2", ["x", forged])
    problems = audit.verify().problems
    assert any(p.seq == 2 for p in problems)
    assert any(p.seq == 3 and "link" in p.what for p in problems)


def test_it_detects_a_deleted_event_in_the_middle() -> None:
    _chain()
    _raw("DELETE FROM core_auditevent WHERE seq = 2", [])
    problems = audit.verify().problems
    assert any("missing" in p.what for p in problems)
    assert any(p.seq == 3 and "link" in p.what for p in problems)


def test_it_detects_deleted_events_at_the_end() -> None:
    _chain()
    _raw("DELETE FROM core_auditevent WHERE seq >= 4", [])
    problems = audit.verify().problems
    assert any(p.seq is None and "head names event 5" in p.what for p in problems)


def test_it_detects_an_edited_head() -> None:
    _chain()
    AuditHead.objects.filter(id=1).update(seq=3)
    assert any("head was edited" in p.what for p in audit.verify().problems)


def test_the_database_refuses_updates_to_audit_rows() -> None:
    _chain(1)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(seq=1).update(actor="x")


def test_deleting_audit_rows_is_refused_or_detected() -> None:
    """PostgreSQL refuses the DELETE; SQLite allows it (test flushes need it) and verify catches it."""
    _chain(2)
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError), transaction.atomic():
            AuditEvent.objects.filter(seq=1).delete()
    else:
        AuditEvent.objects.filter(seq=1).delete()
        assert not audit.verify().ok


def test_it_refuses_data_that_would_not_hash_stably() -> None:
    with pytest.raises(TypeError):
        audit.record(actor="t", action="a", data={"ratio": 0.5})


def test_the_verify_command_reports_ok_and_broken() -> None:
    _chain()
    call_command("audit", "verify")
    _raw("UPDATE core_auditevent SET actor = %s WHERE seq = 1", ["mallory"])
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("audit", "verify")


@pytest.mark.slow
def test_the_verify_command_exits_non_zero_when_broken(subprocess_env: dict[str, str]) -> None:
    _chain()
    ok = subprocess.run(
        [*OWABI, "audit", "verify"], env=subprocess_env, cwd=REPO, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert "OK: 5 events" in ok.stdout
    _raw("DELETE FROM core_auditevent WHERE seq = 5", [])
    broken = subprocess.run(
        [*OWABI, "audit", "verify"], env=subprocess_env, cwd=REPO, capture_output=True, text=True
    )
    assert broken.returncode != 0
    assert "BROKEN" in broken.stderr
