"""Statement-count pins for the exhibitions plugin's own REST lists and GraphQL connections: registrations (visitors),
participations and an exhibitor's leads cost the same number of SQL statements for 5 rows as for 50."""
from __future__ import annotations

from tests.plugins.exhibitions.conftest import BASE, ok, participate, register
from api.testing import graphql_list, pin_statements, rest_list


def test_registrations_list_is_pinned(show, count_queries):
    def grow(have, want):
        for i in range(have, want):
            register(show, show.first, f"Visitor {i:03d}")

    rows = pin_statements(count_queries, grow=grow, fetch=lambda n: rest_list(
        show.api.get(f"{BASE}/registrations?edition_id={show.first['id']}&page_size={n}")))
    assert {row["edition_id"] for row in rows} == {show.first["id"]}
    assert len({row["badge_code"] for row in rows}) == 50


def test_participations_list_is_pinned(show, count_queries):
    def grow(have, want):
        for i in range(have, want):
            company = ok(show.api.post("/api/v1/customers", json={"name": f"Exhibitor {i:03d} Ltd"}), 201)
            show.companies[f"c{i}"] = company
            participate(show, f"c{i}", show.first, status="confirmed")

    rows = pin_statements(count_queries, grow=grow, fetch=lambda n: rest_list(
        show.api.get(f"{BASE}/participations?edition_id={show.first['id']}&page_size={n}")))
    assert {row["status"] for row in rows} == {"confirmed"}


def test_an_exhibitors_leads_list_is_pinned(show, count_queries):
    participation = participate(show, "alpha", show.first)

    def grow(have, want):
        for i in range(have, want):
            visitor = register(show, show.first, f"Buyer {i:03d}")
            ok(show.as_("alpha").post(f"{BASE}/leads", json={
                "participation_id": participation["id"], "badge_code": visitor["badge_code"], "rating": "warm"}), 201)

    rows = pin_statements(count_queries, grow=grow, fetch=lambda n: rest_list(
        show.as_("alpha").get(f"{BASE}/leads?page_size={n}")))
    assert {row["rating"] for row in rows} == {"warm"}
    assert all(row["visitor"]["name"].startswith("Buyer ") for row in rows)


LEADS = """query($first: Int!) { exhibitionLeads(first: $first) { totalCount edges { node {
  participationId visitor { name } } } } }"""


def test_an_exhibitors_leads_graphql_connection_is_pinned(show, count_queries):
    participation = participate(show, "alpha", show.first)

    def grow(have, want):
        for i in range(have, want):
            visitor = register(show, show.first, f"Buyer {i:03d}")
            ok(show.as_("alpha").post(f"{BASE}/leads", json={
                "participation_id": participation["id"], "badge_code": visitor["badge_code"]}), 201)

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        show.as_("alpha").graphql(LEADS, {"first": n}), "exhibitionLeads.edges"))
    assert {edge["node"]["participationId"] for edge in edges} == {participation["id"]}
    assert sorted(edge["node"]["visitor"]["name"] for edge in edges) == [f"Buyer {i:03d}" for i in range(50)]
