"""Forms of the support console's actions: parse what the agent typed; the services decide the rest.
Every action but the call log asks for a reason (the call's summary is its record)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict

from owabi.backoffice.templatetags.staff import ja
from owabi.notices.models import Notice
from owabi.records.models import Subject
from owabi.redress import selectors
from owabi.redress.models import Call, Request

REASON = "理由（記録に残ります。個人情報は書かないでください）"


class JapaneseForm(forms.Form):
    """Labels without the colon Django adds; the first error named by its field's label."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            label = self.fields[field].label if field in self.fields else ""
            return f"{label}：{errors[0]}" if label else str(errors[0])
        return ""


class StaffForm(JapaneseForm):
    reason = forms.CharField(label=REASON, max_length=500)


class ResendForm(StaffForm):
    channel = forms.ChoiceField(
        label="送付方法", choices=[(value, ja(label)) for value, label in Notice.Channel.choices]
    )
    email = forms.CharField(
        label="訂正後のメールアドレス（変わらなければ空欄）", required=False, max_length=254
    )
    postal_code = forms.CharField(
        label="訂正後の郵便番号（変わらなければ空欄）", required=False, max_length=20
    )
    address = forms.CharField(label="訂正後の住所（変わらなければ空欄）", required=False, max_length=200)
    field_order = ["channel", "email", "postal_code", "address", "reason"]


class UnlockForm(StaffForm):
    notice = forms.IntegerField(widget=forms.HiddenInput)


class ChooseForm(StaffForm):
    option = forms.ChoiceField(label="補償の品目")
    voucher_name = forms.CharField(label="金券の送付先：お名前", required=False, max_length=200)
    voucher_postal_code = forms.CharField(label="金券の送付先：郵便番号", required=False, max_length=20)
    voucher_address = forms.CharField(label="金券の送付先：住所", required=False, max_length=200)
    field_order = ["option", "voucher_name", "voucher_postal_code", "voucher_address", "reason"]

    def __init__(self, *args: Any, subject: Subject, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        options = selectors.catalog(subject.incident_id)
        field = self.fields["option"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(o.key, f"{o.label_ja}（{o.amount_yen:,}円）") for o in options]


class RequestForm(StaffForm):
    kind = forms.ChoiceField(label="依頼の種類", choices=Request.Kind.choices)
    text = forms.CharField(
        label="ご本人の申し出の内容",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    field_order = ["kind", "text", "reason"]


class CallForm(JapaneseForm):
    topic = forms.ChoiceField(label="用件", choices=Call.Topic.choices)
    outcome = forms.ChoiceField(label="結果", choices=Call.Outcome.choices)
    summary = forms.CharField(label="通話の内容", max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    follow_up = forms.CharField(label="追加対応の内容", required=False, max_length=2000)
    follow_up_on = forms.DateField(
        label="追加対応の期日", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class ActionForms:
    """The forms of the person page, by action name (the URL's last part)."""

    KINDS: dict[str, type[forms.Form]] = {
        "resend": ResendForm,
        "unlock": UnlockForm,
        "choose": ChooseForm,
        "request": RequestForm,
        "call": CallForm,
    }

    @classmethod
    def _make(cls, action: str, data: QueryDict | None, subject: Subject) -> Any:
        kind = cls.KINDS[action]
        if kind is ChooseForm:
            return ChooseForm(data, subject=subject, prefix=action)
        return kind(data, prefix=action)

    @classmethod
    def empty(cls, subject: Subject) -> dict[str, Any]:
        return {action: cls._make(action, None, subject) for action in cls.KINDS}

    @classmethod
    def bound(cls, action: str, data: QueryDict, subject: Subject) -> Any:
        return cls._make(action, data, subject) if action in cls.KINDS else None
