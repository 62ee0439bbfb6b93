"""Portal forms: parse and check what a person typed; the services decide the rest. Labels and errors
are plain Japanese (translated to English), each error tied to its field in the templates."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from owabi.notices import selectors as notice_selectors
from owabi.redress.models import Claim, Request
from owabi.redress.payees import ACCOUNT_TYPES


class PortalForm(forms.Form):
    """Error texts a person understands: "入力してください" rather than Django's "this field"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.BooleanField):
                field.error_messages["required"] = _("確認のうえ、チェックを入れてください。")
            elif isinstance(field, forms.ChoiceField):
                field.error_messages["required"] = _("選んでください。")
            else:
                field.error_messages["required"] = _("入力してください。")


class SignInForm(PortalForm):
    code = forms.CharField(label=_("登録コード"), max_length=40)
    key = forms.CharField(label=_("ログインキー"), max_length=40)

    def clean_code(self) -> str:
        try:
            return notice_selectors.parse_code(self.cleaned_data["code"])
        except notice_selectors.CodeError:
            raise forms.ValidationError(
                _("登録コードに誤りがあります。お知らせに書かれた15文字をご確認ください。")
            ) from None


class CheckForm(PortalForm):
    code = forms.CharField(label=_("登録コード"), max_length=40)

    def clean_code(self) -> str:
        try:
            return notice_selectors.parse_code(self.cleaned_data["code"])
        except notice_selectors.CodeError:
            raise forms.ValidationError(
                _("登録コードに誤りがあります。お知らせに書かれた15文字をご確認ください。")
            ) from None


class ChoiceForm(PortalForm):
    option = forms.ChoiceField(label=_("お詫びの品"), widget=forms.RadioSelect)
    name = forms.CharField(label=_("お名前"), max_length=100, required=False)
    postal_code = forms.CharField(label=_("郵便番号"), max_length=10, required=False)
    address = forms.CharField(label=_("住所"), max_length=200, required=False)

    def __init__(
        self, *args: Any, options: list[tuple[str, str]], voucher_keys: set[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["option"]).choices = options
        self.voucher_keys = voucher_keys

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("option") in self.voucher_keys:
            for name in ("name", "postal_code", "address"):
                if not (data.get(name) or "").strip():
                    self.add_error(name, _("郵送先として入力してください。"))
        return data


class RequestForm(PortalForm):
    kind = forms.ChoiceField(
        label=_("ご依頼の内容"),
        widget=forms.RadioSelect,
        choices=[
            (Request.Kind.DELETE, _("当社が持っている個人情報を削除してほしい")),
            (Request.Kind.STOP_MARKETING, _("広告やご案内を送らないでほしい")),
            (Request.Kind.CORRECT_CONTACT, _("連絡先（住所・電話・メール）を訂正したい")),
            (Request.Kind.MISUSE, _("流出した情報を使った不審な連絡があった")),
        ],
    )
    person = forms.TypedChoiceField(label=_("対象の方"), coerce=int, required=False, empty_value=None)
    text = forms.CharField(
        label=_("詳しい内容（任意）"), widget=forms.Textarea, max_length=2000, required=False
    )
    new_postal_code = forms.CharField(label=_("新しい郵便番号"), max_length=10, required=False)
    new_address = forms.CharField(label=_("新しい住所"), max_length=200, required=False)
    new_phone = forms.CharField(label=_("新しい電話番号"), max_length=30, required=False)
    new_email = forms.EmailField(label=_("新しいメールアドレス"), required=False)

    def __init__(self, *args: Any, people: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["person"]).choices = [("", _("全員"))] + [
            (str(n), name) for n, name in people
        ]


class AccountForm(PortalForm):
    """A payee account (checked by redress.payees.check_account): a new claim's, or a returned one's."""

    bank_code = forms.CharField(label=_("金融機関コード（4桁）"), max_length=8)
    branch_code = forms.CharField(label=_("支店コード（3桁）"), max_length=8)
    account_type = forms.ChoiceField(label=_("預金種目"), choices=list(ACCOUNT_TYPES.items()))
    account_number = forms.CharField(label=_("口座番号（7桁まで）"), max_length=12)
    holder = forms.CharField(label=_("口座名義（カタカナ）"), max_length=60)


class ClaimForm(AccountForm):
    person = forms.TypedChoiceField(label=_("被害にあわれた方"), coerce=int)
    kind = forms.ChoiceField(
        label=_("請求の種類"),
        widget=forms.RadioSelect,
        choices=[
            (Claim.Kind.REISSUE_FEE, _("カード再発行の手数料")),
            (Claim.Kind.FRAUD_CHARGE, _("カードの不正利用の被害（カード会社から補償されなかった分）")),
            (Claim.Kind.OTHER_LOSS, _("その他の損害")),
        ],
    )
    amount_yen = forms.IntegerField(label=_("金額（円）"), min_value=1, max_value=10_000_000)
    occurred_on = forms.DateField(label=_("被害にあった日（わかれば）"), required=False)
    description = forms.CharField(label=_("内容"), widget=forms.Textarea, max_length=2000)
    agree = forms.BooleanField(label=_("記入した内容に誤りがないことを確認しました"))

    def __init__(self, *args: Any, people: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["person"]).choices = [(str(n), name) for n, name in people]


class LookupForm(PortalForm):
    name = forms.CharField(label=_("お名前"), max_length=100)
    phone = forms.CharField(label=_("電話番号"), max_length=30, required=False)
    card_last4 = forms.CharField(label=_("クレジットカード番号の下4桁"), max_length=10, required=False)
    email = forms.CharField(label=_("メールアドレス"), max_length=254, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any((data.get(name) or "").strip() for name in ("phone", "card_last4", "email")):
            raise forms.ValidationError(
                _("電話番号・カード下4桁・メールアドレスのいずれかを入力してください。")
            )
        return data
