"""Storage: subjects, recipients, memberships and the review queue written in bulk, numbered stably.

Each new subject keeps the number of the old subject most of its records belonged to (largest overlaps
first), and the same holds for recipients: re-running after another import renumbers nothing that did
not change, so notices already sent keep their numbers.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from django.db import connection, transaction

from owabi.core import bulk
from owabi.incidents.models import Incident
from owabi.records.models import Membership, Recipient, ReviewPair, Subject

BULK = 1000  # numbers or primary keys per `IN (…)`


def stable_numbers(clusters: list[list[int]], old: dict[int, int], taken: set[int]) -> list[int]:
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


class Fullness:
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


class Written(NamedTuple):
    subjects: int
    recipients: int
    review_pairs: int  # pending in the queue after this run


def write(
    incident: Incident,
    pks: array[int],
    col: dict[str, list[Any]],
    clusters: list[list[int]],
    minor: list[bool],
    owner: list[int],
    review: list[tuple[int, int, float]],
    say: Callable[[str], None],
) -> Written:
    """Save the subjects (clusters of record indexes) and the recipients (`owner`: per subject, the
    subject whose recipient it shares), link the records and queue the review pairs, in one transaction."""
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
    subject_numbers = stable_numbers(
        clusters, old_subject, set(Subject.objects.filter(incident=incident).values_list("number", flat=True))
    )
    groups: dict[int, list[int]] = defaultdict(list)
    for index, target in enumerate(owner):
        groups[target].append(index)
    group_owners = sorted(groups)
    group_records = [[m for index in groups[g] for m in clusters[index]] for g in group_owners]
    recipient_numbers = stable_numbers(
        group_records,
        old_recipient,
        set(Recipient.objects.filter(incident=incident).values_list("number", flat=True)),
    )

    with transaction.atomic():
        say("  recipients")
        # Recipients: who each notice goes to, and the record holding the name and address to use.
        wanted_recipients = []
        recipient_number_of_subject = [0] * len(clusters)
        guardian_contact = Fullness(col, ("guardian_fold", *CONTACT_FIELDS))
        own_contact = Fullness(col, ("name_key", *CONTACT_FIELDS))
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
        best = Fullness(col, SUBJECT_FIELDS)
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
        for number_chunk in bulk.chunked(sorted(gone_subjects), BULK):
            Subject.objects.filter(incident=incident, number__in=number_chunk).delete()
        for number_chunk in bulk.chunked(sorted(gone_recipients), BULK):
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
    return Written(subjects=len(clusters), recipients=len(group_owners), review_pairs=review_pairs)


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
