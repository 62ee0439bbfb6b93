"""The model's u for name-and-birth-date agreement comes from the incident's own frequencies."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pyarrow as pa
import pytest

from owabi.records import resolve_model


def test_collision_rate_is_the_chance_two_filled_rows_agree() -> None:
    column = pa.array(["a", "a", "b", None, "c", None])  # 4 filled rows: 6 pairs, 1 agrees
    assert resolve_model.collision_rate(column) == pytest.approx(1 / 6)
    assert resolve_model.collision_rate(pa.array(["x", "y", "z"], pa.string())) == 0.0
    assert resolve_model.collision_rate(pa.array([None, "x"], pa.string())) == 1.0  # too few to know


def _table(names: list[str], dobs: list[str]) -> pa.Table:
    return pa.table({"name_key": names, "dob": dobs})


def test_person_caps_follow_the_incident_and_never_exceed_the_fixed_caps() -> None:
    # A large, varied incident: each name twice, each birth date four times.
    n = 40_000
    table = _table([f"name{i % 20_000}" for i in range(n)], [f"d{i % 10_000}" for i in range(n)])
    caps = resolve_model.person_caps(table)
    exact = caps[("person", "same name, same birth date")]
    name = resolve_model.collision_rate(table.column("name_key"))
    dob = resolve_model.collision_rate(table.column("dob"))
    assert exact == pytest.approx(name * dob * resolve_model.COHORT_ALLOWANCE)
    assert exact < resolve_model.U_CAPS[("person", "same name, same birth date")]
    typo = caps[("person", "same name, birth date with a typo")]
    fixed_typo = resolve_model.U_CAPS[("person", "same name, birth date with a typo")]
    assert typo == pytest.approx(min(fixed_typo, exact * resolve_model.DOB_TYPO_NEIGHBOURS))

    # A tiny incident where everyone shares a name and a date: the fixed caps rule.
    crowded = resolve_model.person_caps(_table(["same"] * 10, ["d"] * 10))
    assert crowded == {key: resolve_model.U_CAPS[key] for key in crowded}

    # All different: the estimate is zero, the floor keeps a finite weight.
    distinct = resolve_model.person_caps(_table([f"n{i}" for i in range(n)], [f"d{i}" for i in range(n)]))
    assert min(distinct.values()) == resolve_model.PERSON_U_FLOOR


def test_adjust_u_applies_incident_caps_over_the_fixed_ones() -> None:
    model = {
        "comparisons": [
            {
                "output_column_name": "person",
                "comparison_levels": [
                    {"label_for_charts": "same name, same birth date", "u_probability": 5e-7},
                    {"label_for_charts": "different names", "u_probability": 0.9},
                ],
            }
        ]
    }
    adjusted = resolve_model.adjust_u(
        model, records=1000, caps={("person", "same name, same birth date"): 2e-9}
    )
    levels = adjusted["comparisons"][0]["comparison_levels"]
    assert levels[0]["u_probability"] == 2e-9 and levels[1]["u_probability"] == 0.9


def _evaluate(sql: str, rows: list[dict[str, str | None]]) -> list[bool | None]:
    import duckdb

    connection = duckdb.connect(":memory:")
    connection.register("pairs", pa.Table.from_pylist(rows))
    return [row[0] for row in connection.execute(f"SELECT {sql} FROM pairs").fetchall()]


def test_a_birth_date_one_edit_away_is_near_and_two_edits_are_not() -> None:
    dates = [
        ("1980-05-17", "1980-05-18", True),  # one digit
        ("1980-05-17", "1980-05-71", True),  # two adjacent digits swapped
        ("1980-05-17", "1908-05-17", True),  # idem, in the year
        ("1980-05-17", "1980-17-05", True),  # month and day swapped
        ("1980-05-17", "1980-06-18", False),  # two digits, not a swap
        ("1980-05-17", "1981-05-71", False),  # a digit and a swap
        ("1980-05-17", "1990-07-17", False),
    ]
    rows = [{"dob_l": a, "dob_r": b} for a, b, _ in dates] + [{"dob_l": "1980-05-17", "dob_r": None}]
    near = _evaluate(resolve_model.DOB_NEAR, rows)
    assert near[:-1] == [expected for _, _, expected in dates]
    assert near[-1] is None  # a missing date is neither near nor far: the level for that comes first
    # The cheap form gives what the full Damerau-Levenshtein distance gives.
    full = _evaluate(f'({resolve_model.DOB_SWAP} OR damerau_levenshtein("dob_l", "dob_r") <= 1)', rows)
    assert near == full
    # The Python form, for rules applied after scoring, says the same (and a date is near itself).
    assert [resolve_model.dob_near(a, b) for a, b, _ in dates] == near[:-1]
    assert resolve_model.dob_near("1980-05-17", "1980-05-17")


def test_the_python_and_sql_birth_date_rules_agree_on_many_pairs() -> None:
    rng = random.Random(7)
    base = date(2000, 1, 1)
    rows = []
    for _ in range(2000):
        a = (base + timedelta(days=rng.randrange(9000))).isoformat()
        b = list(a)
        for _ in range(rng.choice((1, 1, 2))):  # one or two digits changed or swapped
            i = rng.choice((0, 1, 2, 3, 5, 6, 8, 9))
            if rng.random() < 0.5 and i + 1 < 10 and b[i + 1] != "-":
                b[i], b[i + 1] = b[i + 1], b[i]
            else:
                b[i] = str(rng.randrange(10))
        rows.append({"dob_l": a, "dob_r": "".join(b)})
    sql = _evaluate(f"({resolve_model.DOB_EXACT} OR {resolve_model.DOB_NEAR})", rows)
    assert [resolve_model.dob_near(row["dob_l"], row["dob_r"]) for row in rows] == sql
    assert 0 < sum(sql) < len(sql)


def test_the_python_and_sql_close_birth_date_rules_agree_on_many_pairs() -> None:
    rng = random.Random(11)
    base = date(1910, 1, 1)  # era slips reach back to 大正 (1912-1926)
    rows = []
    while len(rows) < 3000:
        a = base + timedelta(days=rng.randrange(40000))
        kind = rng.randrange(4)
        if kind == 0:  # a few days either side
            b = (a + timedelta(days=rng.randint(-6, 6))).isoformat()
        elif kind == 1:  # the month or the year moved (a year off, or keyed in the neighbouring era)
            year = a.year + rng.choice((-63, -30, -15, -14, -2, -1, 0, 1, 2, 14, 29, 30, 63))
            month = a.month + rng.randint(-2, 2)
            b = f"{year:04d}-{month:02d}-{a.day:02d}"
        else:  # a digit changed, or anything
            text = list(a.isoformat())
            text[rng.choice((2, 3, 5, 6, 8, 9))] = str(rng.randrange(10))
            b = "".join(text) if kind == 2 else (base + timedelta(days=rng.randrange(25000))).isoformat()
        try:
            date.fromisoformat(b)
        except ValueError:
            continue
        rows.append({"dob_l": a.isoformat(), "dob_r": b})
    test = f"({resolve_model.DOB_EXACT} OR {resolve_model.DOB_NEAR} OR {resolve_model.DOB_CLOSE})"
    sql = _evaluate(test, rows)
    assert [resolve_model.dob_close(row["dob_l"], row["dob_r"]) for row in rows] == sql
    assert 0 < sum(sql) < len(sql)
    # Gaps of an era slip's size were drawn inside and outside the eras' years: both outcomes occur.
    slips = {
        (abs(int(row["dob_l"][:4]) - int(row["dob_r"][:4])), close)
        for row, close in zip(rows, sql, strict=True)
        if row["dob_l"][4:] == row["dob_r"][4:]
    }
    assert {(14, True), (14, False), (30, True), (30, False), (63, True), (63, False)} <= slips


def test_the_gate_treats_a_test_on_a_missing_field_as_failed() -> None:
    # A gate must be a plain true/false: a NULL test (a missing reading) would otherwise skip the level.
    rows = [
        {"x": "a", "y": "a"},  # agrees
        {"x": "a", "y": "b"},  # differs
        {"x": "a", "y": None},  # unknown
    ]
    test = '"x" = "y"'
    assert _evaluate(resolve_model._true(test), rows) == [True, False, False]
    assert _evaluate(resolve_model._not_true(test), rows) == [False, True, True]


def test_households_follow_chains_of_shared_contact_but_not_crowded_values() -> None:
    from owabi.records.resolve.households import HOUSEHOLD_TOKEN_LIMIT, households

    # 0 and 1 share an address, 1 and 2 a phone, 2 and 3 an e-mail: one household through the chain.
    # 4 shares nothing. 5.. share one "phone" held by more rows than a home has: it links nobody.
    crowd = HOUSEHOLD_TOKEN_LIMIT + 1
    phone = [None, "p1", "p1", None, "p9", *["switchboard"] * crowd]
    email = [None, None, "e1", "e1", None, *[None] * crowd]
    address = ["a1", "a1", None, None, "a9", *[None] * crowd]
    result = households(pa.table({"phone": phone, "email": email, "address_key": address})).tolist()
    assert result[:5] == [0, 0, 0, 0, 4]  # named by the smallest row of the household
    assert result[5:] == list(range(5, 5 + crowd))
    # The same rows in another order form the same households.
    order = [3, 2, 1, 0]
    shuffled = {"phone": phone, "email": email, "address_key": address}
    again = households(pa.table({name: [values[i] for i in order] for name, values in shuffled.items()}))
    assert len(set(again)) == 1
