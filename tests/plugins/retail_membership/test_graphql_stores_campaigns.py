"""Stores and campaigns over GraphQL: the same services, permissions, validation and version checks as
REST (create, update, delete, restore, list with a filter; a campaign's draft → launch → close)."""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE, enrol

CREATE_STORE = """mutation($input: RetailStoreCreateInput!) { createRetailStore(input: $input) {
  id code name kind city version } }"""
UPDATE_STORE = """mutation($id: ID!, $input: RetailStoreUpdateInput!) { updateRetailStore(id: $id, input: $input) {
  name version } }"""
STORES = """query($filter: RetailStoreFilter) { retailStores(first: 10, filter: $filter, orderBy: [{field: CODE}]) {
  totalCount edges { node { code } } } }"""
CREATE_CAMPAIGN = """mutation($input: RetailCampaignCreateInput!) { createRetailCampaign(input: $input) {
  id name status offerKind goalDays controlShare version } }"""


def test_store_crud_with_version_check_and_filter(shop):
    admin = shop.api.as_("admin")
    made = admin.graphql(CREATE_STORE, {"input": {"code": "E01", "name": "East Gate", "city": "Hangzhou"}})
    assert made.get("errors") is None, made
    store = made["data"]["createRetailStore"]
    assert (store["code"], store["kind"], store["version"]) == ("E01", "CLOTHING", 1)
    assert shop.api.get(f"{BASE}/stores/{store['id']}").get_json()["name"] == "East Gate"

    renamed = admin.graphql(UPDATE_STORE, {"id": store["id"], "input": {"version": 1, "name": "East Gate Mall"}})
    assert renamed["data"]["updateRetailStore"] == {"name": "East Gate Mall", "version": 2}
    stale = admin.graphql(UPDATE_STORE, {"id": store["id"], "input": {"version": 1, "name": "Stale"}})
    assert stale["data"]["updateRetailStore"] is None and stale["errors"][0]["extensions"]["code"] == "CONFLICT"

    codes = admin.graphql(STORES, {"filter": {"city": "Hangzhou"}})["data"]["retailStores"]
    assert codes == {"totalCount": 1, "edges": [{"node": {"code": "E01"}}]}
    gone = admin.graphql("mutation($id: ID!) { deleteRetailStore(id: $id) { code } }", {"id": store["id"]})
    assert gone["data"]["deleteRetailStore"] == {"code": "E01"}
    assert [e["node"]["code"] for e in admin.graphql(STORES)["data"]["retailStores"]["edges"]] == ["N01", "S01"]
    assert admin.graphql(STORES, {"filter": {"deleted": True}})["data"]["retailStores"]["totalCount"] == 1
    back = admin.graphql("mutation($id: ID!) { restoreRetailStore(id: $id) { code } }", {"id": store["id"]})
    assert back["data"]["restoreRetailStore"] == {"code": "E01"}


def test_bad_or_forbidden_store_input_changes_nothing(shop):
    bad = shop.api.as_("admin").graphql(CREATE_STORE, {"input": {"code": "no spaces", "name": "X"}})
    assert bad["data"]["createRetailStore"] is None
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "code" in bad["errors"][0]["extensions"]["fields"]
    denied = shop.api.as_("rep").graphql(CREATE_STORE, {"input": {"code": "R01", "name": "Rep's"}})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert [s["code"] for s in shop.api.get(f"{BASE}/stores").get_json()] == ["N01", "S01"]


def test_campaign_draft_update_launch_close(shop):
    enrol(shop.api, shop.north)
    manager = shop.api.as_("manager")
    made = manager.graphql(CREATE_CAMPAIGN, {"input": {
        "name": "Lipstick samples", "offerKind": "SAMPLE", "goalDays": 14,
        "segment": {"storeIds": [shop.north["id"]], "minPurchases": 0}}})
    assert made.get("errors") is None, made
    campaign = made["data"]["createRetailCampaign"]
    rest = shop.api.get(f"{BASE}/campaigns/{campaign['id']}").get_json()
    assert (campaign["status"], campaign["goalDays"]) == ("DRAFT", 14)
    assert campaign["controlShare"] == rest["control_share"], (campaign["controlShare"], rest["control_share"])
    assert rest["segment"]["store_ids"] == [shop.north["id"]]

    updated = manager.graphql("""mutation($id: ID!, $input: RetailCampaignUpdateInput!) {
      updateRetailCampaign(id: $id, input: $input) { name version } }""",
                              {"id": campaign["id"], "input": {"version": 1, "name": "Lipstick samples, spring"}})
    assert updated["data"]["updateRetailCampaign"] == {"name": "Lipstick samples, spring", "version": 2}
    launched = manager.graphql("mutation($id: ID!) { launchRetailCampaign(id: $id) { status treatedCount "
                               "controlCount } }", {"id": campaign["id"]})["data"]["launchRetailCampaign"]
    assert launched["status"] == "LAUNCHED" and launched["treatedCount"] + launched["controlCount"] == 1
    closed = manager.graphql("mutation($id: ID!) { closeRetailCampaign(id: $id) { status } }", {"id": campaign["id"]})
    assert closed["data"]["closeRetailCampaign"] == {"status": "CLOSED"}
    listed = manager.graphql('{ retailCampaigns(first: 5, filter: {status: CLOSED}) { totalCount } }')
    assert listed["data"]["retailCampaigns"]["totalCount"] == 1


def test_a_rep_cannot_create_a_campaign_and_a_bad_offer_kind_names_the_field(shop):
    denied = shop.api.as_("rep").graphql(CREATE_CAMPAIGN, {"input": {"name": "X", "offerKind": "SAMPLE"}})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = shop.api.as_("manager").graphql(CREATE_CAMPAIGN, {"input": {"name": "X", "offerKind": "LOTTERY"}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "offerKind" in bad["errors"][0]["extensions"]["fields"]
    assert shop.api.as_("manager").get(f"{BASE}/campaigns").get_json() == []
