"""Import leaked-record exports: stream, reduce card data, seal PII, index, and reject what is unusable.

Every input row ends up either as a LeakRecord or as a line in the rejects file with its line number,
field and reason, and `rows_in == rows_ok + rows_rejected` always holds. No PII is written to the
rejects file, the logs or error messages: the operator finds the row by its line number.
"""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from owabi.core import audit
from owabi.core.crypto import blind_index
from owabi.incidents.models import Incident
from owabi.records import cards, columns
from owabi.records.mapping import Mapping
from owabi.records.models import LeakRecord, SourceFile
from owabi.records.readers import ImportFileError, open_table

BATCH = 1000


@dataclass
class Reject:
    line: int
    field: str
    reason: str


@dataclass
class ImportResult:
    source_file: SourceFile
    already_imported: bool
    rejects: list[Reject] = field(default_factory=list)
    rejects_path: Path | None = None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _clean(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _name_key(value: str) -> str:
    return re.sub(r"\s+", "", _clean(value))


def _digits(value: str) -> str:
    return re.sub(r"\D", "", _clean(value))


def import_file(
    *,
    incident: Incident,
    path: Path,
    source: str = "",
    actor: str,
    rejects_path: Path | None = None,
    mapping: Mapping | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import one CSV/TSV/Excel export into `incident`. A file already imported into it is a no-op."""
    mapping = mapping or Mapping()
    sha = _sha256(path)
    existing = SourceFile.objects.filter(incident=incident, sha256=sha).first()
    if existing is not None:
        return ImportResult(source_file=existing, already_imported=True)
    table = open_table(path, encoding=mapping.encoding, delimiter=mapping.delimiter)
    header = table.header
    layout, extras, security_code = _layout(path, header, mapping)
    rejects: list[Reject] = []
    with transaction.atomic():
        source_file = SourceFile.objects.create(
            incident=incident,
            source=source or mapping.source or path.stem,
            file_name=path.name,
            sha256=sha,
            encoding=table.encoding,
            mapping={header[i]: c for i, c in layout.items()},
        )
        seen_ids: set[str] = set()
        batch: list[LeakRecord] = []
        rows_in = 0
        for line, row, problem in table.rows():
            rows_in += 1
            if progress and rows_in % 10000 == 0:
                progress(rows_in)
            if problem:
                rejects.append(Reject(line, "", problem))
                continue
            if len(row) != len(header):
                rejects.append(Reject(line, "", f"expected {len(header)} fields, found {len(row)}"))
                continue
            record = _build_record(
                incident,
                source_file,
                line,
                row,
                layout,
                extras,
                security_code,
                seen_ids,
                rejects,
            )
            if record is not None:
                batch.append(record)
            if len(batch) >= BATCH:
                LeakRecord.objects.bulk_create(batch)
                batch = []
        if batch:
            LeakRecord.objects.bulk_create(batch)
        source_file.rows_in = rows_in
        source_file.rows_rejected = len(rejects)
        source_file.rows_ok = rows_in - len(rejects)
        source_file.save()
        audit.record(
            actor=actor,
            action="records.import",
            object_type="source_file",
            object_id=source_file.pk,
            data={
                "incident": incident.slug,
                "sha256": sha,
                "rows_in": rows_in,
                "rows_ok": source_file.rows_ok,
                "rows_rejected": len(rejects),
                "security_code_column_refused": security_code,
            },
        )
    if rejects:
        rejects_path = rejects_path or path.with_name(path.stem + ".rejects.csv")
        with rejects_path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["file", "line", "field", "reason"])
            writer.writerows([path.name, r.line, r.field, r.reason] for r in rejects)
    return ImportResult(source_file, False, rejects, rejects_path if rejects else None)


def _layout(
    path: Path, header: list[str], mapping: Mapping
) -> tuple[dict[int, str], dict[int, tuple[str, str]], bool]:
    """Which standard column each input column feeds; unknown columns become extra leaked items.

    Returns (index -> standard column, index -> (extra header, category), security-code column seen).
    """
    layout: dict[int, str] = {}
    extras: dict[int, tuple[str, str]] = {}
    security_code = False
    for index, name in enumerate(header):
        key = columns.header_key(name)
        if columns.is_security_code(name):
            security_code = True  # never read: the values go no further than the CSV parser
        elif (standard := mapping.columns.get(key) or columns.map_header(name)) is not None:
            if standard in layout.values():
                raise ImportFileError(f"{path.name}, line 1: two columns map to {standard}")
            layout[index] = standard
        elif key:
            extras[index] = (_clean(name), mapping.categories.get(key, "other"))
    if "record_id" not in layout.values():
        raise ImportFileError(f"{path.name}, line 1: no record_id column (or a known alias)")
    return layout, extras, security_code


def _build_record(
    incident: Incident,
    source_file: SourceFile,
    line: int,
    row: list[str],
    mapping: dict[int, str],
    extras: dict[int, tuple[str, str]],
    security_code: bool,
    seen_ids: set[str],
    rejects: list[Reject],
) -> LeakRecord | None:
    values = {column: _clean(row[index]) for index, column in mapping.items() if row[index].strip()}
    record_id = values.pop("record_id", "")
    if not record_id:
        rejects.append(Reject(line, "record_id", "missing"))
        return None
    if len(record_id) > 100:
        rejects.append(Reject(line, "record_id", "longer than 100 characters"))
        return None
    if record_id in seen_ids:
        rejects.append(Reject(line, "record_id", "appears earlier in the same file"))
        return None
    seen_ids.add(record_id)
    card_hash = ""
    if "card_number" in values:
        try:
            reduced = cards.reduce(values.pop("card_number"))
        except cards.CardNumberError as error:
            rejects.append(Reject(line, "card_number", str(error)))
            return None
        values.setdefault("card_last4", reduced.last4)
        if reduced.brand:
            values.setdefault("card_brand", reduced.brand)
        card_hash = reduced.number_hash
    if "card_last4" in values and not re.fullmatch(r"\d{4}", values["card_last4"]):
        rejects.append(Reject(line, "card_last4", "must be exactly 4 digits"))
        return None
    if not values.get("subject_name") and not values.get("guardian_name"):
        rejects.append(Reject(line, "subject_name", "neither a name nor a guardian's name"))
        return None
    filled_extras = [(extras[index], _clean(row[index])) for index in extras if row[index].strip()]
    extra_values = {name: value for (name, _), value in filled_extras}
    leaked = {columns.CATEGORY_OF[c] for c in values if c in columns.CATEGORY_OF}
    leaked |= {category for (_, category), _ in filled_extras}
    if security_code:
        leaked.add("card_security_code")
    categories = sorted(leaked)
    sealed: dict[str, Any] = dict(values)
    if card_hash:
        sealed["card_number_hash"] = card_hash
    if extra_values:
        sealed["extras"] = extra_values
    name = _name_key(values.get("subject_name", ""))
    return LeakRecord(
        incident=incident,
        source_file=source_file,
        record_id=record_id,
        line_no=line,
        sealed=sealed,
        categories=categories,
        bx_name_phone=blind_index("name_phone", name, _digits(values.get("phone", ""))),
        bx_name_card=blind_index("name_card", name, values.get("card_last4", "")),
        bx_email=blind_index("email", values.get("email", "").lower()),
    )
