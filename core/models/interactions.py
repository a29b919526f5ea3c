"""Interactions (交往记录): every touchpoint with a customer, past (the timeline) or planned (tasks)."""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, Record, UTCDateTime
from core.models.customers import (LIVE, Contact, Customer, bin_index, filter_indexes, live_unique, ordering_indexes,
                                   partial_index)
from core.models.enums import InteractionDirection, InteractionStatus
from core.models.users import User


class Interaction(Base, Record):
    __tablename__ = "interaction"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"),
                                                         nullable=True, index=True)
    #: One of the registered interaction kinds (core's and every enabled plugin's).
    kind: Mapped[str] = mapped_column(String(60))
    direction: Mapped[str] = mapped_column(String(20), default=InteractionDirection.OUTBOUND.value)
    status: Mapped[str] = mapped_column(String(20), default=InteractionStatus.DONE.value)
    subject: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    #: When it happened (past interactions) …
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: … or when it is due (planned interactions, i.e. tasks).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), nullable=True)
    #: A survey answer's score: CSAT 1–5 or NPS 0–10 (``score_scale`` says which).
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    score_scale: Mapped[str | None] = mapped_column(String(10), nullable=True)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                          nullable=True, index=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                            nullable=True)
    #: When to remind the assignee of a planned interaction (预约提示).
    reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: What came of it, written when the task is done or cancelled.
    outcome: Mapped[str] = mapped_column(Text, default="")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: A manager's chasing (催办): when it last happened and how often.
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalation_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Which component wrote it: ``core`` or a plugin name (a check-in comes from ``exhibitions``).
    source: Mapped[str] = mapped_column(String(60), default="core")
    #: the interaction's id in the system it was imported from: unique among live interactions
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)

    customer: Mapped[Customer] = relationship(Customer)
    contact: Mapped[Contact | None] = relationship(Contact)
    assignee: Mapped[User | None] = relationship(User, foreign_keys=[assignee_id])

    __table_args__ = (Index("ix_interaction_customer_occurred", "customer_id", "occurred_at"),
                      Index("ix_interaction_status_due", "status", "due_at"), live_unique("interaction"),
                      *ordering_indexes("interaction", "occurred_at", "due_at", "created_at", "kind"),
                      # the default order (-occurred_at, -id: these read backwards) under a filter; each
                      # row's customer_id comes along, as the list joins the customer (live, in scope): the
                      # capped count of 2,000 rows then reads no table row (at 1 M customers those were
                      # 2,000 scattered heap pages)
                      *filter_indexes("interaction", ("occurred_at", "id"), "kind", "status", "assignee_id",
                                      include=("customer_id",)),
                      # the tasks (due_at set) in that order: due_before, due_after and overdue read them only,
                      # checking due_at and status in the index (the planner thinks few tasks are overdue,
                      # from status and due_at apart: with a heap fetch a row it sorted them all instead)
                      partial_index("ix_interaction_live_due", f"due_at IS NOT NULL AND {LIVE}", "occurred_at", "id",
                                    "due_at", "status", include=("customer_id",)),
                      bin_index("interaction", "occurred_at", "id"))
