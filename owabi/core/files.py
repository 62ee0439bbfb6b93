"""Every file owabi writes: private on disk, and formula-safe when it is a CSV.

Files owabi writes hold leaked PII or point at it (letters, manifests, exports, reports, the
development outbox, synthetic leaks, local secrets). Each is created 0600, and every folder owabi
creates for one is 0700, whatever the umask; a folder that already exists (the operator's) is left as
it is. Nothing is written through a symbolic link planted at the target's name.

- `write_private` writes a whole file atomically (a temp file in the same folder, fsynced, renamed over
  the target): for files a half-written copy would mislead (an export, a report, a PDF for the printer).
  A killed process can leave its temp file (`.NAME.*.tmp`, 0600) behind, never a partial NAME.
- `open_private` opens a file that is written as work goes (the print manifest, the outbox), where
  what is there after a crash is exactly what was done.
- `csv_writer` is the one csv writer: see `neutralize` for the rule.
- `scratch_folder` is a run's private working folder (DuckDB's spill, Spark's scratch), deleted after the
  run, or by the next run on the machine when a kill left it.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, Protocol

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700

# What a spreadsheet reads as the start of a formula (OWASP "CSV Injection": = + - @ tab CR; ASVS 5.0
# 1.2.10 adds NUL; a line feed is the same trick as a CR). The full-width forms are a precaution for
# Japanese spreadsheets (IMEs turn them into operators on entry); leaked text rarely starts with them.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "＝", "＋", "－", "＠")


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents 0700; an existing folder is left as it is."""
    missing = []
    current = path
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(DIR_MODE)
        except FileExistsError:  # made meanwhile by another process
            continue
        folder.chmod(DIR_MODE)  # the umask may have taken bits, or made it less than 0700
    if not path.is_dir():
        raise NotADirectoryError(f"not a folder: {path}")
    return path


# run-<process id>@<host>-<mkdtemp's letters, digits and _>: who made the folder, from its name alone.
_SCRATCH = re.compile(r"run-([0-9]+)@(.*)-[a-z0-9_]+")


@contextmanager
def scratch_folder(base: Path) -> Iterator[Path]:
    """A private folder (0700) under `base` for one run's scratch, deleted after the run.

    A run killed outright (SIGKILL, the out-of-memory killer, a power cut) cannot delete its folder, which
    holds the features in plain text; so its name carries the process and host that made it, and every
    run first deletes the folders whose process is gone on this host. A folder named otherwise, or made
    on another host sharing the folder, is left alone: who owns it cannot be told."""
    private_dir(base)
    host = _host()
    for folder in base.glob("run-*"):
        owner = _SCRATCH.fullmatch(folder.name)
        if owner and owner.group(2) == host and not _alive(int(owner.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            logger.warning("deleted the scratch folder of a run that did not finish (%s)", folder.name)
    scratch = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}@{host}-", dir=base))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"


def _alive(pid: int) -> bool:
    """Whether a process runs under this id (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    with suppress(OSError):
        # /proc/<pid>/stat: "pid (name) state ...", the name in parentheses may hold spaces.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def open_private(path: Path, mode: str = "w", *, newline: str | None = None) -> IO[Any]:
    """Open `path` for writing ("w", "a", "wb" or "ab"; "x": a new text file, FileExistsError if there is
    one; text is UTF-8), created 0600. The caller closes it."""
    if mode not in ("w", "a", "x", "wb", "ab"):
        raise ValueError(f"open_private writes only: mode {mode!r}")
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    if mode == "x":
        flags |= os.O_EXCL
        mode = "w"
    else:
        flags |= os.O_APPEND if mode.startswith("a") else os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    return _wrap(fd, mode, newline)


def append_private(path: Path, data: bytes) -> None:
    """Append `data` to `path` with one write, then fsync: concurrent appenders never interleave within
    it, and it is on disk when this returns. The file is created 0600; its folder must exist already (an
    append-only log on a volume that is not mounted must fail, not start afresh on the local disk)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, FILE_MODE)
    try:
        if os.write(fd, data) != len(data):
            raise OSError("short write")
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def write_private(path: Path, mode: str = "w", *, newline: str | None = None) -> Iterator[IO[Any]]:
    """Write `path` atomically, created 0600: it appears complete when the block ends, or not at all
    (an existing file is kept unchanged) when the block raises."""
    if mode not in ("w", "wb"):
        raise ValueError(f"write_private writes whole files: mode {mode!r}")
    folder = private_dir(path.parent)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    temp = Path(name)
    try:
        with _wrap(fd, mode, newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
    except BaseException:
        with suppress(FileNotFoundError):
            temp.unlink()
        raise
    sync_dir(folder)


def _wrap(fd: int, mode: str, newline: str | None) -> IO[Any]:
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode on open; the umask may take bits
        if "b" in mode:
            return os.fdopen(fd, mode)
        return os.fdopen(fd, mode, encoding="utf-8", newline=newline)
    except BaseException:
        os.close(fd)
        raise


def sync_dir(folder: Path) -> None:
    """Make a rename durable: what is marked done after it (letters printed) must not outlive the file."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def neutralize(value: object) -> object:
    """A cell as it goes into a CSV: text that a spreadsheet would read as a formula gets a leading
    single quote (OWASP), so `=HYPERLINK(…)` shows as text and calls nothing.

    The rule goes by type, not by column: every `str` counts as text from outside (leaked values,
    file and column names, anything a person typed), so "-1" is written '-1 and "+81 90…" '+81 90…;
    a program reading the file back sees that quote. Numbers owabi computes (int, float: line numbers,
    page counts) are written as they are: a number cannot spell a function call. Ids owabi makes
    (S3, P7, L000000123) never start with such a character, so the rule never touches them."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class RowWriter(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...
    def writerows(self, rows: Iterable[Iterable[Any]], /) -> None: ...


class _NeutralizingWriter:
    def __init__(self, handle: IO[str], lineterminator: str) -> None:
        self._writer = csv.writer(handle, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralize(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        self._writer.writerows([neutralize(value) for value in row] for row in rows)


def csv_writer(handle: IO[str], *, lineterminator: str = "\r\n", verbatim: bool = False) -> RowWriter:
    """The one way owabi writes CSV (RFC 4180 quoting), every cell through `neutralize`.

    `verbatim=True` is only for a file whose every value owabi itself made up and that must hold
    exactly what an export would: `owabi synth`'s simulated leak, which `owabi import` reads back (its
    phones start with +81). tests/test_files.py keeps the list of such callers."""
    if verbatim:
        return csv.writer(handle, lineterminator=lineterminator)
    return _NeutralizingWriter(handle, lineterminator)
