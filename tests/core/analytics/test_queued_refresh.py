"""A refresh asked for over REST or GraphQL is a background job (issue #18): the request records the run
``queued`` and answers 202; the worker — the in-process runner on SQLite, a procrastinate worker on
PostgreSQL — marks it ``running`` and finishes it ``ok`` (or ``failed`` with the error once every attempt
failed); what it writes carries the request's id; ``?wait=true`` keeps the refresh in the request."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text

from core import db, queue
from core.models import AnalyticsRun, Interaction
from core.models.audit import AuditEntry, OutboxEvent
from core.services import analytics
from tests.core.analytics.test_churn_tasks import add_lapsed_buyers
from tests.core.queue_fixtures import wait_for_status


def run_queued(runtime) -> None:
    """What the worker does with the waiting refreshes: the SQLite runner's round; on PostgreSQL (whose
    test transaction a worker cannot see) the job body of each, as the procrastinate task calls it."""
    if queue.is_postgresql(runtime):
        for item_id in analytics.REFRESH_TASK.waiting(runtime):
            queue.run_task(runtime, analytics.REFRESH_TASK, item_id)
    else:
        queue.LocalRunner(runtime)._run_tasks()


def statuses_seen(monkeypatch) -> list[str]:
    """The run's committed status each time the refresh itself starts."""
    seen: list[str] = []
    real = analytics.refresh

    def watching(**kwargs):
        seen.append(db.session().get(AnalyticsRun, kwargs["run_id"]).status)
        return real(**kwargs)

    monkeypatch.setattr(analytics, "refresh", watching)
    return seen


def test_a_refresh_is_queued_then_run_by_the_worker_under_the_request_id(api, runtime, people, monkeypatch):
    add_lapsed_buyers(runtime, [people.rep], 0, 3)
    seen = statuses_seen(monkeypatch)
    response = api.as_("admin").post("/api/v1/analytics/refresh", json={"calibration_start": "2000-01-01"},
                                     headers={"X-Request-Id": "refresh-req-1"})
    assert response.status_code == 202, response.get_json()
    run = response.get_json()
    assert (run["status"], run["trigger"], run["request_id"], run["calibration_start"], run["current"]) == (
        "queued", "api", "refresh-req-1", "2000-01-01", False)
    assert api.as_("admin").get(f"/api/v1/analytics/runs/{run['id']}").get_json()["status"] == "queued"
    assert api.as_("admin").get("/api/v1/analytics/runs/latest").status_code == 404   # nothing finished yet
    with runtime.database.unit_of_work() as sess:   # the request computed nothing
        assert sess.scalar(select(func.count()).select_from(Interaction).where(Interaction.source == "analytics")) == 0

    run_queued(runtime)
    assert seen == ["running"]
    done = api.as_("admin").get(f"/api/v1/analytics/runs/{run['id']}").get_json()
    assert done["status"] in ("ok", "partial") and done["finished_at"] and done["current"] is True
    assert done["customers"] >= 3 and done["params"]["churn"]["tasks_created"] == 3
    assert api.as_("admin").get("/api/v1/analytics/runs/latest").get_json()["id"] == run["id"]
    with runtime.database.unit_of_work() as sess:
        tasks = sess.scalars(select(Interaction.id).where(Interaction.source == "analytics")).all()
        audits = sess.scalars(select(AuditEntry).where(AuditEntry.record_id.in_(tasks))).all()
        events = sess.scalars(select(OutboxEvent).where(OutboxEvent.record_id.in_(tasks))).all()
        assert len(tasks) == len(audits) == len(events) == 3
        assert {a.request_id for a in audits} == {e.request_id for e in events} == {"refresh-req-1"}
    # the job again (a retry after its commit) changes nothing
    run_queued(runtime)
    assert queue.run_task(runtime, analytics.REFRESH_TASK, run["id"]) == "nothing to do" and seen == ["running"]


def test_graphql_queues_a_refresh_and_reads_it_by_node(api, runtime):
    made = api.as_("admin").graphql("mutation { refreshAnalytics { id status requestId } }",
                                    headers={"X-Request-Id": "gql-refresh"})
    assert made.get("errors") is None, made
    run = made["data"]["refreshAnalytics"]
    assert (run["status"], run["requestId"]) == ("QUEUED", "gql-refresh")
    query = "query($id: ID!) { node(id: $id) { ... on AnalyticsRun { status current } } }"
    assert api.as_("admin").graphql(query, {"id": run["id"]})["data"]["node"] == {"status": "QUEUED", "current": False}
    run_queued(runtime)
    node = api.as_("admin").graphql(query, {"id": run["id"]})["data"]["node"]
    assert node["status"] in ("OK", "PARTIAL") and node["current"] is True
    assert api.as_("rep").graphql(query, {"id": run["id"]})["data"]["node"] is None


def test_only_admins_refresh_and_nothing_is_queued_for_others_or_for_bad_dates(api, runtime):
    for who in ("manager", "rep"):
        assert api.as_(who).post("/api/v1/analytics/refresh").status_code == 403
        denied = api.as_(who).graphql("mutation { refreshAnalytics { id } }")
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = api.as_("admin").post("/api/v1/analytics/refresh", json={"as_of": "2999-01-01"})
    assert bad.status_code == 422 and "as_of" in bad.get_json()["errors"]["json"]
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(AnalyticsRun)) == 0
        if queue.is_postgresql(runtime):
            assert sess.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"),
                               {"t": analytics.REFRESH_TASK.name}) == 0
    run = api.as_("admin").post("/api/v1/analytics/refresh").get_json()
    assert api.as_("rep").get(f"/api/v1/analytics/runs/{run['id']}").status_code == 403
    assert api.as_("admin").get("/api/v1/analytics/runs/00000000-0000-0000-0000-000000000000").status_code == 404


def test_wait_true_refreshes_within_the_request(api, runtime):
    response = api.as_("admin").post("/api/v1/analytics/refresh?wait=true")
    assert response.status_code == 201 and response.get_json()["status"] in ("ok", "partial")
    assert analytics.REFRESH_TASK.waiting(runtime) == []


def test_a_failing_refresh_is_tried_again_with_backoff_then_marked_failed_with_its_error(api, runtime, monkeypatch):
    if queue.is_postgresql(runtime):
        pytest.skip("the in-process runner's retries; PostgreSQL's are procrastinate's (test below)")
    calls = []

    def broken(**kwargs):
        calls.append(kwargs["run_id"])
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(analytics, "refresh", broken)
    run = api.as_("admin").post("/api/v1/analytics/refresh").get_json()
    now = [1000.0]
    runner = queue.LocalRunner(runtime, clock=lambda: now[0])
    assert runner._run_tasks() == 1002.0   # the first retry waits 2 s
    body = api.as_("admin").get(f"/api/v1/analytics/runs/{run['id']}").get_json()
    assert body["status"] == "queued" and body["message"] == "RuntimeError: the disk is full (it will be tried again)"
    runner._run_tasks()
    assert len(calls) == 1   # not due yet
    waits = []
    while api.as_("admin").get(f"/api/v1/analytics/runs/{run['id']}").get_json()["status"] == "queued":
        due = runner._run_tasks()
        if due is not None:
            waits.append(due - now[0])
            now[0] = due
        assert len(calls) <= queue.MAX_ATTEMPTS + 1
    assert waits == [2.0, 4.0, 8.0, 16.0, 32.0] and len(calls) == queue.MAX_ATTEMPTS + 1
    body = api.as_("admin").get(f"/api/v1/analytics/runs/{run['id']}").get_json()
    assert (body["status"], body["message"]) == ("failed", "RuntimeError: the disk is full") and body["finished_at"]
    assert runner._run_tasks() is None and len(calls) == queue.MAX_ATTEMPTS + 1   # failed is final


def test_the_last_attempt_allowed_marks_the_run_failed(api, runtime, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("still broken")

    monkeypatch.setattr(analytics, "refresh", broken)
    run = api.as_("admin").post("/api/v1/analytics/refresh").get_json()
    with pytest.raises(RuntimeError):
        queue.run_task(runtime, analytics.REFRESH_TASK, run["id"], attempts=queue.MAX_ATTEMPTS - 1)
    assert api.as_("admin").get(f"/api/v1/analytics/runs/{run['id']}").get_json()["status"] == "queued"
    with pytest.raises(RuntimeError):
        queue.run_task(runtime, analytics.REFRESH_TASK, run["id"], attempts=queue.MAX_ATTEMPTS)
    body = api.as_("admin").get(f"/api/v1/analytics/runs/{run['id']}").get_json()
    assert (body["status"], body["message"]) == ("failed", "RuntimeError: still broken")
    assert analytics.REFRESH_TASK.waiting(runtime) == []


# --- PostgreSQL: a procrastinate worker in this process ----------------------------------------------------

def test_postgresql_two_refreshes_asked_at_once_run_one_after_the_other(worker_app, monkeypatch):
    app, rt, admin = worker_app
    spans: list[tuple[float, float]] = []
    real = analytics.refresh

    def slow(**kwargs):
        started = time.monotonic()
        time.sleep(1.0)
        try:
            return real(**kwargs)
        finally:
            spans.append((started, time.monotonic()))

    monkeypatch.setattr(analytics, "refresh", slow)
    with rt.database.unit_of_work():
        ids = [str(analytics.queue_refresh(admin).id) for _ in range(2)]
    found = wait_for_status(rt, AnalyticsRun, ids, ("ok", "partial", "failed"))
    assert {status for status, _ in found.values()} <= {"ok", "partial"}, found
    (a_start, a_end), (b_start, b_end) = sorted(spans)
    assert b_start >= a_end, spans   # the lock: never two at once, with three job slots free


def test_postgresql_a_failed_attempt_is_retried_by_the_worker(worker_app, monkeypatch):
    app, rt, admin = worker_app
    real = analytics.refresh
    attempts = []

    def flaky(**kwargs):
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise RuntimeError("connection reset")
        return real(**kwargs)

    monkeypatch.setattr(analytics, "refresh", flaky)
    with rt.database.unit_of_work():
        run_id = str(analytics.queue_refresh(admin).id)
    found = wait_for_status(rt, AnalyticsRun, [run_id], ("ok", "partial", "failed"))
    assert found[run_id][0] in ("ok", "partial"), found
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 1.5   # procrastinate's backoff: 2 s
