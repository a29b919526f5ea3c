"""Property service (物业服务): SLA clocks of service requests, counted in working time.

Targets come from the SLA policies (kind and priority, ``*`` for any kind) or the defaults below; the
calendar and thresholds from the plugin's settings row or :data:`DEFAULT_SETTINGS`. A request's state is
``on_time``, ``at_risk`` (less than ``at_risk_share`` of a target left) or ``breached`` (a deadline
passed; a breach stays on the record). While a request waits on the owner its clocks are paused: the
deadlines move on by the working time spent waiting.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core import db
from plugins.property_service.models import PsRequest, PsSettings, PsSlaPolicy
from plugins.property_service.workflows import ACCEPTED, DISPATCHED, IN_PROGRESS
from plugins.property_service.workhours import WorkCalendar

ON_TIME, AT_RISK, BREACHED = "on_time", "at_risk", "breached"
#: states whose clocks run (``waiting`` pauses them; finished states stop them)
RUNNING = (ACCEPTED, DISPATCHED, IN_PROGRESS)

DEFAULT_SETTINGS = {
    "timezone": "Asia/Shanghai",
    "workdays": [0, 1, 2, 3, 4],
    "hours": [["09:00", "18:00"]],
    "holidays": [],
    "extra_workdays": [],
    "at_risk_share": 0.25,
    "feedback_timeout_hours": 72,
    "low_rating_threshold": 2,
}

#: working minutes: (first response, resolution, escalate to the centre this long after a deadline)
DEFAULT_TARGETS = {
    "urgent": (30, 240, 60),
    "high": (60, 540, 120),
    "normal": (120, 1620, 240),
    "low": (480, 2700, 540),
}


@dataclass(frozen=True)
class Targets:
    response: float
    resolution: float
    escalate_after: float


_CACHE = "property_service.sla"


def _cached(key: str, factory):
    """A value computed once per unit of work (settings and policies are read by every request move)."""
    cache = db.session().info.setdefault(_CACHE, {})
    if key not in cache:
        cache[key] = factory()
    return cache[key]


def forget() -> None:
    """Drop the unit of work's cached settings and policies (after they change)."""
    db.session().info.pop(_CACHE, None)


def settings_row() -> PsSettings | None:
    return db.session().scalar(select(PsSettings).where(PsSettings.name == "default"))


def settings_values(row: PsSettings | None = None) -> dict:
    if row is None:
        return dict(_cached("settings", lambda: _values(settings_row())))
    return _values(row)


def _values(row: PsSettings | None) -> dict:
    if row is None:
        return {**DEFAULT_SETTINGS, "version": None}
    out = {key: getattr(row, key) for key in DEFAULT_SETTINGS}
    for key in ("workdays", "hours"):
        if not out[key]:
            out[key] = DEFAULT_SETTINGS[key]
    out["version"] = row.version
    return out


def calendar(values: dict | None = None) -> WorkCalendar:
    if values is None:
        return _cached("calendar", lambda: calendar(settings_values()))
    v = values
    return WorkCalendar.build(tz=v["timezone"], workdays=v["workdays"], hours=v["hours"],
                              holidays=v["holidays"], extra_workdays=v["extra_workdays"])


class Policies:
    """The SLA targets, read once per unit of work."""

    def __init__(self) -> None:
        self._rows = _cached("policies", lambda: {
            (p.kind, p.priority): (p.response_minutes, p.resolution_minutes, p.escalate_after_minutes)
            for p in db.session().scalars(select(PsSlaPolicy).where(PsSlaPolicy.deleted_at.is_(None)))})

    def targets(self, kind: str, priority: str) -> Targets:
        response, resolution, escalate = (self._rows.get((kind, priority)) or self._rows.get(("*", priority))
                                          or DEFAULT_TARGETS.get(priority, DEFAULT_TARGETS["normal"]))
        return Targets(response * 60.0, resolution * 60.0, escalate * 60.0)


def start_clocks(request: PsRequest, at: datetime, cal: WorkCalendar, targets: Targets, *,
                 response: bool = True) -> None:
    """Set the deadlines counted from ``at`` (creation, or a reopening: then only resolution)."""
    request.clock_started_at = at
    request.paused_seconds = 0.0
    if response:
        request.response_due_at = cal.add(at, targets.response)
    request.resolution_due_at = cal.add(at, targets.resolution)


def pause(request: PsRequest, at: datetime) -> None:
    request.paused_at = at


def unpause(request: PsRequest, at: datetime, cal: WorkCalendar) -> float:
    """Move the pending deadlines on by the working time spent paused; returns that time."""
    if request.paused_at is None:
        return 0.0
    spent = cal.between(request.paused_at, at)
    if spent > 0:
        if request.first_response_at is None and request.response_due_at is not None:
            request.response_due_at = cal.add(request.response_due_at, spent)
        if request.resolved_at is None and request.resolution_due_at is not None:
            request.resolution_due_at = cal.add(request.resolution_due_at, spent)
    request.paused_seconds = (request.paused_seconds or 0.0) + spent
    request.paused_at = None
    return spent


def pending_deadlines(request: PsRequest, targets: Targets) -> list[tuple[str, datetime, float]]:
    """``[(which, due, target seconds)]`` of the deadlines still to be met."""
    out = []
    if request.first_response_at is None and request.response_due_at is not None:
        out.append(("response", request.response_due_at, targets.response))
    if request.resolved_at is None and request.resolution_due_at is not None:
        out.append(("resolution", request.resolution_due_at, targets.resolution))
    return out


def missed(request: PsRequest) -> bool:
    """A deadline that was met late (response or resolution)."""
    return bool((request.first_response_at and request.response_due_at
                 and request.first_response_at > request.response_due_at)
                or (request.resolved_at and request.resolution_due_at
                    and request.resolved_at > request.resolution_due_at))


def evaluate(request: PsRequest, now: datetime, cal: WorkCalendar, targets: Targets, at_risk_share: float) -> str:
    """The SLA state of ``request`` at ``now``."""
    if request.sla_breached_at is not None or missed(request):
        return BREACHED
    if request.status not in RUNNING:
        # paused or finished: nothing can newly go wrong; an at-risk warning stays until work resumes
        return request.sla_state if request.sla_state != BREACHED and request.paused_at is not None else ON_TIME
    state = ON_TIME
    for _which, due, target in pending_deadlines(request, targets):
        if now > due:
            return BREACHED
        if _at_risk(now, due, target, cal, at_risk_share):
            state = AT_RISK
    return state


def _at_risk(now: datetime, due: datetime, target: float, cal: WorkCalendar, at_risk_share: float) -> bool:
    return now <= due and cal.between(now, due) <= at_risk_share * target


def deadlines_at_risk(request: PsRequest, now: datetime, cal: WorkCalendar, targets: Targets,
                      at_risk_share: float) -> list[tuple[str, datetime]]:
    """``[(which, due)]`` of the pending deadlines not yet passed with less than ``at_risk_share`` of
    their own target left — each deadline judged by itself, not by the request's overall state."""
    return [(which, due) for which, due, target in pending_deadlines(request, targets)
            if _at_risk(now, due, target, cal, at_risk_share)]


def overdue(request: PsRequest, now: datetime, targets: Targets) -> tuple[str, datetime] | None:
    """The earliest pending deadline that has passed, if any."""
    passed = [(which, due) for which, due, _ in pending_deadlines(request, targets) if now > due]
    return min(passed, key=lambda p: p[1]) if passed else None
