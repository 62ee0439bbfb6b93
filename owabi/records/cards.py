"""Card numbers are reduced on import to brand + last 4 (+ a keyed hash of a full number)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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
_BRAND_SPELLINGS: dict[str, str] = {
    **dict.fromkeys(("visa", "ビザ", "ヴィザ"), "VISA"),
    **dict.fromkeys(("master", "mastercard", "mc", "マスター", "マスターカード"), "MASTERCARD"),
    **dict.fromkeys(("jcb", "ジェーシービー"), "JCB"),
    **dict.fromkeys(
        ("amex", "americanexpress", "アメックス", "アメリカンエキスプレス", "アメリカンエクスプレス"), "AMEX"
    ),
    **dict.fromkeys(("diners", "dinersclub", "ダイナース", "ダイナースクラブ"), "DINERS"),
    **dict.fromkeys(("discover", "ディスカバー"), "DISCOVER"),
    **dict.fromkeys(("unionpay", "cup", "銀聯", "银联", "中国銀聯", "ユニオンペイ"), "UNIONPAY"),
}
_BRAND_NOISE = re.compile(r"[\s・.\-_/®™]|カード$|card$")


def canonical_brand(raw: str) -> str | None:
    """The brand code (BRAND_LABELS) for an export's spelling (VISA/Visa/ビザ, MASTER/MasterCard/マスター
    カード, アメックス, 銀聯 …): "" for a blank value, None for one that names no brand we know."""
    text = unicodedata.normalize("NFKC", raw).strip().casefold()
    if not text:
        return ""
    if text.upper() in BRAND_LABELS:
        return text.upper()
    key = _BRAND_NOISE.sub("", text)
    return _BRAND_SPELLINGS.get(key) or _BRAND_SPELLINGS.get(_BRAND_NOISE.sub("", key))


def brand_label(code: str, language: str) -> str:
    """How a notice names a brand code; "" for no brand."""
    labels = BRAND_LABELS.get(code)
    if labels is None:
        return ""
    return labels[1] if language == "en" else labels[0]


@dataclass(frozen=True)
class ReducedCard:
    brand: str
    last4: str
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


def reduce(raw: str) -> ReducedCard:
    """Full or masked number -> brand + last 4 (+ keyed hash). The full number goes no further."""
    text = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", raw))
    if re.fullmatch(r"\d{12,19}", text):
        if not luhn_ok(text):
            raise CardNumberError("card number fails the check digit")
        return ReducedCard(brand_of(text), text[-4:], keyed_hash("card_number", text))
    masked = re.fullmatch(r"(\d{0,6})[*xX#•●]{2,15}(\d{4})", text)
    if masked:
        head, last4 = masked.groups()
        return ReducedCard(brand_of(head) if head else "", last4, "")
    raise CardNumberError("not a card number (expected 12-19 digits, or a masked number ending in 4 digits)")
