"""Scheduled jobs: what ``trellis tick`` runs. Each job runs in its own unit of work and is idempotent."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable


@dataclass(frozen=True)
class Job:
    """A scheduled job, declared by ``trellis_scheduled_jobs``: ``trellis tick`` and the worker run
    ``run(now)`` in a unit of work of its own (a failure rolls back its writes only). ``name`` is unique
    across the app (prefix it with the plugin's name); ``description`` is what ``trellis tick`` lists.
    ``schedule`` is a cron expression (5 fields, or 6 with seconds last) for a job that must not follow
    ``TRELLIS_JOB_SCHEDULE``, the schedule of every other job (core.queue)."""

    name: str
    #: ``run(now) -> summary``; must be safe to run again at once (it sends nothing twice)
    run: Callable[[datetime], Any]
    description: str = ""
    schedule: str = ""


def run_all(runtime, now: datetime) -> list[tuple[str, Any]]:
    """Run every job of the runtime, each in its own unit of work; one job's failure does not stop the
    others (it is reported as the job's result and its writes are rolled back). A job a worker (or another
    ``trellis tick``) is running at that moment is left to it: its result is ``core.queue.SKIPPED``."""
    from core import prometheus, queue

    results = []
    for job in runtime.jobs:
        started, ok = time.monotonic(), False
        try:
            with runtime.database.unit_of_work():
                if not queue.claim_job(runtime, queue.JOB_TASK_PREFIX + job.name):
                    results.append((job.name, queue.SKIPPED))
                    continue
                results.append((job.name, job.run(now)))
            ok = True
        except Exception as exc:  # reported, not swallowed: the CLI prints it and exits non-zero
            results.append((job.name, exc))
        prometheus.job_finished(job.name, ok, time.monotonic() - started)
    return results
