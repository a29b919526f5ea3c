"""The schema being built for one app: the object every ``trellis_graphql_*`` hook receives.

Each ``create_app`` gets its own :class:`SchemaRegistry` and therefore its own strawberry classes, so two
apps with different plugin sets live in one process without sharing a type. Types refer to each other
lazily, by name, through a synthetic module that belongs to this registry alone::

    @hookimpl
    def trellis_graphql_types(registry):
        @registry.type("Membership")                  # a plain class: no @strawberry.type
        class Membership:
            id: strawberry.ID
            tier: str
            customer: registry.ref("Customer")        # any type, registered by anyone

    @hookimpl
    def trellis_graphql_query_fields(registry):
        def memberships(first: First = None, after: After = None, last: Last = None,
                        before: Before = None) -> registry.connection("Membership"):
            ...
        return {"memberships": strawberry.field(resolver=memberships)}

``registry.type`` collects plain classes; after every component has contributed, the registry sets the
fields other components add (``trellis_graphql_type_fields``) on them and only then applies
``strawberry.type``. A field whose values are a label vocabulary is typed with its enum,
``registry.vocabulary_enum("lifecycle_stage")``: the registry makes one enum per vocabulary of the app's
labels (:mod:`api.graphql.vocabularies`), so a plugin's values join it with no GraphQL code. Inputs and other
enums may be decorated by the plugin itself (or registered with
``registry.input`` / ``registry.enum`` to be reachable by ``registry.ref``). Two components claiming the
same type name, the same field of a type, or the same ``Query`` / ``Mutation`` field is a start-up
:class:`core.errors.PluginError` naming both.

Records are ``Node`` types: a class declaring ``id: strawberry.ID`` (non-null) implements ``interface Node``
and ``node(id:)`` / ``nodes(ids:)`` find its records in the caller's scope, with nothing more written when
a model is named like the type (its reads: the ``crud_fields`` get, else the plugin's record scopes). One
argument says otherwise: ``registry.type("Edition", node=ExhibitionEdition)`` (the model),
``node=NodeSource(Model, visible=services.visible)`` (batched reads), or ``node=False`` (not a record).
See :mod:`api.graphql.nodes`. The composed schema makes every root field, and every field returning a
record or a page of records, nullable (docs/graphql.md, "Nullability").

Annotations: a resolver module using ``from __future__ import annotations`` keeps annotations as strings;
the registry evaluates them in the resolver's module, its closure, and with the name ``registry`` bound
to this registry, so ``-> list[registry.ref("Note")]`` works inside a hook either way.
"""
from __future__ import annotations

import copy
import inspect
import itertools
import sys
import types
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Optional

import strawberry
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.utils.str_converters import to_camel_case

from api.graphql.vocabularies import build_enums
from core.errors import PluginError
from core.labels import LabelRegistry
from core.plugins import type_prefix

CORE = "core"
ROOT_TYPES = ("Query", "Mutation")

_numbers = itertools.count(1)


@dataclass
class _PlainType:
    name: str
    cls: type
    owner: str
    description: str | None = None
    #: graphQL field name → (owner, python attribute name, field)
    extra: dict[str, tuple[str, str, StrawberryField]] = field(default_factory=dict)


#: what the root types are, for the docs panel of GraphiQL and the codegen output
ROOT_DESCRIPTIONS = {
    "Query": "Every read: records by id (`node`, `customer` …), lists as connections, labels, metrics and "
             "analytics — the core's and every enabled plugin's, within what the signed-in user may see.",
    "Mutation": "Every change: create, update, delete and restore records, workflow moves and other actions. "
                "Each root field runs in its own savepoint: it commits or fails on its own.",
}

class SchemaRegistry:
    """Types, fields and root fields contributed by the core and every enabled plugin of one app."""

    def __init__(self, labels: "LabelRegistry | None" = None) -> None:
        n = next(_numbers)
        self.module_name = f"trellis_graphql_{n}"
        #: the synthetic module ``registry.ref`` points at; it holds this app's strawberry types
        self.module = types.ModuleType(self.module_name, "The GraphQL types of one Trellis app.")
        sys.modules[self.module_name] = self.module
        #: the component whose hook is running (set by :mod:`api.graphql.compose`)
        self.owner = CORE
        self._names: dict[str, str] = {}          # every GraphQL type name → its owner
        self._plain: dict[str, _PlainType] = {}
        self._root: dict[str, dict[str, tuple[str, StrawberryField]]] = {name: {} for name in ROOT_TYPES}
        self._pending_fields: list[tuple[str, str, str, StrawberryField]] = []   # owner, type, name, field
        self._referred: dict[str, str] = {}       # type name → first component referring to it
        self._connections: set[str] = set()
        self._done = False
        #: vocabulary name → its enum, one per vocabulary of the app's labels (api.graphql.vocabularies)
        self._vocabulary_enums: dict[str, type] = {}
        for vocabulary, enum_cls in build_enums(labels or LabelRegistry()).items():
            self.owner = labels.owner(vocabulary) or CORE
            self._vocabulary_enums[vocabulary] = self.add(enum_cls)
        self.owner = CORE
        self._init_nodes()

    # --- what plugins call ------------------------------------------------------------------------

    def type(self, name: str, *, description: str | None = None, node: Any = None) -> Callable[[type], type]:
        """Register a plain class as the object type ``name``. Returns the class that becomes the
        strawberry type once the schema is built (other components may still add fields to it).

        A class with ``id: strawberry.ID`` (non-null) is a record: it implements ``Node`` and ``node(id:)``
        finds it. ``node`` says how (see :mod:`api.graphql.nodes`): the record's model, a
        :class:`api.graphql.nodes.NodeSource`, nothing (the model named like the type, read with the type's
        ``crud_fields`` get or the plugin scopes) or ``False`` (not a record: no ``Node``)."""

        def register(cls: type) -> type:
            self._check_open()
            self._claim(name)
            is_node = node is not False and _has_node_id(cls)
            fresh = _fresh_copy(cls, (self._node_interface,) if is_node else (), registry=_OwnedView(self, self.owner))
            if is_node:
                self._node_decl[name] = (node, self.owner)
            self._plain[name] = _PlainType(name, fresh, self.owner, description or _doc(cls))
            setattr(self.module, name, fresh)
            return fresh

        return register

    def input(self, name: str, *, description: str | None = None) -> Callable[[type], type]:
        """``strawberry.input(cls, name=name)``, registered so ``registry.ref(name)`` finds it."""

        def register(cls: type) -> type:
            return self.add(strawberry.input(_fresh_copy(cls, registry=_OwnedView(self, self.owner)), name=name,
                                             description=description or _doc(cls)))

        return register

    def enum(self, enum_cls: type, *, name: str | None = None, description: str | None = None) -> type:
        """``strawberry.enum(enum_cls)``, registered so ``registry.ref(name)`` finds it."""
        return self.add(strawberry.enum(enum_cls, name=name, description=description))

    def vocabulary_enum(self, vocabulary: str) -> Any:
        """The GraphQL enum of the label vocabulary ``vocabulary`` (``"lifecycle_stage"``,
        ``"customer.level.state"``), usable in any annotation of an output field, argument or input field.
        Resolvers return the stored strings; arguments and inputs arrive as members of a ``StrEnum`` whose
        values are the stored strings. Its values are the vocabulary's values in this app, plugins' included."""
        enum_cls = self._vocabulary_enums.get(vocabulary)
        if enum_cls is None:
            known = ", ".join(sorted(self._vocabulary_enums)) or "none"
            raise PluginError(f"Plugin '{self.owner}' uses the vocabulary '{vocabulary}' as a GraphQL enum, but no "
                              f"enabled component declares it (trellis_labels, trellis_workflows …). Known: {known}.")
        return enum_cls

    def owner_of(self, name: str) -> str | None:
        """The component that registered the GraphQL type ``name`` (``"core"`` or a plugin), if any."""
        return self._names.get(name)

    def field_owner(self, type_name: str, field_name: str) -> str | None:
        """The component that added the field ``field_name`` (GraphQL name) to ``Query``, ``Mutation`` or
        another component's type; None for a type's own fields."""
        if type_name in self._root:
            entry = self._root[type_name].get(field_name)
            return entry[0] if entry else None
        plain = self._plain.get(type_name)
        extra = plain.extra.get(field_name) if plain is not None else None
        return extra[0] if extra else None

    def vocabulary_enums(self) -> dict[str, type]:
        """Every vocabulary's enum, by vocabulary name: the schema includes them all, used by a field or not."""
        return dict(self._vocabulary_enums)

    def add(self, strawberry_type: Any) -> Any:
        """Register a type the plugin decorated itself (a strawberry input, enum, scalar or type) under
        its GraphQL name, so that the name is claimed (clashes are errors) and ``ref`` finds it."""
        self._check_open()
        definition = (getattr(strawberry_type, "__strawberry_definition__", None)
                      or getattr(strawberry_type, "_enum_definition", None)
                      or getattr(strawberry_type, "_scalar_definition", None))
        name = getattr(definition, "name", None)
        if not name:
            raise PluginError(f"Plugin '{self.owner}' passed {strawberry_type!r} to registry.add(), which is not "
                              "a strawberry type, input, enum or scalar. Decorate it first.")
        self._claim(name)
        setattr(self.module, name, strawberry_type)
        return strawberry_type

    def ref(self, name: str) -> Any:
        """A lazy reference to the type ``name`` of this schema, usable in any annotation."""
        return self._ref(name, self.owner)

    def _ref(self, name: str, owner: str) -> Any:
        self._referred.setdefault(name, owner)
        # A LazyType, not the string ``name``: a string would be resolved against the globals of a module
        # using ``from __future__ import annotations`` first, where ``name`` may be a model class.
        return Annotated[LazyType(name, self.module_name), strawberry.lazy(self.module_name)]

    def connection(self, name: str) -> Any:
        """A lazy reference to ``<name>Connection`` (Relay style: ``edges { cursor node }``, ``pageInfo``,
        ``totalCount``), created on first use. Resolvers return an :class:`api.graphql.pagination.Slice`."""
        return self._connection(name, self.owner)

    def _connection(self, name: str, owner: str) -> Any:
        if name not in self._connections:
            self._connections.add(name)
            self._make_connection(name, owner)
        return self._ref(f"{name}Connection", owner)

    # --- what compose calls ---------------------------------------------------------------------------

    def add_type_fields(self, owner: str, contributed: Any) -> None:
        """Record ``{"TypeName": {"fieldName": field}}`` from one component."""
        if not isinstance(contributed, dict):
            raise PluginError(f"Plugin '{owner}': trellis_graphql_type_fields must return "
                              "{'TypeName': {'fieldName': strawberry.field(...)}}, not "
                              f"{type(contributed).__name__}.")
        for type_name, fields in contributed.items():
            for key, fld in _field_items(owner, f"type fields of '{type_name}'", fields):
                self._pending_fields.append((owner, type_name, key, fld))

    def add_root_fields(self, root: str, owner: str, contributed: Any) -> None:
        """Record ``{"fieldName": field}`` for ``Query`` or ``Mutation`` from one component."""
        hook = "trellis_graphql_query_fields" if root == "Query" else "trellis_graphql_mutation_fields"
        fields = self._root[root]
        for key, fld in _field_items(owner, hook, contributed):
            gql = fld.graphql_name or to_camel_case(key)
            if gql in fields:
                raise PluginError(
                    f"Plugins '{fields[gql][0]}' and '{owner}' both add the field '{gql}' to the GraphQL "
                    f"{root} type. Field names are global: rename one (prefix it with the plugin name) "
                    "or disable one of the plugins.")
            fld.graphql_name = gql
            fields[gql] = (owner, self._bind(fld, owner))

    def build_roots(self) -> tuple[type, type | None]:
        """Set the contributed fields on their types, make every registered class a strawberry type
        and return the ``Query`` and ``Mutation`` types (``Mutation`` is None when nobody adds one)."""
        self._check_open()
        for owner, type_name, key, fld in self._pending_fields:
            entry = self._plain.get(type_name)
            if entry is None:
                where = (f"registered by '{self._names[type_name]}' as an input, enum or scalar"
                         if type_name in self._names else "which no enabled component registers")
                raise PluginError(
                    f"Plugin '{owner}' adds the field '{key}' to the GraphQL type '{type_name}', {where}. "
                    "Fields can be added only to object types registered with registry.type(); enable the "
                    "plugin that registers it (and list it in `requires`) or fix the name.")
            gql = fld.graphql_name or to_camel_case(key)
            own = _own_field_names(entry.cls)
            if gql in own:
                raise PluginError(
                    f"Plugins '{entry.owner}' and '{owner}' both define the field '{gql}' of the GraphQL type "
                    f"'{type_name}'. Rename the added field (prefix it with the plugin name) or disable one "
                    "of the plugins.")
            if gql in entry.extra:
                raise PluginError(
                    f"Plugins '{entry.extra[gql][0]}' and '{owner}' both add the field '{gql}' to the GraphQL "
                    f"type '{type_name}'. Rename one (prefix it with the plugin name) or disable one of "
                    "the plugins.")
            fld.graphql_name = gql
            attr = _free_attribute(entry.cls, key, entry.extra)
            entry.extra[gql] = (owner, attr, self._bind(fld, owner))

        for entry in self._plain.values():
            for _gql, (_owner, attr, fld) in entry.extra.items():
                setattr(entry.cls, attr, fld)
            try:
                strawberry.type(entry.cls, name=entry.name, description=entry.description)
            except Exception as exc:
                raise PluginError(f"Plugin '{entry.owner}': the GraphQL type '{entry.name}' is not valid: "
                                  f"{exc}") from exc

        self._build_node_sources()
        self.check_references()
        query = self._root_type("Query")
        mutation = self._root_type("Mutation") if self._root["Mutation"] else None
        self._done = True
        return query, mutation

    def check_references(self) -> None:
        """Every ``registry.ref`` made so far names a registered type (string annotations are evaluated
        only while the schema is built, so compose calls this again when building fails)."""
        missing = {name: owner for name, owner in self._referred.items() if name not in self._names}
        if missing:
            name, owner = next(iter(missing.items()))
            raise PluginError(
                f"Plugin '{owner}' refers to the GraphQL type '{name}', which no enabled component registers. "
                "Enable the plugin that registers it (and list it in `requires`) or fix the name.")

    # --- global object identification (Node) -----------------------------------------------------------

    def node_getter(self, type_name: str, get: Callable[..., Any]) -> None:
        """Tell ``node(id:)`` the scoped get of ``type_name`` (``crud_fields`` does it with its
        ``CrudService.get``), used when the type declared no :class:`api.graphql.nodes.NodeSource`."""
        self._node_getters.setdefault(type_name, get)

    def node_sources(self) -> dict[str, Any]:
        """``{type name: NodeSource}`` for every type implementing ``Node`` (known once built)."""
        return self._node_sources

    def _init_nodes(self) -> None:
        registry = self
        self._node_decl: dict[str, tuple[Any, str]] = {}     # type name → (node argument, owner)
        self._node_getters: dict[str, Callable[..., Any]] = {}
        self._node_sources: dict[str, Any] = {}
        self._node_names_by_model: dict[type, list[str]] = {}

        @strawberry.interface(name="Node", description=(
            "A record with a global id: the UUID REST uses. Query any record by id with `node(id:)`."))
        class Node:
            id: strawberry.ID = strawberry.field(description="The record's id (a UUID), as in REST.")

            @classmethod
            def resolve_type(cls, obj: Any, info: Any, _abstract: Any) -> str | None:
                # node()/nodes() mark what they return; other fields returning Node fall back to the model
                marked = getattr(info.context, "node_types", {}).get(id(obj))
                if marked:
                    return marked
                definition = getattr(obj, "__strawberry_definition__", None)
                if definition is not None:
                    return definition.name
                names = registry._node_names_by_model.get(type(obj), [])
                return names[0] if len(names) == 1 else None

            @classmethod
            def is_type_of(cls, obj: Any, info: Any) -> bool:
                # types return their records (ORM rows, views) as before they implemented Node
                return True

        self._node_interface = Node
        self._names["Node"] = CORE
        setattr(self.module, "Node", Node)

    def _build_node_sources(self) -> None:
        from api.graphql.nodes import source_for

        for name, (node, owner) in self._node_decl.items():
            source = source_for(name, node, self._node_getters.get(name), owner)
            self._node_sources[name] = source
            self._node_names_by_model.setdefault(source.model, []).append(name)

    # --- internals --------------------------------------------------------------------------------------

    def _root_type(self, name: str) -> type:
        cls = type(name, (), {"__module__": self.module_name, "__annotations__": {}})
        for gql, (_owner, fld) in self._root[name].items():
            setattr(cls, _free_attribute(cls, gql, {}), fld)
        root = strawberry.type(cls, name=name, description=ROOT_DESCRIPTIONS[name])
        setattr(self.module, name, root)
        return root

    def _claim(self, name: str, *, derived: bool = False) -> None:
        """Take the type name ``name`` for the running component. A plugin's own names start with its
        prefix (:func:`core.plugins.type_prefix`); ``derived`` names (``<Node>Edge``, ``<Node>Connection``)
        follow the name they are made from."""
        if name in ROOT_TYPES:
            raise PluginError(f"Plugin '{self.owner}' registers a GraphQL type named '{name}'. Add root fields "
                              "with trellis_graphql_query_fields / trellis_graphql_mutation_fields instead.")
        if name in self._names:
            raise PluginError(
                f"Plugins '{self._names[name]}' and '{self.owner}' both register the GraphQL type '{name}'. "
                "Type names are global: rename one (prefix it with the plugin name) or disable one of the plugins.")
        if not derived and self.owner != CORE:
            prefix = type_prefix(self.owner)
            if not name.startswith(prefix):
                raise PluginError(
                    f"Plugin '{self.owner}' registers the GraphQL type '{name}', which does not start with "
                    f"'{prefix}'. Name it '{prefix}{name}': a plugin's types start with the first word of its "
                    "name, singular and capitalised, so two plugins never collide.")
        self._names[name] = self.owner

    def _check_open(self) -> None:
        if self._done:
            raise PluginError("This GraphQL schema is already built; register types from the "
                              "trellis_graphql_types hook.")

    def _bind(self, fld: StrawberryField, owner: str) -> StrawberryField:
        """Let string annotations of a resolver (``from __future__ import annotations``) see the resolver's
        closure and ``registry``, not only its module."""
        resolver = fld.base_resolver
        if resolver is None:
            return fld
        func = resolver._unbound_wrapped_func
        namespace = dict(getattr(sys.modules.get(func.__module__), "__dict__", {}))
        namespace["registry"] = _OwnedView(self, owner)
        try:
            namespace.update(inspect.getclosurevars(func).nonlocals)
        except (TypeError, ValueError):
            pass
        resolver.__dict__["_namespace"] = namespace
        for name in ("type_annotation", "type"):
            resolver.__dict__.pop(name, None)
        annotations = list((resolver.strawberry_annotations or {}).values())
        annotations += [arg.type_annotation for arg in resolver.arguments]
        for annotation in annotations:
            if annotation is not None and annotation.namespace is not namespace:
                annotation.namespace = namespace
                annotation.annotation = annotation.raw_annotation   # drops cached evaluations
        return fld

    def _page_info(self) -> Any:
        existing = getattr(self.module, "PageInfo", None)
        if existing is not None:
            return existing
        owner, self.owner = self.owner, CORE
        try:
            self._claim("PageInfo")
        finally:
            self.owner = owner

        @strawberry.type(name="PageInfo", description="Where a page lies in its list (Relay).")
        class PageInfo:
            has_next_page: bool = strawberry.field(description=(
                "Records follow this page (with `before`: also when records lie at or after it)."))
            has_previous_page: bool = strawberry.field(description=(
                "Records precede this page (with `after`: also when records lie at or before it)."))
            start_cursor: Optional[str] = strawberry.field(description="The first edge's cursor; null if empty.")
            end_cursor: Optional[str] = strawberry.field(description="The last edge's cursor; null if empty.")

        setattr(self.module, "PageInfo", PageInfo)
        return PageInfo

    def _make_connection(self, node: str, owner: str) -> None:
        page_info = self._page_info()
        node_ref = self._ref(node, owner)
        edge_name, conn_name = f"{node}Edge", f"{node}Connection"
        self._claim(edge_name, derived=True)
        self._claim(conn_name, derived=True)

        edge = strawberry.type(
            type(edge_name, (), {"__module__": self.module_name,
                                 "__annotations__": {"cursor": str, "node": node_ref}}),
            name=edge_name, description=f"One {node} of a list and its cursor.")
        setattr(self.module, edge_name, edge)
        conn = strawberry.type(
            type(conn_name, (), {"__module__": self.module_name,
                                 "__annotations__": {"edges": list[edge], "page_info": page_info,
                                                     "total_count": int, "total_count_capped": bool}}),
            name=conn_name,
            description=f"A page of {node} records: pass `endCursor` as `after` (with `first`) for the next "
                        f"page, `startCursor` as `before` (with `last`) for the previous one.")
        setattr(self.module, conn_name, conn)


def _doc(cls: type) -> str | None:
    doc = cls.__dict__.get("__doc__")
    return inspect.cleandoc(doc) if doc else None


def _fresh_copy(cls: type, bases: tuple = (), *, registry: Any = None) -> type:
    """A new class with the same body, so registering a module-level class in two apps (two schemas)
    never lets strawberry mutate a class another app uses; ``bases`` (an interface) go first.

    With ``registry``, string annotations naming it (a module using ``from __future__ import
    annotations``: ``tier: registry.vocabulary_enum(...)``) are evaluated now, with ``registry`` bound:
    strawberry would evaluate them later in the module's globals, where the hook's ``registry`` is not."""
    body = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    body["__annotations__"] = dict(cls.__dict__.get("__annotations__", {}))
    if registry is not None:
        namespace = {**vars(sys.modules[cls.__module__]), "registry": registry}
        for key, annotation in body["__annotations__"].items():
            if isinstance(annotation, str) and "registry." in annotation:
                body["__annotations__"][key] = eval(annotation, namespace)  # noqa: S307 - the class's own annotation
    for key, value in list(body.items()):
        if isinstance(value, StrawberryField):
            body[key] = copy.copy(value)
    if bases:
        return type(cls.__name__, bases + tuple(b for b in cls.__bases__ if b is not object), body)
    return type(cls.__name__, cls.__bases__, body)


def _field_items(owner: str, what: str, fields: Any) -> list[tuple[str, StrawberryField]]:
    if not isinstance(fields, dict):
        raise PluginError(f"Plugin '{owner}': {what} must be a dict of field name → strawberry.field(...), "
                          f"not {type(fields).__name__}.")
    out = []
    for key, fld in fields.items():
        if not isinstance(fld, StrawberryField):
            raise PluginError(f"Plugin '{owner}': '{key}' in {what} is {fld!r}; wrap the resolver in "
                              "strawberry.field(resolver=...) (or strawberry.mutation).")
        out.append((key, fld))
    return out


def _own_field_names(cls: type) -> set[str]:
    """The GraphQL names of the fields a plain class declares itself."""
    names = set()
    for key in cls.__dict__.get("__annotations__", {}):
        value = cls.__dict__.get(key)
        names.add(value.graphql_name if isinstance(value, StrawberryField) and value.graphql_name
                  else to_camel_case(key))
    for key, value in cls.__dict__.items():
        if isinstance(value, StrawberryField):
            names.add(value.graphql_name or to_camel_case(key))
    return names


def _free_attribute(cls: type, key: str, taken: dict) -> str:
    """A Python attribute name for an added field that shadows nothing on the class."""
    attr, n = key, 1
    used = {a for (_o, a, _f) in taken.values()} if taken else set()
    while attr in cls.__dict__ or attr in used or attr.startswith("__"):
        n += 1
        attr = f"{key}_{n}"
    return attr



def _has_node_id(cls: type) -> bool:
    """``id: strawberry.ID`` declared, non-null: the class describes a record."""
    annotation = cls.__dict__.get("__annotations__", {}).get("id")
    return annotation is strawberry.ID or annotation in ("strawberry.ID", "ID")


class _OwnedView:
    """The registry as seen by a string annotation of ``owner``'s resolver, evaluated while the schema is
    built: references it makes are attributed to ``owner``."""

    def __init__(self, registry: SchemaRegistry, owner: str):
        self._registry, self._owner = registry, owner

    def ref(self, name: str) -> Any:
        return self._registry._ref(name, self._owner)

    def connection(self, name: str) -> Any:
        return self._registry._connection(name, self._owner)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._registry, attribute)
