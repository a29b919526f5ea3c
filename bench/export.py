"""Benchmark: ``trellis export`` of a large list — customers with external ids and their purchases as
``purchase`` interactions — to CSV, JSON Lines and XLSX, through the service the CLI and REST use
(``core.services.exports.stream``: keyset batches of 1,000 by id, the rows encoded as they come). Prints
rows per second (wall and CPU) and the process's resident memory before and after each export: it stays
where it is whatever the size, the export being streamed.

The rows are seeded straight into the tables (one ``executemany`` per 10,000 rows, no audit entries or
events: the export reads only the records), so seeding a million rows takes seconds, not the import's
minutes.

``--queued`` exports each list as a queued export too (``core.services.export_jobs``: the request records
the job and answers; the worker's task writes the file, renamed once whole) and prints how long the request
took and how long the worker did.

Run: python bench/export.py [--customers 100000] [--interactions 1000000] [--formats csv,jsonl,xlsx]
     [--database URL] [--queued]
Default database: a scratch schema in TRELLIS_TEST_DATABASE_URL's PostgreSQL (dropped afterwards), else a
temporary SQLite file. Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHUNK = 10_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    """The resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def seed(rt, owner_id: uuid.UUID, customers: int, interactions: int, rng: random.Random) -> None:
    from core import db
    from core.models import Customer, Interaction

    now = datetime.now(timezone.utc)
    start = datetime(1997, 1, 1, tzinfo=timezone.utc)
    ids: list[uuid.UUID] = []
    ctable, itable = Customer.__table__, Interaction.__table__
    for first in range(0, customers, CHUNK):
        rows = []
        for i in range(first, min(first + CHUNK, customers)):
            cid = uuid.uuid4()
            ids.append(cid)
            rows.append({"id": cid, "kind": "person", "name": f"Customer {i + 1}", "industry": None, "region": "East",
                         "size": None, "source": "web_search", "level": "none", "level_pinned": False,
                         "stage": "repeat", "notes": "", "owner_id": owner_id, "external_id": f"c{i + 1:07d}",
                         "created_at": now, "updated_at": now, "version": 1, "deleted_at": None})
        with rt.database.unit_of_work():
            db.session().execute(ctable.insert(), rows)
    for first in range(0, interactions, CHUNK):
        rows = []
        for n in range(first, min(first + CHUNK, interactions)):
            rows.append({"id": uuid.uuid4(), "customer_id": ids[rng.randrange(len(ids))], "contact_id": None,
                         "kind": "purchase", "direction": "outbound", "status": "done", "subject": "CD order",
                         "notes": "", "occurred_at": start + timedelta(minutes=rng.randrange(786_000)),
                         "due_at": None, "amount": Decimal(f"{rng.lognormvariate(3.2, 0.9):.2f}"),
                         "score": None, "score_scale": None, "assignee_id": None, "created_by_id": owner_id,
                         "reminder_at": None, "outcome": "", "completed_at": None, "escalated_at": None,
                         "escalation_count": 0, "source": "core", "external_id": f"p{n + 1:08d}",
                         "created_at": now, "updated_at": now, "version": 1, "deleted_at": None})
        with rt.database.unit_of_work():
            db.session().execute(itable.insert(), rows)
    if rt.database.engine.dialect.name == "postgresql":
        # the statistics autovacuum would gather soon: without them the planner takes the fresh tables for
        # nearly empty and scans them whole for each batch instead of walking the primary key
        with rt.database.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE customer")
            conn.exec_driver_sql("ANALYZE interaction")
            conn.commit()


def export(rt, admin, record_type: str, fmt: str, folder: str, filters: dict | None = None) -> None:
    from core.services import exports

    with rt.database.unit_of_work():
        request = exports.prepare(admin, record_type, filters or {}, fmt)
    path = os.path.join(folder, f"{record_type}.{fmt}")
    before = rss_mb()
    wall, started, tally = time.perf_counter(), cpu(), {}
    with open(path, "wb") as out:
        for chunk in exports.stream(request, database=rt.database, tally=tally):
            out.write(chunk)
    seconds, cpu_seconds = time.perf_counter() - wall, cpu() - started
    rows = tally.get("rows", 0)
    print(f"{record_type:<13}{fmt:<6}{rows:>10,}{seconds:>9.1f}{cpu_seconds:>9.1f}{rows / seconds:>10,.0f}"
          f"{rows / max(cpu_seconds, 1e-9):>12,.0f}{os.path.getsize(path) / 1e6:>9.0f}{before:>11.0f}{rss_mb():>10.0f}"
          f"{peak_rss_mb():>9.0f}", flush=True)
    os.unlink(path)


def queued(rt, admin, record_type: str, fmt: str) -> None:
    """The same export queued: the request's part (check, record, enqueue) and the worker's (write, rename)."""
    from core import queue
    from core.models import ExportJob
    from core.services import export_jobs

    wall = time.perf_counter()
    with rt.database.unit_of_work():
        job_id = str(export_jobs.queue_export(admin, record_type, {}, fmt).id)
    request_ms = (time.perf_counter() - wall) * 1000
    wall, started = time.perf_counter(), cpu()
    queue.run_task(rt, export_jobs.EXPORT_TASK, job_id)
    seconds, cpu_seconds = time.perf_counter() - wall, cpu() - started
    with rt.database.unit_of_work() as sess:
        job = sess.get(ExportJob, uuid.UUID(job_id))
        rows, size, status = job.rows, job.size_bytes, job.status
        path = export_jobs.export_dir(rt.settings) / job.file
    print(f"queued {record_type:<13}{fmt:<6}{rows:>10,}  request {request_ms:>7.1f} ms  worker {seconds:>7.1f} s "
          f"(cpu {cpu_seconds:.1f} s)  {size / 1e6:>6.0f} MB  {status}", flush=True)
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,jsonl,xlsx")
    parser.add_argument("--database", help="a database URL (default: a scratch PostgreSQL schema or SQLite file)")
    parser.add_argument("--queued", action="store_true", help="also export each list queued (request, then worker)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    from api.app import create_app
    from api.testing import FAST_HASH, scratch_database
    from core import migrate
    from core.services import users

    with tempfile.TemporaryDirectory() as tmp:
        with scratch_database(os.path.join(tmp, "bench.db"), name="trellis_bench_export") as scratch:
            url = args.database or scratch
            app = create_app({"DATABASE_URL": url, "PASSWORD_HASH_METHOD": FAST_HASH, "SECRET_KEY": "bench",
                              "EXPORT_PATH": os.path.join(tmp, "exports")})
            rt = app.extensions["trellis"]
            with app.app_context():
                migrate.upgrade(rt)
                with rt.database.unit_of_work():
                    admin = users.create_user(None, {"email": "bench@example.com", "name": "Bench", "role": "admin",
                                                     "password": "bench-password"})
                started = time.perf_counter()
                seed(rt, admin.id, args.customers, args.interactions, random.Random(1997))
                print(f"database: {rt.database.engine.url.render_as_string(hide_password=True)}; seeded "
                      f"{args.customers:,} customers and {args.interactions:,} purchases in "
                      f"{time.perf_counter() - started:.1f} s; RSS {rss_mb():.0f} MB, peak {peak_rss_mb():.0f} MB")
                print(f"{'type':<13}{'fmt':<6}{'rows':>10}{'wall s':>9}{'cpu s':>9}{'rows/s':>10}{'rows/cpu s':>12}"
                      f"{'MB':>9}{'RSS before':>11}{'RSS after':>10}{'peak':>9}")
                for fmt in args.formats.split(","):
                    export(rt, admin, "customers", fmt, tmp)
                    export(rt, admin, "interactions", fmt, tmp)
                    if args.queued:
                        queued(rt, admin, "customers", fmt)
                        queued(rt, admin, "interactions", fmt)
            rt.database.dispose()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
