"""Benchmark: how long Trellis takes to start, in fresh processes.

Each case runs ``--runs`` times (default 5) in a new Python process; the table shows the median CPU time
(user + sys of the child, from ``resource.getrusage(RUSAGE_CHILDREN)``) and the median wall time:

  * ``import api.app``: the modules the app factory needs, nothing built;
  * ``create_app()``: every built-in plugin, on an SQLite file in a temporary directory; the whole process
    (interpreter start, imports, the build and the interpreter's exit, which alone tears down ~0.3 s of
    objects), and ``create_app() itself``: the CPU and wall time of the call only, measured inside the
    process (``time.process_time``) after ``api.app`` is imported — what issue #16 sets under 1.5 s;
  * ``trellis --help``, ``trellis plugins list``, ``trellis tokens create --help``: the command line as a
    user types it (``api.cli.main``, what the ``trellis`` console script calls);
  * ``trellis users create`` + ``trellis tokens create``: write a user and a token to a migrated
    SQLite file (the database is migrated once, before the runs, and not timed).

The run is appended to docs/performance.md, section "Start-up" (``--no-record`` only prints it).
``--tree DIR`` measures another checkout while recording into this one's docs; ``--baseline DIR`` measures
a second checkout too (e.g. ``git archive main | tar -x -C /tmp/main``), each run of a case right after
the same run of the other, so both see the same load on a shared machine, and shows the two side by side.

Run: python bench/startup.py [--runs 5] [--label after] [--tree DIR] [--baseline DIR] [--no-record].
Not a test.
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
#: times the call only and prints it; run_once reads that line instead of the process' usage
INNER = ("import time; from api.app import create_app; c, w = time.process_time(), time.perf_counter(); "
         "create_app(); print('inner', time.process_time() - c, time.perf_counter() - w)")
#: (name, python -c source, arguments, needs a migrated database)
CASES = [
    ("import api.app", "import api.app", [], False),
    ("create_app() (all plugins)", "from api.app import create_app; create_app()", [], False),
    ("create_app() itself", INNER, [], False),
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
    inner = [line.split() for line in done.stdout.splitlines() if line.startswith("inner ")]
    if inner:  # the case timed itself (INNER)
        return float(inner[-1][1]), float(inner[-1][2])
    return cpu, wall


def _env(tree: Path, tmp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    env.update(PYTHONPATH=str(tree), TRELLIS_DATABASE_URL=f"sqlite:///{tmp}/trellis.db",
               TRELLIS_INSTANCE_PATH=tmp, TRELLIS_PLUGINS="all", PYTHONDONTWRITEBYTECODE="")
    return env


def measure(trees: list[Path], runs: int) -> list[tuple[str, list[tuple[float, float]]]]:
    """Per case, the (median CPU, median wall) of each tree; the trees take turns run by run."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="trellis-startup-") as tmp:
        envs, dirs = [], []
        for i, tree in enumerate(trees):
            home = Path(tmp) / str(i)
            home.mkdir()
            env = _env(tree, str(home))
            # warm the bytecode caches and migrate the database the writing commands use (not timed)
            run_once(CLI, ["db", "upgrade"], env, str(home))
            run_once(CLI, ["users", "create", "bench@example.com", "--no-password"], env, str(home))
            envs.append(env)
            dirs.append(str(home))
        for name, source, args, _db in CASES:
            samples: list[list[tuple[float, float]]] = [[] for _ in trees]
            for i in range(runs):
                for t, (env, home) in enumerate(zip(envs, dirs)):
                    argv = [a.format(email=f"bench{i}-{time.monotonic_ns()}@example.com") for a in args]
                    samples[t].append(run_once(source, argv, env, home))
            medians = [(statistics.median(c for c, _ in got), statistics.median(w for _, w in got)) for got in samples]
            rows.append((name, medians))
            print(f"  {name:<32} " + "  |  ".join(f"{cpu:6.2f} s CPU {wall:6.2f} s wall" for cpu, wall in medians),
                  file=sys.stderr)
    return rows


def table(rows: list[tuple[str, list[tuple[float, float]]]], names: list[str]) -> str:
    if len(names) == 1:
        lines = ["| case | CPU (s) | wall (s) |", "|---|---:|---:|"]
        lines += [f"| `{name}` | {m[0][0]:.2f} | {m[0][1]:.2f} |" for name, m in rows]
        return "\n".join(lines)
    head = " | ".join(f"CPU {n} (s)" for n in names) + " | " + " | ".join(f"wall {n} (s)" for n in names)
    lines = [f"| case | {head} |", "|---|" + "---:|" * (2 * len(names))]
    for name, m in rows:
        lines.append(f"| `{name}` | " + " | ".join(f"{cpu:.2f}" for cpu, _ in m) + " | "
                     + " | ".join(f"{wall:.2f}" for _, wall in m) + " |")
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


def _commit(tree: Path) -> str:
    done = subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else f"{tree} (not a git checkout)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--label", default="", help="What was measured (e.g. 'before', 'after').")
    parser.add_argument("--tree", type=Path, default=HERE, help="The checkout to measure (default: this one).")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="A checkout to measure too, turn about with --tree (e.g. main before a change).")
    parser.add_argument("--no-record", action="store_true", help="Print only; do not append to docs/performance.md.")
    opts = parser.parse_args()
    trees = [opts.tree.resolve()] if opts.baseline is None else [opts.baseline.resolve(), opts.tree.resolve()]
    names = ["this"] if opts.baseline is None else ["before", "after"]
    rows = measure(trees, opts.runs)
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    title = f"### {when}{f' — {opts.label}' if opts.label else ''}"
    measured = (f"Commit `{_commit(trees[0])}`" if len(trees) == 1 else
                f"Before: `{_commit(trees[0])}`; after: `{_commit(trees[1])}`, runs taking turns")
    text = f"{title}\n\n{machine()}. {measured}, median of {opts.runs} runs.\n\n{table(rows, names)}\n"
    print(text)
    if not opts.no_record:
        record(text)
        print(f"(appended to {DOC.relative_to(HERE)})", file=sys.stderr)


if __name__ == "__main__":
    main()
