"""Working-hours arithmetic: how much working time lies between two instants, and which instant comes a
given amount of working time after another — on a calendar of weekdays, daily hours, holidays and
extra working days (调休). Pure Python (no database, no Flask): SLA clocks are built on it.

Instants are timezone-aware datetimes in and out (returned in UTC); the calendar's own time zone decides
what "9 o'clock on a Monday" means, and all arithmetic is done on UTC instants so DST changes in that
zone cannot bend it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

#: How far :meth:`WorkCalendar.add` looks ahead before it decides the calendar has no working time.
MAX_DAYS = 3 * 366


def parse_hhmm(value: str) -> time:
    """``"09:30"`` → ``time(9, 30)``; ``"24:00"`` means the end of the day."""
    hours, _, minutes = str(value).strip().partition(":")
    h, m = int(hours), int(minutes or 0)
    if h == 24 and m == 0:
        return time.max
    return time(h, m)


@dataclass(frozen=True)
class WorkCalendar:
    """Weekdays (0 = Monday … 6 = Sunday), the working intervals of a working day, holidays (no work,
    even on a weekday) and extra working days (work, even on a weekend), in one time zone."""

    tz: str = "UTC"
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    hours: tuple[tuple[time, time], ...] = ((time(9), time(18)),)
    holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        ZoneInfo(self.tz)  # raises for an unknown zone
        if any(not 0 <= d <= 6 for d in self.workdays):
            raise ValueError("Weekdays are 0 (Monday) to 6 (Sunday).")
        previous = None
        for start, end in self.hours:
            if start >= end:
                raise ValueError(f"A working interval must end after it starts ({start}–{end}).")
            if previous is not None and start < previous:
                raise ValueError("Working intervals must be in order and must not overlap.")
            previous = end

    @classmethod
    def build(cls, tz: str = "UTC", workdays: Iterable[int] = (0, 1, 2, 3, 4),
              hours: Iterable[tuple[str, str]] = (("09:00", "18:00"),), holidays: Iterable[date | str] = (),
              extra_workdays: Iterable[date | str] = ()) -> "WorkCalendar":
        """A calendar from plain values (strings for times and ISO dates), as stored in settings."""
        def dates(values):
            return frozenset(v if isinstance(v, date) else date.fromisoformat(str(v)) for v in values)

        return cls(tz=tz, workdays=frozenset(int(d) for d in workdays),
                   hours=tuple((parse_hhmm(a), parse_hhmm(b)) for a, b in hours),
                   holidays=dates(holidays), extra_workdays=dates(extra_workdays))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def seconds_per_day(self) -> float:
        """Working seconds of an ordinary working day (ignoring DST)."""
        return sum((_seconds(e) - _seconds(s)) for s, e in self.hours)

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        return day.weekday() in self.workdays and day not in self.holidays

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of a local calendar day, as UTC instants (none on a day off)."""
        if not self.is_workday(day):
            return []
        zone = self.zone
        out = []
        for start, end in self.hours:
            a = datetime.combine(day, start, tzinfo=zone).astimezone(timezone.utc)
            if end == time.max:
                b = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(timezone.utc)
            else:
                b = datetime.combine(day, end, tzinfo=zone).astimezone(timezone.utc)
            out.append((a, b))
        return out

    def _days_from(self, instant: datetime) -> Iterator[date]:
        day = _utc(instant).astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            yield day
            day += timedelta(days=1)

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant ``seconds`` of working time after ``start``. Zero working time from outside working
        hours is the start of the next working interval (the clock only starts when work does)."""
        if seconds < 0:
            raise ValueError("Working time to add must not be negative.")
        current = _utc(start)
        remaining = float(seconds)
        for day in self._days_from(current):
            for a, b in self.intervals(day):
                if b <= current:
                    continue
                begin = max(a, current)
                available = (b - begin).total_seconds()
                if remaining <= available:
                    return begin + timedelta(seconds=remaining)
                remaining -= available
                current = b
        raise ValueError(f"The calendar has no working time in the {MAX_DAYS} days after {start.isoformat()}.")

    def between(self, start: datetime, end: datetime) -> float:
        """Working seconds in ``[start, end)``; 0 when ``end`` is not after ``start``."""
        a, b = _utc(start), _utc(end)
        if b <= a:
            return 0.0
        total = 0.0
        # every day of the span, however long (a request can wait for years): MAX_DAYS bounds only add's search
        day, last_day = a.astimezone(self.zone).date(), b.astimezone(self.zone).date()
        while day <= last_day:
            for x, y in self.intervals(day):
                lo, hi = max(x, a), min(y, b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def is_working(self, instant: datetime) -> bool:
        moment = _utc(instant)
        return any(a <= moment < b for a, b in self.intervals(moment.astimezone(self.zone).date()))


def _seconds(t: time) -> float:
    if t == time.max:
        return 86400.0
    return t.hour * 3600 + t.minute * 60 + t.second


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("Working-hours arithmetic needs timezone-aware datetimes.")
    return value.astimezone(timezone.utc)
