"""Benchmark: how long ``trellis demo`` takes to load, data set by data set — the wall and CPU time
(user+sys, less noisy on a shared machine) of the migration, the core's data set, each plugin's, the
analytics refresh and the whole run, into a fresh temporary SQLite file, with the production password
hashing. The machine's load average is printed before and after: compare runs made when it is low.

Run: python bench/demo_load.py [--core-only] [--profile FILE] [--keep FILE]    Prints numbers; not a test.
(``--keep`` loads into FILE, a new SQLite file, and leaves it for timing other steps on demo data.)
(``--profile`` writes a cProfile of the whole load to FILE; the profiler roughly quadruples the times.)
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def timed(label: str, rows: list):
    wall, started = time.perf_counter(), cpu()
    yield
    rows.append((label, time.perf_counter() - wall, cpu() - started))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--core-only", action="store_true")
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--keep", metavar="FILE", help="load into this SQLite file (must not exist) and keep it")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    rows: list = []
    wall, started = time.perf_counter(), cpu()
    with tempfile.TemporaryDirectory() as tmp:
        from api.app import create_app
        from core import demo, migrate
        from core.services import analytics

        path = os.path.abspath(args.keep) if args.keep else f"{tmp}/demo.db"
        app = create_app({"DATABASE_URL": f"sqlite:///{path}"})
        rt = app.extensions["trellis"]

        @contextlib.contextmanager
        def progress_for(name):
            with timed(name, rows):
                progress = demo.Progress(name)
                yield progress
            rows[-1] += (progress.done,)

        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        with app.app_context():
            with timed("migrate", rows):
                migrate.upgrade(rt)
            with rt.database.unit_of_work():
                demo.load_demo(rt, random.Random(demo.SEED), plugins=not args.core_only, progress_for=progress_for)
            with timed("analytics refresh", rows), rt.database.unit_of_work():
                analytics.refresh(trigger="demo")
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        rt.database.dispose()
    rows.append(("total (app start to analytics)", time.perf_counter() - wall, cpu() - started))
    print(f"{'step':<32}{'wall s':>9}{'cpu s':>9}{'records':>10}")
    for label, seconds, cpu_seconds, *records in rows:
        print(f"{label:<32}{seconds:>9.2f}{cpu_seconds:>9.2f}{(f'{records[0]:,}' if records else ''):>10}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
