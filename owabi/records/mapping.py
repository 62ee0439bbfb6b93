"""Mapping files (TOML) for exports whose headers the standard names and aliases don't cover.

source = "zemi"                  # default --source
encoding = "cp932"               # override detection (CSV/TSV only)
delimiter = "\\t"
[columns]                        # input header -> standard column (DESIGN.md §4.1)
"お子さまのお名前" = "subject_name"
"PIN" = "card_security_code"     # a security code: never read, recorded as a leaked category
[categories]                     # extra (unmapped) header -> leaked-data category code
"口座番号" = "bank_account"
"支店コード" = "other"            # looked at: not a security code, import it

A column listed in either table has been looked at: import does not ask about it again (an unlisted
column of 3-4 digit values in a file with card data is refused until it is listed: layout.py).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from owabi.incidents import categories
from owabi.records import columns
from owabi.records.readers import ImportFileError


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)
    source: str = ""
    encoding: str | None = None
    delimiter: str | None = None


def load_mapping(path: Path) -> Mapping:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        raise ImportFileError(f"{path.name}: cannot read the mapping file") from None
    except tomllib.TOMLDecodeError as error:
        raise ImportFileError(f"{path.name}: not valid TOML ({error})") from None
    known = {"columns", "categories", "source", "encoding", "delimiter"}
    if unknown := sorted(set(data) - known):
        raise ImportFileError(f"{path.name}: unknown keys {', '.join(unknown)}")
    mapped = data.get("columns", {})
    for header, standard in mapped.items():
        if standard not in columns.STANDARD and standard != columns.SECURITY_CODE:
            raise ImportFileError(f"{path.name}: [columns] {header!r} maps to unknown column {standard!r}")
    extra = data.get("categories", {})
    for header, code in extra.items():
        if not categories.is_known(code):
            raise ImportFileError(f"{path.name}: [categories] {header!r} names unknown category {code!r}")
    delimiter = data.get("delimiter")
    if delimiter is not None and len(delimiter) != 1:
        raise ImportFileError(f"{path.name}: delimiter must be one character")
    return Mapping(
        columns={columns.header_key(h): c for h, c in mapped.items()},
        categories={columns.header_key(h): c for h, c in extra.items()},
        source=str(data.get("source", "")),
        encoding=data.get("encoding"),
        delimiter=delimiter,
    )
