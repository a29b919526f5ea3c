"""One request cannot exhaust memory or CPU: an over-long batch is refused before any row is parsed,
and a body above its endpoint's limit is a 413 JSON answer naming the limit."""
from __future__ import annotations

import json

import pytest
from marshmallow import ValidationError

from api.app import create_app
from api.testing import app_config

BATCH = "/api/v1/retail-membership/purchases/batch"


def _rows(n: int) -> str:
    return json.dumps({"purchases": [{"x": 1}] * n})


def test_an_over_long_pos_batch_is_refused_without_parsing_its_rows(api):
    response = api.as_("admin").post(BATCH, data=_rows(5001), content_type="application/json")
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    # one message for the list, none for its (invalid) rows: they were never looked at
    assert errors == {"purchases": ["At most 5000 items; 5001 sent."]}


def test_a_batch_at_the_limit_is_parsed_row_by_row(api):
    response = api.as_("admin").post(BATCH, data=_rows(3), content_type="application/json")
    assert response.status_code == 422
    assert any(key.startswith("purchases.0.") for key in response.get_json()["errors"]["json"])


@pytest.mark.parametrize("schema_path, field, limit", [
    ("plugins.retail_membership.schemas:PurchaseBatch", "purchases", 5000),
    ("plugins.exhibitions.schemas:RegistrationImport", "registrations", 2000),
    ("plugins.exhibitions.schemas:ScanUpload", "scans", 5000),
    ("core.schemas:Handover", "customer_ids", 10000),
    ("core.schemas:Allocation", "rules", 200),
    ("core.services.analytics:WinBackTaskRequest", "customer_ids", 10000),
])
def test_every_bulk_input_counts_before_it_parses(schema_path, field, limit):
    import importlib

    module, name = schema_path.split(":")
    schema = getattr(importlib.import_module(module), name)()
    with pytest.raises(ValidationError) as refused:
        schema.load({field: ["not a row"] * (limit + 1)}, partial=True)
    assert refused.value.messages[field] == [f"At most {limit} items; {limit + 1} sent."]


def test_a_body_over_the_app_wide_limit_is_413_json_naming_it(api):
    body = json.dumps({"name": "x" * (1024 * 1024)})
    response = api.as_("admin").post("/api/v1/customers", data=body, content_type="application/json")
    assert response.status_code == 413
    assert "1048576 bytes" in response.get_json()["message"]


def test_bulk_endpoints_take_larger_bodies_up_to_their_own_limit(api):
    big = json.dumps({"purchases": [{"pos_transaction_id": "x" * 1000}] * 2000})  # 2 MB, 2000 rows
    assert 1024 * 1024 < len(big) < 8 * 1024 * 1024
    response = api.as_("admin").post(BATCH, data=big, content_type="application/json")
    assert response.status_code == 422  # read and validated, not refused for its size
    huge = json.dumps({"purchases": [{"pos_transaction_id": "x" * 5000}] * 1700})  # 8.5 MB
    response = api.as_("admin").post(BATCH, data=huge, content_type="application/json")
    assert response.status_code == 413 and "8388608 bytes" in response.get_json()["message"]


def test_the_app_wide_limit_is_a_setting(database_url):
    app = create_app(app_config(database_url, MAX_REQUEST_BYTES=1000, PLUGINS="exhibitions"))
    try:
        response = app.test_client().post("/auth/login", data=json.dumps({"email": "a" * 2000}),
                                          content_type="application/json")
        assert response.status_code == 413 and "1000 bytes" in response.get_json()["message"]
    finally:
        app.extensions["trellis"].database.dispose()


def test_graphql_bodies_are_capped_too(api):
    query = "{ customers(first: 1) { totalCount } }" + " " * (5 * 1024 * 1024)
    response = api.as_("admin").post("/graphql", json={"query": query})
    assert response.status_code == 413 and "4194304 bytes" in response.get_json()["message"]
