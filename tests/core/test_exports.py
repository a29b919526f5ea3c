"""``trellis export`` and ``GET /api/v1/exports/<type>``: a filtered list exported to CSV, XLSX or JSON Lines
imports back unchanged (the round trip), within the caller's scope, streamed in keyset batches
(docs/import-export.md, "Export")."""
from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

from api.cli import build_cli
from core import db
from core.models import AuditEntry, Contact, Customer, Interaction, OutboxEvent
from core.services import contacts, customers, exports, interactions

CUSTOMERS = """external_id,name,kind,region,industry,size,source,stage,notes,tags,owner_email
C1,Acme Trading,company,East,软件,,,repeat,"line one
line two, with a comma",wholesale;vip,rep@example.com
C2,Li Lei,person,East,,,,,=SUM(A1:A2),"a,b;",rep@example.com
C3,Wang Fang,person,West,,,,,,,or@example.com
C4,Zhang Wei,company,East,制造,,,potential,,,or@example.com
C5,Unowned Ltd,company,North,,,,,,,
"""

CONTACTS = """external_id,customer_external_id,name,title,email,birthday,is_primary
K1,C1,Ann Acme,CEO,ann@acme.example,1980-02-29,true
K2,C1,Bob Acme,,bob@acme.example,,false
K3,C3,Fang's assistant,,,,
"""

INTERACTIONS = '''external_id,customer_external_id,kind,occurred_at,amount,status,subject,notes,score,score_scale,due_at
P1,C1,purchase,1997-01-01,10.50,,,,,,
P2,C1,purchase,1997-02-01 10:30:15.250000,20,,first big order,"said ""thanks""",,,
P3,C3,purchase,1997-03-01,5.05,,,,,,
V1,C2,call,2024-05-06T08:00:00+08:00,,,follow-up,,4,csat,
T1,C4,call,,,planned,call back,,,,2031-01-01T09:00:00+00:00
'''


@pytest.fixture
def cli(app, runtime, people):
    def invoke(*args: str, ok: bool = True):
        result = CliRunner().invoke(build_cli(app), list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    return invoke


@pytest.fixture
def world(cli, tmp_path):
    for name, text in (("customers", CUSTOMERS), ("contacts", CONTACTS), ("interactions", INTERACTIONS)):
        path = tmp_path / f"in-{name}.csv"
        path.write_text(text, encoding="utf-8")
        result = cli("import", name, str(path))
        assert "0 with errors" in result.stdout, result.stdout + result.stderr
    return tmp_path


def counts(runtime) -> dict[str, int]:
    with runtime.database.unit_of_work():
        return {m.__tablename__: db.session().scalar(select(func.count()).select_from(m)) for m in
                (Customer, Contact, Interaction, AuditEntry, OutboxEvent)}


def read(path, fmt: str) -> list[dict]:
    """The rows of an exported file, as text keyed by column ("" for blank), whatever its format."""
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    if fmt == "jsonl":
        with open(path, encoding="utf-8") as fh:
            return [{k: "" if v is None else v for k, v in json.loads(line).items()} for line in fh]
    book = load_workbook(path, read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    return [{k: "" if v is None else v for k, v in zip(rows[0], row)} for row in rows[1:]]


FILTERED = [  # type, filters, the external ids the filtered list holds
    ("customers", ["region=East"], {"C1", "C2", "C4"}),
    ("contacts", ["q=acme"], {"K1", "K2"}),
    ("interactions", ["kind=purchase"], {"P1", "P2", "P3"}),
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_a_filtered_list_exported_imports_back_unchanged(runtime, cli, world, fmt):
    before = counts(runtime)
    for record_type, filters, expected in FILTERED:
        out = world / f"{record_type}.{fmt}"
        result = cli("export", record_type, "--output", str(out), *[a for f in filters for a in ("--filter", f)])
        assert f"{record_type}: {len(expected)} rows written to {out} ({fmt})" in result.stderr
        rows = read(out, fmt)
        assert {r["external_id"] for r in rows} == expected   # the filter applied, nothing else
        dry = cli("import", record_type, str(out), "--dry-run")
        assert (f"{len(expected)} rows checked, nothing written: 0 to create, 0 to update, {len(expected)} "
                "unchanged, 0 with errors") in dry.stdout
        real = cli("import", record_type, str(out))
        assert f"0 created, 0 updated, {len(expected)} unchanged, 0 with errors" in real.stdout
    assert counts(runtime) == before   # not a record, an audit entry or an event more


def test_the_exported_columns_and_values_are_the_imports(runtime, cli, world):
    out = world / "customers.csv"
    cli("export", "customers", "-o", str(out))
    with open(out, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == ["external_id", "name", "kind", "industry", "region", "size", "source", "stage", "notes",
                      "tags", "owner_email"]
    rows = {r["external_id"]: r for r in read(out, "csv")}
    assert rows["C1"]["tags"] == "vip;wholesale" and rows["C1"]["owner_email"] == "rep@example.com"
    assert rows["C1"]["notes"] == "line one\nline two, with a comma" and rows["C1"]["stage"] == "repeat"
    assert rows["C2"]["tags"] == "a,b;"   # one tag with a comma: the trailing ; keeps it whole
    assert rows["C2"]["notes"] == "=SUM(A1:A2)" and rows["C5"]["owner_email"] == "admin@example.com"
    cli("export", "interactions", "-o", str(world / "i.jsonl"))
    lines = {r["external_id"]: r for r in map(json.loads, (world / "i.jsonl").read_text().splitlines())}
    assert lines["P2"] == {
        "external_id": "P2", "customer_external_id": "C1", "customer_id": None, "kind": "purchase",
        "occurred_at": "1997-02-01T10:30:15.250000+00:00", "amount": "20.00", "direction": "outbound",
        "status": "done", "subject": "first big order", "notes": 'said "thanks"', "due_at": None,
        "reminder_at": None, "outcome": None, "score": None, "score_scale": None, "contact_id": None,
        "assignee_id": None}
    assert lines["V1"]["occurred_at"] == "2024-05-06T00:00:00+00:00" and lines["V1"]["score"] == 4


def test_an_export_imported_into_an_emptied_database_gives_the_same_export(runtime, cli, world, people):
    """Everything exported, every record deleted, the files imported (creating the records anew): the
    export of what was imported is the first export."""
    first = {}
    for record_type in ("customers", "contacts", "interactions"):
        cli("export", record_type, "-o", str(world / f"{record_type}.jsonl"))
        first[record_type] = sorted(read(world / f"{record_type}.jsonl", "jsonl"), key=lambda r: r["external_id"])
    with runtime.database.unit_of_work():
        admin = people.admin
        for service, model in ((interactions, Interaction), (contacts, Contact), (customers, Customer)):
            for record in db.session().scalars(select(model).where(model.deleted_at.is_(None))).all():
                service.delete(admin, record.id)
    cli("export", "customers", "-o", str(world / "empty.csv"))
    assert read(world / "empty.csv", "csv") == []
    for record_type in ("customers", "contacts", "interactions"):
        result = cli("import", record_type, str(world / f"{record_type}.jsonl"))
        assert f"{len(first[record_type])} created" in result.stdout
    for record_type in ("customers", "contacts", "interactions"):
        cli("export", record_type, "-o", str(world / f"again-{record_type}.jsonl"))
        again = sorted(read(world / f"again-{record_type}.jsonl", "jsonl"), key=lambda r: r["external_id"])
        assert again == first[record_type]


def test_xlsx_is_a_workbook_openpyxl_reads_with_numbers_as_numbers_and_text_never_a_formula(cli, world):
    out = world / "customers.xlsx"
    cli("export", "interactions", "--format", "xlsx", "-o", str(out))
    book = load_workbook(out)   # the full reader too, not only the streaming one
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("external_id", "customer_external_id", "customer_id", "kind")
    p1 = next(r for r in rows if r[0] == "P1")
    assert p1[rows[0].index("amount")] == 10.5
    assert p1[rows[0].index("occurred_at")] == "1997-01-01T00:00:00+00:00"
    cli("export", "customers", "--format", "xlsx", "-o", str(out))
    sheet = load_workbook(out).worksheets[0]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert cells["C2"][8].value == "=SUM(A1:A2)" and cells["C2"][8].data_type == "s"


def test_a_reps_export_holds_only_what_their_list_shows(runtime, cli, world, api):
    out = world / "mine.csv"
    cli("export", "customers", "--as", "rep@example.com", "-o", str(out))
    assert {r["external_id"] for r in read(out, "csv")} == {"C1", "C2"}
    cli("export", "interactions", "--as", "rep@example.com", "-o", str(out))
    assert {r["external_id"] for r in read(out, "csv")} == {"P1", "P2", "V1"}
    listed = api.as_("rep").get("/api/v1/customers?page_size=100").get_json()
    body = api.as_("rep").get("/api/v1/exports/customers?format=jsonl").get_data(as_text=True)
    assert {json.loads(line)["name"] for line in body.splitlines()} == {c["name"] for c in listed} \
        == {"Acme Trading", "Li Lei"}
    manager = api.as_("manager").get("/api/v1/exports/customers").get_data(as_text=True)
    assert {r["external_id"] for r in csv.DictReader(io.StringIO(manager))} == {"C1", "C2"}


def test_rest_streams_the_file_with_its_type_and_name(world, api):
    response = api.get("/api/v1/exports/customers?region=East&stage=repeat")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="customers.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["external_id"] for r in rows] == ["C1"]
    jsonl = api.get("/api/v1/exports/contacts?format=jsonl&q=acme")
    assert jsonl.headers["Content-Type"] == "application/x-ndjson"
    assert jsonl.headers["Content-Disposition"] == 'attachment; filename="contacts.jsonl"'
    assert sorted(json.loads(line)["external_id"] for line in jsonl.get_data(as_text=True).splitlines()) == ["K1", "K2"]
    xlsx = api.get("/api/v1/exports/interactions?format=xlsx&kind=purchase")
    assert xlsx.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(xlsx.get_data()), read_only=True)
    assert sorted(r[0] for r in list(book.worksheets[0].iter_rows(values_only=True))[1:]) == ["P1", "P2", "P3"]


def test_rest_refuses_before_the_first_byte(world, api):
    bad = api.get("/api/v1/exports/customers?stage=nowhere")
    assert bad.status_code == 422 and "stage" in bad.get_json()["errors"]["json"]
    unknown = api.get("/api/v1/exports/customers?colour=red")
    assert unknown.status_code == 422 and "colour" in unknown.get_json()["errors"]["json"]
    fmt = api.get("/api/v1/exports/customers?format=pdf")
    assert fmt.status_code == 422 and "format" in fmt.get_json()["errors"]["json"]
    missing = api.get("/api/v1/exports/widgets")
    assert missing.status_code == 404 and "customers" in missing.get_json()["message"]
    assert api.as_(None).get("/api/v1/exports/customers").status_code == 401
    listed = api.get("/api/v1/exports").get_json()
    names = {t["name"]: t for t in listed}
    assert {"customers", "contacts", "interactions"} <= set(names)
    assert "region" in names["customers"]["filters"] and names["customers"]["columns"][0] == "external_id"
    assert names["customers"]["route"] == "/customers" and names["win_back"]["route"] == "/analytics/win-back"


def test_the_cli_refuses_a_bad_filter_naming_it_and_writes_no_file(cli, world):
    out = world / "x.csv"
    result = cli("export", "customers", "--filter", "stage=nowhere", "-o", str(out), ok=False)
    assert result.exit_code == 1 and "stage:" in result.stderr and not out.exists()
    result = cli("export", "customers", "--filter", "stage", ok=False)
    assert result.exit_code == 2 and "KEY=VALUE" in result.stderr


def test_the_cli_help_lists_the_types_their_columns_and_filters(app, runtime):
    text = CliRunner().invoke(build_cli(app), ["export", "--help"]).output
    for name in ("customers", "contacts", "interactions"):
        assert f"{name}:" in text
    assert "filters: customer_id, deleted, q" in text and "list: GET /api/v1/customers/{customer_id}/history" in text
    one = CliRunner().invoke(build_cli(app), ["export", "interactions", "--help"]).output
    assert "--filter KEY=VALUE" in one and "customer_external_id" in one and "GET /api/v1/interactions" in one


def test_stdout_is_the_default_output(cli, world):
    result = cli("export", "contacts", "--filter", "q=acme")
    assert sorted(r["external_id"] for r in csv.DictReader(io.StringIO(result.stdout))) == ["K1", "K2"]


def test_rows_are_read_in_keyset_batches_as_they_are_taken(runtime, world, people, count_queries):
    """Laziness, counted in statements rather than timed: with batches of 2, taking the first row reads one
    batch; taking them all reads ceil(5 / 2) = 3 (the last one short, so no empty fourth)."""
    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        source = exports.rows(admin, "customers", {}, batch_size=2)
        with count_queries() as counter:
            first = next(source)
        batches_at_first = _customer_batches(counter)
        with count_queries() as counter:
            rest = list(source)
        assert batches_at_first == 1
        assert _customer_batches(counter) == 2
        assert len({first["external_id"], *(r["external_id"] for r in rest)}) == 5


def test_encoding_is_lazy_too(runtime, world, people):
    """The CSV writer asks for rows only as chunks are taken: the first chunk goes out before the source
    is exhausted."""
    from core.exports import encode

    taken = []

    def source():
        for i in range(1000):
            taken.append(i)
            yield {"external_id": f"X{i}", "name": "n"}

    chunks = encode(source(), ["external_id", "name"], "csv")
    assert next(chunks).startswith(b"external_id,name\r\nX0,n\r\n")
    assert len(taken) < 1000


def _customer_batches(counter) -> int:
    return sum(1 for s in counter.statements if "FROM customer" in s and "ORDER BY customer.id" in s and "LIMIT" in s)


@pytest.mark.parametrize("record_type, few, more", [
    ("customers", {"region": "North"}, {}),
    ("contacts", {"q": "fang"}, {}),
    ("interactions", {"kind": "call"}, {}),
])
def test_a_batch_costs_the_same_statements_for_one_row_as_for_all(runtime, world, people, count_queries,
                                                                   record_type, few, more):
    """No statement per row: the references of a batch (customers' external ids, owners' emails, tags) are
    read in one query each, however many rows the batch holds."""
    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        with count_queries() as one:
            assert len(list(exports.rows(admin, record_type, few))) in (1, 2)
        with count_queries() as every:
            assert len(list(exports.rows(admin, record_type, more))) >= 3
        assert every.count == one.count


def test_a_computed_list_exports_the_items_its_function_returns_in_their_order(runtime, people, api, monkeypatch):
    """``Export(computed=True)``: the list is built per request (a ranking scored in Python), so ``query``
    returns its items; they are written in their order, handed to ``views`` and ``rows`` a batch at a time,
    and the function is called before the first byte, so a bad filter is a 422 naming it."""
    from marshmallow import fields, validate

    from core.exports import Export, ListExport
    from core.schemas import StrictSchema
    from core.services import common

    class TopFilter(StrictSchema):
        top = fields.Integer(load_default=3, validate=validate.Range(min=1, max=5))

    def ranking(actor, filters):
        top = common.validate(TopFilter, dict(filters))["top"]
        return [{"rank": rank, "who": actor.email} for rank in range(top, 0, -1)]   # not in any id's order

    batches = []

    def views(actor, items):
        batches.append(len(items))
        return items

    declared = ListExport("test.ranking", "A ranking built per request.", Export(
        ranking, lambda items: [dict(i) for i in items], ("rank", "who"), TopFilter, views=views, computed=True))
    monkeypatch.setitem(runtime.export_types, declared.name, declared)

    response = api.as_("rep").get("/api/v1/exports/test.ranking?format=jsonl&top=4")
    assert response.status_code == 200, response.get_json()
    assert [json.loads(line) for line in response.get_data(as_text=True).splitlines()] == [
        {"rank": rank, "who": "rep@example.com"} for rank in (4, 3, 2, 1)]
    refused = api.get("/api/v1/exports/test.ranking?top=9")
    assert refused.status_code == 422 and "top" in refused.get_json()["errors"]["json"]
    text = api.get("/api/v1/exports/test.ranking?format=csv").get_data(as_text=True).splitlines()
    assert text == ["rank,who", "3,admin@example.com", "2,admin@example.com", "1,admin@example.com"]

    batches.clear()
    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        source = exports.rows(admin, "test.ranking", {"top": 5}, batch_size=2)
        assert next(source)["rank"] == 5 and batches == [2]   # a batch is built when its rows are taken
        assert [r["rank"] for r in source] == [4, 3, 2, 1] and batches == [2, 2, 1]
