"""Estates, buildings, units, request kinds and SLA policies are declared records (services.estates …):
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


def test_the_openapi_names_stay_and_a_patch_body_requires_only_version(api):
    schemas = api.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for stem, create_required in (("Estate", ["name"]), ("Building", ["estate_id", "name"]),
                                  ("Unit", ["building_id", "room"]), ("Kind", ["code", "label_en", "label_zh_cn"]),
                                  ("SlaPolicy", ["priority", "resolution_minutes", "response_minutes"])):
        assert sorted(schemas[f"{stem}Create"]["required"]) == create_required, stem
        assert schemas[f"{stem}Update"]["required"] == ["version"], stem
        assert f"{stem}Out" in schemas
    assert schemas["SlaPolicyCreate"]["properties"]["kind"]["default"] == "*"
