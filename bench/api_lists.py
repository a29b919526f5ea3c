"""Benchmark: the list and metric requests a front-end makes, on a deployment with many customers.

Builds a database of N customers (2 contacts and 5 interactions each, purchases included, owned by six
reps in two teams; a few unowned), runs the analytics refresh once, then times requests through the
Flask test client with bearer tokens: p50/p95 over --runs runs after a warm-up, and the SQL statements
each request runs (``before_cursor_execute`` on the engine; the count includes the token lookup).

Rows are written with plain multi-row INSERTs (no audit entries, outbox events or workflow history: a
bench, not an import) but are otherwise what the services write: stages follow the purchases
(first_purchase / repeat), levels follow the level rules, exactly one primary contact per customer.

The database: an SQLite file in a temporary directory (default), or --database-url. A PostgreSQL URL
gets a schema of its own, dropped at the end, on error too (no other schema is touched). --reuse keeps
the database (SQLite: $TMPDIR/trellis_bench_api_lists_<N>.db; PostgreSQL: schema
trellis_bench_api_lists_<N>) and reuses it on the next run with the same --customers.

The deep page: rows 10,001-10,050 of the default ordering (the last whole page of 50 when there are
fewer customers: rows 9,951-10,000 at the default 10,000), by page number (OFFSET: the database walks every row before it) and by cursor (``after=``: a
seek, which should cost what the first page costs).

Run: python bench/api_lists.py [--customers 10000] [--runs 30] [--database-url URL] [--reuse]
Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import event, func, insert, select, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from api.app import create_app  # noqa: E402
from core import db, levels, runtime as core_runtime  # noqa: E402
from core.db import make_engine  # noqa: E402
from core.demo import BRANDS, CITIES, GIVEN, INDUSTRIES, SIZES, SOURCES, SURNAMES, TAGS, TITLES  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.models import AnalyticsRun, Contact, Customer, CustomerTag, Interaction, User  # noqa: E402
from core.services import analytics, users  # noqa: E402

TEAMS = {"East": ["rep1.east", "rep2.east", "rep3.east"], "West": ["rep1.west", "rep2.west", "rep3.west"]}
TOUCHES = [("call", "outbound", "Call about needs"), ("email", "outbound", "Sent the brochure"),
           ("visit", "outbound", "On-site visit"), ("meeting", "outbound", "Demo meeting"),
           ("quote", "outbound", "Quote"), ("call", "inbound", "Asked about prices")]
GRAPHQL = """query($after: String) { customers(first: 50, after: $after) { edges { node { name owner { name }
  contacts { edges { node { name } } } interactions(first: 3) { edges { node { subject } } }
  rfm { segment } clv { seed model } } } } }"""


@contextlib.contextmanager
def database(args):
    """The URL to use; a PostgreSQL schema of our own is created here and dropped on the way out."""
    url, n = args.database_url, args.customers
    if url is None and args.reuse:
        yield f"sqlite:///{os.path.join(tempfile.gettempdir(), f'trellis_bench_api_lists_{n}.db')}"
    elif url is None:
        with tempfile.TemporaryDirectory(prefix="trellis_bench_") as tmp:
            yield f"sqlite:///{os.path.join(tmp, 'bench.db')}"
    elif not url.startswith(("postgresql://", "postgres://")):
        yield url
    else:
        schema = f"trellis_bench_api_lists_{n}" if args.reuse else f"trellis_bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(url)
        try:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            yield f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if not args.reuse:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def staff() -> dict[str, User]:
    """admin, two managers with a team each, three reps per team (created once; found on --reuse)."""
    existing = {u.email.split("@")[0]: u for u in db.session().scalars(select(User))}
    if "admin" in existing:
        return existing
    people = {"admin": users.create_user(None, {"email": "admin@bench.example", "name": "Admin", "role": "admin"})}
    for team_name, reps in TEAMS.items():
        key = f"manager.{team_name.lower()}"
        manager = people[key] = users.create_user(None, {"email": f"{key}@bench.example", "name": key,
                                                         "role": "manager"})
        team = users.create_team(None, team_name, manager=manager)
        for rep in reps:
            people[rep] = users.create_user(None, {"email": f"{rep}@bench.example", "name": rep, "role": "rep",
                                                   "team_id": str(team.id)})
    return people


def build(n: int, people: dict[str, User], seed: int = 20260523) -> dict[str, int]:
    """N customers with 2 contacts and 5 interactions each, written with one executemany per chunk."""
    rng, now = random.Random(seed), datetime.now(timezone.utc)
    rules = levels.parse_rules(core_runtime.current().settings.level_rules)
    reps = [people[r] for team in TEAMS.values() for r in team]
    rows: dict[type, list[dict]] = {Customer: [], CustomerTag: [], Contact: [], Interaction: []}

    def record(model, **values):
        at = values.pop("at", now)
        rows[model].append({"id": uuid.uuid4(), "version": 1, "created_at": at, "updated_at": at,
                            "deleted_at": None, **values})
        return rows[model][-1]["id"]

    for i in range(n):
        region = rng.choice(list(CITIES))
        industry = rng.choice(list(INDUSTRIES))
        suffixes, order_size = INDUSTRIES[industry]
        owner = None if rng.random() < 0.04 else rng.choice(reps)  # a few wait in the pool
        joined = now - timedelta(days=rng.randint(30, 720), hours=rng.randint(0, 23))
        purchases = rng.choices([0, 1, 2, 3, 4], weights=[30, 25, 20, 15, 10])[0]
        events = sorted(joined + timedelta(days=rng.uniform(0, (now - joined).days)) for _ in range(5))
        amounts = [Decimal(round(order_size * rng.uniform(0.3, 2.5), -2)) for _ in range(purchases)]
        revenue_12m = sum(float(a) for a, at in zip(amounts, events[-purchases:]) if at >= now - timedelta(days=365))
        stage = ("repeat" if purchases >= 2 else "first_purchase" if purchases else
                 rng.choice(["potential", "potential", "intent"]))
        customer = record(Customer, at=joined, kind="company", industry=industry, region=region,
                          name=f"{rng.choice(CITIES[region])}{rng.choice(BRANDS)}{rng.choice(suffixes)} {i:05d}",
                          size=rng.choice(SIZES), source=rng.choice(SOURCES), stage=stage, notes="",
                          level=levels.grade(rules, {"revenue_12m": revenue_12m, "purchases_12m": purchases}),
                          level_pinned=False, owner_id=owner.id if owner else None)
        if rng.random() < 0.3:
            rows[CustomerTag].append({"customer_id": customer, "tag": rng.choice(TAGS)})
        contacts = [record(Contact, at=joined, customer_id=customer, name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                           title=rng.choice(TITLES), phone="", mobile=f"13{rng.randrange(10**8, 10**9)}",
                           email=f"c{i}.{k}@bench.example", wechat="", birthday=None, notes="", is_primary=k == 0)
                    for k in range(2)]
        kinds = [rng.choice(TOUCHES) for _ in range(5 - purchases)] + [("purchase", "inbound", "Order")] * purchases
        for (kind, direction, subject), at, amount in zip(kinds, events, [None] * (5 - purchases) + amounts):
            record(Interaction, at=at, customer_id=customer, contact_id=rng.choice(contacts), kind=kind,
                   direction=direction, status="done", subject=subject, notes="", occurred_at=at, due_at=None,
                   amount=amount, score=None, score_scale=None, assignee_id=None, reminder_at=None, outcome="",
                   completed_at=None, escalated_at=None, escalation_count=0, source="core",
                   created_by_id=owner.id if owner else people["admin"].id)
    sess = db.session()
    for model, batch in rows.items():
        for start in range(0, len(batch), 5000):
            sess.execute(insert(model.__table__), batch[start:start + 5000])
    return {model.__tablename__: len(batch) for model, batch in rows.items()}


def measure(client, engine, request: tuple, token: str, runs: int, warmup: int) -> tuple[int, float, float, int]:
    """(statements per request, p50 ms, p95 ms, rows on the page) over ``runs`` after ``warmup`` calls."""
    method, url, body = request
    headers = {"Authorization": f"Bearer {token}"}
    statements: list[int] = []

    def count(conn, cursor, statement, *_):
        statements[-1] += statement != "BEGIN"  # SQLite's explicit BEGIN: left out, to compare with PostgreSQL

    times = []
    for i in range(warmup + runs):
        statements.append(0)
        event.listen(engine, "before_cursor_execute", count)
        t0 = time.perf_counter()
        response = client.open(url, method=method, json=body, headers=headers)
        elapsed = time.perf_counter() - t0
        event.remove(engine, "before_cursor_execute", count)
        data = response.get_json()
        if response.status_code != 200 or (isinstance(data, dict) and data.get("errors")):
            raise SystemExit(f"{method} {url}: {response.status_code} {str(data)[:500]}")
        if i >= warmup:
            times.append(elapsed * 1000)
    if len(set(statements[warmup:])) != 1:
        print(f"  note: {url} ran {min(statements[warmup:])}..{max(statements[warmup:])} statements", file=sys.stderr)
    rows = data if isinstance(data, list) else data["rows"] if "rows" in data else data["data"]["customers"]["edges"]
    return statements[-1], statistics.median(times), statistics.quantiles(times, n=20)[18], len(rows)


def stop(*_):
    """SIGTERM: leave through the cleanup. Python ignores an exception raised inside a finalizer (where
    a signal often lands while the build allocates), so raise again every 2 s until the cleanup starts."""
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    raise SystemExit(143)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--database-url", help="default: an SQLite file in a temporary directory")
    parser.add_argument("--reuse", action="store_true", help="keep the database and reuse it next time")
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGALRM, stop)

    with database(args) as url:
        app = create_app({"DATABASE_URL": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "bench"})
        app.config["TESTING"] = True  # exceptions propagate instead of becoming 500s
        gc.freeze()  # as api.wsgi does in production: start-up objects stay out of every collection
        rt = app.extensions["trellis"]
        try:
            t0 = time.perf_counter()
            upgrade(rt)
            print(f"{rt.database.engine.dialect.name}, {args.customers:,} customers; migrated in "
                  f"{time.perf_counter() - t0:.1f} s")
            with rt.database.unit_of_work() as sess:  # one transaction: a failed build leaves nothing
                people = staff()
                built = sess.scalar(select(func.count()).select_from(AnalyticsRun)
                                    .where(AnalyticsRun.customers == args.customers))
                if built:
                    print("reusing the database built by an earlier run")
                elif sess.scalar(select(func.count()).select_from(Customer)):
                    raise SystemExit("The database holds customers of another build: use an empty one.")
                else:
                    t0 = time.perf_counter()
                    counts = build(args.customers, people)
                    sess.flush()
                    rows = ", ".join(f"{v:,} {k}" for k, v in counts.items())
                    print(f"setup: {time.perf_counter() - t0:.1f} s ({rows})")
                    t0 = time.perf_counter()
                    run = analytics.refresh()
                    print(f"analytics refresh: {time.perf_counter() - t0:.1f} s ({run.purchasers:,} purchasers, "
                          f"{run.params['churn']['tasks_created']:,} churn tasks created, status {run.status})")
                tokens = {who: users.create_token(people[who], "bench")[1] for who in ("admin", "rep1.east")}
            if rt.database.engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
                with rt.database.engine.begin() as conn:
                    tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
                    conn.execute(text("ANALYZE " + ", ".join(f'"{t}"' for t in tables)))
            requests = [
                ("REST customers page_size=50 (admin)", "admin", ("GET", "/api/v1/customers?page_size=50", None)),
                ("REST customers page_size=50 (rep)", "rep1.east", ("GET", "/api/v1/customers?page_size=50", None)),
                ("REST customers rfm_segment=champions", "admin",
                 ("GET", "/api/v1/customers?page_size=50&rfm_segment=champions", None)),
                ("REST customers page_size=100 (admin)", "admin", ("GET", "/api/v1/customers?page_size=100", None)),
                ("GraphQL customers(first: 50) (admin)", "admin", ("POST", "/graphql", {"query": GRAPHQL})),
                ("GraphQL customers(first: 50) (rep)", "rep1.east", ("POST", "/graphql", {"query": GRAPHQL})),
                ("metric customers group_by=stage", "admin", ("GET", "/api/v1/metrics/customers?group_by=stage", None)),
                ("metric revenue group_by=period:month", "admin",
                 ("GET", "/api/v1/metrics/revenue?group_by=period:month", None)),
            ]
            client = app.test_client()
            # the deep page: rows deep+1 … deep+50 of the default ordering (by name), by page number (OFFSET)
            # and by cursor (a seek from the row before it; the same cursor serves REST and GraphQL)
            deep = max(0, min(10_000, args.customers - 50)) // 50 * 50
            before_deep = client.get(f"/api/v1/customers?page_size=50&page={deep // 50}",
                                     headers={"Authorization": f"Bearer {tokens['admin']}"}) if deep else None
            cursor = json.loads(before_deep.headers["X-Pagination"])["next_cursor"] if deep else None
            if cursor:
                requests[1:1] = [
                    (f"REST customers page={deep // 50 + 1} (row {deep + 1:,})", "admin",
                     ("GET", f"/api/v1/customers?page_size=50&page={deep // 50 + 1}", None)),
                    (f"REST customers after=<row {deep:,}>", "admin",
                     ("GET", f"/api/v1/customers?page_size=50&after={cursor}", None)),
                ]
                requests[7:7] = [(f"GraphQL customers(after: <row {deep:,}>)", "admin",
                                  ("POST", "/graphql", {"query": GRAPHQL, "variables": {"after": cursor}}))]
            print(f"\n{'request':40s} {'rows':>5s} {'stmts':>6s} {'p50 ms':>8s} {'p95 ms':>8s}   ({args.runs} runs)")
            for label, who, request in requests:
                n_stmts, p50, p95, rows = measure(client, rt.database.engine, request, tokens[who], args.runs,
                                                  args.warmup)
                print(f"{label:40s} {rows:5d} {n_stmts:6d} {p50:8.1f} {p95:8.1f}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            rt.database.dispose()  # close our connections before the schema is dropped


if __name__ == "__main__":
    main()
