"""GraphQL: the serviceRequests connection and its filters, Customer.units and Customer.serviceRequests
without N+1, and the loop's mutations."""
from __future__ import annotations

LIST = """query($filter: ServiceRequestFilter) {
  serviceRequests(first: 10, filter: $filter, orderBy: "createdAt") {
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
    data = body["data"]["serviceRequests"]
    assert data["totalCount"] == 2
    first = data["edges"][0]["node"]
    assert first == {"id": a["id"], "kind": "repair", "status": "dispatched", "slaState": "on_time",
                     "priority": "normal", "requester": {"name": "Wang Fang"}, "team": {"code": "engineering"},
                     "building": {"name": "Building 3"}, "unit": {"room": "1203", "building": {"name": "Building 3"}}}
    for flt, expected in (({"status": "dispatched"}, 1), ({"kind": "consultation"}, 1),
                          ({"teamId": str(ps.engineering.id)}, 1), ({"slaState": "breached"}, 0),
                          ({"buildingId": str(ps.building.id)}, 1)):
        body = ps.as_("centre").graphql(LIST, {"filter": flt})
        assert body["data"]["serviceRequests"]["totalCount"] == expected, flt
    bad = ps.as_("centre").graphql(LIST, {"filter": {"slaState": "late"}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "filter.slaState" in bad["errors"][0]["extensions"]["fields"]
    # permission scope: the security team sees none of these
    assert ps.as_("sec").graphql(LIST)["data"]["serviceRequests"]["totalCount"] == 0


def test_the_loop_through_mutations(ps):
    created = ps.as_("centre").graphql("""mutation($input: ServiceRequestCreateInput!) {
        createServiceRequest(input: $input) { id status } }""", {"input": {
        "kind": "repair", "requesterId": str(ps.owner.id), "unitId": str(ps.unit.id), "description": "Door sticks"}})
    assert created.get("errors") is None, created
    rid = created["data"]["createServiceRequest"]["id"]
    steps = [
        ("centre", 'dispatchServiceRequest(id: $id, teamId: "%s", assigneeId: "%s") { status }'
         % (ps.engineering.id, ps.eng.id), "dispatched"),
        ("eng", "startServiceRequest(id: $id) { status }", "in_progress"),
        ("eng", 'resolveServiceRequest(id: $id, resolution: "Planed the door") { status }', "resolved"),
        ("centre", 'rateServiceRequest(id: $id, rating: 5, comment: "Great") { status }', "closed"),
    ]
    for who, field, status in steps:
        body = ps.as_(who).graphql("mutation($id: ID!) { r: %s }" % field, {"id": rid})
        assert body.get("errors") is None, body
        assert body["data"]["r"]["status"] == status
    denied = ps.as_("eng").graphql('mutation($id: ID!) { reopenServiceRequest(id: $id, reason: "x") { id } }',
                                   {"id": rid})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    stale = ps.as_("centre").graphql("""mutation($id: ID!) { updateServiceRequest(id: $id,
        input: {version: 1, topic: "doors"}) { id } }""", {"id": rid})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"


CUSTOMERS = """{ customers(first: 50, orderBy: "name") { edges { node {
  name units { relation unit { room building { name } } }
  serviceRequests { kind status team { code } }
} } } }"""


def test_customer_units_and_requests_cost_the_same_for_few_and_many_customers(ps, count_queries):
    from core.services import customers
    from plugins.property_service import services

    ps.new_request(team_id=str(ps.engineering.id))
    ps.new_request(requester_id=str(ps.tenant.id), unit_id=str(ps.unit2.id), kind="complaint",
                   description="Noise", team_id=str(ps.security.id))
    ps.as_("centre").graphql(CUSTOMERS)  # warm up (schema caches)
    with count_queries() as few:
        body = ps.as_("centre").graphql(CUSTOMERS)
    assert body.get("errors") is None, body
    nodes = {e["node"]["name"]: e["node"] for e in body["data"]["customers"]["edges"]}
    assert nodes["Wang Fang"]["units"] == [{"relation": "owner", "unit": {"room": "1203",
                                                                          "building": {"name": "Building 3"}}}]
    assert nodes["Li Lei"]["serviceRequests"] == [{"kind": "complaint", "status": "dispatched",
                                                   "team": {"code": "security"}}]
    with ps.runtime.database.unit_of_work():
        for i in range(12):
            c = customers.create(ps.centre, {"kind": "person", "name": f"Resident {i:02d}"})
            unit = services.units.create(ps.centre, {"building_id": str(ps.building.id), "unit": "9",
                                                     "room": f"{i:02d}"})
            services.occupancies.create(ps.centre, {"unit_id": str(unit.id), "customer_id": str(c.id)})
            from plugins.property_service import requests as service

            service.create(ps.centre, {"kind": "repair", "requester_id": str(c.id), "unit_id": str(unit.id),
                                       "description": "Light", "team_id": str(ps.engineering.id)})
    with count_queries() as many:
        body = ps.as_("centre").graphql(CUSTOMERS)
    assert body.get("errors") is None, body
    assert len(body["data"]["customers"]["edges"]) == 14
    # auth, the customers page and count, tags, then one batch each: occupancies, units, buildings,
    # requests, teams — for 2 customers as for 14
    assert few.count == many.count == 10, (few.count, many.count)
