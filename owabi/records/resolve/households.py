"""Households: rows joined by a shared phone, e-mail address or street address, through any chain.

Household members share contact data; that is evidence of the household, not of the person (DESIGN.md
§4.2). The scoring model compares households (resolve_model.SAME_HOUSEHOLD), and recipients are found
through the contact data children's rows share with their guardian's.
"""

from __future__ import annotations

from typing import Any

from owabi.records.resolve.union_find import roots, union

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


def households(table: Any) -> list[int]:
    """Per row of an Arrow table (columns phone, email, address_key), its household: the rows joined by
    a shared phone, e-mail or address, through any chain of rows. A household is named by its smallest
    row index, so it does not depend on the order of the work.

    A family that moved has rows at the old home and at the new one that share nothing, but the father's
    mobile is on his rows at both. A value on more than HOUSEHOLD_TOKEN_LIMIT rows is not a home's (a
    switchboard, a placeholder address) and joins nothing. Card digits are left out: four digits
    coincide between strangers. Arrow groups the rows by value; only the links go through Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    parent = list(range(n))
    index = pa.array(range(n), pa.int64())
    for name in ("phone", "email", "address_key"):
        values = table.column(name)
        rows = pa.table({"value": values, "row": index}).filter(pc.is_valid(values))
        groups = rows.group_by("value").aggregate([("row", "min"), ("row", "count")])
        count = groups.column("row_count")
        groups = groups.filter(pc.and_(pc.greater(count, 1), pc.less_equal(count, HOUSEHOLD_TOKEN_LIMIT)))
        linked = rows.join(groups, "value", join_type="inner")
        linked = linked.filter(pc.not_equal(linked.column("row"), linked.column("row_min")))
        for a, b in zip(linked.column("row").to_pylist(), linked.column("row_min").to_pylist(), strict=True):
            union(parent, a, b)  # the smaller root wins: a household's root is its smallest row
    return roots(parent)


def contact_tokens(col: dict[str, list[Any]], i: int) -> list[tuple[str, str]]:
    """Row `i`'s phone, e-mail, address and card, as (kind, value) pairs."""
    return [(kind, col[kind][i]) for kind in CONTACT_KINDS if col[kind][i]]
