"""Fixtures: one database per test run (SQLite, or PostgreSQL from TRELLIS_TEST_DATABASE_URL in a
schema of its own), the schema built by the real migrations, and every test inside a transaction that
is rolled back at its end — so the PostgreSQL run is as fast as the SQLite one."""
from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from sqlalchemy import event, text

from api.app import create_app
from core.config import test_database_url
from core.db import make_engine, utcnow
from tests import sample_plugin

# scrypt is the production default; a cheap KDF keeps a suite that creates many users fast.
FAST_HASH = "pbkdf2:sha256:1000"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    base = test_database_url()
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    if not base.startswith("postgresql"):
        yield base
        return
    schema = f"trellis_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def app_config(database_url: str, **extra) -> dict:
    return {"DATABASE_URL": database_url, "PASSWORD_HASH_METHOD": FAST_HASH, "SECRET_KEY": "test", **extra}


@pytest.fixture(scope="session")
def engine(database_url):
    from core.migrate import upgrade

    engine = make_engine(database_url)
    # the schema of every installed plugin and of the tests' own plugin, built by the real migrations
    app = create_app(app_config(database_url), extra_plugins=[sample_plugin])
    upgrade(app.extensions["trellis"])
    app.extensions["trellis"].database.dispose()
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(engine, database_url):
    """The app with every built-in plugin, shared by the tests (rebound to each test's transaction)."""
    app = create_app(app_config(database_url))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def connection(engine):
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@contextlib.contextmanager
def bound(app, connection):
    runtime = app.extensions["trellis"]
    runtime.database.bind_to(connection)
    try:
        yield runtime
    finally:
        runtime.database.bind_to(None)


@pytest.fixture
def runtime(app, connection):
    with bound(app, connection) as rt:
        yield rt


@pytest.fixture
def uow(runtime):
    """An open unit of work, for tests that call services directly."""
    with runtime.database.unit_of_work() as sess:
        yield sess


@pytest.fixture
def client(app, runtime):
    app.extensions["trellis_limiter"].reset()  # the shared app's sign-in counters start at zero per test
    return app.test_client()


@dataclass
class People:
    admin: object
    manager: object
    rep: object
    rep2: object
    other_manager: object
    other_rep: object


def make_people(runtime) -> "People":
    from core.services import users

    with runtime.database.unit_of_work():
        admin = users.create_user(None, {"email": "admin@example.com", "name": "Ada Admin", "role": "admin",
                                         "password": "admin-password"})
        manager = users.create_user(None, {"email": "manager@example.com", "name": "Mia Manager", "role": "manager"})
        team = users.create_team(None, "East", manager=manager)
        rep = users.create_user(None, {"email": "rep@example.com", "name": "Ray Rep", "role": "rep",
                                       "team_id": str(team.id), "password": "rep-password"})
        rep2 = users.create_user(None, {"email": "rep2@example.com", "name": "Rita Rep", "role": "rep",
                                        "team_id": str(team.id)})
        other_manager = users.create_user(None, {"email": "om@example.com", "name": "Otto Manager",
                                                 "role": "manager"})
        other_team = users.create_team(None, "West", manager=other_manager)
        other_rep = users.create_user(None, {"email": "or@example.com", "name": "Olga Rep", "role": "rep",
                                             "team_id": str(other_team.id)})
    return People(admin, manager, rep, rep2, other_manager, other_rep)


@pytest.fixture
def people(runtime) -> People:
    return make_people(runtime)


@pytest.fixture
def tokens(runtime, people) -> dict[str, str]:
    from core.services import users

    out = {}
    with runtime.database.unit_of_work():
        for role in ("admin", "manager", "rep", "rep2", "other_manager", "other_rep"):
            row, plain = users.create_token(getattr(people, role), "test")
            # as if just used: last_used_at is written at most once a minute, so the tests' requests
            # run the same statements whichever comes first (tests of last_used_at make their own tokens)
            row.last_used_at = utcnow()
            out[role] = plain
    return out


class Api:
    """A test client that sends a bearer token: ``api.as_("rep").get(...)``."""

    def __init__(self, client, tokens):
        self.client, self.tokens, self.token = client, tokens, None

    def as_(self, who: str | None) -> "Api":
        other = Api(self.client, self.tokens)
        other.token = self.tokens[who] if who else None
        return other

    def _headers(self, headers=None):
        h = dict(headers or {})
        if self.token:
            h.setdefault("Authorization", f"Bearer {self.token}")
        return h

    def __getattr__(self, method):
        if method not in ("get", "post", "patch", "put", "delete"):
            raise AttributeError(method)

        def call(url, headers=None, **kwargs):
            return getattr(self.client, method)(url, headers=self._headers(headers), **kwargs)

        return call

    def graphql(self, query: str, variables: dict | None = None, headers=None):
        response = self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                    headers=self._headers(headers))
        return response.get_json()


@pytest.fixture
def api(client, tokens) -> Api:
    return Api(client, tokens).as_("admin")


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(engine):
    """``with count_queries() as counter: ...`` counts the SQL statements run inside the block."""

    @contextlib.contextmanager
    def counting():
        counter = QueryCounter()
        event.listen(engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", counter)

    return counting
