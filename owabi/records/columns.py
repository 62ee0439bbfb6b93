"""Standard import columns (DESIGN.md §4.1), the header names exports commonly use for them, and the
headers of card security codes, which import never reads."""

from __future__ import annotations

import re
import unicodedata

STANDARD: tuple[str, ...] = (
    "record_id",
    "source",
    "subject_name",
    "subject_kana",
    "subject_birth_date",
    "subject_gender",
    "relationship",
    "guardian_name",
    "guardian_kana",
    "postal_code",
    "address",
    "phone",
    "fax",
    "email",
    "card_brand",
    "card_last4",
    "card_number",
    "card_expiry",
    "expected_delivery_date",
)

ALIASES: dict[str, str] = {
    "id": "record_id",
    "会員番号": "record_id",
    "顧客番号": "record_id",
    "レコードid": "record_id",
    "データ元": "source",
    "氏名": "subject_name",
    "名前": "subject_name",
    "お名前": "subject_name",
    "フリガナ": "subject_kana",
    "ふりがな": "subject_kana",
    "カナ氏名": "subject_kana",
    "生年月日": "subject_birth_date",
    "誕生日": "subject_birth_date",
    "性別": "subject_gender",
    "続柄": "relationship",
    "保護者氏名": "guardian_name",
    "保護者名": "guardian_name",
    "保護者フリガナ": "guardian_kana",
    "郵便番号": "postal_code",
    "〒": "postal_code",
    "住所": "address",
    "電話番号": "phone",
    "電話": "phone",
    "tel": "phone",
    "fax": "fax",
    "fax番号": "fax",
    "メールアドレス": "email",
    "メール": "email",
    "e-mail": "email",
    "mail": "email",
    "カード下4桁": "card_last4",
    "カードブランド": "card_brand",
    "カード番号": "card_number",
    "クレジットカード番号": "card_number",
    "有効期限": "card_expiry",
    "カード有効期限": "card_expiry",
    "出産予定日": "expected_delivery_date",
}

# Which leaked-data category each standard column contributes when the row has a value in it.
CATEGORY_OF: dict[str, str] = {
    "subject_name": "name",
    "subject_kana": "kana",
    "subject_birth_date": "birth_date",
    "subject_gender": "gender",
    "relationship": "relationship",
    "guardian_name": "guardian_name",
    "guardian_kana": "guardian_kana",
    "postal_code": "postal_code",
    "address": "address",
    "phone": "phone",
    "fax": "fax",
    "email": "email",
    "card_brand": "card_number",
    "card_last4": "card_number",
    "card_number": "card_number",
    "card_expiry": "card_expiry",
    "expected_delivery_date": "expected_delivery_date",
}


# Standard columns a mapping may build from several headers ([join]), with the joiner that puts the parts
# together as one value of that column would be written: a name from 姓 + 名 with a space (as a full name
# is written in a standard column), a phone from three parts and a postal code from 3 + 4 digits with a
# hyphen, an address from 都道府県 + 住所1 + 住所2 (+ 建物名) as an address is written (`_address_gap`).
# The joined value then goes through the one normalizer of its column, as a single column's value does.
JOINERS: dict[str, str] = {
    "subject_name": " ",
    "subject_kana": " ",
    "guardian_name": " ",
    "guardian_kana": " ",
    "address": "",
    "phone": "-",
    "fax": "-",
    "postal_code": "-",
}


def _address_gap(before: str, after: str) -> str:
    """Nothing after a place name's last character (東京都|千代田区, 丸の内|1-1-1), else a space: between
    numbers (梅田2-4-9|101), before a building (1-1-1|丸の内ビル) and between Latin words (Shopify)."""
    last = before[-1]
    return "" if not last.isascii() and not last.isdigit() and not after[0].isspace() else " "


def join(column: str, parts: list[str]) -> str:
    """One value of `column` from its parts in order; empty parts are left out."""
    parts = [part for part in parts if part]
    if column != "address" or not parts:
        return JOINERS[column].join(parts)
    text = parts[0]
    for part in parts[1:]:
        text += _address_gap(text, part) + part
    return text


def clean(value: str) -> str:
    """A cell or a header as import keeps it: NFKC, without surrounding space."""
    return unicodedata.normalize("NFKC", value).strip()


def header_key(header: str) -> str:
    return clean(header).lower().replace(" ", "_")


def map_header(header: str) -> str | None:
    """The standard column for an input header, or None for an unknown column."""
    key = header_key(header)
    if key in STANDARD:
        return key
    return ALIASES.get(key)


# A mapping file may map a header to this instead of a standard column: the column is never read.
SECURITY_CODE = "card_security_code"
CARD_COLUMNS = ("card_brand", "card_last4", "card_number")

# Security codes (CVV2/CVC2/CID/CAV2; PCI DSS forbids keeping them, even encrypted) come under many
# headers. A header is one when, after NFKC, case folding and dropping brackets with their contents
# (セキュリティコード(3桁)), and split into words (Latin letters/digits, or runs of other letters):
# 1. it has one of these abbreviations and its other words only say "card", "code", "number" and the
#    like (card_cvv, cvv_code, CVV/CVC, CVV番号, CSC; but not CSC_branch). CID is also a customer id:
#    it counts only beside such a word (card_cid);
# 2. or its words, run together, hold one of the phrases below (Card Verification Value, security_code,
#    セキュリティ番号, カード確認コード; but not security_deposit, social_security_number, or a bare
#    verification_code, which web sign-ups use for the code sent by e-mail).
# A column that looks like security codes by its values instead is caught by layout.refuse_code_lookalikes.
_CODE_ABBREVIATIONS = frozenset({"cvv", "cvv2", "cvc", "cvc2", "cav2", "cvn", "cvn2", "cvd", "csc", "cid"})
_CARD_WORDS = frozenset(
    {
        *("card", "credit", "code", "codes", "no", "nr", "num", "number", "value", "digit", "digits"),
        *("visa", "master", "mastercard", "amex", "jcb", "diners", "3", "4", "the", "of"),
        *("カード", "クレジット", "クレジットカード", "番号", "コード", "値", "桁", "ナンバー", "の"),
    }
)
_CODE_PHRASES = (
    "securitycode",
    "securitynumber",
    "cardverification",
    "verificationvalue",
    "セキュリティコード",
    "セキュリティーコード",
    "セキュリティ番号",
    "セキュリティー番号",
    "セキュリティナンバー",
    "カード確認",
    "カード認証",
    "カード照合",
    "裏面の番号",
    "裏面番号",
    "裏面の桁",
    "裏面コード",
)
_NOT_CODE_PHRASES = ("socialsecurity",)
_CARD_NAMES = frozenset(
    {"card", "credit", "visa", "master", "mastercard", "amex", "jcb", "diners"}
    | {"カード", "クレジット", "クレジットカード"}
)
_BRACKETED = re.compile(r"[(\[{【〔《〈「『][^)\]}】〕》〉」』]*[)\]}】〕》〉」』]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORDS = re.compile(r"[a-z0-9]+|[^\W\da-z_]+")


def _words(header: str) -> list[str]:
    text = _BRACKETED.sub(" ", unicodedata.normalize("NFKC", header))
    return _WORDS.findall(_CAMEL.sub(" ", text).casefold())


def is_security_code(header: str) -> bool:
    """Does the header name a card security code column (rules above)?"""
    words = _words(header)
    abbreviations = [word for word in words if word in _CODE_ABBREVIATIONS]
    if abbreviations and all(word in _CODE_ABBREVIATIONS or word in _CARD_WORDS for word in words):
        return set(abbreviations) != {"cid"} or any(word in _CARD_NAMES for word in words)
    joined = "".join(words)
    if any(phrase in joined for phrase in _NOT_CODE_PHRASES):
        return False
    return any(phrase in joined for phrase in _CODE_PHRASES)
