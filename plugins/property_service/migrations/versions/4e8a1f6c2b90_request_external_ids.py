"""request external ids: ``trellis import property_service.requests`` finds a request again by it

Revision ID: 4e8a1f6c2b90
Revises: d9d6ba29c323
Create Date: 2026-12-04 16:40:00.000000

``property_service_request`` gets a nullable ``external_id`` (NULL for every existing request, filed here),
unique among live requests that have one.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '4e8a1f6c2b90'
down_revision: Union[str, Sequence[str], None] = 'd9d6ba29c323'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('property_service_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
        batch_op.create_index('uq_property_service_request_external_id_live', ['external_id'], unique=True,
                              sqlite_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'),
                              postgresql_where=sa.text('external_id IS NOT NULL AND deleted_at IS NULL'))


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
