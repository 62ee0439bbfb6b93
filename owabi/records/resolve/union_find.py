"""Union-find over list indexes: records into subjects, rows into households, subjects into recipients.

The smaller root wins every union, so a group is named by its smallest member whatever the order of
the work."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


def find(parent: list[int], item: int) -> int:
    root = item
    while parent[root] != root:
        root = parent[root]
    while parent[item] != root:
        parent[item], item = root, parent[item]
    return root


def union(parent: list[int], a: int, b: int) -> None:
    root_a, root_b = find(parent, a), find(parent, b)
    if root_a != root_b:
        parent[max(root_a, root_b)] = min(root_a, root_b)


def roots(parent: list[int]) -> list[int]:
    """Every item's root at once, by pointer jumping: each pass looks twice as far up, so a few passes of
    a list comprehension replace a million `find` calls. `parent` is not changed."""
    result = parent
    while True:
        up = [result[item] for item in result]
        if up == result:
            return up
        result = up


def groups(parent: list[int], items: Iterable[int]) -> list[list[int]]:
    """Members per root, each sorted, ordered by their first member."""
    root_of = roots(parent)
    by_root: dict[int, list[int]] = defaultdict(list)
    for item in items:
        by_root[root_of[item]].append(item)
    return sorted(by_root.values(), key=lambda members: members[0])
