"""Statement-count pins for the retail plugin's own REST lists and GraphQL connections: memberships and purchases, and the
lists nested in the memberships, stores and campaigns connections (occasions, tier history, staff, campaign members), cost
the same number of SQL statements for 5 rows as for 50, and the rows carry what the list promises."""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, sale
from api.testing import graphql_list, pin_statements, rest_list


def test_memberships_list_is_pinned(shop, count_queries):
    def grow(have, want):
        for i in range(have, want):
            enrol(shop.api, shop.north, name=f"Member {i:02d}")

    rows = pin_statements(count_queries, grow=grow,
                          fetch=lambda n: rest_list(shop.api.get(f"{BASE}/memberships?page_size={n}")))
    assert {row["home_store_id"] for row in rows} == {shop.north["id"]}
    assert len({row["card_number"] for row in rows}) == 50


def test_purchases_list_is_pinned(shop, count_queries):
    member = enrol(shop.api, shop.north)

    def grow(have, want):
        for i in range(have, want):
            buy(shop.api, sale(f"PIN-{i:03d}", member["card_number"], total="20.00", lines=[
                {"sku": "S", "category": "socks", "quantity": 2, "unit_price": "10.00"}]))

    rows = pin_statements(count_queries, grow=grow,
                          fetch=lambda n: rest_list(shop.api.get(f"{BASE}/purchases?page_size={n}")))
    assert {row["total"] for row in rows} == {"20.00"}
    assert len({row["pos_transaction_id"] for row in rows}) == 50


MEMBERSHIPS = """query($first: Int!) { retailMemberships(first: $first) { totalCount edges { node {
  cardNumber pointsBalance tierInfo { label { en } } homeStore { code } customer { name } } } } }"""


def test_memberships_graphql_connection_is_pinned(shop, count_queries):
    def grow(have, want):
        for i in range(have, want):
            enrol(shop.api, shop.north, name=f"Member {i:02d}")

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        shop.api.graphql(MEMBERSHIPS, {"first": n}), "retailMemberships.edges"))
    assert {edge["node"]["homeStore"]["code"] for edge in edges} == {"N01"}
    assert sorted(edge["node"]["customer"]["name"] for edge in edges) == [f"Member {i:02d}" for i in range(50)]


OCCASIONS = """query($first: Int!) { retailMemberships(first: $first) { edges { node {
  cardNumber occasions(first: 5) { totalCount edges { node { kind name month day } } } } } } }"""


def test_members_occasions_nested_in_the_memberships_list_are_pinned(shop, count_queries):
    def grow(have, want):
        for i in range(have, want):
            member = enrol(shop.api, shop.north, name=f"Member {i:02d}")
            response = shop.api.post(f"{BASE}/memberships/{member['id']}/occasions",
                                     json={"kind": "birthday", "name": f"Kid {i:02d}", "date": "2019-06-15"})
            assert response.status_code == 201, response.get_json()

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        shop.api.graphql(OCCASIONS, {"first": n}), "retailMemberships.edges"))
    assert all(e["node"]["occasions"]["totalCount"] == 1 for e in edges)
    assert sorted(e["node"]["occasions"]["edges"][0]["node"]["name"] for e in edges) == [f"Kid {i:02d}" for i in range(50)]


TIER_HISTORY = """query($first: Int!) { retailMemberships(first: $first) { edges { node {
  cardNumber customer { name } tierHistory { totalCount edges { node { fromState toState trigger reason } } } } } } }"""


def test_tier_history_nested_in_the_memberships_list_is_pinned(shop, count_queries):
    def grow(have, want):
        for i in range(have, want):
            member = enrol(shop.api, shop.north, name=f"Member {i:02d}")
            response = shop.api.post(f"{BASE}/memberships/{member['id']}/tier",
                                     json={"tier": "gold", "reason": f"VIP {i:02d}"})
            assert response.status_code == 200, response.get_json()

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        shop.api.graphql(TIER_HISTORY, {"first": n}), "retailMemberships.edges"))
    last_moves = {}
    for edge in edges:
        history = edge["node"]["tierHistory"]
        assert history["totalCount"] == len(history["edges"]) >= 1, history
        last_moves[edge["node"]["customer"]["name"]] = history["edges"][-1]["node"]
    assert last_moves == {f"Member {i:02d}": {"fromState": "member", "toState": "gold", "trigger": "MANUAL",
                                              "reason": f"VIP {i:02d}"} for i in range(50)}


STORE_STAFF = """query($first: Int!) { retailStores(first: $first) { edges { node {
  code staff { totalCount edges { node { name email user { name } } } } } } } }"""


def test_staff_nested_in_the_stores_list_is_pinned(shop, count_queries):
    from core.services import users
    from plugins.retail_membership import services

    # the shop fixture's two stores (N01, S01, one clerk each) are the first two of the list
    def grow(have, want):
        with shop.runtime.database.unit_of_work():
            for i in range(max(have, 2), want):
                store = shop.api.post(f"{BASE}/stores", json={"code": f"P{i:02d}", "name": f"Pin Store {i:02d}"})
                assert store.status_code == 201, store.get_json()
                clerk = users.create_user(shop.people.admin, {"email": f"clerk{i:02d}@shop.example",
                                                              "name": f"Clerk {i:02d}", "role": "store_staff"})
                services.assign_staff(shop.people.admin, store.get_json()["id"], {"user_id": str(clerk.id)})

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        shop.api.as_("admin").graphql(STORE_STAFF, {"first": n}), "retailStores.edges"))
    staff = {e["node"]["code"]: [s["node"] for s in e["node"]["staff"]["edges"]] for e in edges}
    assert all(e["node"]["staff"]["totalCount"] == 1 for e in edges)
    assert staff == {"N01": [{"name": "Nina North", "email": "nina@shop.example", "user": {"name": "Nina North"}}],
                     "S01": [{"name": "Sam South", "email": "sam@shop.example", "user": {"name": "Sam South"}}],
                     **{f"P{i:02d}": [{"name": f"Clerk {i:02d}", "email": f"clerk{i:02d}@shop.example",
                                       "user": {"name": f"Clerk {i:02d}"}}] for i in range(2, 50)}}


CAMPAIGN_MEMBERS = """query($first: Int!) { retailCampaigns(first: $first) { edges { node {
  name status members { totalCount edges { node { membershipId group } } } } } } }"""


def test_members_nested_in_the_campaigns_list_are_pinned(shop, count_queries):
    member = enrol(shop.api, shop.north, name="Only Member")

    def grow(have, want):
        for i in range(have, want):
            made = shop.api.as_("manager").post(f"{BASE}/campaigns", json={
                "name": f"Campaign {i:02d}", "offer_kind": "sample", "control_share": "0",
                "segment": {"store_ids": [shop.north["id"]]}})
            assert made.status_code == 201, made.get_json()
            launched = shop.api.as_("manager").post(f"{BASE}/campaigns/{made.get_json()['id']}/launch")
            assert launched.status_code == 200, launched.get_json()

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        shop.api.as_("manager").graphql(CAMPAIGN_MEMBERS, {"first": n}), "retailCampaigns.edges"))
    assert sorted(e["node"]["name"] for e in edges) == [f"Campaign {i:02d}" for i in range(50)]
    assert {e["node"]["status"] for e in edges} == {"LAUNCHED"}
    assert all(e["node"]["members"] == {"totalCount": 1, "edges": [
        {"node": {"membershipId": member["id"], "group": "TREATED"}}]} for e in edges), edges[0]
