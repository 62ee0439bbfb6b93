"""What resolve stores: pointers to the records notices will use, and match keys kept current."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from owabi.core import audit
from owabi.records import features, match_store
from owabi.records.models import LeakRecord, MatchBatch, Membership, Recipient, Subject
from owabi.records.resolve import resolve
from owabi.records.selectors import iter_clusters
from owabi.records.services import import_file

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 12, 1)
HEADER = (
    "record_id,subject_name,subject_kana,subject_birth_date,guardian_name,guardian_kana,postal_code,"
    "address,phone,email"
)
ROWS = [
    # A child in two systems; the guardian's own data did not leak. The second row has the fuller
    # contact data (postal code and e-mail), so the notice should use it.
    "K1,中村 結衣,ナカムラ ユイ,2015-07-07,中村 由美,ナカムラ ユミ,,東京都杉並区阿佐谷南1-2-3,03-3333-4444,",
    "K2,中村 結衣,,2015-07-07,中村 由美,ナカムラ ユミ,166-0004,東京都杉並区阿佐谷南1-2-3,03-3333-4444,"
    "yumi@example.jp",
    # An adult in two systems: the first row is the fuller one for name, reading and birth date.
    "A1,小林 誠,コバヤシ マコト,1975-03-03,,,,大阪府堺市堺区1-1,072-222-3333,",
    "A2,小林 誠,,,,,590-0001,大阪府堺市堺区1-1,072-222-3333,makoto@example.jp",
]


@pytest.fixture
def imported(incident, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(HEADER + "\n" + "\n".join(ROWS) + "\n", encoding="utf-8")
    import_file(incident=incident, path=path, actor="t")


def _record(record_id: str) -> LeakRecord:
    return LeakRecord.objects.get(record_id=record_id)


def _subject(record_id: str) -> Subject:
    return Membership.objects.select_related("subject__recipient").get(record__record_id=record_id).subject


def test_subjects_and_recipients_point_at_the_fullest_records(incident, imported) -> None:
    result = resolve(incident=incident, actor="t", as_of=AS_OF)
    assert (result.records, result.subjects, result.recipients) == (4, 2, 2)
    child = _subject("K1")
    assert child is not None and child.is_minor
    assert child.best_record_id == _record("K1").pk  # has the reading too
    guardian = child.recipient
    assert guardian is not None and guardian.kind == Recipient.Kind.GUARDIAN
    assert guardian.contact_record_id == _record("K2").pk
    assert guardian.contact_record.sealed["guardian_name"] == "中村 由美"
    adult = _subject("A2")
    assert adult is not None and not adult.is_minor and adult.best_record_id == _record("A1").pk
    assert adult.recipient.kind == Recipient.Kind.SELF
    assert adult.recipient.contact_record_id == _record("A2").pk


def test_stale_or_missing_match_keys_are_recomputed_and_stored(incident, imported) -> None:
    resolve(incident=incident, actor="t", as_of=AS_OF)
    before = sorted(iter_clusters(incident=incident))
    MatchBatch.objects.update(version=features.VERSION - 1)  # computed by an older features()

    result = resolve(incident=incident, actor="t", as_of=AS_OF)
    assert result.refreshed == 4
    assert sorted(iter_clusters(incident=incident)) == before
    assert set(MatchBatch.objects.values_list("version", flat=True)) == {features.VERSION}
    assert match_store.keys_by_record(incident)[_record("K1").pk]["kana_key"] == "ナカムラユイ"
    assert resolve(incident=incident, actor="t", as_of=AS_OF).refreshed == 0
    assert audit.recent(limit=1)[0].data["match_keys_refreshed"] == 0

    # Erasing a record's keys (its batch goes) leaves the other records' keys to be recomputed.
    assert match_store.forget([_record("K1")]) == 1
    assert MatchBatch.objects.count() == 0
    assert resolve(incident=incident, actor="t", as_of=AS_OF).refreshed == 4
    assert sorted(iter_clusters(incident=incident)) == before


def test_match_keys_stored_in_another_order_are_read_in_the_records_order(
    incident, imported, tmp_path: Path
) -> None:
    # A second file, then the first file's keys recomputed: stored after the second file's, so the
    # stored order is no longer the records' order and the keys must be gathered.
    second = tmp_path / "second.csv"
    second.write_text(
        HEADER + "\nB1,佐藤 花子,サトウ ハナコ,1980-01-01,,,,,090-1111-2222,\n", encoding="utf-8"
    )
    import_file(incident=incident, path=second, actor="t")
    before = match_store.keys_by_record(incident)
    assert match_store.forget([_record("K1")]) == 1
    keys, refreshed = match_store.read(incident)
    assert refreshed == 4
    assert keys.column("pk").to_pylist() == sorted(before)
    assert match_store.keys_by_record(incident) == before
    assert before[_record("B1").pk]["name_key"] != before[_record("K1").pk]["name_key"]
    # The same read by resolve, its columns mapped from files in its scratch folder (records.ondisk).
    folder = tmp_path / "scratch"
    folder.mkdir()
    on_disk, _ = match_store.read(incident, folder=folder)
    assert on_disk.equals(keys)
    assert any(folder.glob("ordered-*.arrow"))


def test_keys_of_a_repeated_last_line_do_not_shift_the_records_keys(incident, tmp_path: Path) -> None:
    # The import stores keys for every row it read, also a repeated line it then drops: one key row
    # more than records, after the records' own rows, which are in order.
    path = tmp_path / "repeated.csv"
    path.write_text(HEADER + "\n" + "\n".join([*ROWS, ROWS[0]]) + "\n", encoding="utf-8")
    import_file(incident=incident, path=path, actor="t")
    assert LeakRecord.objects.filter(incident=incident).count() == len(ROWS)
    folder = tmp_path / "scratch"
    folder.mkdir()
    for keys, _ in (match_store.read(incident), match_store.read(incident, folder=folder)):
        assert keys.num_rows == len(ROWS)
        by_pk = dict(zip(keys.column("pk").to_pylist(), keys.column("name_key").to_pylist(), strict=True))
        assert by_pk[_record("A2").pk] == by_pk[_record("A1").pk] != by_pk[_record("K1").pk]
    result = resolve(incident=incident, actor="t", as_of=AS_OF)
    assert (result.records, result.subjects, result.recipients) == (4, 2, 2)


def test_a_subject_that_disappears_is_deleted_and_its_records_move(
    incident, imported, tmp_path: Path
) -> None:
    resolve(incident=incident, actor="t", as_of=AS_OF)
    assert Subject.objects.count() == 2
    # A reviewer says A1 and A2 are different people: the adult splits into two subjects.
    from owabi.records.models import ReviewPair

    a, b = sorted([_record("A1").pk, _record("A2").pk])
    ReviewPair.objects.create(
        incident=incident, record_a_id=a, record_b_id=b, probability=1.0, decision="different"
    )
    resolve(incident=incident, actor="t", as_of=AS_OF)
    assert Subject.objects.count() == 3 and Recipient.objects.count() == 3
    assert _subject("A1") != _subject("A2")
    # And back: undoing the decision merges them again; the extra subject and recipient are deleted.
    ReviewPair.objects.filter(record_a_id=a).update(decision="same")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    assert Subject.objects.count() == 2 and Recipient.objects.count() == 2
    assert _subject("A1") == _subject("A2")


def test_links_written_in_bulk_are_checked_before_commit(incident, imported) -> None:
    from django.db import IntegrityError

    from owabi.core import bulk

    resolve(incident=incident, actor="t", as_of=AS_OF)
    links = Membership.objects.filter(record__incident=incident)
    bulk.check_links(links, ("subject",))  # all good
    Membership.objects.filter(record__record_id="K1").update(subject_id=10**9)
    Subject.objects.filter(best_record__record_id="A1").update(best_record_id=10**9 + 1)
    with pytest.raises(IntegrityError, match=r"records.Membership.subject: 1 rows point at nothing"):
        bulk.check_links(links, ("subject",))
    with pytest.raises(IntegrityError, match=r"records.Subject.best_record: 1 rows"):
        bulk.check_links(Subject.objects.filter(incident=incident), ("recipient", "best_record"))


def test_pending_review_pairs_the_model_no_longer_doubts_are_dropped(incident, imported) -> None:
    from owabi.records.models import ReviewPair

    records = {r.record_id: r.pk for r in LeakRecord.objects.all()}
    pending = sorted([records["K1"], records["A1"]])  # clearly different people: nothing to review
    decided = sorted([records["K2"], records["A2"]])
    ReviewPair.objects.create(
        incident=incident, record_a_id=pending[0], record_b_id=pending[1], probability=0.6
    )
    ReviewPair.objects.create(
        incident=incident,
        record_a_id=decided[0],
        record_b_id=decided[1],
        probability=0.6,
        decision="different",
    )
    resolve(incident=incident, actor="t", as_of=AS_OF)
    left = set(ReviewPair.objects.values_list("record_a_id", "record_b_id", "decision"))
    assert left == {(decided[0], decided[1], "different")}


def test_write_groups_subjects_by_the_subject_whose_recipient_they_share(incident, imported) -> None:
    """storage.write on its own, with owners out of order: subjects are grouped by owner (recipients
    numbered in the owners' order), each recipient's contact is its owner's own fullest record, and a
    second write of other owners moves subjects between recipients without renumbering the subjects."""
    from array import array

    import pyarrow as pa

    from owabi.records.resolve.storage import CONTACT_FIELDS, SUBJECT_FIELDS, fullest, write
    from owabi.records.resolve.union_find import Packed

    pks = array("q", sorted(LeakRecord.objects.values_list("pk", flat=True)))
    columns = (*SUBJECT_FIELDS, *CONTACT_FIELDS, "guardian_fold")
    table = pa.table({name: pa.nulls(len(pks), pa.string()) for name in columns})  # ties: the last record
    clusters = Packed.of([[0], [1], [2], [3]])

    def recipients() -> dict[int, tuple[list[int], int]]:
        """recipient number -> (its subjects' numbers, the index of its contact record)"""
        found: dict[int, tuple[list[int], int]] = {}
        for recipient in Recipient.objects.filter(incident=incident).order_by("number"):
            subjects = sorted(recipient.subjects.values_list("number", flat=True))
            found[recipient.number] = (subjects, list(pks).index(recipient.contact_record_id))
        return found

    written = write(incident, pks, fullest(table), clusters, [False] * 4, [3, 0, 3, 0], [], lambda _: None)
    assert (written.subjects, written.recipients) == (4, 2)
    assert recipients() == {1: ([2, 4], 0), 2: ([1, 3], 3)}
    # The same subjects, now two owners' groups swapped and one subject on its own: numbers stay.
    write(incident, pks, fullest(table), [[0], [1], [2], [3]], [False] * 4, [0, 1, 0, 1], [], lambda _: None)
    assert recipients() == {1: ([2, 4], 1), 2: ([1, 3], 0)}
    subject_numbers = {
        record_id: _subject(record_id).number
        for record_id in LeakRecord.objects.values_list("record_id", flat=True)
    }
    assert sorted(subject_numbers.values()) == [1, 2, 3, 4]


def test_a_second_write_updates_what_changed_back_and_forth(incident, imported) -> None:
    """A re-run compares each existing subject and recipient with what it should now hold (a choice's
    text, a flag, a pointer) and updates the ones that differ, back and forth, keeping every row.
    Whether it also rewrites rows that did not change is not observed here."""
    from array import array

    import pyarrow as pa

    from owabi.records.resolve.storage import CONTACT_FIELDS, SUBJECT_FIELDS, fullest, write

    pks = array("q", sorted(LeakRecord.objects.values_list("pk", flat=True)))
    columns = (*SUBJECT_FIELDS, *CONTACT_FIELDS, "guardian_fold")
    table = pa.table({name: pa.nulls(len(pks), pa.string()) for name in columns})
    clusters = [[0], [1], [2], [3]]

    def stored() -> tuple[list[tuple[int, str, int]], list[tuple[int, bool]]]:
        recipients = Recipient.objects.filter(incident=incident).order_by("number")
        subjects = Subject.objects.filter(incident=incident).order_by("number")
        return (
            [(r.number, r.kind, list(pks).index(r.contact_record_id)) for r in recipients],
            [(s.number, s.is_minor) for s in subjects],
        )

    def written(minor: list[bool]) -> tuple[list[tuple[int, str, int]], list[tuple[int, bool]]]:
        write(incident, pks, fullest(table), clusters, minor, [0, 1, 2, 2], [], lambda _: None)
        return stored()

    # Recipient 3 is subject 3's and 4's, with the owner's own record (2) as its contact.
    adults = written([False] * 4)
    assert adults == ([(1, "self", 0), (2, "self", 1), (3, "self", 2)], [(n, False) for n in (1, 2, 3, 4)])
    ids = {number: pk for number, pk in Subject.objects.values_list("number", "pk")}
    # Subject 1 turns out to be a child: its flag and its recipient's kind change, its contact (the one
    # record there is) does not.
    assert written([True, False, False, False]) == (
        [(1, "guardian", 0), (2, "self", 1), (3, "self", 2)],
        [(1, True), (2, False), (3, False), (4, False)],
    )
    assert written([False] * 4) == adults  # and back
    assert written([False] * 4) == adults  # nothing to change
    assert {number: pk for number, pk in Subject.objects.values_list("number", "pk")} == ids
