"""The membership programme as configuration: tiers (thresholds, discount, points multiplier), the spend
basis, downgrade grace, points rules, lapse and reminder rules.

Every value has a default here. The plugin declares them through ``trellis_settings``, so a deployment
sets ``TRELLIS_RETAIL_MEMBERSHIP_<FIELD>`` (``TRELLIS_RETAIL_MEMBERSHIP_TIERS="member=0/0/1,silver=2000/0.03/1.2,…"``)
and :func:`program` reads them as attributes of the app's ``Settings``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from core.errors import PluginError

#: Labels of the tier codes the defaults use; other codes are labelled by their name.
TIER_LABELS = {
    "member": ("Member", "普通会员"),
    "silver": ("Silver", "银卡会员"),
    "gold": ("Gold", "金卡会员"),
    "platinum": ("Platinum", "白金会员"),
    "diamond": ("Diamond", "钻石会员"),
}

DEFAULT_TIERS = "member=0/0/1,silver=2000/0.03/1.2,gold=8000/0.05/1.5,platinum=20000/0.08/2"
_TIER = re.compile(r"^\s*(?P<code>[a-z][a-z0-9_]{0,29})\s*=\s*(?P<threshold>\d+(?:\.\d+)?)\s*/\s*"
                   r"(?P<discount>0(?:\.\d+)?|1(?:\.0+)?)\s*/\s*(?P<multiplier>\d+(?:\.\d+)?)\s*$")

#: Days the stores greet members for besides the deployment's holiday calendar (``TRELLIS_HOLIDAY_CALENDAR``,
#: core.holiday_calendar: the Spring Festival, Dragon Boat, Mid-Autumn, National Day … and, in Chinese
#: calendars, the lunar festivals): (month, day, key, en, zh-CN). One the calendar has on the same day
#: under the same key is greeted once, with the calendar's name. Season changes are added by
#: :attr:`Program.season_starts`.
DEFAULT_HOLIDAYS = (
    (1, 1, "new_year", "New Year", "元旦"),
    (2, 14, "valentines_day", "Valentine's Day", "情人节"),
    (3, 8, "womens_day", "Women's Day", "妇女节"),
    (6, 1, "childrens_day", "Children's Day", "儿童节"),
    (10, 1, "national_day", "National Day", "国庆节"),
    (12, 25, "christmas_day", "Christmas", "圣诞节"),
)
DEFAULT_SEASONS = ((3, 1, "Spring", "春季"), (6, 1, "Summer", "夏季"), (9, 1, "Autumn", "秋季"),
                   (12, 1, "Winter", "冬季"))


@dataclass(frozen=True)
class Tier:
    code: str
    threshold: Decimal
    discount: Decimal
    multiplier: Decimal

    @property
    def en(self) -> str:
        return TIER_LABELS.get(self.code, (self.code.replace("_", " ").title(), ""))[0]

    @property
    def zh_cn(self) -> str:
        return TIER_LABELS.get(self.code, ("", self.code))[1]


@dataclass(frozen=True)
class Program:
    tiers: tuple[Tier, ...]
    #: ``cumulative`` (net spend since joining) or ``rolling_12m`` (net spend of the last 365 days)
    basis: str = "cumulative"
    #: ``trellis tick`` downgrades a member only after this many days in the tier
    downgrade_grace_days: int = 30
    #: points per currency unit of net spend, before the tier multiplier
    points_per_unit: Decimal = Decimal("1")
    #: what one point is worth in money (yuan) when redeemed: the points liability in money is the
    #: balance × this (100 points = ¥1 by default)
    point_value: Decimal = Decimal("0.01")
    #: an earned lot expires this many days after it was earned (FIFO: oldest lots go first)
    points_expiry_days: int = 365
    #: points the referrer gets when the member they referred makes a first purchase
    referral_bonus: int = 200
    #: a lapsed regular had at least this many visits …
    lapse_min_visits: int = 4
    #: … and has been away more than this many times their own median gap …
    lapse_factor: float = 3.0
    #: … and at least this many days
    lapse_min_days: int = 30
    #: reminders are raised this many days before the occasion
    occasion_lead_days: int = 3
    holidays: tuple = DEFAULT_HOLIDAYS
    season_starts: tuple = DEFAULT_SEASONS
    #: the deployment's holiday calendar (core.holiday_calendar.Calendar); None: none, only ``holidays``
    calendar: Any = None

    @property
    def codes(self) -> list[str]:
        return [t.code for t in self.tiers]

    @property
    def lowest(self) -> Tier:
        return self.tiers[0]

    def points_money(self, points: int) -> Decimal:
        """What ``points`` are worth in money (two places): points × :attr:`point_value`."""
        return (Decimal(points) * self.point_value).quantize(Decimal("0.01"))

    def tier(self, code: str) -> Tier:
        for t in self.tiers:
            if t.code == code:
                return t
        return self.lowest

    def rank(self, code: str) -> int:
        return self.codes.index(code) if code in self.codes else 0

    def tier_for(self, spend: Decimal) -> Tier:
        chosen = self.lowest
        for t in self.tiers:
            if spend >= t.threshold:
                chosen = t
        return chosen

    def occasions_on(self, day: date) -> list[tuple[str, str, str, str]]:
        """``[(kind, key, en, zh-CN)]`` of the programme-wide occasions on ``day``: the holidays of the
        deployment's calendar starting that day (each on its first day), the programme's own days the
        calendar does not already give, and season changes."""
        out, keys = [], set()
        for held in (self.calendar.on(day) if self.calendar is not None else ()):
            out.append(("holiday", held.key, held.en, held.zh_cn))
            keys.add(held.key)
        out += [("holiday", key, en, zh) for m, d, key, en, zh in self.holidays
                if (m, d) == (day.month, day.day) and key not in keys]
        out += [("season", f"{en.lower()}_season", f"{en} season", f"{zh}换季") for m, d, en, zh in self.season_starts
                if (m, d) == (day.month, day.day)]
        return out


def parse_tiers(text: str) -> tuple[Tier, ...]:
    tiers = []
    for part in text.split(","):
        match = _TIER.match(part)
        if not match:
            raise PluginError(f"retail_membership_tiers: cannot read '{part.strip()}'. Write "
                              "CODE=THRESHOLD/DISCOUNT/MULTIPLIER, e.g. gold=8000/0.05/1.5, lowest tier first.")
        tiers.append(Tier(match["code"], Decimal(match["threshold"]), Decimal(match["discount"]),
                          Decimal(match["multiplier"])))
    if not tiers or tiers[0].threshold != 0:
        raise PluginError("retail_membership_tiers: the first (lowest) tier must have threshold 0.")
    if any(b.threshold <= a.threshold for a, b in zip(tiers, tiers[1:])):
        raise PluginError("retail_membership_tiers: thresholds must rise from one tier to the next.")
    if len({t.code for t in tiers}) != len(tiers):
        raise PluginError("retail_membership_tiers: tier codes must be unique.")
    return tuple(tiers)


_OVERRIDE: dict[int, Program] = {}


def program(settings: Any) -> Program:
    """The programme of an app, from its settings (``retail_membership_*`` attributes) or defaults."""
    override = _OVERRIDE.get(id(settings))
    if override is not None:
        return override
    cached = _CACHE.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    prog = _build(settings)
    _CACHE[id(settings)] = (settings, prog)
    return prog


_CACHE: dict[int, tuple[Any, Program]] = {}


def _build(settings: Any) -> Program:
    from core import holiday_calendar

    base = Program(tiers=parse_tiers(getattr(settings, "retail_membership_tiers", None) or DEFAULT_TIERS),
                   calendar=holiday_calendar.for_settings(settings))
    changes = {}
    for name in ("basis", "point_value", "downgrade_grace_days", "points_expiry_days", "referral_bonus", "lapse_min_visits",
                 "lapse_factor", "lapse_min_days", "occasion_lead_days"):
        value = getattr(settings, f"retail_membership_{name}", None)
        if value not in (None, ""):
            changes[name] = type(getattr(base, name))(value)
    if changes.get("point_value", base.point_value) < 0:
        raise PluginError("retail_membership_point_value: a point is worth 0 or more (yuan, e.g. 0.01).")
    if changes.get("basis", "cumulative") not in ("cumulative", "rolling_12m"):
        raise PluginError("retail_membership_basis: 'cumulative' or 'rolling_12m'.")
    return replace(base, **changes)


def override(settings: Any, prog: Program | None) -> None:
    """Give one app's settings another programme (tests, embedding applications); None removes it."""
    if prog is None:
        _OVERRIDE.pop(id(settings), None)
    else:
        _OVERRIDE[id(settings)] = prog


def current() -> Program:
    from core import runtime

    return program(runtime.current().settings)


__all__ = ["Program", "Tier", "current", "override", "parse_tiers", "program"]
