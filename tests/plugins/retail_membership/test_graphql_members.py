"""Memberships and purchases over GraphQL beyond enrolment and sales: update with the version, delete and
restore, a manual tier, a points adjustment, and reading purchases — the services REST uses."""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, member, sale


def test_membership_update_delete_restore(shop):
    m = enrol(shop.api, shop.north, name="Li Lei")
    update = """mutation($id: ID!, $input: RetailMembershipUpdateInput!) { updateRetailMembership(id: $id, input: $input) {
      homeStoreId birthday preferences version } }"""
    moved = shop.api.graphql(update, {"id": m["id"], "input": {"version": m["version"], "homeStoreId": shop.south["id"],
                                                               "preferences": ["denim"]}})
    assert moved["data"]["updateRetailMembership"] == {"homeStoreId": shop.south["id"], "birthday": None,
                                                       "preferences": ["denim"], "version": m["version"] + 1}
    stale = shop.api.graphql(update, {"id": m["id"], "input": {"version": m["version"], "preferences": []}})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert member(shop.api, m["id"])["preferences"] == ["denim"]

    gone = shop.api.graphql("mutation($id: ID!) { deleteRetailMembership(id: $id) { cardNumber } }", {"id": m["id"]})
    assert gone["data"]["deleteRetailMembership"] == {"cardNumber": m["card_number"]}
    assert shop.api.get(f"{BASE}/memberships/{m['id']}").status_code == 404
    back = shop.api.graphql("mutation($id: ID!) { restoreRetailMembership(id: $id) { cardNumber } }", {"id": m["id"]})
    assert back["data"]["restoreRetailMembership"] == {"cardNumber": m["card_number"]}


def test_manual_tier_and_points_adjustment_need_a_manager_and_a_reason(shop):
    m = enrol(shop.api, shop.north)
    tier = """mutation($id: ID!, $input: RetailTierChangeInput!) { setRetailMembershipTier(membershipId: $id, input: $input) {
      tier } }"""
    no_reason = shop.api.as_("manager").graphql(tier, {"id": m["id"], "input": {"tier": "GOLD", "reason": ""}})
    assert "reason" in no_reason["errors"][0]["extensions"]["fields"]
    clerk = shop.api.as_("staff_north").graphql(tier, {"id": m["id"], "input": {"tier": "GOLD", "reason": "VIP"}})
    assert clerk["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    done = shop.api.as_("manager").graphql(tier, {"id": m["id"], "input": {"tier": "GOLD", "reason": "VIP friend"}})
    assert done["data"]["setRetailMembershipTier"] == {"tier": "GOLD"}
    history = shop.api.get(f"{BASE}/memberships/{m['id']}/tier-history").get_json()
    assert (history[-1]["to_state"], history[-1]["reason"], history[-1]["trigger"]) == ("gold", "VIP friend", "manual")
    read = shop.api.graphql("query($id: ID!) { retailMembership(id: $id) { tierHistory { edges { node {"
                            " toState reason trigger } } } } }", {"id": m["id"]})["data"]["retailMembership"]["tierHistory"]
    assert [e["node"] for e in read["edges"]] == [{"toState": h["to_state"], "reason": h["reason"], "trigger": h["trigger"].upper()} for h in history]

    adjust = """mutation($id: ID!, $input: RetailPointsAdjustmentInput!) { adjustRetailPoints(membershipId: $id, input: $input) {
      kind points balanceAfter } }"""
    zero = shop.api.as_("manager").graphql(adjust, {"id": m["id"], "input": {"points": 0, "reason": "nothing"}})
    assert "points" in zero["errors"][0]["extensions"]["fields"]
    entry = shop.api.as_("manager").graphql(adjust, {"id": m["id"], "input": {"points": 150, "reason": "goodwill"}})
    assert entry["data"]["adjustRetailPoints"] == {"kind": "ADJUST", "points": 150, "balanceAfter": 150}
    assert member(shop.api, m["id"])["points_balance"] == 150


def test_purchases_are_listed_and_read(shop):
    m = enrol(shop.api, shop.north)
    for i in range(3):
        buy(shop.api, sale(f"GQ-{i}", m["card_number"], total=f"{10 * (i + 1)}.00", days_ago=3 - i))
    body = shop.api.graphql("""query($m: ID) { retailPurchases(first: 2, filter: {membershipId: $m}) {
      totalCount edges { node { id posTransactionId total } } } }""", {"m": m["id"]})
    assert body.get("errors") is None, body
    page = body["data"]["retailPurchases"]
    assert page["totalCount"] == 3
    assert [e["node"]["posTransactionId"] for e in page["edges"]] == ["GQ-2", "GQ-1"]   # newest first
    one = shop.api.graphql("query($id: ID!) { retailPurchase(id: $id) { posTransactionId total } }",
                           {"id": page["edges"][0]["node"]["id"]})
    assert one["data"]["retailPurchase"] == {"posTransactionId": "GQ-2", "total": "30.00"}
