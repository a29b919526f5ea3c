"""Benchmark: how long Trellis takes to start, in fresh processes.

Each case runs ``--runs`` times (default 5) in a new Python process; the table shows the median CPU time
(user + sys of the child, from ``resource.getrusage(RUSAGE_CHILDREN)``) and the median wall time:

  * ``import api.app``: the modules the app factory needs, nothing built;
  * ``create_app()``: every built-in plugin, on an SQLite file in a temporary directory;
  * ``trellis --help``, ``trellis plugins list``, ``trellis tokens create --help``: the command line as a
    user types it (``api.cli.main``, what the ``trellis`` console script calls);
  * ``trellis users create`` + ``trellis tokens create``: write a user and a token to a migrated
    SQLite file (the database is migrated once, before the runs, and not timed).

The run is appended to docs/performance.md, section "Start-up" (``--no-record`` only prints it).
``--tree DIR`` measures another checkout (e.g. ``--tree /work/main`` for the numbers before a change)
while recording into this one's docs.

Run: python bench/startup.py [--runs 5] [--label after] [--tree DIR] [--no-record]. Not a test.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DOC = HERE / "docs" / "performance.md"
SECTION = "## Start-up"

CLI = "import sys; from api.cli import main; sys.exit(main())"
#: (name, python -c source, arguments, needs a migrated database)
CASES = [
    ("import api.app", "import api.app", [], False),
    ("create_app() (all plugins)", "from api.app import create_app; create_app()", [], False),
    ("trellis --help", CLI, ["--help"], False),
    ("trellis plugins list", CLI, ["plugins", "list"], False),
    ("trellis tokens create --help", CLI, ["tokens", "create", "--help"], False),
    ("trellis users create", CLI, ["users", "create", "{email}", "--no-password"], True),
    ("trellis tokens create", CLI, ["tokens", "create", "bench@example.com"], True),
]


def run_once(source: str, args: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one fresh process; fails loudly if the process fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", source, *args], env=env, cwd=cwd,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{source} {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def measure(tree: Path, runs: int) -> list[tuple[str, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="trellis-startup-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
        env.update(PYTHONPATH=str(tree), TRELLIS_DATABASE_URL=f"sqlite:///{tmp}/trellis.db",
                   TRELLIS_INSTANCE_PATH=tmp, TRELLIS_PLUGINS="all", PYTHONDONTWRITEBYTECODE="")
        # warm the bytecode caches and migrate the database the writing commands use (not timed)
        run_once(CLI, ["db", "upgrade"], env, tmp)
        run_once(CLI, ["users", "create", "bench@example.com", "--no-password"], env, tmp)
        for name, source, args, _db in CASES:
            cpus, walls = [], []
            for i in range(runs):
                argv = [a.format(email=f"bench{i}-{time.monotonic_ns()}@example.com") for a in args]
                cpu, wall = run_once(source, argv, env, tmp)
                cpus.append(cpu)
                walls.append(wall)
            rows.append((name, statistics.median(cpus), statistics.median(walls)))
            print(f"  {name:<32} {rows[-1][1]:6.2f} s CPU {rows[-1][2]:6.2f} s wall", file=sys.stderr)
    return rows


def table(rows: list[tuple[str, float, float]]) -> str:
    lines = ["| case | CPU (s) | wall (s) |", "|---|---:|---:|"]
    lines += [f"| `{name}` | {cpu:.2f} | {wall:.2f} |" for name, cpu, wall in rows]
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{platform.node()}: {model}, {os.cpu_count()} CPUs, load {load}; Python {platform.python_version()} "
            f"on {platform.system()} {platform.release()}")


def record(text: str) -> None:
    """Append ``text`` at the end of the "Start-up" section (made if missing), leaving other sections."""
    doc = DOC.read_text() if DOC.exists() else "# Performance\n\nMeasurements, newest last in each section.\n"
    if SECTION not in doc:
        doc = doc.rstrip("\n") + f"\n\n{SECTION}\n\nMeasured by `bench/startup.py` (median of fresh processes).\n"
    start = doc.index(SECTION) + len(SECTION)
    following = re.search(r"^## ", doc[start:], flags=re.M)
    end = start + following.start() if following else len(doc)
    head, tail = doc[:end].rstrip("\n"), doc[end:]
    doc = head + "\n\n" + text.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    DOC.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--label", default="", help="What was measured (e.g. 'before', 'after').")
    parser.add_argument("--tree", type=Path, default=HERE, help="The checkout to measure (default: this one).")
    parser.add_argument("--no-record", action="store_true", help="Print only; do not append to docs/performance.md.")
    opts = parser.parse_args()
    tree = opts.tree.resolve()
    rows = measure(tree, opts.runs)
    commit = subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True,
                            text=True).stdout.strip()
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    title = f"### {when}{f' — {opts.label}' if opts.label else ''}"
    text = (f"{title}\n\n{machine()}. Commit `{commit}`, median of {opts.runs} runs.\n\n{table(rows)}\n")
    print(text)
    if not opts.no_record:
        record(text)
        print(f"(appended to {DOC.relative_to(HERE)})", file=sys.stderr)


if __name__ == "__main__":
    main()
