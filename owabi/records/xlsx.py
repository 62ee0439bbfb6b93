"""Excel workbooks (.xlsx, .xlsm): one worksheet, read as a stream within fixed limits.

openpyxl's reader is not used for this. It keeps the shared strings as a list of Python strings, builds a
cell's text whole before anyone can look at its length (a 300 KB file with one 300 MB cell took 2.8 GB),
pads every missing row out to the width the sheet declares, parses with whatever XML library happens to
be installed, and has no limits to set. Here expat parses each part we need, any DTD is refused (so no
entity expansion), and every limit is checked as the bytes stream in:

- each part's declared size, and the bytes actually inflated (zipfile also stops at the declared size
  and checks the CRC, so a member that lies about its size is refused as damaged);
- no XML token (tag, comment, ...) over MAX_TOKEN_BYTES: expat holds a token whole until it ends;
- elements nested at most MAX_DEPTH deep (expat keeps a record per open element);
- a cell holds at most 32,767 characters (Excel's own limit): a longer one rejects its row, and is
  dropped while it streams past;
- the shared strings are held as UTF-8 in one buffer with an offset per string, from at most
  MAX_SHARED_STRINGS_BYTES of XML;
- the header has at most readers.MAX_COLUMNS columns; a value right of the header rejects its row.
A workbook past a limit is refused with one line saying which; a cell past one costs only its row.

Which sheet: the one worksheet that holds any value, hidden or not, wherever it sits among the tabs. A
workbook with values on two or more is refused (naming their tab positions): one file, one table.

Merged cells read as Excel shows them. A merge down one column gives each of its rows the value (a
family's address merged across the children's rows); a merge across columns rejects its rows (which
column the value belongs to is unclear); a merge in the header refuses the file.

Cells keep the text an export would hold: dates (by the cell's number format, the ja-JP built-in ones
included) as ISO dates, whole numbers without ".0", booleans as TRUE/FALSE, `_xHHHH_` escapes decoded.
A formula whose result was never saved rejects its row rather than reading as empty.
"""

from __future__ import annotations

import functools
import lzma
import math
import posixpath
import re
import struct
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel, from_ISO8601

from owabi.records.readers import MAX_COLUMNS, ImportFileError, Row, column_label

MAX_PART_BYTES = 32 << 20  # workbook, relationships, styles
MAX_SHARED_STRINGS_BYTES = 128 << 20  # held in memory, as UTF-8 plus 4 bytes per string
MAX_SHEET_BYTES = 4 << 30  # streamed: only the time grows with it
MAX_TOKEN_BYTES = 1 << 20
MAX_DEPTH = 64  # a worksheet nests 5 deep
MAX_CELL_CHARS = 32_767  # Excel's own limit
MAX_MERGES = 100_000
EXCEL_ROWS = 1_048_576  # a row number past Excel's last is damage (and would overflow line numbers)
READ_BYTES = 1 << 16
# Built-in number formats 27-36 and 50-58 are dates and times in East Asian locales (ja-JP: 31 is
# yyyy"年"m"月"d"日", 27 the era date ge.m.d). Excel does not write their codes into the file, and
# openpyxl reads them as "General", so a ja-JP birth date would arrive as a serial number.
EAST_ASIAN_DATE_FORMATS = frozenset((*range(27, 37), *range(50, 59)))

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    EOFError,
    OSError,
    RuntimeError,  # an encrypted member
    NotImplementedError,  # a compression method zipfile lacks
    zlib.error,
    lzma.LZMAError,
    struct.error,
)
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_SHEET_DATA_END = re.compile(rb"</(?:[\w.-]+:)?sheetData\s*>")
_MERGE = re.compile(
    rb"<(?:[\w.-]+:)?mergeCell\s[^>]*?\bref\s*=\s*[\"']([A-Za-z]{1,3}[0-9]+(?::[A-Za-z]{1,3}[0-9]+)?)[\"']"
)
_REF = re.compile(r"([A-Za-z]{1,3})([0-9]+)")


class _Sheet(NamedTuple):
    position: int  # 1-based tab position, counting every kind of sheet
    hidden: bool
    part: zipfile.ZipInfo


class _Book(NamedTuple):
    worksheets: list[_Sheet]
    strings: _Strings
    date_styles: frozenset[int]
    timedelta_styles: frozenset[int]
    epoch: datetime


class _CellProblem(Exception):
    pass


class _HasValue(Exception):
    pass


def read_sheet(path: Path) -> tuple[int, list[str], Iterator[Row]]:
    """The workbook's one worksheet with values: its header line, header, and data rows."""
    archive = _open_archive(path)
    try:
        book = _read_book(archive, path.name)
        filled = [sheet for sheet in book.worksheets if _has_values(archive, sheet, path.name)]
        if not filled:
            raise ImportFileError(f"{path.name}: no worksheet holds any value")
        if len(filled) > 1:
            listed = ", ".join(f"{s.position}{' (hidden)' if s.hidden else ''}" for s in filled)
            raise ImportFileError(
                f"{path.name}: sheets {listed} all hold values; owabi reads one sheet per file: save each"
                " sheet as its own workbook (or CSV) and import them one by one"
            )
        sheet = filled[0]
        merges = _merges(archive, sheet, path.name)
        raw = _raw_rows(archive, sheet, book, path.name)
        first = next(raw, None)
        if first is None:  # pragma: no cover - _has_values found a value
            raise ImportFileError(f"{path.name}: no worksheet holds any value")
        line, values, problems = first
        if problems:
            reasons = "; ".join(f"column {column}: {reason}" for column, reason in problems)
            raise ImportFileError(f"{path.name}, line {line}: the header cannot be read ({reasons})")
        width = max(values)
        if width > MAX_COLUMNS:
            raise ImportFileError(
                f"{path.name}, line {line}: the header reaches column {width:,} (at most {MAX_COLUMNS:,})"
            )
        header = [values.get(column, "") for column in range(1, width + 1)]
        rows = _data_rows(header, raw, _sort_merges(path.name, merges, line, width), archive)
    except BaseException:
        archive.close()
        raise
    return line, header, rows


def _open_archive(path: Path) -> zipfile.ZipFile:
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith(_OLE2):
        raise ImportFileError(
            f"{path.name}: an old Excel (.xls) or password-protected workbook; save it as .xlsx without"
            " a password, or as CSV"
        )
    if not magic.startswith(b"PK"):
        raise ImportFileError(
            f"{path.name}: not a readable Excel (.xlsx) workbook (not a zip archive; CSV text is read from"
            " a .csv file)"
        )
    try:
        archive = zipfile.ZipFile(path)
    except Exception:  # zipfile fails on hostile archives in many ways; all mean the same here
        raise ImportFileError(f"{path.name}: not a readable Excel (.xlsx) workbook (a damaged zip)") from None
    names = archive.namelist()
    if len(set(names)) != len(names):
        archive.close()
        raise ImportFileError(f"{path.name}: the zip archive holds two parts of the same name (damaged)")
    return archive


def _part(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo | None:
    try:
        return archive.getinfo(name)
    except KeyError:
        folded = name.lower()  # some writers differ in case from their own relationships
        return next((i for i in archive.infolist() if i.filename.lower() == folded), None)


def _target(source: str, target: str) -> str:
    """A relationship's target as a part name, relative to the part that names it."""
    if target.startswith("/"):
        return target[1:]
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


@functools.lru_cache(maxsize=1024)
def _local(name: str) -> str:
    return name.rpartition(":")[2]


def _parser(
    file_name: str,
    what: str,
    start: Callable[[str, dict[str, str]], None] | None = None,
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> expat.XMLParserType:
    """An expat parser that refuses DTDs and deep nesting and hands local names to the handlers."""
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = 1 << 16

    def refuse(*_: Any) -> None:
        raise ImportFileError(
            f"{file_name}: {what} declares a DTD (XML entities), which spreadsheet programs never write"
        )

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0

    def on_start(name: str, attributes: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise ImportFileError(f"{file_name}: {what} nests elements over {MAX_DEPTH} deep (damaged)")
        if start is not None:
            start(_local(name), attributes)

    def on_end(name: str) -> None:
        nonlocal depth
        depth -= 1
        if end is not None:
            end(_local(name))

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    if text is not None:
        parser.CharacterDataHandler = text
    return parser


def _parse(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    parser: expat.XMLParserType,
    *,
    limit: int,
    what: str,
    file_name: str,
) -> Iterator[None]:
    """Feed a part to `parser` as it inflates, yielding after each piece; refuse it past its limits."""
    if info.file_size > limit:
        raise ImportFileError(
            f"{file_name}: {what} would expand to {info.file_size:,} bytes (at most {limit:,});"
            " save the sheet as CSV"
        )
    inflated = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(READ_BYTES):
                inflated += len(chunk)
                if inflated > limit:  # zipfile stops at the declared size; this is the second lock
                    raise ImportFileError(f"{file_name}: {what} expands past {limit:,} bytes")
                parser.Parse(chunk, False)
                if inflated - parser.CurrentByteIndex > MAX_TOKEN_BYTES:
                    raise ImportFileError(
                        f"{file_name}: {what} holds an XML token over {MAX_TOKEN_BYTES >> 20} MiB"
                        " (not written by a spreadsheet program)"
                    )
                yield
            parser.Parse(b"", True)
    except expat.ExpatError as error:
        raise ImportFileError(
            f"{file_name}: {what} is not well-formed XML (line {error.lineno}); the workbook is damaged"
        ) from None
    except _ZIP_ERRORS:
        raise ImportFileError(f"{file_name}: the zip archive is damaged ({what} cannot be read)") from None
    yield


def _parse_all(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, parser: expat.XMLParserType, **kw: Any
) -> None:
    for _ in _parse(archive, info, parser, **kw):
        pass


def _relationships(
    archive: zipfile.ZipFile, source: str, file_name: str
) -> dict[str, tuple[str, str]] | None:
    """Id -> (type, part name) of the relationships of part `source` ("" for the package)."""
    folder, base = posixpath.split(source)
    info = _part(archive, posixpath.join(folder, "_rels", f"{base}.rels"))
    if info is None:
        return None
    found: dict[str, tuple[str, str]] = {}

    def start(name: str, attributes: dict[str, str]) -> None:
        if name == "Relationship" and attributes.get("TargetMode") != "External":
            found[attributes.get("Id", "")] = (
                attributes.get("Type", ""),
                _target(source, attributes.get("Target", "")),
            )

    what = "a relationship list"
    parser = _parser(file_name, what, start)
    _parse_all(archive, info, parser, limit=MAX_PART_BYTES, what=what, file_name=file_name)
    return found


def _not_a_workbook(archive: zipfile.ZipFile, file_name: str) -> ImportFileError:
    mimetype = _part(archive, "mimetype")
    if mimetype is not None and mimetype.file_size < 200:
        try:
            kind = archive.read(mimetype)
        except _ZIP_ERRORS:
            kind = b""
        if kind.startswith(b"application/vnd.oasis.opendocument.spreadsheet"):
            return ImportFileError(
                f"{file_name}: an OpenDocument spreadsheet (.ods); save it as .xlsx or CSV"
            )
    return ImportFileError(f"{file_name}: a zip archive, but not an Excel workbook")


def _read_book(archive: zipfile.ZipFile, file_name: str) -> _Book:
    package = _relationships(archive, "", file_name)
    book_name = next((t for kind, t in (package or {}).values() if kind.endswith("/officeDocument")), None)
    book_part = _part(archive, book_name) if book_name else None
    if book_name is None or book_part is None:
        raise _not_a_workbook(archive, file_name)
    root: list[str] = []
    date1904 = False
    listed: list[tuple[str, bool]] = []  # (relationship id, hidden) in tab order

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal date1904
        if not root:
            root.append(name)
        elif name == "workbookPr":
            date1904 = attributes.get("date1904", "").lower() in ("1", "true")
        elif name == "sheet":
            rid = next((v for k, v in attributes.items() if ":" in k and _local(k) == "id"), "")
            listed.append((rid, attributes.get("state", "visible") != "visible"))

    what = "the workbook"
    _parse_all(
        archive,
        book_part,
        _parser(file_name, what, start),
        limit=MAX_PART_BYTES,
        what=what,
        file_name=file_name,
    )
    if root != ["workbook"]:
        raise ImportFileError(
            f"{file_name}: a zip archive, but not an Excel workbook (a Word or PowerPoint file?)"
        )
    parts = _relationships(archive, book_name, file_name) or {}
    worksheets = []
    for position, (rid, hidden) in enumerate(listed, start=1):
        kind, target = parts.get(rid, ("", ""))
        if kind.endswith("/worksheet"):
            if (info := _part(archive, target)) is None:
                raise ImportFileError(f"{file_name}: sheet {position} is missing from the archive (damaged)")
            worksheets.append(_Sheet(position, hidden, info))
    if not worksheets:
        raise ImportFileError(f"{file_name}: the workbook has no worksheet")
    by_kind = {kind.rpartition("/")[2]: target for kind, target in parts.values()}
    strings = _Strings()
    if (name := by_kind.get("sharedStrings")) and (info := _part(archive, name)):
        _read_strings(archive, info, strings, file_name)
    date_styles, timedelta_styles = frozenset[int](), frozenset[int]()
    if (name := by_kind.get("styles")) and (info := _part(archive, name)):
        date_styles, timedelta_styles = _read_styles(archive, info, file_name)
    return _Book(worksheets, strings, date_styles, timedelta_styles, MAC_EPOCH if date1904 else WINDOWS_EPOCH)


class _Strings:
    """The shared strings, as UTF-8 in one buffer (a Python string per entry costs 50+ bytes more)."""

    def __init__(self) -> None:
        self.text = bytearray()
        self.ends = array("I")
        self.too_long: set[int] = set()

    def append(self, value: str | None) -> None:
        if value is None:
            self.too_long.add(len(self.ends))
        else:
            self.text += value.encode("utf-8", "surrogatepass")
        self.ends.append(len(self.text))

    def __len__(self) -> int:
        return len(self.ends)

    def get(self, index: int) -> str | None:
        """Entry `index`, or None when it is longer than MAX_CELL_CHARS (IndexError when missing)."""
        if not 0 <= index < len(self.ends):
            raise IndexError(index)
        if index in self.too_long:
            return None
        start = self.ends[index - 1] if index > 0 else 0
        return self.text[start : self.ends[index]].decode("utf-8", "surrogatepass")


def _unescape(text: str) -> str:
    """OOXML's _xHHHH_ escapes (Excel writes control characters so; _x005F_ is a literal underscore)."""
    return _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text) if "_x" in text else text


class _Text:
    """Collects the text of one cell or shared string while `on`, dropping it rather than holding it
    once it is too long. Escapes are decoded at the end, so up to 7 raw characters may stand for one."""

    RAW_LIMIT = MAX_CELL_CHARS * 7

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.too_long = False
        self.on = False

    def add(self, data: str) -> None:
        if self.on and not self.too_long:
            self.length += len(data)
            if self.length > self.RAW_LIMIT:
                self.too_long, self.parts = True, []
            else:
                self.parts.append(data)

    def value(self) -> str | None:
        """The text, or None when it is longer than MAX_CELL_CHARS."""
        if self.too_long:
            return None
        text = _unescape("".join(self.parts))
        return None if len(text) > MAX_CELL_CHARS else text


def _read_strings(archive: zipfile.ZipFile, info: zipfile.ZipInfo, strings: _Strings, file_name: str) -> None:
    text = _Text()
    phonetic = 0  # inside the reading Japanese Excel stores beside the text (rPh): not part of it

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal phonetic
        if name == "si":
            text.reset()
        elif name == "t":
            text.on = not phonetic
        elif name == "rPh":
            phonetic += 1

    def end(name: str) -> None:
        nonlocal phonetic
        if name == "t":
            text.on = False
        elif name == "rPh":
            phonetic -= 1
        elif name == "si":
            strings.append(text.value())

    what = "the shared-string table"
    parser = _parser(file_name, what, start, end, text.add)
    _parse_all(archive, info, parser, limit=MAX_SHARED_STRINGS_BYTES, what=what, file_name=file_name)


def _read_styles(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, file_name: str
) -> tuple[frozenset[int], frozenset[int]]:
    """The cell styles (indexes into cellXfs) whose number format shows a date or time, and a duration."""
    custom: dict[int, str] = {}
    formats: list[int] = []
    inside = False

    def number(value: str | None) -> int:
        try:
            return int(value or 0)
        except ValueError:
            return -1

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal inside
        if name == "numFmt":
            custom[number(attributes.get("numFmtId"))] = attributes.get("formatCode", "")
        elif name == "cellXfs":
            inside = True
        elif name == "xf" and inside:
            formats.append(number(attributes.get("numFmtId")))

    def end(name: str) -> None:
        nonlocal inside
        if name == "cellXfs":
            inside = False

    what = "the style sheet"
    _parse_all(
        archive,
        info,
        _parser(file_name, what, start, end),
        limit=MAX_PART_BYTES,
        what=what,
        file_name=file_name,
    )
    dates, durations = set(), set()
    for style, format_id in enumerate(formats):
        code = custom.get(format_id, BUILTIN_FORMATS.get(format_id))
        if is_date_format(code) or (format_id in EAST_ASIAN_DATE_FORMATS and format_id not in custom):
            dates.add(style)
        if is_timedelta_format(code):
            durations.add(style)
    return frozenset(dates), frozenset(durations)


def _has_values(archive: zipfile.ZipFile, sheet: _Sheet, file_name: str) -> bool:
    """Whether the worksheet holds any value (or formula); stops at the first."""
    text = _Text()

    def start(name: str, attributes: dict[str, str]) -> None:
        if name in ("v", "t"):
            text.reset()
            text.on = True
        elif name == "f":
            raise _HasValue

    def end(name: str) -> None:
        if name in ("v", "t") and text.on:
            if text.too_long or "".join(text.parts).strip():
                raise _HasValue
            text.on = False

    what = f"sheet {sheet.position}"
    try:
        _parse_all(
            archive,
            sheet.part,
            _parser(file_name, what, start, end, text.add),
            limit=MAX_SHEET_BYTES,
            what=what,
            file_name=file_name,
        )
    except _HasValue:
        return True
    return False


def _merges(archive: zipfile.ZipFile, sheet: _Sheet, file_name: str) -> list[tuple[int, int, int, int]]:
    """The sheet's merged ranges as (first row, last row, first column, last column), 1-based.

    Excel writes them after all the rows, and rows are read as they stream: so the part is inflated once
    beforehand and only what follows </sheetData> is searched (cell text cannot hold a raw "<").
    """
    found: list[tuple[int, int, int, int]] = []
    tail, after = b"", False
    try:
        with archive.open(sheet.part) as stream:
            while chunk := stream.read(1 << 20):
                data = tail + chunk
                if not after:
                    if (end := _SHEET_DATA_END.search(data)) is None:
                        tail = data[-64:]
                        continue
                    after, data = True, data[end.end() :]
                last = 0
                for match in _MERGE.finditer(data):
                    first, _, second = match[1].decode().partition(":")
                    (row1, column1), (row2, column2) = _cell_ref(first), _cell_ref(second or first)
                    found.append(
                        (min(row1, row2), max(row1, row2), min(column1, column2), max(column1, column2))
                    )
                    last = match.end()
                if len(found) > MAX_MERGES:
                    raise ImportFileError(
                        f"{file_name}: sheet {sheet.position} has over {MAX_MERGES:,} merged ranges"
                    )
                tail = data[max(last, len(data) - 256) :]
    except _ZIP_ERRORS:
        raise ImportFileError(
            f"{file_name}: the zip archive is damaged (sheet {sheet.position} cannot be read)"
        ) from None
    return [m for m in found if m[0] != m[1] or m[2] != m[3]]


_COLUMNS: dict[str, int] = {}


def _column(letters: str) -> int:
    """1 for A, 27 for AA; letters are at most 3 (XFD is Excel's last column)."""
    if (column := _COLUMNS.get(letters)) is None:
        column = 0
        for letter in letters.upper():
            column = column * 26 + ord(letter) - 64
        if len(_COLUMNS) < 20_000:
            _COLUMNS[letters] = column
    return column


def _cell_ref(ref: str) -> tuple[int, int]:
    """(row, column) of a reference such as "B12"; ValueError for anything else."""
    match = _REF.fullmatch(ref)
    if match is None:
        raise ValueError(ref)
    return int(match[2]), _column(match[1])


def _text_of(value: Any) -> str:
    """A typed cell value as the text an export would have held."""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _CellProblem("a number cell that holds no number (damaged workbook)")
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


RawRow = tuple[int, dict[int, str], list[tuple[int, str]]]  # line, {column: text}, [(column, problem)]


class _SheetReader:
    """expat handlers for one worksheet: finished rows collect in `rows`, drained by the caller after
    each piece of the part is parsed. Handlers are written out here (not through `_parser`'s wrappers):
    they run a few times per cell."""

    def __init__(self, book: _Book, file_name: str, what: str) -> None:
        self.book, self.file_name, self.what = book, file_name, what
        self.rows: list[RawRow] = []
        self.depth = 0
        self.line = 0
        self.values: dict[int, str] | None = None  # None outside a <row>
        self.problems: list[tuple[int, str]] = []
        self.column = 0
        self.kind = "n"
        self.style = 0
        self.has_value = self.formula = False
        self.inline = 0
        self.phonetic = 0
        self.text = _Text()

    def parser(self) -> expat.XMLParserType:
        parser = _parser(self.file_name, self.what)
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.text.add
        return parser

    def start(self, raw: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ImportFileError(
                f"{self.file_name}: {self.what} nests elements over {MAX_DEPTH} deep (damaged)"
            )
        name = _local(raw)
        if name == "c":
            if self.values is None:
                return
            ref = attributes.get("r")
            column = self.column + 1
            if ref:
                try:
                    column = _cell_ref(ref)[1]
                except ValueError:
                    self.problems.append((column, "a cell reference that names no cell (damaged workbook)"))
            if column <= self.column:
                self.problems.append((column, "two cells for one column, or cells out of order (damaged)"))
            self.column = column
            self.kind = attributes.get("t", "n")
            try:
                self.style = int(attributes.get("s", 0))
            except ValueError:
                self.style = -1
            self.has_value = self.formula = False
            self.inline = self.phonetic = 0
            self.text.reset()
        elif name == "v":
            self.has_value = self.text.on = True
        elif name == "t":
            self.text.on = self.inline > 0 and not self.phonetic
        elif name == "is":
            self.inline += 1
        elif name == "rPh":
            self.phonetic += 1
        elif name == "f":
            self.formula = True
        elif name == "row":
            ref = attributes.get("r")
            try:
                line = int(ref) if ref else self.line + 1
            except ValueError:
                line = -1
            if not self.line < line <= EXCEL_ROWS:
                raise ImportFileError(
                    f"{self.file_name}: {self.what}, after line {self.line}: rows out of order or past"
                    f" Excel's last ({EXCEL_ROWS:,}); the workbook is damaged"
                )
            self.line, self.values, self.problems, self.column = line, {}, [], 0

    def end(self, raw: str) -> None:
        self.depth -= 1
        name = _local(raw)
        if name in ("v", "t"):
            self.text.on = False
        elif name == "c":
            if self.values is None:
                return
            try:
                if value := self.value():
                    self.values[self.column] = value
            except _CellProblem as problem:
                self.problems.append((self.column, str(problem)))
        elif name == "is":
            self.inline -= 1
        elif name == "rPh":
            self.phonetic -= 1
        elif name == "row" and self.values is not None:
            if self.values or self.problems:
                self.rows.append((self.line, self.values, self.problems))
            self.values = None

    def value(self) -> str:
        """The finished cell as text, or _CellProblem."""
        text = self.text.value()
        if text is None:
            raise _CellProblem(f"longer than {MAX_CELL_CHARS:,} characters (Excel's limit)")
        kind = self.kind
        if kind == "inlineStr":
            return text
        if not self.has_value:
            if self.formula:
                raise _CellProblem("a formula whose result was never saved (open and save it in Excel)")
            return ""
        if kind == "s":
            try:
                shared = self.book.strings.get(int(text))
            except (ValueError, IndexError):
                raise _CellProblem("a shared string the workbook lacks (damaged workbook)") from None
            if shared is None:
                raise _CellProblem(f"longer than {MAX_CELL_CHARS:,} characters (Excel's limit)")
            return shared
        if kind == "b":
            return "TRUE" if text.strip() == "1" else "FALSE"
        if kind == "d":
            if not text.strip():
                return ""
            try:
                return _text_of(from_ISO8601(text.strip()))
            except (ValueError, OverflowError):
                raise _CellProblem("a date cell that holds no date (damaged workbook)") from None
        if kind != "n":  # str (a formula's text), e (an error such as #N/A), or unknown
            return text
        if not text.strip():
            return ""
        try:
            number: float | int = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise _CellProblem("a number cell that holds no number (damaged workbook)") from None
        if self.style in self.book.date_styles:
            try:
                when = from_excel(number, self.book.epoch, timedelta=self.style in self.book.timedelta_styles)
            except (ValueError, OverflowError):
                raise _CellProblem("a date outside the calendar") from None
            return _text_of(when)
        return _text_of(number)


def _raw_rows(archive: zipfile.ZipFile, sheet: _Sheet, book: _Book, file_name: str) -> Iterator[RawRow]:
    """The worksheet's rows with any value or problem, as they stream in."""
    what = f"sheet {sheet.position}"
    reader = _SheetReader(book, file_name, what)
    for _ in _parse(
        archive, sheet.part, reader.parser(), limit=MAX_SHEET_BYTES, what=what, file_name=file_name
    ):
        if reader.rows:
            yield from reader.rows
            reader.rows.clear()


Merges = tuple[dict[int, list[tuple[int, int]]], list[tuple[int, int, int, int]]]


def _sort_merges(
    file_name: str, merges: list[tuple[int, int, int, int]], header_line: int, width: int
) -> Merges:
    """Merges down one column ({first row: [(column, last row)]}) and across columns, below the header;
    ImportFileError for one that reaches into the header."""
    downs: dict[int, list[tuple[int, int]]] = {}
    across: list[tuple[int, int, int, int]] = []
    for row1, row2, column1, column2 in merges:
        if row2 < header_line or column1 > width:
            continue  # a title above the header, or decoration right of it
        if row1 <= header_line:
            raise ImportFileError(
                f"{file_name}, line {header_line}: merged cells in the header (columns {column1}-{column2});"
                " give every column its own header cell"
            )
        if column1 == column2:
            downs.setdefault(row1, []).append((column1, row2))
        else:
            across.append((row1, row2, column1, min(column2, width)))
    return downs, sorted(across)


def _data_rows(
    header: list[str], raw: Iterator[RawRow], merges: Merges, archive: zipfile.ZipFile
) -> Iterator[Row]:
    width = len(header)
    downs, across = merges
    filling: dict[int, tuple[str, int]] = {}  # column -> (value, last row)
    try:
        for line, values, problems in raw:
            reasons = [f"{column_label(header, column - 1)}: {problem}" for column, problem in problems]
            for column, last in downs.pop(line, ()):
                filling[column] = (values.get(column, ""), last)
            for column, (value, last) in list(filling.items()):
                if line > last:
                    del filling[column]
                elif value:
                    values[column] = value
            if beyond := [column for column in values if column > width]:
                reasons.append(
                    f"a value in column {min(beyond):,}, right of the header's last column ({width})"
                )
            while across and across[0][1] < line:
                across.pop(0)
            for row1, row2, column1, column2 in across:
                if row1 > line:
                    break
                if line <= row2:
                    reasons.append(
                        f"merged cells across columns {column1}-{column2} (which holds the value is unclear)"
                    )
                    break
            if reasons:
                yield Row(line, [], "; ".join(reasons))
            elif values:
                yield Row(line, [values.get(column, "") for column in range(1, width + 1)])
    finally:
        archive.close()
