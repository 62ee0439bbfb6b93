"""`owabi staff add|roles|authenticator`: staff accounts with roles and a TOTP second factor."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core import staff
from owabi.core.roles import ROLES


class Command(BaseCommand):
    help = "Manage staff accounts (roles: " + ", ".join(ROLES) + ")."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser(
            "add", help="Create a staff user; prints the password and authenticator key once"
        )
        add.add_argument("username", help="the staff member's user name")
        add.add_argument("--role", action="append", required=True, choices=ROLES, help="a role (repeatable)")
        add.add_argument("--email", default="", help="their work e-mail address")
        roles = sub.add_parser("roles", help="Replace a staff user's roles")
        roles.add_argument("username", help="the staff member's user name")
        roles.add_argument(
            "--role", action="append", required=True, choices=ROLES, help="a role (repeatable)"
        )
        key = sub.add_parser("authenticator", help="Replace a staff user's second factor (a lost phone)")
        key.add_argument("username", help="the staff member's user name")
        code = sub.add_parser(
            "code", help="Development only: the six digits the user's authenticator shows now"
        )
        code.add_argument("username", help="the staff member's user name")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "add":
                made = staff.add_staff(
                    username=options["username"], roles=options["role"], email=options["email"], actor="cli"
                )
                self.stdout.write(
                    f"staff user {options['username']} created with roles {', '.join(options['role'])}"
                )
                self.stdout.write(f"  password (shown once): {made.password}")
                self.stdout.write(f"  authenticator app (shown once): {made.otpauth_url}")
            elif options["action"] == "roles":
                staff.set_roles(username=options["username"], roles=options["role"], actor="cli")
                self.stdout.write(f"{options['username']}: roles {', '.join(options['role'])}")
            elif options["action"] == "code":
                self.stdout.write(staff.current_code(username=options["username"]))
            else:
                url = staff.new_authenticator(username=options["username"], actor="cli")
                self.stdout.write(f"{options['username']}: new authenticator (shown once): {url}")
        except staff.StaffError as error:
            raise CommandError(str(error)) from None
