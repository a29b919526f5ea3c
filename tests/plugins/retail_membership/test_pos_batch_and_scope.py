"""The POS batch upload (idempotent) and what store staff may see and do."""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, ledger, member, sale


def year_of_sales(card, prefix="Y", n=24, store_code="N01"):
    return [sale(f"{prefix}{i:03d}", card, store_code=store_code, total=f"{150 + i * 10}.00", days_ago=360 - i * 15,
                 lines=[{"sku": f"SKU{i % 5}", "category": ["shirts", "shoes", "bags"][i % 3], "quantity": 1,
                         "unit_price": f"{150 + i * 10}.00"}])
            for i in range(n)]


def snapshot(api, m):
    after = member(api, m["id"])
    history = api.get(f"{BASE}/memberships/{m['id']}/tier-history").get_json()
    return (after["points_balance"], after["spend_total"], after["purchase_count"], after["tier"],
            sorted((e["kind"], e["points"]) for e in ledger(api, m["id"])), [h["to_state"] for h in history],
            len(api.get(f"/api/v1/customers/{m['customer_id']}/timeline?page_size=100").get_json()))


def test_uploading_a_year_twice_gives_the_same_result(shop):
    a = enrol(shop.api, shop.north, name="A")
    b = enrol(shop.api, shop.south, name="B")
    batch = {"purchases": year_of_sales(a["card_number"]) + year_of_sales(b["card_number"], "Z", store_code="S01")}
    first = shop.api.post(f"{BASE}/purchases/batch", json=batch)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["received"], body["created"], body["duplicates"]) == (48, 48, 0)
    once = (snapshot(shop.api, a), snapshot(shop.api, b))
    assert once[0][3] == "silver" and once[0][2] == 24
    second = shop.api.post(f"{BASE}/purchases/batch", json=batch).get_json()
    assert (second["created"], second["duplicates"]) == (0, 48)
    assert [i["purchase_id"] for i in second["items"]] == [i["purchase_id"] for i in body["items"]]
    assert (snapshot(shop.api, a), snapshot(shop.api, b)) == once


def test_a_bad_row_rejects_the_whole_batch_naming_it(shop):
    a = enrol(shop.api, shop.north)
    rows = year_of_sales(a["card_number"], n=3)
    rows[2]["card_number"] = "NO-SUCH-CARD"
    response = shop.api.post(f"{BASE}/purchases/batch", json={"purchases": rows})
    assert response.status_code == 422
    assert "purchases.2.card_number" in response.get_json()["errors"]["json"]
    assert member(shop.api, a["id"])["purchase_count"] == 0
    rows[2]["total"] = "abc"
    response = shop.api.post(f"{BASE}/purchases/batch", json={"purchases": rows})
    assert response.status_code == 422 and "purchases.2.total" in response.get_json()["errors"]["json"]


def test_store_staff_see_their_stores_members_only(shop):
    north_member = enrol(shop.api, shop.north, name="Northerner", who="staff_north")
    south_member = enrol(shop.api, shop.south, name="Southerner", who="staff_south")
    north = shop.api.as_("staff_north")
    assert [m["name"] for m in north.get(f"{BASE}/memberships").get_json()] == ["Northerner"]
    assert north.get(f"{BASE}/memberships/{south_member['id']}").status_code == 404
    assert north.get(f"/api/v1/customers/{south_member['customer_id']}").status_code == 404
    assert north.get(f"/api/v1/customers/{north_member['customer_id']}").status_code == 200
    assert north.post(f"{BASE}/memberships/{south_member['id']}/redemptions", json={"points": 1}).status_code == 404
    # a rep sees no member they do not own
    assert shop.api.as_("rep").get(f"{BASE}/memberships").get_json() == []


def test_staff_enrol_and_sell_only_at_their_store(shop):
    refused = shop.api.as_("staff_north").post(f"{BASE}/memberships", json={
        "customer": {"name": "X"}, "home_store_id": shop.south["id"]})
    assert refused.status_code == 422 and "home_store_id" in refused.get_json()["errors"]["json"]
    traveller = enrol(shop.api, shop.south, name="Traveller")
    # a southern member shopping in the north: northern staff record it and then see the customer
    buy(shop.api, sale("T1", traveller["card_number"], store_code="N01", total="20.00"), who="staff_north")
    assert shop.api.as_("staff_north").get(f"/api/v1/customers/{traveller['customer_id']}").status_code == 200
    response = shop.api.as_("staff_north").post(f"{BASE}/purchases", json=sale("T2", traveller["card_number"],
                                                                               store_code="S01"))
    assert response.status_code == 403
    assert shop.api.as_("rep").post(f"{BASE}/purchases", json=sale("T3", traveller["card_number"])).status_code == 403


def test_only_admins_manage_stores(shop):
    assert shop.api.as_("manager").post(f"{BASE}/stores", json={"code": "X", "name": "X"}).status_code == 403
    assert shop.api.as_("staff_north").get(f"{BASE}/stores").status_code == 200
    store = shop.api.get(f"{BASE}/stores/{shop.north['id']}").get_json()
    stale = shop.api.patch(f"{BASE}/stores/{store['id']}", json={"version": store["version"] + 1, "name": "Y"})
    assert stale.status_code == 409
    assert shop.api.delete(f"{BASE}/stores/{store['id']}").status_code == 204
    assert shop.api.get(f"{BASE}/stores/{store['id']}").status_code == 404
    assert shop.api.post(f"{BASE}/stores/{store['id']}/restore").status_code == 200
    staff = shop.api.get(f"{BASE}/stores/{store['id']}/staff").get_json()
    assert [s["email"] for s in staff] == ["nina@shop.example"]


def test_every_write_is_audited_with_an_event(shop):
    m = enrol(shop.api, shop.north)
    buy(shop.api, sale("T1", m["card_number"], total="2100.00"))
    from sqlalchemy import select

    from core.models.audit import OutboxEvent

    with shop.runtime.database.unit_of_work() as sess:
        names = set(sess.scalars(select(OutboxEvent.name)))
    assert {"retail_membership_store.created", "retail_membership_membership.created",
            "retail_membership_purchase.created", "retail_membership_membership.tier_changed",
            "interaction.created"} <= names


def test_a_batch_reusing_a_pos_id_with_another_total_names_the_row_and_writes_nothing(shop):
    a = enrol(shop.api, shop.north)
    rows = [sale("T1", a["card_number"], total="10.00", days_ago=2), sale("T1", a["card_number"], total="20.00", days_ago=1)]
    response = shop.api.post(f"{BASE}/purchases/batch", json={"purchases": rows})
    assert response.status_code == 409
    assert "purchases.1.pos_transaction_id" in response.get_json()["errors"]["json"]
    assert member(shop.api, a["id"])["purchase_count"] == 0
    buy(shop.api, sale("T2", a["card_number"], total="10.00"))
    response = shop.api.post(f"{BASE}/purchases/batch", json={"purchases": [
        sale("T3", a["card_number"], total="5.00"), sale("T2", a["card_number"], total="99.00")]})
    assert response.status_code == 409
    assert "purchases.1.pos_transaction_id" in response.get_json()["errors"]["json"]
    assert member(shop.api, a["id"])["purchase_count"] == 1
