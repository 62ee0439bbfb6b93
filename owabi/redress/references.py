"""References people read out on the phone: a letter for the kind, then ten symbols of the notice
codes' alphabet (no 0/O, 1/I/L) in two groups: "R-7KQ2M-XH4TB". 49 bits: not guessable, and every
page that shows one checks that it belongs to the signed-in person anyway."""

from __future__ import annotations

import secrets

from owabi.notices.selectors import CODE_ALPHABET


def new_reference(prefix: str) -> str:
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))
    return f"{prefix}-{symbols[:5]}-{symbols[5:]}"
