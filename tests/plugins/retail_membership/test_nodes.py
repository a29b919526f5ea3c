"""node(id:) finds every retail membership record type within the caller's scope (null outside it)."""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, ledger, sale

NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


def test_node_reads_each_retail_type_within_scope(shop):
    membership = enrol(shop.api, shop.north)
    purchase = buy(shop.api, sale("T1", membership["card_number"]))
    entry = ledger(shop.api, membership["id"])[0]
    campaign = shop.api.as_("manager").post(f"{BASE}/campaigns", json={
        "name": "Socks", "offer_kind": "sample", "control_share": "0.5", "goal_days": 30}).get_json()
    ids = {"RetailStore": shop.north["id"], "RetailMembership": membership["id"], "RetailPurchase": purchase["id"],
           "RetailPointsEntry": entry["id"], "RetailCampaign": campaign["id"]}
    names = list(ids)
    query = {"ids": [ids[n] for n in names]}
    assert ok_nodes(shop.api.as_("admin").graphql(NODES, query)) == [{"__typename": n, "id": ids[n]} for n in names]
    # north's staff see their store's member, purchase and ledger; south's staff only the store list
    assert [n and n["__typename"] for n in ok_nodes(shop.api.as_("staff_north").graphql(NODES, query))] == names
    assert [n and n["__typename"] for n in ok_nodes(shop.api.as_("staff_south").graphql(NODES, query))] == [
        "RetailStore", None, None, None, "RetailCampaign"]
    # a rep sees the stores, not the admin's member nor the campaigns
    assert [n and n["__typename"] for n in ok_nodes(shop.api.as_("rep").graphql(NODES, query))] == [
        "RetailStore", None, None, None, None]
    member = shop.api.as_("admin").graphql(
        "query($id: ID!) { node(id: $id) { ... on RetailMembership { cardNumber pointsBalance } } }",
        {"id": membership["id"]})
    assert member["data"]["node"]["cardNumber"] == membership["card_number"]


def ok_nodes(body):
    assert not body.get("errors"), body["errors"]
    return body["data"]["nodes"]
