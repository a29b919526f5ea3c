"""Helpers shared by the core metrics: the portable period bucket, period filters, labels and rates.

Every query here runs unchanged on SQLite and PostgreSQL. The constructs the two spell differently are
small SQL constructs compiled per dialect, so no metric branches on the dialect itself: the first day of
the day / ISO week / month a timestamp falls in, UTC (``date(x, 'start of month')`` on SQLite,
``date_trunc('month', x AT TIME ZONE 'UTC')`` on PostgreSQL), and :class:`median`.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Date, Float

from core import runtime
from core.errors import ValidationFailed
from core.metrics import MetricQuery

#: ``group_by`` values that bucket rows by calendar period (UTC): the group is ``{"period": "YYYY-MM-DD"}``,
#: the first day of the period (a Monday for weeks).
PERIOD_GROUPS = ("period:day", "period:week", "period:month")
PERIOD_KEY = "period"
#: Filling empty periods between ``from`` and ``to`` stops here; a longer range is refused (use a coarser one).
MAX_FILLED_PERIODS = 2000


class _PeriodStart(FunctionElement):
    """The first day (a DATE) of the period, in UTC, that a timestamp column falls in."""

    type = Date()
    inherit_cache = True
    grain = ""


class DayStart(_PeriodStart):
    name = "day_start"
    grain = "day"
    inherit_cache = True


class WeekStart(_PeriodStart):
    name = "week_start"
    grain = "week"
    inherit_cache = True


class MonthStart(_PeriodStart):
    name = "month_start"
    grain = "month"
    inherit_cache = True


_SQLITE_MODIFIERS = {"day": "", "week": ", 'weekday 0', '-6 days'", "month": ", 'start of month'"}


def _compile_sqlite(element, compiler, **kw) -> str:
    # SQLite keeps UTC timestamps as text; date() reads them. 'weekday 0' moves to the next Sunday (or
    # stays on one), six days back is that ISO week's Monday.
    return f"date({compiler.process(element.clauses, **kw)}{_SQLITE_MODIFIERS[element.grain]})"


def _compile_postgresql(element, compiler, **kw) -> str:
    # AT TIME ZONE 'UTC' makes the bucket independent of the session's TimeZone setting.
    return (f"CAST(date_trunc('{element.grain}', ({compiler.process(element.clauses, **kw)}) "
            f"AT TIME ZONE 'UTC') AS DATE)")


def _compile_other(element, compiler, **kw) -> str:
    raise CompileError(f"Period grouping supports SQLite and PostgreSQL, not {compiler.dialect.name}.")


for _cls in (DayStart, WeekStart, MonthStart):
    compiles(_cls)(_compile_other)
    compiles(_cls, "sqlite")(_compile_sqlite)
    compiles(_cls, "postgresql")(_compile_postgresql)

_CONSTRUCTS = {"day": DayStart, "week": WeekStart, "month": MonthStart}


class median(FunctionElement):
    """``median(x)``: the aggregate's middle value, or the mean of the two middle ones (NULLs skipped) —
    ``percentile_cont(0.5)`` on PostgreSQL, an aggregate registered on every SQLite connection
    (``core.db``) there."""

    type = Float()
    name = "median"
    inherit_cache = True


@compiles(median)
def _median_other(element, compiler, **kw) -> str:
    return f"median({compiler.process(element.clauses, **kw)})"


@compiles(median, "postgresql")
def _median_postgresql(element, compiler, **kw) -> str:
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {compiler.process(element.clauses, **kw)})"


def grain_of(group_by: str | None) -> str | None:
    """``"period:month"`` → ``"month"``; anything else → None."""
    if group_by and group_by in PERIOD_GROUPS:
        return group_by.split(":", 1)[1]
    return None


def period_start(grain: str, column: Any) -> ColumnElement:
    """The first day (UTC) of the day, ISO week or month (``grain``: ``day``, ``week``, ``month``) that the
    timestamp ``column`` falls in, as SQL that runs on SQLite and PostgreSQL alike: group a metric's rows
    by it (``grain_of(query.group_by)`` tells the grain; :func:`buckets` lists the periods to fill)."""
    return _CONSTRUCTS[grain](column)


def bucket_of(day: date, grain: str) -> date:
    if grain == "month":
        return day.replace(day=1)
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day


def _next(day: date, grain: str) -> date:
    if grain == "month":
        return date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return day + timedelta(days=7 if grain == "week" else 1)


def buckets(query: MetricQuery, grain: str) -> list[str] | None:
    """Every period between ``from`` and ``to`` (both given), so empty periods read as zero; else None."""
    if not (query.date_from and query.date_to):
        return None
    out, current, last = [], bucket_of(query.date_from, grain), query.date_to
    while current <= last:
        out.append(current.isoformat())
        if len(out) > MAX_FILLED_PERIODS:
            raise ValidationFailed(fields={"group_by": [
                f"'{query.group_by}' over this range gives more than {MAX_FILLED_PERIODS} periods: "
                "choose a coarser period or a shorter range."]})
        current = _next(current, grain)
    return out


def bucket_key(value: Any) -> str | None:
    """A bucket as the database returns it (a date, or text on some drivers) → ``YYYY-MM-DD``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def in_period(column: Any, query: MetricQuery) -> list[ColumnElement[bool]]:
    """Conditions keeping ``column`` inside the query's period (none when the period is open)."""
    conditions = []
    if query.start:
        conditions.append(column >= query.start)
    if query.end:
        conditions.append(column <= query.end)
    return conditions


def rate(numerator: int | float, denominator: int | float) -> float | None:
    """A share rounded to 4 places, or None (never NaN) when there is nothing to divide by."""
    if not denominator:
        return None
    return round(numerator / denominator, 4)


#: customer attribute → the vocabulary whose en/zh-CN labels describe its values
VOCABULARIES = {"stage": "lifecycle_stage", "level": "customer.level.state", "source": "customer_source",
                "kind": "customer_kind"}


def labels_for(vocabulary: str) -> dict[str, dict[str, str]]:
    """``value → {"label_en": …, "label_zh_cn": …}`` for one vocabulary of the running app."""
    choices = runtime.current().labels.vocabularies().get(vocabulary, [])
    return {c.value: {"label_en": c.en, "label_zh_cn": c.zh_cn} for c in choices}


def sort_key(value: Any) -> tuple:
    """Group values in a stable order on every backend (None last, where databases disagree)."""
    return (value is None, str(value) if value is not None else "")
