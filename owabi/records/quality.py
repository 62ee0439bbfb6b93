"""Clustering quality against ground truth, through the `owabi export clusters` interface.

Pairwise precision/recall/F1 count record pairs put together, computed from the contingency table of
(predicted cluster, true cluster) sizes, so 35M records need no pair enumeration. For recipients the
figures that matter to people are also reported directly: a true recipient split over several
predicted ones gets duplicate notices; a predicted recipient holding several true ones merges strangers.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PairScores:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    shared_pairs: int
    split_clusters: int  # true clusters spread over more than one predicted cluster
    merged_clusters: int  # predicted clusters holding more than one true cluster
    true_clusters: int
    predicted_clusters: int

    @property
    def split_rate(self) -> float:
        return self.split_clusters / self.true_clusters if self.true_clusters else 0.0

    @property
    def merged_rate(self) -> float:
        return self.merged_clusters / self.predicted_clusters if self.predicted_clusters else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score(predicted: list[str], truth: list[str]) -> PairScores:
    """Scores for two equally long label lists (one label per record). Empty predicted labels are
    singletons: an unresolved record is never counted as matched to anything."""
    if len(predicted) != len(truth):
        raise ValueError("predicted and truth must label the same records")
    labels = [p if p else f"\0unresolved{i}" for i, p in enumerate(predicted)]
    cells = Counter(zip(labels, truth, strict=True))
    predicted_sizes = Counter(labels)
    truth_sizes = Counter(truth)
    shared = sum(_pairs(n) for n in cells.values())
    predicted_pairs = sum(_pairs(n) for n in predicted_sizes.values())
    true_pairs = sum(_pairs(n) for n in truth_sizes.values())
    precision = shared / predicted_pairs if predicted_pairs else 1.0
    recall = shared / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    truth_spread: dict[str, set[str]] = defaultdict(set)
    predicted_spread: dict[str, set[str]] = defaultdict(set)
    for label, true_label in cells:
        truth_spread[true_label].add(label)
        predicted_spread[label].add(true_label)
    return PairScores(
        precision=precision,
        recall=recall,
        f1=f1,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        shared_pairs=shared,
        split_clusters=sum(len(v) > 1 for v in truth_spread.values()),
        merged_clusters=sum(len(v) > 1 for v in predicted_spread.values()),
        true_clusters=len(truth_sizes),
        predicted_clusters=len(predicted_sizes),
    )


@dataclass(frozen=True)
class Report:
    records: int
    unresolved: int
    subjects: PairScores
    recipients: PairScores


def compare_files(clusters: Path, truth: Path) -> Report:
    """Compare an `owabi export clusters` file with a truth file (record_id,person_id,recipient_id,…)."""
    with truth.open(encoding="utf-8", newline="") as handle:
        true_by_id = {
            row["record_id"]: (row["person_id"], row["recipient_id"]) for row in csv.DictReader(handle)
        }
    predicted_subjects: list[str] = []
    predicted_recipients: list[str] = []
    true_subjects: list[str] = []
    true_recipients: list[str] = []
    with clusters.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            person, recipient = true_by_id.pop(row["record_id"])
            predicted_subjects.append(row["subject_id"])
            predicted_recipients.append(row["recipient_id"])
            true_subjects.append(person)
            true_recipients.append(recipient)
    if true_by_id:
        raise ValueError(f"{len(true_by_id)} records of the truth file are missing from the export")
    return Report(
        records=len(predicted_subjects),
        unresolved=sum(not s for s in predicted_subjects),
        subjects=score(predicted_subjects, true_subjects),
        recipients=score(predicted_recipients, true_recipients),
    )
