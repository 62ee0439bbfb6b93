"""Registration codes catch every typo of one symbol and every swap; login keys are derived, not stored."""

from __future__ import annotations

import itertools
from collections import Counter

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


def test_codes_drawn_in_bulk_are_all_valid_and_every_symbol_turns_up_at_every_position() -> None:
    draws = 31 * 1000
    made = codes.new_codes(draws) + [codes.new_code() for _ in range(50)]
    assert len(set(made)) == len(made) == draws + 50
    assert all(codes.parse_code(code) == code for code in made)
    # Each of the 15 positions (the check symbol too: it is uniform when the others are) shows each of
    # the 31 symbols about draws / 31 = 1,000 times; a position stuck, skewed or tied to another fails.
    # Within 20 % of 1,000 is more than 6 standard deviations: this never fails by chance.
    for position in range(codes.CODE_LENGTH):
        seen = Counter(code[position] for code in made[:draws])
        assert set(seen) == set(codes.ALPHABET), position
        assert min(seen.values()) >= 800 and max(seen.values()) <= 1200, (position, seen)
    # Any two positions vary independently: all 31 x 31 combinations turn up (each ~32 times), so no
    # position copies or follows another.
    columns = list(zip(*made[:draws], strict=True))
    for first, second in itertools.combinations(range(codes.CODE_LENGTH), 2):
        assert len(set(zip(columns[first], columns[second], strict=True))) == 31 * 31, (first, second)
    assert codes.new_codes(0) == []
    stream = codes.code_stream(batch=3)
    assert len({next(stream) for _ in range(10)}) == 10


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
