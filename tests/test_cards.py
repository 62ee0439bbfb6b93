"""Card brands as exports spell them come out as one canonical code."""

from __future__ import annotations

import pytest

from owabi.records import cards


@pytest.mark.parametrize(
    ("spelling", "code"),
    [
        ("VISA", "VISA"),
        ("Visa", "VISA"),
        ("ビザ", "VISA"),
        ("VISAカード", "VISA"),
        ("MASTER", "MASTERCARD"),
        ("Master", "MASTERCARD"),
        ("MasterCard", "MASTERCARD"),
        ("Mastercard", "MASTERCARD"),
        ("Master Card", "MASTERCARD"),
        ("マスターカード", "MASTERCARD"),
        ("ＪＣＢ", "JCB"),
        (" jcb ", "JCB"),
        ("AMEX", "AMEX"),
        ("American Express", "AMEX"),
        ("アメックス", "AMEX"),
        ("アメリカン・エキスプレス", "AMEX"),
        ("Diners", "DINERS"),
        ("Diners Club", "DINERS"),
        ("ダイナース", "DINERS"),
        ("Discover", "DISCOVER"),
        ("UnionPay", "UNIONPAY"),
        ("銀聯", "UNIONPAY"),
    ],
)
def test_it_folds_every_spelling_of_a_brand(spelling: str, code: str) -> None:
    assert cards.canonical_brand(spelling) == code


def test_it_tells_a_blank_brand_from_an_unknown_one() -> None:
    assert cards.canonical_brand("") == ""
    assert cards.canonical_brand("\u3000") == ""
    assert cards.canonical_brand("楽天") is None


def test_the_brand_a_number_gives_is_already_canonical() -> None:
    for number in ("4111111111111111", "5555555555554444", "378282246310005", "3530111333300000"):
        code = cards.reduce(number).brand
        assert cards.canonical_brand(code) == code
        assert cards.brand_label(code, "ja") and cards.brand_label(code, "en")
