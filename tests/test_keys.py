from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from owabi.core import audit, crypto, keys
from owabi.core.env import new_key, parse_keyring
from owabi.records import match_store
from owabi.records.models import LeakRecord
from owabi.records.services import import_file

pytestmark = pytest.mark.django_db


def _raw_key_ids() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sealed FROM records_leakrecord UNION ALL SELECT keys FROM records_matchbatch")
        return [crypto.key_id_of(bytes(blob)) for (blob,) in cursor.fetchall()]


def test_rotation_reseals_every_value_with_the_new_key(incident, tmp_path: Path, capsys) -> None:
    old, new = new_key(), new_key()
    path = tmp_path / "x.csv"
    path.write_text("record_id,氏名\n" + "".join(f"R{i},山田 太郎{i}\n" for i in range(25)), encoding="utf-8")
    with override_settings(OWABI_DATA_KEYS=parse_keyring("T", f"old:{old}"), OWABI_DATA_KEY_ID="old"):
        import_file(incident=incident, path=path, actor="t")
    assert set(_raw_key_ids()) == {"old"}

    both = parse_keyring("T", f"new:{new},old:{old}")
    with override_settings(OWABI_DATA_KEYS=both, OWABI_DATA_KEY_ID="new"):
        # 25 records' values, and their match keys in one batch (one import chunk).
        assert keys.count_by_key() == {"old": 26}
        result = keys.rotate(actor="t", batch=10)
        assert (result.scanned, result.resealed) == (26, 26)
        assert keys.rotate(actor="t").resealed == 0
        call_command("keys", "status")
        assert "new\t26" in capsys.readouterr().out
    assert set(_raw_key_ids()) == {"new"}

    with override_settings(OWABI_DATA_KEYS=parse_keyring("T", f"new:{new}"), OWABI_DATA_KEY_ID="new"):
        names = sorted(r.sealed["subject_name"] for r in LeakRecord.objects.all())
        stored = match_store.keys_by_record(incident)  # the batch opens with the new key alone
    assert names[0] == "山田 太郎0" and len(names) == 25
    assert len(stored) == 25
    assert audit.verify().ok
    assert audit.recent(limit=1)[0].action == "keys.rotate"


def test_new_key_prints_a_usable_key(capsys) -> None:
    call_command("keys", "new")
    printed = capsys.readouterr().out.strip()
    assert parse_keyring("T", f"k:{printed}")["k"] != b"\0" * 32
