"""Benchmark: registration codes, µs per code.

    .venv/bin/python bench/bench_codes.py [--against REV] [--rounds 5]

Times `codes.new_code()` (one code per call) and `codes.new_codes(2000)` (a prepare window's worth) of
this checkout; with --against, also `new_code()` of owabi/notices/codes.py as it was at git revision REV,
loaded into the same process and timed in alternation with this checkout's, so the two see the same
machine (it is shared and its speed drifts): compare ratios, not absolute figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _at(revision: str) -> ModuleType:
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{revision}:owabi/notices/codes.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="owabi-codes-")) / "codes_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("codes_then", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _per_code(function: Callable[[], object], codes_per_call: int, calls: int) -> float:
    return min(timeit.repeat(function, number=calls, repeat=3)) / (calls * codes_per_call) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", default="", help="a git revision whose new_code() is timed alongside")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    from owabi.notices import codes

    then = _at(options.against) if options.against else None
    rows: dict[str, list[float]] = {f"new_code() at {options.against}": []} if then is not None else {}
    rows.update({"new_code()": [], "new_codes(2000)": []})
    for _ in range(options.rounds):
        if then is not None:
            rows[f"new_code() at {options.against}"].append(_per_code(then.new_code, 1, 20_000))
        rows["new_code()"].append(_per_code(codes.new_code, 1, 20_000))
        rows["new_codes(2000)"].append(_per_code(lambda: codes.new_codes(2000), 2000, 10))
    for name, figures in rows.items():
        print(
            f"{name:>28}: median {statistics.median(figures):.2f} µs/code (rounds: "
            + ", ".join(f"{figure:.2f}" for figure in figures)
            + ")"
        )


if __name__ == "__main__":
    main()
