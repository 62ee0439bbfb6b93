"""`owabi jobs work|status|retry`: run the job worker, show the queue, requeue failed jobs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core import jobs
from owabi.core.management.arguments import positive_float, positive_int
from owabi.core.models import Job


class Command(BaseCommand):
    help = "Run background jobs (work), count them by kind and status (status), requeue failures (retry)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{work,status,retry}")

        work = actions.add_parser("work", help="claim and run jobs until stopped (SIGTERM finishes the job)")
        work.add_argument("--burst", action="store_true", help="exit once no job is ready")
        work.add_argument(
            "--lease",
            metavar="SECONDS",
            type=positive_int,
            default=300,
            help="lease in seconds (default 300)",
        )
        work.add_argument(
            "--poll",
            metavar="SECONDS",
            type=positive_float,
            default=1.0,
            help="idle wait in seconds (default 1)",
        )
        work.add_argument(
            "--max-jobs", metavar="N", type=positive_int, help="exit after running this many jobs"
        )
        work.add_argument(
            "--kind", dest="kinds", metavar="KIND", nargs="+", action="extend", help="only these job kinds"
        )
        work.add_argument("--worker-id", metavar="ID", help="defaults to host:pid:random")

        actions.add_parser("status", help="job counts by kind and status")

        retry = actions.add_parser("retry", help="queue failed jobs again with a fresh attempt budget")
        retry.add_argument("--failed", action="store_true", required=True, help="requeue failed jobs")
        retry.add_argument("--kind", metavar="KIND", help="only this job kind")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "work":
            self._work(options)
        elif action == "status":
            self._status()
        else:
            count = jobs.retry_failed(kind=options["kind"], actor="cli")
            self.stdout.write(f"requeued {count} failed job{'s' if count != 1 else ''}")

    def _work(self, options: dict[str, Any]) -> None:
        worker_id = options["worker_id"]
        if worker_id is not None and not 1 <= len(worker_id) <= 100:
            raise CommandError("--worker-id is 1 to 100 characters")
        jobs.run_worker(
            worker_id=worker_id,
            lease_seconds=options["lease"],
            poll_seconds=options["poll"],
            burst=options["burst"],
            max_jobs=options["max_jobs"],
            kinds=options["kinds"],
        )

    def _status(self) -> None:
        table = jobs.counts_by_kind()
        if not table:
            self.stdout.write("no jobs")
            return
        statuses = list(Job.Status.values)
        width = max(len("kind"), *(len(kind) for kind in table))
        columns = [max(len(status), 7) for status in statuses]
        self.stdout.write(
            "kind".ljust(width) + "".join(f"  {s:>{w}}" for s, w in zip(statuses, columns, strict=True))
        )
        for kind, counts in table.items():
            self.stdout.write(
                kind.ljust(width)
                + "".join(f"  {counts[s]:>{w}}" for s, w in zip(statuses, columns, strict=True))
            )
