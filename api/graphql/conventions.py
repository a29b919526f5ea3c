"""The house conventions of the composed GraphQL schema, checked: what ``trellis graphql-schema --check``
prints and ``tests/api/graphql/test_conventions.py`` holds the schema to. Each finding names its rule, the
place (``Type.field(arg)``) and the component that registered the type, so a plugin author can check their
own part: ``findings(schema, owner="my_plugin")``.

Rules (docs/graphql.md, "Conventions"):

- ``description``: every type, field, argument, input field and enum value says what it is.
- ``record-list``: a list of records (types implementing ``Node``) is a connection, not a plain list
  (``Query`` and object fields; a mutation may answer the records it changed as a list).
- ``closed-vocabulary``: a ``String`` named like a vocabulary (status, stage, kind, tier, role, level,
  priority, relation, rating, category) is an enum of the label registry.
- ``plugin-prefix``: a plugin's object and input types start with the plugin's first word, singular
  (``retail_membership`` → ``Retail…``, ``exhibitions`` → ``Exhibition…``).
- ``input-name``: an input named after a record type is ``<Type>CreateInput`` / ``<Type>UpdateInput`` /
  ``<Type>Filter``, not ``<Type>Input``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from graphql import (GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLList, GraphQLNonNull,
                     GraphQLObjectType, GraphQLScalarType, get_named_type)

RULES = ("description", "record-list", "closed-vocabulary", "plugin-prefix", "input-name")
VOCABULARY_NAMES = {"status", "stage", "kind", "tier", "role", "level", "priority", "relation", "rating",
                    "category"}


@dataclass(frozen=True)
class Finding:
    rule: str
    place: str
    owner: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.place} ({self.owner})"


def findings(schema: Any, owner: str | None = None) -> list[Finding]:
    """Every departure from the conventions in a composed schema (a ``TrellisSchema``); only the types of
    ``owner`` when given."""
    registry = schema.trellis_registry
    out = list(_check(schema._schema, registry))
    return [f for f in out if owner is None or f.owner == owner]


def _prefix(owner: str) -> str:
    word = owner.split("_")[0]
    word = word[:-1] if word.endswith("s") else word
    return word[:1].upper() + word[1:]


def _unwrap(t: Any) -> Any:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return t


def _check(schema: Any, registry: Any) -> Iterator[Finding]:
    node = schema.type_map.get("Node")
    roots = {schema.query_type, schema.mutation_type}
    for name, gql_type in sorted(schema.type_map.items()):
        if name.startswith("__") or isinstance(gql_type, GraphQLScalarType):
            continue
        owner = registry.owner_of(name) or "core"
        if not gql_type.description and gql_type not in roots:
            yield Finding("description", name, owner)
        if owner != "core" and isinstance(gql_type, (GraphQLObjectType, GraphQLInputObjectType)) \
                and gql_type not in roots and not name.startswith(_prefix(owner)):
            yield Finding("plugin-prefix", name, owner)
        if isinstance(gql_type, GraphQLInputObjectType) and name.endswith("Input") \
                and isinstance(schema.type_map.get(name[:-len("Input")]), GraphQLObjectType):
            yield Finding("input-name", name, owner)
        if isinstance(gql_type, GraphQLEnumType):
            for value_name, value in gql_type.values.items():
                if not value.description:
                    yield Finding("description", f"{name}.{value_name}", owner)
            continue
        if not isinstance(gql_type, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            continue
        for field_name, field in gql_type.fields.items():
            place = f"{name}.{field_name}"
            field_owner = _field_owner(registry, name, field_name, owner)
            if not field.description:
                yield Finding("description", place, field_owner)
            for arg_name, arg in getattr(field, "args", {}).items():
                if not arg.description:
                    yield Finding("description", f"{place}({arg_name})", field_owner)
            returned = _unwrap(field.type)
            named = get_named_type(returned)
            if field_name in VOCABULARY_NAMES and getattr(named, "name", None) == "String":
                yield Finding("closed-vocabulary", place, field_owner)
            if isinstance(returned, GraphQLList) and gql_type is not schema.mutation_type \
                    and isinstance(named, GraphQLObjectType) and node is not None and node in named.interfaces:
                yield Finding("record-list", place, field_owner)


def _field_owner(registry: Any, type_name: str, field_name: str, default: str) -> str:
    """Who added ``type_name.field_name``: root fields and added fields carry their own owner."""
    return registry.field_owner(type_name, field_name) or default
