"""Customer analytics (客户分析, DOMAIN §2): RFM, value tiers, k-means segments, CLV, churn warning,
win-back and satisfaction, computed for every customer by :func:`refresh` and read through the
permission-checked functions below. docs/analytics.md says what every number means.

:func:`refresh` loads the live customers, their purchases and survey answers in three queries, computes
everything with numpy (``core.analytics``), replaces the ``customer_analytics`` rows in bulk and records
an ``analytics_run`` with the fitted parameters. Newly raised churn flags create one planned task for the
customer's owner. It is not scoped (it runs for the whole deployment from the CLI and ``trellis tick``);
every read, list and metric here applies :func:`core.services.permissions.customer_visibility`.

Purchases are the done interactions of kind ``purchase`` with an amount, from any source (the core or a
plugin). A negative amount is a refund: it nets against spend and is not a transaction; a zero amount is a
transaction worth 0.
"""
from __future__ import annotations

import math
import time
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, Callable, Mapping

from marshmallow import Schema, fields, validate
from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from core import db, queue, runtime
from core.lazy import lazy_module

# numpy and the models (scipy, scikit-learn) are imported when a refresh or a metric first needs them,
# not when the app starts (core.lazy)
np = lazy_module("numpy")
_clv = lazy_module("core.analytics.clv")
_rfm = lazy_module("core.analytics.rfm")
_seg = lazy_module("core.analytics.segmentation")
_value = lazy_module("core.analytics.value")
from core.db import utcnow
from core.errors import NotFound, ValidationFailed
from core.metrics import Metric, MetricQuery, MetricRow
from core.models import (
    AnalyticsRun, Customer, CustomerAnalytics, CustomerSegment, Interaction, InteractionDirection, InteractionStatus,
    LifecycleStage, User, WorkflowTransitionEntry,
)
from core.request_context import current_request_id, request_id_var
from core.schemas import AnalyticsFlag, BoundedList, StrictSchema
from core.services import common
from core.services.bulk import BulkRecorder
from core.services.permissions import customer_visibility, require_actor, require_role

PURCHASE_KIND = "purchase"
SURVEY_KIND = "survey"
SOURCE = "analytics"
#: the statuses of a run that finished with numbers (the customers carry a run of one of these)
DONE = ("ok", "partial")
#: the statuses of a queued run the worker has still to finish
WAITING = ("queued", "running")
CHURN_SUBJECT = "Churn warning"
WIN_BACK_SUBJECT = "Win back"

# --- the RFM segment vocabulary and the default grid ---------------------------------------------------

#: segment key → (en, zh-CN)
RFM_LABELS: dict[str, tuple[str, str]] = {
    "champions": ("Champions", "重要价值客户"),
    "loyal": ("Loyal", "忠诚客户"),
    "potential_loyalists": ("Potential loyalists", "潜在忠诚客户"),
    "new_customers": ("New customers", "新客户"),
    "promising": ("Promising", "有潜力客户"),
    "need_attention": ("Need attention", "需要关注客户"),
    "about_to_sleep": ("About to sleep", "即将沉睡客户"),
    "at_risk": ("At risk", "有流失风险客户"),
    "cant_lose": ("Can't lose them", "不能失去的客户"),
    "hibernating": ("Hibernating", "沉睡客户"),
    "lost": ("Lost", "已流失客户"),
}
#: rows R = 5..1, columns F = 1..5 (core.analytics.rfm.SEGMENT_GRID, with R1-F1 "lost")
DEFAULT_RFM_GRID = (
    "new_customers,potential_loyalists,potential_loyalists,champions,champions;"
    "promising,potential_loyalists,potential_loyalists,loyal,loyal;"
    "about_to_sleep,about_to_sleep,need_attention,loyal,loyal;"
    "hibernating,hibernating,at_risk,at_risk,cant_lose;"
    "lost,hibernating,at_risk,at_risk,cant_lose"
)


def rfm_labels(settings=None) -> dict[str, tuple[str, str]]:
    """The segment labels: the built-in ones plus ``analytics_rfm_labels`` (``key=English|中文;…``)."""
    settings = settings or runtime.current().settings
    labels = dict(RFM_LABELS)
    for part in settings.analytics_rfm_labels.split(";"):
        if not part.strip():
            continue
        key, sep, text = part.partition("=")
        en, _, zh = text.partition("|")
        if not sep or not key.strip() or not en.strip():
            raise ValueError(f"analytics_rfm_labels: '{part}' is not key=English|中文")
        labels[key.strip()] = (en.strip(), (zh or en).strip())
    return labels


def rfm_grid(settings=None) -> list[list[str]]:
    """``grid[5 - r][f - 1]``: the configured (or default) 5 x 5 segment grid, checked."""
    settings = settings or runtime.current().settings
    labels = rfm_labels(settings)
    text = settings.analytics_rfm_grid.strip() or DEFAULT_RFM_GRID
    rows = [[c.strip() for c in row.split(",")] for row in text.split(";")]
    if len(rows) != 5 or any(len(r) != 5 for r in rows):
        raise ValueError("analytics_rfm_grid must be 5 rows (R = 5..1) separated by ';' of 5 keys (F = 1..5)")
    unknown = sorted({c for r in rows for c in r} - set(labels))
    if unknown:
        raise ValueError(f"analytics_rfm_grid names segments without labels: {', '.join(unknown)} "
                         "(add them to analytics_rfm_labels)")
    return rows


# --- refresh ----------------------------------------------------------------------------------------------

def _days(values: list[datetime]) -> np.ndarray:
    """UTC datetimes → int64 days since 1970-01-01."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    arr = np.array([v.astimezone(timezone.utc).replace(tzinfo=None) for v in values], dtype="datetime64[D]")
    return arr.astype(np.int64)


def _day_to_datetime(day: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(days=int(day))


def _f(value: Any, digits: int = 4) -> float | None:
    """A finite float for storage and JSON, or None."""
    if value is None:
        return None
    v = float(value)
    return round(v, digits) if math.isfinite(v) else None


def _fit_params(fit: Any, names: tuple[str, ...]) -> dict[str, Any]:
    if not fit:
        return {"ok": False, "reason": fit.reason}
    return {"ok": True, **{n: _f(getattr(fit, n), 6) for n in names}, "log_likelihood": _f(fit.log_likelihood, 3),
            "customers": fit.n_customers, "converged": fit.converged, "message": fit.message}


def is_due(now: datetime | None = None) -> bool:
    """True when no run exists or the last one is older than ``analytics_refresh_hours``."""
    now = now or utcnow()
    last = db.session().scalar(select(func.max(AnalyticsRun.finished_at)).where(AnalyticsRun.status.in_(DONE)))
    if last is None:
        return True
    hours = runtime.current().settings.analytics_refresh_hours
    return now - last >= timedelta(hours=hours)


def refresh_job(now: datetime) -> str:
    """``trellis tick``: recompute when due (idempotent: a second tick right after does nothing)."""
    if not is_due(now):
        return "not due"
    run = refresh(now=now, trigger="tick")
    return f"{run.customers} customers, {run.params.get('churn', {}).get('tasks_created', 0)} churn task(s)"


class RefreshRequest(StrictSchema):
    """What ``trellis analytics refresh``, ``POST /analytics/refresh`` and ``refreshAnalytics`` take."""

    as_of = fields.Date(allow_none=True, metadata={"description": (
        "The day (UTC, YYYY-MM-DD) to analyse as of: purchases up to its end count and it stands for "
        "today (recency, windows, the CLV models' calibration end). Not in the future; default today.")})
    calibration_start = fields.Date(allow_none=True, metadata={"description": (
        "The first day of purchases the CLV models (BG/NBD, Gamma-Gamma) are fitted on; not after as_of. "
        "Default: all history.")})


def refresh_options(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """``as_of`` and ``calibration_start`` from raw input (strings), checked: a 422 names the field."""
    values = common.validate(RefreshRequest, dict(data or {}))
    return {k: values.get(k) for k in ("as_of", "calibration_start")}


def _check_dates(as_of: date, calibration_start: date | None, today: date) -> None:
    if as_of > today:
        raise ValidationFailed(fields={"as_of": [
            f"{as_of.isoformat()} is in the future (today is {today.isoformat()}, UTC): nothing is known yet."]})
    if calibration_start is not None and calibration_start > as_of:
        raise ValidationFailed(fields={"calibration_start": [
            f"{calibration_start.isoformat()} is after as_of ({as_of.isoformat()}): the calibration period "
            "would be empty."]})


def refresh(*, now: datetime | None = None, as_of: date | None = None, calibration_start: date | None = None,
            trigger: str = "manual", progress: Callable[[int, int, str], None] | None = None,
            run_id: uuid.UUID | None = None) -> AnalyticsRun:
    """Recompute every live customer's analytics and store them (one transaction).

    ``as_of`` (a date, default the UTC day of ``now``) is the day analysed: purchases and survey answers
    up to its end (and not after ``now``) count, and it stands for "today" everywhere (recency, the
    windows, the CLV models' calibration end, churn periods). ``calibration_start`` limits the purchases
    the CLV models are fitted on to those from that day on. ``now`` is when the refresh runs: the run's
    ``started_at``, the rows' ``computed_at``, since when a churn flag is up, and the new tasks' due day.
    ``ValidationFailed`` names ``as_of`` when it is in the future and ``calibration_start`` when it is
    after ``as_of``.

    ``progress(done, total, step)`` is called after each step (the CLI draws its progress bar with it).
    ``run_id``: the queued run (:func:`queue_refresh`) to record the outcome on, instead of a new one.
    """
    started = time.perf_counter()
    now = now or utcnow()
    real_today = now.astimezone(timezone.utc).date()
    as_of = as_of or real_today
    _check_dates(as_of, calibration_start, real_today)
    # counted: up to the end of the as-of day, and nothing dated after the refresh's own instant
    day_after = datetime(as_of.year, as_of.month, as_of.day, tzinfo=timezone.utc) + timedelta(days=1)
    settings = runtime.current().settings
    sess = db.session()
    grid = rfm_grid(settings)
    cuts = _value.parse_cuts(settings.analytics_tier_cuts)
    steps = ["load", "rfm", "tiers", "segments", "clv", "churn", "tasks", "write"]
    done = 0

    def step(name: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, len(steps), name)

    # --- load: three queries ---------------------------------------------------------------------------
    cust_rows = sess.execute(
        select(Customer.id, Customer.name, Customer.industry, Customer.size, Customer.stage, Customer.owner_id)
        .where(Customer.deleted_at.is_(None)).order_by(Customer.id)).all()
    n = len(cust_rows)
    index = {row.id: i for i, row in enumerate(cust_rows)}
    purchase_rows = sess.execute(
        select(Interaction.customer_id, Interaction.occurred_at, Interaction.amount)
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(Interaction.kind == PURCHASE_KIND, Interaction.status == InteractionStatus.DONE.value,
               Interaction.amount.is_not(None), Interaction.occurred_at.is_not(None),
               Interaction.occurred_at <= now, Interaction.occurred_at < day_after, Interaction.deleted_at.is_(None),
               Customer.deleted_at.is_(None))).all()
    survey_rows = sess.execute(
        select(Interaction.customer_id, Interaction.score_scale, Interaction.score, Interaction.occurred_at)
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(Interaction.kind == SURVEY_KIND, Interaction.status == InteractionStatus.DONE.value,
               Interaction.score.is_not(None), Interaction.deleted_at.is_(None), Customer.deleted_at.is_(None),
               or_(Interaction.occurred_at.is_(None), Interaction.occurred_at < day_after))
        .order_by(Interaction.occurred_at)).all()
    previous = {r.customer_id: r for r in sess.execute(
        select(CustomerAnalytics.customer_id, CustomerAnalytics.churn_risk, CustomerAnalytics.churn_since,
               CustomerAnalytics.churn_task_id))}
    step("load")

    today = int(np.datetime64(as_of, "D").astype(np.int64))
    c = np.array([index[r.customer_id] for r in purchase_rows], dtype=np.int64)
    d = _days([r.occurred_at for r in purchase_rows])
    a = np.array([float(r.amount) for r in purchase_rows], dtype=float)
    buy = a >= 0
    gross = np.bincount(c[buy], weights=a[buy], minlength=n)
    refunds = np.bincount(c[~buy], weights=a[~buy], minlength=n)
    lifetime = np.clip(gross + refunds, 0, None)
    # refunds scale every purchase of the customer down proportionally, so the models see net spend
    scale = np.divide(lifetime, gross, out=np.zeros(n), where=gross > 0)

    # one transaction per (customer, day) of purchases with amount >= 0
    if buy.any():
        dmin = int(d[buy].min())
        span = int(d[buy].max()) - dmin + 1
        keys, inverse = np.unique(c[buy] * span + (d[buy] - dmin), return_inverse=True)
        t_c = (keys // span).astype(np.int64)
        t_d = (keys % span + dmin).astype(np.int64)
        t_v = np.bincount(inverse.reshape(-1), weights=a[buy], minlength=keys.shape[0]) * scale[t_c]
    else:
        t_c = t_d = np.zeros(0, dtype=np.int64)
        t_v = np.zeros(0)
    n_txn = np.bincount(t_c, minlength=n)
    purchaser = n_txn > 0
    first_day = np.full(n, today, dtype=np.int64)
    last_day = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    if t_c.shape[0]:
        np.minimum.at(first_day, t_c, t_d)
        np.maximum.at(last_day, t_c, t_d)
        first_of = np.flatnonzero(np.concatenate([[True], t_c[1:] != t_c[:-1]]))
    else:
        first_of = np.zeros(0, dtype=np.int64)
    last_day[~purchaser] = today
    first_value = np.zeros(n)
    first_value[t_c[first_of]] = t_v[first_of]

    # --- RFM over the window ---------------------------------------------------------------------------
    window = settings.analytics_window_days
    win_start = today - window + 1
    in_win_t = t_d >= win_start
    freq_w = np.bincount(t_c[in_win_t], minlength=n)
    in_win = d >= win_start
    monetary_w = np.clip(np.bincount(c[in_win], weights=a[in_win], minlength=n), 0, None)
    recency = today - last_day
    tenure = today - first_day
    p_idx = np.flatnonzero(purchaser)
    r_s = np.zeros(n, dtype=np.int64)
    f_s = np.zeros(n, dtype=np.int64)
    m_s = np.zeros(n, dtype=np.int64)
    if p_idx.shape[0]:
        r_s[p_idx] = _rfm.rfm_score(recency[p_idx], higher_is_better=False, column="recency")
        f_s[p_idx] = _rfm.rfm_score(freq_w[p_idx], column="frequency")
        m_s[p_idx] = _rfm.rfm_score(monetary_w[p_idx], column="monetary")
    step("rfm")

    # --- value tiers ------------------------------------------------------------------------------------
    tiers = np.full(n, None, dtype=object)
    shares = np.zeros(n)
    if p_idx.shape[0]:
        tiers[p_idx], shares[p_idx] = _value.value_tiers(monetary_w[p_idx], cuts)
    step("tiers")

    # --- k-means ----------------------------------------------------------------------------------------
    seg = _seg.segment_customers(
        {"recency": recency[p_idx], "frequency": freq_w[p_idx], "monetary": monetary_w[p_idx],
         "tenure": tenure[p_idx]},
        {"industry": [cust_rows[i].industry for i in p_idx], "size": [cust_rows[i].size for i in p_idx]},
        k_min=settings.analytics_k_min, k_max=settings.analytics_k_max)
    step("segments")

    # --- CLV --------------------------------------------------------------------------------------------
    annuity = _clv.seed_clv(0.0, 0.0, 1.0, settings.analytics_seed_interest_rate, settings.analytics_seed_years)
    yearly = monetary_w * (_clv.PERIOD_DAYS["Y"] / window)
    seed = first_value - settings.analytics_seed_acquisition_cost + yearly * annuity
    p_alive = np.full(n, np.nan)
    exp_txn = np.full(n, np.nan)
    clv = np.full(n, np.nan)
    repeat = np.zeros(n, dtype=bool)
    months = settings.analytics_clv_horizon_months
    bg = gg = None
    calibrated = t_d >= int(np.datetime64(calibration_start, "D").astype(np.int64)) if calibration_start \
        else np.ones(t_d.shape[0], dtype=bool)
    model_reason = (f"no purchase from the calibration start ({calibration_start}) to {as_of}"
                    if calibration_start and t_c.shape[0] else "no purchase yet")
    if calibrated.any():
        summary = _clv.summarize({"customer_id": t_c[calibrated], "date": t_d[calibrated].astype("datetime64[D]"),
                             "amount": t_v[calibrated]}, np.datetime64(today, "D"), period="W")
        ids = summary.customer_ids.astype(np.int64)
        repeat[ids] = summary.frequency > 0
        bg = _clv.fit_bgnbd(summary.frequency, summary.recency, summary.T)
        gg = _clv.fit_gamma_gamma(summary.frequency, summary.monetary_value)
        if bg:
            p_alive[ids] = _clv.probability_alive(bg, summary.frequency, summary.recency, summary.T)
            exp_txn[ids] = _clv.expected_transactions(bg, months * _clv.PERIOD_DAYS["M"] / 7.0, summary.frequency,
                                                 summary.recency, summary.T)
            if gg:
                clv[ids] = _clv.customer_lifetime_value(
                    bg, gg, summary, horizon=months, period="M", discount_rate=settings.analytics_clv_discount_rate,
                    margin=settings.analytics_clv_margin)
    step("clv")

    modelled = np.zeros(n, dtype=bool)
    modelled[t_c[calibrated]] = True

    def model_reason_for(i: int) -> str | None:
        if not purchaser[i]:
            return "no purchase yet"
        if not modelled[i]:
            return (f"no purchase since the calibration start ({calibration_start.isoformat()}): the CLV models "
                    "are fitted on the purchases from that day on")
        if not repeat[i]:
            return ("one purchase so far: BG/NBD needs a repeat purchase to tell how often this customer "
                    "buys and whether they are still active")
        if not bg:
            return f"BG/NBD could not be fitted: {bg.reason}"
        if not bg.converged:  # predictions from parameters stuck at a bound mean nothing: say so, not 0
            return f"the BG/NBD fit did not converge on these purchases ({bg.message}); the seed formula ranks"
        if not gg and np.isnan(clv[i]):
            return f"Gamma-Gamma could not be fitted: {gg.reason}"
        return None

    # --- churn flags --------------------------------------------------------------------------------------
    period = settings.analytics_churn_period_days
    base_n = settings.analytics_churn_baseline_periods
    last_start = today - period + 1
    base_start = last_start - period * base_n
    last_rev = np.bincount(c[d >= last_start], weights=a[d >= last_start], minlength=n)
    in_base = (d >= base_start) & (d < last_start)
    base_rev = np.bincount(c[in_base], weights=a[in_base], minlength=n)
    active_periods = np.clip(np.ceil((last_start - first_day) / period), 1, base_n)
    baseline = np.clip(base_rev, 0, None) / active_periods
    baseline[first_day >= last_start] = 0.0  # a customer newer than the last period has no baseline
    drop = _value.revenue_drop(np.clip(last_rev, 0, None), baseline)
    usual = _value.usual_gap_days(t_c, t_d, n)
    gap_limit = np.maximum(settings.analytics_churn_gap_factor * usual, settings.analytics_churn_min_gap_days)
    flags: list[list[dict[str, str]]] = [[] for _ in range(n)]
    for i in p_idx:
        if cust_rows[i].stage == LifecycleStage.LOST.value:
            continue  # already lost: the win-back list covers them
        if n_txn[i] >= 2 and baseline[i] > 0 and drop[i] >= settings.analytics_churn_drop:
            flags[i].append({"flag": "drop", "reason": (
                f"revenue in the last {period} days ({max(last_rev[i], 0):,.2f}) is {drop[i]:.0%} below its "
                f"usual {baseline[i]:,.2f} per {period} days")})
        if n_txn[i] >= 2 and recency[i] > gap_limit[i]:
            flags[i].append({"flag": "gap", "reason": (
                f"{int(recency[i])} days since the last purchase, against a usual gap of {usual[i]:g} days")})
        if bg and bg.converged and not np.isnan(p_alive[i]) and repeat[i] \
                and p_alive[i] < settings.analytics_churn_p_alive:
            flags[i].append({"flag": "p_alive", "reason": (
                f"probability of still being active is {p_alive[i]:.2f}, under "
                f"{settings.analytics_churn_p_alive:g}")})
    step("churn")

    # --- tasks for newly raised flags --------------------------------------------------------------------
    new_flag = [i for i in range(n) if flags[i] and not getattr(previous.get(cust_rows[i].id), "churn_risk", False)]
    owner_ids = {cust_rows[i].owner_id for i in new_flag if cust_rows[i].owner_id is not None}
    owners = {u.id: u for u in sess.scalars(select(User).where(User.id.in_(owner_ids)))} if owner_ids else {}
    tasks: dict[int, uuid.UUID] = {}
    due = now + timedelta(days=settings.analytics_task_due_days)
    # the tasks, their audit entries and events, and the analytics rows are written in batches (one INSERT
    # per table and 5,000 rows) by the bulk recorder: one at a time, 15,716 tasks took 109 s at 100,000
    # customers. Each task is audited and announced as the owner's, as interactions.create does.
    recorder = BulkRecorder(None)
    for i in new_flag:
        owner = owners.get(cust_rows[i].owner_id)
        if owner is None or not owner.is_active or owner.deleted_at is not None:
            continue
        tasks[i] = _task_row(recorder, owner, cust_rows[i].id, owner.id, f"{CHURN_SUBJECT}: call {cust_rows[i].name}",
                             "\n".join(f["reason"] for f in flags[i]), due, now)
    step("tasks")

    # --- write ----------------------------------------------------------------------------------------
    run = sess.get(AnalyticsRun, run_id) if run_id is not None else None
    if run is None:
        run = AnalyticsRun()
        sess.add(run)
    run.started_at, run.trigger, run.as_of, run.calibration_start = now, trigger, as_of, calibration_start
    run.customers, run.purchasers = n, int(purchaser.sum())
    sess.flush()
    sess.execute(delete(CustomerAnalytics))
    sess.execute(delete(CustomerSegment).where(CustomerSegment.run_id != run.id))
    segment_ids: list[uuid.UUID] = []
    if seg:
        for number in range(seg.k):
            row = CustomerSegment(run_id=run.id, number=number + 1, name=f"Segment {number + 1}",
                                  size=seg.sizes[number], profile=seg.profiles[number],
                                  profile_zh_cn=seg.profiles_zh_cn[number], centroid=seg.centroids[number])
            sess.add(row)
            segment_ids.append(row.id or uuid.uuid4())
            row.id = segment_ids[-1]
        sess.flush()
    seg_of = np.full(n, -1, dtype=np.int64)
    if seg:
        seg_of[p_idx] = seg.labels
    seg_reason = None if seg else seg.reason
    csat, nps = _satisfaction(survey_rows, index, n)

    # the model CLV ranks the win-back list only when both fits converged inside their bounds; a
    # degenerate fit (few customers, no heterogeneity) predicts little worth ranking by
    trusted = bool(bg and gg and bg.converged and gg.converged)
    for i, cr in enumerate(cust_rows):
        buyer = bool(purchaser[i])
        prev = previous.get(cr.id)
        up = bool(flags[i])
        persisting = up and prev is not None and prev.churn_risk
        m_reason = model_reason_for(i)
        clv_i = None if m_reason else _f(clv[i], 2)
        seed_i = _f(seed[i], 2) if buyer else None
        recorder.add(CustomerAnalytics, **{
            "customer_id": cr.id, "run_id": run.id, "computed_at": now,
            "transactions": int(n_txn[i]), "lifetime_revenue": float(round(lifetime[i], 2)),
            "first_purchase_at": _day_to_datetime(first_day[i]) if buyer else None,
            "last_purchase_at": _day_to_datetime(last_day[i]) if buyer else None,
            "recency_days": int(recency[i]) if buyer else None,
            "frequency": int(freq_w[i]) if buyer else None,
            "monetary": float(round(monetary_w[i], 2)) if buyer else None,
            "r_score": int(r_s[i]) if buyer else None, "f_score": int(f_s[i]) if buyer else None,
            "m_score": int(m_s[i]) if buyer else None,
            "rfm_segment": grid[5 - r_s[i]][f_s[i] - 1] if buyer else None,
            "rfm_reason": None if buyer else "no purchase yet",
            "value_tier": tiers[i], "revenue_share": _f(shares[i]) if buyer else None,
            "segment_id": segment_ids[seg_of[i]] if buyer and seg else None,
            "segment_reason": None if buyer and seg else ("no purchase yet" if not buyer else seg_reason),
            "clv_seed": seed_i, "clv_seed_reason": None if buyer else "no purchase yet",
            "p_alive": None if m_reason else _f(p_alive[i]),
            "expected_transactions": None if m_reason else _f(exp_txn[i]),
            "clv": clv_i,
            "clv_reason": m_reason if m_reason else (None if clv_i is not None else "the spend model is missing"),
            "expected_value": (clv_i if clv_i is not None and trusted else
                               seed_i if seed_i is not None else 0.0),
            "churn_risk": up, "churn_flags": flags[i],
            "churn_since": (prev.churn_since if persisting else now) if up else None,
            "churn_task_id": (prev.churn_task_id if persisting else tasks.get(i)) if up else None,
            **csat[i], **nps[i],
        })
    recorder.flush([Interaction, CustomerAnalytics])   # the tasks first: churn_task_id refers to them

    run.finished_at = utcnow()
    run.seconds = round(time.perf_counter() - started, 3)
    problems = [r for r in (None if seg else seg.reason, None if bg is None or bg else bg.reason,
                            None if gg is None or gg else gg.reason) if r]
    run.status = "partial" if problems else "ok"
    run.message = "; ".join(problems)
    run.params = {
        "window_days": window, "tier_cuts": list(cuts),
        "bgnbd": _fit_params(bg, ("r", "alpha", "a", "b")) if bg is not None else {"ok": False, "reason": model_reason},
        "gamma_gamma": (_fit_params(gg, ("p", "q", "gamma")) if gg is not None
                        else {"ok": False, "reason": model_reason}),
        "clv": {"horizon_months": months, "discount_rate": settings.analytics_clv_discount_rate,
                "margin": settings.analytics_clv_margin},
        "seed": {"acquisition_cost": settings.analytics_seed_acquisition_cost,
                 "interest_rate": settings.analytics_seed_interest_rate, "years": settings.analytics_seed_years},
        "kmeans": ({"ok": True, "k": seg.k, "silhouette": seg.silhouette, "scores": {str(k): v for k, v in seg.scores.items()}}
                   if seg else {"ok": False, "reason": seg.reason}),
        "churn": {"flagged": int(sum(1 for f in flags if f)), "tasks_created": len(tasks)},
        "expected_value_from": "model" if trusted else "seed",
    }
    sess.flush()
    step("write")
    return run


def _satisfaction(survey_rows, index: dict, n: int) -> tuple[list[dict], list[dict]]:
    csat_sum, csat_n = np.zeros(n), np.zeros(n, dtype=np.int64)
    nps_n = np.zeros(n, dtype=np.int64)
    nps_last: list[int | None] = [None] * n
    for row in survey_rows:  # ordered by time: the last NPS answer wins
        i = index[row.customer_id]
        if row.score_scale == "csat":
            csat_sum[i] += row.score
            csat_n[i] += 1
        elif row.score_scale == "nps":
            nps_n[i] += 1
            nps_last[i] = int(row.score)
    csat = [{"csat_answers": int(csat_n[i]), "csat_mean": _f(csat_sum[i] / csat_n[i], 2) if csat_n[i] else None}
            for i in range(n)]
    nps = [{"nps_answers": int(nps_n[i]), "nps_last": nps_last[i]} for i in range(n)]
    return csat, nps


def _task_row(recorder: BulkRecorder, actor: User, customer_id: uuid.UUID, assignee_id: uuid.UUID, subject: str,
              notes: str, due: datetime, at: datetime) -> uuid.UUID:
    """Collect a planned call task in ``recorder``: the row ``interactions.create`` would write for ``actor``
    (who may see the customer: its owner), its audit entry and its ``interaction.created`` event, with the
    same changes and payload. The caller checked the customer and the assignee."""
    from core.services.interactions import AUDITED

    values = {"customer_id": customer_id, "contact_id": None, "kind": "call",
              "direction": InteractionDirection.OUTBOUND.value, "status": InteractionStatus.PLANNED.value,
              "subject": subject[:200], "notes": notes, "occurred_at": None, "due_at": due, "amount": None,
              "score": None, "score_scale": None, "assignee_id": assignee_id, "reminder_at": None, "outcome": ""}
    row = recorder.add(Interaction, **values, created_by_id=actor.id, completed_at=None, escalated_at=None,
                       escalation_count=0, source=SOURCE, version=1, created_at=at, updated_at=at, deleted_at=None)
    recorder.change("created", row, {f: (None, values[f]) for f in AUDITED if values.get(f) not in (None, "", [])},
                    payload={"customer_id": customer_id, "kind": "call", "source": SOURCE}, at=at, actor=actor)
    return row.id


def _create_task(actor: User, customer_id: uuid.UUID, assignee_id: uuid.UUID, subject: str, notes: str,
                 due: datetime) -> Interaction:
    from core.services import interactions

    return interactions.create(actor, {
        "customer_id": str(customer_id), "kind": "call", "subject": subject[:200], "notes": notes,
        "status": InteractionStatus.PLANNED.value, "due_at": due, "assignee_id": str(assignee_id)}, source=SOURCE)


# --- reads ------------------------------------------------------------------------------------------------

NOT_ANALYSED = "not analysed yet: the analytics are refreshed by `trellis analytics refresh` and `trellis tick`"


def _visible_rows():
    return (select(CustomerAnalytics).join(Customer, Customer.id == CustomerAnalytics.customer_id)
            .where(Customer.deleted_at.is_(None)))


def for_customers(actor: Any, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, CustomerAnalytics]:
    """The stored analytics of the given customers the actor may see, in one query (GraphQL loaders)."""
    if not customer_ids:
        return {}
    rows = db.session().scalars(_visible_rows().where(customer_visibility(actor),
                                                      CustomerAnalytics.customer_id.in_(customer_ids)))
    return {r.customer_id: r for r in rows}


def preload(customers: list[Customer]) -> None:
    """Fill ``Customer.analytics`` (and its segment) for a page of customers the caller already may see, in
    two statements, so serialising the page reads no more."""
    pending = [c for c in customers if "analytics" in sa_inspect(c).unloaded]
    if not pending:
        return
    rows = {r.customer_id: r for r in db.session().scalars(
        select(CustomerAnalytics).where(CustomerAnalytics.customer_id.in_([c.id for c in pending]))
        .options(selectinload(CustomerAnalytics.segment)))}
    for customer in pending:
        set_committed_value(customer, "analytics", rows.get(customer.id))


def segments_by_id(ids: list[uuid.UUID]) -> dict[uuid.UUID, CustomerSegment]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    return {s.id: s for s in db.session().scalars(select(CustomerSegment).where(CustomerSegment.id.in_(ids)))}


def get_customer(actor: Any, customer_id: Any) -> dict[str, Any]:
    """Everything analytics knows about one customer the actor may see (NotFound otherwise)."""
    from core.services import customers

    customer = customers.get(actor, customer_id)
    row = db.session().get(CustomerAnalytics, customer.id)
    segment = db.session().get(CustomerSegment, row.segment_id) if row is not None and row.segment_id else None
    return describe(customer.id, row, segment)


def describe(customer_id: uuid.UUID, row: CustomerAnalytics | None, segment: CustomerSegment | None,
             labels: dict[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """A stored row as the nested structure REST and GraphQL serve (nulls carry a reason)."""
    labels = labels or rfm_labels()
    if row is None:
        r = NOT_ANALYSED
        return {"customer_id": customer_id, "computed_at": None, "run_id": None,
                "purchases": {"transactions": 0, "first_purchase_at": None, "last_purchase_at": None,
                              "lifetime_revenue": None},
                "rfm": {"segment": None, "reason": r}, "value_tier": {"tier": None, "reason": r},
                "segment": {"id": None, "reason": r},
                "clv": {"seed": None, "seed_reason": r, "model": None, "model_reason": r, "p_alive": None,
                        "expected_transactions": None, "expected_value": None},
                "churn": {"at_risk": False, "flags": [], "since": None, "task_id": None, "reason": r},
                "satisfaction": {"csat_answers": 0, "csat_mean": None, "nps_answers": 0, "nps_last": None}}
    seg_label = labels.get(row.rfm_segment, (None, None)) if row.rfm_segment else (None, None)
    tier_label = _value.TIERS.get(row.value_tier, (None, None)) if row.value_tier else (None, None)
    return {
        "customer_id": customer_id, "computed_at": row.computed_at, "run_id": row.run_id,
        "purchases": {"transactions": row.transactions, "first_purchase_at": row.first_purchase_at,
                      "last_purchase_at": row.last_purchase_at, "lifetime_revenue": row.lifetime_revenue},
        "rfm": {"recency_days": row.recency_days, "frequency": row.frequency, "monetary": row.monetary,
                "r_score": row.r_score, "f_score": row.f_score, "m_score": row.m_score,
                "score": f"{row.r_score}{row.f_score}{row.m_score}" if row.r_score else None,
                "segment": row.rfm_segment, "label_en": seg_label[0], "label_zh_cn": seg_label[1],
                "reason": row.rfm_reason},
        "value_tier": {"tier": row.value_tier, "label_en": tier_label[0], "label_zh_cn": tier_label[1],
                       "revenue_share": row.revenue_share,
                       "reason": None if row.value_tier else (row.rfm_reason or "no revenue")},
        "segment": {"id": segment.id if segment else None, "number": segment.number if segment else None,
                    "name": segment.name if segment else None, "profile": segment.profile if segment else None,
                    "profile_zh_cn": segment.profile_zh_cn if segment else None,
                    "reason": None if segment else row.segment_reason},
        "clv": {"seed": row.clv_seed, "seed_reason": row.clv_seed_reason, "model": row.clv,
                "model_reason": row.clv_reason, "p_alive": row.p_alive,
                "expected_transactions": row.expected_transactions, "expected_value": row.expected_value},
        "churn": {"at_risk": row.churn_risk, "flags": list(row.churn_flags or []), "since": row.churn_since,
                  "task_id": row.churn_task_id, "reason": None},
        "satisfaction": {"csat_answers": row.csat_answers, "csat_mean": row.csat_mean,
                         "nps_answers": row.nps_answers, "nps_last": row.nps_last},
    }


def latest_run(actor: Any) -> Any:
    """The latest refresh: the run with the **latest as-of date** (of two with the same as-of date, the one
    started last), its status and the fitted model parameters, with ``current``: whether the customers'
    stored numbers are this run's (they are the last refresh *started*'s, so after a back-dated refresh
    following a normal one the latest run is the normal one, not current; docs/analytics.md §8).

    An admin reads it as stored; anyone else reads the figures of their scope
    (:func:`core.services.permissions.customer_visibility`): ``customers``/``purchasers``,
    ``params.bgnbd.customers`` (their customers with a purchase, whom the model covers),
    ``params.gamma_gamma.customers`` (those with a repeat purchase), ``params.churn.flagged`` and
    ``params.churn.tasks_created`` count the customers they may see — null when the run is not current
    (its per-customer rows were replaced) — and the models' log-likelihoods — sums over every customer,
    telling the deployment's size — are null. The fitted parameters themselves describe the model
    everyone is scored by and are shown to all."""
    user = require_actor(actor)
    sess = db.session()
    run = sess.scalars(select(AnalyticsRun).where(AnalyticsRun.status.in_(DONE))
                       .order_by(AnalyticsRun.as_of.desc(), AnalyticsRun.started_at.desc(), AnalyticsRun.id)
                       .limit(1)).first()
    if run is None:
        raise NotFound("The analytics have not been computed yet: run `trellis analytics refresh`.")
    current_id = _current_run_id()
    from copy import deepcopy

    view = _run_view(run, current=run.id == current_id)
    if user.role == "admin":
        return SimpleNamespace(**view)

    def counted(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    params = deepcopy(run.params or {})
    if view["current"]:
        a = CustomerAnalytics
        customers, purchasers, repeat, flagged, tasks = (int(v) for v in sess.execute(
            select(func.count(), counted(a.transactions > 0), counted(a.transactions > 1),
                   counted(a.churn_risk.is_(True)),
                   counted(and_(a.churn_task_id.is_not(None), a.churn_since == run.started_at)))
            .select_from(a).join(Customer, Customer.id == a.customer_id)
            .where(a.run_id == run.id, Customer.deleted_at.is_(None), customer_visibility(user))).one())
    else:  # the run's per-customer rows were replaced by a later-started refresh: nothing left to count
        customers = purchasers = repeat = flagged = tasks = None
    for model, count in (("bgnbd", purchasers), ("gamma_gamma", repeat)):
        fit = params.get(model)
        if isinstance(fit, dict):
            if "customers" in fit:
                fit["customers"] = count
            if "log_likelihood" in fit:
                fit["log_likelihood"] = None
    if isinstance(params.get("churn"), dict):
        params["churn"] = {**params["churn"], "flagged": flagged, "tasks_created": tasks}
    return SimpleNamespace(**{**view, "customers": customers, "purchasers": purchasers, "params": params})


def _current_run_id() -> uuid.UUID | None:
    """The run whose numbers the customers carry: the finished one started last."""
    return db.session().scalar(select(AnalyticsRun.id).where(AnalyticsRun.status.in_(DONE))
                               .order_by(AnalyticsRun.started_at.desc(), AnalyticsRun.id).limit(1))


def _run_view(run: AnalyticsRun, *, current: bool) -> dict[str, Any]:
    """A run's columns as REST and GraphQL serve them, with ``current``."""
    return {**{column.key: getattr(run, column.key) for column in AnalyticsRun.__table__.columns},
            "current": current}


def refresh_now(actor: Any, data: Mapping[str, Any] | None = None) -> Any:
    """Recompute now, in this unit of work (admins): the same as ``trellis analytics refresh``; ``data``
    may give ``as_of`` and ``calibration_start`` (:class:`RefreshRequest`). Returns the run as
    :func:`latest_run` shows it to an admin (``current`` is true: the customers now carry its numbers).
    ``POST /analytics/refresh?wait=true`` and ``refreshAnalytics(wait: true)``."""
    require_role(actor, "admin")
    return SimpleNamespace(**_run_view(refresh(trigger="api", **refresh_options(data)), current=True))


def queue_refresh(actor: Any, data: Mapping[str, Any] | None = None) -> Any:
    """Record a refresh ``queued`` for the worker and queue its job in this unit of work (admins; ``data``
    as for :func:`refresh_now`, checked now: a bad date is a 422 and nothing is queued). The run keeps
    who asked and the request's id; the worker (:data:`REFRESH_TASK`) runs it, never two at once, and
    records ``running``, then ``ok``/``partial``, or ``failed`` with the error once every attempt failed.
    Returns the run as :func:`get_run` shows it."""
    user = require_role(actor, "admin")
    options = refresh_options(data)
    today = utcnow().date()
    as_of = options["as_of"] or today
    _check_dates(as_of, options["calibration_start"], today)
    run = AnalyticsRun(started_at=utcnow(), trigger="api", status="queued", as_of=as_of,
                       calibration_start=options["calibration_start"], customers=0, purchasers=0, params={},
                       message="", requested_by_id=user.id, request_id=current_request_id())
    db.session().add(run)
    db.session().flush()
    queue.enqueue(REFRESH_TASK, run.id)
    return SimpleNamespace(**_run_view(run, current=False))


def get_run(actor: Any, run_id: Any) -> Any:
    """One run by id (admins): a queued refresh's status (``queued``, ``running``, ``ok``, ``partial`` or
    ``failed`` with ``message``), or any finished one, with ``current``."""
    require_role(actor, "admin")
    run = db.session().get(AnalyticsRun, common.parse_uuid(run_id))
    if run is None:
        raise NotFound("No analytics run with this id.")
    return SimpleNamespace(**_run_view(run, current=run.status in DONE and run.id == _current_run_id()))


def _run_queued(rt: Any, run_id: str, *, final: bool) -> str:
    """The worker's body of :data:`REFRESH_TASK`: mark the run ``running`` (committed, so its status shows
    it), refresh in one transaction of its own under the queuing request's id, and record the outcome. A
    run already finished is left alone (a job retried after its commit changes nothing). A failure is
    recorded with its error — ``queued`` again while attempts remain, ``failed`` on the last — and raised."""
    database = rt.database
    with database.unit_of_work():
        run = db.session().get(AnalyticsRun, common.parse_uuid(run_id))
        if run is None or run.status not in WAITING:
            return "nothing to do"
        run.status, run.started_at, run.finished_at = "running", utcnow(), None
        the_id, as_of, calibration_start, request_id = run.id, run.as_of, run.calibration_start, run.request_id
    queued_by = request_id_var.set(request_id) if request_id else None
    try:
        with database.unit_of_work():
            done = refresh(as_of=as_of, calibration_start=calibration_start, trigger="api", run_id=the_id)
            summary = f"{done.status}: {done.customers} customers"
    except Exception as exc:
        with database.unit_of_work():
            failed = db.session().get(AnalyticsRun, the_id)
            if failed is not None:
                failed.status = "failed" if final else "queued"
                failed.finished_at = utcnow() if final else None
                failed.message = (queue.describe_error(exc, None) + ("" if final else " (it will be tried again)"))[:2000]
        raise
    finally:
        if queued_by is not None:
            request_id_var.reset(queued_by)
    return summary


def _waiting(rt: Any) -> list[str]:
    with rt.database.unit_of_work():
        return [str(i) for i in db.session().scalars(
            select(AnalyticsRun.id).where(AnalyticsRun.status.in_(WAITING)).order_by(AnalyticsRun.started_at))]


#: A requested refresh, run by the worker. It shares the scheduled refresh's lock: on PostgreSQL no two
#: refreshes (requested or scheduled) run at once, whatever the number of workers.
REFRESH_TASK = queue.Task("trellis.analytics.refresh", _run_queued, _waiting,
                          lock=queue.JOB_TASK_PREFIX + "analytics.refresh")


class SegmentOut(Schema):
    """A segment of the latest refresh as the caller sees it (``GET /analytics/segments``, ``trellis export
    analytics_segments``)."""

    id = fields.UUID()
    number = fields.Integer()
    name = fields.String()
    size = fields.Integer(metadata={"description": "Members you may see."})
    size_all = fields.Integer(allow_none=True, metadata={"description": "Every member (admins only)."})
    profile = fields.String()
    profile_zh_cn = fields.String()
    centroid = fields.Dict(metadata={"description": "Means of the members you may see ({} for none)."})
    run_id = fields.UUID()


class SegmentFilter(StrictSchema):
    """The segments' list takes no filters: any is refused (a ValidationFailed naming it)."""


def _latest_segments() -> Any:
    """The SELECT of the latest run's segments (the run started last that has any), by number."""
    latest = (select(CustomerSegment.run_id).join(AnalyticsRun, AnalyticsRun.id == CustomerSegment.run_id)
              .order_by(AnalyticsRun.started_at.desc(), CustomerSegment.number).limit(1).scalar_subquery())
    return select(CustomerSegment).where(CustomerSegment.run_id == latest).order_by(CustomerSegment.number)


def segments(actor: Any) -> list[dict[str, Any]]:
    """The latest run's segments, as the actor may see them: ``size`` counts the members they may see
    and ``centroid`` describes those members (``{}`` when they see none); an admin's are every member's
    (``size_all``, shown to admins only, is every member). The profile words are the segment's own —
    what sets it apart in the model — and the same for everyone."""
    user = require_actor(actor)
    return segment_views(user, db.session().scalars(_latest_segments()).all())


def filtered_segments(actor: Any, filters: Mapping[str, Any] | None = None) -> Any:
    """The SELECT of the segments :func:`segments` lists, in its order (``filters`` must be empty:
    ``SegmentFilter``); :func:`segment_views` makes the list's items of a batch. What ``trellis export
    analytics_segments`` reads: the list is a fixed summary of the latest refresh, a row a segment."""
    require_actor(actor)
    common.validate(SegmentFilter, dict(filters or {}))
    return _latest_segments()


def segment_views(actor: Any, rows: list[CustomerSegment]) -> list[dict[str, Any]]:
    """Segments as :func:`segments` shows them to ``actor``: one more statement for the members' counts
    (admins) or for the numbers of the members they may see."""
    user = require_actor(actor)
    if not rows:
        return []
    ids = [s.id for s in rows]
    admin = user.role == "admin"
    if admin:  # the stored centroids are every member's: only the counts are read
        counts = dict(db.session().execute(
            select(CustomerAnalytics.segment_id, func.count())
            .join(Customer, Customer.id == CustomerAnalytics.customer_id)
            .where(Customer.deleted_at.is_(None), CustomerAnalytics.segment_id.in_(ids))
            .group_by(CustomerAnalytics.segment_id)).all())
        return [{"id": s.id, "number": s.number, "name": s.name, "size": int(counts.get(s.id, 0)),
                 "size_all": s.size, "profile": s.profile, "profile_zh_cn": s.profile_zh_cn,
                 "centroid": s.centroid, "run_id": s.run_id} for s in rows]
    members: dict[uuid.UUID, list] = defaultdict(list)
    for member in db.session().execute(
            select(CustomerAnalytics.segment_id, CustomerAnalytics.recency_days, CustomerAnalytics.frequency,
                   CustomerAnalytics.monetary, CustomerAnalytics.first_purchase_at, AnalyticsRun.as_of,
                   Customer.industry, Customer.size)
            .join(Customer, Customer.id == CustomerAnalytics.customer_id)
            .join(AnalyticsRun, AnalyticsRun.id == CustomerAnalytics.run_id)
            .where(customer_visibility(user), Customer.deleted_at.is_(None), CustomerAnalytics.segment_id.in_(ids))):
        members[member.segment_id].append(member)
    return [{"id": s.id, "number": s.number, "name": s.name, "size": len(members.get(s.id, [])),
             "size_all": None, "profile": s.profile, "profile_zh_cn": s.profile_zh_cn,
             "centroid": _centroid_of(members.get(s.id, [])), "run_id": s.run_id} for s in rows]


def _centroid_of(members: list) -> dict[str, Any]:
    """The centroid of some members of a segment, from their stored numbers (as :func:`refresh` fed
    them to k-means: recency, window frequency and spend, days from the first purchase to the run's as-of
    day)."""
    def day(value: datetime | date) -> int:
        if isinstance(value, datetime):
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return int(np.datetime64(value, "D").astype(np.int64))

    return _seg.centroid(
        {"recency": np.array([m.recency_days for m in members], dtype=float),
         "frequency": np.array([m.frequency for m in members], dtype=float),
         "monetary": np.array([m.monetary for m in members], dtype=float),
         "tenure": np.array([day(m.as_of) - day(m.first_purchase_at) for m in members], dtype=float)},
        {"industry": [m.industry for m in members], "size": [m.size for m in members]})


def _lost_reasons(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The reason given on each customer's latest move to ``lost`` (core/lifecycle.py records it)."""
    if not customer_ids:
        return {}
    from core import lifecycle

    rows = db.session().execute(
        select(WorkflowTransitionEntry.record_id, WorkflowTransitionEntry.reason)
        .where(WorkflowTransitionEntry.workflow == lifecycle.WORKFLOW,
               WorkflowTransitionEntry.to_state == LifecycleStage.LOST.value,
               WorkflowTransitionEntry.record_id.in_(customer_ids))
        .order_by(WorkflowTransitionEntry.at)).all()
    return {cid: reason for cid, reason in rows}


class WinBackOut(Schema):
    """A customer of the win-back list (``GET /analytics/win-back``, ``trellis export win_back``)."""

    customer_id = fields.UUID()
    name = fields.String()
    stage = fields.String()
    owner_id = fields.UUID(allow_none=True)
    status = fields.String(metadata={"description": "lost or at_risk"})
    expected_value = fields.Float()
    clv = fields.Float(allow_none=True)
    clv_seed = fields.Float(allow_none=True)
    lost_reason = fields.String(allow_none=True)
    churn_flags = fields.List(fields.Nested(AnalyticsFlag))


class WinBackFilter(StrictSchema):
    """The win-back list's arguments (``GET /analytics/win-back``, ``trellis export win_back``)."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500), metadata={
        "description": "How many customers of the ranking: the top ones by expected value (1-500, 50 by default)."})


def _win_back(actor: Any, limit: int) -> Any:
    if not 1 <= int(limit) <= 500:
        raise ValidationFailed(fields={"limit": ["Must be between 1 and 500."]})
    return (select(Customer, CustomerAnalytics)
            .outerjoin(CustomerAnalytics, CustomerAnalytics.customer_id == Customer.id)
            .where(customer_visibility(actor), Customer.deleted_at.is_(None),
                   or_(Customer.stage == LifecycleStage.LOST.value, CustomerAnalytics.churn_risk.is_(True)))
            .order_by(func.coalesce(CustomerAnalytics.expected_value, 0).desc(), Customer.name, Customer.id)
            .limit(limit))


def win_back(actor: Any, *, limit: int = 50) -> list[dict[str, Any]]:
    """Lost and at-risk customers the actor may see, ranked by expected value (highest first)."""
    return win_back_views(actor, db.session().execute(_win_back(actor, limit)).all())


def filtered_win_back(actor: Any, filters: Mapping[str, Any] | None = None) -> Any:
    """The SELECT of the ranking :func:`win_back` lists (``filters``: ``WinBackFilter``, ``limit``; a bad
    one is a ValidationFailed naming it), in its order: ``(customer, analytics)`` rows for
    :func:`win_back_views`. What ``trellis export win_back`` reads."""
    require_actor(actor)
    return _win_back(actor, common.validate(WinBackFilter, dict(filters or {}))["limit"])


def win_back_views(actor: Any, pairs: Any) -> list[dict[str, Any]]:
    """``(customer, analytics)`` rows of the ranking as :func:`win_back` lists them: one statement for the
    lost customers' reasons."""
    reasons = _lost_reasons([c.id for c, _ in pairs])
    out = []
    for customer, row in pairs:
        lost = customer.stage == LifecycleStage.LOST.value
        out.append({
            "customer_id": customer.id, "name": customer.name, "stage": customer.stage,
            "owner_id": customer.owner_id, "status": "lost" if lost else "at_risk",
            "expected_value": row.expected_value if row is not None else 0.0,
            "clv": row.clv if row is not None else None, "clv_seed": row.clv_seed if row is not None else None,
            "lost_reason": reasons.get(customer.id) if lost else None,
            "churn_flags": list(row.churn_flags or []) if row is not None else [],
        })
    return out


class WinBackTaskRequest(StrictSchema):
    customer_ids = BoundedList(fields.UUID(), max_items=10000,
                               metadata={"description": "Only these customers of the list."})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=500),
                           metadata={"description": "The top N of the list."})
    due_in_days = fields.Integer(validate=validate.Range(min=0, max=365))


def make_win_back_tasks(actor: Any, data: Mapping[str, Any] | None = None) -> list[Interaction]:
    """Turn the win-back list into planned tasks for each customer's owner (the caller when there is
    none). ``customer_ids`` limits it to those customers of the list; ``limit`` takes the top ones.
    A customer that already has an open win-back task gets no second one."""
    user = require_actor(actor)
    values = common.validate(WinBackTaskRequest, dict(data or {}))
    limit = values["limit"]
    due_days = values.get("due_in_days", runtime.current().settings.analytics_task_due_days)
    wanted = set(values["customer_ids"]) if values.get("customer_ids") is not None else None
    listed = win_back(user, limit=500 if wanted is not None else limit)
    if wanted is not None:
        missing = wanted - {r["customer_id"] for r in listed}
        if missing:
            raise ValidationFailed(fields={"customer_ids": [
                f"Not on your win-back list: {', '.join(sorted(str(m) for m in missing))}."]})
        listed = [r for r in listed if r["customer_id"] in wanted]
    open_tasks = set(db.session().scalars(
        select(Interaction.customer_id).where(
            Interaction.customer_id.in_([r["customer_id"] for r in listed]), Interaction.source == SOURCE,
            Interaction.status == InteractionStatus.PLANNED.value, Interaction.deleted_at.is_(None),
            Interaction.subject.startswith(WIN_BACK_SUBJECT))))
    due = utcnow() + timedelta(days=due_days)
    created = []
    for r in listed:
        if r["customer_id"] in open_tasks:
            continue
        why = r["lost_reason"] or "; ".join(f["reason"] for f in r["churn_flags"]) or r["status"]
        notes = f"{'Lost' if r['status'] == 'lost' else 'At risk'}: {why}. Expected value {r['expected_value']:,.2f}."
        created.append(_create_task(user, r["customer_id"], r["owner_id"] or user.id,
                                    f"{WIN_BACK_SUBJECT}: {r['name']}", notes, due))
    return created


# --- customer list filters -------------------------------------------------------------------------------

FILTER_KEYS = ("segment", "value_tier", "rfm_segment", "churn_risk")


def filter_conditions(filters: dict[str, Any]) -> list[Any]:
    """Pop the analytics filters of ``CustomerFilter`` and return conditions on ``Customer``."""
    conditions = []
    wanted = {k: filters.pop(k) for k in FILTER_KEYS if k in filters}
    if not wanted:
        return conditions
    column = {"segment": CustomerAnalytics.segment_id, "value_tier": CustomerAnalytics.value_tier,
              "rfm_segment": CustomerAnalytics.rfm_segment, "churn_risk": CustomerAnalytics.churn_risk}
    where = [column[k] == v for k, v in wanted.items()]
    conditions.append(Customer.id.in_(select(CustomerAnalytics.customer_id).where(and_(*where))))
    return conditions


# --- metrics ----------------------------------------------------------------------------------------------

def _scoped_analytics(query: MetricQuery):
    return (select(CustomerAnalytics).join(Customer, Customer.id == CustomerAnalytics.customer_id)
            .where(customer_visibility(query.actor), Customer.deleted_at.is_(None)))


def rfm_segment_counts(query: MetricQuery) -> list[MetricRow]:
    """Customers per RFM segment (latest refresh), with their window revenue."""
    labels = rfm_labels()
    sub = _scoped_analytics(query).subquery()
    rows = db.session().execute(select(sub.c.rfm_segment, func.count(), func.sum(sub.c.monetary))
                                .where(sub.c.rfm_segment.is_not(None)).group_by(sub.c.rfm_segment)).all()
    order = list(labels)
    rows = sorted(rows, key=lambda r: order.index(r[0]) if r[0] in order else len(order))
    return [MetricRow(value=int(count), group={"rfm_segment": key},
                      extra={"label_en": labels.get(key, (key, key))[0], "label_zh_cn": labels.get(key, (key, key))[1],
                             "revenue": _f(total or 0, 2)}) for key, count, total in rows]


def value_tier_counts(query: MetricQuery) -> list[MetricRow]:
    """Customers per value tier (latest refresh), with their window revenue."""
    sub = _scoped_analytics(query).subquery()
    data = {k: (c, t) for k, c, t in db.session().execute(
        select(sub.c.value_tier, func.count(), func.sum(sub.c.monetary))
        .where(sub.c.value_tier.is_not(None)).group_by(sub.c.value_tier))}
    return [MetricRow(value=int(data.get(k, (0, 0))[0]), group={"value_tier": k},
                      extra={"label_en": en, "label_zh_cn": zh, "revenue": _f(data.get(k, (0, 0))[1] or 0, 2)})
            for k, (en, zh) in _value.TIERS.items()]


def pareto(query: MetricQuery) -> list[MetricRow]:
    """The Pareto curve of the customers you may see: share of customers (ranked by window revenue,
    highest first) against their cumulative share of revenue, at 5 % steps."""
    revenue = [m for (m,) in db.session().execute(select(_scoped_analytics(query).subquery().c.monetary))
               if m is not None]
    curve = _value.pareto_curve(np.array(revenue, dtype=float))
    return [MetricRow(value=y, group={"customer_share": x}) for x, y in curve]


def clv_distribution(query: MetricQuery) -> list[MetricRow]:
    """How many customers fall in each of 10 equal-width bands of model CLV (seed CLV with
    group_by=formula:seed); extra gives the band's bounds. Customers without a value form the last row
    (``band: null``), with the most common reason."""
    formula = "seed" if query.group_by == "formula:seed" else "model"
    sub = _scoped_analytics(query).subquery()
    col, reason = (sub.c.clv_seed, sub.c.clv_seed_reason) if formula == "seed" else (sub.c.clv, sub.c.clv_reason)
    pairs = db.session().execute(select(col, reason)).all()
    values = np.array([v for v, _ in pairs if v is not None], dtype=float)
    rows = []
    if values.shape[0]:
        lo, hi = float(values.min()), float(values.max())
        edges = np.linspace(lo, hi, 11) if hi > lo else np.array([lo, hi])
        counts = np.histogram(values, bins=edges)[0] if hi > lo else np.array([values.shape[0]])
        for b, count in enumerate(counts):
            rows.append(MetricRow(value=int(count), group={"band": b + 1},
                                  extra={"from": _f(edges[b], 2), "to": _f(edges[b + 1], 2), "formula": formula}))
    missing = [r for v, r in pairs if v is None]
    if missing:
        common_reason = max(set(missing), key=missing.count)
        rows.append(MetricRow(value=len(missing), group={"band": None},
                              extra={"formula": formula, "reason": common_reason}))
    return rows


def churn_watchlist(query: MetricQuery) -> list[MetricRow]:
    """Customers flagged for churn, highest expected value first (at most 100), value = expected value;
    with group_by=flag, how many customers carry each flag."""
    if query.group_by == "flag":
        counts: dict[str, int] = defaultdict(int)
        for (flags,) in db.session().execute(select(_scoped_analytics(query).subquery().c.churn_flags)):
            for f in flags or []:
                counts[f["flag"]] += 1
        return [MetricRow(value=counts.get(k, 0), group={"flag": k}) for k in ("drop", "gap", "p_alive")]
    rows = db.session().execute(
        _scoped_analytics(query).where(CustomerAnalytics.churn_risk.is_(True))
        .add_columns(Customer.name, Customer.owner_id)
        .order_by(CustomerAnalytics.expected_value.desc(), Customer.name).limit(100)).all()
    return [MetricRow(value=_f(row.expected_value, 2), group={"customer_id": str(row.customer_id)},
                      extra={"name": name, "owner_id": str(owner) if owner else None,
                             "flags": list(row.churn_flags or []),
                             "since": row.churn_since.isoformat() if row.churn_since else None})
            for row, name, owner in rows]


SATISFACTION_GROUPS = ("period:day", "period:week", "period:month", "rfm_segment", "segment", "owner_id", "source")


def _answers(query: MetricQuery, scale: str):
    from core.metrics_core.sql import grain_of, in_period, period_start

    grain = grain_of(query.group_by)
    group = {None: None, "rfm_segment": CustomerAnalytics.rfm_segment, "segment": CustomerAnalytics.segment_id,
             "owner_id": Customer.owner_id, "source": Interaction.source}
    column = period_start(grain, Interaction.occurred_at) if grain else group.get(query.group_by)
    stmt = (select(Interaction.score, column if column is not None else Interaction.score)
            .join(Customer, Customer.id == Interaction.customer_id)
            .outerjoin(CustomerAnalytics, CustomerAnalytics.customer_id == Customer.id)
            .where(customer_visibility(query.actor), Customer.deleted_at.is_(None), Interaction.deleted_at.is_(None),
                   Interaction.kind == SURVEY_KIND, Interaction.status == InteractionStatus.DONE.value,
                   Interaction.score_scale == scale, Interaction.score.is_not(None),
                   *in_period(Interaction.occurred_at, query)))
    by_group: dict[Any, list[int]] = defaultdict(list)
    for score, key in db.session().execute(stmt):
        by_group[key if column is not None else None].append(int(score))
    return by_group


def _grouped(query: MetricQuery, data: dict[Any, tuple[Any, dict]], zero) -> list[MetricRow]:
    if not query.group_by:
        return [MetricRow(value=v, extra=e) for v, e in (data.get(None) or zero(),)]
    from core.metrics_core.customers import grouped_rows

    if query.group_by == "segment":
        names = {s.id: s for s in db.session().scalars(select(CustomerSegment))}
        return [MetricRow(value=v, group={"segment": str(k) if k else None},
                          extra={**e, "name": names[k].name if k in names else None})
                for k, (v, e) in sorted(data.items(), key=lambda kv: str(kv[0]))]
    return grouped_rows(query, data, zero)


def nps(query: MetricQuery) -> list[MetricRow]:
    """Net Promoter Score of the NPS answers (0–10) in the period: % promoters (9–10) − % detractors
    (0–6), −100..100; null when there is no answer."""
    data = {}
    for key, scores in _answers(query, "nps").items():
        s = np.array(scores)
        pro, det = int((s >= 9).sum()), int((s <= 6).sum())
        data[key] = (round(100.0 * (pro - det) / len(s), 1),
                     {"answers": len(s), "promoters": pro, "passives": len(s) - pro - det, "detractors": det})
    return _grouped(query, data, lambda: (None, {"answers": 0, "promoters": 0, "passives": 0, "detractors": 0}))


def csat(query: MetricQuery) -> list[MetricRow]:
    """CSAT of the answers (1–5) in the period: % of answers that are 4 or 5; extra.mean is the mean
    score. Null when there is no answer."""
    data = {}
    for key, scores in _answers(query, "csat").items():
        s = np.array(scores)
        data[key] = (round(100.0 * float((s >= 4).mean()), 1), {"answers": len(s), "mean": round(float(s.mean()), 2)})
    return _grouped(query, data, lambda: (None, {"answers": 0, "mean": None}))


def satisfaction_repurchase(query: MetricQuery) -> list[MetricRow]:
    """Does satisfaction go with buying again? Customers are banded by their latest survey answer in the
    period (NPS: promoter / passive / detractor; CSAT: satisfied 4–5 / neutral 3 / unsatisfied 1–2); value
    is the share of them who made a purchase after that answer."""
    from core.metrics_core.sql import in_period

    answers = db.session().execute(
        select(Interaction.customer_id, Interaction.score_scale, Interaction.score, Interaction.occurred_at)
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(customer_visibility(query.actor), Customer.deleted_at.is_(None), Interaction.deleted_at.is_(None),
               Interaction.kind == SURVEY_KIND, Interaction.status == InteractionStatus.DONE.value,
               Interaction.score.is_not(None), *in_period(Interaction.occurred_at, query))
        .order_by(Interaction.occurred_at)).all()
    latest: dict[tuple[uuid.UUID, str], tuple[int, datetime]] = {}
    for cid, scale, score, at in answers:
        latest[(cid, scale)] = (score, at)
    last_buy = dict(db.session().execute(
        select(Interaction.customer_id, func.max(Interaction.occurred_at))
        .where(Interaction.customer_id.in_({cid for cid, _ in latest}), Interaction.kind == PURCHASE_KIND,
               Interaction.status == InteractionStatus.DONE.value, Interaction.deleted_at.is_(None))
        .group_by(Interaction.customer_id)).all()) if latest else {}
    bands = {("nps", "promoter"): [0, 0], ("nps", "passive"): [0, 0], ("nps", "detractor"): [0, 0],
             ("csat", "satisfied"): [0, 0], ("csat", "neutral"): [0, 0], ("csat", "unsatisfied"): [0, 0]}
    for (cid, scale), (score, at) in latest.items():
        if scale == "nps":
            band = "promoter" if score >= 9 else "detractor" if score <= 6 else "passive"
        else:
            band = "satisfied" if score >= 4 else "unsatisfied" if score <= 2 else "neutral"
        cell = bands[(scale, band)]
        cell[0] += 1
        bought = last_buy.get(cid)
        if bought is not None and at is not None and bought > at:
            cell[1] += 1
    return [MetricRow(value=round(bought / n, 4) if n else None, group={"scale": scale, "band": band},
                      extra={"customers": n, "repurchased": bought})
            for (scale, band), (n, bought) in bands.items()]


ANALYTICS_METRICS = [
    Metric("analytics_rfm_segments", "RFM segments", "RFM 客户分群", rfm_segment_counts,
           description="Customers you may see in each RFM segment at the last refresh; extra: labels and "
                       "window revenue. See docs/analytics.md."),
    Metric("analytics_value_tiers", "Value tiers", "客户价值分层", value_tier_counts,
           description="Customers per value tier (大客户/重要客户/普通客户/小客户) by cumulative revenue share."),
    Metric("analytics_pareto", "Pareto curve", "帕累托曲线", pareto, unit="share",
           description="Share of customers (ranked by window revenue) vs their cumulative share of revenue."),
    Metric("analytics_clv_distribution", "CLV distribution", "客户终身价值分布", clv_distribution,
           description="Customers per band of model CLV (group_by=formula:seed for the seed formula).",
           group_by=("formula:seed",)),
    Metric("analytics_churn_watchlist", "Churn watchlist", "流失预警名单", churn_watchlist, unit="currency",
           description="Customers flagged for churn, by expected value; group_by=flag counts each flag.",
           group_by=("flag",)),
    Metric("analytics_nps", "NPS", "净推荐值", nps, unit="score",
           description="Net Promoter Score of NPS survey answers in the period (−100..100).",
           group_by=SATISFACTION_GROUPS),
    Metric("analytics_csat", "CSAT", "客户满意度", csat, unit="percent",
           description="Share of CSAT survey answers in the period that are 4 or 5 (%).",
           group_by=SATISFACTION_GROUPS),
    Metric("analytics_satisfaction_repurchase", "Satisfaction vs repurchase", "满意度与复购", satisfaction_repurchase,
           unit="share", description="Share of customers who bought again after their latest survey answer, "
                                     "per NPS / CSAT band."),
]
