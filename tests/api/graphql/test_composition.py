"""The schema is composed per app from the core and the enabled plugins: apps with different plugin
sets live side by side, plugins extend core types, and every clash is a start-up error naming both."""
from __future__ import annotations

import re

import pytest
import strawberry

from api.app import create_app
from api.graphql import sdl
from core.errors import PluginError
from tests.api.graphql.helpers import app_with, error, ok, plugin, rest_customer


def new_app(*plugins):
    return create_app({"DATABASE_URL": "sqlite://", "PLUGINS": "all"}, extra_plugins=list(plugins))


def shouting(name="shouter", field="shout", calls=None):
    """A plugin adding ``Customer.<field>`` (the name in capitals), loaded in batches."""

    def type_fields(registry):
        def upper_names(ids):
            if calls is not None:
                calls.append(len(ids))
            from core.services import customers

            return {cid: c.name.upper() for cid, c in customers.get_many(customers_actor(), ids).items()}

        def shout(root: strawberry.Parent[object], info: strawberry.Info) -> str:
            return info.context.loaders.load(f"{name}.upper", upper_names, root.id)

        return {"Customer": {field: strawberry.field(resolver=shout)}}

    return plugin(name, trellis_graphql_type_fields=type_fields)


def customers_actor():
    from flask_login import current_user

    return current_user


def test_a_second_app_with_another_plugin_set_coexists_with_the_first(api, people, database_url, connection):
    calls: list[int] = []
    with app_with(database_url, connection, shouting(calls=calls), people=people) as (shouty_api, _):
        for name in ("Acme", "Bolt", "Coda"):
            rest_customer(shouty_api, name=name)
        query = "{ customers { edges { node { name shout } } } }"

        data = ok(shouty_api.as_("rep").graphql(query))
        assert [e["node"]["shout"] for e in data["customers"]["edges"]] == ["ACME", "BOLT", "CODA"]
        assert calls == [3]   # one batch for the three customers

        # the shared app, built before and used in the same process, knows nothing of the field …
        plain = api.as_("rep").graphql(query)
        assert "shout" in error(plain, "BAD_USER_INPUT")["message"]
        # … and both keep working side by side
        assert ok(api.as_("rep").graphql("{ me { email } }"))["me"]["email"] == "rep@example.com"
        assert len(ok(shouty_api.as_("rep").graphql(query))["customers"]["edges"]) == 3


def test_plugin_fields_show_in_the_sdl_of_their_app_only():
    with_plugin, without = new_app(shouting()), new_app()
    assert "shout: String!" in sdl(with_plugin)
    assert "shout" not in sdl(without)


def test_apps_built_from_the_same_components_share_one_schema_and_the_others_get_their_own():
    from api.graphql import schema_of

    first, second = new_app(), new_app()
    assert schema_of(first) is schema_of(second)   # built once: a third of create_app
    stricter = create_app({"DATABASE_URL": "sqlite://", "PLUGINS": "all", "GRAPHQL_MAX_DEPTH": 3})
    shouter = new_app(shouting())
    fewer = create_app({"DATABASE_URL": "sqlite://", "PLUGINS": "exhibitions"})
    schemas = {id(schema_of(app)) for app in (first, stricter, shouter, fewer)}
    assert len(schemas) == 4
    assert "shout" in sdl(shouter) and "shout" not in sdl(first)
    assert "retailMembership" not in sdl(fewer) and sdl(first) == sdl(second)


def test_a_plugin_type_defined_once_at_module_level_serves_two_apps():
    def types(registry):
        registry.type("SharedThing")(SharedThing)

    def query_fields(registry):
        def thing() -> registry.ref("SharedThing"):
            return SharedThing()

        return {"sharedThing": strawberry.field(resolver=thing)}

    first = new_app(plugin("shared", trellis_graphql_types=types, trellis_graphql_query_fields=query_fields))
    second = new_app(plugin("shared", trellis_graphql_types=types, trellis_graphql_query_fields=query_fields),
                     shouting())
    for app in (first, second):
        assert "type SharedThing {\n  label: String!\n}" in sdl(app)
        assert "sharedThing: SharedThing\n" in sdl(app)   # root fields are nullable (docs/graphql.md)


class SharedThing:
    label: str = "shared"


# --- clashes --------------------------------------------------------------------------------------------

def registers_type(name, type_name):
    def types(registry):
        @registry.type(type_name)
        class Thing:
            id: strawberry.ID

    return plugin(name, trellis_graphql_types=types)


def adds_query_field(name, field, root="query"):
    def fields(registry):
        def resolver() -> int:
            return 1

        make = strawberry.field if root == "query" else strawberry.mutation
        return {field: make(resolver=resolver)}

    return plugin(name, **{f"trellis_graphql_{root}_fields": fields})


def startup_error(*plugins) -> str:
    with pytest.raises(PluginError) as caught:
        new_app(*plugins)
    return str(caught.value)


def test_two_plugins_registering_one_type_name_is_a_startup_error_naming_both():
    # a name both prefixes allow (plugins "alpha" and "alpha_beta": type prefix "Alpha")
    message = startup_error(registers_type("alpha", "AlphaWidget"), registers_type("alpha_beta", "AlphaWidget"))
    assert "'alpha'" in message and "'alpha_beta'" in message and "'AlphaWidget'" in message
    assert "rename" in message.lower()


def test_a_plugin_registering_a_core_type_name_clashes_with_the_core():
    message = startup_error(registers_type("alpha", "Customer"))
    assert "'core'" in message and "'alpha'" in message and "'Customer'" in message


def test_a_plugin_adding_a_field_the_core_type_has_is_a_startup_error():
    message = startup_error(shouting("alpha", field="name"))
    assert "'core'" in message and "'alpha'" in message and "'name'" in message and "'Customer'" in message


def test_two_plugins_adding_the_same_field_to_a_type_is_a_startup_error_naming_both():
    message = startup_error(shouting("alpha"), shouting("beta"))
    assert "'alpha'" in message and "'beta'" in message and "'shout'" in message and "'Customer'" in message
    # snake_case and camelCase spellings of one GraphQL field are the same field
    message = startup_error(shouting("alpha", field="loud_name"), shouting("beta", field="loudName"))
    assert "'loudName'" in message


def test_two_plugins_adding_the_same_query_or_mutation_field_is_a_startup_error_naming_both():
    query = startup_error(adds_query_field("alpha", "widgets"), adds_query_field("beta", "widgets"))
    assert "'alpha'" in query and "'beta'" in query and "'widgets'" in query and "Query" in query
    mutation = startup_error(adds_query_field("alpha", "doIt", "mutation"), adds_query_field("beta", "doIt", "mutation"))
    assert "'alpha'" in mutation and "'beta'" in mutation and "Mutation" in mutation
    core = startup_error(adds_query_field("alpha", "customers"))
    assert "'core'" in core and "'alpha'" in core


def test_a_field_on_a_type_nobody_registers_names_the_plugin_and_what_to_do():
    def type_fields(registry):
        def level() -> int:
            return 1

        return {"Membership": {"level": strawberry.field(resolver=level)}}

    message = startup_error(plugin("alpha", trellis_graphql_type_fields=type_fields))
    assert "'alpha'" in message and "'Membership'" in message and "requires" in message


def test_a_reference_to_a_type_nobody_registers_names_the_plugin():
    def fields(registry):
        def membership() -> registry.ref("Membership"):
            return None

        return {"membership": strawberry.field(resolver=membership)}

    message = startup_error(plugin("alpha", trellis_graphql_query_fields=fields))
    assert "'alpha'" in message and "'Membership'" in message


def test_a_hook_that_raises_names_its_plugin():
    def types(registry):
        raise KeyError("oops")

    message = startup_error(plugin("alpha", trellis_graphql_types=types))
    assert "'alpha'" in message and "trellis_graphql_types" in message


# --- Node -------------------------------------------------------------------------------------------------

def test_a_record_type_whose_model_cannot_be_found_is_a_start_up_error_naming_the_fix(database_url):
    """A type with ``id: ID!`` implements Node; the registry finds its model by name or by ``node=``."""
    from api.app import create_app
    from api.testing import app_config

    with pytest.raises(PluginError) as refused:
        create_app(app_config(database_url), extra_plugins=[registers_type("gadgets", "Gadget")])
    assert "'gadgets'" in str(refused.value) and "'Gadget'" in str(refused.value) and "node=" in str(refused.value)

    from core.models import AuditEntry

    def types(registry):
        @registry.type("Gadget", node=False)
        class Gadget:
            id: strawberry.ID

        @registry.type("GadgetRecord", node=AuditEntry)
        class GadgetRecord:
            id: strawberry.ID

    def fields(registry):
        def gadget() -> registry.ref("Gadget"):
            return None

        def gadget_record() -> registry.ref("GadgetRecord"):
            return None

        return {"gadget": strawberry.field(resolver=gadget), "gadgetRecord": strawberry.field(resolver=gadget_record)}

    app = create_app(app_config(database_url), extra_plugins=[
        plugin("gadgets", trellis_graphql_types=types, trellis_graphql_query_fields=fields)])
    schema = sdl(app)
    assert "type Gadget {" in schema and "type GadgetRecord implements Node {" in schema


def test_registry_names_in_class_annotations_work_under_postponed_annotations():
    # this module uses ``from __future__ import annotations``: every annotation below is a string,
    # and ``registry`` exists only inside the hook
    def types(registry):
        @registry.type("FutureThing", node=False)
        class FutureThing:
            """A thing typed with the registry inside its class body."""

            stage: registry.vocabulary_enum("lifecycle_stage")
            owner: registry.ref("User") | None

        @registry.input("FutureThingFilter")
        class FutureThingFilter:
            """Its filter."""

            stage: registry.vocabulary_enum("lifecycle_stage") | None = None

    def query_fields(registry):
        def future_thing(filter: registry.ref("FutureThingFilter") | None = None) -> registry.ref("FutureThing"):
            return None

        return {"futureThing": strawberry.field(resolver=future_thing)}

    text = sdl(new_app(plugin("future", trellis_graphql_types=types, trellis_graphql_query_fields=query_fields)))
    assert "type FutureThing {\n  stage: LifecycleStage!\n  owner: User\n}" in text
    # (the filter field's description is derived: api/graphql/descriptions.py)
    assert re.search(r'input FutureThingFilter \{\n(  """[^\n]*"""\n)?  stage: LifecycleStage = null\n\}', text)
