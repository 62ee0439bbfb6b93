"""Template helpers of the back office: how codes and search roles are written for staff."""

from __future__ import annotations

from django import template

from owabi.notices import selectors as notice_selectors

register = template.Library()

FOUND_AS = {
    "subject": "本人として",
    "guardian": "保護者として",
    "contact": "メールアドレスで",
    "code": "登録コードで",
}


@register.filter
def grouped(code: str) -> str:
    """A registration code as printed: 7KQ2M-XH4TB-9RWCE."""
    return notice_selectors.display_code(code)


@register.filter
def found_as(roles: tuple[str, ...]) -> str:
    return "・".join(FOUND_AS.get(role, role) for role in roles)


COLUMNS = {
    "subject_name": "氏名",
    "subject_kana": "フリガナ",
    "subject_birth_date": "生年月日",
    "subject_gender": "性別",
    "relationship": "続柄",
    "guardian_name": "保護者氏名",
    "guardian_kana": "保護者フリガナ",
    "postal_code": "郵便番号",
    "address": "住所",
    "phone": "電話番号",
    "fax": "FAX",
    "email": "メール",
    "expected_delivery_date": "出産予定日",
}


@register.filter
def column(name: str) -> str:
    """A standard column as staff read it (氏名, 電話番号, …)."""
    return COLUMNS.get(name, name)
