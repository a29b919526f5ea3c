"""Credentials that can be ended: a session generation on users, an expiry on API tokens

``user_account.session_generation`` is raised when a user's sessions must end (logout, a password
change, deactivation); existing users start at 0, so sessions signed in before this revision (which
carry no generation) are refused once and their users sign in again. ``api_token.expires_at`` is
NULL for every existing token: they keep working until revoked. Nothing is dropped.

Revision ID: c0a1e2d3f401
Revises: f5a0692029ed
Create Date: 2026-12-03 14:00:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'c0a1e2d3f401'
down_revision: Union[str, Sequence[str], None] = 'f5a0692029ed'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))

def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
