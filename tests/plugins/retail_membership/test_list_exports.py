"""The purchases, refunds and lapsed regulars export as their REST lists show them: the same records for
the same filters and the same (scoped) user, each row the list item's fields (a nested value as JSON
text), a bad filter a 422 naming it."""
from __future__ import annotations

import json

import pytest

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, sale
from tests.plugins.retail_membership.test_points import run_job


def exported(api, name, query=""):
    response = api.get(f"/api/v1/exports/{name}?format=jsonl&{query}")
    assert response.status_code == 200, response.get_json()
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def assert_exports_the_list(api, name, path, query=""):
    """The export of ``name`` holds the records ``GET path?query`` lists, each row its item's fields."""
    listed = {item["id"]: item for item in api.get(f"{BASE}/{path}?page_size=100&{query}").get_json()}
    rows = exported(api, name, query)
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
