"""Benchmark: ``trellis import`` of CDNOW-shaped data — customers with external ids, then their purchases
as ``purchase`` interactions referencing them by ``customer_external_id`` — with the audit entries, the
events, the lifecycle moves and the level grading every imported row gets. Prints rows per second (wall
and CPU time) per file and the peak RSS, which stays flat as the file grows (the file is streamed).

The data: CDNOW's shape (23,570 customers, 69,659 purchases over 18 months; most bought once, a few
often), scaled: each customer's purchase count follows a geometric law with the mean the sizes ask for,
dates spread over 1997-01-01 … 1998-06-30, amounts log-normal around $35, rows in customer order as in
the CDNOW file.

Run: python bench/import.py [--customers 100000] [--interactions 1000000] [--database URL] [--rerun]
Default database: a scratch schema in TRELLIS_TEST_DATABASE_URL's PostgreSQL (dropped afterwards), else a
temporary SQLite file. Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

START, DAYS = date(1997, 1, 1), 546


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def generate(folder: str, customers: int, interactions: int, seed: int = 1997) -> tuple[str, str]:
    """Write customers.csv and purchases.csv (streamed: memory does not grow with the sizes)."""
    rng = random.Random(seed)
    cpath, ppath = os.path.join(folder, "customers.csv"), os.path.join(folder, "purchases.csv")
    mean = interactions / customers
    left = interactions
    with open(cpath, "w", newline="") as cf, open(ppath, "w", newline="") as pf:
        cw, pw = csv.writer(cf), csv.writer(pf)
        cw.writerow(["external_id", "name", "kind", "source"])
        pw.writerow(["external_id", "customer_external_id", "kind", "occurred_at", "amount", "subject"])
        n = 0
        for i in range(customers):
            ext = f"c{i + 1:07d}"
            cw.writerow([ext, f"CDNOW customer {i + 1}", "person", "web_search"])
            remaining_customers = customers - i
            if remaining_customers == 1:
                count = left
            else:
                count = 1
                while rng.random() > 1 / mean and count < 200:
                    count += 1
                count = min(count, left - 0)
            first = rng.randrange(DAYS // 4)  # CDNOW's cohort joined in the first quarter
            days = sorted(rng.randrange(first, DAYS) for _ in range(count - 1))
            for day in [first, *days][:count]:
                n += 1
                amount = round(min(rng.lognormvariate(3.2, 0.9), 2000), 2)
                pw.writerow([f"p{n:08d}", ext, "purchase", (START + timedelta(days=day)).isoformat(), f"{amount:.2f}",
                             "CD order"])
            left -= count
            if left <= 0:
                left = 0
    return cpath, ppath


def import_file(rt, admin, record_type: str, path: str) -> None:
    from core.services import imports

    wall, started = time.perf_counter(), cpu()
    with rt.database.unit_of_work():
        run = imports.start_run(admin, record_type, path)
    outcome = imports.run_import(run.id, database=rt.database, path=path)
    for error in outcome.first_errors[:3]:
        print(f"  row {error.row}, {error.column}: {error.reason}")
    seconds, cpu_seconds = time.perf_counter() - wall, cpu() - started
    print(f"{record_type:<13}{outcome.rows_done:>10,}{seconds:>9.1f}{cpu_seconds:>9.1f}"
          f"{outcome.rows_done / seconds:>10,.0f}{outcome.created:>10,}{outcome.unchanged:>10,}{outcome.errors:>8,}"
          f"{peak_rss_mb():>10.0f}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--database", help="a database URL (default: a scratch PostgreSQL schema or SQLite file)")
    parser.add_argument("--rerun", action="store_true", help="import both files again (changes nothing)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the interactions import")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    from api.app import create_app
    from api.testing import FAST_HASH, scratch_database
    from core import migrate
    from core.services import users

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        cpath, ppath = generate(tmp, args.customers, args.interactions)
        print(f"generated {args.customers:,} customers and {args.interactions:,} purchases in "
              f"{time.perf_counter() - started:.1f} s ({os.path.getsize(ppath) / 1e6:.0f} MB of purchases); "
              f"peak RSS {peak_rss_mb():.0f} MB")
        with scratch_database(os.path.join(tmp, "bench.db"), name="trellis_bench") as scratch:
            url = args.database or scratch
            app = create_app({"DATABASE_URL": url, "PASSWORD_HASH_METHOD": FAST_HASH, "SECRET_KEY": "bench"})
            rt = app.extensions["trellis"]
            with app.app_context():
                migrate.upgrade(rt)
                with rt.database.unit_of_work():
                    admin = users.create_user(None, {"email": "bench@example.com", "name": "Bench", "role": "admin",
                                                     "password": "bench-password"})
                print(f"database: {rt.database.engine.url.render_as_string(hide_password=True)}; "
                      f"peak RSS after start {peak_rss_mb():.0f} MB")
                print(f"{'file':<13}{'rows':>10}{'wall s':>9}{'cpu s':>9}{'rows/s':>10}{'created':>10}"
                      f"{'unchanged':>10}{'errors':>8}{'peak MB':>10}")
                import_file(rt, admin, "customers", cpath)
                profiler = None
                if args.profile:
                    import cProfile

                    profiler = cProfile.Profile()
                    profiler.enable()
                import_file(rt, admin, "interactions", ppath)
                if profiler is not None:
                    profiler.disable()
                    profiler.dump_stats(args.profile)
                if args.rerun:
                    import_file(rt, admin, "customers", cpath)
                    import_file(rt, admin, "interactions", ppath)
            rt.database.dispose()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
