"""Vocabularies for the realistic generator: names, readings and postcodes (the committed tables of
owabi/demo/synth_data, used as raw word lists only), plus this generator's own lists of variant kanji,
kana confusions, e-mail domains, buildings and placeholders, and the small text helpers that write them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "owabi" / "demo" / "synth_data"


def _rows(name: str) -> list[list[str]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return [line.rstrip("\n").split("\t") for line in handle if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Weighted:
    items: tuple[tuple[str, ...], ...]
    cumulative: tuple[float, ...]

    def pick(self, rng: random.Random) -> tuple[str, ...]:
        return rng.choices(self.items, cum_weights=self.cumulative)[0]


def _weighted(items: list[tuple[str, ...]], weights: list[float]) -> Weighted:
    total, cumulative = 0.0, []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return Weighted(tuple(items), tuple(cumulative))


@dataclass(frozen=True)
class Tables:
    surnames: Weighted  # (surname, katakana reading)
    common_surnames: tuple[tuple[str, str], ...]  # the top 30: namesakes come from these
    given: dict[tuple[str, str], Weighted]  # (gender M/F, era old/mid/new) -> (name, reading)
    given_by_reading: dict[tuple[str, str], tuple[str, ...]]  # (gender, reading) -> spellings
    surnames_by_reading: dict[str, tuple[str, ...]]
    postcodes: tuple[tuple[str, str, str, str, bool], ...]  # code, prefecture, city, town, has 丁目


@cache
def tables() -> Tables:
    surname_rows = _rows("surnames.tsv")
    surnames = _weighted([(r[0], r[1]) for r in surname_rows], [float(r[2]) for r in surname_rows])
    by_reading: dict[str, list[str]] = defaultdict(list)
    for row in surname_rows:
        by_reading[row[1]].append(row[0])
    given_rows = _rows("given_names.tsv")
    grouped: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    given_by_reading: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in given_rows:
        grouped[(row[2], row[3])].append(row)
        if row[0] not in given_by_reading[(row[2], row[1])]:
            given_by_reading[(row[2], row[1])].append(row[0])
    given = {
        key: _weighted([(r[0], r[1]) for r in rows], [float(r[4]) for r in rows])
        for key, rows in grouped.items()
    }
    postcodes = tuple((r[0], r[1], r[2], r[3], r[4] == "1") for r in _rows("postcodes.tsv"))
    return Tables(
        surnames=surnames,
        common_surnames=tuple((r[0], r[1]) for r in surname_rows[:30]),
        given=given,
        given_by_reading={k: tuple(v) for k, v in given_by_reading.items()},
        surnames_by_reading={k: tuple(v) for k, v in by_reading.items()},
        postcodes=postcodes,
    )


def era_of(year: int) -> str:
    return "old" if year < 1965 else "mid" if year < 1995 else "new"


# 異体字 as people and systems write them: the registered (戸籍) form and what an IME or an old system
# writes instead. Both directions occur; the first member is the common form.
VARIANTS: tuple[tuple[str, ...], ...] = (
    ("高", "髙"),
    ("崎", "﨑", "嵜"),
    ("斎", "齋", "斉", "齊"),
    ("辺", "邊", "邉"),
    ("浜", "濱"),
    ("沢", "澤"),
    ("島", "嶋"),
    ("桜", "櫻"),
    ("広", "廣"),
    ("国", "國"),
    ("恵", "惠"),
    ("真", "眞"),
    ("徳", "德"),
    ("竜", "龍"),
    ("栄", "榮"),
    ("吉", "𠮷"),
)
VARIANT_GROUP: dict[str, tuple[str, ...]] = {c: group for group in VARIANTS for c in group}
# Characters outside JIS X 0208 that legacy systems could not store: they became 〓 (ゲタ) or the
# common form on migration.
NOT_IN_JIS = frozenset("髙﨑嵜𠮷")

# Kana confusions. Voiced marks are lost or added when a name is heard on the phone or typed in a hurry;
# small kana become large in systems that forbid them (bank kana), and vice versa; long vowels are
# written ウ, ー or not at all; handwriting makes シ/ツ and ソ/ン alike.
_PLAIN = "カキクケコサシスセソタチツテトハヒフヘホ"
_VOICED = "ガギグゲゴザジズゼゾダヂヅデドバビブベボ"
VOICE_FLIP = {**dict(zip(_PLAIN, _VOICED, strict=True)), **dict(zip(_VOICED, _PLAIN, strict=True))}
SMALL_FLIP = dict(
    zip("ャュョッァィゥェォヤユヨツアイウエオ", "ヤユヨツアイウエオャュョッァィゥェォ", strict=True)
)
LOOKALIKE = {"シ": "ツ", "ツ": "シ", "ソ": "ン", "ン": "ソ", "ク": "ワ", "ワ": "ク", "ヌ": "ス", "ス": "ヌ"}
O_ROW = frozenset("オコゴソゾトドノホボポモヨョロヲ")

# Digits misread from handwriting or OCR.
DIGIT_LOOKALIKE = {"1": "7", "7": "1", "0": "6", "6": "0", "3": "8", "8": "3", "4": "9", "9": "4", "5": "6"}

# Kanji misread from handwriting (paper forms keyed by hand).
KANJI_LOOKALIKE = {"未": "末", "末": "未", "土": "士", "士": "土", "己": "巳", "太": "大", "大": "太"}


def to_hiragana(text: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)


_HALF = dict(
    zip(
        "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン",
        "｡｢｣､･ｦｧｨｩｪｫｬｭｮｯｰｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝ",
        strict=True,
    )
)
_UNVOICE = {v: p for p, v in zip(_PLAIN, _VOICED, strict=True)}
_HALF_P = dict(zip("パピプペポ", "ﾊﾋﾌﾍﾎ", strict=True))


def to_halfwidth_kana(text: str) -> str:
    """Full-width katakana as half-width (ｻｸﾗｲ ﾀﾞｲｽｹ): voiced marks become separate characters."""
    out = []
    for c in text:
        if c in _HALF:
            out.append(_HALF[c])
        elif c in _UNVOICE:
            out.append(_HALF[_UNVOICE[c]] + "ﾞ")
        elif c in _HALF_P:
            out.append(_HALF_P[c] + "ﾟ")
        elif c == "ヴ":
            out.append("ｳﾞ")
        elif c == "\u3000":
            out.append(" ")
        else:
            out.append(c)
    return "".join(out)


FULLWIDTH_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９－")
KANJI_DIGITS = str.maketrans("0123456789", "〇一二三四五六七八九")


def kanji_number(n: int) -> str:
    """1..99 as written in 丁目 (十一, 二十三)."""
    ones = "〇一二三四五六七八九"
    if n < 10:
        return ones[n]
    tens, rest = divmod(n, 10)
    return ("" if tens == 1 else ones[tens]) + "十" + (ones[rest] if rest else "")


# Hepburn-ish romanisation, enough to make e-mail local parts from readings (sato.taro, yuki0412).
_ROMAJI = {
    **dict(zip("アイウエオ", ["a", "i", "u", "e", "o"], strict=True)),
    **dict(zip("カキクケコ", ["ka", "ki", "ku", "ke", "ko"], strict=True)),
    **dict(zip("ガギグゲゴ", ["ga", "gi", "gu", "ge", "go"], strict=True)),
    **dict(zip("サシスセソ", ["sa", "shi", "su", "se", "so"], strict=True)),
    **dict(zip("ザジズゼゾ", ["za", "ji", "zu", "ze", "zo"], strict=True)),
    **dict(zip("タチツテト", ["ta", "chi", "tsu", "te", "to"], strict=True)),
    **dict(zip("ダヂヅデド", ["da", "ji", "zu", "de", "do"], strict=True)),
    **dict(zip("ナニヌネノ", ["na", "ni", "nu", "ne", "no"], strict=True)),
    **dict(zip("ハヒフヘホ", ["ha", "hi", "fu", "he", "ho"], strict=True)),
    **dict(zip("バビブベボ", ["ba", "bi", "bu", "be", "bo"], strict=True)),
    **dict(zip("パピプペポ", ["pa", "pi", "pu", "pe", "po"], strict=True)),
    **dict(zip("マミムメモ", ["ma", "mi", "mu", "me", "mo"], strict=True)),
    **dict(zip("ヤユヨ", ["ya", "yu", "yo"], strict=True)),
    **dict(zip("ラリルレロ", ["ra", "ri", "ru", "re", "ro"], strict=True)),
    **dict(zip("ワヲン", ["wa", "o", "n"], strict=True)),
    **dict(zip("ァィゥェォ", ["a", "i", "u", "e", "o"], strict=True)),
    "ヴ": "vu",
}
_YOON = {"ャ": "a", "ュ": "u", "ョ": "o"}


def romaji(kana: str) -> str:
    out: list[str] = []
    double = False
    for c in kana:
        if c == "ッ":
            double = True
            continue
        if c in _YOON and out:
            prev = out.pop()
            stem = prev[:-1] if prev.endswith("i") else prev
            syllable = stem + ("" if stem.endswith(("sh", "ch", "j")) else "y") + _YOON[c]
        elif c == "ー":
            continue
        else:
            syllable = _ROMAJI.get(c, "")
        if double and syllable:
            syllable = syllable[0] + syllable
        double = False
        out.append(syllable)
    return "".join(out)


# E-mail domains by share among Japanese consumers (free mail, carriers, ISPs), rough 2015-2025 shares.
EMAIL_DOMAINS = _weighted(
    [
        ("gmail.com",),
        ("yahoo.co.jp",),
        ("icloud.com",),
        ("docomo.ne.jp",),
        ("ezweb.ne.jp",),
        ("au.com",),
        ("softbank.ne.jp",),
        ("i.softbank.jp",),
        ("hotmail.co.jp",),
        ("outlook.jp",),
        ("ocn.ne.jp",),
        ("nifty.com",),
    ],
    [34, 24, 10, 8, 4, 3, 4, 3, 4, 2, 2, 2],
)
CARRIER_DOMAINS = frozenset({"docomo.ne.jp", "ezweb.ne.jp", "au.com", "softbank.ne.jp", "i.softbank.jp"})
DOMAIN_TYPOS = {
    "gmail.com": ("gmail.con", "gmial.com", "gmai.com", "gmail.co.jp", "gmall.com"),
    "yahoo.co.jp": ("yahoo.co.jo", "yahoo.ne.jp", "yaho.co.jp", "yahoo.com.jp"),
    "icloud.com": ("icloud.co.jp", "icroud.com", "iclould.com"),
    "docomo.ne.jp": ("docomo.co.jp", "docomo.ne.jo", "docom.ne.jp"),
    "ezweb.ne.jp": ("ezweb.co.jp", "ezwed.ne.jp"),
    "softbank.ne.jp": ("softbank.co.jp", "sofbank.ne.jp"),
    "hotmail.co.jp": ("hotmail.com", "hotmial.co.jp"),
}

BUILDING_HEADS = (
    "サン",
    "グラン",
    "ロイヤル",
    "パーク",
    "メゾン",
    "ヴィラ",
    "リバー",
    "エスポワール",
    "ライオンズ",
)
BUILDING_TAILS = (
    "ハイツ",
    "コーポ",
    "マンション",
    "レジデンス",
    "パレス",
    "ヒルズ",
    "コート",
    "荘",
    "テラス",
)

# 市外局番 for a few prefectures (the rest get a generic 3-digit code); mobile prefixes by share.
AREA_CODES = {
    "東京都": "03",
    "大阪府": "06",
    "愛知県": "052",
    "北海道": "011",
    "福岡県": "092",
    "神奈川県": "045",
}
MOBILE_PREFIXES = _weighted([("090",), ("080",), ("070",)], [50, 38, 12])

# Names given to a child registered before birth (マタニティ会員 etc.), as companies' forms store them.
PLACEHOLDER_NAMES = (
    ("（未定）", ""),
    ("未定", "ミテイ"),
    ("ベビー", "ベビー"),
    ("赤ちゃん", "アカチャン"),
    ("第一子", ""),
    ("第二子", ""),
    ("〇〇ちゃん", ""),
    ("{surname} ベビー", "{kana} ベビー"),
    ("{surname}ちゃん", ""),
    ("", ""),
)

CARD_BRANDS = _weighted([("VISA",), ("Mastercard",), ("JCB",), ("AMEX",), ("Diners",)], [50, 25, 20, 4, 1])
