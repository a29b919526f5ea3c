"""Webhook subscriptions (admin-managed endpoints that receive domain events) and their deliveries
(one row per event and subscription: what was sent, how often, and how it went)."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, Record, Timestamps, UTCDateTime, UUIDPrimaryKey


class WebhookSubscription(Base, Record):
    __tablename__ = "webhook_subscription"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    #: event name patterns: exact names (``customer.created``), ``customer.*`` or ``*``
    events: Mapped[list] = mapped_column(JSON, default=list)
    #: the shared secret that signs every delivery; shown once when the subscription is created. Stored
    #: as is (not hashed): the server needs it to sign, as the receiver needs it to verify.
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # --- the circuit breaker (written by the sender, never by an admin's change; not versioned) ---
    #: ``closed`` (sent to), ``open`` (nothing sent until ``breaker_open_until``) or ``half_open`` (one
    #: trial delivery in flight: a success closes the breaker, a failure opens it again)
    breaker_state: Mapped[str] = mapped_column(String(20), default="closed", server_default="closed")
    #: failed attempts in a row (any delivery of this subscription); a 2xx sets it back to 0
    breaker_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: while ``open``: when a trial may be sent; while ``half_open``: when an unfinished trial is given up
    breaker_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: why the last of the ``breaker_failures`` failed; cleared when the breaker closes
    breaker_last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def breaker(self) -> dict:
        """The breaker's columns as the API shows them (REST ``breaker``, GraphQL ``breaker``)."""
        return {"state": self.breaker_state, "consecutive_failures": self.breaker_failures,
                "open_until": self.breaker_open_until, "last_error": self.breaker_last_error}


class WebhookDelivery(Base, UUIDPrimaryKey, Timestamps):
    """One event for one subscription. ``pending`` until a 2xx answer (``delivered``) or until the
    attempts run out (``failed``); a replay makes it ``pending`` again."""

    __tablename__ = "webhook_delivery"

    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscription.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("outbox_event.id", ondelete="CASCADE"), index=True)
    event_name: Mapped[str] = mapped_column(String(80))
    #: ``pending``, ``delivered`` or ``failed``
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: when a pending delivery is due (also pushed forward while a worker is sending it)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
                      # a subscription's pending deliveries in queue order: what keeps one record's
                      # deliveries in order (core.services.webhooks._due)
                      Index("ix_webhook_delivery_subscription_queue", "subscription_id", "status", "created_at"))
