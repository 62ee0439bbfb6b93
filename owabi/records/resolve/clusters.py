"""Subjects: records joined where the model is sure or a reviewer said so; pre-birth rows to the child."""

from __future__ import annotations

from array import array
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from owabi.incidents.models import Incident
from owabi.records.models import ReviewPair
from owabi.records.resolve.households import contact_tokens
from owabi.records.resolve.scoring import MATCH_THRESHOLD
from owabi.records.resolve.union_find import find, roots, union

PLACEHOLDER_WINDOW = timedelta(days=60)  # due date vs actual birth date

Pairs = set[tuple[int, int]]


def decided_pairs(incident: Incident, pks: array[int]) -> tuple[Pairs, Pairs]:
    """The pairs reviewers decided (same, different), as (smaller, larger) record index.

    In index order, like the scored pairs: stale records are read last, so index order need not follow
    primary-key order."""
    decided = ReviewPair.objects.filter(incident=incident).exclude(decision=ReviewPair.Decision.PENDING)
    same_pk: Pairs = set()
    different_pk: Pairs = set()
    for a, b, decision in decided.values_list("record_a_id", "record_b_id", "decision"):
        (same_pk if decision == ReviewPair.Decision.SAME else different_pk).add((a, b))
    decided_pks = {pk for pair in same_pk | different_pk for pk in pair}
    index_of = {pk: i for i, pk in enumerate(pks) if pk in decided_pks}
    same, different = (
        {
            (min(index_of[a], index_of[b]), max(index_of[a], index_of[b]))
            for a, b in decided
            if a in index_of and b in index_of
        }
        for decided in (same_pk, different_pk)
    )
    return same, different


def link(
    n: int, pairs: list[tuple[int, int, float]], same: Pairs, different: Pairs
) -> tuple[list[int], list[tuple[int, int, float]]]:
    """Union-find parents of `n` records joined by the sure pairs and the reviewers' "same", never
    by a pair a reviewer called different; and the uncertain pairs, for review.

    "Different" holds through third records too: a join that would put two records a reviewer parted
    into one subject (A~C and C~B, both sure) is not made. Reviewers' "same" joins first, then the sure
    pairs from the most to the least likely, so the weakest link of such a chain is the one left out."""
    parent = list(range(n))
    review: list[tuple[int, int, float]] = []
    sure: list[tuple[int, int, float]] = []
    for a, b, probability in pairs:
        key = (min(a, b), max(a, b))
        if key in different:
            continue
        if probability >= MATCH_THRESHOLD:
            sure.append((*key, probability))
        elif key not in same:
            review.append((*key, probability))
    if not different:  # the common case: no constraint to keep, order does not matter
        for a, b, _ in sure:
            union(parent, a, b)
        for a, b in same:
            union(parent, a, b)
        return parent, review
    apart = _Apart(parent, different)
    for a, b in sorted(same):
        apart.join(a, b)
    for a, b, _ in sorted(sure, key=lambda pair: -pair[2]):
        apart.join(a, b)
    return parent, review


class _Apart:
    """Union-find that refuses a join bringing together two records a reviewer called different.
    Each group's root knows the records its members must not share a group with; reviewers decide
    few pairs, so these sets stay small."""

    def __init__(self, parent: list[int], different: Pairs) -> None:
        self.parent = parent
        self.avoid: dict[int, set[int]] = defaultdict(set)
        for a, b in different:
            self.avoid[a].add(b)
            self.avoid[b].add(a)

    def join(self, a: int, b: int) -> bool:
        root_a, root_b = find(self.parent, a), find(self.parent, b)
        if root_a == root_b:
            return True
        avoid_a, avoid_b = self.avoid.get(root_a, set()), self.avoid.get(root_b, set())
        if any(find(self.parent, x) == root_b for x in avoid_a) or any(
            find(self.parent, x) == root_a for x in avoid_b
        ):
            return False
        union(self.parent, root_a, root_b)
        root = find(self.parent, root_a)
        merged = avoid_a | avoid_b
        if merged:
            self.avoid[root] = merged
        return True


def join_placeholders(col: dict[str, list[Any]], placeholder: list[bool], parent: list[int]) -> None:
    """Join each pre-birth row to the one child of the same guardian born near the due date; where
    two are (twins), the row stays on its own rather than joining one of them by chance.

    The child is judged by all the records already joined into their subject: a birth date, a guardian's
    name (or reading) and a shared phone, e-mail, address or card may each come from a different one of
    them (one row lacks the birth date, another was written after the family moved).
    """
    guardian_keys = ("guardian_fold", "guardian_kana")
    wanted = {col[k][i] for i, p in enumerate(placeholder) if p for k in guardian_keys if col[k][i]}
    if not wanted:
        return
    root_of = roots(parent)
    by_guardian: dict[str, set[int]] = defaultdict(set)
    for key in guardian_keys:
        for i, value in enumerate(col[key]):
            if value in wanted and not placeholder[i]:
                by_guardian[value].add(root_of[i])
    children = set().union(*by_guardian.values()) if by_guardian else set()
    births: dict[int, set[date]] = defaultdict(set)
    tokens: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if root not in children or placeholder[i]:
            continue
        if col["dob"][i]:
            births[root].add(date.fromisoformat(col["dob"][i]))
        tokens[root].update(contact_tokens(col, i))
    for i, is_placeholder in enumerate(placeholder):
        if not is_placeholder:
            continue
        due = date.fromisoformat(col["due"][i])
        own = set(contact_tokens(col, i))
        gaps = {
            child: min(abs(birth - due) for birth in births[child])
            for key in guardian_keys
            if col[key][i]
            for child in by_guardian.get(col[key][i], ())
            if births[child] and (not own or own & tokens[child])
        }
        near = [child for child, gap in gaps.items() if gap <= PLACEHOLDER_WINDOW]
        if len(near) == 1:  # two children born near the due date are twins: which one is not known
            union(parent, i, near[0])
