"""Normalizers for leaked-record fields: real-world variants, every reject reason, properties, synth data."""

from __future__ import annotations

import csv
import datetime as dt
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import jaconv
import phonenumbers
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from owabi.demo import synth
from owabi.records import normalize as n

LATEST = dt.date(2030, 12, 31)  # fixed bound so date tests do not depend on today

# Every reason a NormalizeError may carry; fixed texts, so none can echo the value.
REASONS = {
    "contains digits or @ (is the column mapped right?)",
    "contains characters that are not kana",
    "not a recognised date format",
    "two-digit year without an era is ambiguous",
    "era year out of range",
    "no such calendar day",
    "date outside its era",
    "date too early",
    "date too far in the future",
    "not a phone number",
    "not a valid phone number",
    "not a 7-digit postal code",
    "contains spaces",
    "needs exactly one @",
    "local part empty or not ASCII",
    "domain is not a valid host name",
}


def rejects(func: Callable[..., object], raw: str, reason: str, **kwargs: object) -> None:
    with pytest.raises(n.NormalizeError) as info:
        func(raw, **kwargs)
    assert info.value.reason == reason
    assert raw.strip() not in str(info.value)


# --- Blank input --------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["", " ", "\u3000", " \t\n", "-", "－", "ー", "―", " ‐ "])
def test_it_returns_empty_for_blank_and_dash_placeholders(raw: str) -> None:
    assert n.name(raw) == n.name_key(raw) == n.kana(raw) == n.kana_key(raw) == n.kana_romaji(raw) == ""
    assert n.phone(raw) == n.postal_code(raw) == n.email(raw) == n.gender(raw) == ""
    assert n.date(raw) is None
    assert n.address(raw).key() == "|"


# --- Names --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("山田 太郎", "山田 太郎"),
        ("山田\u3000太郎", "山田 太郎"),
        ("  山田   太郎\u3000", "山田 太郎"),
        ("山田\t太郎", "山田 太郎"),
        ("山田太郎", "山田太郎"),
        ("髙橋 一郎", "髙橋 一郎"),  # 異体字 kept as written
        ("山﨑 花子", "山﨑 花子"),
        ("葛\U000e0100城 花子", "葛城 花子"),  # IVS selector removed
        ("辻\ufe00 健", "辻 健"),
        ("山田\u200b太郎", "山田太郎"),  # zero-width space
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),  # half-width kana name
        ("ＳＭＩＴＨ　Ｊｏｈｎ", "SMITH John"),
        ("\ufa10本 次郎", "塚本 次郎"),  # compatibility ideograph: NFKC's canonical mapping
        ("山田 太郎様", "山田 太郎"),
        ("山田太郎 様", "山田太郎"),
    ],
)
def test_it_normalizes_names(raw: str, expected: str) -> None:
    assert n.name(raw) == expected


@pytest.mark.parametrize("raw", ["090-1234-5678", "taro@example.com", "山田 太郎2", "１２３"])
def test_it_rejects_names_that_are_other_fields(raw: str) -> None:
    rejects(n.name, raw, "contains digits or @ (is the column mapped right?)")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("山田 太郎", "山田太郎"),
        ("山田\u3000太郎 ", "山田太郎"),
        ("ジョン・スミス", "ジョンスミス"),
        ("John SMITH", "johnsmith"),
        ("髙橋 一郎", "髙橋一郎"),
    ],
)
def test_it_makes_name_keys(raw: str, expected: str) -> None:
    assert n.name_key(raw) == expected


# --- 異体字 --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "strict", "loose"),
    [
        ("髙橋", "高橋", "高橋"),
        ("山﨑", "山崎", "山崎"),
        ("山嵜", "山崎", "山崎"),
        ("渡邊", "渡辺", "渡辺"),
        ("渡邉", "渡辺", "渡辺"),
        ("齋藤", "斎藤", "斎藤"),
        ("齊藤", "斉藤", "斎藤"),  # strict keeps 斉 and 斎 apart; loose joins them
        ("斉藤", "斉藤", "斎藤"),
        ("斎藤", "斎藤", "斎藤"),
        ("𠮷田", "吉田", "吉田"),
        ("濱田", "浜田", "浜田"),
        ("小嶋", "小島", "小島"),
        ("澤田", "沢田", "沢田"),
        ("櫻井", "桜井", "桜井"),
        ("廣瀬", "広瀬", "広瀬"),
        ("國分", "国分", "国分"),
        ("德永", "徳永", "徳永"),
        ("眞子", "真子", "真子"),
        ("龍之介", "竜之介", "竜ノ介"),
        ("一ノ瀬", "一ノ瀬", "一ノ瀬"),
        ("一之瀬", "一之瀬", "一ノ瀬"),
        ("一の瀬", "一の瀬", "一ノ瀬"),
        ("椙山", "椙山", "杉山"),
        ("佐々木", "佐佐木", "佐佐木"),
        ("\ufa10本", "塚本", "塚本"),  # fold works without NFKC too
        ("高橋", "高橋", "高橋"),
        ("", "", ""),
    ],
)
def test_it_folds_variant_characters(raw: str, strict: str, loose: str) -> None:
    assert n.fold_variants(raw) == strict
    assert n.fold_variants(raw, loose=True) == loose


def test_it_loads_a_sane_variant_table() -> None:
    strict, loose = n._FOLD_STRICT, n._FOLD_LOOSE
    assert 100 <= len(loose) <= 200
    assert set(strict) < set(loose)
    for table in (strict, loose):
        for variant, standard in table.items():
            assert chr(variant) != standard
            assert ord(standard) not in table, "chains must be closed"
    # Literal rows must survive NFKC (else NFC editing could silently turn them into identities).
    text = (Path(n.__file__).parent / "normalize_data" / "variants.tsv").read_text("utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            first = line.split("\t")[0]
            assert first.startswith("U+") or unicodedata.normalize("NFKC", first) == first


def test_it_folds_every_variant_the_generator_writes() -> None:
    for standard, variants in synth.ITAIJI.items():
        for variant in variants:
            folded = n.fold_variants(unicodedata.normalize("NFKC", variant))
            assert folded == n.fold_variants(standard), standard


@given(st.text(alphabet=st.sampled_from("髙高﨑崎齋斎齊斉邊辺々佐木山田之ノの龍竜")))
def test_fold_is_idempotent(text: str) -> None:
    for loose in (False, True):
        once = n.fold_variants(text, loose=loose)
        assert n.fold_variants(once, loose=loose) == once


def test_it_makes_name_fold_keys() -> None:
    assert n.name_fold_key("髙橋\u3000一郎") == n.name_fold_key("高橋 一郎") == "高橋一郎"
    assert n.name_fold_key("齊藤 花子") != n.name_fold_key("斎藤 花子")
    assert n.name_fold_key("齊藤 花子", loose=True) == n.name_fold_key("斎藤 花子", loose=True)


# --- Kana ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ヤマダ タロウ", "ヤマダ タロウ"),
        ("やまだ たろう", "ヤマダ タロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ タロウ"),
        ("ﾔﾏﾀﾞ\u3000\u3000ﾀﾛｳ ", "ヤマダ タロウ"),
        ("ヤマダタロウ", "ヤマダタロウ"),
        ("ｻﾄｰ", "サトー"),
        ("サト-", "サトー"),
        ("サト−", "サトー"),
        ("サト〜", "サトー"),
        ("ユ～コ", "ユーコ"),
        ("カ゛ク", "ガク"),  # stand-alone voiced mark
        ("ﾊﾟﾊﾟ", "パパ"),
        ("ゔぁいおりん", "ヴァイオリン"),
        ("ジョン・スミス", "ジョン・スミス"),
        ("ｼﾞｮﾝ･ｽﾐｽ", "ジョン・スミス"),
        ("ささき", "ササキ"),
    ],
)
def test_it_normalizes_kana(raw: str, expected: str) -> None:
    assert n.kana(raw) == expected


@pytest.mark.parametrize("raw", ["山田 太郎", "yamada taro", "ヤマダ 1", "ヤマダ@", "゛"])
def test_it_rejects_readings_that_are_not_kana(raw: str) -> None:
    rejects(n.kana, raw, "contains characters that are not kana")
    rejects(n.kana_key, raw, "contains characters that are not kana")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("キュウ", "キユウ"),  # bank kana has no small kana
        ("ハットリ", "ハツトリ"),
        ("ショウタ", "シヨウタ"),
        ("サトウ", "サトー"),
        ("サトウ", "ｻﾄｰ"),
        ("ユウコ", "ユーコ"),
        ("ケイコ", "ケーコ"),
        ("ヤマダ タロウ", "やまだたろう"),
        ("チヂワ", "チジワ"),
        ("ツヅキ", "ツズキ"),
        ("ヲノ", "オノ"),
        ("ヴァイオリン", "バイオリン"),
        ("ヴィヴィアン", "ビビアン"),
        ("ヶ", "ケ"),
        ("ジョン・スミス", "ジョン スミス"),
        ("ササキ", "サヽキ"),
    ],
)
def test_it_gives_one_kana_key_to_spellings_of_one_reading(a: str, b: str) -> None:
    assert n.kana_key(a) == n.kana_key(b)
    assert n.kana_romaji(a) == n.kana_romaji(b)


@pytest.mark.parametrize(("a", "b"), [("サトウ", "サイトウ"), ("カトウ", "ガトウ"), ("オノ", "オオノ")])
def test_it_keeps_different_readings_apart(a: str, b: str) -> None:
    assert n.kana_key(a) != n.kana_key(b)


@pytest.mark.parametrize(
    ("raw", "romaji"),
    [
        ("サトウ タロウ", "satoutarou"),
        ("シミズ", "shimizu"),
        ("チヅル", "chizuru"),
        ("キョウコ", "kiyouko"),  # large kana in the key
        ("ハットリ", "hatsutori"),
        ("フジ", "fuji"),
        ("ケンイチ", "kenichi"),
        ("サトー", "satou"),
    ],
)
def test_it_romanizes_kana_keys(raw: str, romaji: str) -> None:
    assert n.kana_romaji(raw) == romaji


KATAKANA = st.text(
    alphabet=st.sampled_from([chr(c) for c in range(ord("ァ"), ord("ヶ") + 1)] + ["ー", " "]), max_size=12
)


@given(KATAKANA)
def test_kana_key_is_invariant_under_hiragana_and_half_width(text: str) -> None:
    assume(text.strip())
    key = n.kana_key(text)
    assert n.kana_key(jaconv.kata2hira(text)) == key
    assert n.kana_key(jaconv.z2h(text, kana=True, ascii=False, digit=False)) == key
    assert n.kana_key(text.replace(" ", "\u3000")) == key
    assert n.kana_key(key) == key  # a key is a fixed point


@given(KATAKANA)
def test_kana_romaji_is_ascii_letters(text: str) -> None:
    romaji = n.kana_romaji(text)
    assert romaji == "" or (romaji.isascii() and romaji.isalpha() and romaji.islower())


def test_it_converts_hiragana_as_jaconv_does() -> None:
    hiragana = "".join(chr(c) for c in range(0x3041, 0x3097))
    assert n.kana(hiragana) == jaconv.hira2kata(hiragana)


# --- Dates --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2008-04-01", dt.date(2008, 4, 1)),
        ("2008/4/1", dt.date(2008, 4, 1)),
        ("2008/04/01", dt.date(2008, 4, 1)),
        ("2008.4.1", dt.date(2008, 4, 1)),
        ("20080401", dt.date(2008, 4, 1)),
        ("2008年4月1日", dt.date(2008, 4, 1)),
        ("２００８年４月１日", dt.date(2008, 4, 1)),
        ("２００８／０４／０１", dt.date(2008, 4, 1)),
        (" 2008 / 4 / 1 ", dt.date(2008, 4, 1)),
        ("2008-04-01 00:00:00", dt.date(2008, 4, 1)),
        ("2008/4/1 0:00", dt.date(2008, 4, 1)),
        ("2008-04-01T00:00:00", dt.date(2008, 4, 1)),
        ("H20.4.1", dt.date(2008, 4, 1)),
        ("H20/4/1", dt.date(2008, 4, 1)),
        ("H20-4-1", dt.date(2008, 4, 1)),
        ("h20.4.1", dt.date(2008, 4, 1)),
        ("H.20.4.1", dt.date(2008, 4, 1)),
        ("Ｈ２０．４．１", dt.date(2008, 4, 1)),
        ("H 20. 4. 1", dt.date(2008, 4, 1)),
        ("H20年4月1日", dt.date(2008, 4, 1)),
        ("平成20年4月1日", dt.date(2008, 4, 1)),
        ("平成 20 年 4 月 1 日", dt.date(2008, 4, 1)),
        ("平成20年4月1日生", dt.date(2008, 4, 1)),
        ("平20.4.1", dt.date(2008, 4, 1)),
        ("㍻20年4月1日", dt.date(2008, 4, 1)),
        ("平成元年4月1日", dt.date(1989, 4, 1)),
        ("R2.1.5", dt.date(2020, 1, 5)),
        ("令和2年1月5日", dt.date(2020, 1, 5)),
        ("令和元年5月1日", dt.date(2019, 5, 1)),
        ("S45.3.1", dt.date(1970, 3, 1)),
        ("昭和64年1月7日", dt.date(1989, 1, 7)),
        ("H1.1.8", dt.date(1989, 1, 8)),
        ("H31.4.30", dt.date(2019, 4, 30)),
        ("R1.5.1", dt.date(2019, 5, 1)),
        ("T15.12.24", dt.date(1926, 12, 24)),
        ("S1.12.25", dt.date(1926, 12, 25)),
        ("T1.7.30", dt.date(1912, 7, 30)),
        ("M45.7.29", dt.date(1912, 7, 29)),
        ("明治33年1月1日", dt.date(1900, 1, 1)),
        ("2024-02-29", dt.date(2024, 2, 29)),
    ],
)
def test_it_parses_dates(raw: str, expected: dt.date) -> None:
    assert n.date(raw, latest=LATEST) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("H31.5.1", "date outside its era"),  # Heisei ended 2019-04-30
        ("R1.4.30", "date outside its era"),
        ("S64.1.8", "date outside its era"),
        ("H1.1.7", "date outside its era"),
        ("T1.7.29", "date outside its era"),
        ("2023-02-30", "no such calendar day"),
        ("2023-02-29", "no such calendar day"),
        ("20081301", "no such calendar day"),
        ("H20.13.1", "no such calendar day"),
        ("08/4/1", "two-digit year without an era is ambiguous"),
        ("080401", "two-digit year without an era is ambiguous"),
        ("08年4月1日", "two-digit year without an era is ambiguous"),
        ("H0.4.1", "era year out of range"),
        ("H100.1.1", "era year out of range"),
        ("1899-12-31", "date too early"),
        ("明治30年1月1日", "date too early"),
        ("2040-01-01", "date too far in the future"),
        ("01/04/2008", "not a recognised date format"),
        ("2008-4", "not a recognised date format"),
        ("April 1, 2008", "not a recognised date format"),
        ("39539", "not a recognised date format"),  # spreadsheet serial
        ("平成", "not a recognised date format"),
        ("X20.4.1", "not a recognised date format"),
        ("元/4/1", "not a recognised date format"),
        ("200/4/1", "not a recognised date format"),
    ],
)
def test_it_rejects_bad_dates(raw: str, reason: str) -> None:
    rejects(n.date, raw, reason, latest=LATEST)


def test_it_limits_future_dates_to_two_years_from_today() -> None:
    today = dt.date.today()
    assert n.date((today + dt.timedelta(days=300)).isoformat()) == today + dt.timedelta(days=300)
    rejects(n.date, (today + dt.timedelta(days=800)).isoformat(), "date too far in the future")


ERAS = (
    ("令和", "R", 2019),
    ("平成", "H", 1989),
    ("昭和", "S", 1926),
    ("大正", "T", 1912),
    ("明治", "M", 1868),
)
ERA_START = {"R": dt.date(2019, 5, 1), "H": dt.date(1989, 1, 8), "S": dt.date(1926, 12, 25),
             "T": dt.date(1912, 7, 30), "M": dt.date(1868, 1, 25)}  # fmt: skip


def formats(d: dt.date) -> list[str]:
    """Every way this date is written in exports (computed independently of the parser)."""
    y, m, dd = d.year, d.month, d.day
    out = [f"{y:04d}-{m:02d}-{dd:02d}", f"{y}/{m}/{dd}", f"{y}.{m}.{dd}", f"{y:04d}{m:02d}{dd:02d}",
           f"{y}年{m}月{dd}日", f"{y}/{m:02d}/{dd:02d}"]  # fmt: skip
    kanji, letter, base = next(e for e in ERAS if d >= ERA_START[e[1]])
    ey = y - base + 1
    out += [f"{letter}{ey}.{m}.{dd}", f"{letter.lower()}{ey}/{m}/{dd}", f"{letter}{ey}-{m}-{dd}",
            f"{kanji}{'元' if ey == 1 else ey}年{m}月{dd}日", f"{kanji}{ey}年{m}月{dd}日"]  # fmt: skip
    out.append(out[-1].translate(synth.FULLWIDTH_DIGITS))
    return out


@given(st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)))
@example(dt.date(1989, 1, 7))
@example(dt.date(1989, 1, 8))
@example(dt.date(2019, 4, 30))
@example(dt.date(2019, 5, 1))
@example(dt.date(1926, 12, 25))
def test_dates_round_trip_through_every_format(d: dt.date) -> None:
    for text in formats(d):
        assert n.date(text, latest=LATEST) == d, text
    for fmt in synth.DATE_FORMATS:
        text = synth.format_date(d.toordinal(), fmt)
        assert n.date(text, latest=LATEST) == d, text


# --- Phones -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("090-1234-5678", "+819012345678"),
        ("09012345678", "+819012345678"),
        ("090 1234 5678", "+819012345678"),
        ("090.1234.5678", "+819012345678"),
        ("０９０－１２３４－５６７８", "+819012345678"),
        ("090ー1234ー5678", "+819012345678"),
        ("090‐1234‐5678", "+819012345678"),
        ("090−1234−5678", "+819012345678"),
        ("090–1234–5678", "+819012345678"),
        ("090(1234)5678", "+819012345678"),
        ("(03)1234-5678", "+81312345678"),
        ("（０３）１２３４－５６７８", "+81312345678"),
        ("03-1234-5678", "+81312345678"),
        ("+81 90-1234-5678", "+819012345678"),
        ("+819012345678", "+819012345678"),
        ("+81-090-1234-5678", "+819012345678"),  # trunk 0 kept after the country code
        ("81-90-1234-5678", "+819012345678"),
        ("9012345678", "+819012345678"),  # leading 0 lost in a spreadsheet
        ("0120-123-456", "+81120123456"),
        ("050-1234-5678", "+815012345678"),
        ("03-1234-5678 内線12", "+81312345678"),
        ("03-1234-5678 ext. 12", "+81312345678"),
        ("03-1234-5678(代)", "+81312345678"),
        ("TEL:03-1234-5678", "+81312345678"),
        ("+1 650-253-0000", "+16502530000"),
    ],
)
def test_it_formats_phones_as_e164(raw: str, expected: str) -> None:
    assert n.phone(raw) == expected


def test_it_keeps_once_valid_numbers_unless_strict() -> None:
    # 090-0xxx is not allocated today; a leaked number of that shape still identifies a household.
    assert n.phone("090-0123-4567") == "+819001234567"
    rejects(n.phone, "090-0123-4567", "not a valid phone number", strict=True)
    assert n.phone("090-1234-5678", strict=True) == "+819012345678"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12345", "not a valid phone number"),
        ("0000000000", "not a valid phone number"),
        ("03-123-4567", "not a valid phone number"),  # pre-1991 Tokyo layout: too short
        ("0101234567", "not a valid phone number"),  # 010 is the international prefix
        ("+1 123", "not a valid phone number"),
        ("090-1234-5678/03-1234-5678", "not a phone number"),
        ("山田", "not a phone number"),
        ("なし", "not a phone number"),
    ],
)
def test_it_rejects_bad_phones(raw: str, reason: str) -> None:
    rejects(n.phone, raw, reason)


@given(st.from_regex(r"\A0[0-9]{8,10}\Z"))
def test_phone_fast_path_agrees_with_phonenumbers(digits: str) -> None:
    try:
        number = phonenumbers.parse(digits, "JP")
        national = str(number.national_number)
        ok = (
            number.country_code == 81
            and len(national) in (9, 10)
            and not number.italian_leading_zero
            and phonenumbers.is_possible_number(number)
        ) or (number.country_code != 81 and phonenumbers.is_valid_number(number))
        expected = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if ok else None
    except phonenumbers.NumberParseException:
        expected = None
    try:
        got: str | None = n.phone(digits)
    except n.NormalizeError:
        got = None
    assert got == expected


# --- Postal codes -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    ["〒100-0001", "100-0001", "１００－０００１", "1000001", "〒 100ー0001", "〶100-0001", " 100‐0001 "],
)
def test_it_normalizes_postal_codes(raw: str) -> None:
    assert n.postal_code(raw) == "1000001"


@pytest.mark.parametrize(
    "raw", ["100-001", "12345678", "100-00011", "1000-001", "〒", "東京都", "100 0001 1"]
)
def test_it_rejects_bad_postal_codes(raw: str) -> None:
    rejects(n.postal_code, raw, "not a 7-digit postal code")


# --- E-mail -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("taro@example.com", "taro@example.com"),
        ("Taro.Yamada@Gmail.COM", "taro.yamada@gmail.com"),
        ("ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯＭ", "taro@example.com"),
        ("  taro@example.com\u3000", "taro@example.com"),
        ("taro..x@docomo.ne.jp", "taro..x@docomo.ne.jp"),  # pre-2009 carrier address, really exists
        ("taro.@ezweb.ne.jp", "taro.@ezweb.ne.jp"),
        ("taro+tag@example.com", "taro+tag@example.com"),
        ("mailto:taro@example.com", "taro@example.com"),
        ("taro@example.com.", "taro@example.com"),
        ("taro@日本.jp", "taro@xn--wgv71a.jp"),
    ],
)
def test_it_normalizes_emails(raw: str, expected: str) -> None:
    assert n.email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("taro @example.com", "contains spaces"),
        ("taro@exa mple.com", "contains spaces"),
        ("taro@@example.com", "needs exactly one @"),
        ("taro.example.com", "needs exactly one @"),
        ("a@b@example.com", "needs exactly one @"),
        ("@example.com", "local part empty or not ASCII"),
        ("山田@example.com", "local part empty or not ASCII"),
        ("taro@", "domain is not a valid host name"),
        ("taro@localhost", "domain is not a valid host name"),
        ("taro@example,com", "domain is not a valid host name"),
        ("taro@-example.com", "domain is not a valid host name"),
    ],
)
def test_it_rejects_bad_emails(raw: str, reason: str) -> None:
    rejects(n.email, raw, reason)


# --- Gender -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("男", "M"), ("男性", "M"), ("M", "M"), ("m", "M"), ("Male", "M"), ("1", "M"), ("１", "M"),
        ("女", "F"), ("女性", "F"), ("F", "F"), ("female", "F"), ("2", "F"), (" 女 ", "F"),
        ("0", ""), ("9", ""), ("不明", ""), ("その他", ""), ("", ""), ("x", ""),
    ],
)  # fmt: skip
def test_it_reads_gender_codes(raw: str, expected: str) -> None:
    assert n.gender(raw) == expected


# --- Addresses ----------------------------------------------------------------------------------------
MARU = "東京都千代田区丸の内"
KEY = "千代田区丸ノ内"


@pytest.mark.parametrize(
    ("raw", "pref", "town_key", "block", "building", "room"),
    [
        ("東京都千代田区丸の内一丁目2番3号", "東京都", "千代田区丸ノ内", "1-2-3", "", ""),
        ("東京都千代田区丸ノ内1丁目2-3", "東京都", "千代田区丸ノ内", "1-2-3", "", ""),
        ("東京都千代田区丸の内１－２－３", "東京都", "千代田区丸ノ内", "1-2-3", "", ""),
        ("千代田区丸の内1の2の3", "", "千代田区丸ノ内", "1-2-3", "", ""),
        ("東京都千代田区丸の内1ー2ー3", "東京都", "千代田区丸ノ内", "1-2-3", "", ""),
        ("東京都千代田区丸の内1‐2−3", "東京都", "千代田区丸ノ内", "1-2-3", "", ""),
        ("東京都千代田区丸の内 1丁目 2番 3号", "東京都", "千代田区丸ノ内", "1-2-3", "", ""),
        ("東京都千代田区丸の内一丁目二番三号", "東京都", "千代田区丸ノ内", "1-2-3", "", ""),
        (MARU + "1-2-3 丸の内ハイツ 405号室", "東京都", KEY, "1-2-3", "丸の内ハイツ 405号室", "405"),
        (MARU + "1-2-3丸の内ハイツ405", "東京都", KEY, "1-2-3", "丸の内ハイツ405", "405"),
        ("東京都千代田区丸の内1-2-3-405", "東京都", "千代田区丸ノ内", "1-2-3", "405", "405"),
        ("〒100-0005 東京都千代田区丸の内1-2-3", "東京都", "千代田区丸ノ内", "1-2-3", "", ""),
        ("愛知県一宮市本町二丁目５番地", "愛知県", "一宮市本町", "2-5", "", ""),
        ("三重県四日市市諏訪町4-5", "三重県", "四日市市諏訪町", "4-5", "", ""),
        ("東京都世田谷区三軒茶屋二丁目11番22号", "東京都", "世田谷区三軒茶屋", "2-11-22", "", ""),
        ("宮城県仙台市青葉区一番町1丁目2-3", "宮城県", "仙台市青葉区一番町", "1-2-3", "", ""),
        ("東京都千代田区九段三番町1-2", "東京都", "千代田区九段三番町", "1-2", "", ""),
        ("東京都千代田区六番町3番地", "東京都", "千代田区六番町", "3", "", ""),
        ("北海道札幌市北区北二十一条西3-4-5", "北海道", "札幌市北区北21条西", "3-4-5", "", ""),
        ("北海道札幌市北区北21条西3丁目4-5", "北海道", "札幌市北区北21条西", "3-4-5", "", ""),
        ("北海道旭川市神楽４条3丁目5番6号", "北海道", "旭川市神楽4条", "3-5-6", "", ""),
        ("北海道帯広市東3線北12-5", "北海道", "帯広市東3線北", "12-5", "", ""),
        ("静岡県浜松市浜名区善地319番地", "静岡県", "浜松市浜名区善地", "319", "", ""),
        ("静岡県浜松市浜名区善地319泉荘 205", "静岡県", "浜松市浜名区善地", "319", "泉荘 205", "205"),
        ("鳥取県日野郡江府町助沢1233番15号-211", "鳥取県", "江府町助沢", "1233-15", "211", "211"),
        ("鳥取県江府町助沢1233-15 銀杏荘 211", "鳥取県", "江府町助沢", "1233-15", "銀杏荘 211", "211"),
        ("大阪府高槻市浦堂本町237－5－106", "大阪府", "高槻市浦堂本町", "237-5", "106", "106"),
        ("福岡県三井郡大刀洗町大字山隈123", "福岡県", "大刀洗町山隈", "123", "", ""),
        ("神奈川県横浜市保土ケ谷区岩間町1-2", "神奈川県", "横浜市保土ケ谷区岩間町", "1-2", "", ""),
        ("神奈川県横浜市保土ヶ谷区岩間町1-2", "神奈川県", "横浜市保土ケ谷区岩間町", "1-2", "", ""),
        ("神奈川県鎌倉市七里ガ浜1-2", "神奈川県", "鎌倉市七里ケ浜", "1-2", "", ""),
        ("東京都清瀬市野塩2丁目26-3 第2桜荘107", "東京都", "清瀬市野塩", "2-26-3", "第2桜荘107", "107"),
        ("東京都港区芝3丁目", "東京都", "港区芝", "3", "", ""),
        ("東京都港区芝", "東京都", "港区芝", "", "", ""),
        ("東京都港区", "東京都", "港区", "", "", ""),
        ("大阪府大阪市北区梅田", "大阪府", "大阪市北区梅田", "", "", ""),
        ("京都府京都市中京区", "京都府", "京都市中京区", "", "", ""),
        ("福岡県北九州市小倉北区澤見1-2", "福岡県", "北九州市小倉北区沢見", "1-2", "", ""),
    ],
)  # fmt: skip
def test_it_splits_addresses(
    raw: str, pref: str, town_key: str, block: str, building: str, room: str
) -> None:
    a = n.address(raw)
    assert (a.prefecture, a.town_key, a.block, a.building, a.room) == (pref, town_key, block, building, room)
    assert a.key() == f"{town_key}|{block}"


@pytest.mark.parametrize(
    "variant",
    [
        "東京都千代田区丸の内一丁目2番3号",
        "千代田区丸の内1-2-3",
        "東京都千代田区丸ノ内１－２－３ 丸の内ハイツ 405",
        "東京都 千代田区 丸の内 1丁目2番3号",
        "〒100-0005東京都千代田区丸の内1の2の3",
        "東京都千代田区丸の内1丁目2-3-405",
    ],
)
def test_address_variants_share_a_key(variant: str) -> None:
    assert n.address(variant).key() == "千代田区丸ノ内|1-2-3"


@given(
    st.one_of(
        st.text(max_size=60), st.text(alphabet=st.sampled_from("12３一二十丁目番地号の-ー 町条"), max_size=20)
    )
)
def test_address_never_raises(raw: str) -> None:
    a = n.address(raw)
    assert all(part.isdigit() for part in a.block.split("-")) if a.block else True
    assert a.room == "" or a.room.isdigit()


# --- Properties across functions ----------------------------------------------------------------------
IDEMPOTENT: list[Callable[[str], str]] = [
    n.name,
    n.name_key,
    n.kana,
    n.kana_key,
    n.phone,
    n.postal_code,
    n.email,
]
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from("0123456789０１２３-ー－‐−()+ @.〒"), max_size=16),
    st.text(alphabet=st.sampled_from("あいうアイウｱｲｳﾞﾟー　 ・ャッ山田髙"), max_size=16),
    st.emails(),
)


@settings(max_examples=300)
@given(TEXT)
def test_normalizers_are_idempotent(raw: str) -> None:
    for func in IDEMPOTENT:
        try:
            once = func(raw)
        except n.NormalizeError:
            continue
        assert func(once) == once, func.__name__


@settings(max_examples=300)
@given(TEXT)
def test_errors_never_contain_the_value(raw: str) -> None:
    funcs: list[Callable[[str], object]] = [
        *IDEMPOTENT,
        n.kana_romaji,
        n.name_fold_key,
        n.date,
        n.gender,
        n.address,
    ]
    for func in funcs:
        try:
            func(raw)
        except n.NormalizeError as e:
            # A fixed reason cannot carry the value (a short value may still be a substring of it: "not").
            assert e.reason in REASONS
            assert str(e) == f"{e.field}: {e.reason}"


# --- Synthetic leak -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def leak(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict[str, str], str, str]]:
    """2,000 synthetic records: (row, person_id, variation tags)."""
    out = tmp_path_factory.mktemp("synth") / "leak.csv"
    truth = synth.default_truth_path(out)
    synth.generate(records=2000, seed=7, out=out, truth_out=truth)
    with out.open(encoding="utf-8") as f, truth.open(encoding="utf-8") as t:
        pairs = zip(csv.DictReader(f), csv.DictReader(t), strict=True)
        return [(row, tr["person_id"], tr["variation"]) for row, tr in pairs]


COLUMNS: dict[str, Callable[[str], object]] = {
    "subject_name": n.name,
    "guardian_name": n.name,
    "subject_kana": n.kana_key,
    "guardian_kana": n.kana_key,
    "subject_birth_date": n.date,
    "expected_delivery_date": n.date,
    "phone": n.phone,
    "fax": n.phone,
    "postal_code": n.postal_code,
    "email": n.email,
}
# The generator swaps day and month (dm_swap, <= 2 % of rows) only when both are <= 12, so a swapped date
# is a real day, except when the swap moves it out of its era (H31.4.5 -> H31.5.4): about 1 in 100,000
# dates on seed 1. Phones include 090-0xxx shapes (never allocated; the lenient default accepts them).
MAX_REJECTED = {"subject_birth_date": 0.005, "expected_delivery_date": 0.005, "phone": 0.0, "fax": 0.0}


def test_synthetic_leak_normalizes_with_few_rejects(leak: list[tuple[dict[str, str], str, str]]) -> None:
    for column, func in COLUMNS.items():
        values = [row[column] for row, _, _ in leak if row[column].strip()]
        assert values, column
        rejected = 0
        for value in values:
            try:
                func(value)
            except n.NormalizeError:
                rejected += 1
        assert rejected / len(values) <= MAX_REJECTED.get(column, 0.0), column
    assert all(n.gender(row["subject_gender"]) for row, _, _ in leak if row["subject_gender"])
    assert all(n.address(row["address"]).block for row, _, _ in leak)


def test_synthetic_duplicates_get_equal_keys(leak: list[tuple[dict[str, str], str, str]]) -> None:
    """A person's records agree on every key unless the generator changed the underlying value."""
    checks: dict[str, tuple[Callable[[str], object], tuple[str, ...]]] = {
        "subject_name": (n.name_fold_key, ("married",)),
        "subject_kana": (n.kana_key, ("married", "kana_typo")),
        "subject_birth_date": (n.date, ("dm_swap",)),
        "postal_code": (n.postal_code, ("moved",)),
        "address": (lambda v: n.address(v).key(), ("moved",)),
    }
    for column, (func, changed) in checks.items():
        keys: dict[str, set[object]] = defaultdict(set)
        for row, person, tags in leak:
            if row[column].strip() and not any(t in tags for t in changed):
                keys[person].add(func(row[column]))
        split = Counter(len(v) > 1 for v in keys.values())
        # Addresses: a room written as "-205" after a plain 番地 cannot be told from a 枝番 (documented).
        allowed = 0.02 if column == "address" else 0.0
        assert split[True] <= allowed * len(keys), column


@pytest.mark.parametrize("raw", ["1900-01-01", "19000101", "1900/01/01", "明治33年1月1日"])
def test_a_placeholder_birth_date_is_refused_as_unknown_not_read_as_a_date(raw: str) -> None:
    assert n.date(raw) == dt.date(1900, 1, 1)  # a date as such: the import keeps the value
    with pytest.raises(n.NormalizeError, match="placeholder"):
        n.known_date(raw)
    assert n.known_date("1900-01-02") == dt.date(1900, 1, 2)
    assert n.known_date("") is None
