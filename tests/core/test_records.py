"""A record declared once (core/records.py): the schemas derived from the model, and the generic service's
house rules as a plugin's users meet them — 409 on a stale version and on a taken unique value (naming the
field), 422 on an unknown filter or a reference out of reach, out of scope reads as missing, soft delete and
restore, an audit entry and an event per change, and nothing written when a rule refuses."""
from __future__ import annotations

import pytest
from marshmallow import missing, validate
from sqlalchemy import func, select, true

from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import AuditEntry, Customer, OutboxEvent, Team
from core.records import FieldSpec, FilterSpec, RecordSpec
from core.services import customers
from core.services.paging import KeysetRequest
from core.services.permissions import customer_visibility
from tests.sample_plugin import SampleNote


def _note_scope(actor):
    return SampleNote.customer_id.in_(select(Customer.id).where(customer_visibility(actor)))


def _no_shouting(user, values):
    if len(values.get("text", "")) > 2 and values["text"].isupper():
        raise ValidationFailed(fields={"text": ["No shouting."]})


NOTES = RecordSpec(
    SampleNote, "RecordsTestNote", noun="note", scope=_note_scope, sortable=("score",), default_sort="-score",
    fields={"customer_id": FieldSpec(create_only=True, filter=True),
            "score": FieldSpec(sortable=True, validate=validate.Range(min=0, max=10),
                               filter={"min_score": FilterSpec("gte", "At least this score.")}),
            "text": FieldSpec(filter={"q": "contains"})},
    hooks={"before_create": _no_shouting, "before_update": lambda user, note, values: _no_shouting(user, values)})

TEAMS = RecordSpec(Team, "RecordsTestTeam", noun="team", scope=lambda actor: true(), writers=("admin", "manager"))
# the same table with the pre-check off: only the database's unique constraint is left to catch a clash
TEAMS_UNCHECKED = RecordSpec(Team, "RecordsTestTeamUnchecked", noun="team", scope=lambda actor: true(),
                             fields={"name": FieldSpec(unique=False)})


def _counts(session):
    return (session.scalar(select(func.count()).select_from(SampleNote)),
            session.scalar(select(func.count()).select_from(AuditEntry)),
            session.scalar(select(func.count()).select_from(OutboxEvent)))


@pytest.fixture
def customer(uow, people):
    return customers.create(people.rep, {"name": "Records test customer"})


def test_the_schemas_are_derived_from_the_model():
    create, update = NOTES.create_schema().fields, NOTES.update_schema().fields
    assert list(create) == ["customer_id", "text", "score", "external_id"] and create["text"].required
    assert not create["score"].required                    # the column has a default
    assert create["text"].metadata["description"] == "The note itself (1–200 characters)."   # the column's doc
    assert list(update) == ["text", "score", "external_id", "version"] and update["version"].required
    assert not update["text"].required                     # a PATCH sends what changes
    assert list(NOTES.filter_schema().fields) == ["customer_id", "min_score", "q", "deleted"]
    out = NOTES.out_schema().fields
    assert {"id", "version", "deleted_at", "customer_id", "text", "score"} <= set(out)
    assert list(NOTES.sortable) == ["score"]
    assert NOTES.create_schema.__name__ == "RecordsTestNoteCreate"


def test_an_extra_version_replaces_the_derived_one_and_is_still_required(uow, people, customer):
    from marshmallow import fields

    described = fields.Integer(required=True, metadata={"description": "The version you read; a stale one is 409."})
    spec = RecordSpec(SampleNote, "RecordsTestVersionNote", noun="note", scope=_note_scope,
                      extra={"update": {"version": described}})
    update = spec.update_schema().fields
    assert list(update)[-1] == "version" and update["version"].metadata == described.metadata
    assert "description" not in NOTES.update_schema().fields["version"].metadata   # the default stays bare
    note = spec.create(people.rep, {"customer_id": str(customer.id), "text": "hello"})
    with pytest.raises(ValidationFailed) as refused:
        spec.update(people.rep, note.id, {"text": "changed"})
    assert "version" in refused.value.fields
    assert spec.update(people.rep, note.id, {"text": "changed", "version": note.version}).text == "changed"


def test_a_field_default_fills_a_create_that_leaves_it_out_and_is_audited(uow, people, customer):
    spec = RecordSpec(SampleNote, "RecordsTestDefaultNote", noun="note", scope=_note_scope,
                      fields={"text": FieldSpec(default="(no text)"), "external_id": FieldSpec(default="manual")})
    create, update = spec.create_schema().fields, spec.update_schema().fields
    assert not create["text"].required and create["text"].load_default == "(no text)"
    assert update["external_id"].load_default is missing   # a PATCH changes only what it sends
    note = spec.create(people.rep, {"customer_id": str(customer.id)})
    assert (note.text, note.external_id) == ("(no text)", "manual")
    created = uow.scalars(select(AuditEntry).where(AuditEntry.record_id == note.id)).one()
    assert created.changes["text"] == [None, "(no text)"] and created.changes["external_id"] == [None, "manual"]
    spec.update(people.rep, note.id, {"score": 4, "version": note.version})
    assert note.external_id == "manual"


def test_create_update_delete_restore_each_write_an_audit_entry_and_an_event(uow, people, customer):
    before = _counts(uow)
    note = NOTES.create(people.rep, {"customer_id": str(customer.id), "text": "Call back", "score": 3})
    NOTES.update(people.rep, note.id, {"version": 1, "score": 5})
    NOTES.delete(people.rep, note.id)
    with pytest.raises(NotFound):
        NOTES.get(people.rep, note.id)
    assert [n.id for n in NOTES.list(people.rep, {"deleted": "true"}).items] == [note.id]
    assert NOTES.restore(people.rep, note.id).deleted_at is None
    actions = uow.scalars(select(AuditEntry.action).where(AuditEntry.record_id == note.id)
                          .order_by(AuditEntry.at, AuditEntry.id)).all()
    assert sorted(actions) == sorted(["sample_note.created", "sample_note.updated", "sample_note.deleted",
                                      "sample_note.restored"])
    updated = uow.scalars(select(AuditEntry).where(AuditEntry.action == "sample_note.updated",
                                                   AuditEntry.record_id == note.id)).one()
    assert updated.changes == {"score": [3, 5]}
    events = uow.scalars(select(OutboxEvent.name).where(OutboxEvent.record_id == note.id)).all()
    assert sorted(events) == sorted(actions)
    assert _counts(uow)[1:] == (before[1] + 4, before[2] + 4)


def test_a_stale_version_is_a_conflict_naming_version_and_changes_nothing(uow, people, customer):
    note = NOTES.create(people.rep, {"customer_id": str(customer.id), "text": "First"})
    NOTES.update(people.rep, note.id, {"version": 1, "text": "Second"})
    before = _counts(uow)
    with pytest.raises(Conflict) as stale:
        NOTES.update(people.rep, note.id, {"version": 1, "text": "Lost update"})
    assert "version" in stale.value.fields
    assert NOTES.get(people.rep, note.id).text == "Second" and _counts(uow) == before


def test_nothing_is_written_when_validation_or_a_hook_refuses(uow, people, customer):
    before = _counts(uow)
    for body, field in (({"customer_id": str(customer.id), "text": "x" * 201}, "text"),
                        ({"customer_id": str(customer.id), "text": "Fine", "score": 11}, "score"),
                        ({"customer_id": str(customer.id), "text": "Fine", "colour": "red"}, "colour"),
                        ({"customer_id": str(customer.id), "text": "   "}, "text"),          # blank
                        ({"customer_id": str(customer.id), "text": "LOUD"}, "text")):         # the hook
        with pytest.raises(ValidationFailed) as refused:
            NOTES.create(people.rep, body)
        assert field in refused.value.fields, body
    assert _counts(uow) == before


def test_an_unknown_filter_is_a_422_naming_it_and_declared_filters_apply(uow, people, customer):
    with pytest.raises(ValidationFailed) as unknown:
        NOTES.list(people.rep, {"colour": "red"})
    assert "colour" in unknown.value.fields
    for text, score in (("Low", 1), ("High", 8), ("Higher", 9)):
        NOTES.create(people.rep, {"customer_id": str(customer.id), "text": text, "score": score})
    assert [n.text for n in NOTES.list(people.rep, {"min_score": "8"}).items] == ["Higher", "High"]
    assert [n.text for n in NOTES.list(people.rep, {"q": "HIGH"}, sort="score").items] == ["High", "Higher"]
    with pytest.raises(ValidationFailed) as sort:
        NOTES.list(people.rep, sort="text")
    assert "sort" in sort.value.fields


def test_out_of_scope_reads_as_missing_and_a_reference_out_of_reach_is_a_422(uow, people, customer):
    note = NOTES.create(people.rep, {"customer_id": str(customer.id), "text": "Mine"})
    for act in (lambda: NOTES.get(people.other_rep, note.id),
                lambda: NOTES.update(people.other_rep, note.id, {"version": 1, "text": "Theirs"}),
                lambda: NOTES.delete(people.other_rep, note.id)):
        with pytest.raises(NotFound, match="No note with this id"):
            act()
    assert NOTES.list(people.other_rep).items == []
    before = _counts(uow)
    with pytest.raises(ValidationFailed) as refused:   # the other rep cannot see the customer
        NOTES.create(people.other_rep, {"customer_id": str(customer.id), "text": "Sneaky"})
    assert list(refused.value.fields) == ["customer_id"] and _counts(uow) == before


def test_a_taken_unique_value_is_a_409_naming_the_field(uow, people):
    TEAMS.create(people.admin, {"name": "Records North"})
    with pytest.raises(Conflict) as taken:
        TEAMS.create(people.admin, {"name": "Records North"})
    assert taken.value.fields == {"name": ["Another team has this name."]}
    south = TEAMS.create(people.manager, {"name": "Records South"})
    TEAMS.delete(people.admin, south.id)
    with pytest.raises(Conflict) as deleted:
        TEAMS.update(people.admin, TEAMS.create(people.admin, {"name": "Records West"}).id,
                     {"version": 1, "name": "Records South"})
    assert "restore it" in deleted.value.fields["name"][0]


def test_an_integrity_error_on_a_unique_constraint_names_the_field(runtime, people):
    with pytest.raises(Conflict) as taken:
        with runtime.database.unit_of_work():
            TEAMS_UNCHECKED.create(people.admin, {"name": "Records East Clash"})
            TEAMS_UNCHECKED.create(people.admin, {"name": "Records East Clash"})
    assert list(taken.value.fields) == ["name"]


def test_writers_are_checked_before_anything_else(uow, people):
    with pytest.raises(Forbidden):
        TEAMS.create(people.rep, {"name": "Records Rep Team"})
    with pytest.raises(Forbidden):
        TEAMS.create(people.rep, {"nonsense": True})    # a 403, not a 422 naming the field


def test_a_reference_to_a_record_without_a_scope_is_refused_for_all_but_admins(uow, people):
    with pytest.raises(ValidationFailed) as refused:   # a manager sees no user through plugin scopes
        TEAMS.create(people.manager, {"name": "Records Managed", "manager_id": str(people.manager.id)})
    assert list(refused.value.fields) == ["manager_id"]
    assert TEAMS.create(people.admin, {"name": "Records Managed", "manager_id": str(people.manager.id)}).manager_id \
        == people.manager.id


def test_pages_for_and_counts_for_read_every_parent_at_once(uow, people, customer, count_queries):
    other = customers.create(people.rep, {"name": "Records second customer"})
    for text, score in (("A", 1), ("B", 2), ("C", 3)):
        NOTES.create(people.rep, {"customer_id": str(customer.id), "text": text, "score": score})
    NOTES.create(people.rep, {"customer_id": str(other.id), "text": "D", "score": 4})
    ids = [customer.id, other.id]
    uow.flush()   # the audit entries and events still pending, out of the count
    with count_queries() as statements:
        pages = NOTES.pages_for(people.rep, "customer_id", ids, KeysetRequest(first=2))
        counts = NOTES.counts_for(people.rep, "customer_id", ids)
    assert statements.count == 2, statements.statements
    assert [n.text for n in pages[customer.id].items] == ["C", "B"] and pages[customer.id].has_next
    assert [n.text for n in pages[other.id].items] == ["D"]
    assert counts == {customer.id: 3, other.id: 1}


# --- a declared record's import (RecordSpec.import_type) -------------------------------------------------

def _import(spec_type, actor, lines):
    """Write ``lines`` (dicts keyed by column) as one import batch of ``spec_type``, as ``trellis import``
    does: validated and collected, then flushed. Returns ``(outcomes by external id, errors)``."""
    from core import db
    from core.db import utcnow
    from core.imports import ImportBatch, ImportRow
    from core.services.bulk import BulkRecorder

    rows = [ImportRow(number, dict(values)) for number, values in enumerate(lines, start=2)]
    batch = ImportBatch(rows, actor=actor, recorder=BulkRecorder(actor), now=utcnow(), columns={})
    keys = [r.values.get("external_id") for r in rows]
    spec_type.write(batch)
    batch.recorder.flush(spec_type.models)
    db.session().expire_all()
    return {k: r.outcome for k, r in zip(keys, rows) if not r.failed}, [(e.row, e.column, e.reason) for e in batch.errors]


NOTES_IMPORT = NOTES.import_type("records_test.notes", description="Notes.")
UNIQUE_NOTES = RecordSpec(SampleNote, "RecordsTestUniqueNote", noun="note", scope=_note_scope,
                          fields={"text": FieldSpec(unique=True)})


def test_a_record_without_an_external_id_column_cannot_be_imported():
    from core.errors import PluginError

    with pytest.raises(PluginError, match=r"Team has no external_id column"):
        TEAMS.import_type("records_test.teams")


def test_the_import_columns_are_external_id_the_create_fields_and_the_references_by_external_id():
    columns = {c.name: c for c in NOTES_IMPORT.columns}
    assert list(columns)[:5] == ["external_id", "customer_external_id", "customer_id", "text", "score"]
    assert [n for n, c in columns.items() if c.required] == ["external_id", "text"]
    assert columns["text"].description == "The note itself (1–200 characters)."
    assert "customer's external_id" in columns["customer_external_id"].description
    assert "Fixed once created" in columns["customer_external_id"].description   # create_only
    assert {"id", "version", "created_at"} <= set(columns)   # the export's, read back and left alone
    assert "ignored on import" in columns["version"].description
    assert NOTES_IMPORT.models == (SampleNote,) and NOTES_IMPORT.export is not None


def test_a_batch_creates_with_audit_and_events_then_a_rerun_changes_nothing_and_a_change_updates(uow, people, customer):
    customer.external_id = "CUST-1"
    theirs = customers.create(people.other_rep, {"name": "Someone else's"})
    uow.flush()
    lines = [{"external_id": "N1", "customer_external_id": "CUST-1", "text": "hello", "score": "3"},
             {"external_id": "N2", "customer_id": str(customer.id), "text": "second"},
             {"external_id": "N3", "customer_id": str(customer.id), "text": "SHOUT"},            # the hook refuses
             {"external_id": "N4", "customer_id": str(customer.id), "text": "x", "score": "11"},  # out of range
             {"external_id": "N5", "customer_external_id": "NOPE", "text": "lost"},
             {"external_id": "N6", "customer_id": str(theirs.id), "text": "out of scope"},
             {"external_id": "N7", "text": "whose?"},
             {"external_id": "N1", "customer_id": str(customer.id), "text": "again"}]
    before = _counts(uow)
    outcomes, errors = _import(NOTES_IMPORT, people.rep, lines)
    assert outcomes == {"N1": "created", "N2": "created"}
    assert errors == [(9, "external_id", "Also on row 2: an external id names one record."),
                      (6, "customer_external_id", "No customer has this external id."),
                      (5, "score", "Must be greater than or equal to 0 and less than or equal to 10."),
                      (8, "customer_external_id", "Give the customer: customer_external_id or customer_id."),
                      (7, "customer_id", "No customer with this id."),
                      (4, "text", "No shouting.")]
    n1 = uow.scalars(select(SampleNote).where(SampleNote.external_id == "N1")).one()
    assert (n1.customer_id, n1.text, n1.score, n1.version) == (customer.id, "hello", 3, 1)
    assert _counts(uow) == tuple(b + 2 for b in before)   # two notes, two audit entries, two events
    entry = uow.scalars(select(AuditEntry).where(AuditEntry.record_id == n1.id)).one()
    assert entry.action == "sample_note.created" and entry.actor_id == people.rep.id
    assert entry.changes == {"customer_id": [None, str(customer.id)], "text": [None, "hello"], "score": [None, 3],
                             "external_id": [None, "N1"]}
    assert uow.scalars(select(OutboxEvent.name).where(OutboxEvent.record_id == n1.id)).all() == ["sample_note.created"]

    again = _counts(uow)
    assert _import(NOTES_IMPORT, people.rep, lines[:2]) == ({"N1": "unchanged", "N2": "unchanged"}, [])
    assert _counts(uow) == again
    changed = [{**lines[0], "score": "4"}, {**lines[1], "customer_id": str(theirs.id)}]
    outcomes, errors = _import(NOTES_IMPORT, people.rep, changed)
    assert outcomes == {"N1": "updated"} and errors == [(3, "customer_id", "Set when the note was created: it cannot change.")]
    n1 = uow.get(SampleNote, n1.id)
    assert (n1.score, n1.version) == (4, 2)
    update = uow.scalars(select(AuditEntry).where(AuditEntry.record_id == n1.id, AuditEntry.action == "sample_note.updated")).one()
    assert update.changes == {"score": [3, 4]}


def test_a_taken_unique_value_is_a_row_error_naming_the_column(uow, people, customer):
    UNIQUE_NOTES.create(people.rep, {"customer_id": str(customer.id), "text": "taken"})
    gone = UNIQUE_NOTES.create(people.rep, {"customer_id": str(customer.id), "text": "gone"})
    UNIQUE_NOTES.delete(people.rep, gone.id)
    lines = [{"external_id": f"U{i}", "customer_id": str(customer.id), "text": text}
             for i, text in enumerate(["taken", "gone", "fresh", "fresh"])]
    outcomes, errors = _import(UNIQUE_NOTES.import_type("records_test.unique_notes"), people.rep, lines)
    assert outcomes == {"U2": "created"}
    assert errors == [(2, "text", "Another note has this text."),
                      (3, "text", "A deleted note has this text: restore it, or choose another."),
                      (5, "text", "Also on row 4: another note has this text.")]


def test_a_batch_costs_the_same_statements_for_10_rows_as_for_100(uow, people, customer, count_queries):
    customer.external_id = "CUST-1"
    uow.flush()

    def lines(prefix, n):
        return [{"external_id": f"{prefix}{i}", "customer_external_id": "CUST-1", "text": f"note {i}"} for i in range(n)]

    spent = []
    for prefix, n in (("A", 10), ("B", 100)):
        with count_queries() as counter:
            outcomes, errors = _import(NOTES_IMPORT, people.rep, lines(prefix, n))
        assert list(outcomes.values()) == ["created"] * n and errors == []
        spent.append(counter.count)
    with count_queries() as counter:
        assert set(_import(NOTES_IMPORT, people.rep, lines("B", 100))[0].values()) == {"unchanged"}
    assert spent[0] == spent[1] and counter.count < spent[1], (spent, counter.count)


def test_the_export_names_references_by_external_id_and_imports_back_unchanged(uow, people, customer):
    from core.exports import text_value

    other = customers.create(people.rep, {"name": "No external id"})
    customer.external_id = "CUST-1"
    uow.flush()
    _import(NOTES_IMPORT, people.rep, [{"external_id": "E1", "customer_id": str(customer.id), "text": "one"},
                                       {"external_id": "E2", "customer_id": str(other.id), "text": "two"}])
    export = NOTES_IMPORT.export
    records = list(uow.scalars(export.query(people.rep, {"q": ""}).order_by(SampleNote.external_id)))
    rows = {r["external_id"]: r for r in export.rows(records)}
    assert (rows["E1"]["customer_external_id"], rows["E1"]["customer_id"]) == ("CUST-1", None)
    assert (rows["E2"]["customer_external_id"], rows["E2"]["customer_id"]) == (None, str(other.id))
    assert list(export.columns)[:3] == ["id", "created_at", "updated_at"] and "customer_external_id" in export.columns
    lines = [{k: text_value(v) for k, v in r.items() if v not in (None, "")} for r in rows.values()]
    before = _counts(uow)
    assert _import(NOTES_IMPORT, people.rep, lines) == ({"E1": "unchanged", "E2": "unchanged"}, [])
    assert _counts(uow) == before


def test_a_deleted_records_exported_row_is_refused_rather_than_made_live_again(uow, people, customer):
    _import(NOTES_IMPORT, people.rep, [{"external_id": "D1", "customer_id": str(customer.id), "text": "binned"}])
    note = uow.scalars(select(SampleNote).where(SampleNote.external_id == "D1")).one()
    NOTES.delete(people.rep, note.id)
    export = NOTES_IMPORT.export
    [row] = export.rows(list(uow.scalars(export.query(people.rep, {"deleted": True}))))
    assert row["deleted_at"] is not None
    before = _counts(uow)
    assert _import(NOTES_IMPORT, people.rep, [{k: v for k, v in row.items() if v is not None}]) == (
        {}, [(2, "deleted_at", "A deleted note: restore it in Trellis rather than import it.")])
    assert _counts(uow) == before
