"""The estate's records over GraphQL (estates, buildings, units, occupancies, kinds, SLA policies, teams):
create, read, update with the version, delete, restore, filter — the services and rules REST uses, with
inputs made from the same marshmallow schemas."""
from __future__ import annotations

BASE = "/api/v1/property-service"

CREATE_ESTATE = """mutation($input: PropertyEstateCreateInput!) { createPropertyEstate(input: $input) {
  id name address version } }"""
CREATE_UNIT = """mutation($input: PropertyUnitCreateInput!) { createPropertyUnit(input: $input) {
  id unit room area version building { name } } }"""


def test_estate_building_unit_lifecycle(ps):
    centre = ps.as_("centre")
    made = centre.graphql(CREATE_ESTATE, {"input": {"name": "River Park", "address": "8 River Road"}})
    assert made.get("errors") is None, made
    estate = made["data"]["createPropertyEstate"]
    assert (estate["name"], estate["version"]) == ("River Park", 1)
    assert ps.api.get(f"{BASE}/estates/{estate['id']}").get_json()["address"] == "8 River Road"

    building = centre.graphql("""mutation($input: PropertyBuildingCreateInput!) {
      createPropertyBuilding(input: $input) { id estateId name } }""",
                              {"input": {"estateId": estate["id"], "name": "Tower A"}})["data"]["createPropertyBuilding"]
    assert building["estateId"] == estate["id"]
    unit = centre.graphql(CREATE_UNIT, {"input": {"buildingId": building["id"], "room": "1801", "area": "120.50"}})
    assert unit["data"]["createPropertyUnit"]["building"] == {"name": "Tower A"}
    assert unit["data"]["createPropertyUnit"]["area"] == "120.50"
    clash = centre.graphql(CREATE_UNIT, {"input": {"buildingId": building["id"], "room": "1801"}})
    assert clash["data"]["createPropertyUnit"] is None
    assert clash["errors"][0]["extensions"]["code"] == "CONFLICT"

    renamed = centre.graphql("""mutation($id: ID!, $input: PropertyEstateUpdateInput!) {
      updatePropertyEstate(id: $id, input: $input) { name address version } }""",
                             {"id": estate["id"], "input": {"version": 1, "name": "River Park East"}})
    assert renamed["data"]["updatePropertyEstate"] == {"name": "River Park East", "address": "8 River Road",
                                                       "version": 2}
    listed = centre.graphql('{ propertyEstates(first: 10, filter: {q: "river"}) { totalCount edges { node { name } } } }')
    assert listed["data"]["propertyEstates"] == {"totalCount": 1, "edges": [{"node": {"name": "River Park East"}}]}
    gone = centre.graphql("mutation($id: ID!) { deletePropertyEstate(id: $id) { name } }", {"id": estate["id"]})
    assert gone.get("errors") is None, gone
    assert ps.api.get(f"{BASE}/estates/{estate['id']}").status_code == 404
    back = centre.graphql("mutation($id: ID!) { restorePropertyEstate(id: $id) { name version } }", {"id": estate["id"]})
    assert back["data"]["restorePropertyEstate"]["name"] == "River Park East"


def test_bad_and_forbidden_record_input_changes_nothing(ps):
    before = ps.api.get(f"{BASE}/estates").get_json()
    bad = ps.as_("centre").graphql(CREATE_ESTATE, {"input": {"name": ""}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "name" in bad["errors"][0]["extensions"]["fields"]
    denied = ps.as_("eng").graphql(CREATE_ESTATE, {"input": {"name": "Staff's"}})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    stale = ps.as_("centre").graphql("""mutation($id: ID!, $input: PropertyUnitUpdateInput!) {
      updatePropertyUnit(id: $id, input: $input) { room } }""", {"id": str(ps.unit.id), "input": {"version": 99, "room": "9"}})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert ps.api.get(f"{BASE}/estates").get_json() == before
    assert ps.api.get(f"{BASE}/units/{ps.unit.id}").get_json()["room"] == "1203"


def test_occupancy_kind_policy_and_team_records(ps):
    centre = ps.as_("centre")
    occupancy = centre.graphql("""mutation($input: PropertyOccupancyCreateInput!) {
      createPropertyOccupancy(input: $input) { relation unitId customerId unit { room } } }""",
                               {"input": {"unitId": str(ps.unit2.id), "customerId": str(ps.owner.id),
                                          "relation": "FAMILY"}})
    assert occupancy.get("errors") is None, occupancy
    assert occupancy["data"]["createPropertyOccupancy"]["unit"] == {"room": "501"}
    backwards = centre.graphql("""mutation($input: PropertyOccupancyCreateInput!) {
      createPropertyOccupancy(input: $input) { id } }""", {"input": {
        "unitId": str(ps.unit2.id), "customerId": str(ps.tenant.id), "startDate": "2026-05-01",
        "endDate": "2026-04-01"}})
    assert "endDate" in backwards["errors"][0]["extensions"]["fields"]

    kind = centre.graphql("""mutation($input: PropertyRequestKindCreateInput!) {
      createPropertyRequestKind(input: $input) { id code label { zhCn } attributes { code datatype order values { key name } } public } }""", {"input": {
        "code": "pest", "label": {"en": "Pest control", "zhCn": "除虫"}, "public": True,
        "attributes": [{"code": "room", "datatype": "string", "values": [{"key": "k", "name": "Kitchen"}]}]}})
    assert kind.get("errors") is None, kind
    created = kind["data"]["createPropertyRequestKind"]
    assert (created["code"], created["label"]["zhCn"], created["public"]) == ("pest", "除虫", True)
    assert created["attributes"] == [{"code": "room", "datatype": "string", "order": 1,
                                      "values": [{"key": "k", "name": "Kitchen"}]}]

    policy = centre.graphql("""mutation($input: PropertySlaPolicyCreateInput!) {
      createPropertySlaPolicy(input: $input) { kind priority responseMinutes resolutionMinutes } }""", {"input": {
        "kind": "pest", "priority": "URGENT", "responseMinutes": 30, "resolutionMinutes": 10}})
    assert "resolutionMinutes" in policy["errors"][0]["extensions"]["fields"]

    team = centre.graphql("""mutation($input: PropertyTeamCreateInput!) { createPropertyTeam(input: $input) {
      code name { en } version } }""", {"input": {"code": "greening", "name": {"en": "Greening"}, "memberIds": [str(ps.eng2.id)]}})
    assert team["data"]["createPropertyTeam"] == {"code": "greening", "name": {"en": "Greening"}, "version": 1}
    assert [t["code"] for t in ps.api.get(f"{BASE}/teams?code=greening").get_json()] == ["greening"]
    # a label is one input {en, zhCn}: a missing half is named as the client wrote it, the other half kept
    half = centre.graphql("""mutation($input: PropertyRequestKindCreateInput!) {
      createPropertyRequestKind(input: $input) { code } }""", {"input": {"code": "moss", "label": {"en": "Moss"}}})
    assert list(half["errors"][0]["extensions"]["fields"]) == ["label.zhCn"]
    renamed = centre.graphql("""mutation($id: ID!, $input: PropertyRequestKindUpdateInput!) {
      updatePropertyRequestKind(id: $id, input: $input) { label { en zhCn } } }""",
                             {"id": kind["data"]["createPropertyRequestKind"]["id"],
                              "input": {"version": 1, "label": {"zhCn": "灭虫"}}})
    assert renamed["data"]["updatePropertyRequestKind"]["label"] == {"en": "Pest control", "zhCn": "灭虫"}


def test_a_requests_status_history(ps):
    r = ps.new_request()
    ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    ps.act(r["id"], "start", who="eng")
    body = ps.as_("centre").graphql("query($id: ID!) { propertyServiceRequest(id: $id) { history { totalCount "
                                    "edges { node { fromState toState } } } } }", {"id": r["id"]})
    rest = ps.as_("centre").get(f"{BASE}/requests/{r['id']}/history").get_json()
    history = body["data"]["propertyServiceRequest"]["history"]
    assert history["totalCount"] == len(rest)
    assert [e["node"] for e in history["edges"]] == [
        {"fromState": h["from_state"], "toState": h["to_state"]} for h in rest]
    assert [e["node"]["toState"] for e in history["edges"]][-2:] == ["dispatched", "in_progress"]
