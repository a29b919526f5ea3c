"""``funnel``: the customers in each lifecycle stage now, how many of those that entered a stage went on
to the next one, and how long customers stay in each stage — read from the ``customer.lifecycle``
history, which records every move with its time and the time spent in the stage it left."""
from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select

from core import db, lifecycle, runtime
from core.metrics import MetricQuery, MetricRow
from core.metrics_core.sql import in_period, rate
from core.models import Customer, LifecycleStage as S, WorkflowTransitionEntry as Move
from core.services.permissions import customer_visibility

#: The ladder a customer climbs. ``lost`` lies outside it: it has no next stage, and reaching it is not
#: progress.
LADDER = (S.POTENTIAL.value, S.INTENT.value, S.FIRST_PURCHASE.value, S.REPEAT.value)
SECONDS_PER_DAY = 86400


def funnel(query: MetricQuery) -> list[MetricRow]:
    """One row per lifecycle stage, in the workflow's order.

    - ``value``: live customers the caller may see that are in the stage now (the period does not apply).
    - ``extra.entered``: how many live customers the caller may see entered the stage within the period
      (at any time when it is open). Entering means a move into the stage in the history, or — for ``potential`` — being created
      (a customer created directly in a later stage has an import move into it instead).
    - ``extra.converted``: how many of the ``entered`` later (at or after their first entry in the
      period, at any time up to now) moved into the next ladder stage or one beyond it — a customer whose
      first order arrives as two purchases at once skips ``first_purchase`` and still converted.
    - ``extra.conversion_rate``: converted / entered, rounded to 4 places; null when nobody entered, and
      for ``repeat`` and ``lost``, which have no next stage (``extra.next_stage`` is null).
    - ``extra.median_days``: the median of the time spent in the stage by the moves out of it made within
      the period (``seconds_in_previous`` / 86400, rounded to 2 places); null when none. Stays still
      going on are not counted. ``extra.exits`` is how many moves the median is taken over.
    - ``extra.label_en`` / ``extra.label_zh_cn``: the stage's labels.
    """
    session = db.session()
    workflow = runtime.current().workflows.get(lifecycle.WORKFLOW)
    live_visible = (customer_visibility(query.actor), Customer.deleted_at.is_(None))

    counts = dict(session.execute(
        select(Customer.stage, func.count(Customer.id)).where(*live_visible).group_by(Customer.stage)).all())
    moves = session.execute(
        select(Move.record_id, Move.from_state, Move.to_state, Move.at, Move.seconds_in_previous)
        .where(Move.workflow == lifecycle.WORKFLOW, Move.record_id.in_(select(Customer.id).where(*live_visible)))
        .order_by(Move.record_id, Move.at)).all()

    def within(at: datetime) -> bool:
        return (query.start is None or at >= query.start) and (query.end is None or at <= query.end)

    # stage → customer → their first entry into it within the period
    entries: dict[str, dict[uuid.UUID, datetime]] = defaultdict(dict)

    def enter(stage: str, customer_id: uuid.UUID, at: datetime) -> None:
        if within(at) and (customer_id not in entries[stage] or at < entries[stage][customer_id]):
            entries[stage][customer_id] = at

    imported = {m.record_id for m in moves if m.from_state is None}
    created = session.execute(select(Customer.id, Customer.created_at)
                              .where(*live_visible, *in_period(Customer.created_at, query)))
    for customer_id, created_at in created:
        if customer_id not in imported:
            enter(workflow.initial, customer_id, created_at)

    rank = {stage: i for i, stage in enumerate(LADDER)}
    climbs: dict[uuid.UUID, list[tuple[datetime, int]]] = defaultdict(list)
    stays: dict[str, list[float]] = defaultdict(list)
    for m in moves:
        enter(m.to_state, m.record_id, m.at)
        if m.to_state in rank:
            climbs[m.record_id].append((m.at, rank[m.to_state]))
        if m.from_state is not None and m.seconds_in_previous is not None and within(m.at):
            stays[m.from_state].append(m.seconds_in_previous)

    rows = []
    for state in workflow.states:
        stage = state.name
        cohort = entries.get(stage, {})
        step = rank.get(stage)
        next_stage = LADDER[step + 1] if step is not None and step + 1 < len(LADDER) else None
        converted = None
        if next_stage is not None:
            converted = sum(1 for customer_id, since in cohort.items()
                            if any(r > step and at >= since for at, r in climbs.get(customer_id, ())))
        spent = stays.get(stage, [])
        rows.append(MetricRow(value=int(counts.get(stage, 0)), group={"stage": stage}, extra={
            "label_en": state.en, "label_zh_cn": state.zh_cn, "next_stage": next_stage,
            "entered": len(cohort), "converted": converted,
            "conversion_rate": rate(converted, len(cohort)) if next_stage is not None else None,
            "median_days": round(statistics.median(spent) / SECONDS_PER_DAY, 2) if spent else None,
            "exits": len(spent),
        }))
    return rows
