"""A copy of the demo's database holds none of the demo's PII in plain text (SQLite file or pg_dump)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import unicodedata
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import OWABI, REPO

PII_COLUMNS = ("subject_name", "subject_kana", "guardian_name", "guardian_kana", "address", "phone", "email")


def _forms(column: str, value: str) -> set[str]:
    """The value as exported and as owabi normalizes it, so neither form may appear."""
    nfkc = unicodedata.normalize("NFKC", value).strip()
    forms = {value.strip(), nfkc, re.sub(r"\s+", "", nfkc)}
    if column == "phone":
        forms.add(re.sub(r"\D", "", nfkc))
    if column == "email":
        forms.add(nfkc.lower())
    forms = {form for form in forms if len(form) >= 4 or (column.endswith("name") and len(form) >= 2)}
    # JSON columns may store text as \\uXXXX escapes (SQLite does): look for those spellings too.
    return forms | {json.dumps(form)[1:-1] for form in forms}


def _database_bytes(tmp_path: Path) -> bytes:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        files = [Path(settings["NAME"]), Path(f"{settings['NAME']}-wal")]
        return b"".join(path.read_bytes() for path in files if path.exists())
    dump = subprocess.run(
        [
            "pg_dump",
            "--host",
            settings.get("HOST") or "127.0.0.1",
            "--port",
            str(settings.get("PORT") or 5432),
            "--username",
            settings.get("USER") or "postgres",
            "--no-password",
            settings["NAME"],
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return dump.stdout


@pytest.mark.slow
def test_the_demo_database_holds_no_plaintext_pii(subprocess_env: dict[str, str], tmp_path: Path) -> None:
    env = {**subprocess_env, "OWABI_DATA_DIR": str(tmp_path)}
    run = subprocess.run(
        [*OWABI, "demo", "--people", "400", "--no-serve"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "確報 draft version 1 saved" in run.stderr and "announcement not saved" not in run.stderr
    csv_path = tmp_path / "demo" / "leak-400-7.csv"
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    dump = _database_bytes(tmp_path)

    # The dump is real and readable: non-PII identifiers are there in plain text.
    assert b"demo" in dump
    assert sum(row["record_id"].encode() in dump for row in rows) == len(rows)
    assert "お客さま情報の流出に関するお詫びとお知らせ".encode() in dump  # the demo published its 公表

    checked = 0
    for row in rows:
        for column in PII_COLUMNS:
            for form in _forms(column, row[column]):
                checked += 1
                assert form.encode() not in dump, f"{column} of record {row['record_id']} is in plain text"
    assert checked > 1000
