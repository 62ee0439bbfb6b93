"""Benchmark the field normalizers: calls/s and rejected share per function on synthetic leak columns.

The importer runs every normalizer once per value over millions of rows, so each must stay well above
the importer's own rate. Input is `owabi synth` output (messy on purpose: widths, dashes, eras, 異体字).

    .venv/bin/python bench/bench_normalize.py --records 100000
    .venv/bin/python bench/bench_normalize.py --csv /tmp/s.csv      # an existing synth or real export
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from owabi.demo import synth
from owabi.records import normalize as n  # needs the repo on sys.path; no Django setup required

# (label, function, columns it reads)
CASES: tuple[tuple[str, Callable[[str], object], tuple[str, ...]], ...] = (
    ("name", n.name, ("subject_name", "guardian_name")),
    ("name_key", n.name_key, ("subject_name", "guardian_name")),
    ("name_fold_key", n.name_fold_key, ("subject_name", "guardian_name")),
    ("kana", n.kana, ("subject_kana", "guardian_kana")),
    ("kana_key", n.kana_key, ("subject_kana", "guardian_kana")),
    ("kana_romaji", n.kana_romaji, ("subject_kana", "guardian_kana")),
    ("date", n.date, ("subject_birth_date", "expected_delivery_date")),
    ("phone", n.phone, ("phone", "fax")),
    ("phone strict", lambda v: n.phone(v, strict=True), ("phone", "fax")),
    ("postal_code", n.postal_code, ("postal_code",)),
    ("email", n.email, ("email",)),
    ("gender", n.gender, ("subject_gender",)),
    ("address", n.address, ("address",)),
    ("address.key", lambda v: n.address(v).key(), ("address",)),
)


def load(path: Path) -> dict[str, list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns: dict[str, list[str]] = {name: [] for name in reader.fieldnames or ()}
        for row in reader:
            for name, value in row.items():
                columns[name].append(value)
    return columns


def run(columns: dict[str, list[str]], repeat: int) -> None:
    print(f"{'function':<14} {'values':>9} {'calls/s':>12} {'rejected':>9}")
    for label, func, names in CASES:
        values = [v for name in names for v in columns.get(name, ()) if v.strip()]
        if not values:
            continue
        best = float("inf")
        rejected = 0
        for _ in range(repeat):
            rejected = 0
            started = time.perf_counter()
            for value in values:
                try:
                    func(value)
                except n.NormalizeError:
                    rejected += 1
            best = min(best, time.perf_counter() - started)
        print(f"{label:<14} {len(values):>9,} {len(values) / best:>12,.0f} {rejected / len(values):>9.3%}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", type=Path, default=None, help="read this file instead of generating one")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed passes")
    args = parser.parse_args()

    if args.csv is not None:
        columns = load(args.csv)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "leak.csv"
            synth.generate(
                records=args.records, seed=args.seed, out=out, truth_out=synth.default_truth_path(out)
            )
            columns = load(out)
    print(f"{len(columns.get('record_id', ())):,} records; non-empty values only; best of {args.repeat}")
    run(columns, args.repeat)


if __name__ == "__main__":
    main()
