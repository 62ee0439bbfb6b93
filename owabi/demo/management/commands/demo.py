"""`owabi demo`: the embedded default — a synthetic incident through the whole pipeline, then the server."""

from __future__ import annotations

import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from owabi.core import audit, keys, staff
from owabi.core.files import private_dir, write_private
from owabi.core.management.arguments import positive_int
from owabi.incidents.models import Incident
from owabi.incidents.selectors import get_incident
from owabi.incidents.services import create_incident
from owabi.notices import selectors as notice_selectors
from owabi.notices import services as notice_services
from owabi.notices.models import Notice, NoticeSetup
from owabi.records.models import LeakRecord
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from owabi.redress import selectors as redress_selectors
from owabi.redress import services as redress_services
from owabi.reports import selectors as report_selectors
from owabi.reports import services as report_services

DEMO_SLUG = "demo"
DEMO_STAFF = "demo-manager"


class Command(BaseCommand):
    help = "Run the demo: migrate, generate a synthetic leak, run the pipeline, serve on 127.0.0.1:8000."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--people", type=positive_int, default=2000, help="leaked records to generate (default 2000)"
        )
        parser.add_argument("--seed", type=int, default=7, help="same seed, same people (default 7)")
        parser.add_argument("--no-serve", action="store_true", help="stop after the pipeline")
        parser.add_argument(
            "--addr", default="127.0.0.1:8000", help="where to serve (default 127.0.0.1:8000)"
        )

    def step(self, text: str) -> float:
        self.stderr.write(f"• {text}")
        return time.monotonic()

    def handle(self, *args: Any, **options: Any) -> None:
        started = self.step("migrating the database")
        call_command("migrate", verbosity=0, interactive=False)
        if any("not yet bound" in key_id for key_id in keys.count_by_key()):
            # A demo database made by a release before row binding: re-bind it (production does this
            # step by step, docs/operations.md "Upgrading to row-bound sealed values").
            self.step("re-binding the sealed values of an earlier release to their rows")
            keys.rotate(actor="demo", accept_unbound=True)

        incident = get_incident(slug=DEMO_SLUG) or self._create_incident()
        demo_dir = Path(settings.DATA_DIR) / "demo"
        private_dir(demo_dir)
        csv_path = demo_dir / f"leak-{options['people']}-{options['seed']}.csv"
        if not csv_path.exists():
            self.step(f"generating {options['people']:,} synthetic leaked records")
            call_command(
                "synth",
                records=options["people"],
                seed=options["seed"],
                out=str(csv_path),
                stdout=self.stderr,
            )
        self.step("importing them (encrypted at rest, with blind indexes)")
        result = import_file(incident=incident, path=csv_path, source="demo", actor="demo")
        source = result.source_file
        self.stderr.write(
            f"  {csv_path.name}: in {source.rows_in:,}, ok {source.rows_ok:,}, "
            f"rejected {source.rows_rejected:,}" + (" (already imported)" if result.already_imported else "")
        )
        self.step("resolving records into people and households")
        resolved = resolve(incident=incident, actor="demo")
        self.stderr.write(
            f"  {resolved.records:,} records -> {resolved.subjects:,} people -> "
            f"{resolved.recipients:,} recipients "
            f"({resolved.review_pairs:,} uncertain pairs queued for review)"
        )
        self.step("preparing one notice per recipient (e-mail where there is an address, else a letter)")
        example = Path(settings.BASE_DIR) / "docs" / "notice-setup.demo.toml"
        if not NoticeSetup.objects.filter(incident=incident).exists():
            notice_services.apply_setup(
                incident=incident, data=notice_services.load_setup(example), actor="demo"
            )
        if not redress_selectors.catalog(incident.pk):
            data = notice_services.load_setup(example)
            redress_services.set_catalog(incident=incident, options=data["redress"]["options"], actor="demo")
            self._gift_codes(incident, demo_dir, people=options["people"])
        prepared = notice_services.prepare(incident=incident, actor="demo")
        self.stderr.write(
            f"  {prepared.created['email']:,} e-mail and {prepared.created['letter']:,} letter notices "
            f"created ({prepared.existing:,} already there, {prepared.unreachable:,} recipients unreachable)"
        )
        outbox = getattr(settings, "EMAIL_FILE_PATH", None)
        self.step(f"sending the e-mail notices ({'to ' + str(outbox) if outbox else 'through SMTP'})")
        sent = notice_services.send_email(incident=incident, actor="demo")
        self.stderr.write(f"  {sent.sent:,} sent, {sent.bounced:,} bounced, {sent.failed:,} failed attempts")
        letters_dir = demo_dir / "letters"
        self.step(f"printing the letters to {letters_dir}")
        printed = notice_services.print_letters(incident=incident, out=letters_dir, actor="demo")
        self.stderr.write(
            f"  {printed.letters:,} letters, {printed.pages:,} pages in {len(printed.files):,} PDF files"
        )
        self.step("drafting the 確報 for the regulator and the public announcement (公表)")
        self._reports(incident)
        first = Notice.objects.filter(incident=incident, reminder_of=None).order_by("pk").first()
        sample = notice_selectors.display_code(first.code) if first else "CODE"
        sample_key = notice_selectors.login_key_of(first.code) if first else "KEY"
        username, password = self._staff_user()
        audit.anchor_if_witnessed(actor="demo")
        records = LeakRecord.objects.filter(incident=incident).count()
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"owabi demo ready in {time.monotonic() - started:.1f}s: incident '{incident.slug}', "
                    f"{records:,} leaked records, {resolved.subjects:,} people, "
                    f"{resolved.recipients:,} recipients",
                    f"  portal:         http://{options['addr']}/  registration code {sample}  login key "
                    f"{sample_key}",
                    f"  staff pages:    http://{options['addr']}/staff/  user {username}  password {password}"
                    f"  (also in {Path(settings.DATA_DIR) / 'demo-staff.txt'})",
                    f"                  second factor: the authenticator link in that file, or "
                    f".venv/bin/owabi staff code {username}  (development only)",
                    f"  regulator:      http://{options['addr']}/staff/report?incident={incident.slug}&stage=final"
                    "  (deadlines, 確報 draft, 公表文)",
                    "  audit check:    .venv/bin/owabi audit verify",
                    f"  e-mails:        {outbox or 'sent through SMTP'}",
                    f"  letters (PDF):  {letters_dir}",
                    f"  a notice:       .venv/bin/owabi notices preview --incident demo --code {sample} "
                    "--reason demo",
                    "  counts:         .venv/bin/owabi notices status --incident demo",
                    "  reminders:      .venv/bin/owabi notices remind --incident demo --today "
                    f"{(timezone.localdate() + timedelta(days=21)).isoformat()}  (as if 21 days had passed), "
                    "then notices send / print",
                    f"  synthetic data: {csv_path} (truth: {csv_path.with_suffix('.truth.csv').name})",
                    "",
                ]
            )
        )
        if options["no_serve"]:
            return
        self.stdout.write(f"serving on http://{options['addr']}/  (Ctrl-C stops)")
        sys.stdout.flush()
        call_command("runserver", options["addr"], use_reloader=False, insecure_serving=True)

    def _reports(self, incident: Incident) -> None:
        """A first saved 確報 with every text part written, and the public announcement saved and
        published (the 確報's item 7 says so). Once only: a second run keeps what staff edited since."""
        setup = NoticeSetup.objects.get(incident=incident)
        ja, en = setup.texts.get("ja", {}), setup.texts.get("en", {})
        if not report_selectors.announcements(incident):
            body = "\n\n".join(
                f"【{heading}】\n{ja[key]}"
                for heading, key in (
                    ("何が起きたか", "summary"),
                    ("原因", "cause"),
                    ("当社の対応", "measures"),
                    ("お詫びと補償", "redress"),
                )
                if ja.get(key)
            )
            contact = f"【お問い合わせ】\n専用窓口 {setup.phone}（{setup.phone_hours}）\n{setup.portal_url}"
            english = "\n\n".join(
                en[key] for key in ("summary", "cause", "measures", "redress") if en.get(key)
            )
            try:
                announcement = report_services.save_announcement(
                    incident=incident,
                    actor="demo",
                    title="お客さま情報の流出に関するお詫びとお知らせ",
                    body=f"{body}\n\n{contact}\n\n{setup.sender_name}",
                    body_en=english,
                )
                report_services.publish_announcement(
                    incident=incident, actor="demo", number=announcement.number
                )
            except ValidationError as refused:  # a synthetic person named like the company's text
                self.stderr.write(f"  announcement not saved: {' '.join(refused.messages)}")
        if not report_selectors.versions(incident, "final"):
            if report_selectors.current_assessment(incident) is None:
                report_services.assess(incident=incident, actor="demo")
            version = report_services.save_draft(
                incident=incident, stage="final", actor="demo", texts=self._final_texts(incident, setup)
            )
            self.stderr.write(
                f"  確報 draft version {version.number} saved (figures as of {version.as_of:%H:%M})"
            )

    @staticmethod
    def _final_texts(incident: Incident, setup: NoticeSetup) -> dict[str, str]:
        published = report_selectors.published_announcement(incident)
        publication = (
            f"{published.published_at:%Y年%-m月%-d日}、当社ウェブサイト（{setup.portal_url}）に"
            "お詫びとお知らせを掲載した。"
            if published and published.published_at
            else "当社ウェブサイトへの掲載を準備中。"
        )
        return {
            "cause": setup.texts.get("ja", {}).get("cause", "") or incident.cause,
            "harm": (
                "クレジットカード番号の下4桁・カードブランドが含まれ、セキュリティコードも漏えいしたと判断したため、"
                "不正利用による財産的被害のおそれがある。報告時点で、不正利用の申告はお問い合わせ窓口に寄せられた"
                "ものに限られ、件数は本人への対応の項に示す。なりすましの勧誘・詐欺の電話やメールのおそれがある。"
            ),
            "response": (
                "本人ごとに、漏えいした項目を示したお知らせをメールで送付し、メールアドレスのない方・メールが"
                f"届かなかった方には郵送した。専用窓口（{setup.phone}）とお客さま用サイトを開設した。"
            ),
            "publication": publication,
            "prevention": (
                "委託先の顧客データベースへのアクセス権限を業務に必要な範囲に限り、大量の複製・持ち出しを"
                "検知する仕組みを導入する。委託先の監督（定期監査）を強化する。"
            ),
            "other": "警察に被害を申告し、名簿業者に情報の利用停止と削除を求めている。",
        }

    def _gift_codes(self, incident: Incident, demo_dir: Path, *, people: int) -> None:
        """A synthetic pool for the demo's code option, as a gift provider's CSV would come."""
        path = demo_dir / "gift-codes.csv"
        with write_private(path) as handle:
            handle.write("code,gift_id,management_number,expires\n")
            for number in range(people):
                code = "-".join(secrets.token_hex(2).upper() for _ in range(4))
                handle.write(f"DEMO-{code},G{number + 1:09d},M{secrets.randbelow(10**10):010d},2027-12-31\n")
        redress_services.import_codes(incident=incident, option_key="emoney", path=path, actor="demo")

    def _create_incident(self) -> Incident:
        today = timezone.localdate()
        return create_incident(
            actor="demo",
            slug=DEMO_SLUG,
            name="【デモ】会員情報漏えい事案",
            discovered_on=today - timedelta(days=3),
            occurred_from=today - timedelta(days=40),
            occurred_to=today - timedelta(days=5),
            cause="委託先従業員による顧客データベースの不正な持ち出し（デモ）",
            malicious=True,
            declared_categories=["card_security_code"],
        )

    def _staff_user(self) -> tuple[str, str]:
        """The demo's staff account (a manager, and a superuser for Django's admin), with a TOTP second
        factor; its password and authenticator link live in a git-ignored file only the owner reads."""
        path = Path(settings.DATA_DIR) / "demo-staff.txt"
        user_model = get_user_model()
        if path.exists() and user_model.objects.filter(username=DEMO_STAFF).exists():
            username, password, _ = path.read_text().split()
            return username, password
        user_model.objects.filter(username=DEMO_STAFF).delete()
        made = staff.add_staff(username=DEMO_STAFF, roles=["manager"], actor="demo")
        user_model.objects.filter(username=DEMO_STAFF).update(is_superuser=True)
        with write_private(path) as handle:
            handle.write(f"{DEMO_STAFF} {made.password} {made.otpauth_url}\n")
        return DEMO_STAFF, made.password
