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

import gc
import json
import logging
import os
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from owabi.core import audit, bulk
from owabi.incidents.models import Incident
from owabi.records import features as feature_module
from owabi.records import match_store, normalize, resolve_model
from owabi.records.models import LeakRecord, Membership, Recipient, ResolveRun, ReviewPair, Subject

logger = logging.getLogger(__name__)

MATCH_THRESHOLD = 0.95  # joined automatically at or above
REVIEW_THRESHOLD = 0.50  # queued for a human between this and MATCH_THRESHOLD
ADULT_AGE = resolve_model.ADULT_AGE
PLACEHOLDER_WINDOW = timedelta(days=60)  # due date vs actual birth date
BULK = 1000
# Random pairs sampled to estimate u: 20 per record, at most two million. Two million pairs see every
# level with u above ~5e-6 ten times or more (rarer levels are capped, resolve_model.U_CAPS); fewer
# (one million) left rare "different" levels unseen and put three times as many pairs in review at 100k
# records. The cap keeps this step's cost flat beyond 100k records (it was a third of resolve's time).
U_SAMPLE_PAIRS = 2_000_000


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
_CONTACT_KINDS = ("phone", "email", "address_key", "card_last4")
# The home's own evidence. A reading or a given name alone is weak (homophone names are common), so
# matches on those ask for one of these: an e-mail address or a card is a person's, not the home's, and
# e-mail local parts made of a name and a birth year (misaki84@) are what people of that name pick.
_HOME_KINDS = ("phone", "address_key")
# A phone, e-mail address or street address on more rows than this links no household (households()).
HOUSEHOLD_TOKEN_LIMIT = 40


def households(table: Any) -> list[int]:
    """Per row of an Arrow table (columns phone, email, address_key), its household: the rows joined by
    a shared phone, e-mail or address, through any chain of rows. A household is named by its smallest
    row index, so it does not depend on the order of the work.

    A family that moved has rows at the old home and at the new one that share nothing, but the father's
    mobile is on his rows at both. A value on more than HOUSEHOLD_TOKEN_LIMIT rows is not a home's (a
    switchboard, a placeholder address) and joins nothing. Card digits are left out: four digits
    coincide between strangers. Arrow groups the rows by value; only the links go through Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    parent = list(range(n))
    index = pa.array(range(n), pa.int64())
    for name in ("phone", "email", "address_key"):
        values = table.column(name)
        rows = pa.table({"value": values, "row": index}).filter(pc.is_valid(values))
        groups = rows.group_by("value").aggregate([("row", "min"), ("row", "count")])
        count = groups.column("row_count")
        groups = groups.filter(pc.and_(pc.greater(count, 1), pc.less_equal(count, HOUSEHOLD_TOKEN_LIMIT)))
        linked = rows.join(groups, "value", join_type="inner")
        linked = linked.filter(pc.not_equal(linked.column("row"), linked.column("row_min")))
        for a, b in zip(linked.column("row").to_pylist(), linked.column("row_min").to_pylist(), strict=True):
            _union(parent, a, b)  # the smaller root wins: a household's root is its smallest row
    return _roots(parent)


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


def _features_frame(table: Any) -> tuple[Any, Any]:
    """An in-memory DuckDB holding the Arrow `table` as the table "features", and its Splink frame.

    Never a file: the features are plain-text PII.
    """
    import duckdb
    from splink import DuckDBAPI

    duck = duckdb.connect(":memory:")
    duck.execute("SET threads TO 2")
    duck.register("features_arrow", table)
    duck.execute("CREATE TABLE features AS SELECT * FROM features_arrow")
    duck.unregister("features_arrow")
    return duck, DuckDBAPI(duck).register("features")


def _arrow_table(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    columns = (*feature_module.COLUMNS, "household")
    return pa.table({column: [row.get(column) for row in rows] for column in columns})


def score_pairs(tables: list[Any], *, as_of: date) -> tuple[list[tuple[int, int, float]], dict[str, Any]]:
    """Scored candidate pairs (by unique_id) among the rows of an Arrow table, and the trained model.

    `tables` holds the one table and is emptied: once DuckDB has its own copy, the Arrow one is freed
    (at 1M records, 0.3 GiB less at the peak). `as_of` is the notice date (who is a minor)."""
    table = tables.pop()
    n = table.num_rows
    if n < 2:
        return [], {}
    import pyarrow as pa
    from splink import Linker

    caps = resolve_model.person_caps(table)
    duck, frame = _features_frame(table)
    del table
    pa.default_memory_pool().release_unused()
    # Prior: about one record in three is a repeat of someone, among n^2/2 pairs.
    prior = min(0.5, max(1e-9, (n / 3) / (n * (n - 1) / 2)))
    linker = Linker(frame, resolve_model.settings(prior=prior, as_of=as_of), log_level=logging.WARNING)
    linker.training.estimate_u_using_random_sampling(
        max_pairs=min(U_SAMPLE_PAIRS, max(100_000, n * 20)), seed=42
    )
    model = resolve_model.adjust_u(linker.misc.save_model_to_json(), records=n, caps=caps)
    linker = Linker(frame, model, log_level=logging.WARNING)
    predictions = linker.inference.predict(threshold_match_probability=REVIEW_THRESHOLD)
    pairs = duck.execute(
        f"SELECT unique_id_l, unique_id_r, match_probability FROM {predictions.physical_name}"  # noqa: S608
    ).fetchall()
    duck.close()
    return [(int(a), int(b), float(p)) for a, b, p in pairs], model


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _stable_numbers(clusters: list[list[int]], old: dict[int, int], taken: set[int]) -> list[int]:
    """Give each cluster the old number most of its members had, largest overlap first; new ones after."""
    wishes = []
    for index, members in enumerate(clusters) if old else ():  # a first run has no old numbers
        had = [old[m] for m in members if m in old]
        if len(had) == 1:
            wishes.append((-1, had[0], index))
        elif had:
            wishes.extend((-overlap, number, index) for number, overlap in Counter(had).items())
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


def _find(parent: list[int], item: int) -> int:
    root = item
    while parent[root] != root:
        root = parent[root]
    while parent[item] != root:
        parent[item], item = root, parent[item]
    return root


def _union(parent: list[int], a: int, b: int) -> None:
    root_a, root_b = _find(parent, a), _find(parent, b)
    if root_a != root_b:
        parent[max(root_a, root_b)] = min(root_a, root_b)


def _roots(parent: list[int]) -> list[int]:
    """Every item's root at once, by pointer jumping: each pass looks twice as far up, so a few passes of
    a list comprehension replace a million `_find` calls. `parent` is not changed."""
    roots = parent
    while True:
        up = [roots[item] for item in roots]
        if up == roots:
            return up
        roots = up


def _groups(parent: list[int], items: Iterable[int]) -> list[list[int]]:
    """Members per root, each sorted, ordered by their first member."""
    roots = _roots(parent)
    by_root: dict[int, list[int]] = defaultdict(list)
    for item in items:
        by_root[roots[item]].append(item)
    return sorted(by_root.values(), key=lambda members: members[0])


def resolve(
    *,
    incident: Incident,
    actor: str,
    as_of: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> ResolveResult:
    # Resolve holds millions of small objects (keys, clusters, pairs) and frees them only at the end;
    # the cyclic garbage collector's full passes over them grew superlinearly with the incident (at a
    # million records, seconds per phase) and never find anything: it is paused for the run.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _resolve(incident, actor, as_of, progress)
    finally:
        if collecting:
            gc.enable()


def _resolve(
    incident: Incident, actor: str, as_of: date | None, progress: Callable[[str], None] | None
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
    keys, result.refreshed = match_store.read(incident, say)
    pks = array("q", keys.column("pk").to_pylist())
    n = len(pks)
    import pyarrow as pa
    import pyarrow.compute as pc

    table = keys.select(list(_TABLE_COLUMNS)).add_column(0, "unique_id", pa.array(range(n), pa.int64()))
    del keys
    # A pre-birth placeholder: no name of its own, a due date. Matched later, by _join_placeholders.
    is_placeholder = pc.and_(pc.is_null(table.column("name_key")), pc.is_valid(table.column("due")))
    table = table.append_column("household", pa.array(households(table), pa.int64()))
    matchable = [table.filter(pc.invert(is_placeholder))]
    kept = table.select(list(_KEPT))
    del table
    result.records = n
    lap("features")

    say(f"scoring candidate pairs among {matchable[0].num_rows:,} records")
    pairs, model = score_pairs(matchable, as_of=as_of)
    result.pairs_scored = len(pairs)
    lap("match")

    # Python lists only now, so DuckDB's working set and these are never in memory together.
    col = {name: _python_list(kept.column(name), shared=name not in _MOSTLY_UNIQUE) for name in _KEPT}
    placeholder = is_placeholder.to_pylist()
    del kept, is_placeholder
    pa.default_memory_pool().release_unused()  # Arrow's pool keeps freed pages for reuse otherwise

    say("clustering")
    same_pk, different_pk = _decided_pairs(incident)
    decided_pks = {pk for pair in same_pk | different_pk for pk in pair}
    index_of = {pk: i for i, pk in enumerate(pks) if pk in decided_pks}
    # In index order (min, max), like the scored pairs: stale records are read last, so index order
    # need not follow primary-key order.
    same, different = (
        {
            (min(index_of[a], index_of[b]), max(index_of[a], index_of[b]))
            for a, b in decided
            if a in index_of and b in index_of
        }
        for decided in (same_pk, different_pk)
    )
    parent = list(range(n))
    review: list[tuple[int, int, float]] = []
    for a, b, probability in pairs:
        key = (min(a, b), max(a, b))
        if key in different:
            continue
        if probability >= MATCH_THRESHOLD:
            _union(parent, *key)
        elif key not in same:
            review.append((*key, probability))
    del pairs
    for a, b in same:
        _union(parent, a, b)
    _join_placeholders(col, placeholder, parent)
    clusters = _groups(parent, range(n))
    del parent
    lap("cluster")

    say(f"assigning recipients to {len(clusters):,} subjects")
    minor, guardian, guardian_kana = _subject_facts(clusters, col, placeholder, as_of)
    owner = _assign_recipients(clusters, col, minor, guardian, guardian_kana)
    lap("recipients")

    say("writing subjects and recipients")
    _write(incident, pks, col, clusters, minor, owner, review, result, say)
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
        },
    )
    lap("write")
    return result


def _contact_tokens(col: dict[str, list[Any]], i: int) -> list[tuple[str, str]]:
    return [(kind, col[kind][i]) for kind in _CONTACT_KINDS if col[kind][i]]


def _join_placeholders(col: dict[str, list[Any]], placeholder: list[bool], parent: list[int]) -> None:
    """Join each pre-birth row to the child of the same guardian born near the due date.

    The child is judged by all the records already joined into their subject: a birth date, a guardian's
    name (or reading) and a shared phone, e-mail, address or card may each come from a different one of
    them (one row lacks the birth date, another was written after the family moved).
    """
    guardian_keys = ("guardian_fold", "guardian_kana")
    wanted = {col[k][i] for i, p in enumerate(placeholder) if p for k in guardian_keys if col[k][i]}
    if not wanted:
        return
    root_of = _roots(parent)
    by_guardian: dict[str, set[int]] = defaultdict(set)
    for key in guardian_keys:
        for i, value in enumerate(col[key]):
            if value in wanted and not placeholder[i]:
                by_guardian[value].add(root_of[i])
    roots = set().union(*by_guardian.values()) if by_guardian else set()
    births: dict[int, set[date]] = defaultdict(set)
    tokens: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if root not in roots or placeholder[i]:
            continue
        if col["dob"][i]:
            births[root].add(date.fromisoformat(col["dob"][i]))
        tokens[root].update(_contact_tokens(col, i))
    for i, is_placeholder in enumerate(placeholder):
        if not is_placeholder:
            continue
        due = date.fromisoformat(col["due"][i])
        own = set(_contact_tokens(col, i))
        gaps = {
            child: min(abs(birth - due) for birth in births[child])
            for key in guardian_keys
            if col[key][i]
            for child in by_guardian.get(col[key][i], ())
            if births[child] and (not own or own & tokens[child])
        }
        near = {child: gap for child, gap in gaps.items() if gap <= PLACEHOLDER_WINDOW}
        if near:
            _union(parent, i, min(near, key=lambda child: (near[child], child)))


def _most_common(values: Iterable[str | None]) -> str | None:
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else None


def _subject_facts(
    clusters: list[list[int]], col: dict[str, list[Any]], placeholder: list[bool], as_of: date
) -> tuple[list[bool], list[str | None], list[str | None]]:
    """Per subject: minor?, guardian name key, guardian reading key (most common among its records)."""
    minor: list[bool] = []
    guardian: list[str | None] = []
    guardian_kana: list[str | None] = []
    dobs, folds, kanas = col["dob"], col["guardian_fold"], col["guardian_kana"]
    for members in clusters:
        if len(members) == 1:
            (m,) = members
            dob, fold, kana = dobs[m], folds[m], kanas[m]
        else:
            dob = _most_common(dobs[m] for m in members)
            fold = _most_common(folds[m] for m in members)
            kana = _most_common(kanas[m] for m in members)
        if dob is not None:
            minor.append(_age(date.fromisoformat(dob), as_of) < ADULT_AGE)
        else:  # no birth date: a row naming a guardian (or a pre-birth row) is a child's
            minor.append(bool(fold) or any(placeholder[m] for m in members))
        guardian.append(fold)
        guardian_kana.append(kana)
    return minor, guardian, guardian_kana


def _assign_recipients(
    clusters: list[list[int]],
    col: dict[str, list[Any]],
    minor: list[bool],
    guardian: list[str | None],
    guardian_kana: list[str | None],
) -> list[int]:
    """For each subject, the index of the subject whose recipient it shares (itself for adults).

    Minors sharing a guardian name and any phone, e-mail, address or card share a guardian; a group of
    them whose guardian is also an adult subject (same name, shared contact) goes to that adult's
    recipient, so one notice covers the parent and the children. Where only the reading agrees (愛 / 亜衣
    are both アイ) or, failing any full-name match, only the given name (a mother whose own rows give
    her maiden name), the home's own phone number or address must be shared too. An adult never joins
    another. Keys are hashed (name, contact) pairs, held only for what minors need: memory stays
    proportional to the minors, not to every adult's every contact.
    """

    def tokens_of(index: int) -> set[tuple[str, str]]:
        return {token for m in clusters[index] for token in _contact_tokens(col, m)}

    parent = list(range(len(clusters)))
    first_by_key: dict[int, int] = {}
    keys_of: dict[int, list[int]] = {}
    tokens_of_minor: dict[int, set[tuple[str, str]]] = {}
    minor_homes: set[int] = set()
    minor_values: dict[str, set[str]] = {kind: set() for kind in _CONTACT_KINDS}
    for index, is_minor in enumerate(minor):
        if not is_minor:
            continue
        tokens = tokens_of_minor[index] = tokens_of(index)
        for kind, value in tokens:
            minor_values[kind].add(value)
        home = [token for token in tokens if token[0] in _HOME_KINDS]
        keys = [hash((guardian[index], *token)) for token in tokens] if guardian[index] else []
        keys += [hash((guardian_kana[index], *token)) for token in home] if guardian_kana[index] else []
        keys_of[index] = keys
        minor_homes.update(hash(token) for token in home)
        for key in keys:
            if key in first_by_key:
                _union(parent, index, first_by_key[key])
            else:
                first_by_key[key] = index
    adults_by_key: dict[int, list[int]] = defaultdict(list)
    adults_at_home: dict[int, list[int]] = defaultdict(list)
    contact_columns = [(kind, col[kind], minor_values[kind]) for kind in _CONTACT_KINDS]
    for index, is_minor in enumerate(minor):
        if is_minor:
            continue
        members = clusters[index]
        # Every key below holds a minor's token: most adults (no children in the incident) share none.
        shared = {
            (kind, values[m])
            for m in members
            for kind, values, wanted in contact_columns
            if values[m] in wanted
        }
        if not shared:
            continue
        names = {col["name_fold"][m] for m in members} - {None}
        readings = {col["kana_key"][m] for m in members} - {None}
        for token in shared:
            at_home = token[0] in _HOME_KINDS
            for name in names | readings if at_home else names:
                key = hash((name, *token))
                if key in first_by_key:
                    adults_by_key[key].append(index)
            if at_home and hash(token) in minor_homes:
                adults_at_home[hash(token)].append(index)
    owner = list(range(len(clusters)))
    for group in _groups(parent, keys_of):
        votes = [adult for member in group for key in keys_of[member] for adult in adults_by_key.get(key, ())]
        if not votes:  # the maiden-name fallback: given name + the home's phone or address
            votes = [
                adult
                for member in group
                for token in tokens_of_minor[member]
                if token[0] in _HOME_KINDS
                for adult in adults_at_home.get(hash(token), ())
                if _has_given_name(clusters[adult], col, _guardian_given(clusters[member], col))
            ]
        if not votes:
            target = group[0]
        else:  # the adult with most votes; of equals, the first imported (the same in every run)
            counts = Counter(votes)
            target = min(counts, key=lambda adult: (-counts[adult], adult))
        for member in group:
            owner[member] = target
    return owner


def _guardian_given(members: list[int], col: dict[str, list[Any]]) -> set[str]:
    """The guardian's given names named on a minor's rows, as "kana:…" / "name:…". Where no row splits
    the guardian's name, its last two characters stand for the given name (most have two: 和田梨沙)."""
    given = {f"kana:{col['guardian_given_kana'][m]}" for m in members if col["guardian_given_kana"][m]}
    given |= {f"name:{col['guardian_given_name'][m]}" for m in members if col["guardian_given_name"][m]}
    if not given:
        given = {
            f"name:{col['guardian_fold'][m][-2:]}" for m in members if len(col["guardian_fold"][m] or "") >= 3
        }
    return given


def _has_given_name(members: list[int], col: dict[str, list[Any]], given_names: set[str]) -> bool:
    """The adult's own given name is one of `given_names`; where the adult's name has no space between
    surname and given name, it ends with one of them (two characters or more, as for a married name)."""
    given: set[str] = set()
    unsplit: set[str] = set()
    for m in members:
        if col["given_kana"][m]:
            given.add(f"kana:{col['given_kana'][m]}")
        elif col["kana_key"][m]:
            unsplit.add(f"kana:{col['kana_key'][m]}")
        if col["given_name"][m]:
            given.add(f"name:{normalize.fold_variants(col['given_name'][m])}")
        elif col["name_fold"][m]:
            unsplit.add(f"name:{col['name_fold'][m]}")
    if given & given_names:
        return True
    for wanted in given_names:
        kind, _, value = wanted.partition(":")
        for whole in unsplit:
            whole_kind, _, whole_value = whole.partition(":")
            if whole_kind == kind and 2 <= len(value) < len(whole_value) and whole_value.endswith(value):
                return True
    return False


class _Fullness:
    """Picks the record with most of `fields` filled (latest on a tie): the best name or address to use.

    Each record's rank (filled count, then index) is computed once for all records, column by column, so
    picking among a cluster's members is one `max` over precomputed integers."""

    def __init__(self, col: dict[str, list[Any]], fields: tuple[str, ...]) -> None:
        n = len(col[fields[0]])
        filled = [0] * n
        for name in fields:
            filled = [count + (value is not None) for count, value in zip(filled, col[name], strict=True)]
        self.rank = [count * n + index for index, count in enumerate(filled)]

    def pick(self, members: Iterable[int]) -> int:
        return max(members, key=self.rank.__getitem__)


SUBJECT_FIELDS = ("name_key", "kana_key", "dob")
CONTACT_FIELDS = ("postal", "address_key", "email", "phone")


def _write(
    incident: Incident,
    pks: array[int],
    col: dict[str, list[Any]],
    clusters: list[list[int]],
    minor: list[bool],
    owner: list[int],
    review: list[tuple[int, int, float]],
    result: ResolveResult,
    say: Callable[[str], None],
) -> None:
    say("  numbering subjects and recipients")
    index_of = {pk: i for i, pk in enumerate(pks)}
    old = Membership.objects.filter(subject__incident=incident).values_list(
        "record_id", "subject__number", "subject__recipient__number"
    )
    old_subject: dict[int, int] = {}
    old_recipient: dict[int, int] = {}
    for pk, subject_number, recipient_number in old.iterator(5000):
        i = index_of[pk]
        old_subject[i] = subject_number
        if recipient_number is not None:
            old_recipient[i] = recipient_number
    del index_of
    subject_numbers = _stable_numbers(
        clusters, old_subject, set(Subject.objects.filter(incident=incident).values_list("number", flat=True))
    )
    groups: dict[int, list[int]] = defaultdict(list)
    for index, target in enumerate(owner):
        groups[target].append(index)
    group_owners = sorted(groups)
    group_records = [[m for index in groups[g] for m in clusters[index]] for g in group_owners]
    recipient_numbers = _stable_numbers(
        group_records,
        old_recipient,
        set(Recipient.objects.filter(incident=incident).values_list("number", flat=True)),
    )

    with transaction.atomic():
        say("  recipients")
        # Recipients: who each notice goes to, and the record holding the name and address to use.
        wanted_recipients = []
        recipient_number_of_subject = [0] * len(clusters)
        guardian_contact = _Fullness(col, ("guardian_fold", *CONTACT_FIELDS))
        own_contact = _Fullness(col, ("name_key", *CONTACT_FIELDS))
        for group_owner, number, records in zip(group_owners, recipient_numbers, group_records, strict=True):
            if minor[group_owner]:
                kind = Recipient.Kind.GUARDIAN.value
                contact = pks[guardian_contact.pick(records)]
            else:
                kind = Recipient.Kind.SELF.value
                contact = pks[own_contact.pick(clusters[group_owner])]
            wanted_recipients.append((number, (kind, contact)))
            for index in groups[group_owner]:
                recipient_number_of_subject[index] = number
        recipient_id = _save_numbered(Recipient, incident, ("kind", "contact_record"), wanted_recipients)

        say("  subjects")
        # Subjects, then the records that moved to another subject (or are new).
        best = _Fullness(col, SUBJECT_FIELDS)
        wanted_subjects = [
            (
                number,
                (
                    recipient_id[recipient_number_of_subject[index]],
                    minor[index],
                    pks[best.pick(members)],
                ),
            )
            for index, (members, number) in enumerate(zip(clusters, subject_numbers, strict=True))
        ]
        subject_id = _save_numbered(
            Subject, incident, ("recipient", "is_minor", "best_record"), wanted_subjects
        )
        say("  records")
        linked, moved = [], []
        for members, number in zip(clusters, subject_numbers, strict=True):
            for m in members:
                previous = old_subject.get(m)
                if previous is None:
                    linked.append((pks[m], subject_id[number]))
                elif previous != number:
                    moved.append((pks[m], subject_id[number]))
        bulk.insert(Membership, ("record", "subject"), linked)
        bulk.update(Membership, ("subject",), moved)

        gone_subjects = set(subject_id) - set(subject_numbers)
        gone_recipients = set(recipient_id) - set(recipient_numbers)
        for number_chunk in _chunked(sorted(gone_subjects), BULK):
            Subject.objects.filter(incident=incident, number__in=number_chunk).delete()
        for number_chunk in _chunked(sorted(gone_recipients), BULK):
            Recipient.objects.filter(incident=incident, number__in=number_chunk).delete()
        say("  checking links")
        bulk.check_links(Membership.objects.filter(record__incident=incident), ("subject",))
        bulk.check_links(Membership.objects.filter(subject__incident=incident), ("record",))
        bulk.check_links(Subject.objects.filter(incident=incident), ("recipient", "best_record"))
        bulk.check_links(Recipient.objects.filter(incident=incident), ("contact_record",))
        say("  review queue")
        _write_review(incident, pks, review)
        say("  committing")
    result.subjects = len(clusters)
    result.recipients = len(group_owners)
    result.review_pairs = ReviewPair.objects.filter(
        incident=incident, decision=ReviewPair.Decision.PENDING
    ).count()


# Bytes 6 and 8 of a random (version 4, RFC 9562) UUID: the version nibble 4, the variant bits 10.
_UUID_VERSION = bytes((b & 0x0F) | 0x40 for b in range(256))
_UUID_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))


def _uuid4_hexes(count: int) -> list[str]:
    """`count` random (version 4) UUIDs as 32 hex digits, the form both databases accept: one read of
    os.urandom for all of them. uuid.uuid4() costs microseconds each, which at a million is seconds.

    Sorted: the unique index on public_id then takes a batch in order, page after page, where random
    order visits (and after a checkpoint writes out in full) a random index page per row. At 690,000
    subjects that was 2 to 3 of the 10 seconds PostgreSQL took to insert them. The values stay random;
    only which row gets which one follows the row order."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_UUID_VERSION)
    raw[8::16] = raw[8::16].translate(_UUID_VARIANT)
    digits = raw.hex()
    return sorted([digits[start : start + 32] for start in range(0, 32 * count, 32)])


def _save_numbered(
    model: type[Subject] | type[Recipient],
    incident: Incident,
    fields: tuple[str, ...],
    wanted: list[tuple[int, tuple[Any, ...]]],
) -> dict[int, int]:
    """Insert the numbers that are new, update those whose `fields` changed; returns number -> pk of
    every row of the incident (old numbers not wanted included: the caller deletes those)."""
    attnames = [model._meta.get_field(name).attname for name in fields]  # type: ignore[union-attr]
    rows = model.objects.filter(incident=incident).values_list("pk", "number", *attnames)
    existing = {number: (pk, tuple(values)) for pk, number, *values in rows}
    new, changed = [], []
    for number, values in wanted:
        before = existing.get(number)
        if before is None:
            new.append((number, *values))
        elif before[1] != values:
            changed.append((before[0], *values))
    new = [(incident.pk, public_id, *row) for public_id, row in zip(_uuid4_hexes(len(new)), new, strict=True)]
    bulk.insert(model, ("incident", "public_id", "number", *fields), new)
    bulk.update(model, fields, changed)
    with connection.cursor() as cursor:  # plain tuples: the ORM's per-row work, times 700,000, is seconds
        cursor.execute(
            f"SELECT number, id FROM {model._meta.db_table} WHERE incident_id = %s",  # noqa: S608
            [incident.pk],
        )
        return dict(cursor.fetchall())


def _write_review(incident: Incident, pks: array[int], review: list[tuple[int, int, float]]) -> None:
    """Queue this run's uncertain pairs; drop pending pairs this run no longer finds uncertain (they were
    joined or parted by the model as it now stands). Decided pairs are kept whatever the model says."""
    wanted = {(min(pks[a], pks[b]), max(pks[a], pks[b])): p for a, b, p in review}
    queued = ReviewPair.objects.filter(incident=incident).values_list(
        "pk", "record_a_id", "record_b_id", "decision"
    )
    stale = []
    for pk, a, b, decision in queued.iterator(5000):
        if wanted.pop((a, b), None) is None and decision == ReviewPair.Decision.PENDING:
            stale.append(pk)
    for chunk in _chunked(stale, BULK):
        ReviewPair.objects.filter(pk__in=chunk).delete()
    rows = ((incident.pk, a, b, p, ReviewPair.Decision.PENDING.value, "") for (a, b), p in wanted.items())
    bulk.insert(
        ReviewPair, ("incident", "record_a", "record_b", "probability", "decision", "decided_by"), rows
    )


def _chunked(items: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
    return dict(zip(keys.column("pk").to_pylist(), households(keys), strict=True))


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
    duck, frame = _features_frame(_arrow_table([left, *right]))
    settings = {**model, "retain_intermediate_calculation_columns": True}
    linker = Linker(frame, settings, log_level=logging.WARNING)
    scored = linker.inference.score_pairs([left], right).as_record_list()
    duck.close()
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
