"""Working-hours arithmetic: weekends, holidays, extra working days, lunch breaks, time zones."""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from plugins.property_service.workhours import WorkCalendar

H = 3600
SH = ZoneInfo("Asia/Shanghai")


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def local(*args, tz=SH):
    return datetime(*args, tzinfo=tz)


# Mon 2026-03-02 … Fri 2026-03-06, Sat 07, Sun 08, Mon 09
OFFICE = WorkCalendar()  # UTC, Mon–Fri 09–18


def test_within_one_day():
    assert OFFICE.add(utc(2026, 3, 2, 10), 2 * H) == utc(2026, 3, 2, 12)
    assert OFFICE.between(utc(2026, 3, 2, 10), utc(2026, 3, 2, 12)) == 2 * H


def test_overnight_carries_to_the_next_morning():
    assert OFFICE.add(utc(2026, 3, 2, 17), 2 * H) == utc(2026, 3, 3, 10)
    assert OFFICE.between(utc(2026, 3, 2, 17), utc(2026, 3, 3, 10)) == 2 * H


def test_friday_afternoon_crosses_the_weekend():
    assert OFFICE.add(utc(2026, 3, 6, 17), 2 * H) == utc(2026, 3, 9, 10)
    assert OFFICE.between(utc(2026, 3, 6, 17), utc(2026, 3, 9, 10)) == 2 * H


def test_weekend_counts_nothing():
    assert OFFICE.between(utc(2026, 3, 7, 0), utc(2026, 3, 9, 0)) == 0
    assert not OFFICE.is_working(utc(2026, 3, 7, 12))


def test_start_on_a_weekend_begins_on_monday_morning():
    assert OFFICE.add(utc(2026, 3, 7, 15), H) == utc(2026, 3, 9, 10)
    assert OFFICE.add(utc(2026, 3, 7, 15), 0) == utc(2026, 3, 9, 9)


def test_start_before_opening_and_after_closing():
    assert OFFICE.add(utc(2026, 3, 2, 6), H) == utc(2026, 3, 2, 10)
    assert OFFICE.add(utc(2026, 3, 2, 20), H) == utc(2026, 3, 3, 10)


def test_exactly_at_closing_time_stays_on_that_day():
    assert OFFICE.add(utc(2026, 3, 2, 17), H) == utc(2026, 3, 2, 18)


def test_a_full_working_week_is_45_hours():
    assert OFFICE.between(utc(2026, 3, 2), utc(2026, 3, 9)) == 45 * H
    assert OFFICE.add(utc(2026, 3, 2, 9), 45 * H) == utc(2026, 3, 6, 18)


def test_holiday_on_monday_pushes_past_the_long_weekend():
    cal = WorkCalendar(holidays=frozenset({date(2026, 3, 9)}))
    assert cal.add(utc(2026, 3, 6, 17), 2 * H) == utc(2026, 3, 10, 10)
    assert cal.between(utc(2026, 3, 6, 17), utc(2026, 3, 10, 10)) == 2 * H


def test_holiday_week_like_national_day():
    golden_week = frozenset(date(2026, 10, d) for d in range(1, 8))
    cal = WorkCalendar(holidays=golden_week, extra_workdays=frozenset({date(2026, 9, 27), date(2026, 10, 10)}))
    # Wednesday 30 September 17:00 + 3h: one hour on the 30th, then nothing until Thursday 8 October
    assert cal.add(utc(2026, 9, 30, 17), 3 * H) == utc(2026, 10, 8, 11)
    assert cal.between(utc(2026, 10, 1), utc(2026, 10, 8)) == 0


def test_extra_working_day_on_a_weekend_counts():
    cal = WorkCalendar(extra_workdays=frozenset({date(2026, 3, 7)}))  # a Saturday 调休
    assert cal.add(utc(2026, 3, 6, 17), 2 * H) == utc(2026, 3, 7, 10)
    assert cal.is_workday(date(2026, 3, 7)) and not cal.is_workday(date(2026, 3, 8))


def test_lunch_break_is_not_working_time():
    cal = WorkCalendar.build(hours=[("09:00", "12:00"), ("13:30", "18:00")])
    assert cal.add(utc(2026, 3, 2, 11), 2 * H) == utc(2026, 3, 2, 14, 30)
    assert cal.between(utc(2026, 3, 2, 11), utc(2026, 3, 2, 14, 30)) == 2 * H
    assert cal.seconds_per_day == 7.5 * H


def test_calendar_time_zone_decides_the_hours():
    cal = WorkCalendar.build(tz="Asia/Shanghai")  # 09–18 in Beijing = 01–10 UTC
    assert cal.add(local(2026, 3, 6, 17), 2 * H) == local(2026, 3, 9, 10).astimezone(timezone.utc)
    # 09:30 UTC is 17:30 in Beijing: half an hour today, half an hour from 09:00 (01:00 UTC) tomorrow
    assert cal.add(utc(2026, 3, 2, 9, 30), H) == utc(2026, 3, 3, 1, 30)


def test_dst_change_does_not_bend_the_clock():
    cal = WorkCalendar.build(tz="Europe/Berlin", hours=[("00:00", "24:00")], workdays=range(7))
    # the night of 29 March 2026 has 23 hours in Berlin; working time is real elapsed time
    start = datetime(2026, 3, 28, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    end = datetime(2026, 3, 29, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    assert cal.between(start, end) == 23 * H
    assert cal.add(start, 23 * H) == end.astimezone(timezone.utc)


def test_build_from_stored_values():
    cal = WorkCalendar.build(tz="Asia/Shanghai", workdays=[0, 1, 2, 3, 4, 5], hours=[["08:30", "17:30"]],
                             holidays=["2026-05-01"], extra_workdays=["2026-05-09"])
    assert cal.hours == ((time(8, 30), time(17, 30)),)
    assert cal.is_workday(date(2026, 3, 7))  # Saturdays are working days here
    assert not cal.is_workday(date(2026, 5, 1)) and cal.is_workday(date(2026, 5, 9))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        OFFICE.add(datetime(2026, 3, 2, 10), H)


def test_bad_calendars_are_refused():
    with pytest.raises(ValueError):
        WorkCalendar.build(hours=[("18:00", "09:00")])
    with pytest.raises(ValueError):
        WorkCalendar.build(hours=[("09:00", "13:00"), ("12:00", "18:00")])
    with pytest.raises(ValueError):
        WorkCalendar(workdays=frozenset({7}))
    with pytest.raises(ZoneInfoNotFoundError, match="Mars/Olympus_Mons"):
        WorkCalendar(tz="Mars/Olympus_Mons")


def test_a_calendar_without_working_days_cannot_add():
    with pytest.raises(ValueError):
        WorkCalendar(workdays=frozenset()).add(utc(2026, 3, 2), H)


def test_end_before_start_is_zero():
    assert OFFICE.between(utc(2026, 3, 3), utc(2026, 3, 2)) == 0


def test_add_and_between_agree_on_random_spans():
    rng = random.Random(7)
    cal = WorkCalendar.build(tz="Asia/Shanghai", hours=[("09:00", "12:00"), ("13:00", "18:00")],
                             holidays=["2026-04-06", "2026-05-01"], extra_workdays=["2026-04-26"])
    for _ in range(200):
        start = utc(2026, 3, 1) + timedelta(minutes=rng.randrange(0, 60 * 24 * 90))
        seconds = rng.randrange(0, 80 * H)
        end = cal.add(start, seconds)
        assert end >= start
        assert cal.between(start, end) == pytest.approx(seconds)


def test_between_counts_spans_longer_than_three_years():
    # a request left waiting for years: every working hour counts, not just the first 3 × 366 days' worth
    start, middle, end = utc(2026, 3, 2, 9), utc(2028, 3, 2, 9), utc(2030, 3, 4, 9)
    assert OFFICE.between(start, end) == OFFICE.between(start, middle) + OFFICE.between(middle, end)
    assert OFFICE.between(start, end) > 4 * 50 * 45 * H  # four years of (at least) 50 weeks of 45 hours


def test_add_looks_three_times_366_days_ahead_for_working_time_and_no_further():
    start = utc(2026, 3, 2, 12)
    last = date(2026, 3, 2) + timedelta(days=3 * 366 - 1)  # the last day it looks at
    found = WorkCalendar(workdays=frozenset(), extra_workdays=frozenset({last})).add(start, H)
    assert found == datetime.combine(last, time(10), tzinfo=timezone.utc)
    too_far = WorkCalendar(workdays=frozenset(), extra_workdays=frozenset({last + timedelta(days=1)}))
    with pytest.raises(ValueError, match="no working time in the 1098 days"):
        too_far.add(start, H)


def test_is_working_from_the_opening_instant_to_just_before_closing():
    assert OFFICE.is_working(utc(2026, 3, 2, 9)) and OFFICE.is_working(utc(2026, 3, 2, 17, 59, 59))
    assert not OFFICE.is_working(utc(2026, 3, 2, 18)) and not OFFICE.is_working(utc(2026, 3, 2, 8, 59, 59))


def test_a_calendar_built_from_no_values_is_the_default_calendar():
    assert WorkCalendar.build() == WorkCalendar()  # UTC, Monday to Friday, 09:00-18:00
