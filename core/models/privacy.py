"""Erasures asked for over REST (``POST /api/v1/privacy/erase``): one row per request, saying how far the
worker got. The erasure itself is recorded as before (an audit entry ``<customer|contact>.erased``)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Timestamps, UTCDateTime, UUIDPrimaryKey


class ErasureJob(Base, UUIDPrimaryKey, Timestamps):
    """A queued erasure of one person, named by id (an email address given in the request is resolved to
    the customer or contact at once, so no address waits in this table)."""

    __tablename__ = "privacy_erasure_job"

    #: ``customer`` or ``contact``
    person_kind: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    #: why, as given, while the erasure waits; emptied once it is ``done`` (the erasure's audit entry keeps
    #: the reason, the person's names erased) or ``failed``
    reason: Mapped[str] = mapped_column(Text, default="")
    #: ``queued`` (waiting for the worker), ``running``, ``done`` or ``failed`` (``message`` says why)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    message: Mapped[str] = mapped_column(Text, default="")
    #: what the erasure did: ``{"erased": {component: {table: n}}, "trail": {table: n}, "already_erased"}``
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: the audit entry recording the erasure (``GET /privacy/erasures``), once done
    erasure_id: Mapped[uuid.UUID | None] = mapped_column(Uuid(), nullable=True)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       nullable=True)
    #: the request that queued the erasure (``X-Request-Id``): its audit entry and event carry this id
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_privacy_erasure_job_status", "status"),)
