"""Resolve's feature columns on disk: each column an Arrow file in the run's scratch folder, mapped back.

Resolve reads the match keys of every record several times: scoring takes them once, the parts and every
batch of clustering and recipients take them again. Held in the process they were about 0.6 GiB per
million records at resolve's peak (21 GiB at 35 million, more than the machine the target names).
Mapped from a file, the same arrays are the kernel's page cache: read when used, dropped under memory
pressure and read again, never the process's own memory. Each column is a file of its own, so a column
no step reads is never read from disk, and one written whole (`mapped`) is one piece: no copy to combine
its chunks, as long as steps take it with `whole` (Arrow's combine_chunks copies even a single chunk).

The files hold the features in plain text, as DuckDB's spill does: they live in the run's private
scratch folder (files.scratch_folder, 0700; each file 0600), deleted when the run ends, and by the next
run on the machine when a run is killed outright.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from owabi.core.files import open_private

_SERIAL = itertools.count()  # file names unique within the process (a run's folder is its own)


class Columns:
    """Tables of one schema, appended one after the other (`append`), each column to a file of its own;
    `mapped` gives the whole as one table of mapped columns (a piece per table appended)."""

    def __init__(self, schema: Any, folder: Path, name: str) -> None:
        import pyarrow as pa

        self.schema = schema
        files = [_new_file(folder, name) for _ in schema]
        self.paths = [path for path, _ in files]
        self.handles = [handle for _, handle in files]
        self.writers = [
            pa.ipc.new_file(handle, pa.schema([field]))
            for handle, field in zip(self.handles, schema, strict=True)
        ]

    def append(self, table: Any) -> None:
        import pyarrow as pa

        for writer, field in zip(self.writers, self.schema, strict=True):
            for chunk in table.column(field.name).chunks:
                writer.write_batch(pa.record_batch([chunk], schema=pa.schema([field])))

    def mapped(self) -> Any:
        import pyarrow as pa

        for writer, handle in zip(self.writers, self.handles, strict=True):
            writer.close()
            handle.close()
        return pa.table({field.name: _map(path) for path, field in zip(self.paths, self.schema, strict=True)})


def mapped(table: Any, folder: Path, name: str, *, keep: Any = None, rows: Any = None) -> Any:
    """`table` as a table of the same columns mapped from files in `folder` (named `name`-…), each column
    in one piece: only the rows where the Arrow booleans `keep` are true, or the rows `rows` (indexes) in
    their order, if given. One column at a time is in the process's memory while the files are written."""
    import pyarrow as pa

    columns = {}
    for field in table.schema:
        values = table.column(field.name)
        if keep is not None:
            values = values.filter(keep)
        if rows is not None:
            values = values.take(rows)
        path, handle = _new_file(folder, name)
        with handle, pa.ipc.new_file(handle, pa.schema([field])) as writer:
            writer.write_batch(pa.record_batch([values.combine_chunks()], schema=pa.schema([field])))
        del values
        columns[field.name] = _map(path)
    pa.default_memory_pool().release_unused()
    return pa.table(columns, schema=table.schema)


def whole(column: Any) -> Any:
    """A column as one Arrow array. A column of one chunk (every mapped one) is that chunk as it is, its
    pages still the file's: ChunkedArray.combine_chunks copies even one chunk into Arrow's pool, which at
    5M records put copies of whole string columns in the process. Several chunks are combined."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column


def remove(folder: Path, name: str) -> None:
    """Delete the files `mapped` or `Columns` wrote as `name`: their space comes back once no array
    maps them any longer."""
    for path in folder.glob(f"{name}-*.arrow"):
        path.unlink()


def _new_file(folder: Path, name: str) -> Any:
    """A new file in `folder` (0600, files.open_private), open for writing: its path and the handle."""
    path = folder / f"{name}-{next(_SERIAL)}.arrow"
    return path, open_private(path, "wb")


def _map(path: Path) -> Any:
    """The column of an Arrow file, its arrays the file's pages. The map stays open as long as an array
    uses it (its buffers hold it), and no longer."""
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(str(path))).read_all().column(0)
