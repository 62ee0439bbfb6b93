"""Benchmark: what a crash costs `owabi import`. One synthetic export imported twice into a fresh database:
once straight through, once killed (SIGKILL) after the checkpoint nearest the middle of the file and
run again, which resumes. Prints each run's wall time, the rows the resume read past and how fast, and
checks that both incidents hold the same counts.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_import_resume.py --records 100000 \\
        [--database postgres://postgres@127.0.0.1:5432/owabi_bench] [--checkpoint 50000]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
OWABI = [sys.executable, "-m", "owabi"]


def owabi(env: dict[str, str], *arguments: str) -> float:
    started = time.monotonic()
    subprocess.run([*OWABI, *arguments], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def sql(env: dict[str, str], query: str) -> list[tuple[object, ...]]:
    """One read through Django in a process of its own (the benchmark holds no connection)."""
    code = (
        "import django, json, sys; django.setup(); from django.db import connection; "
        "c = connection.cursor(); c.execute(sys.argv[1]); print(json.dumps(c.fetchall()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, query], env=env, check=True, capture_output=True, text=True
    ).stdout
    import json

    return [tuple(row) for row in json.loads(out)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--checkpoint", type=int, default=50_000, help="OWABI_IMPORT_CHECKPOINT_ROWS")
    parser.add_argument("--database", help="postgres://… (dropped and created); default SQLite in a temp dir")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="owabi-bench-resume-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "OWABI_DATA_DIR": str(work),
        "OWABI_IMPORT_CHECKPOINT_ROWS": str(args.checkpoint),
        "DATABASE_URL": args.database or f"sqlite:///{work / 'bench.sqlite3'}",
    }
    if args.database:
        from fresh_database import recreate

        recreate(args.database)
    leak = work / "leak.csv"
    owabi(env, "synth", "--records", str(args.records), "--seed", str(args.seed), "--out", str(leak))
    owabi(env, "migrate", "-v0")
    for slug in ("whole", "cut"):
        owabi(env, "incident", "create", "--slug", slug, "--name", slug, "--discovered-on", "2026-11-01")
    whole = owabi(env, "import", str(leak), "--incident", "whole", "--rejects", str(work / "w.csv"))
    print(f"straight through: {whole:.1f} s ({args.records / whole:,.0f} rows/s)")

    target = max(args.checkpoint, (args.records // 2) // args.checkpoint * args.checkpoint)
    query = (
        "SELECT max(c.rows_read) FROM records_importcheckpoint c JOIN records_sourcefile f"
        " ON f.id = c.source_file_id JOIN incidents_incident i ON i.id = f.incident_id WHERE i.slug = 'cut'"
    )
    started = time.monotonic()
    killed = subprocess.Popen(
        [*OWABI, "import", str(leak), "--incident", "cut", "--rejects", str(work / "c.csv")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while (sql(env, query)[0][0] or 0) < target:
        if killed.poll() is not None:
            raise SystemExit("the import ended before it could be killed: use more records")
        time.sleep(0.2)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    stopped = time.monotonic() - started
    [(committed,)] = sql(env, "SELECT rows_in FROM records_sourcefile WHERE finished = false")
    resumed = owabi(env, "import", str(leak), "--incident", "cut", "--rejects", str(work / "c.csv"))
    print(f"killed after {stopped:.1f} s with {committed:,} rows committed; the resume took {resumed:.1f} s")
    done = int(str(committed))
    rest = whole * (args.records - done) / args.records
    print(
        f"  the {args.records - done:,} rows after the checkpoint take about {rest:.1f} s straight through;"
        f" the resume spent {resumed - rest:.1f} s more (start-up, reading past {done:,} rows: about"
        f" {done / max(resumed - rest, 1e-9):,.0f} rows/s)"
    )
    counts = sql(
        env,
        "SELECT i.slug, f.rows_in, f.rows_ok, f.rows_rejected, f.finished, f.resumed"
        " FROM records_sourcefile f JOIN incidents_incident i ON i.id = f.incident_id ORDER BY i.slug",
    )
    print("  counts (incident, in, ok, rejected, finished, resumed):", counts)
    (_, *cut), (_, *straight) = counts
    if cut[:4] != straight[:4]:
        raise SystemExit("the counts differ")
    if args.database:
        from fresh_database import drop

        drop(args.database)


if __name__ == "__main__":
    main()
