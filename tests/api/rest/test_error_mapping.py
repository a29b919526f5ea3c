"""The one error mapping (api/rest/errors.py) for what services do not raise themselves: a row changed
behind the ORM's back (StaleDataError), a constraint the database refuses (IntegrityError) and a plain
bug. Each is provoked for real inside a customer update; each answers JSON, writes nothing and shows no
stack trace."""
from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import update as sql_update

from core import db
from core.errors import Conflict
from core.models import Customer
from core.services import common
from tests.api.rest.test_customers import create

SECRET = "internal-detail-7f3a"


@pytest.fixture
def after_changes(monkeypatch):
    """Run ``hook(customer)`` inside the update service, after its changes are applied, before the flush."""
    def install(hook):
        real = common.apply_changes

        def patched(record, values):
            changes = real(record, values)
            hook(record)
            return changes

        monkeypatch.setattr(common, "apply_changes", patched)
    return install


def _update(api, customer, **fields):
    return api.as_("rep").patch(f"/api/v1/customers/{customer['id']}",
                                json={"version": customer["version"], **fields})


def _unchanged(api, customer):
    now = api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()
    assert (now["name"], now["version"]) == (customer["name"], customer["version"])


def test_a_row_changed_by_someone_else_between_read_and_write_is_409(api, after_changes):
    customer = create(api)

    def concurrent_writer(record):
        # a plain UPDATE the session does not see: the ORM's own UPDATE ... WHERE version = <read> misses
        sess = db.session()
        with sess.no_autoflush:
            sess.execute(sql_update(Customer).where(Customer.id == record.id)
                         .values(version=Customer.version + 1).execution_options(synchronize_session=False))

    after_changes(concurrent_writer)
    response = _update(api, customer, name="Renamed")
    assert response.status_code == 409, response.get_json()
    assert response.get_json() == {"code": 409, "status": "Conflict", "message": Conflict.default_message}
    _unchanged(api, customer)


def test_a_constraint_the_database_refuses_is_409_with_a_message_and_nothing_written(api, after_changes):
    customer = create(api)

    def dangling_owner(record):
        record.owner_id = uuid.uuid4()  # no such user: the foreign key refuses it at flush

    after_changes(dangling_owner)
    response = _update(api, customer, name="Renamed")
    assert response.status_code == 409, response.get_json()
    assert response.get_json() == {
        "code": 409, "status": "Conflict",
        "message": "This change conflicts with existing data (a duplicate or a missing reference)."}
    _unchanged(api, customer)


def test_an_unhandled_exception_is_a_500_json_without_a_stack_trace_and_is_logged(api, after_changes, caplog):
    customer = create(api)

    def bug(record):
        raise RuntimeError(f"a bug with an {SECRET}")

    after_changes(bug)
    with caplog.at_level(logging.ERROR, logger="trellis.errors"):
        response = _update(api, customer, name="Renamed")
    assert response.status_code == 500 and response.is_json
    assert response.get_json() == {"code": 500, "status": "Internal Server Error",
                                   "message": "Something went wrong on our side; it has been logged."}
    raw = response.get_data(as_text=True)
    assert SECRET not in raw and "Traceback" not in raw and "RuntimeError" not in raw
    [logged] = [r for r in caplog.records if r.name == "trellis.errors"]
    assert logged.exc_info and SECRET in str(logged.exc_info[1])
    assert logged.getMessage().startswith(f"Unhandled error in PATCH /api/v1/customers/{customer['id']} (user ")
    _unchanged(api, customer)
