"""``funnel``: the customers in each lifecycle stage now, how many of those that entered a stage went on
to the next one, and how long customers stay in each stage — read from the ``customer.lifecycle``
history, which records every move with its time and the time spent in the stage it left.

Every number is aggregated by the database (three queries whatever the number of customers): at 1 M
customers nothing but one row per stage crosses into Python."""
from __future__ import annotations

from sqlalchemy import and_, case, func, select, true

from core import db, lifecycle, runtime
from core.metrics import MetricQuery, MetricRow
from core.metrics_core.sql import in_period, median, rate
from core.models import Customer, LifecycleStage as S, WorkflowTransitionEntry as Move
from core.services.permissions import customer_visibility, sees_every_customer

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
    lifecycle_moves = Move.workflow == lifecycle.WORKFLOW
    of_visible = Move.record_id.in_(select(Customer.id).where(*live_visible))

    counts = dict(session.execute(
        select(Customer.stage, func.count(Customer.id)).where(*live_visible).group_by(Customer.stage)).all())
    # an admin's history needs no scope: joined with the live customers, the rest is dropped anyway
    history_scope = [lifecycle_moves] + ([] if sees_every_customer(query.actor) else [of_visible])
    entered, converted = _cohorts(query, [state.name for state in workflow.states], workflow.initial,
                                  live_visible, history_scope)
    stays = _stays(query, [lifecycle_moves, of_visible])

    rows = []
    for state in workflow.states:
        stage = state.name
        step = LADDER.index(stage) if stage in LADDER else None
        next_stage = LADDER[step + 1] if step is not None and step + 1 < len(LADDER) else None
        cohort = entered.get(stage, 0)
        went_on = converted.get(stage, 0) if next_stage is not None else None
        middle, exits = stays.get(stage, (None, 0))
        rows.append(MetricRow(value=int(counts.get(stage, 0)), group={"stage": stage}, extra={
            "label_en": state.en, "label_zh_cn": state.zh_cn, "next_stage": next_stage,
            "entered": cohort, "converted": went_on,
            "conversion_rate": rate(went_on, cohort) if next_stage is not None else None,
            "median_days": round(float(middle) / SECONDS_PER_DAY, 2) if middle is not None else None,
            "exits": exits,
        }))
    return rows


def _cohorts(query: MetricQuery, states: list[str], initial: str, live_visible,
             history_scope) -> tuple[dict[str, int], dict[str, int]]:
    """Per stage: how many customers entered it within the period, and how many of those climbed past it
    at or after their first entry in the period — one pass over the customers, each joined to one row of
    their history's summary."""
    def within(column):
        return and_(*in_period(column, query)) if query.start or query.end else true()

    rank = case({stage: step for step, stage in enumerate(LADDER)}, value=Move.to_state)
    # per customer: whether they came in by an import move, their first entry into each stage within the
    # period, and their last move to each height of the ladder or above it (at any time)
    history = (select(Move.record_id.label("customer_id"),
                      func.max(case((Move.from_state.is_(None), 1))).label("imported"),
                      *(func.min(case((and_(Move.to_state == stage, within(Move.at)), Move.at))).label(f"into_{i}")
                        for i, stage in enumerate(states)),
                      *(func.max(case((rank >= step, Move.at))).label(f"above_{step}")
                        for step in range(1, len(LADDER))))
               .where(*history_scope).group_by(Move.record_id).subquery())
    h = history.c
    # being created is entering the first stage, unless the customer came in by an import move
    created = case((and_(h.imported.is_(None), within(Customer.created_at)), Customer.created_at))
    first = {}
    for i, stage in enumerate(states):
        moved = h[f"into_{i}"]
        first[stage] = moved if stage != initial else case(
            (created.is_(None), moved), (moved.is_(None), created), (moved < created, moved), else_=created)
    measures = []
    for stage in states:
        measures.append(func.count(first[stage]).label(f"entered_{stage}"))
        step = LADDER.index(stage) if stage in LADDER else None
        if step is not None and step + 1 < len(LADDER):
            measures.append(func.count(case((h[f"above_{step + 1}"] >= first[stage], 1))).label(f"converted_{stage}"))
    row = db.session().execute(
        select(*measures).select_from(Customer).outerjoin(history, h.customer_id == Customer.id)
        .where(*live_visible)).one()._mapping
    entered = {stage: int(row[f"entered_{stage}"]) for stage in states}
    converted = {stage: int(row[f"converted_{stage}"]) for stage in states if f"converted_{stage}" in row}
    return entered, converted


def _stays(query: MetricQuery, scope) -> dict[str, tuple[float | None, int]]:
    """Per stage left within the period: the median of the seconds spent in it, and how many moves out."""
    seconds = Move.seconds_in_previous
    stmt = (select(Move.from_state, median(seconds), func.count(seconds))
            .where(*scope, Move.from_state.is_not(None), seconds.is_not(None), *in_period(Move.at, query))
            .group_by(Move.from_state))
    return {stage: (middle, int(exits)) for stage, middle, exits in db.session().execute(stmt)}
