"""The test kit for Trellis and its plugins: pytest fixtures (loaded automatically wherever
``trellis-crm`` is installed, through the ``pytest11`` entry point ``trellis``) and the helpers they use.

Fixtures (:mod:`api.testing.pytest_plugin`):

- ``database_url``, ``engine`` (session): one database per run — a temporary SQLite file, or PostgreSQL
  from ``TRELLIS_TEST_DATABASE_URL`` in a schema of its own, dropped at the end — built by the real
  migrations of the core and every enabled plugin.
- ``app`` (session): ``create_app`` for the tests, with ``trellis_settings`` applied (override that
  fixture to choose the plugins: ``{"PLUGINS": "my_plugin"}``).
- ``connection``, ``runtime`` (per test): every test runs inside a transaction that is rolled back at its
  end, so tests never see each other's rows; ``uow`` is an open unit of work for calling services.
- ``people``: an admin, a manager with two reps (team East), another manager with a rep (team West).
- ``tokens``, ``api``: bearer tokens for each of them and a test client that sends them:
  ``api.as_("rep").get("/api/v1/customers")``, ``api.as_("manager").graphql(query, variables)``.
- ``count_queries``: ``with count_queries() as counted: ...`` records the SQL statements of the block;
  :func:`pin_statements` asserts a list costs the same at 5 and 50 records.
- ``cli``, ``text_file``: ``cli("import", "my_plugin.things", text_file("things.csv", "code,name\\n…"))`` runs
  a ``trellis`` command of the app inside the test's transaction and returns click's result.
- ``contract``: :func:`check_contract` for one plugin (schema conventions, migrations matching models,
  every record scoped, every change audited — the last from ``audit_watch``, which watches every test of
  the run; tests using ``contract`` run last).

A plugin's ``conftest.py`` needs nothing but, if it wants fewer plugins than every installed one::

    @pytest.fixture(scope="session")
    def trellis_settings():
        return {"PLUGINS": "training_school"}
"""
from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from api.testing.querycount import SIZES, graphql_list, pin_statements, rest_list

__all__ = ["FAST_HASH", "Api", "People", "QueryCounter", "SIZES", "app_config", "bound", "check_contract",
           "graphql_list", "make_people", "pin_statements", "rest_list", "scratch_database", "unscoped_records"]

# scrypt is the production default; a cheap KDF keeps a suite that creates many users fast.
FAST_HASH = "pbkdf2:sha256:1000"


def app_config(database_url: str, **extra) -> dict:
    """``create_app`` settings for tests: the database, a cheap password hash, a fixed secret."""
    return {"DATABASE_URL": database_url, "PASSWORD_HASH_METHOD": FAST_HASH, "SECRET_KEY": "test", **extra}


@contextlib.contextmanager
def scratch_database(sqlite_file: Path, *, name: str = "trellis_scratch") -> Iterator[str]:
    """The URL of an empty database of its own, for a test that needs real connections or a schema
    built its own way: the SQLite file ``sqlite_file``, or — when ``TRELLIS_TEST_DATABASE_URL`` names a
    PostgreSQL database — a fresh schema ``<name>_<random>`` there, dropped with everything in it at the
    end of the block."""
    from sqlalchemy import text

    from core.config import test_database_url
    from core.db import make_engine

    base = test_database_url()
    if not base.startswith("postgresql"):
        yield f"sqlite:///{sqlite_file}"
        return
    schema = f"{name}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def bound(app, connection):
    """Bind ``app``'s database to ``connection`` (a test's transaction) for the block; yields its runtime."""
    runtime = app.extensions["trellis"]
    runtime.database.bind_to(connection)
    try:
        yield runtime
    finally:
        runtime.database.bind_to(None)


@dataclass
class People:
    """The users of the ``people`` fixture, as ``core.models`` users."""

    admin: object
    manager: object
    rep: object
    rep2: object
    other_manager: object
    other_rep: object


ROLES = ("admin", "manager", "rep", "rep2", "other_manager", "other_rep")


def make_people(runtime) -> People:
    """Create the six users of :class:`People` and their two teams (committed in the test's transaction)."""
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


class Api:
    """A test client that sends a bearer token: ``api.as_("rep").get(...)``, ``api.graphql(query, vars)``
    (the JSON answer); ``as_(None)`` sends none."""

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


class QueryCounter:
    """The SQL statements run while it listens (savepoint bookkeeping left out)."""

    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


def check_contract(app, plugin: str, *, audit_watch=None) -> list[str]:
    """What in ``plugin`` breaks the framework's contract, as one line each (empty: nothing):

    - **schema conventions**: its GraphQL types and fields depart from the conventions of docs/graphql.md
      (:func:`api.graphql.conventions.findings`, only the plugin's own);
    - **migrations match models**: its models and its migrations disagree (Alembic's comparison of the
      migrated database with the models, only the plugin's tables) — run it on a database built by the
      migrations (``engine``);
    - **every record scoped**: a model it owns that is a record about customers (a foreign key to the
      core's ``customer`` table) or a record clients fetch by id (the model of one of its GraphQL ``Node``
      types) has no record scope (``trellis_record_scopes``, any component's; ``lambda actor: true()``
      shares it with everyone, explicitly) and is not read through its ``Node`` type's own scoped read
      (``NodeSource(get=…)`` / ``visible=…``, the ``crud_fields`` get);
    - **customer records follow a merge**: it owns a model with a foreign key to ``customer`` but does not
      implement ``trellis_merge_customers``, so a merge of duplicate customers would leave its rows on the
      hidden duplicate (:func:`unmerged_records`);
    - **every change audited**: ``audit_watch`` (an :class:`api.testing.audit.AuditWatch`; the ``contract``
      fixture passes the run's) saw one of its records created, changed or deleted in a committed unit of
      work with no audit entry for it. It covers the tests that ran before (the kit runs the tests using
      ``contract`` last) and only writes through the ORM session; see :mod:`api.testing.audit`.
    """
    from api.graphql import schema_of
    from api.graphql.conventions import findings
    from core import migrate

    runtime = app.extensions["trellis"]
    if not runtime.plugins.is_enabled(plugin):
        raise ValueError(f"'{plugin}' is not enabled in this app: {', '.join(runtime.plugins.enabled_names)}.")
    schema = schema_of(app)
    problems = [str(f) for f in findings(schema) if f.owner == plugin]
    tables = migrate.owned_tables(runtime, plugin)
    for diff in migrate.check(runtime):
        if _table_of(diff) in tables:
            problems.append(f"migrations: {diff!r} (write one with: trellis db revision -c {plugin} -m ...)")
    problems += unscoped_records(runtime, schema.trellis_registry, plugin)
    problems += unmerged_records(runtime, plugin)
    if audit_watch is not None:
        problems += sorted({str(u) for u in audit_watch.found(plugin)})
    return problems


def unscoped_records(runtime, registry, plugin: str) -> list[str]:
    """The "every record scoped" part of :func:`check_contract`, one line per model."""
    from core.plugins import CORE_NAME

    if plugin == CORE_NAME:
        return []
    models = [m for owner, declared in runtime.plugins.call_each("trellis_models") if owner == plugin
              for m in declared]
    node_types: dict[type, list[tuple[str, object]]] = {}
    for type_name, source in registry.node_sources().items():
        if registry.owner_of(type_name) == plugin:
            node_types.setdefault(source.model, []).append((type_name, source))
    out = []
    for model in models:
        about_customers = any(fk.column.table.name == "customer"
                              for column in model.__table__.columns for fk in column.foreign_keys)
        types_ = node_types.get(model, [])
        if not about_customers and not types_:
            continue
        if runtime.scopes.get(model) or any(s.get is not None or s.visible is not None for _, s in types_):
            continue
        why = (f"its GraphQL type {', '.join(n for n, _ in types_)} is fetched by id" if types_
               else "it holds customer data (a foreign key to customer)")
        out.append(f"every record scoped: {model.__name__} ('{model.__table__.name}') has no record scope, and "
                   f"{why}. Return {{{model.__name__}: scope}} from trellis_record_scopes (scope(actor) -> a "
                   "condition; `lambda actor: true()` to share it with everyone)")
    return out


def unmerged_records(runtime, plugin: str) -> list[str]:
    """The "customer records follow a merge" part of :func:`check_contract`: one line naming the plugin's
    models with a foreign key to ``customer`` when it does not implement ``trellis_merge_customers``."""
    from core.plugins import CORE_NAME

    if plugin == CORE_NAME or plugin in runtime.plugins.implementers("trellis_merge_customers"):
        return []
    models = [m for owner, declared in runtime.plugins.call_each("trellis_models") if owner == plugin
              for m in declared]
    about = [m for m in models if any(fk.column.table.name == "customer"
                                      for column in m.__table__.columns for fk in column.foreign_keys)]
    if not about:
        return []
    names = ", ".join(f"{m.__name__} ('{m.__table__.name}')" for m in about)
    return [f"customer records follow a merge: {names} point at customers, but the plugin does not implement "
            "trellis_merge_customers: a merge of duplicate customers would leave these rows on the hidden "
            "duplicate. Move them to the survivor (trellis.plugin.move_customer_rows) or refuse with Conflict"]


def _table_of(diff) -> str | None:
    """The table an Alembic ``compare_metadata`` difference is about: ``("add_table", Table)``,
    ``("add_column", schema, table, Column)``, ``[("modify_type", schema, table, column, ...)]``,
    ``("add_index", Index)``, ``("add_fk", ForeignKeyConstraint)`` …"""
    op = diff[0] if isinstance(diff, list) else diff
    kind = op[0]
    if kind.endswith("_table"):
        return op[1].name
    if kind.endswith("_column") or kind.startswith("modify_"):
        return op[2]
    table = getattr(op[1], "table", None)
    return getattr(table, "name", None)
