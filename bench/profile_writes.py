"""Profile: the CPU a customer create and a customer read by id cost in-process (issue #16).

Builds the app (every built-in plugin, production mode as bench/http_side_by_side.py) on its own
database — an SQLite file in a temporary directory (default), or, with --database-url, a PostgreSQL schema
of its own (``trellis_bench_writes_<random>``, dropped at the end, on error too; no other schema is
touched) — migrates it, makes an admin and an API token, then through the Flask test client with that
bearer token:

  create  POST /api/v1/customers with two tags   (--creates, default 300)
  detail  GET  /api/v1/customers/<id>            (--reads, default 300; the ids created, shuffled)

after an untimed warm-up (--warmup of each). Prints, per request kind: CPU ms/request
(``time.process_time``: this process only, so the database server's time is not in it), wall ms/request,
and the SQL statements of one request (``before_cursor_execute`` on the engine; COMMIT not counted) with
their first words. ``--profile`` then runs each kind again under cProfile (CPU-time clock) and prints
the top --top (default 25) functions by cumulative time (``--sort tottime``: by their own time).
``--repeat N`` measures N times and prints the median, and the least (on a busy machine the least is the
nearer to the cost alone). The load average is printed before and after: the machine may be shared.

Run: python bench/profile_writes.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
     [--creates 300 --reads 300 --warmup 30 --repeat 1] [--profile --top 25]
Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import event  # noqa: E402

from api.app import create_app  # noqa: E402
from bench.scratch import scratch_database  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.services import users  # noqa: E402


def customer_body(i: int) -> dict:
    """What bench/http_side_by_side.py posts."""
    return {"name": f"Profile customer {i}", "kind": "company", "industry": ("Retail", "Software", "Logistics")[i % 3],
            "region": ("East", "West", "North")[i % 3], "size": "small", "notes": "Made by bench/profile_writes.py",
            "tags": ["bench", f"t{i % 5}"]}


class Runner:
    def __init__(self, client, headers: dict):
        self.client, self.headers = client, headers
        self.ids: list[str] = []
        self.serial = 0

    def create(self) -> None:
        self.serial += 1
        response = self.client.post("/api/v1/customers", json=customer_body(self.serial), headers=self.headers)
        if response.status_code != 201:
            raise RuntimeError(f"create: {response.status_code} {response.get_data(as_text=True)[:500]}")
        self.ids.append(response.get_json()["id"])

    def read(self, customer_id: str) -> None:
        response = self.client.get(f"/api/v1/customers/{customer_id}", headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"read: {response.status_code} {response.get_data(as_text=True)[:500]}")


def timed(fn, args_list) -> tuple[float, float]:
    """(CPU ms/request, wall ms/request) over calling ``fn`` with each of ``args_list``."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for args in args_list:
        fn(*args)
    n = len(args_list)
    return (time.process_time() - cpu) * 1000 / n, (time.perf_counter() - wall) * 1000 / n


def statements(engine, fn) -> list[str]:
    seen: list[str] = []

    def count(conn, cursor, statement, *_):
        seen.append(" ".join(statement.split()[:4]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def profile(fn, args_list, top: int, sort: str) -> str:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for args in args_list:
        fn(*args)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
    return out.getvalue()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: an SQLite file in a temporary directory")
    parser.add_argument("--creates", type=int, default=300)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1, help="measure this many times; print the median")
    parser.add_argument("--profile", action="store_true", help="then run each kind under cProfile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"),
                        help="the order of the profile's functions")
    args = parser.parse_args(argv)

    print("load average before:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    with scratch_database(args.database_url, "trellis_bench_writes") as url:
        app = create_app({"DATABASE_URL": url, "ENV": "production", "PLUGINS": "all", "SECRET_KEY": "bench" * 8,
                          "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
        gc.freeze()  # as api.wsgi does in production
        rt = app.extensions["trellis"]
        try:
            upgrade(rt)
            with rt.database.unit_of_work():
                admin = users.create_user(None, {"email": "admin@bench.example", "name": "Admin", "role": "admin"})
                token = users.create_token(admin, "bench")[1]
            client = app.test_client()
            runner = Runner(client, {"Authorization": f"Bearer {token}", "Accept": "application/json"})
            for _ in range(args.warmup):
                runner.create()
            for customer_id in runner.ids[: args.warmup]:
                runner.read(customer_id)
            engine = rt.database.engine
            print(f"{engine.dialect.name}; statements of one request (COMMIT not counted):")
            for kind, fn in (("create", runner.create), ("detail", lambda: runner.read(runner.ids[-1]))):
                seen = statements(engine, fn)
                print(f"  {kind}: {len(seen)}: " + "; ".join(seen))

            results: dict[str, list[tuple[float, float]]] = {"create": [], "detail": []}
            rng = random.Random(16)
            for _ in range(args.repeat):
                results["create"].append(timed(runner.create, [()] * args.creates))
                ids = rng.sample(runner.ids, min(args.reads, len(runner.ids)))
                results["detail"].append(timed(runner.read, [(i,) for i in ids]))
            for kind, rows in results.items():
                cpu = statistics.median(r[0] for r in rows)
                wall = statistics.median(r[1] for r in rows)
                print(f"{kind:7} CPU {cpu:6.2f} ms/request (least {min(r[0] for r in rows):.2f})   "
                      f"wall {wall:6.2f} ms/request   (median of {len(rows)}: CPU {', '.join(f'{r[0]:.2f}' for r in rows)})")
            if args.profile:
                print(f"\n--- cProfile: {args.creates} creates ---")
                print(profile(runner.create, [()] * args.creates, args.top, args.sort))
                ids = rng.sample(runner.ids, min(args.reads, len(runner.ids)))
                print(f"\n--- cProfile: {len(ids)} reads by id ---")
                print(profile(runner.read, [(i,) for i in ids], args.top, args.sort))
        finally:
            rt.database.engine.dispose()
    print("load average after:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
