"""Every list of the app exports (#15 item 3): each GET route whose OpenAPI 200 response is a list (an array,
or paged with X-Pagination) is the ``route`` an export type declares (``Export.route``, the core's and
every built-in plugin's), or is excluded here with the reason. The route → type mapping is the types'
declared data, never guessed from names; a declared route must be a list of the served document."""
from __future__ import annotations

import json

import pytest

from core.exports import export_types
from tests.api.rest.test_customers import create

API = "/api/v1"

#: the lists that are not exported, and why
EXCLUDED = {
    "/metrics": "the metrics the app declares (a catalogue describing the app; each metric's rows are GET "
                "/metrics/<name>)",
    "/plugins": "the enabled plugins (describes the app)",
    "/workflows": "the declared workflows and their states (describes the app)",
    "/imports/types": "the import types and their columns (describes the app)",
    "/exports": "the export types, their columns and filters (describes the app)",
    "/customers/{record_id}/timeline": "a customer's live interactions: the `interactions` export with "
                                       "customer_id=<id> writes the same records (in the import's columns)",
    "/retail-membership/memberships/{membership_id}/purchases": "a member's purchases: the "
                                                               "`retail_membership.purchases` export with "
                                                               "membership_id=<id>",
    "/property-service/customers/{customer_id}/requests": "a customer's service requests: the "
                                                          "`property_service.requests` export with requester_id=<id>",
    "/property-service/customers/{customer_id}/units": "a customer's units: the `property_service.occupancies` "
                                                       "export with customer_id=<id> (which also holds links to "
                                                       "units deleted since)",
}

def _resolve(document, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema or {}


def list_routes(document) -> set[str]:
    """The GET paths (below /api/v1) whose 200 answer is a list: a JSON array, or a page (X-Pagination)."""
    found = set()
    for path, operations in document["paths"].items():
        ok = (operations.get("get") or {}).get("responses", {}).get("200")
        if not ok or not path.startswith(API):
            continue
        ok = _resolve(document, ok)
        schema = _resolve(document, ok.get("content", {}).get("application/json", {}).get("schema"))
        if schema.get("type") == "array" or "X-Pagination" in ok.get("headers", {}):
            found.add(path[len(API):])
    return found


@pytest.fixture
def document(api):
    response = api.get(f"{API}/openapi.json")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def declared(runtime):
    """Each export type's declared route → its names."""
    routes: dict[str, list[str]] = {}
    for name, export_type in export_types(runtime).items():
        routes.setdefault(export_type.export.route, []).append(name)
    return routes


def test_the_finder_takes_arrays_and_pages_and_leaves_single_records():
    document = {"components": {"schemas": {"Many": {"type": "array", "items": {}}}}, "paths": {
        f"{API}/a": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"type": "array"}}}}}}},
        f"{API}/b": {"get": {"responses": {"200": {"headers": {"X-Pagination": {}}, "content": {}}}}},
        f"{API}/c": {"get": {"responses": {"200": {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Many"}}}}}}},
        f"{API}/d": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"type": "object"}}}}}}},
        f"{API}/e": {"post": {"responses": {"200": {"content": {"application/json": {"schema": {"type": "array"}}}}}}},
    }}
    assert list_routes(document) == {"/a", "/b", "/c"}


def test_every_list_route_is_exported_or_excluded_with_a_reason(document, declared):
    lists = list_routes(document)
    assert {"/customers", "/customers/{customer_id}/history", "/analytics/win-back"} <= lists   # the finder finds
    missing = sorted(lists - set(declared) - set(EXCLUDED))
    assert not missing, ("lists neither exported (declare Export.route on the export type) nor excluded with a "
                         f"reason: {missing}")


def test_every_export_type_declares_the_list_route_it_exports(document, declared):
    lists = list_routes(document)
    assert None not in declared, f"export types without a route: {declared.get(None)}"
    assert not {route for route in declared if route not in lists}, "declared routes that are no list of the API"
    assert not {route: names for route, names in declared.items() if len(names) > 1}, "one list, two export types"


def test_the_exclusions_are_lists_that_do_not_export(document, declared):
    lists = list_routes(document)
    assert set(EXCLUDED) <= lists, f"excluded routes that are no list of the API: {sorted(set(EXCLUDED) - lists)}"
    assert not set(EXCLUDED) & set(declared), (f"exported now, drop from the exclusions: "
                                               f"{sorted(set(EXCLUDED) & set(declared))}")
    assert all(reason.strip() for reason in EXCLUDED.values())


def test_a_customers_timeline_is_the_interactions_export_with_its_customer(api):
    customer = create(api, name="Timeline Co")
    for subject in ("Call", "Visit"):
        response = api.as_("rep").post(f"{API}/interactions", json={"customer_id": customer["id"], "kind": "call",
                                                                       "subject": subject})
        assert response.status_code == 201, response.get_json()
    listed = api.as_("rep").get(f"{API}/customers/{customer['id']}/timeline").get_json()
    exported = api.as_("rep").get(f"{API}/exports/interactions?format=jsonl&customer_id={customer['id']}")
    rows = [json.loads(line) for line in exported.get_data(as_text=True).splitlines()]
    assert sorted(r["subject"] for r in rows) == sorted(i["subject"] for i in listed) == ["Call", "Visit"]
