"""The points ledger: earn, redeem (never below zero), adjust, expire (FIFO), reversal — and the balance
always equal to the sum of the entries."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, ledger, member, sale


def run_job(runtime, name, now=None):
    [job] = [j for j in runtime.jobs if j.name == name]
    with runtime.database.unit_of_work():
        return job.run(now or datetime.now(timezone.utc))


def assert_balanced(api, membership_id):
    entries = ledger(api, membership_id)
    balance = api.get(f"{BASE}/memberships/{membership_id}/balance").get_json()
    assert balance["balance"] == balance["ledger_sum"] == sum(e["points"] for e in entries)
    # every entry's running balance was >= 0 when it was written
    assert all(e["balance_after"] >= 0 for e in entries)
    return balance["balance"]


def test_redeeming_more_than_the_balance_is_refused(shop):
    m = enrol(shop.api, shop.north)
    buy(shop.api, sale("T1", m["card_number"], total="120.00"))
    url = f"{BASE}/memberships/{m['id']}/redemptions"
    assert shop.api.post(url, json={"points": 100, "reason": "voucher"}).status_code == 201
    refused = shop.api.post(url, json={"points": 21})
    assert refused.status_code == 422 and refused.get_json()["errors"]["json"]["points"] == ["Only 20 points available."]
    assert shop.api.post(url, json={"points": 0}).status_code == 422
    assert assert_balanced(shop.api, m["id"]) == 20


def test_adjustments_need_a_manager_and_a_reason(shop):
    m = enrol(shop.api, shop.north, who="staff_north")
    url = f"{BASE}/memberships/{m['id']}/adjustments"
    assert shop.api.as_("staff_north").post(url, json={"points": 50, "reason": "goodwill"}).status_code == 403
    assert shop.api.post(url, json={"points": 50}).status_code == 422
    assert shop.api.post(url, json={"points": 50, "reason": "goodwill"}).status_code == 201
    assert shop.api.post(url, json={"points": -60, "reason": "too much"}).status_code == 422
    assert shop.api.post(url, json={"points": -20, "reason": "correction"}).status_code == 201
    assert assert_balanced(shop.api, m["id"]) == 30


def test_a_refund_after_redemption_never_takes_the_balance_below_zero(shop):
    m = enrol(shop.api, shop.north)
    p = buy(shop.api, sale("T1", m["card_number"], total="100.00"))
    shop.api.post(f"{BASE}/memberships/{m['id']}/redemptions", json={"points": 70})
    refund = shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1"}).get_json()
    assert (refund["points_reversed"], refund["points_unrecovered"]) == (30, 70)
    assert assert_balanced(shop.api, m["id"]) == 0


def test_points_expire_oldest_first_and_only_once(shop):
    m = enrol(shop.api, shop.north)
    buy(shop.api, sale("OLD", m["card_number"], total="100.00", days_ago=400))   # expired 35 days ago
    buy(shop.api, sale("MID", m["card_number"], total="50.00", days_ago=200))
    buy(shop.api, sale("NEW", m["card_number"], total="30.00", days_ago=10))
    # the old lot expired before the redemption (issue #19): it is written off first, then the 20
    # redeemed come from the oldest lot still valid, the middle one
    url = f"{BASE}/memberships/{m['id']}/redemptions"
    assert shop.api.post(url, json={"points": 81}).status_code == 422
    assert shop.api.post(url, json={"points": 20}).status_code == 201
    assert run_job(shop.runtime, "retail_membership.points_expiry") == 0  # the redemption settled the old lot
    assert assert_balanced(shop.api, m["id"]) == 60
    # 200 days on, the middle lot's 30 remaining points expire; the new lot keeps its 30
    later = datetime.now(timezone.utc) + timedelta(days=200)
    assert run_job(shop.runtime, "retail_membership.points_expiry", later) == 1
    assert run_job(shop.runtime, "retail_membership.points_expiry", later) == 0
    expired = [e for e in ledger(shop.api, m["id"]) if e["kind"] == "expire"]
    assert [e["points"] for e in expired] == [-30, -100]
    assert assert_balanced(shop.api, m["id"]) == 30


def test_unused_points_expire_when_their_lot_does(shop):
    m = enrol(shop.api, shop.north)
    buy(shop.api, sale("OLD", m["card_number"], total="100.00", days_ago=400))
    buy(shop.api, sale("NEW", m["card_number"], total="40.00", days_ago=5))
    assert run_job(shop.runtime, "retail_membership.points_expiry") == 1
    assert member(shop.api, m["id"])["points_balance"] == 40
    balance = shop.api.get(f"{BASE}/memberships/{m['id']}/balance").get_json()
    assert balance["next_expiry"]["points"] == 40
    metrics = {name: shop.api.get(f"/api/v1/metrics/retail_membership_{name}").get_json()["rows"][0]["value"]
               for name in ("points_issued", "points_expired", "points_outstanding")}
    assert metrics == {"points_issued": 140, "points_expired": 100, "points_outstanding": 40}


def test_one_expiry_run_expires_the_points_of_every_member_due(shop):
    members = [enrol(shop.api, shop.north, name=f"Member {i}") for i in range(3)]
    for i, m in enumerate(members):
        buy(shop.api, sale(f"OLD{i}", m["card_number"], total=f"{10 * (i + 1)}.00", days_ago=400))
    assert run_job(shop.runtime, "retail_membership.points_expiry") == 3
    for i, m in enumerate(members):
        assert [(e["kind"], e["points"]) for e in ledger(shop.api, m["id"])] == [
            ("expire", -10 * (i + 1)), ("earn", 10 * (i + 1))]
        assert member(shop.api, m["id"])["points_balance"] == 0

def test_one_expiry_run_reaches_the_members_past_the_first_500(shop):
    from decimal import Decimal

    from plugins.retail_membership import bulk, services

    n = 501  # members are locked and read 500 at a time
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with shop.runtime.database.unit_of_work():
        ids = bulk.enrol(shop.people.admin, [{"name": f"Bulk {i}", "card_number": f"X{i:04d}",
                                              "home_store_id": shop.north["id"],
                                              "joined_on": (now - timedelta(days=500)).date()} for i in range(n)])
        bulk.import_purchases(shop.people.admin, [
            {"membership_id": mid, "store_id": shop.north["id"], "pos_transaction_id": f"X{i}",
             "occurred_at": now - timedelta(days=400),
             "lines": [{"sku": "X", "category": "shirts", "quantity": 1, "unit_price": Decimal("10.00")}]}
            for i, mid in enumerate(ids)], now=now)
    assert run_job(shop.runtime, "retail_membership.points_expiry", now) == n
    with shop.runtime.database.unit_of_work():
        assert set(services.balances(ids).values()) == {0}

def test_a_referral_rewards_the_referrer_once(shop):
    referrer = enrol(shop.api, shop.north, name="Referrer")
    friend = enrol(shop.api, shop.north, name="Friend", referred_by_card=referrer["card_number"])
    buy(shop.api, sale("T1", friend["card_number"], total="10.00"))
    buy(shop.api, sale("T2", friend["card_number"], total="10.00"))
    kinds = [(e["kind"], e["points"]) for e in ledger(shop.api, referrer["id"])]
    assert kinds == [("referral", 200)]


def test_an_adjustment_that_mentions_the_referral_does_not_stand_in_for_the_bonus(shop):
    referrer = enrol(shop.api, shop.north, name="Referrer")
    friend = enrol(shop.api, shop.north, name="Friend", referred_by_card=referrer["card_number"])
    adjusted = shop.api.post(f"{BASE}/memberships/{referrer['id']}/adjustments",
                             json={"points": 5, "reason": f"referred {friend['card_number']}"})
    assert adjusted.status_code == 201
    buy(shop.api, sale("T1", friend["card_number"], total="10.00"))
    kinds = sorted((e["kind"], e["points"]) for e in ledger(shop.api, referrer["id"]))
    assert kinds == [("adjust", 5), ("referral", 200)]

def test_a_balance_stays_within_two_billion_points_and_a_refused_sale_writes_nothing(shop):
    # 2,000,000,000 fits every database's integer column and GraphQL's Int; past it is a clear 422
    m = enrol(shop.api, shop.north)
    url = f"{BASE}/memberships/{m['id']}/adjustments"
    for _ in range(2):
        assert shop.api.post(url, json={"points": 10**9, "reason": "top up"}).status_code == 201
    over = shop.api.post(url, json={"points": 1, "reason": "one more"})
    assert over.status_code == 422 and "2,000,000,000" in over.get_json()["errors"]["json"]["points"][0]

    refused = buy(shop.api, sale("BIG-1", m["card_number"], total="100.00"), status=422)
    assert "2,000,000,000" in str(refused["errors"])
    assert shop.api.get(f"{BASE}/purchases?membership_id={m['id']}").get_json() == []
    assert assert_balanced(shop.api, m["id"]) == 2 * 10**9
    body = shop.api.graphql('query($id: ID!) { retailMembership(id: $id) { pointsBalance } }', {"id": m["id"]})
    assert body.get("data", {}).get("retailMembership", {}).get("pointsBalance") == 2 * 10**9, body


def test_a_bonus_for_a_member_near_the_cap_is_cut_to_what_fits_and_blocks_nobody(shop):
    # the friend's first sale (a referral bonus for the referrer) and a points campaign are not refused
    # because of someone else's balance; the bonus is cut to what fits, and its audit entry says so
    referrer = enrol(shop.api, shop.north, name="Referrer")
    url = f"{BASE}/memberships/{referrer['id']}/adjustments"
    for points in (10**9, 10**9 - 10):
        assert shop.api.post(url, json={"points": points, "reason": "top up"}).status_code == 201
    friend = enrol(shop.api, shop.north, name="Friend", referred_by_card=referrer["card_number"])
    sold = buy(shop.api, sale("T1", friend["card_number"], total="10.00"))
    assert sold["points_earned"] == 10
    entries = [(e["kind"], e["points"]) for e in ledger(shop.api, referrer["id"])]
    assert ("referral", 10) in entries and assert_balanced(shop.api, referrer["id"]) == 2 * 10**9
    audit = shop.api.get("/api/v1/audit?record_type=retail_membership_points_entry").get_json()
    capped = [a for a in audit if a["changes"].get("points") == [None, 10]]
    assert capped and capped[0]["changes"]["capped_from"] == [None, 200]

    campaign = shop.api.as_("manager").post(f"{BASE}/campaigns", json={
        "name": "Bonus", "offer_kind": "points_bonus", "offer_value": "500", "control_share": "0"})
    launched = shop.api.as_("manager").post(f"{BASE}/campaigns/{campaign.get_json()['id']}/launch")
    assert launched.status_code == 200, launched.get_json()
    assert assert_balanced(shop.api, referrer["id"]) == 2 * 10**9  # full: nothing credited, nothing refused
    assert assert_balanced(shop.api, friend["id"]) == 10 + 500


def test_a_lot_expires_at_exactly_its_expiry_instant_not_a_second_before(shop):
    m = enrol(shop.api, shop.north)
    buy(shop.api, sale("T1", m["card_number"], total="100.00", days_ago=3))
    [earn] = [e for e in ledger(shop.api, m["id"]) if e["kind"] == "earn"]
    expires_at = datetime.fromisoformat(earn["expires_at"])
    assert expires_at.tzinfo is not None
    assert run_job(shop.runtime, "retail_membership.points_expiry", expires_at - timedelta(seconds=1)) == 0
    assert member(shop.api, m["id"])["points_balance"] == 100
    assert run_job(shop.runtime, "retail_membership.points_expiry", expires_at) == 1
    [expired] = [e for e in ledger(shop.api, m["id"]) if e["kind"] == "expire"]
    assert expired["points"] == -100 and datetime.fromisoformat(expired["occurred_at"]) == expires_at
    assert assert_balanced(shop.api, m["id"]) == 0
