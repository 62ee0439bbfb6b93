"""The CSV reader: records and their line numbers do not depend on where its read blocks fall."""

from __future__ import annotations

from pathlib import Path

import pytest

from owabi.records import readers
from owabi.records.readers import Row, open_table

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
