"""Indexes for every documented filter and ordering of the customer, contact and interaction lists

Issue #16 (item 5). Keyset pages order by the sort key then the id and seek past ``(key, id)``: each
sortable column gets a btree on ``(column, id)`` (``ix_<table>_<column>_id``), replacing the single-column
indexes of ``customer.name/industry/region/stage/level`` and ``interaction.kind`` (the composite serves
their equality filters too). Name search (``q``: ``name ILIKE '%term%'``) gets a trigram GIN index on
PostgreSQL (``ix_customer_name_trgm``, ``ix_contact_name_trgm``), which needs the ``pg_trgm`` extension:
it is created here when the database has it available and the role may create it; otherwise the
trigram indexes are skipped with a warning (name search then scans; ``core.migrate`` leaves them out of
its comparison on a database without the extension). Nothing is dropped but indexes; no table is
rebuilt. On a large PostgreSQL table ``CREATE INDEX`` blocks writes to it while it runs.

Revision ID: b4d2f7a9c318
Revises: b41d5e7a9c12
Create Date: 2026-12-04 14:45:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op, util

# revision identifiers, used by Alembic.
revision: str = 'b4d2f7a9c318'
down_revision: Union[str, Sequence[str], None] = 'b41d5e7a9c12'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ORDERINGS = {
    "customer": ("name", "created_at", "updated_at", "industry", "region", "stage", "level"),
    "contact": ("name", "created_at", "updated_at"),
    "interaction": ("occurred_at", "due_at", "created_at", "kind"),
}
REPLACED = {"customer": ("name", "industry", "region", "stage", "level"), "interaction": ("kind",)}


def _trigram_schema(bind):
    """The schema of the ``pg_trgm`` extension, creating it if the server has it and the role may (in
    ``public`` when the role may create there: an extension lives in one schema, and one made in a
    schema dropped later would take the indexes with it); None when it cannot be had."""
    find = sa.text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                   "WHERE e.extname = 'pg_trgm'")
    schema = bind.execute(find).scalar()
    if schema is not None:
        return schema
    if not bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first():
        util.warn("PostgreSQL has no pg_trgm extension (package postgresql-contrib): name search runs "
                  "without its trigram index (docs/deployment.md, \"Indexes\").")
        return None
    public = bind.execute(sa.text("SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace "
                                  "WHERE nspname = 'public'")).scalar()
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" SCHEMA public" if public else "")))
    except sa.exc.DBAPIError as exc:
        util.warn(f"Could not create the pg_trgm extension ({str(exc.orig).strip()}): name search runs "
                  "without its trigram index. Have a superuser run CREATE EXTENSION pg_trgm and create the "
                  "two indexes (docs/deployment.md, \"Indexes\").")
        return None
    return bind.execute(find).scalar()


def upgrade() -> None:
    bind = op.get_bind()
    for table, columns in REPLACED.items():
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table, columns in ORDERINGS.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}_id", table, [column, "id"], unique=False)
    schema = _trigram_schema(bind) if bind.dialect.name == "postgresql" else None
    if schema is not None:
        # the operator class named in its schema: the extension's need not be on the search path
        ops = bind.dialect.identifier_preparer.quote_schema(schema) + ".gin_trgm_ops"
        for table in ("customer", "contact"):
            op.create_index(f"ix_{table}_name_trgm", table, ["name"], unique=False, postgresql_using="gin",
                            postgresql_ops={"name": ops})


def downgrade() -> None:
    pass
