"""Hostile files through the whole import: small valid exports, re-encoded, re-quoted, re-delimited and
then mutated byte by byte (CSV) or part by part (xlsx), must each end as rows imported or rejected with a
reason, or as one clear ImportFileError. Never another exception, never a value stored with characters no
export holds, never a value in a message, and the counts reconcile. Memory stays bounded on the bombs.

The examples are derandomized with a fixed count, so CI runs the same files every time (a few seconds
per test on the 2-core machine).
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from owabi.records.models import LeakRecord
from owabi.records.readers import ImportFileError
from owabi.records.services import import_file
from tests.conftest import REPO

pytestmark = pytest.mark.django_db

HEADER = ["record_id", "氏名", "フリガナ", "電話番号", "生年月日", "備考"]
ROWS = [
    ["F1", "山田 太郎", "ヤマダ タロウ", "090-1234-5678", "1980-04-01", ""],
    ["F2", "髙橋　花子", "ﾀｶﾊｼ ﾊﾅｺ", "０３－１２３４－５６７８", "H2.5.6", "二行に\nまたがる"],
    ["F3", "渡邊 一郎", "", "", "", '引用符"入り"'],
    ["F4", "斎藤 ハナ", "サイトウ ハナ", "", "2001/2/3", "a,b;c\td|e"],
    ["F5", "佐藤 𠮷子", "サトウ ヨシコ", "080-0000-1111", "", "最後"],
]
# What a message or a reject reason must never contain: the leaked values (headers may be named).
SECRETS = {value for row in ROWS for value in row[1:] if len(value) >= 3}
ENCODINGS = ["utf-8", "utf-8-sig", "cp932", "euc_jp", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1"]
NOISE = [
    b"\x00",
    b"\xff",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\r",
    b"\n",
    b'"',
    b",",
    b"\t",
    b"\x82",
    b"\xed\xa0\x80",  # a UTF-8-encoded surrogate
    b"\xf0\x40",  # a CP932 user-defined character
    b"\x1b",
    b"\xe2\x80\xae",  # U+202E
    b"\xef\xbf\xbd",  # U+FFFD
]


def _is_garbled(value: str) -> bool:
    """The test's own judgement, independent of the reader's: control (but tab and line breaks),
    private-use or surrogate characters, noncharacters and U+FFFD have no place in a stored value."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc" and char not in "\t\n\r":
            return True
        if category in ("Co", "Cs") or char == "\ufffd" or (ord(char) & 0xFFFE) == 0xFFFE:
            return True
    return False


def _values(sealed: Any) -> list[str]:
    if isinstance(sealed, dict):
        return [v for item in sealed.values() for v in _values(item)]
    if isinstance(sealed, list):
        return [v for item in sealed for v in _values(item)]
    return [sealed] if isinstance(sealed, str) else []


def _check(incident, path: Path) -> None:
    """Import `path` and check the outcome is one of the allowed ones."""
    try:
        result = import_file(incident=incident, path=path, actor="fuzz")
    except ImportFileError as error:
        message = str(error)
        assert message.startswith(path.name) and "\n" not in message and "\r" not in message, message
        assert not any(secret in message for secret in SECRETS), message
        return
    if result.already_imported:
        return
    source = result.source_file
    assert source.rows_in == source.rows_ok + source.rows_rejected
    assert source.rows_rejected == len(result.rejects)
    for reject in [*result.rejects, *result.warnings]:
        assert reject.reason and "\n" not in reject.reason
        assert not any(secret in reject.reason for secret in SECRETS), reject.reason
    for record in LeakRecord.objects.filter(source_file=source):
        for value in [*_values(record.sealed), record.record_id]:
            assert not _is_garbled(value), ascii(value)


@st.composite
def _mutated(draw: st.DrawFn, data: bytes, most: int = 4) -> bytes:
    """`data` with up to `most` byte-level mutations: flips, insertions, deletions, repeats, truncation."""
    for _ in range(draw(st.integers(0, most))):
        where = int(draw(st.floats(0, 1, exclude_max=True)) * (len(data) + 1))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "truncate"]))
        if kind == "flip" and data:
            where = min(where, len(data) - 1)
            data = data[:where] + bytes([data[where] ^ draw(st.integers(1, 255))]) + data[where + 1 :]
        elif kind == "insert":
            noise = draw(st.sampled_from(NOISE) | st.binary(min_size=1, max_size=8))
            data = data[:where] + noise * draw(st.sampled_from([1, 1, 2, 300])) + data[where:]
        elif kind == "delete":
            data = data[:where] + data[where + draw(st.integers(1, 16)) :]
        elif kind == "repeat":
            data = data[:where] + data[where : where + draw(st.integers(1, 64))] * 2 + data[where:]
        elif kind == "truncate":
            data = data[:where]
    return data


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(st.sampled_from(ROWS), max_size=6))
    out = io.StringIO()
    writer = csv.writer(
        out,
        delimiter=draw(st.sampled_from([",", "\t", ";"])),
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])),
    )
    writer.writerow(draw(st.sampled_from([HEADER, HEADER[:2], ["id", *HEADER[1:]]])))
    writer.writerows(rows)
    data = out.getvalue().encode(draw(st.sampled_from(ENCODINGS)), errors="replace")
    return draw(_mutated(data))


FUZZ = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=csv_files(), suffix=st.sampled_from([".csv", ".tsv"]))
def test_any_csv_is_imported_rejected_or_refused_clearly(
    incident, tmp_path: Path, data: bytes, suffix: str
) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    _check(incident, path)


def _workbook_parts(rows: list[list[Any]]) -> dict[str, bytes]:
    """A workbook as openpyxl (a common exporter) writes it, part by part."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@st.composite
def xlsx_files(draw: st.DrawFn) -> bytes:
    rows = [list(row) for row in draw(st.lists(st.sampled_from(ROWS), max_size=5))]
    for row in rows:  # typed cells, as exports hold them
        if draw(st.booleans()):
            row[4] = datetime(1980, 4, 1)
        if draw(st.booleans()):
            row[0] = draw(st.integers(-(10**20), 10**20))
        if draw(st.booleans()):
            row[5] = draw(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20))
    parts = _workbook_parts(rows)
    sheet = "xl/worksheets/sheet1.xml"
    for name in draw(st.lists(st.sampled_from(sorted(parts)) | st.just(sheet), max_size=3)):
        text = parts[name]
        if draw(st.booleans()):  # an XML-level edit that keeps the part well-formed more often
            text = draw(
                st.sampled_from(
                    [
                        text.replace(b"<v>", b"<v>_x0007_", 1),
                        text.replace(b'r="2"', b'r="1"', 1),
                        text.replace(b'r="A2"', b'r="XFD2"', 1),
                        text.replace(
                            b"</sheetData>", b'</sheetData><mergeCells><mergeCell ref="A2:B3"/></mergeCells>'
                        ),
                        text.replace(b"<v>", b"<v>-", 1),
                        text.replace(b't="s"', b't="inlineStr"', 1),
                        text.replace(b"<?xml", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><?xml', 1),
                    ]
                )
            )
        parts[name] = draw(_mutated(text, most=2))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return draw(_mutated(buffer.getvalue(), most=draw(st.sampled_from([0, 0, 0, 1]))))


@FUZZ
@given(data=xlsx_files())
def test_any_workbook_is_imported_rejected_or_refused_clearly(incident, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.xlsx"
    path.write_bytes(data)
    _check(incident, path)


# --- Bombs: memory measured in a subprocess --------------------------------------------------------------

# What a bomb may cost beyond the same command importing a two-row file (the command alone is ~95 MiB
# here; openpyxl took 2.8 GB for the 300 MB cell).
MEMORY_CAP_MIB = 64
_MEASURED = (
    "import resource, runpy, sys\n"
    "sys.argv = ['owabi', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('owabi', run_name='__main__')\n"
    "finally:\n"
    "    print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
)


def _owabi_import(path: Path, env: dict[str, str]) -> tuple[str, int]:
    """`owabi import` in a fresh process: its output and its peak resident memory in MiB."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, "import", str(path), "--incident", "test-leak"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    peak = re.search(r"maxrss (\d+)", done.stderr)
    assert peak, done.stderr
    return done.stdout + done.stderr, int(peak[1]) // 1024


def _cell_bomb(path: Path) -> Path:
    """A 300 KB workbook whose cell B3 inflates to 300 MiB (the hostile tester's file)."""
    head = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>record_id</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>氏名</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>B1</t></is></c>'
        '<c r="B2" t="inlineStr"><is><t>山田 太郎</t></is></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>B2</t></is></c><c r="B3" t="inlineStr"><is><t>'
    )
    parts = _workbook_parts([])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            if name != "xl/worksheets/sheet1.xml":
                archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as stream:
            stream.write(head.encode())
            for _ in range(300):
                stream.write(b"A" * (1 << 20))
            stream.write(b"</t></is></c></row></sheetData></worksheet>")
    return path


def _line_bomb(path: Path) -> Path:
    """A CSV whose second record is one 100 MiB line."""
    with path.open("wb") as out:
        out.write("record_id,氏名\nB1,山田 太郎\nB2,".encode())
        for _ in range(100):
            out.write(b"x" * (1 << 20))
        out.write("\nB3,佐藤 花子\n".encode())
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("bomb", "outcome"),
    [(_cell_bomb, "in 2 = kept 1 + rejected 1"), (_line_bomb, "in 3 = kept 2 + rejected 1")],
    ids=["xlsx-300-MiB-cell", "csv-100-MiB-line"],
)
def test_bombs_are_read_in_bounded_memory(
    incident, subprocess_env: dict[str, str], tmp_path: Path, bomb, outcome: str
) -> None:
    small = tmp_path / "small.csv"
    small.write_text("record_id,氏名\nS1,山田 太郎\nS2,佐藤 花子\n", encoding="utf-8")
    output, baseline = _owabi_import(small, subprocess_env)
    assert "in 2 = kept 2 + rejected 0" in output, output
    path = bomb(tmp_path / ("bomb.xlsx" if bomb is _cell_bomb else "bomb.csv"))
    assert path.stat().st_size < 1 << 20 or path.suffix == ".csv"
    output, peak = _owabi_import(path, subprocess_env)
    assert outcome in output, output
    assert peak - baseline < MEMORY_CAP_MIB, f"{peak} MiB against {baseline} MiB for a two-row file"
