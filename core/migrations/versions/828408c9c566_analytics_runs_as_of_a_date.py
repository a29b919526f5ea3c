"""Analytics runs as of a date: ``analytics_run.as_of`` becomes the day (a DATE) the analysis looks back
from, and ``calibration_start`` (nullable) records the first day the CLV models were fitted on.

Until now a run's ``as_of`` was the instant it started; every existing run gets the (UTC) day of its
``started_at`` — the same day it already held — and no calibration start (all history). No row or value
is dropped.

Revision ID: 828408c9c566
Revises: fd44cf5fbce5
Create Date: 2026-12-04 04:51:58.077749
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '828408c9c566'
down_revision: Union[str, Sequence[str], None] = 'fd44cf5fbce5'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.add_column('analytics_run', sa.Column('calibration_start', sa.Date(), nullable=True))
        op.execute("ALTER TABLE analytics_run ALTER COLUMN as_of TYPE DATE "
                   "USING (started_at AT TIME ZONE 'UTC')::date")
        return
    # SQLite: the table is rebuilt with the new column type, then each run's day is set from
    # its started_at (stored as UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff' on SQLite)
    with op.batch_alter_table('analytics_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calibration_start', sa.Date(), nullable=True))
        batch_op.alter_column('as_of', existing_type=sa.DateTime(timezone=True), type_=sa.Date(),
                              existing_nullable=False)
    op.execute("UPDATE analytics_run SET as_of = substr(started_at, 1, 10)")


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
