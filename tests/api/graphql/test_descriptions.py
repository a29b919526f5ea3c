"""Descriptions derived where the meaning is uniform (api/graphql/descriptions.py): a plugin's record gets
them with no GraphQL text written — the sample plugin documents only its model's columns — and what an
author wrote is never replaced."""
from __future__ import annotations

from typing import Optional

import strawberry

from api.graphql import schema_of
from api.graphql.descriptions import INPUT_FIELDS, RECORD_FIELDS, derive
from api.graphql.registry import SchemaRegistry
from tests import sample_plugin
from tests.api.graphql.helpers import app_with


def _types(api):
    return schema_of(api.client.application)._schema.type_map


def test_a_plugin_record_is_described_from_its_model_and_the_conventions(database_url, connection):
    text_doc = sample_plugin.SampleNote.__table__.c.text.doc
    assert text_doc   # the sample plugin documents the column, nothing in its GraphQL types
    with app_with(database_url, connection, sample_plugin) as (api, _runtime):
        types = _types(api)
    note, create, update = types["SampleNote"], types["SampleNoteCreateInput"], types["SampleNoteUpdateInput"]
    assert note.fields["text"].description == text_doc
    assert create.fields["text"].description == text_doc and update.fields["text"].description == text_doc
    assert note.fields["version"].description == RECORD_FIELDS["version"]
    assert update.fields["version"].description == INPUT_FIELDS["version"]
    assert note.fields["customerId"].description == "The id (a UUID) of the customer."
    assert types["SampleNoteFilter"].fields["customerId"].description == \
        "Only the records whose `customerId` is this value."
    assert "`SampleNote`" in create.description and "`version`" in update.description
    assert "`SampleNote`" in types["SampleNoteFilter"].description
    connection_type, edge = types["SampleNoteConnection"], types["SampleNoteEdge"]
    assert all(f.description for f in [*connection_type.fields.values(), *edge.fields.values()])
    listing = types["Query"].fields["sampleNotes"]
    assert all(arg.description for arg in listing.args.values())
    assert types["Mutation"].fields["createSampleNote"].args["input"].description == \
        "What to send: the fields of `SampleNoteCreateInput`."


def test_what_the_author_wrote_is_kept(database_url, connection):
    with app_with(database_url, connection) as (api, _runtime):
        types = _types(api)
    customer, create = types["Customer"], types["CustomerCreateInput"]
    # the input's own text, not the record field's
    assert customer.fields["stage"].description.startswith("Lifecycle stage")
    assert create.fields["stage"].description.startswith("Initial stage")
    assert create.fields["ownerId"].description == "Default: you."
    # a field the record type describes: the input takes its text
    assert create.fields["industry"].description == customer.fields["industry"].description
    # the paging arguments' own text (api.graphql.pagination) stays
    assert types["Query"].fields["customers"].args["first"].description.startswith("Read forward")


def test_only_uniform_meanings_are_derived():
    registry = SchemaRegistry()

    @registry.type("Gadget", node=False)
    class Gadget:
        """A gadget."""

        id: strawberry.ID
        colour: str
        owner_id: Optional[strawberry.ID]
        version: int = strawberry.field(description="The gadget's own version story.")

    def gadgets(limit: int = 5, id: Optional[strawberry.ID] = None) -> list[registry.ref("Gadget")]:
        return []

    def ping_gadget(id: strawberry.ID) -> Optional[registry.ref("Gadget")]:
        return None

    def ping_other(id: strawberry.ID) -> Optional[registry.ref("Gadget")]:
        return None

    registry.add_root_fields("Query", "core", {"gadgets": strawberry.field(resolver=gadgets),
                                               "pingGadget": strawberry.field(resolver=ping_gadget),
                                               "pingOther": strawberry.field(resolver=ping_other)})
    query, _ = registry.build_roots()
    schema = strawberry.Schema(query=query)
    derive(schema._schema, registry)
    gadget, root = schema._schema.type_map["Gadget"], schema._schema.query_type
    assert gadget.fields["id"].description == RECORD_FIELDS["id"]
    assert gadget.fields["ownerId"].description == "The id (a UUID) of the owner; null when there is none."
    assert gadget.fields["version"].description == "The gadget's own version story."
    assert gadget.fields["colour"].description is None            # its meaning is the author's to say
    assert root.fields["gadgets"].args["limit"].description is None
    assert root.fields["pingGadget"].args["id"].description == "The id (a UUID) of the `Gadget`."
    # a field not named after what it returns: the id is not said to be that type's
    assert root.fields["pingOther"].args["id"].description == "The record's id (a UUID)."
