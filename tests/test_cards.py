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


VISA = "4111111111111111"  # test numbers the brands publish: Luhn-valid, never issued
AMEX = "378282246310005"


@pytest.mark.parametrize(
    ("value", "brand", "last4", "full"),
    [
        ("XXXX-XXXX-XXXX-1234", "", "1234", False),
        ("xxxx xxxx xxxx 1234", "", "1234", False),
        ("************1234", "", "1234", False),
        ("**** **** **** 1234", "", "1234", False),
        ("＊＊＊＊＊＊＊＊＊＊＊＊１２３４", "", "1234", False),
        ("•••• •••• •••• 1234", "", "1234", False),
        ("●●●●-●●●●-●●●●-1234", "", "1234", False),
        ("####1234", "", "1234", False),
        ("末尾1234", "", "1234", False),
        ("末尾：１２３４", "", "1234", False),
        ("下4桁：1234", "", "1234", False),
        ("下４桁 1234", "", "1234", False),
        ("下四桁は1234", "", "1234", False),
        ("1234", "", "1234", False),
        ("１２３４", "", "1234", False),
        ("*1234", "", "1234", False),
        ("XXXX-XXXXXX-X1005", "", "1005", False),
        ("3782-******-*1005", "AMEX", "1005", False),
        ("411111******1111", "VISA", "1111", False),
        ("5555 55** **** 4444", "MASTERCARD", "4444", False),
        ("  ************1234 ", "", "1234", False),
        ("VISA ****1234", "VISA", "1234", False),
        ("Visa末尾1234", "VISA", "1234", False),
        ("AMEX XXXX-XXXXXX-X1005", "AMEX", "1005", False),
        ("411111******", "VISA", "", False),
        (VISA, "VISA", "1111", True),
        ("4111 1111 1111 1111", "VISA", "1111", True),
        ("4111-1111-1111-1111", "VISA", "1111", True),
        ("４１１１－１１１１－１１１１－１１１１", "VISA", "1111", True),
        (" 4111  1111 1111 1111 ", "VISA", "1111", True),
        (AMEX, "AMEX", "0005", True),
        ("3782 822463 10005", "AMEX", "0005", True),
        ("3530111333300000", "JCB", "0000", True),
    ],
)
def test_every_form_an_export_holds_a_card_in_is_read(value: str, brand: str, last4: str, full: bool) -> None:
    card = cards.reduce(value)
    assert (card.brand, card.last4, bool(card.number_hash)) == (brand, last4, full)


def test_the_hash_is_the_same_however_the_full_number_is_written() -> None:
    hashes = {cards.reduce(v).number_hash for v in (VISA, "4111 1111 1111 1111", "４１１１-1111-1111-1111")}
    assert len(hashes) == 1 and VISA not in hashes.pop()


@pytest.mark.parametrize("value", ["", "  ", "-", "ー", "なし", "不明", "N/A", "null"])
def test_a_value_that_says_there_is_no_card_is_no_card(value: str) -> None:
    assert cards.reduce(value) == cards.NO_CARD


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("4111111111111112", "card number fails the check digit"),
        ("4111-11", "6 digits: neither a card number (12-19) nor its last 4"),
        ("123", "3 digits: neither a card number (12-19) nor its last 4"),
        ("12345678901234567890", "20 digits: neither a card number (12-19) nor its last 4"),
        ("****123", "a masked number that does not end in 4 digits"),
        ("****-****", "masked entirely: no digits to keep"),
        ("末尾12", "says it gives the last 4 digits but does not hold 4 digits"),
        ("楽天 ****1234", "not a card number: words where digits belong"),
        ("カード番号不明です", "not a card number: words where digits belong"),
        ("12/25", "not a card number, a masked one or its last 4 digits"),
    ],
)
def test_an_unreadable_value_raises_a_fixed_reason_without_the_value(value: str, reason: str) -> None:
    with pytest.raises(cards.CardNumberError) as error:
        cards.reduce(value)
    assert str(error.value) == reason


@pytest.mark.parametrize(
    ("text", "kept", "last4s"),
    [
        ("山田 4111 1111 1111 1111 太郎", "山田 太郎", ["1111"]),
        ("山田太郎4111111111111111", "山田太郎", ["1111"]),
        ("東京都千代田区1-2-3 4111-1111-1111-1111", "東京都千代田区1-2-3", ["1111"]),
        ("1-2-3-4111-1111-1111-1111", "1-2-3", ["1111"]),
        ("3782 822463 10005 と 5555555555554444", "と", ["0005", "4444"]),
        ("memo: 3530111333300000.", "memo:", ["0000"]),
        ("6445 6445 6445 6445", "", ["6445"]),  # Discover's 644-649 range
    ],
)
def test_full_numbers_are_cut_out_of_other_text(text: str, kept: str, last4s: list[str]) -> None:
    remaining, found = cards.cut_numbers(text)
    assert remaining == kept
    assert [card.last4 for card in found] == last4s and all(card.number_hash for card in found)


@pytest.mark.parametrize(
    "text",
    [
        "090-1234-5678",
        "+81 90 1234 5678",
        "tel 090-1234-5678 03-1234-5678",  # two phone numbers side by side
        "080-4123-4567 090-4111-1111",
        "4111111111111112",  # fails the check digit
        "1234567812345670",  # passes it, but no card brand starts with 1
        "4111111111111111111111",  # 22 digits in one run: not a card
        "41111111111111",  # a Visa IIN and the check digit, but a length Visa does not issue
        "会員番号 9999 9999 9999 9995",
        "〒100-0001 東京都千代田区千代田1-1 2024-01-01",
    ],
)
def test_numbers_that_are_not_cards_stay(text: str) -> None:
    assert cards.cut_numbers(text) == (text, [])
