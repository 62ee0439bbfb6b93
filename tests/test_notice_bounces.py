"""Bounces and complaints are matched to notices by Message-ID; a bounced e-mail falls back to a letter."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from owabi.notices import bounces, setup
from owabi.notices.models import Notice
from owabi.notices.sending import send_email
from owabi.notices.services import prepare
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import REPO

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLE = REPO / "docs" / "notice-setup.example.toml"
ROWS = (
    "record_id,subject_name,subject_birth_date,postal_code,address,email\n"
    "A1,山田 太郎,1970-01-01,100-0001,東京都千代田区千代田1-1,taro@example.jp\n"
    "A2,鈴木 花子,1980-02-02,,,hanako@example.jp\n"
    "A3,佐藤 健,1990-03-03,530-0001,大阪府大阪市北区梅田1-1,ken@example.jp\n"
)


def _dsn(original_id: str, action: str, status: str) -> str:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.jp>\n"
        "To: oshirase@sample-travel.example.jp\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThe message could not be delivered.\n\n"
        "--B\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.jp\n\n"
        f"Final-Recipient: rfc822; someone@example.jp\nAction: {action}\nStatus: {status}\n\n"
        "--B\nContent-Type: text/rfc822-headers\n\n"
        f"From: oshirase@sample-travel.example.jp\nMessage-ID: {original_id}\nSubject: x\n\n"
        "--B--\n"
    )


def _arf(original_id: str) -> str:
    return (
        "From: feedback@isp.example.jp\nTo: abuse@sample-travel.example.jp\nSubject: complaint\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="C"\n\n'
        "--C\nContent-Type: text/plain\n\nA user marked this as spam.\n\n"
        "--C\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n\n"
        "--C\nContent-Type: message/rfc822\n\n"
        f"From: oshirase@sample-travel.example.jp\nMessage-ID: {original_id}\nSubject: x\n\nbody\n\n"
        "--C--\n"
    )


@pytest.fixture
def sent(incident, tmp_path: Path) -> dict[str, Notice]:
    path = tmp_path / "rows.csv"
    path.write_text(ROWS, encoding="utf-8")
    import_file(incident=incident, path=path, source="booking", actor="t")
    resolve(incident=incident, actor="t")
    setup.apply(incident=incident, data=setup.load(EXAMPLE), actor="t")
    prepare(incident=incident, actor="t")
    assert send_email(incident=incident, actor="t").sent == 3  # Django's test mail backend (locmem)
    return {n.content["to"]["name"]: n for n in Notice.objects.filter(incident=incident)}


def test_an_mbox_of_reports_bounces_records_complaints_and_ignores_the_rest(
    incident, sent: dict[str, Notice], tmp_path: Path
) -> None:
    mbox = tmp_path / "returns.mbox"
    messages = [
        _dsn(sent["山田 太郎"].message_id, "failed", "5.1.1"),  # hard bounce, has an address
        _dsn(sent["鈴木 花子"].message_id, "failed", "5.2.2"),  # hard bounce, no address
        _dsn(sent["佐藤 健"].message_id, "delayed", "4.4.1"),  # temporary
        _dsn("<someone-else@example.jp>", "failed", "5.1.1"),  # not ours
        _arf(sent["佐藤 健"].message_id),
        # Our shape, but a notice that was not sent with it, and another incident's: both not ours.
        _dsn(sent["佐藤 健"].message_id.replace("@", "0@", 1), "failed", "5.1.1"),
        _dsn(
            sent["佐藤 健"].message_id.replace(f"owabi.{incident.pk}.", f"owabi.{incident.pk + 1}."),
            "failed",
            "5.1.1",
        ),
    ]
    mbox.write_text("".join(f"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n{m}\n" for m in messages))
    result = bounces.apply_reports(incident=incident, reports=bounces.read_reports(mbox), actor="t")
    assert (result.reports, result.bounced, result.complaints, result.ignored) == (7, 2, 1, 4)
    assert result.letters == 1  # 山田 has a postal address; 鈴木 has none
    by_name = {n.content["to"]["name"]: n for n in Notice.objects.filter(channel="email")}
    assert by_name["山田 太郎"].status == "bounced" and by_name["山田 太郎"].last_error == "bounce 5.1.1"
    assert by_name["鈴木 花子"].status == "bounced"
    assert by_name["佐藤 健"].status == "sent" and by_name["佐藤 健"].last_error == "complaint"
    letter = Notice.objects.get(channel="letter")
    assert letter.recipient_id == sent["山田 太郎"].recipient_id and letter.status == "prepared"
    assert letter.code != sent["山田 太郎"].code

    again = bounces.apply_reports(incident=incident, reports=bounces.read_reports(mbox), actor="t")
    assert (again.bounced, again.letters) == (0, 0)  # nothing twice


def test_a_single_dsn_and_a_provider_csv_are_read_and_bad_csv_is_refused(
    incident, sent: dict[str, Notice], tmp_path: Path, capsys
) -> None:
    eml = tmp_path / "bounce.eml"
    eml.write_text(_dsn(sent["佐藤 健"].message_id, "failed", "5.1.1"))
    assert bounces.read_reports(eml) == [bounces.Report(sent["佐藤 健"].message_id, "bounce", "5.1.1")]

    provider = tmp_path / "provider.csv"
    provider.write_text(f"message_id,type,status\n{sent['山田 太郎'].message_id},bounce,5.1.1\n")
    call_command("notices", "bounces", "--incident", incident.slug, str(provider))
    out = capsys.readouterr().out
    assert "1 reports: 1 bounced" in out and "1 letters prepared instead" in out

    broken = tmp_path / "broken.csv"
    broken.write_text("message_id,type\nnot-an-id,bounce\n")
    with pytest.raises(CommandError, match=r"broken.csv, line 2: needs a <message-id>"):
        call_command("notices", "bounces", "--incident", incident.slug, str(broken))
    missing = tmp_path / "nocols.csv"
    missing.write_text("email\nx@example.jp\n")
    with pytest.raises(CommandError, match=r"nocols.csv, line 1: the columns message_id and type"):
        call_command("notices", "bounces", "--incident", incident.slug, str(missing))
