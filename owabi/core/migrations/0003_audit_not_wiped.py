"""The audit log cannot be emptied from inside the application's database session either.

0002 refuses UPDATE and DELETE of audit rows on PostgreSQL and UPDATE on SQLite. A row trigger does not
fire for TRUNCATE, which emptied the log on PostgreSQL; SQLite let DELETE through. Now PostgreSQL
refuses TRUNCATE of the events and the head (statement triggers) and DELETE of the head, and SQLite
refuses DELETE of either. A database owner can still drop a trigger: `owabi audit verify` then sees the
chain disagree with its witness (owabi.core.audit.anchor), which lives outside the database.

Django's test flush empties tables with TRUNCATE (PostgreSQL) or DELETE (SQLite); tests/conftest.py
lifts these triggers around it.
"""

from django.db import migrations

PG_UP = """
CREATE TRIGGER core_auditevent_no_truncate BEFORE TRUNCATE ON core_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION owabi_audit_append_only();
CREATE TRIGGER core_audithead_no_truncate BEFORE TRUNCATE ON core_audithead
    FOR EACH STATEMENT EXECUTE FUNCTION owabi_audit_append_only();
CREATE TRIGGER core_audithead_no_delete BEFORE DELETE ON core_audithead
    FOR EACH ROW EXECUTE FUNCTION owabi_audit_append_only();
"""
PG_DOWN = """
DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent;
DROP TRIGGER IF EXISTS core_audithead_no_truncate ON core_audithead;
DROP TRIGGER IF EXISTS core_audithead_no_delete ON core_audithead;
"""
SQLITE_UP = [
    """
CREATE TRIGGER core_auditevent_no_delete BEFORE DELETE ON core_auditevent
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
""",
    """
CREATE TRIGGER core_audithead_no_delete BEFORE DELETE ON core_audithead
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS core_auditevent_no_delete;",
    "DROP TRIGGER IF EXISTS core_audithead_no_delete;",
]


def _run(schema_editor, statements: dict[str, list[str]]) -> None:
    with schema_editor.connection.cursor() as cursor:
        for sql in statements[schema_editor.connection.vendor]:
            cursor.execute(sql)


def forwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": [PG_UP], "sqlite": SQLITE_UP})


def backwards(apps, schema_editor):
    _run(schema_editor, {"postgresql": [PG_DOWN], "sqlite": SQLITE_DOWN})


class Migration(migrations.Migration):
    dependencies = [("core", "0002_audit_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
