"""Registration codes catch every typo of one symbol and every swap; login keys are derived, not stored."""

from __future__ import annotations

import pytest
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from owabi.core.env import new_key
from owabi.notices import codes


def test_a_new_code_has_enough_entropy_and_reads_back() -> None:
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    code = made.pop()
    assert len(code) == 15 and set(code) <= set(codes.ALPHABET)
    assert not set(code) & set("01OIL")
    assert codes.CODE_RANDOM * 4.95 >= 60  # bits of randomness
    printed = codes.group(code)
    assert printed.count("-") == 2 and len(printed) == 17
    assert codes.parse_code(printed) == code
    # As people type it: lower case, full width, spaces, a long dash.
    typed = " ".join(printed.lower().split("-")).translate({ord(c): ord(c) + 0xFEE0 for c in "2345"})
    assert codes.parse_code(typed.replace(" ", "ー", 1)) == code


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 14), st.integers(1, 30))
def test_every_single_wrong_symbol_is_caught(position: int, shift: int) -> None:
    code = codes.new_code()
    wrong = codes.ALPHABET[(codes.ALPHABET.index(code[position]) + shift) % codes.BASE]
    with pytest.raises(codes.CodeError, match="typo"):
        codes.parse_code(code[:position] + wrong + code[position + 1 :])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 14), st.integers(0, 14))
def test_every_swap_of_two_different_symbols_is_caught(i: int, j: int) -> None:
    code = codes.new_code()
    if code[i] == code[j]:
        return  # swapping equal symbols changes nothing
    chars = list(code)
    chars[i], chars[j] = chars[j], chars[i]
    with pytest.raises(codes.CodeError, match="typo"):
        codes.parse_code("".join(chars))


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("ABCD", "15"),
        ("0" * 15, "never uses 0, O, 1, I or L"),
        ("?" * 15, "character it never uses"),
    ],
)
def test_impossible_codes_get_a_plain_reason(typed: str, message: str) -> None:
    with pytest.raises(codes.CodeError, match=message):
        codes.parse_code(typed)


def test_login_keys_are_derived_per_code_and_under_the_notice_key() -> None:
    code, other = codes.new_code(), codes.new_code()
    key = codes.login_key(code)
    assert len(key) == codes.KEY_LENGTH and set(key) <= set(codes.ALPHABET)
    assert codes.KEY_LENGTH * 4.95 >= 40
    assert codes.login_key(code) == key != codes.login_key(other)
    assert codes.key_matches(code, f" {key[:5].lower()}-{key[5:]} ")
    assert not codes.key_matches(code, codes.login_key(other))
    assert not codes.key_matches(code, "")
    with override_settings(OWABI_NOTICE_KEY=new_key().encode()[:32]):
        assert codes.login_key(code) != key
