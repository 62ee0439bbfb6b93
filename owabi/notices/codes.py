"""Registration codes and login keys printed on notices.

Registration code: the notice's public id. 14 random symbols from a 31-symbol alphabet without look-alikes
(no 0/O, 1/I/L) carry 69 bits; a 15th is a check symbol, so a mistyped or misheard code is caught before
any lookup. Written in three groups of five for reading aloud: "7KQ2M-XH4TB-9RWCE".

Check symbol: the symbol values v1..v15 satisfy sum(i * v_i) = 0 (mod 31). 31 is prime and every weight
is below it, so every single wrong symbol and every swap of two symbols is detected.

Login key: the secret half, 10 symbols (49 bits). It is never stored: it is derived from the code with a
keyed hash under OWABI_NOTICE_KEY, so letters printed later and reminders carry the same key without any
copy of it in the database, and a login recomputes it and compares in constant time. A key that must be
withdrawn (a stolen letter) is withdrawn with its notice: a replacement notice has a new code, hence a
new key.
"""

from __future__ import annotations

import array
import hmac
import os
import unicodedata
from collections.abc import Iterator

from django.conf import settings

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, a prime
_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
CODE_RANDOM = 14  # symbols: 14 * log2(31) = 69.4 bits
CODE_LENGTH = CODE_RANDOM + 1
KEY_LENGTH = 10  # symbols: 49.5 bits
GROUP = 5
_SEPARATORS = str.maketrans("", "", " -‐‑‒–—―ー－_　.")


class CodeError(ValueError):
    """A code that cannot be one of ours; the message is for the person who typed it."""


# Codes are drawn two symbols at a time: a 16-bit word from os.urandom below _WORDS (the largest multiple
# of 31^2 that fits) names one of the 961 pairs, so each pair, hence each symbol, is equally likely; a
# draw with a word at or above _WORDS is thrown away whole (rejection, not modulo: no bias; about 2 % of
# draws). Tables give each pair's two symbols and its share of the weighted sum behind the check symbol.
_PAIRS = BASE * BASE
_WORDS = 2**16 // _PAIRS * _PAIRS  # 65,348
_CHECK_INVERSE = pow(CODE_LENGTH, -1, BASE)  # check = -total / 15 (mod 31)
_PAIR_SYMBOLS = [ALPHABET[pair % BASE] + ALPHABET[pair // BASE] for pair in range(_PAIRS)]
# Pair k holds symbols 2k+1 and 2k+2 (weights in the check sum).
_PAIR_WEIGHTS = [
    [((2 * k + 1) * (pair % BASE) + (2 * k + 2) * (pair // BASE)) % BASE for pair in range(_PAIRS)]
    for k in range(CODE_RANDOM // 2)
]
_CHECK_OF_TOTAL = [ALPHABET[(-total * _CHECK_INVERSE) % BASE] for total in range(CODE_RANDOM // 2 * BASE)]
assert CODE_RANDOM == 14  # the unrolled draw below reads 7 pairs


def new_codes(count: int) -> list[str]:
    """`count` fresh registration codes in their canonical form (no separators), from one read of the
    operating system's random source per batch: notices are prepared by the million."""
    made: list[str] = []
    limit, pairs, symbols, check = _WORDS, _PAIRS, _PAIR_SYMBOLS, _CHECK_OF_TOTAL
    w1, w2, w3, w4, w5, w6, w7 = _PAIR_WEIGHTS
    while len(made) < count:
        # A few draws more than needed, as about 2 % are thrown away.
        draws = count - len(made)
        words = array.array("H", os.urandom(CODE_RANDOM * (draws + draws // 32 + 2)))
        for a, b, c, d, e, f, g in zip(*[iter(words)] * 7, strict=True):
            if max(a, b, c, d, e, f, g) >= limit:
                continue
            a, b, c, d, e, f, g = a % pairs, b % pairs, c % pairs, d % pairs, e % pairs, f % pairs, g % pairs
            made.append(
                symbols[a]
                + symbols[b]
                + symbols[c]
                + symbols[d]
                + symbols[e]
                + symbols[f]
                + symbols[g]
                + check[w1[a] + w2[b] + w3[c] + w4[d] + w5[e] + w6[f] + w7[g]]
            )
    del made[count:]
    return made


def new_code() -> str:
    """A fresh registration code in its canonical form (no separators)."""
    return new_codes(1)[0]


def code_stream(batch: int = 256) -> Iterator[str]:
    """Fresh codes without end, drawn `batch` at a time (for a loop that does not know how many it needs).
    Keep it local to one loop: a stream carried across a fork would hand both processes the same codes."""
    while True:
        yield from new_codes(batch)


def group(code: str, size: int = GROUP) -> str:
    """The printed form: "7KQ2M-XH4TB-9RWCE"."""
    return "-".join(code[i : i + size] for i in range(0, len(code), size))


def _symbols(typed: str) -> str:
    return unicodedata.normalize("NFKC", typed).upper().translate(_SEPARATORS)


def parse_code(typed: str) -> str:
    """The canonical code from what a person typed (any case, full-width, spaces or dashes), or CodeError.

    Checked offline: a code that fails here never reaches the database or the rate limiter's budget for
    real guesses.
    """
    text = _symbols(typed)
    if len(text) != CODE_LENGTH:
        raise CodeError(
            f"登録コードは{CODE_LENGTH}文字です / The registration code has {CODE_LENGTH} characters"
        )
    if any(symbol not in _VALUE for symbol in text):
        raise CodeError(
            "登録コードに 0・O・1・I・L は使われていません / The code never uses 0, O, 1, I or L"
            if any(symbol in "0O1IL" for symbol in text)
            else "登録コードに使えない文字があります / The code contains a character it never uses"
        )
    values = [_VALUE[symbol] for symbol in text]
    if sum(weight * value for weight, value in enumerate(values, start=1)) % BASE:
        raise CodeError(
            "登録コードに誤りがあります。もう一度ご確認ください / The code has a typo; please check it"
        )
    return text


def login_key(code: str) -> str:
    """The login key of a canonical code: derived, never stored."""
    digest = hmac.digest(settings.OWABI_NOTICE_KEY, b"login-key\x1f" + code.encode("ascii"), "sha256")
    number = int.from_bytes(digest, "big")
    symbols = []
    for _ in range(KEY_LENGTH):
        number, value = divmod(number, BASE)
        symbols.append(ALPHABET[value])
    return "".join(symbols)


def key_matches(code: str, typed_key: str) -> bool:
    """Whether `typed_key` (any case, width, separators) is the login key of canonical `code`."""
    return hmac.compare_digest(_symbols(typed_key).encode(), login_key(code).encode())
