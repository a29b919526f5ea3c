"""An erasure asked for over REST is a background job (issue #18): ``POST /privacy/erase`` checks the
request, records it ``queued`` (the person by id: an email address given is not kept) and answers 202;
the worker erases in one transaction that also marks it ``done``; ``GET /privacy/erase/{id}`` shows
``queued`` → ``running`` → ``done`` (what was erased) or ``failed`` with the error; the erasure's audit
entry and event carry the request's id; ``?wait=true`` erases within the request."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select, text

from core import db, queue
from core.models import AuditEntry, Contact, ErasureJob, OutboxEvent
from core.services import privacy
from tests.core.queue_fixtures import wait_for_status

EMAIL = "li.na@example.com"


def person(api) -> tuple[str, str]:
    customer = api.post("/api/v1/customers", json={"kind": "person", "name": "Li Na"}).get_json()
    contact = api.post("/api/v1/contacts", json={"customer_id": customer["id"], "name": "Li Na",
                                                 "email": EMAIL}).get_json()
    return customer["id"], contact["id"]


def run_queued(runtime) -> None:
    """The worker's round: the SQLite runner's; on PostgreSQL (whose test transaction a worker cannot see)
    the job body of each waiting erasure, as the procrastinate task calls it."""
    if queue.is_postgresql(runtime):
        for item_id in privacy.ERASE_TASK.waiting(runtime):
            queue.run_task(runtime, privacy.ERASE_TASK, item_id)
    else:
        queue.LocalRunner(runtime)._run_tasks()


def test_an_erasure_is_queued_then_done_by_the_worker_under_the_request_id(api, runtime, monkeypatch):
    cid, _ = person(api)
    seen = []
    real = privacy.erase

    def watching(actor, query, *, reason):
        seen.append(db.session().scalars(select(ErasureJob.status)).all())
        return real(actor, query, reason=reason)

    monkeypatch.setattr(privacy, "erase", watching)
    response = api.post("/api/v1/privacy/erase", json={"person": EMAIL, "reason": "Letter of 2026-03-01"},
                        headers={"X-Request-Id": "erase-req-1"})
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert (job["status"], job["person"], job["request_id"], job["erasure_id"]) == (
        "queued", {"kind": "customer", "id": cid}, "erase-req-1", None)
    assert api.get(f"/api/v1/privacy/erase/{job['id']}").get_json()["status"] == "queued"
    with runtime.database.unit_of_work() as sess:   # nothing erased yet, and the address is not kept
        assert sess.scalar(select(func.count()).select_from(Contact).where(Contact.email == EMAIL)) == 1
        assert EMAIL not in str([(j.reason, j.person_id) for j in sess.scalars(select(ErasureJob))])
    assert api.get(f"/api/v1/privacy/erasures?person={cid}").get_json() == []

    run_queued(runtime)
    assert seen == [["running"]]
    done = api.get(f"/api/v1/privacy/erase/{job['id']}").get_json()
    assert done["status"] == "done" and done["finished_at"] and done["already_erased"] is False
    assert done["erased"]["core"]["contact"] >= 1
    erasures = api.get(f"/api/v1/privacy/erasures?person={cid}").get_json()
    assert [e["id"] for e in erasures] == [done["erasure_id"]]
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(Contact).where(Contact.email == EMAIL)) == 0
        entry = sess.get(AuditEntry, uuid.UUID(done["erasure_id"]))
        assert entry.action == "customer.erased" and entry.request_id == "erase-req-1"
        event = sess.scalars(select(OutboxEvent).where(OutboxEvent.name == "customer.erased")).one()
        assert event.request_id == "erase-req-1"
    # the job again (a retry after its commit) changes nothing
    assert queue.run_task(runtime, privacy.ERASE_TASK, job["id"]) == "nothing to do" and len(seen) == 1


def test_only_admins_erase_and_nothing_is_queued_for_others_or_for_bad_requests(api, runtime):
    cid, _ = person(api)
    for who in ("manager", "rep"):
        assert api.as_(who).post("/api/v1/privacy/erase", json={"person": cid, "reason": "x"}).status_code == 403
    assert api.post("/api/v1/privacy/erase", json={"person": cid, "reason": " "}).status_code == 422
    assert api.post("/api/v1/privacy/erase", json={"person": "nobody@example.com", "reason": "x"}).status_code == 404
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(ErasureJob)) == 0
        if queue.is_postgresql(runtime):
            assert sess.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"),
                               {"t": privacy.ERASE_TASK.name}) == 0
    job = api.post("/api/v1/privacy/erase", json={"person": cid, "reason": "asked"}).get_json()
    assert api.as_("rep").get(f"/api/v1/privacy/erase/{job['id']}").status_code == 403
    assert api.get("/api/v1/privacy/erase/00000000-0000-0000-0000-000000000000").status_code == 404


def test_wait_true_erases_within_the_request(api, runtime):
    cid, _ = person(api)
    response = api.post("/api/v1/privacy/erase?wait=true", json={"person": cid, "reason": "asked"})
    assert response.status_code == 200 and response.get_json()["already_erased"] is False
    assert privacy.ERASE_TASK.waiting(runtime) == []


def test_a_failing_erasure_is_queued_again_with_its_error_then_failed_and_nothing_is_half_erased(
        api, runtime, monkeypatch):
    cid, _ = person(api)
    real = privacy.erase

    def half_then_broken(actor, query, *, reason):
        real(actor, query, reason=reason)   # erased in the transaction …
        raise RuntimeError("the disk is full")   # … which rolls back

    monkeypatch.setattr(privacy, "erase", half_then_broken)
    job = api.post("/api/v1/privacy/erase", json={"person": cid, "reason": "asked"}).get_json()
    with pytest.raises(RuntimeError):
        queue.run_task(runtime, privacy.ERASE_TASK, job["id"])
    body = api.get(f"/api/v1/privacy/erase/{job['id']}").get_json()
    assert (body["status"], body["message"]) == ("queued", "RuntimeError: the disk is full (it will be tried again)")
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(Contact).where(Contact.email == EMAIL)) == 1
    with pytest.raises(RuntimeError):
        queue.run_task(runtime, privacy.ERASE_TASK, job["id"], attempts=queue.MAX_ATTEMPTS)
    body = api.get(f"/api/v1/privacy/erase/{job['id']}").get_json()
    assert (body["status"], body["message"]) == ("failed", "RuntimeError: the disk is full") and body["finished_at"]
    assert privacy.ERASE_TASK.waiting(runtime) == []
    # asked again once the cause is fixed: erased
    monkeypatch.setattr(privacy, "erase", real)
    again = api.post("/api/v1/privacy/erase", json={"person": cid, "reason": "asked again"}).get_json()
    run_queued(runtime)
    assert api.get(f"/api/v1/privacy/erase/{again['id']}").get_json()["status"] == "done"


def test_postgresql_the_worker_erases_a_queued_request(worker_app):
    app, rt, admin = worker_app
    from core.services import contacts, customers

    with rt.database.unit_of_work():
        customer = customers.create(admin, {"kind": "person", "name": "Li Na"})
        contacts.create(admin, {"customer_id": str(customer.id), "name": "Li Na", "email": EMAIL})
    with rt.database.unit_of_work():
        job_id = str(privacy.queue_erasure(admin, {"person": EMAIL, "reason": "asked"}).id)
    assert wait_for_status(rt, ErasureJob, [job_id], ("done", "failed"))[job_id] == ("done", "")
    with rt.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(Contact).where(Contact.email == EMAIL)) == 0


def stored_reasons(runtime) -> dict[str, str]:
    with runtime.database.unit_of_work() as sess:
        return {str(j.id): j.reason for j in sess.scalars(select(ErasureJob))}


def test_a_finished_request_keeps_no_reason_and_the_erasure_keeps_it_scrubbed(api, runtime):
    cid, _ = person(api)
    job = api.post("/api/v1/privacy/erase", json={"person": cid, "reason": "Li Na wrote on 2026-03-01"}).get_json()
    assert stored_reasons(runtime) == {job["id"]: "Li Na wrote on 2026-03-01"}   # needed while it waits
    run_queued(runtime)
    done = api.get(f"/api/v1/privacy/erase/{job['id']}").get_json()
    assert (done["status"], done["reason"]) == ("done", "")
    assert stored_reasons(runtime) == {job["id"]: ""}
    erasures = api.get(f"/api/v1/privacy/erasures?person={cid}").get_json()
    assert [e["reason"] for e in erasures] == ["[erased]"]   # the reason named her: the record keeps it erased
    job = api.post("/api/v1/privacy/erase", json={"person": cid, "reason": "Letter of 2026-03-01"}).get_json()
    run_queued(runtime)
    assert stored_reasons(runtime)[job["id"]] == ""


def test_a_failed_request_keeps_no_reason_nor_the_person_in_its_error(api, runtime, monkeypatch):
    cid, _ = person(api)

    def broken(actor, query, *, reason):
        raise RuntimeError(f"duplicate key (email)=({EMAIL})")

    monkeypatch.setattr(privacy, "erase", broken)
    job = api.post("/api/v1/privacy/erase", json={"person": cid, "reason": "Li Na asked by letter"}).get_json()
    with pytest.raises(RuntimeError):
        queue.run_task(runtime, privacy.ERASE_TASK, job["id"])
    assert stored_reasons(runtime) == {job["id"]: "Li Na asked by letter"}   # kept for the next attempt
    with pytest.raises(RuntimeError):
        queue.run_task(runtime, privacy.ERASE_TASK, job["id"], attempts=queue.MAX_ATTEMPTS)
    body = api.get(f"/api/v1/privacy/erase/{job['id']}").get_json()
    assert (body["status"], body["reason"], body["message"]) == ("failed", "", "RuntimeError: [erased]")
    assert stored_reasons(runtime) == {job["id"]: ""}


QUEUE_ERASURE = """mutation($p: String!, $r: String!) { queuePersonErasure(person: $p, reason: $r) {
    id status person reason requestId erasureId erased alreadyErased } }"""
FOLLOW = """query($id: ID!) { node(id: $id) { ... on PrivacyErasureJob { status reason erasureId erased trail
    alreadyErased finishedAt } } }"""


def test_graphql_queues_an_erasure_and_follows_it_by_node_as_rest_does(api, runtime):
    cid, _ = person(api)
    result = api.graphql(QUEUE_ERASURE, {"p": EMAIL, "r": "Letter of 2026-03-01"}, headers={"X-Request-Id": "gql-erase"})
    assert "errors" not in result, result
    job = result["data"]["queuePersonErasure"]
    assert {k: job[k] for k in ("status", "person", "reason", "requestId", "erasureId", "erased", "alreadyErased")} == {
        "status": "QUEUED", "person": {"kind": "customer", "id": cid}, "reason": "Letter of 2026-03-01",
        "requestId": "gql-erase", "erasureId": None, "erased": None, "alreadyErased": None}
    with runtime.database.unit_of_work() as sess:   # queued, not erased
        assert sess.scalar(select(func.count()).select_from(Contact).where(Contact.email == EMAIL)) == 1

    run_queued(runtime)
    done = api.graphql(FOLLOW, {"id": job["id"]})["data"]["node"]
    assert done["status"] == "DONE" and done["reason"] == "" and done["alreadyErased"] is False
    assert done["erased"]["core"]["contact"] >= 1 and done["finishedAt"]
    rest = api.get(f"/api/v1/privacy/erase/{job['id']}").get_json()
    assert (rest["status"], rest["erasure_id"]) == ("done", done["erasureId"])
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(Contact).where(Contact.email == EMAIL)) == 0


def test_graphql_erasure_requests_are_checked_like_rest_and_queue_nothing(api, runtime):
    cid, _ = person(api)
    denied = api.as_("rep").graphql(QUEUE_ERASURE, {"p": cid, "r": "x"})
    assert denied["data"]["queuePersonErasure"] is None and denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    blank = api.graphql(QUEUE_ERASURE, {"p": cid, "r": "  "})
    assert blank["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "reason" in str(blank["errors"][0]["extensions"])
    unknown = api.graphql(QUEUE_ERASURE, {"p": "nobody@example.com", "r": "x"})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert api.as_("rep").graphql(FOLLOW, {"id": str(uuid.uuid4())})["data"]["node"] is None
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(ErasureJob)) == 0
