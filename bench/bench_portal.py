"""Benchmark: portal sign-in + first page under gunicorn on PostgreSQL, next to a bare Django view.

    .venv/bin/python bench/bench_portal.py [--people 3000] [--connections 32] [--seconds 20] [--workers 4]
        [--database postgres://postgres@127.0.0.1:5432/owabi_bench_portal]

Builds a demo incident in a fresh database (`owabi demo --no-serve`: synthetic leak, import, resolve,
notices), starts gunicorn on 127.0.0.1 and drives it with wrk (Debian package `wrk`) from the same
machine: first /bare (a view that returns "ok" behind the same middleware), then the portal journey,
where each connection signs in with a real code and key (POST /signin) and opens its first page with
the session it got (GET /me), over and over, with a different notice each time. Prints requests/s and
the latency percentiles wrk measures for both, and their ratio. The load generator shares the two cores
with the server, so figures are for this machine only; compare them within one run.

--loads 0.5,0.35,0.25 then runs the journey again at each of those fractions of the rate the saturated
run reached (--half-load is --loads 0.5), and prints the highest sign-in rate whose p99 stays within
100 ms: the portal's capacity at the latency target. Each connection thinks (an exponential pause, its
mean computed from the saturated run) before each sign-in, as people do. A closed loop at saturation
measures the queue (p99 is then about connections / workers requests' time, whatever the code does); at
a fraction of it the percentiles are the latency a person meets while the server still has room. wrk's
latencies exclude the think time.

Three sets of percentiles per run: wrk's own (every request); "steady", taken by the script with each
connection's first journey left out (wrk opens all connections at once and a thinking one sends
nothing for seconds, while a gthread worker holds a thread up to 5 s for a new connection's first
bytes: a start-up queue of the bench's making); and the server's own time per request from gunicorn's
access log (parsed request to written response), which places a stall inside or outside the
application. The capacity is read off the steady p99.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()  # noqa: S310 - our own local server
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server at {url} did not answer")


def csrf_token(base: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/").read().decode()
    cookie = next(c.value for c in jar if c.name == "csrftoken")
    assert re.search(r'name="csrfmiddlewaretoken"', page)
    return cookie


P99_TARGET_MS = 100.0


def milliseconds(figure: str) -> float:
    """A wrk latency ("850.00us", "12.31ms", "1.20s") in milliseconds; infinity for "?"."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", figure)
    if not match:
        return float("inf")
    return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match[2]]


def wrk(args: list[str], env: dict[str, str]) -> dict[str, str]:
    out = subprocess.run(["wrk", *args], env=env, capture_output=True, text=True, check=True).stdout
    figures = {"requests/s": re.search(r"Requests/sec:\s+([\d.]+)", out)[1]}  # type: ignore[index]
    if "OWABI_BENCH_LATENCY_DIR" in env:
        figures["latencies"] = env["OWABI_BENCH_LATENCY_DIR"]
    for percent in ("50", "90", "99"):
        match = re.search(rf"^\s+{percent}(?:\.000)?%\s+(\S+)", out, re.M)
        figures[f"p{percent}"] = match[1] if match else "?"
    failed = re.search(r"failed responses: (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["errors"] = str(int(failed[1]) if failed else 0) + (
        f" ({non2xx[1]} non-2xx/3xx)" if non2xx else ""
    )
    figures["requests"] = re.search(r"(\d+) requests in", out)[1]  # type: ignore[index]
    sockets = re.search(r"Socket errors: (.*)", out)
    figures["socket errors"] = sockets[1] if sockets else ""
    return figures


def steady_latencies(folder: Path) -> dict[str, str]:
    """Percentiles of the latencies portal_signin.lua wrote into `folder`, each connection's first journey
    left out (the start-up queue of connections that think before their first request; see the script)."""
    times: list[int] = []
    for path in folder.glob("connection-*.txt"):
        for line in path.read_text().splitlines():
            journey, microseconds = line.split()
            if int(journey) >= 1:
                times.append(int(float(microseconds)))
    return percentiles(times)


def percentiles(microseconds: list[int]) -> dict[str, str]:
    """p50, p90 and p99 of `microseconds`, in wrk's notation ("12.31ms"); "?" for none."""
    times = sorted(microseconds)
    if not times:
        return {"p50": "?", "p90": "?", "p99": "?"}
    at = {p: times[min(len(times) - 1, len(times) * p // 100)] for p in (50, 90, 99)}
    return {f"p{p}": f"{value / 1000:.2f}ms" for p, value in at.items()}


class ServerTimes:
    """The server's own time per request (gunicorn's access log, %(D)s µs), one log file per wrk run.

    wrk's latency runs from its write to its read, so it holds the network and both processes' waits for a
    core; the server's time runs from the request parsed to the response written. A gap between the
    two tails places a stall outside the application."""

    def __init__(self, work: Path) -> None:
        self.log = work / "access.log"
        self.server: subprocess.Popen[bytes] | None = None

    def arguments(self) -> list[str]:
        return ["--access-logfile", str(self.log), "--access-logformat", "%(D)s"]

    def cut(self, name: str) -> Path:
        """The requests logged since the last cut, as a file of their own; the server starts a new log."""
        assert self.server is not None
        kept = self.log.with_name(f"access-{name}.log")
        if self.log.exists():
            self.log.rename(kept)
        self.server.send_signal(signal.SIGUSR1)  # master and workers reopen their log files
        time.sleep(1)
        return kept

    @staticmethod
    def percentiles(path: Path) -> dict[str, str]:
        words = path.read_text().split() if path.exists() else []
        return percentiles([int(word) for word in words if word.isdigit()])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=3000, help="leaked records of the demo incident")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker (above 1: gthread workers, which park idle connections)",
    )
    parser.add_argument(
        "--worker-tmp-dir",
        default="",
        help="gunicorn's --worker-tmp-dir for the workers' heartbeat files (default: gunicorn's own)",
    )
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/owabi_bench_portal")
    parser.add_argument(
        "--half-load", action="store_true", help="then the journey again at half the saturated rate"
    )
    parser.add_argument(
        "--loads",
        default="",
        help="then the journey again at these fractions of the saturated rate, e.g. 0.5,0.35,0.25",
    )
    options = parser.parse_args()
    try:
        loads = [float(f) for f in options.loads.split(",") if f.strip()]
    except ValueError:
        parser.error("--loads takes fractions separated by commas, e.g. 0.5,0.35,0.25")
    if options.half_load and 0.5 not in loads:
        loads.insert(0, 0.5)
    if any(not 0 < f < 1 for f in loads):
        parser.error("--loads takes fractions between 0 and 1")
    if loads and options.threads < 2:
        # A thinking client holds its next connection open before it sends; a sync worker waits on it
        # and everyone else queues (production puts a buffering proxy in front for this reason).
        parser.error("--loads and --half-load need --threads 2 or more (gthread workers)")
    if not shutil.which("wrk"):
        raise SystemExit("bench_portal needs wrk (apt-get install wrk)")
    from fresh_database import recreate

    work = Path(tempfile.mkdtemp(prefix="owabi-bench-portal-"))
    env = dict(
        os.environ,
        OWABI_DATA_DIR=str(work),
        DATABASE_URL=options.database,
        DJANGO_SETTINGS_MODULE="bench.portal_settings",
        PYTHONPATH=str(REPO),
    )
    recreate(options.database)
    print(f"owabi portal benchmark: {os.cpu_count()} cores, PostgreSQL, work dir {work}")
    subprocess.run(
        [sys.executable, "-m", "owabi", "demo", "--people", str(options.people), "--no-serve"],
        env=env,
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    codes = work / "codes.csv"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup()\n"
            "from owabi.notices import codes\nfrom owabi.notices.models import Notice\n"
            "import sys\n"
            "for code in Notice.objects.filter(reminder_of=None).values_list('code', flat=True):\n"
            "    sys.stdout.write(f'{codes.group(code)},{codes.login_key(code)}\\n')\n",
        ],
        env=env,
        cwd=REPO,
        check=True,
        stdout=codes.open("w"),
    )
    notices = sum(1 for _ in codes.open())
    # gthread parks idle keep-alive connections; the keep-alive outlasts the longest think times (gunicorn
    # closes after 2 s by default, and a client that writes into a closed connection counts an error).
    threaded = ["--worker-class", "gthread", "--threads", str(options.threads), "--keep-alive", "30"]
    threaded = threaded if options.threads > 1 else []
    server_times = ServerTimes(work)

    def folder(name: str) -> str:
        made = work / f"latencies-{name}"
        made.mkdir()
        return str(made)

    server = server_times.server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi",
            "--workers",
            str(options.workers),
            *threaded,
            "--bind",
            f"127.0.0.1:{options.port}",
            "--log-level",
            "warning",
            *server_times.arguments(),
            *(["--worker-tmp-dir", options.worker_tmp_dir] if options.worker_tmp_dir else []),
        ],
        env=env,
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{options.port}"
    try:
        wait_for(base + "/bare")
        token = csrf_token(base)
        load = dict(env, OWABI_BENCH_CODES=str(codes), OWABI_BENCH_CSRF=token)
        duration = [f"-d{options.seconds}s", "--latency", "--timeout", "5s"]
        threads = ["-t", str(min(options.connections, 32)), "-c", str(options.connections)]
        wrk([*threads, "-d3s", base + "/bare"], load)  # warm-up
        server_times.cut("warm-up")
        bare = wrk([*threads, *duration, base + "/bare"], load)
        bare["server"] = str(server_times.cut("bare"))
        script = ["-s", str(REPO / "bench" / "portal_signin.lua")]
        measured = dict(load, OWABI_BENCH_LATENCY_DIR=folder("journey"))
        journey = wrk([*threads, *duration, *script, base], measured)
        journey["server"] = str(server_times.cut("journey"))
        partial: list[tuple[float, float, dict[str, str]]] = []
        for fraction in loads:
            # A fraction f of the saturated rate R (journeys/s) from C connections: each completes a
            # journey every C/(f·R) seconds, the think time plus the journey's own time, which is small
            # next to it once nothing queues (so the offered rate comes out a little under; the achieved
            # rate is printed).
            journeys = float(journey["requests/s"]) / 2
            think_ms = 1000 * options.connections / (fraction * journeys)
            thinking = dict(
                load, OWABI_BENCH_THINK_MS=f"{think_ms:.0f}", OWABI_BENCH_LATENCY_DIR=folder(f"{fraction:g}")
            )
            figures = wrk([*threads, *duration, *script, base], thinking)
            figures["server"] = str(server_times.cut(f"load-{fraction:g}"))
            partial.append((fraction, think_ms, figures))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    print(
        f"{notices:,} notices to sign in with; gunicorn {options.workers} "
        + (f"gthread workers × {options.threads} threads" if options.threads > 1 else "sync workers")
        + f"; wrk "
        f"{options.connections} connections for {options.seconds} s each"
    )
    print(
        f"{'':<34}{'requests/s':>12}{'p50':>10}{'p90':>10}{'p99':>10}"
        f"{'steady p50':>12}{'p90':>10}{'p99':>10}{'server p50':>12}{'p90':>10}{'p99':>10}  errors"
    )
    rows = [("bare view (GET /bare)", bare), ("sign-in + first page (POST, GET)", journey)]
    for fraction, _, figures in partial:
        rows.append((f"the same at {fraction:.0%} of that rate", figures))
    for name, figures in rows:
        server_side = ServerTimes.percentiles(Path(figures["server"]))
        steady = steady_latencies(Path(figures["latencies"])) if "latencies" in figures else {}
        sockets = f"; socket errors: {figures['socket errors']}" if figures["socket errors"] else ""
        print(
            f"{name:<34}{figures['requests/s']:>12}{figures['p50']:>10}{figures['p90']:>10}{figures['p99']:>10}"
            f"{steady.get('p50', '-'):>12}{steady.get('p90', '-'):>10}{steady.get('p99', '-'):>10}"
            f"{server_side['p50']:>12}{server_side['p90']:>10}{server_side['p99']:>10}"
            f"  {figures['errors']}{sockets}"
        )
    ratio = float(journey["requests/s"]) / float(bare["requests/s"])
    sign_ins = float(journey["requests/s"]) / 2
    print(f"portal requests/s are {ratio:.0%} of the bare view's ({sign_ins:,.0f} sign-ins/s)")
    for fraction, think_ms, figures in partial:
        print(
            f"{fraction:.0%} load: {float(figures['requests/s']) / 2:,.0f} sign-ins/s achieved by "
            f"{options.connections} people thinking {think_ms:,.0f} ms on average between journeys"
        )
    within = [
        float(figures["requests/s"]) / 2
        for _, _, figures in partial
        if milliseconds(steady_latencies(Path(figures["latencies"]))["p99"]) <= P99_TARGET_MS
        and figures["errors"] == "0"
    ]
    if partial:
        print(
            f"capacity at steady p99 ≤ {P99_TARGET_MS:.0f} ms: {max(within):,.0f} sign-ins/s"
            if within
            else f"no load tried kept p99 within {P99_TARGET_MS:.0f} ms: try smaller --loads"
        )


if __name__ == "__main__":
    main()
