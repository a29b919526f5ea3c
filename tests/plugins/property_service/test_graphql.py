"""GraphQL: the propertyServiceRequests connection and its filters, Customer.units and Customer.serviceRequests
without N+1, and the loop's mutations."""
from __future__ import annotations

from api.testing import graphql_list, pin_statements

LIST = """query($filter: PropertyServiceRequestFilter) {
  propertyServiceRequests(first: 10, filter: $filter, orderBy: [{field: CREATED_AT}]) {
    totalCount
    edges { node { id kind status slaState priority requester { name } team { code } building { name }
                   unit { room building { name } } } }
  }
}"""


def test_service_requests_connection_with_filters(ps):
    a = ps.new_request()
    ps.new_request(kind="consultation", description="Pool hours?", unit_id=None)
    ps.act(a["id"], "dispatch", team_id=str(ps.engineering.id))
    body = ps.as_("centre").graphql(LIST)
    assert body.get("errors") is None, body
    data = body["data"]["propertyServiceRequests"]
    assert data["totalCount"] == 2
    first = data["edges"][0]["node"]
    assert first == {"id": a["id"], "kind": "repair", "status": "DISPATCHED", "slaState": "ON_TIME",
                     "priority": "NORMAL", "requester": {"name": "Wang Fang"}, "team": {"code": "engineering"},
                     "building": {"name": "Building 3"}, "unit": {"room": "1203", "building": {"name": "Building 3"}}}
    for flt, expected in (({"status": "DISPATCHED"}, 1), ({"kind": "consultation"}, 1),
                          ({"teamId": str(ps.engineering.id)}, 1), ({"slaState": "BREACHED"}, 0),
                          ({"buildingId": str(ps.building.id)}, 1)):
        body = ps.as_("centre").graphql(LIST, {"filter": flt})
        assert body["data"]["propertyServiceRequests"]["totalCount"] == expected, flt
    bad = ps.as_("centre").graphql(LIST, {"filter": {"slaState": "late"}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "filter.slaState" in bad["errors"][0]["extensions"]["fields"]
    # permission scope: the security team sees none of these
    assert ps.as_("sec").graphql(LIST)["data"]["propertyServiceRequests"]["totalCount"] == 0


def test_the_loop_through_mutations(ps):
    created = ps.as_("centre").graphql("""mutation($input: PropertyServiceRequestCreateInput!) {
        createPropertyServiceRequest(input: $input) { id status } }""", {"input": {
        "kind": "repair", "requesterId": str(ps.owner.id), "unitId": str(ps.unit.id), "description": "Door sticks"}})
    assert created.get("errors") is None, created
    rid = created["data"]["createPropertyServiceRequest"]["id"]
    steps = [
        ("centre", 'dispatchPropertyServiceRequest(id: $id, teamId: "%s", assigneeId: "%s") { status }'
         % (ps.engineering.id, ps.eng.id), "DISPATCHED"),
        ("eng", "startPropertyServiceRequest(id: $id) { status }", "IN_PROGRESS"),
        ("eng", 'resolvePropertyServiceRequest(id: $id, resolution: "Planed the door") { status }', "RESOLVED"),
        ("centre", 'ratePropertyServiceRequest(id: $id, rating: 5, comment: "Great") { status }', "CLOSED"),
    ]
    for who, field, status in steps:
        body = ps.as_(who).graphql("mutation($id: ID!) { r: %s }" % field, {"id": rid})
        assert body.get("errors") is None, body
        assert body["data"]["r"]["status"] == status
    denied = ps.as_("eng").graphql('mutation($id: ID!) { reopenPropertyServiceRequest(id: $id, reason: "x") { id } }',
                                   {"id": rid})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    stale = ps.as_("centre").graphql("""mutation($id: ID!) { updatePropertyServiceRequest(id: $id,
        input: {version: 1, topic: "doors"}) { id } }""", {"id": rid})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"


CUSTOMERS = """query($first: Int!) { customers(first: $first, orderBy: [{field: NAME}]) { edges { node {
  name units { totalCount edges { node { relation unit { room building { name } } } } }
  serviceRequests { edges { node { kind status team { code } } } }
} } } }"""


def test_customer_units_and_requests_cost_the_same_for_5_and_50_customers(ps, count_queries):
    from core.services import customers
    from plugins.property_service import requests as service
    from plugins.property_service import services

    ps.new_request(requester_id=str(ps.tenant.id), unit_id=str(ps.unit2.id), kind="complaint",
                   description="Noise", team_id=str(ps.security.id))

    def grow(have, want):
        with ps.runtime.database.unit_of_work():
            for i in range(have, want):
                c = customers.create(ps.centre, {"kind": "person", "name": f"Resident {i:02d}"})
                unit = services.units.create(ps.centre, {"building_id": str(ps.building.id), "unit": "9",
                                                         "room": f"{i:02d}"})
                services.occupancies.create(ps.centre, {"unit_id": str(unit.id), "customer_id": str(c.id)})
                service.create(ps.centre, {"kind": "repair", "requester_id": str(c.id), "unit_id": str(unit.id),
                                           "description": "Light", "team_id": str(ps.engineering.id)})

    # auth, the customers page with their tags (one join; no COUNT: totalCount is not asked for), then one
    # batch each: occupancies (a window) and their count, units, buildings, requests, teams — for 5 customers
    # as for 50
    edges = pin_statements(count_queries, grow=grow, expected=8, fetch=lambda n: graphql_list(
        ps.as_("centre").graphql(CUSTOMERS, {"first": n}), "customers.edges"))
    nodes = {e["node"]["name"]: e["node"] for e in edges}
    assert [e["node"] for e in nodes["Li Lei"]["serviceRequests"]["edges"]] == [
        {"kind": "complaint", "status": "DISPATCHED", "team": {"code": "security"}}]
    residents = [n for name, n in nodes.items() if name.startswith("Resident ")]
    assert len(residents) >= 45
    for node in residents:
        room = node["name"].split()[-1]
        assert node["units"] == {"totalCount": 1, "edges": [
            {"node": {"relation": "OWNER", "unit": {"room": room, "building": {"name": "Building 3"}}}}]}
        assert [e["node"] for e in node["serviceRequests"]["edges"]] == [
            {"kind": "repair", "status": "DISPATCHED", "team": {"code": "engineering"}}]


def test_customer_units_are_the_current_ones_ending_today_included_and_rest_lists_the_past_too(ps):
    from datetime import datetime, timedelta, timezone

    today = datetime.now(timezone.utc).date()
    api = ps.as_("centre")
    for room, end in (("701", today - timedelta(days=1)), ("702", today)):
        unit = api.post("/api/v1/property-service/units", json={"building_id": str(ps.building.id), "unit": "3",
                                                                 "room": room})
        assert unit.status_code == 201, unit.get_json()
        made = api.post("/api/v1/property-service/occupancies", json={
            "unit_id": unit.get_json()["id"], "customer_id": str(ps.tenant.id), "relation": "tenant",
            "start_date": "2024-01-01", "end_date": end.isoformat()})
        assert made.status_code == 201, made.get_json()
    body = api.graphql(CUSTOMERS, {"first": 10})
    assert body.get("errors") is None, body
    [tenant] = [e["node"] for e in body["data"]["customers"]["edges"] if e["node"]["name"] == "Li Lei"]
    rooms = sorted(e["node"]["unit"]["room"] for e in tenant["units"]["edges"])
    assert rooms == ["501", "702"]  # not the one that ended yesterday
    past = api.get(f"/api/v1/property-service/customers/{ps.tenant.id}/units")
    assert past.status_code == 200 and len(past.get_json()) == 3
