"""Import leaked-record exports: stream, reduce card data, seal PII, index, and reject what is unusable.

Every input row ends up either as a LeakRecord or as a line in the rejects file with its line number,
field and reason, and `rows_in == rows_ok + rows_rejected` always holds. No PII is written to the
rejects file, the logs or error messages: the operator finds the row by its line number.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from owabi.core import audit
from owabi.core.crypto import blind_index
from owabi.incidents.models import Incident
from owabi.records import cards, columns
from owabi.records.models import LeakRecord, SourceFile

BATCH = 1000


class ImportFileError(Exception):
    """The file as a whole cannot be read (message names file and line, never values)."""


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


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file decodes as UTF-8, else CP932 (Shift_JIS)."""
    incremental = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                incremental.decode(chunk)
            incremental.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp932"
    return "utf-8-sig"


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


@dataclass
class _Row:
    line: int
    values: dict[str, str]
    extras: dict[str, str]


def _rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[list[str], int, list[str]]]:
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ImportFileError(f"{path.name}: the file is empty") from None
        except (UnicodeDecodeError, csv.Error):
            raise ImportFileError(f"{path.name}, line 1: the header cannot be read") from None
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError:
                raise ImportFileError(
                    f"{path.name}, line {reader.line_num + 1}: bytes that are not valid {encoding}"
                ) from None
            except csv.Error as error:
                raise ImportFileError(f"{path.name}, line {reader.line_num}: {error}") from None
            yield header, reader.line_num, row


def import_file(
    *,
    incident: Incident,
    path: Path,
    source: str = "",
    actor: str,
    rejects_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import one CSV/TSV export into `incident`. A file already imported into it is a no-op."""
    sha = _sha256(path)
    existing = SourceFile.objects.filter(incident=incident, sha256=sha).first()
    if existing is not None:
        return ImportResult(source_file=existing, already_imported=True)
    encoding = detect_encoding(path)
    delimiter = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    rejects: list[Reject] = []
    with transaction.atomic():
        source_file = SourceFile.objects.create(
            incident=incident, source=source or path.stem, file_name=path.name, sha256=sha, encoding=encoding
        )
        mapping: dict[int, str] = {}
        extras: dict[int, str] = {}
        security_code = False
        seen_ids: set[str] = set()
        batch: list[LeakRecord] = []
        rows_in = 0
        for header, line, row in _rows(path, encoding, delimiter):
            if not mapping and not extras:
                for index, name in enumerate(header):
                    if columns.is_security_code(name):
                        security_code = True
                    elif (standard := columns.map_header(name)) is not None:
                        mapping[index] = standard
                    else:
                        extras[index] = _clean(name)
                if "record_id" not in mapping.values():
                    raise ImportFileError(f"{path.name}, line 1: no record_id column (or a known alias)")
                source_file.mapping = {header[i]: c for i, c in mapping.items()}
            rows_in += 1
            if progress and rows_in % 10000 == 0:
                progress(rows_in)
            if len(row) != len(header):
                rejects.append(Reject(line, "", f"expected {len(header)} fields, found {len(row)}"))
                continue
            record = _build_record(
                incident, source_file, line, row, mapping, extras, security_code, seen_ids, rejects
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


def _build_record(
    incident: Incident,
    source_file: SourceFile,
    line: int,
    row: list[str],
    mapping: dict[int, str],
    extras: dict[int, str],
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
    extra_values = {name: _clean(row[index]) for index, name in extras.items() if row[index].strip()}
    categories = sorted({columns.CATEGORY_OF[c] for c in values if c in columns.CATEGORY_OF})
    if security_code:
        categories.append("card_security_code")
    if extra_values:
        categories.append("other")
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
