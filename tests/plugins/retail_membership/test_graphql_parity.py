"""GraphQL counterparts of the REST operations that had none (issue #13 item 7): a member's occasions, a
store's staff, refunds, lapsed regulars, a campaign's members and coupons — the services REST calls, with
the same answers, permissions and errors."""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, sale
from tests.plugins.retail_membership.test_jobs_and_campaigns import make_campaign
from tests.plugins.retail_membership.test_points import run_job

OCCASIONS = "query($id: ID!) { retailMembership(id: $id) { occasions(first: 10) { totalCount edges { node { id kind name month day year } } } } }"
ADD_OCCASION = """mutation($m: ID!, $input: RetailOccasionCreateInput!) { createRetailOccasion(membershipId: $m, input: $input) {
  id membershipId kind name month day year } }"""
DELETE_OCCASION = "mutation($m: ID!, $id: ID!) { deleteRetailOccasion(membershipId: $m, id: $id) { id name } }"


def test_a_members_occasions_are_listed_added_and_removed(shop):
    m = enrol(shop.api, shop.north, name="Proud Dad")
    added = shop.api.as_("staff_north").graphql(ADD_OCCASION, {"m": m["id"], "input": {
        "kind": "CHILD_BIRTHDAY", "name": "Tom", "date": "2019-06-15"}})
    assert added.get("errors") is None, added
    tom = added["data"]["createRetailOccasion"]
    assert tom == {"id": tom["id"], "membershipId": m["id"], "kind": "CHILD_BIRTHDAY", "name": "Tom",
                   "month": 6, "day": 15, "year": 2019}
    shop.api.graphql(ADD_OCCASION, {"m": m["id"], "input": {"kind": "ANNIVERSARY", "date": "2010-02-01"}})
    page = shop.api.graphql(OCCASIONS, {"id": m["id"]})["data"]["retailMembership"]["occasions"]
    assert page["totalCount"] == 2
    assert [(e["node"]["kind"], e["node"]["month"]) for e in page["edges"]] == [("ANNIVERSARY", 2), ("CHILD_BIRTHDAY", 6)]
    rest = shop.api.get(f"{BASE}/memberships/{m['id']}/occasions").get_json()
    assert [o["id"] for o in rest] == [e["node"]["id"] for e in page["edges"]]

    bad = shop.api.graphql(ADD_OCCASION, {"m": m["id"], "input": {"kind": "ANNIVERSARY", "date": "2010-02-01",
                                                                   "name": "x" * 121}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "name" in bad["errors"][0]["extensions"]["fields"]
    elsewhere = shop.api.as_("staff_south").graphql(ADD_OCCASION, {"m": m["id"], "input": {
        "kind": "OTHER", "date": "2020-01-01"}})
    assert elsewhere["errors"][0]["extensions"]["code"] == "NOT_FOUND"      # not a member of their store
    assert shop.api.as_("staff_south").graphql(OCCASIONS, {"id": m["id"]})["data"]["retailMembership"] is None

    gone = shop.api.graphql(DELETE_OCCASION, {"m": m["id"], "id": tom["id"]})
    assert gone["data"]["deleteRetailOccasion"] == {"id": tom["id"], "name": "Tom"}
    assert [o["name"] for o in shop.api.get(f"{BASE}/memberships/{m['id']}/occasions").get_json()] == [""]
    twice = shop.api.graphql(DELETE_OCCASION, {"m": m["id"], "id": tom["id"]})
    assert twice["errors"][0]["extensions"]["code"] == "NOT_FOUND"


STAFF = "query($id: ID!) { retailStore(id: $id) { staff(first: 10) { totalCount edges { node { userId storeId email name } } } } }"
ASSIGN = "mutation($s: ID!, $u: ID!) { assignRetailStoreStaff(storeId: $s, userId: $u) { userId storeId email } }"
REMOVE = "mutation($s: ID!, $u: ID!) { removeRetailStoreStaff(storeId: $s, userId: $u) { code } }"


def test_admins_put_users_on_a_stores_staff_and_take_them_off(shop):
    staff = shop.api.as_("staff_north").graphql(STAFF, {"id": shop.north["id"]})["data"]["retailStore"]["staff"]
    assert staff["totalCount"] == 1
    assert staff["edges"][0]["node"] == {"userId": str(shop.staff_north.id), "storeId": shop.north["id"],
                                         "email": "nina@shop.example", "name": "Nina North"}

    sam = str(shop.staff_south.id)
    refused = shop.api.as_("manager").graphql(ASSIGN, {"s": shop.north["id"], "u": sam})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    nobody = shop.api.graphql(ASSIGN, {"s": shop.north["id"], "u": "00000000-0000-4000-8000-000000000000"})
    assert nobody["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "userId" in nobody["errors"][0]["extensions"]["fields"]

    added = shop.api.graphql(ASSIGN, {"s": shop.north["id"], "u": sam})
    assert added["data"]["assignRetailStoreStaff"] == {"userId": sam, "storeId": shop.north["id"], "email": "sam@shop.example"}
    assert [s["email"] for s in shop.api.get(f"{BASE}/stores/{shop.north['id']}/staff").get_json()] == [
        "nina@shop.example", "sam@shop.example"]
    # Sam now sees the north store's members
    m = enrol(shop.api, shop.north, name="North Member")
    assert shop.api.as_("staff_south").get(f"{BASE}/memberships/{m['id']}").status_code == 200

    removed = shop.api.graphql(REMOVE, {"s": shop.north["id"], "u": sam})
    assert removed["data"]["removeRetailStoreStaff"] == {"code": "N01"}
    assert shop.api.as_("staff_south").get(f"{BASE}/memberships/{m['id']}").status_code == 404
    again = shop.api.graphql(REMOVE, {"s": shop.north["id"], "u": sam})
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"


REFUNDS = """query($f: RetailRefundFilter) { retailRefunds(first: 10, filter: $f) { totalCount edges { node {
  id purchaseId membershipId posRefundId amount reason pointsReversed pointsUnrecovered } } } }"""


def test_refunds_are_listed_as_rest_lists_them(shop):
    north = enrol(shop.api, shop.north, name="North Buyer")
    south = enrol(shop.api, shop.south, name="South Buyer")
    p1 = buy(shop.api, sale("RF1", north["card_number"], total="100.00"))
    p2 = buy(shop.api, sale("RF2", south["card_number"], store_code="S01", total="80.00"))
    for purchase, amount in ((p1, "40.00"), (p2, "80.00")):
        assert shop.api.post(f"{BASE}/refunds", json={"purchase_id": purchase["id"], "pos_refund_id": f"R-{purchase['id'][:4]}",
                                                      "amount": amount, "reason": "Too small"}).status_code == 201
    every = shop.api.graphql(REFUNDS)
    assert every.get("errors") is None, every
    assert every["data"]["retailRefunds"]["totalCount"] == 2
    one = shop.api.graphql(REFUNDS, {"f": {"membershipId": north["id"]}})["data"]["retailRefunds"]
    [node] = [e["node"] for e in one["edges"]]
    assert (node["purchaseId"], node["amount"], node["reason"], node["pointsReversed"]) == (p1["id"], "40.00", "Too small", 40)
    rest = shop.api.get(f"{BASE}/refunds?membership_id={north['id']}").get_json()
    assert [r["id"] for r in rest] == [node["id"]]
    # store staff see the refunds of their store's members only
    mine = shop.api.as_("staff_south").graphql(REFUNDS)["data"]["retailRefunds"]
    assert [e["node"]["membershipId"] for e in mine["edges"]] == [south["id"]]
    bad = shop.api.graphql(REFUNDS, {"f": {"purchaseId": "not-a-uuid"}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "filter.purchaseId" in bad["errors"][0]["extensions"]["fields"]


LAPSES = """query($f: RetailLapseFilter) { retailLapses(first: 10, filter: $f) { totalCount edges { node {
  membershipId usualGapDays returnedAt membership { cardNumber } } } } }"""


def test_lapsed_regulars_are_listed_and_leave_the_open_list_when_they_return(shop):
    regular = enrol(shop.api, shop.north, name="Regular Rita")
    for i, days_ago in enumerate((130, 120, 110, 100, 90)):
        buy(shop.api, sale(f"L{i}", regular["card_number"], total="30.00", days_ago=days_ago))
    assert run_job(shop.runtime, "retail_membership.lapsed") == 1
    page = shop.api.as_("staff_north").graphql(LAPSES, {"f": {"open": True}})
    assert page.get("errors") is None, page
    assert [e["node"] for e in page["data"]["retailLapses"]["edges"]] == [
        {"membershipId": regular["id"], "usualGapDays": 10.0, "returnedAt": None,
         "membership": {"cardNumber": regular["card_number"]}}]
    assert shop.api.as_("staff_south").graphql(LAPSES)["data"]["retailLapses"]["totalCount"] == 0
    assert shop.api.graphql(LAPSES, {"f": {"storeId": shop.south["id"]}})["data"]["retailLapses"]["totalCount"] == 0
    buy(shop.api, sale("L9", regular["card_number"], total="30.00", days_ago=0))
    assert shop.api.graphql(LAPSES, {"f": {"open": True}})["data"]["retailLapses"]["totalCount"] == 0
    assert shop.api.graphql(LAPSES)["data"]["retailLapses"]["edges"][0]["node"]["returnedAt"] is not None


MEMBERS = """query($id: ID!) { retailCampaign(id: $id) { members(first: 10) { totalCount edges { node {
  membershipId group couponCode couponRedeemedAt } } } } }"""
REDEEM = "mutation($code: String!) { redeemRetailCoupon(code: $code) { membershipId group couponRedeemedAt } }"


def test_a_campaigns_members_and_their_single_use_coupons(shop):
    for i in range(4):
        enrol(shop.api, shop.north, name=f"C{i}")
    coupon = make_campaign(shop.api, name="10 off", offer_kind="coupon", offer_value="10", control_share="0.25")
    shop.api.as_("manager").post(f"{BASE}/campaigns/{coupon['id']}/launch")
    body = shop.api.as_("manager").graphql(MEMBERS, {"id": coupon["id"]})
    assert body.get("errors") is None, body
    members = body["data"]["retailCampaign"]["members"]
    assert members["totalCount"] == 4
    groups = [e["node"]["group"] for e in members["edges"]]
    assert groups == ["TREATED"] * 3 + ["CONTROL"]                      # treated first, as REST
    rest = shop.api.get(f"{BASE}/campaigns/{coupon['id']}/members").get_json()
    assert [r["membership_id"] for r in rest] == [e["node"]["membershipId"] for e in members["edges"]]
    code = members["edges"][0]["node"]["couponCode"]
    assert code and members["edges"][3]["node"]["couponCode"] is None

    assert shop.api.as_("rep").graphql(MEMBERS, {"id": coupon["id"]})["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert shop.api.as_("staff_south").graphql(REDEEM, {"code": code})["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    unknown = shop.api.as_("staff_north").graphql(REDEEM, {"code": "NO-SUCH-CODE"})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    used = shop.api.as_("staff_north").graphql(REDEEM, {"code": code})
    assert used.get("errors") is None, used
    assert used["data"]["redeemRetailCoupon"]["group"] == "TREATED" and used["data"]["redeemRetailCoupon"]["couponRedeemedAt"]
    twice = shop.api.as_("staff_north").graphql(REDEEM, {"code": code})
    assert twice["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert shop.api.get(f"{BASE}/campaigns/{coupon['id']}/result").get_json()["coupons_redeemed"] == 1


def test_node_reads_an_occasion_a_refund_and_a_lapse_within_scope(shop):
    regular = enrol(shop.api, shop.north, name="Regular Rita",
                    occasions=[{"kind": "anniversary", "name": "", "date": "2010-02-01"}])
    purchases = [buy(shop.api, sale(f"N{i}", regular["card_number"], total="30.00", days_ago=d))
                 for i, d in enumerate((130, 120, 110, 100, 90))]
    shop.api.post(f"{BASE}/refunds", json={"purchase_id": purchases[0]["id"], "pos_refund_id": "NR1"})
    assert run_job(shop.runtime, "retail_membership.lapsed") == 1
    ids = {"RetailOccasion": shop.api.get(f"{BASE}/memberships/{regular['id']}/occasions").get_json()[0]["id"],
           "RetailRefund": shop.api.get(f"{BASE}/refunds").get_json()[0]["id"],
           "RetailLapse": shop.api.get(f"{BASE}/lapses").get_json()[0]["id"]}
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
    for who, seen in (("admin", list(ids)), ("staff_north", list(ids)), ("staff_south", [None] * 3), ("rep", [None] * 3)):
        body = shop.api.as_(who).graphql(query, {"ids": list(ids.values())})
        assert body.get("errors") is None, body
        assert [n and n["__typename"] for n in body["data"]["nodes"]] == seen, who
    # a deleted occasion is gone for node too
    shop.api.delete(f"{BASE}/memberships/{regular['id']}/occasions/{ids['RetailOccasion']}")
    assert shop.api.graphql("query($id: ID!) { node(id: $id) { id } }", {"id": ids["RetailOccasion"]})["data"]["node"] is None
