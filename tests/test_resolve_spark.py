"""The Spark engine (`owabi resolve --engine spark`): the same model through Spark agrees with DuckDB.

The agreement test needs Java and PySpark (`./dev test` installs both). Where either is missing it fails,
never skips: OWABI_SKIP_SPARK=1 skips it on a developer's machine, and is ignored where CI=true.
It runs on SQLite only: the engines differ in where pairs are scored, not in what the database stores,
and the PostgreSQL storage path is the DuckDB engine's (tests/test_resolve*.py); a second 10,000-record
Spark run would double the module's cost (about two minutes) for nothing new. Its Spark run is the
module's one large session; the check of translated functions starts a small one (a few seconds).
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import sys
from collections import defaultdict
from datetime import date
from itertools import combinations
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from owabi.records.models import Subject
from owabi.records.resolve import ENGINES, SparkUnavailable, resolve
from owabi.records.resolve.engines import check_available
from owabi.records.resolve.spark import scratch_folder
from owabi.records.resolve_model import BLOCKING_RULES
from owabi.records.selectors import iter_clusters
from owabi.records.services import import_file

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 12, 1)
RECORDS = int(os.environ.get("OWABI_SPARK_TEST_RECORDS", "10000"))  # smaller only to debug
# The engines draw the same model's u sample by different hash functions (DuckDB's and Spark's), so u,
# and a few borderline pairs, may differ: at most 0.5 % of subjects or recipients, and the pairs of
# records put together must agree at F1 >= 0.995. (Measured: see docs/performance.md.)
COUNT_TOLERANCE = 0.005
MIN_PAIRWISE_F1 = 0.995


def _spark_or_fail() -> None:
    """Skip only where a developer asked to (never in CI); fail where Java or PySpark is missing."""
    if os.environ.get("OWABI_SKIP_SPARK") == "1" and os.environ.get("CI") != "true":
        pytest.skip("OWABI_SKIP_SPARK=1")
    try:
        check_available()
    except SparkUnavailable as error:
        pytest.fail(f"{error} (./dev test installs it; OWABI_SKIP_SPARK=1 skips this test outside CI)")


def _partition(incident) -> tuple[dict[str, str], dict[str, str]]:
    subjects, recipients = {}, {}
    for record_id, subject, recipient in iter_clusters(incident=incident):
        subjects[record_id], recipients[record_id] = subject, recipient
    return subjects, recipients


def _same_pairs(labels: dict[str, str]) -> set[tuple[str, str]]:
    members = defaultdict(list)
    for record_id, label in labels.items():
        members[label].append(record_id)
    return {tuple(sorted(pair)) for group in members.values() for pair in combinations(group, 2)}


def _f1(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> float:
    if not a and not b:
        return 1.0
    return 2 * len(a & b) / (len(a) + len(b))


def test_spark_and_duckdb_resolve_the_same_incident_alike(incident, tmp_path: Path, settings, caplog) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("run on SQLite only (module docstring)")
    _spark_or_fail()
    caplog.set_level(logging.INFO, logger="owabi.records.resolve.spark")
    settings.OWABI_SPARK_CHECKPOINT_DIR = str(tmp_path / "spark")
    leak = tmp_path / "leak.csv"
    call_command("synth", records=RECORDS, seed=11, out=str(leak))
    import_file(incident=incident, path=leak, actor="t")

    duck = resolve(incident=incident, actor="t", as_of=AS_OF, engine="duckdb")
    duck_subjects, duck_recipients = _partition(incident)
    spark = resolve(incident=incident, actor="t", as_of=AS_OF, engine="spark")
    spark_subjects, spark_recipients = _partition(incident)

    print(  # the figures docs/performance.md quotes (pytest -s)
        f"\nduckdb: {duck.subjects:,} subjects, {duck.recipients:,} recipients, {duck.timings}"
        f"\nspark:  {spark.subjects:,} subjects, {spark.recipients:,} recipients, {spark.timings}"
    )
    assert duck.records == spark.records == len(duck_subjects) == len(spark_subjects) > RECORDS * 0.99
    assert abs(spark.subjects - duck.subjects) <= COUNT_TOLERANCE * duck.subjects
    assert abs(spark.recipients - duck.recipients) <= COUNT_TOLERANCE * duck.recipients
    subject_f1 = _f1(_same_pairs(duck_subjects), _same_pairs(spark_subjects))
    recipient_f1 = _f1(_same_pairs(duck_recipients), _same_pairs(spark_recipients))
    print(f"pairwise F1: subjects {subject_f1:.4f}, recipients {recipient_f1:.4f}")
    assert subject_f1 >= MIN_PAIRWISE_F1
    assert recipient_f1 >= MIN_PAIRWISE_F1
    assert Subject.objects.filter(incident=incident).count() == spark.subjects
    # Blocking ran rule by rule, one Spark job each (what lets 100,000 records run in the local JVM).
    by_rule = [
        record.getMessage()
        for record in caplog.records
        if "__splink__blocked_id_pairs" in record.getMessage() and " rule " in record.getMessage()
    ]
    print("\n".join(by_rule))
    assert len(by_rule) == len(BLOCKING_RULES)
    # The run's scratch (plain-text features in parquet and shuffle files) is gone; its parent is private.
    scratch = tmp_path / "spark"
    assert list(scratch.iterdir()) == []
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o700


def test_translated_functions_behave_as_duckdbs(tmp_path: Path, settings) -> None:
    """Hamming: size(NULL) is -1 in Spark without ANSI mode, so an unguarded count would call a missing
    birth date one edit away from any other. Hash: DuckDB's is unsigned and Splink's sample filter
    (`hash(id) % M < t`) relies on it; Spark's signed hash let every negative one through."""
    if connection.vendor != "sqlite":
        pytest.skip("needs no database: run once, with the SQLite suite")
    _spark_or_fail()
    from owabi.records.resolve.spark import session, translate

    settings.OWABI_SPARK_CHECKPOINT_DIR = str(tmp_path / "spark")
    hamming = translate(
        "SELECT hamming(a, b) AS d, hamming(a, b) <= 1 AS near FROM (VALUES ('2001-02-03', '2001-02-04'),"
        " ('2001-02-03', NULL), (NULL, NULL), ('2001-02-03', '2001-2-3')) t(a, b)"
    )
    tenth = translate(
        "SELECT count(*) FROM ids WHERE hash(CAST(id AS VARCHAR) || '_42') % 1000000000 < 100000000"
    )
    with session() as spark:
        spark.range(10_000).createOrReplaceTempView("ids")
        rows = [tuple(row) for row in spark.sql(hamming).collect()]
        sampled = spark.sql(tenth).collect()[0][0]
    assert rows == [(1, True), (None, None), (None, None), (None, None)]
    assert 850 <= sampled <= 1150  # a tenth of the rows, as in DuckDB
    assert list((tmp_path / "spark").iterdir()) == []


@pytest.fixture
def imported(incident, tmp_path: Path) -> None:
    leak = tmp_path / "leak.csv"
    call_command("synth", records=50, seed=2, out=str(leak))
    import_file(incident=incident, path=leak, actor="t")


def _refused(incident) -> str:
    with pytest.raises(CommandError) as refused:
        call_command("resolve", incident=incident.slug, engine="spark")
    message = str(refused.value)
    assert "\n" not in message
    assert not Subject.objects.filter(incident=incident).exists()  # refused before any work
    return message


def test_without_java_the_spark_engine_is_refused_in_one_line(
    incident, imported, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert "needs Java 17" in _refused(incident)


def test_without_pyspark_the_spark_engine_names_the_extra_to_install(incident, imported, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)  # what `import pyspark` meets where it is not installed
    assert "pip install -r requirements-spark.lock" in _refused(incident)


@pytest.mark.parametrize("master", ["spark:/nohost", "local[0]", "http://host:7077", "spark://host", ""])
def test_a_master_url_that_is_not_one_is_refused_in_one_line(incident, imported, settings, master) -> None:
    settings.OWABI_SPARK_MASTER = master
    assert "OWABI_SPARK_MASTER is not a Spark master URL" in _refused(incident)


def test_the_command_offers_both_engines_with_duckdb_the_default(incident, imported, capsys) -> None:
    call_command("resolve", incident=incident.slug)
    assert ENGINES == ("duckdb", "spark")
    assert "(duckdb)" in capsys.readouterr().err


_HOLD_A_SCRATCH_FOLDER = """
import sys, time
from pathlib import Path
import django
django.setup()
from owabi.records.resolve.spark import scratch_folder
with scratch_folder(Path(sys.argv[1])) as scratch:
    (scratch / "features.parquet").write_text("plain text")
    print(scratch.name, flush=True)
    time.sleep(600)
"""


def _hold_a_scratch_folder(base: Path) -> tuple[subprocess.Popen[str], Path]:
    """A process inside scratch_folder (as a Spark run is), and its folder."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", PYTHONPATH=str(Path.cwd()))
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLD_A_SCRATCH_FOLDER, str(base)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    return process, base / process.stdout.readline().strip()


def test_the_scratch_of_a_killed_run_is_deleted_by_the_next_run_and_a_running_ones_kept(
    tmp_path: Path,
) -> None:
    """SIGKILL gives a run no chance to delete its scratch (plain-text features); the next run does, and
    leaves alone the folders of a run still going, of another host, and any it cannot tell the owner of."""
    base = tmp_path / "spark"
    killed, killed_folder = _hold_a_scratch_folder(base)
    running, running_folder = _hold_a_scratch_folder(base)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        assert (killed_folder / "features.parquet").read_text() == "plain text"  # what SIGKILL leaves
        elsewhere = base / f"run-{killed.pid}@another-host-abc_123"
        unknown = base / "run-abc_123"
        for folder in (elsewhere, unknown):
            folder.mkdir()
        with scratch_folder(base) as scratch:
            assert not killed_folder.exists()
            assert (running_folder / "features.parquet").exists()
            assert elsewhere.exists() and unknown.exists()
            assert stat.S_IMODE(scratch.stat().st_mode) == 0o700
            assert scratch.name.startswith(f"run-{os.getpid()}@")
        assert not scratch.exists()
        running.send_signal(signal.SIGKILL)
        running.wait()
        with scratch_folder(base):
            assert not running_folder.exists()
    finally:
        for process in (killed, running):
            process.kill()
            process.wait()
