"""A soft-deleted customer takes its contacts and interactions out of sight with it (lists, filters by
customer, single reads, the task list of the assignee), and a restore brings them back unchanged."""
from __future__ import annotations

import json

from tests.api.rest.test_contacts_interactions import add_contact
from tests.api.rest.test_customers import create


def add_interaction(api, customer_id, who="rep", **fields):
    response = api.as_(who).post("/api/v1/interactions",
                                 json={"customer_id": customer_id, "kind": "call", "subject": "hello", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _ids(response):
    assert response.status_code == 200, response.get_json()
    return sorted(row["id"] for row in response.get_json())


def test_contacts_of_a_deleted_customer_are_hidden_and_come_back_on_restore(api):
    gone, kept = create(api, name="Gone Ltd"), create(api, name="Kept Ltd")
    hidden = add_contact(api, gone["id"], name="Hidden Person")
    shown = add_contact(api, kept["id"], name="Shown Person")
    assert api.as_("rep").delete(f"/api/v1/customers/{gone['id']}").status_code == 204

    for who in ("rep", "admin"):
        assert _ids(api.as_(who).get("/api/v1/contacts")) == [shown["id"]]
        assert _ids(api.as_(who).get(f"/api/v1/contacts?customer_id={gone['id']}")) == []
        assert api.as_(who).get(f"/api/v1/contacts/{hidden['id']}").status_code == 404

    assert api.as_("rep").post(f"/api/v1/customers/{gone['id']}/restore").status_code == 200
    assert _ids(api.as_("rep").get(f"/api/v1/contacts?customer_id={gone['id']}")) == [hidden["id"]]
    back = api.get("/api/v1/contacts")   # an admin's list asks the bin, not a join (the same rows)
    assert _ids(back) == sorted([hidden["id"], shown["id"]]) and json.loads(back.headers["X-Pagination"])["total"] == 2
    again = api.as_("rep").get(f"/api/v1/contacts/{hidden['id']}")
    assert again.status_code == 200 and again.get_json()["name"] == "Hidden Person"


def test_interactions_of_a_deleted_customer_are_hidden_and_come_back_on_restore(api):
    gone, kept = create(api, name="Gone Ltd"), create(api, name="Kept Ltd")
    hidden = add_interaction(api, gone["id"], subject="hidden call")
    task = add_interaction(api, gone["id"], kind="visit", subject="hidden task", due_at="2026-12-01T02:00:00Z")
    shown = add_interaction(api, kept["id"], subject="shown call")
    assert api.as_("rep").delete(f"/api/v1/customers/{gone['id']}").status_code == 204

    for who in ("rep", "admin"):
        assert _ids(api.as_(who).get("/api/v1/interactions")) == [shown["id"]]
        assert _ids(api.as_(who).get(f"/api/v1/interactions?customer_id={gone['id']}")) == []
        assert api.as_(who).get(f"/api/v1/interactions/{hidden['id']}").status_code == 404
    # the open task no longer shows in its assignee's own task list either
    assert _ids(api.as_("rep").get("/api/v1/interactions?mine=true")) == []

    assert api.as_("rep").post(f"/api/v1/customers/{gone['id']}/restore").status_code == 200
    assert _ids(api.as_("rep").get(f"/api/v1/interactions?customer_id={gone['id']}")) == sorted(
        [hidden["id"], task["id"]])
    assert api.as_("rep").get(f"/api/v1/interactions/{hidden['id']}").status_code == 200
    back = api.get("/api/v1/interactions")   # an admin's list asks the bin, not a join (the same rows)
    assert _ids(back) == sorted([hidden["id"], task["id"], shown["id"]])
    assert json.loads(back.headers["X-Pagination"])["total"] == 3
    assert api.get(f"/api/v1/interactions/{task['id']}").status_code == 200
