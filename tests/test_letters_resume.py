"""`owabi notices print` stopped mid-way: every letter is posted once, none lost. A batch is written
under a name no vendor posts, its letters marked printed, then given its own name and listed; the next
run settles what a stopped one left (a batch not marked is deleted and printed again; one marked is
named and listed)."""

from __future__ import annotations

import csv
import json
import random
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone
from pypdf import PdfReader

from owabi.core.models import AuditEvent
from owabi.notices import letters, setup
from owabi.notices.models import Notice
from owabi.notices.services import prepare
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import OWABI, REPO

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLE = REPO / "docs" / "notice-setup.example.toml"
HEADER = "record_id,subject_name,subject_birth_date,postal_code,address,phone\n"
FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村"]
GIVEN = ["太郎", "花子", "一郎", "美咲", "健"]
PEOPLE = 40


@pytest.fixture
def letters_ready(incident, tmp_path: Path):
    """An incident with PEOPLE prepared letters, one per person."""
    rows = [
        f"P{i},{FAMILY[i % 8]} {GIVEN[i // 8]},19{50 + i}-0{1 + i % 9}-1{i % 9},"
        f"100-{i:04d},東京都千代田区千代田{i + 1}-1,03-1000-{i:04d}\n"
        for i in range(PEOPLE)
    ]
    path = tmp_path / "people.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    import_file(incident=incident, path=path, source="booking", actor="t")
    resolve(incident=incident, actor="t")
    setup.apply(incident=incident, data={**setup.load(EXAMPLE), "policy": "letter"}, actor="t")
    prepare(incident=incident, actor="t")
    assert Notice.objects.filter(incident=incident, channel="letter").count() == PEOPLE
    return incident


def _listed(out: Path) -> list[dict[str, str]]:
    rows = []
    for manifest in sorted(out.glob("manifest-*.csv")):
        with manifest.open(encoding="utf-8", newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def _posted_once(incident, out: Path) -> None:
    """What the vendor gets from `out` posts every letter once: each listed once, on its own pages of a
    file that is there; no file unlisted, nothing half-done left; each letter audited in one batch."""
    expected = {letters.reference(n) for n in Notice.objects.filter(incident=incident, channel="letter")}
    assert not Notice.objects.filter(incident=incident, status=Notice.Status.PREPARED).exists()
    rows = _listed(out)
    assert Counter(row["reference"] for row in rows) == Counter(expected)
    files = {path.name for path in out.glob("letters-*.pdf")}
    assert {row["file"] for row in rows} == files
    assert not [path.name for path in out.iterdir() if path.name.startswith(".")]
    readers = {name: PdfReader(out / name) for name in files}
    assert sum(len(reader.pages) for reader in readers.values()) == sum(int(row["pages"]) for row in rows)
    for row in rows:  # the reference shows through the window of the letter's first page
        assert row["reference"] in readers[row["file"]].pages[int(row["first_page"]) - 1].extract_text()
    audited = Counter(
        pk
        for event in AuditEvent.objects.filter(action="notices.print", object_id=str(incident.pk))
        for pk in event.data["letters"]
    )
    assert set(audited.values()) == {1} and len(audited) == PEOPLE


def _print(env: dict[str, str], incident, out: Path) -> subprocess.Popen[str]:
    command = [*OWABI, "notices", "print", "--incident", incident.slug, "--out", str(out), "--batch", "2"]
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_a_print_killed_at_random_moments_posts_every_letter_once(
    letters_ready, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    out = tmp_path / "out"
    seed = random.randrange(2**32)
    chooser = random.Random(seed)  # in the failure's message, to replay it
    kills, said = 0, []
    for _ in range(12):
        run = _print(subprocess_env, letters_ready, out)
        if kills < 4:
            deadline = time.monotonic() + 60
            while not list(out.glob(".letters-*")) and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(chooser.uniform(0, 0.05))  # within a batch's cycle: written, marked, named, listed
            if run.poll() is None:
                run.send_signal(signal.SIGKILL)
                run.communicate()
                kills += 1
                continue
        output, errors = run.communicate(timeout=120)
        assert run.returncode == 0, errors
        said.append(output)
        if not Notice.objects.filter(incident=letters_ready, status=Notice.Status.PREPARED).exists():
            break
    assert kills == 4, "the print finished before it could be killed often enough"
    try:
        _posted_once(letters_ready, out)
    except AssertionError as failure:
        raise AssertionError(f"random kills, seed {seed}: {failure}") from failure
    again = _print(subprocess_env, letters_ready, out)
    output, _ = again.communicate(timeout=120)
    assert "nothing to print" in output


def test_a_batch_written_but_not_marked_is_deleted_and_its_letters_printed_again(
    letters_ready, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    out = tmp_path / "out"
    # The marking waits for the notices' rows (held here), as for a database that is slow to answer;
    # the run is killed once its first batch is on disk under its pending name.
    with transaction.atomic():
        held = Notice.objects.select_for_update().filter(incident=letters_ready, channel="letter")
        Notice.objects.filter(pk__in=[n.pk for n in held]).update(sent_at=None)
        run = _print(subprocess_env, letters_ready, out)
        deadline = time.monotonic() + 60
        while (
            not list(out.glob(f".letters-*.pdf.incident-{letters_ready.pk}.pending"))
            and time.monotonic() < deadline
        ):
            time.sleep(0.01)
        run.send_signal(signal.SIGKILL)
        run.communicate()
    [pending] = out.glob(f".letters-*.pdf.incident-{letters_ready.pk}.pending.json")
    name = json.loads(pending.read_text("utf-8"))["file"]
    assert not Notice.objects.filter(incident=letters_ready, status=Notice.Status.SENT).exists()
    assert not list(out.glob("letters-*.pdf")) and _listed(out) == []

    done = _print(subprocess_env, letters_ready, out)
    output, errors = done.communicate(timeout=120)
    assert done.returncode == 0, errors
    assert f"{name} of a run that stopped before its letters were marked printed was deleted" in output
    assert f"letters: {PEOPLE} letters" in output
    _posted_once(letters_ready, out)


def test_a_batch_marked_but_not_named_or_listed_is_completed_by_the_next_run(
    letters_ready, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = letters.print_letters(incident=letters_ready, out=out, actor="t", batch=15)
    assert first.letters == PEOPLE and len(first.files) == 3
    # What a run killed after marking its last batch leaves: the file under its pending name with its
    # rows beside it, the rows not in the manifest (written as print_letters writes them).
    last = first.files[-1]
    assert first.manifest is not None
    with first.manifest.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    kept, moved = [r for r in rows if r[0] != last.name], [r for r in rows if r[0] == last.name]
    with first.manifest.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(kept)
    moved_rows = [[r[0], int(r[1]), int(r[2]), *r[3:]] for r in moved]
    [event] = AuditEvent.objects.filter(action="notices.print", data__file=last.name)
    assert event.data["folder"] == str(out.resolve())
    sidecar = {
        "incident": letters_ready.pk,
        "file": last.name,
        "batch": event.data["batch"],
        "rows": moved_rows,
    }
    (out / f".{last.name}.incident-{letters_ready.pk}.pending.json").write_text(
        json.dumps(sidecar, ensure_ascii=False), "utf-8"
    )
    last.rename(out / f".{last.name}.incident-{letters_ready.pk}.pending")

    # Printing elsewhere now would leave those letters marked sent and never posted: refused.
    elsewhere = tmp_path / "elsewhere"
    refusal = re.escape(f"a print into {out.resolve()} stopped before it finished")
    with pytest.raises(letters.PrintUnsettled, match=refusal):
        letters.print_letters(incident=letters_ready, out=elsewhere, actor="t", batch=15)
    assert not elsewhere.exists()

    second = letters.print_letters(incident=letters_ready, out=out, actor="t", batch=15)
    assert second.finished == [last.name] and second.letters == len(moved) == 10
    _posted_once(letters_ready, out)

    # Stopped again after listing, before its rows file went: listed once all the same.
    (out / f".{last.name}.incident-{letters_ready.pk}.pending.json").write_text(
        json.dumps(sidecar, ensure_ascii=False), "utf-8"
    )
    third = letters.print_letters(incident=letters_ready, out=out, actor="t", batch=15)
    assert third.finished == [last.name]
    _posted_once(letters_ready, out)


def test_a_run_in_the_same_second_as_another_overwrites_none_of_its_files(
    letters_ready, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    now = timezone.now()
    earlier = {}  # what runs of this second and the next few wrote before (the same names, once)
    for second in range(5):
        stamp = (now + timedelta(seconds=second)).strftime("%Y%m%d-%H%M%S")
        for name in (f"manifest-{stamp}.csv", f"letters-{stamp}-0001.pdf"):
            (out / name).write_text(f"another run's {name}", "utf-8")
            earlier[name] = f"another run's {name}"
    result = letters.print_letters(incident=letters_ready, out=out, actor="t", batch=50)
    assert result.manifest is not None and result.manifest.name.endswith("-2.csv")
    assert [path.name for path in result.files] == [
        result.manifest.name.replace("manifest", "letters")[:-4] + "-0001.pdf"
    ]
    assert {name: (out / name).read_text("utf-8") for name in earlier} == earlier
