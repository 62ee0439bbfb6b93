from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core.management.witness import anchor_after_job
from owabi.incidents.cli import incident_or_error
from owabi.incidents.models import Incident
from owabi.incidents.runs import IncidentBusy
from owabi.records.resolve import (
    ENGINES,
    ImportUnfinished,
    ResolveOutOfMemory,
    SparkUnavailable,
    explain,
    resolve,
)


class Command(BaseCommand):
    help = "Resolve an incident's records into subjects (people) and recipients (one notice each)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incident", required=True, help="the incident's slug (owabi incident list)")
        parser.add_argument(
            "--engine",
            choices=ENGINES,
            default="duckdb",
            help="where pairs are scored: duckdb (in memory) or spark (see docs/operations.md)",
        )
        parser.add_argument(
            "--explain",
            metavar="RECORD_ID",
            help="show why a record joined its subject (labels only, no values)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        incident = incident_or_error(options["incident"], open_only=not options["explain"])
        if options["explain"]:
            self._explain(incident, options["explain"])
            return
        started = time.monotonic()

        def progress(message: str) -> None:
            sys.stderr.write(f"[{time.monotonic() - started:6.1f}s] {message}\n")

        try:
            result = resolve(incident=incident, actor="cli", progress=progress, engine=options["engine"])
        except (IncidentBusy, ImportUnfinished, ResolveOutOfMemory, SparkUnavailable) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{result.records:,} records -> {result.subjects:,} subjects -> "
            f"{result.recipients:,} recipients; "
            f"{result.pairs_scored:,} pairs scored, {result.review_pairs:,} pairs awaiting review "
            f"({time.monotonic() - started:.1f}s: "
            + ", ".join(f"{k} {v}s" for k, v in result.timings.items())
            + ")"
        )
        anchor_after_job(self)

    def _explain(self, incident: Incident, record_id: str) -> None:
        explanations = explain(incident=incident, record_id=record_id)
        if not explanations:
            raise CommandError(f"no record {record_id!r} in incident {incident.slug}")
        for item in explanations:
            if not item.subject:
                self.stdout.write(f"record {record_id} ({item.source}): not resolved yet; run owabi resolve")
                continue
            who = "a minor" if item.is_minor else "an adult"
            if not item.is_minor:
                addressed = "the person themself"
            elif item.recipient_kind == "self":
                addressed = "their guardian, whose own data leaked too"
            else:
                addressed = "their guardian"
            self.stdout.write(
                f"record {record_id} ({item.source}) -> subject {item.subject} ({who}) -> "
                f"recipient {item.recipient} ({addressed})"
            )
            if not item.pairs:
                self.stdout.write("  the only record of this person")
            for pair in item.pairs:
                levels = "; ".join(f"{name}: {label}" for name, label in pair.levels.items())
                self.stdout.write(f"  with {pair.other_record_id}: p={pair.probability:.4f}  {levels}")
