"""Contacts and interactions over REST, and the customer timeline."""
from __future__ import annotations

from datetime import datetime

from core.db import utcnow
from tests.api.rest.test_customers import create


def add_contact(api, customer_id, who="rep", **fields):
    response = api.as_(who).post("/api/v1/contacts", json={"customer_id": customer_id, "name": "Li Lei", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_first_contact_is_primary_and_a_new_primary_demotes_the_old(api):
    customer = create(api)
    first = add_contact(api, customer["id"])
    assert first["is_primary"] is True
    second = add_contact(api, customer["id"], name="Han Meimei", is_primary=True, email="han@example.com")
    assert second["is_primary"] is True
    listed = api.as_("rep").get(f"/api/v1/contacts?customer_id={customer['id']}").get_json()
    assert {c["name"]: c["is_primary"] for c in listed} == {"Li Lei": False, "Han Meimei": True}


def test_deleting_the_primary_contact_promotes_another(api):
    customer = create(api)
    first = add_contact(api, customer["id"])
    add_contact(api, customer["id"], name="Han Meimei")
    assert api.as_("rep").delete(f"/api/v1/contacts/{first['id']}").status_code == 204
    listed = api.as_("rep").get(f"/api/v1/contacts?customer_id={customer['id']}").get_json()
    assert [(c["name"], c["is_primary"]) for c in listed] == [("Han Meimei", True)]


def test_contact_of_a_customer_you_cannot_see_is_refused(api):
    customer = create(api, who="rep")
    response = api.as_("rep2").post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "X"})
    assert response.status_code == 422 and "customer_id" in response.get_json()["errors"]["json"]


def test_contact_bad_email_is_422(api):
    customer = create(api)
    response = api.as_("rep").post("/api/v1/contacts",
                                   json={"customer_id": customer["id"], "name": "X", "email": "not-an-email"})
    assert response.status_code == 422 and "email" in response.get_json()["errors"]["json"]


def test_interactions_form_the_timeline_newest_first(api):
    customer = create(api)
    for subject, when in [("first call", "2026-01-05T09:00:00+08:00"), ("quote sent", "2026-02-01T10:00:00Z"),
                          ("order", "2026-03-01T10:00:00Z")]:
        kind = "purchase" if subject == "order" else "call"
        response = api.as_("rep").post("/api/v1/interactions", json={
            "customer_id": customer["id"], "kind": kind, "subject": subject, "occurred_at": when,
            **({"amount": "1200.50"} if kind == "purchase" else {})})
        assert response.status_code == 201, response.get_json()
    timeline = api.as_("rep").get(f"/api/v1/customers/{customer['id']}/timeline").get_json()
    assert [i["subject"] for i in timeline] == ["order", "quote sent", "first call"]
    assert timeline[0]["amount"] == "1200.50"
    assert timeline[2]["occurred_at"].startswith("2026-01-05T01:00:00")  # stored and served in UTC


def test_planned_interaction_is_a_task_assigned_to_its_creator(api, people):
    customer = create(api)
    response = api.as_("rep").post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": "visit", "subject": "site visit", "due_at": "2026-12-01T02:00:00Z"})
    body = response.get_json()
    assert response.status_code == 201 and body["status"] == "planned"
    assert body["assignee_id"] == str(people.rep.id)


def test_a_done_interaction_without_a_time_happened_now_and_a_task_has_not_happened_yet(api):
    customer = create(api)
    before = utcnow()
    done = api.as_("rep").post("/api/v1/interactions", json={"customer_id": customer["id"], "kind": "call"})
    assert done.status_code == 201 and done.get_json()["status"] == "done"
    occurred = done.get_json()["occurred_at"]
    assert occurred is not None and datetime.fromisoformat(occurred) >= before.replace(microsecond=0)
    planned = api.as_("rep").post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": "visit", "due_at": "2026-12-01T02:00:00Z"})
    assert planned.status_code == 201 and planned.get_json()["occurred_at"] is None


def test_planned_interaction_without_due_time_is_422(api):
    customer = create(api)
    response = api.as_("rep").post("/api/v1/interactions",
                                   json={"customer_id": customer["id"], "kind": "visit", "status": "planned"})
    assert response.status_code == 422 and "due_at" in response.get_json()["errors"]["json"]


def test_unknown_interaction_kind_is_422_listing_known_ones(api):
    customer = create(api)
    response = api.as_("rep").post("/api/v1/interactions", json={"customer_id": customer["id"], "kind": "telepathy"})
    assert response.status_code == 422
    assert "call" in response.get_json()["errors"]["json"]["kind"][0]


def test_interaction_with_a_contact_of_another_customer_is_422(api):
    one, other = create(api, name="One"), create(api, name="Other")
    contact = add_contact(api, other["id"])
    response = api.as_("rep").post("/api/v1/interactions", json={
        "customer_id": one["id"], "kind": "call", "contact_id": contact["id"]})
    assert response.status_code == 422 and "contact_id" in response.get_json()["errors"]["json"]


def test_naive_datetime_is_refused(api):
    customer = create(api)
    response = api.as_("rep").post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": "call", "occurred_at": "2026-01-05T09:00:00"})
    assert response.status_code == 422 and "occurred_at" in response.get_json()["errors"]["json"]


def test_other_reps_cannot_see_the_timeline(api):
    customer = create(api)
    assert api.as_("rep2").get(f"/api/v1/customers/{customer['id']}/timeline").status_code == 404


def test_survey_answers_carry_a_score_on_its_scale(api):
    customer = create(api)
    ok = api.as_("rep").post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": "survey", "score": 9, "score_scale": "nps"})
    assert ok.status_code == 201 and ok.get_json()["score"] == 9
    for bad in ({"score": 9, "score_scale": "csat"}, {"score": 3}, {"score": 11, "score_scale": "nps"}):
        response = api.as_("rep").post("/api/v1/interactions", json={"customer_id": customer["id"], "kind": "survey", **bad})
        assert response.status_code == 422 and "score" in response.get_json()["errors"]["json"], bad


def _contacts(api, customer_id, deleted=False):
    response = api.as_("rep").get(f"/api/v1/contacts?customer_id={customer_id}&deleted={str(deleted).lower()}")
    assert response.status_code == 200, response.get_json()
    return {c["name"]: c for c in response.get_json()}


def test_a_later_contact_is_not_primary_unless_asked_and_other_customers_do_not_count(api):
    one, other = create(api, name="One"), create(api, name="Other")
    add_contact(api, other["id"], name="Elsewhere")              # another customer's primary contact
    first = add_contact(api, one["id"])
    second = add_contact(api, one["id"], name="Han Meimei")
    assert (first["is_primary"], second["is_primary"]) == (True, False)


def test_making_a_contact_primary_by_update_demotes_the_old_one_and_is_audited(api):
    customer = create(api)
    first = add_contact(api, customer["id"])
    second = add_contact(api, customer["id"], name="Han Meimei")
    renamed = api.as_("rep").patch(f"/api/v1/contacts/{first['id']}", json={"version": first["version"],
                                                                           "title": "Buyer"})
    assert renamed.status_code == 200 and renamed.get_json()["is_primary"] is True  # a primary may be edited
    promoted = api.as_("rep").patch(f"/api/v1/contacts/{second['id']}", json={"version": second["version"],
                                                                             "is_primary": True})
    assert promoted.status_code == 200, promoted.get_json()
    listed = _contacts(api, customer["id"])
    assert {n: c["is_primary"] for n, c in listed.items()} == {"Li Lei": False, "Han Meimei": True}
    assert listed["Li Lei"]["version"] == renamed.get_json()["version"] + 1  # the demotion is a change
    trail = api.as_("admin").get(f"/api/v1/audit?record_id={second['id']}").get_json()
    assert [e["action"] for e in trail] == ["contact.updated", "contact.created"]
    assert trail[0]["changes"] == {"is_primary": [False, True]}
    again = api.as_("rep").patch(f"/api/v1/contacts/{second['id']}",
                                 json={"version": promoted.get_json()["version"], "is_primary": True})
    assert again.status_code == 200 and again.get_json()["version"] == promoted.get_json()["version"]


def test_the_primary_contact_cannot_be_unmarked_only_replaced(api):
    customer = create(api)
    first = add_contact(api, customer["id"])
    response = api.as_("rep").patch(f"/api/v1/contacts/{first['id']}",
                                    json={"version": first["version"], "is_primary": False})
    assert response.status_code == 422 and list(response.get_json()["errors"]["json"]) == ["is_primary"]
    assert _contacts(api, customer["id"])["Li Lei"]["is_primary"] is True


def test_a_deleted_primary_contact_stops_being_primary_and_comes_back_as_an_ordinary_one(api):
    customer = create(api)
    first = add_contact(api, customer["id"])
    add_contact(api, customer["id"], name="Han Meimei")
    assert api.as_("rep").delete(f"/api/v1/contacts/{first['id']}").status_code == 204
    assert _contacts(api, customer["id"], deleted=True)["Li Lei"]["is_primary"] is False
    assert api.as_("rep").post(f"/api/v1/contacts/{first['id']}/restore").status_code == 200
    assert {n: c["is_primary"] for n, c in _contacts(api, customer["id"]).items()} == {
        "Li Lei": False, "Han Meimei": True}


def test_deleting_the_only_contact_leaves_no_primary_behind(api):
    customer = create(api)
    only = add_contact(api, customer["id"])
    assert api.as_("rep").delete(f"/api/v1/contacts/{only['id']}").status_code == 204
    assert _contacts(api, customer["id"]) == {}
    assert _contacts(api, customer["id"], deleted=True)["Li Lei"]["is_primary"] is False


def test_contact_search_takes_percent_and_underscore_literally(api):
    customer = create(api)
    add_contact(api, customer["id"], name="Wang_Fang")
    add_contact(api, customer["id"], name="WangXFang", is_primary=True)
    url = f"/api/v1/contacts?customer_id={customer['id']}&q="
    assert [c["name"] for c in api.as_("rep").get(url + "wang_f").get_json()] == ["Wang_Fang"]
    assert api.as_("rep").get(url + "%25").get_json() == []  # a "%" is not a wildcard


def test_editing_an_ordinary_contact_leaves_the_primary_where_it_is(api):
    customer = create(api)
    add_contact(api, customer["id"])
    second = add_contact(api, customer["id"], name="Han Meimei")
    edited = api.as_("rep").patch(f"/api/v1/contacts/{second['id']}", json={"version": second["version"],
                                                                           "title": "Buyer"})
    assert edited.status_code == 200 and edited.get_json()["is_primary"] is False
    kept = api.as_("rep").patch(f"/api/v1/contacts/{second['id']}", json={"version": edited.get_json()["version"],
                                                                         "is_primary": False})
    assert kept.status_code == 200 and kept.get_json()["is_primary"] is False
    assert {n: c["is_primary"] for n, c in _contacts(api, customer["id"]).items()} == {
        "Li Lei": True, "Han Meimei": False}


def test_an_interaction_edit_is_audited_with_its_changes_and_a_no_op_edit_is_not(api):
    customer = create(api)
    made = api.as_("rep").post("/api/v1/interactions", json={"customer_id": customer["id"], "kind": "call",
                                                             "subject": "first call"}).get_json()
    url = f"/api/v1/interactions/{made['id']}"
    edited = api.as_("rep").patch(url, json={"version": made["version"], "subject": "intro call"})
    assert edited.status_code == 200, edited.get_json()
    same = api.as_("rep").patch(url, json={"version": edited.get_json()["version"], "subject": "intro call"})
    assert same.status_code == 200 and same.get_json()["version"] == edited.get_json()["version"]
    trail = api.as_("admin").get(f"/api/v1/audit?record_id={made['id']}").get_json()
    assert [e["action"] for e in trail] == ["interaction.updated", "interaction.created"]
    assert trail[0]["changes"] == {"subject": ["first call", "intro call"]}
