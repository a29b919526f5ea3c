"""A change's side rows (its audit entry, outbox event and workflow history) go in at the flush by one
prebuilt statement on PostgreSQL (one per table on SQLite), with the defaults a flush would give them,
and read back as rows. (The test suite's audit watch hears of the entries written so:
tests/api/test_testing.py, test_a_record_written_without_an_audit_entry_breaks_the_contract.)"""
from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, func, select, text
from sqlalchemy.orm import relationship

from core import side_rows
from core.models import AuditEntry, OutboxEvent
from core.models.workflow import WorkflowTransitionEntry
from core.services import audit, customers


def _inserts(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith(("INSERT", "WITH"))]


def _side_tables_in(statement: str) -> list[str]:
    return [t for t in ("audit_entry", "outbox_event", "workflow_transition") if f"INSERT INTO {t}" in statement]


def test_a_create_writes_its_audit_entry_event_and_history_in_one_statement_on_postgresql(
        runtime, people, uow, count_queries):
    with count_queries() as counted:
        customer = customers.create(people.rep, {"name": "Side Rows Ltd", "stage": "intent"})
        uow.flush()
    inserts = _inserts(counted.statements)
    side = [s for s in inserts if _side_tables_in(s)]
    if runtime.database.engine.dialect.name == "postgresql":
        assert len(side) == 1, side
        assert _side_tables_in(side[0]) == ["audit_entry", "outbox_event", "workflow_transition"]
        assert side[0].count("INSERT INTO workflow_transition") == 2  # the stage's and the level's
    else:  # no INSERT inside WITH: one per table
        assert sorted(t for s in side for t in _side_tables_in(s)) == ["audit_entry", "outbox_event",
                                                                        "workflow_transition"]
    entry = uow.scalars(select(AuditEntry).where(AuditEntry.record_id == customer.id)).one()
    assert entry.action == "customer.created" and entry.actor_id == people.rep.id
    assert entry.changes["name"] == [None, "Side Rows Ltd"] and entry.at is not None and entry.id is not None
    event = uow.scalars(select(OutboxEvent).where(OutboxEvent.record_id == customer.id)).one()
    assert event.name == "customer.created" and event.payload["id"] == str(customer.id)
    moves = uow.scalars(select(WorkflowTransitionEntry).where(WorkflowTransitionEntry.record_id == customer.id)
                        .order_by(WorkflowTransitionEntry.workflow)).all()
    assert [(m.workflow, m.from_state, m.to_state, m.trigger, m.reason) for m in moves] == [
        ("customer.level", None, customer.level, "automatic", "the default level"),
        ("customer.lifecycle", None, "intent", "manual", "created in this stage")]


def test_the_objects_written_keep_their_values_and_their_identity(runtime, people, uow):
    customer = customers.create(people.rep, {"name": "Kept Ltd"})
    event = audit.record_change(people.rep, "noted", customer, {"notes": ("", "hello")})
    assert event.id is None  # as before the flush: the id is given when the row is written
    uow.flush()
    assert event.id is not None and event.at is not None and event.payload["changes"] == {"notes": ["", "hello"]}
    assert event not in uow  # detached: written outside the unit of work, read again by a query
    assert uow.get(OutboxEvent, event.id).name == "customer.noted"
    uow.commit()
    assert event.name == "customer.noted" and event.record_id == customer.id  # readable after the commit


def test_a_subscriber_that_flushes_for_the_events_id_finds_the_row_written(runtime, people, uow):
    # what the webhook subscriber does: flush, then refer to the event's row by its id
    customer = customers.create(people.rep, {"name": "Subscribed Ltd"})
    uow.flush()
    event = audit.record_change(people.rep, "noted", customer)
    uow.flush()
    assert uow.execute(select(OutboxEvent.name).where(OutboxEvent.id == event.id)).scalar_one() == "customer.noted"


def test_more_rows_than_one_statement_carries_go_as_one_insert_per_table(runtime, people, uow, count_queries):
    made = [customers.create(people.rep, {"name": f"Bulk {i:02d}"}) for i in range(3)]
    uow.flush()
    many = side_rows.MAX_ROWS_PER_STATEMENT + 3
    with count_queries() as counted:
        for i in range(many):
            audit.record_change(people.rep, "noted", made[i % 3], {"notes": ("", str(i))})
        uow.flush()
    inserts = _inserts(counted.statements)
    assert sorted(t for s in inserts for t in _side_tables_in(s)) == ["audit_entry", "outbox_event"]
    noted = uow.scalars(select(AuditEntry.changes).where(AuditEntry.action == "customer.noted")).all()
    assert sorted(int(c["notes"][1]) for c in noted) == list(range(many))
    assert uow.execute(select(func.count()).select_from(OutboxEvent)
                       .where(OutboxEvent.name == "customer.noted")).scalar() == many


def test_a_rolled_back_savepoint_takes_its_side_rows_with_it(runtime, people, uow):
    customer = customers.create(people.rep, {"name": "Savepoint Ltd"})
    uow.flush()
    savepoint = uow.begin_nested()
    audit.record_change(people.rep, "noted", customer)
    uow.flush()
    savepoint.rollback()
    assert uow.execute(select(func.count()).select_from(AuditEntry)
                       .where(AuditEntry.action == "customer.noted")).scalar() == 0
    assert uow.execute(select(func.count()).select_from(OutboxEvent)
                       .where(OutboxEvent.name == "customer.noted")).scalar() == 0
    assert uow.execute(select(func.count()).select_from(AuditEntry)
                       .where(AuditEntry.action == "customer.created")).scalar() == 1


def test_a_side_row_with_a_server_default_or_a_relationship_is_refused_when_first_written():
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    class Stamped(Base):
        __tablename__ = "side_rows_test_stamped"
        __side_row__ = True
        id = Column(Integer, primary_key=True)
        label = Column(String(10), server_default=text("'x'"))

    class Linked(Base):
        __tablename__ = "side_rows_test_linked"
        __side_row__ = True
        id = Column(Integer, primary_key=True)
        stamped_id = Column(Integer, ForeignKey("side_rows_test_stamped.id"))
        stamped = relationship(Stamped)

    with pytest.raises(TypeError, match="Stamped.label"):
        side_rows._shape(Stamped)
    with pytest.raises(TypeError, match="Linked: a side row has no relationships"):
        side_rows._shape(Linked)
