"""Typed `orderBy` on the retail lists (issue #13, item 3): each nested list (a membership's ledger,
purchases and occasions, a store's staff, a campaign's members) and the root lists `retailRefunds` and
`retailLapses` read in the ordering asked for, ascending or descending; without one, in the order they
always had; and keyset paging holds under an ordering."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, sale, when
from tests.plugins.retail_membership.test_jobs_and_campaigns import make_campaign
from tests.plugins.retail_membership.test_points import run_job


def ok(body):
    assert body.get("errors") is None, body
    return body["data"]


def nodes(connection, key):
    return [edge["node"][key] for edge in connection["edges"]]


def order(field, direction="ASC"):
    return [{"field": field, "direction": direction}]


# --- RetailMembership.purchases / ledger / occasions -------------------------------------------------------

MEMBER_LISTS = """query($id: ID!, $p: [RetailPurchaseOrder!], $l: [RetailPointsEntryOrder!], $o: [RetailOccasionOrder!]) {
  retailMembership(id: $id) {
    purchases(first: 10, orderBy: $p) { edges { node { posTransactionId total } } }
    ledger(first: 10, orderBy: $l) { edges { node { kind points } } }
    occasions(first: 10, orderBy: $o) { edges { node { name month day year } } } } }"""


def member_lists(shop, membership_id, **orders):
    return ok(shop.api.graphql(MEMBER_LISTS, {"id": membership_id, **orders}))["retailMembership"]


def a_member_with_history(shop):
    m = enrol(shop.api, shop.north, name="Ordered Olga", occasions=[
        {"kind": "child_birthday", "name": "Bea", "date": "2015-11-03"},
        {"kind": "anniversary", "name": "Cal", "date": "2001-02-20"},
        {"kind": "child_birthday", "name": "Ann", "date": "2019-07-09"}])
    # oldest first: 200, then 50, then 120 — the newest is neither the largest nor the smallest
    for pos, total, days_ago in (("OP-1", "200.00", 3), ("OP-2", "50.00", 2), ("OP-3", "120.00", 1)):
        buy(shop.api, sale(pos, m["card_number"], total=total, days_ago=days_ago))
    return m


def test_a_members_purchases_by_total_either_way_and_newest_first_by_default(shop):
    m = a_member_with_history(shop)
    default = member_lists(shop, m["id"])["purchases"]
    assert nodes(default, "posTransactionId") == ["OP-3", "OP-2", "OP-1"]
    up = member_lists(shop, m["id"], p=order("TOTAL"))["purchases"]
    assert nodes(up, "total") == ["50.00", "120.00", "200.00"]
    down = member_lists(shop, m["id"], p=order("TOTAL", "DESC"))["purchases"]
    assert nodes(down, "total") == ["200.00", "120.00", "50.00"]
    oldest = member_lists(shop, m["id"], p=order("OCCURRED_AT"))["purchases"]
    assert nodes(oldest, "posTransactionId") == ["OP-1", "OP-2", "OP-3"]


def test_a_members_ledger_by_points_either_way_and_newest_first_by_default(shop):
    m = a_member_with_history(shop)
    default = member_lists(shop, m["id"])["ledger"]
    # each purchase earns its total in points: the 120, the 50, then the 200 purchase's, newest first
    assert nodes(default, "points") == [120, 50, 200]
    up = member_lists(shop, m["id"], l=order("POINTS"))["ledger"]
    assert nodes(up, "points") == [50, 120, 200]
    down = member_lists(shop, m["id"], l=order("POINTS", "DESC"))["ledger"]
    assert nodes(down, "points") == [200, 120, 50]
    oldest = member_lists(shop, m["id"], l=order("OCCURRED_AT"))["ledger"]
    assert nodes(oldest, "points") == [200, 50, 120]


def test_a_members_occasions_by_year_or_name_and_in_calendar_order_by_default(shop):
    m = a_member_with_history(shop)
    default = member_lists(shop, m["id"])["occasions"]
    assert nodes(default, "name") == ["Cal", "Ann", "Bea"]                  # February, July, November
    up = member_lists(shop, m["id"], o=order("YEAR"))["occasions"]
    assert nodes(up, "year") == [2001, 2015, 2019]
    down = member_lists(shop, m["id"], o=order("YEAR", "DESC"))["occasions"]
    assert nodes(down, "year") == [2019, 2015, 2001]
    by_name = member_lists(shop, m["id"], o=order("NAME", "DESC"))["occasions"]
    assert nodes(by_name, "name") == ["Cal", "Bea", "Ann"]
    # REST's list of the same service takes the same keys
    rest = shop.api.get(f"{BASE}/memberships/{m['id']}/occasions?sort=-year").get_json()
    assert [o["year"] for o in rest] == [2019, 2015, 2001]


PAGE = """query($a: ID!, $b: ID!, $afterA: String, $afterB: String) {
  a: retailMembership(id: $a) { purchases(first: 2, after: $afterA, orderBy: [{field: TOTAL, direction: DESC}]) {
    pageInfo { hasNextPage endCursor } edges { node { posTransactionId } } } }
  b: retailMembership(id: $b) { purchases(first: 2, after: $afterB, orderBy: [{field: TOTAL, direction: DESC}]) {
    pageInfo { hasNextPage endCursor } edges { node { posTransactionId } } } } }"""

BOTH_WAYS = """query($a: ID!, $b: ID!) {
  a: retailMembership(id: $a) {
    down: purchases(first: 2, orderBy: [{field: TOTAL, direction: DESC}]) { edges { node { posTransactionId } } }
    up: purchases(first: 2, orderBy: [{field: TOTAL}]) { edges { node { posTransactionId } } } }
  b: retailMembership(id: $b) {
    down: purchases(first: 2, orderBy: [{field: TOTAL, direction: DESC}]) { edges { node { posTransactionId } } }
    up: purchases(first: 2, orderBy: [{field: TOTAL}]) { edges { node { posTransactionId } } } } }"""


def test_two_members_purchases_page_by_cursor_under_a_descending_order_each_once(shop):
    totals = {"a": ["10.00", "70.00", "30.00", "90.00", "50.00"], "b": ["80.00", "20.00", "60.00", "40.00", "100.00"]}
    ids = {}
    for who, amounts in totals.items():
        m = enrol(shop.api, shop.north, name=f"Pager {who}")
        ids[who] = m["id"]
        for i, total in enumerate(amounts):
            buy(shop.api, sale(f"{who}-{i}", m["card_number"], total=total, days_ago=10 - i))

    # both members' lists in one query, each in both directions: siblings with another ordering are
    # another batch, not the first ordering's pages
    both = ok(shop.api.graphql(BOTH_WAYS, {"a": ids["a"], "b": ids["b"]}))
    assert nodes(both["a"]["down"], "posTransactionId") == ["a-3", "a-1"]
    assert nodes(both["a"]["up"], "posTransactionId") == ["a-0", "a-2"]
    assert nodes(both["b"]["down"], "posTransactionId") == ["b-4", "b-0"]
    assert nodes(both["b"]["up"], "posTransactionId") == ["b-1", "b-3"]

    seen = {"a": [], "b": []}
    after = {"a": None, "b": None}
    more = {"a": True, "b": True}
    for _ in range(5):
        if not any(more.values()):
            break
        data = ok(shop.api.graphql(PAGE, {"a": ids["a"], "b": ids["b"], "afterA": after["a"], "afterB": after["b"]}))
        for who in ("a", "b"):
            if not more[who]:
                continue
            page = data[who]["purchases"]
            seen[who] += nodes(page, "posTransactionId")
            more[who], after[who] = page["pageInfo"]["hasNextPage"], page["pageInfo"]["endCursor"]
    # every purchase once, largest first, across pages of two
    assert seen == {"a": ["a-3", "a-1", "a-4", "a-2", "a-0"], "b": ["b-4", "b-0", "b-2", "b-3", "b-1"]}


# --- RetailStore.staff ------------------------------------------------------------------------------------

STAFF = """query($id: ID!, $o: [RetailStoreStaffOrder!]) { retailStore(id: $id) {
  staff(first: 10, orderBy: $o) { edges { node { name email } } } } }"""


def test_a_stores_staff_by_name_either_way_and_longest_serving_first_by_default(shop):
    from core.services import users
    from plugins.retail_membership import services

    with shop.runtime.database.unit_of_work():
        for email, name in (("zed@shop.example", "Zed Zulu"), ("adam@shop.example", "Adam Apple")):
            user = users.create_user(shop.people.admin, {"email": email, "name": name, "role": "store_staff"})
            services.assign_staff(shop.people.admin, shop.north["id"], {"user_id": str(user.id)})

    def staff(o=None):
        return nodes(ok(shop.api.graphql(STAFF, {"id": shop.north["id"], "o": o}))["retailStore"]["staff"], "name")

    assert staff() == ["Nina North", "Zed Zulu", "Adam Apple"]             # the order they were assigned
    assert staff(order("NAME")) == ["Adam Apple", "Nina North", "Zed Zulu"]
    assert staff(order("NAME", "DESC")) == ["Zed Zulu", "Nina North", "Adam Apple"]
    assert staff(order("EMAIL", "DESC")) == ["Zed Zulu", "Nina North", "Adam Apple"]
    rest = shop.api.get(f"{BASE}/stores/{shop.north['id']}/staff?sort=-name").get_json()
    assert [s["name"] for s in rest] == ["Zed Zulu", "Nina North", "Adam Apple"]


# --- RetailCampaign.members --------------------------------------------------------------------------------

MEMBERS = """query($id: ID!, $o: [RetailCampaignMemberOrder!]) { retailCampaign(id: $id) {
  members(first: 10, orderBy: $o) { edges { node { membershipId group couponCode } } } } }"""


def test_a_campaigns_members_by_group_or_coupon_either_way_and_treated_first_by_default(shop):
    for i in range(4):
        enrol(shop.api, shop.north, name=f"Camp {i}")
    campaign = make_campaign(shop.api, name="10 off", offer_kind="coupon", offer_value="10", control_share="0.25")
    assert shop.api.as_("manager").post(f"{BASE}/campaigns/{campaign['id']}/launch").status_code == 200

    def members(o=None):
        return ok(shop.api.as_("manager").graphql(MEMBERS, {"id": campaign["id"], "o": o}))["retailCampaign"]["members"]

    assert nodes(members(), "group") == ["TREATED"] * 3 + ["CONTROL"]
    assert nodes(members(order("GROUP")), "group") == ["CONTROL"] + ["TREATED"] * 3
    assert nodes(members(order("GROUP", "DESC")), "group") == ["TREATED"] * 3 + ["CONTROL"]
    codes = sorted(c for c in nodes(members(), "couponCode") if c)
    assert len(codes) == 3
    # a member without a coupon (the control group) comes last ascending, first descending
    assert nodes(members(order("COUPON_CODE")), "couponCode") == codes + [None]
    assert nodes(members(order("COUPON_CODE", "DESC")), "couponCode") == [None] + codes[::-1]
    rest = shop.api.get(f"{BASE}/campaigns/{campaign['id']}/members?sort=group").get_json()
    assert [r["group"] for r in rest] == ["control"] + ["treated"] * 3


# --- Query.retailRefunds / Query.retailLapses ---------------------------------------------------------------

REFUNDS = """query($o: [RetailRefundOrder!]) { retailRefunds(first: 10, orderBy: $o) {
  edges { node { posRefundId amount } } } }"""


def test_refunds_by_amount_either_way_and_newest_first_by_default(shop):
    m = enrol(shop.api, shop.north, name="Returner Rob")
    for i, (amount, days_ago) in enumerate((("20.00", 3), ("30.00", 1), ("10.00", 2))):
        purchase = buy(shop.api, sale(f"RP{i}", m["card_number"], total="100.00", days_ago=5))
        response = shop.api.post(f"{BASE}/refunds", json={"purchase_id": purchase["id"], "pos_refund_id": f"R{i}",
                                                          "amount": amount, "occurred_at": when(days_ago)})
        assert response.status_code == 201, response.get_json()

    def refunds(o=None):
        return nodes(ok(shop.api.graphql(REFUNDS, {"o": o}))["retailRefunds"], "posRefundId")

    assert refunds() == ["R1", "R2", "R0"]                                  # newest first
    assert refunds(order("AMOUNT")) == ["R2", "R0", "R1"]
    assert refunds(order("AMOUNT", "DESC")) == ["R1", "R0", "R2"]
    assert refunds(order("OCCURRED_AT")) == ["R0", "R2", "R1"]
    rest = shop.api.get(f"{BASE}/refunds?sort=amount").get_json()
    assert [r["pos_refund_id"] for r in rest] == ["R2", "R0", "R1"]


LAPSES = """query($o: [RetailLapseOrder!]) { retailLapses(first: 10, orderBy: $o) {
  edges { node { usualGapDays membership { cardNumber } } } } }"""


def test_lapses_by_usual_gap_either_way_and_newest_flag_first_by_default(shop):
    now = datetime.now(timezone.utc)
    # three regulars flagged on three days, with usual gaps of 10, 12 and 8 days
    for day, (name, gap) in enumerate((("Ten", 10), ("Twelve", 12), ("Eight", 8))):
        m = enrol(shop.api, shop.north, name=name, card_number=f"LAPSE-{gap}")
        for i in range(5):
            buy(shop.api, sale(f"{name}-{i}", m["card_number"], total="30.00", days_ago=90 + gap * (4 - i)))
        assert run_job(shop.runtime, "retail_membership.lapsed", now - timedelta(days=2 - day)) == 1

    def lapses(o=None):
        return [e["node"]["membership"]["cardNumber"]
                for e in ok(shop.api.graphql(LAPSES, {"o": o}))["retailLapses"]["edges"]]

    assert lapses() == ["LAPSE-8", "LAPSE-12", "LAPSE-10"]                  # the newest flag first
    assert lapses(order("USUAL_GAP_DAYS")) == ["LAPSE-8", "LAPSE-10", "LAPSE-12"]
    assert lapses(order("USUAL_GAP_DAYS", "DESC")) == ["LAPSE-12", "LAPSE-10", "LAPSE-8"]
    assert lapses(order("FLAGGED_AT")) == ["LAPSE-10", "LAPSE-12", "LAPSE-8"]
    rest = shop.api.get(f"{BASE}/lapses?sort=usual_gap_days").get_json()
    assert [r["usual_gap_days"] for r in rest] == [8.0, 10.0, 12.0]
