"""Benchmark: the whole pipeline at several sizes, with each stage's time, peak memory and scaling.

    .venv/bin/python bench/bench_scale.py --sizes 1000000,5000000 \
        --database postgres://postgres@127.0.0.1:5432/owabi_scale [--engine duckdb|spark] \
        [--skip-print] [--keep]

For each size, in a database made afresh: synth -> import -> resolve -> notices setup (the demo's) ->
notices prepare -> notices print, each stage its own `owabi` process as an operator runs it, timed, with
its peak RSS (the largest process of the stage: import and prepare workers, Spark's JVM included) and
the database's size after it. Then, per stage, the scaling exponent between consecutive sizes (time
grows as records^k: k = 1 is linear) and an estimate for 35 million records from the largest size run
and the last exponent, against issue 19's target (35M from raw file to notices prepared in 3 hours,
peak memory <= 16 GiB). The print stage is reported but not in that target (letters are printed over
days). Prints a calibration figure: this machine is shared and its speed drifts.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_pipeline import calibrate, run  # noqa: E402
from fresh_database import drop, recreate  # noqa: E402

FIXED = {"setup"}  # reads one TOML file: its time does not grow with the incident
TARGET_RECORDS = 35_000_000
TARGET_SECONDS = 3 * 3600  # raw file to notices prepared
TARGET_MIB = 16 * 1024
UP_TO_PREPARED = ("import", "resolve", "setup", "prepare")  # from the raw file (synth stands for the leak)


@dataclass
class Stage:
    seconds: float
    peak_mib: float
    database_mib: float


@dataclass
class Run:
    records: int
    stages: dict[str, Stage] = field(default_factory=dict)


def database_mib(url: str) -> float:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    with psycopg.connect(
        host=config["HOST"], port=config["PORT"] or 5432, user=config["USER"], dbname=config["NAME"]
    ) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
        return float(row[0]) / 2**20 if row else 0.0


def one_size(records: int, url: str, engine: str, work: Path, *, skip_print: bool = False) -> Run:
    recreate(url)
    work = work / str(records)  # its own data folder: secrets and the audit witness go with the database
    env = dict(
        os.environ, OWABI_DATA_DIR=str(work), DATABASE_URL=url, DJANGO_SETTINGS_MODULE="config.settings"
    )
    owabi = [sys.executable, "-m", "owabi"]
    subprocess.run([*owabi, "migrate", "-v0"], env=env, cwd=REPO, check=True)
    create = ["incident", "create", "--slug", "scale", "--name", "scale", "--discovered-on", "2026-11-01"]
    subprocess.run([*owabi, *create], env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    leak, letters = work / "leak.csv", work / "letters"
    setup = [
        "notices",
        "setup",
        "--incident",
        "scale",
        "--from",
        str(REPO / "docs" / "notice-setup.demo.toml"),
    ]
    stages = [
        ("synth", ["synth", "--records", str(records), "--seed", "11", "--out", str(leak)]),
        ("import", ["import", str(leak), "--incident", "scale"]),
        (
            "resolve",
            ["resolve", "--incident", "scale", *(["--engine", engine] if engine != "duckdb" else [])],
        ),
        ("setup", setup),
        ("prepare", ["notices", "prepare", "--incident", "scale"]),
        ("print", ["notices", "print", "--incident", "scale", "--out", str(letters)]),
    ]
    if skip_print:
        stages.pop()
    result = Run(records)
    for name, args in stages:
        print(f"• {records:,} records: {name}", file=sys.stderr, flush=True)
        seconds, peak = run(name, args, env)
        result.stages[name] = Stage(seconds, peak, database_mib(url))
        if name == "import":
            leak.unlink()  # the raw export is plain PII, and the disk is needed for the next size
    shutil.rmtree(letters, ignore_errors=True)
    return result


def exponent(small: Run, large: Run, stage: str, of: str = "seconds") -> float | None:
    """k in value ~ records^k between two runs (time or peak memory); None when it cannot be told."""
    a, b = getattr(small.stages[stage], of), getattr(large.stages[stage], of)
    if a <= 0 or b <= 0 or large.records == small.records:
        return None
    return math.log(b / a) / math.log(large.records / small.records)


def _k(runs: list[Run], stage: str, of: str) -> str:
    k = exponent(runs[-2], runs[-1], stage, of) if len(runs) > 1 else None
    return "" if k is None else f"{k:.2f}"


def report(runs: list[Run]) -> None:
    names = list(runs[0].stages)
    sizes = " | ".join(f"{r.records:,}: time / peak RSS" for r in runs)
    print(f"\n| stage | {sizes} | exponent: time / memory |")
    print("| --- | " + " | ".join("---:" for _ in runs) + " | ---: |")
    for name in names:
        cells = " | ".join(
            f"{r.stages[name].seconds:,.1f} s / {r.stages[name].peak_mib:,.0f} MiB" for r in runs
        )
        print(f"| {name} | {cells} | {_k(runs, name, 'seconds')} / {_k(runs, name, 'peak_mib')} |")
    totals = " | ".join(f"{sum(r.stages[s].seconds for s in UP_TO_PREPARED):,.1f} s" for r in runs)
    print(f"| raw file to notices prepared | {totals} | |")
    sizes_on_disk = " | ".join(f"{r.stages[names[-1]].database_mib:,.0f} MiB" for r in runs)
    print(f"| database size after the run | {sizes_on_disk} | |")
    largest = runs[-1]
    scale = TARGET_RECORDS / largest.records
    print(f"\nEstimate for {TARGET_RECORDS:,} records from the run at {largest.records:,}", end="")
    print(
        ", by each stage's last exponents:" if len(runs) > 1 else " (one size: linear in time, memory as is):"
    )
    total = peak = 0.0
    for name in UP_TO_PREPARED:
        k_time = exponent(runs[-2], largest, name) if len(runs) > 1 else None
        k_memory = exponent(runs[-2], largest, name, "peak_mib") if len(runs) > 1 else None
        # Never below linear in time (fixed costs fade at scale) nor below flat in memory.
        k_time = 0.0 if name in FIXED else max(1.0, k_time if k_time is not None else 1.0)
        k_memory = max(0.0, k_memory if k_memory is not None else 0.0)
        seconds = largest.stages[name].seconds * scale**k_time
        mib = largest.stages[name].peak_mib * scale**k_memory
        total += seconds
        peak = max(peak, mib)
        print(f"  {name:8s} about {seconds / 60:,.0f} min (k = {k_time:.2f}), {mib / 1024:,.1f} GiB")
    print(
        f"  raw file to notices prepared: about {total / 3600:.1f} h, target {TARGET_SECONDS / 3600:.0f} h "
        f"({'met' if total <= TARGET_SECONDS else 'NOT met'}); peak memory about {peak / 1024:,.1f} GiB, "
        f"target {TARGET_MIB / 1024:.0f} GiB ({'met' if peak <= TARGET_MIB else 'NOT met'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="1000000,5000000", help="records per run, comma-separated, ascending"
    )
    parser.add_argument(
        "--database", required=True, help="postgres://… URL (dropped and made afresh per size)"
    )
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb", help="resolve's engine")
    parser.add_argument(
        "--skip-print",
        action="store_true",
        help="stop at notices prepared (printing 2 pages a letter takes longer than the rest at 5M)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the last size's database (default: drop it)"
    )
    options = parser.parse_args()
    sizes = [int(size.replace("_", "")) for size in options.sizes.split(",")]
    if sizes != sorted(sizes) or len(set(sizes)) != len(sizes) or sizes[0] < 1000:
        parser.error("--sizes: distinct sizes of at least 1000 records, ascending")
    work = Path(tempfile.mkdtemp(prefix="owabi-bench-scale-"))
    print(
        f"owabi scale benchmark: sizes {', '.join(f'{s:,}' for s in sizes)}, "
        f"resolve engine {options.engine}, PostgreSQL, {os.cpu_count()} cores; "
        f"calibration loop {calibrate():.2f} s"
    )
    runs = []
    started = time.monotonic()
    try:
        for size in sizes:
            runs.append(one_size(size, options.database, options.engine, work, skip_print=options.skip_print))
            report(runs)
    finally:
        if not options.keep:
            drop(options.database)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwhole benchmark: {time.monotonic() - started:,.0f} s")


if __name__ == "__main__":
    main()
