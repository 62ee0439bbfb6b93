"""`owabi notices setup|prepare|send|print|remind|status|returned|bounces|preview`."""

from __future__ import annotations

import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core.management.arguments import input_file, output_dir, positive_int
from owabi.core.management.witness import anchor_after_job
from owabi.incidents.cli import incident_or_error
from owabi.incidents.models import Incident
from owabi.notices import selectors, services
from owabi.notices.models import Notice, NoticeSetup

INCIDENT = "the incident's slug (owabi incident list)"
# One PDF file and one audit event (naming its letters) per batch: past this a file is unwieldy for
# the print vendor and the event large.
MAX_LETTERS_PER_FILE = 10_000


class Command(BaseCommand):
    help = "Set up, prepare, send, print, remind and follow up an incident's notices (one per recipient)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(
            dest="action",
            required=True,
            metavar="{setup,prepare,send,print,remind,status,returned,bounces,preview}",
        )
        load = sub.add_parser("setup", help="Load the notice setup (sender, phone, portal, texts) from TOML")
        load.add_argument("--incident", required=True, help=INCIDENT)
        load.add_argument(
            "--from",
            dest="path",
            required=True,
            type=input_file,
            metavar="FILE.toml",
            help="the setup (example: docs/notice-setup.example.toml)",
        )
        run = sub.add_parser("prepare", help="Create one notice per recipient per channel (idempotent)")
        run.add_argument("--incident", required=True, help=INCIDENT)
        run.add_argument(
            "--workers",
            type=positive_int,
            default=None,
            help="processes building notices (default: one per core if large)",
        )
        run.add_argument(
            "--window",
            type=positive_int,
            default=None,
            help="recipients per window, one transaction each (default 2000)",
        )
        send = sub.add_parser("send", help="Send the prepared e-mail notices, each once (resumable)")
        send.add_argument("--incident", required=True, help=INCIDENT)
        send.add_argument("--channel", choices=["email"], required=True, help="letters: `notices print`")
        send.add_argument(
            "--workers",
            type=int,
            default=2,
            help="SMTP connections (threads) per process (default 2)",
        )
        send.add_argument(
            "--processes",
            type=int,
            default=min(2, os.cpu_count() or 1),
            help="sender processes, each with --workers threads (default 2, or 1 on one core)",
        )
        send.add_argument("--rate", type=float, default=None, help="at most this many e-mails per second")
        send.add_argument(
            "--lease",
            type=int,
            default=120,
            help="seconds before a stopped sender's notices are retried (default 120; more than twice "
            "OWABI_EMAIL_TIMEOUT)",
        )
        send.add_argument("--limit", type=int, default=None, help="stop after about this many (a trial run)")
        send.add_argument(
            "--batch", type=int, default=200, help="notices a sender leases at a time (default 200)"
        )
        again = sub.add_parser("remind", help="Prepare the reminders the setup's rules call for today")
        again.add_argument("--incident", required=True, help=INCIDENT)
        again.add_argument("--rule", default=None, help="only this rule (default: every rule)")
        again.add_argument("--today", default=None, metavar="YYYY-MM-DD", help="as if it were this date")
        state = sub.add_parser("status", help="Count notices and reminders by channel and status")
        state.add_argument("--incident", required=True, help=INCIDENT)
        out = sub.add_parser("print", help="Write the prepared letters as batch PDFs plus a vendor manifest")
        out.add_argument("--incident", required=True, help=INCIDENT)
        out.add_argument(
            "--out",
            required=True,
            type=output_dir,
            metavar="DIR",
            help="folder for the PDFs and the manifest",
        )
        out.add_argument(
            "--batch",
            type=int,
            default=services.LETTER_BATCH,
            help=(
                f"letters per PDF file (default {services.LETTER_BATCH:,}, at most {MAX_LETTERS_PER_FILE:,})"
            ),
        )
        back = sub.add_parser("returned", help="Record returned letters (CSV: reference,reason)")
        back.add_argument("--incident", required=True, help=INCIDENT)
        back.add_argument(
            "path",
            type=input_file,
            metavar="FILE",
            help="CSV with reference (L000000123) and reason (宛所不明, …)",
        )
        fed = sub.add_parser("bounces", help="Record bounces and complaints (DSN/mbox or provider CSV)")
        fed.add_argument("--incident", required=True, help=INCIDENT)
        fed.add_argument(
            "path",
            type=input_file,
            metavar="FILE",
            help=".eml DSN, an mbox, or a CSV (message_id,type[,status])",
        )
        show = sub.add_parser("preview", help="Print one notice as it will be sent (audited: it shows PII)")
        show.add_argument("--incident", required=True, help=INCIDENT)
        show.add_argument("--code", required=True, help="the notice's registration code")
        show.add_argument(
            "--part",
            choices=["email", "html", "letter"],
            default="email",
            help="the e-mail's text (default), its HTML, or the letter's text",
        )
        show.add_argument("--rule", default=None, help="show this rule's reminder instead of the notice")
        show.add_argument("--reason", required=True, help="why you look at it (kept in the audit log)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        # A closed incident (retention ran) still shows its counts; nothing is made, sent or shown for it.
        incident = incident_or_error(options["incident"], open_only=action != "status")
        if action == "setup":
            try:
                done = services.apply_setup(
                    incident=incident,
                    data=services.load_setup(Path(options["path"])),
                    actor="cli",
                    source=Path(options["path"]).name,
                )
            except services.SetupError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(
                f"notice setup of {incident.slug}: revision {done.revision}, policy {done.policy}"
            )
        elif action == "prepare":
            self._prepare(incident, options)
        elif action == "send":
            self._send(incident, options)
        elif action == "remind":
            self._remind(incident, options)
        elif action == "status":
            self._status(incident)
        elif action == "print":
            self._print(incident, Path(options["out"]), options["batch"])
        elif action == "returned":
            try:
                back = services.record_returned(incident=incident, path=Path(options["path"]), actor="cli")
            except services.ReturnedFileError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(
                f"returned letters: {back.returned:,} recorded, {back.already:,} already recorded"
            )
        elif action == "bounces":
            self._bounces(incident, Path(options["path"]))
        else:
            self._preview(incident, options)

    def _prepare(self, incident: Incident, options: dict[str, Any]) -> None:
        started = time.monotonic()
        first: list[int] = []  # recipients already done when this process started (a resumed run)

        def progress(done: int, total: int) -> None:
            first[:] = first or [done]
            elapsed = time.monotonic() - started
            rate = (done - first[0]) / max(elapsed, 1e-9)
            sys.stderr.write(f"\r{done:,}/{total:,} recipients ({elapsed:.1f}s, {rate:,.0f} recipients/s)")
            sys.stderr.flush()

        try:
            result = services.prepare(
                incident=incident,
                actor="cli",
                progress=progress,
                workers=options["workers"],
                window=options["window"],
            )
        except (services.NoticeSetupMissing, services.IncidentBusy) as error:
            raise CommandError(str(error)) from None
        sys.stderr.write("\n")
        self.stdout.write(
            f"notices: {result.created['email']:,} e-mail and {result.created['letter']:,} letter created, "
            f"{result.existing:,} already there; {result.unreachable:,} recipients have neither a usable "
            "e-mail address nor a postal address (they are reached by the public announcement and the "
            "portal's lookup)" + (f"; the run was resumed {result.resumed} time(s)" if result.resumed else "")
        )
        anchor_after_job(self)

    def _send(self, incident: Incident, options: dict[str, Any]) -> None:
        if not NoticeSetup.objects.filter(incident=incident).exists():
            raise CommandError(f"incident {incident.slug}: no notice setup (owabi notices setup)")
        started = time.monotonic()
        try:
            result = services.send_email(
                incident=incident,
                actor="cli",
                workers=options["workers"],
                processes=options["processes"],
                rate=options["rate"],
                lease_seconds=options["lease"],
                limit=options["limit"],
                batch=options["batch"],
            )
        except services.SendOptionError as error:
            raise CommandError(f"--{error.option} {error.rule}") from None
        elapsed = time.monotonic() - started
        errors = ", ".join(f"{name} x{count}" for name, count in sorted(result.errors.items()))
        recovered = (
            f"; {result.recovered:,} accepted by the mail server before a sender stopped, recorded now"
            if result.recovered
            else ""
        )
        self.stdout.write(
            f"e-mail: {result.sent:,} sent ({result.reminders:,} of them reminders), "
            f"{result.bounced:,} bounced (they fall back to letters), "
            f"{result.failed:,} failed attempts{f' ({errors})' if errors else ''} in {elapsed:.1f}s"
            f"{recovered}; {result.left:,} still to send"
        )
        anchor_after_job(self)
        if result.unsent_by_failure:
            given_up = (
                f"; {result.given_up:,} of them failed {services.MAX_ATTEMPTS} times and are no longer tried"
                if result.given_up
                else ""
            )
            raise CommandError(
                f"{result.left:,} e-mail notices are still to send after failed attempts"
                f"{f' ({errors})' if errors else ''}{given_up}: fix the cause and run "
                "`owabi notices send` again"
            )

    def _remind(self, incident: Incident, options: dict[str, Any]) -> None:
        if not NoticeSetup.objects.filter(incident=incident).exists():
            raise CommandError(f"incident {incident.slug}: no notice setup (owabi notices setup)")
        try:
            today = date.fromisoformat(options["today"]) if options["today"] else None
        except ValueError:
            raise CommandError("--today: give a date as YYYY-MM-DD") from None
        try:
            result = services.remind(incident=incident, actor="cli", today=today, only=options["rule"])
        except services.RuleError as error:
            raise CommandError(str(error)) from None
        made = ", ".join(
            f"{rule} by {channel}: {count:,}" for (rule, channel), count in sorted(result.created.items())
        )
        skipped = ", ".join(f"{reason} {count:,}" for reason, count in sorted(result.skipped.items()))
        self.stdout.write(
            f"reminders prepared: {sum(result.created.values()):,}{f' ({made})' if made else ''}; "
            f"not reminded: {skipped or 'none'}"
            + (f"; rules not due today: {', '.join(result.not_due)}" if result.not_due else "")
            + ". Send them with `notices send` and `notices print`."
        )

    def _status(self, incident: Incident) -> None:
        tally = selectors.counts(incident)
        unsettled = selectors.unsettled(incident)
        statuses = [status.value for status in Notice.Status]
        kinds = sorted({kind for kind, _, _ in tally}, key=lambda kind: (kind != "notice", kind))
        self.stdout.write(f"{'':28}" + "".join(f"{status:>11}" for status in statuses))
        for kind in kinds:
            for channel in ("email", "letter"):
                row = [tally.get((kind, channel, status), 0) for status in statuses]
                if any(row):
                    label = f"{kind} {channel}"
                    self.stdout.write(f"{label:28}" + "".join(f"{count:>11,}" for count in row))
        self.stdout.write(
            f"e-mail needing reconciliation (the message may have gone out twice; check the mail "
            f"provider's log): {unsettled.reconcile:,}"
        )
        if unsettled.unrecorded:
            self.stdout.write(
                f"e-mail accepted by the mail server but not recorded as sent yet (the next `notices "
                f"send` records them): {unsettled.unrecorded:,}"
            )

    def _print(self, incident: Incident, out: Path, batch: int) -> None:
        if not 1 <= batch <= MAX_LETTERS_PER_FILE:
            raise CommandError(
                f"--batch must be at least 1 and at most {MAX_LETTERS_PER_FILE:,} letters per PDF file"
            )
        if not NoticeSetup.objects.filter(incident=incident).exists():
            raise CommandError(f"incident {incident.slug}: no notice setup (owabi notices setup)")
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            elapsed = time.monotonic() - started
            sys.stderr.write(f"\rletters: {done:,}/{total:,} printed ({done / max(elapsed, 0.001):,.0f}/s)")
            if done == total:
                sys.stderr.write("\n")

        try:
            result = services.print_letters(
                incident=incident, out=out, actor="cli", batch=batch, progress=progress
            )
        except (
            services.FontMissing,
            services.LetterTooLong,
            services.IncidentBusy,
            services.PrintUnsettled,
        ) as error:
            raise CommandError(str(error)) from None
        for name in result.discarded:
            self.stdout.write(
                f"letters: {name} of a run that stopped before its letters were marked printed was deleted;"
                " they are printed again"
            )
        for name in result.finished:
            self.stdout.write(
                f"letters: {name} of a run that stopped after its letters were marked printed is complete"
                " now, and listed in this run's manifest"
            )
        if not result.letters:
            self.stdout.write(
                f"letters: nothing to print for {incident.slug} (every prepared letter is printed already; "
                "no files written)"
            )
            return
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"letters: {result.letters:,} letters ({result.reminders:,} of them reminders), "
            f"{result.pages:,} pages in {len(result.files):,} "
            f"PDF files under {out} ({elapsed:.1f}s); manifest {result.manifest}"
        )
        anchor_after_job(self)

    def _bounces(self, incident: Incident, path: Path) -> None:
        try:
            reports = services.read_reports(path)
        except services.BounceFileError as error:
            raise CommandError(str(error)) from None
        result = services.apply_reports(incident=incident, reports=reports, actor="cli")
        self.stdout.write(
            f"{path.name}: {result.reports:,} reports: {result.bounced:,} bounced, {result.complaints:,} "
            f"complaints, {result.ignored:,} ignored (temporary, or not our notices); "
            f"{result.letters:,} letters prepared instead"
        )

    def _preview(self, incident: Incident, options: dict[str, Any]) -> None:
        try:
            text = services.preview(
                incident=incident,
                code_typed=options["code"],
                part=options["part"],
                rule=options["rule"] or "",
                actor="cli",
                reason=options["reason"],
            )
        except services.PreviewError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(text)
