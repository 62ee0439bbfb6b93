"""Resolve in independent parts (issue 19): the clustering and recipient steps run on batches of parts of
the incident (OWABI_RESOLVE_PART_RECORDS records at a time) and give the subjects, recipients, numbers and
review queue that the whole incident at once gives, for every rule that looks across records."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from owabi.incidents.services import create_incident
from owabi.records.models import LeakRecord, Recipient, ReviewPair, Subject
from owabi.records.resolve import resolve
from owabi.records.resolve.parts import batches, components
from owabi.records.resolve.storage import OldNumbers, stable_numbers
from owabi.records.resolve.union_find import Packed, crossed, grouped_links, shared_codes, value_codes
from owabi.records.selectors import iter_clusters
from owabi.records.services import import_file
from tests import test_resolve_hard, test_resolve_near
from tests.test_resolve import HEADER

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 12, 1)
SMALL_PARTS = 40  # records per batch: a crowd of 3,000 in about a hundred batches
# The hard cases (pre-birth rows, grown children, undated bridges, names in kana, twins, namesakes) and,
# to cross batches on purpose, rows that only a later rule joins (or keeps apart) imported far apart:
# EARLY just after the crowd, LATE after everything.
EARLY = [
    # A grown child's childhood row and undated own row, one district, imported side by side (one batch);
    # a namesake imported last makes the name held by three subjects: not joined.
    "CX1,zemi,楢葉 瑛士,ナラハ エイジ,2003-02-03,M,長男,楢葉 里美,ナラハ サトミ,990-0031,"
    "山形県山形市十日町1-1,023-111-7070,,,,,,,",
    "CX2,shop,楢葉 瑛士,ナラハ エイジ,,M,本人,,,990-0039,山形県山形市香澄町2-2,090-1212-3434,,,,,,,",
    # ... and where a third subject, imported last, holds only the reading.
    "DX1,zemi,蓬田 悠真,ヨモギダ ユウマ,2002-05-06,M,長男,蓬田 恵子,ヨモギダ ケイコ,030-0801,"
    "青森県青森市新町1-1,017-111-2323,,,,,,,",
    "DX2,shop,蓬田 悠真,ヨモギダ ユウマ,,M,本人,,,030-0802,青森県青森市本町2-2,090-3434-5656,,,,,,,",
    # A grown child's childhood row here, his undated own row imported last: joined across the incident.
    "HX1,zemi,榛葉 湊斗,シンバ ミナト,2001-07-07,M,長男,榛葉 順子,シンバ ジュンコ,420-0031,"
    "静岡県静岡市葵区呉服町1-1,054-111-8080,,,,,,,",
    # A pre-birth row the mother wrote; the grown child's own row, imported last, shares only the postal
    # code, the family name and a birth date near the due date (join_born_elsewhere).
    "BX1,zemi,ベビー,ベビー,,,,鶴来 佳代,ツルギ カヨ,923-0801,石川県小松市園町1-1,0761-11-2020,,,,,,,"
    "2004-09-10",
    # A man whose given name a call centre, imported last, wrote with other kanji of its sound and no
    # reading: one birth date and his mobile (join_read_alike).
    "AX1,shop,佐々木 拓也,ササキ タクヤ,1966-09-07,M,本人,,,778-5252,徳島県三好市池田町馬路1080,"
    "090-1188-2020,,,,,,,",
    # A child registered twice, the second time by phone with other kanji of the name's sound and no
    # reading, imported last: one birth date and the postal code only (join_read_alike).
    "AY1,zemi,村田 奏太,ムラタ ソウタ,2012-03-03,M,長男,村田 由香,ムラタ ユカ,950-0087,"
    "新潟県新潟市中央区東大通1-1,025-111-0303,,,,,,,",
    # A pre-birth row with the guardian's name, the due date and a postal code only; the child's row,
    # imported last, names the guardian, was born eight days before and lives in that postal district
    # (join_placeholders, through the name and the district).
    "GX1,zemi,ベビー,ベビー,,,,柚木 真理,ユノキ マリ,810-0002,,,,,,,,,2016-05-20",
    # A pre-birth row and a child at its home whose row writes the guardian otherwise (真里 for 真理); a
    # child of the guardian as the pre-birth row writes her, born then in its postal district at another
    # home, imported last, is a possible twin: join_unborn leaves the pregnancy alone (through the
    # guardian's name and the district), and the child at home, its name not split, is of no family
    # join_born_elsewhere can tell.
    "TX1,zemi,ベビー,ベビー,,,,柚原 真理,ユハラ マリ,630-8001,,0742-22-1111,,,,,,,2018-03-10",
    "TX2,zemi,柚原陽,ユハラヒナタ,2018-03-01,M,長男,柚原 真里,,,,0742-22-1111,,,,,,,",
    # A pre-birth row with an e-mail address only; the child's row, imported last, in another district,
    # names the guardian and gives that address (join_placeholders, through a contact of its own).
    "EX1,zemi,ベビー,ベビー,,,,榊 由紀,サカキ ユキ,,,,,yuki.sakaki@example.jp,,,,,2019-07-01",
    # A pre-birth row; two children born near its due date in its postal code, imported last, neither
    # naming a guardian: one of the guardian's family name, one whose name is not split (its family name
    # cannot be told: a possible twin). join_born_elsewhere joins neither, across the incident too.
    "QX1,zemi,ベビー,ベビー,,,,鳴海 京子,ナルミ キョウコ,924-0801,石川県白山市倉光1-1,076-211-3030,,,,,,,"
    "2005-06-10",
    # One pregnancy written twice on one phone (the second time due later, without a postal code); the
    # child's own row, imported last, in the first row's postal code, born 100 days after its due date
    # and 45 after the second's: join_born_elsewhere finds the pregnancy through the first row and
    # weighs the birth against both due dates.
    "PX1,zemi,ベビー,ベビー,,,,鶴岡 佳代,ツルオカ カヨ,997-0031,山形県鶴岡市錦町1-1,0235-11-2020,,,,,,,"
    "2019-11-05",
    "PX2,kodomo,ベビー,ベビー,,,,鶴岡 佳代,ツルオカ カヨ,,,0235-11-2020,,,,,,,2019-12-30",
    # A child whose guardian's own row, imported last, shares only the card and the name.
    "RC1,zemi,和泉 奏多,イズミ カナタ,2015-04-04,M,長男,和泉 千尋,イズミ チヒロ,920-0002,"
    "石川県金沢市尾張町1-1,076-111-0101,,,VISA,4821,,,",
]
LATE = [
    # The grown child 鷲尾 晴臣's own row again, from another source: one subject with his other own row.
    "LG1,club,鷲尾 晴臣,ワシオ ハルオミ,,M,本人,,,980-0021,宮城県仙台市青葉区中央2-2,090-7777-1212,,,,,,,",
    # A second pre-birth row of the 斎藤 pregnancy, from another source, long after the first ones.
    "LP1,kodomo,斎藤ちゃん,,,,,斎藤 裕子,,390-0811,長野県松本市中央1-1,0263-11-2233,,,,,,,2025-03-05",
    "CX3,club,楢葉 瑛士,ナラハ エイジ,1969-01-01,M,本人,,,810-0001,福岡県福岡市中央区天神1-1,"
    "090-5656-7878,,,,,,,",
    "DX3,club,蓬田 佑馬,ヨモギダ ユウマ,1969-09-09,M,本人,,,900-0001,沖縄県那覇市港町1-1,"
    "090-7878-9090,,,,,,,",
    "HX2,shop,榛葉 湊斗,シンバ ミナト,,M,本人,,,420-0035,静岡県静岡市葵区七間町2-2,090-4545-6767,,,,,,,",
    "BX2,shop,鶴来 颯,ツルギ ハヤテ,2004-09-14,M,本人,,,923-0801,石川県小松市園町5-5,090-6767-2020,,,,,,,",
    "GX2,shop,柚木 蒼,ユノキ アオイ,2016-05-12,M,長男,柚木 真理,ユノキ マリ,810-0001,"
    "福岡県福岡市中央区天神2-2,092-111-4545,,,,,,,",
    "TX3,shop,柚原 葵,ユハラ アオイ,2018-03-05,F,長女,柚原 真理,ユハラ マリ,630-8002,"
    "奈良県奈良市東向中町1-1,0742-33-2222,,,,,,,",
    "EX2,shop,榊 凛,サカキ リン,2019-06-25,F,長女,榊 由紀,サカキ ユキ,060-0001,"
    "北海道札幌市中央区北一条西1-1,011-222-3333,,yuki.sakaki@example.jp,,,,,",
    "AY2,callcenter,村田 颯太,,2012-03-03,M,長男,村田 由香,,950-0087,,,,,,,,,",
    "AX2,callcenter,佐々木 卓也,,1966-09-07,M,本人,,,,,090-1188-2020,,,,,,,",
    "QX2,shop,鳴海 蓮,ナルミ レン,2005-06-12,M,本人,,,924-0801,石川県白山市倉光5-5,090-1111-4040,,,,,,,",
    "QX3,club,鳴海蒼,ナルミアオイ,2005-06-14,M,本人,,,924-0801,石川県白山市倉光6-6,090-1111-5050,,,,,,,",
    "PX3,shop,鶴岡 健,ツルオカ ケン,2020-02-13,M,本人,,,997-0031,山形県鶴岡市錦町7-7,090-2222-3030,,,,,,,",
    "RC2,shop,和泉 千尋,イズミ チヒロ,1984-08-08,F,本人,,,921-8001,石川県金沢市高畠2-2,"
    "090-2323-0101,,,VISA,4821,,,",
]


def _snapshot(incident) -> dict[str, object]:
    """Everything resolve writes, by the records' own ids (the two incidents' primary keys differ)."""
    record_id = dict(LeakRecord.objects.filter(incident=incident).values_list("pk", "record_id"))
    subjects = Subject.objects.filter(incident=incident)
    recipients = Recipient.objects.filter(incident=incident)
    review = ReviewPair.objects.filter(incident=incident)
    return {
        "memberships": list(iter_clusters(incident=incident)),
        "subjects": sorted(
            (number, recipient, minor, record_id[best])
            for number, recipient, minor, best in subjects.values_list(
                "number", "recipient__number", "is_minor", "best_record_id"
            )
        ),
        "recipients": sorted(
            (number, kind, record_id[contact])
            for number, kind, contact in recipients.values_list("number", "kind", "contact_record_id")
        ),
        "review": sorted(
            (record_id[a], record_id[b], round(p, 12), decision)
            for a, b, p, decision in review.values_list(
                "record_a_id", "record_b_id", "probability", "decision"
            )
        ),
    }


def _import(incident, tmp_path: Path, name: str, rows: list[str]) -> None:
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    import_file(incident=incident, path=path, actor="t")


def _resolve(incident, settings, part_records: int) -> tuple[object, list[str]]:
    settings.OWABI_RESOLVE_PART_RECORDS = part_records
    said: list[str] = []
    result = resolve(incident=incident, actor="t", as_of=AS_OF, progress=said.append)
    return result, said


def _batch_counts(said: list[str]) -> list[int]:
    return [int(line.split()[0].replace(",", "")) for line in said if "batches of independent parts" in line]


def _decide(incident, decisions: dict[tuple[str, str], str]) -> None:
    pk = dict(LeakRecord.objects.filter(incident=incident).values_list("record_id", "pk"))
    for (a, b), decision in decisions.items():
        ReviewPair.objects.filter(incident=incident, record_a_id=pk[a], record_b_id=pk[b]).update(
            decision=decision, decided_by="reviewer"
        )


def test_small_parts_give_what_the_whole_incident_gives(incident, tmp_path: Path, settings) -> None:
    whole = incident
    parted = create_incident(actor="test", slug="test-parts", name="部分", discovered_on=date(2026, 11, 1))
    crowd = tmp_path / "crowd.csv"
    call_command("synth", records=3000, seed=5, out=str(crowd))
    for target in (whole, parted):
        import_file(incident=target, path=crowd, actor="t")
        _import(target, tmp_path, "early.csv", EARLY)
        _import(target, tmp_path, "hard.csv", test_resolve_hard.ROWS)
        _import(target, tmp_path, "near.csv", test_resolve_near.ROWS)
        _import(target, tmp_path, "late.csv", LATE)

    at_once, said_whole = _resolve(whole, settings, 10**9)
    in_parts, said_parted = _resolve(parted, settings, SMALL_PARTS)
    assert _batch_counts(said_whole) == [1, 1]
    assert all(count > 50 for count in _batch_counts(said_parted))
    first = _snapshot(whole)
    assert _snapshot(parted) == first
    assert (in_parts.subjects, in_parts.recipients, in_parts.review_pairs) == (
        at_once.subjects,
        at_once.recipients,
        at_once.review_pairs,
    )
    # The rules across records did their work in both (not two runs that both joined nothing).
    by_id = {record: (s, r) for record, s, r in first["memberships"]}
    assert by_id["GC1"][0] == by_id["GC2"][0] == by_id["LG1"][0] != ""  # join_grown, across the crowd
    assert by_id["UB0"][0] == by_id["UB1"][0] == by_id["UB2"][0] == by_id["LP1"][0]  # join_unborn
    assert by_id["PH0"][0] == by_id["PH1"][0]  # join_placeholders
    assert by_id["BR1"][0] != by_id["BR2"][0]  # an undated bridge held back
    assert by_id["HX1"][0] == by_id["HX2"][0]  # join_grown, the rows far apart
    assert by_id["CX1"][0] != by_id["CX2"][0]  # ... not where a third holds the name
    assert by_id["DX1"][0] != by_id["DX2"][0]  # ... or the reading
    assert by_id["BX1"][0] == by_id["BX2"][0]  # join_born_elsewhere, the rows far apart
    assert by_id["AX1"][0] == by_id["AX2"][0]  # join_read_alike, the rows far apart
    assert by_id["AY1"][0] == by_id["AY2"][0]  # ... through the postal code alone
    assert by_id["GX1"][0] == by_id["GX2"][0]  # a pre-birth row to its guardian's child, far apart
    assert by_id["TX1"][0] not in (by_id["TX2"][0], by_id["TX3"][0])  # ... a possible twin far apart
    assert by_id["EX1"][0] == by_id["EX2"][0]  # ... through an e-mail address, far apart
    assert len({by_id["QX1"][0], by_id["QX2"][0], by_id["QX3"][0]}) == 3  # ... nor with a possible twin
    assert by_id["PX1"][0] == by_id["PX2"][0] == by_id["PX3"][0]  # ... near another of its due dates
    assert by_id["RC1"][1] == by_id["RC2"][1] != ""  # the guardian's own recipient, through the card
    assert len({s for s, _ in by_id.values()}) < len(by_id)
    assert len({r for _, r in by_id.values()}) < len({s for s, _ in by_id.values()})  # guardians
    assert first["review"]

    # Reviewers decide some pairs (the same way in both), and resolve runs again: the decided pairs, and
    # the numbers kept from the first run, come out alike.
    pending = [(a, b) for a, b, _, decision in first["review"] if decision == ReviewPair.Decision.PENDING]
    decisions = {
        pair: (ReviewPair.Decision.SAME if index % 2 else ReviewPair.Decision.DIFFERENT)
        for index, pair in enumerate(pending[:20])
    }
    for target in (whole, parted):
        _decide(target, decisions)
        # A reviewer's "same" between records the model does not pair at all (imported far apart).
        pk = dict(LeakRecord.objects.filter(incident=target).values_list("record_id", "pk"))
        a, b = sorted((pk["KE1"], pk["CX3"]))
        ReviewPair.objects.create(
            incident=target, record_a_id=a, record_b_id=b, probability=0.6, decision=ReviewPair.Decision.SAME
        )
        _import(
            target,
            tmp_path,
            "more.csv",
            [row.replace("GC2,", "GC3,", 1) for row in test_resolve_hard.ROWS if row.startswith("GC2,")],
        )
    _resolve(whole, settings, 10**9)
    _resolve(parted, settings, SMALL_PARTS)
    again = _snapshot(whole)
    assert _snapshot(parted) == again
    assert again != first
    by_id = {record: (s, r) for record, s, r in again["memberships"]}
    assert by_id["KE1"][0] == by_id["CX3"][0]


def test_components_join_every_chain_and_name_each_part_by_its_smallest_record() -> None:
    left = np.array([5, 1, 7, 3, 9], np.int64)
    right = np.array([1, 7, 2, 8, 8], np.int64)
    assert components(10, left, right).tolist() == [0, 1, 1, 3, 4, 1, 6, 1, 3, 3]
    assert components(3, np.empty(0, np.int64), np.empty(0, np.int64)).tolist() == [0, 1, 2]


def test_rows_of_one_value_link_to_its_smallest_row_and_crowded_values_link_none() -> None:
    import pyarrow as pa

    values = pa.chunked_array([["b", None, "a"], ["b", "c", "a", "b"]])
    code, distinct = value_codes(values)
    assert distinct == 3 and code[1] == -1
    assert code[0] == code[3] == code[6] and code[2] == code[5] and len(set(code.tolist())) == 4
    rows = np.array([10, 11, 12, 13, 14, 15, 16], np.int64)
    linked = sorted(zip(*(side.tolist() for side in grouped_links(code, rows)), strict=True))
    # Every row holding a value, to the smallest row holding it (itself included); no link for null.
    assert linked == [(10, 10), (12, 12), (13, 10), (14, 14), (15, 12), (16, 10)]
    # With a limit: "b" on three rows is crowded, "c" on one links nothing.
    linked = sorted(zip(*(side.tolist() for side in grouped_links(code, rows, limit=2)), strict=True))
    assert linked == [(12, 12), (15, 12)]
    assert [side.tolist() for side in grouped_links(np.full(3, -1, np.int64), rows[:3])] == [[], []]


def test_batches_keep_parts_whole_in_the_order_of_their_smallest_record() -> None:
    label = np.array([0, 1, 1, 3, 4, 1, 6, 1, 3, 3], np.int64)
    assert [b.tolist() for b in batches(label, 4)] == [[0], [1, 2, 5, 7], [3, 4, 8, 9], [6]]
    assert [b.tolist() for b in batches(label, 2)] == [[0], [1, 2, 5, 7], [3, 8, 9], [4, 6]]
    assert [b.tolist() for b in batches(label, 100)] == [list(range(10))]


def test_packed_lists_read_back_as_they_were_and_reorder_whole() -> None:
    lists = [[3, 1], [], [7], [2, 5, 9]]
    packed = Packed.of(lists)
    assert len(packed) == 4 and [list(one) for one in packed] == lists
    assert (
        list(packed[-1]) == [2, 5, 9]
        and list(packed[1]) == []
        and [list(one) for one in packed[1:3]] == [[], [7]]
    )
    with pytest.raises(IndexError):
        packed[4]
    taken = packed.take(np.array([3, 0, 2, 1]))
    assert [list(one) for one in taken] == [[2, 5, 9], [3, 1], [7], []]
    items, starts = taken.numpy()
    assert items.tolist() == [2, 5, 9, 3, 1, 7] and starts.tolist() == [0, 3, 5, 6, 6]
    assert [list(one) for one in Packed.from_numpy(items, np.diff(starts))] == [list(one) for one in taken]
    assert len(Packed.of([])) == 0 and len(packed.take(np.empty(0, np.int64))) == 0
    regrouped = taken.regrouped(np.array([1, 4, 0, 1]))
    assert [list(one) for one in regrouped] == [[2], [5, 9, 3, 1], [], [7]] and regrouped.items is taken.items
    with pytest.raises(ValueError):
        taken.regrouped(np.array([1, 2]))  # sizes must cover every item
    with pytest.raises(ValueError):
        Packed(items, starts[:-1])  # the last start must be the end of the items


def test_stable_numbers_keep_the_largest_overlap_then_the_smaller_number_and_give_new_ones_after() -> None:
    old = OldNumbers(6)
    for record, number in ((0, 5), (1, 5), (2, 5), (3, 2), (4, 7)):
        old.set(record, number)
    clusters = Packed.of([[0, 1], [2], [3, 4], [5]])
    # 5 goes to the first cluster (two records had it); the second's only wish is taken, so it gets a
    # new number after the incident's highest (9); the third had 2 and 7 once each: the smaller.
    assert list(stable_numbers(clusters, old, 9)) == [5, 10, 2, 11]
    assert list(stable_numbers(clusters, OldNumbers(6), 0)) == [1, 2, 3, 4]  # a first run
    assert list(stable_numbers(Packed.of([[4]]), old, 3)) == [7]  # an old number above the highest


def _feature_table(rows: list[dict[str, str]]):
    import pyarrow as pa

    columns = ("name_fold", "kana_key", "dob", "guardian_fold", "guardian_kana", "phone", "email")
    columns += ("address_key", "postal", "due", "card_last4")
    return pa.table({c: pa.array([row.get(c) for row in rows], pa.string()) for c in columns})


def test_a_name_links_parts_only_where_join_grown_could_join_by_it() -> None:
    """A written name held by two parts links them only for a childhood row in one and an undated own row
    in the other, in one postal district: namesakes of one district, or a grown child's name in another
    district, stay two parts (linking every name held twice linked strangers: 922 name links at 5M where
    15 were needed)."""
    import pyarrow as pa

    from owabi.records.resolve.parts import clustering_parts

    child = {"guardian_fold": "榛葉順子", "guardian_kana": "シンバジュンコ", "dob": "2001-07-07"}
    rows = [
        # 0, 1: two dated adults of one name in one district (namesakes: join_grown takes no dated pair)
        {"name_fold": "高橋健", "kana_key": "タカハシケン", "dob": "1970-01-01", "postal": "1000001"},
        {"name_fold": "高橋健", "kana_key": "タカハシケン", "dob": "1980-05-05", "postal": "1000002"},
        # 2, 3: a grown child's childhood row and undated own row, one district: one part
        {"name_fold": "榛葉湊斗", "kana_key": "シンバミナト", "postal": "4200031", **child},
        {"name_fold": "榛葉湊斗", "kana_key": "シンバミナト", "postal": "4200035", "phone": "09045456767"},
        # 4, 5: the same, the own row in another district: two parts
        {"name_fold": "蓬田悠真", "kana_key": "ヨモギダユウマ", "postal": "0300801", **child},
        {"name_fold": "蓬田悠真", "kana_key": "ヨモギダユウマ", "postal": "9000001"},
        # 6: another name of 2's and 3's reading, far away
        {"name_fold": "榛葉港人", "kana_key": "シンバミナト", "dob": "1969-01-01", "postal": "8100001"},
    ]
    table = _feature_table(rows)
    placeholder = pa.array([False] * len(rows))
    none = np.empty(0, np.int64)
    found = clustering_parts(table, placeholder, none, none, set())
    label = found.label.tolist()
    assert label[2] == label[3]
    assert len({label[0], label[1], label[2], label[4], label[5], label[6]}) == 6
    # What join_grown is told is held beyond a part: 2's and 3's name is not, their reading is (by 6);
    # the names and readings of 0 and 1, and of 4 and 5, are (by each other).
    assert found.crowded_name.to_pylist() == [True, True, False, False, True, True, False]
    assert found.crowded_reading.to_pylist() == [True] * len(rows)


def test_links_merged_kind_by_kind_give_the_components_of_all_links_at_once() -> None:
    from owabi.records.resolve.union_find import merged

    generator = np.random.default_rng(19)
    for n, count in ((1, 0), (40, 10), (300, 200), (300, 600)):
        kinds = [generator.integers(0, n, size=(2, count)) for _ in range(3)]
        label = components(n, *kinds[0])
        for left, right in kinds[1:]:
            label = merged(label, left, right)
        every = np.concatenate(kinds, axis=1)
        assert label.tolist() == components(n, every[0], every[1]).tolist()
    assert merged(np.arange(3), np.empty(0, np.int64), np.empty(0, np.int64)).tolist() == [0, 1, 2]


def test_values_of_several_columns_share_one_code() -> None:
    import pyarrow as pa

    own = pa.chunked_array([["佐藤花子", None], ["鈴木一郎"]])
    guardian = pa.array(["鈴木一郎", "佐藤花子", None, "田中"], pa.string()).dictionary_encode()
    (first, second), distinct = shared_codes(own, guardian)
    assert distinct == 3 and first[1] == -1 and second[2] == -1
    assert first[0] == second[1] and first[2] == second[0] and second[3] not in (first[0], first[2])
    [alone], distinct = shared_codes(pa.array([None, None], pa.string()))
    assert distinct == 0 and alone.tolist() == [-1, -1]


def test_crossed_pairs_each_wanted_entry_with_every_equal_key() -> None:
    rng = np.random.default_rng(7)
    for size in (0, 1, 5, 40):
        keys = np.sort(rng.integers(0, 6, size))
        wanted = rng.integers(-1, 7, rng.integers(0, 30))
        which, position = crossed(keys, wanted)
        expected = [(w, p) for w in range(len(wanted)) for p in range(len(keys)) if keys[p] == wanted[w]]
        assert list(zip(which.tolist(), position.tolist(), strict=True)) == expected


def _reference_recipient_parts(rows: list[dict[str, str]], subject: list[int]) -> list[int]:
    """recipient_parts as the rule reads, by brute force: a subject's records, one phone, e-mail or
    address, or one written name (own or guardian's, any record of a subject) with one card's digits
    (any record of the other)."""
    label = list(range(len(rows)))

    def root(i: int) -> int:
        while label[i] != i:
            i = label[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = root(i), root(j)
        label[max(a, b)] = min(a, b)

    names: dict[int, set[str]] = {}
    cards: dict[int, set[str]] = {}
    for i, row in enumerate(rows):
        names.setdefault(subject[i], set()).update(
            v for v in (row.get("name_fold"), row.get("guardian_fold")) if v is not None
        )
        if row.get("card_last4") is not None:
            cards.setdefault(subject[i], set()).add(row["card_last4"])
    for i, row in enumerate(rows):
        for j in range(i):
            shared = any(
                row.get(kind) is not None and row.get(kind) == rows[j].get(kind)
                for kind in ("phone", "email", "address_key")
            )
            a, b = subject[i], subject[j]
            by_card = bool(
                names.get(a, set()) & names.get(b, set()) and cards.get(a, set()) & cards.get(b, set())
            )
            if a == b or shared or by_card:
                join(i, j)
    return [root(i) for i in range(len(rows))]


def test_recipient_parts_join_contacts_and_a_card_only_with_a_name() -> None:
    import random

    from owabi.records.resolve.parts import recipient_parts

    # Two subjects of one card's digits and one name (each on another record of its subject) are one
    # part; the same card with another name, or the same name with another card, is not.
    rows = [
        {"name_fold": "佐藤花子"},
        {"card_last4": "1234"},
        {"guardian_fold": "佐藤花子", "card_last4": "1234"},
        {"name_fold": "佐藤花子", "card_last4": "9999"},
        {"name_fold": "鈴木一郎", "card_last4": "1234"},
    ]
    subject = [0, 0, 2, 3, 4]
    assert recipient_parts(_feature_table(rows), np.array(subject)).tolist() == [0, 0, 0, 3, 4]
    assert recipient_parts(_feature_table(rows[:2]), np.array([0, 1])).tolist() == [0, 1]

    draw = random.Random(7)
    for _ in range(60):
        n = draw.randint(1, 40)
        rows = [
            {
                kind: draw.choice([None, None, *values])
                for kind, values in (
                    ("name_fold", ("甲", "乙", "丙", "丁")),
                    ("guardian_fold", ("甲", "乙", "戊")),
                    ("card_last4", ("1111", "2222", "3333")),
                    ("phone", ("0311112222", "0311113333", None, None)),
                    ("email", ("a@example.jp", None, None, None)),
                    ("address_key", ("東京1-1", None, None, None)),
                )
            }
            for _ in range(n)
        ]
        owner = [draw.randrange(i + 1) for i in range(n)]
        subject = [min(j for j in range(n) if owner[j] == owner[i]) for i in range(n)]
        found = recipient_parts(_feature_table(rows), np.array(subject, np.int64)).tolist()
        assert found == _reference_recipient_parts(rows, subject)


def test_a_name_or_reading_is_crowded_where_named_rows_of_two_parts_hold_it() -> None:
    """ClusteringParts.crowded_name / crowded_reading, against a brute-force reading: a value is held
    elsewhere when named rows (a written name, not a pre-birth row) of two parts or more hold it."""
    import random

    import pyarrow as pa

    from owabi.records.resolve.parts import clustering_parts

    draw = random.Random(11)
    for _ in range(40):
        n = draw.randint(1, 30)
        readings = (
            [None] if draw.random() < 0.2 else [None, "コウ", "オツ", "ヘイ"]
        )  # some: no reading at all
        rows = [
            {
                "name_fold": draw.choice([None, "", "甲", "乙", "丙"]),
                "kana_key": draw.choice(readings),
                "dob": draw.choice([None, "1990-01-01", "1990-01-02"]),
            }
            for _ in range(n)
        ]
        placeholder = [draw.random() < 0.1 for _ in range(n)]
        left = np.array([draw.randrange(n) for _ in range(n // 3)], np.int64)
        right = np.array([draw.randrange(n) for _ in range(n // 3)], np.int64)
        found = clustering_parts(_feature_table(rows), pa.array(placeholder), left, right, set())
        label = found.label.tolist()
        named = [bool(row["name_fold"]) and not placeholder[i] for i, row in enumerate(rows)]
        for column, crowded in (("name_fold", found.crowded_name), ("kana_key", found.crowded_reading)):
            expected = [
                row[column] is not None
                and len({label[j] for j in range(n) if named[j] and rows[j][column] == row[column]}) > 1
                for row in rows
            ]
            assert crowded.to_pylist() == expected


def test_name_links_against_a_brute_force_reading_of_join_grown_s_conditions() -> None:
    """parts._name_links on random tables: a link (P, Q) exactly where named rows of two base parts, and
    no more, hold a written name, P has a row of it naming a guardian, Q one naming none and giving no
    birth date, and named rows of both hold one postal district (not 000)."""
    import random

    import pyarrow as pa

    from owabi.records.resolve.parts import _name_links

    draw = random.Random(5)
    for _ in range(400):
        n = draw.randint(1, 30)
        rows = [
            {
                "name_fold": draw.choice([None, "甲", "乙", "丙"]),
                "guardian_fold": draw.choice([None, None, "親"]),
                "guardian_kana": draw.choice([None, None, None, "オヤ"]),
                "dob": draw.choice([None, None, "2001-01-01"]),
                "postal": draw.choice([None, "1000001", "1000002", "2000001", "0000000"]),
            }
            for _ in range(n)
        ]
        owner = [draw.randrange(i + 1) for i in range(n)]
        base = [min(j for j in range(n) if owner[j] == owner[i]) for i in range(n)]
        named = [row["name_fold"] is not None and draw.random() < 0.9 for row in rows]
        parts_of: dict[str, set[int]] = {}
        for i, row in enumerate(rows):
            if named[i]:
                parts_of.setdefault(row["name_fold"], set()).add(base[i])

        districts: dict[int, set[str]] = {}
        for i, row in enumerate(rows):
            if named[i] and row["postal"] and row["postal"][:3] != "000":
                districts.setdefault(base[i], set()).add(row["postal"][:3])
        has_guardian = [bool(row["guardian_fold"] or row["guardian_kana"]) for row in rows]
        expected = set()
        for name, held in parts_of.items():
            if len(held) != 2:
                continue
            mine = [i for i in range(n) if named[i] and rows[i]["name_fold"] == name]
            for p, q in (sorted(held), sorted(held)[::-1]):
                child = any(base[i] == p and has_guardian[i] for i in mine)
                grown = any(base[i] == q and not has_guardian[i] and not rows[i]["dob"] for i in mine)
                if child and grown and districts.get(p, set()) & districts.get(q, set()):
                    expected.add((p, q))
        left, right = _name_links(_feature_table(rows), pa.array(named), np.array(base, np.int64))
        assert set(zip(left.tolist(), right.tolist(), strict=True)) == expected
        assert len(left) == len(expected)  # each link once
