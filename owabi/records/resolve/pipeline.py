"""The resolve run: features, scores, subjects, recipients, storage, one step after the other.

Each step's module says how it decides; this one says in which order they run and what is in memory
when. Resolve holds a Python list per feature column only after scoring, so DuckDB's working set and
those lists are never in memory together, and only until the recipients are found: writing needs no
record's values, only each record's "fullest record" ranks (storage.fullest), taken from the Arrow
columns before the lists exist. Where it goes at 1M records: docs/performance.md, "Resolve's memory".

A run keeps two checkpoints (resume): the scored pairs, then the subjects and recipients. The next run
on the same records, date, decisions and code takes up the last one instead of doing that work again;
the write is one transaction, and the checkpoints go once it has committed.
"""

from __future__ import annotations

import gc
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from owabi.core import audit
from owabi.core.files import scratch_folder
from owabi.core.memory import give_back
from owabi.incidents.models import Incident
from owabi.incidents.runs import changing_people
from owabi.incidents.selectors import closed_reason
from owabi.records import checkpoints, match_store, ondisk
from owabi.records import features as feature_module
from owabi.records.majority import minor_cutoff
from owabi.records.models import ResolveRun
from owabi.records.resolve import parts, resume
from owabi.records.resolve.children import one_subject_per_child
from owabi.records.resolve.clusters import (
    decided_pairs,
    join_born_elsewhere,
    join_grown,
    join_placeholders,
    join_read_alike,
    join_unborn,
    link,
)
from owabi.records.resolve.engines import ENGINES, check_available
from owabi.records.resolve.households import households
from owabi.records.resolve.recipients import assign_recipients, subject_facts
from owabi.records.resolve.scoring import ScoredPairs, score_pairs
from owabi.records.resolve.storage import fullest as fullest_records
from owabi.records.resolve.storage import write
from owabi.records.resolve.union_find import Packed, groups, roots


@dataclass
class ResolveResult:
    records: int = 0
    subjects: int = 0
    recipients: int = 0
    pairs_scored: int = 0
    review_pairs: int = 0
    refreshed: int = 0  # records whose stored match keys were stale and were recomputed
    timings: dict[str, float] = field(default_factory=dict)


# The feature columns clustering and recipient assignment read back as Python lists (index = record).
_KEPT = (
    "name_key",
    "name_fold",
    "kana_key",
    "dob",
    "guardian_fold",
    "guardian_kana",
    "phone",
    "email",
    "address_key",
    "postal",
    "due",
    "card_last4",
    "given_kana",
    "given_name",
    "guardian_given_name",
    "guardian_given_kana",
)
# Values that repeat little (a phone, an e-mail address): each row gets its own string object.
_MOSTLY_UNIQUE = frozenset({"phone", "email"})
_TABLE_COLUMNS = (*[c for c in feature_module.COLUMNS if c != "unique_id"], *feature_module.EXTRA_COLUMNS)


def _python_list(column: Any, *, shared: bool) -> list[Any]:
    """An Arrow column as a Python list. `shared`: one string object per distinct value, however many rows
    hold it (a birth date, postal code, given name or guardian repeats across thousands of rows; each
    string costs 60-110 bytes). At 1M records the lists hold 327 MiB where separate objects took
    894 MiB (tracemalloc), and a string's hash, computed once, serves every row that shares it."""
    if not shared:
        return column.to_pylist()
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column.combine_chunks())
    values = encoded.dictionary.to_pylist()
    values.append(None)  # where the index is null
    return [values[i] for i in encoded.indices.fill_null(len(values) - 1).to_pylist()]


class IncidentClosed(Exception):
    """The incident's personal data was erased (owabi retention): there is nothing left to resolve."""


class ImportUnfinished(Exception):
    """An import of the incident stopped before its end (or runs now): its file is only partly in."""


def _refuse_unfinished_imports(incident: Incident) -> None:
    stopped = checkpoints.unfinished(incident=incident)
    if stopped:
        first = stopped[0]
        others = f" (and {len(stopped) - 1:,} more)" if len(stopped) > 1 else ""
        raise ImportUnfinished(
            f"incident {incident.slug}: the import of {first.file_name}{others} is unfinished (stopped or"
            f" running, {first.rows_in:,} rows in); run that owabi import again to finish it (or with"
            " --restart), then resolve"
        )


def resolve(
    *,
    incident: Incident,
    actor: str,
    as_of: date | None = None,
    progress: Callable[[str], None] | None = None,
    engine: str = "duckdb",
) -> ResolveResult:
    """`engine`: where the pairs are scored, "duckdb" (in memory, the default) or "spark" (resolve.spark,
    settings.OWABI_SPARK_*); every other step is the same for both."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}")
    if engine == "spark":  # no Java, no PySpark, a bad master: refused before any work
        check_available()
    if reason := closed_reason(incident):
        raise IncidentClosed(reason)
    # Resolve holds millions of small objects (keys, clusters, pairs) and frees them only at the end;
    # the cyclic garbage collector's full passes over them grew superlinearly with the incident (at a
    # million records, seconds per phase) and never find anything: it is paused for the run.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with changing_people(incident, "owabi resolve"):
            _refuse_unfinished_imports(incident)
            newest = checkpoints.newest_file(incident=incident)
            with scratch_folder(Path(settings.DATA_DIR) / "resolve") as scratch:
                return _resolve(incident, actor, as_of, progress, engine, newest, scratch)
    finally:
        if collecting:
            gc.enable()


def _resolve(
    incident: Incident,
    actor: str,
    as_of: date | None,
    progress: Callable[[str], None] | None,
    engine: str,
    newest_file: int,
    scratch: Path,
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

    say("reading match keys")
    keys, result.refreshed = match_store.read(incident, say, folder=scratch)
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    pks = array("q")
    pks.frombytes(keys.column("pk").to_numpy().astype(np.int64).tobytes())  # no Python int per record
    n = len(pks)
    table = keys.select(list(_TABLE_COLUMNS)).add_column(
        0, "unique_id", pa.array(np.arange(n, dtype=np.int64))
    )
    del keys
    saved = resume.Checkpoints(incident, say)
    key = resume.fingerprint(table, as_of=as_of, engine=engine)
    # A pre-birth placeholder: no name of its own, a due date. Matched later, by join_placeholders.
    is_placeholder = pc.and_(pc.is_null(table.column("name_key")), pc.is_valid(table.column("due")))
    table = table.append_column("household", pa.array(households(table), pa.int64()))
    # The columns go to files in the run's scratch folder, mapped back (ondisk): from here on they are
    # the kernel's page cache, not resolve's own memory.
    table = ondisk.mapped(table, scratch, "features")
    for name in ("keys", "ordered"):  # what match_store.read mapped: in the features now, in one piece
        ondisk.remove(scratch, name)
    matchable = [ondisk.mapped(table, scratch, "matchable", keep=pc.invert(is_placeholder))]
    kept = table.select(list(_KEPT))
    del table
    fullest = fullest_records(kept)  # what write needs of the values, so the lists go before it
    result.records = n
    same, different = decided_pairs(incident, pks)
    grouped_key = resume.with_decisions(key, same, different)
    give_back()
    lap("features")

    if saved.usable("grouped", grouped_key):
        say("resuming a run that stopped: its subjects and recipients were found, and are written now")
        matchable.clear()
        del kept, is_placeholder
        give_back()
        grouped = saved.grouped()
    else:
        grouped = _grouped(
            kept, is_placeholder, matchable, (same, different), (saved, key), as_of, engine, say, lap
        )
        del kept, is_placeholder
        give_back()  # the allocators keep freed pages for reuse otherwise (core.memory)
        saved.save_grouped(grouped_key, grouped)
    clusters, minor, owner, review = grouped.clusters, grouped.minor, grouped.owner, grouped.review
    result.pairs_scored, model = grouped.pairs_scored, grouped.model
    del grouped
    say(f"  {len(clusters):,} subjects")
    if "recipients" not in result.timings:  # resumed: the steps it skipped took no time
        for step in ("match", "cluster", "recipients"):
            result.timings.setdefault(step, 0.0)

    say("writing subjects and recipients")
    # An import commits in checkpoints: one that began while this run read the records may have been
    # read in part, and subjects made from part of a file would look complete. Refused, to run again.
    if arrived := checkpoints.arrived_since(incident=incident, newest=newest_file):
        raise ImportUnfinished(
            f"incident {incident.slug}: an import of {arrived.file_name} began while resolve ran, so part of"
            " it may have been read; nothing was written: run resolve again once that import has finished"
        )
    result.subjects, result.recipients, result.review_pairs = write(
        incident, pks, fullest, clusters, minor, owner, review, say
    )
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
            "match_keys_refreshed": result.refreshed,
            "engine": engine,
        },
    )
    saved.clear()
    lap("write")
    return result


def _grouped(
    kept: Any,
    is_placeholder: Any,
    matchable: list[Any],
    decided: tuple[set[tuple[int, int]], set[tuple[int, int]]],
    checkpoint: tuple[resume.Checkpoints, str],
    as_of: date,
    engine: str,
    say: Callable[[str], None],
    lap: Callable[[str], None],
) -> resume.Grouped:
    """Scored pairs (or those a stopped run scored), subjects and recipients."""
    saved, key = checkpoint
    same, different = decided
    if saved.usable("scored", key):
        say("resuming a run that stopped: its candidate pairs were scored, and are read back")
        matchable.clear()
        scored = saved.scored()
    else:
        say(f"scoring candidate pairs among {matchable[0].num_rows:,} records ({engine})")
        pairs, model = score_pairs(matchable, as_of=as_of, engine=engine)
        scored = resume.Scored(*_pair_columns(pairs), model)
        del pairs
        saved.save_scored(key, scored)
    give_back()
    lap("match")

    say("clustering")
    left, right, probability = scored.left, scored.right, scored.probability
    clustering = parts.clustering_parts(kept, is_placeholder, left, right, same)
    subject, review = _subjects(
        kept,
        is_placeholder,
        clustering,
        (left, right, probability),
        same,
        different,
        minor_cutoff(as_of),
        say,
    )
    pairs_scored, model = len(left), scored.model
    del clustering, scored, left, right, probability
    give_back()
    lap("cluster")

    say("assigning recipients")
    clusters, minor, owner = _recipients(kept, is_placeholder, subject, different, as_of, say)
    lap("recipients")
    return resume.Grouped(clusters, minor, owner, review, pairs_scored, model)


def _pair_columns(pairs: ScoredPairs | list[tuple[int, int, float]]) -> tuple[Any, Any, Any]:
    """The scored pairs as numpy columns: record index, record index, probability."""
    import numpy as np

    if isinstance(pairs, ScoredPairs):
        return (
            np.frombuffer(pairs.left, np.int64),
            np.frombuffer(pairs.right, np.int64),
            np.frombuffer(pairs.probability, np.float64),
        )
    return (
        np.fromiter((a for a, _, _ in pairs), np.int64, len(pairs)),
        np.fromiter((b for _, b, _ in pairs), np.int64, len(pairs)),
        np.fromiter((p for _, _, p in pairs), np.float64, len(pairs)),
    )


class _Batch:
    """One batch of parts: its records (ascending, global indexes), their Python lists, and the
    translation of global record indexes into the batch's own (0 .. len - 1, in the same order, so every
    rule that orders by index orders alike)."""

    def __init__(self, records: Any, kept: Any, is_placeholder: Any) -> None:
        import pyarrow as pa

        self.records = records
        taken = pa.array(records)
        rows = kept.take(taken)
        self.col = {
            name: _python_list(rows.column(name), shared=name not in _MOSTLY_UNIQUE) for name in _KEPT
        }
        self.placeholder: list[bool] = is_placeholder.take(taken).to_pylist()

    def local(self, indexes: Any) -> Any:
        import numpy as np

        return np.searchsorted(self.records, indexes)

    def decided(self, pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
        """Decided pairs of this batch's records (from `_by_batch`), in its indexes."""
        return {(int(self.local(a)), int(self.local(b))) for a, b in pairs}


def _by_batch(pairs: set[tuple[int, int]], batch_of: Any) -> dict[int, list[tuple[int, int]]]:
    """The decided pairs whose two records are in one batch, by batch (a pair across batches joins
    nothing and parts nothing there: its records are in different parts)."""
    found: dict[int, list[tuple[int, int]]] = {}
    for a, b in pairs:
        if batch_of[a] == batch_of[b]:
            found.setdefault(int(batch_of[a]), []).append((a, b))
    return found


def _batches(label: Any, say: Callable[[str], None]) -> tuple[list[Any], Any]:
    """The batches of parts (settings.OWABI_RESOLVE_PART_RECORDS) and each record's batch number."""
    import numpy as np

    batches = list(parts.batches(label, settings.OWABI_RESOLVE_PART_RECORDS))
    largest = max((len(records) for records in batches), default=0)
    say(f"  {len(batches):,} batches of independent parts (the largest {largest:,} records)")
    batch_of = np.empty(len(label), np.int64)
    for number, records in enumerate(batches):
        batch_of[records] = number
    return batches, batch_of


def _subjects(
    kept: Any,
    is_placeholder: Any,
    clustering: parts.ClusteringParts,
    pairs: tuple[Any, Any, Any],
    same: set[tuple[int, int]],
    different: set[tuple[int, int]],
    cutoff: str,
    say: Callable[[str], None],
) -> tuple[Any, list[tuple[int, int, float]]]:
    """Clustering, batch by batch: per record the smallest record of its subject, and the review queue
    (ordered by record index)."""
    import numpy as np

    left, right, probability = pairs
    batches, batch_of = _batches(clustering.label, say)
    pair_batch = batch_of[left]
    order = np.argsort(pair_batch, kind="stable")  # each batch's pairs in the order they were scored
    bounds = np.searchsorted(pair_batch[order], np.arange(len(batches) + 1))
    subject = np.empty(len(batch_of), np.int64)
    review: list[tuple[int, int, float]] = []
    same_in, different_in = _by_batch(same, batch_of), _by_batch(different, batch_of)
    for number, records in enumerate(batches):
        batch = _Batch(records, kept, is_placeholder)
        col, placeholder = batch.col, batch.placeholder
        chosen = order[bounds[number] : bounds[number + 1]]
        scored = zip(
            batch.local(left[chosen]).tolist(),
            batch.local(right[chosen]).tolist(),
            probability[chosen].tolist(),
            strict=True,
        )
        apart = batch.decided(different_in.get(number, []))
        parent, queued = link(
            len(records), scored, batch.decided(same_in.get(number, [])), apart, col["dob"], col["name_fold"]
        )
        join_placeholders(col, placeholder, parent)
        join_unborn(col, placeholder, parent)
        join_born_elsewhere(col, placeholder, parent, apart)
        join_read_alike(col, placeholder, parent, apart)
        taken = batch.records
        crowded_names = clustering.crowded_name.take(taken).to_pylist()
        crowded_readings = clustering.crowded_reading.take(taken).to_pylist()
        elsewhere = (
            {name for name, crowded in zip(col["name_fold"], crowded_names, strict=True) if crowded},
            {kana for kana, crowded in zip(col["kana_key"], crowded_readings, strict=True) if crowded},
        )
        join_grown(col, placeholder, parent, apart, cutoff, elsewhere)
        subject[records] = records[roots(parent)]
        review.extend((int(records[a]), int(records[b]), p) for a, b, p in queued)
    review.sort()
    return subject, review


def _recipients(
    kept: Any,
    is_placeholder: Any,
    subject: Any,
    different: set[tuple[int, int]],
    as_of: date,
    say: Callable[[str], None],
) -> tuple[Packed, list[bool], array[int]]:
    """Recipients and one child listed once, batch by batch: the subjects (record indexes, ordered by
    their smallest record), who is a minor, and per subject the subject whose recipient it shares.
    What the batches find is kept as numpy arrays, 8 bytes a record and a subject, not Python lists."""
    import numpy as np

    batches, batch_of = _batches(parts.recipient_parts(kept, subject), say)
    different_in = _by_batch(different, batch_of)
    found_members, found_sizes, found_minor, found_owner = [], [], [], []  # numpy arrays per batch
    for number, records in enumerate(batches):
        batch = _Batch(records, kept, is_placeholder)
        col, placeholder = batch.col, batch.placeholder
        clusters = groups(batch.local(subject[records]).tolist(), range(len(records)))
        minor, guardian, guardian_kana = subject_facts(clusters, col, placeholder, as_of)
        owner = assign_recipients(clusters, col, minor, guardian, guardian_kana)
        clusters, minor, owner = one_subject_per_child(
            clusters, col, minor, owner, batch.decided(different_in.get(number, []))
        )
        first = records[np.fromiter((members[0] for members in clusters), np.int64, len(clusters))]
        found_members.append(records[np.fromiter((m for members in clusters for m in members), np.int64)])
        found_sizes.append(np.fromiter((len(members) for members in clusters), np.int64, len(clusters)))
        found_minor.append(np.array(minor, dtype=np.bool_))
        found_owner.append(first[np.array(owner, dtype=np.int64)])  # the smallest record of the owner's
    found = Packed.from_numpy(_joined(found_members), _joined(found_sizes))
    del found_members, found_sizes
    # Subjects are numbered in the order of their smallest record, as the whole incident at once gives.
    members, starts = found.numpy()
    firsts = members[starts[:-1]]
    order = np.argsort(firsts, kind="stable")
    position = np.empty(len(batch_of), np.int64)
    position[firsts[order]] = np.arange(len(order), dtype=np.int64)
    owners = array("q")
    owners.frombytes(position[_joined(found_owner)[order]].tobytes())
    return found.take(order), _joined(found_minor, np.bool_)[order].tolist(), owners


def _joined(chunks: list[Any], dtype: Any = None) -> Any:
    """numpy arrays end to end (an empty int64 array, or of `dtype`, for none)."""
    import numpy as np

    return np.concatenate(chunks) if chunks else np.zeros(0, dtype or np.int64)
