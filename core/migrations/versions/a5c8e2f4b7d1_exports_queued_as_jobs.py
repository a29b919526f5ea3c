"""Exports queued as jobs

Issue #18: ``POST /api/v1/exports/<type>/jobs`` (GraphQL ``exportList``) records the export in
``export_job`` (``queued``); the worker writes the file and the row says how far it got, who asked, the
request's id, the file and until when it is kept. A table is only added.

Revision ID: a5c8e2f4b7d1
Revises: f3b9d2c6e1a7
Create Date: 2026-12-04 19:30:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'a5c8e2f4b7d1'
down_revision: Union[str, Sequence[str], None] = 'f3b9d2c6e1a7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'export_job',
        sa.Column('record_type', sa.String(length=100), nullable=False),
        sa.Column('format', sa.String(length=10), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('file', sa.String(length=255), nullable=False),
        sa.Column('requested_by_id', sa.Uuid(), nullable=True),
        sa.Column('request_id', sa.String(length=128), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'],
                                name=op.f('fk_export_job_requested_by_id_user_account'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_export_job')),
    )
    op.create_index('ix_export_job_status', 'export_job', ['status'], unique=False)
    op.create_index('ix_export_job_requested_by_id', 'export_job', ['requested_by_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_export_job_requested_by_id', table_name='export_job')
    op.drop_index('ix_export_job_status', table_name='export_job')
    op.drop_table('export_job')
