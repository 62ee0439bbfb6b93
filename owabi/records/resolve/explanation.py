"""Explain: why a record sits in its subject, as the model of the latest run scores it (labels only)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from owabi.incidents.models import Incident
from owabi.records import features as feature_module
from owabi.records import match_store
from owabi.records.models import LeakRecord, Membership, ResolveRun
from owabi.records.resolve.households import households
from owabi.records.resolve.scoring import arrow_table, features_frame


@dataclass(frozen=True)
class PairExplanation:
    other_record_id: str
    probability: float
    levels: dict[str, str]  # comparison -> the level the pair fell into (labels, never values)


@dataclass(frozen=True)
class Explanation:
    record_id: str
    source: str
    subject: str
    recipient: str
    recipient_kind: str
    is_minor: bool
    pairs: list[PairExplanation]


def level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Splink's gamma values per comparison: null levels are -1, the others count down to 0 (else)."""
    labels: dict[str, dict[int, str]] = {}
    for comparison in model["comparisons"]:
        levels = comparison["comparison_levels"]
        scored = [level for level in levels if not level.get("is_null_level")]
        by_gamma = {len(scored) - 1 - i: level["label_for_charts"] for i, level in enumerate(scored)}
        by_gamma[-1] = next((lv["label_for_charts"] for lv in levels if lv.get("is_null_level")), "missing")
        labels[comparison["output_column_name"]] = by_gamma
    return labels


def explain(*, incident: Incident, record_id: str, limit: int = 50) -> list[Explanation]:
    """Why a record sits in its subject: its scores against the subject's other records, by level.

    Uses the model of the latest run. Shows labels and probabilities only, never field values.
    """
    run = ResolveRun.objects.filter(incident=incident).order_by("-finished_at", "-pk").first()
    explanations = []
    # A model that weighs households needs them from the whole incident, as resolve computed them: read
    # once, when first needed, whatever the number of records with this id.
    household: dict[int, int] | None = None
    targets = LeakRecord.objects.filter(incident=incident, record_id=record_id).select_related("source_file")
    for target in targets:
        membership = Membership.objects.filter(record=target).select_related("subject__recipient").first()
        subject = membership.subject if membership else None
        if subject is None or run is None or not run.model:
            explanations.append(Explanation(record_id, target.source_file.source, "", "", "", False, []))
            continue
        others = list(
            LeakRecord.objects.filter(membership__subject=subject)
            .exclude(pk=target.pk)
            .select_related("source_file")[:limit]
        )
        if household is None and "household_l" in json.dumps(run.model):
            household = _households_of(incident)
        pairs = _score_against(run.model, target, others, household)
        recipient = subject.recipient
        explanations.append(
            Explanation(
                record_id=record_id,
                source=target.source_file.source,
                subject=f"S{subject.number}",
                recipient=f"P{recipient.number}" if recipient else "",
                recipient_kind=recipient.kind if recipient else "",
                is_minor=subject.is_minor,
                pairs=pairs,
            )
        )
    return explanations


def _households_of(incident: Incident) -> dict[int, int]:
    """Record pk -> household, as resolve computes them from every record of the incident."""
    keys, _ = match_store.read(incident)
    return dict(zip(keys.column("pk").to_pylist(), households(keys).tolist(), strict=True))


def _score_against(
    model: dict[str, Any], target: LeakRecord, others: list[LeakRecord], household: dict[int, int] | None
) -> list[PairExplanation]:
    if not others:
        return []
    from splink import Linker

    left = feature_module.features(target.pk, target.sealed)
    right = [feature_module.features(other.pk, other.sealed) for other in others]
    if household is not None:
        for row in (left, *right):
            row["household"] = household[row["unique_id"]]
    with features_frame([arrow_table([left, *right])]) as (duck, frame):
        # The rows as the frame holds them, with the model's derived columns (resolve_model.DERIVED_COLUMNS).
        cursor = duck.execute("SELECT * FROM features ORDER BY unique_id = ? DESC", [left["unique_id"]])
        names = [column[0] for column in cursor.description]
        left, *right = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        settings = {**model, "retain_intermediate_calculation_columns": True}
        linker = Linker(frame, settings, log_level=logging.WARNING)
        scored = linker.inference.score_pairs([left], right).as_record_list()
    labels = level_labels(model)
    record_ids = {other.pk: other.record_id for other in others}
    result = [
        PairExplanation(
            other_record_id=record_ids[int(row["unique_id_r"])],
            probability=float(row["match_probability"]),
            levels={name: by_gamma.get(int(row[f"gamma_{name}"]), "?") for name, by_gamma in labels.items()},
        )
        for row in scored
    ]
    return sorted(result, key=lambda pair: -pair.probability)


def explain_pair(*, incident: Incident, record_a: LeakRecord, record_b: LeakRecord) -> PairExplanation | None:
    """The latest run's score of one pair, with the level of each comparison (labels, never values);
    None before any run with a model."""
    run = ResolveRun.objects.filter(incident=incident).order_by("-finished_at", "-pk").first()
    if run is None or not run.model:
        return None
    household = _households_of(incident) if "household_l" in json.dumps(run.model) else None
    pairs = _score_against(run.model, record_a, [record_b], household)
    return pairs[0] if pairs else None
