"""Subjects: records joined where the model is sure or a reviewer said so; pre-birth rows to the child."""

from __future__ import annotations

import re
from array import array
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from datetime import date, timedelta
from itertools import combinations, pairwise
from typing import Any

from owabi.incidents.models import Incident
from owabi.records.models import ReviewPair
from owabi.records.normalize import KANJI, fold_variants, given_name_readings
from owabi.records.resolve.households import (
    HOME_KINDS,
    HOUSEHOLD_TOKEN_LIMIT,
    READ_ALIKE_KINDS,
    contact_tokens,
)
from owabi.records.resolve.scoring import MATCH_THRESHOLD
from owabi.records.resolve.union_find import find, roots, union
from owabi.records.resolve_model import dob_close

PLACEHOLDER_WINDOW = timedelta(days=60)  # due date vs actual birth date
_MOBILE = re.compile(r"\+81[789]0")  # a mobile number (070, 080, 090), as normalize.phone writes it

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
    n: int,
    pairs: Iterable[tuple[int, int, float]],
    same: Pairs,
    different: Pairs,
    dob: list[str | None] | None = None,
    names: list[str | None] | None = None,
) -> tuple[list[int], list[tuple[int, int, float]]]:
    """Union-find parents of `n` records joined by the sure pairs and the reviewers' "same", never
    by a pair a reviewer called different; and the uncertain pairs, for review.

    "Different" holds through third records too: a join that would put two records a reviewer parted
    into one subject (A~C and C~B, both sure) is not made. Reviewers' "same" joins first, then the sure
    pairs from the most to the least likely, so the weakest link of such a chain is the one left out.
    With the records' birth dates (`dob`) and folded names (`names`), a sure pair that would make an
    undated record the bridge between two people of different birth dates goes to review instead
    (undated_bridges)."""
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
    if dob is not None:
        bridges, held = undated_bridges(n, sure, same, dob, names)
        if bridges or held:
            review.extend(pair for pair in sure if pair[:2] in bridges)
            sure = [pair for pair in sure if pair[:2] not in bridges and pair[:2] not in held]
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


def undated_bridges(
    n: int,
    sure: list[tuple[int, int, float]],
    same: Pairs,
    dob: list[str | None],
    names: list[str | None] | None = None,
) -> tuple[Pairs, Pairs]:
    """The sure pairs (smaller, larger) that would join undated records to people of different birth
    dates, which the model cannot decide: (those that go to review instead, those held back unjoined).

    A record without a birth date is sure of a match on its name and a shared home alone, and a home
    holds people of one name or one reading: a father and his son 誠 / 誠, brothers 隼 / 颯斗 (ハヤト),
    a child and the grandparent it is named after. Such a record may match two of them, and joining it
    to both would make the two one person. Where the records an undated one joins (through other
    undated ones too) hold birth dates that no one person's rows could give (resolve_model.dob_close:
    more than a typo, a few days or one field apart), its pairs to them go to the review queue with
    their evidence, and it joins none of them until a reviewer decides; unless its written name
    (`names`, variant kanji folded) is exactly that of some of them, which are one person by their
    birth dates, while the others agree only in the reading: then it is theirs (a sibling named alike
    is written with other kanji), and only its pairs to the others go to review. A reviewer's "same"
    between the undated record and one of them counts as such a name. Of the pairs to one person the
    most likely goes to review, and the others are held back: one decision settles them (the queue
    stays small). Where the birth dates agree, the pairs are joined as before.
    """
    undated = [not value for value in dob]
    deferred = [(a, b) for a, b, _ in sure if undated[a] or undated[b]]
    if not deferred:
        return set(), set()
    parent = list(range(n))  # the people the dated pairs (and reviewers) make, undated rows apart
    for a, b, _ in sure:
        if not undated[a] and not undated[b]:
            union(parent, a, b)
    for a, b in same:
        union(parent, a, b)
    loose = list(range(n))  # the undated records joined to each other
    for a, b in deferred:
        if undated[a] and undated[b]:
            union(loose, a, b)
    # A group of undated records -> the people it joins -> whether a written name agrees exactly.
    people: dict[int, dict[int, bool]] = defaultdict(dict)
    for a, b in deferred:
        for u, other in ((a, b), (b, a)):
            if undated[u] and not undated[other]:
                found = people[find(loose, u)]
                person = find(parent, other)
                agrees = (names is not None and names[u] is not None and names[u] == names[other]) or (
                    (min(a, b), max(a, b)) in same
                )
                found[person] = found.get(person, False) or agrees
    reviewed = {record for pair in same for record in pair}
    for a, b in deferred:
        for u in (a, b):
            if undated[u] and u in reviewed:  # a reviewer put it with someone: that one is decided
                people[find(loose, u)][find(parent, u)] = True
    wanted = {person for found in people.values() if len(found) > 1 for person in found}
    if not wanted:
        return set(), set()
    births: dict[int, set[str]] = defaultdict(set)
    for i, value in enumerate(dob):
        if value and find(parent, i) in wanted:
            births[find(parent, i)].add(value)

    def one_person(found: Iterable[int]) -> bool:
        dated = sorted(person for person in found if births[person])
        return all(
            any(dob_close(x, y) for x in births[p] for y in births[q]) for p, q in combinations(dated, 2)
        )

    left_out: dict[int, set[int] | None] = {}  # torn group -> the people it does not join (None: all)
    for group, found in people.items():
        if len(found) < 2 or one_person(found):
            continue
        exact = {person for person, agrees in found.items() if agrees}
        if exact and len(exact) < len(found) and one_person(exact):
            left_out[group] = set(found) - exact
        else:
            left_out[group] = None
    # One pair per group and person is enough for a reviewer to decide; the others wait with it.
    best: dict[tuple[int, int], tuple[float, int, int]] = {}
    held: Pairs = set()
    for a, b, probability in sure:
        if not undated[a] and not undated[b]:
            continue
        u, other = (a, b) if undated[a] else (b, a)
        group = find(loose, u)
        if group not in left_out:
            continue
        others = left_out[group]
        person = find(parent, other) if not undated[other] else -1 - group
        if others is not None and person not in others:
            continue
        held.add((a, b))
        if (group, person) not in best or probability > best[(group, person)][0]:
            best[(group, person)] = (probability, a, b)
    review = {(a, b) for _, a, b in best.values()}
    return review, held - review


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
    them (one row lacks the birth date, another was written after the family moved). A pre-birth row
    with no phone, e-mail, address or card of its own looks at the children with a row in its postal
    district (the postal code's first three digits), and with no postal code at none: across the whole
    incident, a guardian's name is held by namesakes whose children were born that season too, more of
    them the larger the incident.
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
    districts: dict[int, set[str]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if root not in children or placeholder[i]:
            continue
        if col["dob"][i]:
            births[root].add(date.fromisoformat(col["dob"][i]))
        tokens[root].update(contact_tokens(col, i))
        if where := district(col["postal"][i]):
            districts[root].add(where)
    for i, is_placeholder in enumerate(placeholder):
        if not is_placeholder:
            continue
        due = date.fromisoformat(col["due"][i])
        own = set(contact_tokens(col, i))
        place = district(col["postal"][i])
        gaps = {
            child: min(abs(birth - due) for birth in births[child])
            for key in guardian_keys
            if col[key][i]
            for child in by_guardian.get(col[key][i], ())
            if births[child] and (own & tokens[child] if own else place in districts[child])
        }
        near = [child for child, gap in gaps.items() if gap <= PLACEHOLDER_WINDOW]
        if len(near) == 1:  # two children born near the due date are twins: which one is not known
            union(parent, i, near[0])


def district(postal: str | None) -> str | None:
    """A postal code's district: its first three digits (a city, or a ward of a large one). None for no
    code, or one of 000 (no district has it: what a form writes for "unknown", 000-0000)."""
    if not postal or postal.startswith(NO_DISTRICT):
        return None
    return postal[:3]


NO_DISTRICT = "000"


def near_due(birth: str, due: date) -> bool:
    """Born within PLACEHOLDER_WINDOW of `due`, as written or with month and day swapped."""
    if abs(date.fromisoformat(birth) - due) <= PLACEHOLDER_WINDOW:
        return True
    try:
        swapped = date.fromisoformat(f"{birth[:4]}-{birth[8:10]}-{birth[5:7]}")
    except ValueError:
        return False
    return abs(swapped - due) <= PLACEHOLDER_WINDOW


def join_unborn(col: dict[str, list[Any]], placeholder: list[bool], parent: list[int]) -> None:
    """Pre-birth rows that join_placeholders left on their own: the rows of one pregnancy join each
    other, and the child born of it, through the home.

    A family signs up for several maternity services before the birth, each row under a placeholder
    name with the guardian's phone and address and the due date. join_placeholders places a row only
    through the guardian's name as written, which a call centre's homophone kanji or a kana slip in the
    guardian column defeats, and it never joins two such rows to each other: a child not born yet (or
    born without a leaked row) was a person per sign-up, a notice line and a payout each. Here:

    - two pre-birth rows with due dates within PLACEHOLDER_WINDOW of each other that share the home's
      phone number or address are one pregnancy: a home has one due date at a time (siblings are born
      at least about ten months apart), and twins are one pregnancy too;
    - a pregnancy joins the one named child whose records share the home's phone or address with it and
      who was born within PLACEHOLDER_WINDOW of a due date (as written, or month and day swapped); the
      children of the row's guardian born then with a row in the pregnancy's postal districts count
      too, so twins (two such children) leave it alone. Not across the incident: a guardian's name is
      held by namesakes elsewhere whose children were born that season too, more of them the larger
      the incident, and each would stop the join.

    An e-mail address or a card is a person's, not the home's, and is not used. A phone or address on
    more than HOUSEHOLD_TOKEN_LIMIT rows (a school, a switchboard, a placeholder address) joins nothing:
    many families are behind it, and due dates of unrelated pregnancies fall within two months.
    """
    root_of = roots(parent)
    size = Counter(root_of)
    alone = [i for i, p in enumerate(placeholder) if p and size[root_of[i]] == 1]
    if not alone:
        return
    wanted: dict[str, set[str]] = {kind: set() for kind in HOME_KINDS}
    for i in alone:
        for kind in HOME_KINDS:
            if col[kind][i]:
                wanted[kind].add(col[kind][i])
    rows_with: Counter[tuple[str, str]] = Counter(
        (kind, value) for kind in HOME_KINDS for value in col[kind] if value in wanted[kind]
    )

    def home(i: int) -> list[tuple[str, str]]:
        return [
            (kind, col[kind][i])
            for kind in HOME_KINDS
            if col[kind][i] and rows_with[(kind, col[kind][i])] <= HOUSEHOLD_TOKEN_LIMIT
        ]

    # One pregnancy: the alone rows of one home with due dates close together.
    due_of = {i: date.fromisoformat(col["due"][i]) for i in alone}
    by_token: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in alone:
        for token in home(i):
            by_token[token].append(i)
    for rows in by_token.values():
        rows.sort(key=lambda i: due_of[i])
        for a, b in pairwise(rows):
            if due_of[b] - due_of[a] <= PLACEHOLDER_WINDOW:
                union(parent, a, b)
    pregnancies: dict[int, list[int]] = defaultdict(list)
    for i in alone:
        pregnancies[find(parent, i)].append(i)
    # The named children those homes and guardians hold, by the records already joined into them.
    tokens = {kind: set[str]() for kind in HOME_KINDS}
    for rows in pregnancies.values():
        for i in rows:
            for kind, value in home(i):
                tokens[kind].add(value)
    guardian_keys = ("guardian_fold", "guardian_kana")
    guardians = {col[k][i] for i in alone for k in guardian_keys if col[k][i]}
    root_of = roots(parent)
    at_token: dict[tuple[str, str], set[int]] = defaultdict(set)
    token_districts: dict[tuple[str, str], set[str]] = defaultdict(set)  # where the home's rows live
    of_guardian: dict[str, set[int]] = defaultdict(set)
    births: dict[int, set[str]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if placeholder[i]:
            continue
        for kind in HOME_KINDS:
            if col[kind][i] in tokens[kind]:
                at_token[(kind, col[kind][i])].add(root)
                if where := district(col["postal"][i]):
                    token_districts[(kind, col[kind][i])].add(where)
        for key in guardian_keys:
            if col[key][i] in guardians:
                of_guardian[col[key][i]].add(root)
        if col["dob"][i]:
            births[root].add(col["dob"][i])
    named_children = set().union(*of_guardian.values()) if of_guardian else set()
    districts: dict[int, set[str]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if root in named_children and not placeholder[i] and (where := district(col["postal"][i])):
            districts[root].add(where)
    for root, rows in pregnancies.items():
        dues = {due_of[i] for i in rows}

        def born_then(child: int, dues: set[date] = dues) -> bool:
            return any(near_due(birth, due) for birth in births.get(child, ()) for due in dues)

        at_home = {child for i in rows for token in home(i) for child in at_token.get(token, ())}
        # The pregnancy's districts: its rows', and those of the rows at its home (a pre-birth row often
        # has a phone and no postal code).
        places = {where for i in rows if (where := district(col["postal"][i]))}
        places.update(where for i in rows for token in home(i) for where in token_districts.get(token, ()))
        by_name = {
            child
            for i in rows
            for k in guardian_keys
            for child in of_guardian.get(col[k][i], ())
            if districts[child] & places
        }
        near_home = {child for child in at_home if born_then(child)}
        if len(near_home) == 1 and not {child for child in by_name if born_then(child)} - near_home:
            union(parent, root, near_home.pop())


def join_grown(
    col: dict[str, list[Any]],
    placeholder: list[bool],
    parent: list[int],
    different: Pairs,
    cutoff: str,
    elsewhere: tuple[Collection[str], Collection[str]] = ((), ()),
) -> None:
    """A grown child's childhood rows and undated own rows, where little but the name links them.
    `elsewhere`: the names and the readings that subjects beyond these records hold as well (resolving
    in parts, resolve.parts): none of them is unique to two subjects.

    A guardian registers a child with the guardian's phone, e-mail and address; the grown child's own
    rows carry their own, often from another home, and often no birth date. Such rows share no blocking
    key and score as strangers. Joined here, one subject of childhood rows only (each names a guardian)
    to one of own rows only (none does), when:

    - the written name (name_fold) is held by these two subjects and by no other in the incident, and
      so is each of their readings (kana_key): where a third subject has either, namesakes are about
      (a popular name of those years, written with other kanji too), and a name cannot tell them apart;
    - the childhood rows give a birth date, every one of them an adult's on the notice date (born on or
      before `cutoff`, majority.minor_cutoff): a minor does not register alone, and an own row is an
      adult's (the model's "a minor's row, and an undated row without a guardian");
    - the own rows give no birth date (a date there would have been compared already, and found
      different);
    - a childhood row and an own row are in one postal district (`district`: 000-0000 is none):
      given names follow the fashion of the birth year, so two people of one name are often of one age,
      and a grown child stays near the family home often enough (without it, 4 pairs of strangers to
      12 grown children on the second generator's seed 1, docs/performance.md, "Fifth round");
    - no childhood row names a guardian of the same name or reading (a son named after his father: the
      undated own rows may be the father's);
    - no reviewer called a pair between them different.
    """
    root_of = roots(parent)
    name_fold, kana_key = col["name_fold"], col["kana_key"]
    guardian_fold, guardian_kana, dob = col["guardian_fold"], col["guardian_kana"], col["dob"]
    # Which subjects may be either side (childhood rows only; undated own rows only), from one cheap
    # pass: most subjects are neither, so names, readings and places are gathered for the few.
    childhood: set[int] = set()
    own: set[int] = set()
    dated: set[int] = set()
    named = [not placeholder[i] and bool(name_fold[i]) for i in range(len(root_of))]
    for i, root in enumerate(root_of):
        if not named[i]:
            continue
        if guardian_fold[i] or guardian_kana[i]:
            childhood.add(root)
        else:
            own.add(root)
        if dob[i]:
            dated.add(root)
    grown_up = own - childhood - dated
    if not grown_up:
        return
    only_childhood = childhood - own
    of_grown_up = {name_fold[i] for i, root in enumerate(root_of) if named[i] and root in grown_up}
    holders: dict[str, set[int]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if named[i] and name_fold[i] in of_grown_up:
            holders[name_fold[i]].add(root)
    names_elsewhere, readings_elsewhere = elsewhere
    candidates: list[tuple[int, int, set[int]]] = []
    for name, subjects in holders.items():
        if len(subjects) != 2 or name in names_elsewhere:
            continue
        first, second = subjects
        if first in only_childhood and second in grown_up:
            candidates.append((first, second, subjects))
        elif second in only_childhood and first in grown_up:
            candidates.append((second, first, subjects))
    if not candidates:
        return
    wanted = {root for child, grown, _ in candidates for root in (child, grown)}
    births: dict[int, set[str]] = defaultdict(set)
    readings: dict[int, set[str]] = defaultdict(set)
    junior: set[int] = set()
    districts: dict[int, set[str]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if not named[i] or root not in wanted:
            continue
        if place := district(col["postal"][i]):
            districts[root].add(place)
        if kana_key[i]:
            readings[root].add(kana_key[i])
        if (guardian_fold[i] and guardian_fold[i] == name_fold[i]) or (
            guardian_kana[i] and guardian_kana[i] == kana_key[i]
        ):
            junior.add(root)
        if dob[i]:
            births[root].add(dob[i])
    read = set().union(*readings.values()) if readings else set()
    readers: dict[str, set[int]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if named[i] and kana_key[i] in read:
            readers[kana_key[i]].add(root)
    apart: dict[int, set[int]] = defaultdict(set)
    for a, b in different:
        apart[root_of[a]].add(root_of[b])
        apart[root_of[b]].add(root_of[a])
    for child, grown, subjects in candidates:
        if child in junior or grown in apart[child]:
            continue
        if any(
            readers[reading] - subjects or reading in readings_elsewhere
            for reading in readings[child] | readings[grown]
        ):
            continue
        if not districts[child] & districts[grown]:
            continue
        dates = births.get(child)
        if dates and all(birth <= cutoff for birth in dates):
            union(parent, child, grown)


def join_born_elsewhere(
    col: dict[str, list[Any]], placeholder: list[bool], parent: list[int], different: Pairs
) -> None:
    """A pregnancy that join_placeholders and join_unborn left without a child: the child's own rows
    were written later, from a home of their own (a grown child's own phone, e-mail, flat) or with the
    guardian written differently, so no guardian's name and no home token links them.

    It joins the one named subject born within PLACEHOLDER_WINDOW of a due date (as written, or month
    and day swapped) of the guardian's family name, one of whose rows has a postal code (all seven
    digits) or a phone of the pregnancy's rows. Family name, birth near the due date and one postal area
    together name one child in practice: a sibling is born at least about ten months away, and a
    stranger of the family name born that season in that postal area is rare (a postal code holds a few
    hundred rows even at 35 million).

    - The family name is compared whole: the written one (variant kanji folded) where both sides split
      the name into family and given names, else the reading where both split it (森 is not 森田, and
      伊藤 is not 伊東 though both read イトウ). A guardian whose name is split neither way places nothing.
    - A subject's rows are taken together: its birth dates, places and family names may come from
      different rows. A subject born then at the place whose family name cannot be told (no split name)
      counts as a second candidate: it may be a twin, and then which one is not known.
    - Two candidates (twins, or that stranger) join nothing; a child two pregnancies claim joins
      neither; a reviewer's "different" is never overridden.
    - A phone on more than HOUSEHOLD_TOKEN_LIMIT rows (a switchboard) links nothing; a postal code is
      a place, not a token, and has no such limit: the uniqueness of the child is the test there.
    """
    root_of = roots(parent)
    has_name = bytearray(len(parent))
    for i, p in enumerate(placeholder):
        if not p:
            has_name[root_of[i]] = 1
    pregnancies: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(placeholder):
        if p and not has_name[root_of[i]] and col["due"][i]:
            pregnancies[root_of[i]].append(i)
    if not pregnancies:
        return
    kinds = ("postal", "phone")
    window = PLACEHOLDER_WINDOW.days + 1
    # Pregnancies by place and by a window-wide bucket of a due date: a row looks only at those due
    # near its birth date, however many rows share its postal code.
    waiting: dict[tuple[str, str, int], set[int]] = defaultdict(set)
    dues: dict[int, set[date]] = defaultdict(set)
    for root, rows in pregnancies.items():
        for i in rows:
            due = date.fromisoformat(col["due"][i])
            dues[root].add(due)
            for kind in kinds:
                if col[kind][i]:
                    waiting[(kind, col[kind][i], due.toordinal() // window)].add(root)
    places = {(kind, value) for kind, value, _ in waiting}
    phones = Counter(value for value in col["phone"] if ("phone", value) in places)
    near: dict[int, set[int]] = defaultdict(set)  # pregnancy -> subjects born then at its place
    for i, root in enumerate(root_of):
        if placeholder[i] or not col["dob"][i]:
            continue
        born = _birth_and_swapped(col["dob"][i])
        for kind in kinds:
            value = col[kind][i]
            if not value or (kind == "phone" and phones[value] > HOUSEHOLD_TOKEN_LIMIT):
                continue
            for birth in born:
                bucket = birth.toordinal() // window
                for shift in (-1, 0, 1):
                    for pregnancy in waiting.get((kind, value, bucket + shift), ()):
                        if any(abs(birth - due) <= PLACEHOLDER_WINDOW for due in dues[pregnancy]):
                            near[pregnancy].add(root)
    if not near:
        return
    wanted = set().union(*near.values())
    families: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if root in wanted and not placeholder[i]:
            parts = family_parts(col, i)
            families[root].update(parts)
    unknown = {root for root in wanted if not families[root]}
    claimed: Counter[int] = Counter()
    chosen: dict[int, int] = {}
    for pregnancy, subjects in near.items():
        guardian = {part for i in pregnancies[pregnancy] for part in guardian_family_parts(col, i)}
        if not guardian:
            continue
        # Who may be of the family: its name agrees written or read, or cannot be told (twins written
        # one in kanji, one in kana). One such subject, of the family by _same_family, is the child.
        maybe = {s for s in subjects if s in unknown or guardian & families[s]}
        if len(maybe) == 1 and _same_family(guardian, families[child := next(iter(maybe))]):
            chosen[pregnancy] = child
            claimed[child] += 1
    # Each join is of one pregnancy and one child no other pregnancy claims: the joins are disjoint,
    # so "parted by a reviewer" is read off the subjects as they were before any of them.
    apart: dict[int, set[int]] = defaultdict(set)
    for a, b in different:
        apart[root_of[a]].add(root_of[b])
        apart[root_of[b]].add(root_of[a])
    for pregnancy, child in chosen.items():
        if claimed[child] != 1 or child in apart[pregnancy]:
            continue
        union(parent, pregnancy, child)


def join_read_alike(
    col: dict[str, list[Any]], placeholder: list[bool], parent: list[int], different: Pairs
) -> None:
    """One person whose given name was written with other kanji of the same sound (a call centre keys 奏太
    for 湊大, 卓也 for 拓也), where the readings cannot show it: one side has none, or a slip in the
    family name's reading (ヤマモド) makes the whole readings differ. The model compares written names
    and whole readings, finds them different, and "shared contact, but the people differ" keeps them
    apart.

    Joined: two subjects when
    - a row of each, of one birth date, shares a phone, e-mail, address or postal code with a row of the
      other (READ_ALIKE_KINDS), and each subject shares such a (birth date, value) with the other alone:
      a third subject born that day at that home (triplets, or twins and a slip) joins nothing;
    - every birth date either subject gives is that one date;
    - a row of each has one written family name (variant kanji folded) and another given name, and the
      name dictionary lists, among the readings of one's given name (normalize.given_name_readings:
      湊大 and 奏太 can both be ソウタ), the reading the other row gives for its given name, which the
      first row gives too, or the first subject gives no reading on any row;
    - they are not both adults with a mobile number of their own and none in common (grown twins at the
      parents' address: 太一 タイチ and 大智, which the dictionary also reads タイチ);
    - no reviewer called a pair between them different.

    Siblings are born on other days; a father and a son of one reading too. Twins have given names that
    read differently (parents do not give two children one name's sound), and a row that gives its own
    reading must give the same one. What is left is young twins, one of them without a reading anywhere,
    whose names the dictionary reads alike: two children of one home in one subject, under the same
    guardian, so the household still gets one letter."""
    root_of = roots(parent)
    read = {root for i, root in enumerate(root_of) if col["kana_key"][i] and not placeholder[i]}
    births: dict[int, set[str]] = defaultdict(set)
    keyed: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for i, root in enumerate(root_of):
        if placeholder[i]:
            continue
        born = col["dob"][i]
        if born:
            births[root].add(born)
            if col["name_fold"][i]:
                for kind in READ_ALIKE_KINDS:
                    if col[kind][i]:
                        keyed[(born, kind, col[kind][i])].add(root)
    # Each subject's one neighbour: the other subject of a (date, value) two subjects hold; a subject in a
    # group of three or more, or with two such neighbours, is crowded and joins nothing.
    neighbour: dict[int, int] = {}
    crowded: set[int] = set()
    for subjects in keyed.values():
        if len(subjects) > 2:
            crowded |= subjects
        elif len(subjects) == 2:
            first, second = subjects
            for one, other in ((first, second), (second, first)):
                if neighbour.setdefault(one, other) != other:
                    crowded.add(one)
    pairs = [
        (first, second)
        for first, second in neighbour.items()
        if first < second
        and first not in crowded
        and second not in crowded
        and neighbour.get(second) == first
        and len(births[first] | births[second]) == 1
        and (first in read or second in read)
    ]
    if not pairs:
        return
    rows: dict[int, list[int]] = defaultdict(list)
    wanted = {subject for pair in pairs for subject in pair}
    for i, root in enumerate(root_of):
        if root in wanted and not placeholder[i] and col["name_fold"][i]:
            rows[root].append(i)
    apart: dict[int, set[int]] = defaultdict(set)
    for a, b in different:
        apart[root_of[a]].add(root_of[b])
        apart[root_of[b]].add(root_of[a])
    for first, second in pairs:
        if second in apart[first] or _adults_apart(col, rows[first], rows[second]):
            continue
        if _read_alike(col, rows[first], rows[second], first not in read) or _read_alike(
            col, rows[second], rows[first], second not in read
        ):
            union(parent, first, second)


def _read_alike(col: dict[str, list[Any]], named: list[int], read: list[int], unread: bool) -> bool:
    """A row of `named` and a row of `read` with one written family name and other given names, where a
    reading the dictionary lists for `named`'s given name is the one `read`'s row gives, and the one
    `named`'s row gives (`unread`: the subject of `named` gives none anywhere)."""
    for n in named:
        for r in read:
            if not col["kana_key"][r] or not (col["kana_key"][n] or unread):
                continue
            givens = _given_names(col, n, r)
            if givens is None:
                continue
            (n_given, n_cut), (r_given, r_cut) = givens
            for reading in given_name_readings(n_given):
                if _gives(col, r, r_given, r_cut, reading) and (
                    unread or _gives(col, n, n_given, n_cut, reading)
                ):
                    return True
    return False


Given = tuple[str, bool]  # a written given name, and whether it was cut with the other row's family name


def _given_names(col: dict[str, list[Any]], a: int, b: int) -> tuple[Given, Given] | None:
    """The written given names (variant kanji folded) of rows `a` and `b`, where they have one family name
    and other given names, each with whether it was cut with the other row's family name (its own name
    has no space); None where that cannot be told or the names differ otherwise."""
    own = [
        next((v for k, v in family_parts(col, i) if k == "name"), None)  # at most one written family name
        for i in (a, b)
    ]
    if own[0] and own[1] and own[0] != own[1]:
        return None
    family = own[0] or own[1]
    if not family:
        return None
    names = (col["name_fold"][a], col["name_fold"][b])
    if not all(name.startswith(family) and len(name) > len(family) for name in names):
        return None
    givens = (names[0][len(family) :], names[1][len(family) :])
    if givens[0] == givens[1]:
        return None
    return (givens[0], own[0] is None), (givens[1], own[1] is None)


def _gives(col: dict[str, list[Any]], i: int, given: str, cut: bool, reading: str) -> bool:
    """Row `i` reads its written given name `given` as `reading`: the reading's given part says so, where
    the reading is split; else the whole reading ends so and the dictionary lists it for `given` (サトウ
    カズヒト ends in ヒト, a reading of 一, but 和人 is not read ヒト). A given name cut with the other
    row's family name must be one the dictionary reads so (中村健 cut at 中 leaves 村健, no name)."""
    listed = reading in given_name_readings(given)
    if cut and not listed:
        return False
    split = col["given_kana"][i]
    if split:
        return bool(split == reading)
    whole = col["kana_key"][i]
    return listed and bool(whole) and len(whole) > len(reading) and whole.endswith(reading)


def _adults_apart(col: dict[str, list[Any]], first: list[int], second: list[int]) -> bool:
    """Both subjects have rows of their own (naming no guardian) and share no mobile number or e-mail
    address: grown twins at their parents' address, a home's landline and postal code in common. A
    person re-keyed by a call centre gives the number or address they gave before; children's rows
    carry the guardian's."""
    if not any(_own(col, i) for i in first) or not any(_own(col, i) for i in second):
        return False
    personal = [
        {("phone", col["phone"][i]) for i in rows if col["phone"][i] and _MOBILE.match(col["phone"][i])}
        | {("email", col["email"][i]) for i in rows if col["email"][i]}
        for rows in (first, second)
    ]
    return not personal[0] & personal[1]


def _own(col: dict[str, list[Any]], i: int) -> bool:
    return not (col["guardian_fold"][i] or col["guardian_kana"][i])


def _birth_and_swapped(iso: str) -> list[date]:
    """A birth date, and the date with month and day swapped where that is a date."""
    births = [date.fromisoformat(iso)]
    try:
        swapped = date.fromisoformat(f"{iso[:4]}-{iso[8:10]}-{iso[5:7]}")
    except ValueError:
        return births
    return births if swapped == births[0] else [*births, swapped]


def _split(whole: str | None, given: str | None) -> str | None:
    """`whole` less its ending `given` (the family part), where the name was split."""
    if whole and given and whole.endswith(given) and len(whole) > len(given):
        return whole[: -len(given)]
    return None


def family_parts(col: dict[str, list[Any]], i: int) -> set[tuple[str, str]]:
    """Row `i`'s family name: ("name", written in kanji, variant kanji folded) and ("kana", read), where
    the row splits its name so; none where it does not (a name without a space cannot be cut). A name
    written in kana gives its reading only (its kanji are not known)."""
    given = col["given_name"][i]
    parts = {
        ("name", _split(col["name_fold"][i], fold_variants(given) if given else None)),
        ("kana", _split(col["kana_key"][i], col["given_kana"][i])),
    }
    return {(kind, value) for kind, value in parts if value and (kind == "kana" or KANJI.search(value))}


def guardian_family_parts(col: dict[str, list[Any]], i: int) -> set[tuple[str, str]]:
    """The family name of row `i`'s guardian, as family_parts gives a row's own."""
    parts = {
        ("name", _split(col["guardian_fold"][i], col["guardian_given_name"][i])),
        ("kana", _split(col["guardian_kana"][i], col["guardian_given_kana"][i])),
    }
    return {(kind, value) for kind, value in parts if value}


def _same_family(guardian: set[tuple[str, str]], child: set[tuple[str, str]]) -> bool:
    """One family name: the written ones agree where both sides have one, else the readings."""
    written = {v for k, v in guardian if k == "name"}, {v for k, v in child if k == "name"}
    if written[0] and written[1]:
        return bool(written[0] & written[1])
    read = {v for k, v in guardian if k == "kana"}, {v for k, v in child if k == "kana"}
    return bool(read[0] & read[1])
