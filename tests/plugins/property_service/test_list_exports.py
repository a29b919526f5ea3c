"""The occupancies and the Open311 API keys export as their REST lists show them: the same records for the
same filters and the same (scoped) user, each row the list item's fields, a bad filter a 422 naming it."""
from __future__ import annotations

import json

import pytest

BASE = "/api/v1/property-service"


def exported(api, name, query=""):
    response = api.get(f"/api/v1/exports/{name}?format=jsonl&{query}")
    assert response.status_code == 200, response.get_json()
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


#: the columns an export adds to a list item: each reference by the referenced record's external id too
REFERENCES = {"property_service.occupancies": {"unit_external_id", "customer_external_id"}}


def assert_exports_the_list(api, name, path, query=""):
    """The export of ``name`` holds the records ``GET path?query`` lists, each row its item's fields (and
    the references by external id: none of the fixture's records has one, so their Trellis ids stay)."""
    listed = {item["id"]: item for item in api.get(f"{BASE}/{path}?page_size=100&{query}").get_json()}
    rows = exported(api, name, query)
    assert sorted(r["id"] for r in rows) == sorted(listed) and rows
    for row in rows:
        extra = REFERENCES.get(name, set())
        assert {k: v for k, v in row.items() if k not in extra} == listed[row["id"]]
        assert {k: row[k] for k in extra} == dict.fromkeys(extra)
    return rows


@pytest.fixture
def linked(ps):
    """The rep's customer lives in the second unit too; a past tenant of the first unit was deleted."""
    centre = ps.as_("centre")
    made = ps.api.post(f"{BASE}/occupancies", json={"unit_id": str(ps.unit2.id), "customer_id": str(ps.rep_customer.id),
                                                    "relation": "family", "start_date": "2023-02-01"})
    assert made.status_code == 201, made.get_json()
    gone = centre.post(f"{BASE}/occupancies", json={"unit_id": str(ps.unit.id), "customer_id": str(ps.tenant.id),
                                                    "relation": "tenant"}).get_json()
    assert centre.delete(f"{BASE}/occupancies/{gone['id']}").status_code == 204
    return {"rep": made.get_json(), "gone": gone}


def test_occupancies_export_as_their_list_with_its_filters_and_scope(ps, linked):
    [rep_row] = assert_exports_the_list(ps.as_("rep"), "property_service.occupancies", "occupancies")
    assert rep_row["id"] == linked["rep"]["id"] and rep_row["start_date"] == "2023-02-01"
    centre = ps.as_("centre")
    assert len(assert_exports_the_list(centre, "property_service.occupancies", "occupancies")) == 3
    assert len(assert_exports_the_list(centre, "property_service.occupancies", "occupancies",
                                       f"unit_id={ps.unit2.id}&relation=tenant")) == 1
    [gone] = assert_exports_the_list(centre, "property_service.occupancies", "occupancies", "deleted=true")
    assert gone["id"] == linked["gone"]["id"] and gone["deleted_at"]
    assert exported(ps.as_("other_rep"), "property_service.occupancies") == []


def test_the_api_keys_export_as_their_list_for_admins_only(ps):
    made = ps.api.post(f"{BASE}/api-keys", json={"name": "Kiosk", "user_id": str(ps.centre.id)}).get_json()
    [row] = assert_exports_the_list(ps.api, "property_service.api_keys", "api-keys")
    assert row["name"] == "Kiosk" and row["prefix"] == made["prefix"] and "key" not in row
    assert ps.as_("centre").get("/api/v1/exports/property_service.api_keys").status_code == 403


@pytest.mark.parametrize("name, query, field", [("property_service.occupancies", "relation=landlord", "relation"),
                                                ("property_service.occupancies", "unit_id=nope", "unit_id"),
                                                ("property_service.api_keys", "name=Kiosk", "name")])
def test_a_bad_filter_is_a_422_naming_it(ps, name, query, field):
    response = ps.api.get(f"/api/v1/exports/{name}?{query}")
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"]


def test_the_cli_exports_a_filtered_list_and_the_types_are_listed(ps, linked, cli):
    result = cli("export", "property_service.occupancies", "--format", "jsonl", "--filter",
                 f"customer_id={ps.rep_customer.id}")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == [linked["rep"]["id"]]
    types = {t["name"]: t for t in ps.api.get("/api/v1/exports").get_json()}
    assert {"unit_id", "customer_id", "relation", "deleted"} <= set(types["property_service.occupancies"]["filters"])
    assert "relation" in types["property_service.occupancies"]["columns"]
    assert "key" not in types["property_service.api_keys"]["columns"]
    assert "property_service.teams" in types


def test_an_export_batch_of_occupancies_costs_the_same_statements_for_one_as_for_more(ps, linked, count_queries):
    from core import db
    from core.services import exports

    with ps.runtime.database.unit_of_work():
        admin = db.session().get(type(ps.people.admin), ps.people.admin.id)
        with count_queries() as one:
            assert len(list(exports.rows(admin, "property_service.occupancies",
                                         {"customer_id": str(ps.owner.id)}))) == 1
        with count_queries() as more:
            assert len(list(exports.rows(admin, "property_service.occupancies", {}))) == 3
    assert one.count == more.count == 3   # the occupancies; their units' and customers' external ids


def test_teams_export_with_their_members_in_one_query_per_batch(ps, count_queries):
    """Teams export as their list shows them, member ids included (read per batch, as the list reads them
    per page)."""
    rows = assert_exports_the_list(ps.as_("centre"), "property_service.teams", "teams")
    by_code = {r["code"]: r for r in rows}
    assert sorted(by_code["engineering"]["member_ids"]) == sorted([str(ps.eng.id), str(ps.eng2.id)])
    assert by_code["security"]["member_ids"] == [str(ps.sec.id)]
    assert [r["code"] for r in exported(ps.as_("centre"), "property_service.teams", "code=security")] == ["security"]
    with count_queries() as one:
        exported(ps.as_("centre"), "property_service.teams", "code=security")
    with count_queries() as both:
        exported(ps.as_("centre"), "property_service.teams")
    assert len(one.statements) == len(both.statements)   # the members of a batch: one query, not one per team
