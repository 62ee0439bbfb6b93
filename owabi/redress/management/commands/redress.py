"""`owabi redress setup|codes|stock`: the compensation catalog and its gift-code pool."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.incidents.models import Incident
from owabi.incidents.selectors import get_incident
from owabi.redress import selectors, services


class Command(BaseCommand):
    help = "Set up the compensation catalog and import gift codes."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("setup", help="Load the catalog from the [redress] part of a setup TOML")
        load.add_argument("--incident", required=True, help="incident slug")
        load.add_argument("--from", dest="path", required=True, metavar="FILE.toml", help="the setup file")
        codes = sub.add_parser("codes", help="Import a gift provider's codes into an option's pool")
        codes.add_argument("path", metavar="FILE.csv", help="CSV: code,gift_id,management_number[,expires]")
        codes.add_argument("--incident", required=True, help="incident slug")
        codes.add_argument("--option", required=True, help="the option's key in the catalog (e.g. emoney)")
        stock = sub.add_parser("stock", help="Count the options' chosen and free codes")
        stock.add_argument("--incident", required=True, help="incident slug")

    def handle(self, *args: Any, **options: Any) -> None:
        incident = get_incident(slug=options["incident"])
        if incident is None:
            raise CommandError(f"no incident with slug {options['incident']!r}")
        try:
            getattr(self, f"_{options['action']}")(incident, options)
        except services.RedressError as error:
            raise CommandError(str(error)) from None

    def _setup(self, incident: Incident, options: dict[str, Any]) -> None:
        path = Path(options["path"])
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{path.name}: cannot be read ({type(error).__name__})") from None
        except tomllib.TOMLDecodeError as error:
            raise CommandError(f"{path.name}: not valid TOML ({error})") from None
        catalog = (data.get("redress") or {}).get("options") or []
        services.set_catalog(incident=incident, options=catalog, actor="cli", source=path.name)
        self.stdout.write(f"{incident.slug}: {len(catalog)} compensation options set")

    def _codes(self, incident: Incident, options: dict[str, Any]) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        result = services.import_codes(
            incident=incident, option_key=options["option"], path=path, actor="cli"
        )
        self.stdout.write(
            f"{path.name}: {result.added:,} codes added, {result.duplicates:,} already in the pool, "
            f"{len(result.rejects):,} rejected"
        )
        for line, reason in result.rejects[:20]:
            self.stdout.write(f"  line {line}: {reason}")

    def _stock(self, incident: Incident, options: dict[str, Any]) -> None:
        for option in selectors.catalog(incident.pk):
            chosen = option.choices.exclude(status__in=["cancelled", "rejected"]).count()
            free = selectors.stock(option.pk) if option.kind == "code" else None
            self.stdout.write(
                f"{option.key:<16} {option.kind:<9} chosen {chosen:>8,}"
                + (f"  codes left {free:>8,}" if free is not None else "")
            )
