"""Background jobs: procrastinate's tables and functions (PostgreSQL only)

``trellis worker`` runs on procrastinate (docs/deployment.md, "Background work"), whose queue lives in
the application's database: the ``procrastinate_*`` tables, types, functions and triggers. This
revision creates them from the ``schema.sql`` of the installed procrastinate — which must be at the
schema level :data:`SCHEMA_LEVEL` (its newest migration; ``core.queue.SCHEMA_LEVEL`` is the level all
revisions together reach), so every database built by this revision is the same. A later procrastinate release with schema migrations comes with a Trellis
revision applying them (and a new ``SCHEMA_LEVEL``). Objects that already exist (a schema applied by
hand) are left alone. On SQLite there is no procrastinate: nothing to do. Nothing is dropped.

Revision ID: d7e3b1a90c42
Revises: 828408c9c566
Create Date: 2026-12-05 10:00:00.000000
"""
from typing import Sequence, Union

from alembic import op

#: the procrastinate schema migration ``schema.sql`` must be at (that of procrastinate 3.4 to 3.10)
SCHEMA_LEVEL = "03.04.00_50_post_add_retry_failed_job_procedure"

# revision identifiers, used by Alembic.
revision: str = 'd7e3b1a90c42'
down_revision: Union[str, Sequence[str], None] = '828408c9c566'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    from pathlib import Path

    from procrastinate import schema

    if bind.exec_driver_sql("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").scalar():
        return
    level = max(path.stem for path in Path(schema.migrations_path).glob("*.sql"))
    if level != SCHEMA_LEVEL:
        raise RuntimeError(f"The installed procrastinate's schema is at {level}, this revision builds it at "
                           f"{SCHEMA_LEVEL}: install the procrastinate version setup.cfg asks for.")
    cursor = bind.connection.dbapi_connection.cursor()
    try:   # several statements with $$ bodies and '%' in them: the driver runs them as they are
        cursor.execute(schema.SchemaManager.get_schema())
    finally:
        cursor.close()


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
