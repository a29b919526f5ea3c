"""core.services.bulk: what a plugin writes in bulk reads exactly like what the single-record services
write — the same audit entries, outbox events, webhook deliveries and workflow history — in one INSERT
per table."""
from __future__ import annotations

import gc
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.errors import Forbidden, ValidationFailed
from core.models import Customer
from core.models.audit import AuditEntry, OutboxEvent
from core.services import audit, workflow
from core.services.bulk import BulkRecorder, BulkRow, gc_paused
from core.workflow import IMPORT, MANUAL
from tests.api.rest.test_customers import create
from tests.core.test_webhooks import deliveries, subscribe

WHEN = datetime(2024, 3, 1, 9, 30, tzinfo=timezone.utc)
CORE_TABLES = {"workflow_transition": 0, "audit_entry": 0, "outbox_event": 0}


def audit_trail(api, record_id):
    response = api.get(f"/api/v1/audit?record_id={record_id}&page_size=100")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def the_entry(api, record_id, action):
    [entry] = [e for e in audit_trail(api, record_id) if e["action"] == action]
    return entry


def the_event(record_id, name):
    from core import db

    [event] = db.session().scalars(select(OutboxEvent).where(OutboxEvent.record_id == record_id,
                                                             OutboxEvent.name == name)).all()
    return event


def without(row: dict, *keys: str) -> dict:
    return {k: v for k, v in row.items() if k not in keys}


def new_customer(rec: BulkRecorder, name: str):
    return rec.add(Customer, kind="company", name=name, source="import", level="none", level_pinned=False,
                   stage="potential", notes="", owner_id=rec.actor_id, created_at=WHEN, updated_at=WHEN, version=1)


def test_a_bulk_change_reads_like_record_change(api, runtime, people):
    one, two = create(api, "admin", name="One Ltd"), create(api, "admin", name="Two Ltd")
    changes = {"industry": ("manufacturing", "retail"), "credit": (None, Decimal("12.50")),
               "checked_at": (None, WHEN), "referrer_id": (None, people.rep.id)}
    payload = {"by": people.rep.id, "at": WHEN, "note": "quarterly review"}
    with runtime.database.unit_of_work() as sess:
        audit.record_change(people.admin, "reviewed", sess.get(Customer, uuid.UUID(one["id"])), changes,
                            payload=payload)
        rec = BulkRecorder(people.admin)
        rec.change("reviewed", sess.get(Customer, uuid.UUID(two["id"])), changes, payload=payload)
        assert rec.flush([]) == {**CORE_TABLES, "audit_entry": 1, "outbox_event": 1}

    single, bulk = the_entry(api, one["id"], "customer.reviewed"), the_entry(api, two["id"], "customer.reviewed")
    assert without(bulk, "id", "at", "record_id") == without(single, "id", "at", "record_id")
    assert bulk["record_type"] == "customer" and bulk["actor_id"] == str(people.admin.id)
    assert bulk["changes"]["credit"] == [None, "12.50"]
    with runtime.database.unit_of_work():
        single, bulk = the_event(uuid.UUID(one["id"]), "customer.reviewed"), the_event(uuid.UUID(two["id"]),
                                                                                       "customer.reviewed")
        assert (bulk.record_type, bulk.actor_id) == (single.record_type, single.actor_id) == ("customer",
                                                                                            people.admin.id)
        assert bulk.payload["id"] == two["id"] and bulk.payload["version"] == two["version"]
        assert without(bulk.payload, "id") == without(single.payload, "id")
        assert bulk.payload["by"] == str(people.rep.id) and bulk.payload["at"] == WHEN.isoformat()


def test_rows_added_in_bulk_are_records_with_their_audit_trail_at_the_time_given(api, runtime, people):
    with runtime.database.unit_of_work():
        rec = BulkRecorder(people.admin)
        row = new_customer(rec, "Bulk Ltd")
        rec.change("created", row, {"name": (None, "Bulk Ltd"), "source": (None, "import")}, at=WHEN)
        assert rec.flush([Customer]) == {"customer": 1, **CORE_TABLES, "audit_entry": 1, "outbox_event": 1}
    customer = api.get(f"/api/v1/customers/{row.id}").get_json()
    assert (customer["name"], customer["version"]) == ("Bulk Ltd", 1)
    assert audit_trail(api, row.id) == [{
        "id": audit_trail(api, row.id)[0]["id"], "at": WHEN.isoformat(), "actor_id": str(people.admin.id),
        "action": "customer.created", "record_type": "customer", "record_id": str(row.id),
        "changes": {"name": [None, "Bulk Ltd"], "source": [None, "import"]},
        "request_id": None}]   # recorded outside any request
    with runtime.database.unit_of_work():
        event = the_event(row.id, "customer.created")
        assert (event.at, event.record_type, event.actor_id) == (WHEN, "customer", people.admin.id)
        assert event.payload == {"id": str(row.id), "version": 1,
                                 "changes": {"name": [None, "Bulk Ltd"], "source": [None, "import"]}}


def test_a_summary_event_goes_to_the_outbox_without_an_audit_entry(api, runtime, people):
    with runtime.database.unit_of_work() as sess:
        customer = sess.get(Customer, uuid.UUID(create(api, "admin")["id"]))
        rec = BulkRecorder(people.admin)
        rec.event("imported", customer, {"rows": 3}, at=WHEN)
        assert rec.flush([]) == {**CORE_TABLES, "outbox_event": 1}
        event = the_event(customer.id, "customer.imported")
        assert event.payload == {"id": str(customer.id), "version": 1, "changes": {}, "rows": 3}
    assert [e["action"] for e in audit_trail(api, customer.id)] == ["customer.created"]


@pytest.mark.parametrize("to, trigger, who", [("intent", IMPORT, "admin"), ("lost", MANUAL, "manager")])
def test_a_bulk_transition_reads_like_workflow_transition(api, runtime, people, to, trigger, who):
    actor = getattr(people, who)
    one, two = create(api, "admin", name="One Ltd"), create(api, "admin", name="Two Ltd")
    with runtime.database.unit_of_work() as sess:
        single, bulk = sess.get(Customer, uuid.UUID(one["id"])), sess.get(Customer, uuid.UUID(two["id"]))
        workflow.transition(actor, "customer.lifecycle", single, to, trigger=trigger, event="test.batch",
                            reason="seen at the fair", at=single.created_at + timedelta(days=3))
        rec = BulkRecorder(actor)
        rec.transition("customer.lifecycle", bulk, "potential", to, entered_at=bulk.created_at,
                       at=bulk.created_at + timedelta(days=3), trigger=trigger, event="test.batch",
                       reason="seen at the fair", version=bulk.version + 1)
        assert rec.flush([]) == {"workflow_transition": 1, "audit_entry": 1, "outbox_event": 1}
        bulk.stage = to  # the batch writes the state itself; the recorder records the move
        sess.flush()
        assert [h.to_state for h in workflow.history("customer.lifecycle", bulk)] == [to]

    single_history = api.get(f"/api/v1/customers/{one['id']}/history").get_json()
    bulk_history = api.get(f"/api/v1/customers/{two['id']}/history").get_json()
    assert [without(h, "id", "at") for h in bulk_history] == [without(h, "id", "at") for h in single_history]
    [move] = bulk_history
    approver = str(actor.id) if to == "lost" else None
    assert (move["from_state"], move["to_state"], move["trigger"], move["trigger_event"], move["approved_by_id"],
            move["seconds_in_previous"]) == ("potential", to, trigger, "test.batch", approver, 3 * 86400.0)
    assert api.get(f"/api/v1/customers/{two['id']}").get_json()["stage"] == to

    single_entry = the_entry(api, one["id"], "customer.stage_changed")
    bulk_entry = the_entry(api, two["id"], "customer.stage_changed")
    assert without(bulk_entry, "id", "at", "record_id") == without(single_entry, "id", "at", "record_id")
    with runtime.database.unit_of_work():
        single_event = the_event(uuid.UUID(one["id"]), "customer.stage_changed")
        bulk_event = the_event(uuid.UUID(two["id"]), "customer.stage_changed")
        assert (bulk_event.record_type, bulk_event.actor_id) == (single_event.record_type, single_event.actor_id)
        assert without(bulk_event.payload, "id") == without(single_event.payload, "id")
        assert bulk_event.payload["approved_by"] == approver and bulk_event.payload["version"] == 2


def test_a_move_the_workflow_forbids_is_refused_and_nothing_is_written(api, runtime, people):
    with runtime.database.unit_of_work() as sess:
        customer = sess.get(Customer, uuid.UUID(create(api, "admin")["id"]))
        rec = BulkRecorder(people.rep)
        with pytest.raises(ValidationFailed):  # potential → repeat is for automatic moves and imports
            rec.transition("customer.lifecycle", customer, "potential", "repeat", entered_at=WHEN, trigger=MANUAL)
        with pytest.raises(Forbidden):  # giving a customer up needs a manager
            rec.transition("customer.lifecycle", customer, "potential", "lost", entered_at=WHEN, trigger=MANUAL)
        assert rec.flush([]) == CORE_TABLES
    assert api.get(f"/api/v1/customers/{customer.id}/history").get_json() == []


def test_bulk_events_are_queued_for_webhooks_like_any_event(api, runtime, people):
    subscription = subscribe(api, "https://example.com/hook", events=("customer.*",))
    with runtime.database.unit_of_work():
        rec = BulkRecorder(people.admin)
        rows = [new_customer(rec, f"Hooked {i}") for i in range(2)]
        for row in rows:
            rec.change("created", row, {"name": (None, row.values["name"])}, at=WHEN)
        rec.event("imported", rows[0], {"rows": 2}, at=WHEN)
        rec.flush([Customer])
    assert sorted(d["event"] for d in deliveries(api, subscription)) == [
        "customer.created", "customer.created", "customer.imported"]


def test_flush_writes_one_insert_per_table_and_refuses_models_it_was_not_given(api, runtime, people,
                                                                                count_queries):
    with runtime.database.unit_of_work():
        rec = BulkRecorder(people.admin)
        rec.change("created", new_customer(rec, "Lost Ltd"), {"name": (None, "Lost Ltd")})
        with pytest.raises(ValueError, match="Customer"):
            rec.flush([])
    assert api.get("/api/v1/customers?q=Lost").get_json() == []

    with runtime.database.unit_of_work():
        rec = BulkRecorder(people.admin)
        rows = [new_customer(rec, f"Batch {i}") for i in range(50)]
        for row in rows:
            rec.change("created", row, {"name": (None, row.values["name"])})
        with count_queries() as counter:
            counts = rec.flush([Customer])
    assert counts == {"customer": 50, **CORE_TABLES, "audit_entry": 50, "outbox_event": 50}
    assert written_tables(counter.statements) == ["customer", "audit_entry", "outbox_event"]
    assert len(api.get("/api/v1/customers?q=Batch&page_size=100").get_json()) == 50


def test_bulk_rows_are_stored_exactly_as_connection_execute_stores_them(api, runtime, people):
    """flush hands SQLite tuples converted by each column type's bind processor; what lands in the table
    (dates, UUIDs, decimals, JSON — a None in JSON too — and the default of a column left out) is what
    the ordinary ``Connection.execute`` path stores for the same values."""
    from sqlalchemy import insert, text

    from core import db
    from core.models import Interaction
    from core.models.audit import AuditEntry

    with runtime.database.unit_of_work():
        customer = new_customer(BulkRecorder(people.admin), "Stored Ltd").values
        rows = {
            Customer: customer,
            # times in another zone, naive (taken as UTC), with and without microseconds, and none
            Interaction: dict(id=uuid.uuid4(), customer_id=customer["id"], kind="purchase", direction="inbound",
                              status="done", subject="订单", notes="", occurred_at=WHEN, due_at=None,
                              reminder_at=datetime(2024, 3, 1, 17, 30, 0, 250, tzinfo=timezone(timedelta(hours=8))),
                              completed_at=datetime(2024, 3, 1, 9, 31, 5, 123456), contact_id=None,
                              amount=Decimal("1234.50"), created_by_id=people.admin.id, source="core", version=1,
                              created_at=WHEN, updated_at=WHEN.replace(microsecond=7), outcome=""),
            # (escalation_count: its default)
            AuditEntry: dict(id=uuid.uuid4(), at=WHEN, actor_id=None, action="customer.created",
                             record_type="customer", record_id=customer["id"], changes=None),
        }
        conn = db.session().connection()
        stored = {}
        for model, row in rows.items():
            twin = {**row, "id": uuid.uuid4()}
            conn.execute(insert(model.__table__), [row])
            rec = BulkRecorder(people.admin)
            rec.add(model, **twin)
            rec.flush([model])
            raw = text(f"SELECT * FROM {model.__tablename__} WHERE id = :id")  # values as the database holds them
            key = (lambda u: u.hex) if conn.dialect.name == "sqlite" else str
            stored[model] = [dict(conn.execute(raw, {"id": key(r["id"])}).mappings().one()) for r in (row, twin)]
    for model, (general, fast) in stored.items():
        assert without(general, "id") == without(fast, "id"), model.__tablename__
    assert stored[Interaction][1]["escalation_count"] == 0


# --- how flush writes ---------------------------------------------------------------------------------

def test_a_row_that_leaves_out_a_computed_default_is_written_with_it(api, runtime, people):
    """A column left out whose default is computed (an audit entry's ``at``: now) makes flush take the
    ordinary ``Connection.execute`` path, which applies it: the rows are written, none is lost."""
    customer = create(api, "admin", name="Defaulted Ltd")
    before = datetime.now(timezone.utc)
    with runtime.database.unit_of_work():
        rec = BulkRecorder(people.admin)
        for verb in ("checked", "rechecked"):
            rec.add(AuditEntry, actor_id=people.admin.id, action=f"customer.{verb}", record_type="customer",
                    record_id=uuid.UUID(customer["id"]), changes=None)
        assert rec.flush([]) == {**CORE_TABLES, "audit_entry": 2}
    entries = [e for e in audit_trail(api, customer["id"]) if e["action"] != "customer.created"]
    assert sorted(e["action"] for e in entries) == ["customer.checked", "customer.rechecked"]
    assert all(datetime.fromisoformat(e["at"]) >= before.replace(microsecond=0) for e in entries)


def written_tables(statements: list[str]) -> list[str]:
    """The table each INSERT or COPY of ``statements`` writes, in order."""
    return [s.split()[2 if s.lstrip().upper().startswith("INSERT") else 1].strip('"') for s in statements
            if s.lstrip().upper().startswith(("INSERT", "COPY"))]


def test_a_flush_sends_at_most_5000_rows_in_one_insert_and_any_number_in_one_copy(api, runtime, people,
                                                                                 count_queries):
    """SQLite: one ``executemany`` per 5,000 rows, so 5,000 audit entries are one INSERT and 5,001 two.
    PostgreSQL: one COPY, whatever the number."""
    customer = create(api, "admin", name="Chunked Ltd")
    copies = runtime.database.engine.dialect.driver == "psycopg"
    for n, statements in ((5000, 1), (5001, 1 if copies else 2)):
        with runtime.database.unit_of_work():
            rec = BulkRecorder(people.admin)
            for _ in range(n):
                rec.audit("checked", BulkRow(Customer, {"id": uuid.UUID(customer["id"])}), at=WHEN)
            with count_queries() as counter:
                assert rec.flush([])["audit_entry"] == n
        assert written_tables(counter.statements) == ["audit_entry"] * statements, n


def test_gc_paused_pauses_the_collector_and_leaves_it_as_it_found_it():
    was = gc.isenabled()
    try:
        gc.enable()
        with gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()  # a caller that turned it off itself (or an outer batch)
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


def test_on_sqlite_dates_json_and_uuids_take_the_cheap_conversions_which_store_the_same_text():
    """The conversions every bulk row makes several of are replaced by cheaper ones (a tenth of a large
    import's time); each gives SQLAlchemy's own text, for the awkward values too."""
    from sqlalchemy import JSON, Uuid, create_engine

    from core.db import UTCDateTime
    from core.services import bulk

    dialect = create_engine("sqlite://").dialect
    values = {
        UTCDateTime(): [WHEN, datetime(2024, 3, 1, 17, 30, 0, 250, tzinfo=timezone(timedelta(hours=8))),
                        datetime(2024, 3, 1, 9, 31, 5, 123456), None],
        JSON(): [{"a": [1, "é"]}, None, JSON.NULL, "text", 3],
        JSON(none_as_null=True): [{"a": 1}, None],
        Uuid(): [uuid.UUID(int=7), None],
    }
    for column_type, samples in values.items():
        generic = column_type.dialect_impl(dialect).bind_processor(dialect)
        cheap = bulk._fast_processor(column_type, dialect, {})
        assert getattr(cheap, "__module__", None) == "core.services.bulk", column_type  # not SQLAlchemy's own
        assert [cheap(v) for v in samples] == [generic(v) for v in samples], column_type


def test_a_flush_gives_sqlalchemys_cursor_listeners_only_real_executions(api, runtime, people, engine,
                                                                        count_queries):
    """The COPY on PostgreSQL goes past SQLAlchemy's execute; listeners of its cursor events (Sentry's
    SQLAlchemy integration keeps its span on the execution context) must never see it with no context.
    It still counts as a statement (core.db.RAW_STATEMENT_LISTENERS)."""
    from sqlalchemy import event

    contexts = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        contexts.append(context)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        with runtime.database.unit_of_work():
            rec = BulkRecorder(people.admin)
            for i in range(3):
                rec.change("created", new_customer(rec, f"Listened {i}"), {"name": (None, f"Listened {i}")})
            with count_queries() as counter:
                counts = rec.flush([Customer])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert counts["customer"] == 3 and all(context is not None for context in contexts)
    assert written_tables(counter.statements) == ["customer", "audit_entry", "outbox_event"]


def copies(statements: list[str]) -> list[tuple[str, str]]:
    """``(table, "binary" | "text")`` of each COPY of ``statements``, in order."""
    return [(s.split()[1].strip('"'), "binary" if "FORMAT BINARY" in s.upper() else "text") for s in statements
            if s.lstrip().upper().startswith("COPY")]


def test_on_postgresql_a_flush_copies_binary_and_what_binary_cannot_take_goes_as_text(api, runtime, people,
                                                                                      count_queries):
    """PostgreSQL: every table of a flush in one binary COPY. A value binary COPY cannot take as it is (a
    record id given as text) undoes the binary attempt and the whole flush goes as text, which PostgreSQL
    converts: every row is written once. A number too large for its integer column is refused as text
    refuses it, not stored cut down to its low bits."""
    from core import db
    from core.models import Interaction

    if runtime.database.engine.dialect.driver != "psycopg":
        pytest.skip("binary COPY is PostgreSQL's")
    from psycopg.errors import NumericValueOutOfRange

    customer = create(api, "admin", name="Binary Ltd")
    record = BulkRow(Customer, {"id": uuid.UUID(customer["id"])})
    with runtime.database.unit_of_work():
        rec = BulkRecorder(people.admin)
        rec.change("checked", record, {"stage": ("potential", "intent")}, at=WHEN, version=1)
        with count_queries() as counter:
            rec.flush([])
    assert copies(counter.statements) == [("audit_entry", "binary"), ("outbox_event", "binary")]
    assert the_entry(api, customer["id"], "customer.checked")["changes"] == {"stage": ["potential", "intent"]}

    with runtime.database.unit_of_work():
        rec = BulkRecorder(people.admin)
        rec.audit("rechecked", record, at=WHEN)
        rec.add(AuditEntry, at=WHEN, actor_id=None, action="customer.texted", record_type="customer",
                record_id=customer["id"], changes=None, request_id=None)   # the id as text
        with count_queries() as counter:
            assert rec.flush([])["audit_entry"] == 2
    assert copies(counter.statements) == [("audit_entry", "binary"), ("audit_entry", "text")]
    actions = [e["action"] for e in audit_trail(api, customer["id"])]
    assert actions.count("customer.rechecked") == 1 and actions.count("customer.texted") == 1

    with pytest.raises(NumericValueOutOfRange):
        with runtime.database.unit_of_work():
            rec = BulkRecorder(people.admin)
            rec.add(Interaction, customer_id=uuid.UUID(customer["id"]), kind="call", direction="outbound",
                    status="done", subject="", notes="", outcome="", occurred_at=WHEN, created_at=WHEN,
                    updated_at=WHEN, version=1 << 40, escalation_count=0, source="core")
            rec.flush([Interaction])
    with runtime.database.unit_of_work():
        assert db.session().scalars(select(Interaction).where(
            Interaction.customer_id == uuid.UUID(customer["id"]))).all() == []
