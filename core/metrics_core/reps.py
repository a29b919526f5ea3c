"""``rep_kpis``: the sales reps' measures of DOMAIN §1 (销售人员绩效度量) per rep and period — calls,
visits, customers reached, meetings booked and held, referrals, deals, appointment success and signing
rates — computed in two aggregate queries whatever the number of reps."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select

from core import db
from core.metrics import MetricQuery, MetricRow
from core.metrics_core.sql import PERIOD_KEY, bucket_key, buckets, grain_of, in_period, period_start, rate, sort_key
from core.models import Interaction, InteractionStatus, Role, User
from core.services import interactions
from core.services.permissions import require_actor, team_member_ids

#: The rep an interaction counts for: its assignee (who was to do it, and did it), else whoever recorded
#: it. A task a manager books for a rep counts for the rep; a call a rep logs counts for that rep.
REP = func.coalesce(Interaction.assignee_id, Interaction.created_by_id)

CALL, VISIT, MEETING, REFERRAL, PURCHASE = "call", "visit", "meeting", "referral", "purchase"
DONE = InteractionStatus.DONE.value

COUNTS = ("calls", "visits", "customers_reached", "meetings_booked", "meetings_held", "booked_meetings_held",
          "referrals", "deals", "customers_signed")


def _scope(user: User) -> ColumnElement[bool] | None:
    """Whose rows the caller may see: a rep their own, a manager their team's (themselves included),
    an admin everyone's (None: no condition)."""
    if user.role == Role.ADMIN.value:
        return None
    if user.role == Role.MANAGER.value and user.team_id is not None:
        return or_(REP == user.id, REP.in_(team_member_ids(user.team_id)))
    return REP == user.id


def _listed(user: User) -> set[Any]:
    """Reps who get a row even without any activity: the caller's team's active reps (all active reps
    for an admin; just themselves for a rep)."""
    if user.role not in (Role.ADMIN.value, Role.MANAGER.value):
        return {user.id}
    stmt = select(User.id).where(User.role == Role.REP.value, User.is_active.is_(True), User.deleted_at.is_(None))
    if user.role == Role.MANAGER.value:
        if user.team_id is None:
            return set()
        stmt = stmt.where(User.team_id == user.team_id)
    return set(db.session().scalars(stmt))


def _count(condition) -> Any:
    return func.count(case((condition, 1)))


def rep_kpis(query: MetricQuery) -> list[MetricRow]:
    """One row per rep (per period with ``group_by=period:*``), ``value`` = deals closed.

    Every count is over the live interactions the caller may see — those of live customers in their
    ``customer_visibility``, and tasks assigned to them (as ``interactions.visible`` decides) — counted
    for the rep given by :data:`REP`. With a period, done interactions count when they occurred
    in it, booked meetings when they were recorded (created) in it.

    - ``calls`` / ``visits`` / ``referrals`` / ``meetings_held`` / ``deals``: done ``call`` / ``visit`` /
      ``referral`` / ``meeting`` / ``purchase`` interactions.
    - ``customers_reached``: distinct customers with any done interaction of the rep.
    - ``customers_signed``: distinct customers with a done purchase of the rep; ``revenue`` its amounts.
    - ``meetings_booked``: ``meeting`` interactions created in the period, whatever their status now
      (planned, done, or cancelled: a cancelled appointment was booked and failed).
    - ``booked_meetings_held``: those of ``meetings_booked`` that are done now.
    - ``appointment_success_rate`` = booked_meetings_held / meetings_booked (a share of the same meetings,
      so never above 1, unlike held-this-period / booked-this-period); null when nothing was booked.
    - ``signing_rate`` = customers_signed / customers_reached; null when nobody was reached.
    """
    user = require_actor(query.actor)
    grain = grain_of(query.group_by)
    filled = buckets(query, grain) if grain else None  # refuses an over-long range before any query
    scope = _scope(user)
    common = [REP.is_not(None), *([scope] if scope is not None else [])]

    def aggregate(timestamp, *measures, where):
        keys = [REP] + ([period_start(grain, timestamp)] if grain else [])
        # the interactions the caller may see, exactly as the interactions service decides
        stmt = (interactions.visible(user).with_only_columns(*keys, *measures)
                .where(*common, *where, *in_period(timestamp, query)).group_by(*keys))
        for row in db.session().execute(stmt):
            yield (row[0], bucket_key(row[1]) if grain else None), row[len(keys):]

    data: dict[tuple, dict[str, Any]] = {}

    def slot(key) -> dict[str, Any]:
        return data.setdefault(key, {**{name: 0 for name in COUNTS}, "revenue": 0.0})

    kind = Interaction.kind
    for key, (calls, visits, held, referrals, deals, reached, signed, revenue) in aggregate(
            Interaction.occurred_at,
            _count(kind == CALL), _count(kind == VISIT), _count(kind == MEETING), _count(kind == REFERRAL),
            _count(kind == PURCHASE), func.count(Interaction.customer_id.distinct()),
            func.count(case((kind == PURCHASE, Interaction.customer_id)).distinct()),
            func.coalesce(func.sum(case((kind == PURCHASE, Interaction.amount))), 0),
            where=[Interaction.status == DONE]):
        slot(key).update(calls=int(calls), visits=int(visits), meetings_held=int(held), referrals=int(referrals),
                         deals=int(deals), customers_reached=int(reached), customers_signed=int(signed),
                         revenue=round(float(revenue or 0), 2))
    for key, (booked, booked_held) in aggregate(
            Interaction.created_at, func.count(Interaction.id), _count(Interaction.status == DONE),
            where=[kind == MEETING]):
        slot(key).update(meetings_booked=int(booked), booked_meetings_held=int(booked_held))

    reps = _listed(user) | {rep for rep, _ in data}
    periods: list[str | None] = [None]
    if grain:
        periods = sorted(set(filled or ()) | {p for _, p in data}, key=sort_key)
    names = {uid: name or email for uid, name, email in
             db.session().execute(select(User.id, User.name, User.email).where(User.id.in_(reps)))} if reps else {}

    rows = []
    for rep in sorted(reps, key=lambda r: (names.get(r, "").lower(), str(r))):
        for period in periods:
            m = data.get((rep, period)) or slot((rep, period))
            group = {"rep_id": str(rep), "rep": names.get(rep), **({PERIOD_KEY: period} if grain else {})}
            rows.append(MetricRow(value=m["deals"], group=group, extra={
                **m,
                "appointment_success_rate": rate(m["booked_meetings_held"], m["meetings_booked"]),
                "signing_rate": rate(m["customers_signed"], m["customers_reached"]),
            }))
    return rows
