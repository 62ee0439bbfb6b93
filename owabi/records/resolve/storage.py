"""Storage: subjects, recipients, memberships and the review queue written in bulk, numbered stably.

Each new subject keeps the number of the old subject most of its records belonged to (largest overlaps
first), and the same holds for recipients: re-running after another import renumbers nothing that did
not change, so notices already sent keep their numbers.
"""

from __future__ import annotations

import os
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Field, Max

from owabi.core import bulk
from owabi.incidents.models import Incident
from owabi.records.models import Membership, Recipient, ReviewPair, Subject
from owabi.records.resolve.union_find import Packed

BULK = 1000  # numbers or primary keys per `IN (…)`


class OldNumbers:
    """Per record index, the subject's (or recipient's) number it had before this run: one 8-byte slot a
    record (NONE: none), where a dict of a million indexes took about 0.1 GiB."""

    NONE = -1

    def __init__(self, records: int) -> None:
        self.numbers = array("q", [self.NONE]) * records
        self.any = False  # a first run has none

    def set(self, index: int, number: int) -> None:
        self.numbers[index] = number
        self.any = True

    def get(self, index: int) -> int | None:
        number = self.numbers[index]
        return None if number == self.NONE else number


def stable_numbers(clusters: Sequence[Sequence[int]], old: OldNumbers, highest: int) -> array[int]:
    """Give each cluster the old number most of its members had, largest overlap first; new ones after
    `highest` (the largest number the incident's rows have now: as before, a number freed by a row
    deleted above it may be given again). The wishes are packed arrays and the numbers
    taken a bitmap: at 3.5M subjects a list of wish tuples and a set of numbers took about 0.6 GiB."""
    import numpy as np

    none = OldNumbers.NONE
    overlaps, wished, indexes = array("q"), array("q"), array("q")
    numbers_before = old.numbers
    for index, members in enumerate(clusters) if old.any else ():
        had = [number for m in members if (number := numbers_before[m]) != none]
        if len(had) == 1:
            overlaps.append(1)
            wished.append(had[0])
            indexes.append(index)
        elif had:
            for number, overlap in Counter(had).items():
                overlaps.append(overlap)
                wished.append(number)
                indexes.append(index)
    # Largest overlap first, then the smaller number, then the earlier cluster.
    order = np.lexsort(
        (
            np.frombuffer(indexes, np.int64),
            np.frombuffer(wished, np.int64),
            -np.frombuffer(overlaps, np.int64),
        )
    )
    numbers = array("q", [none]) * len(clusters)
    used = bytearray(max(wished, default=-1) + 1)
    for begin in range(0, len(order), 65_536):
        for wish in order[begin : begin + 65_536].tolist():
            index, number = indexes[wish], wished[wish]
            if numbers[index] == none and not used[number]:
                numbers[index] = number
                used[number] = 1
    next_number = max(highest, len(used) - 1) + 1
    for index, number in enumerate(numbers):
        if number == none:
            numbers[index], next_number = next_number, next_number + 1
    return numbers


class Fullness:
    """Picks the record with most of `fields` filled (latest on a tie): the best name or address to use.

    Each record's rank (filled count, then index) is computed once for all records from the Arrow
    columns, before resolve turns any into Python lists, and kept as one 8-byte integer per record: write
    then needs none of the records' values (resolve drops those lists before it), and picking
    among a cluster's members is one `max` over precomputed integers."""

    def __init__(self, table: Any, fields: tuple[str, ...]) -> None:
        import numpy as np
        import pyarrow.compute as pc

        n = table.num_rows
        filled = np.zeros(n, np.int64)
        for name in fields:
            filled += pc.is_valid(table.column(name)).to_numpy()
        self.rank = array("q")  # as bytes: a list of a Python int per record took 0.2 GiB at 5M
        self.rank.frombytes((filled * n + np.arange(n, dtype=np.int64)).tobytes())

    def pick(self, members: Iterable[int]) -> int:
        return max(members, key=self.rank.__getitem__)


SUBJECT_FIELDS = ("name_key", "kana_key", "dob")
CONTACT_FIELDS = ("postal", "address_key", "email", "phone")


class Fullest(NamedTuple):
    """The three choices write makes per subject or recipient: the record whose name, birth date and
    reading are fullest; whose guardian and contact are (a minor's recipient); whose own name and contact
    are (an adult's)."""

    subject: Fullness
    guardian_contact: Fullness
    own_contact: Fullness


def fullest(table: Any) -> Fullest:
    """The ranks of every record of an Arrow table holding the feature columns SUBJECT_FIELDS,
    CONTACT_FIELDS, name_key and guardian_fold (one row per record, in index order)."""
    return Fullest(
        subject=Fullness(table, SUBJECT_FIELDS),
        guardian_contact=Fullness(table, ("guardian_fold", *CONTACT_FIELDS)),
        own_contact=Fullness(table, ("name_key", *CONTACT_FIELDS)),
    )


class Written(NamedTuple):
    subjects: int
    recipients: int
    review_pairs: int  # pending in the queue after this run


def write(
    incident: Incident,
    pks: array[int],
    fullest: Fullest,
    clusters: Sequence[Sequence[int]],
    minor: Sequence[bool],
    owner: Sequence[int],
    review: list[tuple[int, int, float]],
    say: Callable[[str], None],
) -> Written:
    """Save the subjects (clusters of record indexes) and the recipients (`owner`: per subject, the
    subject whose recipient it shares), link the records and queue the review pairs, in one transaction."""
    import numpy as np

    say("  numbering subjects and recipients")
    # pks are in ascending order (match_store.read): a record's index is found by bisection, where a
    # dict of every pk took about 0.1 GiB at 1M records.
    if any(a >= b for a, b in pairwise(pks)):  # pragma: no cover - match_store.read sorts them
        raise RuntimeError("resolve: record keys out of order")
    old = Membership.objects.filter(subject__incident=incident).values_list(
        "record_id", "subject__number", "subject__recipient__number"
    )
    old_subject, old_recipient = OldNumbers(len(pks)), OldNumbers(len(pks))
    for pk, subject_number, recipient_number in old.iterator(5000):
        i = bisect_left(pks, pk)
        if i == len(pks) or pks[i] != pk:  # pragma: no cover - a membership links a record of the incident
            raise RuntimeError("resolve: a membership names a record that was not read")
        old_subject.set(i, subject_number)
        if recipient_number is not None:
            old_recipient.set(i, recipient_number)
    subject_numbers = stable_numbers(clusters, old_subject, _highest_number(Subject, incident))
    # Recipients: the subjects grouped by the subject whose recipient they share (its owner), groups in
    # the owner's order and subjects in theirs; a group's records are its subjects' records in turn.
    packed = clusters if isinstance(clusters, Packed) else Packed.of(clusters)
    owner_of = np.asarray(owner, dtype=np.int64)
    by_owner = np.argsort(owner_of, kind="stable")
    group_owners, group_of_subject, subjects_per_group = np.unique(
        owner_of, return_inverse=True, return_counts=True
    )
    _, starts = packed.numpy()
    sizes_by_owner = np.diff(starts)[by_owner]
    first_of_group = np.cumsum(subjects_per_group) - subjects_per_group
    records_per_group = (
        np.add.reduceat(sizes_by_owner, first_of_group) if len(first_of_group) else first_of_group
    )
    group_records = packed.take(by_owner).regrouped(records_per_group)
    del packed, by_owner, sizes_by_owner, subjects_per_group
    recipient_numbers = stable_numbers(group_records, old_recipient, _highest_number(Recipient, incident))

    with transaction.atomic():
        say("  recipients")
        # Recipients: who each notice goes to, and the record holding the name and address to use.
        recipient_number_of_subject = np.frombuffer(recipient_numbers, np.int64)[group_of_subject]
        del group_of_subject
        guardian_contact, own_contact = fullest.guardian_contact, fullest.own_contact
        # Per recipient: whether a guardian receives it, and the record whose contact to use.
        to_guardian, contact = array("b"), array("q")
        owners = array("q")
        owners.frombytes(group_owners.astype(np.int64).tobytes())
        for group_owner, records in zip(owners, group_records, strict=True):
            to_guardian.append(minor[group_owner])
            if minor[group_owner]:
                contact.append(pks[guardian_contact.pick(records)])
            else:
                contact.append(pks[own_contact.pick(clusters[group_owner])])
        del group_records, group_owners, owners
        kinds = (Recipient.Kind.SELF.value, Recipient.Kind.GUARDIAN.value)

        recipient_id = _save_numbered(
            Recipient,
            incident,
            ("kind", "contact_record"),
            recipient_numbers,
            lambda index: (kinds[to_guardian[index]], contact[index]),
        )

        say("  subjects")
        # Subjects, then the records that moved to another subject (or are new).
        best = fullest.subject

        def subject_values(index: int) -> tuple[int, bool, int]:
            recipient = recipient_id[int(recipient_number_of_subject[index])]
            return recipient, minor[index], pks[best.pick(clusters[index])]

        subject_id = _save_numbered(
            Subject, incident, ("recipient", "is_minor", "best_record"), subject_numbers, subject_values
        )
        say("  records")
        # Streamed into the insert: not a list of a tuple per record first.
        linked = (
            (pks[m], subject_id[number])
            for members, number in zip(clusters, subject_numbers, strict=True)
            for m in members
            if old_subject.get(m) is None
        )
        bulk.insert(Membership, ("record", "subject"), linked)
        moved = [
            (pks[m], subject_id[number])
            for members, number in zip(clusters, subject_numbers, strict=True)
            for m in members
            if old_subject.get(m) not in (None, number)
        ]
        bulk.update(Membership, ("subject",), moved)

        # Numbers the incident had that no subject (recipient) of this run has, found in numpy: sets of
        # every number took about 0.3 GiB at 3.5M subjects.
        gone_subjects = np.setdiff1d(subject_id.numbers(), np.frombuffer(subject_numbers, np.int64)).tolist()
        gone_recipients = np.setdiff1d(
            recipient_id.numbers(), np.frombuffer(recipient_numbers, np.int64)
        ).tolist()
        for number_chunk in bulk.chunked(gone_subjects, BULK):
            Subject.objects.filter(incident=incident, number__in=number_chunk).delete()
        for number_chunk in bulk.chunked(gone_recipients, BULK):
            Recipient.objects.filter(incident=incident, number__in=number_chunk).delete()
        say("  checking links")
        bulk.check_links(Membership.objects.filter(record__incident=incident), ("subject",))
        bulk.check_links(Membership.objects.filter(subject__incident=incident), ("record",))
        bulk.check_links(Subject.objects.filter(incident=incident), ("recipient", "best_record"))
        bulk.check_links(Recipient.objects.filter(incident=incident), ("contact_record",))
        say("  review queue")
        write_review(incident, pks, review)
        say("  committing")
    review_pairs = ReviewPair.objects.filter(incident=incident, decision=ReviewPair.Decision.PENDING).count()
    return Written(subjects=len(clusters), recipients=len(recipient_numbers), review_pairs=review_pairs)


# Bytes 6 and 8 of a random (version 4, RFC 9562) UUID: the version nibble 4, the variant bits 10.
_UUID_VERSION = bytes((b & 0x0F) | 0x40 for b in range(256))
_UUID_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))


def _uuid4_hexes(count: int) -> Iterator[str]:
    """`count` random (version 4) UUIDs as 32 hex digits, the form both databases accept: one read of
    os.urandom for all of them. uuid.uuid4() costs microseconds each, which at a million is seconds.

    Sorted: the unique index on public_id then takes a batch in order, page after page, where random
    order visits (and after a checkpoint writes out in full) a random index page per row. At 690,000
    subjects that was 2 to 3 of the 10 seconds PostgreSQL took to insert them. The values stay random;
    only which row gets which one follows the row order. Sorted as 16-byte numbers and written out as
    text one at a time: a list of the strings took about 90 bytes each (0.3 GiB at 3.5M subjects)."""
    import numpy as np

    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_UUID_VERSION)
    raw[8::16] = raw[8::16].translate(_UUID_VARIANT)
    halves = np.frombuffer(bytes(raw), dtype=">u8").reshape(-1, 2)
    del raw
    ordered = halves[np.lexsort((halves[:, 1], halves[:, 0]))].tobytes()
    del halves
    return (ordered[start : start + 16].hex() for start in range(0, 16 * count, 16))


class NumberIds:
    """number -> primary key of an incident's subjects (or recipients), and optionally the values of a
    few of their fields: an 8-byte slot per number and column (NONE: no row), where a dict took about
    100 bytes an entry for the key alone (0.35 GiB at 3.5M subjects) and 280 with the values (0.9 GiB).

    A value is held as an integer: None as NULL, a text (a choice's) by a code given per column on first
    sight, anything else as int(value): an int as itself, a bool (Python's or numpy's) as 0 or 1. A
    column holds one kind of value (a model field's), so an int and a code never meet."""

    NONE = -1
    NULL = -(2**63)

    def __init__(self, rows: Iterable[Sequence[Any]], width: int = 0) -> None:
        """rows: (number, primary key, *`width` values)."""
        self.ids = array("q")
        self.columns = [array("q") for _ in range(width)]
        self._codes: list[dict[Any, int]] = [{} for _ in range(width)]
        for number, pk, *values in rows:
            if number >= len(self.ids):
                grow = max(number + 1, 2 * len(self.ids)) - len(self.ids)
                self.ids.extend(array("q", [self.NONE]) * grow)
                for column in self.columns:
                    column.extend(array("q", [self.NULL]) * grow)
            self.ids[number] = pk
            for column, code in zip(self.columns, self.encoded(values), strict=True):
                column[number] = code

    def __getitem__(self, number: int) -> int:
        pk = self.get(number)
        if pk == self.NONE:
            raise KeyError(number)
        return pk

    def get(self, number: int) -> int:
        """The primary key of `number`, NONE if there is no such row."""
        return self.ids[number] if 0 <= number < len(self.ids) else self.NONE

    def values(self, number: int) -> tuple[int, ...]:
        """The held values of a number that has a row, encoded (compare with `encoded`)."""
        return tuple(column[number] for column in self.columns)

    def encoded(self, values: Sequence[Any]) -> tuple[int, ...]:
        """`values` (one per column) as they are held: equal tuples for equal values."""
        return tuple(
            self.NULL
            if value is None
            else codes.setdefault(value, len(codes))
            if isinstance(value, str)
            else int(value)  # a flag is 1 whether it comes as True, numpy's True_ or SQLite's 1
            for value, codes in zip(values, self._codes, strict=True)
        )

    def numbers(self) -> Any:
        """The numbers that have a primary key, ascending, as a numpy int64 array."""
        import numpy as np

        return np.flatnonzero(np.frombuffer(self.ids, np.int64) != self.NONE).astype(np.int64)


def _numbered(
    model: type[Subject] | type[Recipient], incident: Incident, fields: tuple[str, ...] = ()
) -> NumberIds:
    """The incident's rows of `model` now: number -> primary key, and the values of `fields`. Plain tuples
    through a cursor: the ORM's per-row work, times 700,000, is seconds. A server-side cursor on
    PostgreSQL: with a client-side one libpq holds the whole result (3.5M rows at 5M records) first."""
    columns = [connection.ops.quote_name(_column(model, name)) for name in fields]
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(['number', 'id', *columns])} FROM {model._meta.db_table} "  # noqa: S608
            "WHERE incident_id = %s",
            [incident.pk],
        )
        return NumberIds(_fetched(cursor), width=len(fields))


def _column(model: type[Subject] | type[Recipient], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return field.column


def _save_numbered(
    model: type[Subject] | type[Recipient],
    incident: Incident,
    fields: tuple[str, ...],
    numbers: Sequence[int],
    values_of: Callable[[int], tuple[Any, ...]],
) -> NumberIds:
    """Insert the numbers that are new, update those whose `fields` changed; returns number -> pk of
    every row of the incident (old numbers not wanted included: the caller deletes those). The row wanted
    at position i has number numbers[i] and field values values_of(i), computed when needed (for an
    existing row to compare, for a new one as it streams into the insert), never held as a list."""
    existing = _numbered(model, incident, fields)
    new_count, changed = 0, []
    for index, number in enumerate(numbers):
        pk = existing.get(number)
        if pk == NumberIds.NONE:
            new_count += 1
        elif existing.values(number) != existing.encoded(values := values_of(index)):
            changed.append((pk, *values))
    numbered = (
        (incident.pk, public_id, number, *values_of(index))
        for public_id, (index, number) in zip(
            _uuid4_hexes(new_count),
            (
                (index, number)
                for index, number in enumerate(numbers)
                if existing.get(number) == NumberIds.NONE
            ),
            strict=True,
        )
    )
    bulk.insert(model, ("incident", "public_id", "number", *fields), numbered)
    bulk.update(model, fields, changed)
    del changed, existing
    return _numbered(model, incident)


def _highest_number(model: type[Subject] | type[Recipient], incident: Incident) -> int:
    """The largest number the incident's subjects (or recipients) have now, 0 for none."""
    highest = model.objects.filter(incident=incident).aggregate(highest=Max("number"))["highest"]
    return highest or 0


def _fetched(cursor: Any) -> Iterator[tuple[int, int]]:
    while rows := cursor.fetchmany(10_000):
        yield from rows


def write_review(incident: Incident, pks: array[int], review: list[tuple[int, int, float]]) -> None:
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
    for chunk in bulk.chunked(stale, BULK):
        ReviewPair.objects.filter(pk__in=chunk).delete()
    rows = ((incident.pk, a, b, p, ReviewPair.Decision.PENDING.value, "") for (a, b), p in wanted.items())
    bulk.insert(
        ReviewPair, ("incident", "record_a", "record_b", "probability", "decision", "decided_by"), rows
    )
