"""Issue 20, seventh round: a given name written with other kanji of its sound (clusters.join_read_alike),
read through the name dictionary (normalize.given_name_readings).

Through the public path (import -> resolve -> export clusters), hand-made rows among 2,000 synthetic ones;
and the rule on its own where a case needs exact columns.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from owabi.records import normalize
from owabi.records.normalize import given_name_readings
from owabi.records.resolve.clusters import join_read_alike
from owabi.records.resolve.union_find import find
from tests.test_resolve_near import resolve_among_a_crowd, same

ROWS = [
    # A call centre heard タクヤ and keyed 卓也 without the reading: his mobile, one birth date.
    "RA1,shop,佐々木 拓也,ササキ タクヤ,1966-09-07,M,本人,,,778-5252,徳島県三好市池田町馬路1080,"
    "090-5019-9114,,,,,,,",
    "RA2,callcenter,佐々木卓也,,1966-09-07,M,本人,,,,,090-5019-9114,,,,,,,",
    # A child: 蓮 and 漣 (both レン), the family name's reading slipped (ヤマモド), the guardian's address.
    "RB1,web,山本 蓮,ヤマモト レン,2008-07-10,M,長男,山本 大輔,ヤマモト ダイスケ,400-0105,"
    "山梨県甲斐市下今井439,"
    ",,daisuke.y@example.jp,,,,,",
    "RB2,callcenter,山本 漣,ヤマモド レン,2008-07-10,M,長男,山本 大輔,,400-0105,山梨県甲斐市下今井439,"
    "090-3781-9383,,,,,,,",
    # Grown twins at their parents' address, each with a mobile of their own: 太一 (タイチ) and 大智,
    # which the dictionary can read タイチ too. Two people.
    "RT1,app,今井 太一,イマイ タイチ,1998-09-03,M,本人,,,243-0017,神奈川県厚木市栄町4-12-14,090-3621-3864,,"
    ",,,,,",
    "RT2,callcenter,今井 大智,,1998-09-03,M,本人,,,243-0017,神奈川県厚木市栄町4-12-14,080-2282-6903,,,,,,,",
    # Twins registered by their mother, each with a reading: 健 (ケン) and 勝 (マサル; 健 can be read
    # マサル too). The readings differ: two children.
    "RW1,zemi,金子 健,カネコ ケン,2016-04-04,M,長男,金子 由美,カネコ ユミ,330-0063,"
    "埼玉県さいたま市浦和区高砂1-1,"
    "048-111-2424,,,,,,,",
    "RW2,zemi,金子 勝,カネコ マサル,2016-04-04,M,次男,金子 由美,カネコ ユミ,330-0063,"
    "埼玉県さいたま市浦和区高砂1-1,"
    "048-111-2424,,,,,,,",
    # Brothers two years apart, one written without a reading: 拓海 and 卓海 could both be タクミ, but a
    # birth date apart is a sibling.
    "RS1,zemi,原田 拓海,ハラダ タクミ,2012-05-05,M,長男,原田 恵,ハラダ メグミ,460-0002,"
    "愛知県名古屋市中区丸の内1-1,"
    "052-111-3535,,,,,,,",
    "RS2,zemi,原田 卓海,,2014-06-06,M,次男,原田 恵,,460-0002,愛知県名古屋市中区丸の内1-1,052-111-3535,,,,,,,",
]


@pytest.mark.django_db
def test_a_given_name_keyed_with_other_kanji_of_its_sound_is_one_person_twins_are_two(
    incident, tmp_path: Path
) -> None:
    resolved = resolve_among_a_crowd(incident, tmp_path, ROWS)
    assert same(resolved, "RA1", "RA2")
    assert same(resolved, "RB1", "RB2")
    # Twins and siblings whose names the dictionary reads alike stay apart.
    assert not same(resolved, "RT1", "RT2")
    assert not same(resolved, "RW1", "RW2")
    assert resolved["RW1"][1] == resolved["RW2"][1]  # one guardian, one letter
    assert not same(resolved, "RS1", "RS2")


def test_the_dictionary_gives_every_reading_of_a_given_name() -> None:
    assert {"ケン", "タケシ", "マサル"} <= normalize.given_name_readings("健")
    assert "ソウタ" in normalize.given_name_readings("奏太")
    assert normalize.given_name_readings("髙志") == normalize.given_name_readings("高志") != frozenset()
    assert normalize.given_name_readings("みゆき") == {"ミユキ"}  # a name in kana is its own reading
    assert normalize.given_name_readings("ハル") == {"ハル"}
    assert normalize.given_name_readings("鬮鬯") == frozenset()  # not a name the dictionary knows
    assert normalize.given_name_readings("") == frozenset()


HOME = {"phone": "+819050199114", "postal": "7785252"}  # his mobile, on both rows
TAKUYA = {
    **HOME,
    "dob": "1966-09-07",
    "name_fold": "佐佐木拓也",
    "given_name": "拓也",
    "kana_key": "ササキタクヤ",
    "given_kana": "タクヤ",
}
UNREAD = {**HOME, "dob": "1966-09-07", "name_fold": "佐佐木卓也", "given_name": "卓也"}
GUARDIAN = {"guardian_fold": "佐佐木恵"}
COLUMNS = (
    *("name_fold", "given_name", "kana_key", "given_kana", "dob", "phone", "email", "address_key"),
    *("postal", "guardian_fold", "guardian_kana"),
)


def _subjects(rows: list[dict[str, str]], different: set[tuple[int, int]] | None = None) -> int:
    col = {name: [row.get(name) for row in rows] for name in COLUMNS}
    parent = list(range(len(rows)))
    join_read_alike(col, [False] * len(rows), parent, different or set())
    return len({find(parent, i) for i in range(len(rows))})


def test_the_rule_joins_one_pair_alone_at_its_home_on_its_birth_date() -> None:
    assert _subjects([TAKUYA, UNREAD]) == 1
    assert _subjects([UNREAD, TAKUYA]) == 1
    # A reading without a space: its end, where the dictionary reads the given name so.
    assert _subjects([{**TAKUYA, "given_kana": None}, UNREAD]) == 1
    # A name without a space, cut with the other row's family name.
    assert _subjects([TAKUYA, {**UNREAD, "given_name": None}]) == 1
    # Children's rows: the postal code alone is a place in common.
    child, unread = {**TAKUYA, **GUARDIAN, "phone": None}, {**UNREAD, **GUARDIAN, "phone": "+81883721010"}
    assert _subjects([child, unread]) == 1


def test_the_rule_needs_one_birth_date_a_home_and_a_reading_the_dictionary_lists() -> None:
    assert _subjects([TAKUYA, {**UNREAD, "dob": "1966-09-08"}]) == 2  # not one birth date
    assert _subjects([TAKUYA, {**UNREAD, "dob": None}]) == 2
    assert _subjects([TAKUYA, {**UNREAD, "phone": "+819011119999", "postal": "7700001"}]) == 2  # no home
    assert _subjects([TAKUYA, {**UNREAD, "name_fold": "佐佐木鬮鬯", "given_name": "鬮鬯"}]) == 2  # unknown
    assert _subjects([TAKUYA, {**UNREAD, "name_fold": "佐藤卓也", "given_name": "卓也"}]) == 2  # family
    # A row that gives its own reading must give the same one.
    assert _subjects([TAKUYA, {**UNREAD, "kana_key": "ササキタカヤ", "given_kana": "タカヤ"}]) == 2
    # Neither side read: nothing to compare.
    assert _subjects([{**TAKUYA, "kana_key": None, "given_kana": None}, UNREAD]) == 2


def test_one_family_name_is_the_whole_name_not_its_start() -> None:
    # 中 健 and 中村 健 (ナカムラ ケン): 健 can be read ケン, but 中 is not 中村.
    naka = {**HOME, "dob": "1980-01-01", "name_fold": "中健", "given_name": "健"}
    nakamura = {**naka, "name_fold": "中村健", "kana_key": "ナカムラケン", "given_kana": "ケン"}
    assert _subjects([naka, nakamura]) == 2
    # 中村健 without a space: cut at 中 it leaves 村健, which no dictionary reads ケン.
    assert _subjects([naka, {**nakamura, "given_name": None}]) == 2
    # 佐藤 一 and 佐藤 和人 read サトウカズヒト without a space: it ends in ヒト, a reading of 一, but
    # the dictionary does not read 和人 so.
    hajime = {**HOME, "dob": "1980-01-01", "name_fold": "佐藤一", "given_name": "一"}
    kazuhito = {**hajime, "name_fold": "佐藤和人", "given_name": "和人", "kana_key": "サトウカズヒト"}
    assert "ヒト" in given_name_readings("一")
    assert _subjects([hajime, kazuhito]) == 2


def test_a_third_subject_of_that_birth_date_at_that_home_joins_nothing() -> None:
    third = {
        **HOME,
        "dob": "1966-09-07",
        "name_fold": "佐佐木拓海",
        "given_name": "拓海",
        "kana_key": "ササキタクミ",
        "given_kana": "タクミ",
    }
    assert _subjects([TAKUYA, UNREAD, third]) == 3
    # ... nor a third sharing another value with one of them only.
    elsewhere = {**third, "phone": None, "postal": "1000001", "email": "sasaki@example.jp"}
    assert _subjects([TAKUYA, {**UNREAD, "email": "sasaki@example.jp"}, elsewhere]) == 3
    assert _subjects([TAKUYA, {**UNREAD, "email": "sasaki@example.jp"}, {**elsewhere, "email": None}]) == 2


def test_a_reviewers_different_and_two_adults_without_a_number_or_address_in_common_are_kept() -> None:
    assert _subjects([TAKUYA, UNREAD], {(0, 1)}) == 2
    # Grown twins at their parents' address: their own mobiles, or only the home's landline, in common.
    own = [{**TAKUYA, "phone": "+819011112222"}, {**UNREAD, "phone": "+818033334444"}]
    assert _subjects(own) == 2
    landline = [{**TAKUYA, "phone": "+81883721010"}, {**UNREAD, "phone": "+81883721010"}]
    assert _subjects(landline) == 2
    # ... where an e-mail address in common is one person's.
    email = {"email": "takuya@example.jp"}
    assert _subjects([{**row, **email} for row in landline]) == 1
    # Children's rows carry the guardian's phone: a mobile on a row naming a guardian is not their own.
    assert _subjects([{**row, **GUARDIAN} for row in own]) == 1
