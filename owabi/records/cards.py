"""Card numbers are reduced on import to brand + last 4 (+ a keyed hash of a full number).

Exports hold cards in many forms (docs/exports.md): full numbers, grouped or not; masks of every kind
(`************1234`, `XXXX-XXXX-XXXX-1234`, `411111******1111`, `3782-******-*1005`, `●●●●1234`);
the last four alone (`1234`, `*1234`, `末尾1234`, `下4桁：1234`); brand names in any spelling. `reduce`
turns any of them into a `ReducedCard`, and `cut_numbers` finds full numbers where no card belongs (a
name, an address, a memo) and cuts them out; `cut_from_row` and `reduce_row` do both for one row of an
import. No function here returns, logs or raises a card number.
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
    ("DISCOVER", 644, 649),
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


# --- One row's card data, as import reduces it --------------------------------------------------------
READ_AS_CARD = ("card_number", "card_last4")  # read by reduce(), not searched for numbers
_CUT = "held a full card number: cut out, kept as brand + last 4"
_OTHER_BRAND = "differs from the brand the card number's first digits give (theirs is kept)"


def cut_from_row(
    record_id: str,
    values: dict[str, str],
    extra_values: dict[str, str],
    found: list[ReducedCard],
    notes: list[tuple[str, str]],
) -> str:
    """Cut full card numbers out of every field but the card columns (into `found`, with a note per
    field); returns the record id, replaced by a keyed hash of itself if it held one (a payment log
    keyed by card number)."""
    # Only a value of 13 characters or more can hold one: most (names, dates, codes) are skipped unseen.
    searched = [value for column, value in values.items() if len(value) > 12 and column not in READ_AS_CARD]
    searched += [value for value in (record_id, *extra_values.values()) if len(value) > 12]
    if not searched or not _CANDIDATE.search("\n".join(searched)):  # one test for the row: "\n" parts them
        return record_id
    _, in_id = cut_numbers(record_id)
    if in_id:
        found += in_id
        record_id = "card-" + keyed_hash("record_id", record_id)
        notes.append(("record_id", "held a full card number: replaced by a keyed hash of the id"))
    for fields in (values, extra_values):
        for name in [name for name in fields if name not in READ_AS_CARD]:
            kept, cut = cut_numbers(fields[name])
            if cut:
                found += cut
                notes.append((name, _CUT))
                if kept:
                    fields[name] = kept
                else:
                    del fields[name]
    return record_id


def reduce_row(
    values: dict[str, str], found: list[ReducedCard], notes: list[tuple[str, str]]
) -> tuple[str, list[dict[str, str]], bool]:
    """Replace the card columns in `values` by the row's card: card_brand (a canonical code) and
    card_last4. Returns (the card's keyed hash or "", further cards, whether the row holds card data).

    The card is the one the card columns give; a full number found elsewhere becomes it when they give
    none (or none with its last 4), else it is kept as a further card unless it is the same one. Where
    the number's first digits give a brand, that brand is kept over the column's.
    """
    brand = ""
    had_card = bool(found)
    if raw_brand := values.pop("card_brand", ""):
        had_card = True
        code = canonical_brand(raw_brand)
        if code is None:
            notes.append(("card_brand", "not a card brand we know (not stored)"))
        else:
            brand = code
    card: ReducedCard | None = None
    for column in ("card_number", "card_last4"):
        if not (raw := values.pop(column, "")):
            continue
        try:
            read = reduce(raw)
        except CardNumberError as error:
            had_card = True
            notes.append((column, f"{error} (not stored)"))
            continue
        if read == NO_CARD:
            continue  # "-", なし: no card
        had_card = True
        if card is None:
            card = read
        elif read.last4 and card.last4 and read.last4 != card.last4:
            notes.append((column, "last 4 digits differ from the card number's (the number's are kept)"))
        else:
            card = ReducedCard(
                card.brand or read.brand, card.last4 or read.last4, card.number_hash or read.number_hash
            )
    if card is not None and not card.last4:
        notes.append(("card_number", "a masked number that shows no last 4 digits (brand kept)"))
        if found:
            card = None  # a full number found elsewhere is a better card
    more: list[ReducedCard] = []
    for other in found:
        if card is None:
            card = other
        elif (
            not (
                (other.number_hash and other.number_hash == card.number_hash)
                or (other.last4 == card.last4 and other.brand in ("", card.brand or brand))
            )
            and other not in more
        ):
            more.append(other)
    if card is not None and card.brand:
        if brand and brand != card.brand:
            notes.append(("card_brand", _OTHER_BRAND))
        brand = card.brand
    if brand:
        values["card_brand"] = brand
    if card is not None and card.last4:
        values["card_last4"] = card.last4
    further = [
        {"card_brand": other.brand, "card_last4": other.last4, "card_number_hash": other.number_hash}
        for other in more
    ]
    return (card.number_hash if card is not None else ""), further, had_card
