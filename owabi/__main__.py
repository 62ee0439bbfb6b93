"""The `owabi` command: Django's management commands with owabi's settings, owabi's own listed first.

A newcomer's first command works. In development a database that is new or behind its code is migrated
before the command runs (one line on stderr says so): the development database is disposable and
`./dev` promises that every command works from a fresh checkout. In production the command stops with
one line asking for `owabi migrate`, because changing a live schema is the operator's decision. A
settings or database-connection problem is one line too, never a traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# The pipeline's commands in the order an operator meets them (any other owabi command follows).
ORDER = (
    "incident",
    "synth",
    "import",
    "resolve",
    "export",
    "notices",
    "redress",
    "report",
    "retention",
    "staff",
    "api",
    "jobs",
    "keys",
    "audit",
    "demo",
)

# Commands that use no database, or that must run on one that is not migrated yet.
NO_DATABASE = frozenset(
    {
        "check",
        "compilemessages",
        "diffsettings",
        "dbshell",
        "findstatic",
        "collectstatic",
        "help",
        "makemessages",
        "makemigrations",
        "migrate",
        "optimizemigration",
        "sendtestemail",
        "shell",  # a developer's tool: it opens without touching the database
        "showmigrations",
        "sqlflush",
        "sqlmigrate",
        "sqlsequencereset",
        "squashmigrations",
        "startapp",
        "startproject",
        "synth",
        "test",
        "testserver",
        "version",
    }
)


def needs_database(argv: list[str]) -> bool:
    """Whether `owabi ARGV` reads or writes the database (help, `keys new` and the above do not)."""
    if not argv or argv[0].startswith("-") or argv[0] in NO_DATABASE:
        return False
    if "-h" in argv or "--help" in argv:
        return False
    return argv[:2] != ["keys", "new"]


def _ensure_migrated() -> None:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return
    if settings.PRODUCTION:
        sys.stderr.write(
            f"owabi: the database is behind the code ({len(plan)} migrations to apply): "
            "run `owabi migrate` first\n"
        )
        sys.exit(2)
    sys.stderr.write(f"owabi: migrating the development database ({len(plan)} migrations)\n")
    call_command("migrate", interactive=False, verbosity=0)


def _command_help(app: str, name: str) -> str:
    from django.core.management import load_command_class

    text = str(load_command_class(app, name).help or "").strip()
    return text.split(". ")[0].rstrip(".")


def _utility(argv: list[str]) -> Any:
    from django.core.management import ManagementUtility, get_commands

    class Utility(ManagementUtility):
        def main_help_text(self, commands_only: bool = False) -> str:
            if commands_only or self.settings_exception is not None:
                return str(super().main_help_text(commands_only))
            commands = get_commands()
            ours = sorted(
                (name for name, app in commands.items() if app.startswith("owabi")),
                key=lambda name: (ORDER.index(name) if name in ORDER else len(ORDER), name),
            )
            width = max(map(len, ours), default=0)
            lines = [
                "owabi: import leaked records, resolve people and households, send each one notice.",
                "",
                "Usage: owabi COMMAND [options]",
                "  owabi COMMAND --help explains one; README.md walks through them in order.",
                "",
                "owabi's commands:",
                *(f"  {name:<{width}}  {_command_help(commands[name], name)}" for name in ours),
                "",
                "Django's commands (database, staff accounts, server):",
            ]
            theirs: dict[str, list[str]] = {}
            for name, app in commands.items():
                if not app.startswith("owabi"):
                    theirs.setdefault(app.rpartition(".")[2], []).append(name)
            lines += [f"  [{app}] {', '.join(sorted(names))}" for app, names in sorted(theirs.items())]
            return "\n".join(lines)

    return Utility(["owabi", *argv])


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.db.utils import OperationalError

    argv = sys.argv[1:]
    try:
        if needs_database(argv):
            import django

            django.setup()
            _ensure_migrated()
        _utility(argv).execute()
    except ImproperlyConfigured as error:
        # A settings problem: one clear line, no traceback (messages never contain secret values).
        sys.stderr.write(f"owabi: configuration error: {error}\n")
        sys.exit(2)
    except OperationalError as error:
        # The database cannot be reached or opened (wrong DATABASE_URL, server down, no such database).
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        sys.stderr.write(f"owabi: cannot use the database: {first_line}\n")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("owabi: interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
