from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.incidents.services import create_incident


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Create and list incidents."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Open a new incident")
        create.add_argument("--slug", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--discovered-on", required=True, help="知った日, YYYY-MM-DD")
        create.add_argument("--occurred-from")
        create.add_argument("--occurred-to")
        create.add_argument("--cause", default="")
        create.add_argument(
            "--malicious", action="store_true", help="不正の目的: final report due in 60 days"
        )
        create.add_argument(
            "--declare",
            action="append",
            default=[],
            metavar="CATEGORY",
            help="A category leaked for every record, e.g. card_security_code (repeatable)",
        )
        sub.add_parser("list", help="List incidents")
        sub.add_parser("categories", help="List the data categories")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            try:
                incident = create_incident(
                    actor="cli",
                    slug=options["slug"],
                    name=options["name"],
                    discovered_on=_date(options["discovered_on"]),
                    occurred_from=_date(options["occurred_from"]) if options["occurred_from"] else None,
                    occurred_to=_date(options["occurred_to"]) if options["occurred_to"] else None,
                    cause=options["cause"],
                    malicious=options["malicious"],
                    declared_categories=options["declare"],
                )
            except ValidationError as error:
                raise CommandError(
                    "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
                ) from None
            self.stdout.write(f"created incident {incident.slug}")
        elif action == "list":
            for incident in Incident.objects.order_by("discovered_on"):
                self.stdout.write(
                    f"{incident.slug}\t{incident.discovered_on}\t{incident.status}\t{incident.name}"
                )
        else:
            for category in categories.CATEGORIES:
                self.stdout.write(f"{category.code}\t{category.ja}\t{category.en}")
