"""Background work in one process (core.queue): a change that queues a webhook delivery defers a delivery
round in its own transaction (PostgreSQL) or wakes the in-process runner (SQLite); the runner runs every
job on its schedule; ``/readyz`` with workers expected checks the heartbeat and the backlog; job lines
say name, outcome and duration; settings are checked. The multi-process behaviour is in
tests/core/test_queue_workers.py."""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from api.app import create_app
from api.testing import app_config
from core import migrate, queue
from core.config import load_settings
from core.db import utcnow
from core.errors import ConfigError
from core.jobs import Job
from core.services import customers, users, webhooks
from tests.core.test_migrations import scratch_database
from tests.core.test_webhooks import Receiver


@pytest.fixture
def scratch(tmp_path):
    """An app (the core alone, workers expected, webhooks to 127.0.0.1) on a migrated database of its own,
    and an admin."""
    with scratch_database(tmp_path) as url:
        app = create_app(app_config(url, PLUGINS="none", WORKERS_EXPECTED=True, WEBHOOK_ALLOW_PRIVATE_TARGETS=True,
                                    JOB_SCHEDULE="* * * * * */1"))
        rt = app.extensions["trellis"]
        migrate.upgrade(rt)
        with rt.database.unit_of_work():
            admin = users.create_user(None, {"email": "admin@example.com", "name": "Ada", "role": "admin"})
        try:
            yield app, rt, admin
        finally:
            rt.database.dispose()


def postgresql_only(rt):
    if not queue.is_postgresql(rt):
        pytest.skip("procrastinate runs on PostgreSQL")


def waiting_rounds(rt) -> int:
    with rt.database.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t AND status = 'todo'"),
                            {"t": queue.DELIVER_TASK}).scalar()


def test_the_installed_procrastinate_has_the_schema_our_migrations_build():
    assert queue.installed_schema_level() == queue.SCHEMA_LEVEL
    queue.check_schema_level()


def test_a_change_that_queues_a_webhook_defers_one_delivery_round_in_its_transaction(scratch):
    app, rt, admin = scratch
    postgresql_only(rt)
    with rt.database.unit_of_work():
        webhooks.create(admin, {"url": "http://127.0.0.1:9/hooks", "events": ["customer.created"]})
    assert waiting_rounds(rt) == 0   # a subscription alone queues nothing

    with pytest.raises(RuntimeError):
        with rt.database.unit_of_work():
            customers.create(admin, {"name": "Rolled Back"})
            raise RuntimeError("changed my mind")
    assert waiting_rounds(rt) == 0   # rolled back with the delivery

    with rt.database.unit_of_work():
        customers.create(admin, {"name": "First"})
    assert waiting_rounds(rt) == 1
    with rt.database.unit_of_work():
        customers.create(admin, {"name": "Second"})
    assert waiting_rounds(rt) == 1   # one round waiting sends both


def test_the_sqlite_runner_runs_every_job_on_schedule_and_sends_a_webhook_as_its_change_commits(scratch, caplog):
    app, rt, admin = scratch
    if queue.is_postgresql(rt):
        pytest.skip("the in-process runner is SQLite's")
    caplog.set_level(logging.INFO, logger="trellis.jobs")
    receiver = Receiver()
    runner = queue.LocalRunner(rt, poll_seconds=60)   # only a commit wakes it for deliveries
    try:
        with rt.database.unit_of_work():
            webhooks.create(admin, {"url": receiver.url, "events": ["customer.created"]})
        runner.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                sum(1 for r in caplog.records if r.getMessage().startswith("workflow.stagnation: ok")) < 2:
            time.sleep(0.05)
        lines = [r.getMessage() for r in caplog.records]
        for job in rt.jobs:   # each ran at start, then on TRELLIS_JOB_SCHEDULE (every second here)
            assert any(line.startswith(f"{job.name}: ok: ") and line.endswith(" s)") for line in lines), (job.name, lines)
        assert sum(1 for line in lines if line.startswith("workflow.stagnation: ok")) >= 2

        with rt.database.unit_of_work():
            customers.create(admin, {"name": "Woken"})
        committed = time.monotonic()
        while not receiver.requests and time.monotonic() < committed + 10:
            time.sleep(0.02)
        assert len(receiver.requests) == 1 and time.monotonic() - committed < 2
    finally:
        runner.stop()
        if runner.thread:
            runner.thread.join(10)
        receiver.stop()


def test_the_sqlite_runner_runs_a_queued_refresh_and_erasure_as_their_requests_commit(scratch):
    app, rt, admin = scratch
    if queue.is_postgresql(rt):
        pytest.skip("the in-process runner is SQLite's (tests/core/analytics/test_queued_refresh.py: PostgreSQL's)")
    from core.models import AnalyticsRun, ErasureJob
    from core.services import analytics, privacy

    runner = queue.LocalRunner(rt, poll_seconds=60)   # only a commit wakes it
    runner.start()
    try:
        deadline = time.monotonic() + 20   # the jobs' first round at start
        while runner.heartbeat is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        with rt.database.unit_of_work():
            customer = customers.create(admin, {"kind": "person", "name": "Gone Soon"})
            run_id = analytics.queue_refresh(admin).id
            job_id = privacy.queue_erasure(admin, {"person": str(customer.id), "reason": "asked"}).id
        committed = time.monotonic()
        statuses = (None, None)
        while time.monotonic() < committed + 15:
            with rt.database.unit_of_work() as sess:
                statuses = (sess.get(AnalyticsRun, run_id).status, sess.get(ErasureJob, job_id).status)
            if statuses[0] in ("ok", "partial", "failed") and statuses[1] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert statuses[0] in ("ok", "partial") and statuses[1] == "done", statuses
        assert time.monotonic() - committed < 15   # woken by the commit, not the 60 s poll
    finally:
        runner.stop()
        if runner.thread:
            runner.thread.join(10)


def test_the_sqlite_worker_stops_on_sigterm(scratch, caplog):
    app, rt, admin = scratch
    if queue.is_postgresql(rt):
        pytest.skip("the in-process runner is SQLite's (tests/core/test_queue_workers.py stops PostgreSQL's)")
    caplog.set_level(logging.INFO, logger="trellis.jobs")
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    queue.run_local(rt)   # returns once the signal came and the running job ended
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "worker: running the jobs in this process (SQLite)"
    # the signal may come in the middle of a job: its line then comes between the two, never another start
    stopping = lines.index("worker: stopping after the running job")
    assert lines[-1] == "worker: stopped"
    assert all(not line.startswith("worker:") for line in lines[stopping + 1:-1]), lines
    assert len(lines[stopping + 1:-1]) <= 1, lines


def test_a_job_run_is_one_line_and_a_failure_is_logged_and_raised(scratch, caplog):
    app, rt, admin = scratch
    caplog.set_level(logging.INFO, logger="trellis.jobs")
    assert queue.run_job(rt, Job("demo.fine", lambda now: 3), period=0) == 3

    def broken(now):
        raise ValueError("no can do")

    with pytest.raises(ValueError):
        queue.run_job(rt, Job("demo.broken", broken))
    fine, failed = [r for r in caplog.records if r.getMessage().startswith("demo.")]
    assert fine.levelno == logging.INFO
    assert fine.getMessage().startswith("demo.fine: ok: 3 (") and fine.getMessage().endswith(
        " s, period 1970-01-01T00:00:00Z)")
    assert failed.levelno == logging.WARNING and failed.getMessage().startswith("demo.broken: failed: ValueError: no can do (")


def test_a_job_running_in_one_process_is_skipped_by_tick_and_workers_elsewhere(scratch, caplog):
    """`trellis tick` and the workers take the job's advisory lock: while one runs a job, another that
    comes to it (a second tick, a worker's periodic run) leaves it, and says so (issue #18: two runners
    of one refresh collided)."""
    from core.jobs import run_all

    app, rt, admin = scratch
    postgresql_only(rt)
    caplog.set_level(logging.INFO, logger="trellis.jobs")
    inside, release, runs = threading.Event(), threading.Event(), []

    def slow(now):
        runs.append(now)
        inside.set()
        release.wait(10)
        return "done"

    job = Job("demo.slow", slow)
    first = threading.Thread(target=lambda: runs.append(queue.run_job(rt, job)))
    first.start()
    assert inside.wait(10)
    assert queue.run_job(rt, job) == queue.SKIPPED                  # a worker's run meanwhile
    rt.jobs = [job]
    assert run_all(rt, utcnow()) == [("demo.slow", queue.SKIPPED)]   # `trellis tick` meanwhile
    release.set()
    first.join(10)
    assert len(runs) == 2 and runs[1] == "done"                      # one run of the body, finished
    assert [r.getMessage().split(" (")[0] for r in caplog.records if r.getMessage().startswith("demo.slow")] == [
        "demo.slow: skipped: running elsewhere", "demo.slow: ok: done"]
    assert run_all(rt, utcnow())[0][1] == "done"                     # free again: it runs


def test_a_queued_long_task_waits_for_a_scheduled_run_of_its_lock(scratch):
    """A requested refresh on the worker shares the scheduled refresh's lock: when `trellis tick` is running
    that job, the requested one starts after it instead of beside it."""
    app, rt, admin = scratch
    postgresql_only(rt)
    lock = queue.JOB_TASK_PREFIX + "demo.refresh"
    order = []
    task = queue.Task("demo.requested", lambda runtime, item_id, final: order.append("requested"),
                      lambda runtime: [], lock=lock)
    with rt.database.unit_of_work():               # `trellis tick` inside the scheduled job
        assert queue.claim_job(rt, lock)
        worker = threading.Thread(target=queue.run_task, args=(rt, task, "1"))
        worker.start()
        time.sleep(0.5)
        order.append("scheduled")
    worker.join(10)
    assert order == ["scheduled", "requested"]


def test_readyz_with_workers_expected_wants_a_fresh_heartbeat(scratch):
    app, rt, admin = scratch
    postgresql_only(rt)
    client = app.test_client()
    body = client.get("/readyz").get_json()
    assert body["status"] == "not ready" and "No worker has sent a heartbeat" in body["reason"]
    assert body["checks"]["workers"]["workers"] == 0 and body["checks"]["migrations"]["core"]["ok"]
    with rt.database.engine.begin() as conn:
        conn.execute(text("INSERT INTO procrastinate_workers DEFAULT VALUES"))
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["workers"]["workers"] == 1
    with rt.database.engine.begin() as conn:
        conn.execute(text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 minute'"))
    stale = client.get("/readyz")
    assert stale.status_code == 503 and "TRELLIS_WORKER_STALLED_SECONDS" in stale.get_json()["reason"]


def test_readyz_with_workers_expected_on_sqlite_wants_the_runners_heartbeat(scratch):
    app, rt, admin = scratch
    if queue.is_postgresql(rt):
        pytest.skip("the in-process runner is SQLite's")
    client = app.test_client()
    body = client.get("/readyz").get_json()
    assert body["status"] == "not ready" and "No worker has sent a heartbeat" in body["reason"]
    assert (body["checks"]["workers"]["workers"], body["checks"]["workers"]["heartbeat_age"]) == (0, None)
    runner = queue.LocalRunner(rt, poll_seconds=60)
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while runner.heartbeat is None and time.monotonic() < deadline:
            time.sleep(0.02)
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.get_json()
        workers = ready.get_json()["checks"]["workers"]
        assert workers["workers"] == 1 and 0 <= workers["heartbeat_age"] < 5
        # a runner that stopped beating (killed, hung host): stale after TRELLIS_WORKER_STALLED_SECONDS
        runner.stop()
        runner.thread.join(10)
        path = queue.heartbeat_path(rt)
        path.write_text("1\n")
        old = time.time() - rt.settings.worker_stalled_seconds - 5
        os.utime(path, (old, old))
        stale = client.get("/readyz")
        assert stale.status_code == 503 and "TRELLIS_WORKER_STALLED_SECONDS" in stale.get_json()["reason"]
    finally:
        runner.stop()
        if runner.thread:
            runner.thread.join(10)


def test_the_sqlite_runner_removes_its_heartbeat_when_it_stops(scratch):
    app, rt, admin = scratch
    if queue.is_postgresql(rt):
        pytest.skip("the in-process runner is SQLite's")
    runner = queue.LocalRunner(rt, poll_seconds=60)
    runner.start()
    deadline = time.monotonic() + 10
    while not queue.heartbeat_path(rt).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert queue.heartbeat_path(rt).exists()
    runner.stop()
    runner.thread.join(10)
    deadline = time.monotonic() + 5
    while queue.heartbeat_path(rt).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not queue.heartbeat_path(rt).exists()
    assert app.test_client().get("/readyz").status_code == 503


def test_readyz_with_workers_expected_reports_a_stale_webhook_backlog(scratch):
    app, rt, admin = scratch
    if queue.is_postgresql(rt):
        with rt.database.engine.begin() as conn:
            conn.execute(text("INSERT INTO procrastinate_workers DEFAULT VALUES"))
    else:
        queue.heartbeat_path(rt).write_text("1\n")   # a runner beating
    with rt.database.unit_of_work():
        webhooks.create(admin, {"url": "http://127.0.0.1:9/hooks", "events": ["customer.created"]})
        customers.create(admin, {"name": "Waiting"})
    client = app.test_client()
    fresh = client.get("/readyz")
    assert fresh.status_code == 200, fresh.get_json()
    assert fresh.get_json()["checks"]["workers"]["webhooks_due"] == 1
    with rt.database.engine.begin() as conn:
        conn.execute(text("UPDATE webhook_delivery SET next_attempt_at = :t"),
                     {"t": utcnow() - timedelta(hours=1)})
    stale = client.get("/readyz")
    assert stale.status_code == 503
    reason = stale.get_json()["reason"]
    assert "1 webhook deliveries are due" in reason and "TRELLIS_WORKER_BACKLOG_SECONDS" in reason


def test_readyz_without_workers_expected_leaves_them_out(api):
    assert "workers" not in api.as_(None).get("/readyz").get_json()["checks"]


@pytest.mark.parametrize("name, value, message", [
    ("JOB_SCHEDULE", "every minute", "TRELLIS_JOB_SCHEDULE: 'every minute' is not a cron expression"),
    ("WORKER_CONCURRENCY", "0", "TRELLIS_WORKER_CONCURRENCY: 0 is not a number of jobs"),
    ("WORKER_STALLED_SECONDS", "0", "TRELLIS_WORKER_STALLED_SECONDS: 0 is not a number of seconds"),
])
def test_a_bad_worker_setting_stops_the_start_naming_it(name, value, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={f"TRELLIS_{name}": value})


def test_a_job_may_keep_its_own_schedule():
    settings = load_settings(environ={"TRELLIS_JOB_SCHEDULE": "*/5 * * * *"})
    assert queue.schedule_of(Job("x.y", lambda now: 0), settings) == "*/5 * * * *"
    assert queue.schedule_of(Job("x.y", lambda now: 0, schedule="0 3 * * *"), settings) == "0 3 * * *"
