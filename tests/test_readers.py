"""The readers: records and their line numbers do not depend on where read blocks fall, and hostile files
(odd encodings, garbled bytes, bombs, spreadsheet traps) end as imported rows, rejected rows with a reason,
or one clear refusal."""

from __future__ import annotations

import codecs
import csv
import io
from functools import partial
from pathlib import Path

import pytest

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
