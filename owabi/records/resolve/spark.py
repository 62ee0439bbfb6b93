"""Scoring on Spark (`owabi resolve --engine spark`): the same Splink model, its SQL run by Spark.

Splink writes every step (the u sample, blocking, comparison vectors, scores) as DuckDB SQL. `SparkSQL`, a
Splink database API, translates each statement to Spark SQL with sqlglot and runs it on a SparkSession;
only the scored pairs come back to Python, and everything after scoring (subjects, households,
recipients) is the code the DuckDB engine runs. Why not Splink's own SparkAPI: docs/decisions.md.

Functions the translation needs: Jaro-Winkler and Damerau-Levenshtein from the Scala jar inside the splink
package (no download), and Hamming written out in Spark SQL, NULL for a NULL side as in DuckDB (see
`_hamming`). ANSI mode is off, so a cast that does not fit is NULL, as a DuckDB `TRY_CAST` would be, and
never an error that quotes the value.

Blocking runs rule by rule (`SparkSQL`): Splink's one statement joining all 18 rules ran the local JVM out
of memory at 100,000 records (docs/performance.md, "Resolve on Spark").

PII: the features are plain text inside Spark. Its scratch (shuffle files, spills, parquet between steps,
the JVM's temp files) goes to a private folder made for the run and deleted after it
(settings.OWABI_SPARK_CHECKPOINT_DIR; a run killed before it could delete its folder has it deleted by
the next run, `scratch_folder`); Spark logs at ERROR only, without an event log or web UI; and a
failure is reported by its Spark error class, never by its message (which can quote a row).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from splink.internals.database_api import DatabaseAPI
from splink.internals.dialects import DuckDBDialect
from splink.internals.input_column import InputColumn
from splink.internals.splink_dataframe import SplinkDataFrame

from owabi.core.files import private_dir, scratch_folder, write_private
from owabi.records.resolve.engines import SparkUnavailable, check_available

logger = logging.getLogger(__name__)


def score_pairs(
    tables: list[Any], *, n: int, as_of: date, caps: dict[tuple[str, str], float]
) -> tuple[list[tuple[int, int, float]], dict[str, Any]]:
    """scoring.score_pairs on Spark: one session for the run, stopped and its scratch deleted after."""
    from owabi.records.resolve.scoring import train_and_predict

    check_available()
    with session() as spark:
        # Written once to parquet and read back: each step then reads only the columns it needs, and
        # never goes back to the rows sent from Python (and the derived columns) again.
        path = f"{spark.conf.get('owabi.checkpoints')}/owabi_features"
        _features(spark, tables.pop()).write.parquet(path)
        frame = SparkSQL(spark).register(spark.read.parquet(path), table_name="owabi_features")
        try:
            # The sampled pairs counted in one Spark job: each of Splink's ten parts (and its probe of
            # the first) is a job of its own, about 0.5 s each however small.
            model, predictions = train_and_predict(frame, n=n, as_of=as_of, caps=caps, u_chunks=1)
            scored = spark.table(predictions.physical_name).select(
                "unique_id_l", "unique_id_r", "match_probability"
            )
            pairs = [
                (int(a), int(b), float(p)) for a, b, p in scored.toPandas().itertuples(index=False, name=None)
            ]
        except Exception as error:
            raise SparkUnavailable(f"the Spark engine failed: {_error_class(error)}") from None
    return pairs, model


def _error_class(error: BaseException) -> str:
    """What failed, without the message: Spark's messages can quote the values of a row."""
    if isinstance(error, ConnectionError) or type(error).__name__ == "Py4JNetworkError":
        return (
            "its JVM ended (out of memory? the line above says; raise OWABI_SPARK_DRIVER_MEMORY, "
            "or run with --engine duckdb)"
        )
    text = str(error)
    found = re.search(r"\[([A-Z][A-Z0-9_.]+)\]", text)
    java = re.search(r"\b((?:java|org|scala)\.[A-Za-z0-9_.$]+(?:Exception|Error))\b", text)
    return (found.group(1) if found else java.group(1) if java else type(error).__name__) + (
        " (run with --engine duckdb, or see docs/operations.md)"
    )


@contextmanager
def session() -> Iterator[Any]:
    """A SparkSession on settings.OWABI_SPARK_MASTER whose scratch is a private folder made for this run,
    deleted (with any remote checkpoint folder) when the session stops."""
    check_available()
    base = settings.OWABI_SPARK_CHECKPOINT_DIR
    remote = "://" in base and not base.startswith("file://")
    local_base = Path(settings.DATA_DIR) / "spark" if remote else Path(base.removeprefix("file://"))
    with scratch_folder(local_base) as scratch:
        checkpoints = str(scratch / "checkpoints")
        if remote:
            checkpoints = f"{base.rstrip('/')}/owabi-{uuid.uuid4().hex}"
        spark = None
        try:
            spark = _start(scratch)
            spark.conf.set("owabi.checkpoints", checkpoints)
            yield spark
        finally:
            if spark is not None:
                if remote:
                    _delete_remote(spark, checkpoints)
                _stop(spark)


def _stop(spark: Any) -> None:
    """Stop the session and its JVM: the JVM's memory (1-2 GiB) is not held through the rest of resolve,
    and the next run starts a JVM of its own, with its own temp folder (JVM options apply at launch only)."""
    from pyspark import SparkContext

    with contextlib.suppress(Exception):  # the JVM may have gone already (out of memory)
        spark.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    with contextlib.suppress(Exception):
        gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    if process is not None:  # the JVM exits when its stdin closes (PySpark's gateway server)
        process.stdin.close()
        process.wait(timeout=60)


def _start(scratch: Path) -> Any:
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    master = settings.OWABI_SPARK_MASTER
    local = master.startswith("local")
    for folder in ("local", "tmp", "warehouse"):
        private_dir(scratch / folder)
    # ERROR and above only, from the JVM's first line: a warning may quote a row (a bad cast, a plan).
    log_config = scratch / "log4j2.properties"
    with write_private(log_config) as handle:
        handle.write(
            "rootLogger.level = error\n"
            "rootLogger.appenderRef.stderr.ref = console\n"
            "appender.console.type = Console\n"
            "appender.console.name = console\n"
            "appender.console.target = SYSTEM_ERR\n"
            "appender.console.layout.type = PatternLayout\n"
            "appender.console.layout.pattern = %p %c{1}: %m%n\n"
        )
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # never bind to a public interface
    partitions = str(settings.OWABI_SPARK_PARTITIONS)
    # py4j logs every call at INFO and DEBUG; the JVM's own log level is set below.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    builder = (
        SparkSession.builder.master(master)
        .appName("owabi-resolve")
        .config("spark.driver.memory", settings.OWABI_SPARK_DRIVER_MEMORY)
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", partitions)
        .config("spark.default.parallelism", partitions)
        .config("spark.sql.ansi.enabled", "false")
        # Sort-merge joins only, which spill to disk: a broadcast join holds its whole side in the one
        # local JVM (twice: built and as sent), however large the incident.
        .config("spark.sql.autoBroadcastJoinThreshold", "-1")
        # Each blocking rule's join excludes the pairs of the rules before it (NOT (rule1 OR rule2 ...)):
        # inferring constraints from those grows with their square, and was most of the blocking step
        # (and its memory) at 10,000 records when the 18 joins were one statement.
        .config("spark.sql.constraintPropagation.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.eventLog.enabled", "false")
        .config("spark.local.dir", str(scratch / "local"))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config(
            "spark.driver.extraJavaOptions",
            # A JVM out of memory hung with Python waiting on it; ended, the run fails in one line.
            f"-XX:-UsePerfData -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir={scratch / 'tmp'}"
            f" -Dlog4j2.configurationFile=file:{log_config}",
        )
    )
    if local:
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    try:
        spark = builder.getOrCreate()
    except Exception as error:
        raise SparkUnavailable(f"Spark did not start on OWABI_SPARK_MASTER: {_error_class(error)}") from None
    spark.sparkContext.setLogLevel("ERROR")
    _register_functions(spark)
    return spark


def _register_functions(spark: Any) -> None:
    """The jar's similarity functions, under the names the translated SQL calls."""
    from pyspark.sql.types import DoubleType

    for name, java_class in (
        ("jaro_winkler", "uk.gov.moj.dash.linkage.JaroWinklerSimilarity"),
        ("damerau_levenshtein", "uk.gov.moj.dash.linkage.LevDamerauDistance"),
    ):
        spark.udf.registerJavaFunction(name, java_class, DoubleType())


def _delete_remote(spark: Any, path: str) -> None:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(hadoop_path, True)


def _features(spark: Any, table: Any) -> Any:
    """The Arrow feature table as a Spark DataFrame, with the model's derived columns
    (resolve_model.DERIVED_COLUMNS, written here with Spark's functions: Java names the Han script IsHan)."""
    from pyspark.sql import functions as F

    from owabi.records.normalize import PLAIN_KANA, VOICED_KANA
    from owabi.records.resolve_model import KANA_IN_KANJI_NAMES

    return _spark_frame(spark, table).withColumns(
        {
            "kana_plain": F.translate("kana_key", VOICED_KANA, PLAIN_KANA),
            "name_kanji": F.col("name_key").rlike(r"\p{IsHan}"),
            "name_has_kana": F.regexp_replace("name_key", f"[{KANA_IN_KANJI_NAMES}]", "").rlike(
                "[ぁ-ゖァ-ヺ]"
            ),
        }
    )


def _spark_frame(spark: Any, table: Any) -> Any:
    """An Arrow table as a Spark DataFrame, its schema from Arrow's (an all-NULL column is a string)."""
    import pyarrow as pa
    from pyspark.sql import types as T

    def kind(arrow_type: Any) -> Any:
        if pa.types.is_integer(arrow_type):
            return T.LongType()
        if pa.types.is_floating(arrow_type):
            return T.DoubleType()
        if pa.types.is_boolean(arrow_type):
            return T.BooleanType()
        return T.StringType()

    schema = T.StructType([T.StructField(f.name, kind(f.type), True) for f in table.schema])
    return spark.createDataFrame(table.to_pandas(), schema=schema)


def translate(sql: str) -> str:
    """One statement Splink wrote for DuckDB, as Spark SQL."""
    import sqlglot

    return _spark_sql(sqlglot.parse_one(sql, read="duckdb"))


def translate_by_rule(sql: str) -> list[str]:
    """Splink's blocking statement (its CTEs, then one SELECT per blocking rule joined by UNION ALL) as one
    Spark SQL statement per rule, each with the CTEs. Each rule's SELECT already leaves out the pairs of
    the rules before it (Splink's `AND NOT (rule 1 OR ...)`), so together they make the same pairs."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = next((value for value in tree.args.values() if isinstance(value, exp.With)), None)

    def selects(node: Any) -> list[Any]:
        if isinstance(node, exp.Union) and not node.args.get("distinct"):
            return [*selects(node.left), *selects(node.right)]
        return [node]

    statements = []
    for select in selects(tree):
        select = select.copy()
        if ctes is not None:
            select.set(next(key for key, value in tree.args.items() if value is ctes), ctes.copy())
        statements.append(_spark_sql(select))
    return statements


def _spark_sql(tree: Any) -> str:
    from sqlglot import exp

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.JarowinklerSimilarity):
            return exp.Anonymous(this="jaro_winkler", expressions=[node.this, node.expression])
        if isinstance(node, exp.Anonymous) and node.name.lower() == "hamming":
            return _hamming(*node.expressions)
        if isinstance(node, exp.Anonymous) and node.name.lower() == "hash":
            # DuckDB's hash is unsigned, and Splink's DuckDB SQL relies on it (`hash(id) % M < t` picks
            # the u sample); Spark's is signed, which put every negative hash in the sample, half the
            # records instead of the few hundred asked for: 64 times the pairs. A 64-bit hash without
            # its sign bit is unsigned and as uniform.
            xxhash = exp.Anonymous(this="xxhash64", expressions=node.expressions)
            return exp.Paren(this=exp.BitwiseAnd(this=xxhash, expression=exp.Literal.number(2**63 - 1)))
        return node

    return str(tree.transform(rewrite).sql(dialect="spark"))


def _hamming(a: Any, b: Any) -> Any:
    """DuckDB's hamming(a, b) in Spark SQL: the count of positions where two strings of one length
    differ. NULL where either is NULL (as in DuckDB) or the lengths differ (DuckDB raises). Written with
    CASE on purpose: size(NULL) is -1 with ANSI mode off, so an unguarded count of a NULL birth date
    would pass `hamming(...) <= 1` and join strangers."""
    import sqlglot

    left, right = a.sql(dialect="spark"), b.sql(dialect="spark")
    return sqlglot.parse_one(
        f"CASE WHEN {left} IS NULL OR {right} IS NULL OR LENGTH({left}) <> LENGTH({right}) THEN NULL"
        f" WHEN LENGTH({left}) = 0 THEN 0"
        f" ELSE SIZE(FILTER(SEQUENCE(1, LENGTH({left})),"
        f" owabi_i -> SUBSTRING({left}, owabi_i, 1) <> SUBSTRING({right}, owabi_i, 1))) END",
        read="spark",
    )


def _rows(path: str) -> str:
    """Rows in a parquet folder, from its files' footers (no Spark job); "?" for a remote folder."""
    if "://" in path and not path.startswith("file://"):
        return "?"
    import pyarrow.parquet as pq

    files = Path(path.removeprefix("file://")).glob("*.parquet")
    return f"{sum(pq.read_metadata(file).num_rows for file in files):,}"


class SparkFrame(SplinkDataFrame):
    """A table in the session: a temporary view, its columns named as the DuckDB SQL names them."""

    db_api: SparkSQL

    @property
    def columns(self) -> list[InputColumn]:
        names = self.db_api.spark.table(self.physical_name).columns
        return [InputColumn(name, sqlglot_dialect_str="duckdb") for name in names]

    def validate(self) -> None:
        pass

    def as_record_list(self, limit: int | None = None) -> list[dict[str, Any]]:
        frame = self.db_api.spark.table(self.physical_name)
        if limit:
            frame = frame.limit(limit)
        return [row.asDict(recursive=True) for row in frame.collect()]

    def as_dict(self, limit: int | None = None) -> dict[str, list[Any]]:
        frame = self.db_api.spark.table(self.physical_name)
        if limit:
            frame = frame.limit(limit)
        rows = frame.collect()
        return {name: [row[name] for row in rows] for name in frame.columns}

    def _drop_table_from_database(self, force_non_splink_table: bool = False) -> None:
        self._check_drop_table_created_by_splink(force_non_splink_table)
        self.db_api.delete_table_from_database(self.physical_name)


# Splink's table of blocked pairs (unique ids and the number of the rule that found them), made by one
# statement: each blocking rule's self-join, UNION ALL.
BLOCKED_PAIRS = "__splink__blocked_id_pairs"


class SparkSQL(DatabaseAPI[Any]):
    """Splink's SQL, written for DuckDB, run by Spark (module docstring). Each table Splink makes is
    written to parquet in the run's private checkpoint folder and read back, so the next step starts from
    the table and not from the whole plan that made it (Splink reads most tables several times).

    The blocked pairs are made rule by rule, one Spark job each, into one parquet table: Splink's single
    statement of 18 self-joins, planned and run as one job, ran the local JVM out of memory at 100,000
    records (docs/decisions.md, "Blocking on Spark rule by rule")."""

    sql_dialect = DuckDBDialect()

    def __init__(self, spark: Any) -> None:
        super().__init__()
        self.spark = spark
        self._checkpoints = spark.conf.get("owabi.checkpoints")
        self._by_rule: dict[str, list[str]] = {}  # physical name: the blocking statement, rule by rule

    def _table_registration(self, input: Any, table_name: str) -> None:
        if isinstance(input, list | dict):  # Splink's own small tables (m and u counts, settings)
            import pyarrow as pa

            input = pa.Table.from_pylist(input) if isinstance(input, list) else pa.table(input)
        if not hasattr(input, "createOrReplaceTempView"):
            input = _spark_frame(self.spark, input)
        input.createOrReplaceTempView(table_name)

    def table_to_splink_dataframe(self, templated_name: str, physical_name: str) -> SparkFrame:
        return SparkFrame(templated_name, physical_name, self)

    def table_exists_in_database(self, table_name: str) -> bool:
        return bool(self.spark.catalog.tableExists(table_name))

    def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
        if physical_name.startswith(f"{BLOCKED_PAIRS}_"):  # Splink names a table <templated>_<hash>
            statements = translate_by_rule(sql)
            if len(statements) > 1:
                self._by_rule[physical_name] = statements
                return physical_name  # _execute_sql_against_backend hands the statements on
            return statements[0]
        return translate(sql)

    def _execute_sql_against_backend(self, final_sql: str) -> Any:
        if final_sql in self._by_rule:
            return self._by_rule.pop(final_sql)
        return self.spark.sql(final_sql)

    def _cleanup_for_execute_sql(self, table: Any, templated_name: str, physical_name: str) -> SparkFrame:
        path = f"{self._checkpoints}/{physical_name}"
        if isinstance(table, list):
            parts = [f"{path}/rule-{number:02d}" for number in range(len(table))]
            schema = None
            for number, (statement, part) in enumerate(zip(table, parts, strict=True), start=1):
                started = time.monotonic()
                pairs = self.spark.sql(statement)
                schema = pairs.schema
                pairs.write.mode("overwrite").parquet(part)
                logger.info(  # names and counts, no values
                    "spark: %s rule %d/%d, %s pairs in %.1f s",
                    templated_name,
                    number,
                    len(table),
                    _rows(part),
                    time.monotonic() - started,
                )
            # With the schema: a rule without pairs may have written no file to read one from.
            self.spark.read.schema(schema).parquet(*parts).createOrReplaceTempView(physical_name)
        else:
            started = time.monotonic()
            table.write.mode("overwrite").parquet(path)
            logger.info("spark: %s in %.1f s", templated_name, time.monotonic() - started)
            self.spark.read.parquet(path).createOrReplaceTempView(physical_name)
        return self.table_to_splink_dataframe(templated_name, physical_name)

    def delete_table_from_database(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
