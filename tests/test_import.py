from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from owabi.core.crypto import blind_index
from owabi.records.models import LeakRecord, SourceFile
from owabi.records.services import ImportFileError, import_file

pytestmark = pytest.mark.django_db

HEADER = [
    "record_id",
    "氏名",
    "フリガナ",
    "電話番号",
    "メールアドレス",
    "カード番号",
    "セキュリティコード",
    "会員ランク",
]
ROWS = [
    [
        "A1",
        "山田 太郎",
        "ヤマダ タロウ",
        "090-1234-5678",
        "taro@example.jp",
        "4111 1111 1111 1111",
        "739",
        "gold",
    ],
    ["A2", "髙橋 花子", "ﾀｶﾊｼ ﾊﾅｺ", "０３－１２３４－５６７８", "", "************4242", "862", ""],
    ["", "名無し", "", "", "", "", "", ""],
    ["A4", "佐藤 一郎", "", "", "", "4111 1111 1111 1112", "555", ""],
    ["A1", "重複 行", "", "", "", "", "", ""],
    ["A6", "", "", "", "", "", "", ""],
]


def _write(path: Path, rows: list[list[str]], encoding: str = "utf-8", header: list[str] = HEADER) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_every_row_is_imported_or_rejected_with_a_reason(incident, tmp_path: Path) -> None:
    result = import_file(incident=incident, path=_write(tmp_path / "x.csv", ROWS), actor="t")
    source = result.source_file
    assert (source.rows_in, source.rows_ok, source.rows_rejected) == (6, 2, 4)
    assert LeakRecord.objects.count() == 2
    with result.rejects_path.open(encoding="utf-8") as handle:  # type: ignore[union-attr]
        rejects = list(csv.DictReader(handle))
    assert [(r["line"], r["field"]) for r in rejects] == [
        ("4", "record_id"),
        ("5", "card_number"),
        ("6", "record_id"),
        ("7", "subject_name"),
    ]
    assert all(r["file"] == "x.csv" and r["reason"] for r in rejects)
    text = result.rejects_path.read_text(encoding="utf-8")  # type: ignore[union-attr]
    assert "佐藤" not in text and "重複" not in text and "4111" not in text


def test_card_numbers_are_reduced_and_security_codes_refused(incident, tmp_path: Path) -> None:
    import_file(incident=incident, path=_write(tmp_path / "x.csv", ROWS), actor="t")
    first = LeakRecord.objects.get(record_id="A1")
    assert first.sealed["card_brand"] == "VISA"
    assert first.sealed["card_last4"] == "1111"
    assert "card_number" not in first.sealed
    assert len(first.sealed["card_number_hash"]) == 32
    assert "card_security_code" in first.categories
    assert "card_number" in first.categories
    assert first.sealed["extras"] == {"会員ランク": "gold"}
    masked = LeakRecord.objects.get(record_id="A2")
    assert masked.sealed["card_last4"] == "4242"
    assert "card_number_hash" not in masked.sealed
    for record in LeakRecord.objects.all():
        assert "739" not in str(record.sealed) and "862" not in str(record.sealed)


def test_stored_rows_hold_no_plaintext(incident, tmp_path: Path) -> None:
    import_file(incident=incident, path=_write(tmp_path / "x.csv", ROWS), actor="t")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM records_leakrecord")
        dump = repr(cursor.fetchall())
    for secret in ["山田", "ヤマダ", "1234-5678", "12345678", "taro@", "4111111111111111", "gold"]:
        assert secret not in dump


def test_lookups_find_a_record_by_blind_index(incident, tmp_path: Path) -> None:
    import_file(incident=incident, path=_write(tmp_path / "x.csv", ROWS), actor="t")
    assert (
        LeakRecord.objects.get(bx_name_phone=blind_index("name_phone", "山田太郎", "09012345678")).record_id
        == "A1"
    )
    assert LeakRecord.objects.get(bx_name_card=blind_index("name_card", "髙橋花子", "4242")).record_id == "A2"
    assert LeakRecord.objects.get(bx_email=blind_index("email", "taro@example.jp")).record_id == "A1"


def test_importing_the_same_file_twice_is_a_no_op(incident, tmp_path: Path) -> None:
    path = _write(tmp_path / "x.csv", ROWS)
    import_file(incident=incident, path=path, actor="t")
    again = import_file(incident=incident, path=path, actor="t")
    assert again.already_imported
    assert SourceFile.objects.count() == 1
    assert LeakRecord.objects.count() == 2


def test_it_reads_shift_jis_and_tsv(incident, tmp_path: Path) -> None:
    path = tmp_path / "sjis.tsv"
    with path.open("w", encoding="cp932", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["会員番号", "氏名", "住所"])
        writer.writerow(["S1", "渡辺 恵", "東京都千代田区丸の内一丁目1番1号"])
    result = import_file(incident=incident, path=path, actor="t")
    assert result.source_file.encoding == "cp932"
    assert LeakRecord.objects.get().sealed == {
        "subject_name": "渡辺 恵",
        "address": "東京都千代田区丸の内一丁目1番1号",
    }


def test_a_row_with_the_wrong_number_of_fields_is_rejected(incident, tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text("record_id,氏名\nB1,山田 太郎\nB2\nB3,a,b\n", encoding="utf-8")
    result = import_file(incident=incident, path=path, actor="t")
    assert [(r.line, r.reason) for r in result.rejects] == [
        (3, "expected 2 fields, found 1"),
        (4, "expected 2 fields, found 3"),
    ]


def test_a_file_without_record_ids_is_refused_by_name(incident, tmp_path: Path) -> None:
    path = tmp_path / "noid.csv"
    path.write_text("氏名\n山田 太郎\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"noid.csv, line 1: no record_id column"):
        import_file(incident=incident, path=path, actor="t")
    assert SourceFile.objects.count() == 0


def test_the_command_reports_counts(incident, tmp_path: Path, capsys) -> None:
    call_command("import", str(_write(tmp_path / "x.csv", ROWS)), "--incident", incident.slug)
    assert "in 6, ok 2, rejected 4" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no incident"):
        call_command("import", str(tmp_path / "x.csv"), "--incident", "nope")
