"""GraphQL: Customer.membership with tier, balance, ledger and purchases — a fixed number of SQL
statements however many customers are listed — and the plugin's queries and mutations."""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, sale, when
from api.testing import graphql_list, pin_statements

CUSTOMERS = """
query($first: Int!) { customers(first: $first) { edges { node { name membership {
  cardNumber tier tierInfo { label { en zhCn } multiplier } pointsBalance spendTotal homeStore { code }
  ledger(first: 2) { totalCount edges { node { kind points balanceAfter } } }
  purchases(first: 2) { totalCount pageInfo { hasNextPage } edges { node { posTransactionId total
    lines { sku category amount } } } }
} } } } }"""


def populate(shop, n):
    for i in range(n):
        m = enrol(shop.api, shop.north, name=f"Member {i:02d}")
        for j in range(3):
            buy(shop.api, sale(f"P{i}-{j}", m["card_number"], total="1000.00", days_ago=10 - j, lines=[
                {"sku": "S", "category": "shirts", "quantity": 2, "unit_price": "500.00"}]))


def test_customer_membership_with_tier_balance_ledger_and_purchases(shop):
    populate(shop, 1)
    body = shop.api.graphql(CUSTOMERS, {"first": 10})
    assert body.get("errors") is None, body
    [edge] = body["data"]["customers"]["edges"]
    m = edge["node"]["membership"]
    assert (m["tier"], m["tierInfo"]["label"]["en"], m["tierInfo"]["label"]["zhCn"], m["pointsBalance"]) == ("SILVER", "Silver", "银卡会员", 3200)
    assert m["homeStore"] == {"code": "N01"} and m["spendTotal"] == "3000.00"
    assert m["ledger"]["totalCount"] == 3 and [e["node"]["points"] for e in m["ledger"]["edges"]] == [1200, 1000]
    assert m["purchases"]["totalCount"] == 3 and m["purchases"]["pageInfo"]["hasNextPage"] is True
    assert m["purchases"]["edges"][0]["node"]["lines"] == [{"sku": "S", "category": "shirts", "amount": "1000.00"}]


def test_customer_membership_costs_the_same_for_5_or_50_customers(shop, count_queries):
    def grow(have, want):
        for i in range(have, want):
            m = enrol(shop.api, shop.north, name=f"Member {i:02d}")
            for j in range(2):
                buy(shop.api, sale(f"P{i}-{j}", m["card_number"], total="100.00", days_ago=10 - j, lines=[
                    {"sku": "S", "category": "shirts", "quantity": 1, "unit_price": "100.00"}]))

    edges = pin_statements(count_queries, grow=grow,
                           fetch=lambda n: graphql_list(shop.api.graphql(CUSTOMERS, {"first": n}), "customers.edges"))
    # auth, customers page + count, tags, memberships, balances, stores, ledger (+ count), purchases
    # (+ count, lines) — measured 13, the same for 5 customers as for 50
    for edge in edges:
        m = edge["node"]["membership"]
        assert m["pointsBalance"] == 200 and m["homeStore"] == {"code": "N01"} and m["spendTotal"] == "200.00"
        assert m["ledger"]["totalCount"] == 2 and len(m["ledger"]["edges"]) == 2
        assert m["purchases"]["totalCount"] == 2 and m["purchases"]["edges"][0]["node"]["lines"] == [
            {"sku": "S", "category": "shirts", "amount": "100.00"}]


def test_customers_without_a_membership_answer_null(shop):
    shop.api.post("/api/v1/customers", json={"name": "Plain Co"})
    body = shop.api.graphql("{ customers(first: 5) { edges { node { name membership { tier } } } } }")
    assert body["data"]["customers"]["edges"] == [{"node": {"name": "Plain Co", "membership": None}}]


def test_purchases_redemptions_and_uploads_through_mutations(shop):
    m = enrol(shop.api, shop.north)
    purchase = {"posTransactionId": "G1", "storeCode": "N01", "cardNumber": m["card_number"],
                "occurredAt": when(1), "total": "50.00",
                "lines": [{"sku": "A", "category": "socks", "quantity": 5, "unitPrice": "10.00"}]}
    mutation = """mutation($p: RetailPurchaseCreateInput!) { recordRetailPurchase(input: $p) { id pointsEarned total } }"""
    first = shop.api.graphql(mutation, {"p": purchase})
    assert first.get("errors") is None, first
    again = shop.api.graphql(mutation, {"p": purchase})
    assert again["data"]["recordRetailPurchase"]["id"] == first["data"]["recordRetailPurchase"]["id"]
    upload = shop.api.graphql("""mutation($ps: [RetailPurchaseCreateInput!]!) { uploadRetailPurchases(purchases: $ps) {
        received created duplicates items { posTransactionId status } } }""",
                              {"ps": [purchase, {**purchase, "posTransactionId": "G2"}]})
    assert upload["data"]["uploadRetailPurchases"] == {"received": 2, "created": 1, "duplicates": 1, "items": [
        {"posTransactionId": purchase["posTransactionId"], "status": "DUPLICATE"},
        {"posTransactionId": "G2", "status": "CREATED"}]}
    redeem = """mutation($id: ID!, $n: Int!) { redeemRetailPoints(membershipId: $id, points: $n) { balanceAfter } }"""
    assert shop.api.graphql(redeem, {"id": m["id"], "n": 60})["data"]["redeemRetailPoints"]["balanceAfter"] == 40
    refused = shop.api.graphql(redeem, {"id": m["id"], "n": 41})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    hidden = shop.api.as_("staff_south").graphql(redeem, {"id": m["id"], "n": 1})
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_campaign_reports_its_lift_over_graphql(shop):
    cards = [enrol(shop.api, shop.north, name=f"M{i}")["card_number"] for i in range(10)]
    campaign = shop.api.as_("manager").post(f"{BASE}/campaigns", json={
        "name": "Socks", "offer_kind": "sample", "control_share": "0.5", "goal_days": 30}).get_json()
    shop.api.as_("manager").post(f"{BASE}/campaigns/{campaign['id']}/launch", json={"at": when(2)})
    for i, card in enumerate(cards[:4]):
        buy(shop.api, sale(f"T{i}", card, total="5.00", days_ago=1))
    body = shop.api.as_("manager").graphql("""query($id: ID!) { retailCampaign(id: $id) { status treatedCount
        result { lift ciLow ciHigh treated { members converted } control { members converted } } } }""",
                                           {"id": campaign["id"]})
    assert body.get("errors") is None, body
    c = body["data"]["retailCampaign"]
    rest = shop.api.get(f"{BASE}/campaigns/{campaign['id']}/result").get_json()
    assert c["status"] == "LAUNCHED" and c["treatedCount"] == 5
    assert c["result"]["treated"]["converted"] + c["result"]["control"]["converted"] == 4
    assert (c["result"]["lift"], c["result"]["ciLow"], c["result"]["ciHigh"]) == (rest["lift"], rest["ci_low"], rest["ci_high"])


def test_a_bad_membership_filter_names_the_field_as_every_list_does(shop):
    body = shop.api.graphql('{ retailMemberships(first: 5, filter: {homeStoreId: "nope"}) { totalCount } }')
    err = body["errors"][0]
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and set(err["extensions"]["fields"]) == {"filter.homeStoreId"}


def test_hand_written_lists_take_the_typed_order_by_too(shop):
    populate(shop, 3)
    query = """query($orderBy: [RetailMembershipOrder!]) { retailMemberships(first: 10, orderBy: $orderBy) {
      edges { node { cardNumber } } } }"""
    cards = lambda order: [e["node"]["cardNumber"] for e in  # noqa: E731
                           shop.api.graphql(query, {"orderBy": order})["data"]["retailMemberships"]["edges"]]
    ascending = cards([{"field": "CARD_NUMBER"}])
    assert ascending == sorted(ascending) and len(ascending) == 3
    assert cards([{"field": "CARD_NUMBER", "direction": "DESC"}]) == ascending[::-1]
    # spend is money; the tie (all spent the same) is broken by the id, so both directions hold
    assert sorted(cards([{"field": "SPEND_TOTAL", "direction": "DESC"}, {"field": "CARD_NUMBER"}])) == ascending
    bad = shop.api.graphql(query, {"orderBy": [{"field": "PASSWORD"}]})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
