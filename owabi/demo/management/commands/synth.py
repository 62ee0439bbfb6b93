"""`owabi synth`: write a synthetic leaked-record CSV plus its ground-truth sidecar.

Resolution and notice benchmarks need realistic input whose truth is known; this command is the one
way to make it, so every measurement can be reproduced from (records, seed, as_of).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core.files import private_dir
from owabi.demo import synth


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--as-of must be YYYY-MM-DD, got {text!r}") from exc


class Command(BaseCommand):
    help = "Write N synthetic leaked records to FILE.csv and who is who to FILE.truth.csv (deterministic)."
    requires_system_checks: list[str] = []  # no database or app state needed

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--records", type=int, required=True, help="exact number of records to write")
        parser.add_argument("--seed", type=int, default=0, help="same seed + same args = same bytes")
        parser.add_argument("--out", type=Path, required=True, metavar="FILE.csv", help="output CSV")
        parser.add_argument(
            "--truth", type=Path, default=None, metavar="TRUTH.csv", help="truth CSV (default FILE.truth.csv)"
        )
        parser.add_argument(
            "--as-of",
            type=_date,
            default=synth.DEFAULT_AS_OF,
            help=f"notice date deciding who is a minor (default {synth.DEFAULT_AS_OF.isoformat()})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        records: int = options["records"]
        if records < 0:
            raise CommandError("--records must be >= 0")
        # call_command() hands keyword options over unparsed, so coerce here as well as in argparse.
        out = Path(options["out"])
        truth = Path(options["truth"]) if options["truth"] else synth.default_truth_path(out)
        as_of = options["as_of"]
        as_of = _date(as_of) if isinstance(as_of, str) else as_of
        if truth.resolve() == out.resolve():
            raise CommandError("--truth must differ from --out")
        for path in (out, truth):
            if path.is_dir():
                raise CommandError(f"{path} is a folder; name a file in it")
            try:
                private_dir(path.parent)
            except OSError as error:
                raise CommandError(f"cannot create the folder {path.parent}: {error.strerror}") from None
        started = time.perf_counter()

        def progress(done: int) -> None:
            elapsed = time.perf_counter() - started
            rate = done / elapsed if elapsed > 0 else 0.0
            self.stderr.write(f"synth: {done:,}/{records:,} records ({rate:,.0f} records/s)")

        summary = synth.generate(
            records=records,
            seed=options["seed"],
            out=out,
            truth_out=truth,
            as_of=as_of,
            progress=progress,
        )
        self.stdout.write(
            f"synth: {summary.records:,} records ({summary.persons:,} persons, {summary.recipients:,} "
            f"recipients, {summary.duplicates:,} duplicates) -> {out} + {truth} in {summary.seconds:.1f} s "
            f"({summary.rate:,.0f} records/s)"
        )
