"""Ten clients PATCH one customer at once with the same version, each request in its own thread with its
own connection and transaction, on a database of its own (a file on SQLite, a fresh schema on
PostgreSQL): exactly one wins, the other nine are told 409 Conflict — never a 500 "database is locked"."""
from __future__ import annotations

from api.testing import app_config
from tests.plugins.retail_membership.test_concurrency import own_database, run_together  # noqa: F401 - fixture


def test_simultaneous_patches_of_one_customer_give_one_200_and_409s(own_database):  # noqa: F811
    from api.app import create_app
    from core.migrate import upgrade
    from core.services import customers, users

    app = create_app(app_config(own_database, PLUGINS="retail_membership"))
    runtime = app.extensions["trellis"]
    upgrade(runtime)
    try:
        with runtime.database.unit_of_work():
            admin = users.create_user(None, {"email": "admin@example.com", "role": "admin"})
            _, token = users.create_token(admin, "test")
            customer = customers.create(admin, {"name": "Busy Ltd"})
        url = f"/api/v1/customers/{customer.id}"
        threads_n = 10

        def patch():
            client = app.test_client()
            response = client.patch(url, json={"version": 1, "region": "North"},
                                    headers={"Authorization": f"Bearer {token}"})
            return response.status_code

        outcomes = run_together(patch, threads_n)
        assert sorted(outcomes) == [200] + [409] * (threads_n - 1), outcomes
        with runtime.database.unit_of_work():
            assert customers.get(admin, customer.id).version == 2
    finally:
        runtime.database.dispose()


def test_a_writer_that_outwaits_the_sqlite_busy_timeout_is_told_409(app):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from api.rest.errors import error_response

    with app.test_request_context():
        response = error_response(OperationalError("UPDATE customer …", {}, sqlite3.OperationalError("database is locked")))
    assert response.status_code == 409
    assert "busy" in response.get_json()["message"]
