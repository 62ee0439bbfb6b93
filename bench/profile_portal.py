"""In-process profile of the portal journey bench_portal.py loads: sign-in (POST /signin) + first page
(GET /me) through Django's test client, on a database that already holds a demo incident.

    DJANGO_SETTINGS_MODULE=bench.portal_settings DATABASE_URL=... OWABI_DATA_DIR=... \\
        .venv/bin/python bench/profile_portal.py [--journeys 200] [--profile] [--queries]

Prints the median milliseconds and the queries of each step (a different notice each journey, as in the
load test) next to a bare view's (GET /bare), and with --profile the functions that took the most time
(cProfile). With --queries it prints the SQL of one journey. Build the data first with
`owabi demo --no-serve`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journeys", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print the top functions (cProfile)")
    parser.add_argument("--queries", action="store_true", help="print the SQL of one journey")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime, calls")
    options = parser.parse_args()
    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from owabi.notices import codes
    from owabi.notices.models import Notice

    wanted = options.journeys + 20
    notices = list(Notice.objects.filter(reminder_of=None).exclude(status="cancelled").order_by("?")[:wanted])
    logins = [(codes.group(n.code), codes.login_key(n.code)) for n in notices]

    client = Client()  # one handler, as in a server process; each journey starts without cookies

    def journey(code: str, key: str) -> tuple[float, float, int, int]:
        client.cookies.clear()
        with CaptureQueriesContext(connection) as signing_in:
            started = time.perf_counter()
            response = client.post("/signin", {"code": code, "key": key})
            signed = time.perf_counter()
        assert response.status_code == 302, response.status_code
        with CaptureQueriesContext(connection) as first_page:
            page = client.get("/me")
            done = time.perf_counter()
        assert page.status_code == 200, page.status_code
        if options.queries and not getattr(journey, "shown", False):
            journey.shown = True  # type: ignore[attr-defined]
            for name, captured in (("POST /signin", signing_in), ("GET /me", first_page)):
                print(f"--- {name}: {len(captured)} queries")
                for query in captured.captured_queries:
                    print("  ", query["sql"][:220])
        return signed - started, done - signed, len(signing_in), len(first_page)

    for code, key in logins[:20]:  # warm-up: imports, template loading, connection
        journey(code, key)
    profiler = cProfile.Profile() if options.profile else None
    results = []
    if profiler:
        profiler.enable()
    for code, key in logins[20:]:
        results.append(journey(code, key))
    if profiler:
        profiler.disable()
    count = len(results)
    # Medians: the machine is shared, and a preempted request should not move the figure.
    sign_in_ms = statistics.median(r[0] for r in results) * 1000
    page_ms = statistics.median(r[1] for r in results) * 1000
    bare = []
    for _ in range(count):
        started = time.perf_counter()
        client.get("/bare")
        bare.append(time.perf_counter() - started)
    bare_ms = statistics.median(bare) * 1000
    sign_in_q = sorted({r[2] for r in results})
    page_q = sorted({r[3] for r in results})
    print(f"{connection.vendor}: {count} journeys")
    print(f"  POST /signin  {sign_in_ms:6.1f} ms  queries {sign_in_q}")
    print(f"  GET /me       {page_ms:6.1f} ms  queries {page_q}")
    print(f"  journey       {sign_in_ms + page_ms:6.1f} ms")
    ratio = (sign_in_ms + page_ms) / bare_ms
    print(f"  GET /bare     {bare_ms:6.1f} ms  (a journey costs as much as {ratio:.0f} bare requests)")
    if profiler:
        stats = pstats.Stats(profiler)
        print(f"  Python function calls per journey: {stats.total_calls / count:,.0f}")  # type: ignore[attr-defined]
        stats.sort_stats(options.sort).print_stats(options.top)


if __name__ == "__main__":
    main()
