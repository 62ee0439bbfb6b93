"""Errors by class: which tags the split and merged people of a resolution carry.

    PYTHONPATH=$PWD .venv/bin/python -m bench.realistic.errors CLUSTERS.csv TRUTH.csv [--top 20]

CLUSTERS.csv is `owabi export clusters` (record_id, subject_id, recipient_id), TRUTH.csv the generator's.
For subjects and for recipients it prints, per tag: how many true clusters carry it (on any of their
rows), how many of those were split (several predicted clusters: duplicate letters for recipients) and
how many took part in a merge (a predicted cluster holding other true clusters: merged strangers).
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter, defaultdict
from pathlib import Path
from typing import NamedTuple


class Record(NamedTuple):
    person: str  # true
    recipient: str  # true
    subject: str  # predicted
    predicted_recipient: str
    tags: frozenset[str]


class TagCount(NamedTuple):
    tag: str
    having: int  # true clusters with the tag on any of their rows
    split: int
    merged: int


def _load(clusters: Path, truth: Path) -> list[Record]:
    with truth.open(encoding="utf-8", newline="") as handle:
        facts = {
            r["record_id"]: (r["person_id"], r["recipient_id"], frozenset(r["variation"].split()))
            for r in csv.DictReader(handle)
        }
    out = []
    with clusters.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            person, recipient, tags = facts[row["record_id"]]
            subject = row["subject_id"] or f"unresolved {row['record_id']}"
            predicted_recipient = row["recipient_id"] or f"unresolved {row['record_id']}"
            out.append(Record(person, recipient, subject, predicted_recipient, tags))
    return out


def breakdown(records: list[Record], level: int) -> list[TagCount]:
    """(tag, true clusters with it, split, merged) for level 0 (subjects) or 1 (recipients)."""
    predicted_of: dict[str, set[str]] = defaultdict(set)
    true_in: dict[str, set[str]] = defaultdict(set)
    tags_of: dict[str, set[str]] = defaultdict(set)
    for record in records:
        true = record.recipient if level else record.person
        predicted = record.predicted_recipient if level else record.subject
        predicted_of[true].add(predicted)
        true_in[predicted].add(true)
        tags_of[true] |= record.tags
    split = {t for t, p in predicted_of.items() if len(p) > 1}
    merged = {t for members in true_in.values() if len(members) > 1 for t in members}
    having: Counter[str] = Counter()
    splits: Counter[str] = Counter()
    merges: Counter[str] = Counter()
    for true, tags in tags_of.items():
        for tag in tags | {"(all)"}:
            having[tag] += 1
            splits[tag] += true in split
            merges[tag] += true in merged
    return [TagCount(tag, having[tag], splits[tag], merges[tag]) for tag in having]


def missed_recipients(records: list[Record]) -> int:
    """True recipients who get no notice of their own: in every predicted recipient holding their rows,
    another true recipient has more rows (the notice is addressed to that one)."""
    sizes: dict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        sizes[record.predicted_recipient][record.recipient] += 1
    addressed = {max(inside, key=lambda r: (inside[r], r)) for inside in sizes.values()}
    return len({record.recipient for record in records} - addressed)


def report(clusters: Path, truth: Path, top: int = 20) -> str:
    records = _load(clusters, truth)
    true_recipients = len({record.recipient for record in records})
    missed = missed_recipients(records)
    lines = [f"missed recipients: {missed:,} ({missed / true_recipients:.2%} of {true_recipients:,} true)"]
    for level, label in ((0, "subjects"), (1, "recipients")):
        rows = breakdown(records, level)
        total = next(r for r in rows if r.tag == "(all)")
        lines.append(
            f"{label}: {total.having:,} true, {total.split:,} split ({total.split / total.having:.2%}), "
            f"{total.merged:,} in a merge ({total.merged / total.having:.2%})"
        )
        for title in ("split", "merged"):
            errors = total.split if title == "split" else total.merged
            base = errors / total.having

            def count(row: TagCount, title: str = title) -> int:
                return row.split if title == "split" else row.merged

            def excess(row: TagCount, base: float = base) -> float:
                """Errors beyond what the tag's clusters would have at the overall rate."""
                return count(row) - row.having * base

            lines.append(
                f"  {title}, by tag, most above the overall rate first "
                f"(tag: {title} / carrying it = rate; share of all {title}):"
            )
            for row in sorted(rows, key=lambda r: (-excess(r), r.tag))[:top]:
                if row.tag == "(all)" or excess(row) <= 0:
                    continue
                share = count(row) / errors if errors else 0.0
                lines.append(
                    f"    {row.tag:34s} {count(row):6,} / {row.having:7,} = {count(row) / row.having:6.2%}"
                    f"   {share:6.1%}"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("clusters", type=Path)
    parser.add_argument("truth", type=Path)
    parser.add_argument("--top", type=int, default=20)
    options = parser.parse_args()
    print(report(options.clusters, options.truth, options.top))


if __name__ == "__main__":
    main()
