"""Which column of an export feeds what: a standard column, an extra leaked item, or nothing (a refused
security code); and the one question import asks before it starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import NamedTuple

from owabi.records import columns
from owabi.records.mapping import Mapping, Person
from owabi.records.readers import ImportFileError, Row


class PersonLayout(NamedTuple):
    """Another person on each row: which columns are theirs (mapping.Person)."""

    role: str
    standard: dict[int, str]
    joins: dict[str, tuple[int, ...]]
    extras: dict[int, tuple[str, str]]


class Layout(NamedTuple):
    standard: dict[int, str]  # column index -> standard column
    extras: dict[int, tuple[str, str]]  # column index -> (extra item's name, category)
    refused: list[int]  # security-code columns: never read
    joins: dict[str, tuple[int, ...]]  # standard column -> the column indexes it is joined from
    codes: dict[int, str]  # column index -> code kind (its values are read as the name they code)
    ignored: dict[int, str]  # column index -> the header it repeats (an id beside its name)
    people: tuple[PersonLayout, ...] = ()  # other people on each row


def header_name(header: str) -> str:
    """A header as an error line names it: quoted and escaped as a mapping file (TOML) writes it, so
    the line stays one line and can be copied (headers are not leaked values)."""
    return json.dumps(header.strip(), ensure_ascii=False)


def read_header(path: Path, header: list[str], mapping: Mapping) -> Layout:
    """Which standard column each input column feeds; unknown columns become extra leaked items; security
    codes are refused. Two extras with one header are both kept ("memo", "memo (2)"); two columns for one
    standard column are refused, naming both, unless the mapping joins them ([join]). A column the
    mapping lists as repeating another ([duplicates]: 都道府県(ID) beside 都道府県(名称)) is not read when
    the other is there.
    """
    layout: dict[int, str] = {}
    extras: dict[int, tuple[str, str]] = {}
    refused: list[int] = []
    ignored: dict[int, str] = {}
    names: set[str] = set()
    keys = [columns.header_key(name) for name in header]
    first_of: dict[str, int] = {}
    for index, key in enumerate(keys):
        first_of.setdefault(key, index)
    joined = {part: standard for standard, parts in mapping.joins.items() for part in parts}
    theirs = {key for person in mapping.people for key in person.headers()}
    join_indexes: dict[str, dict[str, int]] = {standard: {} for standard in mapping.joins}
    for index, name in enumerate(header):
        key = keys[index]
        explicit, category = mapping.columns.get(key), mapping.categories.get(key)
        if columns.SECURITY_CODE in (explicit, category) or (
            not mapping.looked_at(key) and columns.is_security_code(name)
        ):
            refused.append(index)  # never read: the values go no further than the CSV parser
        elif key in theirs:
            continue  # another person's column (below)
        elif key in joined and key not in join_indexes[joined[key]]:
            join_indexes[joined[key]][key] = index
        elif key in mapping.duplicates and mapping.duplicates[key] in first_of:
            ignored[index] = header[first_of[mapping.duplicates[key]]]
        elif (standard := explicit or columns.map_header(name)) is not None:
            if standard in layout.values() or join_indexes.get(standard):
                others = [i for i, c in layout.items() if c == standard] or [*join_indexes[standard].values()]
                first = header[others[0]]
                raise ImportFileError(
                    f"{path.name}, line 1: columns {header_name(first)} and {header_name(name)} both map "
                    f"to {standard}; map one of them to another column in a mapping file (--mapping)"
                )
            layout[index] = standard
        else:
            base = columns.clean(name) or f"(column {index + 1})"
            extra, number = base, 1
            while extra in names:
                number += 1
                extra = f"{base} ({number})"
            names.add(extra)
            extras[index] = (extra, category or "other")
    joins: dict[str, tuple[int, ...]] = {}
    for standard, parts in mapping.joins.items():
        present = tuple(join_indexes[standard][part] for part in parts if part in join_indexes[standard])
        if not present:
            continue
        if standard in layout.values():
            single = next(header[i] for i, column in layout.items() if column == standard)
            raise ImportFileError(
                f"{path.name}, line 1: columns {header_name(header[present[0]])} and {header_name(single)}"
                f" both map to {standard}; map one of them to another column in a mapping file (--mapping)"
            )
        joins[standard] = present
    if "record_id" not in layout.values() and not mapping.line_ids:
        raise ImportFileError(f"{path.name}, line 1: no record_id column (or a known alias)")
    codes = {
        index: mapping.codes[key]
        for index, key in enumerate(keys)
        if key in mapping.codes and (index in layout or any(index in parts for parts in joins.values()))
    }
    people = tuple(_person(person, keys, header, set(refused)) for person in mapping.people)
    for person in people:
        codes.update(
            (index, mapping.codes[keys[index]])
            for index in [*person.standard, *(i for parts in person.joins.values() for i in parts)]
            if keys[index] in mapping.codes
        )
    return Layout(layout, extras, refused, joins, codes, ignored, people)


def _person(person: Person, keys: list[str], header: list[str], refused: set[int]) -> PersonLayout:
    """The columns of another person on the row, by index (the first column of a repeated header)."""
    first_of: dict[str, int] = {}
    for index, key in enumerate(keys):
        if index not in refused:
            first_of.setdefault(key, index)
    standard = {first_of[key]: column for key, column in person.columns.items() if key in first_of}
    joins = {
        column: present
        for column, parts in person.joins.items()
        if (present := tuple(first_of[part] for part in parts if part in first_of))
    }
    extras = {
        first_of[key]: (columns.clean(header[first_of[key]]), category)
        for key, category in person.categories.items()
        if key in first_of
    }
    return PersonLayout(person.role, standard, joins, extras)


def unread(rows: Iterator[Row], refused: list[int]) -> Iterator[Row]:
    """The rows with refused columns' cells blanked, before anything else (sniffing, workers) sees them."""
    if not refused:
        yield from rows
        return
    for row in rows:
        cells = row.cells
        for index in refused:
            if index < len(cells):
                cells[index] = ""
        yield row


# An extra column of a file with card data whose values are all 3-4 digits may be security codes under
# a header the words don't give away (PIN, 確認番号, code2). It is judged from up to SNIFF_VALUES
# non-empty values in the first SNIFF_ROWS rows; a column listed in the mapping file is not asked about.
SNIFF_VALUES = 200
SNIFF_ROWS = 5000
_CODE_LIKE = re.compile(r"[0-9]{3,4}")


def refuse_code_lookalikes(
    path: Path, header: list[str], rows: Iterator[Row], extras: dict[int, tuple[str, str]], mapping: Mapping
) -> Iterator[Row]:
    """`rows` unchanged, or ImportFileError naming an unlisted extra column that holds only 3-4 digits."""
    open_columns = {i: 0 for i in extras if not mapping.looked_at(columns.header_key(header[i]))}
    if not open_columns:
        return rows
    head: list[Row] = []
    for row in rows:
        head.append(row)
        if not row.problem and len(row.cells) == len(header):
            for index in list(open_columns):
                value = columns.clean(row.cells[index])
                if not value:
                    continue
                if not _CODE_LIKE.fullmatch(value):
                    del open_columns[index]
                else:
                    open_columns[index] += 1
        if not open_columns or len(head) >= SNIFF_ROWS or min(open_columns.values()) >= SNIFF_VALUES:
            break
    suspects = [header[index] for index, seen in open_columns.items() if seen]
    if suspects:
        name = header_name(suspects[0])
        raise ImportFileError(
            f"{path.name}, line 1: column {name} holds only 3- or 4-digit numbers, as card security codes "
            f'do; say what it is in a mapping file (--mapping): [columns] {name} = "card_security_code" '
            f'(never read) or [categories] {name} = "other" (imported)'
        )
    return chain(head, rows)
