"""Churn tasks of a refresh are written in batches (issue #15): one INSERT per table however many tasks,
each task still audited as its owner's and announced (``interaction.created``, queued for webhooks)."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select

from api.testing import pin_statements
from core.db import utcnow
from core.models import Customer, CustomerAnalytics, Interaction
from core.models.audit import AuditEntry, OutboxEvent
from tests.core.test_webhooks import subscribe


def add_lapsed_buyers(runtime, owners, start, stop):
    """Customers ``start``..``stop - 1``, each with two purchases 100 and 90 days ago (so the gap flag is up),
    owned in turn by ``owners``."""
    when = utcnow().replace(microsecond=0)
    with runtime.database.unit_of_work() as sess:
        for i in range(start, stop):
            customer = Customer(name=f"Lapsed buyer {i:03d}", owner_id=owners[i % len(owners)].id, stage="repeat")
            sess.add(customer)
            sess.flush()
            for days in (100, 90):
                sess.add(Interaction(customer_id=customer.id, kind="purchase", status="done",
                                     occurred_at=when - timedelta(days=days), amount=Decimal("120.00")))


def test_churn_tasks_are_batched_audited_as_the_owners_and_announced(api, runtime, people, count_queries):
    owners = [people.rep, people.other_rep]

    def grow(have, n):
        add_lapsed_buyers(runtime, owners, have, n)

    def fetch(n):
        with runtime.database.unit_of_work() as sess:  # forget the flags: every flagged customer is new again
            sess.execute(delete(CustomerAnalytics))
        response = api.as_("admin").post("/api/v1/analytics/refresh?wait=true")
        assert response.status_code == 201, response.get_json()
        run = response.get_json()
        assert run["params"]["churn"]["flagged"] == n
        return [None] * run["params"]["churn"]["tasks_created"]

    pin_statements(count_queries, grow=grow, fetch=fetch, sizes=(5, 50))
    with count_queries() as again:
        assert len(fetch(50)) == 50
    inserts = {}
    for statement in again.statements:
        head = statement.lstrip().upper()
        if head.startswith(("INSERT INTO", "COPY ")):  # PostgreSQL: the bulk recorder's COPY
            table = head.split()[2 if head.startswith("INSERT") else 1].strip('"')
            inserts[table] = inserts.get(table, 0) + 1
    # 50 tasks: one INSERT (or COPY) of tasks, of audit entries, of events, of analytics rows — not one a task
    assert {t: inserts.get(t) for t in ("INTERACTION", "AUDIT_ENTRY", "OUTBOX_EVENT", "CUSTOMER_ANALYTICS")} == dict.fromkeys(
        ("INTERACTION", "AUDIT_ENTRY", "OUTBOX_EVENT", "CUSTOMER_ANALYTICS"), 1), inserts
    # with a webhook subscription, each event is queued for it, as the single-record path does (one
    # delivery row per matching event: core.services.webhooks.on_event)
    subscription = subscribe(api, "https://hooks.example.com/trellis", ["interaction.created"])
    assert len(fetch(50)) == 50
    response = api.as_("admin").get(f"/api/v1/webhooks/{subscription['id']}/deliveries?page_size=100")
    assert len(response.get_json()) == 50

    with runtime.database.unit_of_work() as sess:
        tasks = sess.scalars(select(Interaction).where(Interaction.source == "analytics")).all()
        assert len(tasks) == 5 + 5 + 50 + 50 + 50
        by_id = {t.id: t for t in tasks}
        audits = sess.scalars(select(AuditEntry).where(AuditEntry.record_id.in_(by_id))).all()
        events = sess.scalars(select(OutboxEvent).where(OutboxEvent.record_id.in_(by_id))).all()
        assert len(audits) == len(events) == len(tasks)
        owner_of = {c.id: c.owner_id for c in sess.scalars(select(Customer))}
        for entry in audits:
            task = by_id[entry.record_id]
            assert entry.action == "interaction.created" and entry.actor_id == owner_of[task.customer_id]
            assert entry.changes["status"] == [None, "planned"] and entry.changes["kind"] == [None, "call"]
            assert entry.changes["assignee_id"] == [None, str(task.assignee_id)]
            assert entry.changes["subject"][1].startswith("Churn warning: call Lapsed buyer")
        for event in events:
            task = by_id[event.record_id]
            assert event.name == "interaction.created" and event.actor_id == owner_of[task.customer_id]
            assert event.payload["customer_id"] == str(task.customer_id)
            assert (event.payload["kind"], event.payload["source"], event.payload["version"]) == ("call", "analytics", 1)
        for task in tasks:
            assert (task.status, task.kind, task.version, task.created_by_id) == (
                "planned", "call", 1, owner_of[task.customer_id])
            assert task.assignee_id == owner_of[task.customer_id] and task.due_at > utcnow()
        assert sess.scalar(select(func.count()).select_from(Interaction).where(
            Interaction.source == "analytics", Interaction.deleted_at.is_(None))) == 160
    # the owner reads the tasks as any other (REST)
    mine = api.as_("rep").get("/api/v1/interactions?status=planned&page_size=100").get_json()
    assert len(mine) == 3 + 3 + 25 + 25 + 25 and all(t["subject"].startswith("Churn warning") for t in mine)
