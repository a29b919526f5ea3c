"""Property service: the stored feedback says who gave it — feedback_via (link: the requester through
their one-time link; on_behalf: recorded for the owner) and feedback_by_id (the user who recorded it).
Existing ratings keep both NULL (who gave them was not recorded).

Revision ID: d9d6ba29c323
Revises: 7753979da3b2
Create Date: 2026-12-03 13:53:02.508109
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'd9d6ba29c323'
down_revision: Union[str, Sequence[str], None] = '7753979da3b2'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('property_service_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback_via', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('feedback_by_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_property_service_request_feedback_by_id_user_account'), 'user_account', ['feedback_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
