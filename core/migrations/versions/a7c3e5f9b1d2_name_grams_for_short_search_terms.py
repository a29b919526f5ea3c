"""Name search for one- and two-character terms: every name's grams, kept by triggers

Issue #16 (item 5), bench/million.py at 1 M customers: name search (``q``) with a term of one or two
characters (杭州, 王: the common case in Chinese) took 1.3 s for customers and 4.7 s for contacts, 88×
and 183× its time at 10,000. ``pg_trgm`` makes no trigram of such a term, so no index narrowed it: the
list read the name index in order and tested every name until it had its page and its capped total.

New tables ``customer_name_gram`` and ``contact_name_gram``: one row per distinct one- or two-character
piece of ``lower(name)`` (primary key ``(id, gram)``), with the name beside it and an index on
``(gram, name, id)``, which gives the names containing a gram in name order (``core.models.name_grams``).
``name_gram_position`` holds the positions 1–200 SQLite's triggers cut the grams at. Triggers on ``customer`` and
``contact`` keep the rows: after an insert (on PostgreSQL once per statement, from its transition table,
so a ``COPY`` of 5,000 rows is one insert of their grams), after an update that changes ``name``, and
after a delete for good. No foreign key: its check ran once per gram row, about twenty a name, on every
insert; the grams are the triggers' to keep and are only ever read joined to their row.

Existing names are cut here, in one statement per table: on bench/million.py's 1 M customers and 3 M
contacts that is about 20 M and 11 M rows (docs/deployment.md, "Upgrading a large database", has the
time). Nothing existing changes; the downgrade drops what this made.

Revision ID: a7c3e5f9b1d2
Revises: f3b8d6a2c4e7
Create Date: 2026-12-05 07:00:00.000000
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'a7c3e5f9b1d2'
down_revision: Union[str, Sequence[str], None] = 'f3b8d6a2c4e7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

POSITIONS = 200
#: (owner table, gram table, the gram table's id column, the name's length)
OWNERS = [("customer", "customer_name_gram", "customer_id", 200), ("contact", "contact_name_gram", "contact_id", 120)]


def _cut(rows: str, gram_table: str, key: str, dialect: str) -> str:
    """INSERT the grams of the rows ``rows`` names (a table, or the trigger's NEW) into ``gram_table``.
    PostgreSQL cuts each name by ``generate_series`` and drops its repeated grams per row (no ON
    CONFLICT, no sort of the whole table: a fifth less time per insert in a loop of single-row inserts
    than both); SQLite's triggers can use neither a CTE nor ``generate_series``, so they join
    ``name_gram_position`` and let the primary key drop repeats."""
    alias, source = ("NEW", "") if rows == "NEW" else ("r", f"{rows} AS r, ")
    if dialect == "postgresql":
        return (f"INSERT INTO {gram_table} ({key}, gram, name) SELECT {alias}.id, g.gram, {alias}.name "
                f"FROM {source}LATERAL (SELECT DISTINCT substr(lower({alias}.name), p.i, l.n) AS gram "
                f"FROM generate_series(1, char_length({alias}.name)) AS p(i), (VALUES (1), (2)) AS l(n) "
                f"WHERE p.i + l.n - 1 <= char_length({alias}.name)) AS g")
    return (f"INSERT OR IGNORE INTO {gram_table} ({key}, gram, name) "
            f"SELECT {alias}.id, substr(lower({alias}.name), p.i, l.n), {alias}.name "
            f"FROM {source}name_gram_position AS p, (SELECT 1 AS n UNION ALL SELECT 2) AS l "
            f"WHERE p.i + l.n - 1 <= length({alias}.name)")


def _triggers(owner: str, gram_table: str, key: str, dialect: str) -> list[str]:
    forget = f"DELETE FROM {gram_table} WHERE {key} = OLD.id;"
    rename = f"{forget} {_cut('NEW', gram_table, key, dialect)};"
    if dialect == "postgresql":
        return [
            f"CREATE FUNCTION {gram_table}_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{_cut('new_rows', gram_table, key, dialect)}; RETURN NULL; END $$",
            f"CREATE TRIGGER {gram_table}_insert AFTER INSERT ON {owner} REFERENCING NEW TABLE AS new_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {gram_table}_insert()",
            f"CREATE FUNCTION {gram_table}_rename() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{rename} RETURN NULL; END $$",
            f"CREATE TRIGGER {gram_table}_rename AFTER UPDATE OF name ON {owner} FOR EACH ROW "
            f"WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION {gram_table}_rename()",
            f"CREATE FUNCTION {gram_table}_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"DELETE FROM {gram_table} AS g USING old_rows AS o WHERE g.{key} = o.id; RETURN NULL; END $$",
            f"CREATE TRIGGER {gram_table}_delete AFTER DELETE ON {owner} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {gram_table}_delete()",
        ]
    return [
        f"CREATE TRIGGER {gram_table}_insert AFTER INSERT ON {owner} BEGIN "
        f"{_cut('NEW', gram_table, key, dialect)}; END",
        f"CREATE TRIGGER {gram_table}_rename AFTER UPDATE OF name ON {owner} "
        f"WHEN OLD.name IS NOT NEW.name BEGIN {rename} END",
        f"CREATE TRIGGER {gram_table}_delete AFTER DELETE ON {owner} BEGIN {forget} END",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    positions = op.create_table(
        'name_gram_position',
        sa.Column('i', sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('i', name=op.f('pk_name_gram_position')))
    op.bulk_insert(positions, [{"i": i} for i in range(1, POSITIONS + 1)])
    for owner, gram_table, key, length in OWNERS:
        op.create_table(
            gram_table,
            sa.Column(key, sa.Uuid(), nullable=False),
            sa.Column('gram', sa.String(length=2), nullable=False),
            sa.Column('name', sa.String(length=length), nullable=False),
            sa.PrimaryKeyConstraint(key, 'gram', name=op.f(f'pk_{gram_table}')))
        # the triggers first: creating one locks its table against writes until this commits, so no row
        # written by another session can fall between the names cut below and the triggers
        for statement in _triggers(owner, gram_table, key, dialect):
            op.execute(statement)
        op.execute(_cut(owner, gram_table, key, dialect))
        op.create_index(f'ix_{gram_table}_search', gram_table, ['gram', 'name', key], unique=False)
        if dialect == "postgresql":   # the planner's statistics now, not at autovacuum's next visit
            op.execute(f"ANALYZE {gram_table}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for owner, gram_table, _key, _length in OWNERS:
        for suffix in ("insert", "rename", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {gram_table}_{suffix}" + (f" ON {owner}" if dialect == "postgresql" else ""))
            if dialect == "postgresql":
                op.execute(f"DROP FUNCTION IF EXISTS {gram_table}_{suffix}()")
        op.drop_index(f'ix_{gram_table}_search', table_name=gram_table)
        op.drop_table(gram_table)
    op.drop_table('name_gram_position')
