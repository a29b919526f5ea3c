"""At the till (issue #19): a member found by phone or card with everything the clerk needs, the till
pricing a sale (tier discount, coupon), coupons checked and used once, the points liability in money."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, ledger, member, sale

LOOKUP = f"{BASE}/memberships/lookup"


def launch_coupon(api, *, value="10", name="10 off", days_ago=None, goal_days=30, **segment):
    """A coupon campaign given to every member (no control group); the coupon codes by membership id."""
    body = {"name": name, "offer_kind": "coupon", "offer_value": value, "control_share": "0",
            "goal_days": goal_days, "offer_description": f"{value} off any purchase", "segment": segment}
    created = api.as_("manager").post(f"{BASE}/campaigns", json=body)
    assert created.status_code == 201, created.get_json()
    launch = {} if days_ago is None else {"at": (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat()}
    launched = api.as_("manager").post(f"{BASE}/campaigns/{created.get_json()['id']}/launch", json=launch)
    assert launched.status_code == 200, launched.get_json()
    rows = api.get(f"{BASE}/campaigns/{created.get_json()['id']}/members?page_size=100").get_json()
    return created.get_json(), {r["membership_id"]: r["coupon_code"] for r in rows}


def counts(shop, membership_id):
    """What a refused sale must not have written: purchases, ledger entries, coupons used."""
    from core import db
    from plugins.retail_membership.models import RetailCampaignMember, RetailPointsEntry, RetailPurchase

    membership_id = uuid.UUID(membership_id)
    with shop.runtime.database.unit_of_work():
        sess = db.session()
        return (sess.scalar(select(func.count()).select_from(RetailPurchase)
                            .where(RetailPurchase.membership_id == membership_id)),
                sess.scalar(select(func.count()).select_from(RetailPointsEntry)
                            .where(RetailPointsEntry.membership_id == membership_id)),
                sess.scalar(select(func.count()).select_from(RetailCampaignMember)
                            .where(RetailCampaignMember.membership_id == membership_id,
                                   RetailCampaignMember.coupon_redeemed_at.is_not(None))))


# --- finding the member ------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["13800138000", "+86 138-0013-8000", "0086 138 0013 8000", "138-0013-8000",
                                   "8613800138000", " +86 13800138000 "])
def test_the_till_finds_a_member_by_phone_however_it_is_typed(shop, typed):
    m = enrol(shop.api, shop.north, name="Han Meimei", phone="+86 138 0013 8000")
    response = shop.api.get(LOOKUP, query_string={"phone": typed})
    assert response.status_code == 200, response.get_json()
    found = response.get_json()
    assert found["membership"]["id"] == m["id"] and found["membership"]["name"] == "Han Meimei"
    assert found["membership"]["phone"] == "+86 138 0013 8000"


def test_the_till_finds_a_member_by_card_with_what_the_clerk_needs(shop):
    m = enrol(shop.api, shop.north, name="Li Lei", card_number="CARD-7777", phone="13900139000")
    buy(shop.api, sale("T1", m["card_number"], total="2500.00"))  # silver, 2500 points
    campaign, codes = launch_coupon(shop.api, value="20")
    found = shop.api.as_("staff_north").get(LOOKUP, query_string={"card": "CARD-7777"}).get_json()
    assert found["membership"]["card_number"] == "CARD-7777" and found["membership"]["name"] == "Li Lei"
    assert found["tier"]["code"] == "silver" and found["tier"]["discount"] == "0.03"
    assert found["tier"]["zh_cn"] == "银卡会员"
    assert found["points_balance"] == 2500 and found["points_value"] == "25.00" and found["point_value"] == "0.01"
    assert found["coupons"] == [{"code": codes[m["id"]], "campaign_id": campaign["id"], "campaign_name": "10 off",
                                 "value": "20.00", "description": "20 off any purchase",
                                 "expires_at": found["campaigns"][0]["ends_at"]}]
    assert [(c["campaign_id"], c["offer_kind"], c["coupon_code"], c["coupon_used"]) for c in found["campaigns"]] == [
        (campaign["id"], "coupon", codes[m["id"]], False)]
    # a card number is matched exactly
    assert shop.api.get(LOOKUP, query_string={"card": "card-7777"}).status_code == 404


def test_a_lookup_without_a_match_is_404_and_a_bad_question_422_naming_the_field(shop):
    enrol(shop.api, shop.north, phone="13800138000", card_number="CARD-0001")
    assert shop.api.get(LOOKUP, query_string={"phone": "13800138001"}).status_code == 404
    assert shop.api.get(LOOKUP, query_string={"card": "CARD-0002"}).status_code == 404
    neither = shop.api.get(LOOKUP)
    assert neither.status_code == 422 and "phone" in neither.get_json()["errors"]["query"]
    both = shop.api.get(LOOKUP, query_string={"phone": "13800138000", "card": "CARD-0001"})
    assert both.status_code == 422 and "card" in both.get_json()["errors"]["query"]
    not_a_number = shop.api.get(LOOKUP, query_string={"phone": "12-3"})
    assert not_a_number.status_code == 422 and "phone" in not_a_number.get_json()["errors"]["json"]
    # scoped like every read of a member: another store's clerk does not find them, nor does anyone signed out
    assert shop.api.as_("staff_south").get(LOOKUP, query_string={"phone": "13800138000"}).status_code == 404
    assert shop.api.as_("staff_north").get(LOOKUP, query_string={"phone": "13800138000"}).status_code == 200
    assert shop.api.as_(None).get(LOOKUP, query_string={"phone": "13800138000"}).status_code == 401


def test_a_phone_finds_one_member(shop):
    enrol(shop.api, shop.north, phone="13800138000")
    taken = shop.api.post(f"{BASE}/memberships", json={"customer": {"name": "Copy"}, "phone": "+86 138-0013-8000",
                                                      "home_store_id": shop.north["id"]})
    assert taken.status_code == 409 and "phone" in taken.get_json()["errors"]["json"]
    bad = shop.api.post(f"{BASE}/memberships", json={"customer": {"name": "Bad"}, "phone": "n/a",
                                                    "home_store_id": shop.north["id"]})
    assert bad.status_code == 422 and "phone" in bad.get_json()["errors"]["json"]
    other = enrol(shop.api, shop.north, name="Other")
    clash = shop.api.patch(f"{BASE}/memberships/{other['id']}", json={"phone": "0086 13800138000", "version": other["version"]})
    assert clash.status_code == 409 and "phone" in clash.get_json()["errors"]["json"]
    moved = shop.api.patch(f"{BASE}/memberships/{other['id']}", json={"phone": "139 0013 9000", "version": other["version"]})
    assert moved.status_code == 200 and moved.get_json()["phone"] == "139 0013 9000"
    assert shop.api.get(LOOKUP, query_string={"phone": "13900139000"}).get_json()["membership"]["id"] == other["id"]


def test_the_clerk_sees_usable_coupons_and_running_campaigns_only(shop):
    m = enrol(shop.api, shop.north, phone="13800138000")
    used, used_codes = launch_coupon(shop.api, name="used")
    buy(shop.api, sale("U1", m["card_number"], total="100.00", coupon_code=used_codes[m["id"]]))
    launch_coupon(shop.api, name="expired", days_ago=40, goal_days=30)
    closed, _ = launch_coupon(shop.api, name="closed")
    assert shop.api.as_("manager").post(f"{BASE}/campaigns/{closed['id']}/close").status_code == 200
    live, live_codes = launch_coupon(shop.api, name="live", value="5")
    found = shop.api.get(LOOKUP, query_string={"phone": "13800138000"}).get_json()
    assert [c["code"] for c in found["coupons"]] == [live_codes[m["id"]]]
    assert [(c["name"], c["coupon_used"]) for c in found["campaigns"]] == [("used", True), ("live", False)]
    # the control group never hears of the offer (a segment of one member, a control share of 0.9)
    control = shop.api.as_("manager").post(f"{BASE}/campaigns", json={
        "name": "control", "offer_kind": "sample", "control_share": "0.9",
        "segment": {"store_ids": [shop.south["id"]]}}).get_json()
    lone = enrol(shop.api, shop.south, phone="13700137000")
    shop.api.as_("manager").post(f"{BASE}/campaigns/{control['id']}/launch")
    groups = {r["membership_id"]: r["group"] for r in
              shop.api.get(f"{BASE}/campaigns/{control['id']}/members").get_json()}
    assert groups == {lone["id"]: "control"}
    assert shop.api.get(LOOKUP, query_string={"phone": "13700137000"}).get_json()["campaigns"] == []


def test_the_lookup_costs_the_same_statements_however_many_campaigns(shop, count_queries):
    m = enrol(shop.api, shop.north, phone="13800138000")
    buy(shop.api, sale("T1", m["card_number"], total="300.00"))
    launch_coupon(shop.api, name="first")
    shop.api.as_("staff_north").get(LOOKUP, query_string={"phone": "13800138000"})  # warm-up: caches, the token
    with count_queries() as one:
        found = shop.api.as_("staff_north").get(LOOKUP, query_string={"phone": "13800138000"}).get_json()
    assert len(found["campaigns"]) == 1
    for i in range(5):
        launch_coupon(shop.api, name=f"more {i}")
    with count_queries() as six:
        found = shop.api.as_("staff_north").get(LOOKUP, query_string={"phone": "13800138000"}).get_json()
    assert len(found["campaigns"]) == 6 and len(found["coupons"]) == 6
    assert one.count == six.count == 5, "\n".join(s[:150] for s in six.statements)


# --- the till prices the sale ------------------------------------------------------------------------

def test_a_sale_without_a_total_gets_the_members_tier_discount(shop):
    m = enrol(shop.api, shop.north)
    old = buy(shop.api, sale("T1", m["card_number"], total="2500.00"))  # the POS priced it: as before
    assert old["tier_discount"] is None and old["coupon_discount"] is None and old["discount"] == "0.00"
    body = sale("T2", m["card_number"], lines=[{"sku": "JKT", "category": "jackets", "quantity": 2,
                                                "unit_price": "99.90"}])
    del body["total"]
    p = buy(shop.api, body)
    # silver: 3% of 199.80 is 5.994, 5.99 off; points at 1.2 per yuan of what was paid: ⌊193.81 × 1.2⌋
    assert (p["subtotal"], p["tier_discount"], p["coupon_discount"], p["discount"], p["total"]) == (
        "199.80", "5.99", None, "5.99", "193.81")
    assert p["points_earned"] == 232 and p["tier_at_purchase"] == "silver"
    assert member(shop.api, m["id"])["spend_total"] == "2693.81"
    # a retry of the same sale is the same purchase; the same id with other lines a 409
    assert buy(shop.api, body, status=200)["id"] == p["id"]
    other = {**body, "lines": [{"sku": "JKT", "category": "jackets", "quantity": 1, "unit_price": "99.90"}]}
    assert shop.api.post(f"{BASE}/purchases", json=other).status_code == 409
    # a discount of its own needs the POS's total
    mixed = {**sale("T3", m["card_number"]), "discount": "1.00"}
    del mixed["total"]
    refused = shop.api.post(f"{BASE}/purchases", json=mixed)
    assert refused.status_code == 422 and "discount" in refused.get_json()["errors"]["json"]


def test_a_coupon_is_taken_off_once_and_the_use_is_audited(shop):
    from core import db
    from core.models import AuditEntry

    m = enrol(shop.api, shop.north)
    _, codes = launch_coupon(shop.api, value="10")
    body = sale("C1", m["card_number"], lines=[{"sku": "A", "category": "c", "quantity": 1, "unit_price": "100.00"}],
                coupon_code=codes[m["id"]])
    del body["total"]
    p = buy(shop.api, body)
    assert (p["subtotal"], p["tier_discount"], p["coupon_discount"], p["total"], p["points_earned"],
            p["coupon_code"]) == ("100.00", "0.00", "10.00", "90.00", 90, codes[m["id"]])
    assert shop.api.get(f"{BASE}/purchases/{p['id']}").get_json()["coupon_discount"] == "10.00"
    with shop.runtime.database.unit_of_work():
        actions = db.session().scalars(select(AuditEntry.action).where(
            AuditEntry.record_type == "retail_membership_campaign_member")).all()
    assert actions == ["retail_membership_campaign_member.updated"]
    # a second use is refused, naming the coupon, and writes nothing
    before = counts(shop, m["id"])
    again = {**body, "pos_transaction_id": "C2"}
    refused = shop.api.post(f"{BASE}/purchases", json=again)
    assert refused.status_code == 422 and refused.get_json()["errors"]["json"]["coupon_code"] == [
        "This coupon was already used."]
    assert counts(shop, m["id"]) == before
    # nor can the coupon be used outside a sale, nor by another member
    assert shop.api.post(f"{BASE}/coupons/{codes[m['id']]}/redeem").status_code == 409
    stranger = enrol(shop.api, shop.north, name="Stranger")
    theirs = {**body, "pos_transaction_id": "C3", "card_number": stranger["card_number"]}
    assert shop.api.post(f"{BASE}/purchases", json=theirs).status_code == 422


def test_a_coupon_worth_more_than_the_sale_takes_what_is_left(shop):
    m = enrol(shop.api, shop.north)
    _, codes = launch_coupon(shop.api, value="50")
    body = sale("C1", m["card_number"], total="30.00", coupon_code=codes[m["id"]])
    del body["total"]
    p = buy(shop.api, body)
    assert (p["coupon_discount"], p["total"], p["points_earned"]) == ("30.00", "0.00", 0)


@pytest.mark.unaudited_writes("a coupon worth 0.00 exists only in data from before the rule: written here")
def test_a_coupon_worth_nothing_is_refused_and_nothing_is_written(shop):
    from core import db
    from plugins.retail_membership.models import RetailCampaign

    # no campaign can hand out a coupon worth 0.00 any more
    free = shop.api.as_("manager").post(f"{BASE}/campaigns", json={"name": "free", "offer_kind": "coupon",
                                                                   "offer_value": "0"})
    assert free.status_code == 422 and "offer_value" in free.get_json()["errors"]["json"]
    m = enrol(shop.api, shop.north)
    campaign, codes = launch_coupon(shop.api, value="10")
    with shop.runtime.database.unit_of_work():  # … but one may be stored from before the rule
        db.session().get(RetailCampaign, uuid.UUID(campaign["id"])).offer_value = 0
    before = counts(shop, m["id"])
    for priced_by_pos in (False, True):
        body = sale("Z1", m["card_number"], total="100.00", coupon_code=codes[m["id"]])
        if not priced_by_pos:
            del body["total"]
        refused = shop.api.post(f"{BASE}/purchases", json=body)
        assert refused.status_code == 422, refused.get_json()
        assert "0.00" in refused.get_json()["errors"]["json"]["coupon_code"][0]
    assert counts(shop, m["id"]) == before == (0, 0, 0)
    redeemed = shop.api.post(f"{BASE}/coupons/{codes[m['id']]}/redeem")
    assert redeemed.status_code == 422 and "code" in redeemed.get_json()["errors"]["json"]
    assert shop.api.get(LOOKUP, query_string={"card": m["card_number"]}).get_json()["coupons"] == []


def test_an_expired_coupon_is_refused(shop):
    m = enrol(shop.api, shop.north)
    _, codes = launch_coupon(shop.api, value="10", days_ago=40, goal_days=30)
    body = sale("E1", m["card_number"], total="100.00", coupon_code=codes[m["id"]])
    del body["total"]
    refused = shop.api.post(f"{BASE}/purchases", json=body)
    assert refused.status_code == 422 and refused.get_json()["errors"]["json"]["coupon_code"][0].startswith(
        "This coupon expired on ")
    assert counts(shop, m["id"]) == (0, 0, 0)
    # a sale made while it was good, uploaded late, may still use it
    late = sale("E2", m["card_number"], total="100.00", days_ago=15, coupon_code=codes[m["id"]])
    del late["total"]
    assert buy(shop.api, late)["coupon_discount"] == "10.00"


# --- the liability in money --------------------------------------------------------------------------

def test_the_points_liability_is_given_in_money_too(shop):
    from dataclasses import replace
    from decimal import Decimal

    from plugins.retail_membership import program

    a = enrol(shop.api, shop.north)
    b = enrol(shop.api, shop.south, name="B")
    buy(shop.api, sale("L1", a["card_number"], total="250.00"))
    buy(shop.api, sale("L2", b["card_number"], total="1234.00", store_code="S01"))
    assert [e["points"] for e in ledger(shop.api, a["id"])] == [250]
    balance = shop.api.get(f"{BASE}/memberships/{a['id']}/balance").get_json()
    assert (balance["balance"], balance["value"], balance["point_value"]) == (250, "2.50", "0.01")
    row = shop.api.get("/api/v1/metrics/retail_membership_points_outstanding").get_json()["rows"][0]
    assert row["value"] == 1484 and row["extra"] == {"money": "14.84", "point_value": "0.01"}
    staff = shop.api.as_("staff_south").get("/api/v1/metrics/retail_membership_points_outstanding").get_json()
    assert staff["rows"][0]["extra"]["money"] == "12.34"
    settings = shop.runtime.settings
    program.override(settings, replace(program.program(settings), point_value=Decimal("0.05")))
    try:
        row = shop.api.get("/api/v1/metrics/retail_membership_points_outstanding").get_json()["rows"][0]
        assert row["extra"]["money"] == "74.20"
        body = shop.api.graphql("""query($id: ID!) { retailMembership(id: $id) { pointsBalance pointsValue } }""",
                                {"id": a["id"]})
        assert body["data"]["retailMembership"] == {"pointsBalance": 250, "pointsValue": "12.50"}
        rows = shop.api.graphql("""{ metric(name: "retail_membership_points_outstanding") { rows { value extra } } }""")
        assert rows["data"]["metric"]["rows"] == [{"value": 1484.0, "extra": {"money": "74.20", "pointValue": "0.05"}}]
    finally:
        program.override(settings, None)


# --- GraphQL -----------------------------------------------------------------------------------------

TILL = """query($phone: String, $card: String) { retailTillMember(phone: $phone, card: $card) {
  membership { id cardNumber phone customer { name } } tier { code discount } pointsBalance pointsValue pointValue
  coupons { code value expiresAt } campaigns { campaignId name offerKind couponCode couponUsed } } }"""
RECORD = """mutation($input: RetailPurchaseCreateInput!) { recordRetailPurchase(input: $input) {
  subtotal discount tierDiscount couponDiscount couponCode total pointsEarned } }"""


def test_graphql_finds_the_member_and_the_till_prices_the_sale(shop):
    m = enrol(shop.api, shop.north, name="Han Meimei", phone="13800138000")
    campaign, codes = launch_coupon(shop.api, value="10")
    body = shop.api.as_("staff_north").graphql(TILL, {"phone": "+86 138 0013 8000"})
    found = body["data"]["retailTillMember"]
    assert found["membership"]["customer"]["name"] == "Han Meimei" and found["tier"] == {"code": "MEMBER", "discount": "0"}
    assert found["coupons"] == [{"code": codes[m["id"]], "value": "10.00", "expiresAt": found["coupons"][0]["expiresAt"]}]
    assert found["campaigns"] == [{"campaignId": campaign["id"], "name": "10 off", "offerKind": "COUPON",
                                   "couponCode": codes[m["id"]], "couponUsed": False}]
    assert (found["pointsBalance"], found["pointsValue"], found["pointValue"]) == (0, "0.00", "0.01")
    assert shop.api.graphql(TILL, {"card": "NOPE"})["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    both = shop.api.graphql(TILL, {"card": m["card_number"], "phone": "13800138000"})
    assert both["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    sold = shop.api.as_("staff_north").graphql(RECORD, {"input": {
        "posTransactionId": "G1", "storeCode": "N01", "cardNumber": m["card_number"],
        "occurredAt": datetime.now(timezone.utc).isoformat(), "couponCode": codes[m["id"]],
        "lines": [{"sku": "A", "category": "c", "quantity": 3, "unitPrice": "20.00"}]}})
    assert sold["data"]["recordRetailPurchase"] == {
        "subtotal": "60.00", "discount": "10.00", "tierDiscount": "0.00", "couponDiscount": "10.00",
        "couponCode": codes[m["id"]], "total": "50.00", "pointsEarned": 50}
    again = shop.api.graphql(TILL, {"phone": "13800138000"})["data"]["retailTillMember"]
    assert again["coupons"] == [] and again["campaigns"][0]["couponUsed"] is True and again["pointsBalance"] == 50


def test_the_graphql_lookup_costs_the_same_statements_however_many_campaigns(shop, count_queries):
    enrol(shop.api, shop.north, phone="13800138000")
    launch_coupon(shop.api, name="first")
    staff = shop.api.as_("staff_north")
    staff.graphql(TILL, {"phone": "13800138000"})  # warm-up: caches, the token
    with count_queries() as one:
        found = staff.graphql(TILL, {"phone": "13800138000"})["data"]["retailTillMember"]
    assert len(found["campaigns"]) == 1
    for i in range(5):
        launch_coupon(shop.api, name=f"more {i}")
    with count_queries() as six:
        found = staff.graphql(TILL, {"phone": "13800138000"})["data"]["retailTillMember"]
    assert len(found["campaigns"]) == 6 and found["membership"]["customer"]["name"] == "Li Lei"
    # the REST lookup's 5, then the customer (and its tags) read again through the request's scoped loader
    assert one.count == six.count == 7, "\n".join(s[:150] for s in six.statements)


def test_the_point_value_setting_is_read_and_checked():
    from decimal import Decimal

    from core.config import PluginSetting, load_settings, resolve_plugin_settings
    from core.errors import PluginError
    from plugins.retail_membership import program

    declared = [PluginSetting("retail_membership_point_value", Decimal("0.01"))]
    settings = load_settings(environ={})
    resolve_plugin_settings(settings, declared, environ={"TRELLIS_RETAIL_MEMBERSHIP_POINT_VALUE": "0.005"})
    assert settings.plugin_values["retail_membership_point_value"] == Decimal("0.005")
    with pytest.raises(PluginError, match="TRELLIS_RETAIL_MEMBERSHIP_POINT_VALUE='abc' is not a valid Decimal"):
        resolve_plugin_settings(settings, declared, environ={"TRELLIS_RETAIL_MEMBERSHIP_POINT_VALUE": "abc"})

    class Negative:
        retail_membership_point_value = Decimal("-0.01")

    with pytest.raises(PluginError, match="retail_membership_point_value"):
        program._build(Negative())
    assert program.Program(tiers=()).points_money(1234) == Decimal("12.34")
