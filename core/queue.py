"""Background work: the scheduled jobs of ``trellis_scheduled_jobs`` and webhook deliveries, run by
``trellis worker`` (docs/deployment.md, "Background work").

- **PostgreSQL**: on procrastinate, in the application's database (its ``procrastinate_*`` schema is a
  core migration). Every :class:`core.jobs.Job` is a procrastinate task deferred periodically on
  :func:`schedule_of` — once per period for the whole cluster, whatever the number of workers (the
  database refuses a second defer of the same period) — with a ``lock`` (never two runs of one job at
  once) and a ``queueing_lock`` (never more than one waiting). Failed runs are retried with backoff
  (:data:`RETRY`). A change that queues a webhook delivery also defers a :data:`DELIVER_TASK` job in
  its own transaction (:func:`_before_commit`), so the worker (woken by ``LISTEN/NOTIFY``) sends it
  within a second of the commit. :func:`serve` keeps a worker running through database outages and
  stops it gracefully on SIGTERM; the jobs of a worker that died (SIGKILL, power loss) are retried by
  :data:`STALLED_TASK` once its heartbeat is older than ``TRELLIS_WORKER_STALLED_SECONDS``.
- **SQLite**: :class:`LocalRunner`, an in-process runner over the same jobs (a thread of ``trellis
  serve``, or the foreground of ``trellis worker``); a commit that queued a delivery wakes it.

Long tasks a request asks for (an analytics refresh, a privacy erasure, an uploaded import, an export, a
plugin's own through ``trellis_long_tasks``; :func:`tasks`) are :class:`Task` s: the service records the item (e.g. an ``analytics_run``, ``queued``) and calls
:func:`enqueue` in the same unit of work. On PostgreSQL that defers a procrastinate job in that
transaction (a rollback removes both); on SQLite the commit wakes the in-process runner, which runs every
waiting item. Either way a failed run is tried again :data:`MAX_ATTEMPTS` times with the same backoff,
and only the last failure is final.

Each job run logs one line on the ``trellis.jobs`` logger: the job's name, its outcome and its duration; and
counts in the job metrics (core/prometheus.py: runs, failures, duration by job name).
"""
from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from core import prometheus

if TYPE_CHECKING:
    from core.jobs import Job
    from core.runtime import Runtime

log = logging.getLogger("trellis.jobs")

#: The newest procrastinate schema migration Trellis' migrations have applied (core revision
#: d7e3b1a90c42 creates the schema at this level). A procrastinate with a newer one needs a new revision.
SCHEMA_LEVEL = "03.04.00_50_post_add_retry_failed_job_procedure"
#: The procrastinate queue Trellis' jobs go to.
QUEUE = "trellis"
#: Sends the due webhook deliveries now; deferred in the transaction that queued one.
DELIVER_TASK = "trellis.webhooks.deliver_now"
#: Retries the jobs of workers whose heartbeat stopped (killed mid-job).
STALLED_TASK = "trellis.retry_stalled_jobs"
#: A scheduled job ``name`` runs as the procrastinate task ``trellis.job:name``.
JOB_TASK_PREFIX = "trellis.job:"
#: Retries of a failing job (procrastinate's ``max_attempts``: a first run, then up to 5 more) and the
#: waits before them: 2, 4, 8, 16, 32 s.
MAX_ATTEMPTS = 5
EXPONENTIAL_WAIT = 2
#: Seconds between two webhook delivery rounds of the SQLite runner when nothing wakes it (another
#: process's commits, retries coming due).
LOCAL_POLL_SECONDS = 2.0
#: Seconds a worker waits for a database connection before it counts the database as gone.
POOL_TIMEOUT = 5
#: Longest wait between two attempts of a worker to reach the database again.
MAX_RECONNECT_SECONDS = 30.0


# --- schema ------------------------------------------------------------------------------------------

def installed_schema_level() -> str:
    """The newest schema migration of the installed procrastinate (its file name without ``.sql``)."""
    from procrastinate import schema

    return max(path.stem for path in Path(schema.migrations_path).glob("*.sql"))


def check_schema_level() -> None:
    """Refuse a procrastinate whose schema is not the one Trellis' migrations build."""
    from core.errors import ConfigError

    level = installed_schema_level()
    if level != SCHEMA_LEVEL:
        import importlib.metadata

        version = importlib.metadata.version("procrastinate")
        raise ConfigError(
            f"The installed procrastinate {version} has the schema migration {level}, but Trellis' migrations "
            f"build its schema at {SCHEMA_LEVEL}. Install the procrastinate version setup.cfg asks for.")


def schema_sql() -> str:
    from procrastinate.schema import SchemaManager

    return SchemaManager.get_schema()


def is_postgresql(runtime: "Runtime") -> bool:
    return runtime.database.engine.dialect.name == "postgresql"


def conninfo(runtime: "Runtime") -> str:
    """The libpq connection string of the runtime's database (the ``+psycopg`` driver name dropped; the
    query, e.g. ``options=-csearch_path=…``, kept)."""
    url = runtime.database.engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


# --- schedules and job runs ----------------------------------------------------------------------------

def schedule_of(job: "Job", settings: Any) -> str:
    """The job's cron expression: its own ``schedule``, else ``TRELLIS_JOB_SCHEDULE``."""
    return getattr(job, "schedule", "") or settings.job_schedule


def describe_error(exc: BaseException, limit: int | None = 300) -> str:
    """One line saying what went wrong: a typed error's message, else the exception's type and its text
    (a database error's driver message), cut to ``limit`` characters (None: whole). For job log lines and
    the status a failed long task shows."""
    from core.errors import TrellisError

    if isinstance(exc, TrellisError):
        return exc.message
    orig = getattr(exc, "orig", None)
    words = " ".join(str(orig if orig is not None else exc).split())
    return f"{type(exc).__name__}: {words}"[:limit] if words else type(exc).__name__


def _line(name: str, outcome: str, started: float, level: int = logging.INFO, period: int | None = None) -> None:
    """``name: outcome (0.012 s)``, with ``, period 2026-12-04T04:53:06Z`` for a periodic run."""
    when = "" if period is None else \
        f", period {datetime.fromtimestamp(period, timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}"
    log.log(level, "%s: %s (%.3f s%s)", name, outcome, time.monotonic() - started, when)


#: The outcome of a scheduled job found running in another process (``trellis tick`` or a worker).
SKIPPED = "skipped: running elsewhere"

_TRY_XACT_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtext(current_schema()), hashtext(:name))")
_LOCK = text("SELECT pg_advisory_lock(hashtext(current_schema()), hashtext(:name))")
_UNLOCK = text("SELECT pg_advisory_unlock(hashtext(current_schema()), hashtext(:name))")


def claim_job(runtime: "Runtime", name: str) -> bool:
    """In the current unit of work: take the advisory lock ``name`` (a job's :data:`JOB_TASK_PREFIX` name,
    or a :class:`Task`'s ``lock``) until it ends, or answer False when another process holds it. This is
    what keeps ``trellis tick`` and the workers from running one job at once (procrastinate's own
    ``lock`` only orders the jobs it runs). The lock is per database schema; on SQLite there is one
    writer anyway, and it answers True."""
    if not is_postgresql(runtime):
        return True
    from core import db

    return bool(db.session().execute(_TRY_XACT_LOCK, {"name": name}).scalar())


@contextmanager
def holding(runtime: "Runtime", name: str):
    """Hold the advisory lock ``name`` (the one :func:`claim_job` takes) for the block, on a connection of
    its own, waiting for another holder to finish first (PostgreSQL; nothing on SQLite)."""
    if not name or not is_postgresql(runtime):
        yield
        return
    with runtime.database.engine.connect() as conn:
        conn.execute(_LOCK, {"name": name})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(_UNLOCK, {"name": name})
            conn.commit()


def run_job(runtime: "Runtime", job: "Job", now: datetime | None = None, *, period: int | None = None) -> Any:
    """Run one scheduled job in a unit of work of its own and log its line; a failure is logged and
    raised again (the worker retries it). A job another process is running (:func:`claim_job`) is not
    run: its line and result say :data:`SKIPPED`. ``period``: the scheduled time (epoch seconds) of a
    periodic run, shown in the line."""
    started = time.monotonic()
    try:
        with runtime.database.unit_of_work():
            if not claim_job(runtime, JOB_TASK_PREFIX + job.name):
                _line(job.name, SKIPPED, started, period=period)
                return SKIPPED
            result = job.run(now or datetime.now(timezone.utc))
    except Exception as exc:
        _line(job.name, f"failed: {describe_error(exc)}", started, logging.WARNING, period)
        prometheus.job_finished(job.name, False, time.monotonic() - started)
        raise
    _line(job.name, f"ok: {result}", started, period=period)
    prometheus.job_finished(job.name, True, time.monotonic() - started)
    return result


def deliver_now(runtime: "Runtime", *, quiet: bool = False) -> int:
    """Send the due webhook deliveries (``core.services.webhooks.deliver_due``) and log the line."""
    from core.services import webhooks

    started = time.monotonic()
    try:
        sent = webhooks.deliver_due(datetime.now(timezone.utc), runtime=runtime)
    except Exception as exc:
        _line(DELIVER_TASK, f"failed: {describe_error(exc)}", started, logging.WARNING)
        prometheus.job_finished(DELIVER_TASK, False, time.monotonic() - started)
        raise
    if sent or not quiet:
        _line(DELIVER_TASK, f"ok: {sent} sent", started)
    prometheus.job_finished(DELIVER_TASK, True, time.monotonic() - started)
    return sent


@dataclass(frozen=True)
class Task:
    """A long task a request queues. ``run(runtime, item_id, final=...)`` does one item (it opens its own
    units of work, records its outcome on the item and raises on failure; ``final``: no attempt follows,
    so the item is to be marked failed); ``waiting(runtime)`` lists the ids of the items queued, oldest
    first (the SQLite runner's work list); ``lock``: no two items of tasks sharing it run at once
    (PostgreSQL; the SQLite runner runs one thing at a time anyway)."""

    name: str
    run: Callable[..., Any]
    waiting: Callable[[Any], list[str]]
    lock: str = ""


def tasks(runtime: "Runtime") -> list[Task]:
    """Every long task of the runtime: the core's and the enabled plugins' (``trellis_long_tasks``)."""
    return list(runtime.long_tasks)


def run_task(runtime: "Runtime", task: Task, item_id: str, *, attempts: int = 0) -> Any:
    """Run one queued item and log its line (``task item: outcome (duration)``); ``attempts``: how many
    ran before (the last allowed one is told ``final``)."""
    started = time.monotonic()
    name = f"{task.name} {item_id}"
    try:
        with holding(runtime, task.lock):   # a scheduled run of the same lock, by `trellis tick`, goes first
            result = task.run(runtime, item_id, final=attempts >= MAX_ATTEMPTS)
    except Exception as exc:
        _line(name, f"failed: {describe_error(exc)} (attempt {attempts + 1})", started, logging.WARNING)
        prometheus.job_finished(task.name, False, time.monotonic() - started)
        raise
    _line(name, f"ok: {result}", started)
    prometheus.job_finished(task.name, True, time.monotonic() - started)
    return result


# --- enqueueing in the transaction of the change ---------------------------------------------------------

_PENDING_KEY = "trellis.queue.delivery_queued"
#: One statement: defer a delivery round unless one is already waiting (a running one may have read the
#: due deliveries before this transaction's: then a second one waits behind it — never zero).
_DEFER_DELIVERY = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, '{}'::jsonb, NULL)"
    "::procrastinate_job_to_defer_v1]) WHERE NOT EXISTS (SELECT 1 FROM procrastinate_jobs "
    "WHERE task_name = :task AND status = 'todo')")


_TASK_QUEUED_KEY = "trellis.queue.task_queued"
_DEFER_TASK = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, :lock, NULL, "
    "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])")


def enqueue(task: Task, item_id: Any) -> None:
    """Queue ``task`` for the item ``item_id`` in the current unit of work: on PostgreSQL a procrastinate
    job deferred in this transaction (it exists exactly when the item does); on SQLite the commit wakes
    this process's runner. Call it after the item is recorded."""
    import json

    from core import db

    sess = db.session()
    runtime = sess.info.get("runtime")
    if runtime is not None and runtime.database is not None and is_postgresql(runtime):
        if background(runtime).has_schema(sess):
            sess.execute(_DEFER_TASK, {"queue": QUEUE, "task": task.name, "lock": task.lock or None,
                                       "args": json.dumps({"item_id": str(item_id)})})
        return
    sess.info[_TASK_QUEUED_KEY] = True


class Background:
    """Per runtime: whether the database has procrastinate's schema, and the in-process runners a
    commit wakes (SQLite)."""

    def __init__(self, runtime: "Runtime"):
        self.runtime = runtime
        self.runners: list[LocalRunner] = []
        self._has_schema: bool | None = None

    def has_schema(self, sess: Session) -> bool:
        if not self._has_schema:   # known once true; asked again while false (``db upgrade`` may run)
            self._has_schema = bool(sess.execute(text("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")).scalar())
        return self._has_schema

    def wake(self) -> None:
        for runner in list(self.runners):
            runner.wake.set()


def background(runtime: "Runtime") -> Background:
    if runtime.background is None:
        runtime.background = Background(runtime)
    return runtime.background


def _queues_delivery(objects) -> bool:
    """Whether a delivery among ``objects`` is pending and due now (a new one, a replayed one; not one
    whose failed attempt was just recorded: its retry waits for its time)."""
    from core.db import utcnow
    from core.models.webhooks import WebhookDelivery

    now = None
    for obj in objects:
        if isinstance(obj, WebhookDelivery) and obj.status == "pending":
            now = now or utcnow()
            due = obj.next_attempt_at
            if due is None or (due if due.tzinfo else due.replace(tzinfo=timezone.utc)) <= now:
                return True
    return False


@event.listens_for(Session, "after_flush")
def _after_flush(sess: Session, _context) -> None:
    if not sess.info.get(_PENDING_KEY) and _queues_delivery(list(sess.new) + list(sess.dirty)):
        sess.info[_PENDING_KEY] = True


@event.listens_for(Session, "before_commit")
def _before_commit(sess: Session) -> None:
    """PostgreSQL: a transaction that queued a webhook delivery defers a delivery round in itself, so
    the round exists exactly when the delivery does (a rollback removes both)."""
    runtime = sess.info.get("runtime")
    if runtime is None or runtime.database is None or not is_postgresql(runtime):
        return
    if not (sess.info.get(_PENDING_KEY) or _queues_delivery(list(sess.new) + list(sess.dirty))):
        return
    sess.info.pop(_PENDING_KEY, None)
    if background(runtime).has_schema(sess):
        sess.execute(_DEFER_DELIVERY, {"queue": QUEUE, "task": DELIVER_TASK})


@event.listens_for(Session, "after_commit")
def _after_commit(sess: Session) -> None:
    """SQLite: wake this process's runners once the delivery or task is committed."""
    if bool(sess.info.pop(_PENDING_KEY, None)) | bool(sess.info.pop(_TASK_QUEUED_KEY, None)):
        runtime = sess.info.get("runtime")
        if runtime is not None and runtime.background is not None:
            runtime.background.wake()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(sess: Session, _previous) -> None:
    sess.info.pop(_PENDING_KEY, None)
    sess.info.pop(_TASK_QUEUED_KEY, None)


# --- PostgreSQL: procrastinate -------------------------------------------------------------------------

def _stalled_cron(stalled_seconds: int) -> str:
    """How often the stalled-job check is deferred: about every half of the stalled timeout."""
    every = max(1, stalled_seconds // 2)
    return "* * * * *" if every >= 60 else f"* * * * * */{every}"


def build_app(runtime: "Runtime"):
    """The procrastinate App of ``runtime``: one periodic task per scheduled job, the delivery task and
    the stalled-job check, all on :data:`QUEUE`."""
    import procrastinate
    from procrastinate import exceptions, jobs

    settings = runtime.settings
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(runtime), min_size=1, max_size=max(4, settings.worker_concurrency + 2),
        timeout=POOL_TIMEOUT, kwargs={"connect_timeout": POOL_TIMEOUT}))
    retry = procrastinate.RetryStrategy(max_attempts=MAX_ATTEMPTS, exponential_wait=EXPONENTIAL_WAIT)

    for job in runtime.jobs:
        def run(timestamp: int, _job=job) -> Any:
            return run_job(runtime, _job, period=timestamp)

        task = app.task(name=JOB_TASK_PREFIX + job.name, queue=QUEUE, lock=JOB_TASK_PREFIX + job.name,
                        queueing_lock=JOB_TASK_PREFIX + job.name, retry=retry)(run)
        app.periodic(cron=schedule_of(job, settings), periodic_id=job.name)(task)

    app.task(name=DELIVER_TASK, queue=QUEUE, retry=retry)(lambda: deliver_now(runtime))

    for long_task in tasks(runtime):
        def run_long(context, item_id: str, _task=long_task) -> Any:
            return run_task(runtime, _task, item_id, attempts=context.job.attempts)

        app.task(name=long_task.name, queue=QUEUE, retry=retry, pass_context=True)(run_long)

    stalled_seconds = settings.worker_stalled_seconds

    async def retry_stalled(timestamp: int) -> int:
        started = time.monotonic()
        stalled = list(await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=stalled_seconds))
        for job in stalled:
            try:
                await app.job_manager.retry_job(job)
                outcome = "retried"
            except exceptions.UniqueViolation:   # the same job is already waiting: that run replaces this one
                await app.job_manager.finish_job(job, status=jobs.Status.FAILED, delete_job=False)
                outcome = "superseded by the waiting run"
            _line(STALLED_TASK, f"{job.task_name.removeprefix(JOB_TASK_PREFIX)} (job {job.id}) of a dead worker: "
                  f"{outcome}", started)
        return len(stalled)

    stalled_task = app.task(name=STALLED_TASK, queue=QUEUE, queueing_lock=STALLED_TASK)(retry_stalled)
    app.periodic(cron=_stalled_cron(stalled_seconds), periodic_id="stalled")(stalled_task)
    return app


class Supervisor:
    """Runs a procrastinate worker until told to stop. A database outage ends the worker's run; the
    supervisor logs one line, waits (1 s, doubling, at most :data:`MAX_RECONNECT_SECONDS`) and starts a
    new run — it never exits because of one. SIGTERM or SIGINT stops it gracefully: the running jobs
    finish (a second signal exits at once; the jobs left are retried as stalled)."""

    def __init__(self, runtime: "Runtime", *, concurrency: int | None = None, name: str = "trellis"):
        self.runtime = runtime
        self.concurrency = concurrency or runtime.settings.worker_concurrency
        self.name = name
        self.worker = None
        self.runs = 0
        self._stop: asyncio.Event | None = None

    def stop(self) -> None:
        if self._stop is not None and self._stop.is_set():
            log.warning("worker: stopping now; the running jobs are retried once this worker counts as dead")
            import os

            os._exit(1)
        log.info("worker: stopping after the running jobs")
        if self._stop is not None:
            self._stop.set()
        if self.worker is not None:
            self.worker.stop()

    async def _reachable(self) -> None:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(conninfo(self.runtime), connect_timeout=5)
        await conn.close()

    async def run(self, *, install_signal_handlers: bool = True) -> None:
        from procrastinate import worker as worker_module

        check_schema_level()
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        settings = self.runtime.settings
        stalled = settings.worker_stalled_seconds
        app = build_app(self.runtime)
        wait = 1.0
        while not self._stop.is_set():
            try:
                await self._reachable()
                async with app.open_async():
                    if not await app.check_connection_async():
                        raise RuntimeError("The database has no procrastinate schema yet: run 'trellis db upgrade'.")
                    self.worker = worker_module.Worker(
                        app, queues=[QUEUE], name=self.name, concurrency=self.concurrency,
                        install_signal_handlers=False, delete_jobs="successful",
                        update_heartbeat_interval=max(0.2, stalled / 3), stalled_worker_timeout=stalled,
                        fetch_job_polling_interval=min(5.0, max(0.5, stalled / 3)))
                    self.runs += 1
                    log.info("worker: running %d job(s) at a time on %s (%s)", self.concurrency,
                             self.runtime.database.engine.url.render_as_string(hide_password=True),
                             "first start" if self.runs == 1 else "reconnected")
                    wait = 1.0
                    try:
                        await self.worker.run()
                    finally:
                        self.worker = None
                if not self._stop.is_set():
                    raise RuntimeError("the worker stopped by itself (the database connection was lost?)")
            except Exception as exc:   # an outage or a schema not there yet: wait and try again
                if self._stop.is_set():
                    break
                log.warning("worker: %s; trying again in %.0f s", describe_error(exc), wait)
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=wait)
                except asyncio.TimeoutError:
                    pass
                wait = min(wait * 2, MAX_RECONNECT_SECONDS)
        log.info("worker: stopped")


def serve(runtime: "Runtime", *, concurrency: int | None = None) -> None:
    """``trellis worker`` on PostgreSQL: run :class:`Supervisor` until SIGTERM/SIGINT."""
    for name in ("procrastinate", "psycopg.pool"):   # outages and job failures are told in Trellis' own lines
        quiet = logging.getLogger(name)
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.CRITICAL)
    asyncio.run(Supervisor(runtime, concurrency=concurrency).run())


# --- SQLite: in-process ------------------------------------------------------------------------------------

class LocalRunner:
    """Runs the scheduled jobs on their schedules, and the webhook deliveries and queued long tasks
    (:func:`tasks`) as soon as a commit of this process queues one (or every :data:`LOCAL_POLL_SECONDS`),
    in one thread — so two queued tasks never run at once. Every job runs once at start. A failed task
    item is tried again after 2, 4, 8 … s (``retry_wait``), :data:`MAX_ATTEMPTS` times, as on PostgreSQL.
    For one process on an SQLite database: two runners on one database would run the jobs twice (each
    job is idempotent, so nothing is sent twice)."""

    def __init__(self, runtime: "Runtime", *, poll_seconds: float = LOCAL_POLL_SECONDS,
                 clock: Callable[[], float] = time.time, retry_wait: float = EXPONENTIAL_WAIT):
        self.runtime = runtime
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.retry_wait = retry_wait
        self.wake = threading.Event()
        self._stopped = threading.Event()
        self.thread: threading.Thread | None = None
        #: (task name, item id) → (attempts so far, when the next one is due)
        self._failed: dict[tuple[str, str], tuple[int, float]] = {}
        #: when the runner last beat (:meth:`_beat`)
        self.heartbeat: float | None = None

    def _beat(self) -> None:
        """Touch :func:`heartbeat_path` every third of ``TRELLIS_WORKER_STALLED_SECONDS`` while the runner
        runs — in a thread of its own, so a long job does not silence it — and remove it at the stop, so
        ``/readyz`` of any process on this database can tell whether a runner is alive."""
        path = heartbeat_path(self.runtime)
        every = max(0.2, self.runtime.settings.worker_stalled_seconds / 3)
        try:
            while not self._stopped.is_set():
                self.heartbeat = time.time()
                if path is not None:
                    try:
                        path.write_text(f"{threading.get_native_id()}\n")
                    except OSError as exc:
                        log.warning("worker: cannot write the heartbeat file %s: %s", path, exc)
                self._stopped.wait(every)
        finally:
            if path is not None:
                path.unlink(missing_ok=True)

    def _run_tasks(self) -> float | None:
        """Run every waiting task item whose retry is due; return when the next retry is due (or None)."""
        next_due = None
        for task in tasks(self.runtime):
            try:
                waiting = task.waiting(self.runtime)
            except Exception as exc:   # the database is gone: the next round tries again
                log.warning("%s: cannot list the waiting items: %s", task.name, describe_error(exc))
                continue
            for item_id in waiting:
                if self._stopped.is_set():
                    return next_due
                key = (task.name, str(item_id))
                attempts, due = self._failed.get(key, (0, 0.0))
                if due > self.clock():
                    next_due = due if next_due is None else min(next_due, due)
                    continue
                try:
                    run_task(self.runtime, task, str(item_id), attempts=attempts)
                    self._failed.pop(key, None)
                except Exception:   # logged and recorded on the item
                    if attempts >= MAX_ATTEMPTS:
                        self._failed.pop(key, None)
                    else:
                        due = self.clock() + self.retry_wait ** (attempts + 1)
                        self._failed[key] = (attempts + 1, due)
                        next_due = due if next_due is None else min(next_due, due)
        return next_due

    def stop(self) -> None:
        self._stopped.set()
        self.wake.set()

    def run(self) -> None:
        from croniter import croniter

        bg = background(self.runtime)
        bg.runners.append(self)
        beat = threading.Thread(target=self._beat, name="trellis-jobs-heartbeat", daemon=True)
        try:
            start = self.clock()
            crons = {job.name: croniter(schedule_of(job, self.runtime.settings), start) for job in self.runtime.jobs}
            due = {job.name: start for job in self.runtime.jobs}
            next_poll = start
            next_retry = None
            beat.start()
            while not self._stopped.is_set():
                now = self.clock()
                for job in self.runtime.jobs:
                    if due[job.name] <= now and not self._stopped.is_set():
                        try:
                            run_job(self.runtime, job)
                        except Exception:
                            pass   # logged; the next period tries again
                        due[job.name] = crons[job.name].get_next(float, start_time=self.clock())
                if self.wake.is_set() or self.clock() >= next_poll or \
                        (next_retry is not None and self.clock() >= next_retry):
                    self.wake.clear()
                    try:
                        deliver_now(self.runtime, quiet=True)
                    except Exception:
                        pass   # logged
                    next_retry = self._run_tasks()
                    next_poll = self.clock() + self.poll_seconds
                timeout = max(0.0, min([next_poll, *due.values(), *([next_retry] if next_retry else [])])
                              - self.clock())
                self.wake.wait(timeout)
        finally:
            bg.runners.remove(self)
            self._stopped.set()   # the heartbeat stops with the runner, whatever ended it
            if beat.is_alive():
                beat.join(5)

    def start(self) -> threading.Thread:
        """Run in a daemon thread (``trellis serve``)."""
        self.thread = threading.Thread(target=self.run, name="trellis-jobs", daemon=True)
        self.thread.start()
        return self.thread


def run_local(runtime: "Runtime") -> None:
    """``trellis worker`` on SQLite: :class:`LocalRunner` in the foreground until SIGTERM/SIGINT."""
    runner = LocalRunner(runtime)

    def stop(*_):
        log.info("worker: stopping after the running job")
        runner.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("worker: running the jobs in this process (SQLite)")
    try:
        runner.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("worker: stopped")


# --- readiness ------------------------------------------------------------------------------------------

def heartbeat_path(runtime: "Runtime") -> Path | None:
    """SQLite: the file the running :class:`LocalRunner` touches (beside the database file); None for a
    database in memory."""
    database = runtime.database.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database + "-worker-heartbeat")


def worker_state(runtime: "Runtime", now: datetime | None = None) -> dict:
    """What ``/readyz`` reports when workers are expected: ``{"ok", "reason", "heartbeat_age", "workers",
    "jobs_due", "webhooks_due", "oldest_due_seconds"}``. A worker is alive when its heartbeat is younger
    than ``TRELLIS_WORKER_STALLED_SECONDS`` (PostgreSQL: procrastinate's; SQLite: the runner's
    :func:`heartbeat_path`, ``workers`` 0 or 1); the backlog is stale when a webhook delivery has been due
    for longer than ``TRELLIS_WORKER_BACKLOG_SECONDS``."""
    from sqlalchemy import func, select

    from core.models.webhooks import WebhookDelivery

    settings = runtime.settings
    now = now or datetime.now(timezone.utc)
    state: dict[str, Any] = {"ok": True, "reason": ""}
    with runtime.database.engine.connect() as conn:
        conn = conn.execution_options(sqlite_begin="DEFERRED")
        due = conn.execute(select(func.count(), func.min(WebhookDelivery.next_attempt_at))
                           .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)).one()
        oldest = due[1]
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        state["webhooks_due"] = due[0]
        state["oldest_due_seconds"] = round((now - oldest).total_seconds(), 1) if oldest else 0.0
        if conn.dialect.name == "postgresql":
            if not conn.execute(text("SELECT to_regclass('procrastinate_workers') IS NOT NULL")).scalar():
                return {**state, "ok": False, "reason": "The job queue's schema is missing: run 'trellis db upgrade'."}
            row = conn.execute(text(
                "SELECT count(*) FILTER (WHERE last_heartbeat >= now() - make_interval(secs => :s)), "
                "EXTRACT(EPOCH FROM now() - max(last_heartbeat)) FROM procrastinate_workers"),
                {"s": settings.worker_stalled_seconds}).one()
            state["workers"] = row[0]
            state["heartbeat_age"] = None if row[1] is None else round(float(row[1]), 1)
            state["jobs_due"] = conn.execute(text(
                "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = :q AND status = 'todo' "
                "AND (scheduled_at IS NULL OR scheduled_at <= now())"), {"q": QUEUE}).scalar()
            if not row[0]:
                state["ok"] = False
                state["reason"] = (f"No worker has sent a heartbeat in the last {settings.worker_stalled_seconds} s "
                                   "(TRELLIS_WORKER_STALLED_SECONDS): start 'trellis worker'.")
        else:
            path = heartbeat_path(runtime)
            try:
                age = now.timestamp() - path.stat().st_mtime if path is not None else None
            except OSError:   # no runner has run, or it stopped
                age = None
            state["heartbeat_age"] = None if age is None else round(max(age, 0.0), 1)
            state["workers"] = int(age is not None and age <= settings.worker_stalled_seconds)
            if not state["workers"]:
                state["ok"] = False
                state["reason"] = (f"No worker has sent a heartbeat in the last {settings.worker_stalled_seconds} s "
                                   "(TRELLIS_WORKER_STALLED_SECONDS): start 'trellis worker' (SQLite: or "
                                   "'trellis serve', whose process runs the jobs).")
    if state["ok"] and state["oldest_due_seconds"] > settings.worker_backlog_seconds:
        state["ok"] = False
        state["reason"] = (f"{state['webhooks_due']} webhook deliveries are due, the oldest for "
                           f"{state['oldest_due_seconds']:.0f} s (more than TRELLIS_WORKER_BACKLOG_SECONDS): "
                           "the workers do not keep up or do not run.")
    return state
