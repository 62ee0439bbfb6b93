"""The catalog of leaked-data categories, with Japanese and English labels.

A record's leaked items are the categories present in its row, plus the incident-wide categories the
response team declares (e.g. the security code, which owabi never receives or stores).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    code: str
    ja: str
    en: str
    financial: bool = False  # APPI rule 7(2): misuse may cause financial damage -> reportable from 1 person
    sensitive: bool = False  # 要配慮個人情報 -> reportable from 1 person


CATEGORIES: tuple[Category, ...] = (
    Category("name", "氏名", "Name"),
    Category("kana", "フリガナ", "Name reading (kana)"),
    Category("gender", "性別", "Gender"),
    Category("birth_date", "生年月日", "Date of birth"),
    Category("relationship", "続柄", "Relationship"),
    Category("guardian_name", "保護者氏名", "Guardian's name"),
    Category("guardian_kana", "保護者フリガナ", "Guardian's name reading (kana)"),
    Category("postal_code", "郵便番号", "Postal code"),
    Category("address", "住所", "Address"),
    Category("phone", "電話番号", "Phone number"),
    Category("fax", "FAX番号", "Fax number"),
    Category("email", "メールアドレス", "E-mail address"),
    Category("expected_delivery_date", "出産予定日", "Expected delivery date"),
    Category("card_number", "クレジットカード番号", "Credit card number", financial=True),
    Category("card_expiry", "カード有効期限", "Card expiry date", financial=True),
    Category("card_security_code", "セキュリティコード", "Card security code", financial=True),
    Category("card_holder", "カード名義人", "Cardholder name", financial=True),
    Category("bank_account", "銀行口座番号", "Bank account number", financial=True),
    Category("login_credentials", "ログインIDとパスワード", "Login ID and password", financial=True),
    Category("purchase_history", "購入履歴", "Purchase history"),
    Category("health", "健康・病歴に関する情報", "Health or medical information", sensitive=True),
    Category("other", "その他の項目", "Other items"),
)

BY_CODE: dict[str, Category] = {category.code: category for category in CATEGORIES}


def get(code: str) -> Category:
    """The category for `code`; KeyError for an unknown code (callers validate input with `is_known`)."""
    return BY_CODE[code]


def is_known(code: str) -> bool:
    return code in BY_CODE


def label(code: str, language: str = "ja") -> str:
    category = BY_CODE[code]
    return category.en if language == "en" else category.ja
