"""Every label vocabulary is a GraphQL enum, composed per app from the same LabelRegistry that serves
``labels``: fields answer enum values, arguments, inputs and filters take them (and refuse others, naming
the field), the stored values stay what REST and the services know, and a plugin's vocabulary (the sample
plugin's too) becomes an enum without GraphQL code."""
from __future__ import annotations

import pytest
import strawberry
from sqlalchemy import select

from api.app import create_app
from api.graphql import schema_of
from api.graphql.vocabularies import UNKNOWN, UNKNOWN_DESCRIPTION, enum_type_name, enum_value_name
from core.errors import PluginError
from core.labels import Choice
from core.models import Customer
from tests import sample_plugin
from tests.api.graphql.helpers import app_with, error, ok, plugin, rest_customer, rows


def new_app(*plugins):
    return create_app({"DATABASE_URL": "sqlite://", "PLUGINS": "all"}, extra_plugins=list(plugins))


def enums_of(app) -> dict[str, dict[str, str | None]]:
    """Enum name → {value name: description}, as introspection shows a client."""
    result = schema_of(app).execute_sync(
        "{ __schema { types { kind name description enumValues { name description } } } }")
    assert not result.errors, result.errors
    return {t["name"]: {v["name"]: v["description"] for v in t["enumValues"]}
            for t in result.data["__schema"]["types"] if t["kind"] == "ENUM" and not t["name"].startswith("__")}


# --- names ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, name", [
    ("first_purchase", "FIRST_PURCHASE"), ("task.reminder", "TASK_REMINDER"), ("zh-CN", "ZH_CN"), ("A", "A"),
    ("rolling_12m", "ROLLING_12M"), ("12m", "_12M"), ("inProgress", "IN_PROGRESS"), ("on time", "ON_TIME"),
])
def test_stored_values_map_to_upper_snake_enum_values(value, name):
    assert enum_value_name(value) == name


@pytest.mark.parametrize("vocabulary, owner, name", [
    ("customer_kind", "core", "CustomerKind"),
    ("customer.level.state", "core", "CustomerLevel"),
    ("retail_membership_membership.tier.state", "retail_membership", "RetailMembershipTier"),
    ("property_service_request.status.state", "property_service", "PropertyServiceRequestStatus"),
    ("sample_mood", "sample", "SampleMood"),
    ("mood", "sample", "SampleMood"),
    ("interaction_kind", "core", "InteractionKind"),
])
def test_vocabularies_map_to_pascal_case_enum_names_with_their_plugin_prefix(vocabulary, owner, name):
    assert enum_type_name(vocabulary, owner) == name


# --- the composed schema ------------------------------------------------------------------------------------

def test_every_vocabulary_of_the_label_registry_is_an_enum_of_the_schema():
    app = new_app(sample_plugin)
    labels = app.extensions["trellis"].labels
    enums = enums_of(app)
    for vocabulary, choices in labels.vocabularies().items():
        name = enum_type_name(vocabulary, labels.owner(vocabulary))
        assert name in enums, f"vocabulary {vocabulary} has no enum {name}"
        assert enums[name] == {**{enum_value_name(c.value): c.en for c in choices}, UNKNOWN: UNKNOWN_DESCRIPTION}, \
            vocabulary


def test_the_sample_plugins_vocabulary_and_interaction_kind_become_enum_values_without_graphql_code():
    with_sample, without = enums_of(new_app(sample_plugin)), enums_of(new_app())
    assert with_sample["SampleMood"] == {"HAPPY": "Happy", "GRUMPY": "Grumpy", UNKNOWN: UNKNOWN_DESCRIPTION}
    assert with_sample["InteractionKind"]["SAMPLE_PING"] == "Sample ping"
    assert "SampleMood" not in without and "SAMPLE_PING" not in without["InteractionKind"]


def test_enum_types_are_described():
    result = schema_of(new_app()).execute_sync('{ __type(name: "RetailMembershipTier") { description } }')
    description = result.data["__type"]["description"]
    assert "retail_membership_membership.tier" in description and "retail_membership" in description


def test_vocabulary_fields_arguments_and_filters_are_typed_with_their_enums():
    result = schema_of(new_app()).execute_sync("""{
        customer: __type(name: "Customer") { fields { name type { name ofType { name } } } }
        filter: __type(name: "CustomerFilter") { inputFields { name type { name } } }
        mutation: __type(name: "Mutation") { fields { name args { name type { name ofType { name } } } } } }""")
    of = lambda t: t["name"] or t["ofType"]["name"]  # noqa: E731
    customer = {f["name"]: of(f["type"]) for f in result.data["customer"]["fields"]}
    assert (customer["kind"], customer["stage"], customer["level"], customer["source"]) == (
        "CustomerKind", "LifecycleStage", "CustomerLevel", "CustomerSource")
    assert {f["name"]: f["type"]["name"] for f in result.data["filter"]["inputFields"]}["stage"] == "LifecycleStage"
    args = {f["name"]: {a["name"]: of(a["type"]) for a in f["args"]} for f in result.data["mutation"]["fields"]}
    assert args["setCustomerLevel"]["level"] == "CustomerLevel"
    assert args["changeExhibitionParticipationStatus"]["to"] == "ExhibitionsParticipationStatus"


# --- over the wire ---------------------------------------------------------------------------------------------

CUSTOMER = "query($id: ID!) { customer(id: $id) { kind stage level source size } }"


def test_a_field_answers_the_enum_value_of_the_stored_value(api):
    made = rest_customer(api, kind="person", source="web_search", size="small")
    data = ok(api.as_("rep").graphql(CUSTOMER, {"id": made["id"]}))["customer"]
    assert data == {"kind": "PERSON", "stage": "POTENTIAL", "level": "D", "source": "WEB_SEARCH", "size": "SMALL"}
    # REST and the database keep the stored values
    assert api.as_("rep").get(f"/api/v1/customers/{made['id']}").get_json()["kind"] == "person"


def test_an_input_written_with_enum_values_stores_the_plain_values(api, runtime):
    created = ok(api.as_("rep").graphql(
        'mutation { createCustomer(input: {name: "Wang Fang", kind: PERSON, source: WALK_IN, size: MICRO}) '
        "{ id kind source } }"))["createCustomer"]
    assert created["kind"] == "PERSON" and created["source"] == "WALK_IN"
    with runtime.database.unit_of_work() as s:
        row = s.scalars(select(Customer).where(Customer.name == "Wang Fang")).one()
        assert (row.kind, row.source, row.size) == ("person", "walk_in", "micro")
        assert type(row.kind) is str


def test_filters_take_enum_values_literal_or_as_variables(api):
    rest_customer(api, name="Beijing Machines", kind="company")
    rest_customer(api, name="Li Na", kind="person", source="referral")
    names = lambda body: [e["node"]["name"] for e in ok(body)["customers"]["edges"]]  # noqa: E731
    assert names(api.as_("rep").graphql("{ customers(filter: {kind: PERSON}) { edges { node { name } } } }")) == ["Li Na"]
    query = "query($f: CustomerFilter) { customers(filter: $f) { edges { node { name } } } }"
    assert names(api.as_("rep").graphql(query, {"f": {"kind": "COMPANY", "stage": "POTENTIAL"}})) == ["Beijing Machines"]
    assert names(api.as_("rep").graphql(query, {"f": {"source": "REFERRAL"}})) == ["Li Na"]


def test_an_unknown_enum_value_is_refused_naming_the_field_and_nothing_is_written(api, runtime):
    before = rows(runtime, Customer)
    literal = error(api.as_("rep").graphql(
        'mutation { createCustomer(input: {name: "X", kind: ROBOT}) { id } }'), "BAD_USER_INPUT")
    assert "ROBOT" in literal["message"] and "CustomerKind" in literal["message"]
    assert list(literal["extensions"]["fields"]) == ["kind"]
    # the stored spelling is not the enum's: the error says which value was meant
    variable = error(api.as_("rep").graphql(
        "mutation($input: CustomerCreateInput!) { createCustomer(input: $input) { id } }",
        {"input": {"name": "X", "kind": "person"}}), "BAD_USER_INPUT")
    assert list(variable["extensions"]["fields"]) == ["kind"]
    assert "Did you mean the enum value 'PERSON'?" in variable["message"]
    in_filter = error(api.as_("rep").graphql("{ customers(filter: {stage: SLEEPY}) { totalCount } }"),
                      "BAD_USER_INPUT")
    assert list(in_filter["extensions"]["fields"]) == ["filter.stage"]
    assert rows(runtime, Customer) == before


def test_a_stored_value_the_app_does_not_know_answers_unknown_value_not_an_error(api, runtime, people,
                                                                                database_url, connection):
    from core.services import users

    with runtime.database.unit_of_work():
        users.create_user(None, {"email": "staff@example.com", "name": "Store", "role": "store_staff"})
    with app_with(database_url, connection, people=people, PLUGINS="exhibitions") as (without_retail, _):
        listed = ok(without_retail.as_("admin").graphql("{ users(first: 50) { edges { node { email role } } } }"))
        roles = {e["node"]["email"]: e["node"]["role"] for e in listed["users"]["edges"]}
        assert roles["staff@example.com"] == UNKNOWN and roles["admin@example.com"] == "ADMIN"
    # the app whose plugin declares the role answers it
    listed = ok(api.as_("admin").graphql("{ users(first: 50) { edges { node { email role } } } }"))
    assert {e["node"]["email"]: e["node"]["role"] for e in listed["users"]["edges"]}["staff@example.com"] == \
        "STORE_STAFF"


def test_unknown_value_is_an_answer_only_and_refused_as_input(api, runtime):
    before = rows(runtime, Customer)
    literal = error(api.as_("rep").graphql(
        'mutation { createCustomer(input: {name: "X", kind: UNKNOWN_VALUE}) { id } }'), "BAD_USER_INPUT")
    assert list(literal["extensions"]["fields"]) == ["kind"] and "only an answer" in literal["message"]
    variable = error(api.as_("rep").graphql(
        "query($f: CustomerFilter) { customers(filter: $f) { totalCount } }", {"f": {"stage": UNKNOWN}}),
        "BAD_USER_INPUT")
    assert list(variable["extensions"]["fields"]) == ["filter.stage"] and "only an answer" in variable["message"]
    assert rows(runtime, Customer) == before


def test_an_enum_argument_reaches_the_service_as_the_stored_value(api, runtime):
    made = rest_customer(api)
    moved = ok(api.as_("manager").graphql(
        'mutation($id: ID!) { setCustomerLevel(customerId: $id, level: B, reason: "big order") { level } }',
        {"id": made["id"]}))["setCustomerLevel"]
    assert moved == {"level": "B"}
    assert api.as_("rep").get(f"/api/v1/customers/{made['id']}").get_json()["level"] == "B"
    wrong = error(api.as_("manager").graphql(
        'mutation($id: ID!) { setCustomerLevel(customerId: $id, level: Z, reason: "?") { level } }',
        {"id": made["id"]}), "BAD_USER_INPUT")
    assert list(wrong["extensions"]["fields"]) == ["level"]


def test_labels_name_the_enum_and_the_enum_value_of_each_choice(api):
    data = ok(api.as_("rep").graphql(
        '{ labels(vocabulary: "lifecycle_stage") { name enumName choices { value enumValue label { en zhCn } } } }'))
    vocabulary = data["labels"][0]
    assert vocabulary["enumName"] == "LifecycleStage"
    assert vocabulary["choices"][2] == {"value": "first_purchase", "enumValue": "FIRST_PURCHASE",
                                        "label": {"en": "First purchase", "zhCn": "购买客户"}}
    every = ok(api.as_("rep").graphql("{ labels { name enumName } }"))["labels"]
    assert {"name": "customer.level.state", "enumName": "CustomerLevel"} in every


# --- plugins ------------------------------------------------------------------------------------------------------

def colours():
    """A third-party plugin with a vocabulary of awkward values and one field typed with its enum."""

    def labels():
        return {"paint_colour": [Choice("dark-red", "Dark red", "深红"), Choice("sky.blue", "Sky blue", "天蓝")]}

    def query_fields(registry):
        # this module uses ``from __future__ import annotations``: the registry evaluates the strings
        def paint_colour(colour: registry.vocabulary_enum("paint_colour")) -> registry.vocabulary_enum("paint_colour"):
            assert isinstance(colour, str)
            return "sky.blue" if str(colour) == "dark-red" else "dark-red"   # a stored value, as a service returns

        return {"paintColour": strawberry.field(resolver=paint_colour)}

    return plugin("paint", trellis_labels=labels, trellis_graphql_query_fields=query_fields)


def test_a_plugin_types_its_field_with_its_vocabulary_enum(database_url, connection, people):
    with app_with(database_url, connection, colours(), people=people) as (paint_api, _):
        data = ok(paint_api.as_("rep").graphql("{ paintColour(colour: DARK_RED) }"))
        assert data == {"paintColour": "SKY_BLUE"}
        wrong = error(paint_api.as_("rep").graphql("{ paintColour(colour: GREEN) }"), "BAD_USER_INPUT")
        assert "PaintColour" in wrong["message"]


def test_a_vocabulary_nobody_declares_is_a_startup_error_naming_the_plugin():
    def query_fields(registry):
        registry.vocabulary_enum("flavour")
        return {}

    with pytest.raises(PluginError) as caught:
        new_app(plugin("icecream", trellis_graphql_query_fields=query_fields))
    assert "icecream" in str(caught.value) and "flavour" in str(caught.value)


def test_two_values_with_one_enum_name_are_a_startup_error_naming_both():
    def labels():
        return {"clash_case": [Choice("on-hold", "On hold", "暂停"), Choice("on_hold", "On hold", "暂停")]}

    with pytest.raises(PluginError) as caught:
        new_app(plugin("clash", trellis_labels=labels))
    assert "'on-hold'" in str(caught.value) and "'on_hold'" in str(caught.value)
