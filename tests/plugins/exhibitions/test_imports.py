"""``trellis import exhibitions.visitors`` and ``trellis export exhibitions.visitors``: registrations checked
by the REST create's schema and rules (returning visitors, badge codes, one registration per visitor and
edition), created in bulk with audit entries, events and timeline entries, found again by external id,
and a filtered list exported in the caller's scope imports back unchanged (docs/import-export.md)."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from core import db
from core.models import AuditEntry, Customer, Interaction, OutboxEvent
from plugins.exhibitions.models import VisitorRegistration

from .conftest import BASE, register

TYPE = "exhibitions.visitors"


@pytest.fixture
def known(show, runtime):
    """A visitor registered for the first edition through the API (a returning visitor for the second)."""
    return register(show, show.first, "Chen Jie")


def visitors_csv(show) -> str:
    first, second = show.first["id"], show.second["id"]
    company = show.companies["alpha"]["id"]
    return (
        "external_id,edition_id,name,email,phone,company_id,category,interests,purchase_intent,badge_code,registered_at\n"
        f"V1,{second},Chen J.,chen.jie@buyer.example,,,buyer,machinery;electronics,high,BADGE-0001,2026-04-01\n"
        f"V2,{second},Liu Yang,liu.yang@buyer.example,+86 139 0000 1111,{company},general,,,,\n"
        f"V3,{second},,nobody@buyer.example,,,,,,,\n"
        f"V4,{second},Zhou Xun,zhou@buyer.example,,,astronaut,,,,\n"
        f"V5,{first},Chen again,chen.jie@buyer.example,,,,,,,\n"
    )


def counts(runtime) -> dict[str, int]:
    with runtime.database.unit_of_work():
        return {m.__tablename__: db.session().scalar(select(func.count()).select_from(m)) for m in
                (VisitorRegistration, Customer, Interaction, AuditEntry, OutboxEvent)}


def registration(runtime, external_id: str) -> VisitorRegistration:
    with runtime.database.unit_of_work():
        r = db.session().scalars(select(VisitorRegistration).where(VisitorRegistration.external_id == external_id)).one()
        db.session().expunge(r)
        return r


def test_dry_run_reports_row_column_reason_and_writes_nothing(known, show, runtime, cli, text_file, tmp_path):
    before = counts(runtime)
    errors = tmp_path / "errors.csv"
    result = cli("import", TYPE, text_file("v.csv", visitors_csv(show)), "--dry-run", "--errors", str(errors))
    assert result.exit_code == 1
    assert "5 rows checked, nothing written: 2 to create, 0 to update, 0 unchanged, 3 with errors" in result.stdout
    assert list(csv.reader(errors.open())) == [
        ["row", "column", "reason"],
        ["4", "customer_external_id", "Give visitor_id (an existing person) or name (a new one)."],  # the schema's
        ["5", "category", "Must be one of: buyer, general, media, vip."],
        ["6", "email", "Already registered for this edition."],
    ]
    assert counts(runtime) == before


def test_import_registers_returning_and_new_visitors_then_a_rerun_changes_nothing(known, show, runtime, cli, text_file):
    before = counts(runtime)
    path = text_file("v.csv", visitors_csv(show))
    first = cli("import", TYPE, path)
    assert "5 rows imported: 2 created, 0 updated, 0 unchanged, 3 with errors" in first.stdout
    after = counts(runtime)
    assert after["exhibitions_registration"] - before["exhibitions_registration"] == 2
    assert after["customer"] - before["customer"] == 1            # Chen is a returning visitor, Liu is new
    assert after["interaction"] - before["interaction"] == 2      # each on the visitor's timeline
    v1, v2 = registration(runtime, "V1"), registration(runtime, "V2")
    assert str(v1.visitor_id) == known["visitor_id"]
    assert (v1.badge_code, v1.category, v1.interests, v1.purchase_intent, v1.registered_at.isoformat()) == (
        "BADGE-0001", "buyer", ["machinery", "electronics"], "high", "2026-04-01T00:00:00+00:00")
    assert (v2.company_name, v2.category, v2.source, v2.status) == ("Alpha Machines Ltd", "general", "web", "registered")
    with runtime.database.unit_of_work():
        entry = db.session().scalars(select(AuditEntry).where(AuditEntry.record_id == v2.id)).one()
        assert entry.action == "exhibitions_registration.created" and entry.changes["source"] == [None, "web"]
        assert db.session().scalars(select(OutboxEvent.name).where(OutboxEvent.record_id == v2.id)).all() == [
            "exhibitions_registration.created"]
        liu = db.session().get(Customer, v2.visitor_id)
        assert (liu.name, liu.kind, liu.source) == ("Liu Yang", "person", "exhibition")
        assert db.session().scalars(select(OutboxEvent.name).where(OutboxEvent.record_id == liu.id)).all() == [
            "customer.created"]
    second = cli("import", TYPE, path)
    assert "5 rows imported: 0 created, 0 updated, 2 unchanged, 3 with errors" in second.stdout
    assert counts(runtime) == after


def test_json_lines_and_a_corrected_file_updates_through_update_registration(known, show, runtime, cli, text_file):
    lines = [{"external_id": "J1", "edition_id": show.second["id"], "customer_id": known["visitor_id"],
              "interests": ["food"], "job_title": "Chef"}]
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    assert "1 created" in cli("import", TYPE, text_file("v.jsonl", text)).stdout
    j1 = registration(runtime, "J1")
    lines[0].update(job_title="Head chef", category="vip")
    lines.append({"external_id": "J1x", "edition_id": show.second["id"], "customer_id": known["visitor_id"]})
    result = cli("import", TYPE, text_file("v2.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n"))
    assert "0 created, 1 updated, 0 unchanged, 1 with errors" in result.stdout
    assert "row 2, customer_id: Already registered for this edition." in result.stderr
    after = registration(runtime, "J1")
    assert (after.job_title, after.category, after.version) == ("Head chef", "vip", j1.version + 1)
    moved = [dict(lines[0], badge_code="OTHER-1")]
    refused = cli("import", TYPE, text_file("v3.jsonl", json.dumps(moved[0]) + "\n"))
    assert "row 1, badge_code: Set when the visitor registered: it cannot change." in refused.stderr


def test_only_admins_import(show, text_file):
    for who in ("organiser", "manager"):
        with open(text_file("v.csv", visitors_csv(show)), "rb") as fh:
            refused = show.api.as_(who).post("/api/v1/imports", data={"record_type": TYPE, "file": (fh, "v.csv")})
        assert refused.status_code == 403


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_a_filtered_list_exported_imports_back_unchanged(known, show, runtime, cli, text_file, tmp_path, fmt):
    cli("import", TYPE, text_file("v.csv", visitors_csv(show)))
    before = counts(runtime)
    out = tmp_path / f"second.{fmt}"
    result = cli("export", TYPE, "--filter", f"edition_id={show.second['id']}", "-o", str(out))
    assert f"{TYPE}: 2 rows written to {out} ({fmt})" in result.stderr
    if fmt == "csv":
        rows = {r["external_id"]: r for r in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))}
        assert set(rows) == {"V1", "V2"}
        assert rows["V1"]["customer_id"] == known["visitor_id"] and rows["V1"]["interests"] == "machinery;electronics"
        assert "name" not in rows["V1"]   # a visitor is exported by reference
    dry = cli("import", TYPE, str(out), "--dry-run")
    assert "2 rows checked, nothing written: 0 to create, 0 to update, 2 unchanged, 0 with errors" in dry.stdout
    assert "0 created, 0 updated, 2 unchanged, 0 with errors" in cli("import", TYPE, str(out)).stdout
    assert counts(runtime) == before


def test_an_export_holds_only_what_the_callers_list_shows(known, show, cli, text_file):
    cli("import", TYPE, text_file("v.csv", visitors_csv(show)))
    for who in ("organiser", "rep", "alpha"):
        listed = show.api.as_(who).get(f"{BASE}/registrations?page_size=100")
        body = show.api.as_(who).get(f"/api/v1/exports/{TYPE}?format=jsonl")
        assert body.status_code == 200, who
        exported = [json.loads(line) for line in body.get_data(as_text=True).splitlines()]
        shown = listed.get_json() if listed.status_code == 200 else []
        assert sorted(r["badge_code"] for r in exported) == sorted(r["badge_code"] for r in shown), who
    organiser = show.api.as_("organiser").get(f"/api/v1/exports/{TYPE}?format=jsonl").get_data(as_text=True)
    assert len(organiser.splitlines()) == 3   # the API's registration and the two imported
    assert show.api.as_("rep").get(f"/api/v1/exports/{TYPE}").get_data(as_text=True).count("\n") == 1  # header only
    bad = show.api.get(f"/api/v1/exports/{TYPE}?category=astronaut")
    assert bad.status_code == 422 and "category" in bad.get_json()["errors"]["json"]


def test_an_export_costs_the_same_statements_for_one_registration_as_for_all(known, show, runtime, cli, text_file,
                                                                             people, count_queries):
    from core.services import exports

    cli("import", TYPE, text_file("v.csv", visitors_csv(show)))
    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        v2 = db.session().scalars(select(VisitorRegistration.badge_code).where(
            VisitorRegistration.external_id == "V2")).one()   # the one with a company, as in the whole list
        with count_queries() as one:
            assert len(list(exports.rows(admin, TYPE, {"badge_code": v2}))) == 1
        with count_queries() as every:
            assert len(list(exports.rows(admin, TYPE, {}))) == 3
    assert one.count == every.count == 4   # the registrations; their editions', visitors' and companies' references


# --- exhibitors ------------------------------------------------------------------------------------------

EXHIBITORS = "exhibitions.exhibitors"


def exhibitors_csv(show, extra: str = "") -> str:
    first, second = show.first["id"], show.second["id"]
    alpha, beta = show.companies["alpha"]["id"], show.companies["beta"]["id"]
    return ("external_id,edition_id,customer_id,is_key,categories,notes\n"
            f"E1,{first},{alpha},true,machinery;electronics,hall 1 corner\n"
            f"E2,{second},{alpha},,,\n"
            f"E3,{first},{beta},false,food,\n"
            f"E4,{first},{alpha},,,\n"
            f"E5,{second},{beta},,spaceships,\n" + extra)


def participation_counts(runtime) -> dict[str, int]:
    from plugins.exhibitions.models import ExhibitorParticipation

    with runtime.database.unit_of_work():
        return {m.__tablename__: db.session().scalar(select(func.count()).select_from(m)) for m in
                (ExhibitorParticipation, Interaction, AuditEntry, OutboxEvent)}


def test_exhibitors_import_dry_run_rerun_correction_and_round_trip(show, runtime, cli, text_file, tmp_path):
    from plugins.exhibitions.models import ExhibitorParticipation

    before = participation_counts(runtime)
    errors = tmp_path / "errors.csv"
    path = text_file("e.csv", exhibitors_csv(show))
    dry = cli("import", EXHIBITORS, path, "--dry-run", "--errors", str(errors))
    assert "5 rows checked, nothing written: 3 to create, 0 to update, 0 unchanged, 2 with errors" in dry.stdout
    rows = sorted(list(csv.reader(errors.open()))[1:])
    assert rows[0] == ["5", "customer_id", "Already taking part in this edition."]   # E1's company and edition
    assert rows[1][:2] == ["6", "categories.0"]   # the first category of the cell
    assert participation_counts(runtime) == before
    assert "3 created, 0 updated, 0 unchanged, 2 with errors" in cli("import", EXHIBITORS, path).stdout
    after = participation_counts(runtime)
    assert after["exhibitions_participation"] - before["exhibitions_participation"] == 3
    assert after["interaction"] - before["interaction"] == 3    # "Invited to exhibit at …" on each timeline
    with runtime.database.unit_of_work():
        e1 = db.session().scalars(select(ExhibitorParticipation).where(ExhibitorParticipation.external_id == "E1")).one()
        assert (e1.status, e1.is_key, e1.categories, e1.notes) == (
            "invited", True, ["machinery", "electronics"], "hall 1 corner")
        assert db.session().scalars(select(OutboxEvent.name).where(OutboxEvent.record_id == e1.id)).all() == [
            "exhibitions_participation.created"]
        e1_id, e1_version = e1.id, e1.version
    assert "0 created, 0 updated, 3 unchanged" in cli("import", EXHIBITORS, path).stdout
    assert participation_counts(runtime) == after
    corrected = exhibitors_csv(show).replace("true,machinery;electronics,hall 1 corner", "false,machinery,moved")
    assert "0 created, 1 updated, 2 unchanged" in cli("import", EXHIBITORS, text_file("e2.csv", corrected)).stdout
    listed = show.api.get(f"{BASE}/participations/{e1_id}").get_json()
    assert (listed["is_key"], listed["categories"], listed["notes"], listed["version"]) == (
        False, ["machinery"], "moved", e1_version + 1)
    for fmt in ("csv", "jsonl", "xlsx"):
        out = tmp_path / f"first.{fmt}"
        result = cli("export", EXHIBITORS, "--filter", f"edition_id={show.first['id']}", "-o", str(out))
        assert f"{EXHIBITORS}: 2 rows written" in result.stderr
        assert "0 created, 0 updated, 2 unchanged, 0 with errors" in cli("import", EXHIBITORS, str(out)).stdout


def test_an_exhibitor_exports_only_its_own_participations(show, cli, text_file):
    cli("import", EXHIBITORS, text_file("e.csv", exhibitors_csv(show)))
    body = show.api.as_("beta").get(f"/api/v1/exports/{EXHIBITORS}?format=jsonl")
    assert body.status_code == 200
    assert [json.loads(line)["external_id"] for line in body.get_data(as_text=True).splitlines()] == ["E3"]
    assert sorted(json.loads(line)["external_id"] for line in show.api.as_("organiser").get(
        f"/api/v1/exports/{EXHIBITORS}?format=jsonl").get_data(as_text=True).splitlines()) == ["E1", "E2", "E3"]
    with open(text_file("e.csv", exhibitors_csv(show)), "rb") as fh:
        refused = show.api.as_("organiser").post("/api/v1/imports", data={"record_type": EXHIBITORS,
                                                                          "file": (fh, "e.csv")})
    assert refused.status_code == 403


def test_an_import_batch_costs_the_same_statements_for_few_rows_as_for_more(known, show, cli, text_file, count_queries):
    """The create's rules are looked up once per batch (per company named, as the plugin's own bulk import):
    no statement per row, for visitors (new, returning, existing) and exhibitors alike."""
    for name in ("Wu Lin", "Sun Li"):   # more returning visitors
        register(show, show.first, name)
    second, company = show.second["id"], show.companies["alpha"]["id"]
    header = "external_id,edition_id,name,email,company_id,badge_code\n"
    two = header + (f"O1,{second},New One,one@buyer.example,{company},BADGE-1001\n"
                    f"O2,{second},Chen Jie,chen.jie@buyer.example,{company},BADGE-1002\n")
    four = header + (f"T1,{second},New Two,two@buyer.example,{company},BADGE-2001\n"
                     f"T2,{second},New Three,three@buyer.example,{company},BADGE-2002\n"
                     f"T3,{second},Wu Lin,wu.lin@buyer.example,{company},BADGE-2003\n"
                     f"T4,{second},Sun Li,sun.li@buyer.example,{company},BADGE-2004\n")
    with count_queries() as first:
        assert "2 created" in cli("import", TYPE, text_file("two.csv", two)).stdout
    with count_queries() as again:
        assert "4 created" in cli("import", TYPE, text_file("four.csv", four)).stdout
    assert first.count == again.count
    header = "external_id,edition_id,customer_id,categories\n"
    beta = show.companies["beta"]["id"]
    with count_queries() as first:
        assert "1 created" in cli("import", EXHIBITORS, text_file("e1.csv", header + f"X1,{second},{company},food\n")).stdout
    with count_queries() as again:
        assert "1 created" in cli("import", EXHIBITORS, text_file("e2.csv", header + f"X2,{second},{beta},food\n"
                                                                        f"X1,{second},{company},food\n")).stdout
    assert first.count == again.count
