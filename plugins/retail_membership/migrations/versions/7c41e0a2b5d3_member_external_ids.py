"""member external ids: ``trellis import retail_membership.members`` finds a member again by it

Revision ID: 7c41e0a2b5d3
Revises: 5b2d7c1e9a40
Create Date: 2026-12-04 16:30:00.000000

``retail_membership_membership`` gets a nullable ``external_id`` (NULL for every existing member, who was
enrolled here), unique among live members that have one.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '7c41e0a2b5d3'
down_revision: Union[str, Sequence[str], None] = '5b2d7c1e9a40'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('retail_membership_membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
        batch_op.create_index('uq_retail_membership_membership_external_id_live', ['external_id'], unique=True,
                              sqlite_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'),
                              postgresql_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'))


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
