"""An integrator moves a property company in: estates, buildings (by ``estate_external_id``), units (by
``building_external_id``), occupancies (by ``unit_external_id`` and the customer's external id) and service
requests (by ``unit_external_id``) imported from files (``RecordSpec.import_type``), through the CLI and the
REST upload; a rerun changes nothing, a corrected file updates (version bumped, audited), a dry run writes
nothing and reports each bad row (row, column, reason); a batch costs the same statements for 10 rows as
for 100; a filtered export imports back unchanged and names references by external id."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from core import db
from core.db import utcnow
from core.models import AuditEntry, Customer, OutboxEvent
from plugins.property_service.models import PsBuilding, PsEstate, PsOccupancy, PsRequest, PsUnit

ESTATES = "external_id,name,address,lat,long\nE1,Lotus Garden,8 Lotus Road,31.1,121.1\nE2,Pine Court,,,\n"
BUILDINGS = ("external_id,estate_external_id,name,address\nB1,E1,Tower 1,8 Lotus Road\nB2,E1,Tower 2,\n"
             "B3,E2,Block A,\n")
UNITS = "external_id,building_external_id,unit,room,area\nU1,B1,1,101,88.50\nU2,B1,1,102,\nU3,B3,,201,120\n"
CUSTOMERS = "external_id,name,kind\nC1,Zhou Jie,person\nC2,Qian Li,person\n"
OCCUPANCIES = ("external_id,unit_external_id,customer_external_id,relation,start_date\n"
               "O1,U1,C1,owner,2019-01-01\nO2,U3,C2,tenant,\n")
REQUESTS = "external_id,customer_external_id,kind,description,unit_external_id\nQ1,C1,repair,The pipe leaks.,U1\n"
MODELS = (PsEstate, PsBuilding, PsUnit, PsOccupancy, PsRequest, AuditEntry, OutboxEvent)


def counts(runtime) -> dict[str, int]:
    with runtime.database.unit_of_work():
        return {m.__tablename__: db.session().scalar(select(func.count()).select_from(m)) for m in MODELS}


def by_external_id(runtime, model, external_id):
    with runtime.database.unit_of_work():
        record = db.session().scalars(select(model).where(model.external_id == external_id)).one()
        db.session().expunge(record)
        return record


def imported(cli, text_file, name, text, *args):
    result = cli("import", f"property_service.{name}", text_file(f"{name}.csv", text), *args)
    return result


@pytest.fixture
def moved_in(ps, cli, text_file):
    """The company's estates, buildings, units, owners and tenants, occupancies and one request, imported
    in order, each file naming what it references by external id."""
    assert "2 created" in cli("import", "customers", text_file("customers.csv", CUSTOMERS)).stdout
    for name, text, made in (("estates", ESTATES, 2), ("buildings", BUILDINGS, 3), ("units", UNITS, 3),
                             ("occupancies", OCCUPANCIES, 2), ("requests", REQUESTS, 1)):
        result = imported(cli, text_file, name, text)
        assert f"{made} created, 0 updated, 0 unchanged, 0 with errors" in result.stdout, result.stdout + result.stderr
    return ps


def test_the_chain_imports_by_external_id_with_audit_entries_and_events(moved_in):
    runtime = moved_in.runtime
    e1, b1, b3 = (by_external_id(runtime, PsEstate, "E1"), by_external_id(runtime, PsBuilding, "B1"),
                  by_external_id(runtime, PsBuilding, "B3"))
    u1, u3 = by_external_id(runtime, PsUnit, "U1"), by_external_id(runtime, PsUnit, "U3")
    assert (e1.name, e1.address, e1.lat, e1.version) == ("Lotus Garden", "8 Lotus Road", 31.1, 1)
    assert b1.estate_id == e1.id and b3.estate_id == by_external_id(runtime, PsEstate, "E2").id
    assert (u1.building_id, u1.unit, u1.room, str(u1.area)) == (b1.id, "1", "101", "88.50")
    assert (u3.building_id, u3.unit, u3.area) == (b3.id, "", 120)
    o1 = by_external_id(runtime, PsOccupancy, "O1")
    c1 = by_external_id(runtime, Customer, "C1").id
    assert (o1.unit_id, o1.customer_id, o1.relation, o1.start_date.isoformat()) == (u1.id, c1, "owner", "2019-01-01")
    q1 = by_external_id(runtime, PsRequest, "Q1")
    assert (q1.unit_id, q1.building_id, q1.requester_id) == (u1.id, b1.id, c1)
    with runtime.database.unit_of_work():
        entry = db.session().scalars(select(AuditEntry).where(AuditEntry.record_id == u1.id)).one()
        assert entry.action == "property_service_unit.created" and entry.actor_id == moved_in.people.admin.id
        assert entry.changes["room"] == [None, "101"] and entry.changes["external_id"] == [None, "U1"]
        for model, made in ((PsEstate, 2), (PsBuilding, 3), (PsUnit, 3), (PsOccupancy, 2)):
            ids = select(model.id).where(model.external_id.is_not(None))
            action = f"{model.__tablename__}.created"
            assert db.session().scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == action, AuditEntry.record_id.in_(ids))) == made, action
            assert db.session().scalar(select(func.count()).select_from(OutboxEvent).where(
                OutboxEvent.name == action, OutboxEvent.record_id.in_(ids))) == made, action
        event = db.session().scalars(select(OutboxEvent).where(OutboxEvent.record_id == o1.id)).one()
        assert event.payload["id"] == str(o1.id) and event.payload["version"] == 1


def test_a_rerun_changes_nothing(moved_in, cli, text_file):
    before = counts(moved_in.runtime)
    for name, text, rows in (("estates", ESTATES, 2), ("buildings", BUILDINGS, 3), ("units", UNITS, 3),
                             ("occupancies", OCCUPANCIES, 2), ("requests", REQUESTS, 1)):
        result = imported(cli, text_file, name, text)
        assert f"0 created, 0 updated, {rows} unchanged, 0 with errors" in result.stdout, name
    assert counts(moved_in.runtime) == before   # not a record, an audit entry or an event more


def test_a_corrected_file_updates_bumps_the_version_and_refuses_what_only_a_create_sets(moved_in, cli, text_file):
    before = counts(moved_in.runtime)
    corrected = UNITS.replace("U1,B1,1,101,88.50", "U1,B1,1,101,90.25").replace("U3,B3,,201,120", "U3,B2,,201,120")
    result = imported(cli, text_file, "units", corrected)
    assert "0 created, 1 updated, 1 unchanged, 1 with errors" in result.stdout
    assert "row 4, building_external_id: Set when the unit was created: it cannot change." in result.stderr
    u1 = by_external_id(moved_in.runtime, PsUnit, "U1")
    assert (str(u1.area), u1.version) == ("90.25", 2)
    with moved_in.runtime.database.unit_of_work():
        updated = db.session().scalars(select(AuditEntry).where(AuditEntry.record_id == u1.id,
                                                                AuditEntry.action == "property_service_unit.updated")).one()
        assert updated.changes == {"area": ["88.50", "90.25"]}
        assert db.session().scalar(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.record_id == u1.id, OutboxEvent.name == "property_service_unit.updated")) == 1
    after = counts(moved_in.runtime)
    assert after["property_service_unit"] == before["property_service_unit"]
    assert after["audit_entry"] - before["audit_entry"] == 1
    estates = imported(cli, text_file, "estates", ESTATES.replace("Pine Court,,,", "Pine Court,2 Pine Road,,"))
    assert "0 created, 1 updated, 1 unchanged" in estates.stdout
    assert by_external_id(moved_in.runtime, PsEstate, "E2").address == "2 Pine Road"


def test_a_dry_run_writes_nothing_and_reports_row_column_reason(moved_in, cli, text_file, tmp_path):
    before = counts(moved_in.runtime)
    errors = tmp_path / "errors.csv"
    bad = ("external_id,building_external_id,building_id,unit,room,area\n"
           "U7,B9,,1,301,\n"                         # no building has this external id
           "U8,B1,,1,101,\n"                         # U1 has this building, unit and room
           "U9,B1,,2,401,-5\n"                       # a negative area
           "U10,B2,,1,501,50\n"                      # fine
           "U11,B2,,1,501,\n"                        # the row above has this room
           f"U12,,{moved_in.building.id},9,9,abc\n"  # by Trellis id; not a number
           "U13,,,1,601,\n")                         # no building at all
    result = imported(cli, text_file, "units", bad, "--dry-run", "--errors", str(errors))
    assert result.exit_code == 1
    assert "7 rows checked, nothing written: 1 to create, 0 to update, 0 unchanged, 6 with errors" in result.stdout
    rows = list(csv.reader(errors.open()))
    assert rows[0] == ["row", "column", "reason"]
    assert sorted(rows[1:]) == sorted([
        ["2", "building_external_id", "No building has this external id."],
        ["3", "room", "Already exists."],
        ["4", "area", "Must be greater than or equal to 0 and less than or equal to 10000000."],
        ["6", "room", "An earlier row of the file has this building, unit and room."],
        ["7", "area", "Not a valid number."],
        ["8", "building_external_id", "Give the building: building_external_id or building_id."]])
    assert counts(moved_in.runtime) == before


def test_occupancies_check_dates_and_references_given_by_trellis_id(moved_in, cli, text_file):
    text = ("external_id,unit_id,customer_id,relation,start_date,end_date\n"
            f"O3,{moved_in.unit2.id},{moved_in.owner.id},family,2020-01-01,2021-01-01\n"
            f"O4,{moved_in.unit2.id},{moved_in.owner.id},family,2021-01-01,2020-01-01\n"
            f"O5,{moved_in.unit2.id},{moved_in.estate.id},family,,\n"
            f"O6,{moved_in.unit2.id},{moved_in.owner.id},landlord,,\n")
    result = imported(cli, text_file, "occupancies", text)
    assert "1 created, 0 updated, 0 unchanged, 3 with errors" in result.stdout
    assert "row 3, end_date: Must not be before start_date." in result.stderr
    assert "row 4, customer_id: No customer with this id." in result.stderr
    assert "row 5, relation: Must be one of: owner, tenant, family." in result.stderr
    o3 = by_external_id(moved_in.runtime, PsOccupancy, "O3")
    assert (o3.unit_id, o3.customer_id) == (moved_in.unit2.id, moved_in.owner.id)


def test_the_rest_upload_imports_estates_and_buildings(ps, tmp_path, monkeypatch):
    from core.services import imports

    monkeypatch.setattr(imports, "upload_dir", lambda: tmp_path)
    job = next(j for j in ps.runtime.jobs if j.name == "imports.run")
    for name, text, made in (("estates", ESTATES, 2), ("buildings", BUILDINGS + "B4,E9,Nowhere,\n", 3)):
        response = ps.api.post("/api/v1/imports", data={"type": f"property_service.{name}",
                                                        "file": (io.BytesIO(text.encode()), f"{name}.csv")},
                               content_type="multipart/form-data")
        assert response.status_code == 202, response.get_json()
        with ps.runtime.database.unit_of_work():
            job.run(utcnow())
        body = ps.api.get(f"/api/v1/imports/{response.get_json()['id']}").get_json()
        assert (body["status"], body["created"], body["unchanged"]) == ("done", made, 0), body
    assert body["errors"] == [{"row": 5, "column": "estate_external_id", "reason": "No estate has this external id."}]
    assert by_external_id(ps.runtime, PsBuilding, "B2").estate_id == by_external_id(ps.runtime, PsEstate, "E1").id


def test_a_batch_costs_the_same_statements_for_10_rows_as_for_100(moved_in, cli, text_file, import_costs):
    people = "".join(f"P{i},Person {i},person\n" for i in range(110))
    assert "110 created" in cli("import", "customers", text_file("people.csv", "external_id,name,kind\n" + people)).stdout

    def units(first, n):
        return "external_id,building_external_id,unit,room,area\n" + "".join(
            f"N{i},B2,3,{i},{50 + i}\n" for i in range(first, first + n))

    def occupancies(first, n):
        return "external_id,unit_external_id,customer_external_id,relation\n" + "".join(
            f"X{i},N{i},P{i},tenant\n" for i in range(first, first + n))

    spent = {name: import_costs(f"property_service.{name}", make)
             for name, make in (("units", units), ("occupancies", occupancies))}
    assert spent["units"][10] == spent["units"][100], spent
    assert spent["occupancies"][10] == spent["occupancies"][100], spent
    assert spent["units"]["rerun"] < spent["units"][100], spent


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_a_filtered_export_of_units_imports_back_unchanged_by_external_id(moved_in, cli, tmp_path, fmt):
    before = counts(moved_in.runtime)
    b1 = by_external_id(moved_in.runtime, PsBuilding, "B1")
    out = tmp_path / f"units.{fmt}"
    result = cli("export", "property_service.units", "--filter", f"building_id={b1.id}", "-o", str(out))
    assert f"property_service.units: 2 rows written to {out} ({fmt})" in result.stderr
    if fmt == "jsonl":
        rows = {r["external_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
        assert set(rows) == {"U1", "U2"}
        assert (rows["U1"]["building_external_id"], rows["U1"]["building_id"], rows["U1"]["area"]) == ("B1", None, "88.50")
    dry = cli("import", "property_service.units", str(out), "--dry-run")
    assert "2 rows checked, nothing written: 0 to create, 0 to update, 2 unchanged, 0 with errors" in dry.stdout
    assert "0 created, 0 updated, 2 unchanged, 0 with errors" in cli("import", "property_service.units", str(out)).stdout
    assert counts(moved_in.runtime) == before


def test_every_reference_export_imports_back_unchanged_and_requests_name_their_unit(moved_in, cli, tmp_path):
    """Each list filtered to what the files brought (a record made in Trellis has no external id, which an
    import needs): exported, then imported back."""
    runtime = moved_in.runtime
    before = counts(runtime)
    c1 = by_external_id(runtime, Customer, "C1").id
    filters = {"estates": "q=lotus", "buildings": f"estate_id={by_external_id(runtime, PsEstate, 'E1').id}",
               "units": f"building_id={by_external_id(runtime, PsBuilding, 'B1').id}",
               "occupancies": f"customer_id={c1}", "requests": f"requester_id={c1}"}
    for name, given in filters.items():
        out = tmp_path / f"{name}.csv"
        cli("export", f"property_service.{name}", "--filter", given, "-o", str(out))
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert rows and all(r["external_id"] for r in rows), name
        if name == "requests":
            [q1] = [r for r in rows if r["external_id"] == "Q1"]
            assert (q1["unit_external_id"], q1["unit_id"], q1["customer_external_id"]) == ("U1", "", "C1")
        result = cli("import", f"property_service.{name}", str(out))
        assert f"0 created, 0 updated, {len(rows)} unchanged, 0 with errors" in result.stdout, result.stdout + result.stderr
    assert counts(runtime) == before


def test_a_requests_file_with_a_unit_external_id_nobody_has_fails_on_that_column(moved_in, cli, text_file):
    result = imported(cli, text_file, "requests", REQUESTS.replace("Q1,C1", "Q2,C1").replace(",U1", ",U404"))
    assert "0 created, 0 updated, 0 unchanged, 1 with errors" in result.stdout
    assert "row 2, unit_external_id: No unit has this external id." in result.stderr


def test_the_types_are_listed_with_their_reference_columns(moved_in):
    types = {t["name"]: t for t in moved_in.api.get("/api/v1/imports/types").get_json()}
    columns = {c["name"]: c for c in types["property_service.buildings"]["columns"]}
    assert columns["external_id"]["required"] and columns["name"]["required"]
    assert "estate_external_id" in columns and not columns["estate_id"]["required"]
    occupancy = [c["name"] for c in types["property_service.occupancies"]["columns"]]
    assert occupancy[:5] == ["external_id", "unit_external_id", "unit_id", "customer_external_id", "customer_id"]
    assert "unit_external_id" in [c["name"] for c in types["property_service.requests"]["columns"]]


def test_graphql_reads_each_imported_records_external_id(moved_in):
    body = moved_in.as_("admin").graphql(
        "{ propertyEstates(first: 50) { edges { node { externalId } } } "
        "propertyBuildings(first: 50) { edges { node { externalId } } } "
        "propertyUnits(first: 50) { edges { node { externalId } } } "
        "propertyOccupancies(first: 50) { edges { node { externalId } } } }")
    assert "errors" not in body, body
    found = {name: sorted(edge["node"]["externalId"] for edge in body["data"][name]["edges"]
                          if edge["node"]["externalId"] is not None)   # the fixture's own records have none
             for name in ("propertyEstates", "propertyBuildings", "propertyUnits", "propertyOccupancies")}
    assert found == {"propertyEstates": ["E1", "E2"], "propertyBuildings": ["B1", "B2", "B3"],
                     "propertyUnits": ["U1", "U2", "U3"], "propertyOccupancies": ["O1", "O2"]}
