"""Property service (物业服务): metrics of the plugin, returned by the ``trellis_metrics`` hook.

Every metric covers the requests the caller may see (the permission scope of service requests), created
in the period asked for. Durations are working hours of the configured calendar, waiting on the owner
excluded. Medians and p90 are computed in Python over one SELECT, so the numbers are the same on SQLite
and PostgreSQL.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Callable, Iterable

from sqlalchemy import select

from core import db
from core.metrics import Metric, MetricQuery, MetricRow
from core.services.permissions import visibility
from plugins.property_service.models import PsKind, PsRequest
from plugins.property_service.workflows import CLOSED, RESOLVED

GROUPS = ("kind", "team_id", "building_id", "channel", "priority", "month")
TOP_THEMES = 10

_COLUMNS = ("kind", "team_id", "building_id", "channel", "priority", "status", "created_at", "response_seconds",
            "resolution_seconds", "sla_state", "reopen_count", "rating", "topic")


def _rows(query: MetricQuery, *conditions) -> list[Any]:
    stmt = select(*(getattr(PsRequest, c) for c in _COLUMNS)).where(
        visibility(query.actor, PsRequest), PsRequest.deleted_at.is_(None), *conditions)
    if query.start:
        stmt = stmt.where(PsRequest.created_at >= query.start)
    if query.end:
        stmt = stmt.where(PsRequest.created_at <= query.end)
    return list(db.session().execute(stmt))


def _key(row: Any, group_by: str | None) -> str | None:
    if group_by == "month":
        return f"{row.created_at:%Y-%m}"
    value = getattr(row, group_by)
    return str(value) if value is not None else None


def _grouped(query: MetricQuery, rows: Iterable[Any], reduce: Callable[[list], MetricRow]) -> list[MetricRow]:
    if not query.group_by:
        return [reduce(list(rows))]
    buckets: dict[str | None, list] = defaultdict(list)
    for row in rows:
        buckets[_key(row, query.group_by)].append(row)
    out = []
    for key in sorted(buckets, key=lambda k: (k is None, k or "")):
        reduced = reduce(buckets[key])
        out.append(MetricRow(value=reduced.value, group={query.group_by: key}, extra=reduced.extra))
    return out


def percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def requests_count(query: MetricQuery) -> list[MetricRow]:
    return _grouped(query, _rows(query), lambda rows: MetricRow(value=len(rows)))


def _duration(column: str) -> Callable[[MetricQuery], list[MetricRow]]:
    def compute(query: MetricQuery) -> list[MetricRow]:
        def reduce(rows):
            hours = [getattr(r, column) / 3600.0 for r in rows if getattr(r, column) is not None]
            return MetricRow(value=_round(percentile(hours, 0.5)),
                             extra={"p90": _round(percentile(hours, 0.9)), "n": len(hours)})

        return _grouped(query, _rows(query), reduce)

    return compute


def _share(rows: list, hit: Callable[[Any], bool], eligible: Callable[[Any], bool] = lambda r: True) -> MetricRow:
    pool = [r for r in rows if eligible(r)]
    hits = sum(1 for r in pool if hit(r))
    return MetricRow(value=_round(hits / len(pool), 4) if pool else None, extra={"n": len(pool), "hits": hits})


def breach_rate(query: MetricQuery) -> list[MetricRow]:
    return _grouped(query, _rows(query), lambda rows: _share(rows, lambda r: r.sla_state == "breached"))


def reopen_rate(query: MetricQuery) -> list[MetricRow]:
    def was_resolved(r):
        return r.status in (RESOLVED, CLOSED) or (r.reopen_count or 0) > 0

    return _grouped(query, _rows(query), lambda rows: _share(rows, lambda r: (r.reopen_count or 0) > 0, was_resolved))


def satisfaction(query: MetricQuery) -> list[MetricRow]:
    def reduce(rows):
        ratings = [r.rating for r in rows if r.rating is not None]
        good = sum(1 for v in ratings if v >= 4)
        return MetricRow(value=_round(sum(ratings) / len(ratings)) if ratings else None,
                         extra={"share_4_5": _round(good / len(ratings), 4) if ratings else None, "n": len(ratings)})

    return _grouped(query, _rows(query), reduce)


def demand_themes(query: MetricQuery) -> list[MetricRow]:
    """The most asked-for topics of consultations and suggestions (kinds marked ``demand``), per month
    when grouped: what owners want, for planning new services."""
    demand_kinds = select(PsKind.code).where(PsKind.demand.is_(True), PsKind.deleted_at.is_(None))
    rows = _rows(query, PsRequest.kind.in_(demand_kinds), PsRequest.topic != "")
    buckets: dict[str | None, Counter] = defaultdict(Counter)
    for row in rows:
        buckets[_key(row, query.group_by) if query.group_by else None][row.topic] += 1
    out = []
    for key in sorted(buckets, key=lambda k: k or ""):
        for topic, count in sorted(buckets[key].items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_THEMES]:
            group = {"topic": topic}
            if query.group_by:
                group = {query.group_by: key, "topic": topic}
            out.append(MetricRow(value=count, group=group))
    return out


METRICS = [
    Metric("property_service_requests", "Service requests", "服务申请数", requests_count,
           description="Requests created in the period.", group_by=GROUPS),
    Metric("property_service_first_response_hours", "First-response time (median, working hours)",
           "首次响应时长（中位数，工作小时）", _duration("response_seconds"), unit="hours",
           description="Median working hours from acceptance to the first response; extra: p90, n.",
           group_by=GROUPS),
    Metric("property_service_resolution_hours", "Resolution time (median, working hours)",
           "解决时长（中位数，工作小时）", _duration("resolution_seconds"), unit="hours",
           description="Median working hours to resolution, waiting on the owner excluded; extra: p90, n.",
           group_by=GROUPS),
    Metric("property_service_sla_breach_rate", "SLA breach rate", "超时率", breach_rate, unit="ratio",
           description="Share of requests whose response or resolution deadline was missed.", group_by=GROUPS),
    Metric("property_service_reopen_rate", "Reopen rate", "重开率", reopen_rate, unit="ratio",
           description="Share of resolved requests that were reopened.", group_by=GROUPS),
    Metric("property_service_satisfaction", "Satisfaction (average rating)", "满意度（平均评分）", satisfaction,
           unit="rating", description="Average owner rating 1–5; extra: share of 4–5 ratings, n.", group_by=GROUPS),
    Metric("property_service_demand_themes", "Demand themes", "需求主题", demand_themes,
           description=f"Top {TOP_THEMES} topics of consultations and suggestions (per month when grouped).",
           group_by=("month",)),
]
