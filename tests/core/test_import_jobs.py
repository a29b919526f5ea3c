"""An upload to ``POST /api/v1/imports`` is a long task (issue #18): the upload's transaction records the run
``pending`` and queues its job, so the worker starts it at once — on PostgreSQL a procrastinate job deferred
in that transaction, on SQLite the commit wakes the in-process runner — not on the next minute of the
scheduled sweep ``imports.run`` (kept as a safety net, under the same lock). A rolled-back upload leaves no
job."""
from __future__ import annotations

import io
import json
import threading
import time
import uuid

import pytest
from sqlalchemy import func, select, text

from core import migrate, queue
from core.models import Customer, ImportRun
from core.services import imports
from tests.core.queue_fixtures import wait_for_status

FILE = b"external_id,name,kind\nQ1,Queued Co,company\nQ2,Queued Person,person\n"


@pytest.fixture(autouse=True)
def uploads(tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "upload_dir", lambda: tmp_path)
    return tmp_path


def upload(api, data: bytes = FILE):
    return api.post("/api/v1/imports", data={"type": "customers", "file": (io.BytesIO(data), "customers.csv")},
                    content_type="multipart/form-data")


def import_jobs(sess, run_id=None) -> list[dict]:
    """The procrastinate jobs of uploaded imports (their ``args``), optionally of one run."""
    rows = sess.execute(text("SELECT args FROM procrastinate_jobs WHERE task_name = :t ORDER BY id"),
                        {"t": imports.RUN_TASK.name}).scalars().all()
    found = [a if isinstance(a, dict) else json.loads(a) for a in rows]
    return [a for a in found if run_id is None or a["item_id"] == str(run_id)]


def test_an_upload_queues_its_own_job_and_the_worker_runs_it_without_the_sweep(api, runtime):
    run = upload(api).get_json()
    assert run["status"] == "pending"
    if queue.is_postgresql(runtime):
        with runtime.database.unit_of_work() as sess:
            assert import_jobs(sess, run["id"]) == [{"item_id": run["id"]}]
            lock = sess.scalar(text("SELECT lock FROM procrastinate_jobs WHERE task_name = :t"),
                               {"t": imports.RUN_TASK.name})
        assert lock == queue.JOB_TASK_PREFIX + "imports.run"   # the sweep's: never one import twice at once
        for item_id in imports.RUN_TASK.waiting(runtime):   # the job's body, as the procrastinate task calls it
            queue.run_task(runtime, imports.RUN_TASK, item_id)
    else:
        queue.LocalRunner(runtime)._run_tasks()   # the runner's round a commit wakes (no scheduled job run)
    body = api.get(f"/api/v1/imports/{run['id']}").get_json()
    assert (body["status"], body["rows_done"], body["created"]) == ("done", 2, 2)
    # the sweep afterwards, and the job again (a retry), find nothing to do
    assert imports.run_pending(database=runtime.database) == "0 of 0 import(s) run"
    assert queue.run_task(runtime, imports.RUN_TASK, run["id"]) == "nothing to do"


def test_a_rolled_back_upload_leaves_no_run_and_no_job(runtime, uploads):
    from core.services import users

    with runtime.database.unit_of_work():
        admin = users.create_user(None, {"email": "imports-admin@example.com", "name": "Ada", "role": "admin"})
    with pytest.raises(RuntimeError):
        with runtime.database.unit_of_work():
            imports.queue_upload(admin, "customers", io.BytesIO(FILE), "customers.csv")
            raise RuntimeError("the request failed after the upload")
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(ImportRun)) == 0
        if queue.is_postgresql(runtime):
            assert import_jobs(sess) == []
    assert imports.RUN_TASK.waiting(runtime) == []


def test_a_run_that_cannot_start_is_tried_again_then_failed_not_forever(api, runtime, monkeypatch):
    run = upload(api).get_json()

    def gone(*args, **kwargs):
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(imports, "run_import", gone)
    with pytest.raises(RuntimeError):
        queue.run_task(runtime, imports.RUN_TASK, run["id"])
    assert api.get(f"/api/v1/imports/{run['id']}").get_json()["status"] == "pending"   # the next attempt runs it
    with pytest.raises(RuntimeError):
        queue.run_task(runtime, imports.RUN_TASK, run["id"], attempts=queue.MAX_ATTEMPTS)
    body = api.get(f"/api/v1/imports/{run['id']}").get_json()
    assert (body["status"], body["message"]) == ("failed", "the database is gone")
    assert imports.RUN_TASK.waiting(runtime) == []


def test_the_sqlite_runner_starts_an_upload_as_it_commits(tmp_path, uploads):
    from api.app import create_app
    from api.testing import app_config
    from core.services import users
    from tests.core.test_migrations import scratch_database

    with scratch_database(tmp_path) as url:
        # the sweep runs once at the runner's start, then not before next year; only a commit wakes the runner
        app = create_app(app_config(url, PLUGINS="none", JOB_SCHEDULE="0 0 1 1 *"))
        rt = app.extensions["trellis"]
        if queue.is_postgresql(rt):
            rt.database.dispose()
            pytest.skip("the in-process runner is SQLite's (test_postgresql_… below: PostgreSQL's)")
        migrate.upgrade(rt)
        with rt.database.unit_of_work():
            admin = users.create_user(None, {"email": "admin@example.com", "name": "Ada", "role": "admin"})
        runner = queue.LocalRunner(rt, poll_seconds=60)
        runner.start()
        try:
            deadline = time.monotonic() + 20
            while runner.heartbeat is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.5)   # past the jobs' first round
            with rt.database.unit_of_work():
                run_id = str(imports.queue_upload(admin, "customers", io.BytesIO(FILE), "customers.csv").id)
            committed = time.monotonic()
            found = wait_for_status(rt, ImportRun, [uuid.UUID(run_id)], ("done", "failed"), timeout=15)
            assert found[run_id] == ("done", ""), found
            assert time.monotonic() - committed < 15   # woken by the commit: not the sweep, not the 60 s poll
        finally:
            runner.stop()
            if runner.thread:
                runner.thread.join(10)
            rt.database.dispose()


def test_postgresql_an_upload_has_its_job_as_it_commits_and_a_worker_runs_it(worker_app, monkeypatch):
    app, rt, admin = worker_app
    started, release = threading.Event(), threading.Event()
    real = imports.run_import

    def held(*args, **kwargs):   # keeps the job in the table while the test looks at it
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(imports, "run_import", held)
    with rt.database.unit_of_work():
        run_id = str(imports.queue_upload(admin, "customers", io.BytesIO(FILE), "customers.csv").id)
    with rt.database.unit_of_work() as sess:   # right after the commit, before any sweep
        assert import_jobs(sess, run_id) == [{"item_id": run_id}]
    assert started.wait(30)   # the worker took it at once (the sweep runs once a minute)
    release.set()
    assert wait_for_status(rt, ImportRun, [run_id], ("done", "failed"))[run_id] == ("done", "")
    with rt.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(Customer).where(Customer.external_id.like("Q%"))) == 2
