"""``/api/v1/imports``: an admin uploads a file, the worker's job runs it, the run reports its status."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from core import db
from core.db import utcnow
from core.models import Customer

FILE = b"external_id,name,kind\nR1,Rest Co,company\nR2,,company\nR3,Rest Person,person\n"


@pytest.fixture(autouse=True)
def uploads(tmp_path, monkeypatch):
    from core.services import imports

    monkeypatch.setattr(imports, "upload_dir", lambda: tmp_path)
    return tmp_path


def upload(api, data: bytes = FILE, name: str = "customers.csv", **form):
    return api.post("/api/v1/imports", data={"type": "customers", **form, "file": (io.BytesIO(data), name)},
                    content_type="multipart/form-data")


def run_the_job(runtime):
    job = next(j for j in runtime.jobs if j.name == "imports.run")
    with runtime.database.unit_of_work():
        return job.run(utcnow())


def customers(runtime) -> int:
    with runtime.database.unit_of_work():
        return db.session().scalar(select(func.count()).select_from(Customer).where(Customer.external_id.like("R%")))


def test_an_admin_uploads_a_file_the_worker_runs_it_and_the_run_reports_status_rows_and_errors(api, runtime, uploads):
    response = upload(api)
    assert response.status_code == 202, response.get_json()
    run = response.get_json()
    assert (run["status"], run["rows_done"], run["record_type"], run["format"]) == ("pending", 0, "customers", "csv")
    assert customers(runtime) == 0 and len(list(uploads.iterdir())) == 1
    assert run_the_job(runtime) == "1 of 1 import(s) run"
    body = api.get(f"/api/v1/imports/{run['id']}").get_json()
    assert {k: body[k] for k in ("status", "rows_done", "created", "updated", "unchanged", "error_count")} == {
        "status": "done", "rows_done": 3, "created": 2, "updated": 0, "unchanged": 0, "error_count": 1}
    assert body["errors"] == [{"row": 3, "column": "name", "reason": "Missing data for required field."}]
    assert customers(runtime) == 2 and list(uploads.iterdir()) == []  # the upload is removed once done
    errors = api.get(f"/api/v1/imports/{run['id']}/errors")
    assert errors.mimetype == "text/csv"
    assert errors.get_data(as_text=True).splitlines() == ["row,column,reason", "3,name,Missing data for required field."]
    assert [r["id"] for r in api.get("/api/v1/imports").get_json()] == [run["id"]]
    # the same file again: a new run, nothing changes
    again = upload(api).get_json()
    run_the_job(runtime)
    body = api.get(f"/api/v1/imports/{again['id']}").get_json()
    assert (body["status"], body["created"], body["unchanged"]) == ("done", 0, 2)
    assert customers(runtime) == 2


def test_a_dry_run_job_writes_nothing_and_a_mapping_renames_columns(api, runtime):
    data = b"No,Name\nM1,Mapped Co\nM2,\n"
    run = upload(api, data, dry_run="true", mapping=json.dumps({"No": "external_id", "Name": "name"})).get_json()
    assert run["dry_run"] is True
    run_the_job(runtime)
    body = api.get(f"/api/v1/imports/{run['id']}").get_json()
    assert (body["status"], body["rows_done"], body["created"], body["error_count"]) == ("done", 2, 1, 1)
    with runtime.database.unit_of_work():
        assert db.session().scalar(select(func.count()).select_from(Customer).where(Customer.external_id == "M1")) == 0


def test_only_admins_import(api):
    for who in ("manager", "rep"):
        assert upload(api.as_(who)).status_code == 403
        assert api.as_(who).get("/api/v1/imports").status_code == 403
        assert api.as_(who).get("/api/v1/imports/types").status_code == 403
    assert upload(api.as_(None)).status_code == 401


def test_a_file_that_does_not_fit_is_refused_at_once_naming_the_problem(api, uploads):
    response = upload(api, b"external_id,nmae\nA,B\n")
    assert response.status_code == 422
    fields = response.get_json()["errors"]["json"]
    assert "Unknown column 'nmae'" in fields["columns"][0]
    response = upload(api, name="customers.pdf")
    assert response.status_code == 422 and "format" in response.get_json()["errors"]["json"]
    assert upload(api, type="nothing").status_code == 422
    assert list(uploads.iterdir()) == []


def test_the_import_types_and_their_columns(api):
    types = {t["name"]: t for t in api.get("/api/v1/imports/types").get_json()}
    assert {"customers", "contacts", "interactions"} <= set(types)
    columns = {c["name"]: c for c in types["interactions"]["columns"]}
    assert columns["external_id"]["required"] and columns["kind"]["required"]
    assert "customer_external_id" in columns


def test_what_a_queued_import_writes_carries_the_request_id_of_its_upload(api, runtime):
    response = api.post("/api/v1/imports", data={"type": "customers", "file": (io.BytesIO(FILE), "customers.csv")},
                        content_type="multipart/form-data", headers={"X-Request-Id": "upload-7f3a"})
    assert response.status_code == 202 and response.headers["X-Request-Id"] == "upload-7f3a"
    assert response.get_json()["request_id"] == "upload-7f3a"
    run_the_job(runtime)  # a job run has an id of its own; the import's writes keep the upload's
    trail = api.get("/api/v1/audit?request_id=upload-7f3a&page_size=100").get_json()
    assert sorted(e["action"] for e in trail if e["record_type"] == "customer") == ["customer.created", "customer.created"]
