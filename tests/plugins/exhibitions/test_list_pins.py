"""Statement-count pins for the exhibitions plugin's own REST lists and GraphQL connections: registrations (visitors),
participations and an exhibitor's leads cost the same number of SQL statements for 5 rows as for 50; so do the
lists nested in GraphQL connections (a visitor's registrations, a company's participations, the status histories)."""
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


# --- lists nested in GraphQL connections (issue #20) ----------------------------------------------

VISITOR_REGISTRATIONS = """query($n: Int!) { customers(first: $n, filter: {kind: PERSON}) { edges { node {
  name registrations { totalCount edges { node { editionId badgeCode } } } } } } }"""


def test_each_visitors_registrations_are_pinned(show, count_queries):
    """Every visitor registers for the first edition; every other one for the second as well."""
    def grow(have, want):
        for i in range(have, want):
            reg = register(show, show.first, f"Visitor {i:03d}")
            if i % 2 == 0:
                register(show, show.second, f"Visitor {i:03d}", visitor_id=reg["visitor_id"])

    # the token, the customers with their tags (one join), the registrations (a window) and their counts
    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        show.api.graphql(VISITOR_REGISTRATIONS, {"n": n}), "customers.edges"), expected=4)
    got = {e["node"]["name"]: [r["node"]["editionId"] for r in e["node"]["registrations"]["edges"]] for e in edges}
    assert got == {f"Visitor {i:03d}": [show.first["id"]] + ([show.second["id"]] if i % 2 == 0 else [])
                   for i in range(50)}
    assert all(e["node"]["registrations"]["totalCount"] == len(got[e["node"]["name"]]) for e in edges)


COMPANY_PARTICIPATIONS = """query($n: Int!) { customers(first: $n, filter: {kind: COMPANY, q: "Exhibitor"}) {
  edges { node { name exhibitorParticipations { totalCount edges { node { editionId status } } } } } } }"""


def test_each_companys_exhibitor_participations_are_pinned(show, count_queries):
    """Every company exhibits at the first edition; every third one at the second as well."""
    def grow(have, want):
        for i in range(have, want):
            show.companies[f"c{i}"] = ok(show.api.post("/api/v1/customers", json={"name": f"Exhibitor {i:03d} Ltd"}), 201)
            participate(show, f"c{i}", show.first, status="confirmed")
            if i % 3 == 0:
                participate(show, f"c{i}", show.second, status="applied")

    # the token, the customers with their tags (one join), the participations (a window) and their counts
    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        show.api.graphql(COMPANY_PARTICIPATIONS, {"n": n}), "customers.edges"), expected=4)
    got = {e["node"]["name"]: sorted((p["node"]["editionId"], p["node"]["status"])
                                     for p in e["node"]["exhibitorParticipations"]["edges"]) for e in edges}
    assert got == {f"Exhibitor {i:03d} Ltd": sorted([(show.first["id"], "CONFIRMED")]
                                                    + ([(show.second["id"], "APPLIED")] if i % 3 == 0 else []))
                   for i in range(50)}
    assert all(e["node"]["exhibitorParticipations"]["totalCount"] == len(got[e["node"]["name"]]) for e in edges)


PARTICIPATION_HISTORY = """query($n: Int!) { exhibitionParticipations(first: $n) { edges { node {
  id status history { totalCount edges { node { fromState toState } } } } } } }"""


def test_each_participations_history_is_pinned(show, count_queries):
    """Each participation moves invited → applied → confirmed; every other one on to paid."""
    made = {}

    def grow(have, want):
        for i in range(have, want):
            show.companies[f"c{i}"] = ok(show.api.post("/api/v1/customers", json={"name": f"Exhibitor {i:03d} Ltd"}), 201)
            made[participate(show, f"c{i}", show.first, status="paid" if i % 2 == 0 else "confirmed")["id"]] = i

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        show.api.graphql(PARTICIPATION_HISTORY, {"n": n}), "exhibitionParticipations.edges"), expected=6)
    assert sorted(made[e["node"]["id"]] for e in edges) == list(range(50))
    for e in edges:
        path = ["invited", "applied", "confirmed"] + (["paid"] if made[e["node"]["id"]] % 2 == 0 else [])
        assert e["node"]["status"] == path[-1].upper()
        assert [h["node"] for h in e["node"]["history"]["edges"]] == [
            {"fromState": a, "toState": b} for a, b in zip(path, path[1:])], e
        assert e["node"]["history"]["totalCount"] == len(path) - 1


MEETING_HISTORY = """query($n: Int!) { exhibitionMeetings(first: $n) { edges { node {
  registrationId status history { totalCount edges { node { fromState toState } } } } } } }"""


def test_each_meetings_history_is_pinned(show, count_queries):
    """Alpha asks each buyer for a meeting and the organiser accepts it; every other one is then held."""
    participation = participate(show, "alpha", show.first)
    made = {}

    def grow(have, want):
        for i in range(have, want):
            visitor = register(show, show.first, f"Buyer {i:03d}")
            meeting = ok(show.as_("alpha").post(f"{BASE}/meetings", json={
                "participation_id": participation["id"], "registration_id": visitor["id"]}), 201)
            ok(show.api.post(f"{BASE}/meetings/{meeting['id']}/status", json={"to": "accepted"}))
            if i % 2 == 0:
                ok(show.as_("alpha").post(f"{BASE}/meetings/{meeting['id']}/status", json={"to": "held"}))
            made[visitor["id"]] = i

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        show.api.graphql(MEETING_HISTORY, {"n": n}), "exhibitionMeetings.edges"), expected=9)
    assert sorted(made[e["node"]["registrationId"]] for e in edges) == list(range(50))
    for e in edges:
        path = ["requested", "accepted"] + (["held"] if made[e["node"]["registrationId"]] % 2 == 0 else [])
        assert e["node"]["status"] == path[-1].upper()
        assert [h["node"] for h in e["node"]["history"]["edges"]] == [
            {"fromState": a, "toState": b} for a, b in zip(path, path[1:])], e
        assert e["node"]["history"]["totalCount"] == len(path) - 1
