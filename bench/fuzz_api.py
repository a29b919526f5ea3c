"""Fuzz the REST and GraphQL APIs on a big budget, by hand (CI runs the same tests on a small one).

    python bench/fuzz_api.py                 # 50 examples per operation, SQLite
    python bench/fuzz_api.py --examples 200
    TRELLIS_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/fuzz_api.py

It runs ``tests/api/test_api_contract.py``'s two fuzz tests (schemathesis, positive and negative cases,
derandomized, each case sent as an admin and as a rep) with ``TRELLIS_FUZZ_EXAMPLES`` raised, then prints
how many requests went out, their status codes, the failures (5xx, schema violations) and the time taken.
Not a unit test: pytest never collects ``bench/``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50, help="max examples per operation (default 50)")
    parser.add_argument("-k", default="answers", help="pytest -k expression (default: both fuzz tests)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "tally.json"
        env = {**os.environ, "TRELLIS_FUZZ_EXAMPLES": str(args.examples), "TRELLIS_FUZZ_REPORT": str(report)}
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/api/test_api_contract.py", "-k", args.k, "-q",
             "-p", "no:cacheprovider"], cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        tally = json.loads(report.read_text()) if report.exists() else {}

    database = os.environ.get("TRELLIS_TEST_DATABASE_URL", "sqlite").split(":")[0]
    print(f"budget: {args.examples} examples per operation, as admin and as rep; database: {database}")
    print(f"time: {elapsed:.0f} s")
    for transport, counts in tally.items():
        total = sum(counts.values())
        by_status = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items(), key=lambda kv: int(kv[0])))
        server_errors = sum(n for status, n in counts.items() if int(status) >= 500)
        print(f"{transport}: {total} requests; 5xx: {server_errors}; by status: {by_status}")
    if result.returncode:
        print("result: FAILURES (pytest output follows)")
        print(result.stdout[-20000:])
    else:
        print("result: 0 server errors, 0 schema violations")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
