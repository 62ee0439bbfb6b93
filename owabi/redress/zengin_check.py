"""A validator of 全銀協 総合振込 files, written from the format description (research/japan.md §5) and
not from the writer's field table in `owabi.redress.zengin`: it imports nothing from there, so a
mistake in the writer's table is caught here instead of repeated. Byte positions below are the
format's, counted from 1.

It checks what a bank checks on upload: record lengths, line ends, record order (1, 2…, 8, 9), the
character set byte by byte (JIS X 0201 half-width; the payee-name subset banks accept), numeric
fields, fixed values and code lists, and that the trailer's count and sum equal the data records'.
A message names the record and the field with its bytes, never the value: files hold names and
accounts.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass

LENGTH = 120
CRLF = b"\r\n"
MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    record: int | None  # from 1, None for the file as a whole
    what: str

    def __str__(self) -> str:
        return f"record {self.record}: {self.what}" if self.record else self.what


_RECORD_KINDS = {ord("1"): "header", ord("2"): "data", ord("8"): "trailer", ord("9"): "end"}
# Bytes a C field may hold (japan.md §5, 受取人名): space, ( ) - . /, 0-9, A-Z, and the half-width
# katakana ｦ and ｱ..ﾝ with ﾞ ﾟ (0xA6, 0xB1..0xDF). Not the small kana ｧ..ｯ (0xA7..0xAF), not ｰ (0xB0),
# not the punctuation 0xA1..0xA5, not lower case, not a comma.
_C_BYTES = frozenset(b" ()-./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") | {0xA6} | set(range(0xB1, 0xE0))


def _what_byte(byte: int) -> str:
    """What kind of character a refused byte is, without saying which (it may be part of a name)."""
    if 0x61 <= byte <= 0x7A:
        return "a lower-case Latin letter (banks take upper case only)"
    if 0xA7 <= byte <= 0xAF:
        return "a small kana (write ｱ for ｧ, ﾂ for ｯ …)"
    if byte == 0xB0:
        return "the long-vowel mark ｰ (some banks refuse it; write -)"
    if 0x81 <= byte <= 0x9F or 0xE0 <= byte <= 0xFC:
        return "a full-width (double-byte) character"
    if byte < 0x20 or byte == 0x7F:
        return "a control character"
    return "a character outside the bank character set"


def validate(data: bytes, *, results: bool = False) -> list[Problem]:
    """Every way `data` breaks the 総合振込 format, in file order (at most 50); [] when it is sound.
    `results=True` reads a bank's result file, whose data records carry a result code in byte 114."""
    problems: list[Problem] = []
    records = split(data, problems)
    if problems:
        return problems
    for number, record in enumerate(records, start=1):
        if len(record) != LENGTH:
            kind = _RECORD_KINDS.get(record[0], "?") if record else "empty"
            wide = any(0x81 <= byte <= 0x9F or 0xE0 <= byte <= 0xFC for byte in record)
            why = ", with a full-width (double-byte) character in it" if wide else ""
            problems.append(Problem(number, f"({kind}) {len(record)} bytes{why}; every record is 120"))
    if problems:
        return problems[:MAX_PROBLEMS]
    _check_order(records, problems)
    checks = {ord("1"): _check_header, ord("2"): _check_data, ord("8"): _check_trailer, ord("9"): _check_end}
    for number, record in enumerate(records, start=1):
        check = checks.get(record[0])
        if check is not None:
            check(number, record, problems, results)
    if not problems:
        _check_totals(records, problems)
    return problems[:MAX_PROBLEMS]


def split(data: bytes, problems: list[Problem] | None = None) -> list[bytes]:
    """The records: 122-byte lines ending in CRLF, or 120-byte records back to back. A final EOF mark
    (0x1A, left by some DOS tools) is ignored."""
    problems = problems if problems is not None else []
    if data.endswith(b"\x1a"):
        data = data[:-1]
    if not data:
        problems.append(Problem(None, "the file is empty"))
        return []
    if b"\r" not in data and b"\n" not in data:
        if len(data) % LENGTH:
            problems.append(Problem(None, f"{len(data)} bytes without line ends: not whole 120-byte records"))
        return [data[at : at + LENGTH] for at in range(0, len(data), LENGTH)]
    lines = data.split(CRLF)
    complete = lines[-1] == b""
    if complete:
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if b"\r" in line or b"\n" in line:
            problems.append(Problem(number, "a line end that is not CRLF (banks refuse CR or LF alone)"))
            return lines
    if not complete:
        problems.append(Problem(len(lines), "the last record does not end with CRLF"))
    return lines


def _check_order(records: list[bytes], problems: list[Problem]) -> None:
    """Record kinds run 1, 2 (one or more), 8, 9, and nothing after the end record."""
    kinds = [record[0] for record in records]
    expected_next = {
        None: (ord("1"),),
        ord("1"): (ord("2"),),
        ord("2"): (ord("2"), ord("8")),
        ord("8"): (ord("9"),),
        ord("9"): (),
    }
    names = {ord("1"): "a header (1)", ord("2"): "a data record (2)", ord("8"): "the trailer (8)"}
    previous: int | None = None
    for number, kind in enumerate(kinds, start=1):
        allowed = expected_next.get(previous, ())
        if kind not in allowed:
            if previous == ord("9"):
                problems.append(Problem(number, "a record after the end record (9)"))
            else:
                wanted = " or ".join(names.get(k, "the end record (9)") for k in allowed)
                problems.append(Problem(number, f"データ区分: {wanted} belongs here"))
            return
        previous = kind
    if previous != ord("9"):
        missing = {ord("1"): "data records", ord("2"): "the trailer (8)", ord("8"): "the end record (9)"}
        what = missing.get(previous or 0, "records")
        problems.append(Problem(len(kinds) + 1, f"missing: the file ends without {what}"))


class _Fields:
    """Reads one record from a byte position, each check naming the field and its bytes (1-based)."""

    def __init__(self, number: int, record: bytes, problems: list[Problem]) -> None:
        self.number, self.record, self.problems = number, record, problems
        self.kind = _RECORD_KINDS.get(record[0], "?")

    def say(self, start: int, length: int, name: str, what: str) -> None:
        where = f"({self.kind}), {name} (bytes {start}-{start + length - 1})"
        self.problems.append(Problem(self.number, f"{where}: {what}"))

    def raw(self, start: int, length: int) -> bytes:
        return self.record[start - 1 : start - 1 + length]

    def digits(self, start: int, length: int, name: str, *, allowed: Iterable[str] = ()) -> str | None:
        """An N field: digits only (zero-filled); with `allowed`, one of those values."""
        value = self.raw(start, length)
        if not value.isdigit():
            self.say(start, length, name, "not all digits (N fields are zero-filled)")
            return None
        text = value.decode("ascii")
        options = list(allowed)
        if options and text not in options:
            self.say(start, length, name, f"must be {' or '.join(options)}")
            return None
        return text

    def text(self, start: int, length: int, name: str, *, required: bool = False) -> None:
        """A C field: bank characters, left-justified (no leading space when a value is there)."""
        value = self.raw(start, length)
        for offset, byte in enumerate(value):
            if byte not in _C_BYTES:
                self.say(start, length, name, f"byte {start + offset} is {_what_byte(byte)}")
                return
        if required and not value.strip(b" "):
            self.say(start, length, name, "empty")
        elif value.strip(b" ") and value.startswith(b" "):
            self.say(start, length, name, "starts with a space (C fields are left-justified)")

    def blank(self, start: int, length: int, name: str = "ダミー") -> None:
        if self.raw(start, length).strip(b" "):
            self.say(start, length, name, "must be spaces")


def _check_header(number: int, record: bytes, problems: list[Problem], results: bool) -> None:
    f = _Fields(number, record, problems)
    f.digits(2, 2, "種別コード", allowed=["21"])
    f.digits(4, 1, "コード区分", allowed=["0"])
    f.digits(5, 10, "振込依頼人コード")
    f.text(15, 40, "振込依頼人名", required=True)
    day = f.digits(55, 4, "振込指定日")
    if day is not None:
        month, dom = int(day[:2]), int(day[2:])
        # February 29 is a day in some years: allowed whenever the month has that day in a leap year.
        if not (1 <= month <= 12 and 1 <= dom <= calendar.monthrange(2024, month)[1]):
            f.say(55, 4, "振込指定日", "not a date (MMDD)")
    f.digits(59, 4, "仕向銀行番号")
    f.text(63, 15, "仕向銀行名")
    f.digits(78, 3, "仕向支店番号")
    f.text(81, 15, "仕向支店名")
    f.digits(96, 1, "預金種目", allowed=["1", "2", "9"])
    f.digits(97, 7, "口座番号")
    f.blank(104, 17)


def _check_data(number: int, record: bytes, problems: list[Problem], results: bool) -> None:
    f = _Fields(number, record, problems)
    f.digits(2, 4, "被仕向銀行番号")
    f.text(6, 15, "被仕向銀行名")
    f.digits(21, 3, "被仕向支店番号")
    f.text(24, 15, "被仕向支店名")
    if f.raw(39, 4) != b"    ":  # unused: zero- or space-filled, as the bank likes
        f.digits(39, 4, "手形交換所番号")
    f.digits(43, 1, "預金種目", allowed=["1", "2", "4", "9"])
    f.digits(44, 7, "口座番号")
    f.text(51, 30, "受取人名", required=True)
    amount = f.digits(81, 10, "振込金額")
    if amount is not None and int(amount) == 0:
        f.say(81, 10, "振込金額", "zero")
    f.digits(91, 1, "新規コード", allowed=["0", "1", "2"])
    edi = f.raw(113, 1) == b"Y"
    if edi:
        f.text(92, 20, "EDI情報")
    else:
        for start, name in ((92, "顧客コード1"), (102, "顧客コード2")):
            if f.raw(start, 10).strip(b" "):  # optional; banks differ on N or C, owabi writes digits
                f.text(start, 10, name)
    if f.raw(112, 1) != b" ":
        f.digits(112, 1, "振込指定区分", allowed=["7", "8"])
    if f.raw(113, 1) not in (b" ", b"Y"):
        f.say(113, 1, "識別表示", "must be Y or a space")
    if results:
        f.digits(114, 1, "振込結果コード")
        f.blank(115, 6)
    else:
        f.blank(114, 7)


def _check_trailer(number: int, record: bytes, problems: list[Problem], results: bool) -> None:
    f = _Fields(number, record, problems)
    f.digits(2, 6, "合計件数")
    f.digits(8, 12, "合計金額")
    f.blank(20, 101)


def _check_end(number: int, record: bytes, problems: list[Problem], results: bool) -> None:
    _Fields(number, record, problems).blank(2, 119)


def _check_totals(records: list[bytes], problems: list[Problem]) -> None:
    """The trailer's count and sum equal the data records'."""
    data = [record for record in records if record[0] == ord("2")]
    trailer_at = next(n for n, record in enumerate(records, start=1) if record[0] == ord("8"))
    trailer = records[trailer_at - 1]
    count, total = int(trailer[1:7]), int(trailer[7:19])
    if count != len(data):
        problems.append(
            Problem(trailer_at, f"(trailer), 合計件数 (bytes 2-7): {count}, but {len(data)} data records")
        )
    amounts = sum(int(record[80:90]) for record in data)
    if total != amounts:
        problems.append(
            Problem(
                trailer_at,
                f"(trailer), 合計金額 (bytes 8-19): {total}, but the data records sum to {amounts}",
            )
        )
