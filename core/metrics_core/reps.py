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

    def keys_of(timestamp) -> list:
        return [REP.label("rep")] + ([period_start(grain, timestamp).label("period")] if grain else [])

    def seen(*columns, where):
        """The interactions the caller may see, exactly as the interactions service decides."""
        return (interactions.visible(user).with_only_columns(*columns)
                .where(*common, *where))

    def rows_of(stmt, width):
        for row in db.session().execute(stmt):
            yield (row[0], bucket_key(row[1]) if grain else None), row[width:]

    data: dict[tuple, dict[str, Any]] = {}

    def slot(key) -> dict[str, Any]:
        return data.setdefault(key, {**{name: 0 for name in COUNTS}, "revenue": 0.0})

    # Done work, per rep (and period) and customer first, then per rep: the distinct customers reached
    # and signed are then a count of groups. Two count(DISTINCT) per rep instead sorted every done
    # interaction by rep: an admin's KPIs at 1 M customers and 10 M interactions took 8.6 s that way and
    # 6.6 s this way (docs/performance.md).
    kind, width = Interaction.kind, 2 if grain else 1
    keys = keys_of(Interaction.occurred_at)
    per_customer = (seen(*keys, Interaction.customer_id.label("customer_id"),
                         _count(kind == CALL).label("calls"), _count(kind == VISIT).label("visits"),
                         _count(kind == MEETING).label("held"), _count(kind == REFERRAL).label("referrals"),
                         _count(kind == PURCHASE).label("deals"),
                         func.sum(case((kind == PURCHASE, Interaction.amount))).label("revenue"),
                         where=[Interaction.status == DONE, *in_period(Interaction.occurred_at, query)])
                    .group_by(*keys, Interaction.customer_id).subquery())
    c = per_customer.c
    outer_keys = [c.rep] + ([c.period] if grain else [])
    done = (select(*outer_keys, func.sum(c.calls), func.sum(c.visits), func.sum(c.held), func.sum(c.referrals),
                   func.sum(c.deals), func.count(c.customer_id), func.count(case((c.deals > 0, c.customer_id))),
                   func.coalesce(func.sum(c.revenue), 0))
            .group_by(*outer_keys))
    for key, (calls, visits, held, referrals, deals, reached, signed, revenue) in rows_of(done, width):
        slot(key).update(calls=int(calls), visits=int(visits), meetings_held=int(held), referrals=int(referrals),
                         deals=int(deals), customers_reached=int(reached), customers_signed=int(signed),
                         revenue=round(float(revenue or 0), 2))
    keys = keys_of(Interaction.created_at)
    booked = (seen(*keys, func.count(Interaction.id), _count(Interaction.status == DONE),
                   where=[kind == MEETING, *in_period(Interaction.created_at, query)])
              .group_by(*keys))
    for key, (booked_count, booked_held) in rows_of(booked, width):
        slot(key).update(meetings_booked=int(booked_count), booked_meetings_held=int(booked_held))

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
