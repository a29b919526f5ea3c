"""The ``trellis`` command, run the way a shell runs it: configuration from TRELLIS_* variables only, on
a database of its own (an SQLite file, or a fresh schema on the PostgreSQL test server)."""
from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import api.cli as cli
from api.app import create_app
from api.cli import build_cli, with_unit_of_work
from core.errors import PluginError, ValidationFailed
from core.hookspecs import hookimpl
from api.testing import FAST_HASH
from tests.core.test_migrations import scratch_database


@pytest.fixture
def cli_env(tmp_path):
    with scratch_database(tmp_path) as url:
        yield {"TRELLIS_DATABASE_URL": url, "TRELLIS_PASSWORD_HASH_METHOD": FAST_HASH, "TRELLIS_SECRET_KEY": "test",
               "TRELLIS_INSTANCE_PATH": str(tmp_path / "instance"), "TRELLIS_PLUGINS": "all"}


def run(env, *args, input=None):
    """``trellis ARGS`` in a fresh command, as the console script builds it."""
    return CliRunner().invoke(build_cli(), list(args), env=env, input=input, catch_exceptions=False)


@pytest.fixture
def migrated(cli_env):
    result = run(cli_env, "db", "upgrade")
    assert result.exit_code == 0, result.output
    return cli_env


@pytest.fixture
def web(migrated):
    """A test client of an app on the same database, to check what the commands wrote."""
    app = create_app({"DATABASE_URL": migrated["TRELLIS_DATABASE_URL"], "PASSWORD_HASH_METHOD": FAST_HASH,
                      "SECRET_KEY": "test"})
    yield app.test_client()
    app.extensions["trellis"].database.dispose()


def login(web, email, password):
    return web.post("/auth/login", json={"email": email, "password": password})


# --- db ----------------------------------------------------------------------------------------------

def test_db_upgrade_migrates_every_component_and_can_run_again(cli_env):
    first = run(cli_env, "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert re.match(r"core: [0-9a-f]{12}$", first.stdout.splitlines()[0])
    again = run(cli_env, "db", "upgrade")
    assert again.exit_code == 0 and again.stdout == first.stdout
    current = run(cli_env, "db", "current")
    assert current.exit_code == 0 and "(head)" in current.stdout.splitlines()[0]
    check = run(cli_env, "db", "check")
    assert check.exit_code == 0 and "No differences" in check.stdout


def test_db_revision_writes_a_plugins_first_migration(migrated, tmp_path):
    from tests.core.test_migrations import ScratchpadThing, make_plugin

    versions = tmp_path / "versions"
    app = create_app({"DATABASE_URL": migrated["TRELLIS_DATABASE_URL"]},
                     extra_plugins=[make_plugin("scratchpad", ScratchpadThing, versions)])
    try:
        invoke = lambda *args: CliRunner().invoke(build_cli(app), list(args), catch_exceptions=False)  # noqa: E731
        assert invoke("db", "check").exit_code == 1  # the plugin's table is missing
        result = invoke("db", "revision", "--component", "scratchpad", "-m", "scratchpad things")
        assert result.exit_code == 0, result.output
        [written] = versions.glob("*_scratchpad_things.py")
        assert result.stdout.strip() == str(written)
        assert invoke("db", "upgrade").exit_code == 0
        assert invoke("db", "check").exit_code == 0
        unknown = invoke("db", "revision", "--component", "nobody", "-m", "x")
        assert unknown.exit_code == 1 and "nobody" in unknown.stderr
    finally:
        app.extensions["trellis"].database.dispose()


def test_db_revision_on_a_database_not_yet_upgraded_says_what_to_run(cli_env, tmp_path):
    from tests.core.test_migrations import ScratchpadThing, make_plugin

    versions = tmp_path / "versions"
    app = create_app({"DATABASE_URL": cli_env["TRELLIS_DATABASE_URL"]},
                     extra_plugins=[make_plugin("scratchpad", ScratchpadThing, versions)])
    try:
        result = CliRunner().invoke(build_cli(app), ["db", "revision", "-c", "scratchpad", "-m", "things"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert "core: not migrated" in result.stderr
        assert "Run 'trellis db upgrade' first" in result.stderr and "--empty" in result.stderr
        assert not list(versions.glob("*.py"))
    finally:
        app.extensions["trellis"].database.dispose()


def test_db_check_fails_on_an_empty_database(cli_env):
    result = run(cli_env, "db", "check")
    assert result.exit_code == 1
    assert "trellis db upgrade" in result.stderr and "Traceback" not in result.output


# --- users and tokens --------------------------------------------------------------------------------

def test_users_create_makes_a_user_who_can_sign_in(migrated, web):
    result = run(migrated, "users", "create", "Ann@Example.com", "--role", "manager", "--password", "long-password",
                 "--name", "Ann")
    assert result.exit_code == 0, result.output
    assert "Created manager ann@example.com" in result.stdout
    response = login(web, "ann@example.com", "long-password")
    assert response.status_code == 200 and response.get_json()["name"] == "Ann"


def test_users_create_prompts_for_the_password_when_interactive(migrated, web, monkeypatch):
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    result = run(migrated, "users", "create", "bo@example.com", input="secret-pass\nsecret-pass\n")
    assert result.exit_code == 0, result.output
    assert "secret-pass" not in result.output  # hidden
    assert login(web, "bo@example.com", "secret-pass").status_code == 200


def test_users_create_without_a_password(migrated, web):
    assert run(migrated, "users", "create", "bot@example.com", "--no-password").exit_code == 0
    assert login(web, "bot@example.com", "").status_code == 401
    not_interactive = run(migrated, "users", "create", "eve@example.com")
    assert not_interactive.exit_code == 2 and "--no-password" in not_interactive.stderr


def test_a_service_error_is_one_line_on_stderr(migrated):
    assert run(migrated, "users", "create", "dup@example.com", "--no-password").exit_code == 0
    duplicate = run(migrated, "users", "create", "dup@example.com", "--no-password")
    assert duplicate.exit_code == 1
    assert duplicate.stderr.strip().splitlines() == ["Error: A user with this email exists. email: Already taken."]
    bad_role = run(migrated, "users", "create", "x@example.com", "--role", "boss", "--no-password")
    assert bad_role.exit_code == 1 and "role: Unknown role" in bad_role.stderr
    assert "Traceback" not in bad_role.output and bad_role.stdout == ""


def test_tokens_create_prints_only_a_token_that_authenticates(migrated, web):
    run(migrated, "users", "create", "api@example.com", "--role", "rep", "--no-password")
    result = run(migrated, "tokens", "create", "api@example.com", "--name", "ci")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert result.stdout == token + "\n" and result.stderr == "" and token.startswith("trl_")
    assert web.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert web.get("/api/v1/customers", headers={"Authorization": "Bearer trl_wrong"}).status_code == 401
    unknown = run(migrated, "tokens", "create", "nobody@example.com")
    assert unknown.exit_code == 1 and "No user with email nobody@example.com" in unknown.stderr


def test_tokens_list_and_revoke_and_an_expiring_token(migrated, web):
    run(migrated, "users", "create", "api@example.com", "--role", "rep", "--no-password")
    keep = run(migrated, "tokens", "create", "api@example.com", "--name", "keep").stdout.strip()
    weekly = run(migrated, "tokens", "create", "api@example.com", "--name", "weekly", "--expires-in", "7")
    assert weekly.exit_code == 0, weekly.output
    listed = run(migrated, "tokens", "list", "api@example.com")
    assert listed.exit_code == 0, listed.output
    lines = {line.split()[2]: line for line in listed.stdout.splitlines()}
    assert set(lines) == {"keep", "weekly"}
    assert "expires -" in lines["keep"] and "expires -" not in lines["weekly"]
    assert keep not in listed.stdout and weekly.stdout.strip() not in listed.stdout  # never the token
    assert lines["keep"].split()[1].rstrip("…") == keep[:12]
    revoked = run(migrated, "tokens", "revoke", lines["keep"].split()[0])
    assert revoked.exit_code == 0 and "Revoked token" in revoked.stdout
    assert web.get("/auth/me", headers={"Authorization": f"Bearer {keep}"}).status_code == 401
    assert web.get("/auth/me", headers={"Authorization": f"Bearer {weekly.stdout.strip()}"}).status_code == 200
    assert "keep" not in run(migrated, "tokens", "list", "api@example.com").stdout
    assert "revoked" in run(migrated, "tokens", "list", "api@example.com", "--all").stdout
    assert run(migrated, "tokens", "create", "api@example.com", "--expires-in", "0").exit_code == 2
    unknown = run(migrated, "tokens", "revoke", "00000000-0000-0000-0000-000000000000")
    assert unknown.exit_code == 1 and "No token with this id" in unknown.stderr


# --- plugins -----------------------------------------------------------------------------------------

def test_plugins_list_shows_installed_plugins_enabled_or_not(cli_env):
    everything = run(cli_env, "plugins", "list")
    assert everything.exit_code == 0, everything.output
    rows = {line.split()[0]: line.split() for line in everything.stdout.splitlines()[1:]}
    assert {"core", "exhibitions", "retail_membership", "property_service"} <= set(rows)
    assert all(row[2] == "yes" for row in rows.values())
    assert "trellis-crm" in rows["exhibitions"][3]
    some = run({**cli_env, "TRELLIS_PLUGINS": "exhibitions"}, "plugins", "list")
    rows = {line.split()[0]: line.split() for line in some.stdout.splitlines()[1:]}
    assert rows["exhibitions"][2] == "yes" and rows["retail_membership"][2] == "no"


def test_an_unknown_plugin_name_is_a_clear_error(cli_env):
    result = run({**cli_env, "TRELLIS_PLUGINS": "nosuchplugin"}, "plugins", "list")
    assert result.exit_code == 1 and "nosuchplugin" in result.stderr and "Traceback" not in result.output


def test_a_plugins_start_up_error_is_one_line_and_debug_adds_the_traceback(cli_env, monkeypatch):
    def metrics_of_a_broken_plugin():
        return {}["unit"]

    broken = SimpleNamespace(name="broken", version="1", trellis_metrics=hookimpl(metrics_of_a_broken_plugin))
    real = create_app
    monkeypatch.setattr("api.app.create_app", lambda *a, **k: real(*a, **k, extra_plugins=[broken]))

    plain = run(cli_env, "plugins", "list")
    assert plain.exit_code == 1
    assert "Plugin 'broken' failed in trellis_metrics: KeyError: 'unit'" in plain.stderr
    assert "Traceback" not in plain.output
    debug = run(cli_env, "--debug", "plugins", "list")
    assert debug.exit_code == 1 and "Traceback" in debug.stderr
    assert "metrics_of_a_broken_plugin" in debug.stderr        # the plugin's own frame
    assert debug.stderr.rstrip().endswith("Fix the plugin or disable it (TRELLIS_PLUGINS).")


def plugin_with_commands(name, *commands):
    return SimpleNamespace(name=name, version="1", trellis_cli_commands=hookimpl(lambda: list(commands)))


def test_plugin_commands_are_added_and_a_clash_names_both_plugins():
    hello = click.Command("hello", callback=lambda: click.echo("hi"))
    app = create_app({"DATABASE_URL": "sqlite://"}, extra_plugins=[plugin_with_commands("greeter", hello)])
    assert CliRunner().invoke(build_cli(app), ["hello"]).stdout == "hi\n"
    clash = create_app({"DATABASE_URL": "sqlite://"}, extra_plugins=[plugin_with_commands("greeter", hello),
                                                                     plugin_with_commands("welcomer", hello)])
    with pytest.raises(PluginError, match="'greeter' and 'welcomer' both add a CLI command named 'hello'"):
        build_cli(clash)
    serve = click.Command("serve", callback=lambda: None)
    with pytest.raises(PluginError, match="'core' and 'greeter'"):
        build_cli(create_app({"DATABASE_URL": "sqlite://"}, extra_plugins=[plugin_with_commands("greeter", serve)]))


def test_help_and_usage_errors_build_no_app(cli_env, monkeypatch):
    def no_app(*args, **kwargs):
        raise AssertionError("the app was built")

    monkeypatch.setattr("api.app.create_app", no_app)
    top = run(cli_env, "--help")
    assert top.exit_code == 0 and "tokens" in top.stdout and "Commands:" in top.stdout
    sub = run(cli_env, "tokens", "create", "--help")
    assert sub.exit_code == 0 and "Usage: trellis tokens create [OPTIONS] EMAIL" in sub.stdout
    missing = run(cli_env, "users", "create")
    assert missing.exit_code == 2 and "Missing argument 'EMAIL'" in missing.stderr


def test_commands_that_reach_only_the_database_build_no_rest_or_graphql(migrated, monkeypatch):
    built = []
    real = create_app

    def recording(*args, **kwargs):
        app = real(*args, **kwargs)
        built.append((kwargs.get("web", True), sorted(app.blueprints)))
        return app

    monkeypatch.setattr("api.app.create_app", recording)
    assert run(migrated, "users", "create", "lean@example.com", "--no-password").exit_code == 0
    assert run(migrated, "plugins", "list").exit_code == 0
    assert built == [(False, []), (False, [])]
    assert run(migrated, "graphql-schema").exit_code == 0   # the served schema: the whole app
    assert built[-1][0] is True and "auth" in built[-1][1]


def test_help_and_a_bare_app_import_nothing_heavy():
    """``trellis --help`` needs no ORM, REST or GraphQL; building the app needs no numpy or its models (they
    load with the first analytics refresh or metric). A fresh interpreter, as a shell runs it."""
    import os
    import subprocess
    import sys

    code = """if True:
        import json, sys
        from api.cli import main
        try:
            main(["--help"])
        except SystemExit:
            pass
        after_help = sorted(m for m in ("sqlalchemy", "flask_smorest", "strawberry", "numpy") if m in sys.modules)
        from api.app import create_app
        create_app({"DATABASE_URL": "sqlite://"})
        after_app = sorted(m for m in ("numpy", "scipy", "sklearn", "openpyxl", "procrastinate", "holidays", "lunar_python") if m in sys.modules)
        print(json.dumps([after_help, after_app]), file=sys.stderr)
    """
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[[], []]"


def test_a_plugin_command_with_a_unit_of_work_rolls_back_on_a_service_error(migrated, web):
    from core.services import users

    @click.command("make-and-fail")
    @with_unit_of_work
    def make_and_fail():
        users.create_user(None, {"email": "ghost@example.com", "role": "rep", "password": "ghost-password"})
        raise ValidationFailed(fields={"thing": ["Broken on purpose."]})

    app = create_app({"DATABASE_URL": migrated["TRELLIS_DATABASE_URL"], "PASSWORD_HASH_METHOD": FAST_HASH},
                     extra_plugins=[plugin_with_commands("failing", make_and_fail)])
    try:
        result = CliRunner().invoke(build_cli(app), ["make-and-fail"], catch_exceptions=False)
    finally:
        app.extensions["trellis"].database.dispose()
    assert result.exit_code == 1 and result.stderr == "Error: Invalid input. thing: Broken on purpose.\n"
    assert login(web, "ghost@example.com", "ghost-password").status_code == 401


# --- demo, serve, graphql-schema, tick ---------------------------------------------------------------

def customer_count(env) -> int:
    from core.models import Customer

    app = create_app({"DATABASE_URL": env["TRELLIS_DATABASE_URL"]})
    runtime = app.extensions["trellis"]
    try:
        with runtime.database.unit_of_work() as sess:
            return sess.scalar(select(func.count()).select_from(Customer))
    finally:
        runtime.database.dispose()


def test_demo_loads_once_and_resets_the_admin_password(cli_env, monkeypatch):
    # --core-only: the plugins' demo hooks are tested with their plugins, and take a minute
    served = []
    monkeypatch.setattr(cli, "_serve", lambda app, host, port, **kw: served.append((host, port)))
    first = run(cli_env, "demo", "--no-serve", "--core-only")
    assert first.exit_code == 0, first.output
    assert "Demo data loaded: 200 customers" in first.stdout
    assert "Customer analytics computed for 200 customers." in first.stdout
    assert "http://127.0.0.1:5000/api/v1/docs" in first.stdout
    assert "Open http://127.0.0.1:5000/ (start here)" in first.stdout  # the landing page
    password = re.search(r"Sign in as admin@example.com with password (\S+)", first.stdout)[1]
    count = customer_count(cli_env)
    assert count == 200 and served == []

    second = run(cli_env, "demo", "--core-only", "--host", "0.0.0.0", "--port", "5050")
    assert second.exit_code == 0, second.output
    assert "already loaded" in second.stdout and served == [("0.0.0.0", 5050)]
    assert customer_count(cli_env) == count
    new_password = re.search(r"with password (\S+)", second.stdout)[1]
    assert new_password != password

    app = create_app({"DATABASE_URL": cli_env["TRELLIS_DATABASE_URL"], "PASSWORD_HASH_METHOD": FAST_HASH})
    try:
        client = app.test_client()
        assert login(client, "admin@example.com", password).status_code == 401
        assert login(client, "admin@example.com", new_password).status_code == 200
        assert client.get("/api/v1/customers?page_size=1").status_code == 200
    finally:
        app.extensions["trellis"].database.dispose()


def test_serve_runs_the_app_on_the_given_address(migrated, monkeypatch):
    served = []
    monkeypatch.setattr(cli, "_serve", lambda app, host, port, **kw: served.append((app.name, host, port)))
    result = run(migrated, "serve", "--port", "5099")
    assert result.exit_code == 0 and served == [("trellis", "127.0.0.1", 5099)]
    assert "http://127.0.0.1:5099/graphql" in result.stdout


def test_graphql_schema_prints_exactly_the_served_sdl(cli_env):
    from api.graphql import sdl

    result = run(cli_env, "graphql-schema")
    assert result.exit_code == 0, result.output
    app = create_app({"DATABASE_URL": cli_env["TRELLIS_DATABASE_URL"]})
    assert result.stdout == sdl(app)  # so `trellis graphql-schema > schema.graphql` writes the snapshot
    assert "type Query" in result.stdout and "customers(" in result.stdout


def test_tick_runs_every_scheduled_job(migrated):
    result = run(migrated, "tick")
    assert result.exit_code == 0, result.output
    again = run(migrated, "tick")
    assert again.exit_code == 0 and again.stdout.splitlines()[0].split(":")[0] == result.stdout.splitlines()[0].split(":")[0]


# --- the README is the CLI's manual ------------------------------------------------------------------

README = Path(__file__).parents[2] / "README.md"


def test_readme_starts_with_the_two_commands():
    first, second = README.read_text().splitlines()[:2]
    assert first == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/trellis demo"
    assert second == 'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest'


def test_readme_documents_every_setting_and_command():
    from dataclasses import fields

    from core.config import Settings

    text = README.read_text()
    assert [f.name for f in fields(Settings)
            if not f.metadata.get("internal") and f"TRELLIS_{f.name.upper()}" not in text] == []
    group = build_cli()
    names = [f"trellis {name}" for name, command in group.commands.items() if not isinstance(command, click.Group)]
    names += [f"trellis {name} {sub}" for name, command in group.commands.items()
              if isinstance(command, click.Group) for sub in command.commands]
    assert [name for name in names if f"`{name}" not in text] == []


class FakePlugins:
    """The two calls ``load_demo`` makes on a PluginSet, recorded."""

    def __init__(self, *names):
        self.names, self.calls = list(names), []

    def implementers(self, hook):
        return self.names

    def call_each(self, hook, *, only, **kwargs):
        self.calls.append((hook, sorted(only), kwargs))
        return []


def test_the_demo_hands_every_plugin_the_admin_and_its_own_seeded_rng(runtime, uow):
    import random

    from core import demo

    plugins = FakePlugins("alpha", "beta")
    summary = demo.load_demo(SimpleNamespace(plugins=plugins), random.Random(demo.SEED), customers=3)
    assert summary.customers == 3 and summary.users == 8 and summary.teams == 2
    assert summary.plugins == ["alpha", "beta"]
    assert [(hook, only) for hook, only, _ in plugins.calls] == [("trellis_demo_data", ["alpha"]),
                                                                 ("trellis_demo_data", ["beta"])]
    kwargs = plugins.calls[0][2]
    assert kwargs["admin"].email == "admin@example.com" and kwargs["admin"].role == "admin"
    assert kwargs["rng"].random() == demo.plugin_rng("alpha").random() != demo.plugin_rng("beta").random()
    assert demo.load_demo(SimpleNamespace(plugins=plugins), random.Random(demo.SEED)) is None
    assert len(plugins.calls) == 2


def test_a_core_only_demo_gets_the_plugins_demo_data_on_the_next_run_and_each_set_once(runtime, uow):
    import random

    from core import demo
    from core.models import Customer

    plugins = FakePlugins("alpha")
    first = demo.load_demo(SimpleNamespace(plugins=plugins), random.Random(demo.SEED), customers=3, plugins=False)
    assert first.customers == 3 and first.plugins == [] and plugins.calls == []

    plugins.names.append("beta")  # a plugin enabled since
    second = demo.load_demo(SimpleNamespace(plugins=plugins), random.Random(demo.SEED), customers=3)
    assert second.customers == 0 and second.plugins == ["alpha", "beta"]
    assert db_count(Customer) == 3 and demo.loaded_datasets() == {"core", "alpha", "beta"}
    assert demo.load_demo(SimpleNamespace(plugins=plugins), random.Random(demo.SEED)) is None
    assert len(plugins.calls) == 2


def db_count(model) -> int:
    from core import db

    return db.session().scalar(select(func.count()).select_from(model))


def test_worker_runs_a_procrastinate_worker_on_postgresql_and_the_jobs_in_process_on_sqlite(migrated, monkeypatch):
    from core import queue

    called = []
    monkeypatch.setattr(queue, "serve", lambda rt, concurrency: called.append(("procrastinate", concurrency)))
    monkeypatch.setattr(queue, "run_local", lambda rt: called.append(("in process",)))
    result = run(migrated, "worker", "--concurrency", "3")
    assert result.exit_code == 0, result.output
    postgresql = migrated["TRELLIS_DATABASE_URL"].startswith("postgresql")
    assert called == [("procrastinate", 3) if postgresql else ("in process",)]
    assert run(migrated, "worker", "--concurrency", "0").exit_code == 2   # 1 or more


def test_teams_create_and_users_join_them(migrated):
    assert run(migrated, "users", "create", "boss@example.com", "--role", "manager", "--no-password").exit_code == 0
    created = run(migrated, "teams", "create", "Harbour", "--manager", "boss@example.com")
    assert created.exit_code == 0 and "Created team Harbour" in created.stdout
    joined = run(migrated, "users", "create", "crew@example.com", "--team", "Harbour", "--no-password")
    assert joined.exit_code == 0 and "in team Harbour" in joined.stdout
    missing = run(migrated, "users", "create", "lost@example.com", "--team", "Nowhere", "--no-password")
    assert missing.exit_code == 1 and "trellis teams create 'Nowhere'" in missing.stderr


def test_the_demo_reports_each_data_set_to_its_own_progress(runtime, uow):
    import contextlib
    import random

    from core import demo

    seen = []

    @contextlib.contextmanager
    def progress_for(name):
        progress = demo.Progress(name)
        yield progress
        seen.append((name, progress.done, progress.total))

    plugins = FakePlugins("alpha")
    demo.load_demo(SimpleNamespace(plugins=plugins), random.Random(demo.SEED), customers=3, progress_for=progress_for)
    assert seen == [("core", 3, 3), ("alpha", 0, None)]  # the fake plugin reports nothing
    assert plugins.calls[0][2]["progress"].name == "alpha"  # the hook's optional ``progress`` argument


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_cdnow_demo_imports_the_sample_once_and_prints_the_fitted_parameters(cli_env):
    first = run(cli_env, "demo", "--dataset", "cdnow", "--no-serve")
    assert first.exit_code == 0, first.output
    assert "interactions: 6,919 rows imported: 6,919 created" in first.stdout
    assert ("BG/NBD r=0.2426, alpha=4.4136, a=0.7929, b=2.4259; Gamma-Gamma p=6.25, q=3.74, gamma=15.44."
            in first.stdout)
    assert "Sign in as admin@example.com with password " in first.stdout
    again = run(cli_env, "demo", "--dataset", "cdnow", "--no-serve")
    assert again.exit_code == 0 and "The CDNOW sample is already loaded; nothing added." in again.stdout


def test_demo_progress_is_a_bar_on_a_terminal_and_one_plain_line_otherwise():
    outputs = []
    for file in (io.StringIO(), Terminal()):
        with cli.DemoProgress(file)("exhibitions") as progress:
            progress.expect(3000)
            progress(1200)
            progress(1234)
        outputs.append(file.getvalue())
    plain, terminal = outputs
    assert plain.count("\n") == 1
    plain = plain.strip()
    assert re.fullmatch(r"exhibitions: 2,434 records in \d+\.\d s \([\d,]+/s\)", plain)
    # click draws the bar on the terminal (redrawn in place with \r) and leaves the same numbers on it
    assert "exhibitions" in terminal and "[####" in terminal and "100%" in terminal
    assert re.search(r"2,434 records in \d+\.\d s", terminal)
