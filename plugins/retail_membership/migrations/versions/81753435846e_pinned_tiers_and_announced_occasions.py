"""pinned tiers and announced occasions

Revision ID: 81753435846e
Revises: 344fc044a9dc
Create Date: 2026-12-04 05:13:07.791587
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '81753435846e'
down_revision: Union[str, Sequence[str], None] = '344fc044a9dc'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # a tier set by hand (pinned until released or until tier_pinned_until); existing members: not pinned
    # occasions announced to the staff, one per member's occasion and year
    op.create_table('retail_membership_occasion_notice',
    sa.Column('membership_id', sa.Uuid(), nullable=False),
    sa.Column('subject', sa.String(length=40), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=True),
    sa.Column('announced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['retail_membership_membership.id'], name=op.f('fk_retail_membership_occasion_notice_membership_id_retail_membership_membership'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retail_membership_occasion_notice')),
    sa.UniqueConstraint('membership_id', 'subject', 'year', name=op.f('uq_retail_membership_occasion_notice_membership_id_subject_year'))
    )
    with op.batch_alter_table('retail_membership_occasion_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retail_membership_occasion_notice_membership_id'), ['membership_id'], unique=False)

    with op.batch_alter_table('retail_membership_membership', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier_pinned', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('tier_pinned_until', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
