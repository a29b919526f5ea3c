"""Benchmark: what one oversized request costs — the 300,000-row POS batch from a rep, and 30 aliases of
``customers(first: 100) { contacts interactions(first: 10) }`` — with the time and the process's peak
memory growth (ru_maxrss) of each. Runs on a temporary SQLite file with --customers customers (each with
2 contacts and 10 interactions, written through plain INSERTs).

Run: python bench/request_limits.py [--rows 300000] [--customers 100]    Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--customers", type=int, default=100)
    args = parser.parse_args()

    from sqlalchemy import insert

    from api.app import create_app
    from core.migrate import upgrade
    from core.models import Contact, Customer, Interaction
    from core.services import users

    tmp = tempfile.mkdtemp()
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "SECRET_KEY": "bench",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    runtime = app.extensions["trellis"]
    upgrade(runtime)
    with runtime.database.unit_of_work() as sess:
        admin = users.create_user(None, {"email": "admin@example.com", "role": "admin"})
        rep = users.create_user(None, {"email": "rep@example.com", "role": "rep"})
        _, admin_token = users.create_token(admin, "bench")
        _, rep_token = users.create_token(rep, "bench")
        now = datetime.now(timezone.utc)
        customers = [{"id": uuid.uuid4(), "name": f"C{i}", "owner_id": admin.id, "created_at": now,
                      "updated_at": now, "version": 1} for i in range(args.customers)]
        sess.execute(insert(Customer), customers)
        sess.execute(insert(Contact), [{"id": uuid.uuid4(), "customer_id": c["id"], "name": f"P{j}",
                                        "created_at": now, "updated_at": now, "version": 1}
                                       for c in customers for j in range(2)])
        sess.execute(insert(Interaction), [{"id": uuid.uuid4(), "customer_id": c["id"], "kind": "call",
                                            "subject": f"I{j}", "occurred_at": now, "created_at": now,
                                            "updated_at": now, "version": 1, "author_id": admin.id}
                                           for c in customers for j in range(10)])
    client = app.test_client()

    body = '{"purchases":[' + ",".join(['{"x":1}'] * args.rows) + "]}"
    before, start = rss_mb(), time.perf_counter()
    response = client.post("/api/v1/retail-membership/purchases/batch", data=body,
                           headers={"Authorization": f"Bearer {rep_token}", "Content-Type": "application/json"})
    print(f"batch of {args.rows} rows ({len(body) / 1e6:.1f} MB) as rep: {response.status_code} in "
          f"{time.perf_counter() - start:.2f} s, peak RSS +{rss_mb() - before:.0f} MB; "
          f"body {response.get_data()[:160]!r}")

    fields = "customers(first: 100) { edges { node { id name contacts { id name } " \
             "interactions(first: 10) { edges { node { id subject } } } } } }"
    query = "{ " + " ".join(f"a{i}: {fields}" for i in range(30)) + " }"
    before, start = rss_mb(), time.perf_counter()
    response = client.post("/graphql", json={"query": query}, headers={"Authorization": f"Bearer {admin_token}"})
    data = response.get_json()
    print(f"graphql 30 aliases x customers(first:100){{contacts interactions(first:10)}}: {response.status_code} in "
          f"{time.perf_counter() - start:.2f} s, peak RSS +{rss_mb() - before:.0f} MB; "
          f"errors {json.dumps(data.get('errors'))[:200]}")
    runtime.database.dispose()


if __name__ == "__main__":
    main()
