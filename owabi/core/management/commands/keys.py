from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core import crypto, keys
from owabi.core.env import new_key
from owabi.core.management.arguments import positive_int


class Command(BaseCommand):
    help = (
        "Keys: print a new one (new), count values per key (status), re-seal (rotate), recompute lookups "
        "(reindex)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{new,status,rotate,reindex}")
        sub.add_parser("new", help="Print a new random 256-bit key (url-safe base64)")
        sub.add_parser("status", help="How many encrypted values each key id protects")
        rotate = sub.add_parser("rotate", help="Re-encrypt every value with OWABI_DATA_KEY_ID's key")
        rotate.add_argument(
            "--batch", type=positive_int, default=2000, help="values re-sealed per transaction (default 2000)"
        )
        again = sub.add_parser(
            "reindex",
            help="Recompute every record's lookup keys (after OWABI_INDEX_KEY changed, and after an upgrade)",
        )
        again.add_argument(
            "--batch",
            type=positive_int,
            default=5000,
            help="records recomputed per transaction (default 5000)",
        )

    @staticmethod
    def _progress(scanned: int) -> None:
        sys.stderr.write(f"\rscanned {scanned:,}")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "new":
            self.stdout.write(new_key())
        elif options["action"] == "status":
            self.stdout.write(f"current key: {crypto.current_key_id()}")
            for key_id, count in sorted(keys.count_by_key().items()):
                self.stdout.write(f"{key_id}\t{count}")
        elif options["action"] == "reindex":
            for name, reindex in keys.REINDEXERS.items():
                done = reindex(actor="cli", batch=options["batch"], progress=self._progress)
                sys.stderr.write("\n")
                self.stdout.write(f"{name}: {done.scanned:,} records scanned, {done.changed:,} recomputed")
        else:

            def progress(scanned: int) -> None:
                sys.stderr.write(f"\rscanned {scanned:,}")

            result = keys.rotate(actor="cli", batch=options["batch"], progress=progress)
            self.stdout.write(
                f"rotated to {crypto.current_key_id()}: scanned {result.scanned:,}, re-sealed "
                f"{result.resealed:,}, left to concurrent writers {result.skipped_concurrent:,}"
            )
            if result.failed:
                raise CommandError(
                    f"{result.failed:,} sealed values did not open for their rows and were left as they are: "
                    "values altered or swapped in the database, or sealed by an earlier release (set "
                    "OWABI_ACCEPT_UNBOUND_SEALS=1 for the upgrade and run this again)"
                )
