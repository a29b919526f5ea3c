"""bench/http_side_by_side.py's yardstick app and statement counter work (no timings: those are the bench's business)."""
from __future__ import annotations

import uuid

import pytest

from bench.counting import counting
from bench.yardstick import create_app

TOKEN = "yardstick-test-token"


@pytest.fixture
def app(tmp_path):
    return create_app(f"sqlite:///{tmp_path / 'yardstick.db'}", TOKEN)


def auth() -> dict:
    return {"Authorization": f"Bearer {TOKEN}"}


def test_create_list_detail(app):
    client = app.test_client()
    created = client.post("/api/v1/customers", json={"name": "Acme", "industry": "Retail", "tags": ["b", "a"]},
                          headers=auth())
    assert created.status_code == 201
    body = created.get_json()
    assert body["name"] == "Acme" and body["tags"] == ["a", "b"] and body["version"] == 1
    assert {"id", "created_at", "updated_at", "deleted_at", "kind", "level", "level_pinned", "stage", "owner_id",
            "merged_into_id", "merged_at"} <= set(body)
    client.post("/api/v1/customers", json={"name": "Beta"}, headers=auth())

    listed = client.get("/api/v1/customers?page_size=100", headers=auth())
    assert listed.status_code == 200
    assert [c["name"] for c in listed.get_json()] == ["Acme", "Beta"]
    assert '"total": 2' in listed.headers["X-Pagination"]

    assert client.get(f"/api/v1/customers/{body['id']}", headers=auth()).get_json() == body
    assert client.get(f"/api/v1/customers/{uuid.uuid4()}", headers=auth()).status_code == 404


def test_refuses_bad_input_and_missing_token(app):
    client = app.test_client()
    refused = client.post("/api/v1/customers", json={"name": " ", "size": "huge"}, headers=auth())
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]["json"]) == {"name", "size"}
    assert client.get("/api/v1/customers", headers=auth()).get_json() == []
    assert client.get("/api/v1/customers").status_code == 401
    assert client.get("/api/v1/customers", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_counting_writes_one_line_per_request(app, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_STATEMENTS_FILE", str(tmp_path / "statements"))
    app.wsgi_app = counting(app.wsgi_app)
    client = app.test_client()
    # buffered: the test client closes the body (as gunicorn does), which writes the line
    customer = client.post("/api/v1/customers", json={"name": "Acme"}, headers=auth(), buffered=True).get_json()
    client.get("/api/v1/customers", headers=auth(), buffered=True)
    client.get(f"/api/v1/customers/{customer['id']}", headers=auth(), buffered=True)
    # INSERT; count + page; SELECT by id
    assert (tmp_path / "statements").read_text().split() == ["1", "2", "1"]
