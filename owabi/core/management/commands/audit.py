from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core import audit


class Command(BaseCommand):
    help = "Audit log tools: `owabi audit verify` checks the whole hash chain."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{verify}")
        sub.add_parser("verify", help="Check that no audit event was edited, removed or reordered")

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit.verify()
        if result.ok:
            self.stdout.write(f"audit chain OK: {result.events} events")
            return
        for problem in result.problems:
            where = f"event {problem.seq}" if problem.seq is not None else "head"
            self.stderr.write(f"{where}: {problem.what}")
        raise CommandError(f"audit chain BROKEN: {len(result.problems)} problem(s) in {result.events} events")
