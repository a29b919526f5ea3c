"""Webhook circuit breaker on each subscription, and an index for a subscription's queue

``webhook_subscription`` gains ``breaker_state`` (``closed``, ``open``, ``half_open``; every existing
subscription starts ``closed``), ``breaker_failures`` (failed attempts in a row, 0), ``breaker_open_until``
and ``breaker_last_error`` (NULL). ``webhook_delivery`` gains the index
``ix_webhook_delivery_subscription_queue`` (subscription, status, created_at) that the sender uses to
keep one record's deliveries in order. Nothing is dropped.

Revision ID: fd44cf5fbce5
Revises: 07a2c2da500a
Create Date: 2026-12-04 04:45:20.305255
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'fd44cf5fbce5'
down_revision: Union[str, Sequence[str], None] = '07a2c2da500a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_subscription_queue', ['subscription_id', 'status', 'created_at'], unique=False)

    with op.batch_alter_table('webhook_subscription', schema=None) as batch_op:
        batch_op.add_column(sa.Column('breaker_state', sa.String(length=20), server_default='closed', nullable=False))
        batch_op.add_column(sa.Column('breaker_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('breaker_open_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('breaker_last_error', sa.Text(), nullable=True))


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
