"""Benchmark `owabi synth`: records/s for the synthetic leak generator (pure Python, one core).

The resolution and import benchmarks start by generating their input, so the generator must stay far
cheaper than what it feeds (target: 1,000,000 records in about 2 minutes or less on the 2-core box).

    .venv/bin/python bench/bench_synth.py --records 200000
    .venv/bin/python bench/bench_synth.py --records 1000000 --keep /tmp/leak-1m.csv
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from owabi.demo import synth  # needs the repo on sys.path; no Django setup required


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="write here instead of a temp dir")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "leak.csv"
        truth = synth.default_truth_path(out)
        synth.tables()  # load tables outside the timed region (one-off, ~0.1 s)
        started = time.perf_counter()
        last = [started, 0]

        def progress(done: int) -> None:
            now = time.perf_counter()
            rate = (done - last[1]) / (now - last[0])
            last[:] = [now, done]
            print(f"  {done:>10,} records  {rate:>10,.0f} records/s", file=sys.stderr)

        summary = synth.generate(
            records=args.records, seed=args.seed, out=out, truth_out=truth, progress=progress
        )
        wall = time.perf_counter() - started
        size = out.stat().st_size + truth.stat().st_size
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dup_share = summary.duplicates / max(1, summary.records)
    child_share = summary.children / max(1, summary.persons)
    print(
        f"synth {summary.records:,} records in {wall:.1f} s = {summary.records / wall:,.0f} records/s; "
        f"{summary.persons:,} persons, {summary.recipients:,} recipients, {summary.duplicates:,} duplicates "
        f"({dup_share:.1%}), children {child_share:.1%} "
        f"of persons; output {size / 2**20:,.0f} MiB; peak RSS {peak_mib:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
