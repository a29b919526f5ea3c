"""Benchmark: Trellis over HTTP, side by side with a bare Flask app doing the same (the yardstick).

Starts two gunicorns with the same settings (2 gthread workers x 4 threads, keep-alive 30 s,
no ``--preload``, as docs/deployment.md): the yardstick (``bench/yardstick.py``: Flask 3 + SQLAlchemy 2 + psycopg 3, one
``customers`` table, a static bearer token, the same JSON fields as Trellis' customer) and Trellis
(``api.wsgi:app`` in production mode, every built-in plugin enabled, migrated with ``trellis db upgrade``,
an admin and an API token made with ``trellis users create`` / ``trellis tokens create``). Each app gets a
database of its own on the PostgreSQL server (``bench_http_yardstick_<id>``, ``bench_http_trellis_<id>``),
dropped at the end; the gunicorns are stopped by their PIDs in a ``finally``, on error or Ctrl-C too.

One sequential keep-alive client (``http.client``) then runs, per round and per app in turn:
  create   POST /api/v1/customers                 (--creates)
  list     GET  /api/v1/customers?page_size=100   (--lists; pages 1-5 in turn, fewer while fewer are full)
  detail   GET  /api/v1/customers/<id>            (--details; ids created earlier, shuffled)
  graphql  POST /graphql: customers(first: 50) with their contacts (--graphqls; Trellis only)
after an untimed warm-up (which also gives the first 50 customers by name two contacts each).

Prints, per phase and app: requests/s (median of the rounds), p50 and p99 latency (all rounds), SQL
statements per request and Trellis' ratio to the yardstick; then appends the table, with the date, the
machine (nproc, CPU model) and the load average before and after, to docs/performance.md under
"HTTP side by side" (--no-docs: print only). Statements: ``pg_stat_statements`` when the server preloads
it; otherwise (the usual case here) counted in each worker on SQLAlchemy's ``before_cursor_execute``
(``bench/counting.py``; COMMIT not included), and the output says which.

Run: python bench/http_side_by_side.py [--creates 2000 --lists 1000 --details 2000 --graphqls 300 --rounds 3] [--quick]
     [--clients 4,16]   (then create / list / detail again with 4 and with 16 clients at once)
     [--database-url postgresql://postgres@127.0.0.1:5432/test]
     [--logs DIR]   (keep both gunicorns' logs: Trellis' access lines give each request's duration, to find a tail)
Prints numbers; not a test. Latencies include the client (same for both apps).
"""
from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from urllib.parse import urlsplit, urlunsplit  # noqa: E402

import psycopg  # noqa: E402

ROOT = os.path.dirname(_HERE)
PYTHON = sys.executable
GUNICORN = ["-m", "gunicorn", "--workers", "2", "--worker-class", "gthread", "--threads", "4",
            "--keep-alive", "30"]   # gunicorn's default 2 s would close a client's connection between phases
GRAPHQL = ("query { customers(first: 50) { edges { node { id name level stage "
           "contacts { edges { node { id name email isPrimary } } } } } } }")
PHASES = ("create", "list", "detail", "graphql")
#: what ``--clients N`` runs with N clients at once (each its own keep-alive connection)
CONCURRENT_PHASES = ("create", "list", "detail")
WARM_CUSTOMERS = 120   # warm-up customers, named to sort first: a list page of 100 is always full …
WARM_CONTACTS = 60     # … and the GraphQL page (the first 50 by name) holds theirs, with 2 contacts each


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--creates", type=int, default=2000)
    p.add_argument("--lists", type=int, default=1000)
    p.add_argument("--details", type=int, default=2000)
    p.add_argument("--graphqls", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true",
                   help="a quick run: 200 creates, 100 lists, 200 details, 30 GraphQL pages, 2 rounds "
                        "(explicit counts still win)")
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test",
                   help="a PostgreSQL database to connect to; the two bench databases are created next to it")
    p.add_argument("--clients", default="",
                   help="after the rounds, create / list / detail again with N clients at once for each N of this "
                        "comma-separated list (e.g. 4,16): req/s should grow and p99 stay bounded")
    p.add_argument("--docs", default=os.path.join(ROOT, "docs", "performance.md"))
    p.add_argument("--no-docs", action="store_true", help="print only; do not append to --docs")
    p.add_argument("--logs", metavar="DIR",
                   help="copy both gunicorns' logs (Trellis' access lines carry each request's duration) to DIR")
    args = p.parse_args(argv)
    if args.quick:
        given = set(a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:]))
        for name, value in (("creates", 200), ("lists", 100), ("details", 200), ("graphqls", 30), ("rounds", 2)):
            if f"--{name}" not in given:
                setattr(args, name, value)
    return args


# --- the databases ----------------------------------------------------------------------------------

def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class Databases:
    """Creates the bench databases; :meth:`drop` drops them (FORCE: closes leftover connections)."""

    def __init__(self, url: str):
        self.url = url
        self.names: list[str] = []

    def admin(self):
        return psycopg.connect(self.url, autocommit=True)

    def create(self, name: str) -> str:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return with_database(self.url, name)

    def drop(self) -> None:
        with self.admin() as conn:
            for name in self.names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()

    def pg_stat_statements(self) -> bool:
        with self.admin() as conn:
            preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        return "pg_stat_statements" in preload


# --- the servers ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn (a session of its own); :meth:`stop` ends it by its PID."""

    def __init__(self, label: str, target: str, env: dict, workdir: str):
        self.label, self.port = label, free_port()
        self.statements = os.path.join(workdir, f"{label}.statements")
        self.log_path = os.path.join(workdir, f"{label}.log")
        env = {**env, "BENCH_STATEMENTS_FILE": self.statements}
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [PYTHON, *GUNICORN, "--bind", f"127.0.0.1:{self.port}", target],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label}: gunicorn exited ({self.proc.returncode}); see {self.log_path}:\n"
                                   + open(self.log_path, errors="replace").read()[-3000:])
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/v1/customers")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"{self.label}: not answering after {timeout:.0f} s; see {self.log_path}")

    def statement_lines(self) -> list[int]:
        try:
            with open(self.statements) as f:
                return [int(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)      # the master stops its workers
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)   # its own session: the group id is its PID
                self.proc.wait(timeout=5)
        self.log.close()


def trellis_env(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    env.update({
        "PYTHONPATH": ROOT, "TRELLIS_ENV": "production", "TRELLIS_DATABASE_URL": database_url,
        "TRELLIS_SECRET_KEY": secrets.token_hex(32), "TRELLIS_PLUGINS": "all",
    })
    return env


def trellis_cli(env: dict, *arguments: str) -> str:
    done = subprocess.run([PYTHON, "-c", "from api.cli import main; main()", *arguments], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"trellis {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


# --- the client -------------------------------------------------------------------------------------

class Client:
    """One keep-alive connection, one request at a time."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def call(self, method: str, path: str, body=None, expect: int = 200):
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        if response.status != expect:
            raise RuntimeError(f"{method} {path}: {response.status} (expected {expect}): {payload[:500]!r}")
        return payload

    def close(self):
        self.conn.close()

    def reconnect(self):
        """A fresh connection (untimed): the server may have closed an idle one while the other app ran."""
        self.conn.close()
        self.conn.connect()


def customer_body(name: str, i: int) -> dict:
    return {"name": name, "kind": "company", "industry": ("Retail", "Software", "Logistics")[i % 3],
            "region": ("East", "West", "North")[i % 3], "size": "small", "notes": "Made by bench/http_side_by_side.py",
            "tags": ["bench", f"t{i % 5}"]}


def run_phase(client: Client, phase: str, count: int, round_no: int, ids: list[str]) -> list[float]:
    """Runs one phase; returns the latency of each request in seconds."""
    times: list[float] = []
    clock = time.perf_counter
    if phase == "create":
        for i in range(count):
            body = customer_body(f"Customer r{round_no}-{i:06d}", i)
            t0 = clock()
            payload = client.call("POST", "/api/v1/customers", body, expect=201)
            times.append(clock() - t0)
            ids.append(json.loads(payload)["id"])
    elif phase == "list":
        pages = max(1, min(5, len(ids) // 100))
        for i in range(count):
            t0 = clock()
            payload = client.call("GET", f"/api/v1/customers?page_size=100&page={i % pages + 1}")
            times.append(clock() - t0)
            if i == 0 and len(json.loads(payload)) != 100:
                raise RuntimeError("a list page did not hold 100 customers")
    elif phase == "detail":
        rng = random.Random(round_no)
        for i in range(count):
            t0 = clock()
            client.call("GET", f"/api/v1/customers/{rng.choice(ids)}")
            times.append(clock() - t0)
    elif phase == "graphql":
        body = {"query": GRAPHQL}
        for i in range(count):
            t0 = clock()
            payload = client.call("POST", "/graphql", body)
            times.append(clock() - t0)
            if i == 0:
                data = json.loads(payload)
                if data.get("errors") or len(data["data"]["customers"]["edges"]) != 50:
                    raise RuntimeError(f"GraphQL page: {payload[:500]!r}")
    return times


def run_concurrent(port: int, token: str, phase: str, count: int, clients: int, ids: list[str]) -> tuple[list[float], float]:
    """``phase`` with ``clients`` clients at once, ``count`` requests in all; returns every latency and the
    wall time."""
    connections = [Client(port, token) for _ in range(clients)]
    results: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            share = count // clients + (1 if index < count % clients else 0)
            results[index] = run_phase(connections[index], phase, share, 1000 * clients + index, ids)
        except BaseException as exc:  # reported after the join, with the others' results dropped
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    for connection in connections:
        connection.close()
    if errors:
        raise errors[0]
    return [t for times in results for t in times], elapsed


def warm_up(client: Client, label: str, ids: list[str]) -> None:
    for i in range(WARM_CUSTOMERS):
        ids.append(json.loads(client.call("POST", "/api/v1/customers",
                                          customer_body(f"Acme warm-up {i:03d}", i), expect=201))["id"])
    if label == "trellis":
        for i, cid in enumerate(ids[:WARM_CONTACTS]):
            for j in range(2):
                client.call("POST", "/api/v1/contacts", {"customer_id": cid, "name": f"Contact {i}-{j}",
                                                         "email": f"c{i}.{j}@example.com", "is_primary": j == 0},
                            expect=201)
    for _ in range(40):
        client.call("GET", "/api/v1/customers?page_size=100")
        client.call("GET", f"/api/v1/customers/{random.choice(ids)}")
        if label == "trellis":
            client.call("POST", "/graphql", {"query": GRAPHQL})


# --- reporting --------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def table(results: dict) -> list[str]:
    """Markdown rows: phase | app | requests | req/s | p50 ms | p99 ms | statements/req | ratio."""
    lines = ["| phase | app | requests | req/s | p50 ms | p99 ms | SQL statements/req | Trellis ÷ yardstick |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    concurrent = sorted({key[0] for key in results if "×" in key[0]}, key=lambda p: (int(p.split("×")[1]), p))
    for phase in (*PHASES, *concurrent):
        for label in ("yardstick", "trellis"):
            r = results.get((phase, label))
            if r is None:
                if phase == "graphql" and label == "yardstick":
                    lines.append("| graphql | yardstick | – | – | – | – | – | (no GraphQL in the yardstick) |")
                continue
            ratio = ""
            y = results.get((phase, "yardstick"))
            if label == "trellis" and y is not None:
                ratio = (f"{r['rps'] / y['rps']:.2f}× req/s, {r['p50'] / y['p50']:.1f}× p50, "
                         f"{r['p99'] / y['p99']:.1f}× p99")
            stm = f"{r['statements']:.1f}" if r["statements"] is not None else "not measured"
            lines.append(f"| {phase} | {label} | {r['n']} | {r['rps']:.0f} | {r['p50'] * 1000:.1f} | "
                         f"{r['p99'] * 1000:.1f} | {stm} | {ratio} |")
    return lines


def append_docs(path: str, block: list[str]) -> None:
    text = open(path).read() if os.path.exists(path) else "# Performance\n"
    if "\n## HTTP side by side" not in "\n" + text:
        text = text.rstrip("\n") + "\n\n## HTTP side by side\n\n" + (
            "`python bench/http_side_by_side.py` (docs in its docstring): Trellis and a bare Flask + SQLAlchemy + psycopg app "
            "(`bench/yardstick.py`) under the same gunicorn (2 gthread workers × 4 threads) on the same "
            "PostgreSQL, one sequential keep-alive client. Each run appends its table below; compare the "
            "ratios within a run.\n")
        with open(path, "w") as f:
            f.write(text)
    # append at the end of the section (before the next "## " heading, if any)
    head, sep, rest = text.partition("\n## HTTP side by side\n")
    nxt = rest.find("\n## ")
    section, tail = (rest, "") if nxt < 0 else (rest[:nxt + 1], rest[nxt + 1:])
    section = section.rstrip("\n") + "\n\n" + "\n".join(block) + "\n"
    with open(path, "w") as f:
        f.write(head + sep + section + ("\n" + tail if tail else ""))


# --- main -------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    args = parse_args(argv)
    concurrency = [int(n) for n in args.clients.split(",") if n.strip()]
    run_id = secrets.token_hex(3)
    started = datetime.now(timezone.utc)
    load_before = load()
    print(f"bench/http_side_by_side.py  {started:%Y-%m-%d %H:%M} UTC  {machine()}", flush=True)
    print(f"load average before: {load_before}", flush=True)
    dbs = Databases(args.database_url)
    pgss = dbs.pg_stat_statements()
    statements_how = ("counted in the workers (SQLAlchemy before_cursor_execute; COMMIT not counted); "
                      + ("the server preloads pg_stat_statements, but it is not read" if pgss
                         else "the server does not preload pg_stat_statements"))
    servers: dict[str, Server] = {}
    clients: dict[str, Client] = {}
    ids: dict[str, list[str]] = {"yardstick": [], "trellis": []}
    samples: dict[tuple, list[float]] = {}
    rates: dict[tuple, list[float]] = {}
    stmts: dict[tuple, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="trellis_bench_http_") as work:
        try:
            y_url = dbs.create(f"bench_http_yardstick_{run_id}")
            t_url = dbs.create(f"bench_http_trellis_{run_id}")
            y_token = secrets.token_urlsafe(32)
            y_env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
            y_env.update({"PYTHONPATH": ROOT, "YARDSTICK_DATABASE_URL": y_url, "YARDSTICK_TOKEN": y_token})
            t_env = trellis_env(t_url)
            print("migrating Trellis …", flush=True)
            trellis_cli(t_env, "db", "upgrade")
            trellis_cli(t_env, "users", "create", "bench@example.com", "--role", "admin", "--name", "Bench",
                        "--no-password")
            t_token = trellis_cli(t_env, "tokens", "create", "bench@example.com", "--name", "bench").strip().splitlines()[-1]
            servers["yardstick"] = Server("yardstick", "bench.counting:yardstick()", y_env, work)
            servers["trellis"] = Server("trellis", "bench.counting:trellis()", t_env, work)
            for server in servers.values():
                server.wait_ready()
            clients = {"yardstick": Client(servers["yardstick"].port, y_token),
                       "trellis": Client(servers["trellis"].port, t_token)}
            print("warming up …", flush=True)
            for label, client in clients.items():
                warm_up(client, label, ids[label])
            counts = {"create": args.creates, "list": args.lists, "detail": args.details, "graphql": args.graphqls}
            for round_no in range(1, args.rounds + 1):
                for phase in PHASES:
                    for label in ("yardstick", "trellis"):
                        if phase == "graphql" and label == "yardstick" or counts[phase] <= 0:
                            continue
                        server = servers[label]
                        time.sleep(0.2)
                        clients[label].reconnect()
                        before = len(server.statement_lines())
                        t0 = time.perf_counter()
                        times = run_phase(clients[label], phase, counts[phase], round_no, ids[label])
                        elapsed = time.perf_counter() - t0
                        time.sleep(0.3)   # the last response's count is written when gunicorn closes it
                        lines = server.statement_lines()[before:]
                        samples.setdefault((phase, label), []).extend(times)
                        rates.setdefault((phase, label), []).append(len(times) / elapsed)
                        stmts.setdefault((phase, label), []).extend(lines)
                        print(f"  round {round_no} {phase:8s} {label:9s} {len(times) / elapsed:7.0f} req/s  "
                              f"p50 {statistics.median(times) * 1000:6.1f} ms", flush=True)
            tokens = {"yardstick": y_token, "trellis": t_token}
            for n in concurrency:
                for phase in CONCURRENT_PHASES:
                    for label in ("yardstick", "trellis"):
                        if counts[phase] <= 0:
                            continue
                        server = servers[label]
                        time.sleep(0.2)
                        before = len(server.statement_lines())
                        times, elapsed = run_concurrent(server.port, tokens[label], phase, counts[phase], n, ids[label])
                        time.sleep(0.3)
                        key = (f"{phase} ×{n}", label)
                        samples[key] = times
                        rates[key] = [len(times) / elapsed]
                        stmts[key] = server.statement_lines()[before:]
                        print(f"  {n:2d} clients {phase:8s} {label:9s} {len(times) / elapsed:7.0f} req/s  "
                              f"p99 {percentile(times, 0.99) * 1000:6.1f} ms", flush=True)
        finally:
            for client in clients.values():
                client.close()
            for server in servers.values():
                server.stop()
                if args.logs:
                    os.makedirs(args.logs, exist_ok=True)
                    shutil.copy(server.log_path, args.logs)
            dbs.drop()
    load_after = load()
    results = {}
    for key, times in samples.items():
        counted = stmts.get(key) or []
        results[key] = {"n": len(times), "rps": statistics.median(rates[key]), "p50": statistics.median(times),
                        "p99": percentile(times, 0.99),
                        "statements": (sum(counted) / len(counted)) if counted else None}
    command = "python bench/http_side_by_side.py " + " ".join(argv if argv is not None else sys.argv[1:])
    block = [f"### {started:%Y-%m-%d %H:%M} UTC — {machine()}", "",
             f"`{command.strip()}`: {args.rounds} round(s); req/s is the median of the rounds, p50/p99 over all "
             f"of them. Load average (1/5/15 min) before {load_before}, after {load_after} (a shared machine: "
             f"other processes ran). SQL statements: {statements_how}.", ""] + table(results)
    print()
    print("\n".join(block))
    if not args.no_docs:
        append_docs(args.docs, block)
        print(f"\nappended to {os.path.relpath(args.docs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
