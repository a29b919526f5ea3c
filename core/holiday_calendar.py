"""The deployment's holiday calendar: the official public holidays of ``TRELLIS_HOLIDAY_CALENDAR`` (a
country code, default ``CN``; ``TRELLIS_HOLIDAY_SUBDIVISION`` for a province or state) from the
``holidays`` package (python-holidays), plus — for calendars that keep the Chinese lunar calendar —
the lunar festivals that are not days off (Lantern Festival, Qixi, Double Ninth, Laba), converted with
``lunar_python``.

Every holiday has a stable ``key`` (``spring_festival``, ``mid_autumn``, ``dragon_boat``,
``national_day`` …; other countries' holidays are keyed by their English name: ``independence_day``)
and labels in English and Simplified Chinese taken from the library's own translations. A holiday
lasting several days (the Spring Festival, National Day) is listed once, on its first day, with the
number of days it is named on; "observed" days and days off moved by the State Council (调休) are left
out — they are not occasions. :func:`date_of` resolves a key to its Gregorian date in a given year, so
a campaign keyed to ``spring_festival`` lands on 2026-02-17 in 2026 and on 2027-02-06 in 2027.

Shared by the plugins (retail membership's occasions and holiday campaigns); computed in memory and
cached per calendar and year.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from core.lazy import lazy_module

# imported when a calendar is first read, not when the retail plugin is loaded at start-up
_holidays = lazy_module("holidays")

#: Stable keys of the Chinese calendar's holidays, by the library's English (en_US) name.
KEYS = {
    "new year's day": "new_year",
    "chinese new year's eve": "spring_festival_eve",
    "chinese new year (spring festival)": "spring_festival",
    "chinese new year": "spring_festival",
    "lunar new year": "spring_festival",
    "tomb-sweeping day": "qingming",
    "labor day": "labor_day",
    "dragon boat festival": "dragon_boat",
    "mid-autumn festival": "mid_autumn",
    "double ninth festival": "double_ninth",
    "national day": "national_day",
    "international women's day": "womens_day",
    "youth day": "youth_day",
    "children's day": "childrens_day",
    "army day": "army_day",
}

#: Lunar festivals that are not public holidays: (key, lunar month, lunar day, en, zh-CN).
LUNAR_OBSERVANCES = (
    ("lantern_festival", 1, 15, "Lantern Festival", "元宵节"),
    ("qixi", 7, 7, "Qixi Festival", "七夕节"),
    ("double_ninth", 9, 9, "Double Ninth Festival (Chongyang)", "重阳节"),
    ("laba", 12, 8, "Laba Festival", "腊八节"),
)
#: Calendars that keep the lunar festivals above.
LUNAR_COUNTRIES = frozenset({"CN", "HK", "MO", "TW", "SG"})

_OBSERVED = re.compile(r"\(observed|\(substitut|^day off", re.IGNORECASE)


@dataclass(frozen=True)
class Holiday:
    key: str
    date: date
    en: str
    zh_cn: str
    #: ``public`` (a day off), ``half_day`` (a half day off for some, e.g. Women's Day in China) or
    #: ``observance`` (a lunar festival that is no day off)
    category: str
    #: how many days of the year carry its name (3 for National Day), 1 for an observance
    days: int = 1

    @property
    def official(self) -> bool:
        return self.category != "observance"


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower().replace("'", "")).strip("_")


def key_for(en_name: str) -> str:
    return KEYS.get(en_name.strip().lower(), slug(en_name))


def check(country: str, subdivision: str = "") -> str | None:
    """Why this calendar cannot be used (a sentence), or None."""
    try:
        cls = _holidays.country_holidays(country.upper(), years=[]).__class__
    except NotImplementedError:   # how the holidays package says it has no calendar for that code
        return f"{country!r} is not a country code the holidays package knows (e.g. CN, HK, TW, US)."
    if subdivision and subdivision not in (getattr(cls, "subdivisions", ()) or ()):
        known = ", ".join(getattr(cls, "subdivisions", ()) or ()) or "none"
        return f"{subdivision!r} is not a subdivision of {country.upper()} (known: {known})."
    return None


def _lang(cls: Any, wanted: tuple[str, ...]) -> str | None:
    supported = getattr(cls, "supported_languages", ()) or ()
    for lang in wanted:
        if lang in supported:
            return lang
    return None


@lru_cache(maxsize=64)
def holidays_in(year: int, country: str = "CN", subdivision: str = "") -> tuple[Holiday, ...]:
    """Every holiday of ``year`` in the calendar, in date order (each named holiday on its first day)."""
    country = country.upper()
    probe = _holidays.country_holidays(country, subdiv=subdivision or None, years=[])
    cls = probe.__class__
    categories = tuple(c for c in ("public", "half_day") if c in (getattr(cls, "supported_categories", ()) or ()))
    en_lang = _lang(cls, ("en_US", "en_GB", "en"))
    zh_lang = _lang(cls, ("zh_CN", "zh_Hans", "zh_TW"))
    out: dict[str, Holiday] = {}
    for category in categories or ("public",):
        en = _holidays.country_holidays(country, subdiv=subdivision or None, years=year, language=en_lang,
                                        categories=(category,))
        zh = _holidays.country_holidays(country, subdiv=subdivision or None, years=year, language=zh_lang,
                                        categories=(category,)) if zh_lang else en
        for day in sorted(en):
            en_names, zh_names = en.get_list(day), zh.get_list(day)
            for i, name in enumerate(en_names):
                if _OBSERVED.search(name):
                    continue
                key = key_for(name)
                zh_name = zh_names[i] if i < len(zh_names) else name
                if key in out:   # a further day of a holiday of several days
                    held = out[key]
                    out[key] = Holiday(held.key, held.date, held.en, held.zh_cn, held.category, held.days + 1)
                    continue
                out[key] = Holiday(key, day, name, zh_name, category)
    if country in LUNAR_COUNTRIES:
        for held in _lunar_observances(year):
            out.setdefault(held.key, held)
    return tuple(sorted(out.values(), key=lambda h: (h.date, h.key)))


def _lunar_observances(year: int) -> list[Holiday]:
    from lunar_python import Lunar

    found = []
    for key, month, day, en, zh in LUNAR_OBSERVANCES:
        for lunar_year in (year - 1, year):   # the 12th lunar month of a year mostly falls in January
            solar = Lunar.fromYmd(lunar_year, month, day).getSolar()
            on = date(solar.getYear(), solar.getMonth(), solar.getDay())
            if on.year == year:
                found.append(Holiday(key, on, en, zh, "observance"))
                break
    return found


def date_of(key: str, year: int, country: str = "CN", subdivision: str = "") -> date | None:
    """The Gregorian date of the holiday ``key`` in ``year`` (its first day), or None when the calendar
    has no such holiday that year."""
    for held in holidays_in(year, country, subdivision):
        if held.key == key:
            return held.date
    return None


def between(start: date, end: date, country: str = "CN", subdivision: str = "") -> list[Holiday]:
    """The holidays from ``start`` to ``end`` (both included), in date order."""
    out = []
    for year in range(start.year, end.year + 1):
        out += [h for h in holidays_in(year, country, subdivision) if start <= h.date <= end]
    return out


def on(day: date, country: str = "CN", subdivision: str = "") -> list[Holiday]:
    return [h for h in holidays_in(day.year, country, subdivision) if h.date == day]


def next_on_or_after(key: str, day: date, country: str = "CN", subdivision: str = "",
                     offset_days: int = 0) -> date | None:
    """The first date on or after ``day`` that is ``offset_days`` from the holiday ``key`` (negative:
    before it), looking this year and the next two; None when the calendar has no such holiday."""
    for year in (day.year, day.year + 1, day.year + 2):
        held = date_of(key, year, country, subdivision)
        if held is not None and held + timedelta(days=offset_days) >= day:
            return held + timedelta(days=offset_days)
    return None


def keys(country: str = "CN", subdivision: str = "", year: int | None = None) -> set[str]:
    """The keys the calendar knows (this year's and next year's holidays)."""
    year = year or date.today().year
    return {h.key for y in (year, year + 1) for h in holidays_in(y, country, subdivision)}


class Calendar:
    """The calendar of an app's settings (``holiday_calendar``, ``holiday_subdivision``)."""

    def __init__(self, country: str = "CN", subdivision: str = ""):
        self.country, self.subdivision = (country or "CN").upper(), subdivision or ""

    def holidays_in(self, year: int) -> tuple[Holiday, ...]:
        return holidays_in(year, self.country, self.subdivision)

    def date_of(self, key: str, year: int) -> date | None:
        return date_of(key, year, self.country, self.subdivision)

    def between(self, start: date, end: date) -> list[Holiday]:
        return between(start, end, self.country, self.subdivision)

    def on(self, day: date) -> list[Holiday]:
        return on(day, self.country, self.subdivision)

    def next_on_or_after(self, key: str, day: date, offset_days: int = 0) -> date | None:
        return next_on_or_after(key, day, self.country, self.subdivision, offset_days)

    def keys(self, year: int | None = None) -> set[str]:
        return keys(self.country, self.subdivision, year)


def for_settings(settings: Any) -> Calendar:
    return Calendar(getattr(settings, "holiday_calendar", "CN"), getattr(settings, "holiday_subdivision", ""))


def current() -> Calendar:
    from core import runtime

    return for_settings(runtime.current().settings)


__all__ = ["Calendar", "Holiday", "between", "check", "current", "date_of", "for_settings", "holidays_in",
           "key_for", "next_on_or_after", "on"]
