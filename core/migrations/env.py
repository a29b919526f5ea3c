"""The migration environment of every component (core and plugins share it; see core/migrate.py).

It runs on the app's own engine — or on ``config.attributes["connection"]`` when the caller passes one —
and compares only the tables of the enabled components. Offline (``--sql``) mode is not supported.
"""
from __future__ import annotations

import contextlib

from alembic import context

from core import migrate

config = context.config
runtime = config.attributes["runtime"]
component = config.attributes.get("component")


def run_migrations(connection) -> None:
    options = migrate.environment_options(runtime, connection.dialect.name, component, connection=connection)
    context.configure(connection=connection, **options)
    migration_context = context.get_context()
    read_rows = migration_context.get_current_heads
    # alembic_version keeps one row per branch, a disabled plugin's included; Alembic sees the rows it
    # knows, minus the ones implied by others (see core.migrate.visible_heads).
    migration_context.get_current_heads = lambda: migrate.visible_heads(context.script, read_rows())
    with context.begin_transaction():
        context.run_migrations()
        migrate.normalize_version_table(connection, context.script)


@contextlib.contextmanager
def sqlite_foreign_keys_off(connection):
    """A batch migration on SQLite copies a table and drops the old one; with foreign keys on, that
    drop would cascade to the rows referring to it. Turn them off while migrating, check after.
    (The pragma is a no-op inside a transaction, so it goes straight to the driver, outside one.)"""
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        yield
        return
    raw = connection.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        problems = raw.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            raise RuntimeError(f"The migration left rows with broken foreign keys: {problems[:5]}")
    finally:
        if connection.in_transaction():
            connection.rollback()
        raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise RuntimeError("Trellis migrations run against a database; offline (--sql) mode is not supported.")

connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    with runtime.database.engine.connect() as connection:
        with sqlite_foreign_keys_off(connection):
            run_migrations(connection)
            if connection.in_transaction():
                connection.commit()
