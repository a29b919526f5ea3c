"""The ``trellis`` command: the database, users and tokens, plugins, the demo, the server.

Configuration comes only from ``core.config`` (``TRELLIS_*`` environment variables). The app is built
when a command needs it, so ``CliRunner(env=...)`` and plain shells behave the same. Commands that touch
the database run inside the app context and one unit of work (:func:`with_unit_of_work`); a service
error ends the command with a one-line message on stderr and exit status 1, never a traceback.

Plugins add commands with the ``trellis_cli_commands`` hook; two components adding the same name is a
start-up error naming both.
"""
from __future__ import annotations

import contextlib
import functools
import random
import secrets
import sys
import traceback
from datetime import datetime, timezone
from typing import Any, Callable

import click
from flask import Flask, current_app

from core.errors import ConfigError, PluginError, TrellisError
from core.plugins import CORE_NAME

HELP = """Trellis CRM: the database, users and API tokens, plugins, the demo and the server.

Configuration comes from TRELLIS_* environment variables (see the README); by default the database is
an SQLite file in ./instance."""


# --- plumbing ------------------------------------------------------------------------------------------

def error_message(exc: BaseException) -> str:
    """One line saying what went wrong (with the fields of a validation error)."""
    if isinstance(exc, TrellisError):
        message = exc.message
        if exc.fields:
            message += " " + "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.fields.items())
        return message
    orig = getattr(exc, "orig", None)  # a DBAPI error wrapped by SQLAlchemy
    text = str(orig if orig is not None else exc).strip()
    return " ".join(text.split()) or exc.__class__.__name__


def _known_errors() -> tuple[type[BaseException], ...]:
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    return TrellisError, PluginError, CommandError, SQLAlchemyError


def failure(ctx: click.Context, exc: BaseException) -> click.ClickException:
    """The one-line error a command ends with; with ``trellis --debug`` the traceback (the plugin's
    own, for a PluginError wrapping it) is printed first."""
    if ctx.find_root().params.get("debug"):
        click.echo("".join(traceback.format_exception(exc)), err=True)
    return click.ClickException(error_message(exc))


def runtime():
    """The runtime of the app the command runs in."""
    return current_app.extensions["trellis"]


def with_unit_of_work(fn: Callable) -> Callable:
    """Run a command callback in one unit of work: committed when it returns, rolled back when it
    fails. Works for plugin commands too (the app context is already pushed)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with runtime().database.unit_of_work():
            return fn(*args, **kwargs)

    return wrapper


def _interactive() -> bool:
    return sys.stdin.isatty()


class TrellisGroup(click.Group):
    """The ``trellis`` group: built-in commands plus every enabled plugin's, in the app's context.

    The app is built only once the command that runs is known and its arguments are parsed, so
    ``--help`` and usage errors build none (listing the commands needs only the plugin set, for the
    plugins' commands); :data:`WITHOUT_APP` commands run with no app, :data:`RUNTIME_ONLY` ones in an app
    without routes (``create_app(web=False)``), every other one in the whole app."""

    def __init__(self, *args: Any, app: Flask | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._app = app
        self._plugin_commands: tuple[Any, dict[str, click.Command]] | None = None

    def app(self, ctx: click.Context, *, web: bool = True) -> Flask:
        if self._app is not None:
            return self._app
        root = ctx.find_root()
        app = root.meta.get((APP_KEY, web))
        if app is None:
            from api.app import create_app

            try:
                app = create_app(web=web)
            except (PluginError, ConfigError) as exc:
                raise failure(ctx, exc) from None
            root.meta[(APP_KEY, web)] = app
            root.call_on_close(app.extensions["trellis"].database.dispose)
        return app

    def plugins(self, ctx: click.Context) -> Any:
        """The plugin set: the app's when there is one, else loaded from the settings alone (no registries,
        no database), which is all listing the commands needs."""
        if self._app is not None:
            return self._app.extensions["trellis"].plugins
        root = ctx.find_root()
        for key in ((APP_KEY, True), (APP_KEY, False)):
            if key in root.meta:
                return root.meta[key].extensions["trellis"].plugins
        plugin_set = root.meta.get(PLUGINS_KEY)
        if plugin_set is None:
            from core.config import load_settings
            from core.plugins import PluginSet

            try:
                plugin_set = PluginSet(enabled_names=load_settings().enabled_plugin_names)
            except (PluginError, ConfigError) as exc:
                raise failure(ctx, exc) from None
            root.meta[PLUGINS_KEY] = plugin_set
        return plugin_set

    def plugin_commands(self, plugin_set: Any) -> dict[str, click.Command]:
        if self._plugin_commands is None or self._plugin_commands[0] is not plugin_set:
            self._plugin_commands = (plugin_set, collect_plugin_commands(plugin_set, builtin=self.commands))
        return self._plugin_commands[1]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands) + sorted(self.plugin_commands(self.plugins(ctx)))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None:
            try:
                command = self.plugin_commands(self.plugins(ctx)).get(cmd_name)
            except PluginError as exc:
                raise failure(ctx, exc) from None
        return command

    def invoke(self, ctx: click.Context) -> Any:
        if _subcommand_name(ctx) in WITHOUT_APP or _subcommand_name(ctx, 2) in WITHOUT_APP:
            return super().invoke(ctx)   # it must work when the app cannot start
        try:
            with contextlib.ExitStack() as in_app:
                return self._invoke_group(self, ctx, [], in_app)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise   # --help, a usage error: click's own (and no need to import what _known_errors names)
        except _known_errors() as exc:
            raise failure(ctx, exc) from None

    def _invoke_group(self, group: click.Group, ctx: click.Context, path: list[str],
                      in_app: contextlib.ExitStack) -> Any:
        """click's ``Group.invoke`` one level down, the app context entered (:meth:`_enter_app`) only
        before the command's callback runs, or before the parsing of a command or group that may need it
        (a plugin's, ``trellis import``, which lists the import types)."""
        pending = [*_pending_args(ctx), *ctx.args]
        if not _plain_group(group):
            self._enter_app(ctx, path, in_app)
            return click.Group.invoke(group, ctx)
        if not pending:
            return click.Group.invoke(group, ctx)   # "Missing command."
        _set_pending_args(ctx, [])
        ctx.args = []
        with ctx:
            cmd_name, cmd, args = group.resolve_command(ctx, pending)
            assert cmd is not None and cmd_name is not None
            ctx.invoked_subcommand = cmd_name
            click.Command.invoke(group, ctx)
            path = [*path, cmd_name]
            builtin = group is not self or self.commands.get(cmd_name) is cmd
            if not builtin or (isinstance(cmd, click.Group) and not _plain_group(cmd)):
                self._enter_app(ctx, path, in_app)
            sub_ctx = cmd.make_context(cmd_name, args, parent=ctx)
            with sub_ctx:
                if isinstance(cmd, click.Group):
                    return self._invoke_group(cmd, sub_ctx, path, in_app)
                self._enter_app(ctx, path, in_app)
                return cmd.invoke(sub_ctx)

    def _enter_app(self, ctx: click.Context, path: list[str], in_app: contextlib.ExitStack) -> None:
        if ctx.find_root().meta.get(IN_APP_KEY):
            return
        web = not any(" ".join(path[:words]) in RUNTIME_ONLY for words in (1, 2))
        app = self.app(ctx, web=web)
        in_app.enter_context(app.app_context())
        ctx.find_root().meta[IN_APP_KEY] = True


APP_KEY, PLUGINS_KEY, IN_APP_KEY = "trellis.app", "trellis.plugins", "trellis.in_app"

#: Commands that read the settings only and must run when the app cannot start (``trellis config``), or
#: that need no app (``trellis plugins new`` writes files).
WITHOUT_APP = {"config", "plugins new"}

#: Commands (a group: all its commands) that reach only the services and the database: they run in an
#: app without routes (``create_app(web=False)``: no REST, GraphQL or sign-in to build), several times
#: faster to start. The others (the server, the demo, the GraphQL schema, the jobs, plugins' commands)
#: get the whole app.
RUNTIME_ONLY = {"db", "users", "teams", "tokens", "plugins list", "plugins reference", "analytics", "privacy",
                "import", "export"}


def _plain_group(group: click.Command) -> bool:
    """A group whose commands are fixed and that does what click's ``Group.invoke`` does with none of its
    extras (chained commands, a result callback, running without a command)."""
    return (type(group) in (click.Group, TrellisGroup) and not group.chain and not group.invoke_without_command
            and group._result_callback is None)


def _pending_args(ctx: click.Context) -> list[str]:
    # click 8.2+ keeps the not-yet-parsed subcommand in ``_protected_args`` (``protected_args`` before)
    return ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args


def _set_pending_args(ctx: click.Context, args: list[str]) -> None:
    if hasattr(ctx, "_protected_args"):
        ctx._protected_args = args
    else:
        ctx.protected_args = args


def _subcommand_name(ctx: click.Context, words: int = 1) -> str | None:
    args = [*_pending_args(ctx), *ctx.args]
    return " ".join(args[:words]) if args else None


def collect_plugin_commands(plugin_set: Any, builtin: dict[str, click.Command]) -> dict[str, click.Command]:
    """Every ``click.Command`` the enabled plugins (a ``core.plugins.PluginSet``) return from
    ``trellis_cli_commands``."""
    owners = {name: CORE_NAME for name in builtin}
    commands: dict[str, click.Command] = {}
    for owner, returned in plugin_set.call_each("trellis_cli_commands"):
        for command in returned:
            if not isinstance(command, click.Command) or not command.name:
                raise PluginError(f"Plugin '{owner}' returned {command!r} from trellis_cli_commands; "
                                  "return a list of named click.Command objects.")
            if command.name in owners:
                raise PluginError(
                    f"Plugins '{owners[command.name]}' and '{owner}' both add a CLI command named "
                    f"'{command.name}'. Rename one (prefix plugin commands with the plugin name).")
            owners[command.name] = owner
            commands[command.name] = command
    return commands


def build_cli(app: Flask | None = None) -> TrellisGroup:
    """The ``trellis`` command group. With ``app`` every command runs against it (tests); without,
    the app is built from the environment when a command runs."""
    group = TrellisGroup(name="trellis", app=app, help=HELP,
                         context_settings={"help_option_names": ["-h", "--help"]},
                         params=[click.Option(["--debug"], is_flag=True,
                                              help="On an error, print its traceback too.")])
    for command in BUILTIN:
        group.add_command(command)
    if app is not None:
        group.plugin_commands(app.extensions["trellis"].plugins)  # a clash of names fails here, naming both plugins
    return group


def main(argv: list[str] | None = None) -> Any:
    """The console script ``trellis``."""
    return build_cli().main(args=argv, prog_name="trellis")


# --- trellis db --------------------------------------------------------------------------------------

@click.group("db")
def db_group():
    """The database schema: Alembic migrations, one branch per component."""


@db_group.command("upgrade")
@click.argument("target", default="heads")
def db_upgrade(target: str):
    """Migrate the core and every enabled plugin to their heads (or to TARGET)."""
    from core import migrate

    migrate.upgrade(runtime(), target)
    for component, revision in migrate.current(runtime()).items():
        click.echo(f"{component}: {revision or 'no migrations yet'}")


@db_group.command("current")
def db_current():
    """Show the revision each enabled component's schema is at."""
    from core import migrate

    heads = migrate.heads(runtime())
    for component, revision in migrate.current(runtime()).items():
        state = "head" if revision and heads.get(component) == revision else "behind: run 'trellis db upgrade'"
        click.echo(f"{component}: {revision or 'not migrated'} ({state})")


@db_group.command("revision")
@click.option("--component", "-c", default=CORE_NAME, show_default=True,
              help="The core or the plugin whose branch gets the revision.")
@click.option("--message", "-m", required=True, help="What the revision changes.")
@click.option("--autogenerate/--empty", default=True, show_default=True,
              help="Compare the component's models with the database (which must be at its heads).")
def db_revision(component: str, message: str, autogenerate: bool):
    """Write a new migration in a component's branch (review it before committing)."""
    from core import migrate

    path = migrate.revision(runtime(), component, message, autogenerate=autogenerate)
    click.echo(str(path))


@db_group.command("check")
def db_check():
    """Is the database fit to serve? Migrations at head, schema as the models expect, foreign keys and
    integrity intact; prints row counts. Exit 1 on any problem."""
    from core import backup

    report = backup.check(runtime())
    for component, (revision, head) in report.revisions.items():
        state = "head" if revision == head else f"behind: head is {head}"
        click.echo(f"{component}: {revision or 'not migrated'} ({state})")
    if report.complete:
        for diff in report.differences:
            click.echo(repr(diff))
        if not report.differences:
            click.echo("No differences: the database matches the models.")
        click.echo(f"foreign keys: {'ok' if not report.foreign_keys else '; '.join(report.foreign_keys)}")
        click.echo(f"integrity: {report.integrity}")
        click.echo(f"rows: {sum(report.rows.values())} in {len(report.rows)} tables")
        for name, count in report.rows.items():
            click.echo(f"  {name}: {count}")
    if report.problems:
        raise click.ClickException(" ".join(report.problems))


@db_group.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def db_backup(file: str):
    """Write a consistent copy of the database to FILE, the app may keep running (SQLite: the online
    backup API; PostgreSQL: pg_dump -Fc)."""
    from core import backup

    path = backup.backup(runtime(), file)
    click.echo(f"Backed up {_database_name()} to {path} ({path.stat().st_size} bytes).")


@db_group.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask: replace the database's contents with FILE.")
def db_restore(file: str, yes: bool):
    """Replace the database's contents with the backup FILE (checked first). Stop the app and workers
    before; run 'trellis db check' after."""
    from core import backup

    if not yes:
        if not _interactive():
            raise click.UsageError("Restoring replaces every row of the database: give --yes.")
        click.confirm(f"Replace every row of {_database_name()} with {file}?", abort=True)
    backup.restore(runtime(), file)
    click.echo(f"Restored {_database_name()} from {file}. Run 'trellis db check' next, and on any copy that "
               "is not production 'trellis db scrub', so it never posts webhooks to production's receivers.")


@db_group.command("scrub")
@click.option("--yes", is_flag=True, help="Do not ask.")
def db_scrub(yes: bool):
    """Make a restored copy (staging, a test of a backup) safe to run: switch every webhook subscription
    off, rotate its signing secret and drop its pending deliveries, so the copy never posts to
    production's receivers. Refused when TRELLIS_ENV=production."""
    from core import backup

    if not yes:
        if not _interactive():
            raise click.UsageError("Scrubbing switches every webhook subscription off: give --yes.")
        click.confirm(f"Switch off every webhook subscription of {_database_name()}?", abort=True)
    report = backup.scrub(runtime())
    for url in report.subscriptions:
        click.echo(f"switched off, secret rotated: {url}")
    click.echo(f"Scrubbed {_database_name()}: {len(report.subscriptions)} webhook subscription(s) switched off, "
               f"{report.deliveries_dropped} pending deliveries dropped. Switch a subscription back on (with its "
               "new secret given to its receiver) only if it points at a staging receiver.")


def _database_name() -> str:
    return runtime().database.engine.url.render_as_string(hide_password=True)


# --- trellis users / tokens --------------------------------------------------------------------------

@click.group("users")
def users_group():
    """Users of the CRM."""


@users_group.command("create")
@click.argument("email")
@click.option("--role", "-r", default="rep", show_default=True, help="admin, manager, rep or a plugin's role.")
@click.option("--name", "-n", default="", help="Display name.")
@click.option("--password", "-p", default=None, help="The password (prompted for, hidden, when omitted).")
@click.option("--no-password", is_flag=True, help="No password: the user signs in with API tokens only.")
@click.option("--team", "-t", default=None, help="Name of the team the user joins.")
@with_unit_of_work
def users_create(email: str, role: str, name: str, password: str | None, no_password: bool, team: str | None):
    """Create a user."""
    from core.services import users

    if no_password:
        password = None
    elif password is None:
        if not _interactive():
            raise click.UsageError("Give --password (or --no-password) when not running interactively.")
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    team_id = str(_team_named(team).id) if team else None
    user = users.create_user(None, {"email": email, "name": name, "role": role, "password": password,
                                    "team_id": team_id})
    click.echo(f"Created {user.role} {user.email} ({user.id}){f' in team {team}' if team else ''}.")


def _team_named(name: str):
    from sqlalchemy import select

    from core import db
    from core.errors import NotFound
    from core.models import Team

    team = db.session().scalars(select(Team).where(Team.name == name, Team.deleted_at.is_(None))).first()
    if team is None:
        raise NotFound(f"No team named '{name}'. Create it with: trellis teams create '{name}'")
    return team


@click.group("teams")
def teams_group():
    """Sales teams: a manager sees and manages the team's customers."""


@teams_group.command("create")
@click.argument("name")
@click.option("--manager", "-m", default=None, help="Email of the team's manager (a user with role manager).")
@with_unit_of_work
def teams_create(name: str, manager: str | None):
    """Create a team, optionally led by an existing manager (who joins it)."""
    from core.errors import ValidationFailed
    from core.services import users

    boss = users.by_email(manager) if manager else None
    if boss is not None and boss.role != "manager":
        raise ValidationFailed(f"{manager} is a {boss.role}, not a manager.")
    if not name.strip() or len(name) > 120:
        raise ValidationFailed("A team name is 1 to 120 characters.")
    team = users.create_team(None, name, manager=boss)
    click.echo(f"Created team {team.name} ({team.id}){f' led by {manager}' if manager else ''}.")


@click.group("tokens")
def tokens_group():
    """API tokens (Authorization: Bearer <token>)."""


@tokens_group.command("create")
@click.argument("email")
@click.option("--name", "-n", default="cli", show_default=True, help="What the token is for.")
@click.option("--expires-in", "expires_in", type=click.IntRange(1, 3650), default=None, metavar="DAYS",
              help="Days until the token stops working (default: until revoked).")
@with_unit_of_work
def tokens_create(email: str, name: str, expires_in: int | None):
    """Create an API token for a user and print it (only the token: it is shown once)."""
    from core.services import users

    _, plain = users.create_token(users.by_email(email), name, expires_in_days=expires_in)
    click.echo(plain)


@tokens_group.command("list")
@click.argument("email")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked tokens.")
@with_unit_of_work
def tokens_list(email: str, include_revoked: bool):
    """A user's API tokens, newest first: id, prefix, name, created, expires, last used (never the token)."""
    from core.services import users

    def when(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "-"

    rows = users.tokens_of(users.by_email(email), include_revoked=include_revoked)
    if not rows:
        click.echo("No tokens.")
    for row in rows:
        state = f"  revoked {when(row.revoked_at)}" if row.revoked_at else ""
        click.echo(f"{row.id}  {row.prefix}…  {row.name or '-':<20}  created {when(row.created_at)}  "
                   f"expires {when(row.expires_at)}  last used {when(row.last_used_at)}{state}")


@tokens_group.command("revoke")
@click.argument("token_id")
@with_unit_of_work
def tokens_revoke(token_id: str):
    """Revoke an API token by its id (see `tokens list`); it stops working at once."""
    from core.services import users

    row = users.system_revoke_token(token_id)
    click.echo(f"Revoked token {row.id} ({row.prefix}…).")


# --- trellis plugins ---------------------------------------------------------------------------------

@click.group("plugins")
def plugins_group():
    """Installed plugins."""


@plugins_group.command("list")
def plugins_list():
    """Every installed plugin, enabled (TRELLIS_PLUGINS) or not."""
    from core import core_plugin
    from core.plugins import discover

    plugin_set = runtime().plugins
    rows = [(CORE_NAME, core_plugin.version, "yes", _distribution())]
    seen = set()
    for info in discover() + [p for p in plugin_set.installed]:
        if info.name in seen:
            continue
        seen.add(info.name)
        rows.append((info.name, info.version, "yes" if plugin_set.is_enabled(info.name) else "no", info.source))
    header = ("NAME", "VERSION", "ENABLED", "SOURCE")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])


@plugins_group.command("new")
@click.argument("name")
@click.option("--directory", "-d", type=click.Path(file_okay=False), default=None,
              help="Where to write the package: a new or empty directory (default: ./trellis-NAME, dashes for "
                   "underscores).")
def plugins_new(name: str, directory: str | None):
    """Write the package of a new plugin NAME (e.g. pet_clinic): a record with its migration, REST and
    GraphQL from one declaration, a workflow, a metric, a role and scope, demo data, a README and tests
    that pass as generated. It installs with pip and is found through its entry point."""
    from trellis.scaffold import ScaffoldError, write

    try:
        target, files = write(name, directory)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Wrote the plugin '{name}' in {target}/:")
    for path in files:
        click.echo(f"  {path}")
    click.echo(f"""Next:
  pip install -e "{target}[test]"
  cd {target} && python -m pytest
Then make it yours: {target}/README.md says what to change next; Trellis's docs/plugins.md explains every part.""")


@plugins_group.command("reference")
def plugins_reference():
    """Print the plugin API reference (docs/plugins-reference.md) from trellis.plugin's docstrings."""
    from trellis.reference import render

    click.echo(render(), nl=False)


# --- trellis config -----------------------------------------------------------------------------------

@click.group("config")
def config_group():
    """The settings (TRELLIS_* environment variables)."""


@config_group.command("check")
def config_check():
    """Print the effective settings, secrets masked, and check them: exit 1 naming each problem (what
    would stop the app from starting)."""
    from core.config import describe, load_settings
    from core.runtime import build_runtime

    settings = load_settings(strict=False)
    problems = settings.problems()
    if not problems:
        try:   # the plugins' own settings, as the app would resolve them (no database connection)
            runtime = build_runtime(settings)
            runtime.database.dispose()
        except (PluginError, ConfigError) as exc:
            problems.append(error_message(exc))
    rows = describe(settings)
    width = max(len(name) for name, _value, _source in rows)
    for name, value, source in rows:
        click.echo(f"{name.ljust(width)}  {value}  ({source})")
    if problems:
        raise click.ClickException(" ".join(problems))
    click.echo("The settings are valid.")


# --- trellis demo / serve ----------------------------------------------------------------------------

def _distribution() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"trellis-crm {version('trellis-crm')}"
    except PackageNotFoundError:
        return "trellis-crm"


def _serve(app: Flask, host: str, port: int, *, jobs: bool = True) -> None:
    """werkzeug's server; on an SQLite file also the scheduled jobs and webhook deliveries, in a thread
    of this process (``core.queue.LocalRunner``), so the demo needs nothing else running."""
    from api.headers import dev_server
    from core import queue

    rt = app.extensions["trellis"]
    if jobs and not queue.is_postgresql(rt) and rt.database.engine.url.database not in (None, "", ":memory:"):
        _unbuffered()
        queue.LocalRunner(rt).start()
        click.echo("Scheduled jobs and webhooks run in this process (SQLite; --no-jobs to leave them out)")
    dev_server(host, port, app).serve_forever()


def _urls(host: str, port: int) -> tuple[str, str, str]:
    """The landing page, the REST docs and GraphiQL at the address the server listens on."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    return f"{base}/", f"{base}/api/v1/docs", f"{base}/graphql"


class DemoProgress:
    """``progress_for`` of ``core.demo.load_demo`` for the terminal: one line per data set. On a terminal a
    click progress bar redrawn as the set reports records (with records per second), left showing the
    count and time when the set is done; otherwise only that final line, e.g.
    ``exhibitions: 12,345 records in 2.1 s (5,878/s)``."""

    #: at most this many redraws a second
    REDRAW = 0.1

    def __init__(self, file: Any = None):
        #: where the lines go (default: standard output); a bar is drawn when it is a terminal
        self.file = file
        self.tty = (file or sys.stdout).isatty()

    @contextlib.contextmanager
    def __call__(self, name: str):
        from core.demo import Progress

        bar, last = None, [0.0]
        if self.tty:
            bar = click.progressbar(length=1, label=f"{name:<18}", show_percent=True, show_eta=False,
                                    item_show_func=lambda text: text, file=self.file)

            def redraw(progress: Progress) -> None:
                now = progress.seconds
                if now - last[0] < self.REDRAW:
                    return
                last[0] = now
                bar.length = max(progress.total or 0, progress.done, 1)
                bar.pos = min(progress.done, bar.length)
                bar.current_item = f"{_records(progress.done)}, {progress.done / max(now, 1e-6):,.0f}/s"
                bar.render_progress()

            progress = Progress(name, redraw)
            bar.__enter__()
        else:
            progress = Progress(name)
        try:
            yield progress
        except BaseException:
            if bar is not None:
                bar.render_finish()
            raise
        line = self.line(progress)
        if bar is None:
            click.echo(f"{name}: {line}", file=self.file)
        else:
            bar.length = bar.pos = max(progress.done, 1)
            bar.finished, bar.current_item = True, line
            bar.render_progress()
            bar.render_finish()

    @staticmethod
    def line(progress: Any) -> str:
        """``1,234 records in 2.1 s (588/s)``, or ``done in 2.1 s`` when the set reported no record."""
        seconds = progress.seconds
        if not progress.done:
            return f"done in {seconds:.1f} s"
        return f"{_records(progress.done)} in {seconds:.1f} s ({progress.done / max(seconds, 1e-6):,.0f}/s)"


def _records(count: int) -> str:
    return f"{count:,} record{'' if count == 1 else 's'}"


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Load the data and print the login, but do not start the server.")
@click.option("--core-only", is_flag=True, help="Load only the core's demo data, not the plugins' (much faster).")
@click.option("--dataset", type=click.Choice(["standard", "cdnow"]), default="standard", show_default=True,
              help="cdnow: instead of the generated demo, import the CDNOW sample (2,357 customers, 6,919 "
                   "purchases, 1997-98) with `trellis import`'s path and compute the analytics as of "
                   "1997-09-30, a real distribution (docs/import-export.md).")
def demo_command(host: str, port: int, no_serve: bool, core_only: bool, dataset: str):
    """Migrate the database, load the demo data (once), reset the demo admin's password and serve."""
    from core import demo, migrate
    from core.services import users

    rt = runtime()
    migrate.upgrade(rt)
    password = secrets.token_urlsafe(12)
    if dataset == "cdnow":
        _demo_cdnow(rt)
        with rt.database.unit_of_work():
            users.set_password(demo.demo_admin(), password)
        _demo_ready(rt, host, port, no_serve, password)
        return
    with rt.database.unit_of_work():
        summary = demo.load_demo(rt, random.Random(demo.SEED), plugins=not core_only, progress_for=DemoProgress())
        users.set_password(demo.demo_admin(), password)
    if summary is None:
        click.echo("Demo data already loaded; nothing added.")
    else:
        if summary.customers:
            click.echo(f"Demo data loaded: {summary.customers} customers, {summary.contacts} contacts, "
                       f"{summary.interactions} interactions, {summary.tasks} open tasks, "
                       f"{summary.users} staff in {summary.teams} teams.")
        if summary.plugins:
            click.echo(f"Plugins' demo data loaded: {', '.join(summary.plugins)}.")
        from core.services import analytics

        shown = DemoProgress()
        if shown.tty:
            click.echo(f"{'analytics':<18} computing …", nl=False)
        with rt.database.unit_of_work():  # so RFM, tiers, segments, CLV and churn flags show at once
            run = analytics.refresh(trigger="demo")
        click.echo(("\r" if shown.tty else "") + f"analytics: {run.customers:,} customers in {run.seconds:.1f} s")
        click.echo(f"Customer analytics computed for {run.customers} customers.")
    _demo_ready(rt, host, port, no_serve, password)


def _demo_cdnow(rt: Any) -> None:
    """``trellis demo --dataset cdnow``: the CDNOW sample through the import path, then the analytics as of
    the end of its calibration period, with the fitted CLV parameters."""
    from core import demo
    from core.analytics import cdnow
    from core.services import analytics

    outcomes = demo.load_cdnow(rt)
    if outcomes is None:
        click.echo("The CDNOW sample is already loaded; nothing added.")
        return
    for outcome in outcomes:
        click.echo(outcome.summary())
    with rt.database.unit_of_work():
        run = analytics.refresh(trigger="demo", as_of=cdnow.CALIBRATION_END)
        bg, gg = run.params.get("bgnbd") or {}, run.params.get("gamma_gamma") or {}
    click.echo(f"Customer analytics as of {cdnow.CALIBRATION_END}: {run.customers:,} customers; BG/NBD "
               + ", ".join(f"{k}={bg[k]:.4f}" for k in ("r", "alpha", "a", "b") if k in bg)
               + "; Gamma-Gamma " + ", ".join(f"{k}={gg[k]:.2f}" for k in ("p", "q", "gamma") if k in gg) + ".")


def _demo_ready(rt: Any, host: str, port: int, no_serve: bool, password: str) -> None:
    from core import demo

    home, docs, graphiql = _urls(host, port)
    click.echo(f"Database: {rt.database.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"Open {home} (start here), {docs} (REST) or {graphiql} (GraphiQL)")
    click.echo(f"Sign in as {demo.ADMIN_EMAIL} with password {password}")
    if not no_serve:
        _serve(current_app._get_current_object(), host, port)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-jobs", is_flag=True, help="SQLite: do not run the scheduled jobs and webhooks in this process.")
def serve_command(host: str, port: int, no_jobs: bool):
    """Serve the app with werkzeug's development server (local use; production: gunicorn). On SQLite the
    scheduled jobs and webhook deliveries run in the same process."""
    home, docs, graphiql = _urls(host, port)
    click.echo(f"Trellis at {home} (start here), {docs} (REST) and {graphiql} (GraphiQL)")
    _serve(current_app._get_current_object(), host, port, jobs=not no_jobs)


# --- trellis graphql-schema / tick -------------------------------------------------------------------

@click.command("graphql-schema")
@click.option("--check", is_flag=True, help="Check the house conventions instead of printing the SDL.")
@click.option("--plugin", "owner", default=None, help="With --check: only the types and fields of this plugin.")
def graphql_schema_command(check, owner):
    """Print the GraphQL schema (SDL) of the enabled components, or (--check) list where it departs from
    the house conventions (docs/graphql.md): one line per finding, a count per rule, exit status 1 if any."""
    from api.graphql import schema_of, sdl

    app = current_app._get_current_object()
    if not check:
        click.echo(sdl(app), nl=False)  # exactly: `> schema.graphql` is the snapshot
        return
    from collections import Counter

    from api.graphql.conventions import findings

    found = findings(schema_of(app), owner=owner)
    for finding in found:
        click.echo(str(finding))
    counts = Counter(f.rule for f in found)
    click.echo(", ".join(f"{rule}: {n}" for rule, n in sorted(counts.items())) or "no findings", err=True)
    if found:
        raise SystemExit(1)


@click.command("tick")
def tick_command():
    """Run every scheduled job once (reminders, stagnation alerts, webhooks …); safe to repeat."""
    from core.jobs import run_all

    failed = 0
    for name, result in run_all(runtime(), datetime.now(timezone.utc)):
        if isinstance(result, BaseException):
            failed += 1
            click.echo(f"{name}: failed: {error_message(result)}", err=True)
        else:
            click.echo(f"{name}: {result}")
    if failed:
        raise click.ClickException(f"{failed} job(s) failed.")


@click.command("worker")
@click.option("--concurrency", "-c", type=click.IntRange(1, 64), default=None,
              help="Jobs run at once (default: TRELLIS_WORKER_CONCURRENCY).")
def worker_command(concurrency: int | None):
    """Run the scheduled jobs on TRELLIS_JOB_SCHEDULE and send webhooks as their changes commit, until
    SIGTERM/SIGINT. PostgreSQL: a procrastinate worker (run several; each job runs once per period for
    all of them; a database outage is waited out). SQLite: the jobs run in this process."""
    from core import queue

    rt = runtime()
    _unbuffered()
    if queue.is_postgresql(rt):
        try:
            queue.serve(rt, concurrency=concurrency)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        queue.run_local(rt)


def _unbuffered() -> None:
    """One line per job as it ends, also into a file or a pipe (journald, ``>> worker.log``)."""
    import logging

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(line_buffering=True)
    jobs = logging.getLogger("trellis.jobs")   # its lines go to the handler create_app installed (stderr)
    if jobs.getEffectiveLevel() > logging.INFO:
        jobs.setLevel(logging.INFO)


from api.analytics_cli import analytics_group  # noqa: E402  (its command imports this module lazily)
from api.privacy_cli import privacy_group  # noqa: E402
from api.import_cli import import_group  # noqa: E402
from api.export_cli import export_group  # noqa: E402

BUILTIN = [db_group, config_group, users_group, teams_group, tokens_group, plugins_group, demo_command, serve_command,
           graphql_schema_command, tick_command, worker_command, analytics_group, privacy_group, import_group,
           export_group]
