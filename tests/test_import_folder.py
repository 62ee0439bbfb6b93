"""Several files, one incident: `owabi import DIR/` and `owabi import MANIFEST.toml`. Each file is its own
import (recognised by its hash when it comes again, under any name); the summary reconciles each file
and the total; one broken file does not cost the others."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from owabi.records.models import LeakRecord, SourceFile
from tests.conftest import REPO
from tests.test_import_layouts import (
    EC_CUBE_HEADER,
    EC_CUBE_ROWS,
    SHOPIFY_HEADER,
    SHOPIFY_ROWS,
    STANDARD_HEADER,
    STANDARD_ROWS,
    _database_counts,
    _folder,
    _write,
)
from tests.test_readers import _row, _sheet, _workbook, _worksheet

pytestmark = pytest.mark.django_db

LATIN_CSV = (
    "record_id,subject_name\nL1,Hélène Lefèvre\nL2,Jürgen Müller\n"  # Latin-1: no encoding owabi knows
)
NO_ONE = ["9", *[""] * (len(STANDARD_HEADER) - 1)]  # a row that stands for no one: rejected


def _exports(folder: Path) -> Path:
    """A folder as an incident's first exports arrive: EC-CUBE (CP932), Shopify, standard columns, and
    what lies around them."""
    folder.mkdir(exist_ok=True)
    _write(folder / "ec-cube-customers.csv", EC_CUBE_HEADER, EC_CUBE_ROWS, encoding="cp932")
    _write(folder / "shopify customers.csv", SHOPIFY_HEADER, SHOPIFY_ROWS)
    _write(folder / "members.csv", STANDARD_HEADER, [*STANDARD_ROWS, NO_ONE])
    (folder / ".DS_Store").write_bytes(b"\x00\x01")
    (folder / "README.md").write_text("from the shop's admin, 2026-11-30\n", encoding="utf-8")
    (folder / "old.rejects.csv").write_text("file,line,field,reason\n", encoding="utf-8")
    (folder / "~$members.xlsx").write_bytes(b"lock")
    (folder / "archive").mkdir()
    return folder


def _run(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    call_command("import", *arguments)
    return str(capsys.readouterr().out)


def _failing(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[str, str]:
    with pytest.raises(CommandError) as error:
        call_command("import", *arguments)
    return str(capsys.readouterr().out), str(error.value)


def _reconciles(out: str) -> None:
    """Each file imported says in = kept + rejected, and the database holds exactly what it says it kept."""
    total_in = total_kept = total_rejected = 0
    files = re.findall(r"^  (.+?) \([\w-]+\): in (\d+) = kept (\d+) \+ rejected (\d+);", out, re.MULTILINE)
    assert files
    for name, rows_in, kept, rejected in files:
        source_file = SourceFile.objects.get(file_name=name)
        assert (source_file.rows_in, source_file.rows_ok, source_file.rows_rejected) == (
            int(rows_in),
            int(kept),
            int(rejected),
        )
        assert int(rows_in) == int(kept) + int(rejected)
        assert LeakRecord.objects.filter(source_file=source_file).count() == int(kept)
        total_in, total_kept, total_rejected = (
            total_in + int(rows_in),
            total_kept + int(kept),
            total_rejected + int(rejected),
        )
    total = f"in {total_in} = kept {total_kept} + rejected {total_rejected};"
    assert re.search(rf"^total: \d+ files? imported into test-leak: {re.escape(total)}", out, re.MULTILINE)


def test_every_export_of_a_folder_is_imported_in_name_order_and_reconciles(
    incident, tmp_path, capsys
) -> None:
    folder = _exports(tmp_path / "incoming")
    call_command("import", str(folder), "--incident", incident.slug)
    out, progress = capsys.readouterr()
    # Progress names each file as it starts (a log gets a line each; a terminal one line, rewritten).
    assert re.findall(r"^\[(\d)/3\] (.+) …$", progress, re.MULTILINE) == [
        ("1", "ec-cube-customers.csv"),
        ("2", "members.csv"),
        ("3", "shopify customers.csv"),
    ]
    numbered = re.findall(r"^\[(\d)/3\] (.+?)[: ]", out, re.MULTILINE)
    assert numbered == [("1", "ec-cube-customers.csv"), ("2", "members.csv"), ("3", "shopify")]
    assert "ec-cube-customers.csv: read with layout ec-cube-customers" in out
    assert "shopify customers.csv: read with layout shopify-customers" in out
    assert "members.csv (utf-8-sig): in 4 = kept 3 + rejected 1;" in out
    assert f"rejected rows and reasons: {folder / 'members.rejects.csv'}" in out
    _reconciles(out)
    assert "total: 3 files imported into test-leak: in 9 = kept 8 + rejected 1; 0 skipped" in out
    assert LeakRecord.objects.count() == 8
    assert sorted(SourceFile.objects.values_list("source", flat=True)) == ["ec-cube", "members", "shopify"]
    # What is left alone is named with the reason, never passed over in silence.
    assert "ignored .DS_Store: hidden" in out
    assert "ignored README.md: not an export owabi reads (.md;" in out
    assert "ignored old.rejects.csv: a rejects or warnings file written by owabi import" in out
    assert "ignored ~$members.xlsx: an Excel lock file" in out
    assert "ignored archive: a folder (sub-folders are not read)" in out
    assert "; 5 files ignored" in out


def test_a_rerun_skips_every_file_by_its_hash_even_renamed(incident, tmp_path, capsys) -> None:
    folder = _exports(tmp_path / "incoming")
    _run(capsys, str(folder), "--incident", incident.slug)
    before = _database_counts()
    out = _run(capsys, str(folder), "--incident", incident.slug)
    assert out.count(": skipped, already imported into test-leak") == 3
    assert "total: 0 files imported into test-leak: in 0 = kept 0 + rejected 0; 3 skipped" in out
    # A file sent again under another name is the same file.
    shutil.copy(folder / "members.csv", folder / "members (1).csv")
    out = _run(capsys, str(folder), "--incident", incident.slug)
    assert "members (1).csv: skipped, already imported into test-leak as members.csv (same bytes" in out
    assert "4 skipped, already imported; 0 failed" in out
    assert _database_counts() == before
    assert LeakRecord.objects.count() == 8


def test_one_broken_file_costs_nothing_else_and_is_imported_once_fixed(incident, tmp_path, capsys) -> None:
    folder = _exports(tmp_path / "incoming")
    broken = folder / "crm.csv"
    broken.write_bytes(LATIN_CSV.encode("latin-1"))
    out, error = _failing(capsys, str(folder), "--incident", incident.slug)
    assert "[1/4] FAILED, nothing of it imported: crm.csv: the text is not UTF-8, UTF-16, Shift_JIS" in out
    assert "total: 3 files imported into test-leak: in 9 = kept 8 + rejected 1; 0 skipped" in out
    assert "; 1 failed" in out
    assert error.startswith("1 file of 4 failed: crm.csv. Fix it and run the same command again")
    assert not SourceFile.objects.filter(file_name="crm.csv").exists()
    assert LeakRecord.objects.count() == 8
    assert "Hélène" not in out + error  # errors name files and lines, never values
    # Fixed (saved as UTF-8), the same command imports it and only it.
    broken.write_text(LATIN_CSV, encoding="utf-8")
    out = _run(capsys, str(folder), "--incident", incident.slug)
    assert "[1/4] crm.csv (source crm)" in out and "crm.csv (utf-8-sig): in 2 = kept 2 + rejected 0;" in out
    assert (
        "total: 1 file imported into test-leak: in 2 = kept 2 + rejected 0; 3 skipped, already imported"
        in out
    )
    assert LeakRecord.objects.count() == 10


def test_a_file_whose_layout_cannot_be_told_fails_with_the_nearest_layout(incident, tmp_path, capsys) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    _write(folder / "customers.csv", EC_CUBE_HEADER[1:], [row[1:] for row in EC_CUBE_ROWS])  # no 会員ID
    _write(folder / "members.csv", STANDARD_HEADER, STANDARD_ROWS)
    out, error = _failing(capsys, str(folder), "--incident", incident.slug)
    failed = next(line for line in out.splitlines() if "FAILED" in line)
    assert "customers.csv, line 1: no record_id column" in failed
    assert "looks like layout ec-cube-customers" in failed and "missing: 会員ID" in failed
    assert "1 file of 2 failed: customers.csv" in error
    assert list(SourceFile.objects.values_list("file_name", flat=True)) == ["members.csv"]


def test_an_old_excel_workbook_in_the_folder_is_a_failure_not_ignored(incident, tmp_path, capsys) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "members.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    _write(folder / "members.csv", STANDARD_HEADER, STANDARD_ROWS)
    out, error = _failing(capsys, str(folder), "--incident", incident.slug)
    assert (
        "FAILED, nothing of it imported: members.xls: an old Excel workbook (.xls); save it as .xlsx" in out
    )
    assert "1 file of 2 failed: members.xls" in error
    assert LeakRecord.objects.count() == 3


def _manifest(folder: Path, text: str) -> Path:
    path = folder / "incident.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_manifest_gives_each_file_its_source_layout_and_mapping(incident, tmp_path, capsys) -> None:
    folder = _exports(tmp_path / "incoming")
    (folder / "crm").mkdir()
    crm = _write(
        folder / "crm" / "export.csv",
        ["顧客番号", "氏名", "携帯"],
        [["C1", "山田 太郎", "090-1234-5678"]],
    )
    (folder / "crm" / "crm-map.toml").write_text(
        '[columns]\n"顧客番号" = "record_id"\n"携帯" = "phone"\n', encoding="utf-8"
    )
    manifest = _manifest(
        folder,
        """# the first exports of the incident
[[files]]
path = "ec-cube-customers.csv"
source = "EC shop (members)"

[[files]]
path = "shopify customers.csv"
source = "Shopify store"
layout = "shopify-customers"

[[files]]
path = "crm/export.csv"
source = "CRM"
mapping = "crm/crm-map.toml"
""",
    )
    before = _database_counts()
    out = _run(capsys, str(manifest), "--check")
    assert _database_counts() == before
    assert (
        "[2/3] shopify customers.csv\n  source Shopify store\n  shopify customers.csv: encoding UTF-8" in out
    )
    assert "[3/3] export.csv\n  source CRM\n" in out and '"顧客番号" -> record_id' in out
    assert "checked 3 files: 3 would be imported, 0 skipped (same bytes), 0 cannot be" in out
    out = _run(capsys, str(manifest), "--incident", incident.slug)
    _reconciles(out)
    assert "members.csv" not in out  # a manifest imports what it lists, nothing else of the folder
    sources = {
        record.source_file.file_name: record.source_file.source
        for record in LeakRecord.objects.select_related("source_file")
    }
    assert sources == {
        "ec-cube-customers.csv": "EC shop (members)",
        "shopify customers.csv": "Shopify store",
        crm.name: "CRM",
    }
    assert LeakRecord.objects.get(source_file__source="CRM").sealed["phone"] == "090-1234-5678"
    assert "[1/3] ec-cube-customers.csv (source EC shop (members))" in out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[files]]\npath = "ec-cube-customers.csv"\nsource = "shop"\n[[files]]\npath = "crm.csv"\n',
            ("incident.toml, line 5, [[files]] entry 2, path: no such file crm.csv"),
        ),
        (
            '[[files]]\npath = "members.csv"\nlayout = "ec-cube"\n',
            (
                "incident.toml, line 3, [[files]] entry 1, layout: no layout 'ec-cube';"
                " the layouts are: ec-cube-"
            ),
        ),
        (
            '[[files]]\npath = "members.csv"\nsorce = "CRM"\n',
            (
                "incident.toml, line 3, [[files]] entry 1, sorce: unknown key"
                " (an entry has path, source, layout,"
            ),
        ),
        (
            '[[files]]\npath = "members.csv"\nsource = 12\n',
            ("incident.toml, line 3, [[files]] entry 1, source: must be text in quotes"),
        ),
        (
            '[[files]]\npath = "members.csv"\nlayout = "standard"\nmapping = "m.toml"\n',
            ("incident.toml, line 4, [[files]] entry 1, mapping: give a layout or a mapping, not both"),
        ),
        (
            '[[files]]\npath = "members.csv"\n[[files]]\npath = "./members.csv"\n',
            ("incident.toml, line 4, [[files]] entry 2, path: members.csv is already listed in entry 1"),
        ),
        ('[[files]]\npath = "README.md"\n', "incident.toml, line 2, [[files]] entry 1, path: not an export"),
        ('[[files]]\npath = "members.csv\n', "incident.toml: not valid TOML (Illegal character"),
        (
            '[files]\npath = "members.csv"\n',
            "incident.toml: no files listed; add one [[files]] entry per file",
        ),
        ('incident = "x"\n', "incident.toml: unknown keys incident; a manifest lists [[files]] entries only"),
    ],
)
def test_a_bad_manifest_is_refused_whole_naming_line_entry_and_field(
    incident, tmp_path, capsys, text: str, message: str
) -> None:
    folder = _exports(tmp_path / "incoming")
    _out, error = _failing(capsys, str(_manifest(folder, text)), "--incident", incident.slug)
    assert error.startswith(message), error
    assert "Traceback" not in error and "\n" not in error
    assert SourceFile.objects.count() == 0


def test_a_manifest_refuses_options_that_belong_in_it(incident, tmp_path, capsys) -> None:
    folder = _exports(tmp_path / "incoming")
    manifest = _manifest(folder, '[[files]]\npath = "members.csv"\n')
    _out, error = _failing(capsys, str(manifest), "--incident", incident.slug, "--source", "x")
    assert "a manifest gives each file's source, layout and mapping" in error
    _out, error = _failing(capsys, str(folder), "--incident", incident.slug, "--rejects", "r.csv")
    assert "--rejects names one file's rejects" in error


def test_check_on_a_folder_previews_each_file_and_writes_nothing(incident, tmp_path, capsys) -> None:
    folder = _exports(tmp_path / "incoming")
    shutil.copy(folder / "members.csv", folder / "members-again.csv")
    before_db, before_folder = _database_counts(), _folder(folder)
    out = _run(capsys, str(folder), "--check")
    assert _database_counts() == before_db and _folder(folder) == before_folder
    assert "[1/4] ec-cube-customers.csv" in out
    assert (
        "  ec-cube-customers.csv: encoding Shift_JIS (CP932), delimiter ',', layout ec-cube-customers" in out
    )
    assert "  rows: in 4 = kept 3 + rejected 1; 0 warnings on 0 kept rows" in out
    assert (
        "[3/4] members.csv\n  the import would skip it: the same bytes as members-again.csv (SHA-256)" in out
    )
    assert "layout shopify-customers" in out
    assert "山田" not in out and "taro@" not in out  # samples are masked
    assert (
        "checked 4 files: 3 would be imported, 1 skipped (same bytes), 0 cannot be; nothing was written"
        in out
    )
    # With the incident named, what it already holds is said to be skipped.
    _run(capsys, str(folder / "members.csv"), "--incident", incident.slug)
    out = _run(capsys, str(folder), "--check", "--incident", incident.slug)
    assert (
        "[2/4] members-again.csv\n  the import would skip it: the same bytes as members.csv in test-leak"
        in out
    )


def test_check_on_a_folder_with_a_broken_file_fails_naming_it(tmp_path, capsys) -> None:
    folder = _exports(tmp_path / "incoming")
    (folder / "crm.csv").write_bytes(LATIN_CSV.encode("latin-1"))
    out, error = _failing(capsys, str(folder), "--check")
    assert "[1/4] crm.csv\n  cannot be imported: crm.csv: the text is not UTF-8" in out
    assert "3 would be imported, 0 skipped (same bytes), 1 cannot be" in out
    assert error == "1 of 4 files cannot be imported: crm.csv"


def test_a_folder_without_exports_says_so(incident, tmp_path, capsys) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.pdf").write_bytes(b"%PDF")
    out, error = _failing(capsys, str(folder), "--incident", incident.slug)
    assert "ignored notes.pdf: not an export owabi reads (.pdf;" in out
    assert "no export to import" in error


def test_the_readme_manifest_and_commands_work_as_shown(incident, tmp_path, capsys) -> None:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("\n## Several files at once", 1)[1]
    section = section.split("\n## ", 1)[0]
    manifest = re.search(r"```toml\n(.*?)```", section, re.DOTALL)
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert manifest and block
    (tmp_path / "shop").mkdir()
    shutil.copy(REPO / "docs" / "samples" / "ec-cube-customers.csv", tmp_path / "shop" / "customers.csv")
    (tmp_path / "incident.toml").write_text(manifest[1], encoding="utf-8")
    shutil.copytree(tmp_path / "shop", tmp_path / "incoming")
    outputs = []
    for line in block[1].splitlines():
        command = shlex.split(line.removeprefix(".venv/bin/owabi "), comments=True)
        arguments = [str(tmp_path / a) if a.startswith(("incoming", "incident.")) else a for a in command]
        call_command(*[incident.slug if a == "tutorial" else a for a in arguments])
        outputs.append(capsys.readouterr().out)
    assert "[1/1] customers.csv" in outputs[0] and "nothing was written" in outputs[0]
    assert "[1/1] customers.csv (source EC shop)" in outputs[1]
    assert "read with layout ec-cube-customers" in outputs[1]
    assert "total: 1 file imported into test-leak: in 5 = kept 4 + rejected 1;" in outputs[1]
    assert LeakRecord.objects.filter(source_file__source="EC shop").count() == 4


def test_a_file_that_fails_halfway_keeps_nothing_and_the_next_file_imports(
    incident, tmp_path, capsys
) -> None:
    """Each file is its own transaction: a workbook damaged after thousands of rows (some already written
    when the damage is read) leaves nothing behind, and the file after it imports on the same connection."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    good = [_row(line, f"X{line}", "山田 次郎", "090-5555-6666") for line in range(2, 5002)]
    deep = "<x>" * 100 + "</x>" * 100  # past the reader's nesting limit: read as damage, after row 5001
    _workbook(folder / "crm.xlsx", _worksheet(_row(1, "record_id", "subject_name", "phone"), *good, deep))
    _workbook(folder / "shop.xlsx", _sheet([["record_id", "subject_name"], ["S1", "佐藤 花子"]]))
    _write(folder / "members.csv", STANDARD_HEADER, STANDARD_ROWS)
    out, error = _failing(capsys, str(folder), "--incident", incident.slug)
    assert (
        "[1/3] FAILED, nothing of it imported: crm.xlsx: sheet 1 nests elements over 64 deep (damaged)" in out
    )
    assert "total: 2 files imported into test-leak: in 4 = kept 4 + rejected 0; 0 skipped" in out
    assert "1 file of 3 failed: crm.xlsx" in error
    assert sorted(SourceFile.objects.values_list("file_name", flat=True)) == ["members.csv", "shop.xlsx"]
    assert LeakRecord.objects.count() == 4
    assert not LeakRecord.objects.filter(record_id="X2").exists()


def test_two_exports_of_one_name_keep_their_own_rejects_files(incident, tmp_path, capsys) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    _write(folder / "customers.csv", STANDARD_HEADER, [*STANDARD_ROWS, NO_ONE])
    (folder / "customers.tsv").write_text("record_id\tsubject_name\nT1\t\nT2\t佐藤 花子\n", encoding="utf-8")
    out = _run(capsys, str(folder), "--incident", incident.slug)
    assert f"rejected rows and reasons: {folder / 'customers.csv.rejects.csv'}" in out
    assert f"rejected rows and reasons: {folder / 'customers.tsv.rejects.csv'}" in out
    tsv_rejects = (folder / "customers.tsv.rejects.csv").read_text(encoding="utf-8").splitlines()
    csv_rejects = (folder / "customers.csv.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert [line.split(",")[:2] for line in tsv_rejects[1:]] == [["customers.tsv", "2"]]
    assert [line.split(",")[:2] for line in csv_rejects[1:]] == [["customers.csv", "5"]]
    # The next run ignores both as owabi's own.
    out = _run(capsys, str(folder), "--incident", incident.slug)
    assert "ignored customers.csv.rejects.csv: a rejects or warnings file written by owabi import" in out
    assert "2 skipped, already imported; 0 failed; 2 files ignored" in out


def test_a_rejects_file_that_cannot_be_written_fails_the_file_whole(incident, tmp_path, capsys) -> None:
    """The report was written after the commit: a folder it could not be written in left the rows
    imported with no file saying which rows were not, and the file reported as failed all the same."""
    folder = _exports(tmp_path / "incoming")
    (folder / "members.rejects.csv").mkdir()  # where its rejects would go: cannot be opened as a file
    out, error = _failing(capsys, str(folder), "--incident", incident.slug)
    assert (
        "FAILED, nothing of it imported: members.csv: nothing imported, because its report "
        f"{folder / 'members.rejects.csv'} cannot be written (Is a directory)"
    ) in out
    assert error.startswith("1 file of 3 failed: members.csv.")
    assert not SourceFile.objects.filter(file_name="members.csv").exists()
    (folder / "members.rejects.csv").rmdir()
    out = _run(capsys, str(folder), "--incident", incident.slug)
    assert "total: 1 file imported into test-leak: in 4 = kept 3 + rejected 1; 2 skipped" in out
    _reconciles(out)
    assert (folder / "members.rejects.csv").read_text(encoding="utf-8").count("\n") == 2
