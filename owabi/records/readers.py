"""Readers for leaked-record exports: CSV/TSV (UTF-8 with or without BOM, or Shift_JIS/CP932) and Excel.

Every reader streams: memory stays bounded however large the file. Errors name the file and the line,
never a value.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "cp932": "Shift_JIS (CP932)"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (message names file and line, never values)."""


def detect_encoding(path: Path, *, sample_lines: int = 2000) -> str:
    """UTF-8 (with or without BOM) or CP932 (Shift_JIS), by a vote of the first non-ASCII lines.

    Japanese text in CP932 almost never decodes as UTF-8, so a majority is decisive; a vote rather than
    "the whole file must decode" keeps one corrupt line in a UTF-8 export from flipping every other
    line into mojibake. That line is then rejected on its own.
    """
    utf8 = cp932 = 0
    with path.open("rb") as handle:
        for raw in handle:
            if raw.isascii():
                continue
            try:
                raw.decode("utf-8")
                utf8 += 1
            except UnicodeDecodeError:
                cp932 += 1
            if utf8 + cp932 >= sample_lines:
                break
    return "utf-8-sig" if utf8 >= cp932 else "cp932"


class Row(NamedTuple):
    line: int  # first physical line of the record (a quoted field may span several)
    cells: list[str]
    problem: str = ""  # set when the row cannot be read; the importer rejects it with this reason


@dataclass
class Table:
    """An opened export: its header, and its data rows."""

    path: Path
    encoding: str
    header: list[str]
    _rows: Iterator[Row]

    def rows(self) -> Iterator[Row]:
        return self._rows


def open_table(path: Path, *, encoding: str | None = None, delimiter: str | None = None) -> Table:
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _open_excel(path)
    encoding = encoding or detect_encoding(path)
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportFileError(f"{path.name}: unknown encoding {encoding!r}") from None
    rows = _csv_rows(path, encoding, delimiter)
    header = next(rows, None)
    if header is None:
        raise ImportFileError(f"{path.name}: the file is empty")
    if header.problem:
        raise ImportFileError(f"{path.name}, line 1: the header cannot be read ({header.problem})")
    return Table(path, encoding, header.cells, rows)


BLOCK_BYTES = 1 << 20


def _text_lines(path: Path, encoding: str, bad_lines: set[int]) -> Iterator[str]:
    """The file's lines as text, split on "\\n" only. Decoded a block at a time (a line at a time was a
    fifth of a large import's time); a block that does not decode is decoded line by line, and the
    lines that fail are noted in `bad_lines` (their record is rejected, the rest is kept).

    Cutting at b"\\n" is safe for UTF-8 and Shift_JIS/CP932: 0x0A never occurs inside a character.
    """
    codec = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM is dropped once, below
    line_no = 0
    with path.open("rb") as handle:
        rest = b""
        first = True
        while True:
            chunk = handle.read(BLOCK_BYTES)
            block = rest + chunk
            if chunk:
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    rest = block
                    continue
                block, rest = block[:cut], block[cut:]
            if first and encoding == "utf-8-sig" and block.startswith(codecs.BOM_UTF8):
                block = block[len(codecs.BOM_UTF8) :]
            first = False
            if not block:
                return
            try:
                text = block.decode(codec)
            except UnicodeDecodeError:
                pieces = block.split(b"\n")
                raws = [piece + b"\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
                for number, raw in enumerate(raws, start=line_no + 1):
                    try:
                        yield raw.decode(codec)
                    except UnicodeDecodeError:
                        bad_lines.add(number)
                        yield raw.decode(codec, errors="replace")
            else:
                yield from io.StringIO(text, newline="\n")
            line_no += block.count(b"\n")
            if not chunk:
                return


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[Row]:
    """Records with the number of their first physical line; a record with bytes that do not decode is
    returned as a problem row."""
    bad_lines: set[int] = set()
    reader = csv.reader(_text_lines(path, encoding, bad_lines), delimiter=delimiter)
    previous_end = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # The reader resumes at the next line: the record is rejected, the file goes on.
            first, previous_end = previous_end + 1, reader.line_num
            yield Row(first, [], _csv_problem(error))
            continue
        first, previous_end = previous_end + 1, reader.line_num
        if bad_lines and any(line in bad_lines for line in range(first, previous_end + 1)):
            yield Row(first, [], f"bytes that are not valid {ENCODING_NAMES.get(encoding, encoding)}")
        else:
            yield Row(first, cells)


def _csv_problem(error: csv.Error) -> str:
    """A fixed reason for the rejects file (the csv module's messages are not for operators)."""
    message = str(error)
    if "new-line character" in message:
        return "a line break (CR) inside an unquoted field"
    if "field larger than field limit" in message:
        return f"a field longer than {csv.field_size_limit():,} characters"
    return "not readable as CSV"


def _cell(value: Any) -> str:
    """Excel cells arrive typed; turn them back into the text an export would have held."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_excel(path: Path) -> Table:
    from openpyxl import load_workbook  # imported here: only Excel imports pay for it

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:
        raise ImportFileError(f"{path.name}: not a readable Excel (.xlsx) workbook") from None
    sheet = workbook.worksheets[0]

    def rows() -> Iterator[Row]:
        try:
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield Row(line, [_cell(v) for v in values])
        finally:
            workbook.close()

    iterator = rows()
    first = next(iterator, None)
    if first is None:
        raise ImportFileError(f"{path.name}: the first sheet is empty")
    header = first.cells
    while header and header[-1] == "":
        header.pop()  # openpyxl reports trailing empty header cells of formatted columns
    width = len(header)

    def trimmed() -> Iterator[Row]:
        for line, cells, _ in iterator:
            if not any(cells):
                continue  # Excel sheets carry empty formatted rows; they are not records
            if any(cells[width:]):
                yield Row(line, cells)  # more filled cells than headers: the row is rejected, not cut
            else:
                yield Row(line, cells[:width] + [""] * (width - len(cells)))

    return Table(path, "xlsx", header, trimmed())
