"""A campaign's members, a member's tier changes and a store's staff export as their REST lists show them:
the same rows for the same (scoped) user, each the list item's fields. Each takes its record as a required
filter named as its path's parameter (``campaign_id``, ``membership_id``, ``store_id``): missing, or one the
caller may not see, is a 422 naming it. A member's purchases are the purchases export with
``membership_id``."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, sale


def exported(api, name, query=""):
    response = api.get(f"/api/v1/exports/{name}?format=jsonl&{query}")
    assert response.status_code == 200, response.get_json()
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def listed(api, path):
    response = api.get(f"{BASE}/{path}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def key(row):
    return json.dumps(row, sort_keys=True)


def assert_exports_the_list(api, name, path, query):
    """The export of ``name`` with ``query`` holds the rows ``GET path`` lists (items without an id: compared
    whole, in any order)."""
    rows = exported(api, name, query)
    assert sorted(rows, key=key) == sorted(listed(api, path), key=key) and rows
    return rows


@pytest.fixture
def records(shop):
    """Three northern members and two southern ones in a launched campaign; a northern member placed in gold
    by hand and released; a second member of the north store's staff."""
    from core.services import users
    from plugins.retail_membership import services

    north = [enrol(shop.api, shop.north, name=f"North {i}") for i in range(3)]
    south = [enrol(shop.api, shop.south, name=f"South {i}") for i in range(2)]
    made = shop.api.as_("manager").post(f"{BASE}/campaigns", json={
        "name": "Scarves", "offer_kind": "coupon", "offer_value": "20.00", "goal_category": "scarf", "goal_days": 30,
        "control_share": "0.4", "segment": {"store_ids": [shop.north["id"], shop.south["id"]]}})
    assert made.status_code == 201, made.get_json()
    launched = shop.api.as_("manager").post(f"{BASE}/campaigns/{made.get_json()['id']}/launch")
    assert launched.status_code == 200, launched.get_json()
    vip = north[0]["id"]
    placed = shop.api.as_("manager").post(f"{BASE}/memberships/{vip}/tier", json={"tier": "gold", "reason": "VIP"})
    assert placed.status_code == 200, placed.get_json()
    assert shop.api.as_("manager").delete(f"{BASE}/memberships/{vip}/tier").status_code == 200
    with shop.runtime.database.unit_of_work():
        second = users.create_user(shop.people.admin, {"email": "nora@shop.example", "name": "Nora North",
                                                       "role": "store_staff"})
        services.assign_staff(shop.people.admin, shop.north["id"], {"user_id": str(second.id)})
    return {"campaign": made.get_json()["id"], "north": north, "south": south, "vip": vip}


def test_a_campaigns_members_export_as_its_list_for_the_manager_and_the_stores_staff(shop, records):
    campaign = records["campaign"]
    path, query = f"campaigns/{campaign}/members?page_size=100", f"campaign_id={campaign}"
    every = assert_exports_the_list(shop.api.as_("manager"), "retail_membership.campaign_members", path, query)
    assert len(every) == 5 and {r["group"] for r in every} == {"treated", "control"}
    north = assert_exports_the_list(shop.api.as_("staff_north"), "retail_membership.campaign_members", path, query)
    assert {r["membership_id"] for r in north} == {m["id"] for m in records["north"]}   # their store's members only


def test_a_members_tier_changes_export_as_its_list(shop, records):
    vip = records["vip"]
    rows = assert_exports_the_list(shop.api.as_("staff_north"), "retail_membership.tier_history",
                                   f"memberships/{vip}/tier-history", f"membership_id={vip}")
    assert sorted((r["from_state"], r["to_state"]) for r in rows) == [("gold", "member"), ("member", "gold")]


def test_a_stores_staff_export_as_its_list(shop, records):
    north = shop.north["id"]
    rows = assert_exports_the_list(shop.api, "retail_membership.store_staff", f"stores/{north}/staff",
                                   f"store_id={north}")
    assert sorted(r["email"] for r in rows) == ["nina@shop.example", "nora@shop.example"]
    assert set(rows[0]) == {"user_id", "store_id", "email", "name"}


def test_a_members_purchases_are_the_purchases_export_with_membership_id(shop, records):
    member = records["north"][1]
    for i in range(3):
        buy(shop.api, sale(f"P-{i}", member["card_number"], total="15.00", days_ago=i + 1))
    buy(shop.api, sale("P-other", records["north"][2]["card_number"], total="15.00"))
    staff = shop.api.as_("staff_north")
    items = {p["id"]: p for p in listed(staff, f"memberships/{member['id']}/purchases?page_size=100")}
    rows = exported(staff, "retail_membership.purchases", f"membership_id={member['id']}")
    assert len(rows) == 3 and sorted(r["id"] for r in rows) == sorted(items)
    assert all({k: json.loads(v) if isinstance(items[r["id"]][k], list) else v for k, v in r.items()}
               == items[r["id"]] for r in rows)


@pytest.mark.parametrize("name, field", [("retail_membership.campaign_members", "campaign_id"),
                                         ("retail_membership.tier_history", "membership_id"),
                                         ("retail_membership.store_staff", "store_id")])
@pytest.mark.parametrize("value", [None, "nope", str(uuid.uuid4()), "unseen"])
def test_a_missing_bad_or_unseen_record_is_a_422_naming_its_filter(shop, records, name, field, value):
    if value == "unseen":   # a southern member for the north store's staff; a deleted store or campaign
        if field == "membership_id":
            value = records["south"][0]["id"]
        else:
            path = "stores" if field == "store_id" else "campaigns"
            gone = shop.api.post(f"{BASE}/stores", json={"code": "X01", "name": "Closed", "kind": "other"}).get_json() \
                if field == "store_id" else shop.api.as_("manager").post(f"{BASE}/campaigns", json={
                    "name": "Draft", "offer_kind": "sample", "goal_category": "x", "goal_days": 5}).get_json()
            assert shop.api.delete(f"{BASE}/{path}/{gone['id']}").status_code == 204
            value = gone["id"]
    query = "" if value is None else f"{field}={value}"
    response = shop.api.as_("staff_north").get(f"/api/v1/exports/{name}?{query}")
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"], response.get_json()


def test_the_cli_exports_a_stores_staff_and_the_types_are_listed(shop, records, cli):
    result = cli("export", "retail_membership.store_staff", "--format", "jsonl", "--filter",
                 f"store_id={shop.south['id']}")
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (row["email"], row["name"]) == ("sam@shop.example", "Sam South")
    types = {t["name"]: t for t in shop.api.get("/api/v1/exports").get_json()}
    assert types["retail_membership.campaign_members"]["filters"] == ["campaign_id"]
    assert types["retail_membership.tier_history"]["filters"] == ["membership_id"]
    assert types["retail_membership.store_staff"]["filters"] == ["store_id"]
    assert "coupon_code" in types["retail_membership.campaign_members"]["columns"]


@pytest.mark.parametrize("name, expected", [
    ("retail_membership.campaign_members", 2),   # the campaign; the members (their visibility a subquery)
    ("retail_membership.tier_history", 2),       # the member; the changes
    ("retail_membership.store_staff", 3),        # the store; the staff; their users
])
def test_an_export_batch_under_one_record_costs_the_same_statements_for_one_as_for_more(shop, records, count_queries,
                                                                                        name, expected):
    from core import db
    from core.services import exports

    if name == "retail_membership.campaign_members":
        store = shop.api.post(f"{BASE}/stores", json={"code": "L01", "name": "Lone", "kind": "other"}).get_json()
        enrol(shop.api, store, name="Lone Member")
        made = shop.api.as_("manager").post(f"{BASE}/campaigns", json={
            "name": "One", "offer_kind": "sample", "goal_category": "x", "goal_days": 5,
            "segment": {"store_ids": [store["id"]]}}).get_json()
        assert shop.api.as_("manager").post(f"{BASE}/campaigns/{made['id']}/launch").status_code == 200
        one, more = {"campaign_id": made["id"]}, {"campaign_id": records["campaign"]}
    elif name == "retail_membership.tier_history":
        other = records["north"][1]["id"]
        assert shop.api.as_("manager").post(f"{BASE}/memberships/{other}/tier",
                                            json={"tier": "silver", "reason": "x"}).status_code == 200
        one, more = {"membership_id": other}, {"membership_id": records["vip"]}
    else:
        one, more = {"store_id": shop.south["id"]}, {"store_id": shop.north["id"]}
    with shop.runtime.database.unit_of_work():
        admin = db.session().get(type(shop.people.admin), shop.people.admin.id)
        with count_queries() as few:
            assert len(list(exports.rows(admin, name, one))) == 1
        with count_queries() as many:
            assert len(list(exports.rows(admin, name, more))) >= 2
    assert few.count == many.count == expected


# --- the tiers and the holiday calendar: built per request (Export.computed) ----------------------------

def assert_exports_the_items(api, name, path, query=""):
    """The export of ``name`` with ``query`` is what ``GET path?query`` lists, row for item, in its order (a
    nested value, the holiday's label, is JSON text in the row)."""
    items = listed(api, f"{path}?{query}")
    rows = exported(api, name, query)
    assert len(rows) == len(items) and rows
    for row, item in zip(rows, items):
        assert set(row) == set(item)
        assert {k: json.loads(v) if isinstance(item[k], dict) else v for k, v in row.items()} == item
    return rows


def test_the_tiers_export_as_their_list_lowest_first(shop):
    for who in ("admin", "staff_north"):
        rows = assert_exports_the_items(shop.api.as_(who), "retail_membership.tiers", "tiers")
        assert [r["code"] for r in rows][:3] == ["member", "silver", "gold"]
        assert all(isinstance(r["threshold"], str) and isinstance(r["discount"], str) for r in rows)
    text = shop.api.get("/api/v1/exports/retail_membership.tiers?format=csv").get_data(as_text=True).splitlines()
    assert text[0] == "code,en,zh_cn,threshold,discount,multiplier"


def test_the_holiday_calendar_exports_as_its_list_for_the_same_range(shop):
    rows = assert_exports_the_items(shop.api.as_("staff_north"), "retail_membership.holidays", "holidays",
                                    "from=2026-12-01&to=2027-10-31")
    assert [r["key"] for r in rows][:4] == ["new_year", "laba", "spring_festival_eve", "spring_festival"]
    spring = next(r for r in rows if r["key"] == "spring_festival")
    assert (spring["date"], json.loads(spring["label"])["zh_cn"]) == ("2027-02-06", "春节")
    [national] = assert_exports_the_items(shop.api, "retail_membership.holidays", "holidays",
                                          "from=2026-10-01&to=2026-10-02")
    assert national["key"] == "national_day"
    assert assert_exports_the_items(shop.api, "retail_membership.holidays", "holidays")   # today, a year on


@pytest.mark.parametrize("name, query, field", [
    ("retail_membership.tiers", "colour=red", "colour"),
    ("retail_membership.holidays", "from=2027-01-01&to=2026-01-01", "to"),
    ("retail_membership.holidays", "from=2026-01-01&to=2030-01-01", "to"),   # more than three years
    ("retail_membership.holidays", "to=2000-01-01", "to"),                   # before today, the default from
    ("retail_membership.holidays", "from=soon", "from"),
    ("retail_membership.holidays", "colour=red", "colour"),
])
def test_a_bad_filter_of_the_tiers_or_the_holidays_is_a_422_naming_it_as_the_list_does(shop, name, query, field):
    path = name.split(".")[1]
    listed_ = shop.api.get(f"{BASE}/{path}?{query}")
    response = shop.api.get(f"/api/v1/exports/{name}?{query}")
    assert listed_.status_code == response.status_code == 422
    assert field in response.get_json()["errors"]["json"], response.get_json()


def test_the_cli_exports_the_holidays_and_the_types_are_listed(shop, cli):
    result = cli("export", "retail_membership.holidays", "--format", "jsonl", "--filter", "from=2026-09-01",
                 "--filter", "to=2026-10-31")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["key"] for line in result.stdout.splitlines()] == [
        "mid_autumn", "national_day", "double_ninth"]
    types = {t["name"]: t for t in shop.api.get("/api/v1/exports").get_json()}
    assert types["retail_membership.holidays"]["filters"] == ["from", "to"]   # as the list's query names them
    assert types["retail_membership.tiers"]["filters"] == []
    assert types["retail_membership.tiers"]["route"] == "/retail-membership/tiers"
    assert "--filter" in cli("export", "retail_membership.holidays", "--help").output
