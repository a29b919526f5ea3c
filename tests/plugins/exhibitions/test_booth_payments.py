"""Issue #19 item 5: a booth paid for is a purchase on the exhibitor company's history (through the core's
interactions), so its lifecycle stage, level and analytics see it — written once, however the
participation moves afterwards."""
from __future__ import annotations

from tests.plugins.exhibitions.conftest import BASE, ok, participate


def booth(show, number, price, edition=None):
    return ok(show.api.post(f"{BASE}/booths", json={"edition_id": (edition or show.first)["id"], "number": number,
                                                    "hall": "1", "area": "18", "price": price}), 201)


def purchases(show, company_id):
    return [t for t in ok(show.api.get(f"/api/v1/customers/{company_id}/timeline?page_size=100"))
            if t["kind"] == "purchase"]


def move(show, p, to, reason=""):
    return ok(show.api.post(f"{BASE}/participations/{p['id']}/status", json={"to": to, "reason": reason}))


def test_paying_for_a_booth_writes_a_purchase_that_moves_the_company_on(show):
    company = show.companies["alpha"]
    before = ok(show.api.get(f"/api/v1/customers/{company['id']}"))
    b = booth(show, "1-001", "36000")
    p = participate(show, "alpha", show.first, status="confirmed")
    ok(show.api.post(f"{BASE}/participations/{p['id']}/booths", json={"booth_id": b["id"]}))
    assert purchases(show, company["id"]) == []
    move(show, p, "paid")
    [purchase] = purchases(show, company["id"])
    assert (purchase["amount"], purchase["source"], purchase["status"]) == ("36000.00", "exhibitions", "done")
    assert "CMF 2025" in purchase["subject"] and "1-001" in purchase["notes"]
    after = ok(show.api.get(f"/api/v1/customers/{company['id']}"))
    assert before["stage"] == "potential" and after["stage"] == "first_purchase"
    assert after["level"] == "B" and after["level"] != before["level"]   # revenue_12m 36,000 ≥ 20,000


def test_later_moves_and_a_reinstated_payment_write_no_second_purchase(show):
    company = show.companies["alpha"]
    b = booth(show, "1-002", "36000")
    p = participate(show, "alpha", show.first, status="confirmed")
    ok(show.api.post(f"{BASE}/participations/{p['id']}/booths", json={"booth_id": b["id"]}))
    for to in ("paid", "arrived", "attended"):
        move(show, p, to)
    assert len(purchases(show, company["id"])) == 1
    move(show, p, "cancelled", "withdrew")
    for to in ("applied", "confirmed"):
        move(show, p, to)
    ok(show.api.post(f"{BASE}/participations/{p['id']}/booths", json={"booth_id": b["id"]}))
    move(show, p, "paid")
    assert len(purchases(show, company["id"])) == 1
    assert ok(show.api.get(f"/api/v1/customers/{company['id']}"))["stage"] == "first_purchase"


def test_a_booth_added_after_payment_is_its_own_purchase_and_a_resold_booth_charges_the_new_buyer(show):
    a, b = booth(show, "1-003", "36000"), booth(show, "1-004", "9000")
    p = participate(show, "alpha", show.first, status="confirmed")
    ok(show.api.post(f"{BASE}/participations/{p['id']}/booths", json={"booth_id": a["id"]}))
    move(show, p, "paid")
    ok(show.api.post(f"{BASE}/participations/{p['id']}/booths", json={"booth_id": b["id"]}))
    assert sorted(x["amount"] for x in purchases(show, show.companies["alpha"]["id"])) == ["36000.00", "9000.00"]
    ok(show.api.delete(f"{BASE}/participations/{p['id']}/booths/{b['id']}"))
    q = participate(show, "beta", show.first, status="confirmed")
    ok(show.api.post(f"{BASE}/participations/{q['id']}/booths", json={"booth_id": b["id"]}))
    move(show, q, "paid")
    assert [x["amount"] for x in purchases(show, show.companies["beta"]["id"])] == ["9000.00"]


def test_paying_without_a_priced_booth_writes_no_purchase(show):
    free = booth(show, "1-005", "0")
    p = participate(show, "alpha", show.first, status="confirmed")
    ok(show.api.post(f"{BASE}/participations/{p['id']}/booths", json={"booth_id": free["id"]}))
    move(show, p, "paid")
    q = participate(show, "beta", show.first, status="paid")
    assert q["status"] == "paid"
    assert purchases(show, show.companies["alpha"]["id"]) == purchases(show, show.companies["beta"]["id"]) == []
