"""The Trellis pytest plugin (entry point ``pytest11: trellis``): the fixtures described in
:mod:`api.testing`. Override ``trellis_settings`` (the app's settings) or ``trellis_migrated_plugins``
(plugin objects, not installed, whose migrations the test database also gets) in a ``conftest.py``."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

from api.testing import (ROLES, Api, People, QueryCounter, app_config, bound, check_contract, make_people,
                         scratch_database)


@pytest.fixture(scope="session")
def trellis_settings() -> dict:
    """Settings for the ``app`` fixture beyond the test database (e.g. ``{"PLUGINS": "my_plugin"}``)."""
    return {}


@pytest.fixture(scope="session")
def trellis_migrated_plugins() -> list:
    """Plugin objects (passed to ``create_app(extra_plugins=...)``) whose migrations the test database
    gets besides the installed plugins' — a plugin defined inside the tests, say."""
    return []


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The test database: a temporary SQLite file, or a fresh schema in ``TRELLIS_TEST_DATABASE_URL``'s
    PostgreSQL database (dropped at the end)."""
    from core.config import test_database_url

    base = test_database_url()
    if base and not base.startswith("postgresql"):
        yield base          # another database server: used as it is
        return
    with scratch_database(tmp_path_factory.mktemp("db") / "test.db", name="trellis_test") as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url, trellis_migrated_plugins):
    """The test database's engine, its schema built by the real migrations of every installed plugin
    (and of ``trellis_migrated_plugins``)."""
    from api.app import create_app
    from core.db import make_engine
    from core.migrate import upgrade

    engine = make_engine(database_url)
    app = create_app(app_config(database_url), extra_plugins=list(trellis_migrated_plugins))
    upgrade(app.extensions["trellis"])
    app.extensions["trellis"].database.dispose()
    yield engine
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def audit_watch():
    """The :class:`api.testing.audit.AuditWatch` of the run: every plugin record written in a committed unit
    of work without an audit entry, in any test (``contract`` reports a plugin's)."""
    from api.testing.audit import AuditWatch

    with AuditWatch() as watch:
        watch.exempt_tests = _UNAUDITED_TESTS
        yield watch


@pytest.fixture(scope="session")
def app(engine, database_url, trellis_settings):
    """The app the tests share (rebound to each test's transaction by ``runtime``)."""
    from api.app import create_app

    app = create_app(app_config(database_url, **trellis_settings))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def connection(engine):
    """A connection inside a transaction rolled back at the end of the test."""
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def runtime(app, connection):
    """The app's runtime, bound to the test's transaction."""
    with bound(app, connection) as rt:
        yield rt


@pytest.fixture
def uow(runtime):
    """An open unit of work, for tests that call services directly."""
    with runtime.database.unit_of_work() as sess:
        yield sess


@pytest.fixture
def client(app, runtime):
    """Flask's test client of the app (sign-in rate-limit counters reset)."""
    app.extensions["trellis_rate_limits"].reset()
    return app.test_client()


@pytest.fixture
def people(runtime) -> People:
    """Six users: admin, manager + rep + rep2 (team East), other_manager + other_rep (team West)."""
    return make_people(runtime)


@pytest.fixture
def tokens(runtime, people) -> dict[str, str]:
    """A bearer token for each of ``people``, by role name."""
    from core.db import utcnow
    from core.services import users

    out = {}
    with runtime.database.unit_of_work():
        for role in ROLES:
            row, plain = users.create_token(getattr(people, role), "test")
            # as if just used: last_used_at is written at most once a minute, so the tests' requests
            # run the same statements whichever comes first (tests of last_used_at make their own tokens)
            row.last_used_at = utcnow()
            out[role] = plain
    return out


@pytest.fixture
def api(client, tokens) -> Api:
    """The test client sending the admin's token; ``api.as_("rep")`` another's, ``as_(None)`` none."""
    return Api(client, tokens).as_("admin")


@pytest.fixture
def count_queries(engine):
    """``with count_queries() as counter: ...`` counts the SQL statements run inside the block."""

    from core import db

    @contextlib.contextmanager
    def counting():
        counter = QueryCounter()

        def raw(conn, statement):  # a statement sent past SQLAlchemy's execute (the bulk COPY) counts too
            if conn.engine is engine:
                counter(conn, None, statement, (), None, False)

        event.listen(engine, "before_cursor_execute", counter)
        db.RAW_STATEMENT_LISTENERS.append(raw)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", counter)
            db.RAW_STATEMENT_LISTENERS.remove(raw)

    return counting


@pytest.fixture
def cli(app, runtime):
    """``cli("import", "my_plugin.things", path)``: run a ``trellis`` command (the CLI of ``app``, with every
    enabled plugin's commands) inside the test's transaction and return click's result (``exit_code``,
    ``stdout``, ``stderr``). An exception the command does not turn into a message fails the test, with
    its traceback."""
    from click.testing import CliRunner

    from api.cli import build_cli

    return lambda *args: CliRunner().invoke(build_cli(app), [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def text_file(tmp_path):
    """``text_file("members.csv", "name,phone\\n…")``: write a UTF-8 file in the test's temporary directory
    and return its path (a str), e.g. for ``cli("import", …)``."""
    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


@pytest.fixture
def import_costs(cli, runtime, text_file, count_queries):
    """``import_costs("my_plugin.things", rows)``: the statements an import costs, as
    ``{10: n, 100: m, "rerun": k}``. ``rows(first, n)`` returns a file's text (a CSV header and ``n`` new
    rows numbered from ``first``); the import runs on ``rows(0, 10)``, then on ``rows(10, 100)``, then on the
    same 100 again, which must leave each unchanged. Every row must be created (otherwise the test fails
    with the command's output). Each import is counted as a fresh ``trellis import`` process runs it (the
    process's caches, such as the active webhook subscriptions, empty). A batch's statements should not
    grow with its rows:
    ``assert costs[10] == costs[100]``; an unchanged file should cost less than a new one."""
    def measure(type_name: str, rows) -> dict:
        spent = {}
        for first, n in ((0, 10), (10, 100)):
            path = text_file(f"{type_name}-{n}.csv", rows(first, n))
            runtime.database.caches.clear()   # each import as a fresh `trellis import` process starts
            with count_queries() as counter:
                result = cli("import", type_name, path)
            assert f"{n} created, 0 updated, 0 unchanged, 0 with errors" in result.stdout, result.stdout + result.stderr
            spent[n] = counter.count
        runtime.database.caches.clear()
        with count_queries() as counter:
            result = cli("import", type_name, path)
        assert "100 unchanged" in result.stdout, result.stdout + result.stderr
        spent["rerun"] = counter.count
        return spent

    return measure


@pytest.fixture
def contract(app, engine, audit_watch):
    """``contract("my_plugin")``: the list of what the plugin does against the framework's contract
    (:func:`api.testing.check_contract`); assert it is empty. Tests using it run after the others, so
    "every change audited" covers what the whole run wrote."""
    return lambda plugin: check_contract(app, plugin, audit_watch=audit_watch)


#: node ids of the tests marked ``unaudited_writes`` (their writes are theirs, not a service's)
_UNAUDITED_TESTS: set[str] = set()


def pytest_configure(config):
    config.addinivalue_line("markers", "unaudited_writes(why): the test writes records itself (a state no "
                                       "service makes); contract's 'every change audited' leaves its writes out")


def pytest_collection_modifyitems(session, config, items):
    """Tests using ``contract`` go last (in their order): its "every change audited" reports what the
    tests before it wrote."""
    _UNAUDITED_TESTS.update(item.nodeid for item in items if item.get_closest_marker("unaudited_writes"))
    last = [item for item in items if "contract" in getattr(item, "fixturenames", ())]
    if last:
        moved = {id(item) for item in last}
        items[:] = [item for item in items if id(item) not in moved] + last
