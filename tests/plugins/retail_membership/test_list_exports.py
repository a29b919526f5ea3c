"""The purchases, refunds and lapsed regulars export as their REST lists show them: the same records for
the same filters and the same (scoped) user, each row the list item's fields (a nested value as JSON
text), a bad filter a 422 naming it. The two lists under one member, its occasions and its points ledger,
take ``membership_id`` as a required filter; the ledger's ``balance_after`` is the running balance its
REST list shows, batch after batch."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, ledger, sale
from tests.plugins.retail_membership.test_points import run_job


def exported(api, name, query=""):
    response = api.get(f"/api/v1/exports/{name}?format=jsonl&{query}")
    assert response.status_code == 200, response.get_json()
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def assert_exports_the_list(api, name, path, query="", member=None):
    """The export of ``name`` holds the records ``GET path?query`` lists, each row its item's fields; a list
    under ``member`` (in its path) is exported with ``membership_id`` as a filter."""
    response = api.get(f"{BASE}/{path}?{'' if member else 'page_size=100&'}{query}")
    assert response.status_code == 200, response.get_json()
    listed = {item["id"]: item for item in response.get_json()}
    rows = exported(api, name, f"membership_id={member}&{query}" if member else query)
    assert sorted(r["id"] for r in rows) == sorted(listed) and rows
    for row in rows:
        item = listed[row["id"]]
        assert set(row) == set(item)
        assert {k: json.loads(v) if isinstance(item[k], (list, dict)) else v for k, v in row.items()} == item
    return rows


@pytest.fixture
def sales(shop):
    """Two regulars (north and south) flagged as lapsed, a third northern member, a refund each."""
    north = enrol(shop.api, shop.north, name="Regular North")
    south = enrol(shop.api, shop.south, name="Regular South")
    other = enrol(shop.api, shop.north, name="Other North")
    purchases = {}
    for m, code in ((north, "N01"), (south, "S01")):
        for i, days_ago in enumerate((130, 120, 110, 100, 90)):   # every 10 days, then gone for 90
            lines = [{"sku": "TEA", "category": "tea", "quantity": 2, "unit_price": "10.00"},
                     {"sku": "CUP", "category": "ware", "quantity": 1, "unit_price": "10.00"}]
            purchases[(code, i)] = buy(shop.api, sale(f"{code}-{i}", m["card_number"], store_code=code,
                                                       total="30.00", days_ago=days_ago, lines=lines))
    purchases["other"] = buy(shop.api, sale("O-1", other["card_number"], total="12.00", days_ago=1))
    for key in (("N01", 4), ("S01", 4), "other"):
        response = shop.api.post(f"{BASE}/refunds", json={"purchase_id": purchases[key]["id"], "amount": "5.00",
                                                          "pos_refund_id": f"R-{purchases[key]['id'][:8]}"})
        assert response.status_code == 201, response.get_json()
    assert run_job(shop.runtime, "retail_membership.lapsed") == 2
    return {"north": north, "south": south, "other": other}


def test_purchases_refunds_and_lapses_export_as_their_lists_for_a_scoped_user(shop, sales):
    staff = shop.api.as_("staff_north")
    rows = assert_exports_the_list(staff, "retail_membership.purchases", "purchases")
    assert len(rows) == 6   # the northern members' purchases only
    [first] = [r for r in rows if r["pos_transaction_id"] == "N01-0"]
    assert [line["sku"] for line in json.loads(first["lines"])] == ["TEA", "CUP"]
    assert len(assert_exports_the_list(staff, "retail_membership.purchases", "purchases",
                                       f"membership_id={sales['north']['id']}&category=tea")) == 5
    assert len(assert_exports_the_list(shop.api, "retail_membership.purchases", "purchases", "store_id="
                                       + shop.south["id"])) == 5
    assert len(assert_exports_the_list(staff, "retail_membership.refunds", "refunds")) == 2
    assert len(assert_exports_the_list(shop.api, "retail_membership.refunds", "refunds",
                                       f"membership_id={sales['south']['id']}")) == 1
    [lapse] = assert_exports_the_list(staff, "retail_membership.lapses", "lapses", "open=true")
    assert lapse["membership_id"] == sales["north"]["id"]
    assert len(assert_exports_the_list(shop.api, "retail_membership.lapses", "lapses",
                                       f"store_id={shop.south['id']}")) == 1
    assert exported(shop.api.as_("rep"), "retail_membership.purchases") == []


@pytest.mark.parametrize("name, query, field", [("retail_membership.purchases", "category=" + "x" * 61, "category"),
                                                ("retail_membership.purchases", "colour=red", "colour"),
                                                ("retail_membership.refunds", "purchase_id=nope", "purchase_id"),
                                                ("retail_membership.lapses", "open=perhaps", "open")])
def test_a_bad_filter_is_a_422_naming_it(shop, name, query, field):
    response = shop.api.get(f"/api/v1/exports/{name}?{query}")
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"]


def test_the_cli_exports_a_filtered_list_and_the_types_are_listed(shop, sales, cli):
    result = cli("export", "retail_membership.refunds", "--format", "jsonl", "--filter",
                 f"membership_id={sales['other']['id']}")
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["membership_id"] == sales["other"]["id"] and row["amount"] == "5.00"
    types = {t["name"]: t for t in shop.api.get("/api/v1/exports").get_json()}
    assert "category" in types["retail_membership.purchases"]["filters"]
    assert "lines" in types["retail_membership.purchases"]["columns"]
    assert "purchase_id" in types["retail_membership.refunds"]["filters"]
    assert {"open", "store_id"} <= set(types["retail_membership.lapses"]["filters"])


def test_an_export_batch_of_purchases_costs_the_same_statements_for_one_as_for_more(shop, sales, count_queries):
    from core import db
    from core.services import exports

    with shop.runtime.database.unit_of_work():
        admin = db.session().get(type(shop.people.admin), shop.people.admin.id)
        with count_queries() as one:
            assert len(list(exports.rows(admin, "retail_membership.purchases",
                                         {"membership_id": sales["other"]["id"]}))) == 1
        with count_queries() as more:
            assert len(list(exports.rows(admin, "retail_membership.purchases",
                                         {"store_id": shop.north["id"]}))) == 6
    assert one.count == more.count == 2   # the purchases, their lines


# --- the lists under one member ----------------------------------------------------------------------------

@pytest.fixture
def history(shop):
    """A northern member with three occasions and a ledger written out of date order (a sale back-dated
    before earlier-written ones, a redemption, an adjustment), so the running balance the ledger shows
    differs from the one stored when each entry was written; a southern member with one occasion and one sale."""
    north = enrol(shop.api, shop.north, name="Olga North", occasions=[
        {"kind": "child_birthday", "name": "Bea", "date": "2015-11-03"},
        {"kind": "anniversary", "name": "Cal", "date": "2001-02-20"},
        {"kind": "child_birthday", "name": "Ann", "date": "2019-07-09"}])
    for pos, total, days_ago in (("H-1", "200.00", 2), ("H-2", "50.00", 9), ("H-3", "120.00", 5)):
        buy(shop.api, sale(pos, north["card_number"], total=total, days_ago=days_ago))
    for path, body in (("redemptions", {"points": 30, "reason": "a scarf"}),
                       ("adjustments", {"points": 7, "reason": "goodwill"})):
        response = shop.api.post(f"{BASE}/memberships/{north['id']}/{path}", json=body)
        assert response.status_code == 201, response.get_json()
    south = enrol(shop.api, shop.south, name="Sam South", occasions=[
        {"kind": "anniversary", "name": "Dee", "date": "2010-05-01"}])
    buy(shop.api, sale("H-S", south["card_number"], store_code="S01", total="80.00", days_ago=1))
    return {"north": north, "south": south}


def test_a_members_occasions_and_ledger_export_as_their_lists_for_the_stores_staff(shop, history):
    north, south = history["north"]["id"], history["south"]["id"]
    staff = shop.api.as_("staff_north")
    occasions = assert_exports_the_list(staff, "retail_membership.occasions", f"memberships/{north}/occasions",
                                        member=north)
    assert sorted(o["name"] for o in occasions) == ["Ann", "Bea", "Cal"]
    entries = assert_exports_the_list(staff, "retail_membership.ledger", f"memberships/{north}/ledger", member=north)
    assert len(entries) == 5 and {e["kind"] for e in entries} >= {"earn", "redeem", "adjust"}
    assert len(assert_exports_the_list(shop.api, "retail_membership.ledger", f"memberships/{south}/ledger",
                                       member=south)) == 1
    [dee] = assert_exports_the_list(shop.api.as_("staff_south"), "retail_membership.occasions",
                                    f"memberships/{south}/occasions", member=south)
    assert dee["name"] == "Dee" and dee["month"] == 5 and dee["year"] == 2010


def test_the_ledgers_running_balance_is_the_lists_across_batches(shop, history):
    from sqlalchemy import select

    from core import db
    from core.services import exports
    from plugins.retail_membership.models import RetailPointsEntry

    north = history["north"]["id"]
    listed = {e["id"]: e["balance_after"] for e in ledger(shop.api, north)}
    with shop.runtime.database.unit_of_work():
        stored = dict(db.session().execute(select(RetailPointsEntry.id, RetailPointsEntry.balance_after).where(
            RetailPointsEntry.membership_id == uuid.UUID(north))).all())
        staff = db.session().get(type(shop.staff_north), shop.staff_north.id)
        rows = list(exports.rows(staff, "retail_membership.ledger", {"membership_id": north}, batch_size=2))
    assert {r["id"]: r["balance_after"] for r in rows} == listed and len(rows) == 5   # three batches
    assert any(stored[uuid.UUID(i)] != b for i, b in listed.items())   # the back-dated sale moved the running balance
    with shop.runtime.database.unit_of_work():   # exporting wrote nothing back to the append-only ledger
        assert dict(db.session().execute(select(RetailPointsEntry.id, RetailPointsEntry.balance_after).where(
            RetailPointsEntry.membership_id == uuid.UUID(north))).all()) == stored


@pytest.mark.parametrize("name", ["retail_membership.occasions", "retail_membership.ledger"])
@pytest.mark.parametrize("query", ["", f"membership_id={uuid.uuid4()}", "membership_id=nope", "membership_id={south}"])
def test_a_missing_or_unseen_member_is_a_422_naming_membership_id(shop, history, name, query):
    staff = shop.api.as_("staff_north")
    response = staff.get(f"/api/v1/exports/{name}?{query.format(south=history['south']['id'])}")
    assert response.status_code == 422 and "membership_id" in response.get_json()["errors"]["json"], \
        response.get_json()


def test_the_cli_exports_a_members_ledger_and_both_types_are_listed(shop, history, cli):
    north = history["north"]["id"]
    result = cli("export", "retail_membership.ledger", "--format", "jsonl", "--filter", f"membership_id={north}")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["id"]: r["balance_after"] for r in rows} == {e["id"]: e["balance_after"] for e in ledger(shop.api, north)}
    types = {t["name"]: t for t in shop.api.get("/api/v1/exports").get_json()}
    assert types["retail_membership.ledger"]["filters"] == ["membership_id"]
    assert types["retail_membership.occasions"]["filters"] == ["membership_id"]
    assert "balance_after" in types["retail_membership.ledger"]["columns"]
    assert "month" in types["retail_membership.occasions"]["columns"]


@pytest.mark.parametrize("name, expected", [("retail_membership.occasions", 2), ("retail_membership.ledger", 3)])
def test_an_export_batch_under_one_member_costs_the_same_statements_for_one_as_for_more(shop, history, count_queries,
                                                                                        name, expected):
    from core import db
    from core.services import exports

    one_entry = enrol(shop.api, shop.north, name="Una One", occasions=[
        {"kind": "anniversary", "name": "Eve", "date": "2012-03-04"}])
    buy(shop.api, sale("U-1", one_entry["card_number"], total="10.00"))
    with shop.runtime.database.unit_of_work():
        admin = db.session().get(type(shop.people.admin), shop.people.admin.id)
        with count_queries() as one:
            assert len(list(exports.rows(admin, name, {"membership_id": one_entry["id"]}))) == 1
        with count_queries() as more:
            assert len(list(exports.rows(admin, name, {"membership_id": history["north"]["id"]}))) >= 3
    assert one.count == more.count == expected   # the member; the records; (ledger) their running balances
