"""Estates, buildings, units, occupancies, request kinds and SLA policies are declared records (services.estates …):
their own rules, now hooks, answer as they did, and the OpenAPI document keeps the schema names while a
PATCH body documents only `version` as required (a PATCH always sent only what changed)."""
from __future__ import annotations

BASE = "/api/v1/property-service"


def test_the_rules_moved_into_hooks_answer_as_before(ps):
    api = ps.as_("centre")
    unknown = api.post(f"{BASE}/buildings", json={"estate_id": str(ps.building.id), "name": "B"})
    assert unknown.status_code == 422 and unknown.get_json()["errors"]["json"] == {"estate_id": ["No estate with this id."]}
    clash = api.post(f"{BASE}/units", json={"building_id": str(ps.building.id), "unit": "2", "room": "1203"})
    assert clash.status_code == 409 and clash.get_json()["errors"]["json"] == {"room": ["Already exists."]}
    assert clash.get_json()["message"] == "This building already has this unit and room."
    taken = api.post(f"{BASE}/kinds", json={"code": "repair", "label_en": "Again", "label_zh_cn": "再"})
    assert taken.status_code == 409 and taken.get_json()["errors"]["json"] == {"code": ["Already taken."]}

    # a deleted unit whose room was taken again cannot come back; a deleted team is no kind's default
    unit = api.get(f"{BASE}/units/{ps.unit2.id}").get_json()
    assert api.delete(f"{BASE}/units/{unit['id']}").status_code == 204
    assert api.post(f"{BASE}/units", json={"building_id": unit["building_id"], "unit": unit["unit"],
                                           "room": unit["room"]}).status_code == 201
    assert api.post(f"{BASE}/units/{unit['id']}/restore").status_code == 409
    assert api.delete(f"{BASE}/teams/{ps.security.id}").status_code == 204
    refused = api.post(f"{BASE}/kinds", json={"code": "parking", "label_en": "Parking", "label_zh_cn": "停车",
                                              "default_team_id": str(ps.security.id)})
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["json"] == {"default_team_id": ["No team with this id."]}


def test_an_occupancy_is_refused_for_its_first_problem_alone_as_before(ps):
    api = ps.as_("centre")
    url = f"{BASE}/occupancies"

    def refused(body):
        answer = api.post(url, json=body)
        assert answer.status_code == 422, answer.get_json()
        return answer.get_json()["errors"]["json"]

    unseen = str(ps.rep_customer.id)   # a rep's customer the centre does not see
    backwards = {"start_date": "2024-01-02", "end_date": "2024-01-01"}
    # the dates first, then the unit, then the customer: the one field named is the one it always was
    assert refused({"unit_id": str(ps.estate.id), "customer_id": unseen, **backwards}) == {
        "end_date": ["Must not be before start_date."]}
    assert refused({"unit_id": str(ps.estate.id), "customer_id": unseen}) == {"unit_id": ["No unit with this id."]}
    assert refused({"unit_id": str(ps.unit.id), "customer_id": unseen}) == {
        "customer_id": ["No customer with this id."]}
    assert api.delete(f"{BASE}/units/{ps.unit2.id}").status_code == 204
    assert refused({"unit_id": str(ps.unit2.id), "customer_id": str(ps.owner.id)}) == {
        "unit_id": ["No unit with this id."]}

    made = api.post(url, json={"unit_id": str(ps.unit.id), "customer_id": str(ps.tenant.id)})
    assert made.status_code == 201 and made.get_json()["relation"] == "owner"
    occupancy = f"{url}/{made.get_json()['id']}"
    moved = api.patch(occupancy, json={"version": made.get_json()["version"], "unit_id": str(ps.unit2.id)})
    assert moved.status_code == 422 and "unit_id" in moved.get_json()["errors"]["json"]   # fixed once made
    assert api.delete(occupancy).status_code == 204
    assert api.post(f"{occupancy}/restore").status_code == 200
    assert ps.as_("rep").get(occupancy).status_code == 404   # out of the rep's scope, as a missing one


def test_the_openapi_names_stay_and_a_patch_body_requires_only_version(api):
    schemas = api.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for stem, create_required in (("Estate", ["name"]), ("Building", ["estate_id", "name"]),
                                  ("Unit", ["building_id", "room"]), ("Kind", ["code", "label_en", "label_zh_cn"]),
                                  ("SlaPolicy", ["priority", "resolution_minutes", "response_minutes"]),
                                  ("Occupancy", ["customer_id", "unit_id"])):
        assert sorted(schemas[f"{stem}Create"]["required"]) == create_required, stem
        assert schemas[f"{stem}Update"]["required"] == ["version"], stem
        assert f"{stem}Out" in schemas
    assert schemas["SlaPolicyCreate"]["properties"]["kind"]["default"] == "*"
    assert schemas["OccupancyCreate"]["properties"]["relation"]["default"] == "owner"


def test_hook_trellis_export_types(ps, cli):
    """A declared record's list is exportable (RecordSpec.list_export through trellis_export_types): the
    rows the list shows, with its filters, in the fields of its REST output."""
    import csv
    import io
    import json

    api = ps.as_("centre")
    river = api.post(f"{BASE}/estates", json={"name": "River Side", "address": "9 River Road"}).get_json()
    gone = api.post(f"{BASE}/estates", json={"name": "River Gone"}).get_json()
    assert api.delete(f"{BASE}/estates/{gone['id']}").status_code == 204

    listed = api.get(f"{BASE}/estates?q=river").get_json()
    exported = api.get("/api/v1/exports/property_service.estates?q=river&format=jsonl")
    assert exported.status_code == 200 and exported.headers["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in exported.get_data(as_text=True).splitlines()]
    assert [r["id"] for r in rows] == [e["id"] for e in listed] == [river["id"]]
    assert rows[0] == {k: listed[0][k] for k in rows[0]} and set(rows[0]) >= {"name", "address", "lat", "long",
                                                                               "version"}
    deleted = api.get("/api/v1/exports/property_service.estates?deleted=true").get_data(as_text=True)
    assert [r["id"] for r in csv.DictReader(io.StringIO(deleted))] == [gone["id"]]

    bad = api.get("/api/v1/exports/property_service.estates?colour=red")
    assert bad.status_code == 422 and "colour" in bad.get_json()["errors"]["json"]
    assert ps.as_(None).get("/api/v1/exports/property_service.estates").status_code == 401

    units = cli("export", "property_service.units", "--format", "jsonl", "--filter", f"building_id={ps.building.id}")
    assert units.exit_code == 0, units.output
    assert sorted(json.loads(line)["room"] for line in units.stdout.splitlines()) == sorted(
        u["room"] for u in api.get(f"{BASE}/units?building_id={ps.building.id}").get_json())
    types = {t["name"]: t for t in api.get("/api/v1/exports").get_json()}
    assert {"property_service.estates", "property_service.buildings", "property_service.units",
            "property_service.request_kinds", "property_service.sla_policies"} <= set(types)
    assert "q" in types["property_service.estates"]["filters"] and "name" in types["property_service.estates"]["columns"]
