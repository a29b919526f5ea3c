"""A record declared once: the SQLAlchemy model plus per-field options, from which the marshmallow
schemas (create, update, filter, output) and a generic service (list, get, create, update, delete, restore)
are derived. REST (``api.rest.records.record_blueprint``) and GraphQL (``api.graphql.records``) are made
from the same declaration, so a field is written once, in the model::

    COURSES = RecordSpec(
        TrainingCourse, "TrainingCourse", noun="course", writers=("training_coordinator", "admin"),
        sortable=("starts_on", "code"), default_sort="starts_on",
        fields={"code": FieldSpec(sortable=True),
                "capacity": FieldSpec(validate=validate.Range(min=1, max=1000)),
                "starts_on": FieldSpec(filter={"starts_after": FilterSpec("gte", "Only courses starting …")})})

    COURSES.create(user, {"code": "TR-101", …})     # validated, scoped, audited, unique code → 409 naming it

What the service does, for every record alike (docs/plugins.md, "Declaring a record"):

- **reads** are scoped: ``visibility(actor, model)`` (the plugins' ``trellis_record_scopes``) or the spec's
  own ``scope``, and soft-deleted rows are left out (``deleted=True`` lists only them); a record out of scope
  is a 404 like a missing one, so ids cannot be probed. ``readers`` may narrow who reads at all.
- **writes** need ``writers`` (roles, or a callable raising ``Forbidden``; any signed-in user when unset),
  validate the body (422 naming each field, nothing written), check references (a foreign key to a record
  the user cannot see is a 422 on that field), pre-check the unique fields (409 naming the field; an
  ``IntegrityError`` on a unique constraint is mapped to the field too), refuse a stale ``version`` (409),
  soft-delete and restore, and write the audit entry and the outbox event (``record_change``) of each change.
- **hooks** carry a record's own rules: ``before_create(user, values)``, ``after_create(user, record,
  values)``, ``before_update(user, record, values)``, ``after_update(user, record, changes)``,
  ``before_delete(user, record)``, ``before_restore(user, record)``. A hook raises a typed error to refuse.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

from marshmallow import Schema, fields, missing, validate as mv
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core import db
from core.errors import Conflict, NotFound, PluginError, ValidationFailed
from core.schemas import Money, RecordOut, StrictSchema, not_blank
from core.services import common, paging
from core.services.audit import created_fields, record_change
from core.services.permissions import require_actor, require_role, visibility

__all__ = ["FieldSpec", "FilterSpec", "HOOKS", "OPERATORS", "RecordSpec"]

#: the columns every ``Record`` has: shown by ``RecordOut``, never written by a client
HOUSE_COLUMNS = ("id", "created_at", "updated_at", "version", "deleted_at")
#: the hooks a :class:`RecordSpec` takes, by name
HOOKS = ("before_create", "after_create", "before_update", "after_update", "before_delete", "before_restore",
         "before_import")
#: a filter's operator → the condition on the column
OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": lambda column, value: column == value,
    "ne": lambda column, value: column != value,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "contains": lambda column, value: func.lower(column).contains(value.lower(), autoescape=True),
}


@dataclass(frozen=True)
class FilterSpec:
    """One list filter on a field: ``op`` (a key of :data:`OPERATORS`: ``eq``, ``ne``, ``gt``, ``gte``,
    ``lt``, ``lte``, ``contains`` — case-insensitive text) and the filter's
    ``description`` (REST's query argument, GraphQL's filter input field; by default GraphQL derives "Only
    the records whose `x` is this value")."""

    op: str = "eq"
    description: str | None = None


@dataclass(frozen=True)
class FieldSpec:
    """The options of one field (a column of the model) in a :class:`RecordSpec`; every option is optional.

    - ``read_only``: shown, never written by a client (a workflow's state, a timestamp the service sets).
    - ``create_only``: written on create, fixed afterwards (not in the update schema).
    - ``hidden``: neither shown nor written (a column the service keeps for itself).
    - ``required``: required on create; by default when the column is NOT NULL without a default.
    - ``filter``: ``True`` filters by equality under the field's name; ``{"starts_after": FilterSpec("gte",
      "…")}`` (or ``{"starts_after": "gte"}``) names filters with an operator.
    - ``sortable``: a key of the list's ``sort`` / ``orderBy``.
    - ``description``: the field's text in OpenAPI and GraphQL; by default the column's ``doc``.
    - ``choices``: the values allowed (a ``OneOf`` rule, in every schema and filter); ``vocabulary``: the
      label vocabulary (``"training_enrolment.status.state"``) whose enum GraphQL shows for the field.
    - ``validate``: validators, in place of the derived ones (a string column's length, not blank when
      required).
    - ``unique``: pre-checked on create and update (a 409 naming the field); by default ``column.unique``.
    - ``money``: a ``Numeric`` column is money (``Money``: the GraphQL ``Money`` scalar) rather than a decimal.
      Either is read as a number (or a decimal string) and answered as a decimal string, as OpenAPI says.
    - ``reference``: for a foreign key, how to read the record it names as the user may see it
      (``fn(user, id)`` raising ``NotFound``); ``False`` checks nothing. By default the referenced model's
      service (customers, contacts, interactions, a declared record) or its scopes.
    - ``field``: your own marshmallow field, used in every schema instead of the derived one.
    - ``default``: the value a create takes for the field when the body leaves it out (marshmallow's
      ``load_default``: shown as the default in OpenAPI, and in the ``values`` the hooks and the audit
      entry see); unset, the column's own default fills the row when it is inserted.
    """

    read_only: bool = False
    create_only: bool = False
    hidden: bool = False
    required: bool | None = None
    filter: bool | str | Mapping[str, FilterSpec | str] = False
    sortable: bool = False
    description: str | None = None
    choices: Sequence[Any] | None = None
    vocabulary: str | None = None
    validate: Any = None
    unique: bool | None = None
    money: bool = False
    reference: Callable[..., Any] | bool | None = None
    field: fields.Field | None = None
    default: Any = missing


_DEFAULT = FieldSpec()
#: declared records by model, so a reference to one reads it through its own service
_DECLARED: dict[type, "RecordSpec"] = {}


class RecordSpec:
    """A record declared once: ``model`` (a ``Base, Record`` class) served as ``name`` (the GraphQL type,
    and the prefix of the REST schemas' names: ``<name>Create``, ``<name>Update``, ``<name>Filter``,
    ``<name>Out``; ``schema_prefix`` changes the latter).

    Every column but the house ones (id, timestamps, version, ``deleted_at``) is a field, configured by
    ``fields`` (``{name: FieldSpec(...)}``; a house column may be given too, to filter or sort by it) and
    left out by ``exclude``. ``sortable`` lists sort keys in order (with the fields marked ``sortable``);
    ``default_sort`` is the list's ordering (``"-created_at"``). ``noun`` names the record in messages
    ("No course with this id."); ``description`` is the output's text (default: the model's docstring).

    The service: ``readers`` / ``writers`` say who may read / write (a tuple of roles, or a callable
    ``fn(actor) -> user`` raising ``Forbidden``; unset: any signed-in user, within the scope); ``scope``
    (``fn(actor) -> condition``) replaces ``visibility(actor, model)`` (the plugins' ``trellis_record_scopes``).
    A record out of scope reads as missing (404). A write validates the body (422 naming each field, nothing
    written), checks each foreign key names a record the user may see (422 on the field), pre-checks the
    unique fields (409 naming the field; an ``IntegrityError`` on a unique constraint is mapped to the field
    too), refuses a stale ``version`` (409), and writes the audit entry and the event (``record_change``).
    Delete is soft; restore brings the record back. ``hooks`` add the record's own rules, each raising a
    typed error to refuse: ``before_create(user, values)``, ``after_create(user, record, values)``,
    ``before_update(user, record, values)``, ``after_update(user, record, changes)``,
    ``before_delete(user, record)``, ``before_restore(user, record)``; ``before_import(user, values_list)``
    is ``before_create`` for the new rows of an import batch at once (:meth:`import_type`): it returns the
    rows it refuses, ``{index in values_list: typed error}``, and may set values as ``before_create`` does.

    Escape hatches: ``create_schema``, ``update_schema``, ``filter_schema``, ``out_schema`` replace the
    derived schema (a replaced filter schema's fields filter by equality on the column of the same name,
    or through ``where={"q": fn(value) -> condition}``); ``extra={"create" | "update" | "filter" | "out":
    {name: marshmallow field}}`` adds fields to a derived one (a non-column value reaches the hooks in
    ``values`` and is not set on the model; a filter goes through ``where``; ``extra={"update": {"version":
    …}}`` replaces the update schema's required ``version``, to describe it in your words).

    The service's methods (``list``, ``get``, ``create``, ``update``, ``delete``, ``restore``) have the
    signatures :class:`core.services.common.CrudService` names; :meth:`crud_service` bundles them.
    """

    def __init__(self, model: type, name: str, *, fields: Mapping[str, FieldSpec] | None = None,
                 exclude: Sequence[str] = (), sortable: Sequence[str] = (), default_sort: str = "-created_at",
                 noun: str | None = None, description: str | None = None,
                 readers: Sequence[str] | Callable[[Any], Any] | None = None,
                 writers: Sequence[str] | Callable[[Any], Any] | None = None,
                 scope: Callable[[Any], Any] | None = None,
                 hooks: Mapping[str, Callable[..., Any]] | None = None,
                 create_schema: type[Schema] | None = None, update_schema: type[Schema] | None = None,
                 filter_schema: type[Schema] | None = None, out_schema: type[Schema] | None = None,
                 extra: Mapping[str, Mapping[str, fields.Field]] | None = None,
                 where: Mapping[str, Callable[[Any], Any]] | None = None,
                 schema_prefix: str | None = None):
        self.model, self.name = model, name
        self.options = dict(fields or {})
        columns = model.__table__.columns
        unknown = sorted(set(self.options) - set(columns.keys()))
        if unknown:
            raise PluginError(f"RecordSpec('{name}'): {model.__name__} has no column {', '.join(unknown)}.")
        bad_hooks = sorted(set(hooks or {}) - set(HOOKS))
        if bad_hooks:
            raise PluginError(f"RecordSpec('{name}'): unknown hook(s) {', '.join(bad_hooks)}; the hooks are "
                              f"{', '.join(HOOKS)}.")
        self.columns = {c.key: c for c in columns if c.key not in exclude and c.key not in HOUSE_COLUMNS
                        and not self.option(c.key).hidden}
        self.noun = noun or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()
        self.description = description or " ".join((model.__doc__ or "").split()) or None
        self.readers, self.writers, self.scope = readers, writers, scope
        self.hooks = dict(hooks or {})
        self.extra = {k: dict(v) for k, v in (extra or {}).items()}
        self.where = dict(where or {})
        self.default_sort = default_sort
        keys = list(sortable) + [k for k, o in self.options.items() if o.sortable and k not in sortable]
        self.sortable = {key: getattr(model, key) for key in keys}
        self.filters = self._filters()
        prefix = schema_prefix or name
        self.create_schema = create_schema or self._schema(f"{prefix}Create", "create")
        self.update_schema = update_schema or self._schema(f"{prefix}Update", "update")
        self.filter_schema = filter_schema or self._filter_schema(f"{prefix}Filter")
        self.out_schema = out_schema or self._out_schema(f"{prefix}Out")
        _DECLARED[model] = self

    def __repr__(self) -> str:
        return f"RecordSpec({self.model.__name__}, {self.name!r})"

    def option(self, key: str) -> FieldSpec:
        """The options of field ``key`` (the defaults when none were given)."""
        return self.options.get(key, _DEFAULT)

    # --- the derived schemas ---------------------------------------------------------------------------

    @property
    def vocabularies(self) -> dict[str, str]:
        """``{field: vocabulary}`` for GraphQL (``type_from_schema`` / ``crud_inputs``)."""
        return {key: o.vocabulary for key, o in self.options.items() if o.vocabulary}

    @property
    def unique_fields(self) -> list[str]:
        """The fields pre-checked for uniqueness: ``FieldSpec(unique=…)``, else the column's ``unique``."""
        return [key for key, column in self.columns.items()
                if (self.option(key).unique if self.option(key).unique is not None else column.unique)]

    def _writable(self, key: str, purpose: str) -> bool:
        o = self.option(key)
        return not o.read_only and not (purpose == "update" and o.create_only)

    def _field(self, key: str, purpose: str) -> fields.Field:
        """The marshmallow field of column ``key`` for ``purpose`` (create, update, out)."""
        o, column = self.option(key), self.model.__table__.columns[key]
        if o.field is not None:
            return o.field
        text = o.description or column.doc
        kwargs: dict[str, Any] = {"metadata": {"description": text}} if text else {}
        if column.nullable:
            kwargs["allow_none"] = True
        kind, extra = _kind(column, o.money)
        if issubclass(kind, fields.Decimal):   # as hand-written schemas document them: a number in a body,
            extra = {k: v for k, v in extra.items() if k != "as_string"}   # a decimal string in a response
            if purpose == "out":
                extra["as_string"] = True
        if purpose != "out":
            required = o.required if o.required is not None else (
                not column.nullable and column.default is None and column.server_default is None)
            required = required and purpose == "create" and o.default is missing
            kwargs["required"] = required
            if purpose == "create" and o.default is not missing:
                kwargs["load_default"] = o.default
            if o.validate is not None:
                kwargs["validate"] = o.validate
            else:
                rules = [not_blank] if required and kind is fields.String and o.choices is None else []
                length = getattr(column.type, "length", None)
                if o.choices is not None:
                    rules.append(mv.OneOf(list(o.choices)))
                elif kind is fields.String and length:
                    rules.append(mv.Length(max=length))
                if rules:
                    kwargs["validate"] = rules
        return kind(**extra, **kwargs)

    def _schema(self, name: str, purpose: str) -> type[Schema]:
        body: dict[str, Any] = {key: self._field(key, purpose) for key in self.columns
                                if self._writable(key, purpose)}
        body.update(self.extra.get(purpose, {}))
        if purpose == "update":   # an extra "version" (its own description, say) replaces the derived one
            body.setdefault("version", fields.Integer(required=True))
        return type(name, (StrictSchema,), {**body, "__doc__": None, "__module__": self.model.__module__})

    def _filters(self) -> dict[str, tuple[str, FilterSpec]]:
        """``{filter name: (column key, FilterSpec)}``, in field order."""
        out: dict[str, tuple[str, FilterSpec]] = {}
        for key, o in self.options.items():
            given = o.filter
            if given is True or isinstance(given, str):
                given = {key: FilterSpec(given if isinstance(given, str) else "eq")}
            for filter_name, spec in (given or {}).items():
                spec = FilterSpec(spec) if isinstance(spec, str) else spec
                if spec.op not in OPERATORS:
                    raise PluginError(f"RecordSpec('{self.name}'): filter '{filter_name}' has operator "
                                      f"'{spec.op}'; the operators are {', '.join(OPERATORS)}.")
                out[filter_name] = (key, spec)
        return out

    def _filter_schema(self, name: str) -> type[Schema]:
        body: dict[str, Any] = {}
        for filter_name, (key, spec) in self.filters.items():
            o, column = self.option(key), self.model.__table__.columns[key]
            kind, extra = _kind(column, o.money)
            kwargs: dict[str, Any] = {"metadata": {"description": spec.description}} if spec.description else {}
            rules = [mv.OneOf(list(o.choices))] if o.choices is not None and spec.op != "contains" else []
            length = getattr(column.type, "length", None)
            if kind is fields.String and length and not rules:
                rules.append(mv.Length(max=length))
            if rules:
                kwargs["validate"] = rules
            field = o.field if o.field is not None and spec.op != "contains" else kind(**extra, **kwargs)
            body[filter_name] = field
        body.update(self.extra.get("filter", {}))
        body["deleted"] = fields.Boolean(load_default=False)
        return type(name, (StrictSchema,), {**body, "__doc__": None, "__module__": self.model.__module__})

    def _out_schema(self, name: str) -> type[Schema]:
        body: dict[str, Any] = {key: self._field(key, "out") for key in self.columns}
        body.update(self.extra.get("out", {}))
        return type(name, (RecordOut,), {**body, "__doc__": self.description, "__module__": self.model.__module__})

    # --- the service -------------------------------------------------------------------------------------

    def crud_service(self) -> common.CrudService:
        """The six functions REST's ``crud_blueprint`` and GraphQL's ``crud_fields`` call."""
        return common.CrudService(list=self.list, get=self.get, create=self.create, update=self.update,
                                  delete=self.delete, restore=self.restore)

    def _reader(self, actor: Any) -> Any:
        return _allowed(actor, self.readers)

    def _writer(self, actor: Any) -> Any:
        return _allowed(actor, self.writers)

    def visible(self, actor: Any, *, deleted: bool = False):
        """``SELECT model`` limited to what ``actor`` may see, live rows (or, ``deleted=True``, the deleted)."""
        user = self._reader(actor)
        condition = self.scope(user) if self.scope is not None else visibility(user, self.model)
        return select(self.model).where(condition, common.not_deleted(self.model, deleted))

    def get(self, actor: Any, record_id: Any, *, deleted: bool = False) -> Any:
        """One record ``actor`` may see; ``NotFound`` when it is missing or out of scope."""
        stmt = self.visible(actor, deleted=deleted).where(self.model.id == common.parse_uuid(record_id))
        row = db.session().scalars(stmt).first()
        if row is None:
            raise NotFound(f"No {self.noun} with this id.")
        return row

    def list(self, actor: Any, filters: Mapping[str, Any] | None = None, *,
             page: Any = common.PageRequest(), sort: str | None = None) -> common.Page:
        """A page of the records ``actor`` may see: ``filters`` as a client sends them (validated by the
        filter schema: an unknown one is a 422 naming it), ``sort`` in the services' syntax."""
        order = common.parse_sort(sort, self.sortable, self.default_sort)
        return common.paginate(self.filtered(actor, filters), page, order, self.model.id)

    def filtered(self, actor: Any, filters: Mapping[str, Any] | None = None):
        """``SELECT model`` of the records ``actor``'s list shows with ``filters`` (validated as :meth:`list`
        validates them), unordered: what :meth:`list` pages through and :meth:`list_export` reads."""
        values = common.validate(self.filter_schema, dict(filters or {}))
        stmt = self.visible(actor, deleted=values.pop("deleted", False))
        for key, value in values.items():
            if key in self.where:
                stmt = stmt.where(self.where[key](value))
            elif key in self.filters:
                column_key, spec = self.filters[key]
                stmt = stmt.where(OPERATORS[spec.op](getattr(self.model, column_key), value))
            else:
                stmt = stmt.where(getattr(self.model, key) == value)
        return stmt

    def list_export(self, name: str, *, description: str | None = None,
                    columns: Sequence[str] | None = None, route: str | None = None) -> Any:
        """The list as an export (a :class:`core.exports.ListExport` for ``trellis_export_types``): the
        records :meth:`filtered` selects, each written as its REST output (``out_schema``) in ``columns``
        (default: every output field, in order); mappings and lists of them as JSON text. ``route``: the
        REST list's path below ``/api/v1`` (:attr:`core.exports.Export.route`)."""
        from core.exports import schema_export

        return schema_export(name, description or self.description or f"The {self.noun} list.", self.filtered,
                             self.out_schema, filters=self.filter_schema, columns=columns, route=route)

    def import_type(self, name: str, *, description: str | None = None, batch_size: int = 1000,
                    route: str | None = None) -> Any:
        """The record as an import type (a :class:`core.imports.ImportType` for ``trellis_import_types``),
        exportable too (its ``export``: :meth:`filtered` in the import's columns, so a filtered export
        imports back unchanged). The model needs an ``external_id`` column, unique among live rows (the
        import finds a record again by it): without one, a ``PluginError`` here.

        Columns: ``external_id`` (required) and the fields :attr:`create_schema` takes, documented from
        them; a foreign key to a record with an external id is given by its Trellis id (``estate_id``) or
        by that external id (``estate_external_id``, resolved among the live records the admin may see, one
        query per batch). Each row is validated by the create's schema and rules: a new one is created in
        bulk with its audit entry and event (references and unique fields checked once per batch, the
        ``before_import`` hook, else ``before_create`` per row; a spec with ``after_create`` creates each
        row through :meth:`create`), an unchanged one is left alone, a changed one goes through
        :meth:`update` (a ``create_only`` field that differs fails the row, naming its column). ``route``:
        the REST list's path below ``/api/v1`` (:attr:`core.exports.Export.route`). See
        :mod:`core.record_imports`."""
        from core.record_imports import import_type

        return import_type(self, name, description=description, batch_size=batch_size, route=route)

    def create(self, actor: Any, data: Any) -> Any:
        """Validate ``data``, check references and unique fields, run the hooks, insert and audit."""
        user = self._writer(actor)
        values = common.validate(self.create_schema, data)
        self._check_references(user, values)
        self._check_unique(values)
        self._hook("before_create", user, values)
        columns = {k: v for k, v in values.items() if k in self.model.__table__.columns}
        row = self.model(**columns)
        db.session().add(row)
        self._flush()
        record_change(user, "created", row, created_fields(row, list(columns)))
        self._hook("after_create", user, row, values)
        return row

    def update(self, actor: Any, record_id: Any, data: Any) -> Any:
        """A partial update: ``version`` required (stale: 409), only what changed is written and audited."""
        user = self._writer(actor)
        values = common.validate_update(self.update_schema, data)
        row = self.get(user, record_id)
        common.check_version(row, values.pop("version"))
        changing = {k: v for k, v in values.items() if getattr(row, k, None) != v}
        self._check_references(user, changing)
        self._check_unique(changing, row)
        self._hook("before_update", user, row, values)
        changes = common.apply_changes(row, {k: v for k, v in values.items()
                                             if k in self.model.__table__.columns})
        if changes:
            self._flush()
            record_change(user, "updated", row, changes)
        self._hook("after_update", user, row, changes)
        return row

    def delete(self, actor: Any, record_id: Any) -> None:
        """Soft delete (restorable), audited."""
        user = self._writer(actor)
        row = self.get(user, record_id)
        self._hook("before_delete", user, row)
        common.soft_delete(row)
        record_change(user, "deleted", row)

    def restore(self, actor: Any, record_id: Any) -> Any:
        """Bring a soft-deleted record back, audited."""
        user = self._writer(actor)
        row = self.get(user, record_id, deleted=True)
        self._hook("before_restore", user, row)
        common.restore(row)
        record_change(user, "restored", row)
        return row

    # --- nested lists: one statement for every parent ------------------------------------------------------

    def pages_for(self, actor: Any, by: str, parent_ids: Sequence[Any], request: Any,
                  sort: str | None = None) -> dict:
        """A page of each parent's visible records (``by``: the foreign key naming the parent), for many
        parents in one statement (``seek_windows``): a nested list's batch."""
        order = common.parse_sort(sort, self.sortable, self.default_sort)
        return paging.seek_windows(db.session(), self.visible(actor), getattr(self.model, by), parent_ids,
                                   request, order, self.model.id)

    def counts_for(self, actor: Any, by: str, parent_ids: Sequence[Any]) -> dict:
        """How many visible records each parent has, in one grouped count (``count_windows``)."""
        return paging.count_windows(db.session(), self.visible(actor), getattr(self.model, by), parent_ids)

    # --- the rules ---------------------------------------------------------------------------------------

    def _hook(self, name: str, *args: Any) -> None:
        if name in self.hooks:
            self.hooks[name](*args)

    def _check_references(self, user: Any, values: Mapping[str, Any]) -> None:
        """A foreign key must name a record ``user`` may see: otherwise a 422 on the field."""
        problems: dict[str, list[str]] = {}
        for key, value in values.items():
            column = self.model.__table__.columns.get(key)
            if value is None or column is None or not column.foreign_keys:
                continue
            read = self.option(key).reference
            if read is False:
                continue
            read = read if callable(read) else _reader_of(_referenced_model(column))
            try:
                read(user, value)
            except NotFound as missing:
                problems[key] = [missing.message]
        if problems:
            raise ValidationFailed(fields=problems)

    def _check_unique(self, values: Mapping[str, Any], row: Any = None) -> None:
        for key in self.unique_fields:
            if key not in values or values[key] is None:
                continue
            stmt = select(self.model.deleted_at).where(getattr(self.model, key) == values[key])
            if row is not None:
                stmt = stmt.where(self.model.id != row.id)
            clash = db.session().execute(stmt.limit(1)).first()
            if clash is not None:
                raise Conflict(fields={key: [self._taken(key, deleted=clash[0] is not None)]})

    def _taken(self, key: str, *, deleted: bool) -> str:
        if deleted:
            return f"A deleted {self.noun} has this {key}: restore it, or choose another."
        return f"Another {self.noun} has this {key}."

    def _flush(self) -> None:
        """Flush; a unique constraint the pre-check could not see (a concurrent insert) is a 409 on its field."""
        try:
            db.session().flush()
        except IntegrityError as exc:
            key = _unique_column(exc, self.model)
            if key is None:
                raise
            raise Conflict(fields={key: [self._taken(key, deleted=False)]}) from None


def _allowed(actor: Any, who: Any) -> Any:
    if who is None:
        return require_actor(actor)
    if callable(who):
        return who(actor)
    return require_role(actor, *who)


_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w., ]+)")
_PG_KEY = re.compile(r"Key \(([^)]+)\)=")


def _unique_column(exc: IntegrityError, model: type) -> str | None:
    """The column of ``model`` a unique-constraint violation names (SQLite's and PostgreSQL's wording)."""
    text = str(exc.orig)
    found = _SQLITE_UNIQUE.search(text)
    names = [part.strip().split(".")[-1] for part in found.group(1).split(",")] if found else []
    if not names and "unique" in text.lower() and (key := _PG_KEY.search(text)):
        names = [part.strip().strip('"') for part in key.group(1).split(",")]
    columns = model.__table__.columns
    return next((name for name in names if name in columns and name not in HOUSE_COLUMNS), None)


def _referenced_model(column: Any) -> type:
    table = next(iter(column.foreign_keys)).column.table
    for mapper in db.Base.registry.mappers:
        if mapper.local_table is table:
            return mapper.class_
    raise PluginError(f"No model maps the table {table.name} that {column} references.")


def _reader_of(model: type) -> Callable[[Any, Any], Any]:
    """How to read one ``model`` record as a user sees it: its declared spec, the core's service, or its
    scopes (``visibility``)."""
    if model in _DECLARED:
        return _DECLARED[model].get
    from core.models import Contact, Customer, Interaction
    from core.services import contacts, customers, interactions

    known = {Customer: customers.get, Contact: contacts.get, Interaction: interactions.get}
    if model in known:
        return known[model]

    def read(actor: Any, record_id: Any) -> Any:
        stmt = select(model).where(visibility(actor, model), model.id == common.parse_uuid(record_id))
        if hasattr(model, "deleted_at"):
            stmt = stmt.where(model.deleted_at.is_(None))
        if db.session().scalars(stmt).first() is None:
            raise NotFound(f"No {model.__tablename__.replace('_', ' ')} with this id.")

    return read


def _kind(column: Any, money: bool) -> tuple[type[fields.Field], dict]:
    """The marshmallow field class (and its arguments) for a column's type."""
    if column.foreign_keys:
        return fields.UUID, {}
    try:
        python = getattr(column.type, "impl_instance", column.type).python_type   # a TypeDecorator: its impl
    except NotImplementedError:   # a type that declares no Python type (JSON, some dialect types): Raw
        python = object
    if python is Decimal:
        places = getattr(column.type, "scale", None)
        if money:
            return Money, ({"places": places} if places is not None else {})
        return fields.Decimal, {"as_string": True, **({"places": places} if places is not None else {})}
    return _BY_TYPE.get(python, (fields.Raw, {}))


_BY_TYPE: dict[type, tuple[type[fields.Field], dict]] = {
    str: (fields.String, {}), int: (fields.Integer, {}), float: (fields.Float, {}), bool: (fields.Boolean, {}),
    dt.date: (fields.Date, {}), dt.datetime: (fields.DateTime, {}), uuid.UUID: (fields.UUID, {}),
    dict: (fields.Dict, {}), list: (fields.List, {"cls_or_instance": fields.Raw()}),
}
