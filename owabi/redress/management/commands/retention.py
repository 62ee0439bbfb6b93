"""`owabi retention --incident S [--dry-run]`: crypto-shred an incident's personal data at the end of
the response, keeping a minimal legal-hold record (owabi.redress.retention; docs/operations.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.incidents.selectors import get_incident
from owabi.redress import retention


class Command(BaseCommand):
    help = "End of the response: crypto-shred an incident's personal data, keeping a legal-hold record."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incident", required=True, help="incident slug")
        parser.add_argument("--dry-run", action="store_true", help="show what would go; change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        incident = get_incident(slug=options["incident"])
        if incident is None:
            raise CommandError(f"no incident with slug {options['incident']!r}")
        try:
            plan = retention.plan(incident)
        except retention.RetentionError as error:
            raise CommandError(str(error)) from None
        if plan.hold is not None:
            self.stdout.write(
                f"{incident.slug}: shredded on {plan.hold.shredded_at:%Y-%m-%d} by {plan.hold.shredded_by} "
                f"(run {plan.hold.runs} time(s)); the legal-hold record stays"
            )
        if options["dry_run"]:
            self._show(plan)
            self.stdout.write("dry run: nothing changed")
            if plan.blockers:
                raise CommandError(f"retention would refuse: {plan.blockers[0]}")
            return
        try:
            hold = retention.shred(incident=incident, actor="cli")
        except retention.RetentionError as error:
            raise CommandError(str(error)) from None
        done = hold.done if hold.runs == 1 else {}
        total = sum(done.get("overwritten", {}).values()) if done else 0
        self.stdout.write(
            f"{incident.slug}: personal data shredded (run {hold.runs}); "
            + (f"{total:,} sealed values overwritten; " if done else "")
            + "legal-hold record kept: "
            + f"{hold.summary['records']:,} records, {sum(hold.summary['notices'].values()):,} notices"
        )
        self.stdout.write(
            "next: delete the incident's files (letters, exports, payout files) and, once backups "
            "older than today have expired, rotate the data key and drop the old one (docs/operations.md)"
        )

    def _show(self, plan: retention.Plan) -> None:
        self.stdout.write("sealed values to overwrite (table.column: rows):")
        for label, count in plan.sealed.items():
            self.stdout.write(f"  {label:<40} {count:>12,}")
        self.stdout.write("keyed hashes and ids to clear:")
        for label, count in plan.hashes.items():
            self.stdout.write(f"  {label:<40} {count:>12,}")
        for warning in plan.warnings:
            self.stdout.write(f"warning: {warning}")
        for blocker in plan.blockers:
            self.stdout.write(f"blocked: {blocker}")
