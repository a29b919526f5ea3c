"""Notifications: stored for every recipient, readable over the API, delivered through a hook."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, UUIDPrimaryKey, utcnow


class Notification(Base, UUIDPrimaryKey):
    __tablename__ = "notification"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    #: what happened: ``task.reminder``, ``task.escalated``, ``workflow.stagnation`` …
    kind: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    record_type: Mapped[str | None] = mapped_column(String(80), nullable=True)
    record_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: the same key for the same user is sent once (reminders, alerts: ``trellis tick`` is idempotent)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)

    __table_args__ = (Index("ix_notification_user_read", "user_id", "read_at", "created_at"),)
