"""The engines that score pairs (`owabi resolve --engine`), and the checks the Spark one must pass before
any work: these import nothing heavy, so the command refuses in one line at once."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from django.conf import settings

ENGINES = ("duckdb", "spark")

# local, local[4], local[*], local[4,2], local-cluster[...]; spark://host:port[,host:port]; yarn; k8s://...
_MASTER = re.compile(
    r"local(\[(\*|[1-9][0-9]*)(,[1-9][0-9]*)?\])?"
    r"|spark://[A-Za-z0-9.\-]+:[0-9]{1,5}(,[A-Za-z0-9.\-]+:[0-9]{1,5})*"
    r"|yarn|k8s://(https?://)?[A-Za-z0-9.\-]+(:[0-9]{1,5})?"
)
INSTALL_HINT = "install the spark extra: pip install -r requirements-spark.lock"


class SparkUnavailable(Exception):
    """The Spark engine cannot run here (no Java, no PySpark, a bad master, Spark failed): one line."""


def check_available() -> None:
    """Refuse, in one line, before any work: no Java, no PySpark, or a master URL that is not one."""
    if not _MASTER.fullmatch(settings.OWABI_SPARK_MASTER):
        raise SparkUnavailable(
            "OWABI_SPARK_MASTER is not a Spark master URL (local[N], spark://host:port, yarn, k8s://host:port)"
        )
    if not _java():
        raise SparkUnavailable(
            "the Spark engine needs Java 17 (java not found on PATH or in JAVA_HOME; "
            "Debian: apt-get install openjdk-17-jre-headless)"
        )
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable(f"the Spark engine needs PySpark: {INSTALL_HINT}") from None


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")
