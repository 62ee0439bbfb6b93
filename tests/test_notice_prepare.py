"""`notices prepare` at scale: windows read in bulk, built in worker processes, written with COPY, and
still the same notices as the one-recipient-at-a-time path it replaced."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from owabi.incidents.services import create_incident
from owabi.notices import codes, services, setup
from owabi.notices.models import Notice, PrepareRun
from owabi.notices.services import prepare
from owabi.records.models import Recipient
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import OWABI, REPO, held_at_first_progress
from tests.test_notices import AS_OF, CARD_HEADER, CARD_ROWS, HEADER, KIDS, SHOP, setup_data

pytestmark = pytest.mark.django_db
# What the one-recipient-at-a-time path (commit ad3ae30) made for the incident below: each notice's
# channel and content, facts.as_of aside (the day of prepare).
GOLDEN = Path(__file__).with_name("notice_contents.golden.json")
RESULTS = [({"email": 1, "letter": 2}, 1), ({"email": 0, "letter": 3}, 0), ({"email": 0, "letter": 1}, 0)]
TAKAGI = (
    "T1,髙木 由美,タカギ ユミ,1982-04-02,,,,,,\n"
    "T2,高木 由美,,1982-04-02,,166-0004,東京都杉並区阿佐谷南1-2-3,03-3333-4444,,\n"
)


def made(incidents) -> list[dict]:
    """Every notice of the incidents as (channel, content), in a stable order; as_of left out."""
    found = []
    for notice in Notice.objects.filter(incident__in=incidents):
        content = notice.content  # opened with the notice's own id: a value bound to another row fails
        content["facts"].pop("as_of")
        found.append({"channel": notice.channel, "content": content})
    return sorted(found, key=lambda item: json.dumps(item, ensure_ascii=False, sort_keys=True))


@pytest.fixture
def hand_made(incident, tmp_path: Path):
    """The incidents tests/test_notices.py checks by hand: children with a guardian, an adult with an
    e-mail address and one without any contact; an adult with three cards' records and a brand owabi
    does not know; two written forms of one name."""
    incidents = [incident] + [
        create_incident(actor="t", slug=slug, name=slug, discovered_on=date(2026, 11, 1))
        for slug in ("cards", "names")
    ]
    files = (
        (incident, "kids.csv", "kids_club", HEADER + KIDS),
        (incident, "shop.csv", "web_shop", HEADER + SHOP),
        (incidents[1], "cards.csv", "web_shop", CARD_HEADER + CARD_ROWS),
        (incidents[2], "names.csv", "web_shop", CARD_HEADER + TAKAGI),
    )
    for owner, name, source, rows in files:
        (tmp_path / name).write_text(rows, encoding="utf-8")
        import_file(incident=owner, path=tmp_path / name, source=source, actor="t")
    for each in incidents:
        resolve(incident=each, actor="t", as_of=AS_OF)
        setup.apply(incident=each, data=setup_data(policy="both"), actor="t")
    return incidents


def test_the_notices_are_those_the_one_at_a_time_path_made(hand_made) -> None:
    results = [prepare(incident=incident, actor="t") for incident in hand_made]
    assert made(hand_made) == json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert [(r.created, r.unreachable) for r in results] == RESULTS


@pytest.fixture
def synthetic(incident, tmp_path: Path):
    leak = tmp_path / "leak.csv"
    call_command("synth", records=600, seed=7, out=str(leak), stdout=io.StringIO())
    import_file(incident=incident, path=leak, actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    example = setup.load(REPO / "docs" / "notice-setup.demo.toml")
    setup.apply(incident=incident, data={**example, "policy": "both"}, actor="t")
    return incident


def by_recipient(incident) -> dict[tuple[int, str], dict]:
    return {(n.recipient_id, n.channel): n.content for n in Notice.objects.filter(incident=incident)}


def test_workers_and_windows_make_the_same_notices_as_one_process(synthetic, monkeypatch) -> None:
    before = timezone.now()
    one = prepare(incident=synthetic, actor="t", workers=1)
    # Every column as written in bulk (COPY's binary form on PostgreSQL), not only the content.
    written = Notice.objects.filter(incident=synthetic)
    assert all(before <= n.prepared_at == n.status_at <= timezone.now() for n in written)
    defaults = ("reminder_of_id", "rule", "sending_by", "lease_until", "attempts", "message_id")
    defaults += ("handed_at", "sent_at", "last_error", "needs_reconciliation")
    assert set(written.values_list(*defaults)) == {(None, "", "", None, 0, "", None, None, "", False)}
    expected = by_recipient(synthetic)
    assert one.created["email"] > 50 and one.created["letter"] > 100
    Notice.objects.filter(incident=synthetic).delete()
    monkeypatch.setattr(services, "BATCH", 37)  # many windows, some read ahead while workers build
    seen: list[tuple[int, int]] = []
    two = prepare(
        incident=synthetic, actor="t", workers=2, progress=lambda done, total: seen.append((done, total))
    )
    assert (two.created, two.existing, two.unreachable) == (one.created, one.existing, one.unreachable)
    assert by_recipient(synthetic) == expected
    total = Recipient.objects.filter(incident=synthetic).count()
    assert seen[-1] == (total, total) and len(seen) > 5

    notices = list(Notice.objects.filter(incident=synthetic))
    assert len({n.code for n in notices}) == len(notices)
    assert all(codes.parse_code(n.code) == n.code for n in notices)
    assert {(n.status, n.setup_revision, n.language) for n in notices} == {("prepared", 1, "ja")}
    again = prepare(incident=synthetic, actor="t", workers=2)
    assert again.created == {"email": 0, "letter": 0} and again.existing == len(notices)
    assert Notice.objects.filter(incident=synthetic).count() == len(notices)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_killed_mid_way_resumes_to_what_an_uninterrupted_run_makes(
    synthetic, subprocess_env: dict[str, str]
) -> None:
    total = Recipient.objects.filter(incident=synthetic).count()
    command = [*OWABI, "notices", "prepare", "--incident", synthetic.slug, "--window", "2", "--workers", "1"]
    killed = subprocess.Popen(
        command, env=subprocess_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert killed.stderr is not None
    shown = b""
    while chunk := os.read(killed.stderr.fileno(), 4096):  # its progress: "\r123/456 recipients (…)"
        shown += chunk
        done = [int(n.replace(b",", b"")) for n in re.findall(rb"\r([\d,]+)/", shown)]
        if done and done[-1] >= total // 3:
            killed.send_signal(signal.SIGKILL)
            break
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    checkpoint = PrepareRun.objects.get(incident=synthetic, finished_at=None)
    stopped = Notice.objects.filter(incident=synthetic).count()
    assert 0 < checkpoint.done < total and stopped == checkpoint.created_email + checkpoint.created_letter

    resumed = subprocess.run(
        command, env=subprocess_env, cwd=REPO, capture_output=True, text=True, check=True
    )
    assert "resumed 1 time(s)" in resumed.stdout
    after = by_recipient(synthetic)
    [run] = PrepareRun.objects.filter(incident=synthetic)
    assert run.finished_at is not None and run.done == total and len(after) > stopped

    Notice.objects.filter(incident=synthetic).delete()
    whole = prepare(incident=synthetic, actor="t", window=2)
    assert by_recipient(synthetic) == after  # the same notices, stating the same facts
    assert (run.created_email, run.created_letter, run.unreachable) == (
        whole.created["email"],
        whole.created["letter"],
        whole.unreachable,
    )


@pytest.mark.django_db(transaction=True)
def test_a_second_run_while_a_prepare_runs_is_refused_and_the_first_ends_as_alone(
    synthetic, subprocess_env: dict[str, str]
) -> None:
    """Two prepares at once built the same windows twice and the second died on the notices' unique
    constraint with a traceback; a resolve during a prepare would renumber recipients under it."""
    first = lambda progress: prepare(incident=synthetic, actor="t", window=5, progress=progress)  # noqa: E731
    with held_at_first_progress(first) as outcome:
        with pytest.raises(services.IncidentBusy, match="running in another process"):
            prepare(incident=synthetic, actor="t")
        for command in (["notices", "prepare"], ["resolve"]):
            refused = subprocess.run(
                [*OWABI, *command, "--incident", synthetic.slug],
                env=subprocess_env,
                cwd=REPO,
                capture_output=True,
                text=True,
            )
            assert refused.returncode == 1, refused.stderr
            assert "a resolve or notices prepare of it is running in another process" in refused.stderr
            assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    [result] = outcome
    assert isinstance(result, services.PrepareResult), result
    alone = by_recipient(synthetic)
    Notice.objects.filter(incident=synthetic).delete()
    PrepareRun.objects.filter(incident=synthetic).delete()
    again = prepare(incident=synthetic, actor="t")  # the lock was let go of: a later run goes ahead
    assert (again.created, again.unreachable) == (result.created, result.unreachable)
    assert by_recipient(synthetic).keys() == alone.keys()
