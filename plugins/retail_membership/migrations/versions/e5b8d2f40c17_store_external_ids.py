"""store external ids: ``trellis import retail_membership.stores`` finds a store again by it, and a
members file names the home store by it (``store_external_id``)

Revision ID: e5b8d2f40c17
Revises: 7c41e0a2b5d3
Create Date: 2026-12-04 22:45:00.000000

``retail_membership_store`` gets a nullable ``external_id`` (NULL for every existing store, created here),
unique among live stores that have one. Adds only: nothing is dropped or rewritten.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'e5b8d2f40c17'
down_revision: Union[str, Sequence[str], None] = '7c41e0a2b5d3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    live = 'external_id IS NOT NULL AND deleted_at IS NULL'
    with op.batch_alter_table('retail_membership_store', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
        batch_op.create_index('uq_retail_membership_store_external_id_live', ['external_id'], unique=True,
                              sqlite_where=sa.text(live), postgresql_where=sa.text(live))


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
