"""What long jobs' commands do at their end: anchor the audit chain where a witness is configured."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from owabi.core import audit


def anchor_after_job(command: BaseCommand) -> None:
    """`owabi import`, `resolve` and `notices prepare|send|print` end with an anchor (owabi.core.audit),
    so that a log wiped or cut back right after a long job is caught by the next `audit verify`, not only
    after the next scheduled anchor. A refusal fails the command: the job's own work is committed, and
    the message says why the log and its witness disagree."""
    try:
        line = audit.anchor_if_witnessed(actor="cli")
    except audit.WitnessError as error:
        raise CommandError(f"audit anchor refused: {error}") from None
    if line is not None:
        command.stderr.write(f"audit chain anchored at {line.count:,} events")
