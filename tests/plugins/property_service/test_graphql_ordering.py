"""GraphQL: ``Customer.units`` and ``Customer.serviceRequests`` take the typed ``orderBy`` of their root lists
(``propertyOccupancies``, ``propertyServiceRequests``) and keep their order when it is not given."""
from __future__ import annotations

ASC, DESC = "ASC", "DESC"


def data(body):
    assert body.get("errors") is None, body
    return body["data"]


def order(field, direction=ASC):
    return [{"field": field, "direction": direction}]


REQUESTS = """query($id: ID!, $order: [PropertyServiceRequestOrder!]) { customer(id: $id) {
  serviceRequests(orderBy: $order) { edges { node { description } } } } }"""


def _requests(ps, customer, made):
    """``made``: (description, day of March 2026 it came in, priority), filed for ``customer``."""
    for description, day, priority in made:
        ps.new_request(requester_id=str(customer.id), unit_id=None, description=description, priority=priority,
                       received_at=f"2026-03-0{day}T02:00:00+00:00")


def test_a_customers_requests_follow_order_by_and_stay_newest_first_without_it(ps):
    _requests(ps, ps.owner, (("a", 1, "normal"), ("b", 2, "high"), ("c", 3, "low")))

    def descriptions(order_by=None):
        edges = data(ps.as_("centre").graphql(REQUESTS, {"id": str(ps.owner.id), "order": order_by}))[
            "customer"]["serviceRequests"]["edges"]
        return [e["node"]["description"] for e in edges]

    assert descriptions() == ["c", "b", "a"]                          # newest first, as before
    assert descriptions(order("CREATED_AT")) == ["a", "b", "c"]
    assert descriptions(order("PRIORITY")) == ["b", "c", "a"]         # high, low, normal (as stored)
    assert descriptions(order("PRIORITY", DESC)) == ["a", "c", "b"]
    # two orderings of the same list in one query are two batches, each in its own order
    both = data(ps.as_("centre").graphql("""query($id: ID!) { customer(id: $id) {
        up: serviceRequests(orderBy: [{field: PRIORITY}]) { edges { node { description } } }
        down: serviceRequests(orderBy: [{field: PRIORITY, direction: DESC}]) { edges { node { description } } }
        } }""", {"id": str(ps.owner.id)}))["customer"]
    assert [[e["node"]["description"] for e in both[k]["edges"]] for k in ("up", "down")] == [
        ["b", "c", "a"], ["a", "c", "b"]]


PAGES = """query($a: ID!, $b: ID!, $afterA: String, $afterB: String, $order: [PropertyServiceRequestOrder!]) {
  a: customer(id: $a) { serviceRequests(first: 2, after: $afterA, orderBy: $order) {
    edges { node { description } } pageInfo { hasNextPage endCursor } } }
  b: customer(id: $b) { serviceRequests(first: 2, after: $afterB, orderBy: $order) {
    edges { node { description } } pageInfo { hasNextPage endCursor } } } }"""


def test_paging_two_customers_requests_under_priority_desc_returns_each_once(ps):
    _requests(ps, ps.owner, (("a1", 1, "normal"), ("a2", 2, "high"), ("a3", 3, "low")))
    _requests(ps, ps.tenant, (("b1", 1, "low"), ("b2", 2, "urgent"), ("b3", 3, "high")))
    variables = {"a": str(ps.owner.id), "b": str(ps.tenant.id), "order": order("PRIORITY", DESC),
                 "afterA": None, "afterB": None}
    seen, more = {"a": [], "b": []}, {"a": True, "b": True}
    for _ in range(4):
        answer = data(ps.as_("centre").graphql(PAGES, variables))
        for alias in ("a", "b"):
            if not more[alias]:
                continue
            page = answer[alias]["serviceRequests"]
            seen[alias] += [e["node"]["description"] for e in page["edges"]]
            more[alias] = page["pageInfo"]["hasNextPage"]
            variables["after" + alias.upper()] = page["pageInfo"]["endCursor"]
        if not any(more.values()):
            break
    # priorities as stored, descending: urgent, normal, low, high
    assert seen == {"a": ["a1", "a3", "a2"], "b": ["b2", "b1", "b3"]}


UNITS = """query($id: ID!, $order: [PropertyOccupancyOrder!]) { customer(id: $id) {
  units(orderBy: $order) { edges { node { startDate unit { unit room } } } } } }"""


def test_a_customers_units_follow_order_by_and_stay_by_unit_and_room_without_it(ps):
    from plugins.property_service import services

    with ps.runtime.database.unit_of_work():       # the owner already lives in unit 2, room 1203, since 2020
        for unit, room, since in (("3", "301", "2018-01-01"), ("1", "101", "2019-01-01")):
            made = services.units.create(ps.centre, {"building_id": str(ps.building.id), "unit": unit, "room": room})
            services.occupancies.create(ps.centre, {"unit_id": str(made.id), "customer_id": str(ps.owner.id),
                                                    "relation": "owner", "start_date": since})

    def rooms(order_by=None):
        edges = data(ps.as_("centre").graphql(UNITS, {"id": str(ps.owner.id), "order": order_by}))[
            "customer"]["units"]["edges"]
        return [e["node"]["unit"]["room"] for e in edges]

    assert rooms() == ["101", "1203", "301"]                        # by unit, then room, as before
    assert rooms(order("START_DATE")) == ["301", "101", "1203"]
    assert rooms(order("START_DATE", DESC)) == ["1203", "101", "301"]
