"""`owabi import FILE --check`: what an import of the file would do, read through the importer's own
code, without writing anything (no database row, no file, no audit event: it only reads the export).

Values are shown masked, each word to its first character (山田 太郎 -> 山* 太*), so the operator can
see that columns land where they should without the check printing anyone's data.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from owabi.incidents import categories
from owabi.records.layout import Layout, header_name
from owabi.records.mapping import Mapping
from owabi.records.readers import ENCODING_NAMES, ImportFileError
from owabi.records.rows import DUPLICATE_ID, Reject, read_row, row_problem
from owabi.records.services import open_export

SAMPLES = 5
NOTHING_WRITTEN = "nothing was written (this was a check)"


@dataclass
class Check:
    file_name: str
    encoding: str
    delimiter: str
    layout: str  # the layout's name and title, or how the header is read without one
    suggestion: str
    columns: list[tuple[str, str]]  # (header, what it feeds)
    rows: int = 0
    kept: int = 0
    records: int = 0  # people kept (a row may hold several)
    roles: Counter[str] = field(default_factory=Counter)  # other people on rows, by role
    rejects: Counter[str] = field(default_factory=Counter)  # reason -> rows
    warnings: Counter[str] = field(default_factory=Counter)  # "field: reason" -> values
    warned_rows: int = 0
    samples: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (line, masked values)
    refused_file: str = ""  # why import would refuse the file after its header ("" when it would not)


def mask(value: str) -> str:
    """Each word to its first character and a star per other character (山田 太郎 -> 山* 太*); a word of
    one character to a star."""
    return " ".join(
        word[:1] + "*" * (len(word) - 1) if len(word) > 1 else "*" * len(word) for word in value.split(" ")
    )


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _what(index: int, read: Layout) -> str:
    if index in read.refused:
        return "refused: a card security code column, never read"
    if index in read.ignored:
        return f"ignored: repeats {header_name(read.ignored[index])}"
    coded = ", codes read as names" if index in read.codes else ""
    for role, standard, joins, extras in [("", read.standard, read.joins, read.extras), *read.people]:
        whose = f"{role}: " if role else ""
        if index in standard:
            return f"{whose}{standard[index]}{f' ({coded[2:]})' if coded else ''}"
        for column, indexes in joins.items():
            if index in indexes:
                return f"{whose}{column} (part {indexes.index(index) + 1} of {len(indexes)}{coded})"
        if index in extras:
            name, category = extras[index]
            label = categories.label(category)
            return f"{whose}extra item {header_name(name)}, category {category} ({label})"
    return "not read (a second column with another person's header)"


def check_file(path: Path, mapping: Mapping | None) -> Check:
    """Read the whole export as import would and count what it would keep, reject and warn about."""
    opened = open_export(path, mapping, incident=0, copy=False)
    table, plan, read = opened.table, opened.plan, opened.read
    header = table.header
    if opened.mapping.name:
        layout = f"{opened.mapping.name} ({opened.mapping.title})"
    elif mapping is not None:
        layout = "the mapping file's"
    else:
        layout = "standard columns and their aliases (no layout)"
    check = Check(
        file_name=path.name,
        encoding=ENCODING_NAMES.get(table.encoding, table.encoding),
        delimiter={"\t": "tab", "": "(workbook)"}.get(table.delimiter, table.delimiter),
        layout=layout,
        suggestion=opened.suggestion,
        columns=[(name, _what(i, read)) for i, name in enumerate(header)],
    )
    seen: set[str] = set()
    warned: set[int] = set()
    try:
        for line, cells, problem in opened.rows:
            check.rows += 1
            rejects: list[Reject] = []
            warnings: list[Reject] = []
            if broken := row_problem(plan, line, cells, problem):
                rejects.append(broken)
                people = []
            else:
                people = read_row(plan, line, cells, rejects, warnings)
            if people and people[0].record_id in seen:
                check.rejects[f"record_id: {DUPLICATE_ID}"] += 1
                continue
            for reject in rejects:
                check.rejects[f"{reject.field}: {reject.reason}" if reject.field else reject.reason] += 1
            if not people:
                continue
            seen.add(people[0].record_id)
            check.kept += 1
            check.records += len(people)
            check.roles.update(person.role for person in people if person.role)
            for warning in warnings:
                check.warnings[f"{warning.field}: {warning.reason}"] += 1
                warned.add(line)
            if len(check.samples) < SAMPLES:
                for person in people:
                    check.samples.append((line, _masked(person.record_id, person.role, person.sealed)))
    except ImportFileError as error:
        check.refused_file = str(error)
    check.warned_rows = len(warned)
    return check


def _masked(record_id: str, role: str, sealed: dict[str, Any]) -> dict[str, str]:
    values = {"record_id": mask(record_id), **({"role": role} if role else {})}
    for name, value in sealed.items():
        if name == "card_number_hash":
            continue
        if name == "extras":
            values.update({extra: mask(text) for extra, text in value.items()})
        elif name == "more_cards":
            values[name] = f"{len(value)} more"
        else:
            values[name] = mask(str(value))
    return values


def lines(check: Check) -> list[str]:
    """The check as the command prints it."""
    out = [
        f"{check.file_name}: encoding {check.encoding}, delimiter {check.delimiter!r}, layout {check.layout}",
    ]
    if check.suggestion:
        out.append(check.suggestion)
    out.append("columns:")
    names = [header_name(name) for name, _ in check.columns]
    width = max(map(_width, names), default=0)
    out += [
        f"  {name}{' ' * (width - _width(name))} -> {what}"
        for name, (_, what) in zip(names, check.columns, strict=True)
    ]
    if check.refused_file:
        out.append(f"import would refuse the file: {check.refused_file}")
        return out
    rejected = check.rows - check.kept
    out.append(
        f"rows: in {check.rows:,} = kept {check.kept:,} + rejected {rejected:,};"
        f" {sum(check.warnings.values()):,} warnings on {check.warned_rows:,} kept rows"
    )
    if check.records != check.kept:
        by_role = ", ".join(f"{count:,} {role}" for role, count in check.roles.most_common())
        out.append(f"  the kept rows hold {check.records:,} people: one per row and {by_role}")
    out += [f"  rejected, {reason}: {count:,}" for reason, count in check.rejects.most_common()]
    out += [f"  warning, {reason}: {count:,}" for reason, count in check.warnings.most_common()]
    out.append(f"sample rows (masked), first {SAMPLES} kept:")
    for line, values in check.samples:
        shown = ", ".join(f"{name}={value}" for name, value in values.items())
        out.append(f"  line {line}: {shown}")
    out.append(NOTHING_WRITTEN)
    return out
