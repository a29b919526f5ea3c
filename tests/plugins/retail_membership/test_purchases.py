"""Members, POS purchases, refunds and tiers over REST."""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, ledger, member, sale


def test_enrolling_a_member_creates_a_person_customer_with_a_card(shop):
    m = enrol(shop.api, shop.north, name="Han Meimei", birthday="1990-05-04",
              occasions=[{"kind": "child_birthday", "name": "Xiaoming", "date": "2018-09-01"}])
    assert m["tier"] == "member" and m["points_balance"] == 0 and m["card_number"].startswith("M")
    customer = shop.api.get(f"/api/v1/customers/{m['customer_id']}").get_json()
    assert customer["kind"] == "person" and customer["name"] == "Han Meimei"
    occasions = shop.api.get(f"{BASE}/memberships/{m['id']}/occasions").get_json()
    assert [(o["kind"], o["month"], o["day"]) for o in occasions] == [("child_birthday", 9, 1)]


def test_card_numbers_are_unique(shop):
    enrol(shop.api, shop.north, card_number="CARD-0001")
    response = shop.api.post(f"{BASE}/memberships", json={"customer": {"name": "Copy"}, "card_number": "CARD-0001",
                                                          "home_store_id": shop.north["id"]})
    assert response.status_code == 409 and "card_number" in response.get_json()["errors"]["json"]


def test_a_purchase_earns_points_and_reaches_the_customer_timeline(shop):
    m = enrol(shop.api, shop.north)
    p = buy(shop.api, sale("T1", m["card_number"], total="250.00", lines=[
        {"sku": "JKT-1", "category": "jackets", "quantity": 1, "unit_price": "200.00"},
        {"sku": "SCK-9", "category": "socks", "quantity": 2, "unit_price": "25.00"}]))
    assert p["points_earned"] == 250 and [l["amount"] for l in p["lines"]] == ["200.00", "50.00"]
    after = member(shop.api, m["id"])
    assert after["points_balance"] == 250 and after["spend_total"] == "250.00" and after["purchase_count"] == 1
    timeline = shop.api.get(f"/api/v1/customers/{m['customer_id']}/timeline").get_json()
    assert [(t["kind"], t["amount"]) for t in timeline] == [("purchase", "250.00")]
    customer = shop.api.get(f"/api/v1/customers/{m['customer_id']}").get_json()
    assert customer["stage"] == "first_purchase"
    buy(shop.api, sale("T2", m["card_number"], total="10.00"))
    assert shop.api.get(f"/api/v1/customers/{m['customer_id']}").get_json()["stage"] == "repeat"


def test_lines_must_add_up_to_the_total(shop):
    m = enrol(shop.api, shop.north)
    response = shop.api.post(f"{BASE}/purchases", json=sale("T1", m["card_number"], total="99.00", lines=[
        {"sku": "A", "category": "c", "quantity": 1, "unit_price": "100.00"}], discount="0"))
    assert response.status_code == 422 and "total" in response.get_json()["errors"]["json"]
    assert member(shop.api, m["id"])["purchase_count"] == 0


def test_a_retried_purchase_is_not_counted_twice(shop):
    m = enrol(shop.api, shop.north)
    first = buy(shop.api, sale("T1", m["card_number"], total="80.00"))
    again = buy(shop.api, sale("T1", m["card_number"], total="80.00"), status=200)
    assert again["id"] == first["id"]
    assert member(shop.api, m["id"])["points_balance"] == 80
    clash = shop.api.post(f"{BASE}/purchases", json=sale("T1", m["card_number"], total="81.00"))
    assert clash.status_code == 409


def test_members_move_up_tiers_with_spend_and_down_with_refunds(shop):
    m = enrol(shop.api, shop.north)
    big = buy(shop.api, sale("T1", m["card_number"], total="2500.00"))
    assert member(shop.api, m["id"])["tier"] == "silver"
    # the next purchase earns at the silver multiplier (1.2)
    assert buy(shop.api, sale("T2", m["card_number"], total="100.00"))["points_earned"] == 120
    refund = shop.api.post(f"{BASE}/refunds", json={"purchase_id": big["id"], "pos_refund_id": "R1",
                                                   "amount": "1000.00"})
    assert refund.status_code == 201, refund.get_json()
    assert refund.get_json()["points_reversed"] == 1000
    after = member(shop.api, m["id"])
    assert after["tier"] == "member" and after["spend_total"] == "1600.00"
    history = shop.api.get(f"{BASE}/memberships/{m['id']}/tier-history").get_json()
    assert [(h["from_state"], h["to_state"], h["trigger"]) for h in history] == [
        ("member", "silver", "automatic"), ("silver", "member", "automatic")]


def test_refunds_reverse_points_and_the_timeline_shows_the_net_amount(shop):
    m = enrol(shop.api, shop.north)
    p = buy(shop.api, sale("T1", m["card_number"], total="300.00"))
    first = shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1", "amount": "100.00"})
    assert first.status_code == 201 and first.get_json()["points_reversed"] == 100
    # the same refund again changes nothing
    assert shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1",
                                                  "amount": "100.00"}).status_code == 200
    rest = shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R2"})
    assert rest.status_code == 201 and rest.get_json()["amount"] == "200.00"
    # the second refund reverses only what the first did not: 300 earned - 100 already reversed
    assert (rest.get_json()["points_reversed"], rest.get_json()["points_unrecovered"]) == (200, 0)
    too_much = shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R3", "amount": "1"})
    assert too_much.status_code == 422 and "amount" in too_much.get_json()["errors"]["json"]
    after = member(shop.api, m["id"])
    assert after["points_balance"] == 0 and after["spend_total"] == "0.00"
    timeline = shop.api.get(f"/api/v1/customers/{m['customer_id']}/timeline").get_json()
    assert timeline[0]["amount"] == "0.00"
    entries = ledger(shop.api, m["id"])
    assert sorted((e["kind"], e["points"]) for e in entries) == [("earn", 300), ("reverse", -200), ("reverse", -100)]


def test_a_refund_id_reused_with_another_amount_is_a_conflict_not_silently_the_first(shop):
    m = enrol(shop.api, shop.north)
    p = buy(shop.api, sale("T1", m["card_number"], total="300.00"))
    assert shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1",
                                                  "amount": "100.00"}).status_code == 201
    other = shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1", "amount": "150.00"})
    assert other.status_code == 409 and "pos_refund_id" in other.get_json()["errors"]["json"]
    # the same refund retried without an amount is still the first one
    assert shop.api.post(f"{BASE}/refunds", json={"purchase_id": p["id"], "pos_refund_id": "R1"}).status_code == 200
    assert member(shop.api, m["id"])["spend_total"] == "200.00"


def test_a_back_dated_sale_moves_the_first_purchase_date_back_and_not_the_last(shop):
    from datetime import datetime

    m = enrol(shop.api, shop.north)
    stamps = {"mid": "2026-06-01T10:00:00+00:00", "early": "2026-03-01T10:00:00+00:00",
              "late": "2026-09-01T10:00:00+00:00"}
    buy(shop.api, sale("T1", m["card_number"], occurred_at=stamps["mid"]))
    buy(shop.api, sale("T2", m["card_number"], occurred_at=stamps["early"]))  # sent late by the till

    def dates():
        body = member(shop.api, m["id"])
        return [datetime.fromisoformat(body[k]) for k in ("first_purchase_at", "last_purchase_at")]

    assert dates() == [datetime.fromisoformat(stamps["early"]), datetime.fromisoformat(stamps["mid"])]
    buy(shop.api, sale("T3", m["card_number"], occurred_at=stamps["late"]))
    assert dates() == [datetime.fromisoformat(stamps["early"]), datetime.fromisoformat(stamps["late"])]


def test_on_the_rolling_basis_a_sale_counts_for_365_days(shop):
    from dataclasses import replace

    from plugins.retail_membership import program

    settings = shop.runtime.settings
    program.override(settings, replace(program.program(settings), basis="rolling_12m"))
    try:
        m = enrol(shop.api, shop.north)
        buy(shop.api, sale("OLD", m["card_number"], total="2500.00", days_ago=366))  # outside the window
        assert member(shop.api, m["id"])["tier"] == "member"
        buy(shop.api, sale("NEW", m["card_number"], total="2500.00", days_ago=364))
        after = member(shop.api, m["id"])
        assert after["tier"] == "silver" and after["spend_total"] == "5000.00"  # the total still counts both
        history = shop.api.get(f"{BASE}/memberships/{m['id']}/tier-history").get_json()
        assert history[-1]["reason"] == "rolling_12m spend 2500.00"
    finally:
        program.override(settings, None)
