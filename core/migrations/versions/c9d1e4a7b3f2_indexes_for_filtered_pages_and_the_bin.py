"""Indexes for filtered pages in the default order, the bin, and the live-customer check

Issue #16 (item 5), bench/million.py at 1 M customers: a filtered list found its rows by the filter's
index and sorted them all for the first page; ``deleted=true`` scanned the whole table. Added (btrees,
partial where it says so; ``LIVE`` is ``deleted_at IS NULL``):

- ``ix_customer_live_<column>`` on ``(column, name, id)`` of live customers for ``owner_id`` (the rep's
  own page), ``industry``, ``source`` and ``stage``; ``ix_interaction_live_<column>`` on ``(column,
  occurred_at, id)`` of live interactions for ``kind``, ``status`` and ``assignee_id``;
  ``ix_interaction_live_due`` on ``(occurred_at, id, due_at, status)`` of live tasks (``due_at`` set:
  the due filters and ``overdue``, checked in the index);
- ``ix_<table>_bin`` on the default order of the deleted rows (``deleted_at IS NOT NULL``) of customers,
  contacts and interactions;
- ``ix_customer_live_id`` on ``(id)`` of live customers: the contact and interaction lists and the tag and
  analytics filters check each row's customer from the index alone;
- ``ix_customer_tag_tag_customer_id`` on ``(tag, customer_id)`` replaces ``ix_customer_tag_tag``, and
  ``ix_customer_analytics_<column>_customer_id`` on ``(column, customer_id)`` the single-column indexes
  of ``segment_id``, ``value_tier``, ``rfm_segment`` and ``churn_risk``: the customers list's tag and
  analytics filters check each customer from the index alone.

No table is rebuilt. On PostgreSQL ``CREATE INDEX`` blocks writes to its table while it runs (minutes for
the interactions of a million customers).

Revision ID: c9d1e4a7b3f2
Revises: a5c8e2f4b7d1
Create Date: 2026-12-04 22:30:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'c9d1e4a7b3f2'
down_revision: Union[str, Sequence[str], None] = 'a5c8e2f4b7d1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LIVE = "deleted_at IS NULL"
BIN = "deleted_at IS NOT NULL"

ANALYTICS = ("segment_id", "value_tier", "rfm_segment", "churn_risk")
INDEXES = [  # (name, table, columns, where)
    *[(f"ix_customer_live_{c}", "customer", [c, "name", "id"], LIVE)
      for c in ("owner_id", "industry", "source", "stage")],
    ("ix_customer_bin", "customer", ["name", "id"], BIN),
    ("ix_customer_live_id", "customer", ["id"], LIVE),
    ("ix_contact_bin", "contact", ["name", "id"], BIN),
    *[(f"ix_interaction_live_{c}", "interaction", [c, "occurred_at", "id"], LIVE)
      for c in ("kind", "status", "assignee_id")],
    ("ix_interaction_live_due", "interaction", ["occurred_at", "id", "due_at", "status"],
     f"due_at IS NOT NULL AND {LIVE}"),
    ("ix_interaction_bin", "interaction", ["occurred_at", "id"], BIN),
]


def upgrade() -> None:
    op.drop_index("ix_customer_tag_tag", table_name="customer_tag")
    op.create_index("ix_customer_tag_tag_customer_id", "customer_tag", ["tag", "customer_id"], unique=False)
    for column in ANALYTICS:
        op.drop_index(f"ix_customer_analytics_{column}", table_name="customer_analytics")
        op.create_index(f"ix_customer_analytics_{column}_customer_id", "customer_analytics", [column, "customer_id"],
                        unique=False)
    for name, table, columns, where in INDEXES:
        op.create_index(name, table, columns, unique=False, postgresql_where=sa.text(where),
                        sqlite_where=sa.text(where))


def downgrade() -> None:
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    for column in ANALYTICS:
        op.drop_index(f"ix_customer_analytics_{column}_customer_id", table_name="customer_analytics")
        op.create_index(f"ix_customer_analytics_{column}", "customer_analytics", [column], unique=False)
    op.drop_index("ix_customer_tag_tag_customer_id", table_name="customer_tag")
    op.create_index("ix_customer_tag_tag", "customer_tag", ["tag"], unique=False)
