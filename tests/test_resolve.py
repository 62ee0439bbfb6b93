"""Resolution hard cases, through the public path: import -> resolve -> export clusters.

Hand-made rows sit among 2,000 synthetic ones, so the model sees an incident-sized population.
"""

from __future__ import annotations

import csv
import uuid
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from owabi.notices import setup
from owabi.notices.models import Notice
from owabi.notices.services import prepare
from owabi.records import resolve_model
from owabi.records.models import LeakRecord, Recipient, ReviewPair, Subject
from owabi.records.resolve import resolve
from owabi.records.selectors import iter_clusters
from owabi.records.services import import_file
from tests.conftest import REPO

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 12, 1)
HEADER = (
    "record_id,source,subject_name,subject_kana,subject_birth_date,subject_gender,relationship,"
    "guardian_name,guardian_kana,postal_code,address,phone,fax,email,card_brand,card_last4,card_number,"
    "card_expiry,expected_delivery_date"
)
ROWS = [
    # One woman in three systems: variant kanji, half-width kana, era date, no space, phone formats.
    "W1,shop,髙橋 美咲,タカハシ ミサキ,1980-05-17,F,本人,,,154-0004,東京都世田谷区太子堂2-3-4,090-1111-2222,,misaki.t@example.jp,VISA,4242,,,",
    "W2,zemi,高橋美咲,ﾀｶﾊｼﾐｻｷ,S55.5.17,女,本人,,,1540004,東京都世田谷区太子堂二丁目3番4号,09011112222,,,,,,,",
    "W3,event,高橋 美咲,たかはし みさき,昭和55年5月17日,2,,,,154-0004,世田谷区太子堂2-3-4,０９０－１１１１－２２２２,,MISAKI.T@example.jp,,,,,",
    # Her husband at the same address: his own subject and his own recipient.
    "H1,shop,高橋 健一,タカハシ ケンイチ,1978-02-03,M,本人,,,154-0004,東京都世田谷区太子堂2-3-4,090-1111-2222,,,,,,,",
    # Their twins (same birth date, different names), registered by the mother in two systems.
    "T1,kodomo,高橋 陽翔,タカハシ ハルト,2016-09-09,M,長男,高橋 美咲,タカハシ ミサキ,154-0004,東京都世田谷区太子堂2-3-4,090-1111-2222,,,,,,,",
    "T2,kodomo,高橋 陽葵,タカハシ ヒマリ,2016-09-09,F,長女,高橋 美咲,タカハシ ミサキ,154-0004,東京都世田谷区太子堂2-3-4,090-1111-2222,,,,,,,",
    "T3,zemi,髙橋陽翔,ﾀｶﾊｼﾊﾙﾄ,H28.9.9,男,子,髙橋 美咲,ﾀｶﾊｼ ﾐｻｷ,1540004,東京都世田谷区太子堂2-3-4,09011112222,,,,,,,",
    # A younger sibling, and a pre-birth row in another system that is that child.
    "Y1,zemi,高橋 蒼,タカハシ アオイ,2021-03-02,M,次男,高橋 美咲,タカハシ ミサキ,154-0004,東京都世田谷区太子堂2-3-4,090-1111-2222,,,,,,,",
    "Y0,kodomo,,,,,,高橋 美咲,タカハシ ミサキ,154-0004,東京都世田谷区太子堂2-3-4,090-1111-2222,,,,,,,2021-03-10",
    # A namesake with the same birth date in another prefecture, sharing nothing.
    "N1,shop,高橋 美咲,タカハシ ミサキ,1980-05-17,F,本人,,,060-0001,北海道札幌市中央区北一条西2-1,011-222-3333,,other.misaki@example.com,,,,,",
    # Father and son with the same reading (一郎 / 一朗) at one address.
    "F1,shop,佐藤 一郎,サトウ イチロウ,1970-01-20,M,本人,,,530-0001,大阪府大阪市北区梅田1-1-1,06-1234-5678,,ichiro@example.jp,,,,,",
    "F2,zemi,佐藤 一朗,サトウ イチロウ,2012-06-30,M,長男,佐藤 一郎,サトウ イチロウ,530-0001,大阪府大阪市北区梅田1-1-1,06-1234-5678,,,,,,,",
    # A child registered years ago who is an adult now (born 2006): their own recipient.
    "G1,zemi,鈴木 花,スズキ ハナ,2006-04-01,F,長女,鈴木 恵,スズキ メグミ,980-0001,宮城県仙台市青葉区中央1-1,022-111-2222,,,,,,,",
    # The same grown child registered themself later, far from home: own phone, e-mail and address.
    "G2,shop,鈴木 花,スズキ ハナ,2006-04-01,F,本人,,,812-0011,福岡県福岡市博多区博多駅前1-2-3,080-3333-4444,,hana.s@example.com,,,,,",
    # A woman under her new surname, no birth date, sharing her phone; her son names her as guardian.
    "MW1,zemi,中川 恵理,ナカガワ エリ,1979-03-15,F,本人,,,460-0008,愛知県名古屋市中区栄2-2-2,090-5555-6666,,eri.n@example.jp,,,,,",
    "MW2,shop,加瀬 恵理,カセ エリ,,F,本人,,,460-0008,愛知県名古屋市中区栄2-2-2,090-5555-6666,,,,,,,",
    # A mother whose only leaked row gives her maiden name; her son's row gives her married name.
    "MM1,shop,石井 由香,イシイ ユカ,1982-08-08,F,本人,,,650-0001,兵庫県神戸市中央区加納町4-4-4,090-7777-8888,,yuka.i@example.jp,,,,,",
    "MM2,zemi,岡田 大和,オカダ ヤマト,2014-04-04,M,長男,岡田 由香,オカダ ユカ,650-0001,兵庫県神戸市中央区加納町4-4-4,090-7777-8888,,,,,,,",
    # Father and son both 誠: the father's row has no birth date, the son's (a minor) was registered by
    # his mother at the same address.
    "FS1,shop,吉川 誠,ヨシカワ マコト,,M,本人,,,730-0011,広島県広島市中区基町5-5-5,090-1212-3434,,makoto.y@example.jp,,,,,",
    "FS2,zemi,吉川 誠,ヨシカワ マコト,2013-02-02,M,長男,吉川 直美,ヨシカワ ナオミ,730-0011,広島県広島市中区基町5-5-5,082-123-4567,,,,,,,",
    # Mother 愛 and daughter 藍 read alike (アイ); the daughter's row names her mother as guardian.
    "AG1,event,木下 愛,キノシタ アイ,,F,本人,,,370-0001,群馬県高崎市八幡町1-1,090-9090-1010,,ai.k@example.jp,,,,,",
    "AG2,kodomo,木下 藍,キノシタ アイ,2011-11-11,F,長女,木下 愛,キノシタ アイ,370-0001,群馬県高崎市八幡町1-1,090-9090-1010,,,,,,,",
    # Twins written without a space between surname and given name (one system's house style).
    "TW1,event,高原菜々美,タカハラナナミ,2020-02-15,F,長女,高原 紗希,タカハラ サキ,963-8001,福島県郡山市大町1-1-1,024-999-8888,,,,,,,",
    "TW2,event,高原杏奈,タカハラアンナ,2020-02-15,F,次女,高原 紗希,タカハラ サキ,963-8001,福島県郡山市大町1-1-1,024-999-8888,,,,,,,",
    # A child on two rows: one undated at the old home, one dated after a move; the pre-birth row was
    # written at the old home.
    "PB1,zemi,松井 湊,マツイ ミナト,,M,長男,松井 彩,マツイ アヤ,420-0001,静岡県静岡市葵区駿府町1-1,090-4545-5656,,,,,,,",
    "PB2,event,松井 湊,マツイ ミナト,2019-05-20,M,長男,松井 彩,マツイ アヤ,420-0852,静岡県静岡市葵区紺屋町2-2,054-222-3333,,,,,,,",
    "PB0,kodomo,,,,,,松井 彩,マツイ アヤ,420-0001,静岡県静岡市葵区駿府町1-1,090-4545-5656,,,,,,,2019-06-01",
    # One man on two rows that share only his card (and his name): moved, new phone, no birth date.
    "CD1,shop,長尾 拓真,ナガオ タクマ,1990-10-10,M,本人,,,980-0811,宮城県仙台市青葉区一番町1-1-1,090-6767-7878,,takuma.n@example.jp,VISA,5566,,,",
    "CD2,club,長尾 拓真,ナガオ タクマ,,M,本人,,,900-0001,沖縄県那覇市港町2-2-2,098-111-0000,,,VISA,5566,,,",
    # Two women with one given name, far apart, one undated, sharing nothing but an e-mail address.
    "ME1,zemi,村上 早苗,ムラカミ サナエ,1975-01-01,F,本人,,,020-0001,岩手県盛岡市中央通1-1-1,019-600-1111,,sanae75@example.jp,,,,,",
    "ME2,shop,池田 早苗,イケダ サナエ,,F,本人,,,890-0001,鹿児島県鹿児島市千日町2-2-2,099-700-2222,,sanae75@example.jp,,,,,",
    # Children of two mothers whose names read alike (愛 / 亜衣), in two homes, one e-mail address.
    "HG1,zemi,木村 芽依,キムラ メイ,2019-09-29,F,長女,木村 愛,キムラ アイ,950-0001,新潟県新潟市東区松浜1-1,025-111-0000,,kimura-ai@example.jp,,,,,",
    "HG2,zemi,木村 心春,キムラ コハル,2012-04-19,F,長女,木村 亜衣,キムラ アイ,854-0001,長崎県諫早市福田町2-2,0957-22-0000,,kimura-ai@example.jp,,,,,",
    # A woman under her new surname in two systems that write names without a space, one without the
    # reading: one birth date, one phone, one address.
    "UN1,event,田中陽菜,タナカヒナ,1995-04-05,F,本人,,,680-0001,鳥取県鳥取市浜坂1-2-3,080-3789-5912,,,,,,,",
    "UN2,shop,本間陽菜,,1995-04-05,F,本人,,,680-0001,鳥取県鳥取市浜坂1-2-3,080-3789-5912,,,,,,,",
    # ... and one with a one-character given name (萌), split, no reading on the new name.
    "OC1,zemi,荒井 萌,アライ モエ,1990-03-08,F,本人,,,739-0001,広島県東広島市西条町1-1,080-1073-4868,,moe.a@example.jp,,,,,",
    "OC2,shop,白木 萌,,1990-03-08,F,本人,,,739-0001,広島県東広島市西条町1-1,080-1073-4868,,moe.a@example.jp,,,,,",
    # A woman and her mother, living together under different surnames, with one given name ending
    # (written without a space): two people, two recipients.
    "MD1,event,大川和子,オオカワカズコ,1948-07-07,F,本人,,,390-0001,長野県松本市中央1-1,0263-11-2222,,,,,,,",
    "MD2,event,小林和子,コバヤシカズコ,1976-02-02,F,本人,,,390-0001,長野県松本市中央1-1,0263-11-2222,,,,,,,",
    # A father on two rows from before and after a move to another prefecture: nothing in common but his
    # name and birth date. His son's row was written at the old home with the father's new mobile.
    "MV1,shop,石崎 達也,イシザキ タツヤ,1977-06-26,M,本人,,,244-0001,神奈川県横浜市戸塚区南舞岡2-27-22,045-501-0021,,,,,,,",
    "MV2,club,石崎 達也,イシザキ タツヤ,1977-06-26,M,本人,,,294-0001,千葉県館山市東長田1-16,070-3454-9690,,,,,,,",
    # A mother under her maiden name; her daughter's row gives her married name. Neither splits names.
    "UG1,shop,知念梨沙,チネンリサ,1986-06-11,F,本人,,,192-0001,東京都八王子市丹木町8-16-12,090-1588-5615,,,,,,,",
    "UG2,event,和田早希,ワダサキ,2016-04-01,F,長女,和田梨沙,ワダリサ,192-0001,東京都八王子市丹木町8-16-12,090-1588-5615,,,,,,,",
    "MV3,zemi,石崎 隼,イシザキ ハヤト,2019-11-10,M,長男,石崎 達也,イシザキ タツヤ,244-0001,神奈川県横浜市戸塚区南舞岡2-27-22,070-3454-9690,,,,,,,",
    # A grandfather and his son of one name, and the son's boy naming 森 博 as guardian: the boy's row
    # shares the grandfather's phone and the son's address, so both adults match equally. The notice goes
    # to the first imported, in every run.
    "DT1,shop,森 博,モリ ヒロシ,1952-03-03,M,本人,,,606-0001,京都府京都市左京区岩倉1-1,075-123-9876,,,,,,,",
    "DT2,shop,森 博,モリ ヒロシ,1981-08-08,M,本人,,,600-8001,京都府京都市下京区四条通1-1,090-8888-1234,,,,,,,",
    "DT3,zemi,森 蓮,モリ レン,2015-01-01,M,長男,森 博,モリ ヒロシ,600-8001,京都府京都市下京区四条通1-1,075-123-9876,,,,,,,",
    # A family that moved. The mother's own row is from the old home. Her daughter's rows, from both homes,
    # agree on name and birth date: one person, who links the homes. Her son's row at the old home has no
    # birth date (and a gender keyed wrong), his row at the new home shares nothing with it: the same
    # child, under the same guardian.
    # A pre-birth row written at the old home is the youngest, whose only row is from the new home.
    "IM1,shop,井上 真由美,イノウエ マユミ,,F,本人,,,761-0113,香川県高松市屋島西町14,,,,,,,,",
    "IH1,kodomo,井上 陽葵,イノウエ ヒマリ,2014-10-23,F,長女,井上 真由美,イノウエ マユミ,761-0113,香川県高松市屋島西町14,,,,,,,,",
    "IH2,zemi,井上 陽葵,イノウエ ヒマリ,2014-10-23,F,長女,井上 真由美,イノウエ マユミ,417-0855,静岡県富士市三ツ沢10-2,054-305-8933,,,,,,,",
    "IY1,zemi,井上 悠真,イノウエ ユウマ,,F,長男,井上 真由美,イノウエ マユミ,761-0113,香川県高松市屋島西町14,,,,,,,,",
    "IY2,event,井上悠真,イノウエユウマ,2011-01-02,M,長男,井上真由美,イノウエマユミ,417-0855,静岡県富士市三ツ沢10-2,054-305-8933,,,,,,,",
    "IZ0,kodomo,,,,,,井上 真由美,イノウエ マユミ,761-0113,香川県高松市屋島西町14,,,,,,,,2020-02-01",
    "IZ1,event,井上湊,イノウエミナト,2020-02-10,M,次男,井上真由美,イノウエマユミ,417-0855,静岡県富士市三ツ沢10-2,054-305-8933,,,,,,,",
    # A pre-birth row and the child, at one home, the child's birth date typed with month and day swapped.
    "SW0,kodomo,,,,,,水野 恵子,ミズノ ケイコ,500-8001,岐阜県岐阜市長住町1-1,058-111-3333,,,,,,,2025-01-02",
    "SW1,zemi,水野 奏太,ミズノ ソウタ,2025-04-01,M,長男,水野 恵子,ミズノ ケイコ,500-8001,岐阜県岐阜市長住町1-1,058-111-3333,,,,,,,",
    # Twins at the new home, a pre-birth row at the old one; the mother's own rows at both (her mobile).
    "OM1,shop,大野 里美,オオノ サトミ,1988-02-02,F,本人,,,310-0001,茨城県水戸市三の丸1-1,090-2020-3030,,,,,,,",
    "OM2,club,大野 里美,オオノ サトミ,1988-02-02,F,本人,,,320-0001,栃木県宇都宮市八幡台2-2,090-2020-3030,,,,,,,",
    "OT0,kodomo,,,,,,大野 里美,オオノ サトミ,310-0001,茨城県水戸市三の丸1-1,,,,,,,,2019-03-10",
    "OT1,zemi,大野 奏,オオノ カナデ,2019-03-03,F,長女,大野 里美,オオノ サトミ,320-0001,栃木県宇都宮市八幡台2-2,028-600-7000,,,,,,,",
    "OT2,zemi,大野 律,オオノ リツ,2019-03-03,M,長男,大野 里美,オオノ サトミ,320-0001,栃木県宇都宮市八幡台2-2,028-600-7000,,,,,,,",
    # Twins of one home, one of their rows without a birth date: two names, two children.
    "TY1,zemi,森田 結,モリタ ユイ,2018-08-08,F,長女,森田 千尋,モリタ チヒロ,700-0001,岡山県岡山市北区宿1-1,086-111-5555,,,,,,,",
    "TY2,kodomo,森田 凛,モリタ リン,,F,次女,森田 千尋,モリタ チヒロ,700-0001,岡山県岡山市北区宿1-1,086-111-5555,,,,,,,",
    # Two children of one name whose birth dates differ in one digit, ten years apart, and whose genders
    # differ: one row at the old home, one at the new, linked by their sister's rows.
    "YS1,kodomo,山本 美咲,ヤマモト ミサキ,2012-12-12,F,長女,山本 由紀,ヤマモト ユキ,810-0001,福岡県福岡市中央区天神1-1,,,,,,,,",
    "YS2,zemi,山本 美咲,ヤマモト ミサキ,2012-12-12,F,長女,山本 由紀,ヤマモト ユキ,870-0021,大分県大分市府内町3-3,097-123-4567,,,,,,,",
    "YA1,kodomo,山本 翔,ヤマモト ショウ,2009-04-04,M,長男,山本 由紀,ヤマモト ユキ,810-0001,福岡県福岡市中央区天神1-1,,,,,,,,",
    "YA2,zemi,山本 翔,ヤマモト ショウ,2019-04-04,F,次男,山本 由紀,ヤマモト ユキ,870-0021,大分県大分市府内町3-3,097-123-4567,,,,,,,",
    # A pre-birth row and an undated child of one home: the child may be an older sibling.
    "UD0,kodomo,,,,,,松本 彩香,マツモト アヤカ,380-0001,長野県長野市箱清水1-1,026-222-4444,,,,,,,2022-05-05",
    "UD1,zemi,松本 蒼,マツモト アオイ,,M,長男,松本 彩香,マツモト アヤカ,380-0001,長野県長野市箱清水1-1,026-222-4444,,,,,,,",
    # A father and his minor son of one name, at one home: the father receives the son's notice.
    "SD1,shop,佐々木 大輔,ササキ ダイスケ,1980-09-09,M,本人,,,060-0042,北海道札幌市中央区大通西5-5,011-555-6666,,,,,,,",
    "SD2,zemi,佐々木 大輔,ササキ ダイスケ,2012-09-09,M,長男,佐々木 大輔,ササキ ダイスケ,060-0042,北海道札幌市中央区大通西5-5,011-555-6666,,,,,,,",
]


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def resolved(incident, tmp_path: Path) -> dict[str, tuple[str, str]]:
    crowd = tmp_path / "crowd.csv"
    call_command("synth", records=2000, seed=3, out=str(crowd))
    import_file(incident=incident, path=crowd, actor="t")
    import_file(incident=incident, path=_write(tmp_path / "cases.csv", ROWS), actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    return {
        record_id: (subject, recipient) for record_id, subject, recipient in iter_clusters(incident=incident)
    }


def subject(result: dict[str, tuple[str, str]], record_id: str) -> str:
    return result[record_id][0]


def recipient(result: dict[str, tuple[str, str]], record_id: str) -> str:
    return result[record_id][1]


def test_every_record_is_resolved(resolved: dict[str, tuple[str, str]]) -> None:
    assert len(resolved) == 2000 + len(ROWS)
    assert all(s and r for s, r in resolved.values())


def test_one_person_across_sources_and_spellings_is_one_subject(resolved: dict[str, tuple[str, str]]) -> None:
    assert subject(resolved, "W1") == subject(resolved, "W2") == subject(resolved, "W3")


def test_spouses_are_separate_subjects_and_recipients(resolved: dict[str, tuple[str, str]]) -> None:
    assert subject(resolved, "H1") != subject(resolved, "W1")
    assert recipient(resolved, "H1") != recipient(resolved, "W1")


def test_twins_and_siblings_are_separate_people_with_one_guardian(
    resolved: dict[str, tuple[str, str]],
) -> None:
    assert subject(resolved, "T1") == subject(resolved, "T3")
    assert len({subject(resolved, r) for r in ("T1", "T2", "Y1")}) == 3
    # The children's notice goes to their mother, whose own records leaked too: one recipient.
    assert recipient(resolved, "T1") == recipient(resolved, "T2") == recipient(resolved, "Y1")
    assert recipient(resolved, "T1") == recipient(resolved, "W1")


def test_a_pre_birth_row_belongs_to_the_child_born_later(resolved: dict[str, tuple[str, str]]) -> None:
    assert subject(resolved, "Y0") == subject(resolved, "Y1")


def test_a_namesake_elsewhere_is_not_merged(resolved: dict[str, tuple[str, str]]) -> None:
    assert subject(resolved, "N1") != subject(resolved, "W1")
    assert recipient(resolved, "N1") != recipient(resolved, "W1")


def test_father_and_son_with_the_same_reading_stay_apart(resolved: dict[str, tuple[str, str]]) -> None:
    assert subject(resolved, "F1") != subject(resolved, "F2")
    assert recipient(resolved, "F2") == recipient(resolved, "F1")  # the son is a minor; his father gets it


def test_a_child_who_has_come_of_age_is_their_own_recipient(resolved: dict[str, tuple[str, str]]) -> None:
    assert recipient(resolved, "G1") != ""
    assert {record_id for record_id, (_, r) in resolved.items() if r == recipient(resolved, "G1")} == {
        "G1",
        "G2",
    }


def test_a_grown_child_who_left_home_is_one_person(resolved: dict[str, tuple[str, str]]) -> None:
    # The child's row carries the parent's phone and address, so sharing nothing with the grown-up's own
    # row, in another prefecture, does not count against them as it would between two own rows.
    assert subject(resolved, "G1") == subject(resolved, "G2")


def test_a_new_surname_without_a_birth_date_is_the_same_woman(resolved: dict[str, tuple[str, str]]) -> None:
    assert subject(resolved, "MW1") == subject(resolved, "MW2")


def test_a_mother_under_her_maiden_name_receives_her_childs_notice(
    resolved: dict[str, tuple[str, str]],
) -> None:
    assert subject(resolved, "MM1") != subject(resolved, "MM2")
    assert recipient(resolved, "MM2") == recipient(resolved, "MM1")


def test_a_mother_under_her_maiden_name_is_found_where_names_have_no_space(
    resolved: dict[str, tuple[str, str]],
) -> None:
    assert subject(resolved, "UG1") != subject(resolved, "UG2")
    assert recipient(resolved, "UG2") == recipient(resolved, "UG1")


def test_a_father_and_his_minor_son_of_the_same_name_stay_apart(resolved: dict[str, tuple[str, str]]) -> None:
    # The father's row has no birth date; a minor's record comes with a guardian, an undated own row is an
    # adult's.
    assert subject(resolved, "FS1") != subject(resolved, "FS2")


def test_a_row_naming_the_other_as_guardian_is_a_parent_and_child(
    resolved: dict[str, tuple[str, str]],
) -> None:
    assert subject(resolved, "AG1") != subject(resolved, "AG2")
    assert recipient(resolved, "AG2") == recipient(resolved, "AG1")


def test_twins_written_without_a_space_stay_apart(resolved: dict[str, tuple[str, str]]) -> None:
    assert subject(resolved, "TW1") != subject(resolved, "TW2")
    assert recipient(resolved, "TW1") == recipient(resolved, "TW2")


def test_a_pre_birth_row_finds_the_child_through_any_of_their_records(
    resolved: dict[str, tuple[str, str]],
) -> None:
    assert subject(resolved, "PB1") == subject(resolved, "PB2")
    assert subject(resolved, "PB0") == subject(resolved, "PB1")


def test_a_shared_card_joins_a_person_who_moved(resolved: dict[str, tuple[str, str]]) -> None:
    assert subject(resolved, "CD1") == subject(resolved, "CD2")


def test_a_given_name_and_an_e_mail_address_alone_do_not_join(resolved: dict[str, tuple[str, str]]) -> None:
    # A new surname needs the home's evidence (phone or address), as MW1/MW2 have.
    assert subject(resolved, "ME1") != subject(resolved, "ME2")


def test_guardians_who_only_read_alike_need_a_shared_home(resolved: dict[str, tuple[str, str]]) -> None:
    assert recipient(resolved, "HG1") != recipient(resolved, "HG2")


def test_rerunning_after_another_import_keeps_existing_numbers(incident, tmp_path: Path, resolved) -> None:
    later = _write(
        tmp_path / "later.csv",
        [
            "L1,club,高橋 美咲,タカハシ ミサキ,1980/5/17,F,,,,154-0004,東京都世田谷区太子堂2-3-4,,,misaki.t@example.jp,,,,,"
        ],
    )
    import_file(incident=incident, path=later, actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    again = {record_id: (s, r) for record_id, s, r in iter_clusters(incident=incident)}
    assert again["L1"][0] == resolved["W1"][0]
    changed = [record_id for record_id in resolved if again[record_id] != resolved[record_id]]
    assert changed == []


def test_review_decisions_survive_a_rerun(incident, resolved) -> None:
    records = {r.record_id: r.pk for r in LeakRecord.objects.filter(record_id__in=["N1", "W1", "H1", "W2"])}
    a, b = sorted([records["N1"], records["W1"]])
    ReviewPair.objects.update_or_create(
        record_a_id=a, record_b_id=b, defaults={"incident": incident, "probability": 0.7, "decision": "same"}
    )
    c, d = sorted([records["W1"], records["W2"]])
    ReviewPair.objects.update_or_create(
        record_a_id=c,
        record_b_id=d,
        defaults={"incident": incident, "probability": 0.99, "decision": "different"},
    )
    resolve(incident=incident, actor="t", as_of=AS_OF)
    after = {record_id: s for record_id, s, _ in iter_clusters(incident=incident)}
    assert after["N1"] == after["W1"]  # a reviewer said same: joined
    # A reviewer parted W1 and W2: W3, which the model links to both, no longer joins them either.
    assert after["W1"] != after["W2"] and after["W3"] in (after["W1"], after["W2"])


def test_the_resolve_command_prints_counts(incident, tmp_path: Path, capsys) -> None:
    import_file(incident=incident, path=_write(tmp_path / "cases.csv", ROWS), actor="t")
    call_command("resolve", "--incident", incident.slug)
    assert f"{len(ROWS)} records -> " in capsys.readouterr().out
    out = tmp_path / "clusters.csv"
    call_command("export", "clusters", "--incident", incident.slug, "--out", str(out))
    with out.open(encoding="utf-8") as handle:
        assert sum(1 for _ in csv.reader(handle)) == len(ROWS) + 1


def test_explain_shows_why_records_joined_without_showing_values(incident, resolved, capsys) -> None:
    call_command("resolve", "--incident", incident.slug, "--explain", "W2")
    out = capsys.readouterr().out
    assert (
        f"record W2 (cases) -> subject {resolved['W2'][0]} (an adult) -> recipient {resolved['W2'][1]} (the person themself)"
        in out
    )
    assert "with W1: p=" in out and "with W3: p=" in out
    assert "person: same name (variant kanji or reading), same birth date" in out
    for value in ("高橋", "美咲", "タカハシ", "1111", "misaki", "154"):
        assert value not in out


def test_explain_names_a_minor_and_the_guardian_recipient(incident, resolved, capsys) -> None:
    call_command("resolve", "--incident", incident.slug, "--explain", "T3")
    out = capsys.readouterr().out
    assert "(a minor)" in out
    assert "(their guardian, whose own data leaked too)" in out
    assert "with T1: p=" in out
    assert "with T2" not in out  # the twin is another person


def test_explain_refuses_an_unknown_record(incident, resolved) -> None:
    with pytest.raises(CommandError, match="no record 'nope'"):
        call_command("resolve", "--incident", incident.slug, "--explain", "nope")


def test_a_new_surname_is_found_where_names_have_no_space(resolved: dict[str, tuple[str, str]]) -> None:
    # Neither row says where the surname ends; the names' last two characters and the first do not agree,
    # and the second row has no reading to pair the rows on: found by the name's end and the phone.
    assert subject(resolved, "UN1") == subject(resolved, "UN2")
    assert subject(resolved, "OC1") == subject(resolved, "OC2")


def test_two_women_of_one_home_with_one_given_name_stay_apart(resolved: dict[str, tuple[str, str]]) -> None:
    assert subject(resolved, "MD1") != subject(resolved, "MD2")
    assert recipient(resolved, "MD1") != recipient(resolved, "MD2")


def test_a_move_is_bridged_by_the_households_other_rows(resolved: dict[str, tuple[str, str]]) -> None:
    # MV1 and MV2 share nothing; the son's row shares the old address with one and the mobile with the
    # other. Without that chain they look like the namesakes of N1 / W1 (which stay apart).
    assert subject(resolved, "MV1") == subject(resolved, "MV2")
    assert subject(resolved, "MV3") != subject(resolved, "MV1")
    assert recipient(resolved, "MV3") == recipient(resolved, "MV1")


def test_explain_scores_with_the_households_of_the_whole_incident(incident, resolved, capsys) -> None:
    # The chain through the son's row is part of the explanation, though the son is another subject.
    call_command("resolve", "--incident", incident.slug, "--explain", "MV1")
    out = capsys.readouterr().out
    assert "with MV2: p=" in out
    assert f"contact: {resolve_model.SAME_HOUSEHOLD}" in out


def test_subjects_and_recipients_get_distinct_random_public_ids(incident, resolved) -> None:
    """Public ids are what links and letters may carry: random (version 4) UUIDs, never repeated."""
    ids = [
        *Subject.objects.filter(incident=incident).values_list("public_id", flat=True),
        *Recipient.objects.filter(incident=incident).values_list("public_id", flat=True),
    ]
    assert len(ids) > 2000
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(str(value)).version for value in ids} == {4}
    assert {uuid.UUID(str(value)).variant for value in ids} == {uuid.RFC_4122}


def test_a_child_whose_guardian_name_fits_two_adults_goes_to_the_first_imported(
    resolved: dict[str, tuple[str, str]],
) -> None:
    assert subject(resolved, "DT1") != subject(resolved, "DT2")
    assert recipient(resolved, "DT1") != recipient(resolved, "DT2")
    assert recipient(resolved, "DT3") == recipient(resolved, "DT1")


@pytest.mark.parametrize(
    "rows", [[], ROWS[:1], [ROWS[0], ROWS[3]]], ids=["no records", "one record", "a wife and her husband"]
)
def test_the_smallest_incidents_resolve(incident, tmp_path: Path, rows: list[str]) -> None:
    """Too few records to pair or to train on is an answer too: each adult their own subject and recipient."""
    if rows:
        import_file(incident=incident, path=_write(tmp_path / "few.csv", rows), actor="t")
    result = resolve(incident=incident, actor="t", as_of=AS_OF)
    clusters = {
        record_id: (subject, recipient) for record_id, subject, recipient in iter_clusters(incident=incident)
    }
    assert result.records == len(rows) == len(clusters)
    assert result.subjects == len({subject for subject, _ in clusters.values()}) == len(rows)
    assert result.recipients == len({recipient for _, recipient in clusters.values()}) == len(rows)
    assert all(subject and recipient for subject, recipient in clusters.values())


def test_a_child_on_two_rows_that_share_nothing_is_one_subject_under_their_guardian(
    resolved: dict[str, tuple[str, str]],
) -> None:
    # One row without a birth date at the old home, one at the new home: the model alone keeps them apart.
    assert subject(resolved, "IH1") == subject(resolved, "IH2")
    assert subject(resolved, "IY1") == subject(resolved, "IY2")
    assert len({subject(resolved, r) for r in ("IM1", "IH1", "IY1", "IZ1")}) == 4
    assert {recipient(resolved, r) for r in ("IM1", "IH1", "IH2", "IY1", "IY2", "IZ0", "IZ1")} == {
        recipient(resolved, "IM1")
    }


def test_a_pre_birth_row_finds_the_child_under_the_same_guardian_after_a_move(
    resolved: dict[str, tuple[str, str]],
) -> None:
    assert subject(resolved, "IZ0") == subject(resolved, "IZ1")
    # ... and where the birth date's month and day were swapped.
    assert subject(resolved, "SW0") == subject(resolved, "SW1")


def test_where_the_guardian_has_no_one_child_for_a_pre_birth_row_it_stays_on_its_own(
    resolved: dict[str, tuple[str, str]],
) -> None:
    # Twins born near the due date: the row could be either.
    assert recipient(resolved, "OT0") == recipient(resolved, "OT1") == recipient(resolved, "OM1")
    assert len({subject(resolved, r) for r in ("OT0", "OT1", "OT2")}) == 3
    # A child without a birth date may be an older sibling.
    assert recipient(resolved, "UD0") == recipient(resolved, "UD1")
    assert subject(resolved, "UD0") != subject(resolved, "UD1")


def test_children_of_one_guardian_that_are_not_one_child_stay_apart(
    resolved: dict[str, tuple[str, str]],
) -> None:
    # Twins have two names, one row without a birth date or not.
    assert subject(resolved, "TY1") != subject(resolved, "TY2")
    assert recipient(resolved, "TY1") == recipient(resolved, "TY2")
    # One name, birth dates years apart though one digit is all that differs: two children (listed twice
    # on the notice, compensated twice). Their genders differ too, which alone would not part them (IY1).
    assert subject(resolved, "YS1") == subject(resolved, "YS2")
    assert subject(resolved, "YA1") != subject(resolved, "YA2")
    assert recipient(resolved, "YA1") == recipient(resolved, "YA2") == recipient(resolved, "YS1")
    # A father and his son of one name: the father is an adult, his own subject.
    assert subject(resolved, "SD1") != subject(resolved, "SD2")
    assert recipient(resolved, "SD2") == recipient(resolved, "SD1")


def test_a_reviewer_who_parts_a_guardians_same_named_children_is_followed(incident, resolved) -> None:
    records = {
        r.record_id: r.pk for r in LeakRecord.objects.filter(record_id__in=["IY1", "IY2", "IZ0", "IZ1"])
    }
    for one, other in (("IY1", "IY2"), ("IZ0", "IZ1")):
        a, b = sorted([records[one], records[other]])
        ReviewPair.objects.update_or_create(
            record_a_id=a,
            record_b_id=b,
            defaults={"incident": incident, "probability": 0.1, "decision": "different"},
        )
    resolve(incident=incident, actor="t", as_of=AS_OF)
    after = {record_id: (s, r) for record_id, s, r in iter_clusters(incident=incident)}
    assert after["IY1"][0] != after["IY2"][0]
    assert after["IZ0"][0] != after["IZ1"][0]
    assert after["IY1"][1] == after["IY2"][1] == after["IM1"][1]


def test_the_guardians_notice_lists_each_child_once(incident, resolved) -> None:
    setup.apply(incident=incident, data=setup.load(REPO / "docs" / "notice-setup.demo.toml"), actor="t")
    prepare(incident=incident, actor="t")
    number = int(recipient(resolved, "IM1").removeprefix("P"))
    (notice,) = Notice.objects.filter(incident=incident, recipient__number=number)
    names = sorted(person["name"].replace(" ", "") for person in notice.content["people"])
    # Each child once, and no "expected child" line for the pre-birth row.
    assert names == sorted(["井上真由美", "井上陽葵", "井上悠真", "井上湊"])
