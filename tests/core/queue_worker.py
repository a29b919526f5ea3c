"""A ``trellis worker`` for tests/core/test_queue_workers.py, started as ``python -u -m
tests.core.queue_worker``: the PostgreSQL worker of ``core.queue.serve`` over the runtime of the TRELLIS_*
environment — without the Flask app, so it starts in a second rather than ten — plus the plugin
``qtest`` when ``QTEST_MARKER`` names a file: its job ``qtest.slow`` (schedule ``QTEST_SLOW_SCHEDULE``)
writes that file and hangs the first time it runs, and returns at once once the file exists.
Job lines go to standard output."""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from core import queue
from core.config import load_settings
from core.hookspecs import hookimpl
from core.jobs import Job
from core.runtime import build_runtime


def slow(now) -> str:
    marker = Path(os.environ["QTEST_MARKER"])
    if marker.exists():
        return "quick"
    marker.write_text(str(os.getpid()))
    time.sleep(120)   # until the test kills this worker
    return "slept"


def plugin() -> SimpleNamespace:
    jobs = [Job("qtest.slow", slow, "Hangs the first time.", schedule=os.environ.get("QTEST_SLOW_SCHEDULE", ""))]
    return SimpleNamespace(name="qtest", version="1", trellis_scheduled_jobs=hookimpl(lambda: jobs))


def main() -> None:
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="%(message)s")
    logging.getLogger("trellis").setLevel(logging.INFO)
    extra = [plugin()] if os.environ.get("QTEST_MARKER") else []
    runtime = build_runtime(load_settings(), extra_plugins=extra)
    queue.serve(runtime, concurrency=int(os.environ.get("QTEST_CONCURRENCY", "2")))


if __name__ == "__main__":
    main()
