"""Normalizers for the fields of Japanese leaked records (DESIGN.md §4.1, research/japan.md §4.4).

The importer stores what these return and the matcher (Splink on DuckDB) compares their keys, so two
spellings of the same value must come out identical while different values stay apart. Exports mix
full-width and half-width forms, hiragana and katakana readings, a dozen dash code points, 異体字, era
dates and every phone layout; each function here folds one field's variants and nothing more.

Contract: every function is pure, takes the raw exported string and either returns the normalized value
or raises `NormalizeError(field, reason)`. The reason is a fixed text that never contains the input (PII
must not reach error messages, logs or audit rows: STYLE.md rule 5). Empty input, whitespace and
dash-only placeholders ("-", "－", "ー") return "" (None for dates) and never raise.

Speed: these run over millions of rows, so patterns are compiled and translate tables built once at
import, and common shapes take a fast path (bench/bench_normalize.py measures them).
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import unicodedata
from functools import lru_cache
from importlib import resources
from typing import Final, NamedTuple

import phonenumbers

__all__ = [
    "KANJI",
    "PLAIN_KANA",
    "VOICED_KANA",
    "Address",
    "NormalizeError",
    "address",
    "date",
    "email",
    "fold_variants",
    "gender",
    "given_name_readings",
    "is_placeholder_name",
    "kana",
    "kana_key",
    "kana_romaji",
    "name",
    "name_fold_key",
    "name_key",
    "name_key_of",
    "phone",
    "postal_code",
    "reading_key",
    "romaji_of_key",
]


class NormalizeError(ValueError):
    """A value that cannot be normalized; `reason` is fixed text and never contains the value."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# --- Shared character tables ----------------------------------------------------------------------------
_NFKC: Final = "NFKC"
_normalize = unicodedata.normalize

# Zero-width characters and variation selectors (IVS U+E0100-E01EF picks a glyph such as 葛 with a
# different stroke; the character is the same, so the selector must not split a match). NFKC keeps them.
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff\ufe00-\ufe0f\U000e0100-\U000e01ef]")

# Hyphens, dashes and minus signs exports use interchangeably (after NFKC: －→-, ﹣→-, ｰ→ー).
_DASHES: Final = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2043\ufe58\uff0d"
_WHITESPACE: Final = (  # what str.split() splits on, plus zero-width space and BOM
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\u200b\ufeff"
)
# A cell holding only these is an empty cell written by a person ("-", "－", "ー", "―", "〜").
_BLANK_CHARS: Final = (
    _WHITESPACE
    + _DASHES
    + "\u30fc\uff70\u301c\uff5e\u200c\u200d\u2060"
    + "".join(map(chr, [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]))
)
_BLANK_SET: Final = frozenset(_BLANK_CHARS)


def _is_blank(raw: str) -> bool:
    """Empty, whitespace or a dash placeholder: 'no value', which is not an error."""
    return not raw or (raw[0] in _BLANK_SET and raw[-1] in _BLANK_SET and not raw.strip(_BLANK_CHARS))


# Stand-alone ゛゜ become a space + combining mark under NFKC; as combining marks they compose (カ゛→ガ).
_SPACING_MARKS = str.maketrans({"\u309b": "\u3099", "\u309c": "\u309a"})


def _clean(raw: str) -> str:
    """NFKC with invisible characters removed: the common first step of every text field."""
    if not raw.isascii():
        raw = _INVISIBLE.sub("", raw)
        if "\u309b" in raw or "\u309c" in raw:
            raw = raw.translate(_SPACING_MARKS)
    return _normalize(_NFKC, raw)


# --- Names ----------------------------------------------------------------------------------------------
_NOT_A_NAME = re.compile(r"[0-9@]")


def name(raw: str) -> str:
    """A person's name as stored: NFKC, IVS removed, one ASCII space between parts; kanji kept as written.

    NFKC maps CJK compatibility ideographs (U+FA10 -> 塚 U+585A), canonical equivalents, but keeps 﨑, 髙,
    齋 and the other 異体字: those are folded only in the separate `name_fold_key`.
    A trailing honorific 様 (mailing lists) is dropped. Digits or "@" mean the column holds a phone
    number or an e-mail address (a mapping mistake), so such values are rejected.
    """
    if _is_blank(raw):
        return ""
    text = " ".join(_clean(raw).split())
    if text.endswith("様"):
        text = text[:-1].rstrip()
    if _is_blank(text):
        return ""
    if _NOT_A_NAME.search(text):
        raise NormalizeError("name", "contains digits or @ (is the column mapped right?)")
    return text


_NAME_KEY_DROP = str.maketrans("", "", " ・")


def name_key(raw: str) -> str:
    """Matching key for a name: `name()` without spaces or ・, Latin letters lower-cased."""
    return name_key_of(name(raw))


def name_key_of(normalized: str) -> str:
    """`name_key` of a value `name()` already returned (saves normalizing twice)."""
    text = normalized.translate(_NAME_KEY_DROP).lower()
    if not text.isascii():
        text = _normalize(_NFKC, text)  # joined parts may compose anew
    return "" if _is_blank(text) else text


# What families and hospitals write for a child not yet named, at the end of the name (after the
# surname, with or without a space): （未定）, ベビー, 赤ちゃん, 第二子, 胎児, baby. NFKC has made
# （） into (), and the name key has no spaces and is lower-cased. `name()` rejects digits (第2子).
# Any name ending in ちゃん is one: 〇〇ちゃん ("so-and-so") and 高木ちゃん (the surname and the
# diminutive) are what a parent types into a form's name field before the naming; ちゃん is a form of
# address, never part of a registered name.
_PLACEHOLDER_NAME = re.compile(
    r"(?:\(?(?:未定|名前未定|未命名|仮)\)?|ベビー|ベイビー|べびー|ちゃん|赤ん坊|胎児|baby"
    r"|第[一二三四五六七八九十]子|[男女]児|ミテイ|アカチャン)$"
)


def is_placeholder_name(key: str) -> bool:
    """A name key (`name_key_of`) that stands in for a child's name not given yet (高木ベビー, 〇〇ちゃん)."""
    return bool(_PLACEHOLDER_NAME.search(key))


# --- 異体字 folding --------------------------------------------------------------------------------------
def _load_variants() -> tuple[dict[int, str], dict[int, str]]:
    """(strict, strict + loose) translate tables from variants.tsv, chains closed (齊 -> 斉 -> 斎)."""
    text = resources.files("owabi.records.normalize_data").joinpath("variants.tsv").read_text("utf-8")
    strict: dict[str, str] = {}
    loose: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        variant, standard, level = line.split("\t")[:3]
        if variant.startswith("U+"):
            variant = chr(int(variant[2:], 16))
        if level not in ("strict", "loose") or len(variant) != 1 or variant == standard:
            raise ValueError(f"variants.tsv: bad row for U+{ord(variant[0]):04X}")
        (strict if level == "strict" else loose)[variant] = standard
    loose = {**strict, **loose}

    def close(table: dict[str, str]) -> dict[int, str]:
        out: dict[int, str] = {}
        for variant, standard in table.items():
            seen = {variant}
            while standard in table and standard not in seen:
                seen.add(standard)
                standard = table[standard]
            out[ord(variant)] = standard
        return out

    return close(strict), close(loose)


_FOLD_STRICT, _FOLD_LOOSE = _load_variants()


def _expand_repeat_mark(text: str) -> str:
    """佐々木 -> 佐佐木: 々 repeats the character before it, so both spellings give one key."""
    out: list[str] = []
    for ch in text:
        out.append(out[-1] if ch == "々" and out else ch)
    return "".join(out)


def fold_variants(text: str, *, loose: bool = False) -> str:
    """Fold 異体字 to one form for a matching key (髙→高, 﨑→崎, 邊→辺, 佐々木→佐佐木); never for storage.

    strict folds only forms of the same character. loose=True also folds distinct characters that names
    interchange (斉→斎, 椙→杉, 之/の→ノ): DESIGN.md §4.2 says such a fold is evidence, not proof, so the
    matcher should weigh an exact match, a strict-fold match and a loose-fold match differently.
    """
    if "々" in text:
        text = _expand_repeat_mark(text)
    return text.translate(_FOLD_LOOSE if loose else _FOLD_STRICT)


def name_fold_key(raw: str, *, loose: bool = False) -> str:
    """`name_key` with 異体字 folded: the key for 'same name up to variant characters'."""
    return fold_variants(name_key(raw), loose=loose)


# --- Readings of given names ------------------------------------------------------------------------------
@lru_cache(1)
def _given_readings_table() -> dict[str, str]:
    """fold_variants(given name as written) -> its readings as JMnedict writes them (hiragana, commas).
    tools/build_given_readings.py builds the file; 1.4 MB gzip, about 0.3 s to read, once a process."""
    packed = resources.files("owabi.records.normalize_data").joinpath("given_readings.tsv.gz").read_bytes()
    table: dict[str, str] = {}
    for line in gzip.decompress(packed).decode("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        written, readings = line.split("\t")
        key = fold_variants(written)
        table[key] = f"{table[key]},{readings}" if key in table else readings
    return table


@lru_cache(1 << 14)
def given_name_readings(written: str) -> frozenset[str]:
    """The reading keys (`reading_key`) a given name can have: for one written in kanji, every reading the
    name dictionary (JMnedict) lists for it (健: ケン, タケシ, マサル, ...; 奏太: カナタ, ソウタ); for one in
    kana, its own. Empty where the dictionary does not know the name. `written` as the name key holds it
    (variant kanji folded or not: the dictionary is keyed by the fold).

    Evidence, not proof: a name has several readings, and several names one reading (博 and 浩 are both
    ヒロシ); the matcher uses it only with a birth date and a home in common (clusters.join_read_alike)."""
    if not written:
        return frozenset()
    try:
        return frozenset({reading_key(kana(written))} - {""})
    except NormalizeError:
        pass
    listed = _given_readings_table().get(fold_variants(written))
    if not listed:
        return frozenset()
    keys = set()
    for reading in listed.split(","):
        try:
            keys.add(reading_key(kana(reading)))
        except NormalizeError:
            continue  # a dictionary reading in other script (rare): not comparable with a row's reading
    return frozenset(keys - {""})


# --- Kana readings -------------------------------------------------------------------------------------
_KANA_TABLE: dict[int, int | str | None] = {c: c + 0x60 for c in range(0x3041, 0x3097)}  # ぁ..ゖ -> ァ..ヶ
_KANA_TABLE.update({0x309D: 0x30FD, 0x309E: 0x30FE})  # ゝゞ -> ヽヾ
_KANA_TABLE.update({ord(c): "ー" for c in _DASHES + "~\u301c\u3030\u2053"})  # long vowel typed as a dash
_KANA_OK = re.compile("[\u30a1-\u30fe ]+")  # katakana, ・, ー, ヽヾ and single spaces


def kana(raw: str) -> str:
    """A reading as full-width katakana with single spaces; half-width, hiragana and dash variants folded.

    Decision: a reading holding anything else (kanji, Latin, digits) is rejected rather than passed
    through: it is not a reading, the matcher must not compare it as one, and the raw value stays in the
    sealed record for review.
    """
    if _is_blank(raw):
        return ""
    text = " ".join(_clean(raw).translate(_KANA_TABLE).split())
    if not text.strip("ー "):
        return ""  # 〜 or ～ alone: a placeholder like "-"
    if not _KANA_OK.fullmatch(text):
        raise NormalizeError("kana", "contains characters that are not kana")
    return text


# Bank-kana practice (全銀 readings have no small kana: キユウヨ), plus the spellings that sound alike.
_KANA_KEY_TABLE = str.maketrans(
    "ァィゥェォッャュョヮヵヶヂヅヲヰヱヷヸヹヺ", "アイウエオツヤユヨワカケジズオイエバビベボ", " ・"
)
_VU = re.compile("ヴ([ァィェォ]?)")
_VU_MAP: Final = {"": "ブ", "ァ": "バ", "ィ": "ビ", "ェ": "ベ", "ォ": "ボ"}
_VOWEL_OF: Final = {
    ch: vowel
    for row, vowel in (
        ("アカガサザタダナハバパマヤラワ", "ア"),
        ("イキギシジチニヒビピミリ", "イ"),
        ("ウクグスズツヌフブプムユル", "ウ"),
        ("エケゲセゼテデネヘベペメレ", "イ"),  # エー is written エイ in names (ケイコ, メイ)
        ("オコゴソゾトドノホボポモヨロ", "ウ"),  # オー is written オウ in names (サトウ, コウタ)
    )
    for ch in row
}
_VOICED: Final = dict(
    zip("カキクケコサシスセソタチツテトハヒフヘホ", "ガギグゲゴザジズゼゾダジズデドバビブベボ", strict=True)
)
# A reading key's voiced and semi-voiced kana and their plain forms, position by position (ヂ, ヅ, ヴ are
# gone from keys already): the matcher folds them to compare readings up to a missed or added mark
# (サグライ / サクライ), an input slip that makes no other difference.
VOICED_KANA: Final = "ガギグゲゴザジズゼゾダデドバビブベボパピプペポ"
PLAIN_KANA: Final = "カキクケコサシスセソタテトハヒフヘホハヒフヘホ"


def _expand_marks(text: str) -> str:
    """ー -> the vowel it lengthens (サトー -> サトウ); ヽ/ヾ repeat the previous kana (voiced for ヾ)."""
    out: list[str] = []
    for ch in text:
        if ch == "ー":
            vowel = _VOWEL_OF.get(out[-1]) if out else None
            already_long = len(out) > 1 and out[-1] == vowel == _VOWEL_OF.get(out[-2])
            if vowel and not already_long:  # サトウー is サトウ, not サトウウ
                out.append(vowel)
        elif ch in "ヽヾ":
            if out:
                out.append(out[-1] if ch == "ヽ" else _VOICED.get(out[-1], out[-1]))
        else:
            out.append(ch)
    return "".join(out)


def _kana_key_of(text: str) -> str:
    if "ヴ" in text:
        text = _VU.sub(lambda m: _VU_MAP[m[1]], text)
    text = text.translate(_KANA_KEY_TABLE)
    if "ー" in text or "ヽ" in text or "ヾ" in text:
        text = _expand_marks(text)
    return text


def kana_key(raw: str) -> str:
    """Matching key for a reading: two spellings of one reading give one key.

    From `kana()`: spaces and ・ removed; small kana made large as bank kana does (キュウ → キユウ, ッ → ツ);
    ヂ→ジ, ヅ→ズ, ヲ→オ, ヰ→イ, ヱ→エ; ヴ folded to バ行 (ヴァ→バ, ヴ→ブ) because people write both;
    ー replaced by the vowel that Japanese spelling uses (サトー → サトウ, ケーコ → ケイコ, ユーコ → ユウコ).
    The last choice maps オー to オウ, right for 佐藤/翔/浩 but wrong for 大野 オオノ and 徹 トオル: a known
    limit the Jaro-Winkler comparison on `kana_romaji` absorbs (one letter apart).
    """
    return _kana_key_of(kana(raw))


def reading_key(normalized: str) -> str:
    """`kana_key` of a value `kana()` already returned (saves normalizing twice)."""
    return _kana_key_of(normalized)


# Hepburn per kana; the key has only large kana, so no digraphs are needed (キユウ -> kiyuu).
# fmt: off
_ROMAJI: Final = (
    "a", "i", "u", "e", "o", "ka", "ki", "ku", "ke", "ko", "ga", "gi", "gu", "ge", "go",
    "sa", "shi", "su", "se", "so", "za", "ji", "zu", "ze", "zo",
    "ta", "chi", "tsu", "te", "to", "da", "de", "do", "na", "ni", "nu", "ne", "no",
    "ha", "hi", "fu", "he", "ho", "ba", "bi", "bu", "be", "bo", "pa", "pi", "pu", "pe", "po",
    "ma", "mi", "mu", "me", "mo", "ya", "yu", "yo", "ra", "ri", "ru", "re", "ro", "wa", "n",
)
# fmt: on
_ROMAJI_TABLE = str.maketrans(
    dict(
        zip(
            "アイウエオカキクケコガギグゲゴサシスセソザジズゼゾタチツテトダデドナニヌネノ"
            "ハヒフヘホバビブベボパピプペポマミムメモヤユヨラリルレロワン",
            _ROMAJI,
            strict=True,
        )
    )
)


def kana_romaji(raw: str) -> str:
    """ASCII romanization of `kana_key`, for Jaro-Winkler in DuckDB, whose string distances count UTF-8
    bytes rather than characters (research/tech.md, surprise 4)."""
    return _kana_key_of(kana(raw)).translate(_ROMAJI_TABLE)


def romaji_of_key(key: str) -> str:
    """`kana_romaji` of a key `kana_key`/`reading_key` already returned."""
    return key.translate(_ROMAJI_TABLE)


# --- Dates ----------------------------------------------------------------------------------------------
# (first day, last day, year of 元年). Meiji's start is the Gregorian date of Keiō 4-1-1 (the era was
# applied retroactively to that new year); dates before 1900 are rejected anyway.
_ERA_SPANS: Final = {
    "M": (dt.date(1868, 1, 25), dt.date(1912, 7, 29), 1868),
    "T": (dt.date(1912, 7, 30), dt.date(1926, 12, 24), 1912),
    "S": (dt.date(1926, 12, 25), dt.date(1989, 1, 7), 1926),
    "H": (dt.date(1989, 1, 8), dt.date(2019, 4, 30), 1989),
    "R": (dt.date(2019, 5, 1), dt.date.max, 2019),
}
_ERA_NAMES: Final = {
    **{k: "M" for k in ("明治", "明", "m")},
    **{k: "T" for k in ("大正", "大", "t")},
    **{k: "S" for k in ("昭和", "昭", "s")},
    **{k: "H" for k in ("平成", "平", "h")},
    **{k: "R" for k in ("令和", "令", "r")},
}
EARLIEST_DATE: Final = dt.date(1900, 1, 1)
FUTURE_DAYS: Final = 731  # expected delivery dates lie ahead; more than two years ahead is a typo
# 年/月 and every separator become "/", 日 and 生 (平成20年4月1日生) go.
_DATE_TABLE = str.maketrans({**dict.fromkeys("年月.-" + _DASHES, "/"), "日": None, "生": None})
_DATE_RE = re.compile(
    r"(?:(明治|大正|昭和|平成|令和|[明大昭平令mtshr])/?)?(\d+|元)/(\d{1,2})/(\d{1,2})", re.ASCII
)
_COMPACT_RE = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_TIME_SUFFIX = re.compile(r"(?:T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d*)?)?$", re.ASCII)


def date(raw: str, *, earliest: dt.date = EARLIEST_DATE, latest: dt.date | None = None) -> dt.date | None:
    """A calendar date from Western (2008-04-01, 2008/4/1, 20080401, 2008年4月1日) or era (H20.4.1,
    平成元年4月1日, R2.1.5) writing; full-width digits, spaces and a trailing 00:00:00 time accepted.

    Rejected: two-digit years without an era (ambiguous century), a date outside its era (H31.5.1: Heisei
    ended 2019-04-30), days that do not exist, dates before `earliest` (1900) or after `latest` (default:
    two years from today). Only year-month-day order exists in Japanese exports; 01/04/2008 is rejected.
    """
    if _is_blank(raw):
        return None
    text = _clean(raw)
    if ":" in text:
        text = _TIME_SUFFIX.sub("", text.strip())
    text = "".join(text.split()).translate(_DATE_TABLE).lower()
    m = _DATE_RE.fullmatch(text)
    if m:
        era_name, year_text, month, day = m.groups()
    else:
        c = _COMPACT_RE.fullmatch(text)
        if c is None:
            if text.isdigit() and len(text) == 6:
                raise NormalizeError("date", "two-digit year without an era is ambiguous")
            raise NormalizeError("date", "not a recognised date format")
        era_name, (year_text, month, day) = None, c.groups()
    if era_name is None:
        if len(year_text) != 4:
            if len(year_text) <= 2 and year_text != "元":
                raise NormalizeError("date", "two-digit year without an era is ambiguous")
            raise NormalizeError("date", "not a recognised date format")
        year = int(year_text)
    else:
        era_year = 1 if year_text == "元" else int(year_text)
        if not 1 <= era_year <= 99 or len(year_text) > 2:
            raise NormalizeError("date", "era year out of range")
        year = _ERA_SPANS[_ERA_NAMES[era_name]][2] + era_year - 1
    try:
        value = dt.date(year, int(month), int(day))
    except ValueError:
        raise NormalizeError("date", "no such calendar day") from None
    if era_name is not None:
        first, last, _ = _ERA_SPANS[_ERA_NAMES[era_name]]
        if not first <= value <= last:
            raise NormalizeError("date", "date outside its era")
    if value < earliest:
        raise NormalizeError("date", "date too early")
    if value > (latest or dt.date.today() + dt.timedelta(days=FUTURE_DAYS)):
        raise NormalizeError("date", "date too far in the future")
    return value


# The date systems write where a date was not known: the first day they can hold (1900-01-01 in Excel and
# in many databases). A living person is not born on it often enough to match on it: two rows of
# different people with the placeholder would agree, and a row with it disagrees with the person's real
# date. (1970-01-01, Unix's first day, is left alone: people born on it are in every incident.)
PLACEHOLDER_DATES: Final = frozenset({dt.date(1900, 1, 1)})


def known_date(raw: str) -> dt.date | None:
    """`date`, and a placeholder for an unknown date (PLACEHOLDER_DATES) rejected as one."""
    value = date(raw)
    if value in PLACEHOLDER_DATES:
        raise NormalizeError("date", "a placeholder written for an unknown date")
    return value


# --- Phones ---------------------------------------------------------------------------------------------
_PHONE_DROP = str.maketrans("", "", _DASHES + "ー()[]. \t\u3000/")
_PHONE_LABELS = re.compile(r"内線.*|\(?代表?\)?|(?:電話|携帯|自宅)[:]?")  # 03-1234-5678(代) 内線12
_FAST_NATIONAL = re.compile(r"0(?!10)[1-9]\d{8,9}", re.ASCII)  # 010 is Japan's international call prefix
_FAST_E164 = re.compile(r"\+81[1-9]\d{8,9}", re.ASCII)
_E164 = phonenumbers.PhoneNumberFormat.E164


def phone(raw: str, *, strict: bool = False) -> str:
    """E.164 ("+819012345678") from any Japanese layout: 090-1234-5678, (03)1234-5678, 03(1234)5678,
    +81 90-…, 81-90-…, full-width digits, any dash, a leading 0 lost to a spreadsheet (9012345678).

    Decision: by default a Japanese number is accepted when its shape is right (9 or 10 digits after the
    trunk 0), as libphonenumber's is_possible_number, not is_valid_number: validity follows today's
    allocation tables, and leaked data holds numbers that were assigned years ago; for matching, the
    canonical form is what counts. strict=True requires is_valid_number (use it before dialling or
    texting). Foreign numbers must always be valid. An extension is dropped (E.164 has none).
    """
    if _is_blank(raw):
        return ""
    text = _clean(raw)
    if not text.isascii():
        text = _PHONE_LABELS.sub("", text)
    text = text.translate(_PHONE_DROP)
    if not strict:
        if _FAST_NATIONAL.fullmatch(text):
            return "+81" + text[1:]
        if _FAST_E164.fullmatch(text):
            return text
    try:
        number = phonenumbers.parse(text, "JP")
    except phonenumbers.NumberParseException:
        raise NormalizeError("phone", "not a phone number") from None
    if strict or number.country_code != 81:
        ok = phonenumbers.is_valid_number(number)
    else:
        national = str(number.national_number)
        ok = (
            len(national) in (9, 10)
            and not number.italian_leading_zero
            and phonenumbers.is_possible_number(number)
        )
    if not ok:
        raise NormalizeError("phone", "not a valid phone number")
    return phonenumbers.format_number(number, _E164)


# --- Postal codes ---------------------------------------------------------------------------------------
_POSTAL_TABLE = str.maketrans({**dict.fromkeys(_DASHES + "ー", "-"), "〒": None, " ": None})
_POSTAL_RE = re.compile(r"(\d{3})-?(\d{4})", re.ASCII)


def postal_code(raw: str) -> str:
    """Seven digits ("1000001") from 〒100-0001, 100-0001, １００－０００１ or 1000001; nothing else."""
    if _is_blank(raw):
        return ""
    m = _POSTAL_RE.fullmatch(_clean(raw).translate(_POSTAL_TABLE))
    if m is None:
        raise NormalizeError("postal_code", "not a 7-digit postal code")
    return m[1] + m[2]


# --- E-mail ---------------------------------------------------------------------------------------------
_DOMAIN_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9]")
_LOCAL_RE = re.compile(r"[!-~]+")  # printable ASCII without space


def email(raw: str) -> str:
    """An address, lower-cased whole, from full-width or padded input.

    Decision: the local part is lower-cased too. RFC 5321 lets it be case-sensitive, but the providers
    in Japanese exports (docomo, au, SoftBank, Gmail, Yahoo! JAPAN, iCloud) treat it case-insensitively,
    and TARO@… and taro@… in two exports are the same mailbox. The old carrier addresses that break
    RFC 5322 (taro..x@docomo.ne.jp, taro.@ezweb.ne.jp) are real and accepted.
    """
    if _is_blank(raw):
        return ""
    text = _clean(raw).strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    if any(ch.isspace() for ch in text):
        raise NormalizeError("email", "contains spaces")
    if text.count("@") != 1:
        raise NormalizeError("email", "needs exactly one @")
    local, domain = text.split("@")
    domain = domain.rstrip(".").lower()
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise NormalizeError("email", "domain is not a valid host name") from None
    if not _LOCAL_RE.fullmatch(local):
        raise NormalizeError("email", "local part empty or not ASCII")
    if not _DOMAIN_RE.fullmatch(domain):
        raise NormalizeError("email", "domain is not a valid host name")
    return local.lower() + "@" + domain


# --- Gender ---------------------------------------------------------------------------------------------
# 1 = male, 2 = female, 0 = not known, 9 = not applicable: JIS X 0303 / ISO/IEC 5218.
_GENDER: Final = {
    **dict.fromkeys(("男", "男性", "おとこ", "オトコ", "m", "male", "man", "1", "♂"), "M"),
    **dict.fromkeys(("女", "女性", "おんな", "オンナ", "f", "female", "woman", "2", "♀"), "F"),
}


def gender(raw: str) -> str:
    """Gender code "M", "F" or "" (unknown, 0/9, blank, anything else): weak evidence, never an error."""
    return _GENDER.get(_clean(raw).strip().lower(), "") if raw else ""


# --- Addresses ------------------------------------------------------------------------------------------
# fmt: off
PREFECTURES: Final = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)
# fmt: on
_PREFECTURE_CODE = re.compile(r"(?:JP-?)?0?([1-9][0-9]?)", re.ASCII | re.IGNORECASE)


def prefecture_of_code(raw: str) -> str:
    """The prefecture a JIS X 0401 code names (13, 13.0 as Excel writes it, or ISO 3166-2 JP-13: 東京都),
    as exports write it in a code column (EC-CUBE's 都道府県(ID), Shopify's Province Code); "" for
    anything else."""
    text = _clean(raw).strip().removesuffix(".0")
    found = _PREFECTURE_CODE.fullmatch(text)
    if not found or not 1 <= int(found[1]) <= len(PREFECTURES):
        return ""
    return PREFECTURES[int(found[1]) - 1]


_PREF3: Final = frozenset(p for p in PREFECTURES if len(p) == 3)
_PREF4: Final = frozenset(p for p in PREFECTURES if len(p) == 4)

# A kanji: CJK ideographs (extension A and the unified block), compatibility ideographs, and the marks
# written in names as kanji (々 repeats the one before it: 佐々木; 〆). A name with one is not kana alone.
KANJI: Final = re.compile("[\u3400-\u9fff\uf900-\ufaff々〆]")
_KANJI_NUM: Final = "〇一二三四五六七八九十百千"
_ADDR_TABLE = str.maketrans(dict.fromkeys(_DASHES, "-"))
_ADDR_DASH = re.compile(f"[{re.escape(_DASHES[1:])}]")  # a dash _ADDR_TABLE rewrites (not "-" itself)
_ADDR_LONG_DASH = re.compile(f"(?<=[0-9{_KANJI_NUM}])ー(?=[0-9{_KANJI_NUM}])")  # 1ー2ー3 typed with ー
_ADDR_POSTAL = re.compile(r"〒?\s*\d{3}-?\d{4}\s*", re.ASCII)  # a postal code written before the address
_UNIT = "(?:丁目|番地|番(?![町丁])|号(?!室))"  # 番町/番丁 are town names, 号室 is a room
_BLOCK_RE = re.compile(
    f"(?<![0-9{_KANJI_NUM}第])"  # not inside a number, not 第2 (building names)
    f"(?:[0-9]+|[{_KANJI_NUM}]+(?={_UNIT}))"  # a kanji numeral counts only before 丁目/番地/番/号
    f"(?:(?:(?:丁目|番地|番(?![町丁])) ?[-の]? ?|号[-の]?|[-の之])"
    f"(?:[0-9]+|[{_KANJI_NUM}]+(?={_UNIT}|$| )))*"
    f"{_UNIT}?"
)
_NUMBER = re.compile(f"[0-9]+|[{_KANJI_NUM}]+")
# A bare number followed by these belongs to the town (北4条, 東3線, 第9町内, 3番町) or is a room (205号室).
_NOT_BLOCK_AFTER: Final = frozenset("条線町丁区通番地割郡市村号室階F")
_MAX_BLOCK_PARTS: Final = 3  # 丁目-番-号; a 4th number is a room (1-2-3-205)
_MAX_CHOME: Final = 40  # 丁目 numbers stay below this (札幌's 西28丁目 is among the highest)
_ROOM_RE = re.compile(r"([0-9]+)(?:号室|号|室)?$")
_TOWN_TABLE = str.maketrans({**dict.fromkeys("ヶケがガ", "ケ"), **dict.fromkeys("のノ之", "ノ"), "ッ": "ツ"})
_TOWN_TABLE.update(_FOLD_STRICT)
_GUN = re.compile(r"^.{1,4}?郡(?=.)")  # 三井郡大刀洗町 == 大刀洗町
_JOU = re.compile(f"[{_KANJI_NUM}]+(?=[条線])")  # 北四条 == 北4条 (both spellings occur)
_KANJI_DIGITS: Final = str.maketrans("〇一二三四五六七八九", "0123456789")


def _kanji_number(text: str) -> int:
    """二十三 -> 23, 百二 -> 102, 一〇二 -> 102, 十 -> 10."""
    if not any(ch in "十百千" for ch in text):
        return int(text.translate(_KANJI_DIGITS))
    total = current = 0
    for ch in text:
        if ch in "十百千":
            total += (current or 1) * (10 if ch == "十" else 100 if ch == "百" else 1000)
            current = 0
        else:
            current = int(ch.translate(_KANJI_DIGITS))
    return total + current


def _block_parts(found: str, numbers: list[re.Match[str]]) -> int:
    """How many leading numbers of a block are 丁目/番地/号; the rest is a room ("1233番15号-211").

    番(地) takes one more number after it (番地-枝番, 番-号) and 号 ends the block. Written with dashes
    only, three numbers are 丁目-番-号 unless the first is too large for a 丁目 (237-5-106 = 番地-枝番-room).
    """
    parts = _MAX_BLOCK_PARTS
    i = found.find("番")
    if i >= 0:
        parts = min(parts, sum(1 for n in numbers if n.start() < i) + 1)
    i = found.find("号")
    if i >= 0:
        parts = min(parts, sum(1 for n in numbers if n.start() < i))
    if (
        parts == _MAX_BLOCK_PARTS
        and len(numbers) >= _MAX_BLOCK_PARTS
        and "丁目" not in found
        and int(_number(numbers[0][0])) > _MAX_CHOME
    ):
        parts = 2
    return parts


def _number(text: str) -> str:
    return str(int(text)) if text.isascii() else str(_kanji_number(text))


class Address(NamedTuple):
    """An address split into comparable parts; `key()` is what the matcher compares.

    prefecture: one of the 47, or "" when the address does not start with one.
    rest: the normalized text after the prefecture (display form).
    town: the part before the block (city, ward, town; 北4条西 stays here).
    block: 丁目-番-号 as digits joined by "-" ("1-2-3"), at most three numbers.
    building: everything after the block (building name and room), or a 4th number.
    room: the trailing number of `building` ("メゾン桜 205号室" -> "205"), else "".
    town_key: `town` without spaces, ヶ/ケ/が/ガ, の/ノ/之 and ッ/ツ unified, 郡 and 大字 dropped,
        kanji numerals before 条/線 as digits, 異体字 folded (strict). It leaves the prefecture out so a
        record that omits it still matches (a prefecture mismatch is separate evidence).
    """

    prefecture: str
    rest: str
    town: str
    block: str
    building: str
    room: str
    town_key: str

    def key(self) -> str:
        """town_key|block: the same place, up to the building (households in one building share it)."""
        return f"{self.town_key}|{self.block}"


_EMPTY_ADDRESS: Final = Address("", "", "", "", "", "", "")


@lru_cache(1 << 14)  # towns repeat across a leak's addresses
def _town_key(town: str) -> str:
    text = town.replace(" ", "").replace("大字", "")
    if "郡" in text:
        text = _GUN.sub("", text, count=1)
    if "条" in text or "線" in text:
        text = _JOU.sub(lambda m: str(_kanji_number(m[0])), text)
    return text.translate(_TOWN_TABLE)


def address(raw: str) -> Address:
    """Split a Japanese address into prefecture, town, block and building, with comparison keys.

    Handles full-width digits, dash variants (incl. ー between digits), 1丁目2番3号 / 1-2-3 / 1の2の3 /
    一丁目2番3号 / ２－５, 番地, a missing prefecture, a leading postal code, and buildings with or without
    a separating space. Kanji numerals become digits only in block position (before 丁目/番地/番/号), so
    一宮市, 四日市, 三軒茶屋 and 一番町 stay as written.

    Limits (no geo database): the city/town boundary is not found; 郡 and 大字 are dropped from the key
    rather than checked; a number after 番-号 or 番地-枝番, or a 4th number, is taken as a room (so the
    24-2-2-3-3 shorthand keeps 24-2-2); written with dashes only, 12-5-203 in a town without 丁目 cannot be
    told from 丁目-番-号 (a first number above 40 is taken as 番地); a building name that starts with a bare
    number and has no block before it can be mistaken for the block. Never raises: any text gives a key.
    """
    if _is_blank(raw):
        return _EMPTY_ADDRESS
    text = _clean(raw)
    if not text.isascii() and _ADDR_DASH.search(text):
        text = text.translate(_ADDR_TABLE)
    if "ー" in text:
        text = _ADDR_LONG_DASH.sub("-", text)
    text = " ".join(text.split())
    if text[:1] == "〒" or text[:1].isdigit():
        m = _ADDR_POSTAL.match(text)
        if m:
            text = text[m.end() :]
    if text[:4] in _PREF4:
        pref = text[:4]
    elif text[:3] in _PREF3:
        pref = text[:3]
    else:
        pref = ""
    rest = text[len(pref) :].lstrip()
    block = building = ""
    town = rest
    for m in _BLOCK_RE.finditer(rest):
        found = m[0]
        if found.isdigit():
            after = rest[m.end() : m.end() + 1]
            if after in _NOT_BLOCK_AFTER and after:
                continue
        numbers = list(_NUMBER.finditer(found))
        end = m.end()
        parts = _block_parts(found, numbers)
        if len(numbers) > parts:
            end = m.start() + numbers[parts].start()
            numbers = numbers[:parts]
        town = rest[: m.start()].rstrip(" -")
        block = "-".join(_number(n[0]) for n in numbers)
        building = rest[end:].strip(" -の,、")
        break
    room = ""
    if building:
        r = _ROOM_RE.search(building)
        if r:
            room = str(int(r[1]))
    return Address(pref, rest, town, block, building, room, _town_key(town))
