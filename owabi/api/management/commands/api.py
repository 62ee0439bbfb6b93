"""`owabi api token create|revoke|list`: the tokens other systems call the JSON API with."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from owabi.core import api_tokens
from owabi.incidents.cli import incident_or_error


class Command(BaseCommand):
    help = "Create, revoke and list the JSON API's tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        token = sub.add_parser("token", help="API tokens (one incident, some operations each)")
        actions = token.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Make a token; it is shown once, only its hash is kept")
        create.add_argument("--name", required=True, help="who uses it, e.g. print-vendor")
        create.add_argument(
            "--scope",
            required=True,
            help=f"comma-separated operations: {','.join(api_tokens.SCOPES)}",
        )
        create.add_argument("--days", type=int, default=90, help="days until it expires (default 90)")
        revoke = actions.add_parser("revoke", help="Revoke a token at once")
        revoke.add_argument("--name", required=True, help="the token's name")
        revoke.add_argument("--reason", default="", help="why (kept in the audit log)")
        listing = actions.add_parser("list", help="The incident's tokens (never the tokens themselves)")
        for command in (create, revoke, listing):
            command.add_argument("--incident", required=True, help="incident slug")

    def handle(self, *args: Any, **options: Any) -> None:
        incident = incident_or_error(options["incident"])
        try:
            if options["action"] == "create":
                token, raw = api_tokens.create_token(
                    incident_id=incident.pk,
                    name=options["name"],
                    scopes=options["scope"].split(","),
                    actor="cli",
                    days=options["days"],
                )
                self.stdout.write(raw)
                self.stderr.write(
                    f"token {token.name!r} for {incident.slug}: {', '.join(token.scopes)}; "
                    f"expires {timezone.localtime(token.expires_at):%Y-%m-%d %H:%M}. "
                    "It is shown this once; only its hash is kept."
                )
            elif options["action"] == "revoke":
                token = api_tokens.revoke_token(
                    incident_id=incident.pk, name=options["name"], actor="cli", reason=options["reason"]
                )
                self.stdout.write(f"token {token.name!r} revoked")
            else:
                now = timezone.now()
                for token in api_tokens.tokens_of(incident.pk):
                    state = (
                        "revoked" if token.revoked_at else "expired" if token.expires_at <= now else "active"
                    )
                    used = (
                        f"{timezone.localtime(token.last_used_at):%Y-%m-%d %H:%M}"
                        if token.last_used_at
                        else "-"
                    )
                    self.stdout.write(
                        f"{token.name:<24} {state:<8} {','.join(token.scopes):<30} "
                        f"expires {timezone.localtime(token.expires_at):%Y-%m-%d}  last used {used}"
                    )
        except api_tokens.TokenError as error:
            raise CommandError(str(error)) from None
