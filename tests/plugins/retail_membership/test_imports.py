"""``trellis import retail_membership.members`` and ``trellis export retail_membership.members``: members
checked by the REST create's schema and rules, created in bulk with their audit entries and events, found
again by external id (a rerun changes nothing, a corrected file updates through the plugin's services),
and a filtered list exported in the caller's scope imports back unchanged (docs/import-export.md)."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from core import db
from core.models import AuditEntry, OutboxEvent, WorkflowTransitionEntry
from plugins.retail_membership.models import RetailMembership, RetailPointsEntry

BASE = "/api/v1/retail-membership"

CUSTOMERS = """external_id,name,kind
C1,Li Lei,person
C2,Han Meimei,person
C3,Wang Fang,person
C4,Zhang Wei,person
C5,Zhao Min,person
"""

MEMBERS = """external_id,customer_external_id,card_number,home_store_code,phone,joined_on,birthday,preferences,tier,points_balance,referred_by_card
M1,C1,CARD-0001,N01,+86 138-0013-8000,2024-01-15,1990-05-01,silk;tea,,120,
M2,C2,CARD-0002,S01,,2024-02-01,,,gold,,
M3,C3,CARD-0003,N01,,2024-03-01,,,,0,CARD-0001
M4,C9,CARD-0004,N01,,,,,,,
M5,C4,CARD-0005,X99,,,,,,,
M6,C4,CARD-0006,N01,,,,,bronze,,CARD-0001
"""

MEMBERS_JSONL = "\n".join(json.dumps(r) for r in [
    {"external_id": "J1", "customer_external_id": "C4", "card_number": "CARD-0101", "home_store_code": "S01",
     "preferences": ["shoes"], "points_balance": 50},
    {"external_id": "J2", "customer_external_id": "C1", "card_number": "CARD-0102", "home_store_code": "S01"},
]) + "\n"


@pytest.fixture
def customers(shop, cli, text_file):
    result = cli("import", "customers", text_file("c.csv", CUSTOMERS))
    assert "5 created" in result.stdout, result.stdout + result.stderr
    return shop


def counts(runtime) -> dict[str, int]:
    with runtime.database.unit_of_work():
        return {m.__tablename__: db.session().scalar(select(func.count()).select_from(m)) for m in
                (RetailMembership, RetailPointsEntry, AuditEntry, OutboxEvent, WorkflowTransitionEntry)}


def member(runtime, external_id: str) -> RetailMembership:
    with runtime.database.unit_of_work():
        m = db.session().scalars(select(RetailMembership).where(RetailMembership.external_id == external_id)).one()
        db.session().expunge(m)
        return m


def test_dry_run_reports_row_column_reason_and_writes_nothing(customers, runtime, cli, text_file, tmp_path):
    before = counts(runtime)
    errors = tmp_path / "errors.csv"
    result = cli("import", "retail_membership.members", text_file("m.csv", MEMBERS), "--dry-run", "--errors", str(errors))
    assert result.exit_code == 1
    assert "6 rows checked, nothing written: 3 to create, 0 to update, 0 unchanged, 3 with errors" in result.stdout
    assert list(csv.reader(errors.open())) == [
        ["row", "column", "reason"],
        ["5", "customer_external_id", "No customer has this external id."],
        ["6", "home_store_code", "No store has this code."],
        ["7", "tier", "One of: member, silver, gold, platinum."],
    ]
    assert counts(runtime) == before


def test_import_creates_members_with_audit_events_tier_and_points_then_a_rerun_changes_nothing(
        customers, runtime, cli, text_file):
    before = counts(runtime)
    path = text_file("m.csv", MEMBERS)
    first = cli("import", "retail_membership.members", path)
    assert "6 rows imported: 3 created, 0 updated, 0 unchanged, 3 with errors" in first.stdout
    after = counts(runtime)
    assert after["retail_membership_membership"] - before["retail_membership_membership"] == 3
    assert after["retail_membership_points_entry"] - before["retail_membership_points_entry"] == 1
    m1, m2 = member(runtime, "M1"), member(runtime, "M2")
    assert (m1.card_number, m1.phone, m1.phone_key, m1.joined_on.isoformat(), m1.birthday.isoformat(),
            m1.preferences, m1.tier, m1.tier_pinned, m1.home_store_id, m1.version) == (
        "CARD-0001", "+86 138-0013-8000", "+8613800138000", "2024-01-15", "1990-05-01", ["silk", "tea"],
        "member", False, __import__("uuid").UUID(customers.north["id"]), 1)
    assert (m2.tier, m2.tier_pinned) == ("gold", True)   # placed by the import: it holds, as set by hand
    api = customers.api
    shown = api.get(f"{BASE}/memberships/{m1.id}").get_json()
    assert shown["points_balance"] == 120 and shown["name"] == "Li Lei"
    with runtime.database.unit_of_work():
        entry = db.session().scalars(select(AuditEntry).where(AuditEntry.record_id == m1.id)).one()
        assert entry.action == "retail_membership_membership.created"
        assert entry.changes["card_number"] == [None, "CARD-0001"]
        events = db.session().scalars(select(OutboxEvent.name).where(OutboxEvent.record_id == m1.id)).all()
        assert events == ["retail_membership_membership.created"]
        ledger = db.session().scalars(select(RetailPointsEntry).where(RetailPointsEntry.membership_id == m1.id)).one()
        assert (ledger.kind, ledger.points, ledger.balance_after, ledger.reason) == ("adjust", 120, 120, "trellis import")
        assert db.session().scalars(select(OutboxEvent.name).where(OutboxEvent.record_id == ledger.id)).all() == [
            "retail_membership_points_entry.created"]
        move = db.session().scalars(select(WorkflowTransitionEntry).where(
            WorkflowTransitionEntry.record_id == m2.id)).one()
        assert (move.from_state, move.to_state, move.trigger) == (None, "gold", "import")
    second = cli("import", "retail_membership.members", path)
    assert "6 rows imported: 0 created, 0 updated, 3 unchanged, 3 with errors" in second.stdout
    assert counts(runtime) == after


def test_json_lines_imports_too_and_the_create_rules_hold(customers, runtime, cli, text_file):
    cli("import", "retail_membership.members", text_file("m.csv", MEMBERS))
    result = cli("import", "retail_membership.members", text_file("m.jsonl", MEMBERS_JSONL))
    assert "2 rows imported: 1 created, 0 updated, 0 unchanged, 1 with errors" in result.stdout
    assert "row 2, customer_external_id: This customer already has a membership." in result.stderr  # line 2
    j1 = member(runtime, "J1")
    assert (j1.card_number, j1.preferences, j1.home_store_id.hex) == (
        "CARD-0101", ["shoes"], customers.south["id"].replace("-", ""))
    card = json.dumps({"external_id": "J9", "customer_external_id": "C4", "card_number": "CARD-0001",
                       "home_store_code": "N01"})
    assert "card_number: This card number is taken." in cli(
        "import", "retail_membership.members", text_file("k.jsonl", card + "\n")).stderr
    phone = json.dumps({"external_id": "J8", "customer_external_id": "C4", "card_number": "CARD-0201",
                        "home_store_code": "N01", "phone": "13800138000", "points_balance": -3})
    refused = cli("import", "retail_membership.members", text_file("p.jsonl", phone + "\n"), "--dry-run").stderr
    assert "points_balance: A whole number of points, 0 or more." in refused


def test_a_corrected_file_updates_through_the_plugins_services(customers, runtime, cli, text_file):
    cli("import", "retail_membership.members", text_file("m.csv", MEMBERS))
    m1 = member(runtime, "M1")
    before = counts(runtime)
    corrected = (MEMBERS.replace("CARD-0001,N01,+86 138-0013-8000", "CARD-0001,S01,+86 138-0013-8001")
                 .replace("silk;tea,,120", "silk;tea,silver,100")
                 .replace("M3,C3,CARD-0003", "M3,C3,CARD-0333"))
    result = cli("import", "retail_membership.members", text_file("m2.csv", corrected))
    assert "0 created, 1 updated, 1 unchanged, 4 with errors" in result.stdout
    assert "row 4, card_number: A member's card number cannot change." in result.stderr
    after = member(runtime, "M1")
    assert (after.home_store_id.hex, after.phone, after.tier, after.tier_pinned) == (
        customers.south["id"].replace("-", ""), "+86 138-0013-8001", "silver", True)
    assert customers.api.get(f"{BASE}/memberships/{m1.id}").get_json()["points_balance"] == 100
    grown = counts(runtime)
    assert grown["retail_membership_membership"] == before["retail_membership_membership"]
    assert grown["retail_membership_points_entry"] - before["retail_membership_points_entry"] == 1
    with runtime.database.unit_of_work():
        actions = db.session().scalars(select(AuditEntry.action).where(AuditEntry.record_id == m1.id)
                                       .order_by(AuditEntry.at, AuditEntry.action)).all()
        assert "retail_membership_membership.updated" in actions
        assert "retail_membership_membership.tier_changed" in actions
        adjusted = db.session().scalars(select(RetailPointsEntry).where(
            RetailPointsEntry.membership_id == m1.id, RetailPointsEntry.points < 0)).one()
        assert (adjusted.kind, adjusted.points, adjusted.reason) == ("adjust", -20, "trellis import")
    again = cli("import", "retail_membership.members", text_file("m2.csv", corrected))
    assert "0 created, 0 updated, 2 unchanged" in again.stdout


def test_only_admins_import(customers, api, text_file):
    with open(text_file("m.csv", MEMBERS), "rb") as fh:
        refused = api.as_("manager").post("/api/v1/imports", data={
            "record_type": "retail_membership.members", "file": (fh, "m.csv")})
    assert refused.status_code == 403
    with open(text_file("m.csv", MEMBERS), "rb") as fh:
        staff = api.as_("staff_north").post("/api/v1/imports", data={
            "record_type": "retail_membership.members", "file": (fh, "m.csv")})
    assert staff.status_code == 403


def _read(text: str, fmt: str) -> list[dict]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "xlsx"])
def test_a_filtered_list_exported_imports_back_unchanged(customers, runtime, cli, text_file, tmp_path, fmt):
    cli("import", "retail_membership.members", text_file("m.csv", MEMBERS))
    before = counts(runtime)
    out = tmp_path / f"north.{fmt}"
    result = cli("export", "retail_membership.members", "--filter", f"home_store_id={customers.north['id']}",
                 "-o", str(out))
    assert f"retail_membership.members: 2 rows written to {out} ({fmt})" in result.stderr
    if fmt != "xlsx":
        rows = {r["external_id"]: r for r in _read(out.read_text(encoding="utf-8"), fmt)}
        assert set(rows) == {"M1", "M3"}
        assert rows["M1"]["home_store_code"] == "N01" and rows["M1"]["customer_external_id"] == "C1"
        assert str(rows["M1"]["points_balance"]) == "120" and rows["M1"]["tier"] == "member"
        assert rows["M3"]["referred_by_card"] == "CARD-0001"   # a referrer enrolled earlier in the batch
    dry = cli("import", "retail_membership.members", str(out), "--dry-run")
    assert "2 rows checked, nothing written: 0 to create, 0 to update, 2 unchanged, 0 with errors" in dry.stdout
    real = cli("import", "retail_membership.members", str(out))
    assert "0 created, 0 updated, 2 unchanged, 0 with errors" in real.stdout
    assert counts(runtime) == before


def test_an_export_holds_only_what_the_callers_list_shows(customers, cli, text_file, api):
    cli("import", "retail_membership.members", text_file("m.csv", MEMBERS))
    south = api.as_("staff_south").get(f"{BASE}/memberships?page_size=100").get_json()
    body = api.as_("staff_south").get("/api/v1/exports/retail_membership.members?format=jsonl")
    assert body.status_code == 200
    exported = [json.loads(line) for line in body.get_data(as_text=True).splitlines()]
    assert [r["external_id"] for r in exported] == ["M2"]
    assert [m["card_number"] for m in south] == [r["card_number"] for r in exported]
    assert api.as_("rep").get("/api/v1/exports/retail_membership.members").get_data(as_text=True).splitlines() \
        == ["external_id,customer_external_id,customer_id,card_number,store_external_id,home_store_code,phone,"
            "joined_on,birthday,"
            "preferences,referred_by_card,tier,points_balance"]
    bad = api.get("/api/v1/exports/retail_membership.members?tier=" + "x" * 31)
    assert bad.status_code == 422 and "tier" in bad.get_json()["errors"]["json"]


def test_an_export_costs_the_same_statements_for_one_member_as_for_all(customers, runtime, cli, text_file, people,
                                                                       count_queries):
    from core.services import exports

    cli("import", "retail_membership.members", text_file("m.csv", MEMBERS))
    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        with count_queries() as one:
            assert len(list(exports.rows(admin, "retail_membership.members", {"card_number": "CARD-0003"}))) == 1
        with count_queries() as every:
            assert len(list(exports.rows(admin, "retail_membership.members", {}))) == 3
    assert one.count == every.count == 5   # members, customers, stores, referrers, balances


def test_an_import_batch_costs_the_same_statements_for_one_member_as_for_three(customers, cli, text_file, count_queries):
    """The create's rules are looked up once per batch: no statement per row (the stores, the cards, the
    phones, the customers, the referrers)."""
    header = "external_id,customer_external_id,card_number,home_store_code,phone,tier,points_balance,referred_by_card\n"
    referrer = header + "A1,C1,CARD-1001,N01,,,,\n"
    assert "1 created" in cli("import", "retail_membership.members", text_file("referrer.csv", referrer)).stdout
    one = header + "A2,C2,CARD-1002,N01,+86 138 0000 0001,gold,10,CARD-1001\n"
    three = header + ("B1,C3,CARD-2001,N01,+86 138 0000 0002,gold,10,CARD-1001\n"
                      "B2,C4,CARD-2002,S01,+86 138 0000 0003,gold,10,CARD-1001\n"
                      "B3,C5,CARD-2003,N01,+86 138 0000 0004,gold,10,CARD-1001\n")
    with count_queries() as first:
        assert "1 created" in cli("import", "retail_membership.members", text_file("one.csv", one)).stdout
    with count_queries() as second:
        assert "3 created" in cli("import", "retail_membership.members", text_file("three.csv", three)).stdout
    assert first.count == second.count
