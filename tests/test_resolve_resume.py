"""`owabi resolve` killed mid-way resumes: it keeps the scored pairs, then the subjects and recipients, as
checkpoints, and the same command run again takes up the last one, to what a run that never stopped
writes. A checkpoint made from other records or decisions, or one that cannot be read, is not used."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from owabi.incidents.models import Incident
from owabi.incidents.services import create_incident
from owabi.records import review
from owabi.records.models import LeakRecord, Membership, ResolveRun, ReviewPair
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import OWABI, REPO, sigkill_when

pytestmark = pytest.mark.django_db(transaction=True)

RECORDS = 4000
SCORED = "resuming a run that stopped: its candidate pairs were scored"
GROUPED = "resuming a run that stopped: its subjects and recipients were found"


@pytest.fixture
def leak(tmp_path: Path) -> Path:
    path = tmp_path / "leak.csv"
    call_command("synth", records=RECORDS, seed=5, out=str(path))
    return path


@pytest.fixture
def twins(incident: Incident, leak: Path) -> tuple[Incident, Incident]:
    """The same records in two incidents: one resolved by a run that is never stopped, one to kill."""
    whole = create_incident(actor="t", slug="whole", name="whole", discovered_on=date(2026, 11, 1))
    for target in (whole, incident):
        import_file(incident=target, path=leak, actor="t")
    resolve(incident=whole, actor="t")
    return whole, incident


def _folder(incident: Incident) -> Path:
    return Path(settings.DATA_DIR) / "checkpoints" / "resolve" / f"incident-{incident.pk}"


def _resolve(env: dict[str, str], incident: Incident) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OWABI, "resolve", "--incident", incident.slug],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _kill_once_saved(env: dict[str, str], incident: Incident, step: str) -> None:
    """Run resolve and SIGKILL it as soon as its `step` checkpoint is on disk (polled every few
    milliseconds; the next step takes far longer); it must have written nothing."""
    saved = _folder(incident) / f"{step}.npz"
    before = _grouping(incident), ResolveRun.objects.filter(incident=incident).count()
    process = subprocess.Popen(
        [*OWABI, "resolve", "--incident", incident.slug],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sigkill_when(process, saved.exists, f"{step} checkpoint")
    assert (_grouping(incident), ResolveRun.objects.filter(incident=incident).count()) == before
    assert saved.stat().st_mode & 0o077 == 0


def _grouping(incident: Incident) -> dict[str, Any]:
    """What resolve wrote, by record id and role (the same in both incidents): each record's subject and
    recipient with their numbers, kinds and chosen records, and the review queue."""
    records = {
        pk: (record_id, role)
        for pk, record_id, role in LeakRecord.objects.filter(incident=incident).values_list(
            "pk", "record_id", "role"
        )
    }
    members = Membership.objects.filter(subject__incident=incident).values_list(
        "record_id",
        "subject__number",
        "subject__is_minor",
        "subject__best_record",
        "subject__recipient__number",
        "subject__recipient__kind",
        "subject__recipient__contact_record",
    )
    by_record = {
        records[pk]: (subject, minor, records[best], recipient, kind, records[contact])
        for pk, subject, minor, best, recipient, kind, contact in members
    }
    queue = {
        (records[a], records[b], round(p, 9), decision)
        for a, b, p, decision in ReviewPair.objects.filter(incident=incident).values_list(
            "record_a", "record_b", "probability", "decision"
        )
    }
    return {"records": by_record, "review": queue}


def test_a_resolve_killed_after_scoring_resumes_to_what_an_uninterrupted_run_writes(
    twins: tuple[Incident, Incident], subprocess_env: dict[str, str]
) -> None:
    whole, killed = twins
    _kill_once_saved(subprocess_env, killed, "scored")
    assert not (_folder(killed) / "grouped.npz").exists()

    resumed = _resolve(subprocess_env, killed)
    assert resumed.returncode == 0, resumed.stderr
    assert SCORED in resumed.stderr and "scoring candidate pairs" not in resumed.stderr
    expected = _grouping(whole)
    assert len(expected["records"]) == RECORDS and expected["review"]
    assert _grouping(killed) == expected
    assert not _folder(killed).exists()  # the write committed: nothing left to resume

    # An older owabi's spill folder (plain-text features) that a kill left a day ago goes; a fresh one,
    # maybe a running old version's, stays.
    spills = Path(settings.DATA_DIR) / "resolve"
    old, fresh = spills / "duckdb-abc123", spills / "duckdb-def456"
    for folder in (old, fresh):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "duckdb_temp_storage-0.tmp").write_bytes(b"features")
    os.utime(old, (time.time() - 2 * 86_400, time.time() - 2 * 86_400))
    again = _resolve(subprocess_env, killed)  # a run with no checkpoint starts from the beginning
    assert again.returncode == 0, again.stderr
    assert "resuming" not in again.stderr and "scoring candidate pairs" in again.stderr
    assert not old.exists() and fresh.exists()
    shutil.rmtree(fresh)


def test_a_resolve_killed_while_writing_resumes_from_its_subjects_and_recipients(
    twins: tuple[Incident, Incident], subprocess_env: dict[str, str]
) -> None:
    whole, killed = twins
    _kill_once_saved(subprocess_env, killed, "grouped")

    resumed = _resolve(subprocess_env, killed)
    assert resumed.returncode == 0, resumed.stderr
    assert GROUPED in resumed.stderr
    assert "scoring candidate pairs" not in resumed.stderr and "clustering" not in resumed.stderr
    assert _grouping(killed) == _grouping(whole)
    [run] = ResolveRun.objects.filter(incident=killed)
    model, uninterrupted = (
        dict(m, linker_uid="") for m in (run.model, ResolveRun.objects.get(incident=whole).model)
    )
    assert model == uninterrupted and model["comparisons"]  # the model the killed run trained, kept


def test_a_decision_made_after_the_kill_is_honoured_and_only_the_scored_pairs_are_taken_up(
    twins: tuple[Incident, Incident], subprocess_env: dict[str, str]
) -> None:
    whole, killed = twins
    resolve(incident=killed, actor="t")  # both resolved once: each has the same review queue
    _kill_once_saved(subprocess_env, killed, "grouped")
    # A reviewer joins a pair the model was unsure of, in both incidents, after the kill.
    pending = ReviewPair.objects.filter(incident=killed, decision=ReviewPair.Decision.PENDING)
    first = pending.select_related("record_a", "record_b").order_by("record_a", "record_b")[0]
    ids = [(r.record_id, r.role) for r in (first.record_a, first.record_b)]
    for target in (whole, killed):
        pair = ReviewPair.objects.get(
            incident=target,
            record_a__record_id=ids[0][0],
            record_a__role=ids[0][1],
            record_b__record_id=ids[1][0],
            record_b__role=ids[1][1],
        )
        review.decide(pair=pair, decision=ReviewPair.Decision.SAME, actor="t", reason="one person")
    resolve(incident=whole, actor="t")

    resumed = _resolve(subprocess_env, killed)
    assert resumed.returncode == 0, resumed.stderr
    assert "grouped checkpoint of a run that stopped was made from other reviewer decisions: not used" in (
        resumed.stderr
    )
    assert SCORED in resumed.stderr and GROUPED not in resumed.stderr
    result = _grouping(killed)
    assert result["records"][ids[0]][0] == result["records"][ids[1]][0]  # one subject now
    assert result == _grouping(whole)


def test_checkpoints_of_other_records_or_cut_short_are_not_used(
    twins: tuple[Incident, Incident], subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    whole, killed = twins
    _kill_once_saved(subprocess_env, killed, "scored")
    scored = _folder(killed) / "scored.npz"
    scored.write_bytes(scored.read_bytes()[: scored.stat().st_size // 2])  # a disk that lost its end

    resumed = _resolve(subprocess_env, killed)
    assert resumed.returncode == 0, resumed.stderr
    assert "the scored checkpoint of a run that stopped cannot be read whole: not used" in resumed.stderr
    assert "resuming" not in resumed.stderr and "Traceback" not in resumed.stderr
    assert _grouping(killed) == _grouping(whole)

    # Killed again; resumed on another day: minors are counted as of the notice date, so nothing is used.
    _kill_once_saved(subprocess_env, killed, "scored")
    said: list[str] = []
    resolve(incident=killed, actor="t", as_of=date.today() + timedelta(days=1), progress=said.append)
    assert "  the scored checkpoint of a run that stopped was made from another notice date" in "\n".join(
        said
    )
    assert not [line for line in said if "resuming" in line]

    # Killed again; then more records arrive: the pairs scored before them are not the incident's.
    _kill_once_saved(subprocess_env, killed, "scored")
    more = tmp_path / "more.csv"
    call_command("synth", records=300, seed=9, out=str(more))
    import_file(incident=killed, path=more, actor="t")
    after = _resolve(subprocess_env, killed)
    assert after.returncode == 0, after.stderr
    assert "scored checkpoint of a run that stopped was made from other records (an import" in after.stderr
    assert "resuming" not in after.stderr
    assert Membership.objects.filter(subject__incident=killed).count() == RECORDS + 300
