"""reference record external ids: estates, buildings, units and occupancies are imported
(``trellis import property_service.estates`` …) and found again by their external id

Revision ID: b7c3e19a5d42
Revises: 4e8a1f6c2b90
Create Date: 2026-12-04 22:30:00.000000

Each of ``property_service_estate``, ``_building``, ``_unit`` and ``_occupancy`` gets a nullable
``external_id`` (NULL for every existing row, created here), unique among live rows that have one. Adds
only: nothing is dropped or rewritten.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'b7c3e19a5d42'
down_revision: Union[str, Sequence[str], None] = '4e8a1f6c2b90'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ('property_service_estate', 'property_service_building', 'property_service_unit',
          'property_service_occupancy')


def upgrade() -> None:
    live = 'external_id IS NOT NULL AND deleted_at IS NULL'
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
            batch_op.create_index(f'uq_{table}_external_id_live', ['external_id'], unique=True,
                                  sqlite_where=sa.text(live), postgresql_where=sa.text(live))


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
