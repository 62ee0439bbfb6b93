"""python -m bench.realistic --records N --seed S --out FILE.csv (truth to FILE.truth.csv)."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from bench.realistic import AS_OF, HELD_ASIDE_SEED, default_truth_path, generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.realistic", description=__doc__)
    parser.add_argument("--records", type=int, required=True, help="exact number of rows to write")
    parser.add_argument(
        "--seed", type=int, required=True, help=f"same seed, same bytes; {HELD_ASIDE_SEED} is held aside"
    )
    parser.add_argument("--out", type=Path, required=True, help="output CSV")
    parser.add_argument("--truth", type=Path, help="truth CSV (default FILE.truth.csv)")
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=AS_OF, help="notice date deciding who is a minor"
    )
    options = parser.parse_args(argv)
    if options.records < 1:
        parser.error("--records must be at least 1")
    truth = options.truth or default_truth_path(options.out)
    started = time.monotonic()
    counts = generate(
        records=options.records,
        seed=options.seed,
        out=options.out,
        truth=truth,
        as_of=options.as_of,
        progress=options.records >= 100_000,
    )
    elapsed = time.monotonic() - started
    print(
        f"realistic: {counts['records']:,} rows ({counts['persons']:,} persons, "
        f"{counts['recipients']:,} recipients)"
        f" -> {options.out} + {truth} in {elapsed:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
