"""``trellis import property_service.requests`` and ``trellis export property_service.requests``: requests
filed through the plugin's own create (SLA clocks, timeline entry, dispatch, audit, events), found again
by external id (a rerun changes nothing, a corrected file updates through ``update`` and ``dispatch``), and
a filtered list exported in the caller's scope imports back unchanged (docs/import-export.md)."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from core import db
from core.models import AuditEntry, Interaction, OutboxEvent
from plugins.property_service.models import PsRequest

TYPE = "property_service.requests"


def requests_csv(ps) -> str:
    return (
        "external_id,customer_id,kind,description,priority,unit_id,team_id,received_at,photos\n"
        f"R1,{ps.owner.id},repair,The kitchen tap drips.,high,{ps.unit.id},{ps.engineering.id},2026-03-02T02:00:00+00:00,"
        "https://img.example/1.jpg;https://img.example/2.jpg\n"
        f"R2,{ps.tenant.id},complaint,Noise at night.,,{ps.unit2.id},,2026-03-03,\n"
        f"R3,{ps.tenant.id},teleport,Beam me up.,,,,,\n"
        f"R4,{ps.tenant.id},repair,,,,,,\n"
        f"R5,{ps.rep_customer.id},consultation,When is the fee due?,low,,{ps.security.id},2026-03-04,\n"
    )


def counts(runtime) -> dict[str, int]:
    with runtime.database.unit_of_work():
        return {m.__tablename__: db.session().scalar(select(func.count()).select_from(m)) for m in
                (PsRequest, Interaction, AuditEntry, OutboxEvent)}


def request(runtime, external_id: str) -> PsRequest:
    with runtime.database.unit_of_work():
        r = db.session().scalars(select(PsRequest).where(PsRequest.external_id == external_id)).one()
        db.session().expunge(r)
        return r


def test_dry_run_reports_row_column_reason_and_writes_nothing(ps, cli, text_file, tmp_path):
    before = counts(ps.runtime)
    errors = tmp_path / "errors.csv"
    result = cli("import", TYPE, text_file("r.csv", requests_csv(ps)), "--dry-run", "--errors", str(errors))
    assert result.exit_code == 1
    assert "5 rows checked, nothing written: 3 to create, 0 to update, 0 unchanged, 2 with errors" in result.stdout
    rows = list(csv.reader(errors.open()))
    assert rows[0] == ["row", "column", "reason"]
    assert rows[1][:2] == ["4", "kind"] and rows[1][2].startswith("Unknown kind. Known: ")
    assert rows[2] == ["5", "description", "Missing data for required field."]
    assert counts(ps.runtime) == before


def test_import_files_requests_through_the_create_then_a_rerun_changes_nothing(ps, cli, text_file):
    before = counts(ps.runtime)
    path = text_file("r.csv", requests_csv(ps))
    first = cli("import", TYPE, path)
    assert "5 rows imported: 3 created, 0 updated, 0 unchanged, 2 with errors" in first.stdout
    after = counts(ps.runtime)
    assert after["property_service_request"] - before["property_service_request"] == 3
    assert after["interaction"] - before["interaction"] == 3   # each on its requester's timeline
    r1, r2 = request(ps.runtime, "R1"), request(ps.runtime, "R2")
    assert (r1.status, r1.team_id, r1.priority, r1.building_id, r1.created_at.isoformat(), r1.photos) == (
        "dispatched", ps.engineering.id, "high", ps.building.id, "2026-03-02T02:00:00+00:00",
        ["https://img.example/1.jpg", "https://img.example/2.jpg"])
    assert r1.resolution_due_at is not None   # the SLA clocks started when it was received
    assert (r2.status, r2.team_id, r2.created_at.isoformat()) == ("accepted", None, "2026-03-03T00:00:00+00:00")
    with ps.runtime.database.unit_of_work():
        actions = db.session().scalars(select(AuditEntry.action).where(AuditEntry.record_id == r1.id)
                                       .order_by(AuditEntry.action)).all()
        assert actions == ["property_service_request.created", "property_service_request.dispatched",
                           "property_service_request.status_changed"]
        events = db.session().scalars(select(OutboxEvent.name).where(OutboxEvent.record_id == r1.id)).all()
        assert "property_service_request.created" in events
    second = cli("import", TYPE, path)
    assert "5 rows imported: 0 created, 0 updated, 3 unchanged, 2 with errors" in second.stdout
    assert counts(ps.runtime) == after


def test_json_lines_imports_and_a_corrected_file_updates_through_update_and_dispatch(ps, cli, text_file):
    lines = [{"external_id": "J1", "customer_id": str(ps.owner.id), "kind": "repair", "description": "Lift stuck.",
              "unit_id": str(ps.unit.id), "photos": ["https://img.example/lift.jpg"]},
             {"external_id": "J2", "customer_id": str(ps.tenant.id), "kind": "complaint", "description": "Dog."}]
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    assert "2 created" in cli("import", TYPE, text_file("r.jsonl", text)).stdout
    j1 = request(ps.runtime, "J1")
    lines[0].update(description="Lift stuck on floor 9.", priority="urgent", team_id=str(ps.engineering.id),
                    assignee_id=str(ps.eng.id))
    lines[1].update(kind="consultation")
    result = cli("import", TYPE, text_file("r2.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n"))
    assert "0 created, 1 updated, 0 unchanged, 1 with errors" in result.stdout
    assert "row 2, kind: Set when the request was filed: it cannot change." in result.stderr
    after = request(ps.runtime, "J1")
    assert (after.description, after.priority, after.team_id, after.assignee_id, after.status) == (
        "Lift stuck on floor 9.", "urgent", ps.engineering.id, ps.eng.id, "dispatched")
    with ps.runtime.database.unit_of_work():
        updated = db.session().scalars(select(AuditEntry).where(
            AuditEntry.record_id == j1.id, AuditEntry.action == "property_service_request.updated")).one()
        assert updated.changes["description"] == ["Lift stuck.", "Lift stuck on floor 9."]
    assert "0 created, 0 updated, 1 unchanged" in cli("import", TYPE, text_file("r3.jsonl", json.dumps(lines[0]) + "\n")).stdout


def test_only_admins_import(ps, text_file):
    for who in ("centre", "manager"):
        with open(text_file("r.csv", requests_csv(ps)), "rb") as fh:
            refused = ps.api.as_(who).post("/api/v1/imports", data={"record_type": TYPE, "file": (fh, "r.csv")})
        assert refused.status_code == 403


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_a_filtered_list_exported_imports_back_unchanged(ps, cli, text_file, tmp_path, fmt):
    cli("import", TYPE, text_file("r.csv", requests_csv(ps)))
    before = counts(ps.runtime)
    out = tmp_path / f"unit.{fmt}"
    result = cli("export", TYPE, "--filter", f"building_id={ps.building.id}", "-o", str(out))
    assert f"{TYPE}: 2 rows written to {out} ({fmt})" in result.stderr
    if fmt == "csv":
        rows = {r["external_id"]: r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))}
        assert set(rows) == {"R1", "R2"}
        assert rows["R1"]["customer_id"] == str(ps.owner.id) and rows["R1"]["team_id"] == str(ps.engineering.id)
        assert rows["R1"]["received_at"] == "2026-03-02T02:00:00+00:00"
    dry = cli("import", TYPE, str(out), "--dry-run")
    assert "2 rows checked, nothing written: 0 to create, 0 to update, 2 unchanged, 0 with errors" in dry.stdout
    assert "0 created, 0 updated, 2 unchanged, 0 with errors" in cli("import", TYPE, str(out)).stdout
    assert counts(ps.runtime) == before


def test_an_export_holds_only_what_the_callers_list_shows(ps, cli, text_file):
    cli("import", TYPE, text_file("r.csv", requests_csv(ps)))
    for who, expected in (("sec", {"R5"}), ("eng", {"R1"}), ("rep", {"R5"}), ("centre", {"R1", "R2", "R5"})):
        listed = ps.api.as_(who).get("/api/v1/property-service/requests?page_size=100").get_json()
        body = ps.api.as_(who).get(f"/api/v1/exports/{TYPE}?format=jsonl")
        assert body.status_code == 200
        exported = {json.loads(line)["external_id"] for line in body.get_data(as_text=True).splitlines()}
        assert exported == expected, who
        assert isinstance(listed, list) and {r["id"] for r in listed} == {str(r.id) for r in exported_records(ps, exported)}, who
    bad = ps.api.get(f"/api/v1/exports/{TYPE}?status=nowhere")
    assert bad.status_code == 422 and "status" in bad.get_json()["errors"]["json"]


def exported_records(ps, external_ids) -> list[PsRequest]:
    with ps.runtime.database.unit_of_work():
        return list(db.session().scalars(select(PsRequest).where(PsRequest.external_id.in_(external_ids))))


def test_an_export_costs_the_same_statements_for_one_request_as_for_all(ps, cli, text_file, count_queries):
    from core.services import exports

    cli("import", TYPE, text_file("r.csv", requests_csv(ps)))
    with ps.runtime.database.unit_of_work():
        admin = db.session().get(type(ps.people.admin), ps.people.admin.id)
        with count_queries() as one:
            assert len(list(exports.rows(admin, TYPE, {"team_id": str(ps.engineering.id)}))) == 1
        with count_queries() as every:
            assert len(list(exports.rows(admin, TYPE, {}))) == 3
    assert one.count == every.count == 3   # the requests, their requesters' references, their units' references
