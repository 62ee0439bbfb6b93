"""Reporting deadlines as pure functions of the day (or moment) the company knew.

The rules live in `regimes.toml`. A day-counted clock is given under both counting conventions: the
day of knowledge as day 1 (what PPC-facing tools do) and not counted (民法140条 初日不算入, one day
later). Each due day says why an office would be closed on it (weekend, a holiday by jpholiday, the
year-end closure) and the next open day; the earlier date is the one we work to, and its end (midnight,
in the regime's time zone) is the moment the dashboard counts down to.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jpholiday

RULES = Path(__file__).with_name("regimes.toml")
DAY1 = "day1"  # the day of knowledge is day 1
EXCLUDED = "excluded"  # the day of knowledge is not counted (初日不算入)
CONVENTIONS = {DAY1: "知った日を1日目とする", EXCLUDED: "初日不算入（民法140条）"}
WEEKDAYS = "月火水木金土日"
YEAR_END = (("12-29", "01-03"),)  # 年末年始, as regimes.toml gives it for the APPI


@lru_cache(maxsize=1)
def regimes() -> dict[str, dict[str, Any]]:
    with RULES.open("rb") as handle:
        return dict(tomllib.load(handle)["regimes"])


def regime(key: str) -> dict[str, Any]:
    """The rules of one regime; KeyError for one not in regimes.toml."""
    return regimes()[key]


def stage_key(regime_key: str, name: str) -> str:
    """A clock's key from its key or an alias (`sokuho` -> `preliminary`); ValueError for neither."""
    for clock in regime(regime_key)["clocks"]:
        if name == clock["key"] or name in clock.get("aliases", []):
            return str(clock["key"])
    raise ValueError(f"no stage {name!r} in {regime_key}")


@dataclass(frozen=True)
class DueDay:
    convention: str  # DAY1 or EXCLUDED
    on: date
    closed: tuple[str, ...]  # why offices are closed that day: 土曜日, 成人の日, 年末年始; empty if open
    next_open: date  # `on` itself when open


@dataclass(frozen=True)
class Clock:
    regime: str
    key: str  # preliminary, final, notification …
    label: str
    label_en: str
    kind: str  # "target" (a guideline's aim) or "deadline" (the law's limit)
    basis: str  # what the period is, e.g. "3〜5日", "60日（不正の目的のおそれ）", "72時間"
    rule: str
    due_at: datetime  # the moment we work to (aware)
    days: tuple[DueDay, ...] = ()  # day-counted clocks: the due day under each convention, earlier first
    target_from: DueDay | None = None  # a target range's first day (速報: day 3)

    @property
    def due(self) -> DueDay | None:
        return self.days[0] if self.days else None


def closed_reasons(day: date, closed: Iterable[Iterable[str]] = YEAR_END) -> tuple[str, ...]:
    """Why an office is closed on `day`: the weekend, a national holiday (its name), or a closed span
    given as MM-DD pairs that may wrap the new year."""
    reasons = []
    if day.weekday() >= 5:
        reasons.append(f"{WEEKDAYS[day.weekday()]}曜日")
    holiday = jpholiday.is_holiday_name(day)
    if holiday:
        reasons.append(str(holiday))
    md = day.strftime("%m-%d")
    for first, last in closed:
        inside = first <= md <= last if first <= last else (md >= first or md <= last)
        if inside:
            reasons.append("年末年始")
    return tuple(reasons)


def next_open(day: date, closed: Iterable[Iterable[str]] = YEAR_END) -> date:
    spans = [tuple(span) for span in closed]
    while closed_reasons(day, spans):
        day += timedelta(days=1)
    return day


def due_day(known_on: date, days: int, convention: str, closed: Iterable[Iterable[str]] = YEAR_END) -> DueDay:
    """The last day of a period of `days` days from `known_on` under `convention`."""
    on = known_on + timedelta(days=days - 1 if convention == DAY1 else days)
    spans = [tuple(span) for span in closed]
    return DueDay(
        convention=convention, on=on, closed=closed_reasons(on, spans), next_open=next_open(on, spans)
    )


def _end_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def clocks(
    *,
    known_on: date,
    malicious: bool = False,
    regime_keys: Iterable[str] = ("appi",),
    aware_at: datetime | None = None,
) -> list[Clock]:
    """Every clock of the given regimes for an incident known on `known_on`. An hour-counted clock runs
    from `aware_at`, or, when the moment is not recorded, from the start of `known_on` in Japan (the
    earliest it can have been: never later than the truth)."""
    out = []
    for key in regime_keys:
        rules = regime(key)
        zone = ZoneInfo(rules.get("timezone", "Asia/Tokyo"))
        closed = rules.get("closed", [])
        for clock in rules["clocks"]:
            common = {
                "regime": key,
                "key": clock["key"],
                "label": clock["label"],
                "label_en": clock["label_en"],
                "kind": clock["kind"],
                "rule": clock.get("rule", ""),
            }
            if rules["unit"] == "hours":
                start = aware_at or datetime.combine(known_on, time(0), tzinfo=ZoneInfo("Asia/Tokyo"))
                hours = int(clock["hours"])
                out.append(Clock(**common, basis=f"{hours}時間", due_at=start + timedelta(hours=hours)))
                continue
            days = int(
                clock["days_if_malicious"] if malicious and "days_if_malicious" in clock else clock["days"]
            )
            basis = f"{days}日"
            if "days_from" in clock:
                basis = f"{clock['days_from']}〜{days}日"
            elif malicious and "days_if_malicious" in clock:
                basis += "（不正の目的のおそれ）"
            both = tuple(due_day(known_on, days, convention, closed) for convention in (DAY1, EXCLUDED))
            first = due_day(known_on, int(clock["days_from"]), DAY1, closed) if "days_from" in clock else None
            out.append(
                Clock(**common, basis=basis, due_at=_end_of(both[0].on, zone), days=both, target_from=first)
            )
    return out


@dataclass(frozen=True)
class Countdown:
    clock: Clock
    left: timedelta  # negative when past
    level: str  # "done", "overdue", "urgent", "soon" or "ok"

    @property
    def left_text(self) -> str:
        """Time left as staff read it: 3日 4時間, 5時間, or 2日 超過."""
        seconds = int(abs(self.left).total_seconds())
        days, hours = seconds // 86400, seconds % 86400 // 3600
        text = f"{days}日 {hours}時間" if days else f"{hours}時間"
        return f"{text} 超過" if self.left < timedelta(0) else text


def countdown(clock: Clock, now: datetime, *, done: bool = False) -> Countdown:
    """How long until `clock` runs out at `now`, and how loudly to say it (regimes.toml warn_hours)."""
    left = clock.due_at - now
    warn = regime(clock.regime).get("warn_hours", {})
    if done:
        level = "done"
    elif left <= timedelta(0):
        level = "overdue"
    elif left <= timedelta(hours=warn.get("urgent", 48)):
        level = "urgent"
    elif left <= timedelta(hours=warn.get("soon", 168)):
        level = "soon"
    else:
        level = "ok"
    return Countdown(clock=clock, left=left, level=level)
