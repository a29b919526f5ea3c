"""Global object identification: every record type implements ``Node``; ``node(id:)`` and ``nodes(ids:)``
find any record within the caller's scope (null otherwise), at a fixed statement cost."""
from __future__ import annotations

import uuid

from graphql import GraphQLNonNull, GraphQLObjectType
from sqlalchemy import select

from tests import sample_plugin
from tests.api.graphql.helpers import app_with, error, ok, rest_contact, rest_customer
from api.testing import pin_statements

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


def _schema(app):
    return app.extensions["trellis.graphql"]


def _types_with_an_id(schema):
    for name, gql_type in schema._schema.type_map.items():
        if isinstance(gql_type, GraphQLObjectType) and not name.startswith("__"):
            field = gql_type.fields.get("id")
            if field is not None and isinstance(field.type, GraphQLNonNull) and str(field.type.of_type) == "ID":
                yield name, gql_type


def test_every_type_with_an_id_implements_node(app, database_url, connection, people):
    with app_with(database_url, connection, sample_plugin, people=people) as (api, runtime):
        schemas = [_schema(app), _schema(api.client.application)]
    for schema in schemas:
        node_types = dict(_types_with_an_id(schema))
        assert "Customer" in node_types
        for name, gql_type in node_types.items():
            assert [i.name for i in gql_type.interfaces] == ["Node"], name
        assert set(schema.trellis_registry.node_sources()) == set(node_types)
    assert "SampleNote" in dict(_types_with_an_id(schemas[1]))


def test_node_finds_a_customer_in_scope_and_null_out_of_it(api, people):
    mine = rest_customer(api, "rep")
    theirs = rest_customer(api, "other_rep", name="Zeta Corp")
    found = ok(api.as_("rep").graphql(
        "query($id: ID!) { node(id: $id) { __typename id ... on Customer { name owner { email } } } }",
        {"id": mine["id"]}))
    assert found["node"] == {"__typename": "Customer", "id": mine["id"], "name": "Acme Trading",
                             "owner": {"email": "rep@example.com"}}
    # another rep's customer, an unknown id and a deleted customer all read as null, without an error
    assert ok(api.as_("rep").graphql(NODE, {"id": theirs["id"]})) == {"node": None}
    assert ok(api.as_("rep").graphql(NODE, {"id": str(uuid.uuid4())})) == {"node": None}
    assert api.as_("rep").delete(f"/api/v1/customers/{mine['id']}", json={}).status_code == 204
    assert ok(api.as_("rep").graphql(NODE, {"id": mine["id"]})) == {"node": None}
    # the admin sees the other rep's customer
    assert ok(api.as_("admin").graphql(NODE, {"id": theirs["id"]}))["node"]["__typename"] == "Customer"


def test_a_malformed_id_is_bad_user_input_naming_id(api):
    body = api.as_("rep").graphql(NODE, {"id": "not-a-uuid"})
    err = error(body, "BAD_USER_INPUT")
    assert list(err["extensions"]["fields"]) == ["id"]
    assert body["data"] == {"node": None}
    err = error(api.as_("rep").graphql(NODES, {"ids": [str(uuid.uuid4()), "nope"]}), "BAD_USER_INPUT")
    assert list(err["extensions"]["fields"]) == ["ids"]


def test_nodes_mix_types_keep_order_and_null_what_is_not_visible(api, people):
    customer = rest_customer(api, "rep")
    contact = rest_contact(api, customer["id"], "rep")
    theirs = rest_customer(api, "other_rep", name="Zeta Corp")
    ids = [contact["id"], str(uuid.uuid4()), customer["id"], theirs["id"], str(people.rep.id), contact["id"]]
    data = ok(api.as_("rep").graphql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Contact { name customer { id } } } }",
        {"ids": ids}))
    assert [n and n["__typename"] for n in data["nodes"]] == ["Contact", None, "Customer", None, "User", "Contact"]
    assert [n and n["id"] for n in data["nodes"]] == [contact["id"], None, customer["id"], None, str(people.rep.id),
                                                      contact["id"]]
    assert data["nodes"][0]["customer"] == {"id": customer["id"]}


def test_node_costs_a_fixed_number_of_statements(api, count_queries, people):
    customer = rest_customer(api, "rep")
    contact = rest_contact(api, customer["id"], "rep")
    counts = []
    for rid in (customer["id"], contact["id"], str(people.rep.id), str(uuid.uuid4())):
        api.as_("rep").graphql(NODE, {"id": rid})   # warm-up
        with count_queries() as counter:
            ok(api.as_("rep").graphql(NODE, {"id": rid}))
        counts.append(counter.count)
    # the token with its user (authentication: one join), which table holds the id (one UNION ALL over every node table),
    # the record in the caller's scope (a customer's tags come with it: one selectin); an unknown id stops
    # after the lookup
    assert counts == [4, 3, 3, 2], counts


def test_nodes_is_batched(api, runtime, people, count_queries):
    from core.services import contacts, customers

    made: list[str] = []

    def grow(have, want):
        with runtime.database.unit_of_work():
            for i in range(have, want):
                customer = customers.create(people.rep, {"name": f"Customer {i:03d}"})
                contact = contacts.create(people.rep, {"customer_id": str(customer.id), "name": f"Contact {i}"})
                made.extend([str(customer.id), str(contact.id)])

    def fetch(n):
        body = api.as_("rep").graphql(NODES, {"ids": made[:n]})
        nodes = ok(body)["nodes"]
        assert all(node is not None for node in nodes)
        return nodes

    # authentication (1), the lookup, the customers (and their tags), the contacts: one each, whatever n
    nodes = pin_statements(count_queries, grow=grow, fetch=fetch, expected=5)
    assert [n["id"] for n in nodes] == made[:50]
    assert {n["__typename"] for n in nodes} == {"Customer", "Contact"}


def test_node_finds_a_record_of_every_core_type(api, runtime, people, tokens):
    """One record of each of the core's Node types, read back by node(id:) with its type; the same ids
    asked by someone outside their scope read as null."""
    from core import lifecycle
    from core.models import ApprovalRequest, OutboxEvent, WebhookDelivery, WorkflowTransitionEntry
    from core.models import AuditEntry
    from core.services import analytics, export_jobs, interactions, notifications, privacy, users, webhooks

    customer = rest_customer(api, "rep")
    contact = rest_contact(api, customer["id"], "rep")
    gone = rest_customer(api, "admin", name="Erased Person", kind="person")
    with runtime.database.unit_of_work() as session:
        interaction = interactions.create(people.rep, {"customer_id": customer["id"], "kind": "call",
                                                       "subject": "Hello", "occurred_at": "2024-02-01T10:00:00+00:00"})
        token = users.create_token(people.rep, "mine")[0]
        sub = webhooks.create(people.admin, {"url": "https://hooks.example.com/x", "events": ["customer.created"]})
        event = session.scalars(select(OutboxEvent).limit(1)).first()
        delivery = WebhookDelivery(subscription_id=sub.id, event_id=event.id, event_name=event.name)
        transition = session.scalars(select(WorkflowTransitionEntry).where(
            WorkflowTransitionEntry.record_id == uuid.UUID(customer["id"]))).first()
        approval = ApprovalRequest(workflow=lifecycle.WORKFLOW, record_type="customer",
                                   record_id=uuid.UUID(customer["id"]), to_state="lost", reason="gone quiet",
                                   requested_by_id=people.rep.id)
        session.add_all([delivery, approval])
        note = notifications.notify(people.rep, "task.reminder", "Call back")
        session.flush()
        erasure = privacy.erase(people.admin, gone["id"], reason="asked")["erasure"]
        run = analytics.refresh_now(people.admin)
        erasure_job = privacy.queue_erasure(people.admin, {"person": customer["id"], "reason": "asked"})
        export = export_jobs.queue_export(people.rep, "customers", {}, "csv")
        entry = session.scalars(select(AuditEntry).limit(1)).first()
        ids = {"Customer": customer["id"], "Contact": contact["id"], "Interaction": str(interaction.id),
               "User": str(people.rep.id), "Team": str(people.rep.team_id), "ApiToken": str(token.id),
               "WebhookSubscription": str(sub.id), "WebhookDelivery": str(delivery.id),
               "WorkflowTransition": str(transition.id), "ApprovalRequest": str(approval.id),
               "Notification": str(note.id), "PrivacyErasure": erasure["id"], "AnalyticsRun": str(run.id),
               "PrivacyErasureJob": str(erasure_job.id),
               "AuditEntry": str(entry.id), "ExportJob": str(export.id)}
    # a segment needs enough customers to be fitted: tests/api/graphql/test_analytics_lists.py reads one by node
    assert set(ids) == set(_schema(api.client.application).trellis_registry.node_sources()) - PLUGIN_TYPES - {
        "AnalyticsSegment"}
    admin_sees = set(ids) - {"Notification"}          # nobody reads another's notifications
    rep_sees = {"Customer", "Contact", "Interaction", "User", "Team", "ApiToken", "ApprovalRequest", "Notification",
                "ExportJob"}
    for who, visible in (("admin", admin_sees), ("rep", rep_sees), ("other_rep", set())):
        names = list(ids)
        found = ok(api.as_(who).graphql(NODES, {"ids": [ids[n] for n in names]}))["nodes"]
        expected = [{"__typename": n, "id": ids[n]} if n in visible else None for n in names]
        assert found == expected, who
        for name in names:       # node() agrees with nodes()
            assert ok(api.as_(who).graphql(NODE, {"id": ids[name]}))["node"] == expected[names.index(name)], name


PLUGIN_TYPES = {"Exhibition", "ExhibitionBooth", "ExhibitionEdition", "ExhibitionParticipation",
                "ExhibitionVisitorRegistration", "ExhibitionLead", "ExhibitionMeeting", "ExhibitionCheckIn",
                "ExhibitionInvitation", "ExhibitionSurveyAnswer",
                "PropertyBuilding", "PropertyUnit", "PropertyOccupancy", "PropertyTeam", "PropertyServiceRequest",
                "PropertyEstate", "PropertyRequestKind", "PropertySlaPolicy",
                "RetailStore", "RetailMembership", "RetailPurchase", "RetailPointsEntry", "RetailCampaign",
                "RetailOccasion", "RetailRefund", "RetailLapse"}


def test_the_sample_plugins_note_is_a_node_with_nothing_written_for_it(database_url, connection, people):
    """tests/sample_plugin registers SampleNote with no node argument: the registry finds its model by
    name and reads it with the get its crud_fields serve (the notes of customers you may see)."""
    with app_with(database_url, connection, sample_plugin, people=people) as (api, runtime):
        customer = rest_customer(api, "rep")
        created = ok(api.as_("rep").graphql(
            "mutation($input: SampleNoteCreateInput!) { createSampleNote(input: $input) { id } }",
            {"input": {"customerId": customer["id"], "text": "hello"}}))["createSampleNote"]
        query = "query($id: ID!) { node(id: $id) { __typename id ... on SampleNote { text } } }"
        assert ok(api.as_("rep").graphql(query, {"id": created["id"]}))["node"] == {
            "__typename": "SampleNote", "id": created["id"], "text": "hello"}
        assert ok(api.as_("rep2").graphql(query, {"id": created["id"]}))["node"] is None
        assert ok(api.as_("admin").graphql(query, {"id": created["id"]}))["node"]["text"] == "hello"


def test_nodes_takes_at_most_a_page_of_ids(api):
    body = api.as_("rep").graphql(NODES, {"ids": [str(uuid.uuid4()) for _ in range(101)]})
    assert list(error(body, "BAD_USER_INPUT")["extensions"]["fields"]) == ["ids"]
