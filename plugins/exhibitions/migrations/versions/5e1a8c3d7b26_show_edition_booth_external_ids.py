"""show, edition and booth external ids: ``trellis import exhibitions.shows|editions|booths`` finds a record
again by it, and the visitors' and exhibitors' files name their edition by it

Revision ID: 5e1a8c3d7b26
Revises: 9b3d2e7f4a61
Create Date: 2026-12-04 22:40:00.000000

``exhibitions_exhibition``, ``exhibitions_edition`` and ``exhibitions_booth`` get a nullable ``external_id``
(NULL for every existing row, made here), unique among the table's live rows that have one. Adds only:
nothing is dropped or rewritten.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '5e1a8c3d7b26'
down_revision: Union[str, Sequence[str], None] = '9b3d2e7f4a61'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ('exhibitions_exhibition', 'exhibitions_edition', 'exhibitions_booth')


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
