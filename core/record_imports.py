"""A declared record's import (``RecordSpec.import_type``): ``trellis import NAME FILE`` for any record
declared once, a plugin's included, as :meth:`core.records.RecordSpec.list_export` gives it its export.

The columns are ``external_id`` (required: the import finds the record again by it, so the model needs an
``external_id`` column, unique among live rows — ``core.models.customers.live_unique``) and the fields the
spec's create takes, documented from the schema. A foreign key to a record that has an external id is
given either by its Trellis id (``estate_id``) or by that record's external id (``estate_external_id``),
resolved to the live record the admin may see with that external id in one query per batch: a record
imported by an earlier batch or an earlier file resolves.

Each row is validated by the spec's create schema and rules (a list field's cell split on ``;``, or ``,``,
as the export joins it: ``core.imports.split_list``), then:

- a row whose ``external_id`` names no live record is **created** in bulk (``BulkRecorder``): references
  checked in one query per field and batch, unique fields pre-checked in one query per field and batch
  (a clash in the database or within the file is a row error on the field), the spec's ``before_import``
  hook (the batch form of ``before_create``: ``fn(user, values_list) -> {index: error}``) or else its
  ``before_create`` for each row, then the row, its audit entry and its ``<record>.created`` event, one
  INSERT per table and batch. A spec with an ``after_create`` hook creates each row through its own
  ``create`` instead (a savepoint per row: slower, the same rules);
- a row whose record exists and whose values (the columns the file has; a blank cell gives no value) all
  equal the record's is **unchanged**: nothing is written;
- a row that differs is an **update** through the spec's own ``update`` (its rules and hooks, version
  bumped, audited as an update), in a savepoint, so a refused update fails only its row. A field only a
  create sets (``create_only``) cannot change: such a row fails, naming the column.

The export (``ImportType.export``) writes the same columns, references by external id where the record
referenced has one (else its Trellis id), so a filtered export imports back unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from marshmallow import fields as mfields
from marshmallow import validate as mv
from sqlalchemy import select

from core import db
from core.errors import Conflict, Forbidden, NotFound, PluginError, TrellisError, ValidationFailed

if TYPE_CHECKING:
    from core.imports import ImportBatch, ImportRow
    from core.records import RecordSpec

@dataclass(frozen=True)
class Reference:
    """A foreign key of the record given by the referenced record's external id too: ``key`` (``estate_id``),
    ``column`` (``estate_external_id``), the referenced ``model`` and its ``noun``."""

    key: str
    column: str
    model: type
    noun: str


def _noun(model: type) -> str:
    from core.records import _DECLARED

    if model in _DECLARED:
        return _DECLARED[model].noun
    return model.__tablename__.replace("_", " ")


def _visible(user: Any, model: type):
    """``SELECT model`` of the live records ``user`` may see, as a reference to one is checked."""
    from core.models import Contact, Customer, Interaction
    from core.records import _DECLARED
    from core.services import common
    from core.services.permissions import customer_visibility, visibility

    if model in _DECLARED:
        return _DECLARED[model].visible(user)
    if model is Customer:
        from core.services import customers

        return customers.visible(user)
    if model in (Contact, Interaction):
        return select(model).where(model.customer_id.in_(select(Customer.id).where(customer_visibility(user))),
                                   model.deleted_at.is_(None))
    return select(model).where(visibility(user, model), common.not_deleted(model, False)) \
        if hasattr(model, "deleted_at") else select(model).where(visibility(user, model))


def _visible_values(user: Any, model: type, column: Any, values: Iterable[Any], *out: Any) -> list:
    """The rows (``out`` columns) of the live ``model`` records ``user`` may see whose ``column`` is one of
    ``values``, in one query (none when ``values`` is empty; none at all when the user may not read them)."""
    values = list(values)
    if not values:
        return []
    try:
        stmt = _visible(user, model)
    except (Forbidden, NotFound):
        return []
    return list(db.session().execute(stmt.with_only_columns(*out).where(db.in_values(column, values))).all())


def resolve_reference(batch: "ImportBatch", keyed: list, ref: Reference, user: Any, used: dict) -> None:
    """Turn each row's ``ref.column`` (``unit_external_id``) into ``ref.key`` (``unit_id``): the live record
    ``user`` may see with that external id, in one query for the batch (``keyed``: ``keyed_rows``). A row
    naming none, or giving both columns, fails on the column; ``used`` (``{row number: {key: column}}``)
    records which rows gave the key by external id, for their error reports."""
    model = ref.model
    externals = {str(row.values[ref.column]) for row, _ in keyed if not row.failed and ref.column in row.values}
    found = dict(_visible_values(user, model, model.external_id, externals, model.external_id, model.id))
    for row, _ in keyed:
        if row.failed or ref.column not in row.values:
            continue
        ext = str(row.values.pop(ref.column))
        if ref.key in row.values:
            batch.fail(row, ref.key, f"Give {ref.key} or {ref.column}, not both.")
        elif ext not in found:
            batch.fail(row, ref.column, f"No {ref.noun} has this external id.")
        else:
            row.values[ref.key] = str(found[ext])
            used.setdefault(row.number, {})[ref.key] = ref.column


def reference_values(ref: Reference, ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """For an export: the two columns naming each of these records, in one query: ``{ref.column: its
    external id, ref.key: None}`` for a record with one, else ``{ref.column: None, ref.key: its Trellis
    id}`` (which re-imports into the same database)."""
    ids = {i for i in ids if i is not None}
    found = dict(db.session().execute(select(ref.model.id, ref.model.external_id).where(
        db.in_values(ref.model.id, ids))).all()) if ids else {}
    return {i: {ref.column: ext, ref.key: None} if ext else {ref.column: None, ref.key: str(i)}
            for i, ext in found.items()}


class RecordImport:
    """The import of one declared record (built by ``RecordSpec.import_type``)."""

    def __init__(self, spec: "RecordSpec", name: str):
        from core.imports import ImportColumn
        from core.records import _referenced_model
        from core.services.import_types import EXTERNAL_ID

        model = spec.model
        if "external_id" not in model.__table__.columns:
            raise PluginError(f"RecordSpec('{spec.name}').import_type('{name}'): {model.__name__} has no external_id "
                              "column; an import finds a record again by it. Add a nullable String(100) external_id "
                              "column, unique among live rows (core.models.customers.live_unique), by a migration.")
        self.spec, self.name = spec, name
        schema = spec.create_schema()
        self.updatable = set(spec.update_schema().fields)
        self.keys = [k for k in schema.fields if k != "external_id"]
        self.required = {k for k in self.keys if schema.fields[k].required}
        # a list cell is text (the export joins a list of text by ';'): split as the other imports split it
        self.lists = {k for k in self.keys if isinstance(schema.fields[k], mfields.List)}
        self.references: dict[str, Reference] = {}
        columns = [EXTERNAL_ID]
        for key in self.keys:
            column = model.__table__.columns.get(key)
            field = schema.fields[key]
            text = _described(field, key)
            if column is not None and column.foreign_keys:
                target = _referenced_model(column)
                if "external_id" in target.__table__.columns:
                    base = key[:-3] if key.endswith("_id") else key
                    ref = self.references[key] = Reference(key, f"{base}_external_id", target, _noun(target))
                    fixed = "" if key in self.updatable else " Fixed once created."
                    given = "" if key in self.required else ", if any"
                    columns.append(ImportColumn(ref.column, f"The {ref.noun}'s external_id (or give {key}){given}.{fixed}"))
                    columns.append(ImportColumn(key, f"The {ref.noun}'s Trellis id (instead of {ref.column})."))
                    continue
            if key not in self.updatable:
                text += " Fixed once created."
            columns.append(ImportColumn(key, text, required=key in self.required))
        # the export writes the REST output: its other fields (id, version …) are read back and left alone
        out = [k for k, f in spec.out_schema().fields.items() if not f.load_only]
        known = {c.name for c in columns}
        self.ignored = tuple(k for k in out if k not in known)
        columns.extend(ImportColumn(k, "Written by the export (the REST output's field); ignored on import.")
                       for k in self.ignored)
        self.columns = tuple(columns)
        self.out_keys = out
        self.export_columns = tuple(["external_id"] * ("external_id" not in out) + [
            name for k in out for name in ((self.references[k].column, k) if k in self.references else (k,))])

    # --- the import ------------------------------------------------------------------------------------

    def write(self, batch: "ImportBatch") -> None:
        """Validate one batch and collect its new records in the batch's recorder (see the module)."""
        from core.imports import schema_for, split_list
        from core.services import common
        from core.services.import_types import existing_by_external_id, keyed_rows

        spec = self.spec
        try:
            user = spec._writer(batch.actor)
        except (Forbidden, NotFound) as refused:
            for row in batch.live():
                batch.fail(row, "_row", refused.message)
            return
        for row in batch.live():
            for key in self.ignored:
                if row.values.pop(key, None) is not None and key == "deleted_at":
                    # the bin's export: importing it would make a live copy of a deleted record
                    batch.fail(row, "deleted_at", f"A deleted {spec.noun}: restore it in Trellis rather than import it.")
        keyed = keyed_rows(batch)
        used: dict[int, dict[str, str]] = {row.number: {} for row, _ in keyed}   # row → {field: the column given}
        for ref in self.references.values():
            resolve_reference(batch, keyed, ref, user, used)
        existing = existing_by_external_id(spec.model, (ext for _, ext in keyed))
        fresh: list[tuple[Any, str, dict]] = []
        for row, ext in keyed:
            if row.failed:
                continue
            raw = dict(row.values)
            for key in self.lists & raw.keys():
                raw[key] = split_list(raw[key])
            try:
                values = common.validate(schema_for(spec.create_schema, raw), raw)
            except ValidationFailed as exc:
                self._fail(batch, row, self._missing_references(exc, raw), used)
                continue
            record = existing.get(ext)
            if record is None:
                fresh.append((row, ext, values))
            else:
                self._update(batch, row, record, raw, values, used)
        if fresh:
            self._create(batch, user, fresh, used)

    def _missing_references(self, exc: ValidationFailed, raw: dict) -> ValidationFailed:
        """A required reference given in neither column: say both columns."""
        fields = dict(exc.fields)
        for key, ref in self.references.items():
            if key in fields and key not in raw:
                fields.pop(key)
                fields[ref.column] = [f"Give the {ref.noun}: {ref.column} or {key}."]
        return ValidationFailed(exc.message, fields=fields)

    def _fail(self, batch: "ImportBatch", row: "ImportRow", exc: TrellisError, used: dict) -> None:
        """Report ``exc``'s fields on the columns the row gave them in (``estate_external_id`` for a
        reference given by external id)."""
        given = used.get(row.number, {})
        batch.fail_validation(row, ValidationFailed(exc.message, fields={given.get(k, k): v for k, v in exc.fields.items()}))

    def _update(self, batch: "ImportBatch", row: "ImportRow", record: Any, raw: dict, values: dict, used: dict) -> None:
        spec = self.spec
        keys = [k for k in values if k in raw and k in spec.model.__table__.columns]
        changed = [k for k in keys if getattr(record, k) != values[k]]
        fixed = [k for k in changed if k not in self.updatable]
        if fixed:
            column = used.get(row.number, {}).get(fixed[0], fixed[0])
            batch.fail(row, column, f"Set when the {spec.noun} was created: it cannot change.")
            return
        if not changed:
            row.outcome = "unchanged"
            return
        try:
            with db.session().begin_nested():
                spec.update(batch.actor, record.id, {**{k: raw[k] for k in changed}, "version": record.version})
        except (ValidationFailed, Conflict, NotFound, Forbidden) as exc:
            self._fail(batch, row, exc, used)
            return
        row.outcome = "updated"

    def _create(self, batch: "ImportBatch", user: Any, fresh: list, used: dict) -> None:
        from core.services.audit import created_fields

        spec = self.spec
        self._check_references(batch, user, fresh, used)
        fresh = [item for item in fresh if not item[0].failed]
        self._check_unique(batch, fresh, used)
        fresh = [item for item in fresh if not item[0].failed]
        if "after_create" in spec.hooks:   # a rule that needs the created row: each through the spec's create
            self._create_each(batch, fresh, used)
            return
        if "before_import" in spec.hooks:
            refused = spec.hooks["before_import"](user, [values for _, _, values in fresh]) or {}
            for index, exc in refused.items():
                self._fail(batch, fresh[index][0], exc, used)
        elif "before_create" in spec.hooks:
            for row, _, values in fresh:
                try:
                    spec.hooks["before_create"](user, values)
                except (ValidationFailed, Conflict, NotFound, Forbidden) as exc:
                    self._fail(batch, row, exc, used)
        rec, now = batch.recorder, batch.now
        table = spec.model.__table__.columns
        for row, ext, values in fresh:
            if row.failed:
                continue
            given = [k for k in values if k in table]
            columns = {**self._defaults(), **{k: values[k] for k in given}, "external_id": ext,
                       "created_at": now, "updated_at": now, "version": 1, "deleted_at": None}
            record = rec.add(spec.model, **columns)
            rec.change("created", record, created_fields(SimpleNamespace(**columns), [*given, "external_id"]), at=now)
            row.outcome = "created"

    def _create_each(self, batch: "ImportBatch", fresh: list, used: dict) -> None:
        from core.imports import split_list

        for row, ext, _ in fresh:
            raw = {k: split_list(v) if k in self.lists else v for k, v in row.values.items()}
            try:
                with db.session().begin_nested():
                    record = self.spec.create(batch.actor, raw)
                    record.external_id = ext
                    db.session().flush()
            except (ValidationFailed, Conflict, NotFound, Forbidden) as exc:
                self._fail(batch, row, exc, used)
                continue
            row.outcome = "created"

    def _defaults(self) -> dict:
        """The value of each column a create leaves out, as its Python-side default would fill it (the
        recorder applies none); a column with only a server default is left to the database."""
        from core.records import HOUSE_COLUMNS

        out: dict[str, Any] = {}
        for column in self.spec.model.__table__.columns:
            if column.key in HOUSE_COLUMNS or column.primary_key:
                continue
            default = column.default
            if default is not None and getattr(default, "is_scalar", False):
                out[column.key] = default.arg
            elif default is not None and getattr(default, "is_callable", False):
                out[column.key] = default.arg(None)
            elif column.server_default is None and column.nullable:
                out[column.key] = None
        return out

    def _check_references(self, batch: "ImportBatch", user: Any, fresh: list, used: dict) -> None:
        """Each foreign key a new row gives by Trellis id names a record the user may see: one query per
        field and batch (a field with its own ``reference`` reads each value that way; ``False``: none)."""
        from core.records import _referenced_model

        for key in self.keys:
            column = self.spec.model.__table__.columns.get(key)
            if column is None or not column.foreign_keys:
                continue
            read = self.spec.option(key).reference
            if read is False:
                continue
            direct = [(row, values[key]) for row, _, values in fresh
                      if values.get(key) is not None and used[row.number].get(key) is None]
            if not direct:
                continue
            if callable(read):
                for row, value in direct:
                    try:
                        read(user, value)
                    except NotFound as missing:
                        self._fail(batch, row, ValidationFailed(fields={key: [missing.message]}), used)
                continue
            model = _referenced_model(column)
            seen = {value for (value,) in _visible_values(user, model, model.id, {v for _, v in direct}, model.id)}
            for row, value in direct:
                if value not in seen:
                    batch.fail(row, key, f"No {_noun(model)} with this id.")

    def _check_unique(self, batch: "ImportBatch", fresh: list, used: dict) -> None:
        """The spec's unique fields of the new rows: taken in the database (live or deleted) or by an earlier
        row of the batch is a row error on the field, one query per field and batch."""
        model = self.spec.model
        for key in self.spec.unique_fields:
            given = [(row, values[key]) for row, _, values in fresh if values.get(key) is not None]
            if not given:
                continue
            taken = {value: deleted is not None for value, deleted in db.session().execute(
                select(getattr(model, key), model.deleted_at).where(db.in_values(getattr(model, key), {v for _, v in given})))}
            first: dict[Any, int] = {}
            for row, value in given:
                if value in taken:
                    batch.fail(row, key, self.spec._taken(key, deleted=taken[value]))
                elif value in first:
                    batch.fail(row, key, f"Also on row {first[value]}: another {self.spec.noun} has this {key}.")
                else:
                    first[value] = row.number

    # --- the export ------------------------------------------------------------------------------------

    def export_rows(self, records: Sequence[Any]) -> list[dict]:
        """Records as their REST output writes them (:meth:`RecordSpec.list_export`'s rows), each reference
        given by the referenced record's external id beside its Trellis id (one query per reference and
        batch), the Trellis id left blank when there is an external id: the file moves between databases."""
        from core.exports import flat_value

        dumped = self.spec.out_schema().dump(records, many=True)
        refs = {key: reference_values(ref, (getattr(r, key) for r in records)) for key, ref in self.references.items()}
        out = []
        for record, values in zip(records, dumped):
            row: dict[str, Any] = {key: flat_value(values.get(key)) for key in self.out_keys}
            row.setdefault("external_id", record.external_id)
            for key, ref in self.references.items():
                row.update(refs[key].get(getattr(record, key)) or {ref.column: None, key: None})
            out.append(row)
        return out


def _described(field: Any, key: str) -> str:
    """A column's documentation: the field's description, its choices and its length."""
    text = (field.metadata.get("description") or f"The {key.replace('_', ' ')}.").rstrip()
    if not text.endswith("."):
        text += "."
    rules = field.validate if isinstance(field.validate, (list, tuple)) else [field.validate] if field.validate else []
    for rule in [*rules, *getattr(field, "validators", [])]:
        if isinstance(rule, mv.OneOf) and "One of" not in text:
            text += f" One of: {', '.join(map(str, rule.choices))}."
    return text


def import_type(spec: "RecordSpec", name: str, *, description: str | None = None, batch_size: int = 1000,
                route: str | None = None) -> Any:
    """See :meth:`core.records.RecordSpec.import_type`."""
    from core.exports import Export
    from core.imports import ImportType

    plan = RecordImport(spec, name)
    return ImportType(name, description or spec.description or f"The {spec.noun} records.", plan.columns,
                      plan.write, models=(spec.model,), batch_size=batch_size,
                      export=Export(spec.filtered, plan.export_rows, plan.export_columns, spec.filter_schema,
                                    route=route))


__all__ = ["RecordImport", "Reference", "import_type", "reference_values", "resolve_reference"]
