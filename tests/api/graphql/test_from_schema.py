"""Inputs and types made from marshmallow schemas: the SDL a plugin gets for a record declared once."""
from __future__ import annotations

import strawberry
from marshmallow import Schema, fields, validate

from api.graphql.from_schema import input_from_schema, type_from_schema
from api.graphql.inputs import input_to_dict
from api.graphql.registry import SchemaRegistry


class Tag(Schema):
    key = fields.String(required=True)
    weight = fields.Integer()


class NoteCreate(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1), metadata={"description": "Shown first."})
    body = fields.String(load_default="")
    due_on = fields.Date(allow_none=True)
    amount = fields.Decimal(places=2)
    owner_id = fields.UUID(required=True, allow_none=True)
    tags = fields.List(fields.Nested(Tag))
    extra = fields.Dict()


class NoteUpdate(NoteCreate):
    version = fields.Integer(required=True)


class NoteOut(Schema):
    id = fields.UUID(dump_only=True)
    title = fields.String()
    due_on = fields.Date(allow_none=True)
    tags = fields.List(fields.Nested(Tag))
    author = fields.String(attribute="author.name", allow_none=True)


def _schema():
    registry = SchemaRegistry()
    type_from_schema(registry, "Note", NoteOut, description="A note.", prefix="Demo", node=False)
    input_from_schema(registry, "NoteCreateInput", NoteCreate, prefix="Demo")
    input_from_schema(registry, "NoteUpdateInput", NoteUpdate, update=True, prefix="Demo")
    seen = {}

    def note(input: registry.ref("NoteCreateInput")) -> registry.ref("Note"):
        seen["create"] = input_to_dict(input)
        return type("Row", (), {"id": "n1", "title": "T", "due_on": None, "tags": [],
                                "author": type("A", (), {"name": "Ann"})()})()

    def touch(input: registry.ref("NoteUpdateInput")) -> bool:
        seen["update"] = input_to_dict(input)
        return True

    registry.add_root_fields("Query", "core", {"note": strawberry.field(resolver=note),
                                               "touch": strawberry.field(resolver=touch)})
    query, _ = registry.build_roots()
    return strawberry.Schema(query=query), seen


def test_the_sdl_follows_the_schema_fields():
    sdl = str(_schema()[0])
    create = sdl[sdl.index("input NoteCreateInput {"):]
    create = create[:create.index("}")]
    assert "title: String!" in create and '"""Shown first."""' in create
    # not required, or allowed to be null → may be left out
    for line in ("body: String", "dueOn: Date", "amount: String", "ownerId: ID", "tags: [DemoTagInput!]",
                 "extra: JSON"):
        assert f"  {line}\n" in create, line
    update = sdl[sdl.index("input NoteUpdateInput {"):]
    update = update[:update.index("}")]
    assert "  title: String\n" in update and "  version: Int!\n" in update
    assert sdl.count("input DemoTagInput {") == 1      # shared by both inputs
    assert "type Note {" in sdl and "  author: String\n" in sdl and "tags: [DemoTag!]!" in sdl


def test_values_reach_the_service_as_a_rest_body_would():
    schema, seen = _schema()
    result = schema.execute_sync('{ note(input: {title: "T", ownerId: null, tags: [{key: "a"}], amount: "1.50"}) '
                                 '{ title author } touch(input: {version: 2}) }')
    assert result.errors is None, result.errors
    assert result.data == {"note": {"title": "T", "author": "Ann"}, "touch": True}
    assert seen == {"create": {"title": "T", "owner_id": None, "tags": [{"key": "a"}], "amount": "1.50"},
                    "update": {"version": 2}}
