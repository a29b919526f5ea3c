"""Shared by the GraphQL tests: data built through the REST API and services, and row counts."""
from __future__ import annotations

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
