from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.incidents.selectors import get_incident
from owabi.records.resolve import resolve


class Command(BaseCommand):
    help = "Resolve an incident's records into subjects (people) and recipients (one notice each)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incident", required=True)
        parser.add_argument("--engine", choices=["duckdb"], default="duckdb", help="Splink backend")

    def handle(self, *args: Any, **options: Any) -> None:
        incident = get_incident(slug=options["incident"])
        if incident is None:
            raise CommandError(f"no incident with slug {options['incident']!r}")
        started = time.monotonic()

        def progress(message: str) -> None:
            sys.stderr.write(f"[{time.monotonic() - started:6.1f}s] {message}\n")

        result = resolve(incident=incident, actor="cli", progress=progress)
        self.stdout.write(
            f"{result.records:,} records -> {result.subjects:,} subjects -> "
            f"{result.recipients:,} recipients; "
            f"{result.pairs_scored:,} pairs scored, {result.review_pairs:,} pairs awaiting review "
            f"({time.monotonic() - started:.1f}s: "
            + ", ".join(f"{k} {v}s" for k, v in result.timings.items())
            + ")"
        )
