"""Benchmark: `notices prepare`, recipients per second.

    .venv/bin/python bench/bench_prepare.py --records 100000 --database postgres://…/owabi_bench_prepare \
        [--reuse] [--rounds 3] [--profile FILE]

Builds a synthetic incident (synth -> import -> resolve -> notice setup with policy "both") in a fresh
database, then times `prepare` --rounds times, deleting the incident's notices between rounds (on
PostgreSQL, then vacuuming their table, as a first prepare finds it). With --reuse the database built by
an earlier run is used (migrated, not rebuilt): so two checkouts (before and after a change) can be timed
alternately on the same data, run from each checkout in turn. --profile
writes a cProfile of the first round. Prints a calibration figure (a fixed pure-Python loop): this
machine is shared and its speed drifts. Each round also prints the CPU time it took per recipient, of
this process, of prepare's worker processes and of its PostgreSQL backend (read from /proc): on a loaded
machine the wall time says more about the neighbours than about the code, the CPU time much less so.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def cpu_seconds(backend: int | None) -> tuple[float, float, float]:
    """CPU seconds used so far by this process, by its ended child processes (prepare's workers, once
    their pool is joined) and by the PostgreSQL backend with process id `backend` (0 when unknown)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    server = 0.0
    if backend:
        try:
            fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
            server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        except (OSError, IndexError, ValueError):
            server = 0.0
    return time.process_time(), children.ru_utime + children.ru_stime, server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="", help="postgres://… URL; default a fresh SQLite file")
    parser.add_argument("--reuse", action="store_true", help="use the database of an earlier run as it is")
    parser.add_argument("--profile", default="", help="write a cProfile of the first round here")
    parser.add_argument("--workers", type=int, default=None, help="prepare's workers (default: its own)")
    options = parser.parse_args()
    work = Path(os.environ.get("OWABI_BENCH_DIR") or tempfile.mkdtemp(prefix="owabi-bench-prepare-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ.update(OWABI_DATA_DIR=str(work), DJANGO_SETTINGS_MODULE="config.settings")
    if options.database:
        if not options.reuse:
            from fresh_database import recreate

            recreate(options.database)
        os.environ["DATABASE_URL"] = options.database
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"

    import django

    django.setup()
    from bench_pipeline import calibrate
    from django.core.management import call_command
    from django.db import connection
    from synthetic_incident import build

    from owabi.incidents.models import Incident
    from owabi.notices.models import Notice
    from owabi.notices.services import prepare
    from owabi.records.models import Recipient

    print(
        f"owabi prepare benchmark on {connection.vendor}, {os.cpu_count()} cores, work dir {work}; "
        f"calibration loop {calibrate():.2f} s"
    )
    if not options.reuse:
        started = time.monotonic()
        build(options.records, work)
        print(f"  built in {time.monotonic() - started:.1f} s")
    else:
        call_command("migrate", verbosity=0)  # this checkout's tables (a later one may add some)
    incident = Incident.objects.get(slug="bench")
    recipients = Recipient.objects.filter(incident=incident).count()
    rates = []
    workers = {} if options.workers is None else {"workers": options.workers}
    backend = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
    for round_ in range(options.rounds):
        Notice.objects.filter(incident=incident).delete()
        if connection.vendor == "postgresql":
            # As a first prepare finds it: without the last rounds' dead rows, whose index entries each
            # unique check would otherwise visit (autovacuum may not have come by between rounds).
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM ANALYZE {Notice._meta.db_table}")
        profiler = cProfile.Profile() if options.profile and round_ == 0 else None
        cpu_before = cpu_seconds(backend)
        started = time.monotonic()
        if profiler:
            profiler.enable()
        result = prepare(incident=incident, actor="bench", **workers)
        if profiler:
            profiler.disable()
            profiler.dump_stats(options.profile)
        elapsed = time.monotonic() - started
        spent = zip(cpu_before, cpu_seconds(backend), strict=True)
        cpu = [(after - before) / recipients * 1e6 for before, after in spent]
        rates.append(recipients / elapsed)
        print(
            f"  round {round_ + 1}: {recipients:,} recipients -> {result.created['email']:,} e-mail and "
            f"{result.created['letter']:,} letter notices in {elapsed:.1f} s = "
            f"{recipients / elapsed:,.0f} recipients/s"
            + (" (profiled)" if profiler else "")
            + f"; CPU per recipient {sum(cpu):.0f} µs (this process {cpu[0]:.0f}, workers {cpu[1]:.0f}, "
            f"database backend {cpu[2]:.0f})"
        )
    started = time.monotonic()
    again = prepare(incident=incident, actor="bench")
    print(
        f"  re-run (nothing to create): {again.existing:,} existing in {time.monotonic() - started:.1f} s; "
        f"median {statistics.median(rates):,.0f} recipients/s"
    )


if __name__ == "__main__":
    main()
