"""The readers: records and their line numbers do not depend on where read blocks fall, and hostile files
(odd encodings, garbled bytes, bombs, spreadsheet traps) end as imported rows, rejected rows with a reason,
or one clear refusal."""

from __future__ import annotations

import codecs
import csv
import io
import time
import zipfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

import pytest
from openpyxl.utils import get_column_letter

from owabi.records import readers
from owabi.records.mapping import Mapping
from owabi.records.models import LeakRecord
from owabi.records.readers import ImportFileError, Row, open_table
from owabi.records.services import import_file

TEXT = (
    "record_id,氏名,備考\r\n"
    'R1,山田 太郎,"二行に\r\nまたがる"\r\n'
    "R2,佐藤 花子,普通\r\n"
    "R3,鈴木 一郎,CR\rだけ\r\n"
    '"R4","高橋 次郎","引用符""入り"""\r\n'
    "R5,田中 三郎,最後の行に改行なし"
)
EXPECTED = [
    Row(2, ["R1", "山田 太郎", "二行に\r\nまたがる"]),
    Row(4, ["R2", "佐藤 花子", "普通"]),
    Row(5, [], "a line break (CR) inside an unquoted field"),  # rejected; the file goes on
    Row(6, ["R4", "高橋 次郎", '引用符"入り"']),
    Row(7, ["R5", "田中 三郎", "最後の行に改行なし"]),
]


def _read(path: Path) -> tuple[str, list[str], list[Row]]:
    table = open_table(path)
    return table.encoding, table.header, list(table.rows())


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, readers.BLOCK_BYTES])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_rows_and_line_numbers_do_not_depend_on_the_block_size(
    tmp_path: Path, monkeypatch, block: int, encoding: str
) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(TEXT.encode(encoding))
    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    detected, header, rows = _read(path)
    assert detected == ("cp932" if encoding == "cp932" else "utf-8-sig")
    assert header == ["record_id", "氏名", "備考"]  # no BOM left on the first name
    assert rows == EXPECTED


@pytest.mark.parametrize("block", [1, 5, 64, readers.BLOCK_BYTES])
def test_a_line_that_does_not_decode_costs_only_its_record(tmp_path: Path, monkeypatch, block: int) -> None:
    good = [f"R{i},山田 太郎{i},備考{i}\n".encode() for i in range(1, 40)]
    broken = b"RX,\xff\xfe broken,x\n"
    path = tmp_path / "x.csv"
    path.write_bytes("record_id,氏名,備考\n".encode() + b"".join(good[:20]) + broken + b"".join(good[20:]))
    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    _, _, rows = _read(path)
    assert len(rows) == 40
    assert rows[20] == Row(22, [], "bytes that are not valid UTF-8")
    assert [row.line for row in rows] == list(range(2, 42))
    assert rows[21].cells == ["R21", "山田 太郎21", "備考21"] and not rows[21].problem


# --- Hostile text files: encodings, garbled bytes, line endings, over-long lines --------------------

HOSTILE_HEADER = ["record_id", "氏名", "備考"]
HOSTILE_ROWS = [
    ["R1", "山田 太郎", "普通"],
    ["R2", "佐藤 花子", "二行に\nまたがる"],
    ["R3", "髙橋 一郎", "一ਁ一"],  # in UTF-16 the bytes of a line break occur across these characters
    ["R4", "渡邊 次郎", ""],
]


def _csv_text(
    rows: list[list[str]], header: list[str] | None = HOSTILE_HEADER, newline: str = "\r\n", quoting: int = 0
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline, quoting=quoting)
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _import(incident, path: Path, mapping: Mapping | None = None):
    return import_file(incident=incident, path=path, actor="t", mapping=mapping)


def _stored() -> dict[str, dict]:
    return {r.record_id: r.sealed for r in LeakRecord.objects.order_by("line_no")}


def _reasons(result) -> list[tuple[int, str]]:
    return [(r.line, r.reason) for r in result.rejects]


@pytest.mark.parametrize("block", [3, readers.BLOCK_BYTES])
@pytest.mark.parametrize(
    ("codec", "bom"),
    [
        ("utf-16-le", b""),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", b""),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-32-le", codecs.BOM_UTF32_LE),
    ],
)
def test_utf16_is_read_with_or_without_a_bom(
    incident, tmp_path: Path, monkeypatch, codec: str, bom: bytes, block: int
) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes(bom + _csv_text(HOSTILE_ROWS).encode(codec))
    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    result = _import(incident, path)
    assert result.source_file.encoding == codec
    assert (result.source_file.rows_in, result.source_file.rows_ok) == (4, 4)
    stored = _stored()
    assert [s["subject_name"] for s in stored.values()] == [row[1] for row in HOSTILE_ROWS]
    assert stored["R2"]["extras"] == {"備考": "二行に\nまたがる"}
    assert stored["R3"]["extras"] == {"備考": "一ਁ一"}
    assert LeakRecord.objects.get(record_id="R4").line_no == 6


def test_a_broken_utf16_character_costs_only_its_row(incident, tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    text = _csv_text(HOSTILE_ROWS[:1]).encode("utf-16-le")
    broken = "R9,".encode("utf-16-le") + b"\x00\xd8" + "X\r\n".encode("utf-16-le")  # a lone high surrogate
    path.write_bytes(
        codecs.BOM_UTF16_LE + text + broken + _csv_text(HOSTILE_ROWS[3:], header=None).encode("utf-16-le")
    )
    result = _import(incident, path)
    assert _reasons(result) == [(3, "bytes that are not valid UTF-16 (little-endian)")]
    assert list(_stored()) == ["R1", "R4"]


LATIN = [
    ["L1", "Hélène Lefèvre", "Besançon"],
    ["L2", "Jürgen Müller", "Köln"],
    ["L3", "José García", "Málaga"],
]


@pytest.mark.parametrize(
    ("codec", "rows"),
    [
        ("latin-1", LATIN),
        ("cp1252", [["E1", "Seán O’Brien", "“VIP” – call"], ["E2", "Zoë Ångström", "don’t"]]),
    ],
)
def test_text_that_is_not_japanese_is_refused_unless_a_mapping_names_it(
    incident, tmp_path: Path, codec: str, rows: list[list[str]]
) -> None:
    path = tmp_path / "western.csv"
    path.write_bytes(_csv_text(rows, header=["record_id", "subject_name", "note"]).encode(codec))
    with pytest.raises(ImportFileError) as refused:
        _import(incident, path)
    message = str(refused.value)
    assert message.startswith("western.csv: the text is not UTF-8, UTF-16, Shift_JIS (CP932) or EUC-JP;")
    assert "mapping file" in message and "\n" not in message
    assert not any(value in message for row in rows for value in row)
    assert LeakRecord.objects.count() == 0

    result = _import(incident, path, Mapping(encoding=codec))
    assert result.source_file.rows_ok == len(rows)
    assert [s["subject_name"] for s in _stored().values()] == [row[1] for row in rows]


def test_euc_jp_is_recognised(incident, tmp_path: Path) -> None:
    path = tmp_path / "euc.csv"
    path.write_bytes(
        _csv_text([HOSTILE_ROWS[0], HOSTILE_ROWS[1], ["R5", "斎藤 ハナ", "ｶﾅ"]]).encode("euc_jp")
    )
    result = _import(incident, path)
    assert result.source_file.encoding == "euc_jp"
    assert [s["subject_name"] for s in _stored().values()] == ["山田 太郎", "佐藤 花子", "斎藤 ハナ"]


def test_garbled_cp932_names_are_rejected_with_their_column(incident, tmp_path: Path) -> None:
    def line(record_id: str, name: bytes) -> bytes:
        return record_id.encode() + b"," + name + b",x\r\n"

    sjis = partial(str.encode, encoding="cp932")
    path = tmp_path / "garbled.csv"
    good = [line(f"G{i}", sjis(f"山田 太郎{i}")) for i in range(8, 20)]
    path.write_bytes(
        sjis("record_id,氏名,備考\r\n")
        + line("G1", sjis("山田 太郎"))
        + line("G2", sjis("山田") + b"\x80" + sjis("花子"))  # 0x80 decodes to the C1 control U+0080
        + line("G3", sjis("佐藤") + b"\xf0\x40")  # a user-defined character: private use U+E000
        + line("G4", b"\xa0" + sjis("鈴木"))  # 0xA0 decodes to private-use U+F8F0
        + line("G5", sjis("田中") + b"\x07" + sjis("一"))  # BEL
        + line("G6", sjis("伊藤") + b"\x82\xff")  # no CP932 character
        + line("G7", sjis("中村 七子"))
        + b"".join(good)
    )
    result = _import(incident, path)
    assert result.source_file.encoding == "cp932"
    control = "column 2 (氏名): a control character"
    private = "column 2 (氏名): a private-use character (外字, or bytes in the wrong encoding)"
    assert _reasons(result) == [
        (3, control),
        (4, private),
        (5, private),
        (6, control),
        (7, "bytes that are not valid Shift_JIS (CP932)"),
    ]
    assert list(_stored()) == ["G1", "G7", *(f"G{i}" for i in range(8, 20))]
    report = result.rejects_path.read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert "山田" not in report and "佐藤" not in report


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("山田\ufffd", "U+FFFD, the mark of text garbled before the export"),
        ("山田\u202e郎太", "a bidirectional override (text that shows other than it reads)"),
        ("\ufeff山田", "a byte-order mark inside a value (files joined together?)"),
        ("山田\uffff", "a Unicode noncharacter"),
        ("山田\x1b[31m", "a control character"),
        ("山田\x85", "a control character"),
        ("山田\U000f0001", "a private-use character (外字, or bytes in the wrong encoding)"),
    ],
)
def test_values_that_are_not_text_reject_their_row_in_any_column(
    incident, tmp_path: Path, value: str, reason: str
) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(
        _csv_text([["A1", value, ""], ["A2", "山田 太郎", value], ["A3", "山田 三郎", "ok"]]), "utf-8"
    )
    result = _import(incident, path)
    assert _reasons(result) == [(2, f"column 2 (氏名): {reason}"), (3, f"column 3 (備考): {reason}")]
    assert list(_stored()) == ["A3"]


def test_a_header_that_is_not_text_refuses_the_file(incident, tmp_path: Path) -> None:
    path = tmp_path / "bad-header.csv"
    path.write_text("record_id,氏\x07名\nA1,山田 太郎\n", "utf-8")
    with pytest.raises(
        ImportFileError, match=r"^bad-header\.csv, line 1: column 2 of the header holds a control"
    ):
        _import(incident, path)


@pytest.mark.parametrize("block", [2, readers.BLOCK_BYTES])
def test_cr_only_line_endings_are_line_endings(incident, tmp_path: Path, monkeypatch, block: int) -> None:
    path = tmp_path / "mac.csv"
    # Excel for Mac ended records with CR and kept LF for the line breaks inside cells.
    text = _csv_text(HOSTILE_ROWS, newline="\r", quoting=csv.QUOTE_ALL)
    path.write_bytes(text.encode("cp932", errors="replace"))
    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    result = _import(incident, path)
    assert (result.source_file.rows_in, result.source_file.rows_ok) == (4, 4)
    assert _stored()["R2"]["extras"] == {"備考": "二行に\nまたがる"}
    assert LeakRecord.objects.get(record_id="R4").line_no == 5  # lines are counted at CRs


@pytest.mark.parametrize("codec", ["utf-8", "utf-16-le"])
@pytest.mark.parametrize("block", [4096, readers.BLOCK_BYTES])
def test_an_overlong_line_costs_only_its_row(
    incident, tmp_path: Path, monkeypatch, codec: str, block: int
) -> None:
    path = tmp_path / "long.csv"
    long_line = "R9," + "長" * (readers.MAX_LINE_BYTES // 2) + ",x\n"
    text = (
        _csv_text(HOSTILE_ROWS[:2], newline="\n")
        + long_line
        + _csv_text(HOSTILE_ROWS[2:], header=None, newline="\n")
    )
    path.write_bytes(text.encode(codec) if codec == "utf-8" else codecs.BOM_UTF16_LE + text.encode(codec))
    monkeypatch.setattr(readers, "BLOCK_BYTES", block)
    result = _import(incident, path)
    assert _reasons(result) == [(5, "a line longer than 1 MiB")]
    assert list(_stored()) == ["R1", "R2", "R3", "R4"]
    assert LeakRecord.objects.get(record_id="R3").line_no == 6


def test_an_overlong_header_line_refuses_the_file(incident, tmp_path: Path) -> None:
    path = tmp_path / "one-line.csv"
    path.write_bytes(b"record_id," + b"x" * (3 * readers.MAX_LINE_BYTES))
    with pytest.raises(
        ImportFileError, match=r"line 1: the header cannot be read \(a line longer than 1 MiB\)"
    ):
        _import(incident, path)


def test_a_field_over_the_csv_limit_costs_only_its_row(incident, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(
        _csv_text([HOSTILE_ROWS[0], ["R2", "山田 花子", "x" * 200_000], HOSTILE_ROWS[2]]), "utf-8"
    )
    result = _import(incident, path)
    assert _reasons(result) == [(3, "a field longer than 131,072 characters")]
    assert list(_stored()) == ["R1", "R3"]


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (b"PK\x03\x04", r"^book\.csv: a zip archive, not CSV text \(an Excel workbook\? name it \.xlsx\)$"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", r"^book\.csv: an old Excel \(\.xls\) or password-protected"),
    ],
)
def test_a_workbook_named_csv_is_refused_clearly(
    incident, tmp_path: Path, start: bytes, message: str
) -> None:
    path = tmp_path / "book.csv"
    path.write_bytes(start + bytes(range(256)) * 4)
    with pytest.raises(ImportFileError, match=message):
        _import(incident, path)


def test_a_mapping_encoding_overrides_detection(incident, tmp_path: Path) -> None:
    path = tmp_path / "u16.csv"
    path.write_bytes(codecs.BOM_UTF16_BE + _csv_text(HOSTILE_ROWS).encode("utf-16-be"))
    result = _import(incident, path, Mapping(encoding="UTF-16"))
    assert result.source_file.encoding == "utf-16-be"
    assert result.source_file.rows_ok == 4


# --- Hostile workbooks: bombs and spreadsheet traps --------------------------------------------------

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
Part = str | bytes | Callable[[IO[bytes]], None]


def _cell(ref: str, value: object) -> str:
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(value)}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def _row(line: int, *values: object, cells: str = "") -> str:
    """Row `line` with `values` from column A (None leaves a cell out), then the raw XML `cells`."""
    written = (_cell(f"{get_column_letter(i)}{line}", v) for i, v in enumerate(values, 1) if v is not None)
    return f'<row r="{line}">{"".join(written)}{cells}</row>'


def _worksheet(*rows: str, after: str = "") -> str:
    return f'<worksheet xmlns="{MAIN}"><sheetData>{"".join(rows)}</sheetData>{after}</worksheet>'


def _sheet(rows: list[list[object]], after: str = "") -> str:
    """A worksheet part holding `rows` from line 1."""
    return _worksheet(*(_row(line, *row) for line, row in enumerate(rows, start=1)), after=after)


def _workbook(
    path: Path,
    *sheets: Part,
    shared: Part | None = None,
    styles: Part | None = None,
    hidden: tuple[int, ...] = (),
    sizes: dict[str, int] | None = None,
) -> Path:
    """A workbook written part by part, so that a test controls every byte of it. A part given as a
    function writes itself (for bombs that must not be built in memory). `sizes` patches the size a part
    declares in the zip's central directory."""
    kinds = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    types = [f'<Override PartName="/xl/workbook.xml" ContentType="{kinds}.sheet.main+xml"/>']
    types += [
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{kinds}.worksheet+xml"/>'
        for i in range(1, len(sheets) + 1)
    ]
    if shared is not None:
        types.append(f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kinds}.sharedStrings+xml"/>')
    if styles is not None:
        types.append(f'<Override PartName="/xl/styles.xml" ContentType="{kinds}.styles+xml"/>')
    parts: dict[str, Part] = {
        "[Content_Types].xml": '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        f'<Default Extension="xml" ContentType="application/xml"/>{"".join(types)}</Types>',
        "_rels/.rels": f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1"'
        f' Type="{OFFICE}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    }
    listed = "".join(
        f'<sheet name="S{i}" sheetId="{i}" r:id="rId{i}" state="{"hidden" if i in hidden else "visible"}"/>'
        for i in range(1, len(sheets) + 1)
    )
    parts["xl/workbook.xml"] = (
        f'<workbook xmlns="{MAIN}" xmlns:r="{OFFICE}"><sheets>{listed}</sheets></workbook>'
    )
    rels = [
        f'<Relationship Id="rId{i}" Type="{OFFICE}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    ]
    for i, sheet in enumerate(sheets, start=1):
        parts[f"xl/worksheets/sheet{i}.xml"] = sheet
    if shared is not None:
        rels.append(f'<Relationship Id="rS" Type="{OFFICE}/sharedStrings" Target="sharedStrings.xml"/>')
        parts["xl/sharedStrings.xml"] = shared
    if styles is not None:
        rels.append(f'<Relationship Id="rT" Type="{OFFICE}/styles" Target="styles.xml"/>')
        parts["xl/styles.xml"] = styles
    parts["xl/_rels/workbook.xml.rels"] = f'<Relationships xmlns="{PACKAGE}">{"".join(rels)}</Relationships>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, part in parts.items():
            if callable(part):
                with archive.open(name, "w", force_zip64=True) as stream:
                    part(stream)
            else:
                archive.writestr(name, part)
    for name, size in (sizes or {}).items():
        _declare_size(path, name, size)
    return path


def _declare_size(path: Path, name: str, size: int) -> None:
    """Make the central directory claim `size` uncompressed bytes for part `name`."""
    data = bytearray(path.read_bytes())
    at = data.index(b"PK\x01\x02")
    while at >= 0:
        name_length = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + name_length] == name.encode():
            data[at + 24 : at + 28] = size.to_bytes(4, "little")
        at = data.find(b"PK\x01\x02", at + 46)
    path.write_bytes(bytes(data))


def _shared(*texts: str) -> str:
    return f'<sst xmlns="{MAIN}">{"".join(f"<si><t>{escape(t)}</t></si>" for t in texts)}</sst>'


XHEADER = ["record_id", "氏名", "住所"]


def _refused(incident, path: Path) -> str:
    with pytest.raises(ImportFileError) as refused:
        _import(incident, path)
    message = str(refused.value)
    assert message.startswith(path.name) and "\n" not in message
    return message


def test_a_cell_bomb_costs_its_row_and_streams_past(incident, tmp_path: Path) -> None:
    def sheet(stream: IO[bytes]) -> None:
        head, tail = _worksheet(_row(1, *XHEADER), _row(2, "X1", "山田 太郎"), _row(3, "X2", "BOMB")).split(
            "BOMB"
        )
        stream.write(head.encode())
        for _ in range(64):  # the memory test (test_import_fuzz) takes this to 300 MiB
            stream.write(b"A" * (1 << 20))
        stream.write(tail.replace("</sheetData>", _row(4, "X3", "佐藤 花子") + "</sheetData>").encode())

    path = _workbook(tmp_path / "bomb.xlsx", sheet)
    assert path.stat().st_size < 100_000
    result = _import(incident, path)
    assert _reasons(result) == [(3, "column 2 (氏名): longer than 32,767 characters (Excel's limit)")]
    assert list(_stored()) == ["X1", "X3"]


def test_a_long_shared_string_costs_the_rows_that_use_it(incident, tmp_path: Path) -> None:
    sheet = _worksheet(
        _row(1, "record_id", "氏名"),
        _row(2, cells='<c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c>'),
        _row(3, cells='<c r="A3" t="s"><v>2</v></c><c r="B3" t="s"><v>3</v></c>'),
    )
    path = _workbook(tmp_path / "long.xlsx", sheet, shared=_shared("S1", "山" * 40_000, "S2", "佐藤 花子"))
    result = _import(incident, path)
    assert _reasons(result) == [(2, "column 2 (氏名): longer than 32,767 characters (Excel's limit)")]
    assert list(_stored()) == ["S2"]


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        (
            {"xl/sharedStrings.xml": 200_000_000},
            "bomb.xlsx: the shared-string table would expand to 200,000,000 bytes (at most 134,217,728);"
            " save the sheet as CSV",
        ),
        (
            {"xl/sharedStrings.xml": 100},
            "bomb.xlsx: the zip archive is damaged (the shared-string table cannot be read)",
        ),
        ({"xl/workbook.xml": 40_000_000}, "bomb.xlsx: the workbook would expand to 40,000,000 bytes"),
    ],
)
def test_a_part_is_checked_against_the_size_it_declares_and_the_bytes_it_inflates(
    incident, tmp_path: Path, sizes: dict[str, int], message: str
) -> None:
    sheet = _sheet([XHEADER, ["X1", "山田 太郎", "東京都"]])
    path = _workbook(tmp_path / "bomb.xlsx", sheet, shared=_shared("x" * 1000), sizes=sizes)
    assert _refused(incident, path).startswith(message)


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i + 1} "{f"&lol{i};" * 10 if i else "&lol;" * 10}">' for i in range(9))
    + "]>"
)


@pytest.mark.parametrize("part", ["shared", "sheet"])
def test_xml_entities_are_refused_before_they_expand(incident, tmp_path: Path, part: str) -> None:
    sheet = _sheet([XHEADER, ["X1", "山田 太郎", "東京都"]])
    shared = _shared("x")
    if part == "shared":
        shared = LAUGHS + shared.replace("<t>x</t>", "<t>&lol9;</t>")
        what = "the shared-string table"
    else:
        sheet = LAUGHS + sheet.replace("東京都", "&lol9;")
        what = "sheet 1"
    path = _workbook(tmp_path / "laughs.xlsx", sheet, shared=shared)
    assert _refused(incident, path) == (
        f"laughs.xlsx: {what} declares a DTD (XML entities), which spreadsheet programs never write"
    )


def test_a_header_wider_than_the_limit_is_refused(incident, tmp_path: Path) -> None:
    header = ["record_id", "氏名", *(f"c{i}" for i in range(readers.MAX_COLUMNS))]
    path = _workbook(tmp_path / "wide.xlsx", _sheet([header, ["X1", "山田 太郎"]]))
    assert _refused(incident, path) == "wide.xlsx, line 1: the header reaches column 1,002 (at most 1,000)"


def test_a_value_right_of_the_header_rejects_its_row_without_building_it(incident, tmp_path: Path) -> None:
    sheet = _worksheet(
        _row(1, *XHEADER), _row(2, "X1", "山田 太郎"), _row(3, "X2", cells='<c r="XFD3"><v>1</v></c>')
    )
    result = _import(incident, _workbook(tmp_path / "far.xlsx", sheet))
    assert _reasons(result) == [(3, "a value in column 16,384, right of the header's last column (3)")]


def test_rows_far_apart_cost_no_time(incident, tmp_path: Path) -> None:
    sheet = _worksheet(_row(1, *XHEADER), _row(2, "X1", "山田 太郎"), _row(1048576, "X9", "佐藤 花子"))
    sheet = sheet.replace("<sheetData>", '<dimension ref="A1:XFD1048576"/><sheetData>')
    started = time.monotonic()
    result = _import(incident, _workbook(tmp_path / "far.xlsx", sheet))
    assert time.monotonic() - started < 10
    assert result.source_file.rows_ok == 2
    assert LeakRecord.objects.get(record_id="X9").line_no == 1048576


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ({"data.csv": "record_id,氏名\n"}, "odd.xlsx: a zip archive, but not an Excel workbook"),
        (
            {
                "_rels/.rels": f'<Relationships xmlns="{PACKAGE}"><Relationship Id="r"'
                f' Type="{OFFICE}/officeDocument" Target="word/document.xml"/></Relationships>',
                "word/document.xml": "<w:document xmlns:w='urn:w'/>",
            },
            "odd.xlsx: a zip archive, but not an Excel workbook (a Word or PowerPoint file?)",
        ),
        (
            {"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "<x/>"},
            "odd.xlsx: an OpenDocument spreadsheet (.ods); save it as .xlsx or CSV",
        ),
    ],
)
def test_a_zip_that_is_not_a_workbook_is_refused_clearly(
    incident, tmp_path: Path, contents: dict[str, str], message: str
) -> None:
    path = tmp_path / "odd.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in contents.items():
            archive.writestr(name, text)
    assert _refused(incident, path) == message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
            "x.xlsx: an old Excel (.xls) or password-protected",
        ),
        (
            "record_id,氏名\nA1,山田 太郎\n".encode(),
            "x.xlsx: not a readable Excel (.xlsx) workbook (not a zip archive",
        ),
        (b"PK\x03\x04" + bytes(100), "x.xlsx: not a readable Excel (.xlsx) workbook (a damaged zip)"),
        (b"PK\x05\x06" + bytes(18), "x.xlsx: a zip archive, but not an Excel workbook"),
    ],
)
def test_a_file_that_is_no_zip_is_refused_clearly(
    incident, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(content)
    assert _refused(incident, path).startswith(message)


def test_the_one_sheet_with_values_is_read_wherever_it_is(incident, tmp_path: Path) -> None:
    empty = _sheet([[None], []])
    data = _sheet([XHEADER, ["X1", "山田 太郎", "東京都"]])
    result = _import(incident, _workbook(tmp_path / "second.xlsx", empty, data, empty, hidden=(1,)))
    assert list(_stored()) == ["X1"]
    assert result.source_file.rows_ok == 1


def test_a_workbook_with_values_on_several_sheets_is_refused(incident, tmp_path: Path) -> None:
    data = _sheet([XHEADER, ["X1", "山田 太郎", "東京都"]])
    notes = _sheet([["備考"], ["この表は…"]])
    path = _workbook(tmp_path / "three.xlsx", data, _sheet([]), notes, hidden=(3,))
    assert _refused(incident, path) == (
        "three.xlsx: sheets 1, 3 (hidden) all hold values; owabi reads one sheet per file: save each sheet"
        " as its own workbook (or CSV) and import them one by one"
    )


def test_merged_cells_read_as_excel_shows_them(incident, tmp_path: Path) -> None:
    rows = [
        XHEADER,
        ["M1", "山田 太郎", "東京都千代田区1-1"],  # the family's address, merged down C2:C4
        ["M2", "山田 花子", None],
        ["M3", "山田 一郎", None],
        ["M4", "佐藤 次郎", None],  # B5:C5 merged across: which column holds the name is unclear
        ["M5", "鈴木 三郎", "大阪府"],
    ]
    merges = '<mergeCells count="2"><mergeCell ref="C2:C4"/><mergeCell ref="B5:C5"/></mergeCells>'
    result = _import(incident, _workbook(tmp_path / "merged.xlsx", _sheet(rows, merges)))
    assert _reasons(result) == [(5, "merged cells across columns 2-3 (which holds the value is unclear)")]
    stored = _stored()
    assert [stored[k]["address"] for k in ("M1", "M2", "M3")] == ["東京都千代田区1-1"] * 3
    assert stored["M5"]["address"] == "大阪府"


def test_merged_header_cells_refuse_the_file(incident, tmp_path: Path) -> None:
    rows = [["顧客一覧"], XHEADER, ["M1", "山田 太郎", "東京都"]]
    merges = '<mergeCells count="1"><mergeCell ref="A1:C1"/></mergeCells>'
    path = _workbook(tmp_path / "title.xlsx", _sheet(rows, merges))
    assert _refused(incident, path) == (
        "title.xlsx, line 1: merged cells in the header (columns 1-3); give every column its own header cell"
    )


STYLES = (
    f'<styleSheet xmlns="{MAIN}"><numFmts count="1"><numFmt numFmtId="176" formatCode="yyyy/m/d"/></numFmts>'
    '<cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="31"/><xf numFmtId="57"/><xf numFmtId="176"/>'
    '<xf numFmtId="14"/></cellXfs></styleSheet>'
)


def test_ja_jp_date_formats_read_as_dates(incident, tmp_path: Path) -> None:
    rows = [
        _row(line, line, "山田 太郎", cells=f'<c r="C{line}" s="{style}"><v>40269</v></c>')
        for line, style in enumerate([1, 2, 3, 4, 0], start=2)
    ]
    sheet = _worksheet(_row(1, "record_id", "氏名", "生年月日"), *rows)
    _import(incident, _workbook(tmp_path / "dates.xlsx", sheet, styles=STYLES))
    births = [s["subject_birth_date"] for s in _stored().values()]
    assert births == ["2010-04-01"] * 4 + ["40269"]  # the last is formatted General: a number


def test_cells_keep_the_text_an_export_holds(incident, tmp_path: Path) -> None:
    cells = (
        '<c r="A2" t="s"><v>0</v></c>'
        '<c r="B2" t="inlineStr"><is><r><t>山田</t></r><r><t> 太郎</t></r></is></c>'
        '<c r="C2" t="str"><f>"a"&amp;"b"</f><v>ab_x005F_x0041_</v></c>'
        '<c r="D2" t="b"><v>1</v></c>'
        '<c r="E2"><v>1.5</v></c>'
        '<c r="F2" t="inlineStr"><is><t>一行目_x000D_\n二行目</t></is></c>'
    )
    sheet = _worksheet(_row(1, "record_id", "氏名", "c", "d", "e", "f"), _row(2, cells=cells))
    shared = f'<sst xmlns="{MAIN}"><si><t>K1</t><rPh sb="0" eb="2"><t>ケーイチ</t></rPh></si></sst>'
    _import(incident, _workbook(tmp_path / "types.xlsx", sheet, shared=shared))
    record = LeakRecord.objects.get()
    assert record.record_id == "K1"
    assert record.sealed["subject_name"] == "山田 太郎"
    assert record.sealed["extras"] == {"c": "ab_x0041_", "d": "TRUE", "e": "1.5", "f": "一行目\r\n二行目"}


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        (
            '<c r="B2" t="inlineStr"><is><t>山田_x0007_太郎</t></is></c>',
            "column 2 (氏名): a control character",
        ),
        (
            '<c r="B2" t="inlineStr"><is><t>山田_xD800_</t></is></c>',
            "column 2 (氏名): an unpaired surrogate (broken UTF-16)",
        ),
        (
            '<c r="B2"><f>A1&amp;"x"</f></c>',
            "column 2 (氏名): a formula whose result was never saved (open and save it in Excel)",
        ),
        (
            '<c r="B2" t="s"><v>7</v></c>',
            "column 2 (氏名): a shared string the workbook lacks (damaged workbook)",
        ),
        (
            '<c r="B2" t="s"><v>-1</v></c>',
            "column 2 (氏名): a shared string the workbook lacks (damaged workbook)",
        ),
        (
            '<c r="B2"><v>12abc</v></c>',
            "column 2 (氏名): a number cell that holds no number (damaged workbook)",
        ),
        (
            '<c r="B2" t="inlineStr"><is><t>a</t></is></c><c r="B2"><v>1</v></c>',
            "column 2 (氏名): two cells for one column, or cells out of order (damaged)",
        ),
    ],
)
def test_a_cell_that_cannot_be_read_rejects_its_row(incident, tmp_path: Path, cell: str, reason: str) -> None:
    sheet = _worksheet(_row(1, "record_id", "氏名"), _row(2, "X1", cells=cell), _row(3, "X2", "佐藤 花子"))
    result = _import(incident, _workbook(tmp_path / "cells.xlsx", sheet, shared=_shared("x")))
    assert _reasons(result) == [(2, reason)]
    assert list(_stored()) == ["X2"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda s: s.replace('<row r="3">', '<row r="2">'),
            "damaged.xlsx: sheet 1, after line 2: rows out of order or past Excel's last (1,048,576);"
            " the workbook is damaged",
        ),
        (
            lambda s: s.replace('<row r="3">', '<row r="99999999999">'),
            "damaged.xlsx: sheet 1, after line 2: rows out of order or past Excel's last (1,048,576);"
            " the workbook is damaged",
        ),
        (
            lambda s: s.replace("東京都", "<a>" * 70 + "</a>" * 70),
            "damaged.xlsx: sheet 1 nests elements over 64 deep (damaged)",
        ),
        (
            lambda s: s.replace("<sheetData>", "<!--" + "x" * (2 << 20) + "--><sheetData>"),
            "damaged.xlsx: sheet 1 holds an XML token over 1 MiB (not written by a spreadsheet program)",
        ),
        (
            lambda s: s.replace("</sheetData>", "</sheetDatum>"),
            "damaged.xlsx: sheet 1 is not well-formed XML (line 1); the workbook is damaged",
        ),
    ],
)
def test_a_damaged_sheet_is_refused_in_one_line(incident, tmp_path: Path, damage, message: str) -> None:
    sheet = _sheet([XHEADER, ["X1", "山田 太郎", "東京都"], ["X2", "佐藤 花子", "大阪府"]])
    assert _refused(incident, _workbook(tmp_path / "damaged.xlsx", damage(sheet))) == message
