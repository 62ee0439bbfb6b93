"""Card numbers are reduced on import to brand + last 4 (+ a keyed hash of a full number).

Exports hold cards in many forms (docs/exports.md): full numbers, grouped or not; masks of every kind
(`************1234`, `XXXX-XXXX-XXXX-1234`, `411111******1111`, `3782-******-*1005`, `●●●●1234`);
the last four alone (`1234`, `*1234`, `末尾1234`, `下4桁：1234`); brand names in any spelling. `reduce`
turns any of them into a `ReducedCard`, and `cut_numbers` finds full numbers where no card belongs (a
name, an address, a memo) and cuts them out. No function here returns, logs or raises a card number.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from owabi.core.crypto import keyed_hash

_BRANDS: tuple[tuple[str, int, int], ...] = (
    # (brand, lowest IIN prefix, highest IIN prefix) compared on the first 4-6 digits
    ("AMEX", 34, 34),
    ("AMEX", 37, 37),
    ("JCB", 3528, 3589),
    ("DINERS", 300, 305),
    ("DINERS", 36, 36),
    ("DINERS", 38, 39),
    ("MASTERCARD", 51, 55),
    ("MASTERCARD", 2221, 2720),
    ("VISA", 4, 4),
    ("DISCOVER", 6011, 6011),
    ("DISCOVER", 65, 65),
    ("UNIONPAY", 62, 62),
)
# The lengths each brand issues. A number found outside a card column must have one of them (besides a
# known IIN and the check digit): a membership or order number passes the check digit one time in ten.
_LENGTHS: dict[str, frozenset[int]] = {
    "VISA": frozenset({13, 16, 19}),
    "MASTERCARD": frozenset({16}),
    "AMEX": frozenset({15}),
    "JCB": frozenset(range(16, 20)),
    "DINERS": frozenset(range(14, 20)),
    "DISCOVER": frozenset(range(16, 20)),
    "UNIONPAY": frozenset(range(16, 20)),
}


# Canonical brand codes, with how a notice names each (ja, en). IIN ranges above and exports' spellings
# below both come out as one of these codes, so one card is one card however an export spelt its brand.
BRAND_LABELS: dict[str, tuple[str, str]] = {
    "VISA": ("VISA", "Visa"),
    "MASTERCARD": ("Mastercard", "Mastercard"),
    "JCB": ("JCB", "JCB"),
    "AMEX": ("アメリカン・エキスプレス", "American Express"),
    "DINERS": ("ダイナースクラブ", "Diners Club"),
    "DISCOVER": ("ディスカバー", "Discover"),
    "UNIONPAY": ("銀聯（UnionPay）", "UnionPay"),
}
# How exports spell each brand (the synthetic exports write these too).
BRAND_SPELLINGS: dict[str, tuple[str, ...]] = {
    "VISA": ("VISA", "Visa", "visa", "ビザ", "ヴィザ", "VISAカード"),
    "MASTERCARD": ("Mastercard", "MasterCard", "MASTER", "Master Card", "MC", "マスター", "マスターカード"),
    "JCB": ("JCB", "ＪＣＢ", "jcb", "JCBカード", "ジェーシービー"),
    "AMEX": (
        *("AMEX", "Amex", "American Express", "アメックス", "アメリカン・エキスプレス"),
        "アメリカンエクスプレス",
    ),
    "DINERS": ("Diners", "Diners Club", "DINERS CLUB", "ダイナース", "ダイナースクラブ"),
    "DISCOVER": ("Discover", "DISCOVER", "ディスカバー"),
    "UNIONPAY": ("UnionPay", "CUP", "銀聯", "银联", "中国銀聯", "ユニオンペイ"),
}
_BRAND_NOISE = re.compile(r"[\s・.\-_/®™]|カード$|card$")


def _brand_key(raw: str) -> str:
    return _BRAND_NOISE.sub("", unicodedata.normalize("NFKC", raw).strip().casefold())


_BRAND_KEYS: dict[str, str] = {
    _brand_key(spelling): code for code, spellings in BRAND_SPELLINGS.items() for spelling in spellings
}


def canonical_brand(raw: str) -> str | None:
    """The brand code (BRAND_LABELS) for an export's spelling (VISA/Visa/ビザ, MASTER/MasterCard/マスター
    カード, アメックス, 銀聯 …): "" for a blank value, None for one that names no brand we know."""
    text = unicodedata.normalize("NFKC", raw).strip().casefold()
    if not text:
        return ""
    if text.upper() in BRAND_LABELS:
        return text.upper()
    key = _BRAND_NOISE.sub("", text)
    return _BRAND_KEYS.get(key) or _BRAND_KEYS.get(_BRAND_NOISE.sub("", key))


def brand_label(code: str, language: str) -> str:
    """How a notice names a brand code; "" for no brand."""
    labels = BRAND_LABELS.get(code)
    if labels is None:
        return ""
    return labels[1] if language == "en" else labels[0]


@dataclass(frozen=True)
class ReducedCard:
    brand: str  # canonical code from the number's first digits; "" when they are masked or unknown
    last4: str  # "" when the value shows no last 4 digits (411111******)
    number_hash: str  # keyed hash of the full number; "" for a masked number


class CardNumberError(ValueError):
    """Not a card number (the message never contains the value)."""


def brand_of(digits: str) -> str:
    for brand, low, high in _BRANDS:
        width = len(str(low))
        if low <= int(digits[:width]) <= high:
            return brand
    return ""


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _full(digits: str) -> ReducedCard:
    return ReducedCard(brand_of(digits), digits[-4:], keyed_hash("card_number", digits))


# Characters exports mask digits with (after NFKC: ＊ is *, Ｘ is X, ･ is ・).
_MASKS = "*xX#•●・○◯■□×✕"
# Separators between digit groups (after NFKC: － is -, the ideographic space is a space).
_SEPARATORS = " \t-‐‑‒–—―−ー."
_SEPARATOR_RUN = re.compile(f"[{re.escape(_SEPARATORS)}]+")
# "the last four are": 末尾1234, 下4桁：1234, 下四桁 1234, last 4: 1234 (after NFKC, ： is :)
_LAST4_LABEL = re.compile(
    r"^(?:末尾|下\s*[4四]\s*(?:桁|ケタ|けた)|最後の\s*[4四]\s*桁|last\s*4(?:\s*digits)?|ending(?:\s*in)?)"
    r"\s*(?:[:=は]|です)?\s*",
    re.IGNORECASE,
)
_MASKED = re.compile(f"([0-9]{{0,8}})[{re.escape(_MASKS)}]+([0-9]*)")
# Values that say "no card" rather than give one.
_NO_VALUE = frozenset({"なし", "無し", "無", "不明", "未登録", "該当なし", "none", "null", "nil", "n/a"})
_NOT_DIGIT = re.compile("[^0-9]")
_MASKED_OR_DIGITS = re.compile(f"[0-9{re.escape(_MASKS + _SEPARATORS)}]*")
_STARTS_DIGITS = re.compile(f"[0-9*#•●・○◯■□×✕]|[xX]{{2}}|[xX][0-9{re.escape(_SEPARATORS)}]")


def _named_brand(text: str) -> tuple[str, str]:
    """("VISA", "****1234") for "VISA ****1234" or "Visa: ****1234"; ("", text) for a value that does not
    start with words (or whose words only say "the last 4 are", like 末尾)."""
    if not text or _STARTS_DIGITS.match(text) or _LAST4_LABEL.match(text):
        return "", text
    for start in range(1, len(text)):
        if not (_STARTS_DIGITS.match(text, start) or _LAST4_LABEL.match(text[start:])):
            continue
        if code := canonical_brand(text[:start].rstrip(" :=")):
            return code, text[start:].lstrip(" :=")
    raise CardNumberError("not a card number: words where digits belong")


NO_CARD = ReducedCard("", "", "")


def reduce(raw: str) -> ReducedCard:
    """A card value as exports hold it, in a card-number or last-4 column -> brand + last 4 (+ keyed hash
    of a full number). NO_CARD for a value that says there is none (blank, "-", なし). Raises
    CardNumberError, with a fixed reason, for a value that is none of the forms in the module docstring.

    A brand name in front of the number (`VISA ****1234`) gives the brand when the digits don't."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text or text.casefold() in _NO_VALUE or not text.strip(_SEPARATORS):
        return NO_CARD
    named, text = _named_brand(text)
    if label := _LAST4_LABEL.match(text):
        last4 = _NOT_DIGIT.sub("", text[label.end() :])
        if len(last4) == 4 and _MASKED_OR_DIGITS.fullmatch(text[label.end() :]):
            return ReducedCard(named, last4, "")
        raise CardNumberError("says it gives the last 4 digits but does not hold 4 digits")
    compact = _SEPARATOR_RUN.sub("", text)
    if compact.isascii() and compact.isdigit():
        if len(compact) == 4:
            return ReducedCard(named, compact, "")
        if 12 <= len(compact) <= 19:
            if not luhn_ok(compact):
                raise CardNumberError("card number fails the check digit")
            card = _full(compact)
            return card if card.brand or not named else replace(card, brand=named)
        raise CardNumberError(f"{len(compact)} digits: neither a card number (12-19) nor its last 4")
    masked = _MASKED.fullmatch(compact)
    if masked is None:
        raise CardNumberError("not a card number, a masked one or its last 4 digits")
    head, tail = masked.groups()
    if tail and len(tail) != 4:
        raise CardNumberError("a masked number that does not end in 4 digits")
    if not head and not tail:
        raise CardNumberError("masked entirely: no digits to keep")
    return ReducedCard((brand_of(head) if head else "") or named, tail, "")


# A full number where no card belongs: 13-19 digits with a known IIN, a length that brand issues and
# the check digit, either ungrouped or grouped as cards are printed (4-4-4-4[-3], Amex 4-6-5, Diners
# 4-6-4), groups apart by up to two spaces or dashes. Phone numbers (10-11 digits, grouped 2-4-4 or
# 3-4-4) never make one; two phone numbers side by side do not either, as their groups are not 4s.
_DIGIT_RUN = re.compile(f"[0-9]+(?:[{re.escape(_SEPARATORS)}]{{1,2}}[0-9]+)*")
# Every such shape starts with 4 digits in a row and goes on for 9 more, each at most two separators
# after the last: a necessary condition one regular expression tests fast (a phone's first group has 2
# or 3 digits, so most fail at once; the possessive {0,2}+ never backtracks into separators).
_CANDIDATE = re.compile(f"[0-9]{{4}}(?:[{re.escape(_SEPARATORS)}]{{0,2}}+[0-9]){{9}}")
_GROUP = re.compile("[0-9]+")


def _printed_grouping(sizes: list[int]) -> bool:
    if len(sizes) == 1:
        return True
    if sizes in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(size == 4 for size in sizes[:-1]) and 1 <= sizes[-1] <= 4


def _is_card(digits: str) -> bool:
    brand = brand_of(digits)
    return bool(brand) and len(digits) in _LENGTHS[brand] and luhn_ok(digits)


def may_hold_number(text: str) -> bool:
    """False when `text` surely holds no full card number: one cheap test for a whole row, its fields
    joined by a character that is no separator ("\\n")."""
    return _CANDIDATE.search(text) is not None


def cut_numbers(text: str) -> tuple[str, list[ReducedCard]]:
    """`text` without the full card numbers in it, and those numbers reduced. Where a number was cut,
    the pieces around it are joined by one space (an address's number, a name's parts stay apart)."""
    if not _CANDIDATE.search(text):
        return text, []
    spans: list[tuple[int, int]] = []
    found: list[ReducedCard] = []
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.start(), m.end()) for m in _GROUP.finditer(text, run.start(), run.end())]
        first = 0
        while first < len(groups):
            best = -1
            for last in range(first, len(groups)):
                digits = "".join(text[start:end] for start, end in groups[first : last + 1])
                if len(digits) > 19:
                    break
                sizes = [end - start for start, end in groups[first : last + 1]]
                if len(digits) >= 13 and _printed_grouping(sizes) and _is_card(digits):
                    best = last
            if best < 0:
                first += 1
                continue
            digits = "".join(text[start:end] for start, end in groups[first : best + 1])
            spans.append((groups[first][0], groups[best][1]))
            found.append(_full(digits))
            first = best + 1
    if not spans:
        return text, []
    pieces, position = [], 0
    for start, end in spans:
        pieces.append(text[position:start])
        position = end
    pieces.append(text[position:])
    kept = (piece.strip(_SEPARATORS + "\u3000") for piece in pieces)
    return " ".join(piece for piece in kept if piece), found
