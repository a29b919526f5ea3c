"""Workflow history, approval requests and stagnation alerts: the records behind core.workflow."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Record, UTCDateTime, UUIDPrimaryKey, utcnow


class WorkflowTransitionEntry(Base, UUIDPrimaryKey):
    """One move of one record: from, to, when, by whom, approved by whom, why, and what fired it."""

    __tablename__ = "workflow_transition"
    __side_row__ = True  # written beside its change in one statement (core.side_rows)

    workflow: Mapped[str] = mapped_column(String(80))
    record_type: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[uuid.UUID] = mapped_column()
    from_state: Mapped[str | None] = mapped_column(String(60), nullable=True)
    to_state: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       nullable=True)
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                             nullable=True)
    #: ``manual``, ``automatic`` or ``import``
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    #: the event that fired an automatic move (``interaction.created``)
    trigger_event: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: how long the record had stayed in ``from_state``
    seconds_in_previous: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (Index("ix_workflow_transition_record", "workflow", "record_id", "at"),
                      Index("ix_workflow_transition_to", "workflow", "to_state", "at"))


class ApprovalRequest(Base, Record):
    """A move that needs a manager's approval, waiting for (or carrying) the decision."""

    __tablename__ = "workflow_approval"

    workflow: Mapped[str] = mapped_column(String(80))
    record_type: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[uuid.UUID] = mapped_column(index=True)
    to_state: Mapped[str] = mapped_column(String(60))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    #: ``pending``, ``approved`` or ``rejected``
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                            nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class StagnationAlert(Base, UUIDPrimaryKey):
    """Raised once per stay: a record that overstays a state is alerted about once, however often
    ``trellis tick`` runs."""

    __tablename__ = "workflow_stagnation_alert"

    workflow: Mapped[str] = mapped_column(String(80))
    record_type: Mapped[str] = mapped_column(String(80))
    record_id: Mapped[uuid.UUID] = mapped_column()
    state: Mapped[str] = mapped_column(String(60))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    alerted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("workflow", "record_id", "state", "entered_at"),)
