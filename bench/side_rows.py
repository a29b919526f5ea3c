"""Benchmark: a change's side rows (audit entry, outbox event, a workflow history row) written by the unit
of work's flush, one INSERT each, against core/side_rows.py: one statement on PostgreSQL, one INSERT per
table on SQLite (issue #16).

Builds an app (every plugin) on a database of its own, then --runs times in each mode: a unit of work that
creates a customer row and flushes it (untimed), then adds the three side rows and flushes (timed: wall
and CPU of this process), then commits. The mode is switched with the models' ``__side_row__`` flag, so
both run the same code otherwise. Prints median wall and CPU ms and the statements the timed flush sent.

Run: python bench/side_rows.py [--database-url postgresql://postgres@127.0.0.1:5432/test] [--runs 1500]
Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from sqlalchemy import event

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from api.app import create_app  # noqa: E402
from bench.scratch import scratch_database  # noqa: E402
from core.db import utcnow  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.models import AuditEntry, Customer, OutboxEvent  # noqa: E402
from core.models.workflow import WorkflowTransitionEntry  # noqa: E402
from core.services import users  # noqa: E402

SIDE_MODELS = (AuditEntry, OutboxEvent, WorkflowTransitionEntry)


def one_change(app, rt, admin_id, counter: list) -> tuple[float, float]:
    with app.app_context(), rt.database.unit_of_work() as sess:
        customer = Customer(name="Side rows bench", kind="company", owner_id=admin_id)
        sess.add(customer)
        sess.flush()
        counter.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        sess.add(WorkflowTransitionEntry(workflow="customer.level", record_type="customer", record_id=customer.id,
                                         to_state="D", at=utcnow(), actor_id=admin_id, trigger="automatic",
                                         reason="the default level"))
        sess.add(AuditEntry(actor_id=admin_id, action="customer.created", record_type="customer",
                            record_id=customer.id, changes={"name": [None, customer.name]}, request_id="bench"))
        sess.add(OutboxEvent(name="customer.created", record_type="customer", record_id=customer.id,
                             actor_id=admin_id, request_id="bench",
                             payload={"id": str(customer.id), "version": 1,
                                      "changes": {"name": [None, customer.name]}}))
        sess.flush()
        return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--runs", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    with scratch_database(args.database_url, "trellis_side_rows") as url:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "PLUGINS": "all",
                          "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        rt = app.extensions["trellis"]
        upgrade(rt)
        with rt.database.unit_of_work():
            admin_id = users.create_user(None, {"email": "admin@side-rows.example", "name": "Admin",
                                                "role": "admin"}).id
        counter: list = []
        event.listen(rt.database.engine, "before_cursor_execute", lambda *a: counter.append(a[2]))
        print(f"{rt.database.engine.dialect.name}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{'mode':16s} {'statements':>10s} {'wall ms (p50)':>14s} {'CPU ms (p50)':>13s}")
        try:
            for _ in range(args.rounds):
                for mode, flag in (("unit of work", False), ("core.side_rows", True)):
                    for model in SIDE_MODELS:
                        model.__side_row__ = flag
                    for _ in range(50):
                        one_change(app, rt, admin_id, counter)
                    timed = [one_change(app, rt, admin_id, counter) for _ in range(args.runs)]
                    statements = len(counter)  # the last run's timed flush
                    print(f"{mode:16s} {statements:10d} {statistics.median(w for w, _ in timed):14.3f} "
                          f"{statistics.median(c for _, c in timed):13.3f}")
        finally:
            for model in SIDE_MODELS:
                model.__side_row__ = True


if __name__ == "__main__":
    main()
