"""`owabi redress setup|codes|stock`: the compensation catalog and its gift-code pool.
`owabi redress payouts …`: payout batches as 全銀 総合振込 files and the bank's results (docs/payouts.md).
`owabi redress export-requests`: done deletions and opt-outs for the company's other systems
(docs/exports.md)."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from owabi.core.files import write_private
from owabi.incidents.cli import incident_or_error
from owabi.incidents.models import Incident
from owabi.notices import services as notice_services
from owabi.redress import crm, payouts, selectors, services
from owabi.redress.models import PayoutBatch


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
        self._payout_parsers(sub.add_parser("payouts", help="Pay approved claims by 全銀 総合振込 files"))
        crm = sub.add_parser(
            "export-requests",
            help="Write the done deletion and opt-out requests as CSV for the company's other systems",
        )
        crm.add_argument("--incident", required=True, help="incident slug")
        crm.add_argument("--out", required=True, metavar="FILE.csv", help="written 0600 (docs/exports.md)")
        crm.add_argument("--since", metavar="YYYY-MM-DD", help="only requests done on or after this day")

    def _payout_parsers(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="payout_action", required=True)
        setup = sub.add_parser(
            "setup", help="Load the company's account from [redress.payer] of a setup TOML"
        )
        setup.add_argument("--from", dest="path", required=True, metavar="FILE.toml", help="the setup file")
        create = sub.add_parser("create", help="Put the approved claims into a new draft batch")
        create.add_argument(
            "--date", required=True, help="振込指定日 YYYY-MM-DD (moved to a bank business day)"
        )
        create.add_argument("--limit", type=int, default=payouts.zengin.MAX_RECORDS, help="most payouts")
        create.add_argument("--today", help="YYYY-MM-DD (tests and rehearsals)")
        approve = sub.add_parser("approve", help="Approve a draft batch (not by its creator)")
        export = sub.add_parser("export", help="Write an approved batch's 総合振込 file")
        export.add_argument("--out", required=True, metavar="DIR", help="a private (0700) folder")
        export.add_argument("--again", action="store_true", help="write an exported batch's file once more")
        export.add_argument("--reason", default="", help="why (--again)")
        export.add_argument("--today", help="YYYY-MM-DD (tests and rehearsals)")
        cancel = sub.add_parser("cancel", help="Cancel a batch that has not been exported")
        cancel.add_argument("--reason", required=True, help="why")
        for command in (approve, export, cancel):
            command.add_argument("batch", metavar="BATCH", help="the batch's reference (B-XXXXX-XXXXX)")
        results = sub.add_parser("results", help="Import the bank's result file: paid or returned")
        results.add_argument("path", metavar="FILE", help="the bank's result file (総合振込 layout)")
        listing = sub.add_parser("list", help="The incident's batches")
        for command in (setup, create, approve, export, cancel, results, listing):
            command.add_argument("--incident", required=True, help="incident slug")
        for command in (create, approve, export, cancel, results):
            command.add_argument(
                "--as", dest="user", required=True, metavar="USER", help="your staff user name"
            )

    def handle(self, *args: Any, **options: Any) -> None:
        incident = incident_or_error(options["incident"])
        try:
            getattr(self, f"_{options['action'].replace('-', '_')}")(incident, options)
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

    def _payouts(self, incident: Incident, options: dict[str, Any]) -> None:
        getattr(self, f"_payouts_{options['payout_action']}")(incident, options)

    def _user(self, options: dict[str, Any]) -> User:
        user = User.objects.filter(username=options["user"], is_active=True, is_staff=True).first()
        if user is None:
            raise CommandError(f"--as {options['user']}: no active staff user of that name")
        return user

    def _batch(self, incident: Incident, options: dict[str, Any]) -> PayoutBatch:
        batch = payouts.batch_of(incident, options["batch"])
        if batch is None:
            raise CommandError(f"incident {incident.slug}: no batch {options['batch']!r}")
        return batch

    @staticmethod
    def _day(text: str | None, flag: str) -> date | None:
        try:
            return date.fromisoformat(text) if text else None
        except ValueError:
            raise CommandError(f"{flag} must be YYYY-MM-DD, got {text!r}") from None

    def _payouts_setup(self, incident: Incident, options: dict[str, Any]) -> None:
        path = Path(options["path"])
        try:
            data = notice_services.load_setup(path)
        except notice_services.SetupError as error:
            raise CommandError(str(error)) from None
        payer = (data.get("redress") or {}).get("payer")
        if not isinstance(payer, dict):
            raise CommandError(f"{path.name}: no [redress.payer] table")
        payouts.set_payer(incident=incident, payer=payer, actor="cli", source=path.name)
        self.stdout.write(f"{incident.slug}: payer account set")

    def _payouts_create(self, incident: Incident, options: dict[str, Any]) -> None:
        result = payouts.create_batch(
            incident=incident,
            transfer_date=self._day(options["date"], "--date") or date.min,
            created_by=self._user(options),
            limit=options["limit"],
            today=self._day(options["today"], "--today"),
        )
        batch = result.batch
        moved = f" (banks are closed on {batch.requested_date})" if result.moved else ""
        self.stdout.write(
            f"batch {batch.reference}: {batch.count:,} payouts, {batch.total_yen:,} yen, "
            f"transfer date {batch.transfer_date}{moved}; a second staff user approves it next"
        )
        if result.waiting:
            self.stdout.write(f"  {result.waiting:,} more approved claims wait for the next batch")
        for reference, what in result.left_out[:50]:
            self.stdout.write(f"  left out: claim {reference}: {what} does not check; fix the account")

    def _payouts_approve(self, incident: Incident, options: dict[str, Any]) -> None:
        batch = payouts.approve_batch(batch=self._batch(incident, options), approved_by=self._user(options))
        self.stdout.write(
            f"batch {batch.reference}: approved ({batch.count:,} payouts, {batch.total_yen:,} yen)"
        )

    def _payouts_export(self, incident: Incident, options: dict[str, Any]) -> None:
        export = payouts.export_batch(
            batch=self._batch(incident, options),
            exported_by=self._user(options),
            out=Path(options["out"]),
            again=options["again"],
            reason=options["reason"],
            today=self._day(options["today"], "--today"),
        )
        self.stdout.write(
            f"{export.path}: {export.count:,} transfers, {export.total_yen:,} yen, sha256 {export.sha256}"
        )
        if export.again:
            self.stdout.write(
                "  the same file as before: upload it only if the bank never received the first"
            )

    def _payouts_cancel(self, incident: Incident, options: dict[str, Any]) -> None:
        batch = payouts.cancel_batch(
            batch=self._batch(incident, options), cancelled_by=self._user(options), reason=options["reason"]
        )
        self.stdout.write(f"batch {batch.reference}: cancelled; its claims wait for the next batch")

    def _payouts_results(self, incident: Incident, options: dict[str, Any]) -> None:
        path = Path(options["path"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        result = payouts.import_results(incident=incident, path=path, imported_by=self._user(options))
        self.stdout.write(
            f"batch {result.batch.reference}: {result.paid:,} paid, {result.returned:,} returned, "
            f"{result.unchanged:,} as before, {result.pending:,} still pending"
        )

    def _payouts_list(self, incident: Incident, options: dict[str, Any]) -> None:
        for batch in payouts.batches(incident):
            self.stdout.write(
                f"{batch.reference}  {batch.status:<9} {batch.transfer_date}  {batch.count:>6,} payouts  "
                f"{batch.total_yen:>14,} yen"
            )

    def _export_requests(self, incident: Incident, options: dict[str, Any]) -> None:
        out = Path(options["out"])
        if out.is_dir():
            raise CommandError(f"--out {out}: a folder; name the file to write")
        export = crm.export_requests(
            incident=incident, actor="cli", since=self._day(options["since"], "--since"), via="file"
        )
        with write_private(out, newline="") as handle:
            handle.write(export.text)
        self.stdout.write(
            f"{out}: {export.rows:,} records of {export.requests:,} done requests, sha256 {export.sha256}"
        )
        if export.without_records:
            self.stdout.write(
                f"  {len(export.without_records):,} requests tie to no record; tell the other systems by "
                "hand: " + ", ".join(export.without_records[:20])
            )
