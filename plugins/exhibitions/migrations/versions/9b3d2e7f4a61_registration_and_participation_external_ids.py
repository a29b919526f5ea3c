"""registration and participation external ids: ``trellis import exhibitions.visitors|exhibitors`` finds a
record again by it

Revision ID: 9b3d2e7f4a61
Revises: 2c7afeca0d44
Create Date: 2026-12-04 16:45:00.000000

``exhibitions_registration`` and ``exhibitions_participation`` get a nullable ``external_id`` (NULL for every
existing row, made here), unique among the table's live rows that have one.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '9b3d2e7f4a61'
down_revision: Union[str, Sequence[str], None] = '2c7afeca0d44'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    for table in ('exhibitions_registration', 'exhibitions_participation'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
            batch_op.create_index(f'uq_{table}_external_id_live', ['external_id'], unique=True,
                                  sqlite_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'),
                                  postgresql_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'))


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
