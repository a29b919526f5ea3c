"""What each item of a REST list carries: a light default, `?expand=` for the heavier parts, `?fields=` for
a sparse fieldset (issue #16: a page of 100 customers was 158 KB, most of it the analytics block)."""
from __future__ import annotations

import json
import uuid

from api.testing import pin_statements, rest_list
from core.services import customers


def make_customers(runtime, people, have, want):
    with runtime.database.unit_of_work():
        for i in range(have, want):
            customers.create(people.rep, {"name": f"Customer {i:03d}", "industry": "retail"})


def test_a_customer_list_leaves_the_analytics_out_unless_expanded_and_a_read_by_id_keeps_them(api, runtime, people):
    make_customers(runtime, people, 0, 3)
    plain = rest_list(api.as_("rep").get("/api/v1/customers"))
    assert len(plain) == 3 and all("analytics" not in c and c["name"] and c["version"] == 1 for c in plain)
    expanded = rest_list(api.as_("rep").get("/api/v1/customers?expand=analytics"))
    assert all(c["analytics"]["rfm"]["reason"].startswith("not analysed yet") for c in expanded)
    assert {k for k in expanded[0]} - {k for k in plain[0]} == {"analytics"}
    one = api.as_("rep").get(f"/api/v1/customers/{plain[0]['id']}").get_json()
    assert "analytics" in one


def test_a_sparse_fieldset_gives_those_fields_and_the_id(api, runtime, people):
    make_customers(runtime, people, 0, 2)
    items = rest_list(api.as_("rep").get("/api/v1/customers?fields=name,version&sort=name"))
    assert [sorted(c) for c in items] == [["id", "name", "version"]] * 2
    assert [c["name"] for c in items] == ["Customer 000", "Customer 001"]
    with_analytics = rest_list(api.as_("rep").get("/api/v1/customers?fields=name,analytics"))
    assert sorted(with_analytics[0]) == ["analytics", "id", "name"]
    contacts = rest_list(api.as_("rep").get("/api/v1/contacts?fields=customer_id"))
    assert contacts == []


def test_unknown_fields_and_expansions_are_422_naming_the_argument_and_the_choices(api, runtime, people):
    make_customers(runtime, people, 0, 1)
    bad = api.as_("rep").get("/api/v1/customers?fields=name,password_hash")
    assert bad.status_code == 422
    assert "password_hash" in bad.get_json()["errors"]["json"]["fields"][0]
    assert "industry" in bad.get_json()["errors"]["json"]["fields"][0]
    bad = api.as_("rep").get("/api/v1/customers?expand=contacts")
    assert bad.status_code == 422 and "analytics" in bad.get_json()["errors"]["json"]["expand"][0]
    bad = api.as_("rep").get("/api/v1/contacts?expand=analytics")
    assert bad.status_code == 422 and "nothing" in bad.get_json()["errors"]["json"]["expand"][0]


def test_the_arguments_are_documented_on_every_list(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in spec["paths"]["/api/v1/customers"]["get"]["parameters"]}
    assert "analytics" in params["expand"]["schema"].get("description", params["expand"].get("description", ""))
    assert "fields" in params
    contact_params = {p["name"] for p in spec["paths"]["/api/v1/contacts"]["get"]["parameters"]}
    assert {"fields", "expand"} <= contact_params


def test_a_light_customer_list_costs_two_statements_whatever_its_length(api, runtime, people, count_queries):
    # the token with its user; the page with its total and the page's tags in one statement; the analytics
    # block (two more) only when expanded (tests/core/analytics/test_service.py pins that one)
    grow = lambda have, want: make_customers(runtime, people, have, want)  # noqa: E731
    light = pin_statements(count_queries, grow=grow, expected=2,
                           fetch=lambda n: rest_list(api.as_("rep").get(f"/api/v1/customers?page_size={n}")))
    assert all("analytics" not in c for c in light)


def test_a_light_page_of_100_customers_is_a_fraction_of_the_expanded_one(api, runtime, people):
    make_customers(runtime, people, 0, 100)
    light = api.as_("rep").get("/api/v1/customers?page_size=100")
    full = api.as_("rep").get("/api/v1/customers?page_size=100&expand=analytics")
    assert len(rest_list(light)) == len(rest_list(full)) == 100
    assert len(light.data) * 3 < len(full.data), (len(light.data), len(full.data))
    assert json.loads(light.headers["X-Pagination"])["total"] == 100


def test_a_create_and_a_read_by_id_cost_a_pinned_number_of_statements(api, runtime, people, count_queries):
    api.as_("rep").post("/api/v1/customers", json={"name": "Warm-up"})  # process-wide caches fill
    with count_queries() as created:
        response = api.as_("rep").post("/api/v1/customers", json={"name": "Counted Ltd"})
    assert response.status_code == 201 and response.get_json()["analytics"]["rfm"]["reason"]
    # the token with its user; the customer; its audit entry, outbox event and level history: on
    # PostgreSQL one statement (core/side_rows.py), on SQLite one per table. The webhook subscriptions the
    # event may go to are the process's copy (read by the warm-up); a new customer has no analytics:
    # nothing is read to find either out.
    postgresql = runtime.database.engine.dialect.name == "postgresql"
    assert created.count == (3 if postgresql else 5), "\n".join(s[:120] for s in created.statements)
    with count_queries() as read:
        body = api.as_("rep").get(f"/api/v1/customers/{response.get_json()['id']}").get_json()
    assert body["name"] == "Counted Ltd" and "analytics" in body
    # the token with its user; the customer with its tags and its analytics in one statement
    assert read.count == 2, "\n".join(s[:120] for s in read.statements)
    # an admin's read (one statement built once for every id), of a customer with tags
    tagged = api.as_("rep").post("/api/v1/customers", json={"name": "Tagged", "tags": ["vip", "b2b", "东区"]})
    with count_queries() as read:
        body = api.get(f"/api/v1/customers/{tagged.get_json()['id']}").get_json()
    assert body["name"] == "Tagged" and body["tags"] == sorted(["vip", "b2b", "东区"]) and "analytics" in body
    assert read.count == 2, "\n".join(s[:120] for s in read.statements)
    assert api.get(f"/api/v1/customers/{uuid.uuid4()}").status_code == 404


def test_the_total_comes_with_the_page_and_a_page_past_the_end_still_counts_it(api, runtime, people, count_queries):
    # the total is read in the page's statement; a page with no rows has none to carry it, so an empty page
    # past the start counts in a statement of its own (the first page of an empty list knows it is 0)
    with count_queries() as empty:
        none = api.as_("rep").get("/api/v1/customers?page_size=2")
    assert rest_list(none) == [] and json.loads(none.headers["X-Pagination"])["total"] == 0
    assert empty.count == 2, "\n".join(s[:120] for s in empty.statements)
    make_customers(runtime, people, 0, 3)
    last = api.as_("rep").get("/api/v1/customers?page_size=2&page=2")
    assert [c["name"] for c in rest_list(last)] == ["Customer 002"]
    assert json.loads(last.headers["X-Pagination"])["total"] == 3
    with count_queries() as past:
        beyond = api.as_("rep").get("/api/v1/customers?page_size=2&page=3")
    assert beyond.status_code == 200 and rest_list(beyond) == []
    assert json.loads(beyond.headers["X-Pagination"])["total"] == 3
    assert past.count == 3, "\n".join(s[:120] for s in past.statements)


def test_a_body_keeps_the_schemas_field_order(api, runtime, people):
    # unsorted JSON (sorting the keys was half the encoding time of a page of 100): the order CustomerOut declares
    make_customers(runtime, people, 0, 1)
    item = rest_list(api.as_("rep").get("/api/v1/customers"))[0]
    assert list(item)[:6] == ["id", "created_at", "updated_at", "version", "deleted_at", "kind"]
    one = api.as_("rep").get(f"/api/v1/customers/{item['id']}").get_json()
    assert list(one)[0] == "id" and list(one)[-1] == "analytics"
