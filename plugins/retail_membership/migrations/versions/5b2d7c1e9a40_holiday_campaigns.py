"""holiday campaigns: a campaign keyed to a holiday of the deployment's calendar

Revision ID: 5b2d7c1e9a40
Revises: dc19a408b831
Create Date: 2026-12-04 13:50:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '5b2d7c1e9a40'
down_revision: Union[str, Sequence[str], None] = 'dc19a408b831'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # existing campaigns: no holiday, launched by hand as before
    with op.batch_alter_table('retail_membership_campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('holiday', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('holiday_offset_days', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('repeat_yearly', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('scheduled_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('scheduled_by_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_retail_membership_campaign_scheduled_on'), ['scheduled_on'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_retail_membership_campaign_scheduled_by_id_user_account'),
                                    'user_account', ['scheduled_by_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
