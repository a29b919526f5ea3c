"""GraphQL inputs and object types made from the marshmallow schemas a record already has for REST, so a
record's fields are declared once: ``input_from_schema`` for its create, update and filter inputs,
``type_from_schema`` for its output type::

    from api.graphql.from_schema import input_from_schema, type_from_schema

    @hookimpl
    def trellis_graphql_types(registry):
        type_from_schema(registry, "NoteBook", schemas.NoteBookOut, description="A notebook.")
        input_from_schema(registry, "NoteBookCreateInput", schemas.NoteBookCreate)
        input_from_schema(registry, "NoteBookUpdateInput", schemas.NoteBookUpdate)
        input_from_schema(registry, "NoteBookFilter", schemas.NoteBookFilter)

Then ``crud_fields(registry, "NoteBook", ...)`` serves them. Field names are the schema's (snake_case,
shown camelCase); descriptions are the fields' ``metadata["description"]``. Types map as REST documents
them: ``String``/``Email``/``Url`` → ``String``, ``Integer`` → ``Int``, ``Float`` → ``Float``,
``core.schemas.Money`` → ``Money`` (api/graphql/money.py), any other ``Decimal`` → ``String`` (a decimal as a
string, as REST sends it), ``Boolean``, ``Date``, ``DateTime``,
``UUID`` → ``ID``, ``List(x)`` → ``[x]``, ``Nested(S)`` → an input ``<prefix>SInput`` or a type
``<prefix>S`` made the same way (once per schema, shared by the inputs that nest it), anything else
(``Dict``, ``Raw``) → ``JSON``. In an input, a field is non-null only when it is ``required`` and does not
``allow_none`` (with ``update=True`` only ``version`` is), every other field may be left out: the service
applies the schema's defaults, exactly as for a REST body. In a type, a field is nullable when it
``allow_none``; a bilingual pair (``label_en`` + ``label_zh_cn``, or ``name`` + ``name_zh_cn``) becomes
one field ``label: Label!`` / ``name: Label!`` (api/graphql/label.py). Fields the type adds itself (a resolver through a loader, say) are kept: pass ``base``.

A ``String`` whose ``OneOf`` choices are exactly the values of a label vocabulary becomes that
vocabulary's enum (docs/graphql.md, "Enums and labels"); ``vocabularies={"field": "vocabulary"}`` names
one for a field the rule cannot see (an output field, a vocabulary checked in the service).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Optional

import strawberry
from marshmallow import Schema, fields, validate
from strawberry import UNSET
from strawberry.scalars import JSON

from api.graphql.inputs import LABELS
from api.graphql.label import label_field, label_pairs
from api.graphql.money import Money
from api.graphql.vocabularies import UNKNOWN
from core import schemas as core_schemas

__all__ = ["crud_inputs", "input_from_schema", "type_from_schema"]

_SCALARS: tuple[tuple[type, Any], ...] = (
    (fields.UUID, strawberry.ID),
    (fields.Boolean, bool),
    (fields.Integer, int),
    (core_schemas.Money, Money),   # before Decimal, which it is
    (fields.Decimal, str),
    (fields.Float, float),
    (fields.AwareDateTime, dt.datetime),
    (fields.NaiveDateTime, dt.datetime),
    (fields.DateTime, dt.datetime),
    (fields.Date, dt.date),
    (fields.String, str),   # Email and Url are Strings
)


def _schema_class(schema: Any) -> type[Schema]:
    return schema if isinstance(schema, type) else type(schema)


def _vocabulary_by_values(registry: Any) -> dict[frozenset, str]:
    """Each vocabulary's set of stored values → the vocabulary (the first by name when two share a set)."""
    out: dict[frozenset, str] = {}
    for name, enum_cls in sorted(registry.vocabulary_enums().items(), reverse=True):
        out[frozenset(m.value for m in enum_cls if m.name != UNKNOWN)] = name
    return out


def _closed_vocabulary(registry: Any, field: fields.Field) -> str | None:
    """The vocabulary whose values are exactly a field's ``OneOf`` choices, if any."""
    for validator in field.validators:
        if isinstance(validator, validate.OneOf):
            return _vocabulary_by_values(registry).get(frozenset(validator.choices))
    return None


def _annotation(registry: Any, prefix: str, field: fields.Field, *, is_input: bool,
                vocabulary: str | None = None) -> Any:
    vocabulary = vocabulary or (_closed_vocabulary(registry, field) if isinstance(field, fields.String) else None)
    if vocabulary:
        return registry.vocabulary_enum(vocabulary)
    if isinstance(field, fields.List):
        return list[_annotation(registry, prefix, field.inner, is_input=is_input)]
    if isinstance(field, fields.Nested):
        inner = registry.ref(_nested(registry, prefix, _schema_class(field.nested), is_input))
        return list[inner] if field.many else inner
    for kind, annotation in _SCALARS:
        if isinstance(field, kind):
            return annotation
    return JSON


def _nested(registry: Any, prefix: str, schema: type[Schema], is_input: bool) -> str:
    """The name of the input or type made for a nested schema, made once per registry: ``<prefix><Schema>``
    (``Input`` appended for an input), so the create and the update input share it."""
    made = registry.__dict__.setdefault("_from_schema_nested", {})
    key = (schema, is_input)
    if key not in made:
        name = made[key] = f"{prefix}{schema.__name__}{'Input' if is_input else ''}"
        (input_from_schema if is_input else type_from_schema)(registry, name, schema, prefix=prefix)
    return made[key]


def _fields(schema: Any, exclude: tuple[str, ...]) -> dict[str, fields.Field]:
    declared = _schema_class(schema)().fields   # an instance applies Meta.exclude and inheritance
    return {key: f for key, f in declared.items() if key not in exclude and not f.dump_only}


def input_from_schema(registry: Any, name: str, schema: Any, *, description: str | None = None,
                      exclude: tuple[str, ...] = (), update: bool = False, prefix: str = "",
                      vocabularies: Mapping[str, str] | None = None,
                      metadata: Mapping[str, dict] | None = None) -> Any:
    """Register the input ``name`` with the load fields of the marshmallow ``schema``; returns it.

    ``update=True`` makes every field optional but ``version``, as ``core.services.common.validate_update``
    reads an update. Nested schemas become inputs named ``<prefix><Schema>Input``. ``metadata`` gives a
    field's strawberry metadata by name (``{"kind": conventions.open_vocabulary("…")}``)."""
    annotations: dict[str, Any] = {}
    body: dict[str, Any] = {}
    loaded = _fields(schema, exclude)
    pairs = label_pairs(loaded)   # x_en + x_zh_cn (or x + x_zh_cn) → x: LabelInput
    for label, (en, zh) in pairs.items():
        required = loaded[en].required and not loaded[en].allow_none and not update
        annotations[label] = registry.ref("LabelInput") if required else Optional[registry.ref("LabelInput")]
        body[label] = strawberry.field(description=loaded[en].metadata.get("description"),
                                       **({} if required else {"default": UNSET}))
    for key, field in loaded.items():
        if any(key in pair for pair in pairs.values()):
            continue
        annotation = _annotation(registry, prefix, field, is_input=True, vocabulary=(vocabularies or {}).get(key))
        text = field.metadata.get("description")
        required = field.required and not field.allow_none and (not update or key == "version")
        extra = (metadata or {}).get(key)
        if required:
            annotations[key] = annotation
            body[key] = strawberry.field(description=text, metadata=extra)
        else:
            annotations[key] = Optional[annotation]
            body[key] = strawberry.field(default=UNSET, description=text, metadata=extra)
    # strawberry's inputs are keyword-only dataclasses: the schema's order stays, defaults or not
    cls = type(name, (), {"__annotations__": annotations, **body, "__doc__": description or _doc(schema),
                          LABELS: pairs})
    return registry.input(name, description=description or _doc(schema))(cls)


def crud_inputs(registry: Any, type_name: str, *, create: Any, update: Any, filter: Any, prefix: str = "",
                vocabularies: Mapping[str, str] | None = None, metadata: Mapping[str, dict] | None = None) -> None:
    """The three inputs ``crud_fields`` takes for ``type_name``: ``<type_name>CreateInput`` from ``create``,
    ``<type_name>UpdateInput`` from ``update`` (every field optional but ``version``) and ``<type_name>Filter``
    from ``filter``; nested schemas are named with ``prefix``, ``vocabularies`` and ``metadata`` as for
    ``input_from_schema``."""
    input_from_schema(registry, f"{type_name}CreateInput", create, prefix=prefix, vocabularies=vocabularies,
                      metadata=metadata)
    input_from_schema(registry, f"{type_name}UpdateInput", update, update=True, prefix=prefix,
                      vocabularies=vocabularies, metadata=metadata)
    input_from_schema(registry, f"{type_name}Filter", filter, prefix=prefix, vocabularies=vocabularies,
                      metadata=metadata)


def type_from_schema(registry: Any, name: str, schema: Any, *, description: str | None = None,
                     exclude: tuple[str, ...] = (), base: type | None = None, prefix: str = "",
                     vocabularies: Mapping[str, str] | None = None, node: Any = None,
                     metadata: Mapping[str, dict] | None = None) -> Any:
    """Register the object type ``name`` with the dump fields of the marshmallow ``schema`` (plus what
    ``base`` declares: resolvers, extra fields); returns it. ``node`` is passed to ``registry.type``
    (the model, or a ``NodeSource``, that ``node(id:)`` reads the type from); ``metadata`` as for
    ``input_from_schema``."""
    declared = _schema_class(schema)().fields
    annotations: dict[str, Any] = dict(getattr(base, "__annotations__", {}) or {})
    body: dict[str, Any] = {k: v for k, v in (vars(base).items() if base else ())
                            if not k.startswith("__")}
    shown = [key for key, field in declared.items() if key not in exclude and not field.load_only]
    for label, (en, zh) in label_pairs(shown).items():   # x_en + x_zh_cn (or x + x_zh_cn) → x: Label
        if label not in annotations and label not in body:
            body[label] = label_field(registry, en, zh, description=declared[en].metadata.get("description"),
                                      optional=declared[en].allow_none)
        exclude = (*exclude, en, zh)
    for key, field in declared.items():
        if key in exclude or field.load_only or key in annotations or key in body:
            continue
        annotation = _annotation(registry, prefix, field, is_input=False, vocabulary=(vocabularies or {}).get(key))
        annotations[key] = Optional[annotation] if field.allow_none else annotation
        attribute = field.attribute
        extra = (metadata or {}).get(key)
        if attribute and attribute != key:
            body[key] = strawberry.field(description=field.metadata.get("description"), metadata=extra,
                                         resolver=_path_resolver(attribute, annotations.pop(key)))
        else:
            body[key] = strawberry.field(description=field.metadata.get("description"), metadata=extra)
    text = description or (base.__doc__ if base is not None and base.__doc__ else None) or _doc(schema)
    cls = type(name, (), {"__annotations__": annotations, **body, "__doc__": text})
    return registry.type(name, description=text, **({} if node is None else {"node": node}))(cls)


def _path_resolver(path: str, annotation: Any):
    def resolve(root: strawberry.Parent[Any]) -> Any:
        value = root
        for part in path.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value

    resolve.__annotations__ = {"root": strawberry.Parent[Any], "return": Optional[annotation]}
    return resolve


def _doc(schema: Any) -> str | None:
    doc = _schema_class(schema).__doc__
    return " ".join(doc.split()) if doc else None
