"""No input gets a 5xx: hostile JSON, text no database can store, datetimes that leave the calendar in
UTC and GraphQL bodies that are not operations are refused with a 400/422 naming the field and the
reason, and nothing is written. Each case was a 500 before (most of them on PostgreSQL, some on both)."""
from __future__ import annotations

import json

import pytest


NUL_MESSAGE = "Must not contain NUL (\\u0000) characters."
SURROGATE_MESSAGE = "Must not contain unpaired UTF-16 surrogates (not valid Unicode text)."


def _post(client, tokens, url, raw: str | bytes, who="admin"):
    return client.post(url, data=raw, headers={"Authorization": f"Bearer {tokens[who]}",
                                               "Content-Type": "application/json"})


def _customer_count(api) -> int:
    return json.loads(api.get("/api/v1/customers?page_size=1").headers["X-Pagination"])["total"]


@pytest.fixture
def customer_id(api):
    return api.post("/api/v1/customers", json={"name": "Acme"}).get_json()["id"]


# --- REST bodies ------------------------------------------------------------------------------------

def test_body_nested_5000_deep_is_a_400(client, tokens):
    response = _post(client, tokens, "/api/v1/customers", "[" * 5000 + "]" * 5000)
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.get_json()["message"]


def test_body_not_utf8_is_a_400(client, tokens):
    response = _post(client, tokens, "/api/v1/customers", b'{"name": "\xff\xfe"}')
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["message"]


@pytest.mark.parametrize("raw, message", [
    ('{"name": "x\\u0000y"}', NUL_MESSAGE),
    ('{"name": "x\\ud800y"}', SURROGATE_MESSAGE),
])
def test_unstorable_text_in_a_body_is_a_422_naming_the_field(api, client, tokens, raw, message):
    before = _customer_count(api)
    response = _post(client, tokens, "/api/v1/customers", raw)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"json": {"name": [message]}}
    assert _customer_count(api) == before


def test_unstorable_text_deep_in_a_plugin_body_is_named_by_its_path(client, tokens):
    raw = '{"purchases": [{"lines": [{"category": "a\\u0000"}]}]}'
    response = _post(client, tokens, "/api/v1/retail-membership/purchases/batch", raw)
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {"purchases.0.lines.0.category": [NUL_MESSAGE]}


# --- query strings and path segments ----------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "/api/v1/customers?q=a%00b",
    "/api/v1/customers?region=%00",
    "/api/v1/contacts?q=%00",
    "/api/v1/retail-membership/memberships?q=%00",
])
def test_nul_in_a_filter_is_a_422_naming_it(api, url):
    response = api.get(url)
    assert response.status_code == 422
    name = url.split("?")[1].split("=")[0]
    assert response.get_json()["errors"] == {"query": {name: [NUL_MESSAGE]}}


def test_nul_in_a_path_segment_is_a_422_naming_it(api):
    response = api.get("/api/v1/metrics/customers%00")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"path": {"name": [NUL_MESSAGE]}}


# --- datetimes at the edges of the calendar ---------------------------------------------------------

@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_datetime_outside_utc_calendar_in_a_body_is_a_422(api, customer_id, when):
    response = api.post("/api/v1/interactions", json={"customer_id": customer_id, "kind": "call",
                                                       "occurred_at": when})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"] == {
        "occurred_at": ["Out of range: in UTC this falls outside the years 1–9999."]}


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00%2B14:00", "9999-12-31T23:59:59-14:00"])
def test_datetime_outside_utc_calendar_in_a_filter_is_a_422(api, when):
    response = api.get(f"/api/v1/interactions?due_before={when}")
    assert response.status_code == 422
    assert "due_before" in json.dumps(response.get_json()["errors"])


def test_datetime_outside_utc_calendar_in_a_plugin_filter_is_a_422(api):
    response = api.get("/api/v1/retail-membership/purchases?occurred_after=0001-01-01T00:00:00%2B14:00")
    assert response.status_code == 422, response.get_json()


def test_edge_datetimes_that_fit_in_utc_are_accepted(api, customer_id):
    response = api.post("/api/v1/interactions", json={"customer_id": customer_id, "kind": "call",
                                                       "occurred_at": "0001-01-01T00:00:00-14:00"})
    assert response.status_code == 201, response.get_json()


# --- GraphQL ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [b'{"query": "\xff\xfe"}', "null", "42", "[" * 5000 + "]" * 5000, '"query"'])
def test_graphql_body_that_is_not_an_operation_is_a_400(client, tokens, raw):
    response = _post(client, tokens, "/graphql", raw)
    assert response.status_code == 400


CREATE = "mutation($n: String!) { createCustomer(input: {name: $n}) { id } }"


@pytest.mark.parametrize("name, message", [("a\u0000b", NUL_MESSAGE), ("a\ud800b", SURROGATE_MESSAGE)])
def test_graphql_variable_with_unstorable_text_is_bad_user_input(api, client, tokens, name, message):
    before = _customer_count(api)
    raw = json.dumps({"query": CREATE, "variables": {"n": name}})  # json escapes the surrogate as \ud800
    response = _post(client, tokens, "/graphql", raw)
    assert response.status_code == 422
    error = response.get_json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"variables.n": [message]}}
    assert _customer_count(api) == before


def test_graphql_literal_with_nul_is_bad_user_input(api):
    before = _customer_count(api)
    body = api.graphql('mutation { createCustomer(input: {name: "a\\u0000b"}) { id } }')
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "NUL" in body["errors"][0]["message"]
    assert _customer_count(api) == before


def test_graphql_datetime_outside_utc_calendar_is_bad_user_input(api, customer_id):
    body = api.graphql(
        "mutation($c: ID!, $t: DateTime) { createInteraction(input: {customerId: $c, kind: \"call\", "
        "occurredAt: $t}) { id } }", {"c": customer_id, "t": "0001-01-01T00:00:00+14:00"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


def test_nul_in_a_mounted_plugin_path_segment_is_refused_in_the_plugins_own_error_format(client):
    # the Open311 blueprint is public (no token needed) and looked the token up in PostgreSQL as it came;
    # the refusal reaches the blueprint's error handler, so Open311 clients get an Open311 error list
    response = client.get("/open311/v2/tokens/abc%00def.json")
    assert response.status_code == 400
    assert response.get_json() == [{"code": 400, "description": f"token: {NUL_MESSAGE}"}]
