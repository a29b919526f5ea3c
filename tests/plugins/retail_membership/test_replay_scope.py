"""A POS retry (same store and POS transaction id) is answered only to someone who may read the sale.

POS ids are guessable (``<card>-<seq>``), and managers may record sales at every store. Before this
was fixed, the retry was looked up before the member: a manager of another team got a 409 naming the
stored total, then the whole purchase (customer, lines, points) by sending that total again.

What an out-of-scope caller gets, and why it leaks nothing:

- An unknown POS id creates a sale for the member named in the request, and a member the caller cannot
  see is a 422 on ``card_number``/``membership_id`` ("No member with this card") — nobody records a
  sale for a member outside their scope. So the member is resolved (scope-checked) *first*: a retry
  naming the other team's member gets exactly that 422, whether or not the POS id is taken and whatever
  the total. The answer is the same as for a fresh POS id, so it tells nothing about the stored sale.
- A caller who names a member of their own while the POS id is taken at that store by another member's
  sale cannot get the first sale back (it is not theirs) and cannot have a second one (a POS id is
  unique per store): a 409 "already used at this store" on ``pos_transaction_id`` that names neither
  the total, nor the member, nor anything else of the stored sale — the same 409 an in-scope caller
  gets for a POS id reused for another member. Only the fact that the till issued that id is told,
  which the caller, selling at that till, has a right to know.
- A retry by someone who may read the sale is answered as before: 200 with the first purchase, or a
  409 naming the stored total if the total differs.
"""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE, buy, member, sale


def owned_member(shop, owner, name, store):
    customer = shop.api.post("/api/v1/customers", json={"kind": "person", "name": name,
                                                         "owner_id": str(owner.id)}).get_json()
    response = shop.api.post(f"{BASE}/memberships", json={"customer_id": customer["id"],
                                                          "home_store_id": store["id"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def east_sale(shop):
    """A sale of an East member (owned by the East rep), recorded by the East manager."""
    east = owned_member(shop, shop.people.rep, "Eastern Member", shop.north)
    first = buy(shop.api, sale(f"{east['card_number']}-1", east["card_number"], total="100.00",
                               lines=[{"sku": "SECRET-SKU", "category": "shirts", "quantity": 1,
                                       "unit_price": "100.00"}]), who="manager")
    return east, first


def test_a_retry_of_another_teams_sale_is_answered_like_an_unknown_pos_id(shop):
    east, first = east_sale(shop)
    west = shop.api.as_("other_manager")
    assert west.get(f"{BASE}/memberships/{east['id']}").status_code == 404
    assert west.get(f"{BASE}/purchases/{first['id']}").status_code == 404
    unknown = west.post(f"{BASE}/purchases", json=sale("NEVER-USED", east["card_number"], total="999.00"))
    assert unknown.status_code == 422
    for total in ("999.00", "100.00"):  # a wrong total (was a 409 naming 100.00), the right one (was the sale)
        response = west.post(f"{BASE}/purchases", json=sale(first["pos_transaction_id"], east["card_number"],
                                                            total=total))
        assert (response.status_code, response.get_json()) == (unknown.status_code, unknown.get_json())
        assert "100.00" not in response.get_data(as_text=True)
        assert "SECRET-SKU" not in response.get_data(as_text=True)
    batch = west.post(f"{BASE}/purchases/batch", json={"purchases": [
        sale(first["pos_transaction_id"], east["card_number"], total="100.00")]})
    assert batch.status_code == 422 and "purchases.0.card_number" in batch.get_json()["errors"]["json"]
    assert "100.00" not in batch.get_data(as_text=True)
    # the owner's side still replays
    again = shop.api.as_("manager").post(f"{BASE}/purchases", json=sale(first["pos_transaction_id"],
                                                                        east["card_number"], total="100.00"))
    assert again.status_code == 200 and again.get_json()["id"] == first["id"]
    conflict = shop.api.as_("manager").post(f"{BASE}/purchases", json=sale(first["pos_transaction_id"],
                                                                           east["card_number"], total="1.00"))
    assert conflict.status_code == 409 and "100.00" in conflict.get_data(as_text=True)
    assert member(shop.api, east["id"])["purchase_count"] == 1


def test_a_colliding_pos_id_for_ones_own_member_reveals_nothing_of_the_other_sale(shop):
    east, first = east_sale(shop)
    west_member = owned_member(shop, shop.people.other_rep, "Western Member", shop.north)
    response = shop.api.as_("other_manager").post(f"{BASE}/purchases", json=sale(
        first["pos_transaction_id"], west_member["card_number"], total="100.00"))
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "pos_transaction_id" in response.get_json()["errors"]["json"]
    # (the other member's card is in the POS id the caller sent, so it is no news to them)
    for secret in (first["id"], "100.00", "SECRET-SKU", east["customer_id"], east["id"], "Eastern"):
        assert secret not in body
    assert member(shop.api, west_member["id"])["purchase_count"] == 0
    # the same 409 for a caller who could see the other sale: a POS id reused for another member
    in_scope = shop.api.post(f"{BASE}/purchases", json=sale(first["pos_transaction_id"],
                                                             west_member["card_number"], total="100.00"))
    assert (in_scope.status_code, in_scope.get_json()) == (409, response.get_json())


def test_the_graphql_retry_of_another_teams_sale_reveals_nothing(shop):
    east, first = east_sale(shop)
    mutation = """mutation($p: RetailPurchaseCreateInput!) {
        recordRetailPurchase(input: $p) { id total pointsEarned lines { sku } } }"""

    def attempt(pos_id, total):
        return shop.api.as_("other_manager").graphql(mutation, {"p": {
            "posTransactionId": pos_id, "storeCode": "N01", "cardNumber": east["card_number"],
            "occurredAt": first["occurred_at"], "total": total,
            "lines": [{"sku": "S", "category": "shirts", "quantity": 1, "unitPrice": total}]}})

    unknown = attempt("NEVER-USED", "999.00")
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for total in ("999.00", "100.00"):
        body = attempt(first["pos_transaction_id"], total)
        assert body["data"] == {"recordRetailPurchase": None}
        assert body["errors"][0]["extensions"] == unknown["errors"][0]["extensions"]
        assert body["errors"][0]["message"] == unknown["errors"][0]["message"]
        assert "100.00" not in str(body) and "SECRET-SKU" not in str(body)
    mine = shop.api.as_("manager").graphql(mutation, {"p": {
        "posTransactionId": first["pos_transaction_id"], "storeCode": "N01", "cardNumber": east["card_number"],
        "occurredAt": first["occurred_at"], "total": "100.00",
        "lines": [{"sku": "SECRET-SKU", "category": "shirts", "quantity": 1, "unitPrice": "100.00"}]}})
    assert mine["data"]["recordRetailPurchase"]["id"] == first["id"]


def test_store_staff_retry_at_their_own_till_still_replays(shop):
    east, first = east_sale(shop)
    again = shop.api.as_("staff_north").post(f"{BASE}/purchases", json=sale(
        first["pos_transaction_id"], east["card_number"], total="100.00"))
    assert again.status_code == 200 and again.get_json()["id"] == first["id"]
