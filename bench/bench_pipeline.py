"""Benchmark: synth -> import -> resolve -> export clusters -> quality, on SQLite or PostgreSQL.

    .venv/bin/python bench/bench_pipeline.py --records 100000 \
        [--database postgres://postgres@127.0.0.1:5432/owabi_bench] [--review] [--generator realistic]
        [--engine spark|both]

Each stage runs as its own `owabi` process (as an operator would run it), timed, with its peak memory
(max RSS of the child). Prints records/s per stage and subject/recipient pairwise precision, recall, F1,
plus duplicate notices (true recipients split) and merged strangers (predicted recipients mixing people).
The database named by --database is dropped and created afresh (PostgreSQL) or a new SQLite file is used.
--review then decides the review queue from the truth (as a careful reviewer would), resolves again and
reports the quality after review.
--generator realistic writes the data with the second, independent generator (bench/realistic; seed 1
by default) instead of `owabi synth`, and adds its errors by class. Its held-aside seed runs only with
--held-aside: never tune on it.
--engine spark resolves on Spark (owabi resolve --engine spark; peak RSS is then the JVM's or Python's,
whichever is larger). --engine both resolves with DuckDB, then again on Spark (the same imported
records), and adds how far the two engines agree: subjects and recipients, and the pairwise F1 of Spark's
clusters taking DuckDB's as the truth.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.realistic import HELD_ASIDE_SEED  # noqa: E402
from bench.realistic.errors import report as errors_report  # noqa: E402
from owabi.records.quality import compare_files, score  # noqa: E402


def run(step: str, args: list[str], env: dict[str, str], module: str = "owabi") -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of one stage's process (its largest process, workers included)."""
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", module, *args], env=env, cwd=REPO)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stage {step} failed")
    return elapsed, usage.ru_maxrss / 1024


def calibrate() -> float:
    """Seconds for a fixed pure-Python loop: this shared machine's speed varies by 3x between days, so
    figures from different runs compare only next to this."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i * i % 7
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, help="default 11 (synth) or 1 (realistic, a tuning seed)")
    parser.add_argument("--generator", choices=("synth", "realistic"), default="synth")
    parser.add_argument(
        "--held-aside", action="store_true", help="allow the realistic generator's held-aside seed"
    )
    parser.add_argument("--database", default="", help="postgres://… URL; default: a fresh SQLite file")
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark", "both"),
        default="duckdb",
        help="where resolve scores pairs (both: DuckDB, then Spark on the same records, compared)",
    )
    parser.add_argument(
        "--review",
        action="store_true",
        help="then decide the review queue from the truth (bench/review_by_truth.py), resolve again, report",
    )
    options = parser.parse_args()
    realistic = options.generator == "realistic"
    if options.seed is None:
        options.seed = 1 if realistic else 11
    if realistic and options.seed == HELD_ASIDE_SEED and not options.held_aside:
        parser.error(
            f"seed {HELD_ASIDE_SEED} is the held-aside test of bench/realistic: add --held-aside to run it"
        )

    work = Path(tempfile.mkdtemp(prefix="owabi-bench-"))
    env = dict(os.environ, OWABI_DATA_DIR=str(work), DJANGO_SETTINGS_MODULE="config.settings")
    if options.database:
        from fresh_database import recreate

        recreate(options.database)
        env["DATABASE_URL"] = options.database
    else:
        env["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    engine = "postgresql" if options.database else "sqlite"
    csv_path, truth, clusters = work / "leak.csv", work / "leak.truth.csv", work / "clusters.csv"
    n = options.records
    print(
        f"owabi pipeline benchmark: {n:,} records ({options.generator}, seed {options.seed}) on {engine}, "
        f"resolve on {options.engine} "
        f"({os.cpu_count()} cores), work dir {work}; "
        f"calibration loop {calibrate():.2f} s"
    )

    subprocess.run([sys.executable, "-m", "owabi", "migrate", "-v0"], env=env, cwd=REPO, check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "owabi",
            "incident",
            "create",
            "--slug",
            "bench",
            "--name",
            "bench",
            "--discovered-on",
            "2026-11-01",
        ],
        env=env,
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    generate = ["--records", str(n), "--seed", str(options.seed), "--out", str(csv_path)]
    first_engine = "duckdb" if options.engine == "both" else options.engine
    stages = [
        ("realistic", generate) if realistic else ("synth", ["synth", *generate]),
        ("import", ["import", str(csv_path), "--incident", "bench"]),
        ("resolve", ["resolve", "--incident", "bench", "--engine", first_engine]),
        ("export", ["export", "clusters", "--incident", "bench", "--out", str(clusters)]),
    ]
    totals = 0.0
    for name, args in stages:
        elapsed, peak = run(name, args, env, "bench.realistic" if name == "realistic" else "owabi")
        if name in ("import", "resolve"):
            totals += elapsed
        print(
            f"  {name:8s} {elapsed:8.1f} s  {n / elapsed:>10,.0f} records/s"
            f"  {elapsed / n * 1e6:8.1f} µs/record  peak RSS {peak:,.0f} MiB"
        )
    print(f"  import + resolve: {totals:.1f} s")
    print_quality(clusters, truth)
    if options.engine == "both":
        on_spark = work / "clusters-spark.csv"
        for name, args in (
            ("resolve", ["resolve", "--incident", "bench", "--engine", "spark"]),
            ("export", ["export", "clusters", "--incident", "bench", "--out", str(on_spark)]),
        ):
            elapsed, peak = run(name, args, env)
            print(f"  {name:8s} {elapsed:8.1f} s  (on Spark)  peak RSS {peak:,.0f} MiB")
        print("  on Spark:")
        print_quality(on_spark, truth)
        print_agreement(clusters, on_spark)
    if realistic:
        print(errors_report(clusters, truth, top=12))
    if options.review:
        subprocess.run(
            [sys.executable, str(REPO / "bench" / "review_by_truth.py"), str(work)], env=env, check=True
        )
        for name, args in stages[-2:]:  # resolve and export again: the decisions survive the re-run
            elapsed, peak = run(name, args, env)
            print(f"  {name:8s} {elapsed:8.1f} s  (after review)  peak RSS {peak:,.0f} MiB")
        print("  after review:")
        print_quality(clusters, truth)


def print_quality(clusters: Path, truth: Path) -> None:
    report = compare_files(clusters, truth)
    for label, scores in (("subjects", report.subjects), ("recipients", report.recipients)):
        print(
            f"  {label:10s} precision {scores.precision:.4f}  recall {scores.recall:.4f}  F1 {scores.f1:.4f} "
            f"split {scores.split_clusters:,} ({scores.split_rate:.2%} of {scores.true_clusters:,} true)  "
            f"merged {scores.merged_clusters:,} ({scores.merged_rate:.2%} of {scores.predicted_clusters:,})"
        )
    print(f"  unresolved records: {report.unresolved:,}")


def print_agreement(duckdb_clusters: Path, spark_clusters: Path) -> None:
    """How far Spark's clusters agree with DuckDB's, taking DuckDB's as the truth."""

    def labels(path: Path) -> dict[str, tuple[str, str]]:
        with path.open(encoding="utf-8", newline="") as handle:
            return {
                row["record_id"]: (row["subject_id"], row["recipient_id"]) for row in csv.DictReader(handle)
            }

    duck, spark = labels(duckdb_clusters), labels(spark_clusters)
    if duck.keys() != spark.keys():
        raise SystemExit("the two engines' exports hold different records")
    ids = sorted(duck)
    for position, label in enumerate(("subjects", "recipients")):
        scores = score([spark[i][position] for i in ids], [duck[i][position] for i in ids])
        print(
            f"  {label:10s} DuckDB {scores.true_clusters:,}  Spark {scores.predicted_clusters:,}  "
            f"pairwise P {scores.precision:.4f} R {scores.recall:.4f} F1 {scores.f1:.4f} (Spark vs DuckDB)"
        )


if __name__ == "__main__":
    main()
