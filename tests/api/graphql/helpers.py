"""Shared by the GraphQL tests: data built through the REST API and services, and row counts."""
from __future__ import annotations

import contextlib

from sqlalchemy import func, select


def rows(runtime, model) -> int:
    """How many rows of ``model`` exist (deleted ones included): what really is in the database."""
    with runtime.database.unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model))


def rest_customer(api, who="rep", **fields) -> dict:
    response = api.as_(who).post("/api/v1/customers", json={"name": "Acme Trading", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def rest_contact(api, customer_id, who="rep", **fields) -> dict:
    response = api.as_(who).post("/api/v1/contacts", json={"customer_id": customer_id, "name": "Li Lei", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def ok(body: dict) -> dict:
    """The data of a response that must have no errors."""
    assert not body.get("errors"), body.get("errors")
    return body["data"]


def error(body: dict, code: str) -> dict:
    """The one error of a response, checked to carry ``code``."""
    errors = body.get("errors") or []
    assert len(errors) == 1, body
    assert errors[0]["extensions"]["code"] == code, errors[0]
    return errors[0]


@contextlib.contextmanager
def app_with(database_url, connection, *plugins, people=None, **config):
    """An app of its own with ``plugins`` added, bound to the test's transaction, and an ``Api`` on it
    with the usual people signed in by token (made here unless the test has ``people`` already)."""
    from api.app import create_app
    from core.services import users
    from api.testing import Api, app_config, bound, make_people

    app = create_app(app_config(database_url, **config), extra_plugins=list(plugins))
    app.config["TESTING"] = True
    with bound(app, connection) as runtime:
        people = people or make_people(runtime)
        with runtime.database.unit_of_work():
            tokens = {role: users.create_token(getattr(people, role))[1] for role in ("admin", "rep", "rep2")}
        yield Api(app.test_client(), tokens), runtime


def plugin(name: str, **hooks):
    """A throwaway plugin object: ``plugin("x", trellis_graphql_query_fields=fn)``."""
    from types import SimpleNamespace

    from core.hookspecs import hookimpl

    return SimpleNamespace(name=name, version="0.0.1", **{k: hookimpl(v) for k, v in hooks.items()})
