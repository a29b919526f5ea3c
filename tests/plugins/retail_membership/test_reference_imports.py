"""An integrator moves a retail chain in: its stores (``trellis import retail_membership.stores``, the declared
record's ``RecordSpec.import_type``) and then its members naming their home store by ``store_external_id``,
through the CLI and the REST upload; a rerun changes nothing, a corrected file updates (version bumped,
audited), a dry run writes nothing and reports each bad row (row, column, reason); a batch costs the same
statements for 10 rows as for 100; a filtered export imports back unchanged, the members' export naming
the store by its external id; GraphQL reads a store's ``externalId``."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from core import db
from core.db import utcnow
from core.models import AuditEntry, OutboxEvent
from plugins.retail_membership.models import RetailMembership, RetailPointsEntry, RetailStore

CUSTOMERS = "external_id,name,kind\nC1,Li Lei,person\nC2,Han Meimei,person\nC3,Wang Fang,person\n"
STORES = ("external_id,code,name,kind,city,address\nST1,A01,Airport,clothing,Hangzhou,1 Runway Road\n"
          "ST2,B01,Bund,cosmetics,Hangzhou,\n")
MEMBERS = ("external_id,customer_external_id,card_number,store_external_id,phone\n"
           "M1,C1,CARD-0001,ST1,+86 138 0013 8000\nM2,C2,CARD-0002,ST2,\n")
MODELS = (RetailStore, RetailMembership, RetailPointsEntry, AuditEntry, OutboxEvent)


def counts(runtime) -> dict[str, int]:
    with runtime.database.unit_of_work():
        return {m.__tablename__: db.session().scalar(select(func.count()).select_from(m)) for m in MODELS}


def by_external_id(runtime, model, external_id):
    with runtime.database.unit_of_work():
        record = db.session().scalars(select(model).where(model.external_id == external_id)).one()
        db.session().expunge(record)
        return record


def imported(cli, text_file, name, text, *args):
    return cli("import", f"retail_membership.{name}", text_file(f"{name}.csv", text), *args)


@pytest.fixture
def moved_in(shop, cli, text_file):
    """Three customers, two stores and two members, imported in order, each file naming what it
    references by external id."""
    assert "3 created" in cli("import", "customers", text_file("customers.csv", CUSTOMERS)).stdout
    for name, text in (("stores", STORES), ("members", MEMBERS)):
        result = imported(cli, text_file, name, text)
        assert "2 created, 0 updated, 0 unchanged, 0 with errors" in result.stdout, result.stdout + result.stderr
    return shop


def test_stores_then_members_by_store_external_id_with_audit_entries_and_events(moved_in):
    runtime = moved_in.runtime
    st1, st2 = by_external_id(runtime, RetailStore, "ST1"), by_external_id(runtime, RetailStore, "ST2")
    assert (st1.code, st1.name, st1.kind, st1.city, st1.address, st1.version) == (
        "A01", "Airport", "clothing", "Hangzhou", "1 Runway Road", 1)
    assert (st2.kind, st2.address) == ("cosmetics", "")
    m1, m2 = by_external_id(runtime, RetailMembership, "M1"), by_external_id(runtime, RetailMembership, "M2")
    assert (m1.home_store_id, m1.phone, m2.home_store_id) == (st1.id, "+86 138 0013 8000", st2.id)
    with runtime.database.unit_of_work():
        entry = db.session().scalars(select(AuditEntry).where(AuditEntry.record_id == st1.id)).one()
        assert entry.action == "retail_membership_store.created" and entry.actor_id == moved_in.people.admin.id
        assert entry.changes["code"] == [None, "A01"] and entry.changes["external_id"] == [None, "ST1"]
        events = db.session().scalars(select(OutboxEvent).where(
            OutboxEvent.name == "retail_membership_store.created",
            OutboxEvent.record_id.in_([st1.id, st2.id]))).all()
        assert len(events) == 2 and {e.payload["version"] for e in events} == {1}
    # REST shows the external id, and no client writes it
    store = moved_in.api.get(f"/api/v1/retail-membership/stores/{st1.id}").get_json()
    assert store["external_id"] == "ST1"
    refused = moved_in.api.patch(f"/api/v1/retail-membership/stores/{st1.id}",
                                 json={"version": 1, "external_id": "OTHER"})
    assert refused.status_code == 422 and "external_id" in refused.get_json()["errors"]["json"]


def test_a_rerun_changes_nothing(moved_in, cli, text_file):
    before = counts(moved_in.runtime)
    for name, text in (("stores", STORES), ("members", MEMBERS)):
        result = imported(cli, text_file, name, text)
        assert "0 created, 0 updated, 2 unchanged, 0 with errors" in result.stdout, result.stdout + result.stderr
    assert counts(moved_in.runtime) == before   # not a record, an audit entry or an event more


def test_a_corrected_file_updates_bumps_the_version_and_is_audited(moved_in, cli, text_file):
    runtime = moved_in.runtime
    before = counts(runtime)
    result = imported(cli, text_file, "stores", STORES.replace("ST2,B01,Bund,cosmetics,Hangzhou,",
                                                               "ST2,B01,Bund Centre,cosmetics,Hangzhou,2 Bund"))
    assert "0 created, 1 updated, 1 unchanged, 0 with errors" in result.stdout, result.stdout + result.stderr
    st2 = by_external_id(runtime, RetailStore, "ST2")
    assert (st2.name, st2.address, st2.version) == ("Bund Centre", "2 Bund", 2)
    with runtime.database.unit_of_work():
        updated = db.session().scalars(select(AuditEntry).where(
            AuditEntry.record_id == st2.id, AuditEntry.action == "retail_membership_store.updated")).one()
        assert updated.changes == {"name": ["Bund", "Bund Centre"], "address": ["", "2 Bund"]}
    # the member moves to the other store, named by its external id
    moved = imported(cli, text_file, "members", MEMBERS.replace("M2,C2,CARD-0002,ST2", "M2,C2,CARD-0002,ST1"))
    assert "0 created, 1 updated, 1 unchanged, 0 with errors" in moved.stdout, moved.stdout + moved.stderr
    m2 = by_external_id(runtime, RetailMembership, "M2")
    assert (m2.home_store_id, m2.version) == (by_external_id(runtime, RetailStore, "ST1").id, 2)
    after = counts(runtime)
    assert (after["retail_membership_store"], after["retail_membership_membership"]) == (
        before["retail_membership_store"], before["retail_membership_membership"])
    assert after["audit_entry"] - before["audit_entry"] == 2


def test_a_dry_run_writes_nothing_and_reports_row_column_reason(moved_in, cli, text_file, tmp_path):
    before = counts(moved_in.runtime)
    errors = tmp_path / "errors.csv"
    stores = ("external_id,code,name,kind\n"
              "ST3,N01,Taken,clothing\n"    # the shop's North Mall has this code
              "ST4,s01,Taken too,clothing\n"   # South Street's, in other letters
              "ST5,C01,Fine,books\n"
              "ST6,C01,Same code,books\n"   # the row above has it
              "ST7,D01,Odd,furniture\n"     # no such kind
              "ST8,E 01,Spaces,books\n")    # not a code
    result = imported(cli, text_file, "stores", stores, "--dry-run", "--errors", str(errors))
    assert result.exit_code == 1
    assert "6 rows checked, nothing written: 1 to create, 0 to update, 0 unchanged, 5 with errors" in result.stdout
    rows = list(csv.reader(errors.open()))
    assert rows[0] == ["row", "column", "reason"]
    assert sorted(rows[1:]) == sorted([
        ["2", "code", "Already taken."], ["3", "code", "Already taken."], ["5", "code", "Already taken."],
        ["6", "kind", "Must be one of: clothing, cosmetics, restaurant, books, appliances, grocery, other."],
        ["7", "code", "Letters, digits, - and _, at most 40."]])
    members = ("external_id,customer_external_id,card_number,store_external_id,home_store_code,home_store_id\n"
               "M3,C3,CARD-0003,ST9,,\n"            # no store has this external id
               "M4,C3,CARD-0004,ST1,A01,\n"         # two ways at once
               f"M5,C3,CARD-0005,ST1,,{moved_in.north['id']}\n"
               "M6,C3,CARD-0006,,,\n"               # no store at all
               "M7,C3,CARD-0001,ST1,,\n")           # M1's card
    result = imported(cli, text_file, "members", members, "--dry-run", "--errors", str(errors))
    assert "5 rows checked, nothing written: 0 to create, 0 to update, 0 unchanged, 5 with errors" in result.stdout
    assert sorted(list(csv.reader(errors.open()))[1:]) == sorted([
        ["2", "store_external_id", "No store has this external id."],
        ["3", "store_external_id", "Give store_external_id or home_store_code, not both."],
        ["4", "home_store_id", "Give home_store_id or store_external_id, not both."],
        ["5", "store_external_id", "Give the home store: store_external_id, home_store_code or home_store_id."],
        ["6", "card_number", "This card number is taken."]])
    assert counts(moved_in.runtime) == before


def test_the_rest_upload_imports_stores_then_members(shop, cli, text_file, tmp_path, monkeypatch):
    from core.services import imports

    assert "3 created" in cli("import", "customers", text_file("customers.csv", CUSTOMERS)).stdout
    monkeypatch.setattr(imports, "upload_dir", lambda: tmp_path)
    job = next(j for j in shop.runtime.jobs if j.name == "imports.run")
    for name, text, made in (("stores", STORES, 2), ("members", MEMBERS + "M3,C3,CARD-0003,ST9,\n", 2)):
        response = shop.api.post("/api/v1/imports", data={"type": f"retail_membership.{name}",
                                                          "file": (io.BytesIO(text.encode()), f"{name}.csv")},
                                 content_type="multipart/form-data")
        assert response.status_code == 202, response.get_json()
        with shop.runtime.database.unit_of_work():
            job.run(utcnow())
        body = shop.api.get(f"/api/v1/imports/{response.get_json()['id']}").get_json()
        assert (body["status"], body["created"], body["unchanged"]) == ("done", made, 0), body
    assert body["errors"] == [{"row": 4, "column": "store_external_id", "reason": "No store has this external id."}]
    assert by_external_id(shop.runtime, RetailMembership, "M2").home_store_id == \
        by_external_id(shop.runtime, RetailStore, "ST2").id


def test_a_batch_costs_the_same_statements_for_10_rows_as_for_100(moved_in, cli, text_file, import_costs):
    people = "".join(f"P{i},Person {i},person\n" for i in range(110))
    assert "110 created" in cli("import", "customers", text_file("people.csv", "external_id,name,kind\n" + people)).stdout

    def stores(first, n):
        return "external_id,code,name,kind,city\n" + "".join(
            f"S{i},X{i:03d},Store {i},grocery,Ningbo\n" for i in range(first, first + n))

    def members(first, n):
        return "external_id,customer_external_id,card_number,store_external_id,phone\n" + "".join(
            f"N{i},P{i},CARD-9{i:03d},S{i},+86 139 0000 {i:04d}\n" for i in range(first, first + n))

    spent = {name: import_costs(f"retail_membership.{name}", make)
             for name, make in (("stores", stores), ("members", members))}
    assert spent["stores"][10] == spent["stores"][100], spent
    assert spent["members"][10] == spent["members"][100], spent
    assert spent["stores"]["rerun"] < spent["stores"][100], spent


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_filtered_exports_import_back_unchanged_and_members_name_their_store_by_external_id(
        moved_in, cli, tmp_path, fmt):
    runtime = moved_in.runtime
    before = counts(runtime)
    st1 = by_external_id(runtime, RetailStore, "ST1")
    for name, given, made in (("stores", "city=Hangzhou", 2), ("members", f"home_store_id={st1.id}", 1)):
        out = tmp_path / f"{name}.{fmt}"
        result = cli("export", f"retail_membership.{name}", "--filter", given, "-o", str(out))
        assert f"retail_membership.{name}: {made} rows written to {out} ({fmt})" in result.stderr
        if fmt == "jsonl":
            rows = {r["external_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
            if name == "stores":
                assert (rows["ST1"]["code"], rows["ST1"]["address"]) == ("A01", "1 Runway Road")
            else:
                assert (rows["M1"]["store_external_id"], rows["M1"]["home_store_code"]) == ("ST1", None)
                assert rows["M1"]["customer_external_id"] == "C1"
        dry = cli("import", f"retail_membership.{name}", str(out), "--dry-run")
        assert f"{made} rows checked, nothing written: 0 to create, 0 to update, {made} unchanged, 0 with errors" \
            in dry.stdout, dry.stdout + dry.stderr
        real = cli("import", f"retail_membership.{name}", str(out))
        assert f"0 created, 0 updated, {made} unchanged, 0 with errors" in real.stdout, real.stdout + real.stderr
    assert counts(runtime) == before


def test_a_store_without_an_external_id_is_still_named_by_its_code(moved_in, cli, text_file, tmp_path):
    """A member of a store made in Trellis (no external id) exports its store's code, as before."""
    north = moved_in.north
    made = imported(cli, text_file, "members", "external_id,customer_external_id,card_number,home_store_code\n"
                                               "M3,C3,CARD-0003,N01\n")
    assert "1 created" in made.stdout, made.stdout + made.stderr
    out = tmp_path / "north.csv"
    cli("export", "retail_membership.members", "--filter", f"home_store_id={north['id']}", "-o", str(out))
    [row] = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert (row["external_id"], row["store_external_id"], row["home_store_code"]) == ("M3", "", "N01")


def test_the_types_are_listed_with_their_columns_and_stores_export_once(moved_in):
    types = {t["name"]: t for t in moved_in.api.get("/api/v1/imports/types").get_json()}
    stores = [c["name"] for c in types["retail_membership.stores"]["columns"]]
    assert stores[:6] == ["external_id", "code", "name", "kind", "city", "address"]
    members = [c["name"] for c in types["retail_membership.members"]["columns"]]
    assert members.index("store_external_id") < members.index("home_store_code") < members.index("home_store_id")
    assert "retail_membership.campaigns" not in types   # exported only: see imports.export_types
    exported = moved_in.api.get("/api/v1/exports/retail_membership.stores?city=Hangzhou").get_data(as_text=True)
    assert exported.splitlines()[0].startswith("id,code,name,kind,city,address,external_id")


def test_graphql_reads_a_stores_external_id(moved_in):
    body = moved_in.api.as_("admin").graphql(
        "{ retailStores(first: 50, orderBy: [{field: CODE}]) { edges { node { code externalId } } } }")
    assert "errors" not in body, body
    assert [(e["node"]["code"], e["node"]["externalId"]) for e in body["data"]["retailStores"]["edges"]] == [
        ("A01", "ST1"), ("B01", "ST2"), ("N01", None), ("S01", None)]
