"""Payee bank accounts for 全銀 総合振込 transfers, checked when a person types them (research/japan.md §5).

Bank and branch codes must exist in the `zengin-code` data (the banks' association codes); the account
holder's name must be writable in the transfer file's character set: half-width katakana without small
kana, ﾞ and ﾟ as separate characters, A–Z, 0–9, space and ( ) - . /. People type full-width katakana,
hiragana or lower case; those are converted, and anything else is refused with a reason.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import jaconv
import zengin_code
from django.utils.translation import gettext as _

from owabi.core.crypto import keyed_hash

ACCOUNT_TYPES = {"1": _("普通"), "2": _("当座"), "4": _("貯蓄")}
# 受取人名 (C30): the characters banks accept in a payee name.
HOLDER_CHARSET = frozenset(
    "ｦｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜﾝﾞﾟABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ()-./"
)
HOLDER_LENGTH = 30
_SMALL_KANA = str.maketrans("ｧｨｩｪｫｬｭｮｯ", "ｱｲｳｴｵﾔﾕﾖﾂ")


class PayeeError(ValueError):
    """What is wrong with an account, for the person who typed it: (field, message)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Account:
    bank_code: str
    bank_name: str
    branch_code: str
    branch_name: str
    account_type: str
    account_number: str  # seven digits
    holder_kana: str  # half-width, as the transfer file carries it

    def as_json(self) -> dict[str, str]:
        return {
            "bank_code": self.bank_code,
            "branch_code": self.branch_code,
            "account_type": self.account_type,
            "account_number": self.account_number,
            "holder_kana": self.holder_kana,
        }

    def fingerprint(self) -> str:
        """Keyed hash of bank, branch and account number: finds one account across claims (a fraud
        signal) without revealing it."""
        return keyed_hash("payee", f"{self.bank_code}\x1f{self.branch_code}\x1f{self.account_number}")


def _digits(value: str) -> str:
    return re.sub(r"[\s\-－‐ー]", "", unicodedata.normalize("NFKC", value or ""))


@lru_cache(maxsize=1)
def _banks() -> dict[str, zengin_code.Bank]:
    return dict(zengin_code.Bank.all)


def bank_name(code: str) -> str:
    bank = _banks().get(code)
    return bank.name if bank else ""


def holder_kana(typed: str) -> str:
    """The payee name as the transfer file writes it: half-width katakana, upper-case Latin; small kana
    become full-size (ｯ → ﾂ), as banks require. Raises PayeeError naming what cannot be written."""
    text = unicodedata.normalize("NFKC", typed or "").strip()
    text = jaconv.hira2kata(text)
    text = jaconv.z2h(text, kana=True, ascii=True, digit=True).upper()
    text = text.replace("ｰ", "-").replace("　", " ")
    text = " ".join(text.split()).translate(_SMALL_KANA)
    if not text:
        raise PayeeError("holder", _("口座名義（カナ）を入力してください"))
    if any(ch not in HOLDER_CHARSET for ch in text):
        raise PayeeError(
            "holder",
            _("口座名義はカタカナ・英大文字・数字で入力してください"),
        )
    if len(text) > HOLDER_LENGTH:
        raise PayeeError("holder", _("口座名義が長すぎます（半角30文字まで）"))
    return text


def check_account(
    *, bank_code: str, branch_code: str, account_type: str, account_number: str, holder: str
) -> Account:
    bank_code = _digits(bank_code).zfill(4) if _digits(bank_code) else ""
    bank = _banks().get(bank_code) if re.fullmatch(r"\d{4}", bank_code) else None
    if bank is None:
        raise PayeeError("bank_code", _("金融機関コード（4桁）が見つかりません"))
    branch_code = _digits(branch_code).zfill(3) if _digits(branch_code) else ""
    branch = bank.branches.get(branch_code) if re.fullmatch(r"\d{3}", branch_code) else None
    if branch is None:
        raise PayeeError("branch_code", _("この金融機関に支店コード（3桁）が見つかりません"))
    if account_type not in ACCOUNT_TYPES:
        raise PayeeError("account_type", _("預金種目を選んでください"))
    number = _digits(account_number)
    if not re.fullmatch(r"\d{1,7}", number):
        raise PayeeError("account_number", _("口座番号は7桁までの数字です"))
    return Account(
        bank_code=bank_code,
        bank_name=bank.name,
        branch_code=branch_code,
        branch_name=branch.name,
        account_type=account_type,
        account_number=number.zfill(7),
        holder_kana=holder_kana(holder),
    )
