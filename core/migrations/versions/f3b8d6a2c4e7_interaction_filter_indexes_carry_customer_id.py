"""The interaction list's filter indexes carry each row's customer_id

Issue #16 (item 5), bench/million.py at 1 M customers: an interaction list filtered by ``assignee_id``,
``due_before`` or ``due_after`` counted its (capped) total from the filter's partial index but fetched
every counted row from the table for its ``customer_id``, which the list joins to its customer (live,
in scope): 2,000 rows on 2,000 scattered heap pages, 2.6–4.9× the time at 10,000 customers. The four
partial indexes of ``c9d1e4a7b3f2`` on interactions are rebuilt with ``INCLUDE (customer_id)`` on
PostgreSQL, so the count reads the index alone. SQLite has no INCLUDE: nothing changes there.

No table is rebuilt and no data changes. On PostgreSQL each ``CREATE INDEX`` blocks writes to
``interaction`` while it runs (the four took 33 s together on the 10 M interactions of bench/million.py's
million customers); the old index is dropped first, so for that time the filter it served is slower,
not wrong. Measured after it: the three filters 1.5–1.7× their time at 10,000 customers (were 2.5–4.1×).

Revision ID: f3b8d6a2c4e7
Revises: e2a7c5d9f1b3
Create Date: 2026-12-05 03:30:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'f3b8d6a2c4e7'
down_revision: Union[str, Sequence[str], None] = 'e2a7c5d9f1b3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LIVE = "deleted_at IS NULL"
INDEXES = [  # (name, columns, where), as c9d1e4a7b3f2 made them
    *[(f"ix_interaction_live_{c}", [c, "occurred_at", "id"], LIVE) for c in ("kind", "status", "assignee_id")],
    ("ix_interaction_live_due", ["occurred_at", "id", "due_at", "status"], f"due_at IS NOT NULL AND {LIVE}"),
]


def _rebuild(include: list[str]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns, where in INDEXES:
        op.drop_index(name, table_name="interaction")
        op.create_index(name, "interaction", columns, unique=False, postgresql_where=sa.text(where),
                        sqlite_where=sa.text(where), postgresql_include=include)


def upgrade() -> None:
    _rebuild(["customer_id"])


def downgrade() -> None:
    _rebuild([])
