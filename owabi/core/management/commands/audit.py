from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core import audit


class Command(BaseCommand):
    help = "Check the audit chain against its witness (verify), or append its head to it (anchor)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{verify,anchor}")
        sub.add_parser(
            "verify", help="Check that no audit event was edited, removed or reordered, and none cut off"
        )
        sub.add_parser(
            "anchor", help="Append the chain's event count and head hash to the witness (run it hourly)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "anchor":
            try:
                line = audit.anchor(actor="cli")
            except audit.WitnessError as error:
                raise CommandError(f"audit anchor refused: {error}") from None
            self.stdout.write(
                f"audit chain anchored: {line.count:,} events, head {line.hash[:16]}… at {line.at}"
            )
            return
        result = audit.verify()
        if result.ok:
            seen = result.witnessed
            witness = (
                f"the witness saw {seen.count:,} at {seen.at}"
                if seen is not None
                else "not anchored yet (owabi audit anchor)"
            )
            self.stdout.write(f"audit chain OK: {result.events:,} events; {witness}")
            return
        for problem in result.problems:
            self.stderr.write(
                f"event {problem.seq}: {problem.what}" if problem.seq is not None else problem.what
            )
        raise CommandError(
            f"audit chain BROKEN: {len(result.problems)} problem(s) in {result.events:,} events"
        )
