"""Households: rows joined by a shared phone, e-mail address or street address, through any chain.

Household members share contact data; that is evidence of the household, not of the person (DESIGN.md
§4.2). The scoring model compares households (resolve_model.SAME_HOUSEHOLD), and recipients are found
through the contact data children's rows share with their guardian's.
"""

from __future__ import annotations

from typing import Any

from owabi.records.resolve.union_find import Int64s, components, grouped_links, value_codes

CONTACT_KINDS = ("phone", "email", "address_key", "card_last4")
# The home's own evidence. A reading or a given name alone is weak (homophone names are common), so
# matches on those ask for one of these: an e-mail address or a card is a person's, not the home's, and
# e-mail local parts made of a name and a birth year (misaki84@) are what people of that name pick.
HOME_KINDS = ("phone", "address_key")
# What two rows of one person born on one day share where a call centre re-keyed the name with other kanji
# (clusters.join_read_alike): the home's phone and address, an e-mail address, the postal code.
READ_ALIKE_KINDS = ("phone", "email", "address_key", "postal")
# A phone, e-mail address or street address on more rows than this links no household (households()).
HOUSEHOLD_TOKEN_LIMIT = 40


def households(table: Any) -> Int64s:
    """Per row of an Arrow table (columns phone, email, address_key), its household: the rows joined by
    a shared phone, e-mail or address, through any chain of rows (a numpy array). A household is named by
    its smallest row index, so it does not depend on the order of the work.

    A family that moved has rows at the old home and at the new one that share nothing, but the father's
    mobile is on his rows at both. A value on more than HOUSEHOLD_TOKEN_LIMIT rows is not a home's (a
    switchboard, a placeholder address) and joins nothing. Card digits are left out: four digits
    coincide between strangers. Rows are grouped by their values' codes and joined through chains in
    numpy (a Python list of parents took about 40 bytes a row, 1.3 GiB at 35 million)."""
    import numpy as np

    n = table.num_rows
    rows = np.arange(n, dtype=np.int64)
    left, right = [], []
    for name in ("phone", "email", "address_key"):
        code, _ = value_codes(table.column(name))
        linked = grouped_links(code, rows, limit=HOUSEHOLD_TOKEN_LIMIT)
        left.append(linked[0])
        right.append(linked[1])
    return components(n, np.concatenate(left), np.concatenate(right))


def contact_tokens(col: dict[str, list[Any]], i: int) -> list[tuple[str, str]]:
    """Row `i`'s phone, e-mail, address and card, as (kind, value) pairs."""
    return [(kind, col[kind][i]) for kind in CONTACT_KINDS if col[kind][i]]
