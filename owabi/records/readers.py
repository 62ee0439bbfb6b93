"""Readers for leaked-record exports: CSV/TSV text and Excel workbooks, from files nobody has vetted.

Text is UTF-8 (with or without BOM), UTF-16 (with or without BOM), Shift_JIS (CP932) or EUC-JP, told
apart as `detect_encoding` says; a mapping file's `encoding` overrides. Workbooks are read by
`owabi.records.xlsx`. Every reader streams within fixed limits, so memory stays bounded however large or
hostile the file.

A row whose text cannot be what the export held (bytes that do not decode, control or private-use
characters, U+FFFD …) comes back as a problem, so it is rejected rather than imported garbled: a garbled
name must not be matched on or printed on a letter. Errors name the file, line and column, never a value.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from charset_normalizer import from_bytes

# charset_normalizer traces the text it judges (its level 5): leaked values. Never let that through.
logging.getLogger("charset_normalizer").setLevel(logging.WARNING)

EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
MAX_COLUMNS = 1000  # a wider header is not a list of people (Excel allows 16,384)
MAX_LINE_BYTES = 1 << 20  # one physical line; a longer one is rejected without being held in memory
BLOCK_BYTES = 1 << 20
HEAD_BYTES = 1 << 20  # what detection looks at first
SAMPLE_LINES = 2000  # non-ASCII lines that vote on the encoding
SAMPLE_BYTES = 4 << 20

ENCODING_NAMES = {
    "utf-8-sig": "UTF-8",
    "utf-16-le": "UTF-16 (little-endian)",
    "utf-16-be": "UTF-16 (big-endian)",
    "utf-32-le": "UTF-32 (little-endian)",
    "utf-32-be": "UTF-32 (big-endian)",
    "cp932": "Shift_JIS (CP932)",
    "euc_jp": "EUC-JP",
}
JAPANESE_LEGACY = ("cp932", "euc_jp")  # tried in this order for text that is not UTF-8
_BOMS = (  # UTF-32-LE's BOM starts with UTF-16-LE's: longest first
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CODECS = {name: (name.removesuffix("-sig"), bom) for bom, name in _BOMS}  # name -> (codec, BOM to drop)

# Characters no export of names and addresses holds, by what they suggest. NUL is left to the importer,
# which rejects rows that contain it as "not text".
_UNREADABLE = (
    ("\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f", "a control character"),
    ("\ue000-\uf8ff\U000f0000-\U0010ffff", "a private-use character (外字, or bytes in the wrong encoding)"),
    ("\ufffd", "U+FFFD, the mark of text garbled before the export"),
    ("\ud800-\udfff", "an unpaired surrogate (broken UTF-16)"),
    ("\u202a-\u202e\u2066-\u2069", "a bidirectional override (text that shows other than it reads)"),
    ("\ufeff", "a byte-order mark inside a value (files joined together?)"),
    (
        "\ufdd0-\ufdef" + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0, 0x110000, 0x10000)),
        "a Unicode noncharacter",
    ),
)
_NOT_TEXT = re.compile("[" + "".join(chars for chars, _ in _UNREADABLE) + "]")
_NOT_TEXT_KINDS = [(re.compile(f"[{chars}]"), reason) for chars, reason in _UNREADABLE]


def _clean(text: str) -> bool:
    """No character of _UNREADABLE in `text`. str.isprintable (C, a nanosecond a character) settles most
    rows; it is false for every class above but U+FFFD, and also for tabs, line breaks and U+3000, so
    those rows take the regex (its ranges outside the BMP cost 15 µs a row)."""
    return "\ufffd" not in text and (text.isprintable() or not _NOT_TEXT.search(text))


class ImportFileError(Exception):
    """The file as a whole cannot be read (message names file and line, never values)."""


def unreadable(value: str) -> str:
    """Why `value` cannot be text as an export held it, or "" when it can."""
    if _clean(value):
        return ""
    return next(reason for pattern, reason in _NOT_TEXT_KINDS if pattern.search(value))


def detect_encoding(path: Path) -> str:
    """The encoding of a CSV/TSV export, or ImportFileError naming the ones owabi recognises.

    1. A byte-order mark decides (UTF-8, UTF-16, UTF-32).
    2. UTF-16 without one: its ASCII delimiters, digits and line breaks put a zero in every other byte.
    3. Otherwise the non-ASCII lines vote: UTF-8 if most decode as UTF-8. Japanese text in CP932 almost
       never does, so a majority is decisive; a vote rather than "the whole file must decode" keeps one
       corrupt line in a UTF-8 export from turning every other line into mojibake (that line is then
       rejected on its own).
    4. The rest must read as Japanese in CP932, else EUC-JP: most lines decode strictly, without control
       or private-use characters, and charset_normalizer finds the text coherent (Latin-1 read as CP932
       decodes into rare kanji, half-width kana and private-use characters, which it measures as mess).
       A file that is neither is refused: a mapping file can name its encoding.
    """
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if utf16 := _utf16_without_bom(head):
        return utf16
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise ImportFileError(f"{path.name}: a zip archive, not CSV text (an Excel workbook? name it .xlsx)")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise ImportFileError(
            f"{path.name}: an old Excel (.xls) or password-protected workbook, not CSV text;"
            " save it as CSV or as .xlsx without a password"
        )
    utf8 = 0
    others: list[bytes] = []
    sampled = 0
    for raw in _sample_lines(path):
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            others.append(raw)
            sampled += len(raw)
        if utf8 + len(others) >= SAMPLE_LINES or sampled >= SAMPLE_BYTES:
            break
    if utf8 >= len(others):
        return "utf-8-sig"
    for codec in JAPANESE_LEGACY:
        if _reads_as_japanese(others, codec):
            return codec
    raise ImportFileError(
        f"{path.name}: the text is not UTF-8, UTF-16, Shift_JIS (CP932) or EUC-JP; if the export uses"
        ' another encoding, name it in a mapping file (encoding = "...")'
    )


def _utf16_without_bom(head: bytes) -> str | None:
    sample = head[: 1 << 16]
    sample = sample[: len(sample) & ~1]
    if b"\x00" not in sample:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    for zeros, others, name in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros * 32 >= len(sample) // 2 and others * 4 <= zeros:
            text = sample.decode(name, errors="replace")
            if text.count("\ufffd") * 100 <= len(text):  # a cut surrogate pair at the end costs one
                return name
    return None


def _sample_lines(path: Path) -> Iterator[bytes]:
    """The file's lines (cut at CR or LF) for the vote; lines over MAX_LINE_BYTES are left out."""
    rest, skipping = b"", False
    with path.open("rb") as handle:
        while chunk := handle.read(HEAD_BYTES):
            lines = re.split(rb"[\r\n]", rest + chunk)
            rest = lines.pop()
            for line in lines:
                if skipping:
                    skipping = False  # the end of the long line
                elif line:
                    yield line
            if len(rest) > MAX_LINE_BYTES:
                rest, skipping = b"", True
    if rest and not skipping:
        yield rest


def _reads_as_japanese(lines: list[bytes], codec: str) -> bool:
    clean = []
    for raw in lines:
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text and _clean(text):
            clean.append(raw)
    if not clean or len(clean) * 2 < len(lines):
        return False
    return from_bytes(b"\n".join(clean), cp_isolation=[codec]).best() is not None


def resolve_encoding(path: Path, encoding: str) -> str:
    """A mapping file's encoding as the codec name the readers use (UTF-16/32 with their byte order)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ImportFileError(f"{path.name}: unknown encoding {encoding!r}") from None
    if name == "utf-8":
        return "utf-8-sig"  # a BOM is never part of the first header
    if name in ("utf-16", "utf-32"):
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
        for bom, detected in _BOMS:
            if head.startswith(bom) and detected.startswith(name):
                return detected
        return (_utf16_without_bom(head) if name == "utf-16" else None) or f"{name}-le"
    return name


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
    delimiter: str = ""  # "" for a workbook

    def rows(self) -> Iterator[Row]:
        return self._rows


def open_table(path: Path, *, encoding: str | None = None, delimiter: str | None = None) -> Table:
    rows: Iterator[Row]
    header_line = 1
    if path.suffix.lower() in EXCEL_SUFFIXES:
        from owabi.records import xlsx  # imports readers: only here, not at the top

        encoding, delimiter = "xlsx", ""
        header_line, header, rows = xlsx.read_sheet(path)
    else:
        encoding = resolve_encoding(path, encoding) if encoding else detect_encoding(path)
        if delimiter is None:
            delimiter = "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","
        rows = _csv_rows(path, encoding, delimiter)
        first = next(rows, None)
        if first is None:
            raise ImportFileError(f"{path.name}: the file is empty")
        if first.problem:
            raise ImportFileError(f"{path.name}, line 1: the header cannot be read ({first.problem})")
        header = first.cells
    if len(header) > MAX_COLUMNS:
        raise ImportFileError(
            f"{path.name}, line {header_line}: {len(header):,} columns (at most {MAX_COLUMNS:,})"
        )
    for number, name in enumerate(header, start=1):
        if reason := ("a NUL character" if "\x00" in name else unreadable(name)):
            question = (
                ""
                if encoding == "xlsx"
                else f"; is the file really {ENCODING_NAMES.get(encoding, encoding)}?"
            )
            raise ImportFileError(
                f"{path.name}, line {header_line}: column {number} of the header holds {reason}{question}"
            )
    return Table(path, encoding, header, _text_rows(header, rows), delimiter or "")


def column_label(header: list[str], index: int) -> str:
    """ "column 3 (氏名)" for the 0-based `index`; the header name only when it is short and plain."""
    name = header[index] if index < len(header) else ""
    shown = f" ({name})" if name and len(name) <= 40 and name.isprintable() else ""
    return f"column {index + 1}{shown}"


def _text_rows(header: list[str], rows: Iterator[Row]) -> Iterator[Row]:
    """Rows with a value that is not text as an export held it are returned as problems, one reason per
    column."""
    for row in rows:
        if row.problem or _clean("".join(row.cells)):
            yield row
        else:
            reasons = [
                f"{column_label(header, index)}: {reason}"
                for index, cell in enumerate(row.cells)
                if (reason := unreadable(cell))
            ]
            yield Row(row.line, [], "; ".join(reasons))


def _line_break(path: Path, codec: str) -> bytes:
    """The records' line break as the codec writes it: LF (CRLF ends in it too), or CR when the head of
    the file has more lone CRs than LFs (old Mac exports end records with CR and write LF in cells)."""
    with path.open("rb") as handle:
        head = codecs.getincrementaldecoder(codec)(errors="replace").decode(handle.read(HEAD_BYTES))
    lone_crs = head.count("\r") - head.count("\r\n")
    return ("\r" if lone_crs > head.count("\n") else "\n").encode(codec)


def _end_of_first_line(block: bytes, newline: bytes) -> int:
    """Where the block's first line break ends (0: none); for UTF-16/32 only one on a code-unit boundary
    counts, as b"\\n\\x00" also occurs across two characters (U+0A01 U+4E00)."""
    unit, position = len(newline), 0
    while (found := block.find(newline, position)) >= 0:
        if found % unit == 0:
            return found + unit
        position = found + 1
    return 0


def _end_of_last_line(block: bytes, newline: bytes) -> int:
    """Where the block's last line break ends (0: none), as `_end_of_first_line` counts them."""
    unit, end = len(newline), len(block)
    while (found := block.rfind(newline, 0, end)) >= 0:
        if found % unit == 0:
            return found + unit
        end = found + unit - 1
    return 0


def _split_lines(block: bytes, newline: bytes) -> list[bytes]:
    """The block's lines, each with its line break (the last one may have none)."""
    if len(newline) == 1:
        pieces = block.split(newline)
        return [piece + newline for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
    lines = []
    while end := _end_of_first_line(block, newline):
        lines.append(block[:end])
        block = block[end:]
    return [*lines, block] if block else lines


def _text_lines(path: Path, encoding: str, bad_lines: dict[int, str]) -> Iterator[str]:
    """The file's lines as text, split at its line break only (LF, or CR for CR files). Decoded a block at
    a time (a line at a time was a fifth of a large import's time); a block that does not decode is
    decoded line by line, and the lines that fail are noted in `bad_lines` with the reason (their record
    is rejected, the rest is kept). A line longer than MAX_LINE_BYTES is noted the same way and dropped as
    it streams past, never held whole; it stands in the text as an empty line.

    Cutting at the line break's bytes is safe: in UTF-8, Shift_JIS/CP932 and EUC-JP 0x0A and 0x0D never
    occur inside a character, and in UTF-16/32 only breaks on a code-unit boundary count (every block
    starts on one). Only a block's first line can be longer than a read (BLOCK_BYTES <= MAX_LINE_BYTES).
    """
    codec, bom = _CODECS.get(encoding, (encoding, b""))
    newline = _line_break(path, codec)
    unit = len(newline)
    text_newline = newline.decode(codec)
    bad_bytes = f"bytes that are not valid {ENCODING_NAMES.get(encoding, encoding)}"
    too_long = f"a line longer than {MAX_LINE_BYTES >> 20} MiB"
    line_no = 0
    dropping = False  # inside a line that is too long
    with path.open("rb") as handle:
        rest = b""
        first = True
        while True:
            chunk = handle.read(BLOCK_BYTES)
            block = rest + chunk
            if chunk:
                cut = _end_of_last_line(block, newline)
                if cut == 0:
                    if dropping or len(block) > MAX_LINE_BYTES:
                        dropping, first = True, False
                        # Keep only what could begin the line break, from a code-unit boundary.
                        rest = block[(len(block) - unit + 1) // unit * unit :]
                    else:
                        rest = block
                    continue
                block, rest = block[:cut], block[cut:]
            if first and bom and block.startswith(bom):
                block = block[len(bom) :]
            first = False
            end = _end_of_first_line(block, newline) or len(block)
            if dropping or end > MAX_LINE_BYTES:
                dropping = False
                line_no += 1
                bad_lines[line_no] = too_long
                yield text_newline
                block = block[end:]
            if block:
                try:
                    text = block.decode(codec)
                except UnicodeDecodeError:
                    for number, raw in enumerate(_split_lines(block, newline), start=line_no + 1):
                        try:
                            yield raw.decode(codec)
                        except UnicodeDecodeError:
                            bad_lines[number] = bad_bytes
                            yield raw.decode(codec, errors="replace")
                else:
                    if text_newline == "\n":
                        yield from io.StringIO(text, newline="\n")
                    else:
                        pieces = text.split(text_newline)
                        yield from (piece + text_newline for piece in pieces[:-1])
                        if pieces[-1]:
                            yield pieces[-1]
                line_no += block.count(newline) if unit == 1 else len(_split_lines(block, newline))
            if not chunk:
                return


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[Row]:
    """Records with the number of their first physical line; a record with bytes that do not decode, or
    over-long lines, is returned as a problem row."""
    bad_lines: dict[int, str] = {}
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
        if bad_lines and (bad := [bad_lines[n] for n in range(first, previous_end + 1) if n in bad_lines]):
            yield Row(first, [], bad[0])
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
