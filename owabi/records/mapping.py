"""Mapping files (TOML) for exports whose headers the standard names and aliases don't cover. The
built-in layouts (owabi/records/layouts/*.toml, `--layout NAME`) are mapping files too.

name = "ec-cube-customers"       # a layout's name and what it is for (shown by --check)
title = "EC-CUBE 4 会員CSV"
source = "zemi"                  # default --source
encoding = "cp932"               # override detection (CSV/TSV only)
delimiter = "\\t"
line_ids = true                  # no id column in the export: a row's id is its line ("line 12")
optional = ["Customer ID"]       # headers some versions of the export lack (layout matching)
[columns]                        # input header -> standard column (DESIGN.md §4.1)
"お子さまのお名前" = "subject_name"
"PIN" = "card_security_code"     # a security code: never read, recorded as a leaked category
[join]                           # standard column <- several headers, in order (columns.JOINERS)
subject_name = ["お名前(姓)", "お名前(名)"]
address = ["都道府県(名称)", "住所1", "住所2"]
[codes]                          # a header whose values are codes for a name, read as the name
"Province Code" = "prefecture"   # JP-13, 13 -> 東京都
[duplicates]                     # a header that repeats another one as an id: not read when both are there
"都道府県(ID)" = "都道府県(名称)"
[categories]                     # extra (unmapped) header -> leaked-data category code
"口座番号" = "bank_account"
"支店コード" = "other"            # looked at: not a security code, import it

A column listed in any table has been looked at: import does not ask about it again (an unlisted
column of 3-4 digit values in a file with card data is refused until it is listed: layout.py).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from owabi.incidents import categories
from owabi.records import columns
from owabi.records.readers import ImportFileError

CODE_KINDS = ("prefecture",)


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    source: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    joins: dict[str, tuple[str, ...]] = field(default_factory=dict)  # standard column -> header keys
    codes: dict[str, str] = field(default_factory=dict)  # header key -> code kind
    duplicates: dict[str, str] = field(default_factory=dict)  # header key -> header key it repeats
    line_ids: bool = False
    name: str = ""
    title: str = ""
    headers: tuple[str, ...] = ()  # every header the file names, as written (layout matching, --check)
    optional: frozenset[str] = frozenset()  # header keys some versions of the export lack

    def looked_at(self, key: str) -> bool:
        """Has the mapping said what the column with this header key is?"""
        return (
            key in self.columns
            or key in self.categories
            or key in self.codes
            or key in self.duplicates
            or any(key in parts for parts in self.joins.values())
        )


def load_mapping(path: Path) -> Mapping:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ImportFileError(f"{path.name}: cannot read the mapping file") from None
    return parse_mapping(path.name, text)


def parse_mapping(name: str, text: str) -> Mapping:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ImportFileError(f"{name}: not valid TOML ({error})") from None
    known = {"columns", "categories", "source", "encoding", "delimiter"}
    known |= {"join", "codes", "duplicates", "line_ids", "name", "title", "optional"}
    if unknown := sorted(set(data) - known):
        raise ImportFileError(f"{name}: unknown keys {', '.join(unknown)}")
    mapped: dict[str, Any] = data.get("columns", {})
    for header, standard in mapped.items():
        if standard not in columns.STANDARD and standard != columns.SECURITY_CODE:
            raise ImportFileError(f"{name}: [columns] {header!r} maps to unknown column {standard!r}")
    extra: dict[str, Any] = data.get("categories", {})
    for header, code in extra.items():
        if not categories.is_known(code):
            raise ImportFileError(f"{name}: [categories] {header!r} names unknown category {code!r}")
    joins: dict[str, Any] = data.get("join", {})
    for standard, parts in joins.items():
        if standard not in columns.JOINERS:
            allowed = ", ".join(columns.JOINERS)
            raise ImportFileError(f"{name}: [join] {standard!r} cannot be joined (only {allowed})")
        if not isinstance(parts, list) or len(parts) < 2 or not all(isinstance(p, str) for p in parts):
            raise ImportFileError(f"{name}: [join] {standard!r} must list two or more headers")
        if standard in mapped.values():
            raise ImportFileError(f"{name}: {standard!r} is both in [columns] and in [join]")
    codes: dict[str, Any] = data.get("codes", {})
    for header, kind in codes.items():
        if kind not in CODE_KINDS:
            raise ImportFileError(f"{name}: [codes] {header!r} names unknown code kind {kind!r}")
    duplicates: dict[str, Any] = data.get("duplicates", {})
    for header, original in duplicates.items():
        if not isinstance(original, str) or columns.header_key(original) == columns.header_key(header):
            raise ImportFileError(f"{name}: [duplicates] {header!r} must name another header")
    tables = [list(mapped), list(extra), list(duplicates), [p for parts in joins.values() for p in parts]]
    seen: set[str] = set()
    for header in (h for table in tables for h in table):
        if columns.header_key(header) in seen:
            raise ImportFileError(f"{name}: {header!r} is listed twice")
        seen.add(columns.header_key(header))
    delimiter = data.get("delimiter")
    if delimiter is not None and len(delimiter) != 1:
        raise ImportFileError(f"{name}: delimiter must be one character")
    named = [*mapped, *extra, *duplicates, *codes, *(p for parts in joins.values() for p in parts)]
    return Mapping(
        columns={columns.header_key(h): c for h, c in mapped.items()},
        categories={columns.header_key(h): c for h, c in extra.items()},
        source=str(data.get("source", "")),
        encoding=data.get("encoding"),
        delimiter=delimiter,
        joins={c: tuple(columns.header_key(p) for p in parts) for c, parts in joins.items()},
        codes={columns.header_key(h): k for h, k in codes.items()},
        duplicates={columns.header_key(h): columns.header_key(o) for h, o in duplicates.items()},
        line_ids=bool(data.get("line_ids", False)),
        name=str(data.get("name", "")),
        title=str(data.get("title", "")),
        headers=tuple(dict.fromkeys(named)),
        optional=frozenset(columns.header_key(h) for h in data.get("optional", [])),
    )
