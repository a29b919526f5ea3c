"""Statement-count pins for the property-service plugin's own REST lists and GraphQL connections: service requests and units
cost the same number of SQL statements for 5 rows as for 50."""
from __future__ import annotations

from api.testing import graphql_list, pin_statements, rest_list

BASE = "/api/v1/property-service"


def test_requests_list_is_pinned(ps, count_queries):
    def grow(have, want):
        for i in range(have, want):
            ps.new_request(description=f"Request {i:03d}: the tap drips.")

    rows = pin_statements(count_queries, grow=grow,
                          fetch=lambda n: rest_list(ps.api.get(f"{BASE}/requests?page_size={n}")))
    assert {row["unit_id"] for row in rows} == {str(ps.unit.id)}
    assert all(row["description"].startswith("Request ") for row in rows)


def test_units_list_is_pinned(ps, count_queries):
    def grow(have, want):
        for i in range(max(have, 2), want):    # the estate already has two units
            response = ps.api.post(f"{BASE}/units", json={"building_id": str(ps.building.id), "unit": "9",
                                                          "room": f"{i:04d}"})
            assert response.status_code == 201, response.get_json()

    rows = pin_statements(count_queries, grow=grow,
                          fetch=lambda n: rest_list(ps.api.get(f"{BASE}/units?page_size={n}")))
    assert {row["building_id"] for row in rows} == {str(ps.building.id)}


REQUESTS = """query($first: Int!) { propertyServiceRequests(first: $first) { totalCount edges { node {
  description unitId } } } }"""


def test_requests_graphql_connection_is_pinned(ps, count_queries):
    def grow(have, want):
        for i in range(have, want):
            ps.new_request(description=f"Request {i:03d}: the tap drips.")

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        ps.api.graphql(REQUESTS, {"first": n}), "propertyServiceRequests.edges"))
    assert sorted(edge["node"]["description"] for edge in edges) == [
        f"Request {i:03d}: the tap drips." for i in range(50)]


REQUEST_HISTORY = """query($first: Int!) { propertyServiceRequests(first: $first) { edges { node {
  description history { edges { node { fromState toState actor { email } } } } } } } }"""


def test_requests_history_is_pinned(ps, count_queries):
    """Each request's status moves, nested in the connection, are read for the whole page at once."""
    def grow(have, want):
        for i in range(have, want):
            request = ps.new_request(description=f"Request {i:03d}: the tap drips.")
            ps.act(request["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        ps.api.graphql(REQUEST_HISTORY, {"first": n}), "propertyServiceRequests.edges"),
        expected=4)  # the token with its user, the page of requests, their moves, the moves' actors
    assert sorted(edge["node"]["description"] for edge in edges) == [
        f"Request {i:03d}: the tap drips." for i in range(50)]
    moves = {tuple((m["node"]["fromState"], m["node"]["toState"], m["node"]["actor"]["email"])
                   for m in edge["node"]["history"]["edges"]) for edge in edges}
    assert moves == {(("accepted", "dispatched", "centre@example.com"),)}  # each request: its one move, by whom
