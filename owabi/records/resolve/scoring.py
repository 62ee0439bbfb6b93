"""Scoring: Splink on an in-memory DuckDB (or on Spark, resolve.spark) gives each candidate pair of records a
match probability."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from owabi.records import features as feature_module
from owabi.records import resolve_model

MATCH_THRESHOLD = 0.95  # joined automatically at or above
REVIEW_THRESHOLD = 0.50  # queued for a human between this and MATCH_THRESHOLD
# Random pairs sampled to estimate u: 20 per record, at most two million. Two million pairs see every
# level with u above ~5e-6 ten times or more (rarer levels are capped, resolve_model.U_CAPS); fewer
# (one million) left rare "different" levels unseen and put three times as many pairs in review at 100k
# records. The cap keeps this step's cost flat beyond 100k records (it was a third of resolve's time).
U_SAMPLE_PAIRS = 2_000_000


def features_frame(table: Any) -> tuple[Any, Any]:
    """An in-memory DuckDB holding the Arrow `table` as the table "features", and its Splink frame.

    Never a file: the features are plain-text PII. The model's derived columns are added here, once per
    row (resolve_model.DERIVED_COLUMNS).
    """
    import duckdb
    from splink import DuckDBAPI

    duck = duckdb.connect(":memory:")
    duck.execute("SET threads TO 2")
    duck.register("features_arrow", table)
    derived = ", ".join(resolve_model.DERIVED_COLUMNS)
    duck.execute(f"CREATE TABLE features AS SELECT *, {derived} FROM features_arrow")  # noqa: S608
    duck.unregister("features_arrow")
    return duck, DuckDBAPI(duck).register("features")


def arrow_table(rows: list[dict[str, Any]]) -> Any:
    """Feature rows (and their household) as an Arrow table with the columns the model compares."""
    import pyarrow as pa

    columns = (*feature_module.COLUMNS, "household")
    return pa.table({column: [row.get(column) for row in rows] for column in columns})


def score_pairs(
    tables: list[Any], *, as_of: date, engine: str = "duckdb"
) -> tuple[list[tuple[int, int, float]], dict[str, Any]]:
    """Scored candidate pairs (by unique_id) among the rows of an Arrow table, and the trained model.

    `tables` holds the one table and is emptied: once DuckDB (or Spark) has its own copy, the Arrow one is
    freed (at 1M records, 0.3 GiB less at the peak). `as_of` is the notice date (who is a minor).
    `engine` "spark" runs the same Splink model through Spark (resolve.spark)."""
    table = tables.pop()
    n = table.num_rows
    if n < 2:
        return [], {}
    import pyarrow as pa

    caps = resolve_model.person_caps(table)
    if engine == "spark":
        from owabi.records.resolve import spark

        return spark.score_pairs([table], n=n, as_of=as_of, caps=caps)
    duck, frame = features_frame(table)
    del table
    pa.default_memory_pool().release_unused()
    model, predictions = train_and_predict(frame, n=n, as_of=as_of, caps=caps)
    pairs = duck.execute(
        f"SELECT unique_id_l, unique_id_r, match_probability FROM {predictions.physical_name}"  # noqa: S608
    ).fetchall()
    duck.close()
    return [(int(a), int(b), float(p)) for a, b, p in pairs], model


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
