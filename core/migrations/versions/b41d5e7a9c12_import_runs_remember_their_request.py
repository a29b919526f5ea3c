"""Import runs remember the request that queued them

Issue #18: a file uploaded to ``POST /api/v1/imports`` is imported later by the worker's job; the audit
entries and events it writes carry the upload's request id (``import_run.request_id``), so the client's
``X-Request-Id`` leads to every record its file created. A column is only added; nothing is dropped.

Revision ID: b41d5e7a9c12
Revises: 3e9b7c1d2a60
Create Date: 2026-12-04 14:45:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'b41d5e7a9c12'
down_revision: Union[str, Sequence[str], None] = '3e9b7c1d2a60'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('import_run') as batch:
        batch.add_column(sa.Column('request_id', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('import_run') as batch:
        batch.drop_column('request_id')
