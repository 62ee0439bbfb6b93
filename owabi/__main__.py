"""The `owabi` command: Django's management commands with owabi's settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(["owabi", *sys.argv[1:]])
    except ImproperlyConfigured as error:
        # A settings problem: one clear line, no traceback (messages never contain secret values).
        sys.stderr.write(f"owabi: configuration error: {error}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
