"""Customer analytics (客户分析): the last refresh's results per customer, its k-means segments, and the
runs themselves with the fitted model parameters. Written only by ``core.services.analytics.refresh``;
every number is explained in docs/analytics.md."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, UTCDateTime, UUIDPrimaryKey, utcnow
from core.models.customers import Customer


class AnalyticsRun(Base, UUIDPrimaryKey):
    """One refresh: when, how it went, and the parameters it fitted (BG/NBD, Gamma-Gamma, k-means)."""

    __tablename__ = "analytics_run"

    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: ``queued`` (a requested refresh waiting for the worker), ``running``, then ``ok``, ``partial`` (a model
    #: could not be fitted) or ``failed`` (``message`` says why)
    status: Mapped[str] = mapped_column(String(20), default="ok")
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    #: the day (UTC) the analysis looks back from: purchases up to its end count, "today" is this day
    #: (``trellis analytics refresh --as-of``; the day the refresh ran by default)
    as_of: Mapped[date] = mapped_column(Date())
    #: the first day of purchases the CLV models (BG/NBD, Gamma-Gamma) are fitted on; None: all history
    calibration_start: Mapped[date | None] = mapped_column(Date(), nullable=True)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    purchasers: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    #: settings used and what was fitted: ``{"bgnbd": {...} | {"reason": ...}, "gamma_gamma": ..., "kmeans": ...}``
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str] = mapped_column(Text, default="")
    #: who asked for a queued refresh (``POST /analytics/refresh``); None for the CLI and the schedule
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                               nullable=True)
    #: the request that queued the run (``X-Request-Id``): what the worker writes for it carries this id
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class CustomerSegment(Base, UUIDPrimaryKey):
    """A k-means segment of one run: its size and a sentence saying what distinguishes it."""

    __tablename__ = "customer_segment"

    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("analytics_run.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    profile: Mapped[str] = mapped_column(Text, default="")
    profile_zh_cn: Mapped[str] = mapped_column(Text, default="")
    #: mean recency/frequency/monetary/tenure and the dominant industry and size of the members
    centroid: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CustomerAnalytics(Base):
    """The latest analytics of one customer. A null number comes with a ``*_reason`` saying why."""

    __tablename__ = "customer_analytics"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("analytics_run.id", ondelete="CASCADE"), index=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # purchase history (all time, refunds netted)
    transactions: Mapped[int] = mapped_column(Integer, default=0)
    first_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lifetime_revenue: Mapped[float] = mapped_column(Float, default=0.0)
    # RFM over the window
    recency_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frequency: Mapped[int | None] = mapped_column(Integer, nullable=True)
    monetary: Mapped[float | None] = mapped_column(Float, nullable=True)
    r_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    f_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    m_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rfm_segment: Mapped[str | None] = mapped_column(String(40), nullable=True)
    rfm_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # value tier by cumulative revenue share over the window
    revenue_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    value_tier: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # k-means
    segment_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customer_segment.id", ondelete="SET NULL"),
                                                         nullable=True)
    segment_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # CLV: the seed formula and BG/NBD + Gamma-Gamma
    clv_seed: Mapped[float | None] = mapped_column(Float, nullable=True)
    clv_seed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    p_alive: Mapped[float | None] = mapped_column(Float, nullable=True)
    expected_transactions: Mapped[float | None] = mapped_column(Float, nullable=True)
    clv: Mapped[float | None] = mapped_column(Float, nullable=True)
    clv_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: what the win-back list ranks by: the model CLV when both fits converged, else the seed CLV, else 0
    expected_value: Mapped[float] = mapped_column(Float, default=0.0)
    # churn warning
    churn_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``[{"flag": "drop" | "gap" | "p_alive", "reason": "..."}]``
    churn_flags: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: since when the flags have been up (kept across refreshes while they stay up)
    churn_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the task created for the owner when the flags went up
    churn_task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"),
                                                            nullable=True)
    # satisfaction (survey interactions)
    csat_answers: Mapped[int] = mapped_column(Integer, default=0)
    csat_mean: Mapped[float | None] = mapped_column(Float, nullable=True)
    nps_answers: Mapped[int] = mapped_column(Integer, default=0)
    nps_last: Mapped[int | None] = mapped_column(Integer, nullable=True)

    customer: Mapped[Customer] = relationship(Customer)
    segment: Mapped[CustomerSegment | None] = relationship(CustomerSegment)

    #: the customers list's filters on these (``segment``, ``value_tier``, ``rfm_segment``, ``churn_risk``)
    #: ask, customer by customer, whether the row matches: answered from the index alone
    __table_args__ = tuple(Index(f"ix_customer_analytics_{column}_customer_id", column, "customer_id")
                           for column in ("segment_id", "value_tier", "rfm_segment", "churn_risk"))
