"""Privacy erasures queued as jobs

Issue #18: ``POST /api/v1/privacy/erase`` records the request in ``privacy_erasure_job`` (``queued``) and
the worker erases; the row says how far it got, who asked and the request's id. A table is only added.

Revision ID: f3b9d2c6e1a7
Revises: e8c4a1f7b2d9
Create Date: 2026-12-04 16:50:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'f3b9d2c6e1a7'
down_revision: Union[str, Sequence[str], None] = 'e8c4a1f7b2d9'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'privacy_erasure_job',
        sa.Column('person_kind', sa.String(length=20), nullable=False),
        sa.Column('person_id', sa.Uuid(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=False),
        sa.Column('erasure_id', sa.Uuid(), nullable=True),
        sa.Column('actor_id', sa.Uuid(), nullable=True),
        sa.Column('request_id', sa.String(length=128), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'],
                                name=op.f('fk_privacy_erasure_job_actor_id_user_account'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_erasure_job')),
    )
    op.create_index('ix_privacy_erasure_job_status', 'privacy_erasure_job', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_privacy_erasure_job_status', table_name='privacy_erasure_job')
    op.drop_table('privacy_erasure_job')
