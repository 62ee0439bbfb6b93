from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core.management.arguments import iso_date
from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.incidents.services import create_incident


class Command(BaseCommand):
    help = "Open an incident (create), list them (list), or list the data categories (categories)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list,categories}")
        create = sub.add_parser("create", help="Open a new incident")
        create.add_argument(
            "--slug", required=True, help="short name used by every other command (letters, digits, -, _)"
        )
        create.add_argument(
            "--name", required=True, help="the incident's name as notices and reports show it"
        )
        create.add_argument(
            "--discovered-on",
            required=True,
            type=iso_date,
            metavar="YYYY-MM-DD",
            help="知った日: the day the company knew (deadlines run from it)",
        )
        create.add_argument(
            "--occurred-from", type=iso_date, metavar="YYYY-MM-DD", help="first day of the leak, if known"
        )
        create.add_argument(
            "--occurred-to", type=iso_date, metavar="YYYY-MM-DD", help="last day of the leak, if known"
        )
        create.add_argument("--cause", default="", help="what happened, as notices state it (概要)")
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
            occurred_from, occurred_to = options["occurred_from"], options["occurred_to"]
            if occurred_from and occurred_to and occurred_to < occurred_from:
                raise CommandError("--occurred-to is before --occurred-from")
            try:
                incident = create_incident(
                    actor="cli",
                    slug=options["slug"],
                    name=options["name"],
                    discovered_on=options["discovered_on"],
                    occurred_from=occurred_from,
                    occurred_to=occurred_to,
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
            incidents = Incident.objects.order_by("discovered_on")
            if not incidents:
                self.stdout.write("no incidents yet (owabi incident create --help)")
            for incident in incidents:
                self.stdout.write(
                    f"{incident.slug}\t{incident.discovered_on}\t{incident.status}\t{incident.name}"
                )
        else:
            for category in categories.CATEGORIES:
                self.stdout.write(f"{category.code}\t{category.ja}\t{category.en}")
