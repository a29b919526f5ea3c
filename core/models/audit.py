"""The audit trail (who changed what, field by field) and the event outbox (domain events stored in the
same transaction as the change they describe, for in-process subscribers and webhooks)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core import side_rows  # noqa: F401  (its flush listener writes the rows below)
from core.db import Base, UTCDateTime, UUIDPrimaryKey, utcnow


class AuditEntry(Base, UUIDPrimaryKey):
    __tablename__ = "audit_entry"
    __side_row__ = True  # written beside its change in one statement (core.side_rows)

    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       nullable=True)
    #: ``<record type>.<verb>``: ``customer.created``, ``contact.deleted`` …
    action: Mapped[str] = mapped_column(String(80))
    record_type: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[uuid.UUID] = mapped_column()
    #: ``{field: [old, new]}`` as JSON values
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the ``X-Request-Id`` of the request (or the id of the job run) that made the change; null before
    #: ids were recorded and for changes made outside both (a script, the shell)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)

    __table_args__ = (Index("ix_audit_entry_record", "record_type", "record_id", "at"),)


class OutboxEvent(Base, UUIDPrimaryKey):
    __tablename__ = "outbox_event"
    __side_row__ = True  # written beside its change in one statement (core.side_rows)

    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    name: Mapped[str] = mapped_column(String(80), index=True)
    record_type: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[uuid.UUID] = mapped_column()
    actor_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    #: the request (or job run) that caused the event, as on its audit entry
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
