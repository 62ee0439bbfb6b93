"""Several people on one row: an EC-CUBE order line holds the buyer and a shipping recipient (often a
gift's receiver). Each becomes a record of their own, linked to the line; the receiver's notice says
their data leaked through someone else's order and names no one else."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from owabi.notices import letters, setup
from owabi.notices import selectors as notice_selectors
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.render import VIA, render
from owabi.notices.services import prepare
from owabi.records import layouts, match_store
from owabi.records.models import LeakRecord
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import REPO
from tests.test_import_layouts import _person

pytestmark = pytest.mark.django_db

# EC-CUBE 4's order CSV (受注一覧 > CSVダウンロード), headers as it writes them: "送料" twice.
ORDER_HEADER = [
    *("注文ID", "注文番号", "会員ID", "お名前(姓)", "お名前(名)", "お名前(セイ)", "お名前(メイ)", "会社名"),
    *("郵便番号", "都道府県(ID)", "都道府県(名称)", "住所1", "住所2", "メールアドレス", "TEL", "性別(ID)"),
    *("性別(名称)", "職業(ID)", "職業(名称)", "誕生日", "ショップ用メモ欄", "小計", "値引き", "送料", "税金"),
    *("合計", "支払合計", "対応状況(ID)", "対応状況(名称)", "支払方法(ID)", "支払方法(名称)", "受注日"),
    *("入金日", "注文詳細ID", "商品ID", "商品規格ID", "商品名", "商品コード", "規格名1", "規格名2"),
    *("規格分類名1", "規格分類名2", "価格", "個数", "税率", "税率ルール(ID)", "明細区分(ID)"),
    *("明細区分(名称)", "出荷ID", "配送先_お名前(姓)", "配送先_お名前(名)", "配送先_お名前(セイ)"),
    *("配送先_お名前(メイ)", "配送先_会社名", "配送先_郵便番号", "配送先_都道府県(ID)"),
    *("配送先_都道府県(名称)", "配送先_住所1", "配送先_住所2", "配送先_TEL", "配送業者(ID)"),
    *("配送業者(名称)", "お届け時間ID", "お届け時間(名称)", "お届け希望日", "送料", "発送日"),
    *("出荷伝票番号", "配達用メモ", "出荷メール送信日"),
]

# Buyer: 姓, 名, セイ, メイ, 会社名, 郵便番号, 都道府県(ID, 名称), 住所1, 住所2, メール, TEL, 性別(ID, 名称),
# 職業(ID, 名称), 誕生日, メモ.
# Shipping: 姓, 名, セイ, メイ, 会社名, 郵便番号, 都道府県(ID, 名称), 住所1, 住所2, TEL.
BUYER = [*("伊藤", "健太", "イトウ", "ケンタ", "", "1000005", "13", "東京都", "千代田区丸の内")]
BUYER += [*("1-1-1 丸の内ビル101", "kenta@example.jp", "09012345678", "1", "男性", "3", "会社員")]
BUYER += ["1980-01-15 00:00:00", ""]
TAKAHASHI = [*("髙橋", "花子", "タカハシ", "ハナコ", "", "5300001", "27", "大阪府", "大阪市北区梅田")]
TAKAHASHI += [
    *("2-4-9 101", "hanako@example.jp", "0663450000", "2", "女性", "", "", "1975-12-03 00:00:00", "")
]
# The gift's receiver (no e-mail: reached by letter).
SUZUKI = [*("鈴木", "美咲", "スズキ", "ミサキ", "", "2310023", "14", "神奈川県", "横浜市中区山下町")]
SUZUKI += ["12-3 ハーバーハイツ502", "045-000-1234"]
TAKAHASHI_SHIPPING = [*TAKAHASHI[:10], "0663450000"]


def _line(
    order: str, customer: str, buyer: list[str], item: str, product: str, shipping: list[str]
) -> list[str]:
    row = [order, f"2026{order.zfill(6)}", customer, *buyer]
    row += [
        "5000",
        "0",
        "800",
        "400",
        "5800",
        "5800",
        "5",
        "発送済み",
        "4",
        "クレジットカード",
        "2026-10-01 10:00:00",
    ]
    row += ["2026-10-01 10:05:00", item, "12", "34", product, "GIFT-01", "", "", "", "", "5000", "1", "10"]
    row += ["1", "1", "商品", "7", *shipping, "1", "ヤマト運輸", "2", "午前中", "2026-10-05", "800"]
    row += ["2026-10-03 15:00:00", "1234-5678-9012", "", "2026-10-03 15:10:00"]
    assert len(row) == len(ORDER_HEADER)
    return row


ORDER_ROWS = [
    _line("1", "1", BUYER, "101", "誕生日ギフトセット", SUZUKI),  # a gift to 鈴木
    _line("1", "1", BUYER, "102", "メッセージカード", SUZUKI),  # the same order's second item
    _line("2", "2", TAKAHASHI, "103", "お米 5kg", TAKAHASHI_SHIPPING),  # shipped to herself
]

STANDARD = (
    "record_id,subject_name,subject_kana,subject_birth_date,subject_gender,postal_code,address,phone,email\n"
    "1,伊藤 健太,イトウ ケンタ,1980-01-15,M,100-0005,東京都千代田区丸の内1-1-1 丸の内ビル101,090-1234-5678,"
    "kenta@example.jp\n"
    "2,髙橋 花子,タカハシ ハナコ,1975-12-03,F,530-0001,大阪府大阪市北区梅田2-4-9 101,06-6345-0000,"
    "hanako@example.jp\n"
    "3,鈴木 美咲,スズキ ミサキ,,,231-0023,神奈川県横浜市中区山下町12-3 ハーバーハイツ502,045-000-1234,\n"
)


def _orders(tmp_path: Path) -> Path:
    path = tmp_path / "order.csv"
    with path.open("w", encoding="cp932", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(ORDER_HEADER)
        writer.writerows(ORDER_ROWS)
    return path


def _people(records: Any) -> dict[str, tuple[Any, ...]]:
    return {record.record_id: _person(record.sealed) for record in records}


def test_an_order_line_gives_the_buyer_and_the_gift_receiver_each_a_record(incident, tmp_path) -> None:
    standard_path = tmp_path / "std.csv"
    standard_path.write_text(STANDARD, encoding="utf-8")
    standard = import_file(incident=incident, path=standard_path, actor="t")
    result = import_file(incident=incident, path=_orders(tmp_path), actor="t")  # recognised: exact header
    assert result.layout == "ec-cube-orders"
    source = result.source_file
    assert (source.rows_in, source.rows_ok, source.rows_rejected) == (3, 3, 0)
    records = LeakRecord.objects.filter(source_file=source).order_by("line_no", "role")
    assert [(r.line_no, r.record_id, r.role) for r in records] == [
        (2, "101", ""),
        (2, "101#2", "shipping_recipient"),
        (3, "102", ""),
        (3, "102#2", "shipping_recipient"),
        (4, "103", ""),  # shipped to the buyer herself: no second record
    ]
    ours, theirs = _people(records), _people(LeakRecord.objects.filter(source_file=standard.source_file))
    assert ours["101"] == theirs["1"] and ours["103"] == theirs["2"]
    receiver = ours["101#2"]
    assert receiver[:2] == theirs["3"][:2] and receiver[4:] == theirs["3"][4:]  # no birth date or gender
    gift = records.get(record_id="101#2")
    assert gift.sealed["subject_name"] == "鈴木 美咲"
    assert (
        "伊藤" not in str(gift.sealed)
        and "kenta@" not in str(gift.sealed)
        and "丸の内" not in str(gift.sealed)
    )
    assert set(gift.categories) == {"name", "kana", "postal_code", "address", "phone"}
    buyer = records.get(record_id="101")
    assert "鈴木" not in str(buyer.sealed) and "山下町" not in str(buyer.sealed)
    assert buyer.sealed["extras"]["商品名"] == "誕生日ギフトセット"
    # Every record's match keys are found by its line and role.
    keys = match_store.keys_by_record(incident)
    assert keys[gift.pk]["phone"] == "+81450001234" and keys[buyer.pk]["phone"] == "+819012345678"


def test_the_gift_receiver_is_told_how_their_data_leaked_and_no_one_else_is_named(incident, tmp_path) -> None:
    import_file(incident=incident, path=_orders(tmp_path), actor="t")
    resolve(incident=incident, actor="t", as_of=date(2026, 12, 1))
    sources = {"ja": {"ec-cube": "オンラインショップ"}, "en": {"ec-cube": "Online shop"}}
    setup.apply(
        incident=incident,
        data={**setup.load(REPO / "docs/notice-setup.example.toml"), "sources": sources},
        actor="t",
    )
    prepare(incident=incident, actor="t")
    notices = {notice.content["to"]["name"]: notice for notice in Notice.objects.filter(incident=incident)}
    assert set(notices) == {"伊藤 健太", "髙橋 花子", "鈴木 美咲"}  # two lines of one order: one buyer
    the_setup = NoticeSetup.objects.get(incident=incident)
    gift = notices["鈴木 美咲"]
    assert gift.channel == "letter"
    [person] = gift.content["people"]
    assert person["via"] == "shipping_recipient"
    letter = letters.letter_text(gift, the_setup)
    assert VIA["shipping_recipient"]["ja"] in "".join(letter.split())
    for other in ["伊藤", "健太", "イトウ", "丸の内ビル", "090", "kenta", "誕生日ギフト", "髙橋"]:
        assert other not in letter
    [shown] = notice_selectors.people(gift, "en")  # the portal's page for the person
    assert shown.via == VIA["shipping_recipient"]["en"]
    buyer = notices["伊藤 健太"]
    assert buyer.content["people"][0]["via"] == ""
    text = render(buyer, the_setup).text
    assert VIA["shipping_recipient"]["ja"] not in text and "鈴木" not in text


def test_the_import_says_how_many_people_the_rows_held(incident, tmp_path, capsys) -> None:
    call_command("import", str(_orders(tmp_path)), "--incident", incident.slug)
    out = capsys.readouterr().out
    assert "in 3 = kept 3 + rejected 0" in out
    assert "the kept rows hold 5 people, each a record of their own" in out


def test_check_counts_the_people_on_each_row(tmp_path, capsys) -> None:
    call_command("import", str(_orders(tmp_path)), "--check")
    out = capsys.readouterr().out
    assert "layout ec-cube-orders (EC-CUBE 4 受注CSV)" in out
    assert "rows: in 3 = kept 3 + rejected 0" in out
    assert "the kept rows hold 5 people: one per row and 2 shipping_recipient" in out
    assert '"配送先_住所1"' in out and "role=shipping_recipient" in out
    assert "鈴木" not in out.split("sample rows")[1]


def test_a_receiver_line_without_the_buyer_rejects_the_row(incident, tmp_path) -> None:
    rows = [_line("9", "", [""] * 18, "201", "花束", SUZUKI)]
    path = tmp_path / "order.csv"
    with path.open("w", encoding="cp932", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_HEADER)
        writer.writerows(rows)
    result = import_file(incident=incident, path=path, actor="t", mapping=layouts.get("ec-cube-orders"))
    assert (result.source_file.rows_ok, result.source_file.rows_rejected) == (0, 1)
    assert [r.field for r in result.rejects] == ["subject_name"]
