"""Shared contact joins rows whose names and birth dates are close rather than equal; relatives stay apart.

Through the public path (import -> resolve -> export clusters), hand-made rows among 2,000 synthetic ones.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from owabi.records.resolve import resolve
from owabi.records.selectors import iter_clusters
from owabi.records.services import import_file
from tests.test_resolve import HEADER

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 12, 1)

ROWS = [
    # One man, his birth date one day off across a month end (every digit of the day differs), same name,
    # phone and address.
    "DA1,shop,岡本 和也,オカモト カズヤ,1990-11-29,M,本人,,,371-0001,群馬県前橋市大手町1-1-1,027-201-3344,,,,,,,",
    "DA2,club,岡本 和也,オカモト カズヤ,1990-11-30,M,本人,,,371-0001,群馬県前橋市大手町1-1-1,027-201-3344,,,,,,,",
    # One woman, her birth month typed 10 for 9 (2001/9/10 as 2001/10/10).
    "DB1,shop,前田 綾香,マエダ アヤカ,2001-09-10,F,本人,,,330-0061,埼玉県さいたま市浦和区常盤1-2-3,080-4411-2299,,ayaka.m@example.jp,,,,,",
    "DB2,zemi,前田 綾香,マエダ アヤカ,2001-10-10,F,本人,,,330-0061,埼玉県さいたま市浦和区常盤1-2-3,080-4411-2299,,,,,,,",
    # ... and one with day and month both typed differently: 1988/12/31 as 1989/1/1, and no space.
    "DC1,shop,西村 優子,ニシムラ ユウコ,1988-12-31,F,本人,,,260-0001,千葉県千葉市中央区都町1-1,043-111-2020,,,,,,,",
    "DC2,event,西村優子,ニシムラユウコ,1989-01-01,F,本人,,,260-0001,千葉県千葉市中央区都町1-1,043-111-2020,,,,,,,",
    # A name written in hiragana only, with a voiced-mark typo (さぐらい for サクライ), and no reading.
    "KV1,shop,櫻井 美紀,サクライ ミキ,1985-03-03,F,本人,,,630-8001,奈良県奈良市法華寺町1-1,0742-11-2233,,miki.s@example.jp,,,,,",
    "KV2,zemi,さぐらい みき,,1985-03-03,F,本人,,,630-8001,奈良県奈良市法華寺町1-1,0742-11-2233,,,,,,,",
    # Small kana written large (キヨウコ for キョウコ), the name in kana only, without a space.
    "KS1,shop,藤田 京子,フジタ キョウコ,1972-07-14,F,本人,,,640-8001,和歌山県和歌山市屋形町1-1,073-400-5566,,,,,,,",
    "KS2,club,フジタキヨウコ,,1972-07-14,F,本人,,,640-8001,和歌山県和歌山市屋形町1-1,073-400-5566,,,,,,,",
    # A voiced-mark typo in the reading of a name whose kanji another system wrote differently.
    "KR1,shop,中島 翔太,ナカジマ ショウタ,1999-07-07,M,本人,,,520-0001,滋賀県大津市中央1-1,077-500-6677,,,,,,,",
    "KR2,event,中嶋 将太,ナカシマ シヨウタ,1999-07-07,M,本人,,,520-0001,滋賀県大津市中央1-1,077-500-6677,,,,,,,",
    # A child registered before birth under a placeholder name with the guardian's contact (a due date),
    # and the born child's row with the real name.
    "PH0,kodomo,高木 ベビー,,,,,高木 美穂,タカギ ミホ,610-0001,京都府宇治市宇治1-1,0774-20-3030,,,,,,,2024-06-01",
    "PH1,zemi,高木 大翔,タカギ ヒロト,2024-05-25,M,長男,高木 美穂,タカギ ミホ,610-0001,京都府宇治市宇治1-1,0774-20-3030,,,,,,,",
    # ... under （未定）, written without a space;
    "PU0,kodomo,小西（未定）,コニシ ミテイ,,,,小西 真理,コニシ マリ,700-0011,岡山県岡山市北区学南町1-1,086-300-1212,,,,,,,2023-11-20",
    "PU1,zemi,小西 蒼,コニシ アオイ,2023-11-28,M,長男,小西 真理,コニシ マリ,700-0011,岡山県岡山市北区学南町1-1,086-300-1212,,,,,,,",
    # ... and as 第二子 with the birth date (no due date): the hospital's row before the child was named.
    "PT0,kodomo,松田 第二子,,2022-02-14,F,,松田 由美,マツダ ユミ,812-0001,福岡県福岡市博多区大博町1-1,092-700-8080,,,,,,,",
    "PT1,zemi,松田 結衣,マツダ ユイ,2022-02-14,F,次女,松田 由美,マツダ ユミ,812-0001,福岡県福岡市博多区大博町1-1,092-700-8080,,,,,,,",
    "PT2,zemi,松田 芽衣,マツダ メイ,2019-06-03,F,長女,松田 由美,マツダ ユミ,812-0001,福岡県福岡市博多区大博町1-1,092-700-8080,,,,,,,",
    # ... as 〇〇ちゃん ("so-and-so") and as the surname with ちゃん, as a parent types it into a web form;
    # the second family has an older daughter too.
    "PC0,web,〇〇ちゃん,,,,第一子,井上 彩,イノウエ アヤ,231-0858,神奈川県横浜市中区大芝台1-1,090-5120-9421,,,,,,,2015-01-06",
    "PC1,zemi,井上 柊,イノウエ シュウ,2015-01-10,M,長男,井上 彩,イノウエ アヤ,231-0858,神奈川県横浜市中区大芝台1-1,090-5120-9421,,,,,,,",
    "PS0,app,平松ちゃん,,,,第二子,平松 絵里,ヒラマツ エリ,661-0047,兵庫県尼崎市西昆陽2-35-16,080-5249-9014,,,,,,,2019-06-30",
    "PS1,zemi,平松 啓太,ヒラマツ ケイタ,2019-07-08,M,長男,平松 絵里,ヒラマツ エリ,661-0047,兵庫県尼崎市西昆陽2-35-16,080-5249-9014,,,,,,,",
    "PS2,zemi,平松 美咲,ヒラマツ ミサキ,2016-02-01,F,長女,平松 絵里,ヒラマツ エリ,661-0047,兵庫県尼崎市西昆陽2-35-16,080-5249-9014,,,,,,,",
    # Twins: one home, one birth date, two names (one of them in kana only).
    "TT1,zemi,上田 悠斗,ウエダ ユウト,2017-05-05,M,長男,上田 里奈,ウエダ リナ,920-0001,石川県金沢市三口新町1-1,076-222-1111,,,,,,,",
    "TT2,zemi,ウエダ ユウマ,,2017-05-05,M,次男,上田 里奈,ウエダ リナ,920-0001,石川県金沢市三口新町1-1,076-222-1111,,,,,,,",
    # ... and their pre-birth row: either twin's.
    "TT0,web,上田ちゃん,,,,,上田 里奈,ウエダ リナ,920-0001,石川県金沢市三口新町1-1,076-222-1111,,,,,,,2017-05-20",
    # Siblings two years apart, one home.
    "SB1,zemi,原 美優,ハラ ミユ,2014-03-10,F,長女,原 智子,ハラ トモコ,990-0001,山形県山形市城北町1-1,023-611-2222,,,,,,,",
    "SB2,zemi,原 美羽,ハラ ミウ,2016-03-11,F,次女,原 智子,ハラ トモコ,990-0001,山形県山形市城北町1-1,023-611-2222,,,,,,,",
    # Brothers whose readings differ only by a voiced mark (ケン / ゲン), one birth date missing, one home;
    # and twins the same way (タイキ / ダイキ): a voiced mark between two names in kanji is two names.
    "VB1,zemi,高木 健,タカギ ケン,2012-04-02,M,長男,高木 智美,タカギ トモミ,380-0001,長野県長野市箱清水1-1,026-234-5678,,,,,,,",
    "VB2,zemi,高木 玄,タカギ ゲン,,M,次男,高木 智美,タカギ トモミ,380-0001,長野県長野市箱清水1-1,026-234-5678,,,,,,,",
    "VT1,zemi,森 泰輝,モリ タイキ,2018-09-09,M,長男,森 早苗,モリ サナエ,310-0001,茨城県水戸市三の丸1-1,029-301-4455,,,,,,,",
    "VT2,zemi,森 大輝,モリ ダイキ,2018-09-09,M,次男,森 早苗,モリ サナエ,310-0001,茨城県水戸市三の丸1-1,029-301-4455,,,,,,,",
    # Father and son read alike (健二 / 謙二), thirty years apart, one home.
    "FA1,shop,岩田 健二,イワタ ケンジ,1965-08-20,M,本人,,,410-0001,静岡県沼津市西沢田1-1,055-921-3333,,kenji.i@example.jp,,,,,",
    "FA2,shop,岩田 謙二,イワタ ケンジ,1995-08-21,M,本人,,,410-0001,静岡県沼津市西沢田1-1,055-921-3333,,,,,,,",
    # Namesakes one day apart in birth, in two prefectures, sharing nothing.
    "NS1,shop,小林 直樹,コバヤシ ナオキ,1983-04-01,M,本人,,,060-0001,北海道札幌市中央区北一条西2-2,011-333-4444,,,,,,,",
    "NS2,club,小林 直樹,コバヤシ ナオキ,1983-04-02,M,本人,,,900-0015,沖縄県那覇市久茂地1-1,098-555-6666,,,,,,,",
]


def resolve_among_a_crowd(incident, tmp_path: Path, rows: list[str]) -> dict[str, tuple[str, str]]:
    """`rows` (in test_resolve's HEADER) imported after 2,000 synthetic records, so that the model is
    trained on a crowd, and resolved: each record id's (subject, recipient)."""
    crowd = tmp_path / "crowd.csv"
    call_command("synth", records=2000, seed=3, out=str(crowd))
    import_file(incident=incident, path=crowd, actor="t")
    cases = tmp_path / "cases.csv"
    cases.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    import_file(incident=incident, path=cases, actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    return {record_id: (s, r) for record_id, s, r in iter_clusters(incident=incident)}


@pytest.fixture
def resolved(incident, tmp_path: Path) -> dict[str, tuple[str, str]]:
    return resolve_among_a_crowd(incident, tmp_path, ROWS)


def same(resolved: dict[str, tuple[str, str]], *record_ids: str) -> bool:
    return len({resolved[r][0] for r in record_ids}) == 1


def test_a_birth_date_a_day_or_a_month_off_joins_one_person_at_one_home(resolved) -> None:
    assert same(resolved, "DA1", "DA2")
    assert same(resolved, "DB1", "DB2")
    assert same(resolved, "DC1", "DC2")


def test_a_name_in_kana_only_is_compared_through_the_reading(resolved) -> None:
    assert same(resolved, "KV1", "KV2")  # a voiced-mark typo too
    assert same(resolved, "KS1", "KS2")  # small kana written large, no space


def test_a_voiced_mark_typo_in_the_reading_joins_one_person_at_one_home(resolved) -> None:
    assert same(resolved, "KR1", "KR2")


def test_a_child_registered_under_a_placeholder_name_is_the_child_born_later(resolved) -> None:
    assert same(resolved, "PH0", "PH1")
    assert same(resolved, "PU0", "PU1")
    assert same(resolved, "PT0", "PT1")
    assert not same(resolved, "PT0", "PT2")  # the older sister
    assert resolved["PT0"][1] == resolved["PT2"][1]


def test_a_child_registered_as_chan_is_the_child_born_later_not_the_older_sister(resolved) -> None:
    assert same(resolved, "PC0", "PC1")
    assert same(resolved, "PS0", "PS1")
    assert not same(resolved, "PS0", "PS2")
    assert resolved["PS0"][1] == resolved["PS2"][1]


def test_twins_siblings_and_a_father_and_son_at_one_home_stay_apart(resolved) -> None:
    assert not same(resolved, "TT1", "TT2")
    assert not same(resolved, "TT0", "TT1")  # the twins' pre-birth row could be either's
    assert not same(resolved, "TT0", "TT2")
    assert not same(resolved, "SB1", "SB2")
    assert not same(resolved, "VB1", "VB2")  # ケン / ゲン: two names in kanji, not a typo
    assert not same(resolved, "VT1", "VT2")  # タイキ / ダイキ twins
    assert not same(resolved, "FA1", "FA2")
    assert resolved["TT1"][1] == resolved["TT2"][1]
    assert resolved["FA1"][1] != resolved["FA2"][1]  # two adults, two notices


def test_namesakes_born_a_day_apart_who_share_nothing_stay_apart(resolved) -> None:
    assert not same(resolved, "NS1", "NS2")


def test_explain_names_the_close_birth_date_level_without_values(incident, resolved, capsys) -> None:
    call_command("resolve", "--incident", incident.slug, "--explain", "DA2")
    out = capsys.readouterr().out
    assert "with DA1: p=" in out
    assert "person: same name, birth date a few days or one field apart" in out
    for value in ("岡本", "和也", "オカモト", "1990", "3344"):
        assert value not in out


def test_a_placeholder_name_makes_a_pre_birth_row_only_when_the_row_names_a_guardian() -> None:
    """A pre-birth row is placed through its guardian; one without (a shop order for 高木ゆいちゃん, a
    nickname) would be a person of its own with a second notice, so it is matched by its name instead."""
    from owabi.records.features import is_placeholder

    row = {"subject_name": "高木ゆいちゃん", "subject_birth_date": "2015-01-01"}
    assert not is_placeholder(row)
    assert is_placeholder({**row, "guardian_name": "高木 美穂"})
    assert is_placeholder(
        {"subject_name": "〇〇ちゃん", "expected_delivery_date": "2027-01-01", "guardian_kana": "タカギ"}
    )
