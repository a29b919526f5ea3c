"""Exports queued as long tasks (issue #18): ``POST /api/v1/exports/<type>/jobs`` checks the export as the
streamed ``GET /exports/<type>`` does, records it ``queued`` and answers 202; the worker writes the same
bytes as the caller, with their scope, into the export directory; ``GET /exports/jobs/{id}`` follows it and
``GET /exports/jobs/{id}/file`` downloads it, for the requester and admins only, until ``exports.expire``
removes it (docs/import-export.md, "Export")."""
from __future__ import annotations

import csv
import io
import json
import os
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from core import queue
from core.db import utcnow
from core.models import AuditEntry, ExportJob, Notification
from core.services import export_jobs
from core.services import people as people_service
from tests.core.queue_fixtures import wait_for_status
from tests.core import test_exports

# the fixtures of tests/core/test_exports.py: the CLI, and the customers, contacts and timeline it imported
cli, world = test_exports.cli, test_exports.world


@pytest.fixture
def export_dir(tmp_path, monkeypatch):
    path = tmp_path / "exports"
    path.mkdir()
    monkeypatch.setattr(export_jobs, "export_dir", lambda settings=None, create=True: path)
    return path


def run_queued(runtime) -> None:
    """The worker's round: the SQLite runner's; on PostgreSQL (whose test transaction a worker cannot see)
    the job body of each waiting export, as the procrastinate task calls it."""
    if queue.is_postgresql(runtime):
        for item_id in export_jobs.EXPORT_TASK.waiting(runtime):
            queue.run_task(runtime, export_jobs.EXPORT_TASK, item_id)
    else:
        queue.LocalRunner(runtime)._run_tasks()


def jobs_in(runtime) -> int:
    with runtime.database.unit_of_work() as sess:
        return sess.scalar(select(func.count()).select_from(ExportJob))


@pytest.mark.usefixtures("world")
def test_a_queued_export_is_written_by_the_worker_with_the_streamed_gets_bytes(api, runtime, export_dir):
    response = api.post("/api/v1/exports/customers/jobs", json={"format": "csv", "filters": {"region": "East"}},
                        headers={"X-Request-Id": "export-req-1"})
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert (job["status"], job["record_type"], job["format"], job["filters"], job["request_id"], job["download"]) == (
        "queued", "customers", "csv", {"region": "East"}, "export-req-1", None)
    assert "file" not in job
    pending = api.get(f"/api/v1/exports/jobs/{job['id']}/file")
    assert pending.status_code == 409 and "queued" in pending.get_json()["message"]

    run_queued(runtime)
    done = api.get(f"/api/v1/exports/jobs/{job['id']}").get_json()
    assert done["status"] == "done" and done["started_at"] and done["finished_at"] and done["message"] == ""
    assert done["download"] == f"/api/v1/exports/jobs/{job['id']}/file"
    streamed = api.get("/api/v1/exports/customers?region=East").get_data()
    got = api.get(done["download"])
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert got.headers["Content-Disposition"] == 'attachment; filename="customers.csv"'
    assert got.get_data() == streamed
    assert done["rows"] == len(list(csv.DictReader(io.StringIO(streamed.decode())))) == 3
    assert done["size_bytes"] == len(streamed)
    # the file is whole under its final name; nothing half-written is left beside it
    assert [p.name for p in export_dir.iterdir()] == [f"{job['id'].replace('-', '')}.csv"]
    with runtime.database.unit_of_work() as sess:
        entry = sess.scalars(select(AuditEntry).where(AuditEntry.action == "export_job.requested")).one()
        assert (str(entry.record_id), entry.request_id, entry.changes["filters"]) == (
            job["id"], "export-req-1", [None, {"region": "East"}])
        note = sess.scalars(select(Notification).where(Notification.kind == "export.ready")).one()
        assert str(note.record_id) == job["id"] and note.data["export_job_id"] == job["id"]
    # the job again (a retry after its commit) changes nothing
    assert queue.run_task(runtime, export_jobs.EXPORT_TASK, job["id"]) == "nothing to do"


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("fmt", ["jsonl", "xlsx"])
def test_every_format_gives_the_streamed_file(api, runtime, export_dir, fmt):
    job = api.post("/api/v1/exports/interactions/jobs", json={"format": fmt, "filters": {"kind": "purchase"}}).get_json()
    run_queued(runtime)
    got = api.get(f"/api/v1/exports/jobs/{job['id']}/file")
    streamed = api.get(f"/api/v1/exports/interactions?format={fmt}&kind=purchase")
    assert got.headers["Content-Type"] == streamed.headers["Content-Type"]
    if fmt == "jsonl":
        assert got.get_data() == streamed.get_data()
    else:   # a workbook carries the time it was written: compare the cells
        from openpyxl import load_workbook

        def cells(data):
            return list(load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True))
        assert cells(got.get_data()) == cells(streamed.get_data())


@pytest.mark.usefixtures("world")
def test_a_bad_filter_or_format_is_a_422_naming_it_and_records_nothing(api, runtime, export_dir):
    bad = api.post("/api/v1/exports/customers/jobs", json={"filters": {"stage": "nowhere"}})
    assert bad.status_code == 422 and "stage" in bad.get_json()["errors"]["json"]
    unknown = api.post("/api/v1/exports/customers/jobs", json={"filters": {"colour": "red"}})
    assert unknown.status_code == 422 and "colour" in unknown.get_json()["errors"]["json"]
    fmt = api.post("/api/v1/exports/customers/jobs", json={"format": "pdf"})
    assert fmt.status_code == 422 and "format" in fmt.get_json()["errors"]["json"]
    nested = api.post("/api/v1/exports/customers/jobs", json={"filters": {"region": ["East"]}})
    assert nested.status_code == 422 and "region" in nested.get_json()["errors"]["json"]
    extra = api.post("/api/v1/exports/customers/jobs", json={"colour": "red"})
    assert extra.status_code == 422 and "colour" in extra.get_json()["errors"]["json"]
    assert api.post("/api/v1/exports/widgets/jobs", json={}).status_code == 404
    assert api.as_(None).post("/api/v1/exports/customers/jobs", json={}).status_code == 401
    assert jobs_in(runtime) == 0
    with runtime.database.unit_of_work() as sess:
        if queue.is_postgresql(runtime):
            assert sess.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"),
                               {"t": export_jobs.EXPORT_TASK.name}) == 0
    # no body at all: every customer, as CSV
    assert api.post("/api/v1/exports/customers/jobs").status_code == 202


@pytest.mark.usefixtures("world")
def test_only_the_requester_and_admins_see_a_job_and_its_file(api, runtime, export_dir):
    job = api.as_("rep").post("/api/v1/exports/customers/jobs", json={"format": "jsonl"}).get_json()
    run_queued(runtime)
    for who in ("rep2", "manager", "other_rep"):
        assert api.as_(who).get(f"/api/v1/exports/jobs/{job['id']}").status_code == 404
        assert api.as_(who).get(f"/api/v1/exports/jobs/{job['id']}/file").status_code == 404
    assert api.as_("rep").get(f"/api/v1/exports/jobs/{job['id']}").get_json()["status"] == "done"
    assert api.as_("admin").get(f"/api/v1/exports/jobs/{job['id']}/file").status_code == 200
    assert api.as_(None).get(f"/api/v1/exports/jobs/{job['id']}").status_code == 401
    assert api.get("/api/v1/exports/jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    # a rep's export holds only what their list shows
    body = api.as_("rep").get(f"/api/v1/exports/jobs/{job['id']}/file").get_data(as_text=True)
    assert {json.loads(line)["external_id"] for line in body.splitlines()} == {"C1", "C2"}


@pytest.mark.usefixtures("world")
def test_the_expire_job_removes_the_file_and_marks_the_job_expired(api, runtime, export_dir):
    job = api.post("/api/v1/exports/contacts/jobs", json={}).get_json()
    run_queued(runtime)
    done = api.get(f"/api/v1/exports/jobs/{job['id']}").get_json()
    expire = next(j for j in runtime.jobs if j.name == "exports.expire")
    with runtime.database.unit_of_work():
        assert expire.run(utcnow()) == "0 export(s) expired"
    assert api.get(f"/api/v1/exports/jobs/{job['id']}/file").status_code == 200
    # a temporary file a killed worker left, old enough to go; a fresh one stays
    stale, fresh = export_dir / ".x.csv.1.part", export_dir / ".y.csv.2.part"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    long_ago = utcnow().timestamp() - 2 * 86400
    os.utime(stale, (long_ago, long_ago))
    with runtime.database.unit_of_work():
        assert expire.run(utcnow() + timedelta(hours=25)) == "1 export(s) expired, 1 unfinished file(s) removed"
    assert [p.name for p in export_dir.iterdir()] == [fresh.name]
    gone = api.get(f"/api/v1/exports/jobs/{job['id']}").get_json()
    assert (gone["status"], gone["download"], gone["expires_at"]) == ("expired", None, done["expires_at"])
    response = api.get(f"/api/v1/exports/jobs/{job['id']}/file")
    assert response.status_code == 410 and "expired" in response.get_json()["message"]


@pytest.mark.usefixtures("world")
def test_a_file_removed_by_hand_is_gone(api, runtime, export_dir):
    job = api.post("/api/v1/exports/contacts/jobs", json={}).get_json()
    run_queued(runtime)
    for path in export_dir.iterdir():
        path.unlink()
    assert api.get(f"/api/v1/exports/jobs/{job['id']}/file").status_code == 410


@pytest.mark.usefixtures("world")
def test_an_export_whose_user_was_deactivated_meanwhile_fails_with_a_message(api, runtime, people, export_dir):
    job = api.as_("rep2").post("/api/v1/exports/customers/jobs", json={}).get_json()
    with runtime.database.unit_of_work():
        people_service.update_user(people.admin, people.rep2.id, {"version": people.rep2.version, "is_active": False})
    with pytest.raises(Exception):
        queue.run_task(runtime, export_jobs.EXPORT_TASK, job["id"])
    body = api.get(f"/api/v1/exports/jobs/{job['id']}").get_json()
    assert body["status"] == "queued" and body["message"].endswith("(it will be tried again)")
    with pytest.raises(Exception):
        queue.run_task(runtime, export_jobs.EXPORT_TASK, job["id"], attempts=queue.MAX_ATTEMPTS)
    body = api.get(f"/api/v1/exports/jobs/{job['id']}").get_json()
    assert body["status"] == "failed" and body["finished_at"] and body["download"] is None
    assert body["message"].startswith("The user who asked for this export is no longer active")
    assert list(export_dir.iterdir()) == []
    failed = api.get(f"/api/v1/exports/jobs/{job['id']}/file")
    assert failed.status_code == 409 and "failed" in failed.get_json()["message"]
    assert export_jobs.EXPORT_TASK.waiting(runtime) == []


@pytest.mark.usefixtures("world")
def test_a_write_that_breaks_leaves_no_file(api, runtime, export_dir, monkeypatch):
    from core.services import exports

    def broken(prepared, **kwargs):
        yield b"external_id,name\n"
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(exports, "stream", broken)
    job = api.post("/api/v1/exports/customers/jobs", json={}).get_json()
    with pytest.raises(RuntimeError):
        queue.run_task(runtime, export_jobs.EXPORT_TASK, job["id"], attempts=queue.MAX_ATTEMPTS)
    body = api.get(f"/api/v1/exports/jobs/{job['id']}").get_json()
    assert (body["status"], body["message"]) == ("failed", "RuntimeError: the disk is full")
    assert list(export_dir.iterdir()) == []
    with runtime.database.unit_of_work() as sess:
        assert sess.scalars(select(Notification.kind).where(Notification.record_id == uuid.UUID(job["id"]))).all() \
            == ["export.failed"]


def test_the_export_directory_defaults_to_the_instance_folder(tmp_path):
    settings = SimpleNamespace(export_path="", instance_path=str(tmp_path))
    assert export_jobs.export_dir(settings, create=False) == tmp_path / "exports" and not (tmp_path / "exports").exists()
    assert export_jobs.export_dir(settings) == tmp_path / "exports" and (tmp_path / "exports").is_dir()
    settings = SimpleNamespace(export_path=str(tmp_path / "shared"), instance_path=str(tmp_path))
    assert export_jobs.export_dir(settings) == tmp_path / "shared"


@pytest.mark.usefixtures("world")
def test_graphql_export_list_queues_a_job_followed_with_node(api, runtime, export_dir):
    mutation = """mutation($f: JSON) { exportList(recordType: "customers", format: "jsonl", filters: $f) {
        id status format recordType filters downloadUrl requestId } }"""
    answer = api.as_("rep").graphql(mutation, {"f": {"region": "East"}})
    job = answer["data"]["exportList"]
    assert (job["status"], job["format"], job["filters"], job["downloadUrl"]) == ("QUEUED", "jsonl", {"region": "East"}, None)
    bad = api.as_("rep").graphql(mutation, {"f": {"stage": "nowhere"}})
    assert bad["data"]["exportList"] is None and bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "stage" in bad["errors"][0]["extensions"]["fields"]
    run_queued(runtime)
    query = "query($id: ID!) { node(id: $id) { __typename ... on ExportJob { status rows downloadUrl expiresAt } } }"
    node = api.as_("rep").graphql(query, {"id": job["id"]})["data"]["node"]
    assert (node["__typename"], node["status"], node["rows"]) == ("ExportJob", "DONE", 2)
    assert node["downloadUrl"] == f"/api/v1/exports/jobs/{job['id']}/file" and node["expiresAt"]
    assert api.as_("rep2").graphql(query, {"id": job["id"]})["data"]["node"] is None
    assert api.as_("admin").graphql(query, {"id": job["id"]})["data"]["node"]["status"] == "DONE"
    assert jobs_in(runtime) == 1


def test_postgresql_the_worker_writes_a_queued_export(worker_app, tmp_path, monkeypatch):
    app, rt, admin = worker_app
    monkeypatch.setattr(export_jobs, "export_dir", lambda settings=None, create=True: tmp_path)
    from core.services import customers

    with rt.database.unit_of_work():
        customers.create(admin, {"kind": "company", "name": "Acme", "region": "East"})
        customers.create(admin, {"kind": "company", "name": "Beta", "region": "West"})
    with rt.database.unit_of_work():
        job_id = str(export_jobs.queue_export(admin, "customers", {"region": "East"}, "jsonl").id)
    assert wait_for_status(rt, ExportJob, [job_id], ("done", "failed"))[job_id] == ("done", "")
    with rt.database.unit_of_work():
        found = export_jobs.open_export_file(admin, job_id)
        assert [json.loads(line)["name"] for line in found.path.read_text().splitlines()] == ["Acme"]


def test_the_retention_is_checked_at_start_and_listed_by_config_check():
    from core.config import Settings, describe

    assert any("TRELLIS_EXPORT_RETENTION_HOURS" in p for p in Settings(export_retention_hours=0).problems())
    assert not any("EXPORT" in p for p in Settings().problems())
    shown = {name: value for name, value, _ in describe(Settings(), environ={})}
    assert (shown["TRELLIS_EXPORT_PATH"], shown["TRELLIS_EXPORT_RETENTION_HOURS"]) == ("(empty)", "24")
