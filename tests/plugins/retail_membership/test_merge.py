"""Merging duplicate customers (issue #19) with member cards: the card of the duplicate moves when the
survivor has none; with two cards the survivor keeps its own, the points move as audited adjustments and
the old card is retired; purchases follow the customer."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from core.models import AuditEntry
from tests.plugins.retail_membership.conftest import BASE, buy, enrol, ledger, member, sale


def merge(api, survivor_id, merged_id, who="admin"):
    return api.as_(who).post(f"/api/v1/customers/{survivor_id}/merge", json={"merged_id": merged_id})


def purchases_of(api, customer_id):
    response = api.get(f"{BASE}/purchases?customer_id={customer_id}&page_size=100")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_duplicates_card_moves_to_a_survivor_without_one(shop):
    survivor = shop.api.post("/api/v1/customers", json={"name": "Li Lei", "kind": "person"}).get_json()
    card = enrol(shop.api, shop.north, name="LI LEI")
    buy(shop.api, sale("T1", card["card_number"], total="120.00"))
    response = merge(shop.api, survivor["id"], card["customer_id"])
    assert response.status_code == 200, response.get_json()
    moved = member(shop.api, card["id"])
    assert moved["customer_id"] == survivor["id"] and moved["card_number"] == card["card_number"]
    assert [p["customer_id"] for p in purchases_of(shop.api, survivor["id"])] == [survivor["id"]]


def test_with_two_cards_the_survivor_keeps_its_own_and_gets_the_points(shop):
    keep = enrol(shop.api, shop.north, name="Li Lei")
    old = enrol(shop.api, shop.south, name="Li  Lei")
    buy(shop.api, sale("T1", keep["card_number"], total="100.00"))
    buy(shop.api, sale("S1", old["card_number"], store_code="S01", total="50.00"))
    before = shop.api.get(f"{BASE}/memberships/{keep['id']}/balance").get_json()["balance"]
    old_points = shop.api.get(f"{BASE}/memberships/{old['id']}/balance").get_json()["balance"]
    assert old_points > 0

    response = merge(shop.api, keep["customer_id"], old["customer_id"])
    assert response.status_code == 200, response.get_json()

    after = shop.api.get(f"{BASE}/memberships/{keep['id']}/balance").get_json()
    assert after["balance"] == before + old_points == after["ledger_sum"]
    credit = [e for e in ledger(shop.api, keep["id"]) if e["kind"] == "adjust"]
    assert [e["points"] for e in credit] == [old_points] and old["card_number"] in credit[0]["reason"]
    assert shop.api.get(f"{BASE}/memberships/{old['id']}").status_code == 404   # retired (deleted)
    assert {p["customer_id"] for p in purchases_of(shop.api, keep["customer_id"])} == {keep["customer_id"]}
    assert len(purchases_of(shop.api, keep["customer_id"])) == 2
    with shop.runtime.database.unit_of_work() as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.record_id == uuid.UUID(old["id"]))))
        assert "retail_membership_membership.deleted" in actions
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "retail_membership_points_entry.created")).all()
        assert sum(1 for e in entries if e.changes["kind"] == [None, "adjust"]) == 2


def test_a_deleted_survivor_card_against_a_live_one_is_refused_and_nothing_is_written(shop):
    keep = enrol(shop.api, shop.north, name="Li Lei")
    old = enrol(shop.api, shop.south, name="Li Lei")
    assert shop.api.delete(f"{BASE}/memberships/{keep['id']}").status_code == 204
    response = merge(shop.api, keep["customer_id"], old["customer_id"])
    assert response.status_code == 409 and "merged_id" in response.get_json()["errors"]["json"]
    assert member(shop.api, old["id"])["customer_id"] == old["customer_id"]
    assert shop.api.get(f"/api/v1/customers/{old['customer_id']}").get_json()["merged_into_id"] is None
