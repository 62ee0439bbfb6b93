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
from owabi.records.mapping import Mapping
from owabi.records.readers import ImportFileError, Row


class Layout(NamedTuple):
    standard: dict[int, str]  # column index -> standard column
    extras: dict[int, tuple[str, str]]  # column index -> (extra item's name, category)
    refused: list[int]  # security-code columns: never read


def header_name(header: str) -> str:
    """A header as an error line names it: quoted and escaped as a mapping file (TOML) writes it, so
    the line stays one line and can be copied (headers are not leaked values)."""
    return json.dumps(header.strip(), ensure_ascii=False)


def read_header(path: Path, header: list[str], mapping: Mapping) -> Layout:
    """Which standard column each input column feeds; unknown columns become extra leaked items; security
    codes are refused. Two extras with one header are both kept ("memo", "memo (2)"); two columns for one
    standard column are refused, naming both.
    """
    layout: dict[int, str] = {}
    extras: dict[int, tuple[str, str]] = {}
    refused: list[int] = []
    names: set[str] = set()
    for index, name in enumerate(header):
        key = columns.header_key(name)
        explicit, category = mapping.columns.get(key), mapping.categories.get(key)
        if columns.SECURITY_CODE in (explicit, category) or (
            explicit is None and category is None and columns.is_security_code(name)
        ):
            refused.append(index)  # never read: the values go no further than the CSV parser
        elif (standard := explicit or columns.map_header(name)) is not None:
            if standard in layout.values():
                first = next(header[i] for i, column in layout.items() if column == standard)
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
    if "record_id" not in layout.values():
        raise ImportFileError(f"{path.name}, line 1: no record_id column (or a known alias)")
    return Layout(layout, extras, refused)


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
    open_columns = {i: 0 for i in extras if columns.header_key(header[i]) not in mapping.categories}
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
