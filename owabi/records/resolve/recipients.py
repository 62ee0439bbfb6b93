"""Recipients (DESIGN.md §4.2): who gets each subject's notice.

A subject is a minor when under majority.ADULT_AGE on the notice date. Adults are their own recipients;
a minor's recipient is the guardian, shared by the children of one guardian across sources, and the
guardian's own recipient where the guardian's data leaked too.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from owabi.records import normalize
from owabi.records.majority import is_minor
from owabi.records.resolve.households import CONTACT_KINDS, HOME_KINDS, contact_tokens
from owabi.records.resolve.union_find import groups, union


def most_common(values: Iterable[str | None]) -> str | None:
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else None


def subject_facts(
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
            dob = most_common(dobs[m] for m in members)
            fold = most_common(folds[m] for m in members)
            kana = most_common(kanas[m] for m in members)
        if dob is not None:
            minor.append(is_minor(date.fromisoformat(dob), as_of))
        else:  # no birth date: a row naming a guardian (or a pre-birth row) is a child's
            minor.append(bool(fold) or any(placeholder[m] for m in members))
        guardian.append(fold)
        guardian_kana.append(kana)
    return minor, guardian, guardian_kana


def assign_recipients(
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
        return {token for m in clusters[index] for token in contact_tokens(col, m)}

    parent = list(range(len(clusters)))
    first_by_key: dict[int, int] = {}
    keys_of: dict[int, list[int]] = {}
    tokens_of_minor: dict[int, set[tuple[str, str]]] = {}
    minor_homes: set[int] = set()
    minor_values: dict[str, set[str]] = {kind: set() for kind in CONTACT_KINDS}
    for index, child in enumerate(minor):
        if not child:
            continue
        tokens = tokens_of_minor[index] = tokens_of(index)
        for kind, value in tokens:
            minor_values[kind].add(value)
        home = [token for token in tokens if token[0] in HOME_KINDS]
        keys = [hash((guardian[index], *token)) for token in tokens] if guardian[index] else []
        keys += [hash((guardian_kana[index], *token)) for token in home] if guardian_kana[index] else []
        keys_of[index] = keys
        minor_homes.update(hash(token) for token in home)
        for key in keys:
            if key in first_by_key:
                union(parent, index, first_by_key[key])
            else:
                first_by_key[key] = index
    adults_by_key: dict[int, list[int]] = defaultdict(list)
    adults_at_home: dict[int, list[int]] = defaultdict(list)
    contact_columns = [(kind, col[kind], minor_values[kind]) for kind in CONTACT_KINDS]
    for index, child in enumerate(minor):
        if child:
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
            at_home = token[0] in HOME_KINDS
            for name in names | readings if at_home else names:
                key = hash((name, *token))
                if key in first_by_key:
                    adults_by_key[key].append(index)
            if at_home and hash(token) in minor_homes:
                adults_at_home[hash(token)].append(index)
    owner = list(range(len(clusters)))
    for group in groups(parent, keys_of):
        votes = [adult for member in group for key in keys_of[member] for adult in adults_by_key.get(key, ())]
        if not votes:  # the maiden-name fallback: given name + the home's phone or address
            votes = [
                adult
                for member in group
                for token in tokens_of_minor[member]
                if token[0] in HOME_KINDS
                for adult in adults_at_home.get(hash(token), ())
                if has_given_name(clusters[adult], col, guardian_given(clusters[member], col))
            ]
        if not votes:
            target = group[0]
        else:  # the adult with most votes; of equals, the first imported (the same in every run)
            counts = Counter(votes)
            target = min(counts, key=lambda adult: (-counts[adult], adult))
        for member in group:
            owner[member] = target
    return owner


def guardian_given(members: list[int], col: dict[str, list[Any]]) -> set[str]:
    """The guardian's given names named on a minor's rows, as "kana:…" / "name:…". Where no row splits
    the guardian's name, its last two characters stand for the given name (most have two: 和田梨沙)."""
    given = {f"kana:{col['guardian_given_kana'][m]}" for m in members if col["guardian_given_kana"][m]}
    given |= {f"name:{col['guardian_given_name'][m]}" for m in members if col["guardian_given_name"][m]}
    if not given:
        given = {
            f"name:{col['guardian_fold'][m][-2:]}" for m in members if len(col["guardian_fold"][m] or "") >= 3
        }
    return given


def has_given_name(members: list[int], col: dict[str, list[Any]], given_names: set[str]) -> bool:
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
