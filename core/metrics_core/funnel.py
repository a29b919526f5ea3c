"""``funnel``: the customers in each lifecycle stage now, how many of those that entered a stage went on
to the next one, and how long customers stay in each stage — read from the ``customer.lifecycle``
history, which records every move with its time and the time spent in the stage it left.

Every number is aggregated by the database (three queries whatever the number of customers): at 1 M
customers nothing but one row per stage crosses into Python."""
from __future__ import annotations

from sqlalchemy import and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

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
    ours = (Move.workflow == lifecycle.WORKFLOW, Move.record_id.in_(select(Customer.id).where(*live_visible)))

    counts = dict(session.execute(
        select(Customer.stage, func.count(Customer.id)).where(*live_visible).group_by(Customer.stage)).all())
    entered, converted = _cohorts(query, workflow.initial, live_visible, ours)
    stays = _stays(query, ours)

    rows = []
    for state in workflow.states:
        stage = state.name
        step = LADDER.index(stage) if stage in LADDER else None
        next_stage = LADDER[step + 1] if step is not None and step + 1 < len(LADDER) else None
        cohort = entered.get(stage, 0)
        went_on = converted.get(stage, 0) if next_stage is not None else None
        median, exits = stays.get(stage, (None, 0))
        rows.append(MetricRow(value=int(counts.get(stage, 0)), group={"stage": stage}, extra={
            "label_en": state.en, "label_zh_cn": state.zh_cn, "next_stage": next_stage,
            "entered": cohort, "converted": went_on,
            "conversion_rate": rate(went_on, cohort) if next_stage is not None else None,
            "median_days": round(float(median) / SECONDS_PER_DAY, 2) if median is not None else None,
            "exits": exits,
        }))
    return rows


def _cohorts(query: MetricQuery, initial: str, live_visible, ours) -> tuple[dict[str, int], dict[str, int]]:
    """Per stage: how many customers entered it within the period, and how many of those climbed past it
    at or after their first entry in the period."""
    imported = aliased(Move)
    arrivals = union_all(
        select(Move.to_state.label("stage"), Move.record_id.label("customer_id"), Move.at.label("at"))
        .where(*ours, *in_period(Move.at, query)),
        # being created is entering the first stage, unless the customer came in by an import move
        select(literal(initial).label("stage"), Customer.id, Customer.created_at)
        .where(*live_visible, *in_period(Customer.created_at, query),
               ~exists().where(imported.workflow == lifecycle.WORKFLOW, imported.record_id == Customer.id,
                               imported.from_state.is_(None))),
    ).subquery()
    # a customer's first entry into each stage within the period
    entries = (select(arrivals.c.stage, arrivals.c.customer_id, func.min(arrivals.c.at).label("since"))
               .group_by(arrivals.c.stage, arrivals.c.customer_id).subquery())
    # a customer's last move to each height of the ladder or above it, at any time: whoever entered
    # stage k at `since` converted if they reached k + 1 or higher at or after `since`
    rank = case({stage: step for step, stage in enumerate(LADDER)}, value=Move.to_state)
    climbs = (select(Move.record_id.label("customer_id"),
                     *(func.max(case((rank >= step, Move.at))).label(f"above_{step}")
                       for step in range(1, len(LADDER))))
              .where(*ours, Move.to_state.in_(LADDER[1:])).group_by(Move.record_id).subquery())
    went_on = or_(*(and_(entries.c.stage == stage, climbs.c[f"above_{step + 1}"] >= entries.c.since)
                    for step, stage in enumerate(LADDER[:-1])))
    stmt = (select(entries.c.stage, func.count(), func.count(case((went_on, 1))))
            .select_from(entries.outerjoin(climbs, climbs.c.customer_id == entries.c.customer_id))
            .group_by(entries.c.stage))
    entered, converted = {}, {}
    for stage, cohort, climbed in db.session().execute(stmt):
        entered[stage], converted[stage] = int(cohort), int(climbed)
    return entered, converted


def _stays(query: MetricQuery, ours) -> dict[str, tuple[float | None, int]]:
    """Per stage left within the period: the median of the seconds spent in it, and how many moves out."""
    seconds = Move.seconds_in_previous
    ranked = (select(Move.from_state.label("stage"), seconds.label("seconds"),
                     func.row_number().over(partition_by=Move.from_state, order_by=seconds).label("n"),
                     func.count().over(partition_by=Move.from_state).label("exits"))
              .where(*ours, Move.from_state.is_not(None), seconds.is_not(None), *in_period(Move.at, query))
              .subquery())
    # the middle row, or the two middle rows of an even count (integer division on both databases)
    middle = ranked.c.n.in_([(ranked.c.exits + 1) // 2, (ranked.c.exits + 2) // 2])
    stmt = (select(ranked.c.stage, func.avg(ranked.c.seconds), func.max(ranked.c.exits))
            .where(middle).group_by(ranked.c.stage))
    return {stage: (median, int(exits)) for stage, median, exits in db.session().execute(stmt)}
