"""Who is a minor (DESIGN.md §4.2): under ADULT_AGE on the notice date. The one place that says so."""

from __future__ import annotations

from datetime import date

ADULT_AGE = 18  # Japan's age of majority since 2022-04-01


def age_on(birth: date, day: date) -> int:
    """Full years of a person born on `birth`, on `day` (one born on 29 February ages on 1 March)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def is_minor(birth: date, on: date) -> bool:
    return age_on(birth, on) < ADULT_AGE


def minor_cutoff(on: date) -> str:
    """Born after this ISO date = a minor on `on`: the same rule as is_minor, as a date SQL can compare."""
    try:
        return on.replace(year=on.year - ADULT_AGE).isoformat()
    except ValueError:  # 29 February: those born on 28 February have had their birthday
        return on.replace(year=on.year - ADULT_AGE, day=28).isoformat()
