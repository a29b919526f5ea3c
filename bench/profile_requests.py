"""Profile: the CPU a REST request costs in-process (issue #16), by kind of request.

Builds an app (every built-in plugin enabled, as the HTTP bench) on a database of its own, an admin with
an API token, and --customers customers with two tags each (made through ``POST /api/v1/customers``,
untimed). Then, through the Flask test client with the bearer token, times in CPU
(``time.process_time``, so other processes on a shared machine count less than with a wall clock):

  create   POST /api/v1/customers                (--creates, two tags each)
  list     GET  /api/v1/customers?page_size=100  (--lists, pages 1 and 2 in turn)
  detail   GET  /api/v1/customers/<id>           (--details, the ids created, shuffled)
  graphql  POST /graphql: customers(first: 50) with their contacts, as bench/http_side_by_side.py
           (--graphqls; 0 by default)

after a few untimed warm-up requests of each kind, and prints CPU ms/request and SQL statements/request
(``before_cursor_execute`` on the engine, the token lookup included; SQLite's BEGIN left out).
--profile also runs each phase once more under cProfile (CPU clock) and prints its --top functions by
cumulative and by own time (--dump PREFIX also writes PREFIX<phase>.pstats, to read with pstats).
--rounds repeats the timed phases (a fresh create phase each round) and
prints every round and the median.

The database: an SQLite file in a temporary directory (default), or --database-url. A PostgreSQL URL gets
a schema of its own (``trellis_profile_<random>``), dropped at the end, on error too; nothing else is
touched.

Run: python bench/profile_requests.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
     [--customers 120 --creates 200 --lists 100 --details 200 --rounds 1] [--profile --top 25]
Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import logging
import os
import pstats
import random
import statistics
import sys
import time

from sqlalchemy import event

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from api.app import create_app  # noqa: E402
from bench.scratch import scratch_database  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.services import users  # noqa: E402

GRAPHQL = ("query { customers(first: 50) { edges { node { id name level stage "
           "contacts { edges { node { id name email isPrimary } } } } } } }")


def customer_body(i: int) -> dict:
    return {"name": f"Profiled customer {i:05d}", "kind": "company", "industry": ("Retail", "Software")[i % 2],
            "region": ("East", "West", "North")[i % 3], "size": "small", "notes": "bench/profile_requests.py",
            "tags": ["bench", f"t{i % 5}"]}


class Phases:
    """The three kinds of request, each a list of (method, url, body) made fresh per round."""

    def __init__(self, client, token: str, engine):
        self.client, self.engine = client, engine
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ids: list[str] = []
        self.made = 0

    def call(self, method: str, url: str, body=None, expect: int = 200):
        response = self.client.open(url, method=method, json=body, headers=self.headers)
        if response.status_code != expect:
            raise SystemExit(f"{method} {url}: {response.status_code} {response.get_data(as_text=True)[:500]}")
        return response

    def requests(self, phase: str, count: int) -> list[tuple[str, str, dict | None, int]]:
        if phase == "create":
            start, self.made = self.made, self.made + count
            return [("POST", "/api/v1/customers", customer_body(i), 201) for i in range(start, start + count)]
        if phase == "graphql":
            return [("POST", "/graphql", {"query": GRAPHQL}, 200)] * count
        if phase == "list":
            return [("GET", f"/api/v1/customers?page_size=100&page={1 + i % 2}", None, 200) for i in range(count)]
        ids = random.Random(count).sample(self.ids, min(count, len(self.ids)))
        return [("GET", f"/api/v1/customers/{ids[i % len(ids)]}", None, 200) for i in range(count)]

    def run(self, phase: str, count: int, profiler: cProfile.Profile | None = None) -> tuple[float, float]:
        """(CPU ms/request, statements/request) of ``count`` requests of ``phase``."""
        requests = self.requests(phase, count)
        statements = [0]

        def counted(conn, cursor, statement, *_):
            statements[0] += statement != "BEGIN"

        event.listen(self.engine, "before_cursor_execute", counted)
        try:
            gc.collect()
            t0 = time.process_time()
            if profiler is not None:
                profiler.enable()
            for method, url, body, expect in requests:
                response = self.call(method, url, body, expect)
                if phase == "create":
                    self.ids.append(response.get_json()["id"])
            if profiler is not None:
                profiler.disable()
            elapsed = time.process_time() - t0
        finally:
            event.remove(self.engine, "before_cursor_execute", counted)
        return elapsed * 1000 / count, statements[0] / count


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: an SQLite file in a temporary directory")
    parser.add_argument("--customers", type=int, default=120)
    parser.add_argument("--creates", type=int, default=200)
    parser.add_argument("--lists", type=int, default=100)
    parser.add_argument("--details", type=int, default=200)
    parser.add_argument("--graphqls", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="also one cProfile'd pass of each phase")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--dump", metavar="PREFIX",
                        help="with --profile: also write each phase's stats to PREFIX<phase>.pstats (pstats, snakeviz)")
    args = parser.parse_args(argv)

    with scratch_database(args.database_url, "trellis_profile") as url:
        app = create_app({"DATABASE_URL": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "bench",
                          "PLUGINS": "all"})
        gc.freeze()  # as api.wsgi does in production
        quiet = open(os.devnull, "w")  # the access log is still formatted and written, to nowhere
        for logger in (logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)):
            for handler in getattr(logger, "handlers", ()):
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(quiet)
        rt = app.extensions["trellis"]
        try:
            upgrade(rt)
            with rt.database.unit_of_work():
                admin = users.create_user(None, {"email": "admin@profile.example", "name": "Admin", "role": "admin"})
                token = users.create_token(admin, "profile")[1]
            phases = Phases(app.test_client(), token, rt.database.engine)
            phases.run("create", args.customers)   # the customers listed (untimed)
            kinds = tuple((phase, count) for phase, count in (("create", args.creates), ("list", args.lists),
                                                              ("detail", args.details), ("graphql", args.graphqls))
                          if count)
            for phase, _ in kinds:
                phases.run(phase, 5)              # warm-up
            rounds: dict[str, list[float]] = {phase: [] for phase, _ in kinds}
            counts: dict[str, float] = {}
            print(f"{rt.database.engine.dialect.name}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            for round_no in range(args.rounds):
                line = []
                for phase, count in kinds:
                    ms, counts[phase] = phases.run(phase, count)
                    rounds[phase].append(ms)
                    line.append(f"{phase} {ms:.2f}")
                print(f"round {round_no + 1}: " + ", ".join(line) + " CPU ms/request")
            print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"\n{'request':8s} {'count':>6s} {'stmts/req':>9s} {'CPU ms/req (median)':>20s}")
            for phase, count in kinds:
                print(f"{phase:8s} {count:6d} {counts[phase]:9.1f} {statistics.median(rounds[phase]):20.2f}")
            if args.profile:
                for phase, count in kinds:
                    profiler = cProfile.Profile(time.process_time)
                    ms, _ = phases.run(phase, count, profiler)
                    out = io.StringIO()
                    stats = pstats.Stats(profiler, stream=out)
                    if args.dump:
                        stats.dump_stats(f"{args.dump}{phase}.pstats")
                    stats.sort_stats("cumulative").print_stats(args.top)
                    stats.sort_stats("tottime").print_stats(args.top)
                    print(f"\n=== {phase} under cProfile: {ms:.2f} CPU ms/request ===")
                    print(out.getvalue())
        finally:
            rt.database.dispose()  # our connections close before the schema is dropped


if __name__ == "__main__":
    main()
