"""Deterministic synthetic leaked-record CSVs with ground truth (``owabi synth``).

Resolution quality (DESIGN.md §5: pairwise F1 >= 0.99 for subjects and recipients) can only be measured
on data whose truth is known and which is as hard as real Japanese exports. Faker's ja_JP tables are too
thin for that (tech.md, surprise 5), so names, readings and postcodes come from committed tables in
``synth_data/`` and the generator reproduces what breached exports really contain: households (guardian +
children, spouses), twins, namesakes, pre-birth placeholder rows, and the spelling, width, date and
dash variations listed in DESIGN.md §4.1.

Output: the standard import columns (DESIGN.md §4.1) plus a truth sidecar
``record_id,person_id,recipient_id,variation`` where recipient follows DESIGN.md §4.2.

Determinism: everything is drawn from one ``random.Random(seed)`` and only tuples, lists and
insertion-ordered dicts are iterated (never a set), so the bytes depend only on (seed, records, as_of),
not on PYTHONHASHSEED. Memory stays bounded: rows are produced household by household and pass through a
fixed-size shuffle window, so a person's duplicates land near each other but not next to each other.
"""

from __future__ import annotations

import random
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TypeVar

from owabi.core.files import csv_writer, write_private
from owabi.records.cards import BRAND_SPELLINGS
from owabi.records.columns import STANDARD
from owabi.records.majority import ADULT_AGE, is_minor

COLUMNS: tuple[str, ...] = STANDARD
TRUTH_COLUMNS: tuple[str, ...] = ("record_id", "person_id", "recipient_id", "variation")

DEFAULT_AS_OF = date(2026, 12, 1)

# --- Mix (module-level so experiments can tune them) -------------------------------------------------
# Each person gets 1 + G records, G geometric with continuation probability DUPLICATE_FRACTION; the
# expected share of duplicate records is then exactly DUPLICATE_FRACTION (E[records] = 1 / (1 - q)).
DUPLICATE_FRACTION = 0.30
MAX_DUPLICATES = 5
# Household types; with the family shape below about 40 % of the people are registered as children.
HOUSEHOLD_MIX: tuple[tuple[str, float], ...] = (("single", 0.4), ("couple", 0.16), ("family", 0.44))
CHILDREN_PER_FAMILY: tuple[tuple[int, float], ...] = ((1, 0.36), (2, 0.42), (3, 0.16), (4, 0.06))
SINGLE_PARENT_RATE = 0.12
MOTHER_IS_REGISTRANT_RATE = 0.8
GUARDIAN_SUBJECT_RATE = 0.5  # the registering guardian's own data leaked too
OTHER_PARENT_SUBJECT_RATE = 0.3
GROWN_CHILD_RATE = 0.18  # oldest child already an adult on the notice date
TWIN_RATE = 0.03
PLACEHOLDER_RATE = 0.08  # children born 2008 or later with a pre-birth (出産予定日) row
SIMILAR_NAME_RATE = 0.03  # parent and child named 一郎/一朗 etc.
NAMESAKE_RATE = 0.02  # single adults sharing name + birth date with an unrelated earlier person
MAIDEN_NAME_RATE_WIFE = 0.5
MAIDEN_NAME_RATE_SINGLE = 0.08
MOVED_HOUSEHOLD_RATE = 0.35
SHARED_CARD_RATE = 0.2
SHARED_EMAIL_RATE = 0.1
LANDLINE_RATE = 0.45
MOBILE_RATE = 0.92
EMAIL_RATE = 0.85
CARD_RATE = 0.55
FAX_RATE = 0.06

SHUFFLE_WINDOW = 10_000
PROGRESS_EVERY = 100_000

# Per-row variation probabilities: (original record, duplicate record).
RATES: dict[str, tuple[float, float]] = {
    "kana_style": (0.04, 0.15),
    "name_sep": (0.05, 0.2),
    "stray_space": (0.02, 0.08),
    "itaiji": (0.01, 0.12),
    "kana_typo": (0.01, 0.08),
    "large_kana": (0.01, 0.04),
    "married": (0.1, 0.35),
    "missing_kana": (0.02, 0.06),
    "missing_birth_date": (0.01, 0.04),
    "date_format": (0.04, 0.15),
    "dm_swap": (0.003, 0.02),
    "moved": (0.1, 0.45),
    "no_prefecture": (0.03, 0.1),
    "no_building": (0.03, 0.2),
    "fullwidth_digits": (0.04, 0.12),
    "dash_variant": (0.05, 0.15),
    "phone_format": (0.05, 0.2),
    "new_phone": (0.0, 0.05),
    "missing_phone": (0.02, 0.06),
    "new_email": (0.0, 0.05),
    "missing_email": (0.04, 0.12),
    "email_upper": (0.01, 0.05),
    "fullwidth_letters": (0.01, 0.04),
}

T = TypeVar("T")


# --- Sources -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Source:
    """One export system; each has its own house style, as real exports do."""

    name: str
    systems: tuple[str, ...]  # what a row's `source` column says: the system it came from
    prefix: str  # record_id prefix, so ids stay unique within the file
    kana: str  # kata | hira | half
    name_sep: str
    date_fmt: str
    phone_style: str
    postcode_style: str
    gender_labels: tuple[str, str]  # (male, female)
    has_relationship: bool
    has_fax: bool
    email_rate: float
    birth_rate: float  # adult rows; child rows always carry a birth date
    card_rate: float
    card_modes: tuple[str, ...]  # full | masked | last4 (see _Generator.card_text)


# fmt: off
SOURCES: tuple[Source, ...] = (
    Source("zemi", ("course_2012", "course_2016"), "ZM", "kata", " ", "slash", "hyphen", "hyphen",
           ("男", "女"), has_relationship=True, has_fax=True, email_rate=0.6, birth_rate=1.0,
           card_rate=0.25, card_modes=("last4", "masked")),
    Source("kodomo", ("kodomo_club",), "KD", "hira", "\u3000", "wareki_kanji", "hyphen", "mark",
           ("男", "女"), has_relationship=True, has_fax=True, email_rate=0.5, birth_rate=1.0, card_rate=0.0,
           card_modes=()),
    Source("shop", ("shop_order", "web_member"), "SH", "half", " ", "compact", "plain", "plain", ("1", "2"),
           has_relationship=False, has_fax=False, email_rate=0.95, birth_rate=0.7, card_rate=0.8,
           card_modes=("full", "full", "masked", "masked", "last4")),
    Source("event", ("event_entry",), "EV", "kata", "", "iso", "hyphen", "hyphen", ("M", "F"),
           has_relationship=True, has_fax=False, email_rate=0.9, birth_rate=0.6, card_rate=0.0,
           card_modes=()),
    Source("club", ("fan_club",), "CL", "kata", " ", "wareki_abbrev", "paren", "hyphen", ("男性", "女性"),
           has_relationship=False, has_fax=False, email_rate=0.8, birth_rate=1.0, card_rate=0.4,
           card_modes=("masked", "masked", "last4")),
)
# Which systems a child's / an adult's records come from (weights).
CHILD_SOURCES: tuple[tuple[str, int], ...] = (("zemi", 50), ("kodomo", 30), ("event", 20))
ADULT_SOURCES: tuple[tuple[str, int], ...] = (("shop", 38), ("club", 22), ("event", 20), ("zemi", 12),
                                              ("kodomo", 8))
# fmt: on
_SRC = {s.name: s for s in SOURCES}


def _expand(pairs: Sequence[tuple[str, int]]) -> tuple[Source, ...]:
    """A lookup list where each source appears as often as its weight (O(1) weighted pick)."""
    return tuple(_SRC[name] for name, weight in pairs for _ in range(weight))


_CHILD_SRC = _expand(CHILD_SOURCES)
_ADULT_SRC = _expand(ADULT_SOURCES)

# --- Character tables ---------------------------------------------------------------------------------
KATA2HIRA = str.maketrans({chr(c): chr(c - 0x60) for c in range(ord("ァ"), ord("ヶ") + 1)})


def _half_table() -> dict[int, str]:
    """Full-width katakana -> half-width (ｶﾞ as two code points), built from Unicode's own mapping."""
    table: dict[int, str] = {}
    for c in range(0xFF66, 0xFF9E):
        table[ord(unicodedata.normalize("NFKC", chr(c)))] = chr(c)
    for c in range(ord("ァ"), ord("ヶ") + 1):
        decomposed = unicodedata.normalize("NFD", chr(c))
        if len(decomposed) == 2 and ord(decomposed[0]) in table:
            mark = "\uff9e" if decomposed[1] == "\u3099" else "\uff9f"
            table[c] = table[ord(decomposed[0])] + mark
    table[ord("ー")] = "\uff70"
    table[ord("\u3000")] = " "
    return table


KATA2HALF = str.maketrans(_half_table())
LARGE_KANA = str.maketrans("ァィゥェォャュョッヮ", "アイウエオヤユヨツワ")
SMALL_KANA = frozenset("ァィゥェォャュョッヮ")
FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
FULLWIDTH_ASCII = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})
DASHES = ("-", "‐", "−", "ー", "－", "–")  # ASCII, U+2010, U+2212, U+30FC, U+FF0D, U+2013

# fmt: off
_GOJUON = ("アイウエオ", "カキクケコ", "ガギグゲゴ", "サシスセソ", "ザジズゼゾ", "タチツテト",
           "ダヂヅデド", "ナニヌネノ", "ハヒフヘホ", "バビブベボ", "パピプペポ", "マミムメモ", "ヤユヨ",
           "ラリルレロ", "ワヲン")
_VOICING = ("カガ", "キギ", "クグ", "ケゲ", "コゴ", "サザ", "シジ", "スズ", "セゼ", "ソゾ", "タダ", "チヂ",
            "ツヅッ", "テデ", "トド", "ハバパ", "ヒビピ", "フブプ", "ヘベペ", "ホボポ", "ヤャ", "ユュ",
            "ヨョ", "アァ", "イィ", "ウゥヴ", "エェ", "オォ", "ワヮ")
# fmt: on


def _typo_table() -> dict[str, tuple[str, ...]]:
    """Plausible one-character slips: another vowel in the same row, or voicing / size changed."""
    subs: dict[str, list[str]] = {}
    for row in _GOJUON:
        for ch in row:
            subs.setdefault(ch, []).extend(o for o in row if o != ch)
    for group in _VOICING:
        for ch in group:
            subs.setdefault(ch, []).extend(o for o in group if o != ch)
    return {k: tuple(dict.fromkeys(v)) for k, v in subs.items()}


KANA_TYPOS = _typo_table()

# fmt: off
# 異体字 that exports really contain (DESIGN.md §4.1, japan.md §4.4). Standard -> variants.
# U+FA10 塚 and U+F9DC 隆 are compatibility ideographs (NFKC folds them); 﨑 U+FA11 is not folded.
ITAIJI: dict[str, tuple[str, ...]] = {
    "高": ("髙",), "崎": ("﨑",), "斎": ("齋",), "斉": ("齊",), "辺": ("邊", "邉"), "浜": ("濱",),
    "島": ("嶋",), "吉": ("𠮷",), "沢": ("澤",), "桜": ("櫻",), "広": ("廣",), "国": ("國",),
    "富": ("冨",), "恵": ("惠",), "真": ("眞",), "滝": ("瀧",), "竜": ("龍",), "徳": ("德",),
    "栄": ("榮",), "関": ("關",), "黒": ("黑",), "瀬": ("瀨",), "亀": ("龜",), "塚": ("\ufa10",),
    "遥": ("遙",), "条": ("條",), "穂": ("穗",), "隆": ("\uf9dc",), "曽": ("曾",), "峰": ("峯",),
    "涼": ("凉",), "柳": ("栁",),
}
# Landline area codes per prefecture (a real code of a city in that prefecture).
AREA_CODES: dict[str, tuple[str, ...]] = {
    "北海道": ("011", "0138", "0166", "0154", "0155"), "青森県": ("017", "0172", "0178"),
    "岩手県": ("019", "0197"), "宮城県": ("022", "0225"), "秋田県": ("018", "0182"),
    "山形県": ("023", "0235"), "福島県": ("024", "0242", "0246"), "茨城県": ("029", "0297"),
    "栃木県": ("028", "0285"), "群馬県": ("027", "0276"), "埼玉県": ("048", "049"),
    "千葉県": ("043", "047", "0476"), "東京都": ("03", "03", "042"),
    "神奈川県": ("045", "044", "046", "0466"),
    "新潟県": ("025", "0258"), "富山県": ("076", "0766"), "石川県": ("076", "0761"),
    "福井県": ("0776", "0770"), "山梨県": ("055", "0553"), "長野県": ("026", "0263", "0265"),
    "岐阜県": ("058", "0584"), "静岡県": ("054", "053", "055"), "愛知県": ("052", "0532", "0564", "0566"),
    "三重県": ("059", "0598"), "滋賀県": ("077", "0749"), "京都府": ("075", "0773"),
    "大阪府": ("06", "06", "072"), "兵庫県": ("078", "079"), "奈良県": ("0742", "0745"),
    "和歌山県": ("073", "0739"), "鳥取県": ("0857", "0859"), "島根県": ("0852", "0853"),
    "岡山県": ("086", "0868"), "広島県": ("082", "084"), "山口県": ("083", "0836"),
    "徳島県": ("088", "0883"), "香川県": ("087", "0877"), "愛媛県": ("089", "0898"),
    "高知県": ("088", "0887"), "福岡県": ("092", "093", "0942"), "佐賀県": ("0952", "0954"),
    "長崎県": ("095", "0956"), "熊本県": ("096", "0968"), "大分県": ("097", "0977"),
    "宮崎県": ("0985", "0986"), "鹿児島県": ("099", "0995"), "沖縄県": ("098", "0980"),
}
MOBILE_PREFIXES = ("090",) * 10 + ("080",) * 7 + ("070",) * 3
EMAIL_DOMAINS: tuple[tuple[str, int], ...] = (
    ("gmail.com", 30), ("yahoo.co.jp", 20), ("docomo.ne.jp", 10), ("ezweb.ne.jp", 6), ("au.com", 3),
    ("softbank.ne.jp", 5), ("i.softbank.jp", 4), ("icloud.com", 8), ("outlook.jp", 3),
    ("hotmail.co.jp", 3), ("nifty.com", 2), ("ocn.ne.jp", 2), ("biglobe.ne.jp", 2),
)
# Card brands: (canonical code, weight, IIN prefixes, length), per the brands' published IIN ranges. The
# brand column spells them as exports do (owabi.records.cards.BRAND_SPELLINGS).
CARD_BRANDS: tuple[tuple[str, int, tuple[str, ...], int], ...] = (
    ("VISA", 45, ("4",), 16),
    ("MASTERCARD", 25, ("51", "52", "53", "54", "55", *(str(p) for p in range(2221, 2721, 37))), 16),
    ("JCB", 22, tuple(str(p) for p in range(3528, 3590)), 16),
    ("AMEX", 5, ("34", "37"), 15),
    ("DINERS", 3, ("36",), 14),
)
# How exports mask a card number (docs/exports.md), drawn per masked value: (kind, weight).
MASK_STYLES: tuple[tuple[str, int], ...] = (
    ("stars", 6), ("x_groups", 3), ("star_groups", 2), ("fullwidth", 1), ("bullets", 1), ("circles", 1),
    ("first6", 2), ("amex_head", 1), ("tail_label", 1), ("digit_label", 1), ("last4", 1), ("stray", 1),
)
LAST4_STYLES: tuple[str, ...] = ("plain", "plain", "plain", "star", "fullwidth", "tail_label")
BUILDING_PREFIX = ("メゾン", "コーポ", "ハイツ", "グランデ", "パレス", "レジデンス", "ヴィラ", "サンハイツ",
                   "ドミール", "アーバン", "シャトー", "ロイヤル", "ライオンズマンション", "パークハウス",
                   "ダイアパレス", "ルミエール", "エスポワール")
BUILDING_STEM = ("桜", "緑", "若葉", "青葉", "富士見", "中央", "南", "東", "駅前", "城山", "松風", "白鷺",
                 "朝日", "ひまわり", "さくら", "あおば", "みどり", "光", "泉", "芙蓉", "山手", "本町", "北",
                 "西", "旭", "日の出", "平和", "栄", "銀杏", "欅")
BUILDING_SUFFIX = ("荘", "ハイツ", "コーポ", "マンション", "レジデンス", "コート", "ヒルズ", "タワー")
KANJI_DIGITS = "〇一二三四五六七八九"
# Parent / child pairs named alike (hard case): (gender, parent, parent reading, child, child reading).
SIMILAR_PAIRS: tuple[tuple[str, str, str, str, str], ...] = (
    ("M", "一郎", "イチロウ", "一朗", "イチロウ"), ("M", "太郎", "タロウ", "太朗", "タロウ"),
    ("M", "健一", "ケンイチ", "健市", "ケンイチ"), ("M", "浩二", "コウジ", "浩司", "コウジ"),
    ("M", "大輔", "ダイスケ", "大祐", "ダイスケ"), ("M", "健太", "ケンタ", "健汰", "ケンタ"),
    ("M", "翔太", "ショウタ", "翔大", "ショウタ"), ("M", "誠", "マコト", "誠", "マコト"),
    ("F", "由美", "ユミ", "由実", "ユミ"), ("F", "美咲", "ミサキ", "美紗", "ミサキ"),
    ("F", "裕子", "ユウコ", "優子", "ユウコ"), ("F", "愛", "アイ", "藍", "アイ"),
)
# Wareki eras: (first day as ordinal, kanji, letter).
ERAS: tuple[tuple[int, str, str], ...] = (
    (date(2019, 5, 1).toordinal(), "令和", "R"),
    (date(1989, 1, 8).toordinal(), "平成", "H"),
    (date(1926, 12, 25).toordinal(), "昭和", "S"),
    (date(1912, 7, 30).toordinal(), "大正", "T"),
    (date(1868, 1, 25).toordinal(), "明治", "M"),
)
DATE_FORMATS = ("iso", "slash", "slash0", "compact", "wareki_abbrev", "wareki_kanji", "kanji")
DATE_TAGS = {"iso": "", "slash": "date_slash", "slash0": "date_slash", "compact": "date_compact",
             "wareki_abbrev": "wareki_date", "wareki_kanji": "wareki_date", "kanji": "date_kanji"}
PHONE_STYLES = ("hyphen", "plain", "paren", "intl", "intl_plain", "space")

# --- Romaji (for e-mail local parts) ------------------------------------------------------------------
_ROMAJI: dict[str, str] = {
    "ア": "a", "イ": "i", "ウ": "u", "エ": "e", "オ": "o", "カ": "ka", "キ": "ki", "ク": "ku", "ケ": "ke",
    "コ": "ko", "サ": "sa", "シ": "shi", "ス": "su", "セ": "se", "ソ": "so", "タ": "ta", "チ": "chi",
    "ツ": "tsu", "テ": "te", "ト": "to", "ナ": "na", "ニ": "ni", "ヌ": "nu", "ネ": "ne", "ノ": "no",
    "ハ": "ha", "ヒ": "hi", "フ": "fu", "ヘ": "he", "ホ": "ho", "マ": "ma", "ミ": "mi", "ム": "mu",
    "メ": "me", "モ": "mo", "ヤ": "ya", "ユ": "yu", "ヨ": "yo", "ラ": "ra", "リ": "ri", "ル": "ru",
    "レ": "re", "ロ": "ro", "ワ": "wa", "ヲ": "o", "ン": "n", "ガ": "ga", "ギ": "gi", "グ": "gu",
    "ゲ": "ge", "ゴ": "go", "ザ": "za", "ジ": "ji", "ズ": "zu", "ゼ": "ze", "ゾ": "zo", "ダ": "da",
    "ヂ": "ji", "ヅ": "zu", "デ": "de", "ド": "do", "バ": "ba", "ビ": "bi", "ブ": "bu", "ベ": "be",
    "ボ": "bo", "パ": "pa", "ピ": "pi", "プ": "pu", "ペ": "pe", "ポ": "po", "ヴ": "vu", "ァ": "a",
    "ィ": "i", "ゥ": "u", "ェ": "e", "ォ": "o",
}
# fmt: on
ITAIJI_FOLD: dict[str, str] = {v: k for k, vs in ITAIJI.items() for v in vs}
_DOMAINS = tuple(d for d, w in EMAIL_DOMAINS for _ in range(w))
_BRANDS = tuple(b for b in CARD_BRANDS for _ in range(b[1]))
_MASK_STYLES = tuple(kind for kind, weight in MASK_STYLES for _ in range(weight))


def romaji(kana: str, *, long_vowels: bool) -> str:
    """Hepburn romaji of a katakana reading; long vowels kept ("satou") or folded ("sato")."""
    out: list[str] = []
    i = 0
    double = False
    while i < len(kana):
        ch = kana[i]
        nxt = kana[i + 1] if i + 1 < len(kana) else ""
        if ch == "ッ":
            double = True
            i += 1
            continue
        if ch == "ー":
            if out and long_vowels:
                out.append(out[-1][-1])
            i += 1
            continue
        syl = _ROMAJI.get(ch, "")
        if nxt in "ャュョ" and nxt and syl.endswith("i"):
            vowel = {"ャ": "a", "ュ": "u", "ョ": "o"}[nxt]
            stem = syl[:-1]
            syl = stem + vowel if stem in ("sh", "ch", "j") else stem + "y" + vowel
            i += 1
        if double and syl:
            syl = ("t" if syl.startswith("ch") else syl[0]) + syl
        double = False
        out.append(syl)
        i += 1
    text = "".join(out)
    if not long_vowels:
        # Passport style folds long vowels, but not the ウ of 上 (イノウエ -> inoue, サトウ -> sato).
        text = re.sub(r"o[ou](?!e)|uu", lambda m: m[0][0], text)
    return text


# --- Tables -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Name:
    kanji: str
    kana: str  # full-width katakana
    romaji: str  # "sato"
    romaji_long: str  # "satou"
    alts: tuple[str, ...]  # the same name written with 異体字 toggled


@dataclass(frozen=True, slots=True)
class Place:
    postcode: str  # 7 digits
    pref: str
    city: str
    town: str
    chome: bool  # the town is divided into 丁目


def _alts(kanji: str) -> tuple[str, ...]:
    """Spellings of a name with its 異体字 toggled (standard <-> variant), in a fixed order."""
    positions = [i for i, ch in enumerate(kanji) if ch in ITAIJI or ch in ITAIJI_FOLD]
    if not positions:
        return ()
    out: list[str] = []
    for choice in (0, 1):
        chars = list(kanji)
        for i in positions:
            ch = chars[i]
            variants = ITAIJI.get(ch)
            chars[i] = variants[min(choice, len(variants) - 1)] if variants else ITAIJI_FOLD[ch]
        out.append("".join(chars))
    if len(positions) > 1:
        for i in positions:
            ch = kanji[i]
            variants = ITAIJI.get(ch)
            out.append(kanji[:i] + (variants[0] if variants else ITAIJI_FOLD[ch]) + kanji[i + 1 :])
    return tuple(dict.fromkeys(a for a in out if a != kanji))


def make_name(kanji: str, kana: str) -> Name:
    return Name(kanji, kana, romaji(kana, long_vowels=False), romaji(kana, long_vowels=True), _alts(kanji))


def _data_lines(filename: str) -> list[list[str]]:
    text = resources.files("owabi.demo.synth_data").joinpath(filename).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@dataclass(frozen=True, slots=True)
class Tables:
    surnames: tuple[Name, ...]  # weighted lookup list (a name repeats as often as its weight)
    surname_count: int
    given: dict[tuple[str, str], tuple[Name, ...]]  # (gender, era) -> weighted lookup list
    given_count: dict[str, int]  # gender -> distinct names
    places: tuple[Place, ...]
    by_pref: dict[str, tuple[Place, ...]]


@cache
def tables() -> Tables:
    """Load the committed name and postcode tables once per process."""
    surnames: list[Name] = []
    distinct = 0
    for kanji, kana, weight in _data_lines("surnames.tsv"):
        name = make_name(kanji, kana)
        distinct += 1
        # Weights are thousands of people; divide to keep the lookup list small but skewed.
        surnames.extend([name] * max(1, round(int(weight) / 5)))
    given: dict[tuple[str, str], list[Name]] = {}
    given_count: dict[str, int] = {"M": 0, "F": 0}
    for kanji, kana, gender, era, weight in _data_lines("given_names.tsv"):
        given.setdefault((gender, era), []).extend([make_name(kanji, kana)] * int(weight))
        given_count[gender] += 1
    places = tuple(
        Place(code, pref, city, town, chome == "1")
        for code, pref, city, town, chome in _data_lines("postcodes.tsv")
    )
    by_pref: dict[str, list[Place]] = {}
    for place in places:
        by_pref.setdefault(place.pref, []).append(place)
    return Tables(
        tuple(surnames),
        distinct,
        {k: tuple(v) for k, v in given.items()},
        given_count,
        places,
        {k: tuple(v) for k, v in by_pref.items()},
    )


def postcodes() -> frozenset[str]:
    """The 7-digit postcodes the generator can emit (tests check output against it)."""
    return frozenset(p.postcode for p in tables().places)


# --- Helpers ------------------------------------------------------------------------------------------
def luhn_check_digit(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def format_date(ordinal: int, fmt: str, swap: bool = False) -> str:
    """A date as one of the formats exports use (DESIGN.md §4.1); swap = day/month typo."""
    d = date.fromordinal(ordinal)
    y, m, dd = d.year, d.month, d.day
    if swap:
        m, dd = dd, m
    if fmt == "iso":
        return f"{y:04d}-{m:02d}-{dd:02d}"
    if fmt == "slash":
        return f"{y}/{m}/{dd}"
    if fmt == "slash0":
        return f"{y}/{m:02d}/{dd:02d}"
    if fmt == "compact":
        return f"{y:04d}{m:02d}{dd:02d}"
    if fmt == "kanji":
        return f"{y}年{m}月{dd}日"
    for start, kanji, letter in ERAS:
        if ordinal >= start:
            era_year = y - date.fromordinal(start).year + 1
            if fmt == "wareki_abbrev":
                return f"{letter}{era_year}.{m}.{dd}"
            return f"{kanji}{'元' if era_year == 1 else era_year}年{m}月{dd}日"
    return f"{y:04d}-{m:02d}-{dd:02d}"


@dataclass(frozen=True, slots=True)
class SynthSummary:
    records: int
    persons: int
    recipients: int
    duplicates: int
    children: int
    households: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")


# --- People and households ----------------------------------------------------------------------------
@dataclass(slots=True)
class _Card:
    brand: str
    number: str
    expiry: str


@dataclass(slots=True)
class _Addr:
    place: Place
    chome: int
    banchi: int
    go: int
    building: str
    room: str
    landline: tuple[str, str, str] | None


@dataclass(slots=True)
class _Person:
    pid: str
    sur: Name
    given: Name
    gender: str  # M | F
    birth: int  # ordinal
    rid: str = ""
    guardian: _Person | None = None
    rel: str = ""  # 長男, 妻 ...
    mobile: tuple[str, str, str] | None = None
    email: str = ""
    card: _Card | None = None
    card_shared: bool = False
    maiden: Name | None = None
    tags: tuple[str, ...] = ()
    due: int = 0  # expected delivery date ordinal (children with a placeholder row)
    own_addr: _Addr | None = None  # grown child living elsewhere


@dataclass(slots=True)
class _Household:
    addrs: list[_Addr]  # [current] or [current, previous]
    fax: tuple[str, str, str] | None


# A generated row before it gets its record_id: (source, 18 fields, person_id, recipient_id, tags).
_Row = tuple[Source, list[str], str, str, str]


class _Generator:
    """Draws households and renders their rows; all randomness comes from one seeded Random."""

    def __init__(self, seed: int, as_of: date, tab: Tables) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
        self.tab = tab
        self.as_of = as_of.toordinal()
        self.next_pid = 0
        self.households = 0
        self.recent_adults: list[tuple[Name, Name, str, int, str]] = []  # namesake candidates
        # A mailbox belongs to one person (or one household, when shared on purpose): a provider hands
        # taro.yamada@ to the first Taro Yamada and the next one picks another address.
        self.issued_emails: set[str] = set()

    # -- small draws --
    def pick(self, seq: Sequence[T]) -> T:
        return seq[int(self.rng.random() * len(seq))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def new_pid(self) -> str:
        self.next_pid += 1
        return f"P{self.next_pid:08d}"

    def n_records(self) -> int:
        n = 1
        while n <= MAX_DUPLICATES and self.rng.random() < DUPLICATE_FRACTION:
            n += 1
        return n

    def surname(self) -> Name:
        return self.pick(self.tab.surnames)

    def given(self, gender: str, birth: int, avoid: Sequence[Name] = ()) -> Name:
        year = date.fromordinal(birth).year
        era = "old" if year < 1965 else "mid" if year < 1995 else "new"
        if self.chance(0.05):  # names cross generations
            era = self.pick(("old", "mid", "new"))
        pool = self.tab.given[(gender, era)]
        for _ in range(20):
            name = self.pick(pool)
            if all(name.kanji != a.kanji and name.kana != a.kana for a in avoid):
                return name
        return name

    def birth_for_age(self, age: int) -> int:
        return self.as_of - age * 365 - int(self.rng.random() * 365) - age // 4

    def adult_age(self, low: int = ADULT_AGE) -> int:
        u = self.rng.random()
        age = (
            18 + int(self.rng.random() * 12)
            if u < 0.2
            else 30 + int(self.rng.random() * 15)
            if u < 0.5
            else 45 + int(self.rng.random() * 20)
            if u < 0.82
            else 65 + int(self.rng.random() * 26)
        )
        return max(age, low)

    def mobile(self) -> tuple[str, str, str]:
        n = f"{int(self.rng.random() * 100_000_000):08d}"
        return (self.pick(MOBILE_PREFIXES), n[:4], n[4:])

    def landline(self, pref: str) -> tuple[str, str, str]:
        if self.chance(0.05):
            n = f"{int(self.rng.random() * 100_000_000):08d}"
            return ("050", n[:4], n[4:])
        area = self.pick(AREA_CODES[pref])
        mid_len = 10 - len(area) - 4
        mid = str(2 + int(self.rng.random() * 8)) + "".join(
            str(int(self.rng.random() * 10)) for _ in range(mid_len - 1)
        )
        return (area, mid, f"{int(self.rng.random() * 10_000):04d}")

    def address(self, place: Place | None = None, pref: str | None = None, avoid_pref: str = "") -> _Addr:
        if place is None:
            pool = self.tab.places if pref is None else self.tab.by_pref[pref]
            place = self.pick(pool)
            while place.pref == avoid_pref:
                place = self.pick(pool)
        r = self.rng.random
        if place.chome:
            chome, banchi, go = 1 + int(r() ** 1.5 * 9), 1 + int(r() * 30), 1 + int(r() * 25)
        else:
            chome, banchi, go = 0, 1 + int(r() ** 2 * 1800), (0 if r() < 0.4 else 1 + int(r() * 20))
        building = room = ""
        if r() < (0.45 if place.chome else 0.2):
            if r() < 0.6:
                building = self.pick(BUILDING_PREFIX) + self.pick(BUILDING_STEM)
            else:
                building = self.pick(BUILDING_STEM) + self.pick(BUILDING_SUFFIX)
            if r() < 0.1:
                building = (
                    self.pick(("第2", "第3", "")) + building + self.pick(("", "Ⅱ", " II", "A棟", "B棟"))
                )
            tall = building.endswith(("マンション", "タワー", "ハウス", "パレス", "レジデンス"))
            room = f"{1 + int(r() * (14 if tall else 3))}{1 + int(r() * 12):02d}"
        landline = self.landline(place.pref) if r() < LANDLINE_RATE else None
        return _Addr(place, chome, banchi, go, building, room, landline)

    def email(self, person: _Person, shared_with: _Person | None = None) -> str:
        if shared_with is not None and shared_with.email:
            return shared_with.email
        long = self.chance(0.4)
        g = person.given.romaji_long if long else person.given.romaji
        s = person.sur.romaji_long if long else person.sur.romaji
        y = date.fromordinal(person.birth)
        u = self.rng.random()
        if u < 0.2:
            local = f"{g}.{s}"
        elif u < 0.35:
            local = f"{s}.{g}"
        elif u < 0.45:
            local = f"{g}_{s}"
        elif u < 0.6:
            local = f"{g}{y.year % 100:02d}"
        elif u < 0.7:
            local = f"{g[:1]}{s}{int(self.rng.random() * 1000)}"
        elif u < 0.8:
            local = f"{g}{y.month:02d}{y.day:02d}"
        elif u < 0.9:
            local = f"{s}-{g}"
        else:
            local = f"{g}{s}"
        if self.chance(0.35):
            local += str(int(self.rng.random() * 100))
        domain = self.pick(_DOMAINS)
        while f"{local}@{domain}" in self.issued_emails:
            local += str(int(self.rng.random() * 10))
        self.issued_emails.add(f"{local}@{domain}")
        return f"{local}@{domain}"

    def card(self) -> _Card:
        brand, _, prefixes, length = self.pick(_BRANDS)
        prefix = self.pick(prefixes)
        body = prefix + "".join(str(int(self.rng.random() * 10)) for _ in range(length - len(prefix) - 1))
        number = body + luhn_check_digit(body)
        expiry = f"{1 + int(self.rng.random() * 12):02d}/{24 + int(self.rng.random() * 8):02d}"
        return _Card(brand, number, expiry)

    def adult(self, gender: str, birth: int, sur: Name | None = None, given: Name | None = None) -> _Person:
        p = _Person(self.new_pid(), sur or self.surname(), given or self.given(gender, birth), gender, birth)
        p.rid = p.pid
        if self.chance(MOBILE_RATE):
            p.mobile = self.mobile()
        if self.chance(EMAIL_RATE):
            p.email = self.email(p)
        if self.chance(CARD_RATE):
            p.card = self.card()
        return p

    # -- households --
    def household(self) -> list[_Row]:
        self.households += 1
        u = self.rng.random()
        if u < HOUSEHOLD_MIX[0][1]:
            return self.single()
        if u < HOUSEHOLD_MIX[0][1] + HOUSEHOLD_MIX[1][1]:
            return self.couple()
        return self.family()

    def new_household(self, place: Place | None = None, avoid_pref: str = "") -> _Household:
        addrs = [self.address(place, avoid_pref=avoid_pref)]
        if self.chance(MOVED_HOUSEHOLD_RATE):
            same_pref = addrs[0].place.pref if self.chance(0.6) else None
            addrs.append(self.address(pref=same_pref))
        fax = None
        land = addrs[0].landline
        if land is not None and land[0] != "050" and self.chance(FAX_RATE / LANDLINE_RATE):
            fax = land if self.chance(0.5) else (land[0], land[1], f"{(int(land[2]) + 1) % 10_000:04d}")
        return _Household(addrs, fax)

    def remember_adult(self, p: _Person, hh: _Household) -> None:
        self.recent_adults.append((p.sur, p.given, p.gender, p.birth, hh.addrs[0].place.pref))
        if len(self.recent_adults) > 500:
            del self.recent_adults[:250]

    def single(self) -> list[_Row]:
        if self.recent_adults and self.chance(NAMESAKE_RATE):
            sur, given, gender, birth, pref = self.pick(self.recent_adults)
            hh = self.new_household(avoid_pref=pref)
            p = self.adult(gender, birth, sur, given)
            p.tags = ("namesake",)
        else:
            gender = "M" if self.chance(0.5) else "F"
            hh = self.new_household()
            p = self.adult(gender, self.birth_for_age(self.adult_age()))
            if gender == "F" and self.chance(MAIDEN_NAME_RATE_SINGLE):
                p.maiden = self.surname()
            self.remember_adult(p, hh)
        rows: list[_Row] = []
        self.emit(rows, p, hh, _ADULT_SRC, self.n_records())
        return rows

    def spouses(self, hh: _Household, husband_birth: int, wife_birth: int) -> tuple[_Person, _Person]:
        husband = self.adult("M", husband_birth)
        wife = self.adult("F", wife_birth, sur=husband.sur)
        if self.chance(MAIDEN_NAME_RATE_WIFE):
            wife.maiden = self.surname()
        if self.chance(SHARED_EMAIL_RATE):
            wife.email = self.email(wife, shared_with=husband)
        if husband.card is not None and self.chance(SHARED_CARD_RATE):
            wife.card, wife.card_shared = husband.card, True
        return husband, wife

    def couple(self) -> list[_Row]:
        hh = self.new_household()
        age = self.adult_age(low=22)
        husband_birth = self.birth_for_age(age)
        wife_birth = self.birth_for_age(max(ADULT_AGE, age - 4 + int(self.rng.random() * 7)))
        husband, wife = self.spouses(hh, husband_birth, wife_birth)
        if self.chance(0.5):
            husband.rel, wife.rel = "本人", "妻"
        else:
            husband.rel, wife.rel = "夫", "本人"
        self.remember_adult(husband, hh)
        rows: list[_Row] = []
        self.emit(rows, husband, hh, _ADULT_SRC, self.n_records())
        self.emit(rows, wife, hh, _ADULT_SRC, self.n_records())
        return rows

    def family(self) -> list[_Row]:
        rng = self.rng
        hh = self.new_household()
        # Oldest child's age first, so the share of minors is controlled directly.
        if rng.random() < GROWN_CHILD_RATE:
            oldest_age = ADULT_AGE + int(rng.random() * 9)
        else:
            oldest_age = int(rng.random() * ADULT_AGE)
        oldest_birth = self.birth_for_age(oldest_age)
        mother_age_at_birth = 22 + int((rng.random() + rng.random()) * 9.5)
        mother_birth = oldest_birth - mother_age_at_birth * 365 - int(rng.random() * 365)
        father_birth = mother_birth - int((rng.random() * 8 - 2) * 365)
        two_parents = not self.chance(SINGLE_PARENT_RATE)
        mother_registers = self.chance(MOTHER_IS_REGISTRANT_RATE) or not two_parents
        if two_parents:
            father, mother = self.spouses(hh, father_birth, mother_birth)
        else:
            mother = self.adult("F", mother_birth)
            father = None
        primary = mother if mother_registers or father is None else father
        other = father if primary is mother else mother
        primary.rel = "本人"
        if other is not None:
            other.rel = "夫" if other.gender == "M" else "妻"

        n_children = self.weighted_int(CHILDREN_PER_FAMILY)
        births = [oldest_birth]
        twins = n_children >= 2 and self.chance(TWIN_RATE)
        for i in range(1, n_children):
            if twins and i == 1:
                births.append(oldest_birth)
                continue
            nxt = births[-1] + 330 + int(rng.random() * 365 * 4)
            if nxt >= self.as_of - 30:
                break
            births.append(nxt)
        similar = self.pick(SIMILAR_PAIRS) if self.chance(SIMILAR_NAME_RATE) else None
        similar_parent: _Person | None = None
        if similar is not None:
            parent = father if similar[0] == "M" else mother
            if parent is not None:
                parent.given = make_name(similar[1], similar[2])
                if parent.email:  # made from the old name: make it again, keeping a shared address shared
                    spouse = mother if parent is father else father
                    shared = spouse is not None and spouse.email == parent.email
                    parent.email = self.email(parent)
                    if shared and spouse is not None:
                        spouse.email = parent.email
                parent.tags = ("similar_parent",)
                similar_parent = parent
            else:
                similar = None

        children: list[_Person] = []
        counts = {"M": 0, "F": 0}
        for i, birth in enumerate(births):
            gender = "M" if rng.random() < 0.51 else "F"
            if i == 0 and similar is not None:
                gender = similar[0]
            taken = [c.given for c in children] + [mother.given] + ([father.given] if father else [])
            if i == 0 and similar is not None:
                given = make_name(similar[3], similar[4])
            else:
                given = self.given(gender, birth, avoid=taken)
            child = _Person(self.new_pid(), (father or mother).sur, given, gender, birth, guardian=primary)
            minor = self.is_minor(birth)
            child.rid = primary.pid if minor else child.pid
            label = ("長", "次", "三", "四")[counts[gender]] + ("男" if gender == "M" else "女")
            counts[gender] += 1
            child.rel = label
            tags: list[str] = []
            if twins and i < 2:
                tags.append("twin")
            if i == 0 and similar is not None:
                tags.append("similar_parent")
            if not minor:
                tags.append("grown_child")
                if self.chance(MOBILE_RATE):
                    child.mobile = self.mobile()
                if self.chance(EMAIL_RATE):
                    child.email = self.email(child)
                if self.chance(CARD_RATE):
                    child.card = self.card()
                if self.chance(0.5):
                    child.own_addr = self.address()
            child.tags = tuple(tags)
            if (
                not (twins and i < 2)
                and date.fromordinal(birth).year >= 2008
                and self.chance(PLACEHOLDER_RATE)
            ):
                child.due = birth + int(rng.random() * 31) - 10
            children.append(child)
        rows: list[_Row] = []
        # A guardian is a recipient whether or not their own data leaked (DESIGN.md §4.2).
        if similar_parent is primary or self.chance(GUARDIAN_SUBJECT_RATE):
            self.remember_adult(primary, hh)
            self.emit(rows, primary, hh, _ADULT_SRC, self.n_records())
        if other is not None and (similar_parent is other or self.chance(OTHER_PARENT_SUBJECT_RATE)):
            self.emit(rows, other, hh, _ADULT_SRC, self.n_records())
        for child in children:
            if child.due:
                rows.append(self.render(child, hh, _SRC["kodomo"], dup=False, placeholder=True))
            self.emit(
                rows, child, hh, _CHILD_SRC, self.n_records(), placeholder_src="kodomo" if child.due else ""
            )
        return rows

    def weighted_int(self, table: Sequence[tuple[int, float]]) -> int:
        u = self.rng.random()
        for value, p in table:
            u -= p
            if u < 0:
                return value
        return table[-1][0]

    def is_minor(self, birth: int) -> bool:
        return is_minor(date.fromordinal(birth), date.fromordinal(self.as_of))

    def emit(
        self,
        rows: list[_Row],
        p: _Person,
        hh: _Household,
        sources: Sequence[Source],
        n: int,
        placeholder_src: str = "",
    ) -> None:
        grown = p.guardian is not None and p.rid == p.pid
        for i in range(n):
            src = self.pick(sources)
            if placeholder_src and i == 0 and src.name == placeholder_src:
                # The child's first real record comes from another system than the pre-birth row.
                src = self.pick([s for s in sources if s.name != placeholder_src])
            as_adult = grown and i > 0 and self.chance(0.4)
            if as_adult:
                src = self.pick(_ADULT_SRC)
            rows.append(self.render(p, hh, src, dup=i > 0, as_adult=as_adult))

    # -- rendering --
    def render(
        self,
        p: _Person,
        hh: _Household,
        src: Source,
        *,
        dup: bool,
        placeholder: bool = False,
        as_adult: bool = False,
    ) -> _Row:
        r = self.rng.random
        k = 1 if dup else 0
        tags: list[str] = ["dup"] if dup else []
        tags.extend(p.tags)
        guardian = None if as_adult else p.guardian
        is_child_row = guardian is not None

        style = src.kana
        if r() < RATES["kana_style"][k]:
            style = self.pick(("kata", "hira", "half"))
        sep = src.name_sep
        if r() < RATES["name_sep"][k]:
            sep = self.pick((" ", "\u3000", "", " "))

        if placeholder:
            tags.append("placeholder")
            name = kana = birth_text = gender = ""
            rel = self.pick(("子", "", "第1子")) if src.has_relationship else ""
        else:
            sur = p.sur
            if p.maiden is not None and r() < RATES["married"][k]:
                sur = p.maiden
                tags.append("married")
            sk, gk = sur.kanji, p.given.kanji
            if r() < RATES["itaiji"][k] and (sur.alts or p.given.alts):
                if sur.alts:
                    sk = self.pick(sur.alts)
                else:
                    gk = self.pick(p.given.alts)
                tags.append("itaiji")
            name = sk + sep + gk
            if r() < RATES["stray_space"][k]:
                u = r()
                if u < 0.3:
                    name = " " + name
                elif u < 0.6:
                    name = name + "\u3000" if u < 0.4 else name + " "
                else:
                    name = sk + sep + " " + gk  # double space, or a space where there was none
                tags.append("stray_space")
            kana = ""
            if r() < RATES["missing_kana"][k]:
                tags.append("missing_kana")
            else:
                skana, gkana = sur.kana, p.given.kana
                if r() < RATES["kana_typo"][k]:
                    if r() < 0.5:
                        skana = self.typo(skana)
                    else:
                        gkana = self.typo(gkana)
                    if skana != sur.kana or gkana != p.given.kana:
                        tags.append("kana_typo")
                if r() < RATES["large_kana"][k] and any(c in SMALL_KANA for c in skana + gkana):
                    skana, gkana = skana.translate(LARGE_KANA), gkana.translate(LARGE_KANA)
                    tags.append("large_kana")
                kana = self.kana_text(skana, gkana, sep, style)
                if style == "hira":
                    tags.append("hiragana_kana")
                elif style == "half":
                    tags.append("halfwidth_kana")
            if sep == "":
                tags.append("no_space")
            elif sep == "\u3000":
                tags.append("fullwidth_space")

            birth_text = ""
            if is_child_row or r() < src.birth_rate:
                if r() < RATES["missing_birth_date"][k]:
                    tags.append("missing_birth_date")
                else:
                    fmt = src.date_fmt
                    if r() < RATES["date_format"][k]:
                        fmt = self.pick(DATE_FORMATS)
                    d = date.fromordinal(p.birth)
                    swap = r() < RATES["dm_swap"][k] and d.day <= 12 and d.day != d.month
                    if swap:
                        tags.append("dm_swap")
                    birth_text = format_date(p.birth, fmt, swap)
                    if DATE_TAGS[fmt]:
                        tags.append(DATE_TAGS[fmt])
            gender = src.gender_labels[0 if p.gender == "M" else 1] if r() < 0.97 else ""
            if not src.has_relationship:
                rel = ""
            elif is_child_row:
                rel = p.rel if r() < 0.7 else "子"
            elif p.guardian is not None:
                rel = "本人"
            else:
                rel = p.rel or "本人"

        guardian_name = guardian_kana = ""
        if guardian is not None:
            gsk, ggk = guardian.sur.kanji, guardian.given.kanji
            if r() < RATES["itaiji"][k] / 2 and guardian.sur.alts:
                gsk = self.pick(guardian.sur.alts)
                tags.append("itaiji")
            guardian_name = gsk + sep + ggk
            gskana, ggkana = guardian.sur.kana, guardian.given.kana
            if r() < RATES["kana_typo"][k] / 2:
                ggkana = self.typo(ggkana)
                if ggkana != guardian.given.kana:
                    tags.append("kana_typo")
            guardian_kana = self.kana_text(gskana, ggkana, sep, style)

        # Address: household's current one, the previous one (moved), or a grown child's own.
        addr = hh.addrs[0]
        if as_adult and p.own_addr is not None:
            addr = p.own_addr
            tags.append("moved")
        elif len(hh.addrs) > 1 and r() < RATES["moved"][k]:
            addr = hh.addrs[1]
            tags.append("moved")
        dash = "-"
        if r() < RATES["dash_variant"][k]:
            dash = self.pick(DASHES)
            tags.append("dash_variant")
        full_digits = r() < RATES["fullwidth_digits"][k]
        if full_digits:
            tags.append("fullwidth_digits")
        postcode = self.postcode_text(addr.place.postcode, src.postcode_style, dash)
        address = self.address_text(addr, dash, dup, tags)
        if full_digits:
            address = address.translate(FULLWIDTH_DIGITS)
            if r() < 0.6:
                postcode = postcode.translate(FULLWIDTH_DIGITS)

        # Phone: own mobile for adults, the guardian's mobile or the home line on a child's row.
        owner = guardian if guardian is not None else p
        number = (
            owner.mobile
            if (owner.mobile is not None and (addr.landline is None or r() < 0.7))
            else addr.landline
        )
        if dup and not is_child_row and r() < RATES["new_phone"][k]:
            number = self.mobile()
            tags.append("new_phone")
        phone = ""
        phone_style = src.phone_style
        if r() < RATES["phone_format"][k]:
            phone_style = self.pick(PHONE_STYLES)
        if number is not None:
            if r() < RATES["missing_phone"][k]:
                tags.append("missing_phone")
            else:
                phone = self.phone_text(number, phone_style, dash)
                if phone_style != "hyphen":
                    tags.append("phone_format")
                if full_digits and r() < 0.5:
                    phone = phone.translate(FULLWIDTH_DIGITS)
        fax = ""
        if src.has_fax and hh.fax is not None and addr is hh.addrs[0] and r() < 0.7:
            fax = self.phone_text(hh.fax, "hyphen" if phone_style.startswith("intl") else phone_style, dash)

        email = ""
        if owner.email and r() < src.email_rate:
            if r() < RATES["missing_email"][k]:
                tags.append("missing_email")
            else:
                email = owner.email
                if dup and r() < RATES["new_email"][k]:
                    email = self.email(owner)
                    tags.append("new_email")
                if r() < RATES["email_upper"][k]:
                    email = email.upper() if r() < 0.5 else email[:1].upper() + email[1:]
                    tags.append("email_upper")
                if r() < RATES["fullwidth_letters"][k]:
                    email = email.translate(FULLWIDTH_ASCII)
                    tags.append("fullwidth_letters")

        brand = last4 = number_text = expiry = ""
        card = owner.card
        if card is not None and src.card_rate and r() < src.card_rate:
            if is_child_row or p.card_shared:
                tags.append("shared_card")
            mode = self.pick(src.card_modes)
            label = self.pick(BRAND_SPELLINGS[card.brand])
            if mode == "full":
                number_text = self.full_number(card.number)
                brand = label if r() < 0.7 else ""
                expiry = card.expiry
            elif mode == "masked":
                number_text = self.masked_number(card.number)
                tags.append("masked_card")
                brand = label
                expiry = card.expiry if r() < 0.6 else ""
            else:
                brand, last4 = label, self.last4_text(card.number[-4:])
                expiry = card.expiry if r() < 0.3 else ""
            if mode != "last4" and r() < 0.3:
                last4 = card.number[-4:]

        edd = ""
        if placeholder or (p.due and src.name == "kodomo" and r() < 0.5):
            edd = format_date(p.due, src.date_fmt)
        fields = [
            name,
            kana,
            birth_text,
            gender,
            rel,
            guardian_name,
            guardian_kana,
            postcode,
            address,
            phone,
            fax,
            email,
            brand,
            last4,
            number_text,
            expiry,
            edd,
        ]
        return (src, fields, p.pid, p.rid, ";".join(dict.fromkeys(tags)))

    def full_number(self, number: str) -> str:
        """A full card number as written: plain, grouped as printed (4-4-4-4, Amex 4-6-5), full-width."""
        u = self.rng.random()
        if u < 0.8:
            return number
        gap = self.pick((" ", "-"))
        sizes = (4, 6, 5) if len(number) == 15 else (4, 6, 4) if len(number) == 14 else (4, 4, 4, 4)
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        grouped = gap.join(number[start : start + size] for start, size in zip(starts, sizes, strict=True))
        return grouped.translate(FULLWIDTH_DIGITS) if u > 0.95 else grouped

    def masked_number(self, number: str) -> str:
        """A masked card number in one of the styles exports use (MASK_STYLES)."""
        style = self.pick(_MASK_STYLES)
        hidden, last4 = len(number) - 4, number[-4:]
        if style == "x_groups":
            return {15: "XXXX-XXXXXX-X", 14: "XXXX-XXXXXX-"}.get(len(number), "XXXX-XXXX-XXXX-") + last4
        if style == "star_groups" and len(number) == 16:
            return "**** **** **** " + last4
        if style == "fullwidth":
            return ("*" * hidden + last4).translate(FULLWIDTH_ASCII)
        if style == "bullets":
            return "•" * hidden + last4
        if style == "circles" and len(number) == 16:
            return "●●●●-●●●●-●●●●-" + last4
        if style == "first6":
            return number[:6] + "*" * (hidden - 6) + last4
        if style == "amex_head" and len(number) == 15:
            return f"{number[:4]}-******-*{last4}"
        if style == "tail_label":
            return "末尾" + last4
        if style == "digit_label":
            return "下4桁：" + last4
        if style == "last4":
            return last4
        if style == "stray":
            return " " + "*" * hidden + "  " + last4 + " "
        return "*" * hidden + last4

    def last4_text(self, last4: str) -> str:
        """A card_last4 value as written: 1234, *1234, １２３４, 末尾1234."""
        style = self.pick(LAST4_STYLES)
        if style == "star":
            return "*" + last4
        if style == "fullwidth":
            return last4.translate(FULLWIDTH_DIGITS)
        if style == "tail_label":
            return "末尾" + last4
        return last4

    def typo(self, kana: str) -> str:
        if not kana:
            return kana
        i = int(self.rng.random() * len(kana))
        subs = KANA_TYPOS.get(kana[i])
        if not subs:
            return kana
        return kana[:i] + self.pick(subs) + kana[i + 1 :]

    @staticmethod
    def kana_text(skana: str, gkana: str, sep: str, style: str) -> str:
        text = skana + sep + gkana
        if style == "hira":
            return text.translate(KATA2HIRA)
        if style == "half":
            return text.translate(KATA2HALF)
        return text

    def postcode_text(self, code: str, style: str, dash: str) -> str:
        if self.rng.random() < 0.1:
            style = self.pick(("hyphen", "plain", "mark", "mark_space"))
        if style == "plain":
            return code
        text = code[:3] + dash + code[3:]
        if style == "mark":
            return "〒" + text
        if style == "mark_space":
            return "〒 " + text
        return text

    def address_text(self, addr: _Addr, dash: str, dup: bool, tags: list[str]) -> str:
        r = self.rng.random
        k = 1 if dup else 0
        place = addr.place
        head = place.city + place.town
        if r() < RATES["no_prefecture"][k]:
            tags.append("no_prefecture")
        else:
            head = place.pref + head
        if addr.chome:
            u = r()
            if u < 0.45:
                nums = f"{addr.chome}-{addr.banchi}-{addr.go}"
            elif u < 0.7:
                nums = f"{addr.chome}丁目{addr.banchi}番{addr.go}号"
            elif u < 0.9:
                nums = f"{addr.chome}丁目{addr.banchi}-{addr.go}"
            else:
                nums = f"{KANJI_DIGITS[addr.chome]}丁目{addr.banchi}番{addr.go}号"
                tags.append("kanji_numerals")
        elif addr.go:
            u = r()
            nums = (
                f"{addr.banchi}-{addr.go}"
                if u < 0.5
                else f"{addr.banchi}番地{addr.go}"
                if u < 0.8
                else f"{addr.banchi}番{addr.go}号"
            )
        else:
            nums = f"{addr.banchi}番地" if r() < 0.6 else str(addr.banchi)
        text = head + nums
        if addr.building:
            if r() < RATES["no_building"][k]:
                tags.append("no_building")
                if r() < 0.4:
                    text += "-" + addr.room
            else:
                u = r()
                room = addr.room + ("号室" if u < 0.45 else "号" if u < 0.6 else "")
                text += self.pick((" ", "", "\u3000", " ")) + addr.building + self.pick((" ", "", " ")) + room
        return text.replace("-", dash) if dash != "-" else text

    @staticmethod
    def phone_text(number: tuple[str, str, str], style: str, dash: str) -> str:
        a, b, c = number
        if style == "plain":
            return a + b + c
        if style == "paren":
            return f"{a}({b}){c}"
        if style == "intl":
            return f"+81 {a[1:]}{dash}{b}{dash}{c}"
        if style == "intl_plain":
            return f"+81{a[1:]}{b}{c}"
        if style == "space":
            return f"{a} {b} {c}"
        return f"{a}{dash}{b}{dash}{c}"


def default_truth_path(out: Path) -> Path:
    """FILE.csv -> FILE.truth.csv (FILE -> FILE.truth.csv when there is no .csv suffix)."""
    if out.suffix.lower() == ".csv":
        return out.with_suffix(".truth.csv")
    return out.with_name(out.name + ".truth.csv")


def generate(
    *,
    records: int,
    seed: int,
    out: Path,
    truth_out: Path,
    as_of: date = DEFAULT_AS_OF,
    progress: Callable[[int], None] | None = None,
) -> SynthSummary:
    """Write exactly `records` rows to `out` and their truth to `truth_out`; same args -> same bytes."""
    if records < 0:
        raise ValueError("records must be >= 0")
    started = time.perf_counter()
    gen = _Generator(seed, as_of, tables())
    rng = gen.rng
    counters = {s.name: 0 for s in SOURCES}
    produced = written = persons = recipients = duplicates = children = 0
    buffer: list[_Row] = []

    with (
        write_private(out, newline="") as f,
        write_private(truth_out, newline="") as t,
    ):
        # verbatim: a simulated export, every value ours, read back by `owabi import` as it stands.
        writer = csv_writer(f, lineterminator="\n", verbatim=True)
        truth = csv_writer(t, lineterminator="\n", verbatim=True)
        writer.writerow(COLUMNS)
        truth.writerow(TRUTH_COLUMNS)

        def emit(row: _Row) -> None:
            nonlocal written
            src, fields, pid, rid, tags = row
            counters[src.name] += 1
            record_id = f"{src.prefix}{counters[src.name]:08d}"
            system = src.systems[0] if len(src.systems) == 1 else gen.pick(src.systems)
            writer.writerow((record_id, system, *fields))
            truth.writerow((record_id, pid, rid, tags))
            written += 1
            if progress is not None and written % PROGRESS_EVERY == 0:
                progress(written)

        while produced < records:
            rows = gen.household()[: records - produced]
            produced += len(rows)
            seen_p: dict[str, bool] = {}  # household-local: memory stays bounded
            seen_r: dict[str, bool] = {}
            for row in rows:
                _, fields, pid, rid, _ = row
                if pid in seen_p:
                    duplicates += 1
                else:
                    seen_p[pid] = True
                    children += bool(fields[5])  # first row has a guardian: registered as a child
                seen_r[rid] = True
                buffer.append(row)
                if len(buffer) > SHUFFLE_WINDOW:
                    i = int(rng.random() * len(buffer))
                    buffer[i], buffer[-1] = buffer[-1], buffer[i]
                    emit(buffer.pop())
            persons += len(seen_p)
            recipients += len(seen_r)
        rng.shuffle(buffer)
        for row in buffer:
            emit(row)
    return SynthSummary(
        records=written,
        persons=persons,
        recipients=recipients,
        duplicates=duplicates,
        children=children,
        households=gen.households,
        seconds=time.perf_counter() - started,
    )
