"""Benchmark: ``analytics.refresh`` on a deployment with many customers, the churn tasks it creates included.

Builds N customers with bench/api_lists.py's builder (2 contacts and 5 interactions each, purchases
included, owned by six reps; a few unowned), then times two refreshes in one transaction each:

* the first, which raises the churn flags and creates a planned call task (audited, with its
  ``interaction.created`` event) for the owner of every newly flagged customer;
* a second right after, which finds the same flags already up and creates no task.

Each refresh prints its time per step (load, rfm, tiers, segments, clv, churn, tasks, write) and the SQL
statements it ran. The database: an SQLite file in a temporary directory (default) or --database-url; a
PostgreSQL URL gets a schema of its own, dropped at the end (bench/api_lists.py's ``database``).

Run: python bench/analytics_refresh.py [--customers 100000] [--database-url URL]
Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import time
from types import SimpleNamespace

from sqlalchemy import event, func, select

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from api.app import create_app  # noqa: E402
from api_lists import build, database, staff, stop  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.models import AuditEntry, Interaction, OutboxEvent  # noqa: E402
from core.services import analytics  # noqa: E402


def timed_refresh(rt, label: str) -> None:
    """One refresh in its own transaction: total and per-step seconds, statements, rows it wrote."""
    statements = [0]

    def count(conn, cursor, statement, *_):
        statements[0] += statement != "BEGIN"

    marks: list[tuple[str, float]] = []
    engine = rt.database.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        with rt.database.unit_of_work() as sess:
            before = {m.__tablename__: sess.scalar(select(func.count()).select_from(m))
                      for m in (Interaction, AuditEntry, OutboxEvent)}
            t0 = time.perf_counter()
            run = analytics.refresh(progress=lambda done, total, step: marks.append((step, time.perf_counter())))
            elapsed_refresh = time.perf_counter() - t0
            after = {m.__tablename__: sess.scalar(select(func.count()).select_from(m))
                     for m in (Interaction, AuditEntry, OutboxEvent)}
            t1 = time.perf_counter()
        elapsed_commit = time.perf_counter() - t1
    finally:
        event.remove(engine, "before_cursor_execute", count)
    steps, last = [], t0
    for name, at in marks:
        steps.append(f"{name} {at - last:.2f}")
        last = at
    written = ", ".join(f"+{after[k] - before[k]:,} {k}" for k in before)
    print(f"{label}: {elapsed_refresh:.1f} s + commit {elapsed_commit:.1f} s; {statements[0]:,} statements; "
          f"{run.purchasers:,} purchasers, {run.params['churn']['flagged']:,} flagged, "
          f"{run.params['churn']['tasks_created']:,} churn tasks created; {written}")
    print(f"  steps (s): {' | '.join(steps)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--database-url", help="default: an SQLite file in a temporary directory")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGALRM, stop)

    with database(SimpleNamespace(database_url=args.database_url, customers=args.customers, reuse=False)) as url:
        app = create_app({"DATABASE_URL": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "bench"})
        gc.freeze()
        rt = app.extensions["trellis"]
        try:
            with app.app_context():
                upgrade(rt)
                t0 = time.perf_counter()
                with rt.database.unit_of_work() as sess:
                    counts = build(args.customers, staff())
                    sess.flush()
                print(f"{rt.database.engine.dialect.name}, {args.customers:,} customers built in "
                      f"{time.perf_counter() - t0:.1f} s ({', '.join(f'{v:,} {k}' for k, v in counts.items())})")
                timed_refresh(rt, "first refresh")
                timed_refresh(rt, "second refresh")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            rt.database.dispose()


if __name__ == "__main__":
    main()
