"""Issue #19, the retail items under "Wrong": expired points spendable until the job ran, a manager's
tier lost on the next sale, occasion reminders that skipped days, a statement whose running balance
did not follow its order, POS totals turned into discounts, refunded members counted active, and
dates accepted without sense. Each test failed before its fix."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, ledger, member, sale, when
from tests.plugins.retail_membership.test_points import run_job


def line(amount: str, category: str = "shirts") -> list[dict]:
    return [{"sku": "SKU-1", "category": category, "quantity": 1, "unit_price": amount}]


def errors(response) -> dict:
    return response.get_json()["errors"]["json"]


# --- 1. expiry holds at the moment of redemption ------------------------------------------------------

def test_points_past_their_expiry_cannot_be_redeemed_before_the_expiry_job_ran(shop):
    m = enrol(shop.api, shop.north)
    buy(shop.api, sale("OLD", m["card_number"], total="300.00", days_ago=370, lines=line("300.00")))  # expired 5 days ago
    buy(shop.api, sale("NEW", m["card_number"], total="200.00", days_ago=10, lines=line("200.00")))
    # the balance shown already leaves the expired lot out, though no job has run
    assert member(shop.api, m["id"])["points_balance"] == 200
    balance = shop.api.get(f"{BASE}/memberships/{m['id']}/balance").get_json()
    assert balance["balance"] == 200 and balance["ledger_sum"] == 500
    body = shop.api.graphql('query($id: ID!) { retailMembership(id: $id) { pointsBalance } }', {"id": m["id"]})
    assert body["data"]["retailMembership"]["pointsBalance"] == 200, body
    url = f"{BASE}/memberships/{m['id']}/redemptions"
    refused = shop.api.post(url, json={"points": 400, "reason": "voucher"})
    assert refused.status_code == 422 and errors(refused)["points"] == ["Only 200 points available."]
    assert shop.api.post(url, json={"points": 150, "reason": "voucher"}).status_code == 201
    # the redemption wrote the expiry first, dated when the lot expired; the job finds nothing left
    entries = ledger(shop.api, m["id"])
    [expired] = [e for e in entries if e["kind"] == "expire"]
    [old] = [e for e in entries if e["kind"] == "earn" and e["points"] == 300]
    assert expired["points"] == -300 and expired["occurred_at"] == old["expires_at"]
    assert run_job(shop.runtime, "retail_membership.points_expiry") == 0
    after = shop.api.get(f"{BASE}/memberships/{m['id']}/balance").get_json()
    assert after["balance"] == after["ledger_sum"] == 50


def test_a_negative_adjustment_cannot_take_expired_points_either(shop):
    m = enrol(shop.api, shop.north)
    buy(shop.api, sale("OLD", m["card_number"], total="300.00", days_ago=370, lines=line("300.00")))
    response = shop.api.post(f"{BASE}/memberships/{m['id']}/adjustments", json={"points": -100, "reason": "fix"})
    assert response.status_code == 422 and errors(response)["points"] == ["Only 0 points available."]


# --- 2. a manual tier holds until it expires or is released -------------------------------------------

def test_a_manual_tier_holds_through_sales_and_the_tick_until_released(shop):
    m = enrol(shop.api, shop.north)
    placed = shop.api.as_("manager").post(f"{BASE}/memberships/{m['id']}/tier",
                                          json={"tier": "gold", "reason": "VIP friend"})
    assert placed.status_code == 200, placed.get_json()
    assert (placed.get_json()["tier"], placed.get_json()["tier_pinned"]) == ("gold", True)
    buy(shop.api, sale("T1", m["card_number"], total="10.00", days_ago=0, lines=line("10.00")))
    assert member(shop.api, m["id"])["tier"] == "gold"
    assert run_job(shop.runtime, "retail_membership.retier") == 0
    history = shop.api.get(f"{BASE}/memberships/{m['id']}/tier-history").get_json()
    assert [(h["from_state"], h["to_state"], h["trigger"]) for h in history] == [("member", "gold", "manual")]
    # only managers and admins release; releasing lets the spend decide again, at once
    assert shop.api.as_("staff_north").delete(f"{BASE}/memberships/{m['id']}/tier").status_code == 403
    released = shop.api.as_("manager").delete(f"{BASE}/memberships/{m['id']}/tier")
    assert released.status_code == 200, released.get_json()
    assert (released.get_json()["tier"], released.get_json()["tier_pinned"]) == ("member", False)
    history = shop.api.get(f"{BASE}/memberships/{m['id']}/tier-history").get_json()
    assert [(h["to_state"], h["trigger"]) for h in history][-1] == ("member", "automatic")
    audit = shop.api.get(f"/api/v1/audit?record_type=retail_membership_membership&record_id={m['id']}").get_json()
    assert [a["changes"]["tier_pinned"] for a in audit if "tier_pinned" in a["changes"]] == [[True, False], [False, True]]


def test_a_manual_tier_with_an_end_lapses_then_and_the_spend_decides_again(shop):
    m = enrol(shop.api, shop.north)
    until = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    placed = shop.api.as_("manager").post(f"{BASE}/memberships/{m['id']}/tier", json={
        "tier": "gold", "reason": "launch party", "until": until.isoformat()})
    assert placed.status_code == 200, placed.get_json()
    assert datetime.fromisoformat(placed.get_json()["tier_pinned_until"]) == until
    past = shop.api.as_("manager").post(f"{BASE}/memberships/{m['id']}/tier", json={
        "tier": "gold", "reason": "x", "until": when(1)})
    assert past.status_code == 422 and "until" in errors(past)
    buy(shop.api, sale("T1", m["card_number"], total="10.00", days_ago=0, lines=line("10.00")))
    assert member(shop.api, m["id"])["tier"] == "gold"
    assert run_job(shop.runtime, "retail_membership.retier", until - timedelta(seconds=1)) == 0
    assert run_job(shop.runtime, "retail_membership.retier", until + timedelta(days=1)) == 1
    after = member(shop.api, m["id"])
    assert (after["tier"], after["tier_pinned"], after["tier_pinned_until"]) == ("member", False, None)


def test_graphql_releases_a_manual_tier(shop):
    m = enrol(shop.api, shop.north)
    set_tier = """mutation($id: ID!) { setRetailMembershipTier(membershipId: $id, input: {tier: GOLD, reason: "VIP"})
      { tier tierPinned } }"""
    body = shop.api.as_("manager").graphql(set_tier, {"id": m["id"]})
    assert body["data"]["setRetailMembershipTier"] == {"tier": "GOLD", "tierPinned": True}, body
    release = "mutation($id: ID!) { releaseRetailMembershipTier(membershipId: $id) { tier tierPinned tierPinnedUntil } }"
    body = shop.api.as_("manager").graphql(release, {"id": m["id"]})
    assert body["data"]["releaseRetailMembershipTier"] == {"tier": "MEMBER", "tierPinned": False,
                                                            "tierPinnedUntil": None}, body


# --- 3. occasion reminders cover the whole lead window, once ------------------------------------------

def _occasion_titles(api, who="staff_north"):
    notes = api.as_(who).get("/api/v1/notifications?page_size=100").get_json()
    return sorted(n["title"] for n in notes if n["kind"] == "retail_membership.occasion")


def test_every_occasion_within_the_lead_window_is_announced_once(shop):
    today = datetime(2026, 12, 3, 8, tzinfo=timezone.utc)
    enrol(shop.api, shop.north, name="Today Tina", birthday="1990-12-03")
    enrol(shop.api, shop.north, name="Soon Sara", birthday="1991-12-05")
    enrol(shop.api, shop.north, name="Proud Dad",
          occasions=[{"kind": "child_birthday", "name": "Tom", "date": "2019-12-06"}])
    enrol(shop.api, shop.north, name="Later Lu", birthday="1992-12-07")
    run_job(shop.runtime, "retail_membership.occasions", today)
    assert _occasion_titles(shop.api) == ["Proud Dad: Tom's child's birthday on 12-06",
                                          "Soon Sara's birthday on 12-05", "Today Tina's birthday on 12-03"]
    # a rerun announces nothing again; an occasion added inside the window is announced on the next run
    assert run_job(shop.runtime, "retail_membership.occasions", today) == 0
    enrol(shop.api, shop.north, name="Late Li", birthday="1993-12-04")
    assert run_job(shop.runtime, "retail_membership.occasions", today + timedelta(hours=1)) == 1
    # the tick missed a day: the next one announces what came into the window, nothing twice
    run_job(shop.runtime, "retail_membership.occasions", today + timedelta(days=2))
    titles = _occasion_titles(shop.api)
    assert "Later Lu's birthday on 12-07" in titles and len(titles) == len(set(titles)) == 5
    with shop.runtime.database.unit_of_work():
        from sqlalchemy import func, select

        from core import db
        from plugins.retail_membership.models import RetailOccasionNotice
        assert db.session().scalar(select(func.count()).select_from(RetailOccasionNotice)) == 5


def test_an_occasion_early_in_january_is_announced_at_the_end_of_december_for_the_new_year(shop):
    enrol(shop.api, shop.north, name="New Year Nan", birthday="1990-01-01")
    run_job(shop.runtime, "retail_membership.occasions", datetime(2026, 12, 30, 8, tzinfo=timezone.utc))
    run_job(shop.runtime, "retail_membership.occasions", datetime(2027, 1, 1, 8, tzinfo=timezone.utc))
    assert _occasion_titles(shop.api) == ["New Year Nan's birthday on 01-01"]
    notes = shop.api.as_("staff_north").get("/api/v1/notifications?page_size=100").get_json()
    assert [n["data"]["date"] for n in notes if n["kind"] == "retail_membership.occasion"] == ["2027-01-01"]


# --- 4. the statement's running balance follows its order ---------------------------------------------

def test_a_back_dated_sale_keeps_the_running_balance_in_statement_order(shop):
    m = enrol(shop.api, shop.north)
    buy(shop.api, sale("T1", m["card_number"], total="200.00", days_ago=10, lines=line("200.00")))
    assert shop.api.post(f"{BASE}/memberships/{m['id']}/redemptions", json={"points": 45}).status_code == 201
    buy(shop.api, sale("T0", m["card_number"], total="100.00", days_ago=5, lines=line("100.00")))  # back-dated
    entries = ledger(shop.api, m["id"])
    assert [(e["kind"], e["points"], e["balance_after"]) for e in entries] == [
        ("redeem", -45, 255), ("earn", 100, 300), ("earn", 200, 200)]
    oldest_first = shop.api.get(f"{BASE}/memberships/{m['id']}/ledger?sort=occurred_at").get_json()
    assert [e["balance_after"] for e in oldest_first] == [200, 300, 255]
    by_balance = shop.api.get(f"{BASE}/memberships/{m['id']}/ledger?sort=-balance_after").get_json()
    assert [e["balance_after"] for e in by_balance] == [300, 255, 200]
    # a page read with a cursor carries the running balance of the whole statement, not of the page
    first = shop.api.get(f"{BASE}/memberships/{m['id']}/ledger?page_size=1")
    assert first.get_json()[0]["balance_after"] == 255
    query = """query($id: ID!, $after: String) { retailMembership(id: $id) { ledger(first: 1, after: $after) {
      edges { cursor node { points balanceAfter } } } } }"""
    body = shop.api.graphql(query, {"id": m["id"], "after": None})
    edge = body["data"]["retailMembership"]["ledger"]["edges"][0]
    assert edge["node"] == {"points": -45, "balanceAfter": 255}, body
    body = shop.api.graphql(query, {"id": m["id"], "after": edge["cursor"]})
    assert body["data"]["retailMembership"]["ledger"]["edges"][0]["node"] == {"points": 100, "balanceAfter": 300}
    customers = """query { customers(first: 5) { edges { node { membership { ledger(first: 3) {
      edges { node { balanceAfter } } } } } } } }"""
    body = shop.api.graphql(customers)
    ledgers = [e["node"]["membership"]["ledger"]["edges"] for e in body["data"]["customers"]["edges"]
               if e["node"]["membership"]]
    assert [[n["node"]["balanceAfter"] for n in edges] for edges in ledgers] == [[255, 300, 200]], body


def test_a_back_dated_refund_takes_back_no_points_the_statement_shows_spent_by_then(shop):
    m = enrol(shop.api, shop.north)
    a = buy(shop.api, sale("A", m["card_number"], total="100.00", days_ago=10, lines=line("100.00")))
    assert shop.api.post(f"{BASE}/memberships/{m['id']}/redemptions", json={"points": 100}).status_code == 201
    # (a minute ahead of the clock, within the POS skew allowed: after the redemption, to the microsecond)
    buy(shop.api, sale("B", m["card_number"], total="100.00", days_ago=-1 / 1440, lines=line("100.00")))
    # refunded as of 5 days ago: by the statement, A's points were redeemed after that, so the reversal
    # would take the running balance below zero at the redemption; they are unrecovered instead
    refund = shop.api.post(f"{BASE}/refunds", json={"purchase_id": a["id"], "pos_refund_id": "R1",
                                                    "occurred_at": when(5)})
    assert refund.status_code == 201, refund.get_json()
    assert (refund.get_json()["points_reversed"], refund.get_json()["points_unrecovered"]) == (0, 100)
    entries = ledger(shop.api, m["id"])
    assert all(e["balance_after"] >= 0 for e in entries), entries
    assert member(shop.api, m["id"])["points_balance"] == 100


# --- 5. POS totals ------------------------------------------------------------------------------------

def test_a_total_below_the_lines_is_refused_not_turned_into_a_discount(shop):
    m = enrol(shop.api, shop.north)
    response = shop.api.post(f"{BASE}/purchases", json=sale("T1", m["card_number"], total="900.00",
                                                            lines=line("1000.00")))
    assert response.status_code == 422, response.get_json()
    assert errors(response)["total"] == ["The lines add up to 1000.00, not 900.00 (send a discount as `discount`)."]
    assert member(shop.api, m["id"])["purchase_count"] == 0
    # with the discount sent, it is recorded
    ok = buy(shop.api, sale("T1", m["card_number"], total="900.00", lines=line("1000.00"), discount="100.00"))
    assert (ok["subtotal"], ok["discount"], ok["total"]) == ("1000.00", "100.00", "900.00")


def test_a_total_above_the_lines_names_both_amounts(shop):
    m = enrol(shop.api, shop.north)
    response = shop.api.post(f"{BASE}/purchases", json=sale("T1", m["card_number"], total="1100.00",
                                                            lines=line("1000.00")))
    assert response.status_code == 422
    assert errors(response)["total"] == ["The lines add up to 1000.00, not 1100.00 (send a discount as `discount`)."]
    with_discount = shop.api.post(f"{BASE}/purchases", json=sale("T1", m["card_number"], total="1100.00",
                                                                 lines=line("1000.00"), discount="50.00"))
    assert errors(with_discount)["total"] == [
        "The lines add up to 1000.00; minus the discount of 50.00 that is 950.00, not 1100.00."]


# --- 6. active members --------------------------------------------------------------------------------

def test_a_member_whose_only_sale_was_fully_refunded_is_not_active(shop):
    refunded = enrol(shop.api, shop.north, name="Refunded Ren")
    partly = enrol(shop.api, shop.north, name="Partly Pan")
    p = buy(shop.api, sale("T1", refunded["card_number"], total="100.00", lines=line("100.00")))
    q = buy(shop.api, sale("T2", partly["card_number"], total="100.00", lines=line("100.00")))
    assert shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1"}).status_code == 201
    assert shop.api.post(f"{BASE}/refunds", json={"purchase_id": q["id"], "pos_refund_id": "R2",
                                                  "amount": "40.00"}).status_code == 201
    rows = shop.api.get("/api/v1/metrics/retail_membership_active_members").get_json()["rows"]
    assert rows[0]["value"] == 1


# --- 7. dates and lines that make no sense ------------------------------------------------------------

def test_a_purchase_in_the_future_is_refused_naming_occurred_at(shop):
    m = enrol(shop.api, shop.north)
    response = shop.api.post(f"{BASE}/purchases", json=sale("T1", m["card_number"], total="10.00",
                                                            days_ago=-3, lines=line("10.00")))
    assert response.status_code == 422 and "occurred_at" in errors(response), response.get_json()
    batch = shop.api.post(f"{BASE}/purchases/batch", json={"purchases": [
        sale("T2", m["card_number"], total="10.00", lines=line("10.00")),
        sale("T3", m["card_number"], total="10.00", days_ago=-3, lines=line("10.00"))]})
    assert batch.status_code == 422 and "purchases.1.occurred_at" in errors(batch), batch.get_json()
    assert member(shop.api, m["id"])["purchase_count"] == 0


def test_a_purchase_without_lines_is_refused_naming_lines(shop):
    m = enrol(shop.api, shop.north)
    body = sale("T1", m["card_number"], total="10.00")
    body["lines"] = []
    response = shop.api.post(f"{BASE}/purchases", json=body)
    assert response.status_code == 422 and "lines" in errors(response), response.get_json()
    del body["lines"]
    response = shop.api.post(f"{BASE}/purchases", json=body)
    assert response.status_code == 422 and "lines" in errors(response), response.get_json()


def test_a_refund_dated_before_its_sale_or_in_the_future_is_refused(shop):
    m = enrol(shop.api, shop.north)
    p = buy(shop.api, sale("T1", m["card_number"], total="100.00", days_ago=2, lines=line("100.00")))
    before = shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1",
                                                    "occurred_at": when(3)})
    assert before.status_code == 422 and "occurred_at" in errors(before), before.get_json()
    future = shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1",
                                                    "occurred_at": when(-3)})
    assert future.status_code == 422 and "occurred_at" in errors(future), future.get_json()
    assert shop.api.get(f"{BASE}/refunds").get_json() == []
    ok = shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1", "occurred_at": when(1)})
    assert ok.status_code == 201, ok.get_json()
