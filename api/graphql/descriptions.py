"""Descriptions the composed schema derives where the meaning is uniform, so GraphiQL's docs panel explains
every type, field, argument, input field and enum value, and a plugin gets the same for free.

:func:`derive` runs once per schema built, after composition (:func:`api.graphql.compose.build_schema`), on every
component's types alike, and fills only what is still empty: a description the author wrote — in a
``strawberry.field`` / ``strawberry.argument``, a docstring, a marshmallow field's ``metadata["description"]``
(``api.graphql.from_schema``) — always wins. What it derives, in this order:

- **Paging** — ``<T>Connection.edges`` / ``pageInfo`` / ``totalCount``, ``<T>Edge.node`` / ``cursor``, and
  the arguments ``first`` / ``after`` / ``last`` / ``before`` of a field returning a connection
  (:mod:`api.graphql.pagination`).
- **A model's column documentation** — a field of a record type (one implementing ``Node``) whose model
  column of the same name (snake_case) has ``doc=`` takes that text.
- **Record fields every record has** (:data:`RECORD_FIELDS`): ``id``, ``version``, ``createdAt``,
  ``updatedAt``, ``deletedAt``, ``createdById`` …, and the bilingual labels ``labelEn`` / ``labelZhCn``
  (``en`` / ``zhCn``) beside a stored value (:data:`LABEL_FIELDS`).
- **References** — a field or argument named ``<thing>Id`` / ``<thing>Ids`` of type ``ID`` is the id(s) of
  that thing (pointing at the sibling field ``<thing>`` that reads the record, when the type has one), and
  the field ``<thing>`` beside ``<thing>Id`` is the record it names.
- **Inputs named after their record** (the ``input-name`` convention): ``<T>CreateInput``,
  ``<T>UpdateInput`` and ``<T>Input`` describe themselves from ``T`` and take each field's description from
  ``T``'s field of the same name; ``<T>Filter`` says a record must match every field given, and a field
  named like a field of ``T`` keeps only the records with that value.
- **Standard arguments** (:data:`ARGUMENTS`): ``id``, ``ids``, ``input``, ``filter``, ``orderBy``,
  ``version``, ``reason`` …

What stays the author's to write: each type's docstring (the domain: what the record is, who sees it),
every field, argument and input field that says something of its own (its meaning, unit — money is a
decimal string, dates and times are UTC ISO 8601 — and when it is null), root fields (``crud_fields``
writes its six), and enum values other than a label vocabulary's (those take their English label,
:mod:`api.graphql.vocabularies`). ``trellis graphql-schema --check --plugin <name>`` lists what is missing.
"""
from __future__ import annotations

import re
from typing import Any

from graphql import (GraphQLInputObjectType, GraphQLInterfaceType, GraphQLList, GraphQLNonNull, GraphQLObjectType,
                     GraphQLSchema, get_named_type)

from api.graphql import pagination
from api.graphql.inputs import snake_case
from core.schemas import MAX_PAGE_SIZE

__all__ = ["ARGUMENTS", "INPUT_FIELDS", "LABEL_FIELDS", "RECORD_FIELDS", "a_type", "derive"]

#: fields every record has, by GraphQL name: what they mean on any record type and its inputs
RECORD_FIELDS = {
    "id": "The record's id (a UUID), the one REST uses; `node(id:)` finds the record by it.",
    "version": ("The record's version, raised on every change (optimistic concurrency): send the version you "
                "read with an update; a stale one is a CONFLICT."),
    "createdAt": "When the record was created (UTC, ISO 8601).",
    "updatedAt": "When the record was last changed (UTC, ISO 8601).",
    "deletedAt": "When the record was soft-deleted (UTC, ISO 8601); null while it is live.",
    "createdById": "The id of the user who created the record; null when the system did.",
    "recordType": ("The type of the record it concerns, as the audit log names it (customer, contact, interaction "
                   "or a plugin's record type)."),
}
#: the bilingual labels a type carries beside a stored value (the label registry's two languages)
LABEL_FIELDS = {
    "labelEn": "The English label.",
    "labelZhCn": "The Chinese (zh-CN) label.",
    "en": "The English label.",
    "zhCn": "The Chinese (zh-CN) label.",
}
#: a bilingual name (the ``Label`` type, or ``LabelInput``) in a field of this name
LABEL_OBJECT = ("label", "Its name, in English (`en`) and Chinese (`zhCn`).")
#: the same names in an input: what a client sends
INPUT_FIELDS = {
    "version": "The version you read; a stale one is a CONFLICT (someone changed the record since).",
    "deleted": "True: list soft-deleted records instead of live ones (default false).",
}
#: arguments that mean the same on every field
ARGUMENTS = {
    # the texts the pagination annotations carry, for a connection field that typed its arguments otherwise
    **{name: annotation.__metadata__[0].description for name, annotation in
       (("first", pagination.First), ("after", pagination.After), ("last", pagination.Last),
        ("before", pagination.Before))},
    "ids": f"Record ids (UUIDs), at most {MAX_PAGE_SIZE}.",
    "orderBy": "Sort keys, comma-separated, `-` before a key for descending.",
    "version": "The version you read; a stale one is a CONFLICT (someone changed the record since).",
    "reason": "Why, in your words: kept with the change in the record's history and audit log.",
    "note": "A note kept with the decision or action in the record's history.",
}

PAGING_ARGUMENTS = ("first", "after", "last", "before")
_INPUT_KINDS = (("CreateInput", "create"), ("UpdateInput", "update"), ("Filter", "filter"), ("Input", "input"))
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def derive(schema: GraphQLSchema, registry: Any) -> None:
    """Fill every empty description of ``schema`` (a built graphql-core schema) that a rule above covers."""
    connections = {f"{name}Connection": name for name in registry._connections}
    edges = {f"{name}Edge": name for name in registry._connections}
    models = {name: getattr(source, "model", None) for name, source in registry.node_sources().items()}
    types = schema.type_map
    roots = {t for t in (schema.query_type, schema.mutation_type) if t is not None}

    # object types first: the inputs copy their fields' descriptions
    for name, gql_type in types.items():
        if name.startswith("__") or not isinstance(gql_type, (GraphQLObjectType, GraphQLInterfaceType)):
            continue
        for field_name, field in gql_type.fields.items():
            if not field.description:
                if name in connections:
                    field.description = _connection_field(field_name, connections[name])
                elif name in edges:
                    field.description = _edge_field(field_name, edges[name])
                elif gql_type not in roots:
                    field.description = (_column_doc(models.get(name), field_name)
                                         or RECORD_FIELDS.get(field_name) or LABEL_FIELDS.get(field_name)
                                         or _label_object(field_name, field.type)
                                         or _reference(field_name, field.type, gql_type.fields)
                                         or _referenced(field_name, field.type, gql_type.fields))
            for arg_name, arg in field.args.items():
                if not arg.description:
                    arg.description = _argument(arg_name, arg.type, field_name, field)

    for name, gql_type in types.items():
        if name.startswith("__") or not isinstance(gql_type, GraphQLInputObjectType):
            continue
        record_name, kind = _record_of(name, types)
        record = types.get(record_name) if record_name else None
        if not gql_type.description and record is not None:
            gql_type.description = _input_type(kind, record_name)
        for field_name, field in gql_type.fields.items():
            if field.description:
                continue
            own = record.fields.get(field_name) if record is not None else None
            if kind == "filter" and own is not None and field_name not in INPUT_FIELDS:
                field.description = f"Only the records whose `{field_name}` is this value."
            elif kind in ("create", "update", "input") and own is not None and own.description \
                    and field_name not in INPUT_FIELDS:
                field.description = own.description
            else:
                field.description = (INPUT_FIELDS.get(field_name) or RECORD_FIELDS.get(field_name)
                                     or _reference(field_name, field.type, gql_type.fields))



def _label_object(field_name: str, field_type) -> str | None:
    """The description of a field named ``label`` holding a ``Label`` (or ``LabelInput``)."""
    return LABEL_OBJECT[1] if field_name == LABEL_OBJECT[0] and get_named_type(field_type).name in (
        "Label", "LabelInput") else None

def _connection_field(field_name: str, node: str) -> str | None:
    return {
        "edges": f"The page's `{node}` records, each with its cursor, in list order.",
        "pageInfo": "Where the page lies in the list: whether records precede or follow it, and its end cursors.",
        "totalCount": "How many records the whole list has (all pages, the same filter), not only this page; "
                      "at most the server's count limit (TRELLIS_LIST_COUNT_LIMIT, 2,000 by default): "
                      "`totalCountCapped` says when there are more.",
        "totalCountCapped": "True when the list has more records than `totalCount` says (it stopped counting at "
                            "the server's count limit, TRELLIS_LIST_COUNT_LIMIT).",
    }.get(field_name)


def _edge_field(field_name: str, node: str) -> str | None:
    return {
        "node": f"The `{node}` record.",
        "cursor": "This record's position in the list: pass it as `after` or `before` to page from it.",
    }.get(field_name)


def _column_doc(model: Any, field_name: str) -> str | None:
    """The ``doc=`` of ``model``'s column named like the field (snake_case), if any."""
    table = getattr(model, "__table__", None)
    column = table.columns.get(snake_case(field_name)) if table is not None else None
    return getattr(column, "doc", None) or None


def _is_id(gql_type: Any) -> bool:
    return getattr(get_named_type(gql_type), "name", None) == "ID"


def _nullable(gql_type: Any) -> bool:
    return not isinstance(gql_type, GraphQLNonNull)


def a_type(name: str) -> str:
    """``Interaction`` → ``an `Interaction` `` (the article as the name is said; ``User`` → ``a `User` ``)."""
    article = "an" if name[:1] in "AEIO" else "a"
    return f"{article} `{name}`"


def _words(name: str) -> str:
    return _HUMP.sub(" ", name).lower()


def _reference(field_name: str, gql_type: Any, siblings: Any) -> str | None:
    """``customerId`` → the id of the customer (``contactIds`` → the ids of the contacts)."""
    if not _is_id(gql_type):
        return None
    inner = gql_type.of_type if isinstance(gql_type, GraphQLNonNull) else gql_type
    many = isinstance(inner, GraphQLList)
    stem = field_name[:-3] if many and field_name.endswith("Ids") else field_name[:-2] if field_name.endswith("Id") \
        else None
    if not stem:
        return None
    if many:
        return f"The ids (UUIDs) of the {_words(stem)}s."
    text = f"The id (a UUID) of the {_words(stem)}"
    if stem in siblings:
        text += f"; `{stem}` reads that record"
    return text + ("; null when there is none." if _nullable(gql_type) else ".")


def _referenced(field_name: str, gql_type: Any, siblings: Any) -> str | None:
    """``customer`` beside ``customerId``: the record that id names."""
    named = get_named_type(gql_type)
    if f"{field_name}Id" not in siblings or not isinstance(named, GraphQLObjectType):
        return None
    return f"The `{named.name}` that `{field_name}Id` names; null when there is none or it is not yours to see."


def _argument(arg_name: str, gql_type: Any, field_name: str, field: Any) -> str | None:
    returned = get_named_type(field.type)
    returned_name = getattr(returned, "name", "record")
    arg_type = get_named_type(gql_type)
    if arg_name == "id":
        # ``updateCustomer(id)`` answers the Customer it names; ``pingWebhook(id)`` answers a delivery, so the
        # id is said to be the returned type's only when the field is named after it (its last word)
        last_word = _HUMP.split(returned_name)[-1]
        if isinstance(returned, GraphQLObjectType) and not returned_name.endswith("Connection") \
                and last_word.lower() in field_name.lower():
            return f"The id (a UUID) of the `{returned_name}`."
        return "The record's id (a UUID)."
    if arg_name == "input":
        return f"What to send: the fields of `{arg_type.name}`."
    if arg_name == "filter":
        return f"Only the records that match every field given (`{arg_type.name}`)."
    if arg_name in PAGING_ARGUMENTS and not returned_name.endswith("Connection"):
        return None   # a plain list's own limit: its author says what it means
    return ARGUMENTS.get(arg_name) or _reference(arg_name, gql_type, {})


def _record_of(input_name: str, types: Any) -> tuple[str | None, str | None]:
    """``CustomerCreateInput`` → ``("Customer", "create")`` when ``Customer`` is an object type; a plugin's
    prefix the type lacks is dropped (``ExhibitionBoothFilter`` → ``Booth``)."""
    for suffix, kind in _INPUT_KINDS:
        if not input_name.endswith(suffix):
            continue
        stem = input_name[:-len(suffix)]
        unprefixed = _HUMP.split(stem, maxsplit=1)[-1]
        for name in (stem, unprefixed):
            if isinstance(types.get(name), GraphQLObjectType) and not name.endswith(("Connection", "Edge")):
                return name, kind
    return None, None


def _input_type(kind: str | None, record: str) -> str:
    return {
        "create": f"The fields of a new `{record}`; a field left out takes its default (as in REST).",
        "update": (f"Changes to {a_type(record)}: only the fields sent change (null clears a field that may be "
                   "empty); `version` is the one you read."),
        "filter": f"Narrows a list of `{record}` records: a record is listed when it matches every field given.",
        "input": f"The fields of {a_type(record)} to create or change.",
    }[kind]
