"""Resolve leaked records into subjects (people) and subjects into recipients (who gets the notice).

1. Features: each record's normalized keys (owabi.records.features), in memory only.
2. Pairs: Splink on an in-memory DuckDB scores candidate pairs (owabi.records.resolve_model).
3. Subjects: pairs at or above MATCH_THRESHOLD are joined (union-find), after applying every human
   review decision (same: joined; different: never joined directly). Pairs in the review band are
   queued as ReviewPairs. Pre-birth placeholder rows join the child born near the due date.
4. Recipients (DESIGN.md §4.2): an adult (18+ on the notice date) is their own recipient; a minor's
   recipient is the guardian. Minors with the same guardian name and a shared phone, e-mail or
   address share one guardian, across sources; a guardian whose own data leaked is that adult's own
   recipient, so one notice covers both.
5. Numbers stay stable: each new cluster keeps the number of the old subject (recipient) it overlaps
   most, so re-running after another import renumbers nothing that did not change.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from owabi.core import audit
from owabi.incidents.models import Incident
from owabi.records import features as feature_module
from owabi.records import normalize, resolve_model
from owabi.records.models import LeakRecord, Recipient, ResolveRun, ReviewPair, Subject

logger = logging.getLogger(__name__)

MATCH_THRESHOLD = 0.95  # joined automatically at or above
REVIEW_THRESHOLD = 0.50  # queued for a human between this and MATCH_THRESHOLD
ADULT_AGE = 18  # Japan's age of majority since 2022-04-01
PLACEHOLDER_WINDOW = timedelta(days=60)  # due date vs actual birth date
BULK = 1000


@dataclass
class ResolveResult:
    records: int = 0
    subjects: int = 0
    recipients: int = 0
    pairs_scored: int = 0
    review_pairs: int = 0
    timings: dict[str, float] = field(default_factory=dict)


class _UnionFind:
    def __init__(self, items: Iterable[int]) -> None:
        self.parent = {item: item for item in items}

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)

    def groups(self) -> list[list[int]]:
        by_root: dict[int, list[int]] = defaultdict(list)
        for item in self.parent:
            by_root[self.find(item)].append(item)
        return sorted((sorted(members) for members in by_root.values()), key=lambda m: m[0])


def _features_frame(rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    """An in-memory DuckDB holding `rows` as the table "features", and its Splink frame.

    Never a file: the features are plain-text PII.
    """
    import duckdb
    import pyarrow as pa
    from splink import DuckDBAPI

    table = pa.table({column: [row[column] for row in rows] for column in feature_module.COLUMNS})
    connection = duckdb.connect(":memory:")
    connection.execute("SET threads TO 2")
    connection.register("features_arrow", table)
    connection.execute("CREATE TABLE features AS SELECT * FROM features_arrow")
    connection.unregister("features_arrow")
    return connection, DuckDBAPI(connection).register("features")


def score_pairs(rows: list[dict[str, Any]]) -> tuple[list[tuple[int, int, float]], dict[str, Any]]:
    """Scored candidate pairs and the trained model."""
    if len(rows) < 2:
        return [], {}
    from splink import Linker

    connection, frame = _features_frame(rows)
    # Prior: about one record in three is a repeat of someone, among n^2/2 pairs.
    prior = min(0.5, max(1e-9, (len(rows) / 3) / (len(rows) * (len(rows) - 1) / 2)))
    linker = Linker(frame, resolve_model.settings(prior=prior), log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(max_pairs=min(5e6, max(1e5, len(rows) * 20)), seed=42)
    model = resolve_model.adjust_u(linker.misc.save_model_to_json())
    linker = Linker(frame, model, log_level=logging.WARNING)
    predictions = linker.inference.predict(threshold_match_probability=REVIEW_THRESHOLD)
    pairs = connection.execute(
        f"SELECT unique_id_l, unique_id_r, match_probability FROM {predictions.physical_name}"  # noqa: S608
    ).fetchall()
    connection.close()
    return [(int(a), int(b), float(p)) for a, b, p in pairs], model


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _contact_tokens(row: dict[str, Any]) -> set[str]:
    return {f"{kind}:{row[kind]}" for kind in ("phone", "email", "address_key") if row.get(kind)}


def _stable_numbers(clusters: list[list[int]], old: dict[int, int], taken: set[int]) -> list[int]:
    """Give each cluster the old number most of its members had, largest overlap first; new ones after."""
    wishes = []
    for index, members in enumerate(clusters):
        counts = Counter(old[m] for m in members if m in old)
        for number, overlap in counts.items():
            wishes.append((-overlap, number, index))
    wishes.sort()
    numbers: list[int | None] = [None] * len(clusters)
    used: set[int] = set()
    for _, number, index in wishes:
        if numbers[index] is None and number not in used:
            numbers[index] = number
            used.add(number)
    next_number = max(taken | used, default=0) + 1
    result: list[int] = []
    for wished in numbers:
        if wished is None:
            wished, next_number = next_number, next_number + 1
        result.append(wished)
    return result


def _decided_pairs(incident: Incident) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    decided = ReviewPair.objects.filter(incident=incident).exclude(decision=ReviewPair.Decision.PENDING)
    same: set[tuple[int, int]] = set()
    different: set[tuple[int, int]] = set()
    for a, b, decision in decided.values_list("record_a_id", "record_b_id", "decision"):
        (same if decision == ReviewPair.Decision.SAME else different).add((a, b))
    return same, different


def resolve(
    *,
    incident: Incident,
    actor: str,
    as_of: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> ResolveResult:
    as_of = as_of or timezone.localdate()
    say = progress or (lambda _message: None)
    result = ResolveResult()
    started = time.monotonic()

    def lap(name: str) -> None:
        nonlocal started
        now = time.monotonic()
        result.timings[name] = round(now - started, 2)
        started = now

    say("reading and normalizing records")
    rows: dict[int, dict[str, Any]] = {}
    placeholders: dict[int, dict[str, Any]] = {}
    sealed_by_pk: dict[int, dict[str, Any]] = {}
    values = LeakRecord.objects.filter(incident=incident).values_list("pk", "sealed")
    for pk, sealed in cast("Iterable[tuple[int, dict[str, Any]]]", values.iterator(5000)):
        sealed_by_pk[pk] = sealed
        row = feature_module.features(pk, sealed)
        if feature_module.is_placeholder(sealed):
            row["due"] = feature_module.safe(normalize.date, sealed.get("expected_delivery_date"))
            placeholders[pk] = row
        else:
            rows[pk] = row
    result.records = len(rows) + len(placeholders)
    lap("features")

    say(f"scoring candidate pairs among {len(rows):,} records")
    pairs, model = score_pairs(list(rows.values()))
    result.pairs_scored = len(pairs)
    lap("match")

    say("clustering")
    same, different = _decided_pairs(incident)
    union = _UnionFind(list(rows) + list(placeholders))
    review: list[tuple[int, int, float]] = []
    for a, b, probability in pairs:
        key = (min(a, b), max(a, b))
        if key in different:
            continue
        if probability >= MATCH_THRESHOLD:
            union.union(*key)
        elif key not in same:
            review.append((*key, probability))
    for a, b in same:
        if a in union.parent and b in union.parent:
            union.union(a, b)

    # Pre-birth placeholders join the child of the same guardian born near the due date.
    children_by_guardian: dict[str, list[int]] = defaultdict(list)
    for pk, row in rows.items():
        if row["guardian_fold"] and row["dob"]:
            children_by_guardian[row["guardian_fold"]].append(pk)
    for pk, row in placeholders.items():
        due: date | None = row.get("due")
        if not due or not row["guardian_fold"]:
            continue
        tokens = _contact_tokens(row)
        candidates = [
            child
            for child in children_by_guardian.get(row["guardian_fold"], [])
            if abs(date.fromisoformat(rows[child]["dob"]) - due) <= PLACEHOLDER_WINDOW
            and (not tokens or tokens & _contact_tokens(rows[child]))
        ]
        if candidates:
            best = min(candidates, key=lambda c: abs(date.fromisoformat(rows[c]["dob"]) - due))
            union.union(pk, best)
    clusters = union.groups()
    lap("cluster")

    say("assigning recipients")
    all_rows = {**rows, **placeholders}
    subject_info = [_subject_info(members, all_rows, as_of) for members in clusters]
    recipient_of_cluster = _assign_recipients(subject_info)
    lap("recipients")

    say("writing subjects and recipients")
    _write(incident, clusters, subject_info, recipient_of_cluster, sealed_by_pk, review, result)
    ResolveRun.objects.create(
        incident=incident,
        records=result.records,
        subjects=result.subjects,
        recipients=result.recipients,
        model=model,
    )
    audit.record(
        actor=actor,
        action="records.resolve",
        object_type="incident",
        object_id=incident.pk,
        data={
            "records": result.records,
            "subjects": result.subjects,
            "recipients": result.recipients,
            "pairs_scored": result.pairs_scored,
            "review_pairs": result.review_pairs,
        },
    )
    lap("write")
    return result


def _subject_info(members: list[int], rows: dict[int, dict[str, Any]], as_of: date) -> dict[str, Any]:
    births = Counter(rows[m]["dob"] for m in members if rows[m]["dob"])
    birth = date.fromisoformat(births.most_common(1)[0][0]) if births else None
    guardians = Counter(rows[m]["guardian_fold"] for m in members if rows[m]["guardian_fold"])
    guardian_kana = Counter(rows[m]["guardian_kana"] for m in members if rows[m]["guardian_kana"])
    if birth is not None:
        minor = _age(birth, as_of) < ADULT_AGE
    else:  # no birth date: a row naming a guardian (or a pre-birth row) is a child's
        minor = bool(guardians) or any("due" in rows[m] for m in members)
    tokens: set[str] = set()
    for m in members:
        tokens |= _contact_tokens(rows[m])
    return {
        "members": members,
        "minor": minor,
        "guardian": guardians.most_common(1)[0][0] if guardians else None,
        "guardian_kana": guardian_kana.most_common(1)[0][0] if guardian_kana else None,
        "names": {rows[m]["name_fold"] for m in members if rows[m]["name_fold"]},
        "kana": {rows[m]["kana_key"] for m in members if rows[m]["kana_key"]},
        "tokens": tokens,
    }


def _assign_recipients(subjects: list[dict[str, Any]]) -> list[int]:
    """For each subject, the index of the subject whose recipient it shares (itself for adults).

    Minors sharing a guardian name (or reading) and any phone, e-mail or address share a guardian; a
    group of them whose guardian is also an adult subject (same name, shared contact) goes to that
    adult's recipient, so one notice covers the parent and the children. An adult never joins another.
    """
    adults_by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, info in enumerate(subjects):
        if not info["minor"]:
            for name in info["names"] | info["kana"]:
                for token in info["tokens"]:
                    adults_by_key[(name, token)].append(index)
    minors = _UnionFind(i for i, info in enumerate(subjects) if info["minor"])
    first_by_key: dict[tuple[str, str], int] = {}
    keys_of: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for index in list(minors.parent):
        info = subjects[index]
        for guardian_key in filter(None, (info["guardian"], info["guardian_kana"])):
            for token in info["tokens"]:
                key = (guardian_key, token)
                keys_of[index].append(key)
                if key in first_by_key:
                    minors.union(index, first_by_key[key])
                else:
                    first_by_key[key] = index
    owner = list(range(len(subjects)))
    for group in minors.groups():
        votes = Counter(
            adult for member in group for key in keys_of[member] for adult in adults_by_key.get(key, [])
        )
        target = votes.most_common(1)[0][0] if votes else group[0]
        for member in group:
            owner[member] = target
    return owner


def _fullest(
    pks: list[int], sealed_by_pk: dict[int, dict[str, Any]], fields: tuple[str, ...]
) -> dict[str, Any]:
    """The record with most of `fields` filled (latest on a tie): the best address to write to."""
    best = max(pks, key=lambda pk: (sum(bool(sealed_by_pk[pk].get(f)) for f in fields), pk))
    return sealed_by_pk[best]


CONTACT_FIELDS = ("postal_code", "address", "email", "phone")


def _write(
    incident: Incident,
    clusters: list[list[int]],
    subject_info: list[dict[str, Any]],
    owner: list[int],
    sealed_by_pk: dict[int, dict[str, Any]],
    review: list[tuple[int, int, float]],
    result: ResolveResult,
) -> None:
    old = LeakRecord.objects.filter(incident=incident, subject__isnull=False).values_list(
        "pk", "subject__number", "subject__recipient__number"
    )
    old_subject: dict[int, int] = {}
    old_recipient: dict[int, int] = {}
    for pk, subject_number, recipient_number in old.iterator(5000):
        old_subject[pk] = subject_number
        if recipient_number is not None:
            old_recipient[pk] = recipient_number
    subject_numbers = _stable_numbers(
        clusters, old_subject, set(Subject.objects.filter(incident=incident).values_list("number", flat=True))
    )
    groups: dict[int, list[int]] = defaultdict(list)
    for index, target in enumerate(owner):
        groups[target].append(index)
    group_owners = sorted(groups)
    group_records = [[pk for index in groups[g] for pk in clusters[index]] for g in group_owners]
    recipient_numbers = _stable_numbers(
        group_records,
        old_recipient,
        set(Recipient.objects.filter(incident=incident).values_list("number", flat=True)),
    )

    with transaction.atomic():
        recipients_by_number = {r.number: r for r in Recipient.objects.filter(incident=incident)}
        recipient_of_subject_index: dict[int, Recipient] = {}
        new_recipients: list[Recipient] = []
        changed_recipients: list[Recipient] = []
        keep_recipients = set()
        for group_owner, number in zip(group_owners, recipient_numbers, strict=True):
            info = subject_info[group_owner]
            members = [pk for index in groups[group_owner] for pk in clusters[index]]
            if info["minor"]:
                kind = Recipient.Kind.GUARDIAN
                source = _fullest(members, sealed_by_pk, ("guardian_name", *CONTACT_FIELDS))
                name, kana = source.get("guardian_name", ""), source.get("guardian_kana", "")
            else:
                kind = Recipient.Kind.SELF
                own = clusters[group_owner]
                source = _fullest(own, sealed_by_pk, ("subject_name", *CONTACT_FIELDS))
                name, kana = source.get("subject_name", ""), source.get("subject_kana", "")
            sealed = {"name": name, "kana": kana, **{f: source.get(f, "") for f in CONTACT_FIELDS}}
            recipient = recipients_by_number.get(number)
            if recipient is None:
                recipient = Recipient(incident=incident, number=number, kind=kind, sealed=sealed)
                new_recipients.append(recipient)
            else:
                recipient.kind, recipient.sealed = kind, sealed
                changed_recipients.append(recipient)
            keep_recipients.add(number)
            for index in groups[group_owner]:
                recipient_of_subject_index[index] = recipient
        Recipient.objects.bulk_create(new_recipients, batch_size=BULK)
        Recipient.objects.bulk_update(changed_recipients, ["kind", "sealed"], batch_size=BULK)

        subjects_by_number = {s.number: s for s in Subject.objects.filter(incident=incident)}
        new_subjects: list[Subject] = []
        changed_subjects: list[Subject] = []
        moved: list[tuple[int, Subject]] = []
        keep_subjects = set()
        for index, (members, number) in enumerate(zip(clusters, subject_numbers, strict=True)):
            info = subject_info[index]
            source = _fullest(members, sealed_by_pk, ("subject_name", "subject_kana", "subject_birth_date"))
            sealed = {
                "name": source.get("subject_name", ""),
                "kana": source.get("subject_kana", ""),
                "birth_date": source.get("subject_birth_date", ""),
            }
            subject = subjects_by_number.get(number)
            recipient = recipient_of_subject_index[index]
            if subject is None:
                subject = Subject(
                    incident=incident,
                    number=number,
                    recipient=recipient,
                    is_minor=info["minor"],
                    sealed=sealed,
                )
                new_subjects.append(subject)
            else:
                subject.recipient, subject.is_minor, subject.sealed = recipient, info["minor"], sealed
                changed_subjects.append(subject)
            keep_subjects.add(number)
            moved.extend((pk, subject) for pk in members if old_subject.get(pk) != number)
        Subject.objects.bulk_create(new_subjects, batch_size=BULK)
        Subject.objects.bulk_update(changed_subjects, ["recipient", "is_minor", "sealed"], batch_size=BULK)
        record_updates = [LeakRecord(pk=pk, subject=subject) for pk, subject in moved]
        LeakRecord.objects.bulk_update(record_updates, ["subject"], batch_size=BULK)
        Subject.objects.filter(incident=incident).exclude(number__in=keep_subjects).delete()
        Recipient.objects.filter(incident=incident).exclude(number__in=keep_recipients).delete()
        ReviewPair.objects.bulk_create(
            [
                ReviewPair(incident=incident, record_a_id=a, record_b_id=b, probability=p)
                for a, b, p in review
            ],
            ignore_conflicts=True,
            batch_size=2000,
        )
    result.subjects = len(clusters)
    result.recipients = len(group_owners)
    result.review_pairs = ReviewPair.objects.filter(
        incident=incident, decision=ReviewPair.Decision.PENDING
    ).count()


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


def _level_labels(model: dict[str, Any]) -> dict[str, dict[int, str]]:
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
    targets = LeakRecord.objects.filter(incident=incident, record_id=record_id).select_related(
        "source_file", "subject__recipient"
    )
    for target in targets:
        subject = target.subject
        if subject is None or run is None or not run.model:
            explanations.append(Explanation(record_id, target.source_file.source, "", "", "", False, []))
            continue
        others = list(
            LeakRecord.objects.filter(subject=subject)
            .exclude(pk=target.pk)
            .select_related("source_file")[:limit]
        )
        pairs = _score_against(run.model, target, others)
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


def _score_against(
    model: dict[str, Any], target: LeakRecord, others: list[LeakRecord]
) -> list[PairExplanation]:
    if not others:
        return []
    from splink import Linker

    left = feature_module.features(target.pk, target.sealed)
    right = [feature_module.features(other.pk, other.sealed) for other in others]
    connection, frame = _features_frame([left, *right])
    settings = {**model, "retain_intermediate_calculation_columns": True}
    linker = Linker(frame, settings, log_level=logging.WARNING)
    scored = linker.inference.score_pairs([left], right).as_record_list()
    connection.close()
    labels = _level_labels(model)
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
