"""Independent parts: the records that can end in one subject, or under one recipient, only together.

Resolve's clustering and recipient steps hold Python lists per record. Run over the whole incident they
grow with it (1.5 GiB per million records); run part by part, they hold one batch of parts at a time
(settings.OWABI_RESOLVE_PART_RECORDS records, or one part where a part is larger). A part must hold
every record a rule may look at when it decides about any of its records, so that each rule, run on the
part alone, decides as it would on the whole incident. Which records a rule looks at, rule by rule:

Subjects (`clustering_parts`):
- clusters.link: the scored pairs (at or above REVIEW_THRESHOLD: the sure ones, the review queue and
  the undated bridges) and the reviewers' "same". A reviewer's "different" only keeps apart what those
  would join, so it is met within a part.
- clusters.join_placeholders and join_unborn: a pre-birth row and every row sharing its phone or address
  (join_unborn counts the rows behind a phone or address: all of them are in the part), and the
  subjects that name a guardian as the pre-birth rows of its home do (the written name or the reading,
  in either column), were born near one of their due dates and share a postal district, an e-mail
  address or a card with the home's rows (_guardian_links).
- clusters.join_born_elsewhere: a pre-birth row and every dated row of its postal code born near its
  due date whose family name it may weigh: unknown, or a guardian's of its home (`_of_the_family`; its
  phone is linked as above).
- clusters.join_grown: a name (or reading) is unique when no third subject in the incident holds it.
  Subjects lie within the parts above ("base parts"); a written name held in exactly two base parts
  links them where join_grown could join by it (a childhood row in one, an undated own row in the other,
  a postal district in both: `_name_links`). Then each record carries whether its name and its reading
  are held by a named row of another part (`_held_elsewhere`), passed to join_grown as held elsewhere:
  a subject beyond the batch holds it, so it joins nothing there.
- clusters.join_read_alike: a named row of a birth date and every row of that date sharing its phone,
  e-mail, address or postal code (it joins two subjects only where no third shares such a value).

Recipients (`recipient_parts`), once the subjects are known: a subject's records, and the subjects
sharing a phone, e-mail or address (recipients.assign_recipients keys them by a name with the contact;
the maiden-name fallback by the home's phone or address alone), or a card's digits with a written name
(a guardian's or the subject's own) of one of their records. One child listed once
(children.one_subject_per_child) looks only within one recipient.

Parts are connected components over packed arrays (numpy, which Splink brings): 8 bytes a record and a
link, never a Python object per record. A phone or address shared by thousands of rows (a switchboard)
makes one large part: correct, only slower, and its batch larger than the setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from owabi.records.ondisk import whole
from owabi.records.resolve.households import (
    CONTACT_KINDS,
    HOME_KINDS,
    HOUSEHOLD_TOKEN_LIMIT,
    READ_ALIKE_KINDS,
)
from owabi.records.resolve.union_find import (
    components,
    crossed,
    grouped_links,
    merged,
    shared_codes,
    value_codes,
)

Int64s = Any  # a numpy int64 array; numpy's generic annotations add nothing here


def _value_links(values: Any, rows: Any, wanted: Any = None) -> tuple[Int64s, Int64s]:
    """Links from each row holding a value to the smallest row holding it (`values` an Arrow array per
    row of `rows`; `wanted`: only these values)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    code, _ = value_codes(values)
    if wanted is not None:
        code[~_bools(pc.is_in(values, value_set=wanted))] = -1
    return grouped_links(code, _numpy(rows) if isinstance(rows, pa.Array | pa.ChunkedArray) else rows)


def _numpy(column: Any) -> Int64s:
    return np.asarray(whole(column)).astype(np.int64, copy=False)


def _placeholder_links(table: Any, placeholder: Any, scored: Int64s) -> list[tuple[Int64s, Int64s]]:
    """A pre-birth row to every row sharing its phone or address; to the parts of the scored pairs (at or
    above REVIEW_THRESHOLD) and reviewers' "same" that name a guardian of its home's pre-birth rows and
    hold a birth near one of their due dates (_guardian_links); and to the rows its join_born_elsewhere
    may look at (_born_then_links, of those the ones _of_the_family keeps).
    `scored`: per record, its part under the scored pairs and the reviewers' "same" alone."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    rows = pa.array(np.arange(n, dtype=np.int64))
    if not pc.any(placeholder).as_py():
        return []
    links = [_guardian_links(table, placeholder, scored)]
    for kind in HOME_KINDS:
        column = whole(table.column(kind))
        homes = pc.unique(column.filter(placeholder).drop_null())
        links.append(_value_links(column, rows, homes))
    home = scored
    for kind_left, kind_right in links:
        home = merged(home, kind_left, kind_right)
    links.append(_of_the_family(table, placeholder, home, _born_then_links(table, placeholder, rows)))
    return links


def _days(iso: Any) -> Any:
    """ISO dates (Arrow strings) as days since 1970 (int32); null where not a date."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parsed = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
    return pc.cast(pc.cast(parsed, pa.date32()), pa.int32())


def _swapped(dob: Any) -> Any:
    """ISO dates with month and day swapped (null or not a date where that is no date)."""
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(dob, 0, 5),
        pc.utf8_slice_codeunits(dob, 8, 10),
        pc.utf8_slice_codeunits(dob, 4, 7),
        "",
    )


def _home_values(table: Any, kind: str, picked: Any) -> Any:
    """The pre-birth rows' phones (addresses), where the value is on at most HOUSEHOLD_TOKEN_LIMIT rows of
    the incident: join_unborn makes a pregnancy only through those (a school's or a clinic's number
    makes none), and a switchboard held by thousands of pre-birth rows must not make one home of them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = whole(table.column(kind))
    values = column.take(picked)
    held = pc.unique(values.drop_null())
    counted = pc.value_counts(column.filter(pc.fill_null(pc.is_in(column, value_set=held), False)))
    crowded = counted.field("values").filter(pc.greater(counted.field("counts"), HOUSEHOLD_TOKEN_LIMIT))
    return pc.if_else(pc.is_in(values, value_set=crowded), pa.scalar(None, values.type), values)


def _guardian_links(table: Any, placeholder: Any, scored: Int64s) -> tuple[Int64s, Int64s]:
    """clusters.join_placeholders and join_unborn look, for a pre-birth row, at the subjects whose rows
    name its guardian (either column, either form) and were born within PLACEHOLDER_WINDOW of its due
    date (join_unborn: of any due date of its pregnancy, as written or month and day swapped, and by
    any guardian name of it). A superset, so that each decides as on the whole incident: the pre-birth
    rows sharing a phone or an address held by at most HOUSEHOLD_TOKEN_LIMIT rows make a home (a
    pregnancy lies within one: join_unborn uses no other value); each home's rows link
    to every part of `scored` (a subject lies within one) that has a row naming one of the home's
    guardians, a birth date (or its swap) in a window-wide bucket next to one of the home's due dates,
    and a postal district, e-mail address or card of the home's rows (the rules look no further: a
    child sharing the home's phone or address is linked through it).

    Linking every row that names the guardian instead made one part of 27 % of the incident at a
    million records: common guardians' names (サトウ ケイコ) across the country, chained through the
    children born near a due date in a postal code (docs/performance.md, "Scale")."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from owabi.records.resolve.clusters import PLACEHOLDER_WINDOW

    width = PLACEHOLDER_WINDOW.days + 1
    placeholder = whole(placeholder)
    due = _days(whole(table.column("due")).cast(pa.string()))
    wanted = pc.and_(placeholder, pc.is_valid(due))
    pregnant = np.flatnonzero(_bools(wanted))
    if len(pregnant) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    picked = pa.array(pregnant)
    local = pa.array(np.arange(len(pregnant), dtype=np.int64))
    home_values = {kind: _home_values(table, kind, picked) for kind in HOME_KINDS}
    home_links = [_value_links(values, local) for values in home_values.values()]
    home = pregnant[components(len(pregnant), *_joined(home_links))]  # per pre-birth row, its home's first
    guardian_columns = ("guardian_fold", "guardian_kana")
    home_guardians = pa.concat_tables(
        [
            pa.table({"home": home, "value": whole(table.column(c)).cast(pa.string()).take(picked)})
            for c in guardian_columns
        ]
    )
    home_guardians = home_guardians.filter(pc.is_valid(home_guardians.column("value")))
    bucket = pc.divide(due.take(picked), width)
    home_buckets = pa.concat_tables(
        [pa.table({"home": home, "bucket": pc.add(bucket, shift)}) for shift in (-1, 0, 1)]
    )
    wanted_keys = home_guardians.join(home_buckets, "home", join_type="inner")
    wanted_keys = wanted_keys.group_by(["home", "value", "bucket"]).aggregate([])

    named = pc.invert(placeholder)
    part = pa.array(scored)
    carried = pa.concat_tables(
        [
            pa.table({"value": whole(table.column(c)).cast(pa.string()), "part": part})
            for c in guardian_columns
        ]
    )
    guardians_wanted = pc.unique(wanted_keys.column("value").combine_chunks())
    of_wanted = pc.fill_null(pc.is_in(carried.column("value"), value_set=guardians_wanted), False)
    carried = carried.filter(pc.and_(pa.concat_arrays([named, named]), of_wanted))
    carried = carried.group_by(["value", "part"]).aggregate([])
    # Birth dates only of the named rows in the parts found: parsed for a few, not for the incident.
    chosen = pc.and_(named, pc.is_in(part, value_set=carried.column("part").combine_chunks()))
    dob = whole(table.column("dob")).cast(pa.string()).filter(chosen)
    of_part = part.filter(chosen)
    born = pa.concat_tables(
        [pa.table({"part": of_part, "born": _days(value)}) for value in (dob, _swapped(dob))]
    )
    born = born.filter(pc.is_valid(born.column("born")))
    born = pa.table({"part": born.column("part"), "bucket": pc.divide(born.column("born"), width)})
    keyed = carried.join(born.group_by(["part", "bucket"]).aggregate([]), "part", join_type="inner")
    linked = wanted_keys.join(keyed, ["value", "bucket"], join_type="inner").group_by(["home", "part"])
    linked = linked.aggregate([])
    # ... and that has a place of the home's: a postal district, an e-mail address or a card (the
    # phones and addresses are linked whole, above).
    home_places = pa.concat_tables(
        [_places(table, picked, pa.array(home), "home"), *_home_districts(table, home_values, home)]
    )
    in_linked = pc.is_in(part, value_set=pc.unique(linked.column("part").combine_chunks()))
    rows = pa.array(np.flatnonzero(np.asarray(pc.and_(named, in_linked).to_numpy(zero_copy_only=False))))
    part_places = _places(table, rows, part.take(rows), "part")
    linked = linked.join(home_places, "home", join_type="inner")
    linked = linked.join(part_places, ["part", "place"], join_type="inner").group_by(["home", "part"])
    linked = linked.aggregate([])
    return _numpy(linked.column("home")), _numpy(linked.column("part"))


def _home_districts(table: Any, home_values: dict[str, Any], home: Int64s) -> list[Any]:
    """(home, place) for the postal districts of the rows at each home's phones and addresses (those on
    at most HOUSEHOLD_TOKEN_LIMIT rows): join_unborn's pregnancy lives where its home's rows do."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = []
    for kind, values in home_values.items():
        of_home = pa.table({"value": values, "home": home}).filter(pc.is_valid(values))
        if of_home.num_rows == 0:
            continue
        column = whole(table.column(kind))
        there = pc.fill_null(pc.is_in(column, value_set=pc.unique(of_home.column("value"))), False)
        rows = pa.array(np.flatnonzero(np.asarray(there.to_numpy(zero_copy_only=False))))
        places = _places(table, rows, column.take(rows), "value", kinds=("d",))
        joined = of_home.join(places, "value", join_type="inner").select(["home", "place"])
        found.append(joined.group_by(["home", "place"]).aggregate([]))
    return found


def _districts(postal: Any) -> Any:
    """clusters.district over an Arrow string column: the first three digits, null for none or 000."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from owabi.records.resolve.clusters import NO_DISTRICT

    districts = pc.utf8_slice_codeunits(postal, 0, 3)
    return pc.if_else(pc.equal(districts, NO_DISTRICT), pa.scalar(None, pa.string()), districts)


def _places(table: Any, rows: Any, owner: Any, name: str, kinds: tuple[str, ...] = ("d", "e", "c")) -> Any:
    """(owner, place) for `rows`: each row's postal district (clusters.district: none for 000), e-mail
    address and card digits (households.contact_tokens), tagged by kind ("d", "e", "c"), distinct."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def taken(column: str) -> Any:
        return whole(table.column(column)).take(rows).cast(pa.string())

    districts = _districts(taken("postal"))
    columns = {"d": lambda: districts, "e": lambda: taken("email"), "c": lambda: taken("card_last4")}
    places = pa.concat_tables(
        [
            pa.table(
                {name: owner, "place": pc.binary_join_element_wise(pa.scalar(kind), columns[kind](), "\x1f")}
            )
            for kind in kinds
        ]
    )
    return places.filter(pc.is_valid(places.column("place"))).group_by([name, "place"]).aggregate([])


def _born_then_links(table: Any, placeholder: Any, rows: Any) -> tuple[Int64s, Int64s]:
    """clusters.join_born_elsewhere: a pre-birth row to every dated row of its postal code born, as
    written or with month and day swapped, within two window-wide buckets of its due date (up to
    2 * PLACEHOLDER_WINDOW + 1 days): the rule finds a pregnancy through one row's postal code and the
    bucket of that row's due date, one either side, and then weighs the birth against every due date of
    the pregnancy (another of its rows may be due nearer). A superset of the rows it may join; the family
    name is compared by _of_the_family. Its phone is linked above already. Joined on (postal code,
    bucket), so a crowded postal code is not paired whole."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from owabi.records.resolve.clusters import PLACEHOLDER_WINDOW

    width = PLACEHOLDER_WINDOW.days + 1
    code, _ = value_codes(table.column("postal"))  # joined as numbers: no copy of the strings
    postal = pa.array(code, mask=code < 0)
    due = _days(whole(table.column("due")).cast(pa.string()))
    wanted = pc.and_(pc.and_(placeholder, pc.is_valid(postal)), pc.is_valid(due))
    if not pc.any(wanted).as_py():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pregnancy = pa.table({"postal": postal, "due": due, "row": rows}).filter(wanted)
    bucket = pc.divide(pregnancy.column("due"), width)
    pregnancy = pa.concat_tables(
        [pregnancy.append_column("bucket", pc.add(bucket, shift)) for shift in (-2, -1, 0, 1, 2)]
    )
    dob = whole(table.column("dob")).cast(pa.string())
    swapped = _swapped(dob)
    named = pc.and_(pc.invert(placeholder), pc.is_valid(postal))
    born = pa.concat_tables(
        [
            pa.table({"postal": postal, "born": _days(value), "child": rows}).filter(named)
            for value in (dob, swapped)
        ]
    )
    born = born.filter(pc.is_valid(born.column("born")))
    born = born.append_column("bucket", pc.divide(born.column("born"), width))
    # The pre-birth rows, few, are the joined (hashed) side; the dated rows, many, are looked up in them.
    pairs = born.join(pregnancy, ["postal", "bucket"], join_type="inner")
    gap = pc.abs(pc.subtract(pairs.column("born"), pairs.column("due")))
    pairs = pairs.filter(pc.less_equal(gap, 2 * width - 1))
    return _numpy(pairs.column("row")), _numpy(pairs.column("child"))


def _of_the_family(
    table: Any, placeholder: Any, home: Int64s, pairs: tuple[Int64s, Int64s]
) -> tuple[Int64s, Int64s]:
    """Of _born_then_links' (pre-birth row, dated row) pairs, those join_born_elsewhere may count: it
    weighs, for a pregnancy, only the subjects born then at its place whose family name is unknown (no row
    of the subject splits its name) or is one of its guardians' (clusters.family_parts and
    guardian_family_parts, tagged written or read). `home`: per record, its part under the scored pairs,
    the reviewers' "same", the guardian links and the pre-birth rows' phones and addresses; a pregnancy's
    rows lie within one such part (they join one another only through those), and so do a subject's named
    rows at that step. Kept: the dated row splits no name, or a guardian's family name of the pre-birth
    rows of the first's part is a family name of the named rows of the second's (a superset).

    Every child born near a due date in the pregnancy's postal code instead made, with the homes' links,
    one part of 659,509 of the 5M records: children of other families chained pregnancies' homes
    together as the incident grew denser (about ten such children a pregnancy at 5M;
    docs/performance.md, "The 5M parts, measured link kind by kind")."""
    import pyarrow as pa

    from owabi.records.resolve.clusters import family_parts, guardian_family_parts

    pregnant, child = pairs
    if len(pregnant) == 0:
        return pairs
    is_placeholder = _bools(placeholder)

    def parts_of(rows: Int64s, columns: tuple[str, ...], parts: Any) -> tuple[list[int], list[str]]:
        taken = table.take(pa.array(rows))
        col = {c: taken.column(c).to_pylist() for c in columns}
        owners, values = [], []
        for k, row in enumerate(rows.tolist()):
            for kind, value in parts(col, k):
                owners.append(row)
                values.append(f"{kind}\x1f{value}")
        return owners, values

    guardians = np.flatnonzero(is_placeholder & np.isin(home, np.unique(home[pregnant])))
    owners, values = parts_of(
        guardians,
        ("guardian_fold", "guardian_given_name", "guardian_kana", "guardian_given_kana"),
        guardian_family_parts,
    )
    of_home = pa.table({"home": home[np.asarray(owners, np.int64)], "family": pa.array(values, pa.string())})
    named = np.flatnonzero(~is_placeholder & np.isin(home, np.unique(home[child])))
    owners, values = parts_of(named, ("name_fold", "given_name", "kana_key", "given_kana"), family_parts)
    split = np.zeros(len(home), dtype=bool)
    split[np.asarray(owners, np.int64)] = True
    of_named = pa.table({"home": home[np.asarray(owners, np.int64)], "family": pa.array(values, pa.string())})
    # Pair by pair (a family name is held by thousands of homes: joined on it alone, they multiply).
    found = pa.table({"home": home[pregnant], "home_child": home[child], "pair": np.arange(len(pregnant))})
    found = found.join(of_home.group_by(["home", "family"]).aggregate([]), "home", join_type="inner")
    of_named = of_named.group_by(["home", "family"]).aggregate([])
    found = found.join(of_named, ["home_child", "family"], right_keys=["home", "family"], join_type="inner")
    keep = ~split[child]
    keep[_numpy(found.column("pair"))] = True
    return pregnant[keep], child[keep]


def _birth_home_links(table: Any, placeholder: Any) -> list[tuple[Int64s, Int64s]]:
    """clusters.join_read_alike: named rows of one birth date sharing a phone, e-mail, address or postal
    code (READ_ALIKE_KINDS), each to the first such row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    rows = np.arange(n, dtype=np.int64)
    named = pc.and_(pc.invert(placeholder), pc.is_valid(table.column("name_fold")))
    dob, _ = value_codes(pc.if_else(named, table.column("dob"), pa.scalar(None, table.column("dob").type)))
    links = []
    for kind in READ_ALIKE_KINDS:
        value, distinct = value_codes(table.column(kind))
        # (birth date, value) as one number: equal exactly where both are.
        key = np.where((dob >= 0) & (value >= 0), dob * distinct + value, -1)
        links.append(grouped_links(key, rows))
    return links


def _present(table: Any, column: str) -> Any:
    """Per record, whether it has a value in `column` (clusters' rules treat an empty value as none)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = whole(table.column(column)).cast(pa.string())
    return pc.fill_null(pc.greater(pc.utf8_length(values), 0), False)


def _name_links(table: Any, named: Any, base: Int64s) -> tuple[Int64s, Int64s]:
    """join_grown's names: links between the two base parts holding a written name that exactly two hold,
    where join_grown could join a subject of one to a subject of the other by it: one part has a row of
    the name naming a guardian (a childhood row), the other a row of it naming none and giving no birth
    date (an own row), and a postal district is held by named rows of both (a superset of join_grown's
    conditions on the subjects, which lie within the parts).

    Linking every name (and reading) held by two parts linked strangers of one name, more of them the
    larger the incident: 922 name links at 5M where 15 are needed (docs/performance.md, "The 5M parts,
    measured link kind by kind"). The readings need no link: `_held_elsewhere` tells each batch which
    readings a subject beyond it holds, which is all join_grown asks of them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    none = np.empty(0, np.int64), np.empty(0, np.int64)
    n = len(base)
    base = np.asarray(base, np.int64)
    guardian = _bools(pc.or_(_present(table, "guardian_fold"), _present(table, "guardian_kana")))
    own = ~guardian & ~_bools(_present(table, "dob"))
    named = _bools(named)
    code, _ = value_codes(table.column("name_fold"))
    counted = named & (code >= 0)
    # Each (name, part) once, in that order, with whether a row of it names a guardian (a childhood row)
    # and whether one names none and gives no birth date (an own row).
    key = code[counted] * n + base[counted]
    order = np.argsort(key, kind="stable")
    key = key[order]
    if len(key) == 0:
        return none
    first = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    child = np.logical_or.reduceat(guardian[counted][order], first)
    grown = np.logical_or.reduceat(own[counted][order], first)
    value, part = np.divmod(key[first], n)
    # A name two parts hold: its two (name, part) entries are neighbours, the smaller part first.
    held_twice = np.flatnonzero(np.bincount(value)[value] == 2)
    one, other = held_twice[0::2], held_twice[1::2]
    pairs = np.concatenate(
        [
            np.stack([part[one], part[other]])[:, child[one] & grown[other]],
            np.stack([part[other], part[one]])[:, child[other] & grown[one]],
        ],
        axis=1,
    )
    if pairs.shape[1] == 0:
        return none
    # ... and the two parts hold a postal district in common (on named rows).
    district, districts = value_codes(_districts(whole(table.column("postal")).cast(pa.string())))
    width = max(districts, 1)
    placed = named & (district >= 0)
    held = np.unique(base[placed] * width + district[placed])  # (part, district), by part
    held_part = held // width
    pair, position = crossed(held_part, pairs[0])  # each pair once per district of its first part
    wanted = pairs[1][pair] * width + held[position] % width
    met = np.isin(wanted, held)
    linked = np.unique(pairs[0][pair[met]] * n + pairs[1][pair[met]])
    return np.divmod(linked, n)


def _bools(values: Any) -> Any:
    """An Arrow boolean column as numpy booleans (null: False)."""
    import pyarrow.compute as pc

    return np.asarray(pc.fill_null(whole(values), False).to_numpy(zero_copy_only=False), dtype=bool)


def _held_elsewhere(table: Any, named: Any, label: Int64s, column: str) -> Any:
    """Per record, whether its value in `column` (a written name, a reading) is held by named rows of two
    parts or more: join_grown's "no third subject holds it", for the subjects beyond a batch. For a
    named row that is "held by another part"; a row join_grown does not count (a pre-birth row) may be
    flagged for a value held elsewhere twice, which only says what is true of the value."""
    import pyarrow as pa

    code, distinct = value_codes(table.column(column))
    counted = (code >= 0) & _bools(named)
    # Each (value, part) once, then the parts per value: numbers sorted, not strings grouped.
    held = np.unique(code[counted] * len(label) + np.asarray(label, np.int64)[counted])
    shared = np.bincount(held // len(label), minlength=distinct) > 1
    crowded = np.zeros(len(code), dtype=bool)
    crowded[code >= 0] = shared[code[code >= 0]]  # a column of no values (no readings at all) has none
    return pa.array(crowded)


class ClusteringParts:
    """Per record, its part (the smallest record of it), and whether its name and its reading are held
    by a named row of another part (`crowded_name`, `crowded_reading`: Arrow booleans)."""

    def __init__(self, label: Int64s, crowded_name: Any, crowded_reading: Any) -> None:
        self.label = label
        self.crowded_name = crowded_name
        self.crowded_reading = crowded_reading


def clustering_parts(
    table: Any, placeholder: Any, left: Int64s, right: Int64s, same: set[tuple[int, int]]
) -> ClusteringParts:
    """The parts for the subject steps (clusters.link, join_placeholders, join_unborn, join_grown).
    `table`: the kept feature columns, one row per record; `placeholder`: Arrow booleans; `left`,
    `right`: the scored pairs' records; `same`: the reviewers' "same" pairs."""
    import pyarrow.compute as pc

    n = table.num_rows
    same_left = np.fromiter((a for a, _ in same), np.int64, len(same))
    same_right = np.fromiter((b for _, b in same), np.int64, len(same))
    scored = merged(components(n, left, right), same_left, same_right)
    # Each kind of link joins the components so far (union_find.merged), not all kinds concatenated.
    base = scored
    for kind_left, kind_right in _placeholder_links(table, placeholder, scored):
        base = merged(base, kind_left, kind_right)
    for kind_left, kind_right in _birth_home_links(table, placeholder):
        base = merged(base, kind_left, kind_right)
    # The rows join_grown counts: named, not a pre-birth placeholder.
    named = pc.and_(pc.invert(placeholder), _present(table, "name_fold"))
    label = merged(base, *_name_links(table, named, base))
    return ClusteringParts(
        label,
        _held_elsewhere(table, named, label, "name_fold"),
        _held_elsewhere(table, named, label, "kana_key"),
    )


def recipient_parts(table: Any, subject: Int64s) -> Int64s:
    """The parts for the recipient steps: per record, the smallest record of its part. `subject`: per
    record, the smallest record of its subject."""
    import pyarrow as pa

    n = table.num_rows
    rows = pa.array(np.arange(n, dtype=np.int64))
    label = np.asarray(subject, dtype=np.int64)  # a subject's records are one part
    for kind in CONTACT_KINDS:
        if kind != "card_last4":
            label = merged(label, *_value_links(whole(table.column(kind)), rows))
    return merged(label, *_name_card_links(table, subject))


def _name_card_links(table: Any, subject: Int64s) -> tuple[Int64s, Int64s]:
    """A card's digits link subjects only with a written name (a guardian's or the subject's own): each
    subject to the smallest subject holding one (name, card), the name on any of its records and the
    card on any. In numbers, not strings: the (subject, card) and (subject, name) pairs as codes, crossed
    per subject (Arrow's group_by and join of the strings held 0.84 GiB at 5M records)."""
    subject = np.asarray(subject, dtype=np.int64)
    none = np.empty(0, np.int64), np.empty(0, np.int64)
    [card], cards = shared_codes(table.column("card_last4"))
    held = card >= 0
    if not held.any():
        return none
    with_card = np.unique(subject[held] * cards + card[held])  # ordered by subject
    card_subject, card = np.divmod(with_card, cards)
    name_codes, names = shared_codes(table.column("name_fold"), table.column("guardian_fold"))
    if names == 0:
        return none
    named = np.unique(np.concatenate([subject[code >= 0] * names + code[code >= 0] for code in name_codes]))
    name_subject, name = np.divmod(named, names)
    pair, position = crossed(name_subject, card_subject)  # each (subject, card) once per name of it
    key = name[position] * cards + card[pair]
    return grouped_links(key, card_subject[pair])


def _joined(links: list[tuple[Int64s, Int64s]]) -> tuple[Int64s, Int64s]:
    return (
        np.concatenate([np.asarray(a, np.int64) for a, _ in links]),
        np.concatenate([np.asarray(b, np.int64) for _, b in links]),
    )


def batches(label: Int64s, limit: int) -> Iterator[Int64s]:
    """The records (ascending) of consecutive parts, in the order of their smallest record, gathered
    until a batch would pass `limit` records; a part larger than `limit` is a batch of its own."""
    order = np.argsort(label, kind="stable")
    ordered = label[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], len(order))
    begin = 0
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if end - begin > limit and start > begin:
            yield np.sort(order[begin:start])
            begin = start
    if begin < len(order):
        yield np.sort(order[begin:])
