"""Customers, contacts and interactions over GraphQL: what REST wrote reads back, the house mutation
shape, pagination, filters, ordering and the permission scope."""
from __future__ import annotations

from datetime import datetime

from core.models import Customer
from tests.api.graphql.helpers import error, ok, rest_contact, rest_customer, rows

CUSTOMER = """query($id: ID!) { customer(id: $id) {
    id name industry tags version stage ownerId owner { email }
    contacts { edges { node { name isPrimary customer { id name } } } }
} }"""

CREATE = """mutation($input: CustomerCreateInput!) { createCustomer(input: $input) {
    id name version tags owner { email } } }"""
UPDATE = """mutation($id: ID!, $input: CustomerUpdateInput!) { updateCustomer(id: $id, input: $input) {
    id name region version } }"""


def create(api, who="rep", **fields) -> dict:
    body = api.as_(who).graphql(CREATE, {"input": {"name": "Acme Trading", **fields}})
    return ok(body)["createCustomer"]


def test_customer_created_over_rest_reads_back_over_graphql_with_its_contacts(api):
    customer = rest_customer(api, industry="textiles", tags=["vip"])
    rest_contact(api, customer["id"], name="Han Meimei")
    rest_contact(api, customer["id"], name="Li Lei")

    data = ok(api.as_("rep").graphql(CUSTOMER, {"id": customer["id"]}))["customer"]

    assert data["id"] == customer["id"]  # the same identity in REST and GraphQL
    assert data["name"] == "Acme Trading" and data["industry"] == "textiles" and data["tags"] == ["vip"]
    assert data["version"] == 1 and data["stage"] == "POTENTIAL"
    assert data["owner"] == {"email": "rep@example.com"} and data["ownerId"] == customer["owner_id"]
    contacts = [edge["node"] for edge in data["contacts"]["edges"]]
    assert [c["name"] for c in contacts] == ["Han Meimei", "Li Lei"]   # the first one is primary
    assert [c["isPrimary"] for c in contacts] == [True, False]
    assert contacts[0]["customer"] == {"id": customer["id"], "name": "Acme Trading"}


def test_me_is_the_signed_in_user(api):
    assert ok(api.as_("manager").graphql("{ me { email role teamId } }"))["me"]["email"] == "manager@example.com"


def test_create_mutation_returns_the_record_owned_by_its_creator(api, runtime):
    before = rows(runtime, Customer)
    created = create(api, tags=["export", "vip"])
    assert created["name"] == "Acme Trading" and created["version"] == 1
    assert created["tags"] == ["export", "vip"] and created["owner"] == {"email": "rep@example.com"}
    assert rows(runtime, Customer) == before + 1
    # and REST sees the same record
    assert api.as_("rep").get(f"/api/v1/customers/{created['id']}").get_json()["name"] == "Acme Trading"


def test_update_with_the_version_read_changes_the_record_and_bumps_the_version(api):
    created = create(api)
    body = api.as_("rep").graphql(UPDATE, {"id": created["id"], "input": {"version": 1, "region": "华东"}})
    assert ok(body)["updateCustomer"] == {"id": created["id"], "name": "Acme Trading", "region": "华东", "version": 2}


def test_update_with_a_stale_version_is_a_conflict_and_changes_nothing(api):
    created = create(api)
    ok(api.as_("rep").graphql(UPDATE, {"id": created["id"], "input": {"version": 1, "region": "North"}}))

    body = api.as_("rep").graphql(UPDATE, {"id": created["id"], "input": {"version": 1, "region": "South"}})

    err = error(body, "CONFLICT")
    assert "version" in err["extensions"]["fields"]
    assert body["data"] == {"updateCustomer": None}
    again = ok(api.as_("rep").graphql(CUSTOMER.replace("industry", "region"), {"id": created["id"]}))["customer"]
    assert again["region"] == "North" and again["version"] == 2


def test_delete_returns_the_deleted_record_and_restore_brings_it_back(api):
    created = create(api)
    deleted = ok(api.as_("rep").graphql("mutation($id: ID!) { deleteCustomer(id: $id) { id deletedAt } }",
                                        {"id": created["id"]}))["deleteCustomer"]
    assert deleted["id"] == created["id"] and deleted["deletedAt"]
    gone = api.as_("rep").graphql(CUSTOMER, {"id": created["id"]})
    error(gone, "NOT_FOUND")
    in_bin = ok(api.as_("rep").graphql("{ customers(filter: {deleted: true}) { totalCount } }"))
    assert in_bin["customers"]["totalCount"] == 1

    restored = ok(api.as_("rep").graphql("mutation($id: ID!) { restoreCustomer(id: $id) { id deletedAt } }",
                                         {"id": created["id"]}))["restoreCustomer"]
    assert restored == {"id": created["id"], "deletedAt": None}
    assert ok(api.as_("rep").graphql(CUSTOMER, {"id": created["id"]}))["customer"]["name"] == "Acme Trading"


def test_contact_and_interaction_mutations_follow_the_same_shape(api):
    customer = create(api)
    contact = ok(api.as_("rep").graphql(
        """mutation($input: ContactCreateInput!) { createContact(input: $input) {
             id name birthday isPrimary version customer { id } } }""",
        {"input": {"customerId": customer["id"], "name": "Wang Fang", "birthday": "1990-05-04"}}))["createContact"]
    assert contact["birthday"] == "1990-05-04" and contact["isPrimary"] and contact["customer"]["id"] == customer["id"]

    updated = ok(api.as_("rep").graphql(
        """mutation($id: ID!, $input: ContactUpdateInput!) { updateContact(id: $id, input: $input) { title version } }""",
        {"id": contact["id"], "input": {"version": contact["version"], "title": "采购经理"}}))["updateContact"]
    assert updated == {"title": "采购经理", "version": contact["version"] + 1}

    interaction = ok(api.as_("rep").graphql(
        """mutation($input: InteractionCreateInput!) { createInteraction(input: $input) {
             id kind subject amount status occurredAt contact { name } customer { name } createdBy { email } } }""",
        {"input": {"customerId": customer["id"], "contactId": contact["id"], "kind": "PURCHASE",
                   "subject": "First order", "amount": "1200.50", "occurredAt": "2024-03-01T08:00:00+00:00"}}
    ))["createInteraction"]
    assert interaction["kind"] == "PURCHASE" and interaction["amount"] == "1200.50"
    assert interaction["status"] == "DONE" and interaction["occurredAt"].startswith("2024-03-01T08:00:00")
    assert interaction["contact"] == {"name": "Wang Fang"} and interaction["customer"] == {"name": "Acme Trading"}
    assert interaction["createdBy"] == {"email": "rep@example.com"}

    for kind in ("Contact", "Interaction"):
        record_id = contact["id"] if kind == "Contact" else interaction["id"]
        deleted = ok(api.as_("rep").graphql(f"mutation($id: ID!) {{ delete{kind}(id: $id) {{ id deletedAt }} }}",
                                            {"id": record_id}))[f"delete{kind}"]
        assert deleted["id"] == record_id and deleted["deletedAt"]
        error(api.as_("rep").graphql(f"query($id: ID!) {{ {kind.lower()}(id: $id) {{ id }} }}", {"id": record_id}),
              "NOT_FOUND")
        restored = ok(api.as_("rep").graphql(f"mutation($id: ID!) {{ restore{kind}(id: $id) {{ deletedAt }} }}",
                                             {"id": record_id}))[f"restore{kind}"]
        assert restored == {"deletedAt": None}


def test_customers_paginate_with_first_and_after(api):
    for name in ("Alpha", "Beta", "Gamma", "Delta", "Epsilon"):
        create(api, name=name)
    query = """query($after: String) { customers(first: 2, after: $after) {
        totalCount edges { cursor node { name } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""

    names, after, pages = [], None, []
    while True:
        page = ok(api.as_("rep").graphql(query, {"after": after}))["customers"]
        pages.append(page)
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert names == ["Alpha", "Beta", "Delta", "Epsilon", "Gamma"]
    assert [len(p["edges"]) for p in pages] == [2, 2, 1]
    assert all(p["totalCount"] == 5 for p in pages)
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    first = pages[0]
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert first["pageInfo"]["endCursor"] == first["edges"][1]["cursor"]


def test_nested_interactions_paginate_newest_first_with_a_total(api):
    customer = create(api)
    for day in range(1, 6):
        api.as_("rep").post("/api/v1/interactions", json={
            "customer_id": customer["id"], "kind": "call", "subject": f"call {day}",
            "occurred_at": f"2024-01-0{day}T09:00:00+00:00"})
    query = """query($id: ID!, $after: String) { customer(id: $id) { interactions(first: 2, after: $after) {
        totalCount edges { node { subject } } pageInfo { hasNextPage endCursor } } } }"""

    first = ok(api.as_("rep").graphql(query, {"id": customer["id"]}))["customer"]["interactions"]
    second = ok(api.as_("rep").graphql(query, {"id": customer["id"], "after": first["pageInfo"]["endCursor"]})
                )["customer"]["interactions"]

    assert [e["node"]["subject"] for e in first["edges"]] == ["call 5", "call 4"]
    assert [e["node"]["subject"] for e in second["edges"]] == ["call 3", "call 2"]
    assert first["totalCount"] == second["totalCount"] == 5
    assert first["pageInfo"]["hasNextPage"] and second["pageInfo"]["hasNextPage"]


def test_customers_filter_and_order_by(api):
    for name, industry in [("Beta", "retail"), ("Alpha", "retail"), ("Gamma", "software")]:
        create(api, name=name, industry=industry)
    body = api.as_("rep").graphql(
        '{ customers(filter: {industry: "retail"}, orderBy: [{field: NAME, direction: DESC}]) { totalCount edges { node { name } } } }')
    data = ok(body)["customers"]
    assert data["totalCount"] == 2 and [e["node"]["name"] for e in data["edges"]] == ["Beta", "Alpha"]
    newest_first = ok(api.as_("rep").graphql('{ customers(orderBy: [{field: CREATED_AT, direction: DESC}, {field: NAME}]) { edges { node { name } } } }'))
    assert [e["node"]["name"] for e in newest_first["customers"]["edges"]] == ["Gamma", "Alpha", "Beta"]
    by_text = ok(api.as_("rep").graphql('{ customers(filter: {q: "alp"}) { edges { node { name } } } }'))
    assert [e["node"]["name"] for e in by_text["customers"]["edges"]] == ["Alpha"]


def test_unknown_order_key_names_order_by(api):
    # an ordering the service does not support cannot be written: the field enum has no such value
    err = error(api.as_("rep").graphql('{ customers(orderBy: [{field: PASSWORD}]) { totalCount } }'), "BAD_USER_INPUT")
    assert "PASSWORD" in err["message"] and "CustomerOrderField" in err["message"]
    assert [key.split(".")[0] for key in err["extensions"]["fields"]] == ["orderBy"]
    err = error(api.as_("rep").graphql('{ customers(orderBy: "-name") { totalCount } }'), "BAD_USER_INPUT")
    assert [key.split(".")[0] for key in err["extensions"]["fields"]] == ["orderBy"]
    err = error(api.as_("rep").graphql('{ customers(filter: {stage: "sleepy"}) { totalCount } }'), "BAD_USER_INPUT")
    assert list(err["extensions"]["fields"]) == ["filter.stage"]


def test_rep_sees_only_own_customers(api):
    mine = create(api, "rep", name="Mine")
    create(api, "rep2", name="Colleague's")
    create(api, "other_rep", name="Other team's")

    def names(who):
        data = ok(api.as_(who).graphql("{ customers { totalCount edges { node { name } } } }"))["customers"]
        return sorted(e["node"]["name"] for e in data["edges"])

    assert names("rep") == ["Mine"]
    assert names("manager") == ["Colleague's", "Mine"]
    assert names("admin") == ["Colleague's", "Mine", "Other team's"]
    assert ok(api.as_("rep").graphql(CUSTOMER, {"id": mine["id"]}))["customer"]["name"] == "Mine"


def test_another_reps_customer_is_not_found_never_forbidden(api, runtime):
    theirs = create(api, "rep2", name="Not yours")
    read = api.as_("rep").graphql(CUSTOMER, {"id": theirs["id"]})
    assert error(read, "NOT_FOUND")["path"] == ["customer"] and read["data"] == {"customer": None}

    write = api.as_("rep").graphql(UPDATE, {"id": theirs["id"], "input": {"version": 1, "name": "Mine now"}})
    error(write, "NOT_FOUND")
    delete = api.as_("rep").graphql("mutation($id: ID!) { deleteCustomer(id: $id) { id } }", {"id": theirs["id"]})
    error(delete, "NOT_FOUND")
    assert ok(api.as_("rep2").graphql(CUSTOMER, {"id": theirs["id"]}))["customer"]["name"] == "Not yours"


def test_giving_a_customer_to_another_team_is_forbidden(api, people):
    err = error(api.as_("manager").graphql(CREATE, {"input": {"name": "X", "ownerId": str(people.other_rep.id)}}),
                "FORBIDDEN")
    assert "assign" in err["message"]


def test_unauthenticated_request_gets_unauthenticated_and_runs_nothing(api, runtime):
    before = rows(runtime, Customer)
    anonymous = api.as_(None)
    for query in ("{ customers { totalCount } }", "{ __typename }",
                  'mutation { createCustomer(input: {name: "Sneaky"}) { id } }'):
        body = anonymous.graphql(query)
        assert body["data"] is None
        error(body, "UNAUTHENTICATED")
    bad_token = anonymous.graphql("{ me { email } }", headers={"Authorization": "Bearer trl_not-a-token"})
    error(bad_token, "UNAUTHENTICATED")
    assert rows(runtime, Customer) == before


def test_labels_metrics_and_plugins(api):
    stages = ok(api.as_("rep").graphql('{ labels(vocabulary: "lifecycle_stage") { name choices { value label { en zhCn } } } }'))
    assert stages["labels"][0]["name"] == "lifecycle_stage"
    assert stages["labels"][0]["choices"][0] == {"value": "potential", "label": {"en": "Potential", "zhCn": "潜在客户"}}
    error(api.as_("rep").graphql('{ labels(vocabulary: "colours") { name } }'), "BAD_USER_INPUT")

    create(api, name="One", industry="retail")
    create(api, name="Two", industry="retail")
    metrics = ok(api.as_("rep").graphql("{ metrics { name label { en } groupBy owner } }"))["metrics"]
    assert {"name": "customers", "label": {"en": "Customers"}, "owner": "core"}.items() <= \
        next(m for m in metrics if m["name"] == "customers").items()
    grouped = ok(api.as_("rep").graphql('{ metric(name: "customers", groupBy: "industry") { name rows { group value } } }'))
    assert grouped["metric"]["rows"] == [{"group": {"industry": "retail"}, "value": 2}]
    bad_group = error(api.as_("rep").graphql('{ metric(name: "customers", groupBy: "colour") { name } }'),
                      "BAD_USER_INPUT")
    assert list(bad_group["extensions"]["fields"]) == ["groupBy"]
    error(api.as_("rep").graphql('{ metric(name: "nope") { name } }'), "NOT_FOUND")

    plugins = ok(api.as_("rep").graphql("{ plugins { name version } }"))["plugins"]
    assert {p["name"] for p in plugins} >= {"exhibitions", "retail_membership", "property_service"}


def test_metric_says_when_it_was_computed_and_whether_it_was_stored(api, monkeypatch, runtime):
    import dataclasses

    create(api, name="One", industry="retail")
    query = '{ metric(name: "customers"%s) { computedAt materialised rows { value } } }'
    live = ok(api.as_("rep").graphql(query % ""))["metric"]
    assert live["materialised"] is False and live["rows"] == [{"value": 1}]
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, metric_materialise_after_ms=0))
    first = ok(api.as_("rep").graphql(query % ""))["metric"]
    create(api, name="Two", industry="retail")
    second = ok(api.as_("rep").graphql(query % ""))["metric"]
    assert (first["materialised"], second["materialised"]) == (False, True)
    assert second["computedAt"] == first["computedAt"] and second["rows"] == [{"value": 1}]
    refreshed = ok(api.as_("rep").graphql(query % ", refresh: true"))["metric"]
    assert refreshed["materialised"] is False and refreshed["rows"] == [{"value": 2}]
    assert datetime.fromisoformat(refreshed["computedAt"]) > datetime.fromisoformat(first["computedAt"])


def test_a_task_assigned_outside_the_customers_scope_lists_without_its_customer(api, people):
    """The assignee may do a task at a customer they may not read: the task shows, its customer is null
    (never the record, never a server error)."""
    customer = rest_customer(api, "rep", name="East Co")
    task = api.as_("rep").post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": "call", "due_at": "2030-01-01T00:00:00+00:00",
        "assignee_id": str(people.other_rep.id)})
    assert task.status_code == 201, task.get_json()
    body = api.as_("other_rep").graphql(
        "{ interactions { edges { node { id customerId customer { name } } } } }")
    nodes = [e["node"] for e in ok(body)["interactions"]["edges"]]
    assert nodes == [{"id": task.get_json()["id"], "customerId": customer["id"], "customer": None}]
    one = ok(api.as_("other_rep").graphql('{ interaction(id: "%s") { id customer { name } } }' % task.get_json()["id"]))
    assert one["interaction"]["customer"] is None
