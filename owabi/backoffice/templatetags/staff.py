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


# The levels of the matcher (owabi.records.resolve_model, its `label_for_charts`) as a reviewer reads
# them. tests/test_backoffice_support.py checks that every level of the current model is here; a run made
# by an older model may name a level no longer listed, and that one is shown as the model named it.
LEVELS = {
    "name missing": "氏名がない",
    "same name, same birth date": "氏名も生年月日も同じ",
    "same name (variant kanji or reading), same birth date": (
        "氏名が同じ（異体字・読みで一致）、生年月日も同じ"
    ),
    "same name, birth date with a typo": "氏名が同じ、生年月日に入力誤りらしい違い",
    "same name, birth date a few days or one field apart": "氏名が同じ、生年月日が数日か年・月の一つだけ違う",
    "same name, birth date missing": "氏名が同じ、生年月日がない",
    "same reading, other kanji, neither birth date": "読みが同じで漢字が違う、どちらにも生年月日がない",
    "same reading, other kanji, birth date missing": "読みが同じで漢字が違う、生年月日がない",
    "same reading, one name written in kana, birth date missing": (
        "読みが同じで一方はかな書き、生年月日がない"
    ),
    "similar name, same birth date": "氏名が似ている、生年月日が同じ",
    "similar name, birth date missing": "氏名が似ている、生年月日がない",
    "same name, different birth date": "氏名が同じ、生年月日が違う",
    "different names": "氏名が違う",
    "no contact data to compare": "比べられる連絡先がない",
    "gate: shared contact, but the people differ": "連絡先は共通だが本人が違う（判断に使わない）",
    "gate: only the given name agrees, no birth date, only an e-mail or card shared": (
        "名だけが同じ・生年月日なし・共通はメールかカードだけ（判断に使わない）"
    ),
    "gate: one name in kana, no birth date, only an e-mail or card shared": (
        "一方はかな書きで読みだけが同じ・生年月日なし・共通はメールかカードだけ（判断に使わない）"
    ),
    "same phone, e-mail, address or card": "電話・メール・住所・カードのどれかが同じ",
    "nothing shared directly, one household through other rows (a move)": (
        "直接の共通はないが、ほかの記録を通じて同じ世帯（転居など）"
    ),
    "same postal code": "郵便番号が同じ",
    "same prefecture, nothing else shared": "都道府県だけが同じ",
    "different prefecture, nothing shared, one a child's row (the guardian's contact)": (
        "都道府県が違い共通なし、一方は子の記録（連絡先は保護者のもの）"
    ),
    "different prefecture, nothing shared": "都道府県が違い、共通するものがない",
    "one row names the other as its guardian": "一方が他方を保護者として記載",
    "a minor's row, and an undated row without a guardian (an adult's)": (
        "未成年の記録と、保護者も生年月日もない記録（大人のもの）"
    ),
    "no guardian on one side": "一方に保護者がない",
    "gate: same guardian, but the people differ": "保護者は同じだが本人が違う（判断に使わない）",
    "same guardian": "保護者が同じ",
    "different guardian": "保護者が違う",
    "gender missing": "性別がない",
    "same gender": "性別が同じ",
    "different gender": "性別が違う",
}


@register.filter
def level(label: str) -> str:
    """A level of the matcher in Japanese; a label this table does not know is shown as the model named it."""
    return LEVELS.get(label, label)


@register.filter
def channel(code: str) -> str:
    """A notice channel code (email, letter) as staff read it."""
    return ja(dict(Notice.Channel.choices).get(code, code))


@register.filter
def notice_status(code: str) -> str:
    return ja(dict(Notice.Status.choices).get(code, code))
