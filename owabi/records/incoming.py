"""Which files one `owabi import` takes: every export of a folder, or the files a manifest lists.

A folder's files are taken in name order, those whose ending says they are an export owabi reads; every
other file is named with the reason it is left alone (hidden files, the rejects and warnings files
import writes beside an export, Excel lock files, sub-folders, other kinds). An old .xls workbook is
not ignored but refused: it holds leaked data owabi cannot read yet, and the run must say so.

A manifest (TOML, like the mapping files) lists the files, relative to itself, each with its source
name and optionally a layout or a mapping file:

    [[files]]
    path = "shop/customers.csv"
    source = "EC shop"               # default: the layout's source, else the file's name
    layout = "ec-cube-customers"     # optional: a built-in layout (owabi import --help)
    [[files]]
    path = "crm/members.xlsx"
    mapping = "maps/crm.toml"        # optional: a mapping file, relative to the manifest

A bad manifest is refused whole, before anything is imported, naming its line, entry and field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from owabi.records import layouts
from owabi.records.mapping import Mapping, load_mapping
from owabi.records.readers import EXCEL_SUFFIXES, ImportFileError

TEXT_SUFFIXES = {".csv", ".tsv", ".tab", ".txt"}
EXPORT_SUFFIXES = TEXT_SUFFIXES | EXCEL_SUFFIXES
REPORT_ENDINGS = (".rejects.csv", ".warnings.csv")  # written by import beside each export
OLD_EXCEL = ".xls"
MANIFEST_SUFFIX = ".toml"
ENTRY_KEYS = ("path", "source", "layout", "mapping")


@dataclass(frozen=True)
class Planned:
    """One file to import, with what its manifest entry (or the command line) says about it."""

    path: Path
    source: str = ""
    mapping: Mapping | None = None
    refused: str = ""  # why it cannot be imported, known before reading it ("" when it can be tried)


@dataclass
class Selection:
    files: list[Planned] = field(default_factory=list)
    ignored: list[tuple[str, str]] = field(default_factory=list)  # (file name, why it is left alone)


def ignored_because(path: Path) -> str:
    """Why a folder's file is not an export to import ("" when it is one)."""
    name = path.name
    if name.startswith("."):
        return "hidden"
    if path.is_dir():
        return "a folder (sub-folders are not read)"
    if name.lower().endswith(REPORT_ENDINGS):
        return "a rejects or warnings file written by owabi import"
    if name.startswith("~$"):
        return "an Excel lock file (the workbook is open somewhere)"
    if path.suffix.lower() == MANIFEST_SUFFIX:
        return f"a manifest or mapping file (import a manifest with: owabi import {name})"
    if path.suffix.lower() not in EXPORT_SUFFIXES | {OLD_EXCEL}:
        known = ", ".join(sorted(EXPORT_SUFFIXES))
        return f"not an export owabi reads ({path.suffix or 'no ending'}; it reads {known})"
    return ""


def _refused(path: Path) -> str:
    if path.suffix.lower() == OLD_EXCEL:
        return f"{path.name}: an old Excel workbook (.xls); save it as .xlsx or CSV and run again"
    return ""


def from_folder(folder: Path, *, source: str = "", mapping: Mapping | None = None) -> Selection:
    """The folder's exports in name order, each with `source` and `mapping` (given for all of them)."""
    selection = Selection()
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if reason := ignored_because(path):
            selection.ignored.append((path.name, reason))
            continue
        selection.files.append(Planned(path, source, mapping, _refused(path)))
    return selection


_ENTRY = re.compile(r"^\s*\[\[\s*files\s*\]\]")


class _Where:
    """Where a manifest's entries and their fields are, by line, for error messages."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.lines = text.splitlines()
        self.starts = [number for number, line in enumerate(self.lines, start=1) if _ENTRY.match(line)]

    def at(self, entry: int, key: str = "") -> str:
        """ "manifest.toml, line 7, [[files]] entry 2, layout" (entry counts from 1)."""
        place = self.name
        if len(self.starts) >= entry:
            first = self.starts[entry - 1]
            end = self.starts[entry] if len(self.starts) > entry else len(self.lines) + 1
            line = first
            if key:
                pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
                line = next((n for n in range(first, end) if pattern.match(self.lines[n - 1])), first)
            place += f", line {line}"
        place += f", [[files]] entry {entry}"
        return f"{place}, {key}" if key else place


def from_manifest(manifest: Path) -> Selection:
    """The files `manifest` lists, each checked: the file is there, its layout is known, its mapping
    file reads. ImportFileError naming the manifest, line, entry and field otherwise."""
    try:
        text = manifest.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise ImportFileError(f"{manifest.name}: cannot read the manifest (UTF-8 text expected)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ImportFileError(f"{manifest.name}: not valid TOML ({error})") from None
    if unknown := sorted(set(data) - {"files"}):
        raise ImportFileError(
            f"{manifest.name}: unknown keys {', '.join(unknown)}; a manifest lists [[files]] entries only"
        )
    entries = data.get("files")
    if not isinstance(entries, list) or not entries:
        raise ImportFileError(
            f'{manifest.name}: no files listed; add one [[files]] entry per file, with path = "..."'
        )
    where = _Where(manifest.name, text)
    selection = Selection()
    seen: dict[Path, int] = {}
    for number, entry in enumerate(entries, start=1):
        planned = _entry(manifest, where, number, entry)
        resolved = planned.path.resolve()
        if resolved in seen:
            raise ImportFileError(
                f"{where.at(number, 'path')}: {planned.path.name} is already listed in entry {seen[resolved]}"
            )
        seen[resolved] = number
        selection.files.append(planned)
    return selection


def _text(where: _Where, number: int, entry: dict[str, Any], key: str) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise ImportFileError(f"{where.at(number, key)}: must be text in quotes")
    return value.strip()


def _entry(manifest: Path, where: _Where, number: int, entry: Any) -> Planned:
    if not isinstance(entry, dict):
        raise ImportFileError(f"{where.at(number)}: must be a table of {', '.join(ENTRY_KEYS)}")
    if unknown := sorted(set(entry) - set(ENTRY_KEYS)):
        raise ImportFileError(
            f"{where.at(number, unknown[0])}: unknown key (an entry has {', '.join(ENTRY_KEYS)})"
        )
    name = _text(where, number, entry, "path")
    if not name:
        raise ImportFileError(f"{where.at(number, 'path')}: missing; name the file, relative to the manifest")
    path = manifest.parent / name
    if not path.is_file():
        raise ImportFileError(
            f"{where.at(number, 'path')}: no such file {name} (paths are relative to the manifest)"
        )
    if path.name.lower().endswith(REPORT_ENDINGS) or path.suffix.lower() not in EXPORT_SUFFIXES | {OLD_EXCEL}:
        raise ImportFileError(f"{where.at(number, 'path')}: {ignored_because(path)}")
    source = _text(where, number, entry, "source")
    if len(source) > 100:  # SourceFile.source
        raise ImportFileError(f"{where.at(number, 'source')}: longer than 100 characters")
    layout, mapping_name = _text(where, number, entry, "layout"), _text(where, number, entry, "mapping")
    if layout and mapping_name:
        raise ImportFileError(f"{where.at(number, 'mapping')}: give a layout or a mapping, not both")
    mapping = None
    try:
        if layout:
            mapping = layouts.get(layout)
        elif mapping_name:
            mapping_path = manifest.parent / mapping_name
            if not mapping_path.is_file():
                raise ImportFileError(f"no such file {mapping_name} (paths are relative to the manifest)")
            mapping = load_mapping(mapping_path)
    except ImportFileError as error:
        raise ImportFileError(f"{where.at(number, 'layout' if layout else 'mapping')}: {error}") from None
    return Planned(path, source, mapping, _refused(path))
