"""Materialised metric results (docs/metrics.md, "Materialised results"): one row per metric, period,
grouping and scope whose computation was slow enough to keep (``TRELLIS_METRIC_MATERIALISE_AFTER_MS``).
Written only by ``core.services.metric_results``."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, UUIDPrimaryKey, utcnow


class MetricResult(Base, UUIDPrimaryKey):
    """A metric's rows as they were computed for one scope, served while younger than
    ``TRELLIS_METRIC_RESULT_MAX_AGE``."""

    __tablename__ = "metric_result"

    #: the metric's name (``funnel``, a plugin's ``training_enrolments`` …)
    metric: Mapped[str] = mapped_column(String(200))
    #: sha256 of the metric's name, ``from``, ``to``, ``group_by`` and ``scope``: what a request looks up
    key: Mapped[str] = mapped_column(String(64), unique=True)
    #: who may be served it: ``admin`` (every active admin) or ``user:<id>:<role>:<team id>`` (that user,
    #: while their role and team are these)
    scope: Mapped[str] = mapped_column(String(200))
    #: a user the job ``metrics.refresh`` computes it as: the requester of a personal scope; for ``admin``
    #: the last admin who asked (another active admin when they no longer are one)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       nullable=True)
    #: the query: ``{"from": "2026-01-01" | null, "to": … | null, "group_by": "stage" | null}``
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the rows, as ``MetricRow.as_dict()`` gives them (values JSON cannot hold tagged: ``{"$decimal": "1.50"}``)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: when the computation started: the numbers are as of this instant
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: how long it took, in milliseconds
    compute_ms: Mapped[int] = mapped_column(Integer, default=0)
    #: when a request last asked for it (written at most once a minute); a day without one deletes it
    last_requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
