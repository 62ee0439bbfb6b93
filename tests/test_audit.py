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


def _raw(sql: str, params: list[object] | None = None) -> None:
    """Tamper directly in the database, the way its owner would: with the audit tables' triggers
    lifted for the statement, and put back after it (a transactional test commits both)."""
    tables = ("core_auditevent", "core_audithead")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            return
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
            list(tables),
        )
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f"DROP TRIGGER {name}")
        cursor.execute(sql, params)
        for _, create in triggers:
            cursor.execute(create)


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


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM core_auditevent",
        "DELETE FROM core_audithead",
        "TRUNCATE core_auditevent",
        "TRUNCATE core_audithead",
        "TRUNCATE core_auditevent, core_audithead",
    ],
)
def test_the_database_refuses_to_empty_the_log(statement: str) -> None:
    if statement.startswith("TRUNCATE") and connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE is refused instead)")
    _chain(2)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.count() == 2 and audit.verify().ok


def _head() -> tuple[int, str, str]:
    return AuditHead.objects.values_list("seq", "hash", "mac").get(id=1)


def _cut_back_to(head: tuple[int, str, str]) -> None:
    """Roll the log back to an earlier state: the later events gone, the head row as it was then (a
    head kept from a backup carries a valid MAC)."""
    seq, head_hash, mac = head
    _raw("DELETE FROM core_auditevent WHERE seq > %s", [seq])
    _raw("UPDATE core_audithead SET seq = %s, hash = %s, mac = %s WHERE id = 1", [seq, head_hash, mac])


def _wipe() -> None:
    _raw("DELETE FROM core_auditevent")
    _raw("DELETE FROM core_audithead")


def test_an_emptied_log_fails_while_audited_rows_remain(incident) -> None:
    assert audit.verify().ok
    _wipe()
    problems = [p.what for p in audit.verify().problems]
    assert problems == ["the audit log is empty but the database holds incidents: the log was wiped"]
    with pytest.raises(audit.WitnessError, match="was wiped"):
        audit.anchor(actor="cron")  # an anchor must not bless it


def test_a_log_cut_back_to_an_old_head_fails_against_its_witness(audit_witness) -> None:
    _chain(5)
    old = _head()
    audit.anchor(actor="cron")
    _chain(3)
    audit.anchor(actor="cron")  # witnesses 9 events: 5, the first anchor's own, 3
    _cut_back_to(old)
    result = audit.verify()
    assert [p.what for p in result.problems] == [
        f"the chain holds 5 events but the witness saw 9 at {result.witnessed.at}: "
        "events were removed (the log was wiped or rolled back)"
    ]
    before = audit_witness.read_bytes()
    with pytest.raises(audit.WitnessError, match="holds 5 events but the witness saw 9"):
        audit.anchor(actor="cron")
    assert audit_witness.read_bytes() == before


def test_a_wiped_log_fails_against_its_witness() -> None:
    _chain(3)
    audit.anchor(actor="cron")
    _wipe()
    (problem,) = audit.verify().problems
    assert "holds 0 events but the witness saw 3" in problem.what


def test_a_rewritten_history_fails_against_its_witness() -> None:
    """Cut back, then carry on appending: a whole chain again, but not the one the witness saw."""
    _chain(2)
    old = _head()
    _chain(1)
    audit.anchor(actor="cron")  # witnesses event 3
    _cut_back_to(old)
    _chain(4)
    problems = audit.verify().problems
    assert [p.seq for p in problems] == [3]
    assert "not the event the witness saw" in problems[0].what and "history was rewritten" in problems[0].what


def test_a_witness_cut_short_replaced_or_lost_is_noticed(audit_witness) -> None:
    _chain(2)
    audit.anchor(actor="cron")
    first = audit_witness.read_bytes()
    _chain(2)
    audit.anchor(actor="cron")
    audit_witness.write_bytes(first)  # the later line cut off
    (problem,) = audit.verify().problems
    assert problem.seq == 6 and "records an anchor at 5 events that the witness" in problem.what
    audit_witness.unlink()
    (problem,) = audit.verify().problems
    assert "(2 such anchors): the witness was cut short, replaced or lost" in problem.what


def test_a_forged_witness_line_is_refused(audit_witness) -> None:
    _chain(2)
    audit.anchor(actor="cron")
    line = audit_witness.read_text().split()
    audit_witness.write_text(" ".join([line[0], "1", *line[2:]]) + "\n")  # a smaller count, same MAC
    problems = [p.what for p in audit.verify().problems]
    assert problems[0].endswith("line 1: its MAC does not match (not written by owabi)")
    assert "records an anchor at 2 events that the witness" in problems[1]
    with pytest.raises(audit.WitnessError, match="MAC does not match"):
        audit.anchor(actor="cron")


def test_without_a_witness_verify_fails_and_anchor_is_refused(settings) -> None:
    settings.OWABI_AUDIT_WITNESS = None
    _chain(1)
    (problem,) = audit.verify().problems
    assert problem.what.startswith("no audit witness is configured (OWABI_AUDIT_WITNESS)")
    with pytest.raises(audit.WitnessError, match="OWABI_AUDIT_WITNESS"):
        audit.anchor(actor="cron")


def test_a_witness_that_cannot_be_written_fails_the_anchor(settings, tmp_path) -> None:
    settings.OWABI_AUDIT_WITNESS = tmp_path / "not-mounted" / "audit-witness"  # never created for it
    with pytest.raises(audit.WitnessError, match="cannot append to it"):
        audit.anchor(actor="cron")
    assert not (tmp_path / "not-mounted").exists()
    assert AuditEvent.objects.count() == 0  # no anchor recorded without its witness line


def test_a_long_job_anchors_at_its_end(incident, tmp_path, audit_witness, capsys) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("record_id,subject_name,email\nR1,山田 太郎,taro@example.jp\n", encoding="utf-8")
    call_command("import", str(path), "--incident", incident.slug)
    call_command("resolve", "--incident", incident.slug)
    counts = [int(line.split()[1]) for line in audit_witness.read_text().splitlines()]
    assert counts == [2, 4]  # after the import (create, import) and after resolve (+ anchor, resolve)
    assert "audit chain anchored at 4 events" in capsys.readouterr().err
    assert audit.verify().ok


def test_it_refuses_data_that_would_not_hash_stably() -> None:
    with pytest.raises(TypeError):
        audit.record(actor="t", action="a", data={"ratio": 0.5})


def test_the_verify_command_reports_ok_and_broken(capsys) -> None:
    _chain()
    call_command("audit", "verify")
    assert "audit chain OK: 5 events; not anchored yet (owabi audit anchor)" in capsys.readouterr().out
    call_command("audit", "anchor")
    assert "audit chain anchored: 5 events, head " in capsys.readouterr().out
    call_command("audit", "verify")
    assert "audit chain OK: 6 events; the witness saw 5 at " in capsys.readouterr().out
    _raw("UPDATE core_auditevent SET actor = %s WHERE seq = 1", ["mallory"])
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("audit", "verify")


def _owabi(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OWABI, *args], env=env, cwd=REPO, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_the_verify_command_exits_non_zero_when_broken(subprocess_env: dict[str, str]) -> None:
    _chain()
    ok = _owabi(subprocess_env, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "OK: 5 events" in ok.stdout
    _raw("DELETE FROM core_auditevent WHERE seq = 5", [])
    broken = _owabi(subprocess_env, "audit", "verify")
    assert broken.returncode != 0
    assert "BROKEN" in broken.stderr


@pytest.mark.slow
def test_a_log_wiped_after_its_anchor_fails_on_the_command_line(subprocess_env: dict[str, str]) -> None:
    _chain(4)
    anchored = _owabi(subprocess_env, "audit", "anchor")
    assert anchored.returncode == 0, anchored.stderr
    _wipe()
    broken = _owabi(subprocess_env, "audit", "verify")
    assert broken.returncode == 1
    assert broken.stderr.splitlines()[0].startswith("the chain holds 0 events but the witness saw 4 at ")
    assert "Traceback" not in broken.stderr
    refused = _owabi(subprocess_env, "audit", "anchor")
    assert refused.returncode == 1 and "audit anchor refused: the chain holds 0 events" in refused.stderr
