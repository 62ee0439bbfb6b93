"""Build owabi/records/normalize_data/given_readings.tsv.gz: the readings a given name written in kanji can
have, from JMnedict (the Electronic Dictionary Research and Development Group's dictionary of Japanese
proper names), as the jamdict-data package ships it.

    .venv/bin/python -m pip download --no-deps jamdict-data==1.5 -d /tmp/jd
    tar xzf /tmp/jd/jamdict_data-1.5.tar.gz -C /tmp/jd
    xz -dk /tmp/jd/jamdict_data-1.5/jamdict_data/jamdict.db.xz
    .venv/bin/python tools/build_given_readings.py /tmp/jd/jamdict_data-1.5/jamdict_data/jamdict.db

Kept: entries typed as a given name (given, fem, masc) or unclassified (many modern given names are filed
so: 奏太 そうた), written in one to four kanji and kana with at least one kanji. The output is the same
bytes for the same dictionary (sorted, gzip without a timestamp).
"""

from __future__ import annotations

import argparse
import gzip
import re
import sqlite3
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "owabi" / "records" / "normalize_data"
OUT = DATA / "given_readings.tsv.gz"
TYPES = ("given", "fem", "masc", "unclass")
WRITTEN = re.compile(r"^[\u3005\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]{1,4}$")
KANJI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
HEADER = (
    "# Readings of given names (written\\treadings in hiragana, comma-separated), built by"
    " tools/build_given_readings.py\n"
    "# from JMnedict (jamdict-data 1.5). JMnedict is the property of the Electronic Dictionary Research and\n"
    "# Development Group (EDRDG), used under its licence (Creative Commons Attribution-ShareAlike 4.0):\n"
    "# https://www.edrdg.org/edrdg/licence.html. This file, derived from it, is under the same licence.\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", type=Path, help="jamdict.db (unpacked from jamdict-data)")
    args = parser.parse_args()
    connection = sqlite3.connect(f"file:{args.database}?mode=ro", uri=True)
    query = f"""
        SELECT DISTINCT k.text, n.text FROM NEKanji k
        JOIN NEKana n ON n.idseq = k.idseq
        JOIN NETranslation t ON t.idseq = k.idseq
        JOIN NETransType y ON y.tid = t.ID
        WHERE y.text IN ({",".join("?" * len(TYPES))})
    """  # noqa: S608 (placeholders only)
    readings: dict[str, set[str]] = defaultdict(set)
    for written, reading in connection.execute(query, TYPES):
        if WRITTEN.match(written) and KANJI.search(written):
            readings[written].add(reading)
    body = "".join(f"{w}\t{','.join(sorted(r))}\n" for w, r in sorted(readings.items()))
    OUT.write_bytes(gzip.compress((HEADER + body).encode("utf-8"), compresslevel=9, mtime=0))
    print(f"{len(readings):,} written names, {sum(map(len, readings.values())):,} readings -> {OUT}")


if __name__ == "__main__":
    main()
