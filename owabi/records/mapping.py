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
[people.shipping]                # another person on each row: a record of their own (mapping.ROLES)
role = "shipping_recipient"
columns = { "配送先_TEL" = "phone" }
join = { subject_name = ["配送先_お名前(姓)", "配送先_お名前(名)"] }
categories = { "配送先_会社名" = "other" }
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
# Who another person on a row is to it, and the columns such a person can have.
ROLES = ("shipping_recipient",)
PERSON_COLUMNS = (
    *("subject_name", "subject_kana", "subject_birth_date", "subject_gender"),
    *("postal_code", "address", "phone", "fax", "email"),
)


@dataclass(frozen=True)
class Person:
    """Another person on each row ([people.NAME]): a record of their own, linked to the row's."""

    role: str
    columns: dict[str, str]  # header key -> standard column
    joins: dict[str, tuple[str, ...]]
    categories: dict[str, str]

    def headers(self) -> set[str]:
        return {*self.columns, *self.categories, *(p for parts in self.joins.values() for p in parts)}


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
    people: tuple[Person, ...] = ()  # other people on each row

    def looked_at(self, key: str) -> bool:
        """Has the mapping said what the column with this header key is?"""
        return (
            key in self.columns
            or key in self.categories
            or key in self.codes
            or key in self.duplicates
            or any(key in parts for parts in self.joins.values())
            or any(key in person.headers() for person in self.people)
        )


def load_mapping(path: Path) -> Mapping:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ImportFileError(f"{path.name}: cannot read the mapping file") from None
    return parse_mapping(path.name, text)


def _columns(name: str, where: str, mapped: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for header, standard in mapped.items():
        if standard not in allowed:
            raise ImportFileError(f"{name}: [{where}] {header!r} maps to unknown column {standard!r}")


def _categories(name: str, where: str, extra: dict[str, Any]) -> None:
    for header, code in extra.items():
        if not categories.is_known(code):
            raise ImportFileError(f"{name}: [{where}] {header!r} names unknown category {code!r}")


def _joins(name: str, where: str, joins: dict[str, Any], mapped: dict[str, Any]) -> None:
    for standard, parts in joins.items():
        if standard not in columns.JOINERS:
            allowed = ", ".join(columns.JOINERS)
            raise ImportFileError(f"{name}: [{where}] {standard!r} cannot be joined (only {allowed})")
        if not isinstance(parts, list) or len(parts) < 2 or not all(isinstance(p, str) for p in parts):
            raise ImportFileError(f"{name}: [{where}] {standard!r} must list two or more headers")
        if standard in mapped.values():
            raise ImportFileError(f"{name}: {standard!r} is both in [columns] and in [{where}]")


def _keys(table: dict[str, Any]) -> dict[str, Any]:
    return {columns.header_key(header): value for header, value in table.items()}


def _parts(joins: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    return {column: tuple(columns.header_key(part) for part in parts) for column, parts in joins.items()}


def _people(name: str, people: Any) -> list[tuple[Person, list[str]]]:
    """[people.NAME] tables: each another person on the row, with the headers it names."""
    found = []
    for key, table in people.items():
        where = f"people.{key}"
        if not isinstance(table, dict) or (
            unknown := sorted(set(table) - {"role", "columns", "join", "categories"})
        ):
            raise ImportFileError(f"{name}: [{where}] unknown keys {', '.join(unknown)}")
        if table.get("role") not in ROLES:
            raise ImportFileError(f"{name}: [{where}] role must be one of {', '.join(ROLES)}")
        mapped, joins, extra = table.get("columns", {}), table.get("join", {}), table.get("categories", {})
        _columns(name, f"{where}.columns", mapped, PERSON_COLUMNS)
        _joins(name, f"{where}.join", joins, mapped)
        _categories(name, f"{where}.categories", extra)
        person = Person(table["role"], _keys(mapped), _parts(joins), _keys(extra))
        found.append((person, [*mapped, *extra, *(p for parts in joins.values() for p in parts)]))
    return found


def parse_mapping(name: str, text: str) -> Mapping:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ImportFileError(f"{name}: not valid TOML ({error})") from None
    known = {"columns", "categories", "source", "encoding", "delimiter"}
    known |= {"join", "codes", "duplicates", "line_ids", "name", "title", "optional", "people"}
    if unknown := sorted(set(data) - known):
        raise ImportFileError(f"{name}: unknown keys {', '.join(unknown)}")
    mapped: dict[str, Any] = data.get("columns", {})
    _columns(name, "columns", mapped, (*columns.STANDARD, columns.SECURITY_CODE))
    extra: dict[str, Any] = data.get("categories", {})
    _categories(name, "categories", extra)
    joins: dict[str, Any] = data.get("join", {})
    _joins(name, "join", joins, mapped)
    codes: dict[str, Any] = data.get("codes", {})
    for header, kind in codes.items():
        if kind not in CODE_KINDS:
            raise ImportFileError(f"{name}: [codes] {header!r} names unknown code kind {kind!r}")
    duplicates: dict[str, Any] = data.get("duplicates", {})
    for header, original in duplicates.items():
        if not isinstance(original, str) or columns.header_key(original) == columns.header_key(header):
            raise ImportFileError(f"{name}: [duplicates] {header!r} must name another header")
    people = _people(name, data.get("people", {}))
    tables = [list(mapped), list(extra), list(duplicates), [p for parts in joins.values() for p in parts]]
    tables += [headers for _, headers in people]
    seen: set[str] = set()
    for header in (h for table in tables for h in table):
        if columns.header_key(header) in seen:
            raise ImportFileError(f"{name}: {header!r} is listed twice")
        seen.add(columns.header_key(header))
    delimiter = data.get("delimiter")
    if delimiter is not None and len(delimiter) != 1:
        raise ImportFileError(f"{name}: delimiter must be one character")
    named = [*mapped, *extra, *duplicates, *codes, *(p for parts in joins.values() for p in parts)]
    named += [header for _, headers in people for header in headers]
    return Mapping(
        columns=_keys(mapped),
        categories=_keys(extra),
        source=str(data.get("source", "")),
        encoding=data.get("encoding"),
        delimiter=delimiter,
        joins=_parts(joins),
        codes=_keys(codes),
        duplicates={columns.header_key(h): columns.header_key(o) for h, o in duplicates.items()},
        line_ids=bool(data.get("line_ids", False)),
        name=str(data.get("name", "")),
        title=str(data.get("title", "")),
        headers=tuple(dict.fromkeys(named)),
        optional=frozenset(columns.header_key(h) for h in data.get("optional", [])),
        people=tuple(person for person, _ in people),
    )
