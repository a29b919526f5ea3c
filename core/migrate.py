"""Alembic, one branch per component: the core's branch (label ``core``) and one per plugin.

Users need no ``alembic.ini``: :func:`make_config` builds the Alembic configuration from the app's
runtime. ``script_location`` is ``core/migrations`` (its ``env.py`` and template serve every branch);
``version_locations`` are the folders the enabled components return from ``trellis_migrations``, the
core's first. A plugin's first revision carries ``branch_labels = ("<plugin>",)`` and depends on the
core head it was written against, so ``upgrade(runtime)`` ("heads") migrates the core, then each plugin.

What the migration environment compares with the database is ``core.db.Base.metadata`` limited to the
tables of the enabled components (``runtime.tables``): a disabled plugin's tables and its row in
``alembic_version`` are left alone, never dropped. Migrations are forward-only: they never drop data
(autogenerate refuses to write a drop; see :func:`refuse_drops`).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from core.errors import PluginError
from core.plugins import CORE_NAME

if TYPE_CHECKING:
    from core.runtime import Runtime

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def version_locations(runtime: "Runtime") -> dict[str, Path]:
    """``{component: versions folder}`` of every enabled component with migrations, core first."""
    locations: dict[str, Path] = {}
    for owner, path in runtime.plugins.call_each("trellis_migrations"):
        locations[owner] = Path(path).resolve()
    return locations


def _ini_value(value: Any) -> str:
    # Config values go through ConfigParser interpolation: a literal '%' must be doubled.
    return str(value).replace("%", "%%")


def make_config(runtime: "Runtime", *, connection: Any = None, component: str | None = None) -> Config:
    """The Alembic configuration of one runtime. ``connection`` (optional) is used instead of the
    runtime's engine; ``component`` limits autogenerate to that component's tables."""
    cfg = Config(cmd_opts=argparse.Namespace(quiet=True))  # callers say what happened themselves
    cfg.set_main_option("script_location", _ini_value(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations",
                        os.pathsep.join(_ini_value(p) for p in version_locations(runtime).values()))
    cfg.attributes["runtime"] = runtime
    if connection is not None:
        cfg.attributes["connection"] = connection
    if component is not None:
        cfg.attributes["component"] = component
    return cfg


def script_directory(runtime: "Runtime") -> ScriptDirectory:
    return ScriptDirectory.from_config(make_config(runtime))


# --- what the environment compares and how it renders (used by env.py and check) --------------------

def owned_tables(runtime: "Runtime", component: str | None = None) -> set[str]:
    """Tables of the enabled components (or of one of them)."""
    return {table for table, owner in runtime.tables.items() if component is None or owner == component}


def index_applies(index: Any, dialect_name: str | None, extensions: set[str] | None) -> bool:
    """Whether the model's ``index`` is built on this database: one declared for another database only
    (``Index.ddl_if(dialect=...)``, as the trigram indexes of name search) is not, nor one needing an
    extension (``index.info["requires_extension"]``) the database lacks — the migration that creates it
    skips it there (see docs/deployment.md, "Indexes"). ``None`` for what is not known: it applies."""
    ddl_if = getattr(index, "_ddl_if", None)
    if dialect_name is not None and ddl_if is not None and ddl_if.dialect is not None:
        wanted = ddl_if.dialect if isinstance(ddl_if.dialect, (tuple, list, set)) else (ddl_if.dialect,)
        if dialect_name not in wanted:
            return False
    needs = index.info.get("requires_extension")
    return needs is None or extensions is None or needs in extensions


def installed_extensions(connection: Any) -> set[str] | None:
    """The extensions installed in a PostgreSQL database (``None`` on another database)."""
    if connection is None or connection.dialect.name != "postgresql":
        return None
    from sqlalchemy import text

    return set(connection.execute(text("SELECT extname FROM pg_extension")).scalars())


def table_filters(tables: set[str], dialect_name: str | None = None,
                  extensions: set[str] | None = None) -> dict[str, Any]:
    """``include_name`` / ``include_object`` for Alembic: only ``tables`` exist as far as it knows.
    ``include_name`` keeps other tables from even being reflected; ``include_object`` drops the
    metadata's tables of disabled plugins (their modules may be imported all the same), and the
    model's indexes not built on this database (:func:`index_applies`)."""

    def include_name(name, type_, parent_names):
        if type_ == "table":
            return name in tables
        return True

    def include_object(obj, name, type_, reflected, compare_to):
        if type_ == "table":
            return name in tables
        if type_ == "index" and not reflected:
            return index_applies(obj, dialect_name, extensions)
        return True  # columns, indexes and constraints follow their table

    return {"include_name": include_name, "include_object": include_object}


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render ``core.db.UTCDateTime`` as what it is in the database, so migrations never import
    application code (a migration must keep working when the models move on)."""
    from core.db import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _walk(operations: Iterable[Any]):
    for op in operations:
        yield op
        if isinstance(op, ops.OpContainer):
            yield from _walk(op.ops)


def refuse_drops(context: Any, revision: Any, directives: list) -> None:
    """``process_revision_directives``: Trellis migrations never drop data. An autogenerated drop of a
    table or column stops the command; write such a change by hand (copy the data first) if you must.
    Downgrades are not generated: they would drop what the upgrade created."""
    for script in directives:
        for upgrade_ops in script.upgrade_ops_list:
            for op in _walk(upgrade_ops.ops):
                if isinstance(op, ops.DropTableOp):
                    raise CommandError(
                        f"Autogenerate wants to drop table '{op.table_name}' (no enabled component defines it). "
                        "Trellis migrations never drop data: enable the component that owns it, or write the "
                        "migration by hand (--no-autogenerate) after saving the data elsewhere.")
                if isinstance(op, ops.DropColumnOp):
                    raise CommandError(
                        f"Autogenerate wants to drop column '{op.table_name}.{op.column_name}'. Trellis "
                        "migrations never drop data: keep the column (nullable), or write the migration by "
                        "hand (--no-autogenerate) after copying its data.")
        for downgrade_ops in script.downgrade_ops_list:
            downgrade_ops.ops[:] = []


def environment_options(runtime: "Runtime", dialect_name: str, component: str | None = None, *,
                        connection: Any = None) -> dict[str, Any]:
    """Everything env.py passes to ``context.configure`` besides the connection (given, it tells which
    extensions the database has: :func:`index_applies`)."""
    from core.db import Base

    return {
        "target_metadata": Base.metadata,
        "compare_type": True,
        "render_as_batch": dialect_name == "sqlite",
        "render_item": render_item,
        "process_revision_directives": refuse_drops,
        **table_filters(owned_tables(runtime, component), dialect_name, installed_extensions(connection)),
    }


def known_revisions(script: ScriptDirectory) -> set[str]:
    return {rev.revision for rev in script.walk_revisions()}


# --- the version table: one row per branch ------------------------------------------------------------
#
# Alembic records a revision another branch depends on only through the dependent's row: once a plugin's
# first revision (depends_on the core's head) is applied, the core's own row is gone. Then a disabled or
# uninstalled plugin would take the core's position with it. So Trellis keeps one explicit row per
# branch in ``alembic_version`` and shows Alembic only the rows its scripts know, minus those implied by
# others — which is what Alembic itself would have recorded.

VERSION_TABLE = "alembic_version"


def visible_heads(script: ScriptDirectory, rows: Iterable[str]) -> tuple[str, ...]:
    """The rows Alembic should see: known revisions, none an ancestor of another."""
    known = known_revisions(script)
    rows = [r for r in rows if r in known]
    implied: set[str] = set()
    for row in rows:
        implied |= _applied(script, [row]) - {row}
    return tuple(r for r in rows if r not in implied)


def branch_rows(script: ScriptDirectory, rows: Iterable[str]) -> set[str]:
    """The version table as Trellis keeps it: for every branch its newest applied revision, plus the
    rows of branches whose scripts are not loaded (disabled plugins), untouched."""
    rows = set(rows)
    known = known_revisions(script)
    applied = _applied(script, rows & known)
    out = rows - known
    for label in branch_labels(script):
        newest = _newest_applied(script, label, applied)
        if newest is not None:
            out.add(newest)
    return out


def branch_labels(script: ScriptDirectory) -> set[str]:
    return {label for rev in script.walk_revisions() for label in (rev.branch_labels or ())}


def _newest_applied(script: ScriptDirectory, label: str, applied: set[str]) -> str | None:
    for rev in script.iterate_revisions(f"{label}@head", "base"):  # newest first
        if rev.revision in applied and label in rev.branch_labels:
            return rev.revision
    return None


def normalize_version_table(connection: Any, script: ScriptDirectory) -> None:
    """Rewrite ``alembic_version`` to :func:`branch_rows` (runs in the migration's transaction)."""
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table(VERSION_TABLE):
        return
    rows = set(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    wanted = branch_rows(script, rows)
    for stale in rows - wanted:
        connection.execute(text(f"DELETE FROM {VERSION_TABLE} WHERE version_num = :v"), {"v": stale})
    for missing in wanted - rows:
        connection.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": missing})


# --- the public functions ----------------------------------------------------------------------------

def upgrade(runtime: "Runtime", target: str = "heads", *, connection: Any = None) -> None:
    """Bring the database to ``target`` (every enabled component's head by default). Idempotent."""
    command.upgrade(make_config(runtime, connection=connection), target)


def _applied(script: ScriptDirectory, db_heads: Iterable[str]) -> set[str]:
    """Every revision the database has: its recorded heads and their ancestors, dependencies included
    (Alembic records a core revision a plugin depends on only through the plugin's row)."""
    seen: set[str] = set()
    todo = [h for h in db_heads]
    while todo:
        rev = script.get_revision(todo.pop())
        if rev is None or rev.revision in seen:
            continue
        seen.add(rev.revision)
        for down in _as_tuple(rev.down_revision) + _as_tuple(rev.dependencies):
            todo.append(script.get_revision(down).revision)
    return seen


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def current(runtime: "Runtime", *, connection: Any = None) -> dict[str, str | None]:
    """``{component: applied revision or None}`` for every enabled component with migrations, read
    through ``connection`` or a connection of its own."""
    script = script_directory(runtime)
    if connection is not None:
        db_heads = MigrationContext.configure(connection).get_current_heads()
    else:
        with runtime.database.engine.connect() as conn:
            db_heads = MigrationContext.configure(conn).get_current_heads()
    applied = _applied(script, visible_heads(script, db_heads))
    labels = branch_labels(script)
    return {name: _newest_applied(script, name, applied) if name in labels else None
            for name in version_locations(runtime)}


def heads(runtime: "Runtime") -> dict[str, str]:
    """``{component: head revision}`` as the migration scripts define them."""
    script = script_directory(runtime)
    out = {}
    for name in version_locations(runtime):
        try:
            rev = script.get_revision(f"{name}@head")
        except Exception:  # no revision in that branch yet
            continue
        if rev is not None:
            out[name] = rev.revision
    return out


def check(runtime: "Runtime") -> list:
    """Differences between the enabled components' models and the database, as Alembic's
    ``compare_metadata`` reports them (an empty list when the migrations match the models)."""
    engine = runtime.database.engine
    with engine.connect() as conn:
        opts = environment_options(runtime, engine.dialect.name, connection=conn)
        metadata = opts.pop("target_metadata")
        for key in ("render_as_batch", "render_item", "process_revision_directives"):
            opts.pop(key)
        context = MigrationContext.configure(conn, opts=opts)
        return compare_metadata(context, metadata)


def _has_branch(script: ScriptDirectory, label: str) -> bool:
    return label in branch_labels(script)


def revision(runtime: "Runtime", component: str, message: str, autogenerate: bool = True, *,
             rev_id: str | None = None) -> Path:
    """Write a new revision in ``component``'s branch and return its path.

    The first revision of a component starts its branch (``branch_labels=(component,)``); a plugin's
    first revision also depends on the core's current head. With ``autogenerate`` the database must be
    at every head (``upgrade`` first) and only ``component``'s tables are compared.
    """
    locations = version_locations(runtime)
    if component not in locations:
        raise PluginError(
            f"Component '{component}' has no migrations folder: it is not enabled or does not implement "
            f"trellis_migrations. Components with migrations: {', '.join(locations) or 'none'}.")
    if autogenerate:
        applied, wanted = current(runtime), heads(runtime)
        behind = {name: applied.get(name) for name, head in wanted.items() if applied.get(name) != head}
        if behind:
            states = ", ".join(f"{name}: {'not migrated' if rev is None else 'behind'}" for name, rev in behind.items())
            raise CommandError(
                f"The database is not at the migration heads ({states}), and --autogenerate compares "
                f"'{component}''s models with it. Run 'trellis db upgrade' first, then this command again; "
                "or write an empty revision with --empty.")
    folder = locations[component]
    folder.mkdir(parents=True, exist_ok=True)
    cfg = make_config(runtime, component=component)
    script = ScriptDirectory.from_config(cfg)
    kwargs: dict[str, Any] = {"message": message, "autogenerate": autogenerate, "version_path": str(folder),
                              "rev_id": rev_id}
    if _has_branch(script, component):
        kwargs["head"] = f"{component}@head"
    else:
        kwargs["head"] = "base"
        kwargs["branch_label"] = component
        if component != CORE_NAME:
            if not _has_branch(script, CORE_NAME):
                raise PluginError("The core has no migration yet; a plugin's branch must depend on it.")
            kwargs["depends_on"] = script.get_revision(f"{CORE_NAME}@head").revision
    result = command.revision(cfg, **kwargs)
    scripts = result if isinstance(result, list) else [result]
    return Path(scripts[0].path)
