"""Reminders: by the team's rules, same code and key, never to those who finished or opted out."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.utils import timezone
from pypdf import PdfReader

from owabi.notices import bounces, codes, engagement, letters, reminders, setup
from owabi.notices.models import Engagement, Notice
from owabi.notices.sending import send_email
from owabi.notices.services import prepare
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import REPO
from tests.mailsink import Sink, smtp_settings

pytestmark = pytest.mark.django_db(transaction=True)  # the sender's threads use their own connections
EXAMPLE = REPO / "docs" / "notice-setup.example.toml"
DEADLINE = date(2027, 3, 31)  # the example's redress deadline; its "deadline" rule starts 14 days before
HEADER = "record_id,subject_name,subject_kana,subject_birth_date,postal_code,address,email\n"
PEOPLE = {  # who: (name, e-mail, address)
    "waits": ("青木 一郎", "aoki@example.jp", ""),
    "signs_in": ("石井 二郎", "ishii@example.jp", ""),
    "finishes": ("上田 三郎", "ueda@example.jp", ""),
    "opts_out": ("江藤 四郎", "eto@example.jp", ""),
    "complains": ("大野 五郎", "ono@example.jp", ""),
    "by_post": ("加藤 六郎", "", "東京都杉並区阿佐谷南1-2-3"),
    "bounces": ("木村 七郎", "nobody@example.jp", "大阪府堺市堺区1-1"),
}


@pytest.fixture
def delivered(incident, tmp_path: Path, sink: tuple[Sink, int]):
    """Every notice sent or printed; then each person does what their key says."""
    handler, port = sink
    path = tmp_path / "people.csv"
    rows = [
        f"R{i},{name},,19{60 + i}-01-01,{'166-0004' if address else ''},{address},{mail}\n"
        for i, (name, mail, address) in enumerate(PEOPLE.values())
    ]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    import_file(incident=incident, path=path, source="booking", actor="t")
    resolve(incident=incident, actor="t", as_of=date(2026, 12, 1))
    setup.apply(incident=incident, data=setup.load(EXAMPLE), actor="t")
    prepare(incident=incident, actor="t")
    with override_settings(**smtp_settings(port)):
        assert send_email(incident=incident, actor="t").sent == 5
    bounces.fall_back_to_letters(incident=incident)  # the bounced address gets a letter
    letters.print_letters(incident=incident, out=tmp_path / "first", actor="t")
    notices = {n.content["to"]["name"]: n for n in Notice.objects.filter(incident=incident, status="sent")}
    first = {who: notices[name] for who, (name, _, _) in PEOPLE.items()}
    signed = first["signs_in"]
    assert engagement.sign_in(codes.group(signed.code).lower(), codes.login_key(signed.code)) == signed
    engagement.record(first["finishes"].recipient_id, "finished")
    engagement.record(first["opts_out"].recipient_id, "reminders_off")
    complaint = bounces.Report(first["complains"].message_id, "complaint", "")
    bounces.apply_reports(incident=incident, reports=[complaint], actor="t")
    handler.messages.clear()
    return first


def _made(incident) -> dict[tuple[str, str], Notice]:
    return {
        (n.rule, n.content["to"]["name"]): n
        for n in Notice.objects.filter(incident=incident).exclude(rule="")
    }


def test_a_reminder_reaches_only_who_has_not_acted_with_the_same_code_and_key(
    incident, delivered, sink: tuple[Sink, int], tmp_path: Path
) -> None:
    handler, port = sink
    today = timezone.localdate()
    early = reminders.remind(incident=incident, actor="t", today=today + timedelta(days=20))
    assert not early.created and early.skipped["not yet due"] == 4 and early.not_due == ["deadline"]

    due = reminders.remind(incident=incident, actor="t", today=today + timedelta(days=21))
    assert dict(due.created) == {("not-signed-in", "email"): 1}
    assert due.skipped == {
        "already acted": 1,
        "finished": 1,
        "opted out": 1,
        "no channel of the rule reaches them": 3,  # e-mail only: the complainer and the two by post
    }
    waits = delivered["waits"]
    reminder = _made(incident)[("not-signed-in", waits.content["to"]["name"])]
    assert reminder.code == waits.code and reminder.reminder_of_id == waits.pk and reminder.channel == "email"
    again = reminders.remind(incident=incident, actor="t", today=today + timedelta(days=22))
    assert not again.created and again.skipped["already reminded"] == 1

    with override_settings(**smtp_settings(port)):
        result = send_email(incident=incident, actor="t")
    assert (result.sent, result.reminders) == (1, 1)
    [(to, message)] = handler.parsed()
    assert to == ["aoki@example.jp"] and "再送" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "あらためてお送りします" in text and "青木 一郎 様" in text
    assert codes.group(waits.code) in text and codes.login_key(waits.code) in text
    assert message["Message-ID"] != waits.message_id  # its own message, the same code
    # RFC 8058: a one-click opt-out the mail provider can POST to, on the portal; the first notice has none.
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = message["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://owabi.sample-travel.example.jp/reminders/off/")
    assert "aoki" not in link and waits.code not in link
    opted = Client(enforce_csrf_checks=True).post(
        "/" + link.split("/", 3)[3], {"List-Unsubscribe": "One-Click"}, HTTP_HOST="testserver"
    )
    assert opted.status_code == 200
    assert Engagement.objects.get(recipient_id=waits.recipient_id).reminders_off_at is not None
    # The reminder's code still signs in as the first notice, and counts as acting.
    assert engagement.sign_in(codes.group(reminder.code), codes.login_key(reminder.code)) == waits
    assert Engagement.objects.get(recipient_id=waits.recipient_id).signed_in_at is not None


def test_the_deadline_rule_reminds_by_letter_where_the_letter_reached_them(
    incident, delivered, tmp_path: Path
) -> None:
    before = reminders.remind(
        incident=incident, actor="t", today=DEADLINE - timedelta(days=15), only="deadline"
    )
    assert before.not_due == ["deadline"] and not before.created
    after = reminders.remind(
        incident=incident, actor="t", today=DEADLINE + timedelta(days=1), only="deadline"
    )
    assert after.not_due == ["deadline"] and not after.created

    due = reminders.remind(incident=incident, actor="t", today=DEADLINE - timedelta(days=14), only="deadline")
    assert dict(due.created) == {("deadline", "email"): 2, ("deadline", "letter"): 2}
    made = _made(incident)
    names = {who: name for who, (name, _, _) in PEOPLE.items()}
    assert {name for _, name in made} == {names[w] for w in ("waits", "signs_in", "by_post", "bounces")}
    # Signed in but compensation not chosen yet: still reminded of the deadline.
    assert made[("deadline", names["signs_in"])].channel == "email"
    # The e-mail bounced, so the letter that replaced it is reminded, with the letter's own code.
    by_post = made[("deadline", names["bounces"])]
    assert by_post.channel == "letter" and by_post.code == delivered["bounces"].code
    assert delivered["bounces"].channel == "letter"

    out = tmp_path / "reminders"
    printed = letters.print_letters(incident=incident, out=out, actor="t")
    assert (printed.letters, printed.reminders) == (2, 2)
    pages = [page.extract_text() for pdf in printed.files for page in PdfReader(pdf).pages]
    for notice in (made[("deadline", names["by_post"])], by_post):
        [first] = [index for index, text in enumerate(pages) if notice.content["to"]["name"] in text]
        page = pages[first] + pages[first + 1]  # a letter has two pages; the deadline is on the second
        assert (
            "【再送】" in page and codes.group(notice.code) in page and codes.login_key(notice.code) in page
        )
        assert "2027年3月31日" in page
    assert printed.manifest is not None
    with printed.manifest.open(encoding="utf-8") as handle:
        assert {row["kind"] for row in csv.DictReader(handle)} == {"reminder"}


def test_choosing_compensation_or_finishing_before_the_run_stops_the_reminder(incident, delivered) -> None:
    engagement.record(delivered["waits"].recipient_id, "redress_chosen")
    engagement.record(delivered["by_post"].recipient_id, "finished")
    engagement.record(delivered["by_post"].recipient_id, "finished")  # twice changes nothing
    due = reminders.remind(incident=incident, actor="t", today=DEADLINE - timedelta(days=1), only="deadline")
    made = {name for _, name in _made(incident)}
    assert made == {PEOPLE["signs_in"][0], PEOPLE["bounces"][0]}
    assert due.skipped["already acted"] == 1 and due.skipped["finished"] == 2


def test_sign_in_fails_the_same_way_for_a_bad_code_an_unknown_code_and_a_wrong_key(
    incident, delivered
) -> None:
    notice = delivered["waits"]
    other = delivered["by_post"]
    unknown = codes.new_code()
    for code, key in (
        ("not a code", codes.login_key(notice.code)),
        (codes.group(unknown), codes.login_key(unknown)),
        (codes.group(notice.code), codes.login_key(other.code)),
        (codes.group(notice.code), ""),
    ):
        assert engagement.sign_in(code, key) is None
    assert not Engagement.objects.filter(
        recipient_id=notice.recipient_id, signed_in_at__isnull=False
    ).exists()


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"name": "Bad Name", "unless": "signed_in", "days_after_sent": 3}, "name must be"),
        ({"name": "x", "unless": "paid", "days_after_sent": 3}, "unless must be one of"),
        ({"name": "x", "unless": "signed_in"}, "exactly one of"),
        (
            {"name": "x", "unless": "signed_in", "days_after_sent": 3, "days_before_deadline": 3},
            "exactly one",
        ),
        ({"name": "x", "unless": "signed_in", "days_after_sent": -1}, "from 0 to 365"),
        ({"name": "x", "unless": "signed_in", "days_after_sent": 3, "channels": ["fax"]}, "channels must"),
        ({"name": "x", "unless": "signed_in", "days_after_sent": 3, "every": 2}, "unknown field 'every'"),
    ],
)
def test_a_bad_reminder_rule_is_refused_by_name_and_field(incident, rule: dict, message: str) -> None:
    data = setup.load(EXAMPLE)
    data["reminders"] = [rule]
    with pytest.raises(setup.SetupError, match=message):
        setup.apply(incident=incident, data=data, actor="t")


def test_a_deadline_rule_needs_a_deadline_and_names_are_unique(incident) -> None:
    data = setup.load(EXAMPLE)
    del data["redress_deadline"]
    with pytest.raises(setup.SetupError, match="'deadline': days_before_deadline needs redress_deadline"):
        setup.apply(incident=incident, data=data, actor="t")
    data = setup.load(EXAMPLE)
    data["reminders"].append(dict(data["reminders"][0]))
    with pytest.raises(setup.SetupError, match="'not-signed-in': the name is used twice"):
        setup.apply(incident=incident, data=data, actor="t")


def test_the_commands_remind_count_apart_and_preview_a_reminder(incident, delivered, capsys) -> None:
    day = (timezone.localdate() + timedelta(days=30)).isoformat()
    call_command("notices", "remind", "--incident", incident.slug, "--today", day, "--rule", "not-signed-in")
    out = capsys.readouterr().out
    assert "reminders prepared: 1 (not-signed-in by email: 1)" in out and "finished 1" in out
    call_command("notices", "status", "--incident", incident.slug)
    table = capsys.readouterr().out
    lines = {" ".join(line.split()[:2]): line.split()[2:] for line in table.splitlines()[1:]}
    assert lines["notice email"] == ["0", "5", "1", "0", "0"]  # prepared, sent, bounced, returned, cancelled
    assert lines["notice letter"] == ["0", "2", "0", "0", "0"]
    assert lines["reminder:not-signed-in email"] == ["1", "0", "0", "0", "0"]
    code = codes.group(delivered["waits"].code)
    preview = ["notices", "preview", "--incident", incident.slug, "--code", code, "--reason", "t", "--rule"]
    call_command(*preview, "not-signed-in")
    assert "再送" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no 'deadline' reminder with that code"):
        call_command(*preview, "deadline")
    with pytest.raises(CommandError, match="no reminder rule named 'weekly'"):
        call_command("notices", "remind", "--incident", incident.slug, "--rule", "weekly")
    with pytest.raises(CommandError, match="--today: give a date"):
        call_command("notices", "remind", "--incident", incident.slug, "--today", "tomorrow")


def test_one_reminder_a_day_when_two_rules_fall_due_together_in_any_window(
    incident, delivered, monkeypatch
) -> None:
    monkeypatch.setattr(reminders, "WINDOW", 2)  # a few recipients per step, as millions would be
    first = reminders.remind(incident=incident, actor="t", today=DEADLINE - timedelta(days=1))
    assert dict(first.created) == {
        ("not-signed-in", "email"): 1,
        ("deadline", "email"): 1,
        ("deadline", "letter"): 2,
    }
    made = _made(incident)
    waits = PEOPLE["waits"][0]
    assert ("not-signed-in", waits) in made and ("deadline", waits) not in made  # the first rule won
    second = reminders.remind(incident=incident, actor="t", today=DEADLINE)
    assert dict(second.created) == {("deadline", "email"): 1}
    assert ("deadline", waits) in _made(incident)
