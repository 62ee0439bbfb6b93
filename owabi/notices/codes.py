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

import hmac
import secrets
import unicodedata

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


def _check_symbol(values: list[int]) -> int:
    total = sum(weight * value for weight, value in enumerate(values, start=1)) % BASE
    # Solve total + CODE_LENGTH * check = 0 (mod 31).
    return (-total * pow(CODE_LENGTH, -1, BASE)) % BASE


def new_code() -> str:
    """A fresh registration code in its canonical form (no separators)."""
    # One draw below 31^14, read as 14 base-31 digits: the same uniform symbols as 14 draws below 31, for
    # a fraction of the cost (notices are prepared by the million).
    number = secrets.randbelow(BASE**CODE_RANDOM)
    values = []
    for _ in range(CODE_RANDOM):
        number, value = divmod(number, BASE)
        values.append(value)
    return "".join(ALPHABET[v] for v in [*values, _check_symbol(values)])


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
