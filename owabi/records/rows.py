"""Reading one row of an export as import keeps it: the row's own person and the other people a layout
names on it, card data reduced, values cleaned, joined and decoded, problems noted. No database: import
(services) and its check (preview) read rows through this one path, in worker processes too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from owabi.records import cards, columns, normalize
from owabi.records import features as feature_module
from owabi.records.layout import PersonLayout

_clean = columns.clean


@dataclass
class Reject:
    line: int
    field: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """What a worker needs to turn raw rows into database rows (picklable; no database access)."""

    width: int
    layout: dict[int, str]
    extras: dict[int, tuple[str, str]]
    security_code: bool  # a security-code column was refused
    card_file: bool  # the file has card columns
    copy: bool  # format rows for COPY (PostgreSQL)
    incident: int  # lookup keys are made per incident
    joins: dict[str, tuple[int, ...]]  # standard column -> the columns joined into it, in order
    codes: dict[int, str]  # column index -> code kind, read as the name it codes
    line_ids: bool  # no id column: a row's id is its line
    people: tuple[PersonLayout, ...]  # other people on each row


def row_problem(plan: Plan, line: int, cells: list[str], problem: str) -> Reject | None:
    """Why a row cannot be read as a record at all (unreadable, wrong width, NUL), or None."""
    if problem:
        return Reject(line, "", problem)
    if len(cells) != plan.width:
        return Reject(line, "", f"expected {plan.width} fields, found {len(cells)}")
    if any("\x00" in cell for cell in cells):
        return Reject(line, "", "contains a NUL character (not text)")
    return None


DUPLICATE_ID = "appears earlier in the same file"


# A row stands for someone with any of these: a name (or its reading, or a guardian's) to address, or a
# contact to reach them by.
_STANDS_FOR_SOMEONE = frozenset(
    {"subject_name", "subject_kana", "guardian_name", "guardian_kana", "phone", "email", "address"}
)
_CARD_FIELDS = frozenset(columns.CARD_COLUMNS)
_NO_ONE = "no name, guardian's name or contact (phone, e-mail, address)"


def _decode(kind: str, value: str) -> str:
    """A coded value as the name it codes (JP-13: 東京都); a value that is no such code stays as it is."""
    if kind == "prefecture" and value:
        return normalize.prefecture_of_code(value) or value
    return value


class RowRead(NamedTuple):
    """One row as import keeps it, before sealing."""

    record_id: str
    role: str  # "" for the row's own person (mapping.ROLES)
    sealed: dict[str, Any]  # the values to seal (card numbers reduced, extras under "extras")
    leaked: set[str]  # category codes
    problems: list[str]  # "field: reason", never a value
    match_keys: tuple[str | None, ...]  # features.stored


def read_row(
    plan: Plan, line: int, row: list[str], rejects: list[Reject], warnings: list[Reject]
) -> list[RowRead]:
    """The people of a row as import keeps them (the row's own person first, then the others the layout
    names: [people.NAME]), or [] with the reason in `rejects`. No database and no keys beyond the card
    hash: what `--check` shows is what import would write."""
    limit = MAX_ID - len(plan.people) * 3  # room for the other people's "#2" ..
    own = PersonLayout("", plan.layout, plan.joins, plan.extras)
    main = _read_person(plan, own, line, row, rejects, warnings, limit=limit)
    if main is None:
        return []
    found = [main]
    for number, person in enumerate(plan.people, start=2):
        theirs: list[Reject] = []  # an empty 配送先 is no reject: the row stands for its own person
        other = _read_person(plan, person, line, row, [], theirs, given_id=f"{main.record_id}#{number}")
        if other is not None and not _same_person(main, other):
            found.append(other)
            warnings.extend(theirs)
    return found


MAX_ID = 100  # LeakRecord.record_id
_SAME_PERSON = [
    i
    for i, column in enumerate(feature_module.STORED_COLUMNS)
    if column in ("name_key", "phone", "address_key")
]


def _same_person(one: RowRead, other: RowRead) -> bool:
    """The other person on the row is the row's own (an order shipped to the buyer): the same name,
    phone and address after normalization (features.stored). Not a second record."""
    return all(one.match_keys[i] == other.match_keys[i] for i in _SAME_PERSON)


def _read_person(
    plan: Plan,
    person: PersonLayout,
    line: int,
    row: list[str],
    rejects: list[Reject],
    warnings: list[Reject],
    *,
    given_id: str = "",
    limit: int = MAX_ID,
) -> RowRead | None:
    role, layout, joins, extras = person
    values = {column: _clean(row[index]) for index, column in layout.items() if row[index].strip()}
    if plan.codes:
        for index, kind in plan.codes.items():
            if (column := layout.get(index)) in values:
                values[column] = _decode(kind, values[column])
    for column, indexes in joins.items():
        parts = [_decode(plan.codes.get(i, ""), _clean(row[i])) for i in indexes]
        if joined := columns.join(column, parts):
            values[column] = joined
    record_id = given_id or values.pop("record_id", "") or (f"line {line}" if plan.line_ids else "")
    if not record_id:
        rejects.append(Reject(line, "record_id", "missing"))
        return None
    if len(record_id) > limit:
        rejects.append(Reject(line, "record_id", f"longer than {limit} characters"))
        return None
    extra_values = {extras[index][0]: _clean(row[index]) for index in extras if row[index].strip()}
    # Card data: full numbers cut out of every field, then the card columns read.
    notes: list[tuple[str, str]] = []  # (field, reason) of values kept out; never the value
    found: list[cards.ReducedCard] = []
    record_id = cards.cut_from_row(record_id, values, extra_values, found, notes)
    more_cards: list[dict[str, str]] = []
    card_hash, had_card = "", False
    if found or not _CARD_FIELDS.isdisjoint(values):
        card_hash, more_cards, had_card = cards.reduce_row(values, found, notes)
    if _STANDS_FOR_SOMEONE.isdisjoint(values):  # values holds only non-empty ones
        rejects.append(Reject(line, "subject_name", _NO_ONE))
        return None
    leaked = {columns.CATEGORY_OF[c] for c in values if c in columns.CATEGORY_OF}
    leaked |= {category for name, category in extras.values() if name in extra_values}
    if had_card:
        leaked.add("card_number")
    if plan.security_code and not role and (had_card or not plan.card_file):
        leaked.add("card_security_code")
    sealed: dict[str, Any] = dict(values)
    if card_hash:
        sealed["card_number_hash"] = card_hash
    if more_cards:
        sealed["more_cards"] = more_cards
    if extra_values:
        sealed["extras"] = extra_values
    found_problems: list[tuple[str, str]] = []
    match_keys = feature_module.stored(sealed, found_problems)
    problems = [f"{name}: {reason}" for name, reason in notes]
    problems += [f"{name}: {reason}" for name, reason in found_problems]
    warnings.extend(Reject(line, name, reason) for name, reason in notes)
    warnings.extend(
        Reject(line, name, f"{reason} (kept; not used for matching)") for name, reason in found_problems
    )
    return RowRead(record_id, role, sealed, leaked, problems, match_keys)
