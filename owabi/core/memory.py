"""Freed memory given back to the system between the steps of a long job.

A step of resolve frees most of what it built before the next begins, but the allocators keep the pages:
Arrow's pool for reuse, and glibc's malloc wherever a freed block is not at the very top of its heap.
glibc also raises its mmap threshold each time a large block is freed (up to 32 MiB), so numpy arrays
of a few MiB made after that come from the heap and fragment it. Without handing those pages back, a
later step's peak is its own structures plus every earlier step's garbage.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from pathlib import Path
from typing import Any


@functools.cache
def _libc() -> Any:
    """The C library if it is glibc (it has malloc_trim), else None (musl, macOS: nothing to trim). glibc's
    own name first: find_library runs ldconfig or a compiler, which a slim image may lack."""
    libc: ctypes.CDLL | None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        name = ctypes.util.find_library("c")  # looked for only where glibc's name is not there
        try:
            libc = ctypes.CDLL(name) if name else None
        except OSError:
            libc = None
    return libc if hasattr(libc, "malloc_trim") else None


def give_back() -> None:
    """Return the pages freed so far to the system: Arrow's pool's unused pages, and glibc's free pages
    (malloc_trim(0) releases those inside the heap too, not only at its top). Costs milliseconds; call it
    where a step has dropped its structures, not in a loop."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def own_pages() -> int:
    """Bytes of the process's own pages: resident less the shared and file-backed ones (mapped files such
    as resolve's feature columns, which the kernel drops under pressure and reads again). Linux only: read
    from /proc/self/statm."""
    fields = Path("/proc/self/statm").read_text().split()
    return (int(fields[1]) - int(fields[2])) * os.sysconf("SC_PAGE_SIZE")
