"""Demo data sets: which demo data (the core's, each plugin's) the database holds

Before this revision one marker (the demo's first team) stood for the whole demo, so a database loaded
with ``--core-only`` never got the plugins' demo data. A database that has that team is recorded as
holding the core's set and ``*`` (every plugin enabled at the time), which keeps its old behaviour:
nothing is loaded twice.

Revision ID: f5a0692029ed
Revises: aa06b8efadde
Create Date: 2026-11-23 14:56:58.909889
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'f5a0692029ed'
down_revision: Union[str, Sequence[str], None] = 'aa06b8efadde'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    demo_dataset = op.create_table('demo_dataset',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_demo_dataset'))
    )
    team = sa.table('team', sa.column('name', sa.String))
    legacy_demo = op.get_bind().scalar(
        sa.select(sa.func.count()).select_from(team).where(team.c.name == '华东销售部 East'))
    if legacy_demo:
        now = sa.func.current_timestamp()
        op.execute(demo_dataset.insert().values([{'name': 'core', 'loaded_at': now}, {'name': '*', 'loaded_at': now}]))


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
