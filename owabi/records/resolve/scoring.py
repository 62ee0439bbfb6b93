"""Scoring: Splink on an in-memory DuckDB (or on Spark, resolve.spark) gives each candidate pair of records a
match probability."""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings

from owabi.core.files import scratch_folder
from owabi.records import features as feature_module
from owabi.records import resolve_model

MATCH_THRESHOLD = 0.95  # joined automatically at or above
REVIEW_THRESHOLD = 0.50  # queued for a human between this and MATCH_THRESHOLD
# Random pairs sampled to estimate u: 20 per record, at most two million. Two million pairs see every
# level with u above ~5e-6 ten times or more (rarer levels are capped, resolve_model.U_CAPS); fewer
# (one million) left rare "different" levels unseen and put three times as many pairs in review at 100k
# records. The cap keeps this step's cost flat beyond 100k records (it was a third of resolve's time).
U_SAMPLE_PAIRS = 2_000_000


class ResolveOutOfMemory(Exception):
    """DuckDB could not score the pairs within OWABI_RESOLVE_MEMORY and its spill folder: nothing written."""


@contextmanager
def features_frame(tables: list[Any]) -> Iterator[tuple[Any, Any]]:
    """An in-memory DuckDB holding the Arrow table in `tables` as the table "features", and its Splink
    frame; closed when the block ends. `tables` is emptied: once DuckDB has its own copy, the Arrow one is
    freed (at 1M records, 0.3 GiB less at the peak).

    DuckDB holds at most settings.OWABI_RESOLVE_MEMORY and spills the rest (the features, the pairs being
    scored) to a private folder made for this connection, deleted with it: the features are plain-text
    PII, and DuckDB's own default spills to ".tmp" under the working directory. The model's derived
    columns are added here, once per row (resolve_model.DERIVED_COLUMNS). A run killed outright leaves its
    folder behind; the next run on the machine deletes it (files.scratch_folder).
    """
    base = Path(settings.DATA_DIR) / "resolve"
    _drop_old_spills(base)
    with scratch_folder(base) as spill:
        yield from _frame(tables, spill)


def _drop_old_spills(base: Path) -> None:
    """Spill folders of owabi before 2026-12-06 were named duckdb-<random>, without their process: one
    left by a killed run holds features in plain text. Deleted once a day old (no resolve runs a day)."""
    if not base.is_dir():
        return
    for folder in base.glob("duckdb-*"):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - folder.stat().st_mtime > 86_400:
                shutil.rmtree(folder, ignore_errors=True)


def _frame(tables: list[Any], spill: Path) -> Iterator[tuple[Any, Any]]:
    import duckdb
    import pyarrow as pa
    from splink import DuckDBAPI

    duck = duckdb.connect(":memory:")
    try:
        duck.execute("SET threads TO 2")
        duck.execute("SET temp_directory = ?", [str(spill)])
        duck.execute("SET memory_limit = ?", [settings.OWABI_RESOLVE_MEMORY])
        duck.register("features_arrow", tables.pop())
        derived = ", ".join(resolve_model.DERIVED_COLUMNS)
        duck.execute(f"CREATE TABLE features AS SELECT *, {derived} FROM features_arrow")  # noqa: S608
        duck.unregister("features_arrow")
        pa.default_memory_pool().release_unused()
        yield duck, DuckDBAPI(duck).register("features")
    finally:
        duck.close()


def arrow_table(rows: list[dict[str, Any]]) -> Any:
    """Feature rows (and their household) as an Arrow table with the columns the model compares."""
    import pyarrow as pa

    columns = (*feature_module.COLUMNS, "household")
    return pa.table({column: [row.get(column) for row in rows] for column in columns})


class ScoredPairs:
    """Scored pairs as three packed columns (record index, record index, probability), iterated as
    tuples: 24 bytes a pair, where a tuple of Python numbers took about 150 and the fetch made two of
    them (about 0.4 pairs per record on the project's generator)."""

    def __init__(self, columns: Any) -> None:
        """`columns`: an Arrow table of unique_id_l, unique_id_r, match_probability (no nulls)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        self.left, self.right, self.probability = (
            _packed(pc.cast(columns.column(index), kind), code)
            for index, kind, code in ((0, pa.int64(), "q"), (1, pa.int64(), "q"), (2, pa.float64(), "d"))
        )

    def __len__(self) -> int:
        return len(self.left)

    def __iter__(self) -> Iterator[tuple[int, int, float]]:
        return zip(self.left, self.right, self.probability, strict=True)


def _packed(column: Any, code: str) -> array[Any]:
    """A chunked Arrow column of 8-byte numbers without nulls, as an array of that type (no Python
    object per value)."""
    packed = array(code)
    for chunk in column.chunks:
        if chunk.null_count:  # pragma: no cover - Splink's ids and probabilities are never null
            raise ValueError("scored pairs: a null id or probability")
        data = chunk.buffers()[1]
        packed.frombytes(memoryview(data)[chunk.offset * 8 : (chunk.offset + len(chunk)) * 8])
    return packed


def score_pairs(
    tables: list[Any], *, as_of: date, engine: str = "duckdb"
) -> tuple[ScoredPairs | list[tuple[int, int, float]], dict[str, Any]]:
    """Scored candidate pairs (by unique_id) among the rows of an Arrow table, and the trained model.

    `tables` holds the one table and is emptied: once DuckDB (or Spark) has its own copy, the Arrow one is
    freed (at 1M records, 0.3 GiB less at the peak). `as_of` is the notice date (who is a minor).
    `engine` "spark" runs the same Splink model through Spark (resolve.spark). DuckDB holds at most
    settings.OWABI_RESOLVE_MEMORY (features_frame); where it needs more than that and its spill folder
    give, the run stops with ResolveOutOfMemory."""
    table = tables.pop()
    n = table.num_rows
    if n < 2:
        return [], {}
    caps = resolve_model.person_caps(table)
    if engine == "spark":
        from owabi.records.resolve import spark

        return spark.score_pairs([table], n=n, as_of=as_of, caps=caps)
    tables.append(table)
    del table
    try:
        with features_frame(tables) as (duck, frame):
            model, predictions = train_and_predict(frame, n=n, as_of=as_of, caps=caps)
            pairs = ScoredPairs(
                duck.sql(
                    f"SELECT unique_id_l, unique_id_r, match_probability FROM {predictions.physical_name}"  # noqa: S608
                ).to_arrow_table()
            )
    except Exception as error:
        if not _out_of_memory(error):
            raise
        raise ResolveOutOfMemory(
            f"scoring the pairs of {n:,} records needs more memory than OWABI_RESOLVE_MEMORY"
            f" ({settings.OWABI_RESOLVE_MEMORY}) and the disk of OWABI_DATA_DIR give DuckDB: raise the cap"
            " or free disk space, and run resolve again"
        ) from None
    return pairs, model


def _out_of_memory(error: BaseException | None) -> bool:
    """DuckDB ran out of memory, whether it says so itself or through Splink's SplinkException."""
    import duckdb

    while error is not None:
        if isinstance(error, duckdb.OutOfMemoryException):
            return True
        error = error.__cause__ or error.__context__
    return False


def train_and_predict(
    frame: Any, *, n: int, as_of: date, caps: dict[tuple[str, str], float], u_chunks: int = 10
) -> tuple[dict[str, Any], Any]:
    """The model trained on the `n` records of a registered Splink frame (u by random sampling, then
    resolve_model.adjust_u) and its predictions at REVIEW_THRESHOLD or above (a Splink frame). The same
    for every engine: only the database behind `frame` differs, and `u_chunks`, how many parts Splink
    counts the sampled pairs in (it may stop early once every level has 100 pairs; the model's rare levels
    seldom let it)."""
    from splink import Linker

    # Prior: about one record in three is a repeat of someone, among n^2/2 pairs.
    prior = min(0.5, max(1e-9, (n / 3) / (n * (n - 1) / 2)))
    linker = Linker(frame, resolve_model.settings(prior=prior, as_of=as_of), log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(
        max_pairs=min(U_SAMPLE_PAIRS, max(100_000, n * 20)), seed=42, num_chunks=u_chunks
    )
    model = resolve_model.adjust_u(linker.misc.save_model_to_json(), records=n, caps=caps)
    linker = Linker(frame, model, log_level=logging.WARNING)
    return model, linker.inference.predict(threshold_match_probability=REVIEW_THRESHOLD)
