"""Each root mutation field commits or fails on its own (a savepoint per field), and every root field is
nullable, so one failing field nulls only itself. Run on SQLite and PostgreSQL alike."""
from __future__ import annotations

import strawberry
from sqlalchemy import func, select

from tests.api.graphql.helpers import app_with, ok, plugin, rows

TWO_CREATES = """mutation($first: CustomerCreateInput!, $second: CustomerCreateInput!) {
    first: createCustomer(input: $first) { id name }
    second: createCustomer(input: $second) { id name }
}"""


def _count(runtime, model, **where) -> int:
    with runtime.database.unit_of_work() as s:
        stmt = select(func.count()).select_from(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return s.scalar(stmt)


def test_the_first_of_two_mutations_keeps_its_record_when_the_second_fails(api, runtime):
    from core.models import Customer

    body = api.as_("rep").graphql(TWO_CREATES, {"first": {"name": "Kept Ltd"}, "second": {"name": ""}})
    assert body["data"]["second"] is None
    first = body["data"]["first"]
    assert first["name"] == "Kept Ltd"
    [error] = body["errors"]
    assert error["path"] == ["second"] and error["extensions"]["code"] == "BAD_USER_INPUT"
    assert list(error["extensions"]["fields"]) == ["name"]
    # the record the response reports exists, and is readable in a later request
    assert _count(runtime, Customer, name="Kept Ltd") == 1
    again = ok(api.as_("rep").graphql("query($id: ID!) { customer(id: $id) { name } }", {"id": first["id"]}))
    assert again == {"customer": {"name": "Kept Ltd"}}


def test_a_failed_mutation_leaves_no_record_audit_entry_nor_event_and_later_ones_still_run(
        database_url, connection, people):
    """A mutation that wrote its customer, audit entry and outbox event and then failed is rolled back to
    its savepoint: nothing of it remains, while the mutations before and after it commit."""
    from core.models import AuditEntry, Customer, OutboxEvent
    from core.errors import ValidationFailed
    from core.services import customers

    def fields(registry):
        def create_then_fail(info: strawberry.Info, name: str) -> registry.ref("Customer"):
            customers.create(info.context.user, {"name": name})   # writes audit entry and event
            raise ValidationFailed(fields={"name": ["Refused after writing, on purpose."]})

        return {"createThenFail": strawberry.mutation(resolver=create_then_fail)}

    failing = plugin("failing", trellis_graphql_mutation_fields=fields)
    with app_with(database_url, connection, failing, people=people) as (api, runtime):
        audit_before, events_before = rows(runtime, AuditEntry), rows(runtime, OutboxEvent)
        body = api.as_("rep").graphql("""mutation {
            a: createCustomer(input: {name: "Before Ltd"}) { id }
            b: createThenFail(name: "Ghost Ltd") { id }
            c: createCustomer(input: {name: "After Ltd"}) { id }
        }""")
        assert body["data"]["a"]["id"] and body["data"]["c"]["id"] and body["data"]["b"] is None
        [error] = body["errors"]
        assert error["path"] == ["b"] and error["extensions"]["fields"] == {"name": ["Refused after writing, on purpose."]}
        assert _count(runtime, Customer, name="Ghost Ltd") == 0
        assert _count(runtime, Customer, name="Before Ltd") == 1 and _count(runtime, Customer, name="After Ltd") == 1
        # two customers created: their audit entries and events, none of the ghost's
        assert rows(runtime, AuditEntry) - audit_before == 2 * _per_create(runtime, AuditEntry, body["data"]["a"]["id"])
        assert _count(runtime, OutboxEvent, name="customer.created") >= 2
        with runtime.database.unit_of_work() as s:
            ghost_events = s.scalars(select(OutboxEvent).where(OutboxEvent.name == "customer.created")).all()
            assert all(e.payload.get("name") != "Ghost Ltd" for e in ghost_events if isinstance(e.payload, dict))
        assert rows(runtime, OutboxEvent) - events_before == 2 * _per_create(runtime, OutboxEvent,
                                                                            body["data"]["a"]["id"])


def _per_create(runtime, model, record_id) -> int:
    """How many rows of ``model`` one createCustomer wrote (audit entries or events about the customer)."""
    import uuid

    with runtime.database.unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model).where(model.record_id == uuid.UUID(record_id)))


def test_a_failing_query_field_nulls_only_itself(api):
    """``webhooks`` is for admins: a rep asking for it next to ``labels`` still gets the labels."""
    body = api.as_("rep").graphql("{ labels(vocabulary: \"lifecycle_stage\") { name } webhooks { totalCount } me { email } }")
    assert body["data"]["webhooks"] is None
    assert body["data"]["labels"] and body["data"]["me"] == {"email": "rep@example.com"}
    [error] = body["errors"]
    assert error["path"] == ["webhooks"] and error["extensions"]["code"] == "FORBIDDEN"


def test_every_root_field_is_nullable(app):
    from graphql import GraphQLNonNull

    schema = app.extensions["trellis.graphql"]._schema
    for root in (schema.query_type, schema.mutation_type):
        strict = [name for name, field in root.fields.items() if isinstance(field.type, GraphQLNonNull)]
        assert strict == [], root.name


def test_no_field_returns_a_non_null_record_or_page(app):
    """Rule 3 of the nullability policy: a field reading another record or a page of records may fail
    or find nothing without erasing the record holding it (an edge's node excepted)."""
    from graphql import GraphQLNonNull, GraphQLObjectType

    schema = app.extensions["trellis.graphql"]._schema
    records = {t.name for t in schema.type_map.values()
               if isinstance(t, GraphQLObjectType) and any(i.name == "Node" for i in t.interfaces)}
    strict = [f"{t.name}.{name}" for t in schema.type_map.values() if isinstance(t, GraphQLObjectType)
              and not t.name.endswith("Edge")
              for name, field in t.fields.items()
              if isinstance(field.type, GraphQLNonNull)
              and (field.type.of_type.name if hasattr(field.type.of_type, "name") else "") in records
              | {n + "Connection" for n in records}]
    assert strict == []


def test_a_plugin_field_extension_that_fails_after_its_resolver_wrote_leaves_nothing(database_url, connection, people):
    """The savepoint is outside a mutation field's own extensions: a write made before one of them fails is
    rolled back with the field."""
    from strawberry.extensions import FieldExtension

    from core.errors import ValidationFailed
    from core.models import Customer
    from core.services import customers

    class RefuseAfterwards(FieldExtension):
        def resolve(self, next_, source, info, **kwargs):
            next_(source, info, **kwargs)
            raise ValidationFailed(fields={"name": ["Refused by the extension, after the write."]})

    def fields(registry):
        def create_quietly(info: strawberry.Info, name: str) -> registry.ref("Customer"):
            return customers.create(info.context.user, {"name": name})

        return {"createQuietly": strawberry.mutation(resolver=create_quietly, extensions=[RefuseAfterwards()])}

    refusing = plugin("refusing", trellis_graphql_mutation_fields=fields)
    with app_with(database_url, connection, refusing, people=people) as (api, runtime):
        body = api.as_("rep").graphql("""mutation {
            kept: createCustomer(input: {name: "Kept Ltd"}) { id }
            refused: createQuietly(name: "Refused Ltd") { id }
        }""")
        assert body["data"]["kept"]["id"] and body["data"]["refused"] is None
        assert _count(runtime, Customer, name="Refused Ltd") == 0
        assert _count(runtime, Customer, name="Kept Ltd") == 1
