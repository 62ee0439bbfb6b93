"""Where resolve's memory goes: peak RSS per phase, Python's share (tracemalloc), Arrow's and DuckDB's.

    OWABI_DATA_DIR=… DATABASE_URL=… .venv/bin/python bench/resolve_memory.py --incident bench [--tracemalloc]

Runs `owabi resolve` in this process on an incident already imported (bench_pipeline's work dir, or a
copy of its database). A thread samples the process's RSS (and, of it, its own pages: not the mapped
files, records.ondisk) and Arrow's pool every 20 ms; the phase is
the one resolve's progress messages name (features, match, cluster, recipients, write). With
--tracemalloc, each progress message also prints Python's live and peak allocations since the last one
and the largest allocation sites (file:line), so a phase's peak can be pinned on its structures (it
makes the run two to three times slower). DuckDB's own memory is read once its predictions are made.
Each progress message also prints the own pages' peak since the last message, so a passing peak is
pinned on a sub-step; --maps splits the own pages by kind of mapping; --trace parts._name_links,…
prints the own pages and Arrow's pool at the start of each call of those functions and their peaks
inside it. Prints labels and sizes only, never a record's values.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from owabi.core.memory import own_pages  # noqa: E402  (owabi first: it sets Arrow's pool up)

PHASES = {
    "reading match keys": "features",
    "scoring candidate pairs": "match",
    "clustering": "cluster",
    "assigning recipients": "recipients",
    "writing subjects": "write",
}
MIB = 1024 * 1024
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE


def own_regions() -> str:
    """The process's own pages by kind of mapping (/proc/self/smaps: resident less file-backed pages):
    malloc's main heap, anonymous mappings (Python's object arenas, other malloc arenas, numpy's large
    arrays, Arrow's and DuckDB's allocators: the kernel merges neighbouring ones, so they cannot be told
    apart by size) by size class, and the rest."""
    kinds: dict[str, int] = {}
    name = ""
    size = 0
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and not head[0].endswith(":"):  # a mapping's first line
            name = head[5] if len(head) > 5 else ""
            size = int(head[0].split("-")[1], 16) - int(head[0].split("-")[0], 16)
        elif head and head[0] == "Anonymous:":
            own = int(head[1]) * 1024
            if own:
                if name == "[heap]":
                    kind = "heap"
                elif name == "":  # Linux merges neighbours: Python's arenas, numpy's arrays alike
                    kind = "anon<64M" if size < 64 * MIB else "anon>=64M"
                else:
                    kind = "other"
                kinds[kind] = kinds.get(kind, 0) + own
    return ", ".join(f"{kind} {used / MIB:,.0f}" for kind, used in sorted(kinds.items()))


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.phase = "start"
        self.peak: dict[str, int] = {}
        self.arrow_peak: dict[str, int] = {}
        self.anonymous_peak: dict[str, int] = {}
        self.since_last = 0  # own pages' peak since the last progress message: a sub-step's passing peak
        self.traced = (0, 0)  # own pages' and Arrow's peaks inside the traced call running now (--trace)
        self.running = True

    def take_since_last(self) -> int:
        peak, self.since_last = max(self.since_last, own_pages()), 0
        return peak

    def run(self) -> None:
        import pyarrow as pa

        while self.running:
            phase = self.phase
            self.peak[phase] = max(self.peak.get(phase, 0), rss())
            self.arrow_peak[phase] = max(self.arrow_peak.get(phase, 0), pa.total_allocated_bytes())
            own = own_pages()
            self.anonymous_peak[phase] = max(self.anonymous_peak.get(phase, 0), own)
            self.since_last = max(self.since_last, own)
            self.traced = (max(self.traced[0], own), max(self.traced[1], pa.total_allocated_bytes()))
            time.sleep(0.02)


def traced(sampler: Sampler, names: list[str]) -> None:
    """Wrap each function named module.function (in owabi.records.resolve) to print, when it returns, the
    own pages and Arrow's pool at its start and their peaks inside it. For top-level calls: a traced
    function called inside another resets the outer one's peaks."""
    import importlib

    for name in names:
        module_name, function_name = name.rsplit(".", 1)
        module = importlib.import_module(f"owabi.records.resolve.{module_name}")
        function = getattr(module, function_name)

        def wrapper(*args, __function=function, __name=name, **kwargs):  # type: ignore[no-untyped-def]
            import pyarrow as pa

            own, arrow = own_pages(), pa.total_allocated_bytes()
            sampler.traced = (own, arrow)
            started = time.monotonic()
            try:
                return __function(*args, **kwargs)
            finally:
                peak_own, peak_arrow = sampler.traced
                print(
                    f"      {__name}: {time.monotonic() - started:.1f} s, own {own / MIB:,.0f} -> peak "
                    f"{max(peak_own, own_pages()) / MIB:,.0f} MiB, Arrow {arrow / MIB:,.0f} -> peak "
                    f"{max(peak_arrow, pa.total_allocated_bytes()) / MIB:,.0f} MiB",
                    flush=True,
                )

        setattr(module, function_name, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incident", default="bench")
    parser.add_argument("--tracemalloc", action="store_true", help="Python's allocations per step (slow)")
    parser.add_argument("--top", type=int, default=8, help="allocation sites printed per step")
    parser.add_argument("--maps", action="store_true", help="own pages by kind of mapping per step")
    parser.add_argument(
        "--trace",
        default="",
        help="comma-separated module.function of owabi.records.resolve (parts._name_links,…): "
        "memory at the start of each call and its peak inside",
    )
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from owabi.incidents.models import Incident
    from owabi.records.resolve import pipeline, scoring

    duck_memory: list[str] = []
    train_and_predict = scoring.train_and_predict

    def measured_train_and_predict(frame, **kwargs):  # type: ignore[no-untyped-def]
        model, predictions = train_and_predict(frame, **kwargs)
        duck = frame.db_api._con if hasattr(frame.db_api, "_con") else None
        if duck is not None:
            rows = duck.execute(
                "SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory()"
                " WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0"
            ).fetchall()
            duck_memory.extend(
                f"{tag} {used / MIB:,.0f} MiB (spilled {spilled / MIB:,.0f})" for tag, used, spilled in rows
            )
            count = duck.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0]  # noqa: S608
            duck_memory.append(f"predictions {count[0]:,} pairs; process RSS {rss() / MIB:,.0f} MiB")
        return model, predictions

    scoring.train_and_predict = measured_train_and_predict
    sampler = Sampler()
    sampler.start()
    traced(sampler, [name for name in options.trace.split(",") if name])
    if options.tracemalloc:
        tracemalloc.start(1)
    step_started = time.monotonic()

    def say(message: str) -> None:
        nonlocal step_started
        now = time.monotonic()
        line = (
            f"[{now - step_started:6.1f}s] rss {rss() / MIB:7,.0f} MiB, own {own_pages() / MIB:7,.0f} MiB"
            f" (peak since last {sampler.take_since_last() / MIB:7,.0f})"
        )
        if options.tracemalloc:
            current, peak = tracemalloc.get_traced_memory()
            line += f"  python live {current / MIB:6,.0f} MiB, peak since last {peak / MIB:6,.0f} MiB"
            snapshot = tracemalloc.take_snapshot()
            tracemalloc.reset_peak()
        if options.maps:
            import pyarrow as pa

            line += f" ({own_regions()} MiB; Arrow holds {pa.total_allocated_bytes() / MIB:,.0f} MiB)"
        print(f"{line}  -> {message}", flush=True)
        if options.tracemalloc:
            for stat in snapshot.statistics("lineno")[: options.top]:
                frame = stat.traceback[0]
                where = f"{Path(frame.filename).name}:{frame.lineno}"
                print(f"      {stat.size / MIB:7,.1f} MiB {stat.count:>10,} blocks  {where}", flush=True)
            del snapshot
        for prefix, phase in PHASES.items():
            if message.startswith(prefix):
                sampler.phase = phase
        step_started = time.monotonic()

    incident = Incident.objects.get(slug=options.incident)
    started = time.monotonic()
    result = pipeline.resolve(incident=incident, actor="bench", progress=say)
    say("done")
    sampler.running = False
    sampler.join()
    print(
        f"{result.records:,} records, {result.pairs_scored:,} pairs, {result.subjects:,} subjects, "
        f"{time.monotonic() - started:.1f} s; timings {result.timings}"
    )
    print("peak RSS by phase (MiB) / of it the process's own (anonymous) pages / Arrow pool peak (MiB):")
    for phase, peak in sampler.peak.items():
        own, arrow = sampler.anonymous_peak[phase], sampler.arrow_peak[phase]
        print(f"  {phase:10s} {peak / MIB:7,.0f}  {own / MIB:7,.0f}  {arrow / MIB:7,.0f}")
    print(f"  process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    for line in duck_memory:
        print(f"  duckdb after predict: {line}")


if __name__ == "__main__":
    main()
