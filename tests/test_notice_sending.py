"""E-mail notices go through a real SMTP server (aiosmtpd on 127.0.0.1), each once, even when the
sender is killed and restarted."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.test import override_settings

from owabi.core import audit
from owabi.notices import codes, sending, setup
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
    }
    command = [*OWABI, "notices", "send", "--incident", incident.slug, "--channel", "email"]
    command += ["--workers", "2", "--processes", str(processes), "--rate", "15", "--lease", "1"]
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
                time.sleep(1.1)  # the killed sender's leases run out
                assert len(handler.messages) == settled  # no sender process outlived the run
                continue
        sender.wait(timeout=120)
        assert sender.returncode == 0, sender.stderr.read().decode() if sender.stderr else ""
        if not Notice.objects.filter(incident=incident, status=Notice.Status.PREPARED).exists():
            break
        time.sleep(1.1)
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
