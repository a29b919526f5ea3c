"""Backing up, restoring and checking the database (``trellis db backup|restore|check``).

SQLite uses the sqlite3 online backup API: a consistent copy of a live database, page by page, with the
app still running; a restore copies a checked backup over the database the same way. PostgreSQL uses
``pg_dump`` / ``pg_restore`` (custom format) when they are on the PATH; docs/deployment.md gives the
recipe to run them by hand. :func:`check` says whether a database (a restored one, say) is fit to serve:
every enabled component migrated to its head, the schema as the models expect it, foreign keys and (on
SQLite) the file's integrity intact, and how many rows each table holds.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, inspect, select, table, text
from sqlalchemy.engine import URL

from core.errors import ValidationFailed

if TYPE_CHECKING:
    from core.runtime import Runtime

PG_RECIPE = ("pg_dump -Fc -d \"$TRELLIS_DATABASE_URL\" -f trellis.dump   # back up\n"
             "pg_restore --clean --if-exists --no-owner -d \"$TRELLIS_DATABASE_URL\" trellis.dump   # restore")


def _url(runtime: "Runtime") -> URL:
    return runtime.database.engine.url


def _sqlite_file(runtime: "Runtime") -> Path:
    database = _url(runtime).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise ValidationFailed("An in-memory SQLite database cannot be backed up or restored.")
    return Path(database)


def _copy(source: sqlite3.Connection, target: sqlite3.Connection) -> None:
    with target:
        source.backup(target)


def backup(runtime: "Runtime", path: str | os.PathLike) -> Path:
    """Write a consistent copy of the database to ``path`` (SQLite: a database file; PostgreSQL: a
    ``pg_dump`` custom-format archive). An existing file is refused, so no backup is overwritten."""
    dest = Path(path)
    if dest.exists():
        raise ValidationFailed(f"{dest} exists; choose a new file (backups are never overwritten).",
                               fields={"file": ["Exists."]})
    dialect = _url(runtime).get_backend_name()
    if dialect == "sqlite":
        source = sqlite3.connect(_sqlite_file(runtime))
        target = sqlite3.connect(dest)
        try:
            _copy(source, target)
        finally:
            source.close()
            target.close()
        return dest
    if dialect == "postgresql":
        _pg("pg_dump", runtime, ["-Fc", "-f", str(dest)])
        return dest
    raise ValidationFailed(f"Backups of {dialect} databases are not supported.")


def restore(runtime: "Runtime", path: str | os.PathLike) -> None:
    """Replace the database's contents with the backup at ``path``. The backup is checked first (SQLite:
    an intact Trellis database), so a wrong file changes nothing. Stop the app and workers before."""
    source_path = Path(path)
    if not source_path.is_file():
        raise ValidationFailed(f"No backup file at {source_path}.", fields={"file": ["Not found."]})
    dialect = _url(runtime).get_backend_name()
    if dialect == "sqlite":
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        try:
            try:
                verdict = source.execute("PRAGMA integrity_check").fetchone()[0]
                versioned = source.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise ValidationFailed(f"{source_path} is not an SQLite database ({exc}).",
                                       fields={"file": ["Not an SQLite database."]}) from None
            if verdict != "ok" or not versioned:
                raise ValidationFailed(f"{source_path} is not an intact Trellis database "
                                       f"({'integrity: ' + verdict if verdict != 'ok' else 'no alembic_version table'}).",
                                       fields={"file": ["Not an intact Trellis backup."]})
            runtime.database.engine.dispose()  # no pooled connection may hold the old pages
            target = sqlite3.connect(_sqlite_file(runtime))
            try:
                _copy(source, target)
            finally:
                target.close()
        finally:
            source.close()
        return
    if dialect == "postgresql":
        runtime.database.engine.dispose()
        _pg("pg_restore", runtime, ["--clean", "--if-exists", "--no-owner", str(source_path)])
        return
    raise ValidationFailed(f"Restoring {dialect} databases is not supported.")


def _pg(tool: str, runtime: "Runtime", args: list[str]) -> None:
    exe = shutil.which(tool)
    if exe is None:
        raise ValidationFailed(f"{tool} is not installed here. Install the PostgreSQL client tools, or run "
                               f"by hand (docs/deployment.md):\n{PG_RECIPE}")
    url = _url(runtime)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run([exe, "-d", libpq, *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise ValidationFailed(f"{tool} failed: {' '.join(done.stderr.split())[:500]}")


# --- check -------------------------------------------------------------------------------------------

@dataclass
class CheckReport:
    """What ``trellis db check`` found; ``problems`` empty means the database is fit to serve."""

    revisions: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # component → (db, head)
    differences: list = field(default_factory=list)
    foreign_keys: list[str] = field(default_factory=list)
    integrity: str = "ok"
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: False when the migrations are behind and the later checks were skipped
    complete: bool = False


def check(runtime: "Runtime") -> CheckReport:
    """Migrations at head for every enabled component, the schema matching the models, foreign keys and
    integrity intact, and row counts of the enabled components' tables."""
    from core import migrate

    report = CheckReport()
    heads = migrate.heads(runtime)
    for component, revision in migrate.current(runtime).items():
        head = heads.get(component)
        report.revisions[component] = (revision, head)
        if revision != head:
            report.problems.append(f"{component} is at {revision or 'no revision'}, not at its head {head}: "
                                   "run 'trellis db upgrade'.")
    if report.problems:
        return report  # a schema behind its migrations makes the other checks meaningless
    report.complete = True
    report.differences = migrate.check(runtime)
    if report.differences:
        report.problems.append(f"{len(report.differences)} difference(s) between the models and the database: "
                               "run 'trellis db upgrade', or write the missing migration with 'trellis db revision'.")
    engine = runtime.database.engine
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            report.foreign_keys = [f"{row[0]} row {row[1]} → {row[2]}"
                                   for row in conn.exec_driver_sql("PRAGMA foreign_key_check")]
            report.integrity = "; ".join(row[0] for row in conn.exec_driver_sql("PRAGMA integrity_check"))
        elif engine.dialect.name == "postgresql":
            # PostgreSQL enforces foreign keys itself; only a constraint added NOT VALID may be broken
            report.foreign_keys = [f"{row[0]} on {row[1]} is not validated" for row in conn.execute(text(
                "SELECT conname, conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
                "AND NOT convalidated"))]
        existing = set(inspect(conn).get_table_names())
        for name in sorted(migrate.owned_tables(runtime) & existing):
            report.rows[name] = conn.execute(select(func.count()).select_from(table(name))).scalar_one()
    if report.foreign_keys:
        report.problems.append(f"{len(report.foreign_keys)} row(s) point at rows that do not exist.")
    if report.integrity != "ok":
        report.problems.append(f"The database file is damaged: {report.integrity}")
    return report


@dataclass
class ScrubReport:
    """What :func:`scrub` changed: the subscriptions switched off (their secrets rotated) and the
    deliveries that will never be sent from this copy."""

    subscriptions: list[str] = field(default_factory=list)
    deliveries_dropped: int = 0


SCRUBBED = "Not sent: the database was scrubbed as a non-production copy ('trellis db scrub')."


def scrub(runtime: "Runtime") -> ScrubReport:
    """Make a restored copy safe to run beside production: every webhook subscription is switched off
    and gets a new signing secret (so the copy can never post to production's receivers, nor sign as
    production), and its pending deliveries are marked failed. Each change is audited (system actor).
    Refused when ``TRELLIS_ENV=production``: that is the database the receivers are for."""
    import secrets as token_source

    from sqlalchemy import update

    from core.models.webhooks import WebhookDelivery, WebhookSubscription
    from core.services import audit, common
    from core.services.webhooks import SECRET_PREFIX

    if runtime.settings.env == "production":
        raise ValidationFailed("TRELLIS_ENV is production: 'trellis db scrub' is for staging and other copies "
                               "restored from a backup, never for the production database.")
    report = ScrubReport()
    with runtime.database.unit_of_work() as sess:
        subs = sess.scalars(select(WebhookSubscription).order_by(WebhookSubscription.created_at)).all()
        for sub in subs:
            changes = common.apply_changes(sub, {"active": False})
            sub.secret = SECRET_PREFIX + token_source.token_urlsafe(32)
            changes["secret"] = ("***", "*** (rotated)")   # the audit trail never holds a secret
            sess.flush()
            audit.record_change(None, "updated", sub, changes)
            report.subscriptions.append(sub.url)
        if subs:
            dropped = sess.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.status == "pending",
                       WebhookDelivery.subscription_id.in_([sub.id for sub in subs]))
                .values(status="failed", next_attempt_at=None, last_error=SCRUBBED)
                .execution_options(synchronize_session=False))
            report.deliveries_dropped = dropped.rowcount
    return report
