"""A throwaway plugin that lives only in the tests: it proves a third-party package can do everything a
built-in plugin does — a model and its migration, a REST endpoint, a GraphQL query field and a field on
the core ``Customer`` type, a metric, labels, an interaction kind, a CLI command, demo data and a
declaration of its personal data — importing nothing of Trellis but the public module ``trellis.plugin``.
Its notes are served over GraphQL by ``crud_fields``, as a third-party record would be."""
from __future__ import annotations

import datetime
import uuid
from pathlib import Path
from typing import Optional

import click
import strawberry
from flask import request
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import ForeignKey, Integer, String, func, select
from sqlalchemy.orm import Mapped, mapped_column

from trellis.plugin import (CUSTOMER_REF, EXTERNAL_ID, Export, ImportColumn, ImportType, customer_refs,
                            existing_by_external_id, keyed_rows, resolve_customers, update_row)
from trellis.plugin import (Base, Choice, CrudService, Customer, Metric, MetricQuery, MetricRow, NotFound, Page,
                            PageRequest, PersonalData, Record, apply_changes, check_version, create_customer,
                            crud_fields, customer_visibility, get_customer, hookimpl, not_deleted, paginate,
                            parse_sort, parse_uuid, restore, session, soft_delete, validate_update,
                            ValidationFailed, move_customer_rows)
from trellis.plugin import validate as validate_input   # beside marshmallow's ``validate``

name = "sample"
version = "0.0.1"


class SampleNote(Base, Record):
    __tablename__ = "sample_note"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(String(200), doc="The note itself (1–200 characters).")
    score: Mapped[int] = mapped_column(Integer, default=0, doc="How much the note matters, 0–10 (default 0).")
    external_id: Mapped[Optional[str]] = mapped_column(String(100), nullable=True, doc="The note's id where it was "
                                                       "imported from (``trellis import sample.notes``).")


class NoteCreate(Schema):
    class Meta:
        unknown = "raise"

    customer_id = fields.UUID(required=True)
    text = fields.String(required=True, validate=validate.Length(min=1, max=200))
    score = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10))


class NoteUpdate(Schema):
    class Meta:
        unknown = "raise"

    version = fields.Integer(required=True)
    text = fields.String(validate=validate.Length(min=1, max=200))
    score = fields.Integer(validate=validate.Range(min=0, max=10))


class NoteFilter(Schema):
    class Meta:
        unknown = "raise"

    customer_id = fields.UUID()
    deleted = fields.Boolean(load_default=False)


NOTE_SORTABLE = {"created_at": SampleNote.created_at, "score": SampleNote.score}


class SampleNoteOut(Schema):
    id = fields.UUID()
    customer_id = fields.UUID()
    text = fields.String()
    score = fields.Integer()
    version = fields.Integer()


# --- services ----------------------------------------------------------------------------------------

def create_note(actor, data) -> SampleNote:
    values = validate_input(NoteCreate, data)
    customer = get_customer(actor, values["customer_id"])  # permission-checked
    note = SampleNote(customer_id=customer.id, text=values["text"], score=values["score"])
    session().add(note)
    session().flush()
    return note


def _visible_notes(actor, *, deleted: bool = False):
    return (select(SampleNote).join(Customer, Customer.id == SampleNote.customer_id)
            .where(customer_visibility(actor), not_deleted(SampleNote, deleted)))


def get_note(actor, note_id, *, deleted: bool = False) -> SampleNote:
    nid = parse_uuid(note_id)
    note = session().scalars(_visible_notes(actor, deleted=deleted).where(SampleNote.id == nid)).first()
    if note is None:
        raise NotFound("No note with this id.")
    return note


def filtered_notes(actor, filters=None):
    """The notes the actor's list shows with ``filters`` (the list pages it; the export reads it whole)."""
    values = validate_input(NoteFilter, dict(filters or {}))
    stmt = _visible_notes(actor, deleted=values.pop("deleted"))
    if "customer_id" in values:
        stmt = stmt.where(SampleNote.customer_id == values["customer_id"])
    return stmt


def list_notes(actor, filters=None, *, page=PageRequest(), sort=None) -> Page:
    return paginate(filtered_notes(actor, filters), page, parse_sort(sort, NOTE_SORTABLE, "created_at"), SampleNote.id)


def export_notes(notes) -> list[dict]:
    """``trellis export sample.notes``: the import's columns, the customer by its external id."""
    refs = customer_refs(n.customer_id for n in notes)
    return [{"external_id": n.external_id, **refs[n.customer_id], "text": n.text, "score": n.score} for n in notes]


def update_note(actor, note_id, data) -> SampleNote:
    values = validate_update(NoteUpdate, data)
    note = get_note(actor, note_id)
    check_version(note, values.pop("version"))
    apply_changes(note, values)
    session().flush()
    return note


def delete_note(actor, note_id) -> None:
    soft_delete(get_note(actor, note_id))


def restore_note(actor, note_id) -> SampleNote:
    note = get_note(actor, note_id, deleted=True)
    restore(note)
    return note


def notes_of(actor, customer_id) -> list[SampleNote]:
    customer = get_customer(actor, customer_id)
    return list(session().scalars(select(SampleNote).where(SampleNote.customer_id == customer.id,
                                                              SampleNote.deleted_at.is_(None))
                                     .order_by(SampleNote.created_at, SampleNote.id)))


def note_counts(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    out = {cid: 0 for cid in customer_ids}
    rows = session().execute(select(SampleNote.customer_id, func.count()).where(
        SampleNote.customer_id.in_(customer_ids), SampleNote.deleted_at.is_(None)).group_by(SampleNote.customer_id))
    out.update(dict(rows.all()))
    return out


def notes_metric(query: MetricQuery) -> list[MetricRow]:
    stmt = (select(func.count(SampleNote.id)).join(Customer, Customer.id == SampleNote.customer_id)
            .where(customer_visibility(query.actor), SampleNote.deleted_at.is_(None)))
    return [MetricRow(value=session().scalar(stmt) or 0)]


# --- hooks -------------------------------------------------------------------------------------------

@hookimpl
def trellis_models():
    return [SampleNote]


def write_notes(batch) -> None:
    """``trellis import sample.notes FILE``: each row checked by ``NoteCreate`` and the customer's visibility,
    as ``create_note`` does; a changed note updated through ``update_note``."""
    rows = keyed_rows(batch)
    resolve_customers(batch, rows)
    existing = existing_by_external_id(SampleNote, (ext for _, ext in rows))
    for row, ext in rows:
        if row.failed:
            continue
        try:
            values = validate_input(NoteCreate, row.values)
        except ValidationFailed as exc:
            batch.fail_validation(row, exc)
            continue
        note = existing.get(ext)
        if note is not None:
            changed = [k for k in ("text", "score") if k in row.values and getattr(note, k) != values[k]]
            update_row(batch, row, update_note, note, row.values, changed)
            continue
        now = batch.now
        batch.recorder.add(SampleNote, customer_id=values["customer_id"], text=values["text"], score=values["score"],
                           external_id=ext, created_at=now, updated_at=now, version=1, deleted_at=None)
        row.outcome = "created"


@hookimpl
def trellis_import_types():
    return [ImportType("sample.notes", "Notes about customers.", (
        EXTERNAL_ID, *CUSTOMER_REF,
        ImportColumn("text", "The note (1–200 characters).", required=True),
        ImportColumn("score", "0–10 (default 0)."),
    ), write_notes, models=(SampleNote,), export=Export(filtered_notes, export_notes, filters=NoteFilter))]


@hookimpl
def trellis_migrations():
    return Path(__file__).parent / "migrations"


@hookimpl
def trellis_rest_blueprints():
    blp = Blueprint("sample_notes", __name__, url_prefix="/notes", description="Sample notes.")

    @blp.route("", methods=["POST"])
    @blp.response(201, SampleNoteOut)
    def post_note():
        return create_note(current_user, request.get_json())

    @blp.route("/by-customer/<uuid:customer_id>")
    @blp.response(200, SampleNoteOut(many=True))
    def list_notes(customer_id):
        return notes_of(current_user, customer_id)

    return [blp]


@hookimpl
def trellis_graphql_types(registry):
    @registry.type("SampleNote")
    class SampleNoteType:
        """A note about a customer (the sample plugin's record)."""

        id: strawberry.ID
        customer_id: strawberry.ID
        text: str
        score: int
        version: int
        deleted_at: Optional[datetime.datetime]

    @registry.input("SampleNoteCreateInput")
    class SampleNoteCreateInput:
        customer_id: strawberry.ID
        text: str
        score: Optional[int] = strawberry.UNSET

    @registry.input("SampleNoteUpdateInput")
    class SampleNoteUpdateInput:
        version: int
        text: Optional[str] = strawberry.UNSET
        score: Optional[int] = strawberry.UNSET

    @registry.input("SampleNoteFilter")
    class SampleNoteFilter:
        customer_id: Optional[strawberry.ID] = strawberry.UNSET
        deleted: Optional[bool] = strawberry.UNSET


def _note_crud(registry):
    return crud_fields(
        registry, "SampleNote",
        service=CrudService(list=list_notes, get=get_note, create=create_note, update=update_note,
                            delete=delete_note, restore=restore_note),
        create_input="SampleNoteCreateInput", update_input="SampleNoteUpdateInput", filter_input="SampleNoteFilter",
        sortable=list(NOTE_SORTABLE), default_sort="created_at",
        descriptions={"get": "One sample note you may see.", "list": "Notes you may see (filter by customer)."})


@hookimpl
def trellis_graphql_query_fields(registry):
    return _note_crud(registry).query   # sampleNote(id:), sampleNotes(filter: {customerId}, …)


@hookimpl
def trellis_graphql_mutation_fields(registry):
    return _note_crud(registry).mutation


@hookimpl
def trellis_graphql_type_fields(registry):
    def sample_note_count(root: strawberry.Parent[object], info: strawberry.Info) -> int:
        return info.context.loaders.load("sample.note_counts", note_counts, root.id)

    return {"Customer": {"sampleNoteCount": strawberry.field(resolver=sample_note_count,
                                                             description="How many live notes the customer has.")}}


@hookimpl
def trellis_metrics():
    return [Metric("sample_notes", "Sample notes", "示例备注", notes_metric, description="Notes you may see.")]


@hookimpl
def trellis_interaction_kinds():
    return [Choice("sample_ping", "Sample ping", "示例提醒")]


@hookimpl
def trellis_labels():
    return {"sample_mood": [Choice("happy", "Happy", "高兴"), Choice("grumpy", "Grumpy", "不高兴")]}


@hookimpl
def trellis_cli_commands():
    @click.command("sample-hello")
    def hello():
        """Say hello from the sample plugin."""
        click.echo("hello from sample")

    return [hello]


@hookimpl
def trellis_demo_data(admin, rng):
    customer = create_customer(admin, {"name": f"Sample demo customer {rng.randint(1, 9)}"})
    create_note(admin, {"customer_id": str(customer.id), "text": "made by the sample plugin's demo hook"})


@hookimpl
def trellis_merge_customers(survivor, merged, actor):
    """The duplicate's notes go to the customer that stays (one audited update each)."""
    moved = move_customer_rows(actor, SampleNote, "customer_id", survivor, merged)
    return {"notes": moved} if moved else None


@hookimpl
def trellis_personal_data():
    return [PersonalData(SampleNote, lambda person: SampleNote.customer_id.in_(person.customer_ids),
                         fields=("text",), description="Notes about the customer: the text is erased.")]
