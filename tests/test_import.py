from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from owabi.records import match_store
from owabi.records.mapping import load_mapping
from owabi.records.models import LeakRecord, SourceFile
from owabi.records.readers import ImportFileError
from owabi.records.services import import_file

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
    for record in LeakRecord.objects.all():  # (the card hash is hex: it may hold any three digits)
        values = str({k: v for k, v in record.sealed.items() if k != "card_number_hash"})
        assert "739" not in values and "862" not in values


def test_stored_rows_hold_no_plaintext(incident, tmp_path: Path) -> None:
    import_file(incident=incident, path=_write(tmp_path / "x.csv", ROWS), actor="t")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM records_leakrecord")
        dump = repr(cursor.fetchall())
    for secret in ["山田", "ヤマダ", "1234-5678", "12345678", "taro@", "4111111111111111", "gold"]:
        assert secret not in dump


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


def test_it_reads_excel_with_typed_cells(incident, tmp_path: Path) -> None:
    from datetime import datetime

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["会員番号", "氏名", "生年月日", "郵便番号", "カード番号"])
    sheet.append([1001, "山田 花子", datetime(2010, 4, 1), 1000001, 4111111111111111])
    sheet.append([None, None, None, None, None])  # an empty formatted row is not a record
    sheet.append([1002, "山田 次郎", "H24.5.6", "100-0001", None])
    path = tmp_path / "export.xlsx"
    workbook.save(path)
    result = import_file(incident=incident, path=path, actor="t")
    assert (result.source_file.rows_in, result.source_file.rows_ok) == (2, 2)
    assert result.source_file.encoding == "xlsx"
    first = LeakRecord.objects.get(record_id="1001")
    assert first.sealed["subject_birth_date"] == "2010-04-01"
    assert first.sealed["postal_code"] == "1000001"
    assert (first.sealed["card_brand"], first.sealed["card_last4"]) == ("VISA", "1111")
    assert LeakRecord.objects.get(record_id="1002").line_no == 4


def test_a_broken_excel_file_is_refused_by_name(incident, tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(ImportFileError, match=r"broken.xlsx: not a readable Excel"):
        import_file(incident=incident, path=path, actor="t")


def test_a_mapping_file_maps_headers_and_names_extra_categories(incident, tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'source = "zemi"\n[columns]\n"受講者ID" = "record_id"\n"お子さまのお名前" = "subject_name"\n'
        '[categories]\n"口座番号" = "bank_account"\n',
        encoding="utf-8",
    )
    path = tmp_path / "zemi.csv"
    path.write_text(
        "受講者ID,お子さまのお名前,口座番号,備考\nZ1,佐藤 陽菜,1234567,\nZ2,佐藤 蓮,,メモ\n", encoding="utf-8"
    )
    result = import_file(incident=incident, path=path, actor="t", mapping=load_mapping(mapping))
    assert result.source_file.source == "zemi"
    assert result.source_file.mapping == {"受講者ID": "record_id", "お子さまのお名前": "subject_name"}
    first, second = LeakRecord.objects.order_by("record_id")
    assert first.categories == ["bank_account", "name"]
    assert first.sealed["extras"] == {"口座番号": "1234567"}
    assert second.categories == ["name", "other"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[columns]\n"x" = "shoe_size"\n', "maps to unknown column 'shoe_size'"),
        ('[categories]\n"x" = "shoe_size"\n', "names unknown category 'shoe_size'"),
        ("colums = 1\n", "unknown keys colums"),
        ("[columns\n", "not valid TOML"),
        ('delimiter = ";;"\n', "delimiter must be one character"),
    ],
)
def test_bad_mapping_files_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ImportFileError, match=message):
        load_mapping(path)


def test_two_columns_for_one_standard_column_are_refused(incident, tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("record_id,氏名,名前\nA,山田 太郎,山田 太郎\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"dup\.csv, line 1: two columns map to subject_name"):
        import_file(incident=incident, path=path, actor="t")


def test_undecodable_bytes_reject_only_their_row(incident, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    good = "record_id,氏名,備考\nA1,山田 太郎,\n".encode("cp932")
    multi_line = 'A4,鈴木 一郎,"一行目\n二行目"\n'.encode("cp932")
    path.write_bytes(good + b"A2,\x82\xff,\n" + "A3,佐藤 花子,\n".encode("cp932") + multi_line)
    result = import_file(incident=incident, path=path, actor="t")
    assert result.source_file.encoding == "cp932"
    assert [(r.line, r.reason) for r in result.rejects] == [(3, "bytes that are not valid Shift_JIS (CP932)")]
    assert sorted(LeakRecord.objects.values_list("record_id", flat=True)) == ["A1", "A3", "A4"]
    assert LeakRecord.objects.get(record_id="A4").sealed["extras"] == {"備考": "一行目\n二行目"}


def test_one_corrupt_line_does_not_turn_a_utf8_file_into_cp932(incident, tmp_path: Path) -> None:
    path = tmp_path / "utf8.csv"
    path.write_bytes("record_id,氏名\nU1,山田 太郎\n".encode() + b"U2,\xff\xfe\n" + "U3,佐藤 花子\n".encode())
    result = import_file(incident=incident, path=path, actor="t")
    assert result.source_file.encoding == "utf-8-sig"
    assert [(r.line, r.reason) for r in result.rejects] == [(3, "bytes that are not valid UTF-8")]
    assert LeakRecord.objects.get(record_id="U3").sealed["subject_name"] == "佐藤 花子"


def _crowd(count: int) -> list[list[str]]:
    """`count` plain rows, with every 7th one bad in a different way, and one id repeated far apart."""
    rows = []
    for i in range(count):
        row = [f"C{i}", f"山田 太郎{i % 50}", "ヤマダ タロウ", f"090-1234-{i:04d}", "", "", "", ""]
        if i % 7 == 3:
            row[0] = ""  # missing record_id
        if i % 7 == 5:
            row[5] = "4111 1111 1111 1113"  # fails the Luhn check
        rows.append(row)
    rows.append(["C1", "後 から", "", "", "", "", "", ""])  # repeats an id from the first chunk
    return rows


def test_parallel_import_writes_what_an_in_process_import_writes(incident, tmp_path: Path) -> None:
    from owabi.incidents.services import create_incident

    rows = _crowd(300)
    parallel = import_file(
        incident=incident, path=_write(tmp_path / "p.csv", rows), actor="t", workers=2, chunk=40
    )
    other = create_incident(actor="t", slug="other", name="other", discovered_on=incident.discovered_on)
    serial = import_file(incident=other, path=_write(tmp_path / "s.csv", rows), actor="t", workers=1)
    for result in (parallel, serial):
        source = result.source_file
        assert (source.rows_in, source.rows_ok + source.rows_rejected) == (301, 301)
    assert [(r.line, r.field, r.reason) for r in parallel.rejects] == [
        (r.line, r.field, r.reason) for r in serial.rejects
    ]
    lines = [r.line for r in parallel.rejects]
    assert lines == sorted(lines) and lines[-1] == 302  # the repeated id, last line of the file
    assert parallel.rejects[-1].reason == "appears earlier in the same file"

    def stored(incident_) -> list[tuple[str, int, dict, dict]]:
        records = LeakRecord.objects.filter(incident=incident_).order_by("line_no")
        keys = match_store.keys_by_record(incident_)
        return [(r.record_id, r.line_no, r.sealed, keys[r.pk]) for r in records]

    assert stored(incident) == stored(other)
    assert len(stored(incident)) == parallel.source_file.rows_ok


def test_unreadable_values_are_kept_reported_and_left_out_of_matching(
    incident, tmp_path: Path, capsys
) -> None:
    header = ["record_id", "氏名", "生年月日", "電話番号", "郵便番号"]
    rows = [
        ["B1", "山田 花子", "2010-13-45", "090-1234-5678", "100-0001"],
        ["B2", "山田 次郎", "平成20年4月1日", "12", "1234"],
        ["B3", "山田 三郎", "2001-02-03", "090-9999-0000", "100-0001"],
    ]
    path = _write(tmp_path / "w.csv", rows, header=header)
    call_command("import", str(path), "--incident", incident.slug)
    out = capsys.readouterr().out
    assert "in 3, ok 3, rejected 0" in out
    assert "2 imported rows have values that could not be read" in out
    records = {r.record_id: r for r in LeakRecord.objects.all()}
    keys = {record_id: match_store.keys_by_record(incident)[r.pk] for record_id, r in records.items()}
    assert records["B1"].problems == ["subject_birth_date: no such calendar day"]
    assert records["B1"].sealed["subject_birth_date"] == "2010-13-45"  # kept as given, for review
    assert keys["B1"]["dob"] is None and keys["B1"]["phone"] == "+819012345678"
    assert records["B2"].problems == [
        "phone: not a valid phone number",
        "postal_code: not a 7-digit postal code",
    ]
    assert keys["B2"]["dob"] == "2008-04-01"
    assert records["B3"].problems == []
    with (tmp_path / "w.warnings.csv").open(encoding="utf-8") as handle:
        warnings = list(csv.reader(handle))
    assert warnings[0] == ["file", "line", "field", "reason"]
    assert [(w[1], w[2]) for w in warnings[1:]] == [
        ("2", "subject_birth_date"),
        ("3", "phone"),
        ("3", "postal_code"),
    ]
    text = (tmp_path / "w.warnings.csv").read_text(encoding="utf-8")
    assert "2010-13-45" not in text and "1234" not in text and "山田" not in text


def test_text_with_tabs_newlines_and_backslashes_survives_the_bulk_write(incident, tmp_path: Path) -> None:
    # On PostgreSQL rows reach the table in COPY's text format, where these characters are escapes.
    tricky = ["T\\1", "山田 太郎", "", "", "", "", "", "a\tb\nc\\N\r\\x00"]
    rows = [tricky, ["T2", "山田\t花子", "", "", "", "", "", "\\"]]
    result = import_file(incident=incident, path=_write(tmp_path / "t.csv", rows), actor="t")
    assert (result.source_file.rows_ok, result.source_file.rows_rejected) == (2, 0)
    records = {r.record_id: r for r in LeakRecord.objects.all()}
    assert set(records) == {"T\\1", "T2"}
    assert records["T\\1"].sealed["extras"] == {"会員ランク": "a\tb\nc\\N\r\\x00"}
    assert records["T\\1"].line_no == 2 and records["T2"].line_no == 4  # the quoted newline spans a line
    assert records["T2"].sealed["extras"] == {"会員ランク": "\\"}
    assert LeakRecord.objects.get(record_id="T2").categories == [
        "card_security_code",
        "name",
        "other",
    ]


def test_a_row_with_a_nul_character_is_rejected_not_fatal(incident, tmp_path: Path) -> None:
    rows = [["N1", "山田 太郎", "", "", "", "", "", "x\x00y"], ["N2", "山田 花子", "", "", "", "", "", ""]]
    result = import_file(incident=incident, path=_write(tmp_path / "n.csv", rows), actor="t")
    assert [(r.line, r.reason) for r in result.rejects] == [(2, "contains a NUL character (not text)")]
    assert list(LeakRecord.objects.values_list("record_id", flat=True)) == ["N2"]


REASON_HEADER = ["record_id", "氏名", "保護者氏名", "カード番号", "カード下4桁"]


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (["", "山田 太郎", "", "", ""], "record_id", "missing"),
        (["R" * 101, "山田 太郎", "", "", ""], "record_id", "longer than 100 characters"),
        (["B1", "", "", "", ""], "subject_name", "neither a name nor a guardian's name"),
        (
            ["B1", "山田 太郎", "", "4111 1111 1111 1112", ""],
            "card_number",
            "card number fails the check digit",
        ),
        (
            ["B1", "山田 太郎", "", "4111-11", ""],
            "card_number",
            "not a card number (expected 12-19 digits, or a masked number ending in 4 digits)",
        ),
        (["B1", "山田 太郎", "", "", "42a2"], "card_last4", "must be exactly 4 digits"),
        (["B1", "山田 太郎", "", "", "12345"], "card_last4", "must be exactly 4 digits"),
    ],
)
def test_each_reject_reason_names_line_and_field_and_not_the_value(
    incident, tmp_path: Path, row: list[str], field: str, reason: str
) -> None:
    good = ["B0", "", "佐藤 花子", "", "1234"]  # a guardian's name alone is enough
    path = _write(tmp_path / "reasons.csv", [good, row], header=REASON_HEADER)
    result = import_file(incident=incident, path=path, actor="t")
    source = result.source_file
    assert (source.rows_in, source.rows_ok, source.rows_rejected) == (2, 1, 1)
    assert [(r.line, r.field, r.reason) for r in result.rejects] == [(3, field, reason)]
    with result.rejects_path.open(encoding="utf-8") as handle:  # type: ignore[union-attr]
        assert list(csv.reader(handle)) == [
            ["file", "line", "field", "reason"],
            ["reasons.csv", "3", field, reason],
        ]
    assert list(LeakRecord.objects.values_list("record_id", flat=True)) == ["B0"]
