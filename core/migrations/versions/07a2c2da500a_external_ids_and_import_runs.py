"""External ids and import runs: ``trellis import`` finds records again by the id they had elsewhere

``customer``, ``contact`` and ``interaction`` get a nullable ``external_id`` (NULL for every existing row),
unique among live rows (a partial index: deleted rows and rows without one are not constrained); the new
table ``import_run`` records each import's progress, so an interrupted import continues. Columns are
only added (no table is rebuilt), nothing is dropped.

Revision ID: 07a2c2da500a
Revises: aed1fad567e2
Create Date: 2026-12-04 04:40:51.886565
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '07a2c2da500a'
down_revision: Union[str, Sequence[str], None] = 'aed1fad567e2'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('import_run',
    sa.Column('record_type', sa.String(length=100), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_hash', sa.String(length=64), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('created_count', sa.Integer(), nullable=False),
    sa.Column('updated_count', sa.Integer(), nullable=False),
    sa.Column('unchanged_count', sa.Integer(), nullable=False),
    sa.Column('error_count', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('stored_path', sa.String(length=500), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_import_run_actor_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_run'))
    )
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.create_index('ix_import_run_file', ['file_hash', 'record_type'], unique=False)
        batch_op.create_index('ix_import_run_status', ['status'], unique=False)

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
        batch_op.create_index('uq_contact_external_id_live', ['external_id'], unique=True, sqlite_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'), postgresql_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'))

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
        batch_op.create_index('uq_customer_external_id_live', ['external_id'], unique=True, sqlite_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'), postgresql_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'))

    with op.batch_alter_table('interaction', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
        batch_op.create_index('uq_interaction_external_id_live', ['external_id'], unique=True, sqlite_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'), postgresql_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'))


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
