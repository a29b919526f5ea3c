"""members' phones and the till's pricing

Revision ID: dc19a408b831
Revises: 81753435846e
Create Date: 2026-12-04 13:32:50.213407
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'dc19a408b831'
down_revision: Union[str, Sequence[str], None] = '81753435846e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # members' phones (as given, and normalised for the till's lookup: unique among live members);
    # existing members have none
    with op.batch_alter_table('retail_membership_membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=40), server_default='', nullable=False))
        batch_op.add_column(sa.Column('phone_key', sa.String(length=40), server_default='', nullable=False))
        batch_op.create_index('uq_retail_membership_membership_phone_key_live', ['phone_key'], unique=True, sqlite_where=sa.text("phone_key LIKE '+%' AND deleted_at IS NULL"), postgresql_where=sa.text("phone_key LIKE '+%' AND deleted_at IS NULL"))

    # the till's pricing of a sale: tier discount, coupon value and code; existing sales were priced by
    # the POS (null)
    with op.batch_alter_table('retail_membership_purchase', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier_discount', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('coupon_discount', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('coupon_code', sa.String(length=40), nullable=True))


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
