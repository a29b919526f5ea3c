"""Global object identification: ``interface Node { id: ID! }``, ``node(id:)`` and ``nodes(ids:)``.

Every object type registered with ``registry.type`` whose ``id`` is a non-null ``ID`` implements ``Node``;
the registry does it, so a plugin writes nothing for the schema to conform to Relay. Ids stay the UUIDs
REST uses. To answer ``node(id:)`` the registry must know, per type, two things, described by a
:class:`NodeSource`:

- **which table holds the type's ids** (``model``, a mapped class): one statement (a ``UNION ALL`` of one
  primary-key lookup per node table) tells which type an id belongs to, whatever the number of types;
- **how the caller's scope reads it** (the type's normal get, so ``node(id:)`` never shows more than
  ``customer(id:)``): in this order,

  1. ``visible(actor) -> Select``: the service's SELECT of the records the actor may see (live ones);
     batched: ``nodes(ids:)`` reads all ids of the type in one statement;
  2. ``get(actor, id)``: the service's scoped get (raising ``NotFound``/``Forbidden`` when not visible);
     one call per id. ``crud_fields`` hands its ``CrudService.get`` to the registry, so a type served by
     it needs nothing more;
  3. neither: ``permissions.visibility(actor, model)`` (the plugin scopes of ``trellis_record_scopes``:
     admins see every row, others what the scopes grant), live rows only.

A plugin passes at most one argument: ``registry.type("Note", node=Note)`` (the model, default scope) or
``node=NodeSource(Note, visible=services.visible_notes)``. Without it the registry looks for the mapped
class named like the type (``SampleNote`` → the model ``SampleNote``); a type with ``id: ID!`` whose model
cannot be found that way is a start-up :class:`core.errors.PluginError` asking for ``node=``.
``node=False`` opts a type out (an object that is not a record though it has an id).

Out of scope, soft-deleted (unless the type's get shows it) and unknown ids all read as ``null``: nothing
tells them apart, so ids cannot be probed. A malformed id is ``BAD_USER_INPUT`` naming ``id`` / ``ids``.
"""
# no `from __future__ import annotations`: the resolvers below are annotated with registry references

import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import strawberry
from sqlalchemy import literal, select, union_all

from core import db
from core.errors import Forbidden, NotFound, PluginError, ValidationFailed
from core.schemas import MAX_PAGE_SIZE

__all__ = ["NodeSource", "query_fields"]


@dataclass(frozen=True)
class NodeSource:
    """How ``node(id:)`` finds records of one type (see the module docstring)."""

    #: the mapped class whose table holds the type's ids (its primary key ``id`` is the GraphQL id)
    model: type
    #: ``visible(actor) -> Select`` of the records the actor may see: batched reads
    visible: Optional[Callable[[Any], Any]] = None
    #: ``get(actor, id)``, the type's scoped get; NotFound / Forbidden read as null. One call per id.
    get: Optional[Callable[[Any, Any], Any]] = None

    def fetch(self, actor: Any, ids: list[uuid.UUID]) -> Mapping[uuid.UUID, Any]:
        """The records of ``ids`` the actor may see, by id (the others are left out)."""
        if self.visible is not None:
            stmt = self.visible(actor).where(self.model.id.in_(ids))
            return {row.id: row for row in db.session().scalars(stmt).unique()}
        if self.get is not None:
            out = {}
            for rid in ids:
                try:
                    out[rid] = self.get(actor, rid)
                except (NotFound, Forbidden):
                    continue
            return out
        from core.services import common
        from core.services.permissions import visibility

        stmt = select(self.model).where(visibility(actor, self.model), self.model.id.in_(ids))
        if hasattr(self.model, "deleted_at"):
            stmt = stmt.where(common.not_deleted(self.model))
        return {row.id: row for row in db.session().scalars(stmt)}


def source_for(type_name: str, node: Any, getter: Any, owner: str) -> NodeSource:
    """The :class:`NodeSource` of a type from what was declared: ``node`` (a NodeSource, a mapped class
    or None) and the getter ``crud_fields`` registered, else the mapped class named like the type."""
    if isinstance(node, NodeSource):
        return node
    model = node if node is not None else _model_named(type_name)
    if model is None:
        raise PluginError(
            f"Plugin '{owner}': the GraphQL type '{type_name}' has `id: ID!`, so it implements Node, but no "
            f"model is named '{type_name}'. Pass registry.type('{type_name}', node=YourModel) (or "
            f"node=NodeSource(YourModel, visible=...)); node=False if it is not a record.")
    return NodeSource(model, get=getter)


def _model_named(name: str) -> type | None:
    found = [m.class_ for m in db.Base.registry.mappers if m.class_.__name__ == name]
    return found[0] if len(found) == 1 else None


def locate(sources: Mapping[str, NodeSource], ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Which node types hold each of ``ids``: one statement, a primary-key lookup per node table."""
    if not ids or not sources:
        return {}
    parts = [select(literal(name).label("type_name"), src.model.id.label("id")).where(src.model.id.in_(ids))
             for name, src in sources.items()]
    out: dict[uuid.UUID, list[str]] = {}
    for type_name, rid in db.session().execute(union_all(*parts)):
        rid = rid if isinstance(rid, uuid.UUID) else uuid.UUID(str(rid))
        out.setdefault(rid, []).append(type_name)
    return out


def resolve(info: Any, registry: Any, ids: list[uuid.UUID]) -> list[Any]:
    """The records of ``ids`` in order, ``None`` where the caller may not see one (or none exists)."""
    sources = registry.node_sources()
    actor = info.context.user
    located = locate(sources, list(dict.fromkeys(ids)))
    wanted: dict[str, list[uuid.UUID]] = {}
    for rid, names in located.items():
        for name in names:
            wanted.setdefault(name, []).append(rid)
    found: dict[uuid.UUID, tuple[str, Any]] = {}
    for name, type_ids in wanted.items():
        for rid, record in sources[name].fetch(actor, type_ids).items():
            found.setdefault(rid, (name, record))
    marks = info.context.node_types
    records = []
    for rid in ids:
        name, record = found.get(rid, (None, None))
        if record is not None:
            marks[id(record)] = name
        records.append(record)
    info.context.loaders.prime(r for r in records if r is not None)
    return records


def _parse(value: Any, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError):
        raise ValidationFailed(fields={field: ["Not a valid id (a UUID, as REST uses)."]}) from None


def query_fields(registry) -> dict:
    node_ref = registry.ref("Node")

    def node(info: strawberry.Info, id: strawberry.ID) -> Optional[node_ref]:
        return resolve(info, registry, [_parse(id, "id")])[0]

    def nodes(info: strawberry.Info, ids: list[strawberry.ID]) -> list[Optional[node_ref]]:
        if len(ids) > MAX_PAGE_SIZE:
            raise ValidationFailed(fields={"ids": [f"At most {MAX_PAGE_SIZE} ids in one request."]})
        parsed = [_parse(value, "ids") for value in ids]
        return resolve(info, registry, parsed)

    return {
        "node": strawberry.field(resolver=node, description=(
            "Any record by its id (the UUID REST uses), within your scope: null when it does not exist, is "
            "deleted or is not yours to see.")),
        "nodes": strawberry.field(resolver=nodes, description=(
            f"Records by their ids (at most {MAX_PAGE_SIZE}), in the order given: null for each you may not "
            "see (see `node`).")),
    }


def types(registry) -> None:
    """``Node`` itself belongs to the registry (every app's schema has it)."""
