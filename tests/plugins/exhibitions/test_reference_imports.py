"""An organiser moves its shows in: shows, editions (by ``exhibition_external_id``), booths (by
``edition_external_id``), then exhibitors and visitors naming their edition by ``edition_external_id``,
imported from files (``RecordSpec.import_type`` and the plugin's own imports) through the CLI and the REST
upload; a rerun changes nothing, a corrected file updates (version bumped, audited), a dry run writes
nothing and reports each bad row (row, column, reason); a batch costs the same statements for 10 rows as
for 100; a filtered export imports back unchanged and names the edition by its external id."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from core import db
from core.db import utcnow
from core.models import AuditEntry, Customer, OutboxEvent
from plugins.exhibitions.models import (ExhibitionBooth, ExhibitionEdition, ExhibitionShow, ExhibitorParticipation,
                                        VisitorRegistration)

SHOWS = "external_id,name,industry\nS1,Asia Machinery Expo,machinery\nS2,Beauty Asia,cosmetics\n"
EDITIONS = ("external_id,exhibition_external_id,name,starts_on,ends_on,venue,halls\n"
            "E25,S1,AME 2025,2025-06-01,2025-06-03,Shanghai NECC,1;2\n"
            "E26,S1,AME 2026,2026-06-01,2026-06-03,Shanghai NECC,1;2;3\n"
            "E27,S2,Beauty Asia 2026,2026-09-01,2026-09-02,,\n")
BOOTHS = ("external_id,edition_external_id,number,hall,area,price\n"
          "B1,E26,A-01,1,18,12000\nB2,E26,A-02,1,9,\nB3,E25,A-01,2,36,20000\n")
CUSTOMERS = ("external_id,name,kind\nC1,Acme Tools,company\nC2,Bolt Works,company\n"
             "P1,Wang Fang,person\nP2,Li Lei,person\n")
EXHIBITORS = ("external_id,edition_external_id,customer_external_id,is_key,categories\n"
              "X1,E26,C1,true,machinery\nX2,E26,C2,,\nX3,E25,C1,,\n")
VISITORS = ("external_id,edition_external_id,customer_external_id,company_external_id,email,category\n"
            "V1,E26,P1,C1,wang.fang@buyer.example,buyer\nV2,E26,P2,,li.lei@buyer.example,general\n"
            "V3,E25,P1,,wang.fang@buyer.example,buyer\n")
FILES = (("shows", SHOWS, 2), ("editions", EDITIONS, 3), ("booths", BOOTHS, 3), ("exhibitors", EXHIBITORS, 3),
         ("visitors", VISITORS, 3))
MODELS = (ExhibitionShow, ExhibitionEdition, ExhibitionBooth, ExhibitorParticipation, VisitorRegistration,
          Customer, AuditEntry, OutboxEvent)


def counts(runtime) -> dict[str, int]:
    with runtime.database.unit_of_work():
        return {m.__tablename__: db.session().scalar(select(func.count()).select_from(m)) for m in MODELS}


def by_external_id(runtime, model, external_id):
    with runtime.database.unit_of_work():
        record = db.session().scalars(select(model).where(model.external_id == external_id)).one()
        db.session().expunge(record)
        return record


def imported(cli, text_file, name, text, *args):
    return cli("import", f"exhibitions.{name}", text_file(f"{name}.csv", text), *args)


@pytest.fixture
def moved_in(show, cli, text_file):
    """The organiser's shows, editions, booths, exhibitors and visitors, imported in order, each file naming
    what it references by external id (beside the fixture's show and editions made in Trellis)."""
    assert "4 created" in cli("import", "customers", text_file("customers.csv", CUSTOMERS)).stdout
    for name, text, made in FILES:
        result = imported(cli, text_file, name, text)
        assert f"{made} created, 0 updated, 0 unchanged, 0 with errors" in result.stdout, result.stdout + result.stderr
    return show


def test_the_chain_imports_by_external_id_with_audit_entries_and_events(moved_in, runtime, people):
    s1, e25, e26 = (by_external_id(runtime, ExhibitionShow, "S1"), by_external_id(runtime, ExhibitionEdition, "E25"),
                    by_external_id(runtime, ExhibitionEdition, "E26"))
    e27 = by_external_id(runtime, ExhibitionEdition, "E27")
    assert (s1.name, s1.industry, s1.version) == ("Asia Machinery Expo", "machinery", 1)
    assert (e26.exhibition_id, e26.halls, e26.starts_on.isoformat(), e26.timezone) == \
        (s1.id, ["1", "2", "3"], "2026-06-01", "Asia/Shanghai")
    assert e27.exhibition_id == by_external_id(runtime, ExhibitionShow, "S2").id and e27.halls == []
    assert e26.lead_visible_fields   # the create's hook gave the default visible fields
    b1, b3 = by_external_id(runtime, ExhibitionBooth, "B1"), by_external_id(runtime, ExhibitionBooth, "B3")
    assert (b1.edition_id, b1.number, b1.hall, str(b1.area), str(b1.price), b1.status) == \
        (e26.id, "A-01", "1", "18.00", "12000.00", "available")
    assert b3.edition_id == e25.id
    c1, p1 = by_external_id(runtime, Customer, "C1"), by_external_id(runtime, Customer, "P1")
    x1 = by_external_id(runtime, ExhibitorParticipation, "X1")
    assert (x1.edition_id, x1.company_id, x1.is_key, x1.status) == (e26.id, c1.id, True, "invited")
    v1, v3 = by_external_id(runtime, VisitorRegistration, "V1"), by_external_id(runtime, VisitorRegistration, "V3")
    assert (v1.edition_id, v1.visitor_id, v1.company_id, v1.category) == (e26.id, p1.id, c1.id, "buyer")
    assert (v3.edition_id, v3.visitor_id) == (e25.id, p1.id)
    with runtime.database.unit_of_work():
        entry = db.session().scalars(select(AuditEntry).where(AuditEntry.record_id == b1.id)).one()
        assert entry.action == "exhibitions_booth.created" and entry.actor_id == people.admin.id
        assert entry.changes["number"] == [None, "A-01"] and entry.changes["external_id"] == [None, "B1"]
        for model, made in ((ExhibitionShow, 2), (ExhibitionEdition, 3), (ExhibitionBooth, 3)):
            ids = select(model.id).where(model.external_id.is_not(None))
            action = f"{model.__tablename__}.created"
            assert db.session().scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == action, AuditEntry.record_id.in_(ids))) == made, action
            assert db.session().scalar(select(func.count()).select_from(OutboxEvent).where(
                OutboxEvent.name == action, OutboxEvent.record_id.in_(ids))) == made, action


def test_a_rerun_changes_nothing(moved_in, runtime, cli, text_file):
    before = counts(runtime)
    for name, text, rows in FILES:
        result = imported(cli, text_file, name, text)
        assert f"0 created, 0 updated, {rows} unchanged, 0 with errors" in result.stdout, name + result.stderr
    assert counts(runtime) == before   # not a record, an audit entry or an event more


def test_a_corrected_file_updates_bumps_the_version_and_refuses_what_only_a_create_sets(moved_in, runtime, cli,
                                                                                        text_file):
    before = counts(runtime)
    corrected = BOOTHS.replace("B1,E26,A-01,1,18,12000", "B1,E26,A-01,2,18,15000").replace("B3,E25", "B3,E26")
    result = imported(cli, text_file, "booths", corrected)
    assert "0 created, 1 updated, 1 unchanged, 1 with errors" in result.stdout
    assert "row 4, edition_external_id: Set when the booth was created: it cannot change." in result.stderr
    b1 = by_external_id(runtime, ExhibitionBooth, "B1")
    assert (b1.hall, str(b1.price), b1.version) == ("2", "15000.00", 2)
    with runtime.database.unit_of_work():
        updated = db.session().scalars(select(AuditEntry).where(AuditEntry.record_id == b1.id,
                                                                AuditEntry.action == "exhibitions_booth.updated")).one()
        assert set(updated.changes) == {"hall", "price"}
    editions = imported(cli, text_file, "editions", EDITIONS.replace("2026-09-02,,", "2026-09-02,Canton Fair Complex,"))
    assert "0 created, 1 updated, 2 unchanged" in editions.stdout
    assert by_external_id(runtime, ExhibitionEdition, "E27").venue == "Canton Fair Complex"
    visitors = imported(cli, text_file, "visitors", VISITORS.replace("li.lei@buyer.example,general",
                                                                     "li.lei@buyer.example,buyer")
                        .replace("V3,E25", "V3,E27"))
    assert "0 created, 1 updated, 1 unchanged, 1 with errors" in visitors.stdout
    assert "row 4, edition_external_id: Set when the visitor registered: it cannot change." in visitors.stderr
    v2 = by_external_id(runtime, VisitorRegistration, "V2")
    assert (v2.category, v2.version) == ("buyer", 2)
    after = counts(runtime)
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"audit_entry": 3, "outbox_event": 3}


def test_a_dry_run_writes_nothing_and_reports_row_column_reason(moved_in, runtime, cli, text_file, tmp_path):
    before = counts(runtime)
    errors = tmp_path / "errors.csv"
    e26 = by_external_id(runtime, ExhibitionEdition, "E26")
    bad = ("external_id,edition_external_id,edition_id,number,hall,area,price\n"
           "B7,E99,,C-01,1,9,\n"                   # no edition has this external id
           "B8,E26,,A-01,1,9,\n"                   # the edition has a booth A-01 (B1)
           "B9,E26,,C-02,9,9,\n"                   # not a hall of the edition
           "B10,E26,,C-03,1,9,\n"                  # fine
           "B11,,{e26},C-03,1,9,\n"                # by Trellis id; the row above has this number
           "B12,E26,,C-04,1,-1,\n"                 # a negative area
           "B13,,,C-05,1,9,\n"                     # no edition at all
           "B14,E26,{e26},C-06,1,9,\n").format(e26=e26.id)   # both columns
    result = imported(cli, text_file, "booths", bad, "--dry-run", "--errors", str(errors))
    assert result.exit_code == 1
    assert "8 rows checked, nothing written: 1 to create, 0 to update, 0 unchanged, 7 with errors" in result.stdout
    rows = list(csv.reader(errors.open()))
    assert rows[0] == ["row", "column", "reason"]
    assert sorted(rows[1:]) == sorted([
        ["2", "edition_external_id", "No edition has this external id."],
        ["3", "number", "The edition has a booth with this number (a deleted one counts)."],
        ["4", "hall", "Not a hall of this edition: 1, 2, 3."],
        ["6", "number", "An earlier row of the file has this edition and number."],
        ["7", "area", "Must be greater than 0 and less than or equal to 100000."],
        ["8", "edition_external_id", "Give the edition: edition_external_id or edition_id."],
        ["9", "edition_id", "Give edition_id or edition_external_id, not both."]])
    visitors = ("external_id,edition_external_id,customer_external_id,company_external_id\n"
                "V7,E99,P2,\n"            # no edition has this external id
                "V8,E26,P1,\n"            # P1 is registered for E26 (V1)
                "V9,E27,P2,C2\n"          # fine
                "V10,,P2,\n"              # no edition at all
                "V11,E27,P2,C9\n")        # no company has this external id
    result = imported(cli, text_file, "visitors", visitors, "--dry-run", "--errors", str(errors))
    assert "5 rows checked, nothing written: 1 to create, 0 to update, 0 unchanged, 4 with errors" in result.stdout
    assert sorted(list(csv.reader(errors.open()))[1:]) == [
        ["2", "edition_external_id", "No edition has this external id."],
        ["3", "customer_external_id", "Already registered for this edition."],
        ["5", "edition_external_id", "Give the edition: edition_external_id or edition_id."],
        ["6", "company_external_id", "No customer has this external id."]]
    assert counts(runtime) == before


def test_exhibitors_name_their_edition_by_external_id_or_trellis_id(moved_in, runtime, cli, text_file):
    """The exhibitors' file names an edition by external id among those the importer may see: a missing one
    fails on that column, as by Trellis id on edition_id."""
    text = ("external_id,edition_external_id,edition_id,customer_external_id\n"
            "X7,E404,,C2\n"
            f"X8,,{moved_in.first['id']},C2\n")
    result = imported(cli, text_file, "exhibitors", text)
    assert "1 created, 0 updated, 0 unchanged, 1 with errors" in result.stdout
    assert "row 2, edition_external_id: No edition has this external id." in result.stderr
    assert str(by_external_id(runtime, ExhibitorParticipation, "X8").edition_id) == moved_in.first["id"]


def test_the_rest_upload_imports_shows_editions_and_visitors(show, runtime, cli, text_file, tmp_path, monkeypatch):
    from core.services import imports

    assert "4 created" in cli("import", "customers", text_file("customers.csv", CUSTOMERS)).stdout
    monkeypatch.setattr(imports, "upload_dir", lambda: tmp_path)
    job = next(j for j in runtime.jobs if j.name == "imports.run")
    admin = show.as_("admin")
    for name, text, made in (("shows", SHOWS, 2), ("editions", EDITIONS + "E28,S9,Nowhere 2026,2026-01-01,2026-01-02,,\n", 3),
                             ("visitors", VISITORS, 3)):
        response = admin.post("/api/v1/imports", data={"type": f"exhibitions.{name}",
                                                       "file": (io.BytesIO(text.encode()), f"{name}.csv")},
                              content_type="multipart/form-data")
        assert response.status_code == 202, response.get_json()
        with runtime.database.unit_of_work():
            job.run(utcnow())
        body = admin.get(f"/api/v1/imports/{response.get_json()['id']}").get_json()
        assert (body["status"], body["created"], body["unchanged"]) == ("done", made, 0), body
        if name == "editions":
            assert body["errors"] == [{"row": 5, "column": "exhibition_external_id",
                                       "reason": "No exhibition has this external id."}]
    assert by_external_id(runtime, VisitorRegistration, "V2").edition_id == \
        by_external_id(runtime, ExhibitionEdition, "E26").id


def test_a_batch_costs_the_same_statements_for_10_rows_as_for_100(moved_in, runtime, cli, text_file, import_costs):
    people = "".join(f"Q{i},Person {i},person\n" for i in range(110))
    assert "110 created" in cli("import", "customers", text_file("people.csv", "external_id,name,kind\n" + people)).stdout

    def booths(first, n):
        return "external_id,edition_external_id,number,hall,area,price\n" + "".join(
            f"N{i},E27,N-{i},,9,{100 + i}\n" for i in range(first, first + n))

    def visitors(first, n):
        return "external_id,edition_external_id,customer_external_id,category\n" + "".join(
            f"W{i},E27,Q{i},buyer\n" for i in range(first, first + n))

    spent = {name: import_costs(f"exhibitions.{name}", make)
             for name, make in (("booths", booths), ("visitors", visitors))}
    assert spent["booths"][10] == spent["booths"][100], spent
    assert spent["visitors"][10] == spent["visitors"][100], spent
    assert spent["booths"]["rerun"] < spent["booths"][100], spent


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_a_filtered_export_of_editions_imports_back_unchanged_by_external_id(moved_in, runtime, cli, tmp_path, fmt):
    before = counts(runtime)
    s1 = by_external_id(runtime, ExhibitionShow, "S1")
    out = tmp_path / f"editions.{fmt}"
    result = cli("export", "exhibitions.editions", "--filter", f"exhibition_id={s1.id}", "-o", str(out))
    assert f"exhibitions.editions: 2 rows written to {out} ({fmt})" in result.stderr
    if fmt == "jsonl":
        rows = {r["external_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
        assert set(rows) == {"E25", "E26"}
        assert (rows["E26"]["exhibition_external_id"], rows["E26"]["exhibition_id"], rows["E26"]["halls"]) == \
            ("S1", None, ["1", "2", "3"])
    dry = cli("import", "exhibitions.editions", str(out), "--dry-run")
    assert "2 rows checked, nothing written: 0 to create, 0 to update, 2 unchanged, 0 with errors" in dry.stdout
    assert "0 created, 0 updated, 2 unchanged, 0 with errors" in cli("import", "exhibitions.editions", str(out)).stdout
    assert counts(runtime) == before


def test_every_export_imports_back_unchanged_and_visitors_name_their_edition(moved_in, runtime, cli, tmp_path):
    """Each list filtered to what the files brought (a record made in Trellis has no external id, which an
    import needs): exported, then imported back."""
    before = counts(runtime)
    e26 = by_external_id(runtime, ExhibitionEdition, "E26").id
    filters = {"shows": "q=asia", "editions": f"exhibition_id={by_external_id(runtime, ExhibitionShow, 'S1').id}",
               "booths": f"edition_id={e26}", "exhibitors": f"edition_id={e26}", "visitors": f"edition_id={e26}"}
    for name, given in filters.items():
        out = tmp_path / f"{name}.csv"
        cli("export", f"exhibitions.{name}", "--filter", given, "-o", str(out))
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
        assert rows and all(r["external_id"] for r in rows), name
        if name == "visitors":
            v1 = next(r for r in rows if r["external_id"] == "V1")
            assert (v1["edition_external_id"], v1["edition_id"], v1["customer_external_id"],
                    v1["company_external_id"], v1["company_id"]) == ("E26", "", "P1", "C1", "")
        if name == "exhibitors":
            assert {(r["edition_external_id"], r["edition_id"]) for r in rows} == {("E26", "")}
        result = cli("import", f"exhibitions.{name}", str(out))
        assert f"0 created, 0 updated, {len(rows)} unchanged, 0 with errors" in result.stdout, \
            name + result.stdout + result.stderr
    assert counts(runtime) == before


def test_the_types_are_listed_with_their_reference_columns(moved_in):
    types = {t["name"]: t for t in moved_in.as_("admin").get("/api/v1/imports/types").get_json()}
    booth = [c["name"] for c in types["exhibitions.booths"]["columns"]]
    assert booth[:4] == ["external_id", "edition_external_id", "edition_id", "number"]
    edition = {c["name"]: c for c in types["exhibitions.editions"]["columns"]}
    assert "exhibition_external_id" in edition and not edition["exhibition_id"]["required"]
    for name in ("exhibitions.visitors", "exhibitions.exhibitors"):
        columns = {c["name"]: c for c in types[name]["columns"]}
        assert not columns["edition_id"]["required"] and "edition_external_id" in columns, name
    assert "exhibitions.shows" in types


def test_rest_and_graphql_read_each_imported_records_external_id(moved_in):
    api = moved_in.as_("organiser")
    made = api.post("/api/v1/exhibitions/booths", json={"edition_id": moved_in.first["id"], "number": "Z-01",
                                                        "area": "9"})
    assert made.status_code == 201 and made.get_json()["external_id"] is None   # made here: none
    b1 = next(b for b in api.get("/api/v1/exhibitions/booths?page_size=100").get_json() if b["external_id"] == "B1")
    assert b1["number"] == "A-01"
    refused = api.patch(f"/api/v1/exhibitions/booths/{b1['id']}", json={"external_id": "B9", "version": b1["version"]})
    assert refused.status_code == 422 and "external_id" in refused.get_json()["errors"]["json"]   # only an import sets it
    body = api.graphql("{ exhibitions(first: 50) { edges { node { externalId } } } "
                       "exhibitionEditions(first: 50) { edges { node { externalId } } } "
                       "exhibitionBooths(first: 50) { edges { node { externalId } } } }")
    assert "errors" not in body, body
    found = {name: sorted(edge["node"]["externalId"] for edge in body["data"][name]["edges"]
                          if edge["node"]["externalId"] is not None)   # the fixture's own records have none
             for name in ("exhibitions", "exhibitionEditions", "exhibitionBooths")}
    assert found == {"exhibitions": ["S1", "S2"], "exhibitionEditions": ["E25", "E26", "E27"],
                     "exhibitionBooths": ["B1", "B2", "B3"]}
