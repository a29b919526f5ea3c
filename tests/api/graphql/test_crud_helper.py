"""``api.graphql.crud.crud_fields`` serves a plugin's record with the house fields: the tests' sample plugin
(tests/sample_plugin) uses it for its notes — list, get, create, update, delete, restore — and its errors
read as the core's do."""
from __future__ import annotations

import pytest
import strawberry

from api.graphql import schema_of, sdl
from api.graphql.crud import CrudService, crud_fields, order_by_description
from core.errors import PluginError
from tests import sample_plugin
from tests.api.graphql.helpers import app_with, error, ok, plugin, rest_customer

NOTE = "id customerId text score version deletedAt"
CREATE = f"mutation($input: SampleNoteCreateInput!) {{ createSampleNote(input: $input) {{ {NOTE} }} }}"
UPDATE = (f"mutation($id: ID!, $input: SampleNoteUpdateInput!) {{ updateSampleNote(id: $id, input: $input) "
          f"{{ {NOTE} }} }}")
GET = f"query($id: ID!) {{ sampleNote(id: $id) {{ {NOTE} }} }}"
LIST = """query($filter: SampleNoteFilter, $orderBy: [SampleNoteOrder!], $first: Int! = 20, $after: String) {
    sampleNotes(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { text score } } } }"""


@pytest.fixture
def notes(database_url, connection):
    with app_with(database_url, connection, sample_plugin) as (api, runtime):
        yield api


def create(api, customer_id, who="rep", **fields) -> dict:
    return ok(api.as_(who).graphql(CREATE, {"input": {"customerId": customer_id, "text": "hi", **fields}}))[
        "createSampleNote"]


def test_crud_fields_serve_list_get_create_update_delete_restore(notes):
    api = notes
    customer = rest_customer(api)
    first = create(api, customer["id"], text="first", score=3)
    assert first["customerId"] == customer["id"] and first["version"] == 1 and first["deletedAt"] is None
    create(api, customer["id"], text="second", score=9)

    assert ok(api.as_("rep").graphql(GET, {"id": first["id"]}))["sampleNote"] == first

    page = ok(api.as_("rep").graphql(LIST, {"filter": {"customerId": customer["id"]}, "orderBy": [{"field": "SCORE", "direction": "DESC"}],
                                            "first": 1}))["sampleNotes"]
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    assert [e["node"]["text"] for e in page["edges"]] == ["second"]
    rest = ok(api.as_("rep").graphql(LIST, {"orderBy": [{"field": "SCORE", "direction": "DESC"}], "after": page["pageInfo"]["endCursor"]}))
    assert [e["node"]["text"] for e in rest["sampleNotes"]["edges"]] == ["first"]

    updated = ok(api.as_("rep").graphql(UPDATE, {"id": first["id"], "input": {"version": 1, "score": 5}}))
    assert updated["updateSampleNote"]["score"] == 5 and updated["updateSampleNote"]["version"] == 2

    deleted = ok(api.as_("rep").graphql("mutation($id: ID!) { deleteSampleNote(id: $id) { id deletedAt } }",
                                        {"id": first["id"]}))["deleteSampleNote"]
    assert deleted["id"] == first["id"] and deleted["deletedAt"]
    error(api.as_("rep").graphql(GET, {"id": first["id"]}), "NOT_FOUND")
    in_bin = ok(api.as_("rep").graphql(LIST, {"filter": {"deleted": True}}))["sampleNotes"]
    assert [e["node"]["text"] for e in in_bin["edges"]] == ["first"]

    restored = ok(api.as_("rep").graphql("mutation($id: ID!) { restoreSampleNote(id: $id) { id deletedAt } }",
                                         {"id": first["id"]}))["restoreSampleNote"]
    assert restored == {"id": first["id"], "deletedAt": None}
    assert ok(api.as_("rep").graphql(GET, {"id": first["id"]}))["sampleNote"]["score"] == 5


def test_crud_fields_report_errors_as_the_core_does(notes):
    api = notes
    customer = rest_customer(api)

    body = api.as_("rep").graphql(CREATE, {"input": {"customerId": customer["id"], "text": "", "score": 11}})
    err = error(body, "BAD_USER_INPUT")
    assert set(err["extensions"]["fields"]) == {"text", "score"}
    assert body["data"] == {"createSampleNote": None}

    err = error(api.as_("rep").graphql(LIST, {"filter": {"customerId": "not-a-uuid"}}), "BAD_USER_INPUT")
    assert set(err["extensions"]["fields"]) == {"filter.customerId"}
    err = error(api.as_("rep").graphql(LIST, {"orderBy": [{"field": "TEXT"}]}), "BAD_USER_INPUT")
    assert {key.split(".")[0] for key in err["extensions"]["fields"]} == {"orderBy"}
    err = error(api.as_("rep").graphql(LIST, {"first": 101}), "BAD_USER_INPUT")
    assert set(err["extensions"]["fields"]) == {"first"}

    note = create(api, customer["id"])
    ok(api.as_("rep").graphql(UPDATE, {"id": note["id"], "input": {"version": 1, "text": "new"}}))
    err = error(api.as_("rep").graphql(UPDATE, {"id": note["id"], "input": {"version": 1, "text": "stale"}}),
                "CONFLICT")
    assert "version" in err["extensions"]["fields"]

    # another rep may not see the note (its customer is not theirs): NOT_FOUND, and nothing changes
    error(api.as_("rep2").graphql(GET, {"id": note["id"]}), "NOT_FOUND")
    body = api.as_("rep2").graphql("mutation($id: ID!) { deleteSampleNote(id: $id) { id } }", {"id": note["id"]})
    error(body, "NOT_FOUND")
    assert ok(api.as_("rep").graphql(GET, {"id": note["id"]}))["sampleNote"]["deletedAt"] is None


def _signature(field_name: str, field) -> str:
    """``name(arg: Type, …): Type``: the field's shape, without the descriptions SDL prints between."""
    args = ", ".join(f"{name}: {arg.type}" for name, arg in field.args.items())
    return f"{field_name}({args}): {field.type}"


def test_crud_fields_have_the_house_shape(notes):
    gql = schema_of(notes.client.application)._schema
    query, mutation = gql.query_type.fields, gql.mutation_type.fields
    assert _signature("sampleNote", query["sampleNote"]) == "sampleNote(id: ID!): SampleNote"
    assert _signature("createSampleNote", mutation["createSampleNote"]) == \
        "createSampleNote(input: SampleNoteCreateInput!): SampleNote"
    assert _signature("updateSampleNote", mutation["updateSampleNote"]) == \
        "updateSampleNote(id: ID!, input: SampleNoteUpdateInput!): SampleNote"
    assert _signature("deleteSampleNote", mutation["deleteSampleNote"]) == "deleteSampleNote(id: ID!): SampleNote"
    assert _signature("restoreSampleNote", mutation["restoreSampleNote"]) == "restoreSampleNote(id: ID!): SampleNote"
    assert _signature("sampleNotes", query["sampleNotes"]) == (
        "sampleNotes(first: Int, after: String, last: Int, before: String, filter: SampleNoteFilter, "
        "orderBy: [SampleNoteOrder!]): SampleNoteConnection")
    # the descriptions every record's fields get, the record's name in them
    assert mutation["updateSampleNote"].description == "Changes a `SampleNote` and returns it. Send the version you read."
    assert mutation["deleteSampleNote"].description == (
        "Soft-deletes a `SampleNote` (its restore mutation brings it back); returns the deleted record.")
    assert mutation["updateSampleNote"].args["id"].description == "The id (a UUID) of the `SampleNote`."
    assert "Default: CREATED_AT ASC." in query["sampleNotes"].args["orderBy"].description
    schema = sdl(notes.client.application)
    assert "enum SampleNoteOrderField {" in schema and "input SampleNoteOrder {" in schema


def _widget_plugin(**options):
    def types(registry):
        @registry.type("Widget", node=False)   # no table behind it: not a Node
        class Widget:
            id: strawberry.ID

        @registry.input("WidgetCreateInput")
        class WidgetCreateInput:
            name: str

        @registry.input("WidgetUpdateInput")
        class WidgetUpdateInput:
            version: int

    def fields(registry):
        nothing = lambda *args, **kwargs: None  # noqa: E731 (only the schema is read)
        return crud_fields(registry, "Widget", service=CrudService(nothing, nothing, None, nothing, nothing, None),
                           **options)

    return plugin("widgets", trellis_graphql_types=types,
                  trellis_graphql_query_fields=lambda registry: fields(registry).query,
                  trellis_graphql_mutation_fields=lambda registry: fields(registry).mutation)


def test_crud_fields_leave_out_what_a_record_does_not_have():
    from api.app import create_app

    app = create_app({"DATABASE_URL": "sqlite://"}, extra_plugins=[_widget_plugin(
        names={"list": "allWidgets", "restore": None}, update_input="WidgetUpdateInput")])
    gql, schema = schema_of(app)._schema, sdl(app)
    query, mutation = gql.query_type.fields, gql.mutation_type.fields
    assert _signature("widget", query["widget"]) == "widget(id: ID!): Widget"
    assert _signature("allWidgets", query["allWidgets"]) == \
        "allWidgets(first: Int, after: String, last: Int, before: String): WidgetConnection"
    assert _signature("deleteWidget", mutation["deleteWidget"]) == "deleteWidget(id: ID!): Widget"
    assert "createWidget" not in schema and "restoreWidget" not in schema and "widgets(" not in schema


def test_crud_fields_name_the_plugin_when_misused():
    from api.app import create_app

    with pytest.raises(PluginError, match="widgets.*no create function"):
        create_app({"DATABASE_URL": "sqlite://"},
                   extra_plugins=[_widget_plugin(create_input="WidgetCreateInput", names={"restore": None})])
    with pytest.raises(PluginError, match="widgets.*'remove'"):
        create_app({"DATABASE_URL": "sqlite://"}, extra_plugins=[_widget_plugin(names={"remove": None})])


def test_order_by_description_names_the_default_as_the_enum_writes_it():
    assert order_by_description(["occurred_at", "kind"], "-occurred_at,kind") == (
        "Orderings, first sorts first; the record id breaks ties. Default: OCCURRED_AT DESC, KIND ASC.")
