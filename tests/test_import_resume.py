"""`owabi import` killed mid-way resumes: it commits every OWABI_IMPORT_CHECKPOINT_ROWS rows with a
checkpoint, and the same command run again goes on after the last one, to the records, counts and reports
of a run that never stopped. A changed file is refused until --restart; resolve waits for the import."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from owabi.core.models import AuditEvent
from owabi.incidents.models import Incident
from owabi.incidents.services import create_incident
from owabi.records import match_store
from owabi.records.models import ImportCheckpoint, LeakRecord, LookupKey, SourceFile
from owabi.records.readers import ImportFileError
from owabi.records.services import file_sha256, import_file
from tests.conftest import OWABI, REPO, sigkill_when

pytestmark = pytest.mark.django_db(transaction=True)

EVERY = 100  # rows per checkpoint in these tests
ROWS = 600


def _leak(path: Path, rows: int = ROWS, seed: int = 7) -> Path:
    """A synthetic export with a row of no one (rejected), a repeated id after the first checkpoint
    (rejected as a duplicate of a row before it) and a birth date that is no date (a warning)."""
    from owabi.demo import synth

    raw = path.with_suffix(".raw.csv")
    synth.generate(records=rows, seed=seed, out=raw, truth_out=path.with_suffix(".truth.csv"))
    with raw.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    header, body = table[0], table[1:]
    body[29] = [""] * len(header)
    body[249][header.index("record_id")] = body[9][header.index("record_id")]
    body[149][header.index("subject_birth_date")] = "いつか"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *body])
    return path


def _env(subprocess_env: dict[str, str], every: int = EVERY) -> dict[str, str]:
    return {**subprocess_env, "OWABI_IMPORT_CHECKPOINT_ROWS": str(every)}


def _start(env: dict[str, str], *arguments: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*OWABI, "import", *arguments], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _run(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OWABI, *arguments], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )


def _kill_after_a_checkpoint(process: subprocess.Popen[bytes], incident: Incident, name: str) -> int:
    """SIGKILL `process` as soon as its import of `name` has committed a checkpoint (the database polled
    every few milliseconds; a checkpoint is a hundred rows' work apart); the rows it had committed."""
    checkpoints = ImportCheckpoint.objects.filter(source_file__incident=incident, source_file__file_name=name)
    sigkill_when(process, checkpoints.exists, "import checkpoint", wait=120)
    held = SourceFile.objects.get(incident=incident, file_name=name)
    assert not held.finished, "the import finished before it could be killed"
    assert held.rows_in == checkpoints.order_by("rows_read").last().rows_read  # type: ignore[union-attr]
    return held.rows_in


def _imported(incident: Incident) -> dict[tuple[str, str], tuple[Any, ...]]:
    """Each record of the incident as import left it: line, values, categories, problems, how many
    lookup keys, and its match keys; by (record id, role)."""
    keys, stale = match_store.read(incident)
    assert stale == 0  # every record's match keys were stored by the import, none recomputed
    matching = {row.pop("pk"): tuple(row.values()) for row in keys.to_pylist()}
    lookups = Counter(LookupKey.objects.filter(record__incident=incident).values_list("record", flat=True))
    return {
        (r.record_id, r.role): (r.line_no, r.sealed, r.categories, r.problems, lookups[r.pk], matching[r.pk])
        for r in LeakRecord.objects.filter(incident=incident)
    }


def _counts(incident: Incident) -> tuple[int, int, int, bool]:
    [source] = SourceFile.objects.filter(incident=incident)
    return (source.rows_in, source.rows_ok, source.rows_rejected, source.finished)


def _whole(tmp_path: Path, leak: Path, env: dict[str, str]) -> Incident:
    """The same file imported into an incident of its own by a run that is never stopped."""
    other = create_incident(actor="t", slug="whole", name="whole", discovered_on=date(2026, 11, 1))
    out = tmp_path / "whole"
    out.mkdir()
    done = _run(env, "import", str(leak), "--incident", "whole", "--rejects", str(out / "rejects.csv"))
    assert done.returncode == 0, done.stderr
    return other


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    return line


def test_an_import_killed_after_a_checkpoint_resumes_to_what_an_uninterrupted_one_makes(
    incident, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    leak = _leak(tmp_path / "leak.csv")
    env = _env(subprocess_env)
    out = tmp_path / "resumed"
    out.mkdir()
    arguments = (str(leak), "--incident", incident.slug, "--rejects", str(out / "rejects.csv"))
    stopped = _kill_after_a_checkpoint(_start(env, *arguments), incident, leak.name)
    assert stopped % EVERY == 0 and 0 < stopped < ROWS
    assert LeakRecord.objects.filter(incident=incident).count() > 0
    assert not (out / "rejects.csv").exists()

    refused = _one_line(_run(env, "resolve", "--incident", incident.slug))
    assert f"the import of {leak.name}" in refused and "unfinished" in refused

    resumed = _run(env, "import", *arguments)
    assert resumed.returncode == 0, resumed.stderr
    assert (
        f"{leak.name}: resuming its import into {incident.slug}, which stopped after row {stopped:,}"
        in resumed.stderr
    )
    assert f"importing from row {stopped + 1:,}" in resumed.stderr
    assert "resumed once" in resumed.stdout
    assert f"in {ROWS:,} = kept {ROWS - 2:,} + rejected 2" in resumed.stdout

    whole = _whole(tmp_path, leak, subprocess_env)
    assert _counts(incident) == _counts(whole) == (ROWS, ROWS - 2, 2, True)
    assert _imported(incident) == _imported(whole)
    assert SourceFile.objects.get(incident=incident).resumed == 1
    for report in ("rejects.csv", "leak.warnings.csv"):
        assert (out / report).read_text("utf-8") == (tmp_path / "whole" / report).read_text("utf-8")
    with (out / "rejects.csv").open(encoding="utf-8") as handle:
        assert [(r["line"], r["field"]) for r in csv.DictReader(handle)] == [
            ("31", "record_id"),
            ("251", "record_id"),
        ]
    assert "いつか" not in (out / "leak.warnings.csv").read_text("utf-8")

    again = _run(env, "import", *arguments)
    assert again.returncode == 0 and "already imported" in again.stdout
    assert _run(env, "resolve", "--incident", incident.slug).returncode == 0


def test_a_changed_file_is_refused_until_restart_which_imports_it_from_the_start(
    incident, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    leak = _leak(tmp_path / "leak.csv")
    env = _env(subprocess_env)
    _kill_after_a_checkpoint(_start(env, str(leak), "--incident", incident.slug), incident, leak.name)
    stopped = SourceFile.objects.get(incident=incident)

    with leak.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    added = {"record_id": "NEW1", "subject_name": "新井 一郎", "subject_kana": "アライ イチロウ"}
    with leak.open("a", encoding="utf-8", newline="") as handle:  # the export completed and written again
        csv.writer(handle).writerow([added.get(column, "") for column in header])
    refused = _one_line(_run(env, "import", str(leak), "--incident", incident.slug))
    assert refused.startswith(f"CommandError: {leak.name}: changed since its import into {incident.slug}")
    assert "--restart" in refused
    assert SourceFile.objects.get(incident=incident).pk == stopped.pk  # nothing discarded yet

    restarted = _run(env, "import", str(leak), "--incident", incident.slug, "--restart")
    assert restarted.returncode == 0, restarted.stderr
    assert "resuming" not in restarted.stderr
    [source] = SourceFile.objects.filter(incident=incident)
    assert source.pk != stopped.pk and source.finished and source.resumed == 0
    whole = _whole(tmp_path, leak, subprocess_env)
    assert _counts(incident) == _counts(whole) == (ROWS + 1, ROWS - 1, 2, True)
    assert _imported(incident) == _imported(whole)
    discarded = AuditEvent.objects.get(action="records.import_discarded")
    assert discarded.data["sha256"] == stopped.sha256 and discarded.data["records"] > 0


def test_restart_starts_an_unfinished_import_of_the_same_file_over(
    incident, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    leak = _leak(tmp_path / "leak.csv")
    env = _env(subprocess_env)
    _kill_after_a_checkpoint(_start(env, str(leak), "--incident", incident.slug), incident, leak.name)
    restarted = _run(env, "import", str(leak), "--incident", incident.slug, "--restart")
    assert restarted.returncode == 0, restarted.stderr
    assert "resuming" not in restarted.stderr and "resumed" not in restarted.stdout
    whole = _whole(tmp_path, leak, subprocess_env)
    assert _counts(incident) == _counts(whole)
    assert _imported(incident) == _imported(whole)
    again = _run(env, "import", str(leak), "--incident", incident.slug, "--restart")
    assert again.returncode == 0 and "already imported" in again.stdout  # a finished import is kept


def test_an_import_killed_before_its_first_checkpoint_leaves_nothing_and_starts_clean(
    incident, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    leak = tmp_path / "leak.csv"
    _run(subprocess_env, "synth", "--records", "12000", "--seed", "3", "--out", str(leak))
    killed = _start(subprocess_env, str(leak), "--incident", incident.slug)  # one checkpoint: 50,000
    assert killed.stderr is not None
    shown = b""
    while chunk := os.read(killed.stderr.fileno(), 4096):  # its progress: "\rleak.csv: 10,000 rows (…)"
        shown += chunk
        if b"10,000 rows" in shown:  # read, not yet committed: its first commit is at the file's end
            killed.send_signal(signal.SIGKILL)
            break
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, shown.decode()
    assert not SourceFile.objects.exists() and not LeakRecord.objects.exists()

    again = _run(subprocess_env, "import", str(leak), "--incident", incident.slug)
    assert again.returncode == 0, again.stderr
    assert "resuming" not in again.stderr
    assert _counts(incident) == (12_000, 12_000, 0, True)


def test_a_folder_import_resumes_the_file_it_was_cut_off_in(
    incident, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(_leak(tmp_path / "a.csv", 300, seed=8), folder / "a.csv")
    leak = Path(shutil.copy(_leak(tmp_path / "b.csv"), folder / "b.csv"))
    env = _env(subprocess_env)
    stopped = _kill_after_a_checkpoint(
        _start(env, str(folder), "--incident", incident.slug), incident, "b.csv"
    )

    resumed = _run(env, "import", str(folder), "--incident", incident.slug)
    assert resumed.returncode == 0, resumed.stderr
    assert "[1/2] a.csv: skipped, already imported" in resumed.stdout
    assert (
        f"[2/2] b.csv: resuming its import into {incident.slug}, which stopped after row {stopped:,}"
        in resumed.stderr
    )
    assert "b.csv: its import stopped and resumed once" in resumed.stdout
    assert f"total: 1 file imported into {incident.slug}: in {ROWS:,} = kept {ROWS - 2:,} + rejected 2" in (
        resumed.stdout
    )
    assert SourceFile.objects.filter(incident=incident, finished=True).count() == 2
    other = create_incident(actor="t", slug="whole", name="whole", discovered_on=date(2026, 11, 1))
    import_file(incident=other, path=leak, actor="t")
    ours = {
        (r.record_id, r.role): (r.line_no, r.sealed, r.categories, r.problems)
        for r in LeakRecord.objects.filter(source_file__incident=incident, source_file__file_name="b.csv")
    }
    theirs = {
        (r.record_id, r.role): (r.line_no, r.sealed, r.categories, r.problems)
        for r in LeakRecord.objects.filter(incident=other)
    }
    assert ours == theirs


def test_a_report_that_cannot_be_written_leaves_the_import_unfinished_and_the_next_run_finishes_it(
    incident, tmp_path: Path
) -> None:
    leak = _leak(tmp_path / "leak.csv", 250)
    report = tmp_path / "r.csv"
    report.mkdir()  # where its rejects would go: cannot be opened as a file
    with pytest.raises(ImportFileError, match=r"not finished, because its report .* cannot be written"):
        import_file(incident=incident, path=leak, actor="t", checkpoint_rows=EVERY, rejects_path=report)
    assert _counts(incident) == (200, 199, 1, False)
    report.rmdir()
    heard: list[int] = []
    result = import_file(
        incident=incident,
        path=leak,
        actor="t",
        checkpoint_rows=EVERY,
        rejects_path=report,
        resuming=lambda stopped: heard.append(stopped.rows_in),
    )
    assert heard == [200]
    assert _counts(incident) == (250, 248, 2, True)
    assert [(r.line, r.field) for r in result.rejects] == [(31, "record_id"), (251, "record_id")]
    assert report.read_text("utf-8").count("\n") == 3


def test_a_resume_read_with_other_columns_or_source_is_refused(incident, tmp_path: Path) -> None:
    leak = _leak(tmp_path / "leak.csv", 250)
    report = tmp_path / "r.csv"
    report.mkdir()
    with pytest.raises(ImportFileError, match="not finished"):
        import_file(incident=incident, path=leak, actor="t", checkpoint_rows=EVERY, rejects_path=report)
    with pytest.raises(ImportFileError, match="read then with other columns or another source name"):
        import_file(incident=incident, path=leak, actor="t", source="another", checkpoint_rows=EVERY)
    assert _counts(incident) == (200, 199, 1, False)


def test_a_folder_file_left_unfinished_is_named_so_and_its_check_says_it_would_resume(
    incident, tmp_path: Path, settings, capsys
) -> None:
    settings.OWABI_IMPORT_CHECKPOINT_ROWS = EVERY
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(_leak(tmp_path / "b.csv", 250), folder / "b.csv")
    (folder / "b.rejects.csv").mkdir()  # where its rejects would go: cannot be opened as a file
    with pytest.raises(CommandError, match=r"1 file of 1 failed: b\.csv"):
        call_command("import", str(folder), "--incident", incident.slug)
    out = capsys.readouterr().out
    assert "[1/1] FAILED, its import unfinished: b.csv: not finished, because its report" in out
    assert _counts(incident) == (200, 199, 1, False)

    (folder / "b.rejects.csv").rmdir()
    call_command("import", str(folder), "--incident", incident.slug, "--check")
    assert "the import would resume it: its import stopped after row 200" in capsys.readouterr().out
    call_command("import", str(folder), "--incident", incident.slug)
    out = capsys.readouterr().out
    assert "total: 1 file imported into test-leak: in 250 = kept 248 + rejected 2" in out
    assert "b.csv: its import stopped and resumed once" in out
    assert _counts(incident) == (250, 248, 2, True)


def test_a_closed_progress_pipe_leaves_the_import_unfinished_to_resume_not_discarded(
    incident, tmp_path: Path
) -> None:
    # Only the file's own read errors discard what an import committed; an OSError of anything else (the
    # terminal or pipe its progress goes to closing) is a stopped run, which the next one resumes.
    leak = _leak(tmp_path / "leak.csv", 10_050)

    def closed_pipe(rows: int) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        import_file(incident=incident, path=leak, actor="t", checkpoint_rows=5000, progress=closed_pipe)
    rows_in, _, _, finished = _counts(incident)  # the first checkpoint (whole chunks: 5,000 rows or more)
    assert 5000 <= rows_in < 10_000
    assert not finished
    assert LeakRecord.objects.filter(incident=incident).exists()
    heard: list[int] = []
    import_file(
        incident=incident,
        path=leak,
        actor="t",
        checkpoint_rows=5000,
        resuming=lambda stopped: heard.append(stopped.rows_in),
    )
    assert heard == [rows_in]
    assert _counts(incident) == (10_050, 10_048, 2, True)
    if connection.vendor == "postgresql":  # the import's end refreshed the planner's statistics
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'records_leakrecord'")
            assert cursor.fetchone()[0] == LeakRecord.objects.count() == 10_048


def test_resolve_writes_nothing_when_an_import_began_while_it_ran(incident, tmp_path: Path) -> None:
    # An import commits in checkpoints, so one that began while resolve read the records may have been
    # read in part: resolve refuses before it writes, and the next run, after the import, goes through.
    from owabi.records.models import Subject
    from owabi.records.resolve import ImportUnfinished, resolve

    import_file(incident=incident, path=_leak(tmp_path / "first.csv", 300), actor="t")
    second = _leak(tmp_path / "second.csv", 300, seed=8)

    def an_import_begins(message: str) -> None:
        if message == "clustering":
            import_file(incident=incident, path=second, actor="t")

    with pytest.raises(ImportUnfinished, match="began while resolve ran"):
        resolve(incident=incident, actor="t", progress=an_import_begins)
    assert not Subject.objects.filter(incident=incident).exists()
    result = resolve(incident=incident, actor="t")
    assert result.records == LeakRecord.objects.filter(incident=incident).count() > 0


def _stopped_at_a_checkpoint(incident: Incident, leak: Path) -> int:
    """Import `leak` until its first checkpoint, then stop it (its progress pipe closes); rows committed."""

    def closed_pipe(rows: int) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        import_file(incident=incident, path=leak, actor="t", checkpoint_rows=5000, progress=closed_pipe)
    held = SourceFile.objects.get(incident=incident, sha256=file_sha256(leak))
    assert not held.finished and held.rows_in >= 5000
    return held.rows_in


def _same_named(tmp_path: Path, one: str, other: str) -> tuple[Path, Path]:
    """Two different exports called leak.csv, in folders `one` (10,050 rows) and `other` (700 rows)."""
    (tmp_path / one).mkdir()
    (tmp_path / other).mkdir()
    first = _leak(tmp_path / one / "leak.csv", 10_050, seed=7)
    return first, _leak(tmp_path / other / "leak.csv", 700, seed=8)


def test_a_file_of_the_same_name_in_another_folder_imports_beside_an_unfinished_one(
    incident, tmp_path: Path
) -> None:
    # Two systems' exports are both called leak.csv: the first stopped unfinished is not "changed" by the
    # second, which imports beside it; the first then resumes by itself.
    first, second = _same_named(tmp_path, "crm", "shop")
    _stopped_at_a_checkpoint(incident, first)

    other = import_file(incident=incident, path=second, actor="t")
    assert other.source_file.finished and other.source_file.rows_in == 700
    held = SourceFile.objects.get(incident=incident, sha256=file_sha256(first))
    assert not held.finished and not AuditEvent.objects.filter(action="records.import_discarded").exists()

    heard: list[int] = []
    import_file(
        incident=incident, path=first, actor="t", checkpoint_rows=5000, resuming=lambda s: heard.append(1)
    )
    assert heard == [1]
    assert sorted(SourceFile.objects.filter(incident=incident).values_list("rows_in", "finished")) == [
        (700, True),
        (10_050, True),
    ]
    assert LeakRecord.objects.filter(incident=incident).count() == 10_048 + 698


def test_a_same_named_file_is_a_new_version_when_the_unfinished_one_is_gone_from_its_folder(
    incident, tmp_path: Path
) -> None:
    # The export was written again somewhere else and the old copy removed: its unfinished import is an
    # earlier version of this file, refused until --restart as at the same path.
    first, later = _same_named(tmp_path, "old", "new")
    _stopped_at_a_checkpoint(incident, first)
    first.unlink()
    with pytest.raises(ImportFileError, match=r"^leak\.csv: changed since its import into .*--restart"):
        import_file(incident=incident, path=later, actor="t")
    assert SourceFile.objects.filter(incident=incident).count() == 1
    import_file(incident=incident, path=later, actor="t", restart=True)
    [source] = SourceFile.objects.filter(incident=incident)
    assert source.finished and source.rows_in == 700
    assert AuditEvent.objects.filter(action="records.import_discarded").count() == 1
