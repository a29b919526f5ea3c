"""The ids of the customers in the bin, indexed: an admin's contact and interaction lists check liveness there

Issue #16 (item 5), bench/million.py at 1 M customers: an admin's interactions ``?assignee_id=`` and
``?due_before=`` took 1.6–2.6× their time at 10 k. Their capped count read 2,001 interactions and, for
each, probed ``ix_customer_live_id`` (every live customer's id) to learn whether its customer is live:
4.5 ms of the request at 1 M, where at 10 k the filter matched 321 rows. An admin's lists now ask the
opposite question, whether the customer is in the bin (``core.services.permissions.customer_is_live``),
which this index answers from the few ids there.

``ix_customer_bin_id`` on ``customer (id)`` of the rows with ``deleted_at`` set: small, built with one
read of ``customer`` (a plain ``CREATE INDEX``: writes to ``customer`` wait while it is built, seconds at
1 M customers). Nothing else changes; the downgrade drops it.

Revision ID: c2f6a8e0b4d7
Revises: b4e8c2a6d0f1
Create Date: 2026-12-05 10:05:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'c2f6a8e0b4d7'
down_revision: Union[str, Sequence[str], None] = 'b4e8c2a6d0f1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BIN = "deleted_at IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_customer_bin_id", "customer", ["id"], unique=False, postgresql_where=sa.text(BIN),
                    sqlite_where=sa.text(BIN))


def downgrade() -> None:
    op.drop_index("ix_customer_bin_id", table_name="customer")
