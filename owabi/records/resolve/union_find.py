"""Union-find over list indexes: records into subjects, subjects into recipients; and, over whole numpy
arrays (components), rows into households and records into independent parts.

The smaller root wins every union, so a group is named by its smallest member whatever the order of
the work."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

Int64s = Any  # a numpy int64 array; numpy's generic annotations add nothing here


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


def components(n: int, left: Int64s, right: Int64s) -> Int64s:
    """Per record of `n`, the smallest record it is linked to through any chain of the links
    (left[i], right[i]): hooking each link's larger root under the smaller, then pointer jumping, until
    every link lies within one component. A few passes of whole-array operations."""
    label = np.arange(n, dtype=np.int64)
    if len(left) == 0:
        return label
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    while True:
        a, b = label[left], label[right]
        apart = a != b
        if not apart.any():
            return label
        a, b = a[apart], b[apart]
        np.minimum.at(label, np.maximum(a, b), np.minimum(a, b))
        while True:
            up = label[label]
            if np.array_equal(up, label):
                break
            label = up


def value_codes(values: Any) -> tuple[Int64s, int]:
    """An Arrow array's values as integer codes (equal values, equal codes; -1 for null) and how many
    distinct values there are: rows are then grouped by numbers, not by strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):  # its own dictionary may hold a value twice
        values = values.cast(values.type.value_type)
    encoded = pc.dictionary_encode(values)
    codes = np.array(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return codes, len(encoded.dictionary)


def grouped_links(key: Int64s, rows: Int64s, *, limit: int | None = None) -> tuple[Int64s, Int64s]:
    """Links from each row of `rows` to the smallest row of its `key` (an integer per row; negative: no
    key, no link). `limit`: a key held by more rows than this, or by one only, links nothing. Sorting
    numbers where grouping and joining strings in Arrow held several copies of them (at 5M records the
    largest share of resolve's memory while it found its parts)."""
    held = key >= 0
    key, rows = key[held], np.asarray(rows, np.int64)[held]
    if len(key) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.lexsort((rows, key))
    key, rows = key[order], rows[order]
    start = np.empty(len(key), dtype=bool)
    start[0] = True
    np.not_equal(key[1:], key[:-1], out=start[1:])
    group = np.cumsum(start) - 1
    first = rows[start][group]
    if limit is None:
        return rows, first
    size = np.diff(np.append(np.flatnonzero(start), len(key)))
    keep = ((size > 1) & (size <= limit))[group]
    return rows[keep], first[keep]
