"""Union-find over list indexes: records into subjects, subjects into recipients; and, over whole numpy
arrays (components), rows into households and records into independent parts.

The smaller root wins every union, so a group is named by its smallest member whatever the order of
the work."""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise
from typing import Any, overload

import numpy as np

from owabi.records.ondisk import whole

Int64s = Any  # a numpy int64 array; numpy's generic annotations add nothing here


class Packed(Sequence[Sequence[int]]):
    """Lists of integers (each subject's record indexes, say) packed into two arrays: every list's items
    one after another, and where each list begins (one more start than lists, the last the end). 8 bytes
    an item and a list, where a Python list of lists took about 90 bytes a list and 36 an item (the int
    objects and the pointers to them): at 5M records, 0.4 GiB against more than 1 GiB. A list reads back
    as an array('q') slice, a copy of that list alone."""

    def __init__(self, items: array[int], starts: array[int]) -> None:
        if not starts or starts[0] != 0 or starts[-1] != len(items):
            raise ValueError("Packed: starts must begin at 0 and end at the number of items")
        self.items, self.starts = items, starts

    @classmethod
    def of(cls, lists: Iterable[Iterable[int]]) -> Packed:
        items, starts = array("q"), array("q", [0])
        for one in lists:
            items.extend(one)
            starts.append(len(items))
        return cls(items, starts)

    @classmethod
    def from_numpy(cls, items: Int64s, sizes: Int64s) -> Packed:
        """From all items in one array and each list's length."""
        packed_items, starts = array("q"), array("q", [0])
        packed_items.frombytes(np.ascontiguousarray(items, dtype=np.int64).tobytes())
        starts.frombytes(np.cumsum(sizes, dtype=np.int64).tobytes())
        return cls(packed_items, starts)

    def numpy(self) -> tuple[Int64s, Int64s]:
        """All items and the starts, as numpy arrays over the same memory (no copy)."""
        return np.frombuffer(self.items, np.int64), np.frombuffer(self.starts, np.int64)

    def take(self, order: Int64s) -> Packed:
        """The lists in `order` (list indexes), each list's items kept in their order."""
        items, starts = self.numpy()
        order = np.asarray(order, dtype=np.int64)
        sizes = (starts[1:] - starts[:-1])[order]
        new_starts = np.zeros(len(order) + 1, np.int64)
        np.cumsum(sizes, out=new_starts[1:])
        # item j of the result, in list k of it, is item (starts[order[k]] + j - new_starts[k]) of this
        source = np.arange(new_starts[-1], dtype=np.int64) + np.repeat(
            starts[:-1][order] - new_starts[:-1], sizes
        )
        return Packed.from_numpy(items[source], sizes)

    def regrouped(self, sizes: Int64s) -> Packed:
        """The same items, in their order, as lists of these sizes (the items shared, not copied)."""
        starts = array("q", [0])
        starts.frombytes(np.cumsum(sizes, dtype=np.int64).tobytes())
        return Packed(self.items, starts)

    def __len__(self) -> int:
        return len(self.starts) - 1

    @overload
    def __getitem__(self, index: int) -> array[int]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[array[int]]: ...
    def __getitem__(self, index: int | slice) -> array[int] | Sequence[array[int]]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.items[self.starts[index] : self.starts[index + 1]]

    def __iter__(self) -> Iterator[array[int]]:
        items = self.items
        for begin, end in pairwise(self.starts):
            yield items[begin:end]


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


def merged(label: Int64s, left: Int64s, right: Int64s) -> Int64s:
    """Components so far (`label`, as `components` gives it) with the links (left[i], right[i]) added:
    the components of those links between the components. The same labels as `components` over all the
    links at once, without holding them all at once: at 5M records the parts' links, concatenated, were
    1.4 GiB."""
    if len(left) == 0:
        return label
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    return components(len(label), label[left], label[right])[label]


def value_codes(values: Any) -> tuple[Int64s, int]:
    """An Arrow array's values as integer codes (equal values, equal codes; -1 for null) and how many
    distinct values there are: rows are then grouped by numbers, not by strings."""
    [codes], distinct = shared_codes(values)
    return codes, distinct


def shared_codes(*columns: Any) -> tuple[list[Int64s], int]:
    """Several Arrow arrays' values as integer codes of one dictionary (a value has one code in every
    column; -1 for null) and how many distinct values they hold: each column is encoded alone, and
    only the dictionaries are joined, never a copy of the columns together."""
    import pyarrow as pa
    import pyarrow.compute as pc

    indexes, dictionaries = [], []
    for column in columns:
        values = whole(column)  # a mapped column as it is, not a copy
        if pa.types.is_dictionary(values.type):  # its own dictionary may hold a value twice
            values = values.cast(values.type.value_type)
        encoded = pc.dictionary_encode(values)
        indexes.append(np.array(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64))
        dictionaries.append(encoded.dictionary)
    if len(columns) == 1:
        return indexes, len(dictionaries[0])
    joined = pc.dictionary_encode(pa.concat_arrays([d.cast(pa.large_string()) for d in dictionaries]))
    code_of = np.asarray(joined.indices.to_numpy(zero_copy_only=False), np.int64)
    codes, offset = [], 0
    for index, dictionary in zip(indexes, dictionaries, strict=True):
        held = index >= 0
        index[held] = code_of[offset + index[held]]
        codes.append(index)
        offset += len(dictionary)
    return codes, len(joined.dictionary)


def crossed(keys: Int64s, wanted: Int64s) -> tuple[Int64s, Int64s]:
    """Each entry of `wanted` against every entry of `keys` (sorted) equal to it: `which` indexes
    `wanted`, `position` indexes `keys`, one row per equal pair, in the order of `wanted` then of `keys`.
    A join of two integer columns by sorting, with no hash table of either."""
    first: Int64s = np.searchsorted(keys, wanted, "left")
    count = np.searchsorted(keys, wanted, "right") - first
    which = np.repeat(np.arange(len(wanted)), count)
    nth = np.arange(len(which)) - np.repeat(np.cumsum(count) - count, count)
    return which, first[which] + nth


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
