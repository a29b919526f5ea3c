"""Campaigns and memberships: update (version-checked, validated, permission-checked), soft delete and
restore over REST — each change audited, a refused one writing nothing."""
from __future__ import annotations

import pytest

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, member, sale
from tests.plugins.retail_membership.test_jobs_and_campaigns import make_campaign


def trail(api, record_id):
    response = api.as_("admin").get(f"/api/v1/audit?record_id={record_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [row["id"] for row in response.get_json()]


# --- campaigns -------------------------------------------------------------------------------------------

def test_a_created_campaign_reads_back_exactly_as_its_create_answer(shop):
    # the default offer value was answered as "0" on create and "0.00" on every later read
    c = make_campaign(shop.api)
    assert c["offer_value"] == "0.00"
    assert shop.api.get(f"{BASE}/campaigns/{c['id']}").get_json() == c


def test_a_new_campaign_takes_the_defaults_and_the_offers_rules(shop):
    """The campaign is a declared record (campaigns.CAMPAIGNS): defaults from its create schema, a null
    control share is the default one, the offer's rules are a hook; the created entry audits what it holds."""
    made = shop.api.as_("manager").post(f"{BASE}/campaigns", json={"name": "Samples", "offer_kind": "sample",
                                                                   "control_share": None})
    assert made.status_code == 201, made.get_json()
    c = made.get_json()
    assert (c["status"], c["control_share"], c["offer_value"], c["goal_days"], c["holiday_offset_days"],
            c["repeat_yearly"], c["scheduled_on"]) == ("draft", "0.200", "0.00", 30, 0, False, None)
    assert shop.api.get(f"{BASE}/campaigns/{c['id']}").get_json() == c
    [created] = trail(shop.api, c["id"])
    assert created["changes"]["goal_days"] == [None, 30] and "status" not in created["changes"]
    free = shop.api.as_("manager").post(f"{BASE}/campaigns", json={"name": "Free", "offer_kind": "coupon"})
    assert free.status_code == 422 and list(free.get_json()["errors"]["json"]) == ["offer_value"]
    for body in ({"status": "launched"}, {"treated_count": 5}):
        refused = shop.api.as_("manager").post(f"{BASE}/campaigns", json={"name": "x", "offer_kind": "sample", **body})
        assert refused.status_code == 422 and list(refused.get_json()["errors"]["json"]) == list(body)


def test_a_draft_campaign_is_updated_field_by_field_and_audited(shop):
    c = make_campaign(shop.api)
    url = f"{BASE}/campaigns/{c['id']}"
    response = shop.api.as_("manager").patch(url, json={
        "version": c["version"], "name": "Lipstick samples, spring", "goal_days": 14,
        "segment": {"tiers": ["member"], "store_ids": [shop.north["id"]]}})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["name"], body["goal_days"], body["version"]) == ("Lipstick samples, spring", 14, c["version"] + 1)
    assert body["segment"]["tiers"] == ["member"] and body["segment"]["store_ids"] == [shop.north["id"]]
    [updated, created] = trail(shop.api, c["id"])
    assert updated["action"].endswith(".updated") and created["action"].endswith(".created")
    assert updated["changes"]["name"] == ["Lipstick samples", "Lipstick samples, spring"]
    assert updated["changes"]["goal_days"] == [30, 14]
    assert shop.api.get(url).get_json()["name"] == "Lipstick samples, spring"


@pytest.mark.parametrize("change, field", [
    ({"segment": {"tiers": ["platinum-plus"]}}, "segment.tiers"),
    ({"offer_kind": "points_bonus", "offer_value": "10.5"}, "offer_value"),
    ({"goal_days": 0}, "goal_days"),
    ({"control_share": "0.95"}, "control_share"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_campaign_update_is_422_naming_the_field_and_writes_nothing(shop, change, field):
    c = make_campaign(shop.api)
    response = shop.api.as_("manager").patch(f"{BASE}/campaigns/{c['id']}", json={"version": c["version"], **change})
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]["json"]) == [field]
    assert shop.api.get(f"{BASE}/campaigns/{c['id']}").get_json() == c
    assert len(trail(shop.api, c["id"])) == 1


def test_a_campaign_update_with_a_stale_version_is_409_and_a_launched_one_cannot_change(shop):
    enrol(shop.api, shop.north)
    c = make_campaign(shop.api)
    url = f"{BASE}/campaigns/{c['id']}"
    assert shop.api.as_("manager").patch(url, json={"version": c["version"], "name": "New"}).status_code == 200
    stale = shop.api.as_("manager").patch(url, json={"version": c["version"], "name": "Newer"})
    assert stale.status_code == 409 and shop.api.get(url).get_json()["name"] == "New"
    fresh = shop.api.get(url).get_json()
    assert shop.api.as_("manager").post(f"{url}/launch").status_code == 200
    launched = shop.api.get(url).get_json()
    refused = shop.api.as_("manager").patch(url, json={"version": launched["version"], "name": "Too late"})
    assert refused.status_code == 422 and list(refused.get_json()["errors"]["json"]) == ["status"]
    assert shop.api.get(url).get_json()["name"] == fresh["name"] == "New"


def test_campaigns_are_changed_deleted_and_restored_by_managers_only(shop):
    c = make_campaign(shop.api)
    url = f"{BASE}/campaigns/{c['id']}"
    for who in ("staff_north", "rep"):
        assert shop.api.as_(who).patch(url, json={"version": c["version"], "name": "X"}).status_code == 403
        assert shop.api.as_(who).delete(url).status_code == 403
    assert shop.api.get(url).get_json() == c


def test_a_deleted_campaign_leaves_the_list_and_a_restore_brings_it_back(shop):
    c = make_campaign(shop.api)
    other = make_campaign(shop.api, name="Other")
    url = f"{BASE}/campaigns/{c['id']}"
    assert shop.api.as_("manager").delete(url).status_code == 204
    assert shop.api.get(url).status_code == 404
    assert ids(shop.api.get(f"{BASE}/campaigns")) == [other["id"]]
    assert ids(shop.api.get(f"{BASE}/campaigns?deleted=true")) == [c["id"]]
    assert shop.api.as_("manager").delete(url).status_code == 404           # already deleted
    assert shop.api.as_("staff_north").post(f"{url}/restore").status_code == 403
    restored = shop.api.as_("manager").post(f"{url}/restore")
    assert restored.status_code == 200, restored.get_json()
    assert restored.get_json()["name"] == c["name"]
    assert sorted(ids(shop.api.get(f"{BASE}/campaigns"))) == sorted([c["id"], other["id"]])
    assert shop.api.as_("manager").post(f"{url}/restore").status_code == 404  # not deleted any more
    assert [e["action"].rsplit(".", 1)[1] for e in trail(shop.api, c["id"])] == [
        "restored", "deleted", "created"]


# --- memberships -----------------------------------------------------------------------------------------

def test_a_membership_update_changes_store_birthday_and_preferences_audited(shop):
    m = enrol(shop.api, shop.north)
    url = f"{BASE}/memberships/{m['id']}"
    response = shop.api.patch(url, json={"version": m["version"], "home_store_id": shop.south["id"],
                                         "birthday": "1990-05-04", "preferences": ["lipstick", "perfume"]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["home_store_id"], body["birthday"], body["preferences"]) == (
        shop.south["id"], "1990-05-04", ["lipstick", "perfume"])
    assert body["version"] == m["version"] + 1 and body["points_balance"] == 0
    updated = trail(shop.api, m["id"])[0]
    assert updated["action"].endswith(".updated")
    assert updated["changes"]["home_store_id"] == [shop.north["id"], shop.south["id"]]
    stale = shop.api.patch(url, json={"version": m["version"], "birthday": None})
    assert stale.status_code == 409 and member(shop.api, m["id"])["birthday"] == "1990-05-04"


def test_staff_may_not_move_a_member_to_a_store_they_do_not_work_at(shop):
    m = enrol(shop.api, shop.north, who="staff_north")
    url = f"{BASE}/memberships/{m['id']}"
    refused = shop.api.as_("staff_north").patch(url, json={"version": m["version"], "home_store_id": shop.south["id"]})
    assert refused.status_code == 422 and list(refused.get_json()["errors"]["json"]) == ["home_store_id"]
    assert member(shop.api, m["id"])["home_store_id"] == shop.north["id"]
    gone = shop.api.patch(url, json={"version": m["version"], "home_store_id": "00000000-0000-0000-0000-000000000000"})
    assert gone.status_code == 422 and list(gone.get_json()["errors"]["json"]) == ["home_store_id"]
    bad = shop.api.patch(url, json={"version": m["version"], "tier": "gold"})
    assert bad.status_code == 422 and list(bad.get_json()["errors"]["json"]) == ["tier"]
    assert member(shop.api, m["id"])["version"] == m["version"]


def test_a_deleted_membership_is_hidden_and_a_restore_brings_it_back_with_its_points(shop):
    m = enrol(shop.api, shop.north)
    kept = enrol(shop.api, shop.north, name="Han Meimei")
    buy(shop.api, sale("T1", m["card_number"], total="120.00"))
    url = f"{BASE}/memberships/{m['id']}"
    assert shop.api.as_("staff_south").delete(url).status_code == 404          # not in their scope
    assert shop.api.delete(url).status_code == 204
    assert shop.api.get(url).status_code == 404
    assert ids(shop.api.get(f"{BASE}/memberships")) == [kept["id"]]
    assert ids(shop.api.get(f"{BASE}/memberships?deleted=true")) == [m["id"]]
    # the card of a deleted member earns nothing
    assert shop.api.post(f"{BASE}/purchases", json=sale("T2", m["card_number"])).status_code == 422
    restored = shop.api.post(f"{url}/restore")
    assert restored.status_code == 200, restored.get_json()
    assert restored.get_json()["points_balance"] == 120
    assert sorted(ids(shop.api.get(f"{BASE}/memberships"))) == sorted([m["id"], kept["id"]])
    assert [e["action"].rsplit(".", 1)[1] for e in trail(shop.api, m["id"])][:2] == ["restored", "deleted"]
