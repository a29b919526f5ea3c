"""Health and readiness (#18): ``/healthz`` (liveness), ``/readyz`` (the database answers and every enabled
component is at its migration head), the schema gate that refuses API requests while the schema is
behind, and the 503 with ``Retry-After`` when the database cannot be reached."""
from __future__ import annotations

import pytest
from graphql import GraphQLError
from sqlalchemy.exc import OperationalError

from api.app import create_app
from api.graphql.errors import format_error
from api.health import GATE_KEY
from api.testing import app_config
from core import migrate
from core.db import is_connection_error
from core.errors import Unavailable
from core.services import users
from tests import sample_plugin
from tests.core.test_migrations import scratch_database

ME = "{ me { email } }"


# --- /readyz on a database at its heads --------------------------------------------------------------

def test_readyz_says_ready_without_a_login_and_lists_every_component(api):
    response = api.as_(None).get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready" and "reason" not in body
    assert body["checks"]["database"] is True
    migrations = body["checks"]["migrations"]
    assert {"core", "exhibitions", "retail_membership", "property_service"} <= set(migrations)
    assert all(state["ok"] and state["current"] == state["head"] for state in migrations.values())


def test_healthz_stays_liveness_only(api):
    assert api.as_(None).get("/healthz").get_json() == {"status": "ok", "database": True}


# --- a database behind the code ------------------------------------------------------------------------

@pytest.fixture
def behind(tmp_path):
    """An app with the sample plugin on a database where only the core is migrated."""
    with scratch_database(tmp_path) as url:
        app = create_app(app_config(url, PLUGINS="sample"), extra_plugins=[sample_plugin])
        runtime = app.extensions["trellis"]
        migrate.upgrade(runtime, "core@head")
        try:
            yield app
        finally:
            runtime.database.dispose()


def test_readyz_names_the_component_behind_and_the_command(behind):
    response = behind.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not ready"
    assert "sample (not migrated)" in body["reason"] and "trellis db upgrade" in body["reason"]
    assert body["checks"]["migrations"]["core"]["ok"] is True
    assert body["checks"]["migrations"]["sample"] == {"current": None, "head": "5a3b1e000002", "ok": False}


def _admin_token(app) -> str:
    with app.extensions["trellis"].database.unit_of_work():
        admin = users.create_user(None, {"email": "a@example.com", "name": "A", "role": "admin",
                                         "password": "admin-password"})
        return users.create_token(admin, "test")[1]


def test_a_server_behind_refuses_rest_and_graphql_with_503_until_upgraded(behind):
    runtime = behind.extensions["trellis"]
    client = behind.test_client()
    auth = {"Authorization": f"Bearer {_admin_token(behind)}"}

    listed = client.get("/api/v1/customers", headers=auth)
    assert listed.status_code == 503 and listed.headers["Retry-After"] == "30"
    assert "sample (not migrated)" in listed.get_json()["message"]
    assert "trellis db upgrade" in listed.get_json()["message"]

    answered = client.post("/graphql", json={"query": ME}, headers=auth)
    [error] = answered.get_json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE" and "trellis db upgrade" in error["message"]
    assert answered.headers["Retry-After"] == "30"

    # signing in and the health checks still answer
    signed_in = client.post("/auth/login", json={"email": "a@example.com", "password": "admin-password"})
    assert signed_in.status_code == 200
    assert client.get("/healthz").status_code == 200

    migrate.upgrade(runtime)
    assert client.get("/readyz").status_code == 200   # which tells the gate too
    assert client.get("/api/v1/customers", headers=auth).status_code == 200
    assert client.post("/graphql", json={"query": ME}, headers=auth).get_json() == {
        "data": {"me": {"email": "a@example.com"}}}


def test_every_operation_documents_the_503_the_gate_answers(behind, api):
    document = api.get("/api/v1/openapi.json").get_json()
    shared = document["components"]["responses"]["API_UNAVAILABLE"]
    assert shared["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert shared["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert "trellis db upgrade" in shared["description"]
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()
                  if method in ("get", "post", "put", "patch", "delete")]
    assert len(operations) > 100   # the core's and the built-in plugins'
    assert [(path, method) for path, method, op in operations
            if op["responses"].get("503") != {"$ref": "#/components/responses/API_UNAVAILABLE"}] == []
    # and what the gate answers fits it: the Error schema's fields, and Retry-After as an integer
    refused = behind.test_client().get("/api/v1/customers",
                                       headers={"Authorization": f"Bearer {_admin_token(behind)}"})
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert set(refused.get_json()) <= set(document["components"]["schemas"]["Error"]["properties"])


def test_the_gate_checks_once_and_again_after_its_interval(behind):
    gate = behind.extensions[GATE_KEY]
    now = [1000.0]
    gate.clock = lambda: now[0]
    client = behind.test_client()
    auth = {"Authorization": f"Bearer {_admin_token(behind)}"}
    assert client.get("/api/v1/customers").status_code == 401      # a stranger learns nothing more
    assert client.get("/api/v1/customers", headers=auth).status_code == 503
    migrate.upgrade(behind.extensions["trellis"])
    now[0] += gate.interval - 1
    assert client.get("/api/v1/customers", headers=auth).status_code == 503      # the cached answer
    now[0] += 1
    assert client.get("/api/v1/customers", headers=auth).status_code == 200      # checked again


# --- the database unreachable --------------------------------------------------------------------------

@pytest.fixture(params=["sqlite-missing-dir", "postgresql-closed-port"])
def unreachable(request, tmp_path):
    url = (f"sqlite:///{tmp_path}/no/such/dir/trellis.db" if request.param.startswith("sqlite")
           else "postgresql://postgres@127.0.0.1:1/test")
    app = create_app(app_config(url))
    yield app
    app.extensions["trellis"].database.dispose()


STRANGER_TOKEN = {"Authorization": "Bearer trl_not-a-real-token"}   # looked up in the database


def test_an_unreachable_database_is_503_with_retry_after(unreachable):
    client = unreachable.test_client()
    listed = client.get("/api/v1/customers", headers=STRANGER_TOKEN)
    assert listed.status_code == 503 and listed.headers["Retry-After"] == "5"
    assert listed.get_json()["message"] == "The database cannot be reached right now; try again shortly."

    answered = client.post("/graphql", json={"query": ME}, headers=STRANGER_TOKEN)
    assert answered.status_code == 200 and answered.headers["Retry-After"] == "5"
    [error] = answered.get_json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["reason"] == "The database does not answer."   # no host, port or path
    assert client.get("/healthz").status_code == 503


def test_the_gate_says_unreachable_rather_than_behind(unreachable):
    with pytest.raises(Unavailable, match="cannot be reached") as refused:
        unreachable.extensions[GATE_KEY].check()
    assert refused.value.retry_after == 5 and refused.value.http_status == 503


def _operational(message: str) -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception(message))


def test_connection_errors_are_told_from_lock_timeouts():
    assert is_connection_error(_operational("connection to server at \"db\" failed: Connection refused"))
    assert is_connection_error(_operational("unable to open database file"))
    assert not is_connection_error(_operational("database is locked"))      # still a 409
    assert not is_connection_error(_operational("no such table: customer"))


def test_a_resolver_meeting_a_dropped_connection_is_service_unavailable(app):
    with app.test_request_context("/graphql", method="POST"):
        error = format_error(GraphQLError("boom", path=["customers"], original_error=_operational(
            "server closed the connection unexpectedly")))
        from flask import g
        assert g.trellis_retry_after == 5
    assert error.extensions == {"code": "SERVICE_UNAVAILABLE"}
    assert error.message == "The database cannot be reached right now; try again shortly."
