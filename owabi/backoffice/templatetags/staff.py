"""Template helpers of the back office: how codes and search roles are written for staff."""

from __future__ import annotations

from django import template

from owabi.notices import selectors as notice_selectors
from owabi.notices.models import Notice

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


@register.filter
def ja(label: str) -> str:
    """The Japanese half of a bilingual choice label ("メール / E-mail" -> "メール"): the back office is
    in Japanese."""
    return str(label).split(" / ", 1)[0]


@register.filter
def number(value: int | None) -> str:
    """A count or an amount with thousands separators (1,100), whatever the locale."""
    return "" if value is None else f"{value:,}"


@register.filter
def yen(value: int | None) -> str:
    return "" if value is None else f"{value:,}円"


ACCOUNT_TYPES = {"1": "普通", "2": "当座", "4": "貯蓄"}


@register.filter
def account_type(code: str) -> str:
    """A 全銀 預金種目 code as staff say it (1 -> 普通)."""
    return ACCOUNT_TYPES.get(str(code), f"種目{code}")


COMPARISONS = {
    "person": "本人（氏名・生年月日）",
    "contact": "連絡先（電話・メール・住所）",
    "gender": "性別",
    "guardian": "保護者",
}


@register.filter
def comparison(name: str) -> str:
    """A comparison of the matcher (as `owabi resolve --explain` names it) in Japanese, with its name."""
    label = COMPARISONS.get(name)
    return f"{label}（{name}）" if label else name


@register.filter
def channel(code: str) -> str:
    """A notice channel code (email, letter) as staff read it."""
    return ja(dict(Notice.Channel.choices).get(code, code))


@register.filter
def notice_status(code: str) -> str:
    return ja(dict(Notice.Status.choices).get(code, code))
