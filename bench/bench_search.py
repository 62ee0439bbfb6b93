"""Benchmark: the support console's search (owabi.backoffice.search.search: lookup keys, subjects, notices)
on PostgreSQL, p50/p99 over many searches.

    .venv/bin/python bench/bench_search.py [--people 100000] [--searches 1000]
        [--database postgres://postgres@127.0.0.1:5432/owabi_bench_search] [--keep]

Builds an incident in a fresh database as the demo does (synthetic leak, import, resolve, prepared
notices; nothing sent or printed). Then, in one process, searches for records drawn at random, each the
way an agent types what a caller says: name + phone, name + card last 4, name + postal code, e-mail or
registration code; about a third of them re-spelt (full-width digits, no space in the name, 〒 before
the postal code). Times each whole search (what the view calls; the audit write and the page are left
out) and prints p50, p90, p99 and how many found their person. Drops the database unless --keep.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

_WIDE = str.maketrans("0123456789-", "０１２３４５６７８９－")


def _respell(values: dict[str, str], rng: random.Random) -> dict[str, str]:
    out = dict(values)
    if out.get("name"):
        out["name"] = out["name"].replace(" ", "") + rng.choice(["", " 様"])
    for key in ("phone", "card_last4", "postal_code"):
        if out.get(key):
            out[key] = out[key].translate(_WIDE)
    if out.get("postal_code"):
        out["postal_code"] = "〒" + out["postal_code"]
    if out.get("email"):
        out["email"] = out["email"].upper()
    return out


def build(people: int, seed: int, work: Path) -> None:
    """The incident as the demo builds it, up to prepared notices (sending and printing left out)."""
    import django

    django.setup()
    from datetime import date

    from django.conf import settings
    from django.core.management import call_command

    from owabi.incidents.services import create_incident
    from owabi.notices import setup as notice_setup
    from owabi.notices.services import prepare
    from owabi.records.resolve import resolve
    from owabi.records.services import import_file

    call_command("migrate", verbosity=0, interactive=False)
    incident = create_incident(actor="bench", slug="bench", name="bench", discovered_on=date(2026, 11, 1))
    leak = work / "leak.csv"
    with Path(os.devnull).open("w") as quiet:
        call_command("synth", records=people, seed=seed, out=str(leak), stdout=quiet)
    for step, run in (
        ("import", lambda: import_file(incident=incident, path=leak, source="demo", actor="bench")),
        ("resolve", lambda: resolve(incident=incident, actor="bench")),
        (
            "notices",
            lambda: (
                notice_setup.apply(
                    incident=incident,
                    data=notice_setup.load(Path(settings.BASE_DIR) / "docs" / "notice-setup.demo.toml"),
                    actor="bench",
                ),
                prepare(incident=incident, actor="bench"),
            ),
        ),
    ):
        started = time.monotonic()
        run()
        print(f"  {step}: {time.monotonic() - started:.0f} s", flush=True)


def measure(searches: int, seed: int) -> None:
    import django

    django.setup()
    from django.db import connection

    from owabi.backoffice.search import search
    from owabi.incidents.models import Incident
    from owabi.notices.models import Notice
    from owabi.records.models import LeakRecord, Membership

    incident = Incident.objects.order_by("-created_at").first()
    assert incident is not None
    rng = random.Random(seed)
    records = LeakRecord.objects.filter(incident=incident).count()
    high = LeakRecord.objects.filter(incident=incident).order_by("-pk").values_list("pk", flat=True).first()
    asks: list[tuple[str, dict[str, str], int | None]] = []
    codes = list(
        Notice.objects.filter(incident=incident, reminder_of=None).values_list("code", "recipient_id")[:50000]
    )
    while len(asks) < searches:
        if rng.random() < 0.15 and codes:
            code, _recipient = rng.choice(codes)
            asks.append(("code", {"code": code.lower()}, None))
            continue
        record = LeakRecord.objects.filter(incident=incident, pk__gte=rng.randint(1, high or 1)).first()
        if record is None:
            continue
        sealed = record.sealed
        name = sealed.get("subject_name") or ""
        kinds = [
            (kind, {"name": name, field: sealed[field]})
            for kind, field in (
                ("name+phone", "phone"),
                ("name+card", "card_last4"),
                ("name+postal", "postal_code"),
            )
            if name and sealed.get(field)
        ]
        if sealed.get("email"):
            kinds.append(("email", {"email": sealed["email"]}))
        if not kinds:
            continue
        kind, values = rng.choice(kinds)
        if rng.random() < 0.33:
            values = _respell(values, rng)
        subject = Membership.objects.filter(record=record).values_list("subject_id", flat=True).first()
        asks.append((kind, values, subject))
    for _kind, values, _subject in asks[:20]:  # warm the caches and the connection
        search(incident=incident, values=values)
    timings: list[float] = []
    found = 0
    for _kind, values, subject in asks:
        start = time.perf_counter()
        result = search(incident=incident, values=values)
        timings.append((time.perf_counter() - start) * 1000)
        found += subject is None or any(person.subject_id == subject for person in result.people)
    timings.sort()

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, round(p / 100 * len(timings)) - 1)]

    print(f"records: {records:,} ({connection.vendor}, {os.cpu_count()} cores)")
    print(f"searches: {len(timings):,}; found their person: {found:,}")
    print(
        f"latency ms: p50 {pct(50):.1f}  p90 {pct(90):.1f}  p99 {pct(99):.1f}  max {timings[-1]:.1f}"
        f"  mean {statistics.fmean(timings):.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=100_000, help="people of the demo incident")
    parser.add_argument("--searches", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/owabi_bench_search")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--step", choices=["build", "measure"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.step == "build":
        build(options.people, options.seed, Path(os.environ["OWABI_DATA_DIR"]))
        return
    if options.step == "measure":
        measure(options.searches, options.seed)
        return
    from fresh_database import drop, recreate

    work = Path(tempfile.mkdtemp(prefix="owabi-bench-search-"))
    env = dict(
        os.environ,
        OWABI_DATA_DIR=str(work),
        DATABASE_URL=options.database,
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONPATH=str(REPO),
    )
    recreate(options.database)
    try:
        started = time.monotonic()
        print(f"owabi support search benchmark: building {options.people:,} synthetic records", flush=True)
        subprocess.run(
            [sys.executable, __file__, "--step", "build", "--people", str(options.people)],
            env=env,
            cwd=REPO,
            check=True,
        )
        print(f"  built in {time.monotonic() - started:.0f} s")
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--step",
                "measure",
                "--searches",
                str(options.searches),
                "--seed",
                str(options.seed),
            ],
            env=env,
            cwd=REPO,
            check=True,
        )
    finally:
        if not options.keep:
            drop(options.database)


if __name__ == "__main__":
    main()
