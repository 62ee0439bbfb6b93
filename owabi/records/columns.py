"""Standard import columns (DESIGN.md §4.1) and the header names exports commonly use for them."""

from __future__ import annotations

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

# Security-code headers: the column is refused (never read into memory past the header) and the
# category is recorded as leaked.
SECURITY_CODE_HEADERS = {
    "cvv",
    "cvc",
    "cvv2",
    "cvc2",
    "cid",
    "security_code",
    "card_security_code",
    "セキュリティコード",
    "セキュリティーコード",
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


def header_key(header: str) -> str:
    return unicodedata.normalize("NFKC", header).strip().lower().replace(" ", "_")


def map_header(header: str) -> str | None:
    """The standard column for an input header, or None for an unknown column."""
    key = header_key(header)
    if key in STANDARD:
        return key
    return ALIASES.get(key)


def is_security_code(header: str) -> bool:
    return header_key(header) in SECURITY_CODE_HEADERS
