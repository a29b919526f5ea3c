"""A plugin's global names carry its prefix (docs/plugins.md, "Names"): tables, GraphQL types, REST
blueprints, OpenAPI schemas and DataLoader names. A name without it is refused at start-up (DataLoader
names: the first time a request uses one) with a message naming the plugin, the name and the fix."""
from __future__ import annotations

import logging
import types

import pytest
import strawberry
from marshmallow import Schema, fields
from sqlalchemy import Column, Integer, Table

from api.app import create_app
from core.errors import PluginError
from core.plugins import type_prefix
from tests.api.graphql.helpers import app_with, ok, rest_customer
from tests.core.test_plugins import CONFIG, plugin


def refusal(*plugins, **config) -> str:
    with pytest.raises(PluginError) as refused:
        create_app({**CONFIG, **config}, extra_plugins=list(plugins))
    return str(refused.value)


def test_the_type_prefix_is_the_first_word_of_the_name_singular_and_capitalised():
    assert [type_prefix(n) for n in ("exhibitions", "retail_membership", "property_service", "training",
                                     "acme-crm", "bus")] == ["Exhibition", "Retail", "Property", "Training",
                                                              "Acme", "Bu"]


def test_the_built_in_plugins_keep_every_naming_rule(app):
    """They start (the ``app`` fixture enables all of them) without renaming a public name."""
    assert {"exhibitions", "property_service", "retail_membership"} <= set(app.extensions["trellis"].plugins.enabled_names)


# --- tables ----------------------------------------------------------------------------------------------

def _model(table_name: str):
    from core.db import Base

    table = Table(table_name, Base.metadata, Column("id", Integer, primary_key=True), extend_existing=True)
    return types.SimpleNamespace(__table__=table)


def test_a_table_without_the_prefix_is_refused_naming_the_plugin_and_the_fix():
    from core.db import Base

    model = _model("things")
    try:
        message = refusal(plugin("tidy", trellis_models=lambda: [model]))
    finally:
        Base.metadata.remove(model.__table__)
    assert message == ("Plugin 'tidy' declares the table 'things', which does not start with 'tidy_'. Prefix it "
                       "with the plugin's name ('tidy_things') so plugins never collide.")


def test_two_plugins_listing_one_table_is_refused_naming_both():
    from core.db import Base

    model = _model("one_two_thing")     # a name both prefixes allow (plugins "one" and "one_two")
    try:
        message = refusal(plugin("one", trellis_models=lambda: [model]),
                          plugin("one_two", trellis_models=lambda: [model]))
    finally:
        Base.metadata.remove(model.__table__)
    assert "Plugins 'one' and 'one_two' both list a model of the table 'one_two_thing'" in message


# --- GraphQL types ---------------------------------------------------------------------------------------

def _graphql_plugin(name: str, type_name: str):
    def types_(registry):
        @registry.type(type_name, node=False)
        class Thing:
            """A thing."""

            label: str = strawberry.field(description="Its label.")

    return plugin(name, trellis_graphql_types=types_)


def test_a_graphql_type_without_the_prefix_is_refused_naming_the_plugin_and_the_fix():
    message = refusal(_graphql_plugin("gardens", "Flowerbed"))
    assert message == ("Plugin 'gardens' registers the GraphQL type 'Flowerbed', which does not start with "
                       "'Garden'. Name it 'GardenFlowerbed': a plugin's types start with the first word of its "
                       "name, singular and capitalised, so two plugins never collide.")
    create_app(CONFIG, extra_plugins=[_graphql_plugin("gardens", "GardenFlowerbed")])   # prefixed: accepted


def test_the_connection_of_a_prefixed_type_and_the_enum_of_a_prefixed_vocabulary_are_accepted():
    from api.graphql import schema_of
    from core.labels import Choice

    def types_(registry):
        @registry.type("GardenBed", node=False)
        class GardenBed:
            """A bed."""

            mood: registry.vocabulary_enum("gardens_mood") = strawberry.field(description="Its mood.")

    def query_fields(registry):
        def beds() -> registry.connection("GardenBed"):
            raise NotImplementedError

        return {"gardenBeds": strawberry.field(resolver=beds, description="Beds.")}

    gardens = plugin("gardens", trellis_graphql_types=types_, trellis_graphql_query_fields=query_fields,
                     trellis_labels=lambda: {"gardens_mood": [Choice("calm", "Calm", "平静")]})
    registry = schema_of(create_app(CONFIG, extra_plugins=[gardens])).trellis_registry
    assert registry.owner_of("GardenBed") == registry.owner_of("GardensMood") == "gardens"
    assert registry.owner_of("GardenBedConnection")       # named after its node: no prefix of its own


# --- REST blueprints and OpenAPI schemas -------------------------------------------------------------------

def _rest_plugin(name: str, blueprint_name: str, schema=None, **attributes):
    from api.rest.crud import Blueprint

    class ThingOut(Schema):
        id = fields.UUID()

    out = schema or ThingOut

    def blueprints():
        blp = Blueprint(blueprint_name, blueprint_name, url_prefix="/things")

        @blp.route("")
        @blp.response(200, out)
        def things():
            return {}

        return [blp]

    found = plugin(name, trellis_rest_blueprints=blueprints)
    for key, value in attributes.items():
        setattr(found, key, value)
    return found


class GardenThingOut(Schema):
    id = fields.UUID()


def test_a_rest_blueprint_without_the_prefix_is_refused_naming_the_plugin_and_the_fix():
    message = refusal(_rest_plugin("gardens", "things", GardenThingOut))
    assert message == ("Plugin 'gardens' declares the REST blueprint 'things', which does not start with "
                       "'gardens_'. Prefix it with the plugin's name ('gardens_things') so plugins never collide.")
    create_app(CONFIG, extra_plugins=[_rest_plugin("gardens", "gardens_things", GardenThingOut)])


def test_a_mounted_blueprint_without_the_prefix_is_refused():
    from flask import Blueprint

    bare = Blueprint("feeds", __name__)
    message = refusal(plugin("gardens", trellis_mounted_blueprints=lambda: [(bare, "/gardens-feed")]))
    assert "Plugin 'gardens' declares the mounted blueprint 'feeds', which does not start with 'gardens_'" in message


def test_an_openapi_schema_without_the_prefix_is_refused_naming_the_plugin_and_the_fix():
    message = refusal(_rest_plugin("gardens", "gardens_things"))
    assert message == ("Plugin 'gardens' publishes the REST schema 'ThingOut' (the marshmallow class name less "
                       "'Schema'), which does not start with 'Garden'. Rename the class 'GardenThingOut': a "
                       "plugin's OpenAPI schemas start with the first word of its name, singular and capitalised, "
                       "so two plugins never collide.")


def test_a_schema_name_published_before_the_rule_is_kept_when_listed():
    """``legacy_schema_names`` (the built-in plugins list theirs) keeps names clients already use."""
    create_app(CONFIG, extra_plugins=[_rest_plugin("gardens", "gardens_things",
                                                   legacy_schema_names=frozenset({"ThingOut"}))])


# --- DataLoader names ------------------------------------------------------------------------------------------

def _loader_plugin(name: str, loader_name: str, module: str | None = None):
    """A plugin adding ``Customer.<name>Echo``, loaded under ``loader_name`` by a batch function of
    ``module`` (a plugin that is a module of that name: the loader is the plugin's own)."""

    def echo_batch(ids):
        return {i: str(i) for i in ids}

    if module is not None:
        echo_batch.__module__ = module

    def type_fields(registry):
        def echo(root: strawberry.Parent[object], info: strawberry.Info) -> str:
            return info.context.loaders.load(loader_name, echo_batch, root.id)

        return {"Customer": {f"{name}Echo": strawberry.field(resolver=echo, description="The id again.")}}

    if module is None:
        return plugin(name, trellis_graphql_type_fields=type_fields)
    from core.hookspecs import hookimpl

    obj = types.ModuleType(module)
    obj.name, obj.version, obj.trellis_graphql_type_fields = name, "1.0", hookimpl(type_fields)
    return obj


QUERY = "{ customers { edges { node { %sEcho } } } }"


def test_a_plugins_loader_named_without_its_prefix_fails_its_first_request_naming_the_plugin_and_the_fix(
        database_url, connection, people, caplog):
    with app_with(database_url, connection, _loader_plugin("gardens", "echo", module="gardens_pkg"),
                  people=people) as (api, _):
        rest_customer(api)
        with caplog.at_level(logging.ERROR, logger="trellis.graphql"):
            body = api.as_("rep").graphql(QUERY % "gardens")
    assert body["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert ("Plugin 'gardens' loads 'echo' with the batch function gardens_pkg.") in caplog.text
    assert "a DataLoader name starts with 'gardens.' (or 'core.' for a batch of the core's records). " \
           "Name it 'gardens.echo'" in caplog.text


def test_a_plugins_loader_may_not_use_another_plugins_prefix(database_url, connection, people, caplog):
    with app_with(database_url, connection, _loader_plugin("gardens", "exhibitions.echo", module="gardens_pkg"),
                  people=people) as (api, _):
        rest_customer(api)
        with caplog.at_level(logging.ERROR, logger="trellis.graphql"):
            api.as_("rep").graphql(QUERY % "gardens")
    assert "Plugin 'gardens' loads 'exhibitions.echo'" in caplog.text


def test_a_loader_of_unknown_code_needs_a_components_name(database_url, connection, people, caplog):
    with app_with(database_url, connection, _loader_plugin("gardens", "echo"), people=people) as (api, _):
        rest_customer(api)
        with caplog.at_level(logging.ERROR, logger="trellis.graphql"):
            api.as_("rep").graphql(QUERY % "gardens")
    assert "The DataLoader 'echo' (batch function tests.core.test_plugin_names." in caplog.text
    assert "Prefix it with the plugin's name: '<plugin>.<what>'" in caplog.text


@pytest.mark.parametrize("name, module", [("gardens.echo", "gardens_pkg"), ("core.echo", "gardens_pkg"),
                                          ("gardens.echo", None)])
def test_a_prefixed_loader_name_is_accepted(database_url, connection, people, name, module):
    with app_with(database_url, connection, _loader_plugin("gardens", name, module=module),
                  people=people) as (api, _):
        rest_customer(api)
        data = ok(api.as_("rep").graphql(QUERY % "gardens"))
    assert len(data["customers"]["edges"]) == 1


# --- export types ---------------------------------------------------------------------------------------

def _export_plugin(name: str, export_name: str):
    from core.exports import Export, ListExport

    listed = ListExport(export_name, "Beds.", Export(lambda actor, filters: None, lambda records: [], ("id",)))
    return plugin(name, trellis_export_types=lambda: [listed])


def test_an_export_type_needs_the_prefix_a_name_of_its_own_and_its_columns():
    from core.exports import Export, ListExport

    assert "export type 'beds'" in refusal(_export_plugin("gardens", "beds"))
    from core.imports import ImportColumn, ImportType

    from core.hookspecs import hookimpl

    both = _export_plugin("gardens", "gardens.beds")
    both.trellis_import_types = hookimpl(lambda: [ImportType("gardens.beds", "Beds.", (ImportColumn("external_id", "Id."),),
                                                    write=lambda batch: None)])
    assert "declares the export type 'gardens.beds', which is an import type already" in refusal(both)
    with pytest.raises(PluginError, match="give its Export the columns"):
        ListExport("gardens.beds", "Beds.", Export(lambda actor, filters: None, lambda records: []))
    app = create_app(CONFIG, extra_plugins=[_export_plugin("gardens", "gardens.beds")])
    assert "gardens.beds" in app.extensions["trellis"].export_types
