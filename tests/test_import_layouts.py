"""Real exports as they come: columns joined from parts, built-in layouts (EC-CUBE, Shopify, standard),
and the layout suggested from a header. The same people imported from each equal their standard rows."""

from __future__ import annotations

import csv
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from owabi.records import layouts, normalize
from owabi.records.mapping import load_mapping
from owabi.records.models import LeakRecord
from owabi.records.readers import ImportFileError
from owabi.records.services import import_file
from tests.conftest import REPO

pytestmark = pytest.mark.django_db

# Three people as owabi's standard columns hold them.
STANDARD_HEADER = [
    "record_id",
    "subject_name",
    "subject_kana",
    "subject_birth_date",
    "subject_gender",
    "postal_code",
    "address",
    "phone",
    "email",
]
STANDARD_ROWS = [
    [
        "1",
        "山田 太郎",
        "ヤマダ タロウ",
        "1980-01-15",
        "M",
        "100-0005",
        "東京都千代田区丸の内1-1-1 丸の内ビル101",
        "090-1234-5678",
        "taro@example.jp",
    ],
    [
        "2",
        "髙橋 花子",
        "タカハシ ハナコ",
        "1975-12-03",
        "F",
        "530-0001",
        "大阪府大阪市北区梅田2-4-9 101",
        "06-6345-0000",
        "hanako@example.jp",
    ],
    [
        "3",
        "佐藤 一郎",
        "サトウ イチロウ",
        "2010-04-01",
        "M",
        "060-0004",
        "北海道札幌市中央区北四条西5丁目1番",
        "011-222-3333",
        "",
    ],
]

# EC-CUBE 4's customer CSV (会員一覧 > CSVダウンロード), headers as it writes them.
EC_CUBE_HEADER = [
    "会員ID",
    "お名前(姓)",
    "お名前(名)",
    "お名前(セイ)",
    "お名前(メイ)",
    "会社名",
    "郵便番号",
    "都道府県(ID)",
    "都道府県(名称)",
    "住所1",
    "住所2",
    "メールアドレス",
    "TEL",
    "性別(ID)",
    "性別(名称)",
    "職業(ID)",
    "職業(名称)",
    "誕生日",
    "初回購入日",
    "最終購入日",
    "購入回数",
    "ショップ用メモ欄",
    "会員ステータス(ID)",
    "会員ステータス(名称)",
    "登録日",
    "更新日",
]
EC_CUBE_ROWS = [
    [
        "1",
        "山田",
        "太郎",
        "ヤマダ",
        "タロウ",
        "",
        "1000005",
        "13",
        "東京都",
        "千代田区丸の内",
        "1-1-1 丸の内ビル101",
        "taro@example.jp",
        "09012345678",
        "1",
        "男性",
        "3",
        "会社員",
        "1980-01-15 00:00:00",
        "2024-05-01 10:00:00",
        "2026-10-30 21:14:00",
        "12",
        "",
        "2",
        "本会員",
        "2019-03-01 09:00:00",
        "2026-10-30 21:14:00",
    ],
    [
        "2",
        "髙橋",
        "花子",
        "タカハシ",
        "ハナコ",
        "梅田商事",
        "5300001",
        "27",
        "大阪府",
        "大阪市北区梅田",
        "2-4-9 101",
        "hanako@example.jp",
        "0663450000",
        "2",
        "女性",
        "",
        "",
        "1975-12-03 00:00:00",
        "",
        "",
        "0",
        "電話注文のみ",
        "2",
        "本会員",
        "2020-01-01 00:00:00",
        "2020-01-01 00:00:00",
    ],
    [
        "3",
        "佐藤",
        "一郎",
        "サトウ",
        "イチロウ",
        "",
        "0600004",
        "1",
        "北海道",
        "札幌市中央区北四条西",
        "5丁目1番",
        "",
        "011-222-3333",
        "1",
        "男性",
        "",
        "",
        "2010-04-01 00:00:00",
        "",
        "",
        "0",
        "",
        "2",
        "本会員",
        "2021-01-01 00:00:00",
        "2021-01-01 00:00:00",
    ],
]

# Shopify's customers export (classic columns: no customer id; the row's line is its id).
SHOPIFY_HEADER = [
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Company",
    "Address1",
    "Address2",
    "City",
    "Province",
    "Province Code",
    "Country",
    "Country Code",
    "Zip",
    "Phone",
    "Accepts SMS Marketing",
    "Total Spent",
    "Total Orders",
    "Tags",
    "Note",
    "Tax Exempt",
]
SHOPIFY_ROWS = [
    [
        "太郎",
        "山田",
        "taro@example.jp",
        "yes",
        "",
        "丸の内1-1-1",
        "丸の内ビル101",
        "千代田区",
        "Tokyo",
        "JP-13",
        "Japan",
        "JP",
        "100-0005",
        "+81 90-1234-5678",
        "no",
        "52000.00",
        "12",
        "",
        "",
        "no",
    ],
    [
        "花子",
        "髙橋",
        "hanako@example.jp",
        "no",
        "梅田商事",
        "梅田2-4-9",
        "101",
        "大阪市北区",
        "Osaka",
        "JP-27",
        "Japan",
        "JP",
        "530-0001",
        "+81663450000",
        "no",
        "0.00",
        "0",
        "vip",
        "",
        "no",
    ],
]


def _write(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _person(sealed: dict[str, Any]) -> tuple[Any, ...]:
    """A record's facts after the one normalizer of each: what matching and notices use."""
    address = normalize.address(sealed.get("address", ""))

    def norm(function: Any, field: str) -> Any:
        return function(sealed[field]) if sealed.get(field) else None

    return (
        norm(normalize.name, "subject_name"),
        norm(normalize.kana, "subject_kana"),
        norm(normalize.date, "subject_birth_date"),
        norm(normalize.gender, "subject_gender"),
        norm(normalize.postal_code, "postal_code"),
        (address.prefecture, address.key(), address.building),
        norm(normalize.phone, "phone"),
        norm(normalize.email, "email"),
    )


def _people(result: Any) -> list[tuple[Any, ...]]:
    records = LeakRecord.objects.filter(source_file=result.source_file).order_by("line_no")
    return [_person(record.sealed) for record in records]


def test_an_ec_cube_customer_csv_in_cp932_gives_the_people_of_the_standard_rows(incident, tmp_path) -> None:
    standard = import_file(
        incident=incident, path=_write(tmp_path / "std.csv", STANDARD_HEADER, STANDARD_ROWS), actor="t"
    )
    path = _write(tmp_path / "customer.csv", EC_CUBE_HEADER, EC_CUBE_ROWS, encoding="cp932")
    result = import_file(incident=incident, path=path, actor="t", mapping=layouts.get("ec-cube-customers"))
    assert result.source_file.encoding == "cp932"
    assert (result.source_file.rows_in, result.source_file.rows_ok, result.source_file.rows_rejected) == (
        3,
        3,
        0,
    )
    assert _people(result) == _people(standard)
    yamada = LeakRecord.objects.get(source_file=result.source_file, record_id="1")
    assert yamada.sealed["address"] == "東京都千代田区丸の内1-1-1 丸の内ビル101"
    assert yamada.sealed["subject_name"] == "山田 太郎"
    # The ids beside their names (都道府県(ID), 性別(ID), …) are not kept as extra items; the rest is.
    extras = yamada.sealed["extras"]
    assert not any("(ID)" in name for name in extras)
    assert extras["職業(名称)"] == "会社員" and extras["購入回数"] == "12"
    assert {"name", "kana", "address", "phone", "birth_date", "purchase_history"} <= set(yamada.categories)


def test_an_ec_cube_header_is_recognised_without_being_named(incident, tmp_path, capsys) -> None:
    path = _write(tmp_path / "customer.csv", EC_CUBE_HEADER, EC_CUBE_ROWS, encoding="cp932")
    call_command("import", str(path), "--incident", incident.slug)
    out = capsys.readouterr().out
    assert "read with layout ec-cube-customers" in out
    assert "in 3 = kept 3 + rejected 0" in out
    assert LeakRecord.objects.get(record_id="2").sealed["subject_kana"] == "タカハシ ハナコ"


def test_a_near_layout_is_suggested_with_its_differences_not_applied(incident, tmp_path) -> None:
    header = [h for h in EC_CUBE_HEADER if h != "ショップ用メモ欄"] + ["ポイント"]
    memo = EC_CUBE_HEADER.index("ショップ用メモ欄")
    rows = [EC_CUBE_ROWS[0][:memo] + EC_CUBE_ROWS[0][memo + 1 :] + ["10"]]
    path = _write(tmp_path / "customer.csv", header, rows)
    with pytest.raises(ImportFileError) as error:
        import_file(incident=incident, path=path, actor="t")
    message = str(error.value)
    assert "no record_id column" in message
    assert "looks like layout ec-cube-customers" in message
    assert "missing: ショップ用メモ欄" in message and "not in the layout: ポイント" in message
    assert "--layout ec-cube-customers" in message
    assert LeakRecord.objects.count() == 0
    # Named, the layout reads it; the unknown column is an extra item.
    result = import_file(incident=incident, path=path, actor="t", mapping=layouts.get("ec-cube-customers"))
    assert result.source_file.rows_ok == 1
    assert LeakRecord.objects.get().sealed["extras"]["ポイント"] == "10"


def test_a_standard_file_near_a_layout_imports_and_says_so(incident, tmp_path, capsys) -> None:
    header = ["record_id", "First Name", "Last Name", "Email", "Address1", "City", "Province Code", "Zip"]
    path = _write(
        tmp_path / "s.csv",
        header,
        [["9", "太郎", "山田", "t@example.jp", "丸の内1-1-1", "千代田区", "JP-13", "100-0005"]],
    )
    call_command("import", str(path), "--incident", incident.slug)
    out = capsys.readouterr().out
    assert "looks like layout shopify-customers" in out and "in 1 = kept 1" in out
    assert "subject_name" not in LeakRecord.objects.get().sealed  # not guessed


def test_a_shopify_customers_export_gives_the_people_of_the_standard_rows(incident, tmp_path) -> None:
    standard = import_file(
        incident=incident, path=_write(tmp_path / "std.csv", STANDARD_HEADER, STANDARD_ROWS[:2]), actor="t"
    )
    path = _write(tmp_path / "customers_export.csv", SHOPIFY_HEADER, SHOPIFY_ROWS)
    result = import_file(incident=incident, path=path, actor="t")  # recognised: the header is exact
    assert result.layout == "shopify-customers"
    assert result.source_file.source == "shopify"
    ours = [person[:1] + person[4:] for person in _people(result)]  # Shopify has no kana, birth date, gender
    theirs = [person[:1] + person[4:] for person in _people(standard)]
    assert ours == theirs
    records = LeakRecord.objects.filter(source_file=result.source_file).order_by("line_no")
    assert [r.record_id for r in records] == ["line 2", "line 3"]
    assert records[0].sealed["address"] == "東京都千代田区丸の内1-1-1 丸の内ビル101"
    assert "Province" not in records[0].sealed["extras"] and "Country" not in records[0].sealed["extras"]


def test_the_standard_layout_reads_the_standard_columns(incident, tmp_path) -> None:
    assert layouts.get("standard").headers[:3] == ("record_id", "source", "subject_name")
    path = _write(tmp_path / "std.csv", STANDARD_HEADER, STANDARD_ROWS)
    named = import_file(incident=incident, path=path, actor="t", mapping=layouts.get("standard"))
    assert named.source_file.rows_ok == 3


def test_an_unknown_layout_is_refused_naming_the_known_ones(incident, tmp_path) -> None:
    path = _write(tmp_path / "std.csv", STANDARD_HEADER, STANDARD_ROWS)
    with pytest.raises(CommandError, match="no layout 'ec-cube'; the layouts are: ec-cube-customers"):
        call_command("import", str(path), "--incident", incident.slug, "--layout", "ec-cube")


MAPPING = """
[columns]
"No" = "record_id"
[join]
subject_name = ["姓", "名"]
subject_kana = ["セイ", "メイ"]
address = ["都道府県", "住所1", "住所2", "建物名"]
phone = ["電話1", "電話2", "電話3"]
postal_code = ["郵便番号1", "郵便番号2"]
[duplicates]
"都道府県コード" = "都道府県"
"""


def test_a_mapping_joins_one_column_from_several_in_order(incident, tmp_path) -> None:
    mapping_path = tmp_path / "map.toml"
    mapping_path.write_text(MAPPING, encoding="utf-8")
    header = [
        "No",
        "名",
        "姓",
        "メイ",
        "セイ",
        "郵便番号1",
        "郵便番号2",
        "都道府県コード",
        "都道府県",
        "住所1",
        "住所2",
    ]
    header += ["建物名", "電話1", "電話2", "電話3"]
    rows = [
        [
            "1",
            "太郎",
            "山田",
            "タロウ",
            "ヤマダ",
            "100",
            "0005",
            "13",
            "東京都",
            "千代田区丸の内",
            "1-1-1",
            "丸の内ビル101",
            "090",
            "1234",
            "5678",
        ],
        [
            "2",
            "花子",
            "髙橋",
            "ﾊﾅｺ",
            "ﾀｶﾊｼ",
            "530",
            "0001",
            "27",
            "大阪府",
            "大阪市北区梅田",
            "2-4-9",
            "101",
            "06",
            "6345",
            "0000",
        ],
        [
            "3",
            "一郎",
            "佐藤",
            "イチロウ",
            "サトウ",
            "060",
            "0004",
            "1",
            "北海道",
            "札幌市中央区北四条西",
            "5丁目1番",
            "",
            "011",
            "222",
            "3333",
        ],
    ]
    standard = import_file(
        incident=incident, path=_write(tmp_path / "std.csv", STANDARD_HEADER, STANDARD_ROWS), actor="t"
    )
    result = import_file(
        incident=incident,
        path=_write(tmp_path / "x.csv", header, rows),
        actor="t",
        mapping=load_mapping(mapping_path),
    )
    ours = [(p[0], p[1], p[4], p[5], p[6]) for p in _people(result)]
    assert ours == [(p[0], p[1], p[4], p[5], p[6]) for p in _people(standard)]
    first = LeakRecord.objects.get(source_file=result.source_file, record_id="1")
    assert first.sealed["phone"] == "090-1234-5678" and first.sealed["postal_code"] == "100-0005"
    assert first.sealed["subject_name"] == "山田 太郎"
    assert "extras" not in first.sealed  # the prefecture code repeats the prefecture: not an extra item
    assert result.source_file.mapping["電話2"] == "phone"


def test_a_joined_column_and_a_single_one_for_the_same_fact_are_refused(incident, tmp_path) -> None:
    mapping_path = tmp_path / "map.toml"
    mapping_path.write_text('[join]\nsubject_name = ["姓", "名"]', encoding="utf-8")
    path = _write(tmp_path / "x.csv", ["record_id", "姓", "名", "氏名"], [["1", "山田", "太郎", "山田 太郎"]])
    with pytest.raises(ImportFileError, match='columns "姓" and "氏名" both map to subject_name'):
        import_file(incident=incident, path=path, actor="t", mapping=load_mapping(mapping_path))


def test_a_code_that_names_no_prefecture_is_kept_as_written(incident, tmp_path) -> None:
    path = _write(
        tmp_path / "customers_export.csv",
        SHOPIFY_HEADER,
        [[*SHOPIFY_ROWS[0][:9], "CA", *SHOPIFY_ROWS[0][10:]]],
    )
    import_file(incident=incident, path=path, actor="t")
    assert LeakRecord.objects.get().sealed["address"].startswith("CA 千代田区")


def _database_counts() -> dict[str, int]:
    from django.apps import apps

    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def _folder(path: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.iterdir())}


def test_check_shows_how_the_file_is_read_and_writes_nothing(incident, tmp_path, capsys) -> None:
    header = [*EC_CUBE_HEADER, "セキュリティコード"]
    rows = [[*row, "123"] for row in EC_CUBE_ROWS]
    rows += [["4", *[""] * 26], ["5", "x"], [*EC_CUBE_ROWS[0], "123"]]  # no one, short, id seen before
    rows += [[*EC_CUBE_ROWS[1][:17], "not a date", *EC_CUBE_ROWS[1][18:], ""]]  # kept, with a warning
    rows[-1][0] = "6"
    path = _write(tmp_path / "customer.csv", header, rows, encoding="cp932")
    before_db, before_folder = _database_counts(), _folder(tmp_path)
    call_command("import", str(path), "--check", "--layout", "ec-cube-customers")
    out = capsys.readouterr().out
    assert _database_counts() == before_db
    assert _folder(tmp_path) == before_folder
    assert "encoding Shift_JIS (CP932), delimiter ',', layout ec-cube-customers (EC-CUBE 4 会員CSV)" in out
    assert '"お名前(姓)"' in out and "-> subject_name (part 1 of 2)" in out
    assert '-> ignored: repeats "都道府県(名称)"' in out
    assert '"セキュリティコード"' in out and "-> refused: a card security code column, never read" in out
    assert "rows: in 7 = kept 4 + rejected 3; 1 warnings on 1 kept rows" in out
    assert "rejected, subject_name: no name, guardian's name or contact (phone, e-mail, address): 1" in out
    assert "rejected, expected 27 fields, found 2: 1" in out
    assert "rejected, record_id: appears earlier in the same file: 1" in out
    assert "warning, subject_birth_date: not a recognised date format (kept; not used for matching): 1" in out
    samples = out.split("sample rows (masked)")[1]
    assert "subject_name=山* 太*" in samples and "subject_kana=ヤ** タ**" in samples
    assert samples.count("  line ") == 4
    for value in [
        "山田",
        "太郎",
        "タロウ",
        "taro@",
        "09012345678",
        "1980",
        "千代田",
        "丸の内",
        "会社員",
        "123",
    ]:
        assert value not in samples
    # The import then does what the check said.
    result = import_file(incident=incident, path=path, actor="t", mapping=layouts.get("ec-cube-customers"))
    source = result.source_file
    assert (source.rows_in, source.rows_ok, source.rows_rejected) == (7, 4, 3)
    assert len(result.warnings) == 1


def test_check_needs_no_incident_and_import_does(tmp_path, capsys) -> None:
    path = _write(tmp_path / "std.csv", STANDARD_HEADER, STANDARD_ROWS)
    call_command("import", str(path), "--check")
    out = capsys.readouterr().out
    assert "layout standard columns and their aliases (no layout)" in out
    assert "rows: in 3 = kept 3 + rejected 0" in out
    with pytest.raises(CommandError, match="--incident is required"):
        call_command("import", str(path))


def test_check_suggests_a_layout_and_says_why_import_would_refuse(tmp_path, capsys) -> None:
    path = _write(tmp_path / "customer.csv", EC_CUBE_HEADER[1:], [row[1:] for row in EC_CUBE_ROWS])
    with pytest.raises(CommandError) as error:
        call_command("import", str(path), "--check")
    assert "no record_id column" in str(error.value)
    assert "looks like layout ec-cube-customers" in str(error.value) and "missing: 会員ID" in str(error.value)


def test_the_readme_checks_then_imports_an_ec_cube_file(incident, tmp_path, capsys) -> None:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("\n## Importing a real export", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section.split("\n## ", 1)[0], re.DOTALL)
    assert block
    commands = [shlex.split(line.removeprefix(".venv/bin/owabi ")) for line in block[1].splitlines()]
    assert [command[:1] + command[2:3] for command in commands] == [
        ["import", "--check"],
        ["import", "--incident"],
    ]
    outputs = []
    for command in commands:
        arguments = [
            str(REPO / a)
            if a.startswith("docs/")
            else str(tmp_path / Path(a).name)
            if a.startswith("var/")
            else a
            for a in command
        ]
        arguments = [incident.slug if a == "tutorial" else a for a in arguments]
        call_command(*arguments)
        outputs.append(capsys.readouterr().out)
    assert "layout ec-cube-customers" in outputs[0] and "nothing was written" in outputs[0]
    assert "read with layout ec-cube-customers" in outputs[1] and "in 5 = kept 4 + rejected 1" in outputs[1]
    assert (tmp_path / "ec-cube.rejects.csv").exists()
    assert not list((REPO / "docs" / "samples").glob("*.rejects.csv"))


def test_a_named_layout_that_is_not_the_files_is_refused_with_the_differences(incident, tmp_path) -> None:
    path = _write(tmp_path / "customer.csv", EC_CUBE_HEADER, EC_CUBE_ROWS, encoding="cp932")
    with pytest.raises(ImportFileError) as error:
        import_file(incident=incident, path=path, actor="t", mapping=layouts.get("shopify-customers"))
    message = str(error.value)
    assert "the header is not layout shopify-customers's" in message
    assert "0 of 20 of its headers; missing: Email" in message
    assert LeakRecord.objects.count() == 0
