"""E-mail notices go through a real SMTP server (aiosmtpd on 127.0.0.1), each once, even when the
sender is killed and restarted; every batch is audited as it is recorded, a run that leaves notices
unsent by failure exits non-zero, and only a message that may have gone out twice asks for
reconciliation."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from owabi.core import audit
from owabi.core.models import AuditEvent
from owabi.notices import codes, letters, sending, setup
from owabi.notices.models import Notice
from owabi.notices.sending import message_id, send_email
from owabi.notices.services import prepare
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import OWABI, REPO
from tests.mailsink import Sink, free_port, serving, smtp_settings

EXAMPLE = REPO / "docs" / "notice-setup.example.toml"
MAX_KILLS = 5
HEADER = "record_id,subject_name,subject_kana,subject_birth_date,email\n"
FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村"]
GIVEN = ["太郎", "花子", "一郎", "美咲", "健", "結衣"]


def _people(count: int) -> str:
    rows = []
    for i in range(count):
        name = f"{FAMILY[i % len(FAMILY)]} {GIVEN[i // len(FAMILY) % len(GIVEN)]}"
        email = "nobody@example.jp" if i == 0 else f"person{i}@example.jp"
        rows.append(f"P{i},{name},,19{50 + i % 40}-0{1 + i % 9}-1{i % 9},{email}\n")
    return HEADER + "".join(rows)


def _prepared(incident, tmp_path: Path, count: int) -> list[Notice]:
    path = tmp_path / "people.csv"
    path.write_text(_people(count), encoding="utf-8")
    import_file(incident=incident, path=path, source="booking", actor="t")
    resolve(incident=incident, actor="t")
    setup.apply(incident=incident, data=setup.load(EXAMPLE), actor="t")
    prepare(incident=incident, actor="t")
    return list(Notice.objects.filter(incident=incident, channel="email"))


def _audit_counts(incident) -> dict[int, int]:
    """How many `notices.sent` audit events name each notice (sent or bounced)."""
    counts: dict[int, int] = {}
    for event in AuditEvent.objects.filter(action="notices.sent", object_id=str(incident.pk)):
        for pk in event.data["sent"] + event.data["bounced"]:
            counts[pk] = counts.get(pk, 0) + 1
    return counts


def _audited(incident) -> set[int]:
    return set(_audit_counts(incident))


def _sent(incident) -> set[int]:
    """E-mail notices recorded as sent or bounced."""
    done = Notice.objects.filter(incident=incident, channel="email", status__in=["sent", "bounced"])
    return set(done.values_list("pk", flat=True))


def _flagged(incident) -> set[int]:
    return set(
        Notice.objects.filter(incident=incident, needs_reconciliation=True).values_list("pk", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_each_notice_is_sent_once_to_its_own_address_and_a_refusal_bounces(
    incident, tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    notices = _prepared(incident, tmp_path, 12)
    assert len(notices) == 12
    with override_settings(**smtp_settings(port)):
        result = send_email(incident=incident, actor="t", workers=3)
        assert (result.sent, result.bounced) == (11, 1)
        assert send_email(incident=incident, actor="t").sent == 0  # nothing twice
    received = handler.parsed()
    assert len(received) == 11
    by_address = {to[0]: message for to, message in received}
    for notice in Notice.objects.filter(incident=incident):
        address = notice.content["to"]["email"]
        if address.startswith("nobody"):
            assert notice.status == Notice.Status.BOUNCED and notice.last_error == "SMTP 550 at RCPT"
            continue
        assert notice.status == Notice.Status.SENT and notice.sent_at is not None
        message = by_address[address]
        assert message["Message-ID"] == notice.message_id
        assert "株式会社サンプル旅行" in message["From"]
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        for body in (text, html):
            assert f"{notice.content['to']['name']} 様" in body
            assert codes.group(notice.code) in body and codes.login_key(notice.code) in body
        others = [n for n in notices if n.pk != notice.pk]
        assert not any(codes.login_key(other.code) in text for other in others)


@pytest.mark.django_db(transaction=True)
def test_one_connection_carries_many_batches_and_is_renewed_after_its_share(
    incident, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sending, "MESSAGES_PER_CONNECTION", 3)
    handler = Sink()
    _prepared(incident, tmp_path, 12)
    with serving(handler) as port, override_settings(**smtp_settings(port)):
        result = send_email(incident=incident, actor="t", workers=1, batch=2)
    assert (result.sent, result.bounced) == (11, 1)
    # Batches of 2 on a connection until it has carried 3 or more: 4 messages per connection.
    assert handler.greetings == 3
    assert len({message["Message-ID"] for _, message in handler.parsed()}) == 11


@pytest.mark.django_db(transaction=True)
def test_a_trial_run_stops_at_its_limit_and_leaves_the_rest_untouched(
    incident, tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    _prepared(incident, tmp_path, 30)
    with override_settings(**smtp_settings(port)):
        result = send_email(incident=incident, actor="t", workers=2, limit=5)
    # Each worker stops once the run has sent 5; one in flight in the other worker may still land.
    assert 5 <= result.sent <= 6 and len(handler.messages) == result.sent
    rest = Notice.objects.filter(incident=incident, status=Notice.Status.PREPARED)
    assert rest.count() == 30 - result.sent - result.bounced
    assert set(rest.values_list("sending_by", "attempts")) == {("", 0)}  # handed back untried


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_a_sender_killed_at_random_moments_skips_none_and_repeats_none(
    incident, tmp_path: Path, sink: tuple[Sink, int], subprocess_env: dict[str, str], processes: int
) -> None:
    handler, port = sink
    notices = _prepared(incident, tmp_path, 50)
    env = {
        **subprocess_env,
        "OWABI_EMAIL_HOST": "127.0.0.1",
        "OWABI_EMAIL_PORT": str(port),
        "OWABI_EMAIL_USE_TLS": "0",
        "OWABI_EMAIL_TIMEOUT": "1",  # so that a lease of 3 s is long enough (more than twice it)
    }
    command = [*OWABI, "notices", "send", "--incident", incident.slug, "--channel", "email"]
    command += ["--workers", "2", "--processes", str(processes), "--rate", "15", "--lease", "3"]
    command += ["--batch", "5"]  # small leases, so that every sender has work and they overlap
    chooser = random.Random()
    kills = 0
    for _ in range(40):
        before = len(handler.messages)
        sender = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if kills < MAX_KILLS:
            # Kill mid-run at a random point: after 1 to 8 more messages, plus a random part of the
            # next one's cycle (render, renew, send, mark).
            wanted = before + chooser.randint(1, 8)
            deadline = time.monotonic() + 60
            while len(handler.messages) < wanted and sender.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(chooser.uniform(0, 0.07))
            if sender.poll() is None:
                sender.send_signal(signal.SIGKILL)
                sender.wait()
                kills += 1
                time.sleep(0.2)  # what was in flight arrives
                settled = len(handler.messages)
                time.sleep(3.1)  # the killed sender's leases run out
                assert len(handler.messages) == settled  # no sender process outlived the run
                # Every notice recorded as sent is in the audit log, with its batch: the killed run's
                # last batches are recorded (and audited) by the next run, never left unaudited.
                assert _audited(incident) == _sent(incident)
                continue
        sender.wait(timeout=120)
        assert sender.returncode == 0, sender.stderr.read().decode() if sender.stderr else ""
        if not Notice.objects.filter(incident=incident, status=Notice.Status.PREPARED).exists():
            break
        time.sleep(3.1)
    assert kills == MAX_KILLS, "the sender finished before it could be killed often enough"

    ids = [message["Message-ID"] for _, message in handler.parsed()]
    expected = {n.pk: message_id(n, n.incident.notice_setup) for n in notices}
    sent = Notice.objects.filter(incident=incident, status=Notice.Status.SENT)
    assert sent.count() == len(notices) - 1  # all but the refused address: none skipped
    assert set(ids) == {expected[n.pk] for n in sent}
    repeats = len(ids) - len(set(ids))
    # A repeat is possible only for a kill between the server's acceptance and the database write; it
    # is the same message (same Message-ID and text), and at most one per kill and sender process (each
    # process's threads share one pacer, so only one of them is ever in that window).
    assert repeats <= kills * processes
    bodies: dict[str, set[str]] = {}
    for _, message in handler.parsed():
        bodies.setdefault(message["Message-ID"], set()).add(message.get_body(("plain",)).get_content())
    assert all(len(copies) == 1 for copies in bodies.values())
    # Reconciliation asks about every repeat, and about no notice that a kill only took back: at most one
    # open hand-over per killed sender thread (two per process), not the rest of its batches.
    flagged = {expected[pk] for pk in _flagged(incident)}
    assert {i for i in ids if ids.count(i) > 1} <= flagged
    assert len(flagged) <= kills * processes * 2
    assert _audited(incident) == _sent(incident) and all(
        count == 1 for count in _audit_counts(incident).values()
    )
    assert audit.verify().ok


@pytest.mark.django_db(transaction=True)
def test_sender_processes_share_the_work_and_send_each_notice_once(
    incident, tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    handler, port = sink
    notices = _prepared(incident, tmp_path, 30)
    with override_settings(**smtp_settings(port)):
        result = send_email(incident=incident, actor="t", workers=2, processes=2, batch=4)
    assert (result.sent, result.bounced) == (29, 1)
    ids = [message["Message-ID"] for _, message in handler.parsed()]
    assert len(ids) == len(set(ids)) == 29
    assert Notice.objects.filter(incident=incident, status=Notice.Status.SENT).count() == 29
    senders = {n.pk for n in notices}
    assert {int(i.split(".")[2].split("@")[0]) for i in ids} <= senders
    entry = audit.recent(limit=1)[0]
    assert entry.action == "notices.send" and entry.data["processes"] == 2 and entry.data["sent"] == 29


@pytest.mark.django_db(transaction=True)
def test_a_dead_mail_server_fails_fast_and_hands_every_notice_back(incident, tmp_path: Path) -> None:
    notices = _prepared(incident, tmp_path, 6)
    with override_settings(**smtp_settings(free_port())):  # nobody listens there
        started = time.monotonic()
        result = send_email(incident=incident, actor="t", workers=2, batch=4)
    assert time.monotonic() - started < 10
    assert result.sent == 0 and result.failed >= 1
    assert set(result.errors) == {"ConnectionRefusedError"}
    for notice in Notice.objects.filter(pk__in=[n.pk for n in notices]):
        assert notice.status == Notice.Status.PREPARED
        assert (notice.sending_by, notice.lease_until, notice.attempts) == ("", None, 0)


@pytest.mark.django_db(transaction=True)
def test_each_batch_is_recorded_with_its_own_audit_event(incident, tmp_path: Path, sink) -> None:
    handler, port = sink
    _prepared(incident, tmp_path, 10)
    with override_settings(**smtp_settings(port)):
        send_email(incident=incident, actor="t", workers=1, batch=4)
    assert len(handler.messages) == 9
    events = list(AuditEvent.objects.filter(action="notices.sent").order_by("seq"))
    batches = [event.data["sent"] + event.data["bounced"] for event in events]
    assert [len(batch) for batch in batches] == [4, 4, 2]  # one event per batch, as it ended
    assert sorted(pk for batch in batches for pk in batch) == sorted(_sent(incident))
    (bounced,) = [pk for event in events for pk in event.data["bounced"]]
    assert Notice.objects.get(pk=bounced).content["to"]["email"] == "nobody@example.jp"
    assert all(event.actor == "t" and event.data["channel"] == "email" for event in events)
    assert audit.recent(limit=1)[0].action == "notices.send"  # then the run's own summary
    assert audit.verify().ok


class Flaky(Sink):
    """The first message to person3 is received in full and the connection dropped before the reply
    (the server may have delivered it: nobody can know); the first to person5 is cut off at RCPT (not
    delivered). Every later message goes through."""

    def __init__(self) -> None:
        super().__init__()
        self.tripped: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address: str, options) -> str:
        if address == "person5@example.jp" and address not in self.tripped:
            self.tripped.add(address)
            server.transport.close()
            return "421 closing"
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server, session, envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        address = envelope.rcpt_tos[0]
        if address == "person3@example.jp" and address not in self.tripped:
            self.tripped.add(address)
            server.transport.close()
        return reply


def _status(incident, capsys) -> str:
    capsys.readouterr()
    call_command("notices", "status", "--incident", incident.slug)
    return capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_only_a_message_that_may_have_gone_out_twice_asks_for_reconciliation(
    incident, tmp_path: Path, capsys
) -> None:
    _prepared(incident, tmp_path, 8)
    handler = Flaky()
    send = ["notices", "send", "--incident", incident.slug, "--channel", "email"]
    failures = 0
    with serving(handler) as port, override_settings(**smtp_settings(port)):
        for _ in range(4):
            try:
                call_command(*send, "--workers", "1", "--processes", "1", "--batch", "3")
                break
            except CommandError as error:  # a connection lost mid-run leaves notices to send: exit 1
                assert "e-mail notices are still to send after failed attempts" in str(error)
                failures += 1
    assert failures == 2
    by_address = {n.content["to"]["email"]: n for n in Notice.objects.filter(incident=incident)}
    copies = [to[0] for to, _ in handler.messages]
    assert copies.count("person3@example.jp") == 2 and copies.count("person5@example.jp") == 1
    assert _flagged(incident) == {by_address["person3@example.jp"].pk}  # and not person5 (attempts 2)
    assert by_address["person5@example.jp"].attempts == 2
    assert _sent(incident) == set(Notice.objects.filter(incident=incident).values_list("pk", flat=True))
    out = _status(incident, capsys)
    assert "e-mail needing reconciliation (the message may have gone out twice" in out
    assert out.rstrip().endswith("provider's log): 1")


@pytest.mark.django_db(transaction=True)
def test_a_dead_mail_server_fails_the_command_and_asks_for_no_reconciliation(
    incident, tmp_path: Path, capsys
) -> None:
    _prepared(incident, tmp_path, 6)
    with (
        override_settings(**smtp_settings(free_port())),  # nobody listens there
        pytest.raises(CommandError) as failed,
    ):
        call_command("notices", "send", "--incident", incident.slug, "--channel", "email")
    assert str(failed.value).startswith("6 e-mail notices are still to send after failed attempts")
    assert "ConnectionRefusedError" in str(failed.value)
    assert "e-mail: 0 sent" in capsys.readouterr().out
    assert "provider's log): 0" in _status(incident, capsys)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--lease", "0"],
            "--lease must be at least 21 and at most 86,400 seconds (more than twice OWABI_EMAIL_TIMEOUT, "
            "10 s)",
        ),
        (["--lease", "-5"], "--lease must be at least 21 and"),
        (["--lease", "20"], "--lease must be at least 21 and"),
        (["--lease", "86401"], "--lease must be at least 21 and"),
        (["--workers", "0"], "--workers must be at least 1 and at most 64 per process"),
        (["--workers", "65"], "--workers must be at least 1 and at most 64 per process"),
        (["--processes", "0"], "--processes must be at least 1 and at most 64"),
        (["--processes", "-2"], "--processes must be at least 1 and at most 64"),
        (["--rate", "0"], "--rate must be a number of e-mails per second above 0"),
        (["--rate", "-1"], "--rate must be a number"),
        (["--rate", "nan"], "--rate must be a number"),
        (["--rate", "inf"], "--rate must be a number"),
        (["--batch", "0"], "--batch must be at least 1 and at most 10,000 notices"),
        (["--batch", "10001"], "--batch must be at least 1 and at most 10,000 notices"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--limit", "-3"], "--limit must be at least 1"),
    ],
)
@pytest.mark.django_db
def test_send_refuses_options_that_cannot_work(incident, options: list[str], message: str) -> None:
    setup.apply(incident=incident, data=setup.load(EXAMPLE), actor="t")
    command = ["notices", "send", "--incident", incident.slug, "--channel", "email", *options]
    with override_settings(EMAIL_TIMEOUT=10), pytest.raises(CommandError) as refused:
        call_command(*command)
    assert str(refused.value).startswith(message)
    assert not AuditEvent.objects.filter(action__startswith="notices.send").exists()  # nothing ran


@pytest.mark.parametrize("batch", ["0", "-1", "10001"])
@pytest.mark.django_db
def test_print_refuses_a_batch_that_cannot_work(incident, tmp_path: Path, batch: str) -> None:
    setup.apply(incident=incident, data=setup.load(EXAMPLE), actor="t")
    command = ["notices", "print", "--incident", incident.slug, "--out", str(tmp_path / "out")]
    with pytest.raises(
        CommandError, match="--batch must be at least 1 and at most 10,000 letters per PDF file"
    ):
        call_command(*command, "--batch", batch)
    assert not (tmp_path / "out").exists()


LETTER_ROWS = (
    "record_id,subject_name,subject_birth_date,postal_code,address\n"
    "L1,山田 太郎,1970-01-01,100-0001,東京都千代田区千代田1-1\n"
    "L2,鈴木 花子,1980-02-02,530-0001,大阪府大阪市北区梅田1-1\n"
    "L3,佐藤 健,1990-03-03,060-0001,北海道札幌市中央区北1条西1-1\n"
)


@pytest.mark.django_db
def test_each_printed_batch_is_audited_with_its_letters_even_when_a_later_one_fails(
    incident, tmp_path: Path
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(LETTER_ROWS, encoding="utf-8")
    import_file(incident=incident, path=path, source="booking", actor="t")
    resolve(incident=incident, actor="t")
    data = {**setup.load(EXAMPLE), "policy": "letter"}
    data["texts"] = {**data["texts"], "en": {**data["texts"]["en"], "summary": "Too long. " * 2000}}
    setup.apply(incident=incident, data=data, actor="t")
    prepare(incident=incident, actor="t")
    last = Notice.objects.filter(incident=incident).order_by("pk").last()
    Notice.objects.filter(pk=last.pk).update(language="en")  # its batch cannot be laid out
    with pytest.raises(letters.LetterTooLong):
        letters.print_letters(incident=incident, out=tmp_path / "out", actor="t", batch=1)
    printed = AuditEvent.objects.filter(action="notices.print").order_by("seq")
    assert [event.data["letters"] for event in printed] == [
        [n.pk] for n in Notice.objects.filter(incident=incident).exclude(pk=last.pk).order_by("pk")
    ]
    assert all(
        event.data["pages"] == 2 and event.data["file"].endswith(".pdf") for event in printed
    )  # a letter is 2 pages
    sent = Notice.objects.filter(incident=incident, status="sent").values_list("pk", flat=True)
    assert sorted(sent) == sorted(pk for event in printed for pk in event.data["letters"])


@pytest.mark.slow
def test_the_send_command_exits_non_zero_in_one_line_when_the_server_refuses(
    incident, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    _prepared(incident, tmp_path, 4)
    env = {**subprocess_env, "OWABI_EMAIL_HOST": "127.0.0.1", "OWABI_EMAIL_PORT": str(free_port())}
    env["OWABI_EMAIL_USE_TLS"] = "0"
    command = [*OWABI, "notices", "send", "--incident", incident.slug, "--channel", "email"]
    refused = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert lines[-1].startswith("CommandError: 4 e-mail notices are still to send after failed attempts")
    assert "Traceback" not in refused.stderr and "example.jp" not in refused.stderr
    assert "4 still to send" in refused.stdout
