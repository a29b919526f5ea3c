"""Customer name grams know whether their customer is live: a short search counts from the grams alone

Issue #16 (item 5), bench/million.py at 1 M customers: an admin's search for 杭州 took 20–22 ms against
5–9 ms at 10,000 (2.5–4×). Its page is the start of one range of the gram index, but its capped total
read 2,001 gram entries and, for each, probed ``customer`` to learn whether that customer is live: 40,000
customers contain 杭州 at 1 M, 401 at 10 k.

``customer_name_gram.live`` is ``customer.deleted_at IS NULL``, kept by the triggers: the insert and
rename triggers write it with the grams, a new one rewrites it when a customer is deleted (to the bin,
or merged) or restored. The search index becomes ``(gram, live, name, customer_id)``: a live list's page
is still one range in name order (so is the bin's), and an admin's count is the first 2,001 entries of
that range, read from the index alone (``core.services.name_search``).

Existing rows: the grams of customers already in the bin are marked not live here (one UPDATE; the
column's default is true, which PostgreSQL adds without rewriting the table). The index is built again:
docs/deployment.md, "Upgrading a large database", has its time at 1 M customers. The downgrade puts back
the index and triggers of ``a7c3e5f9b1d2`` and drops the column, which only repeated ``customer``.

Revision ID: b4e8c2a6d0f1
Revises: a7c3e5f9b1d2
Create Date: 2026-12-05 09:00:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'b4e8c2a6d0f1'
down_revision: Union[str, Sequence[str], None] = 'a7c3e5f9b1d2'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLE, INDEX = "customer_name_gram", "ix_customer_name_gram_search"


def _cut(rows: str, dialect: str, live: bool) -> str:
    """INSERT the grams of the customers ``rows`` names (the trigger's transition table, or NEW), as
    ``a7c3e5f9b1d2`` cuts them; with ``live``, each with whether its customer is live."""
    alias, source = ("NEW", "") if rows == "NEW" else ("r", f"{rows} AS r, ")
    columns, value = ("customer_id, gram, name, live", f", {alias}.deleted_at IS NULL") if live else (
        "customer_id, gram, name", "")
    if dialect == "postgresql":
        return (f"INSERT INTO {TABLE} ({columns}) SELECT {alias}.id, g.gram, {alias}.name{value} "
                f"FROM {source}LATERAL (SELECT DISTINCT substr(lower({alias}.name), p.i, l.n) AS gram "
                f"FROM generate_series(1, char_length({alias}.name)) AS p(i), (VALUES (1), (2)) AS l(n) "
                f"WHERE p.i + l.n - 1 <= char_length({alias}.name)) AS g")
    return (f"INSERT OR IGNORE INTO {TABLE} ({columns}) "
            f"SELECT {alias}.id, substr(lower({alias}.name), p.i, l.n), {alias}.name{value} "
            f"FROM {source}name_gram_position AS p, (SELECT 1 AS n UNION ALL SELECT 2) AS l "
            f"WHERE p.i + l.n - 1 <= length({alias}.name)")


def _insert_and_rename(dialect: str, live: bool) -> list[str]:
    """The insert and rename triggers (PostgreSQL: their functions, replaced in place)."""
    rename = f"DELETE FROM {TABLE} WHERE customer_id = OLD.id; {_cut('NEW', dialect, live)};"
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {TABLE}_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{_cut('new_rows', dialect, live)}; RETURN NULL; END $$",
            f"CREATE OR REPLACE FUNCTION {TABLE}_rename() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{rename} RETURN NULL; END $$",
        ]
    return [
        f"DROP TRIGGER {TABLE}_insert",
        f"DROP TRIGGER {TABLE}_rename",
        f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON customer BEGIN {_cut('NEW', dialect, live)}; END",
        f"CREATE TRIGGER {TABLE}_rename AFTER UPDATE OF name ON customer "
        f"WHEN OLD.name IS NOT NEW.name BEGIN {rename} END",
    ]


def _liveness(dialect: str) -> list[str]:
    """The trigger that rewrites ``live`` when a customer goes to the bin (a delete, a merge) or comes
    back. If the same UPDATE renames it too, the rename trigger cuts the new grams with the new value."""
    mark = f"UPDATE {TABLE} SET live = (NEW.deleted_at IS NULL) WHERE customer_id = NEW.id;"
    if dialect == "postgresql":
        return [
            f"CREATE FUNCTION {TABLE}_live() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {mark} RETURN NULL; END $$",
            f"CREATE TRIGGER {TABLE}_live AFTER UPDATE OF deleted_at ON customer FOR EACH ROW "
            f"WHEN ((OLD.deleted_at IS NULL) IS DISTINCT FROM (NEW.deleted_at IS NULL)) "
            f"EXECUTE FUNCTION {TABLE}_live()",
        ]
    return [f"CREATE TRIGGER {TABLE}_live AFTER UPDATE OF deleted_at ON customer "
            f"WHEN (OLD.deleted_at IS NULL) IS NOT (NEW.deleted_at IS NULL) BEGIN {mark} END"]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column(TABLE, sa.Column('live', sa.Boolean(), server_default=sa.true(), nullable=False))
    # the triggers before the backfill: creating one locks ``customer`` against writes until this
    # commits, so no customer deleted or restored by another session falls between the two
    for statement in _insert_and_rename(dialect, live=True) + _liveness(dialect):
        op.execute(statement)
    op.execute(f"UPDATE {TABLE} SET live = false "
               f"WHERE customer_id IN (SELECT id FROM customer WHERE deleted_at IS NOT NULL)")
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, ['gram', 'live', 'name', 'customer_id'], unique=False)
    if dialect == "postgresql":   # the planner's statistics now, not at autovacuum's next visit
        op.execute(f"ANALYZE {TABLE}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_live" + (" ON customer" if dialect == "postgresql" else ""))
    if dialect == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {TABLE}_live()")
    for statement in _insert_and_rename(dialect, live=False):
        op.execute(statement)
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, ['gram', 'name', 'customer_id'], unique=False)
    op.drop_column(TABLE, 'live')
