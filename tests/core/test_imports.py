"""``trellis import``: dry runs, idempotent reruns, corrections, resuming after a crash, per-row errors,
references by external id, the three formats (docs/import-export.md)."""
from __future__ import annotations

import csv
import dataclasses
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from api.cli import build_cli
from core import db
from core.models import AuditEntry, Contact, Customer, ImportRun, Interaction, OutboxEvent, WorkflowTransitionEntry

CUSTOMERS = """external_id,name,kind,region,tags
C1,Acme Trading,company,East,wholesale;vip
C2,Li Lei,person,,
C3,,company,,
C4,Bogus Kind,robot,,
C5,Zhang Wei,person,North,
"""

PURCHASES = """external_id,customer_external_id,kind,occurred_at,amount
P1,C1,purchase,1997-01-01,10.50
P2,C1,purchase,1997-02-01,20
P3,C2,purchase,19970301,5
P4,C9,purchase,1997-03-01,5
P5,C2,purchase,1997-03-01,lots
"""


@pytest.fixture
def cli(app, runtime, people):
    def invoke(*args: str):
        return CliRunner().invoke(build_cli(app), ["import", *args], catch_exceptions=False)

    return invoke


@pytest.fixture
def files(tmp_path):
    def write(name: str, text: str):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return write


def counts(runtime) -> dict[str, int]:
    with runtime.database.unit_of_work():
        return {m.__tablename__: db.session().scalar(select(func.count()).select_from(m)) for m in
                (Customer, Contact, Interaction, AuditEntry, OutboxEvent, WorkflowTransitionEntry, ImportRun)}


def customer(runtime, external_id: str) -> Customer:
    with runtime.database.unit_of_work():
        return db.session().scalars(select(Customer).where(Customer.external_id == external_id)).one()


def test_dry_run_checks_every_row_reports_row_column_reason_and_writes_nothing(runtime, cli, files, tmp_path):
    before = counts(runtime)
    errors = tmp_path / "errors.csv"
    result = cli("customers", files("c.csv", CUSTOMERS), "--dry-run", "--errors", str(errors))
    assert result.exit_code == 1
    assert "5 rows checked, nothing written: 3 to create, 0 to update, 0 unchanged, 2 with errors" in result.stdout
    assert list(csv.reader(errors.open())) == [
        ["row", "column", "reason"],
        ["4", "name", "Missing data for required field."],
        ["5", "kind", "Must be one of: company, person."],
    ]
    assert counts(runtime) == before  # not a record, an audit entry, an event or a run record


def test_import_creates_audits_and_emits_events_then_a_rerun_changes_nothing(runtime, cli, files):
    before = counts(runtime)
    path = files("c.csv", CUSTOMERS)
    first = cli("customers", path)
    assert "5 rows imported: 3 created, 0 updated, 0 unchanged, 2 with errors" in first.stdout
    after = counts(runtime)
    assert after["customer"] - before["customer"] == 3
    with runtime.database.unit_of_work():
        acme = db.session().scalars(select(Customer).where(Customer.external_id == "C1")).one()
        assert (acme.name, acme.kind, acme.region, acme.tags, acme.version) == (
            "Acme Trading", "company", "East", ["vip", "wholesale"], 1)
        entry = db.session().scalars(select(AuditEntry).where(AuditEntry.record_id == acme.id)).one()
        assert entry.action == "customer.created" and entry.changes["name"] == [None, "Acme Trading"]
        assert entry.changes["tags"] == [[], ["vip", "wholesale"]]
        event = db.session().scalars(select(OutboxEvent).where(OutboxEvent.record_id == acme.id)).one()
        assert event.name == "customer.created" and event.payload["version"] == 1
    second = cli("customers", path)
    assert "5 rows imported: 0 created, 0 updated, 3 unchanged, 2 with errors" in second.stdout
    again = counts(runtime)
    assert {k: v for k, v in again.items() if k != "import_run"} == {k: v for k, v in after.items() if k != "import_run"}


def test_a_corrected_file_updates_what_changed_through_the_update_rules(runtime, cli, files):
    cli("customers", files("c.csv", CUSTOMERS))
    before = counts(runtime)
    corrected = CUSTOMERS.replace("Acme Trading,company,East", "Acme Trading Ltd,company,West")
    result = cli("customers", files("c2.csv", corrected))
    assert "0 created, 1 updated, 2 unchanged" in result.stdout
    acme = customer(runtime, "C1")
    assert (acme.name, acme.region, acme.version) == ("Acme Trading Ltd", "West", 2)
    after = counts(runtime)
    assert after["audit_entry"] - before["audit_entry"] == 1 and after["customer"] == before["customer"]
    with runtime.database.unit_of_work():
        entry = db.session().scalars(select(AuditEntry).where(AuditEntry.action == "customer.updated")).one()
        assert entry.changes == {"name": ["Acme Trading", "Acme Trading Ltd"], "region": ["East", "West"]}


def test_purchases_reference_customers_by_external_id_and_move_their_lifecycle(runtime, cli, files):
    cli("customers", files("c.csv", CUSTOMERS))
    result = cli("interactions", files("p.csv", PURCHASES), "--errors", files("e.csv", ""))
    assert "5 rows imported: 3 created, 0 updated, 0 unchanged, 2 with errors" in result.stdout
    assert "row 5, customer_external_id: No customer has this external id." in result.stderr
    assert "row 6, amount: Not a valid number." in result.stderr
    acme, li = customer(runtime, "C1"), customer(runtime, "C2")
    assert (acme.stage, acme.version, li.stage, li.version) == ("repeat", 3, "first_purchase", 2)
    with runtime.database.unit_of_work():
        rows = db.session().scalars(select(Interaction).where(Interaction.customer_id == acme.id)
                                    .order_by(Interaction.occurred_at)).all()
        assert [(r.external_id, r.amount, r.occurred_at.isoformat()) for r in rows] == [
            ("P1", Decimal("10.50"), "1997-01-01T00:00:00+00:00"), ("P2", Decimal("20.00"), "1997-02-01T00:00:00+00:00")]
        moves = db.session().scalars(select(WorkflowTransitionEntry).where(
            WorkflowTransitionEntry.record_id == acme.id, WorkflowTransitionEntry.workflow == "customer.lifecycle")
            .order_by(WorkflowTransitionEntry.at)).all()
        assert [(m.from_state, m.to_state, m.at.date().isoformat(), m.trigger) for m in moves] == [
            ("potential", "first_purchase", "1997-01-01", "automatic"), ("first_purchase", "repeat", "1997-02-01", "automatic")]
        names = db.session().scalars(select(OutboxEvent.name).where(OutboxEvent.record_id == acme.id)
                                     .order_by(OutboxEvent.name)).all()
        assert names == ["customer.created", "customer.stage_changed", "customer.stage_changed"]
    before = counts(runtime)
    assert "0 created, 0 updated, 3 unchanged" in cli("interactions", files("p.csv", PURCHASES)).stdout
    assert {k: v for k, v in counts(runtime).items() if k != "import_run"} == \
        {k: v for k, v in before.items() if k != "import_run"}


def test_a_customer_with_many_purchases_over_several_batches_moves_only_on_real_stage_changes(runtime, cli, files):
    """Ten purchases of one customer, three rows a batch, then a second file with two more: the lifecycle
    moves twice (first purchase, repeat), each move with one history row, audit entry and event; every
    purchase has its own audit entry and event."""
    itype = runtime.import_types["interactions"]
    cli("customers", files("c.csv", CUSTOMERS))
    rows = "".join(f"Q{i},C1,purchase,1997-01-{i:02d},{i}\n" for i in range(1, 11))
    head = "external_id,customer_external_id,kind,occurred_at,amount\n"
    before = counts(runtime)
    runtime.import_types["interactions"] = dataclasses.replace(itype, batch_size=3)
    try:
        assert "10 rows imported: 10 created" in cli("interactions", files("q.csv", head + rows)).stdout
        more = "".join(f"R{i},C1,purchase,1997-02-{i:02d},{i}\n" for i in range(1, 3))
        assert "2 rows imported: 2 created" in cli("interactions", files("r.csv", head + more)).stdout
    finally:
        runtime.import_types["interactions"] = itype
    acme = customer(runtime, "C1")
    assert (acme.stage, acme.version) == ("repeat", 3)
    with runtime.database.unit_of_work():
        moves = db.session().scalars(select(WorkflowTransitionEntry).where(
            WorkflowTransitionEntry.record_id == acme.id, WorkflowTransitionEntry.workflow == "customer.lifecycle")
            .order_by(WorkflowTransitionEntry.at)).all()
        assert [(m.from_state, m.to_state, m.at.date().isoformat(), m.reason) for m in moves] == [
            ("potential", "first_purchase", "1997-01-01", "1 purchase recorded"),
            ("first_purchase", "repeat", "1997-01-02", "2 purchases recorded")]
        events = db.session().scalars(select(OutboxEvent.payload).where(
            OutboxEvent.record_id == acme.id, OutboxEvent.name == "customer.stage_changed")).all()
        assert sorted(e["version"] for e in events) == [2, 3]
    after = counts(runtime)
    assert after["interaction"] - before["interaction"] == 12
    assert after["audit_entry"] - before["audit_entry"] == 12 + 2
    assert after["outbox_event"] - before["outbox_event"] == 12 + 2
    assert after["workflow_transition"] - before["workflow_transition"] == 2


def test_a_crash_after_batch_k_loses_nothing_reported_and_a_rerun_continues(runtime, cli, files, people, monkeypatch):
    from core.services import imports

    itype = runtime.import_types["customers"]
    monkeypatch.setitem(runtime.import_types, "customers", dataclasses.replace(itype, batch_size=3))
    rows = "".join(f"X{i},Customer {i}\n" for i in range(1, 12))  # 11 rows: batches of 3, 3, 3, 2
    path = files("many.csv", "external_id,name\n" + rows)
    before = counts(runtime)
    with runtime.database.unit_of_work():
        run = imports.start_run(people.admin, "customers", path)
    with pytest.raises(RuntimeError, match="Simulated failure after 2 batch"):
        imports.run_import(run.id, database=runtime.database, path=path, fail_after_batches=2)
    with runtime.database.unit_of_work():
        stored = db.session().get(ImportRun, run.id)
        assert (stored.status, stored.rows_done, stored.created_count) == ("failed", 6, 6)
    assert counts(runtime)["customer"] - before["customer"] == 6
    result = cli("customers", path)
    assert "Continuing an interrupted import of this file after row 6." in result.stdout
    assert "11 rows imported: 11 created, 0 updated, 0 unchanged, 0 with errors (continued after row 6" in result.stdout
    after = counts(runtime)
    assert after["customer"] - before["customer"] == 11
    assert after["audit_entry"] - before["audit_entry"] == 11  # one created entry each, none twice
    assert after["import_run"] - before["import_run"] == 1     # the same run, finished
    with runtime.database.unit_of_work():
        stored = db.session().get(ImportRun, run.id)
        assert (stored.status, stored.rows_done, stored.created_count) == ("done", 11, 11)
        assert sorted(db.session().scalars(select(Customer.external_id).where(Customer.external_id.like("X%")))) == \
            sorted(f"X{i}" for i in range(1, 12))


def test_xlsx_and_json_lines_with_a_mapping_file(runtime, cli, files, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Customer No", "Customer Name", "Region", "Ignored"])
    sheet.append([101, "Wang Fang", "South", "x"])
    sheet.append([102.0, "Chen Jie", None, "y"])
    xlsx = tmp_path / "customers.xlsx"
    book.save(xlsx)
    mapping = files("m.json", json.dumps({"Customer No": "external_id", "Customer Name": "name", "Ignored": None}))
    result = cli("customers", str(xlsx), "--mapping", mapping)
    assert "2 rows imported: 2 created" in result.stdout, result.output
    assert customer(runtime, "102").name == "Chen Jie" and customer(runtime, "101").region == "South"
    lines = [{"external_id": "J1", "customer_external_id": "101", "kind": "purchase", "occurred_at": "1997-05-01T10:00:00",
              "amount": 12.5},
             {"external_id": "J2", "customer_external_id": "101", "kind": "call", "subject": "Follow-up"},
             "not an object"]
    jsonl = files("i.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    result = cli("interactions", jsonl)
    assert "4 rows imported: 2 created, 0 updated, 0 unchanged, 2 with errors" in result.stdout
    assert "row 3, _row: Each line must be a JSON object." in result.stderr
    assert "row 4, _row: Not JSON" in result.stderr
    wang = customer(runtime, "101")
    assert wang.stage == "first_purchase"


def test_columns_that_do_not_fit_are_refused_before_any_row(runtime, cli, files):
    before = counts(runtime)
    result = cli("customers", files("bad.csv", "external_id,nmae\nA,B\n"))
    assert result.exit_code == 1
    assert "Unknown column 'nmae'" in result.output and "Missing required column(s): name." in result.output
    assert counts(runtime) == before


def test_contacts_the_first_is_primary_and_is_primary_moves_it(runtime, cli, files):
    cli("customers", files("c.csv", CUSTOMERS))
    result = cli("contacts", files("k.csv", "external_id,customer_external_id,name,email,is_primary\n"
                                           "K1,C1,Han Mei,han@example.com,\n"
                                           "K2,C1,Liu Yang,,true\n"
                                           "K3,C2,Li Lei,not-an-email,\n"
                                           "K4,C2,Li Lei,,\n"))
    assert "4 rows imported: 3 created, 0 updated, 0 unchanged, 1 with errors" in result.stdout
    assert "row 4, email: Not a valid email address." in result.stderr
    with runtime.database.unit_of_work():
        primary = dict(db.session().execute(select(Contact.external_id, Contact.is_primary)).all())
    assert primary == {"K1": False, "K2": True, "K4": True}
    result = cli("contacts", files("k2.csv", "external_id,customer_external_id,name\nK5,C1,Zhou Xun\n"))
    with runtime.database.unit_of_work():
        assert db.session().scalars(select(Contact.is_primary).where(Contact.external_id == "K5")).one() is False


def test_the_cli_help_lists_every_type_and_its_columns(app, runtime):
    result = CliRunner().invoke(build_cli(app), ["import", "--help"])
    assert "customers: Companies and people" in result.stdout and "customer_external_id" in result.stdout
    result = CliRunner().invoke(build_cli(app), ["import", "interactions", "--help"])
    assert "occurred_at" in result.stdout and "--dry-run" in result.stdout and "--mapping" in result.stdout
