"""Statement-count pins for the retail plugin's own REST lists and GraphQL connections: memberships and purchases cost the same
number of SQL statements for 5 rows as for 50, and the rows carry what the list promises."""
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
