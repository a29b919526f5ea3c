"""Benchmark: the core metrics computed live (never a stored result) on the data bench/million.py built.

For an admin and a rep of that data, each of funnel, revenue by month and rep KPIs is computed --runs
times through the metric registry (``runtime.metrics.evaluate``: the service the REST and GraphQL
answers call, with the caller's scope, but without the stored results of docs/metrics.md, which the
HTTP requests of bench/million.py are served after their first computation). Prints the fastest and
every run's milliseconds.

It reads the schema ``trellis_bench_million_<N>`` that ``python bench/million.py --reuse`` keeps
(``--customers``, default 1,000,000); it builds nothing. To compare two revisions, run it from a
checkout of each (``git worktree add``) against the same data.

Run: python bench/metrics_live.py --database-url postgresql://postgres@127.0.0.1:5432/trellis_million
     [--customers 1000000] [--runs 3] [--metrics funnel,revenue,rep_kpis]
Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from urllib.parse import quote

from sqlalchemy import select

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from api.app import create_app  # noqa: E402
from core.metrics import MetricQuery  # noqa: E402
from core.models import User  # noqa: E402

ASKS = {"funnel": {}, "revenue": {"group_by": "period:month"}, "rep_kpis": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="the PostgreSQL database bench/million.py filled")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--metrics", default=",".join(ASKS), help=f"comma-separated, of {', '.join(ASKS)}")
    args = parser.parse_args()
    schema = f"trellis_bench_million_{args.customers}"
    url = args.database_url
    url = f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema},public')}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    rt = app.extensions["trellis"]
    print(f"{schema}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'who':6} {'metric':9} {'fastest ms':>11}  runs (ms)")
    with app.app_context():
        for role in ("admin", "rep"):
            for name in args.metrics.split(","):
                times = []
                for _ in range(args.runs):
                    with rt.database.unit_of_work() as session:
                        actor = session.scalars(select(User).where(User.role == role).order_by(User.email)).first()
                        if actor is None:
                            raise SystemExit(f"No {role} in {schema}: run bench/million.py --reuse first.")
                        started = time.perf_counter()
                        rt.metrics.evaluate(name, MetricQuery(actor=actor, **ASKS[name]))
                        times.append((time.perf_counter() - started) * 1000)
                print(f"{role:6} {name:9} {min(times):11,.0f}  {', '.join(f'{t:,.0f}' for t in times)}", flush=True)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
