"""One child listed once: under one guardian, children of one name are one person unless their birth
dates say otherwise.

The model keeps apart two rows of a child that share nothing: one written at the old home without a
birth date, one at the new home after a move. They have the name and the guardian's name in common,
and among a whole incident a name is no proof (namesakes). The recipient step can still put both under
one guardian, through a sibling or the guardian's own rows that span both homes; the guardian's notice
would then list the child twice, and the child would be compensated twice (one choice per subject).
Under one guardian, a name is no longer a coincidence: parents do not give two living children one
name, and twins have different names. So, after recipients are assigned, the minors of one recipient
with one (variant-folded) name are joined into one subject, unless:

- their birth dates cannot be one person's: more than one edit apart and not a month/day swap
  (resolve_model.dob_near), or YEARS_APART years or more apart even where one digit is all that differs.
  A child who died and a later sibling given the name, or a data-entry copy with a mistyped year, are
  told apart only by the birth date; both stay two subjects, listed twice, which a guardian can read
  past, rather than one child's notice and compensation going missing;
- a reviewer decided that records of the two are different people;
- the name is undated on one side and two differently born children of that name are under the guardian:
  the undated one could be either, so it stays on its own.

Different genders are not a reason to keep them apart: a gender column is often mis-keyed, and a name
is usually given to one gender. Adults are never joined here: a father and a son of one name are
two people, and an adult is their own recipient.

A pre-birth row (a due date, no name yet) is the same case: clusters.join_placeholders joins it to a
child only through a shared phone, e-mail, address or card (or, for a row with none, a postal district),
which a family that moved no longer has, and only to a child born within PLACEHOLDER_WINDOW, which a
month/day swap in the birth date is not.
Under one guardian that contact is established already, so the placeholder joins the one child of
that guardian born within PLACEHOLDER_WINDOW of the due date (or whose birth date, month and day
swapped, is). Two such children are twins, and a child without a birth date may be an older sibling:
then the placeholder stays on its own.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from owabi.records.resolve.clusters import near_due
from owabi.records.resolve.recipients import most_common
from owabi.records.resolve.union_find import find, groups, union
from owabi.records.resolve_model import dob_near

YEARS_APART = 2


def one_subject_per_child(
    clusters: list[list[int]],
    col: dict[str, list[Any]],
    minor: list[bool],
    owner: list[int],
    different: set[tuple[int, int]],
) -> tuple[list[list[int]], list[bool], list[int]]:
    """Subjects (clusters of record indexes), who is a minor and whose recipient each shares (`owner`),
    after joining each guardian's children of one name, and their pre-birth rows. `different`: record
    index pairs a reviewer parted. Unchanged (the same lists) where nothing is joined."""
    by_guardian_and_name: dict[tuple[int, str], list[int]] = {}
    unnamed: dict[int, list[int]] = {}  # guardian -> pre-birth subjects
    named: dict[int, list[int]] = {}  # guardian -> named children
    names, dues = col["name_fold"], col["due"]
    for index, members in enumerate(clusters):
        if not minor[index]:
            continue
        name = names[members[0]] if len(members) == 1 else most_common(names[m] for m in members)
        if name is not None:
            by_guardian_and_name.setdefault((owner[index], name), []).append(index)
            named.setdefault(owner[index], []).append(index)
        elif any(dues[m] for m in members):
            unnamed.setdefault(owner[index], []).append(index)
    namesakes = [subjects for subjects in by_guardian_and_name.values() if len(subjects) > 1]
    if not namesakes and not unnamed:
        return clusters, minor, owner
    parted = _parted_subjects(clusters, different)
    parent = list(range(len(clusters)))
    for subjects in namesakes:
        for same in _one_child_each(subjects, clusters, col, parted):
            for other in same[1:]:
                union(parent, same[0], other)
    for guardian, placeholders in unnamed.items():
        children = named.get(guardian, [])
        for placeholder in placeholders:
            child = _born_then(placeholder, children, clusters, col, parent)
            if child is None:
                continue
            its_subjects = [s for s in children if find(parent, s) == child]
            if not any((min(placeholder, s), max(placeholder, s)) in parted for s in its_subjects):
                union(parent, placeholder, child)
    joined = groups(parent, range(len(clusters)))
    if len(joined) == len(clusters):
        return clusters, minor, owner
    new_index = [0] * len(clusters)
    for index, subjects in enumerate(joined):
        for subject in subjects:
            new_index[subject] = index
    return (
        [
            clusters[subjects[0]] if len(subjects) == 1 else sorted(m for s in subjects for m in clusters[s])
            for subjects in joined
        ],
        [minor[subjects[0]] for subjects in joined],
        [new_index[owner[subjects[0]]] for subjects in joined],
    )


def _born_then(
    placeholder: int,
    children: list[int],
    clusters: list[list[int]],
    col: dict[str, list[Any]],
    parent: list[int],
) -> int | None:
    """The one child (a union-find root) of the guardian born near the placeholder's due date, if one."""
    dues = [date.fromisoformat(col["due"][m]) for m in clusters[placeholder] if col["due"][m]]
    near = set()
    for child in children:
        for m in clusters[child]:
            birth = col["dob"][m]
            if birth and any(near_due(birth, due) for due in dues):
                near.add(find(parent, child))
    return near.pop() if len(near) == 1 else None


def _parted_subjects(clusters: list[list[int]], different: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Pairs of subjects (smaller index first) holding records a reviewer called different people."""
    if not different:
        return set()
    records = {record for pair in different for record in pair}
    subject_of = {m: index for index, members in enumerate(clusters) for m in members if m in records}
    parted = set()
    for a, b in different:
        s, t = subject_of.get(a), subject_of.get(b)
        if s is not None and t is not None and s != t:
            parted.add((min(s, t), max(s, t)))
    return parted


def _one_child_each(
    subjects: list[int], clusters: list[list[int]], col: dict[str, list[Any]], parted: set[tuple[int, int]]
) -> list[list[int]]:
    """The same-named subjects of one guardian (in index order), grouped into children: each dated
    subject joins the first child whose every subject its birth dates fit, or starts a child; undated
    subjects join the one dated child, or each other where none is dated."""
    births = {s: {col["dob"][m] for m in clusters[s]} - {None} for s in subjects}

    def fits(s: int, t: int) -> bool:
        if (min(s, t), max(s, t)) in parted:
            return False
        return all(_one_birth(a, b) for a in births[s] for b in births[t])

    children: list[list[int]] = []
    for s in subjects:
        if births[s]:
            child = next((child for child in children if all(fits(s, t) for t in child)), None)
            if child is None:
                children.append([s])
            else:
                child.append(s)
    undated = [s for s in subjects if not births[s]]
    if len(children) > 1:  # the undated ones could be any of these children
        return children
    if not children:
        children.append([])
    child = children[0]
    for s in undated:
        if all(fits(s, t) for t in child):
            child.append(s)
    return children


def _one_birth(a: str, b: str) -> bool:
    """Two birth dates one child's records can give."""
    return dob_near(a, b) and abs(int(a[:4]) - int(b[:4])) < YEARS_APART
