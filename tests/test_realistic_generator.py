"""The second, independent generator (bench/realistic): same seed same bytes, a truth for every row that
follows DESIGN §4.2, rows that import whole, and the tags errors are analysed by."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from bench.realistic import AS_OF, COLUMNS, HELD_ASIDE_SEED, generate
from bench.realistic.errors import report
from bench.realistic.world import Household, Person, World
from owabi.records import normalize
from owabi.records.models import SourceFile
from tests.conftest import REPO


def _write(tmp_path: Path, records: int, seed: int, name: str = "leak") -> tuple[Path, Path]:
    out, truth = tmp_path / f"{name}.csv", tmp_path / f"{name}.truth.csv"
    generate(records=records, seed=seed, out=out, truth=truth)
    return out, truth


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    out, truth = _write(tmp_path_factory.mktemp("realistic"), 6000, 1)
    return _read(out), _read(truth)


def test_it_writes_the_same_bytes_for_the_same_seed(tmp_path: Path) -> None:
    first = _write(tmp_path, 1500, 5, "a")
    second = _write(tmp_path, 1500, 5, "b")
    other = _write(tmp_path, 1500, 6, "c")
    assert first[0].read_bytes() == second[0].read_bytes()
    assert first[1].read_bytes() == second[1].read_bytes()
    assert first[0].read_bytes() != other[0].read_bytes()


def test_it_writes_the_standard_columns_and_a_truth_row_for_every_record(sample) -> None:
    rows, truth = sample
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == len(truth) == 6000
    ids = [row["record_id"] for row in rows]
    assert len(set(ids)) == len(ids)
    assert [fact["record_id"] for fact in truth] == ids
    assert all(fact["person_id"] and fact["recipient_id"] for fact in truth)


def test_adults_are_their_own_recipients_and_minors_their_guardians(sample) -> None:
    _, truth = sample
    recipient_of: dict[str, set[str]] = defaultdict(set)
    role_of: dict[str, set[str]] = defaultdict(set)
    for fact in truth:
        tags = fact["variation"].split()
        recipient_of[fact["person_id"]].add(fact["recipient_id"])
        role_of[fact["person_id"]] |= {t for t in tags if t.startswith("role:")}
        if "role:adult" in tags:
            assert fact["recipient_id"] == fact["person_id"]
        else:
            assert "role:minor" in tags
            assert fact["recipient_id"] != fact["person_id"]
    assert all(len(r) == 1 for r in recipient_of.values()), "one recipient per person, whatever the row"
    assert all(len(r) == 1 for r in role_of.values())
    # a guardian whose own rows leaked is an adult; siblings under one guardian share the recipient
    guardians = {fact["recipient_id"] for fact in truth if "role:minor" in fact["variation"].split()}
    with_rows = guardians & set(role_of)
    assert with_rows and all(role_of[g] == {"role:adult"} for g in with_rows)
    children_of: dict[str, set[str]] = defaultdict(set)
    for fact in truth:
        if "role:minor" in fact["variation"].split():
            children_of[fact["recipient_id"]].add(fact["person_id"])
    assert any(len(children) > 1 for children in children_of.values())


def test_a_minor_is_under_18_on_the_notice_date_by_the_written_birth_date(sample) -> None:
    rows, truth = sample
    checked = 0
    for row, fact in zip(rows, truth, strict=True):
        tags = fact["variation"].split()
        changed = [t for t in tags if t.startswith("dob_") and t != "dob_era"]
        if changed or "placeholder_name" in tags or not row["subject_birth_date"]:
            continue
        born = normalize.date(row["subject_birth_date"], latest=date(2030, 1, 1))
        assert born is not None
        minor = (born.year + 18, born.month, born.day) > (AS_OF.year, AS_OF.month, AS_OF.day)
        assert minor == ("role:minor" in tags), row["record_id"]
        checked += 1
    assert checked > 4000


def test_pre_birth_rows_belong_to_the_child_and_carry_the_guardian_and_a_due_date(sample) -> None:
    rows, truth = sample
    placeholders = [
        (r, f) for r, f in zip(rows, truth, strict=True) if "placeholder_name" in f["variation"].split()
    ]
    assert len(placeholders) > 30
    named = {
        f["person_id"] for r, f in zip(rows, truth, strict=True) if "placeholder_name" not in f["variation"]
    }
    for row, fact in placeholders:
        assert row["guardian_name"] and row["expected_delivery_date"]
        assert "case:prebirth" in fact["variation"].split()
    born_later = {f["person_id"] for _, f in placeholders if "case:unborn" not in f["variation"].split()}
    assert len(born_later & named) > 0.9 * len(born_later), (
        "most such children also have rows with their name"
    )


def test_every_class_of_variation_and_hard_case_is_tagged(sample) -> None:
    _, truth = sample
    tags = {tag for fact in truth for tag in fact["variation"].split()}
    expected = {
        *("case:twin", "case:sibling", "case:same_reading_parent", "case:prebirth", "case:unborn"),
        *("case:moved", "case:marriage", "case:namesake", "case:neighbour", "case:shared_email"),
        *("case:grandparent", "case:spouse"),
        *("src:web", "src:app", "src:cc", "src:legacy", "src:paper", "by_guardian", "own_row"),
        *("name_nospace", "kana_hiragana", "kana_halfwidth", "kana_missing", "kanji_variant"),
        *("kana_typo_voiced", "kana_typo_small", "kana_typo_long", "given_homophone", "surname_homophone"),
        *("dob_era", "dob_digit", "dob_day_month_swap", "dob_off_by_one_day", "dob_era_conversion"),
        *("dob_missing", "dob_placeholder", "placeholder_name", "maiden_name", "old_address", "email_old"),
        *("phone_transposed", "phone_dummy", "phone_nohyphen", "phone_intl", "phone_landline"),
        *("email_typo", "postal_mark", "postal_nohyphen", "address_kanji", "address_no_building"),
        *("address_no_prefecture", "address_fullwidth", "name_in_kana"),
    }
    assert expected <= tags, sorted(expected - tags)
    for fact in truth:
        row_tags = fact["variation"].split()
        assert any(t.startswith("src:") for t in row_tags) and any(t.startswith("role:") for t in row_tags)


@pytest.mark.django_db
def test_the_export_imports_without_a_single_reject(incident, tmp_path: Path) -> None:
    out, _ = _write(tmp_path, 2000, 3)
    call_command("import", str(out), "--incident", incident.slug)
    source = SourceFile.objects.get(incident=incident)
    assert (source.rows_in, source.rows_ok, source.rows_rejected) == (2000, 2000, 0)


def test_the_command_line_writes_both_files(tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    command = [sys.executable, "-m", "bench.realistic", "--records", "300", "--seed", "1", "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    assert "300 rows" in done.stderr
    assert len(_read(out)) == len(_read(tmp_path / "x.truth.csv")) == 300


def test_the_benchmark_refuses_the_held_aside_seed_unless_asked(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "bench/bench_pipeline.py",
        "--generator",
        "realistic",
        "--seed",
        str(HELD_ASIDE_SEED),
    ]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2
    assert "held-aside" in done.stderr


def test_errors_by_class_count_split_merged_and_missed(tmp_path: Path) -> None:
    truth = tmp_path / "t.csv"
    truth.write_text(
        "record_id,person_id,recipient_id,variation\n"
        "a,P1,P1,src:web case:twin\n"
        "b,P1,P1,src:cc kana_typo_voiced\n"
        "c,P2,P2,src:web case:twin\n"
        "d,P3,P3,src:web\n",
        encoding="utf-8",
    )
    clusters = tmp_path / "c.csv"
    # P1 split over S1 and S2; P2 merged into S2 (with P1's second row); P3 alone
    clusters.write_text(
        "record_id,subject_id,recipient_id\na,S1,R1\nb,S2,R2\nc,S2,R2\nd,S3,R3\n", encoding="utf-8"
    )
    out = report(clusters, truth)
    assert out.splitlines()[0] == "missed recipients: 0 (0.00% of 3 true)"
    assert "subjects: 3 true, 1 split (33.33%), 2 in a merge (66.67%)" in out
    assert "kana_typo_voiced" in out
    clusters.write_text(
        "record_id,subject_id,recipient_id\na,S1,R1\nb,S1,R1\nc,S1,R1\nd,S3,R3\n", encoding="utf-8"
    )
    assert report(clusters, truth).splitlines()[0] == "missed recipients: 1 (33.33% of 3 true)"


def test_no_two_people_are_given_one_e_mail_address() -> None:
    # A mail provider never hands one address to two people: namesakes (and one person's second address)
    # get addresses of their own, as people pick another when theirs is taken. A family's shared
    # address is handed out once and then shared on purpose (case:shared_email).
    world = World(random.Random(3), AS_OF)
    home = Household(homes=[])
    namesakes = [
        Person(pid, "佐藤", "サトウ", "友子", "トモコ", "F", date(1980, 4, 1), home) for pid in range(1, 1501)
    ]
    addresses = [world._email(person) for person in namesakes for _ in range(2)]
    assert len(set(addresses)) == len(addresses) == 3000
    assert sum("tomoko" in address for address in addresses) > 1000  # still made from the name
