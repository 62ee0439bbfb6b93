"""One process at a time: a named lock that the operating system or the database lets go of when the
process holding it ends, however it ends (a crash or `kill -9` included), so a stopped run never leaves
a lock behind for someone to lift by hand.

PostgreSQL: a session advisory lock (`pg_try_advisory_lock`), held by this process's connection, so it
excludes processes on every machine that uses the database. SQLite: `flock` on a file beside the
database (one machine is all SQLite serves). No PII: a lock's name holds ids and stage names only.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from owabi.core.files import open_private


class Busy(Exception):
    """Another process holds the lock."""


def _key(name: str) -> int:
    """The lock's name as the signed 64-bit number PostgreSQL's advisory locks take."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Hold the lock `name` while the block runs; Busy at once when another process holds it."""
    if connection.vendor == "postgresql":
        key = _key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                raise Busy(name)
        try:
            yield
        finally:
            if connection.connection is not None:  # a lost connection has let go of it already
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    database = Path(str(connection.settings_dict["NAME"]))
    path = database.with_name(f"{database.name}.locks") / f"{_key(name) & 0xFFFFFFFFFFFFFFFF:016x}.lock"
    with open_private(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(name) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
