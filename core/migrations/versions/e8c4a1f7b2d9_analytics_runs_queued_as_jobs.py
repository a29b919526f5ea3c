"""Analytics runs queued as background jobs

Issue #18: ``POST /api/v1/analytics/refresh`` records a run ``queued`` and the worker runs it; the run
remembers who asked and the request's id (``X-Request-Id``), so the tasks, audit entries and events the
refresh writes carry it. Columns are only added; nothing is dropped.

Revision ID: e8c4a1f7b2d9
Revises: b4d2f7a9c318
Create Date: 2026-12-04 16:40:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'e8c4a1f7b2d9'
down_revision: Union[str, Sequence[str], None] = 'b4d2f7a9c318'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('analytics_run') as batch:
        batch.add_column(sa.Column('request_id', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('requested_by_id', sa.Uuid(), nullable=True))
        batch.create_foreign_key('fk_analytics_run_requested_by_id_user_account', 'user_account',
                                 ['requested_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('analytics_run') as batch:
        batch.drop_constraint('fk_analytics_run_requested_by_id_user_account', type_='foreignkey')
        batch.drop_column('requested_by_id')
        batch.drop_column('request_id')
