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
  (``retail_membership`` → ``Retail…``, ``exhibitions`` → ``Exhibition…``: :func:`core.plugins.type_prefix`;
  an app refuses to start otherwise, so this finding shows only in a registry built by hand), and its
  ``Query`` and ``Mutation`` fields hold that word (``retailStores``, ``createExhibitionBooth``,
  ``redeemRetailPoints``).
- ``ordered-list``: a connection takes ``orderBy: [<Node>Order!]`` (a field enum and a direction,
  :mod:`api.graphql.ordering`), whatever its default ordering.
- ``list-arguments``: a connection's arguments are the paging ones (``first``, ``after``, ``last``,
  ``before``), ``filter`` (one ``<Node>Filter`` input holding every condition) and ``orderBy``; nothing
  loose beside them.
- ``input-name``: an input is never ``<Type>Input`` for a record type of the schema (a type with an
  ``id``; a value object's mirror, ``LabelInput`` for ``Label``, is fine);
  ``<X>CreateInput`` / ``<X>UpdateInput`` name an object type ``X`` or the mutation ``create<X>`` /
  ``update<X>``; ``<X>Filter`` names an object type ``X``. Any other input is named after the mutation that
  takes it (``AllocateCustomersInput``) or the part of another input it is (``AllocationRuleInput``).

A field may be exempt from ``closed-vocabulary`` or ``record-list`` with a stated reason:
``strawberry.field(metadata=open_vocabulary("…"))`` / ``metadata=bounded_list("…")``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from graphql import (GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLList, GraphQLNonNull,
                     GraphQLObjectType, GraphQLScalarType, get_named_type)

RULES = ("description", "record-list", "closed-vocabulary", "plugin-prefix", "input-name", "ordered-list",
         "list-arguments")
#: the arguments a connection may take (``list-arguments``)
LIST_ARGUMENTS = {"first", "after", "last", "before", "filter", "orderBy"}
#: the ``metadata`` key of a field (``strawberry.field(metadata=...)``) saying which rule does not apply to it
#: and why; set it with :func:`open_vocabulary` or :func:`bounded_list`, never by hand
EXEMPT = "trellis.conventions.exempt"


def open_vocabulary(why: str) -> dict:
    """``metadata`` of a field named like a vocabulary whose values are not a closed vocabulary but records
    created at run time (a request kind the service centre adds, a purchase category a POS sends): it stays
    a ``String`` and ``closed-vocabulary`` does not flag it. ``why`` says where the values come from."""
    return {EXEMPT: {"closed-vocabulary": why}}


def bounded_list(why: str) -> dict:
    """``metadata`` of a plain list of records that is not a list to page through: a small set fixed by
    configuration or computed per call (the k segments of an analytics run). ``record-list`` does not flag
    it. ``why`` says what bounds it."""
    return {EXEMPT: {"record-list": why}}
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
    from core.plugins import type_prefix

    return type_prefix(owner)


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
        if isinstance(gql_type, GraphQLInputObjectType) and _off_convention_input(schema, name):
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
            if gql_type in roots and field_owner != "core" and _prefix(field_owner).lower() not in field_name.lower():
                yield Finding("plugin-prefix", place, field_owner)
            for arg_name, arg in getattr(field, "args", {}).items():
                if not arg.description:
                    yield Finding("description", f"{place}({arg_name})", field_owner)
            returned = _unwrap(field.type)
            named = get_named_type(returned)
            exempt = _exemptions(field)
            if field_name in VOCABULARY_NAMES and getattr(named, "name", None) == "String" \
                    and "closed-vocabulary" not in exempt:
                yield Finding("closed-vocabulary", place, field_owner)
            if gql_type is not schema.mutation_type and _is_connection(named):
                yield from _check_list_arguments(place, field, named, field_owner)
            if isinstance(returned, GraphQLList) and gql_type is not schema.mutation_type \
                    and "record-list" not in exempt \
                    and isinstance(named, GraphQLObjectType) and node is not None and node in named.interfaces:
                yield Finding("record-list", place, field_owner)


def _is_connection(named: Any) -> bool:
    return isinstance(named, GraphQLObjectType) and named.name.endswith("Connection") \
        and {"edges", "pageInfo"} <= set(named.fields)


def _check_list_arguments(place: str, field: Any, connection: Any, owner: str) -> Iterator[Finding]:
    """``ordered-list`` and ``list-arguments`` for one connection field."""
    node_name = get_named_type(get_named_type(connection.fields["edges"].type).fields["node"].type).name
    order = field.args.get("orderBy")
    if order is None or get_named_type(order.type).name != f"{node_name}Order":
        yield Finding("ordered-list", place, owner)
    for arg_name, arg in field.args.items():
        if arg_name not in LIST_ARGUMENTS or (
                arg_name == "filter" and get_named_type(arg.type).name != f"{node_name}Filter"):
            yield Finding("list-arguments", f"{place}({arg_name})", owner)


def _field_owner(registry: Any, type_name: str, field_name: str, default: str) -> str:
    """Who added ``type_name.field_name``: root fields and added fields carry their own owner."""
    return registry.field_owner(type_name, field_name) or default


def _exemptions(field: Any) -> dict:
    """The rules a field is exempt from (:func:`open_vocabulary`, :func:`bounded_list`), with the reasons."""
    definition = (getattr(field, "extensions", None) or {}).get("strawberry-definition")
    return dict((getattr(definition, "metadata", None) or {}).get(EXEMPT) or {})


def _off_convention_input(schema: Any, name: str) -> bool:
    """``input-name``: see the module docstring."""
    def is_object(type_name: str) -> bool:
        return isinstance(schema.type_map.get(type_name), GraphQLObjectType)

    mutations = schema.mutation_type.fields if schema.mutation_type is not None else {}
    for suffix, verb in (("CreateInput", "create"), ("UpdateInput", "update")):
        if name.endswith(suffix):
            stem = name[:-len(suffix)]
            return not is_object(stem) and f"{verb}{stem}" not in mutations
    if name.endswith("Filter"):
        return not is_object(name[:-len("Filter")])
    # a value object (no ``id``) is sent as its mirror, ``LabelInput`` for ``Label``: it creates nothing,
    # so the name cannot mislead; for a record it would not say whether it creates, changes or filters
    stem = name[:-len("Input")] if name.endswith("Input") else None
    return stem is not None and is_object(stem) and "id" in schema.type_map[stem].fields
