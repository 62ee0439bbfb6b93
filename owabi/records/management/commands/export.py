from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from owabi.core.files import csv_writer, write_private
from owabi.core.management.arguments import output_file
from owabi.incidents.cli import incident_or_error
from owabi.records.selectors import iter_clusters


class Command(BaseCommand):
    help = "Export resolution results: `owabi export clusters` writes record_id,subject_id,recipient_id."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True, metavar="{clusters}")
        clusters = sub.add_parser(
            "clusters", help="One row per imported record: record_id,subject_id,recipient_id"
        )
        clusters.add_argument("--incident", required=True, help="the incident's slug (owabi incident list)")
        clusters.add_argument(
            "--out", required=True, type=output_file, metavar="FILE.csv", help="the CSV file to write"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        incident = incident_or_error(options["incident"])
        out = Path(options["out"])
        count = 0
        with write_private(out, newline="") as handle:
            writer = csv_writer(handle)
            writer.writerow(["record_id", "subject_id", "recipient_id"])
            for row in iter_clusters(incident=incident):
                writer.writerow(row)
                count += 1
        self.stdout.write(f"wrote {count:,} rows to {out}")
