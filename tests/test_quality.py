from __future__ import annotations

import pytest

from owabi.records.quality import score


def test_a_perfect_clustering_scores_one() -> None:
    result = score(["a", "a", "b", "c"], ["x", "x", "y", "z"])
    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)
    assert (result.split_clusters, result.merged_clusters) == (0, 0)


def test_a_split_costs_recall_and_counts_as_a_duplicate() -> None:
    result = score(["a", "a", "b", "c"], ["x", "x", "x", "z"])
    assert result.precision == 1.0
    assert result.recall == pytest.approx(1 / 3)
    assert result.split_clusters == 1 and result.merged_clusters == 0


def test_a_merge_costs_precision_and_counts_as_merged_strangers() -> None:
    result = score(["a", "a", "a", "c"], ["x", "x", "y", "z"])
    assert result.recall == 1.0
    assert result.precision == pytest.approx(1 / 3)
    assert result.merged_clusters == 1 and result.split_clusters == 0


def test_unresolved_records_never_count_as_matched() -> None:
    result = score(["", "", "b"], ["x", "x", "y"])
    assert result.recall == 0.0
    assert result.predicted_clusters == 3


def test_labels_must_line_up() -> None:
    with pytest.raises(ValueError, match="same records"):
        score(["a"], ["x", "y"])
