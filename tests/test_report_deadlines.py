"""Regulator deadlines: both counting conventions across month ends, weekends, holidays and the
year-end closure; the 60-day final report when the leak may be malicious; GDPR's 72 hours beside the
APPI's clocks; the countdown's warning levels."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from owabi.reports import deadlines
from owabi.reports.deadlines import DAY1, EXCLUDED

JST = ZoneInfo("Asia/Tokyo")


def _clock(known_on: date, key: str, **kwargs: object) -> deadlines.Clock:
    return next(c for c in deadlines.clocks(known_on=known_on, **kwargs) if c.key == key)  # type: ignore[arg-type]


def test_it_counts_the_day_of_knowledge_as_day_1_or_not() -> None:
    final = _clock(date(2026, 12, 13), "final")
    assert [(d.convention, d.on) for d in final.days] == [
        (DAY1, date(2027, 1, 11)),
        (EXCLUDED, date(2027, 1, 12)),
    ]
    assert final.basis == "30日"
    assert final.due_at == datetime(2027, 1, 12, 0, 0, tzinfo=JST)  # the end of the earlier day


def test_it_flags_a_holiday_and_gives_the_next_open_day() -> None:
    counted = _clock(date(2026, 12, 13), "final").days[0]
    not_counted = _clock(date(2026, 12, 12), "final").days[1]
    assert counted.on == not_counted.on == date(2027, 1, 11)
    assert counted.closed == ("成人の日",)
    assert counted.next_open == date(2027, 1, 12)


def test_a_malicious_leak_gets_60_days_and_the_year_end_closure_is_flagged() -> None:
    final = _clock(date(2026, 11, 1), "final", malicious=True)
    due = final.days[0]
    assert due.on == date(2026, 12, 30)
    assert due.closed == ("年末年始",)
    assert due.next_open == date(2027, 1, 4)
    assert final.basis == "60日（不正の目的のおそれ）"
    assert final.days[1].on == date(2026, 12, 31)
    assert _clock(date(2026, 11, 1), "final").days[0].on == date(2026, 11, 30)


@pytest.mark.parametrize(
    ("known_on", "day1", "excluded"),
    [
        (date(2026, 1, 31), date(2026, 3, 1), date(2026, 3, 2)),  # across February (28 days)
        (date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 1)),  # a leap year
        (date(2026, 4, 30), date(2026, 5, 29), date(2026, 5, 30)),  # Golden Week inside, a Saturday after
    ],
)
def test_month_ends_and_leap_years(known_on: date, day1: date, excluded: date) -> None:
    final = _clock(known_on, "final")
    assert [d.on for d in final.days] == [day1, excluded]


def test_weekends_are_flagged_and_moved_to_monday() -> None:
    final = _clock(date(2026, 4, 30), "final")
    saturday = final.days[1]
    assert saturday.on.weekday() == 5 and saturday.closed == ("土曜日",)
    assert saturday.next_open == date(2026, 6, 1)
    assert final.days[0].closed == () and final.days[0].next_open == final.days[0].on


def test_golden_week_and_substitute_holidays() -> None:
    assert deadlines.closed_reasons(date(2026, 5, 6)) == ("憲法記念日 振替休日",)
    assert deadlines.next_open(date(2026, 5, 2)) == date(2026, 5, 7)


def test_the_preliminary_target_is_days_3_to_5() -> None:
    sokuho = _clock(date(2026, 12, 13), "preliminary")
    assert sokuho.kind == "target" and sokuho.basis == "3〜5日"
    assert sokuho.target_from is not None and sokuho.target_from.on == date(2026, 12, 15)
    assert [d.on for d in sokuho.days] == [date(2026, 12, 17), date(2026, 12, 18)]
    assert (
        _clock(date(2026, 12, 13), "preliminary", malicious=True).days == sokuho.days
    )  # 60 days is 確報 only


def test_gdpr_runs_72_hours_from_awareness_beside_the_appi() -> None:
    aware = datetime(2026, 12, 13, 15, 30, tzinfo=JST)
    every = deadlines.clocks(known_on=date(2026, 12, 13), regime_keys=("appi", "gdpr"), aware_at=aware)
    assert [(c.regime, c.key) for c in every] == [
        ("appi", "preliminary"),
        ("appi", "final"),
        ("gdpr", "notification"),
    ]
    gdpr = every[2]
    assert gdpr.due_at == aware + timedelta(hours=72) and gdpr.days == () and gdpr.basis == "72時間"
    unknown_moment = _clock(date(2026, 12, 13), "notification", regime_keys=("gdpr",))
    assert unknown_moment.due_at == datetime(2026, 12, 16, 0, 0, tzinfo=JST)  # from the day's start


def test_stage_names_and_aliases() -> None:
    assert deadlines.stage_key("appi", "sokuho") == "preliminary"
    assert deadlines.stage_key("appi", "kakuho") == "final"
    assert deadlines.stage_key("appi", "final") == "final"
    with pytest.raises(ValueError):
        deadlines.stage_key("appi", "draft")
    with pytest.raises(KeyError):
        deadlines.clocks(known_on=date(2026, 1, 1), regime_keys=("ccpa",))


def test_the_countdown_warns_as_a_deadline_nears() -> None:
    final = _clock(date(2026, 12, 13), "final")
    at = final.due_at
    assert deadlines.countdown(final, at - timedelta(days=10)).level == "ok"
    soon = deadlines.countdown(final, at - timedelta(days=5, hours=3))
    assert soon.level == "soon" and soon.left_text == "5日 3時間"
    assert deadlines.countdown(final, at - timedelta(hours=5)).level == "urgent"
    late = deadlines.countdown(final, at + timedelta(days=2))
    assert late.level == "overdue" and late.left_text == "2日 0時間 超過"
    assert deadlines.countdown(final, at + timedelta(days=2), done=True).level == "done"
