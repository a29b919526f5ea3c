"""Benchmark: the core's lists, search, timeline and metrics at 1 M customers against the same requests at
10 k (issue #16, item 5: each within 2× of its latency at 10 k).

For each size (``--baseline``, default 10,000, and ``--customers``, default 1,000,000) it fills a
PostgreSQL schema of its own with N customers, 3 contacts and 10 interactions each (0–4 of them
purchases), tags on 30 % and an analytics row for every customer (RFM segment, value tier, churn flag,
as a refresh writes them: the filters on them read real rows) and the lifecycle history that led each
customer to its stage (about 1.6 moves a customer: to intent by hand, to first purchase and repeat at the
purchases, what the funnel reads). Rows go in with ``COPY`` through the bulk recorder's writer
(core.services.bulk), 5,000 customers with their children per transaction, so a crash loses one chunk at
most; no audit entries or outbox events (a bench, not an import).
Then the tables are ANALYZEd (what autovacuum does after a bulk load) and every request below is timed
through the Flask test client with bearer tokens, p50/p95 over ``--runs`` runs after a warm-up:

- the first page of customers (admin and rep), a deep page by cursor (the row in the middle of the
  list), the same two in GraphQL with contacts and interactions nested;
- name search (``q``: 杭州 and 王, read from the names' grams; a term of three characters or more uses the
  trigram index), every documented filter of the customers, contacts and
  interactions lists and every ordering of each, both directions;
- a customer's timeline; the core metrics: funnel, revenue by month, rep KPIs (with the default
  ``TRELLIS_METRIC_MATERIALISE_AFTER_MS`` a metric whose warm-up computation took 500 ms or more is
  stored and the timed runs are served the stored result; the last column says which: live / stored, and
  for a stored one at the large size the first request's time, the live computation that stored it).

It prints one table: statements per request, p50 at each size and the ratio, flagging ratios over 2.
``--reuse`` keeps the schemas (``trellis_bench_million_<N>``) and measures again without rebuilding;
without it they are dropped at the end, on error too. ``--sizes-only`` builds and reports the build
time. The 1 M build takes minutes (the numbers are in docs/performance.md).

Run: python bench/million.py --database-url postgresql://postgres@127.0.0.1:5432/test [--customers 1000000]
     [--baseline 10000] [--runs 10] [--reuse]
Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import event, func, select, text

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from api.app import create_app  # noqa: E402
from bench.api_lists import GRAPHQL, TEAMS, TOUCHES, staff  # noqa: E402
from core import levels, lifecycle  # noqa: E402
from core.db import make_engine  # noqa: E402
from core.demo import BRANDS, CITIES, GIVEN, INDUSTRIES, SIZES, SOURCES, SURNAMES, TAGS, TITLES  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.models import (AnalyticsRun, Contact, Customer, CustomerAnalytics, CustomerTag,  # noqa: E402
                         Interaction, WorkflowTransitionEntry)
from core.schemas import ContactFilter, CustomerFilter, InteractionFilter  # noqa: E402
from core.services import contacts as contact_service, customers as customer_service  # noqa: E402
from core.services import interactions as interaction_service, users  # noqa: E402
from core.services.bulk import _copy  # noqa: E402

CHUNK = 5_000
CONTACTS, INTERACTIONS = 3, 10
RFM = ["champions", "loyal", "potential_loyalists", "new_customers", "promising", "need_attention",
       "about_to_sleep", "at_risk", "cannot_lose", "hibernating", "lost"]
TIERS = ["key", "major", "regular", "small"]


@contextlib.contextmanager
def schema_url(url: str, n: int, reuse: bool):
    """A PostgreSQL URL whose search_path is a schema of its own (dropped on the way out unless ``reuse``)."""
    schema = f"trellis_bench_million_{n}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        yield f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema},public')}"
    finally:
        if not reuse:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def chunk_rows(rng: random.Random, start: int, count: int, reps: list, admin_id, run_id, rules, now) -> dict:
    """The rows of customers ``start`` … ``start + count - 1`` and their children, by model."""
    rows: dict[type, list[dict]] = {Customer: [], CustomerTag: [], Contact: [], Interaction: [],
                                    CustomerAnalytics: [], WorkflowTransitionEntry: []}

    def record(model, at, **values):
        values.update(id=uuid.uuid4(), version=1, created_at=at, updated_at=at, deleted_at=None)
        rows[model].append(values)
        return values["id"]

    for i in range(start, start + count):
        region = rng.choice(list(CITIES))
        industry = rng.choice(list(INDUSTRIES))
        suffixes, order_size = INDUSTRIES[industry]
        owner = None if rng.random() < 0.04 else rng.choice(reps)
        joined = now - timedelta(days=rng.randint(30, 720), hours=rng.randint(0, 23))
        purchases = rng.choices([0, 1, 2, 3, 4], weights=[30, 25, 20, 15, 10])[0]
        span = max(1, (now - joined).days)
        events = sorted(joined + timedelta(days=rng.uniform(0, span)) for _ in range(INTERACTIONS))
        amounts = [Decimal(round(order_size * rng.uniform(0.3, 2.5), -2)) for _ in range(purchases)]
        recent = [a for a, at in zip(amounts, events[-purchases:]) if at >= now - timedelta(days=365)]
        stage = ("repeat" if purchases >= 2 else "first_purchase" if purchases else
                 rng.choice(["potential", "potential", "intent"]))
        customer = record(Customer, joined, kind="company" if rng.random() < 0.8 else "person", industry=industry,
                          region=region, size=rng.choice(SIZES), source=rng.choice(SOURCES), stage=stage, notes="",
                          name=f"{rng.choice(CITIES[region])}{rng.choice(BRANDS)}{rng.choice(suffixes)} {i:07d}",
                          level=levels.grade(rules, {"revenue_12m": float(sum(recent)),
                                                     "purchases_12m": len(recent)}),
                          level_pinned=False, owner_id=owner.id if owner else None)
        # the lifecycle history that led to the stage (what the funnel reads): intent by hand, a purchase's
        # stage by the interaction that recorded it, as the lifecycle's automatic moves write them
        climb, first_purchase = [], INTERACTIONS - purchases
        if stage == "intent" or (purchases and rng.random() < 0.5):
            first = events[first_purchase] if purchases else now
            climb.append(("intent", joined + (first - joined) * rng.uniform(0.1, 0.9), "manual"))
        climb += [(name, at, "automatic") for name, at in zip(("first_purchase", "repeat"), events[first_purchase:])]
        previous, since = "potential", joined
        for name, at, trigger in climb:
            rows[WorkflowTransitionEntry].append({
                "id": uuid.uuid4(), "workflow": lifecycle.WORKFLOW, "record_type": "customer",
                "record_id": customer, "from_state": previous, "to_state": name, "at": at,
                "actor_id": owner.id if owner else admin_id, "approved_by_id": None, "trigger": trigger,
                "trigger_event": "interaction.created" if trigger == "automatic" else None, "reason": "",
                "seconds_in_previous": (at - since).total_seconds()})
            previous, since = name, at
        if rng.random() < 0.3:
            rows[CustomerTag].append({"customer_id": customer, "tag": rng.choice(TAGS)})
        people = [record(Contact, joined, customer_id=customer, name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                         title=rng.choice(TITLES), phone="", mobile=f"13{rng.randrange(10**8, 10**9)}",
                         email=f"c{i}.{k}@bench.example", wechat="", birthday=None, notes="", is_primary=k == 0)
                  for k in range(CONTACTS)]
        touches = INTERACTIONS - purchases
        kinds = [rng.choice(TOUCHES) for _ in range(touches)] + [("purchase", "inbound", "Order")] * purchases
        planned = rng.random() < 0.2   # a fifth have a task ahead (due_at, status planned): the due filters
        for k, ((kind, direction, subject), at, amount) in enumerate(zip(kinds, events, [None] * touches + amounts)):
            task = planned and k == 0
            due = now + timedelta(days=rng.randint(-10, 30)) if task else None
            record(Interaction, at, customer_id=customer, contact_id=rng.choice(people), kind=kind,
                   direction=direction, status="planned" if task else "done", subject=subject, notes="",
                   occurred_at=None if task else at, due_at=due, amount=amount, score=None, score_scale=None,
                   assignee_id=owner.id if task and owner else None, reminder_at=None, outcome="",
                   completed_at=None, escalated_at=None, escalation_count=0, source="core",
                   created_by_id=owner.id if owner else admin_id)
        rows[CustomerAnalytics].append({
            "customer_id": customer, "run_id": run_id, "computed_at": now, "transactions": purchases,
            "first_purchase_at": events[touches] if purchases else None,
            "last_purchase_at": events[-1] if purchases else None,
            "lifetime_revenue": float(sum(amounts)), "recency_days": (now - events[-1]).days if purchases else None,
            "frequency": purchases or None, "monetary": float(sum(amounts)) / purchases if purchases else None,
            "rfm_segment": rng.choice(RFM) if purchases else None, "value_tier": rng.choice(TIERS) if purchases else None,
            "expected_value": float(sum(amounts)) * rng.uniform(0, 1), "churn_risk": rng.random() < 0.1,
            "churn_flags": [],
        })
    return rows


def build(rt, n: int, people: dict, seed: int = 20261204) -> float:
    """Fill the schema with ``n`` customers (chunks of CHUNK, each its own transaction); the seconds it took."""
    rng, now = random.Random(seed), datetime.now(timezone.utc)
    rules = levels.parse_rules(rt.settings.level_rules)
    reps = [people[r] for team in TEAMS.values() for r in team]
    admin_id = people["admin"].id
    with rt.database.unit_of_work() as sess:   # the run the analytics rows belong to (finished last)
        run = AnalyticsRun(as_of=now.date(), customers=0, status="running", trigger="bench")
        sess.add(run)
        sess.flush()
        run_id = run.id
    started = time.perf_counter()
    done = 0
    for start in range(0, n, CHUNK):
        rows = chunk_rows(rng, start, min(CHUNK, n - start), reps, admin_id, run_id, rules, now)
        with rt.database.unit_of_work() as sess:
            conn = sess.connection()
            for model, batch in rows.items():
                if batch:
                    _copy(conn, model.__table__, batch, set(batch[0]), None)
        done += len(rows[Customer])
        if done % 100_000 == 0 or done == n:
            elapsed = time.perf_counter() - started
            print(f"  {done:>9,} customers  {elapsed:7.0f} s  ({done * (1 + CONTACTS + INTERACTIONS) / elapsed:,.0f} "
                  f"rows/s)", flush=True)
    with rt.database.unit_of_work() as sess:
        run = sess.get(AnalyticsRun, run_id)
        run.customers, run.status, run.finished_at = n, "ok", datetime.now(timezone.utc)
    return time.perf_counter() - started


def analyze(rt) -> None:
    with rt.database.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for index in ("ix_customer_name_trgm", "ix_contact_name_trgm"):
            conn.execute(text("SELECT gin_clean_pending_list(to_regclass(:i)) WHERE to_regclass(:i) IS NOT NULL"),
                         {"i": index})
        conn.execute(text("VACUUM ANALYZE customer, contact, interaction, customer_tag, customer_analytics, "
                          "customer_name_gram, contact_name_gram, workflow_transition"))


def requests_for(client, token: str, people: dict, any_customer: str, n: int) -> list[tuple[str, str, tuple]]:
    """(label, who, (method, url, body)) of every request timed; the same labels at every size."""
    rep_id = str(people["rep1.east"].id)
    now = datetime.now(timezone.utc).isoformat()
    out = [("REST customers, first page (admin)", "admin", ("GET", "/api/v1/customers?page_size=50", None)),
           ("REST customers, first page (rep)", "rep", ("GET", "/api/v1/customers?page_size=50", None))]
    # the deep page: the row in the middle of the list (found once by OFFSET; then read by cursor, a seek)
    middle = (n // 2) // 50
    deep = client.get(f"/api/v1/customers?page_size=50&page={middle}", headers={"Authorization": f"Bearer {token}"})
    cursor = json.loads(deep.headers["X-Pagination"])["next_cursor"]
    out += [("REST customers, middle page by cursor", "admin", ("GET", f"/api/v1/customers?page_size=50&after={cursor}",
                                                                None)),
            ("GraphQL customers(first: 50), nested", "admin", ("POST", "/graphql", {"query": GRAPHQL})),
            ("GraphQL customers, middle page by cursor", "admin",
             ("POST", "/graphql", {"query": GRAPHQL, "variables": {"after": cursor}})),
            ("customer timeline", "admin", ("GET", f"/api/v1/customers/{any_customer}/timeline", None))]
    values = {
        "customers": {"q": "杭州", "kind": "person", "industry": next(iter(INDUSTRIES)), "region": next(iter(CITIES)),
                      "source": SOURCES[0], "stage": "intent", "level": "A", "tag": TAGS[0], "owner_id": rep_id,
                      "segment": str(uuid.UUID(int=1)), "value_tier": "key", "rfm_segment": "champions",
                      "churn_risk": "true", "deleted": "true"},
        "contacts": {"customer_id": any_customer, "q": SURNAMES[0], "deleted": "true"},
        "interactions": {"customer_id": any_customer, "kind": "visit", "status": "planned", "assignee_id": rep_id,
                         "mine": "true", "overdue": "true", "due_before": now, "due_after": now, "deleted": "true"},
    }
    for name, schema, sortable in (("customers", CustomerFilter, customer_service.SORTABLE),
                                   ("contacts", ContactFilter, contact_service.SORTABLE),
                                   ("interactions", InteractionFilter, interaction_service.SORTABLE)):
        for key in schema().fields:   # every documented filter (a new one needs a value above: KeyError)
            out.append((f"{name} ?{key}=", "admin",
                        ("GET", f"/api/v1/{name}?page_size=50&{key}={quote(values[name][key])}", None)))
        for key in sortable:
            for sort in (key, f"-{key}"):
                out.append((f"{name} ?sort={sort}", "admin", ("GET", f"/api/v1/{name}?page_size=50&sort={sort}", None)))
    out += [("metric funnel", "admin", ("GET", "/api/v1/metrics/funnel", None)),
            ("metric revenue by month", "admin", ("GET", "/api/v1/metrics/revenue?group_by=period:month", None)),
            ("metric rep_kpis", "admin", ("GET", "/api/v1/metrics/rep_kpis", None)),
            ("metric rep_kpis (rep)", "rep", ("GET", "/api/v1/metrics/rep_kpis", None))]
    return out


def measure(client, engine, request: tuple, token: str, runs: int, warmup: int) -> tuple[int, float, float, str, float]:
    """(statements of the last run, p50 ms, p95 ms, what the last run's metric answer said: ``stored`` for
    ``materialised: true``, ``live`` for false, empty for a request that is no metric; the first (warm-up)
    request's ms: a metric's live computation when its result was stored by it)."""
    method, url, body = request
    headers = {"Authorization": f"Bearer {token}"}
    counted = [0]

    def count(*_):
        counted[0] += 1

    times, first = [], None
    for i in range(warmup + runs):
        counted[0] = 0
        event.listen(engine, "before_cursor_execute", count)
        t0 = time.perf_counter()
        response = client.open(url, method=method, json=body, headers=headers)
        elapsed = time.perf_counter() - t0
        first = elapsed * 1000 if first is None else first
        event.remove(engine, "before_cursor_execute", count)
        data = response.get_json()
        if response.status_code != 200 or (isinstance(data, dict) and data.get("errors")):
            raise SystemExit(f"{method} {url}: {response.status_code} {str(data)[:500]}")
        if i >= warmup:
            times.append(elapsed * 1000)
    p95 = statistics.quantiles(times, n=20)[18] if len(times) >= 2 else times[0]
    served = ""
    if isinstance(data, dict) and "materialised" in data:
        served = "stored" if data["materialised"] else "live"
    return counted[0], statistics.median(times), p95, served, first


def run_size(args, n: int) -> tuple[dict, float | None]:
    """Build (unless there already) and measure one size: ({label: (statements, p50, p95)}, build seconds)."""
    with schema_url(args.database_url, n, args.reuse) as url:
        app = create_app({"DATABASE_URL": url, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "bench"})
        app.config["TESTING"] = True
        gc.freeze()
        rt = app.extensions["trellis"]
        try:
            upgrade(rt)
            with rt.database.unit_of_work() as sess:
                people = staff()
                built = sess.scalar(select(func.count()).select_from(AnalyticsRun).where(
                    AnalyticsRun.customers == n, AnalyticsRun.status == "ok"))
                if not built and sess.scalar(select(func.count()).select_from(Customer)):
                    raise SystemExit(f"The schema trellis_bench_million_{n} holds a build that did not finish: "
                                     f"drop it (DROP SCHEMA trellis_bench_million_{n} CASCADE) and run again.")
            seconds = None
            if not built:
                print(f"building {n:,} customers ({n * CONTACTS:,} contacts, {n * INTERACTIONS:,} interactions)",
                      flush=True)
                seconds = build(rt, n, people)
                t0 = time.perf_counter()
                analyze(rt)
                print(f"  built in {seconds:.0f} s; VACUUM ANALYZE {time.perf_counter() - t0:.0f} s", flush=True)
            if args.sizes_only:
                return {}, seconds
            with rt.database.unit_of_work() as sess:
                tokens = {"admin": users.create_token(people["admin"], "bench")[1],
                          "rep": users.create_token(people["rep1.east"], "bench")[1]}
                any_customer = str(sess.scalar(select(Customer.id).order_by(Customer.name).limit(1)))
            client = app.test_client()
            results = {}
            for label, who, request in requests_for(client, tokens["admin"], people, any_customer, n):
                results[label] = measure(client, rt.database.engine, request, tokens[who], args.runs, args.warmup)
                print(f"  {n:>9,}  {label:45s} {results[label][0]:3d} stmts  p50 {results[label][1]:8.1f} ms  "
                      f"p95 {results[label][2]:8.1f} ms  {results[label][3]}", flush=True)
            return results, seconds
        finally:
            rt.database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a PostgreSQL URL (the schemas are made in it)")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reuse", action="store_true", help="keep the schemas and measure them again next time")
    parser.add_argument("--sizes-only", action="store_true", help="build (or find) the data, measure nothing")
    args = parser.parse_args()
    if not args.database_url.startswith(("postgresql://", "postgres://")):
        parser.error("--database-url must be a PostgreSQL URL")
    small, small_build = run_size(args, args.baseline)
    large, large_build = run_size(args, args.customers)
    if args.sizes_only:
        return
    load = os.getloadavg()
    print(f"\n| request | statements | p50 at {args.baseline:,} (ms) | p50 at {args.customers:,} (ms) | ratio "
          "| metric served |")
    print("|---|---:|---:|---:|---:|---|")
    for label, (stmts, p50, _, served, _first) in small.items():
        big = large[label][1]
        flag = " **over 2×**" if big > 2 * p50 else ""
        # a metric's answer at each size: computed for the request (live) or a stored result (stored),
        # as TRELLIS_METRIC_MATERIALISE_AFTER_MS decided on the warm-up's computation
        how = f"{served} / {large[label][3]}" if served or large[label][3] else ""
        if large[label][3] == "stored":  # the warm-up computed it (or found a result of a run minutes ago)
            how += f" (first request {large[label][4]:,.0f} ms)"
        print(f"| {label} | {stmts} | {p50:.1f} | {big:.1f} | {big / p50:.2f}×{flag} | {how} |")
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; builds: "
          f"{args.baseline:,}: {small_build or 0:.0f} s, {args.customers:,}: {large_build or 0:.0f} s (0: reused)")


if __name__ == "__main__":
    main()
