from __future__ import annotations

import csv
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from owabi.records import cards, match_store
from owabi.records.mapping import load_mapping
from owabi.records.models import LeakRecord, SourceFile
from owabi.records.readers import ImportFileError
from owabi.records.services import import_file
from tests.conftest import REPO, held_at_first_progress

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
    assert (source.rows_in, source.rows_ok, source.rows_rejected) == (6, 3, 3)
    assert LeakRecord.objects.count() == 3
    with result.rejects_path.open(encoding="utf-8") as handle:  # type: ignore[union-attr]
        rejects = list(csv.DictReader(handle))
    assert [(r["line"], r["field"]) for r in rejects] == [
        ("4", "record_id"),
        ("6", "record_id"),
        ("7", "subject_name"),
    ]
    assert all(r["file"] == "x.csv" and r["reason"] for r in rejects)
    # 佐藤's card number fails the check digit: the card is not stored, the person is kept
    assert [(w.line, w.field) for w in result.warnings] == [(5, "card_number")]
    sato = LeakRecord.objects.get(record_id="A4")
    assert "card_last4" not in sato.sealed and "card_number" in sato.categories
    for report in (result.rejects_path, result.warnings_path):
        text = report.read_text(encoding="utf-8")  # type: ignore[union-attr]
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
    assert LeakRecord.objects.count() == 3


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
    assert "in 6 = kept 3 + rejected 3; 1 warning on 1 kept row (" in capsys.readouterr().out
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
        ('[join]\nemail = ["a", "b"]', r"\[join\] 'email' cannot be joined \(only subject_name"),
        ('[join]\nsubject_name = ["姓"]', "must list two or more headers"),
        ('[columns]\n"氏名" = "subject_name"\n[join]\nsubject_name = ["姓", "名"]', "both in \\[columns\\]"),
        ('[join]\nsubject_name = ["姓", "名"]\nsubject_kana = ["姓", "メイ"]', "'姓' is listed twice"),
        ('[codes]\n"x" = "city"', "unknown code kind 'city'"),
        ('[duplicates]\n"x" = "x"', "must name another header"),
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
    with pytest.raises(ImportFileError) as refused:
        import_file(incident=incident, path=path, actor="t")
    assert str(refused.value) == (
        'dup.csv, line 1: columns "氏名" and "名前" both map to subject_name; map one of them to another '
        "column in a mapping file (--mapping)"
    )
    assert SourceFile.objects.count() == 0


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
    assert "in 3 = kept 3 + rejected 0; 3 warnings on 2 kept rows (" in out
    assert f"not used for matching): {tmp_path / 'w.warnings.csv'}" in out
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
    # The file has card columns: the refused security code is a leaked item of rows with card data only.
    assert LeakRecord.objects.get(record_id="T2").categories == ["name", "other"]


def test_a_row_with_a_nul_character_is_rejected_not_fatal(incident, tmp_path: Path) -> None:
    rows = [["N1", "山田 太郎", "", "", "", "", "", "x\x00y"], ["N2", "山田 花子", "", "", "", "", "", ""]]
    result = import_file(incident=incident, path=_write(tmp_path / "n.csv", rows), actor="t")
    assert [(r.line, r.reason) for r in result.rejects] == [(2, "contains a NUL character (not text)")]
    assert list(LeakRecord.objects.values_list("record_id", flat=True)) == ["N2"]


REASON_HEADER = ["record_id", "氏名", "保護者氏名", "電話番号", "カード番号"]


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (["", "山田 太郎", "", "", ""], "record_id", "missing"),
        (["R" * 101, "山田 太郎", "", "", ""], "record_id", "longer than 100 characters"),
        (
            ["B1", "", "", "", "4111 1111 1111 1111"],
            "subject_name",
            "no name, guardian's name or contact (phone, e-mail, address)",
        ),
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


# --- Cards: every form an export holds one in, and nobody lost for it ----------------------------------

CARD_HEADER = ["record_id", "氏名", "電話番号", "カード番号", "カード下4桁", "カードブランド"]
# (card number, last 4, brand as written) -> (stored brand, stored last 4, hashed, warned fields)
CARD_FORMS: list[tuple[tuple[str, str, str], tuple[str | None, str | None, bool, list[str]]]] = [
    (("XXXX-XXXX-XXXX-1234", "", "VISA"), ("VISA", "1234", False, [])),
    (("************1234", "", "Visa"), ("VISA", "1234", False, [])),
    (("**** **** **** 1234", "", "ビザ"), ("VISA", "1234", False, [])),
    (("＊＊＊＊＊＊＊＊＊＊＊＊１２３４", "", "ＪＣＢ"), ("JCB", "1234", False, [])),
    (("末尾1234", "", "MASTER"), ("MASTERCARD", "1234", False, [])),
    (("下4桁：1234", "", "マスターカード"), ("MASTERCARD", "1234", False, [])),
    (("1234", "", ""), (None, "1234", False, [])),
    (("XXXX-XXXXXX-X1005", "", "アメックス"), ("AMEX", "1005", False, [])),
    (("3782-******-*1005", "", ""), ("AMEX", "1005", False, [])),
    (("411111******1111", "", ""), ("VISA", "1111", False, [])),
    (("••••••••••••1234", "", "Diners Club"), ("DINERS", "1234", False, [])),
    (("●●●●●●●●●●●●5678", "", "銀聯"), ("UNIONPAY", "5678", False, [])),
    ((" **** ****  **** 1234 ", "", ""), (None, "1234", False, [])),
    (("4111 1111 1111 1111", "", ""), ("VISA", "1111", True, [])),
    (("4111-1111-1111-1111", "1111", "VISA"), ("VISA", "1111", True, [])),
    (("４１１１１１１１１１１１１１１１", "", ""), ("VISA", "1111", True, [])),
    (("378282246310005", "", "AMEX"), ("AMEX", "0005", True, [])),
    (("", "*1234", ""), (None, "1234", False, [])),
    (("", "１２３４", "JCB"), ("JCB", "1234", False, [])),
    (("", "末尾1234", ""), (None, "1234", False, [])),
    (("", "", ""), (None, None, False, [])),
    (("なし", "-", ""), (None, None, False, [])),
    (("4111111111111112", "", ""), (None, None, False, ["card_number"])),  # fails the check digit
    (("garbage", "", ""), (None, None, False, ["card_number"])),
    (("4111-11", "42a2", ""), (None, None, False, ["card_number", "card_last4"])),
    (("", "12345", "VISA"), ("VISA", None, False, ["card_last4"])),
    (("411111******", "", ""), ("VISA", None, False, ["card_number"])),  # no last 4 shown
    (("****1234", "", "楽天"), (None, "1234", False, ["card_brand"])),  # an issuer, not a brand
    (("5555555555554444", "", "VISA"), ("MASTERCARD", "4444", True, ["card_brand"])),  # the IIN wins
    (("4111111111111111", "2222", ""), ("VISA", "1111", True, ["card_last4"])),  # the number's wins
]


def test_every_card_form_is_read_and_no_row_is_lost_for_its_card(incident, tmp_path: Path, capsys) -> None:
    rows = [
        [f"C{i}", "山田 太郎", "090-1234-5678", number, last4, brand]
        for i, ((number, last4, brand), _) in enumerate(CARD_FORMS)
    ]
    path = _write(tmp_path / "cards.csv", rows, header=CARD_HEADER)
    call_command("import", str(path), "--incident", incident.slug)
    out = capsys.readouterr().out
    source = SourceFile.objects.get()
    assert (source.rows_in, source.rows_ok, source.rows_rejected) == (len(CARD_FORMS), len(CARD_FORMS), 0)
    expected_warnings = [(i + 2, f) for i, (_, (*_, fields)) in enumerate(CARD_FORMS) for f in fields]
    warned_rows = len({line for line, _ in expected_warnings})
    assert (
        f"in {len(CARD_FORMS)} = kept {len(CARD_FORMS)} + rejected 0; {len(expected_warnings)} warnings on "
        f"{warned_rows} kept rows (" in out
    )
    records = {r.line_no: r for r in LeakRecord.objects.all()}
    for i, (_, (brand, last4, hashed, _)) in enumerate(CARD_FORMS):
        sealed = records[i + 2].sealed
        assert (sealed.get("card_brand"), sealed.get("card_last4")) == (brand, last4), CARD_FORMS[i]
        assert ("card_number_hash" in sealed) == hashed, CARD_FORMS[i]
        assert "card_number" not in sealed
    assert "card_number" in records[2].categories and "card_number" not in records[22].categories
    with (tmp_path / "cards.warnings.csv").open(encoding="utf-8") as handle:
        warnings = list(csv.DictReader(handle))
    assert [(int(w["line"]), w["field"]) for w in warnings] == expected_warnings
    text = (tmp_path / "cards.warnings.csv").read_text(encoding="utf-8")
    for secret in ("4111", "garbage", "42a2", "12345", "楽天", "2222", "5555"):
        assert secret not in text
    with connection.cursor() as cursor:
        cursor.execute("SELECT record_id, problems, categories FROM records_leakrecord")
        assert "4111" not in repr(cursor.fetchall())


def test_a_card_brand_is_stored_as_its_canonical_code(incident, tmp_path: Path) -> None:
    spellings = [
        "VISA",
        "Visa",
        "ビザ",
        "MasterCard",
        "MASTER",
        "マスターカード",
        "American Express",
        "ＪＣＢ",
    ]
    rows = [[f"B{i}", "山田 太郎", "", "", "1234", spelling] for i, spelling in enumerate(spellings)]
    import_file(incident=incident, path=_write(tmp_path / "b.csv", rows, header=CARD_HEADER), actor="t")
    stored = [r.sealed["card_brand"] for r in LeakRecord.objects.order_by("line_no")]
    assert stored == ["VISA", "VISA", "VISA", "MASTERCARD", "MASTERCARD", "MASTERCARD", "AMEX", "JCB"]


def test_a_row_stands_for_someone_with_a_name_or_a_contact(incident, tmp_path: Path) -> None:
    header = ["record_id", "氏名", "フリガナ", "保護者氏名", "電話番号", "メールアドレス", "住所", "郵便番号"]
    rows = [
        ["S1", "", "", "", "090-1234-5678", "", "", ""],  # a phone alone: someone to tell
        ["S2", "", "", "", "", "a@example.jp", "", ""],
        ["S3", "", "", "", "", "", "東京都千代田区千代田1-1", ""],
        ["S4", "", "ヤマダ タロウ", "", "", "", "", ""],  # a name in kana is a name
        ["S5", "", "", "", "", "", "", "100-0001"],  # a postal code reaches no one
        ["S6", "", "", "", "", "", "", ""],
    ]
    result = import_file(incident=incident, path=_write(tmp_path / "s.csv", rows, header=header), actor="t")
    assert sorted(LeakRecord.objects.values_list("record_id", flat=True)) == ["S1", "S2", "S3", "S4"]
    assert [(r.line, r.field, r.reason) for r in result.rejects] == [
        (6, "subject_name", "no name, guardian's name or contact (phone, e-mail, address)"),
        (7, "subject_name", "no name, guardian's name or contact (phone, e-mail, address)"),
    ]


# --- Security codes: refused by the header's words, or asked about by the values ---------------------

SECURITY_CODE_HEADERS = [
    "Card Verification Value",
    "card_cvv",
    "cvv_code",
    "CVV/CVC",
    "CSC",
    "セキュリティコード(3桁)",
    "カード確認コード",
    "セキュリティ番号",
    "CVV",
    "cvc2",
    "security_code",
    "セキュリティーコード",
    "ＣＶＶ",
    "SecurityCode",
    "CVV番号",
    "card_cid",
    "Security Code (3 digits)",
]
NOT_SECURITY_CODE_HEADERS = [
    "security_deposit",
    "social_security_number",
    "CSC_branch",  # a customer service centre's branch: its values decide (see the next tests)
    "cid",  # a customer id as often as Amex's code
    "verification_code",  # the code a web sign-up e-mails
    "セキュリティ設定",
    "確認コード",
    "カード種別",
    "会員コード",
]


@pytest.mark.parametrize("header", SECURITY_CODE_HEADERS)
def test_a_security_code_column_is_known_by_its_words_and_never_read(incident, tmp_path, header) -> None:
    # The refused column's cells hold a full card number and a NUL: were they read, the row would be
    # rejected or warned about.
    rows = [
        ["V1", "山田 太郎", "", "****1234", "", "", "4111111111111111\x00739"],
        ["V2", "山田 花子", "", "", "", "", "862"],
    ]
    path = _write(tmp_path / "v.csv", rows, header=[*CARD_HEADER, header])
    result = import_file(incident=incident, path=path, actor="t")
    assert (result.source_file.rows_ok, result.rejects, result.warnings) == (2, [], [])
    assert result.source_file.mapping[header] == "card_security_code"
    first, second = LeakRecord.objects.order_by("line_no")
    assert "card_security_code" in first.categories  # it has card data
    assert "card_security_code" not in second.categories  # it has none
    for record in (first, second):
        assert "739" not in repr(record.sealed) and "862" not in repr(record.sealed)
        assert "1111" not in repr(record.sealed)
    keys = repr(list(match_store.keys_by_record(incident).values()))  # the values: a record's id may be 739
    assert "739" not in keys and "862" not in keys and "山田" in keys


@pytest.mark.parametrize("header", NOT_SECURITY_CODE_HEADERS)
def test_headers_that_are_not_security_codes_are_imported(incident, tmp_path, header) -> None:
    rows = [["N1", "山田 太郎", "", "****1234", "", "", "5万円"]]
    path = _write(tmp_path / "n.csv", rows, header=[*CARD_HEADER, header])
    result = import_file(incident=incident, path=path, actor="t")
    assert header not in result.source_file.mapping
    record = LeakRecord.objects.get()
    assert record.sealed["extras"] == {unicodedata.normalize("NFKC", header): "5万円"}
    assert "card_security_code" not in record.categories


def _pin_file(tmp_path: Path, with_card: bool = True) -> Path:
    rows = [[f"P{i}", "山田 太郎", "", "****1234" if with_card else "", "", "", code] for i, code in
            enumerate(["0123", "", "987", "4321"])]  # fmt: skip
    return _write(tmp_path / "pin.csv", rows, header=[*CARD_HEADER, "PIN"])


def test_a_column_of_three_or_four_digits_in_a_card_file_must_be_named_first(incident, tmp_path) -> None:
    with pytest.raises(ImportFileError) as refused:
        import_file(incident=incident, path=_pin_file(tmp_path), actor="t")
    assert str(refused.value) == (
        'pin.csv, line 1: column "PIN" holds only 3- or 4-digit numbers, as card security codes do; say what '
        'it is in a mapping file (--mapping): [columns] "PIN" = "card_security_code" (never read) or '
        '[categories] "PIN" = "other" (imported)'
    )
    assert SourceFile.objects.count() == 0
    with pytest.raises(CommandError, match=r'^pin\.csv, line 1: column "PIN" holds only'):
        call_command("import", str(tmp_path / "pin.csv"), "--incident", incident.slug)


def test_the_mapping_file_says_a_column_is_a_security_code(incident, tmp_path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\n"PIN" = "card_security_code"\n', encoding="utf-8")
    result = import_file(
        incident=incident, path=_pin_file(tmp_path), actor="t", mapping=load_mapping(mapping)
    )
    assert result.source_file.rows_ok == 4 and result.source_file.mapping["PIN"] == "card_security_code"
    for record in LeakRecord.objects.all():
        assert "extras" not in record.sealed and "card_security_code" in record.categories
        assert "0123" not in repr(record.sealed) and "4321" not in repr(record.sealed)


def test_the_mapping_file_says_a_column_of_digits_is_fine(incident, tmp_path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text('[categories]\n"PIN" = "other"\n', encoding="utf-8")
    import_file(incident=incident, path=_pin_file(tmp_path), actor="t", mapping=load_mapping(mapping))
    assert [r.sealed.get("extras") for r in LeakRecord.objects.order_by("line_no")] == [
        {"PIN": "0123"},
        None,
        {"PIN": "987"},
        {"PIN": "4321"},
    ]


def test_digits_are_asked_about_only_in_a_file_with_card_data_and_only_when_all_digits(incident, tmp_path):
    no_cards = tmp_path / "no_cards"
    no_cards.mkdir()
    plain = _write(
        no_cards / "a.csv", [["A1", "山田 太郎", "123"]], header=["record_id", "氏名", "支店コード"]
    )
    import_file(incident=incident, path=plain, actor="t")
    mixed = [["M1", "山田 太郎", "", "****1234", "", "", "123"], ["M2", "山田 花子", "", "", "", "", "12a"]]
    import_file(
        incident=incident, path=_write(tmp_path / "m.csv", mixed, header=[*CARD_HEADER, "branch"]), actor="t"
    )
    assert LeakRecord.objects.count() == 3


# --- Full card numbers where no card belongs ---------------------------------------------------------

PAN = "4111111111111111"
PAN_FORMS = (PAN, "4111 1111 1111 1111", "4111-1111-1111-1111", "４１１１１１１１１１１１１１１１")


def test_a_full_card_number_in_any_field_is_cut_out_and_kept_only_as_brand_and_last4(
    incident, tmp_path
) -> None:
    header = ["record_id", "氏名", "住所", "メールアドレス", "電話番号", "カード番号", "備考"]
    rows = [
        [
            "F1",
            "山田 4111 1111 1111 1111 太郎",
            "東京都千代田区千代田1-1 4111-1111-1111-1111",
            "",
            "",
            "",
            "",
        ],
        ["F2", "佐藤 花子", "", "", "", "****4444", "カード 5555555555554444 で支払い"],
        ["F3", "鈴木 一郎", "大阪府大阪市北区1-1", "", "", "4111111111111111", "旧カード3530111333300000"],
        [PAN, "高橋 次郎", "", "", "090-1234-5678", "", ""],  # a payment log keyed by card number
        ["F5", "", "", "", "", "", "４１１１１１１１１１１１１１１１"],  # a card number and nothing else
    ]
    result = import_file(incident=incident, path=_write(tmp_path / "f.csv", rows, header=header), actor="t")
    assert (result.source_file.rows_ok, [(r.line, r.field) for r in result.rejects]) == (
        4,
        [(6, "subject_name")],
    )
    assert [(w.line, w.field) for w in result.warnings] == [
        (2, "subject_name"),
        (2, "address"),
        (3, "備考"),
        (4, "備考"),
        (5, "record_id"),
    ]
    records = {r.line_no: r for r in LeakRecord.objects.all()}
    first = records[2].sealed
    assert first["subject_name"] == "山田 太郎" and first["address"] == "東京都千代田区千代田1-1"
    assert (first["card_brand"], first["card_last4"], len(first["card_number_hash"])) == ("VISA", "1111", 32)
    second = records[3].sealed  # its own card is masked; the one in the memo is another card
    assert (second["card_last4"], second["extras"]) == ("4444", {"備考": "カード で支払い"})
    assert "card_number_hash" not in second
    assert [c["card_last4"] for c in second["more_cards"]] == ["4444"] and second["more_cards"][0][
        "card_number_hash"
    ]
    third = records[4].sealed
    assert third["card_last4"] == "1111" and [c["card_brand"] for c in third["more_cards"]] == ["JCB"]
    fourth = records[5]
    assert fourth.record_id.startswith("card-") and len(fourth.record_id) == 37
    assert (fourth.sealed["card_brand"], fourth.sealed["card_last4"]) == ("VISA", "1111")
    assert all("card_number" in r.categories for r in records.values())
    keys = match_store.keys_by_record(incident)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM records_leakrecord")
        dump = repr(cursor.fetchall())
    for text in (repr([r.sealed for r in records.values()]), repr(keys), dump,
                 result.warnings_path.read_text(encoding="utf-8")):  # type: ignore[union-attr]  # fmt: skip
        for secret in (*PAN_FORMS, "5555555555554444", "3530111333300000", "1111 1111", "1111-1111"):
            assert secret not in text


def test_a_card_number_in_a_name_or_address_never_reaches_a_notice(incident, tmp_path) -> None:
    from owabi.notices import letters, setup
    from owabi.notices.models import Notice, NoticeSetup
    from owabi.notices.render import render
    from owabi.notices.services import prepare
    from owabi.records.resolve import resolve

    header = ["record_id", "氏名", "郵便番号", "住所", "メールアドレス"]
    address = "東京都千代田区千代田1-1 ４１１１-１１１１-１１１１-１１１１"
    rows = [["R1", "山田 4111 1111 1111 1111 太郎", "100-0001", address, "taro@example.jp"]]
    import_file(
        incident=incident, path=_write(tmp_path / "r.csv", rows, header=header), source="booking", actor="t"
    )
    resolve(incident=incident, actor="t", as_of=date(2026, 12, 1))
    data = {**setup.load(REPO / "docs" / "notice-setup.example.toml"), "policy": "both"}
    setup.apply(incident=incident, data=data, actor="t")
    prepare(incident=incident, actor="t")
    the_setup = NoticeSetup.objects.get(incident=incident)
    email, letter = Notice.objects.get(channel="email"), Notice.objects.get(channel="letter")
    mail = render(email, the_setup)
    texts = [mail.subject, mail.text, mail.html, letters.letter_text(letter, the_setup), repr(email.content)]
    assert "山田 太郎" in mail.text and "千代田1-1" in texts[3] and "1111" in mail.text  # the card, by last 4
    for text in texts:
        for secret in (*PAN_FORMS, "1111 1111", "1111-1111", "１１１１"):
            assert secret not in text


# --- Headers ------------------------------------------------------------------------------------------


def test_two_columns_with_one_header_are_both_kept(incident, tmp_path: Path) -> None:
    path = tmp_path / "memo.csv"
    path.write_text("record_id,氏名,memo,memo,,memo (2)\nD1,山田 太郎,一,二,三,四\n", encoding="utf-8")
    import_file(incident=incident, path=path, actor="t")
    assert LeakRecord.objects.get().sealed["extras"] == {
        "memo": "一",
        "memo (2)": "二",
        "(column 5)": "三",
        "memo (2) (2)": "四",
    }


def test_two_columns_with_one_standard_header_are_refused(incident, tmp_path: Path) -> None:
    path = tmp_path / "phones.csv"
    path.write_text(
        "record_id,氏名,電話番号,電話番号\nD1,山田 太郎,03-1111-2222,090-1111-2222\n", encoding="utf-8"
    )
    with pytest.raises(
        ImportFileError, match=r'phones\.csv, line 1: columns "電話番号" and "電話番号" both map to phone'
    ):
        import_file(incident=incident, path=path, actor="t")


# --- Synthetic exports --------------------------------------------------------------------------------


def test_a_synthetic_export_with_masked_cards_loses_no_record(incident, tmp_path: Path) -> None:
    from owabi.demo import synth

    out = tmp_path / "leak.csv"
    synth.generate(records=3000, seed=4, out=out, truth_out=synth.default_truth_path(out))
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    numbers = [cards.reduce(r["card_number"]) for r in rows if r["card_number"]]
    masked = [card for card in numbers if not card.number_hash]
    assert len(masked) >= len(numbers) / 4
    result = import_file(incident=incident, path=out, actor="t")
    source = result.source_file
    assert source.rows_in == source.rows_ok == 3000
    assert [w for w in result.warnings if w.field.startswith("card")] == []


@pytest.mark.django_db(transaction=True)
def test_the_same_file_imported_twice_at_once_is_refused_in_one_line_and_imported_once(
    incident, tmp_path: Path
) -> None:
    """The second of two imports of one file at the same moment stopped on the uniqueness of the
    incident's file hashes with a traceback; now it is told, and a run after the first is a no-op."""
    import io

    leak = tmp_path / "leak.csv"
    call_command("synth", records=12_000, seed=3, out=str(leak), stdout=io.StringIO())

    def first(progress):
        return import_file(incident=incident, path=leak, actor="t", workers=1, progress=progress)

    with (
        held_at_first_progress(first) as outcome,
        pytest.raises(ImportFileError, match="being imported into test-leak by another process"),
    ):
        import_file(incident=incident, path=leak, actor="t")
    [result] = outcome
    assert not isinstance(result, Exception), result
    assert import_file(incident=incident, path=leak, actor="t").already_imported
    assert SourceFile.objects.filter(incident=incident).count() == 1
    assert LeakRecord.objects.filter(incident=incident).count() == result.records
