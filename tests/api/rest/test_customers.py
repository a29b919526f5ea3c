"""Customers over REST: the CRUD contract of DESIGN §4, permissions and bad input."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from core.models import Customer


def customer_count(runtime) -> int:
    with runtime.database.unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Customer))


def create(api, who="rep", **fields):
    body = {"name": "Acme Trading", "industry": "manufacturing", **fields}
    response = api.as_(who).post("/api/v1/customers", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_unauthenticated_call_is_401_json_never_a_redirect(client):
    response = client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.is_json and response.get_json()["code"] == 401
    assert "Location" not in response.headers


def test_health_needs_no_login_and_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True}


def test_created_customer_is_owned_by_its_creator_and_reads_back(api, people):
    body = create(api, tags=["vip", "export"], source="exhibition", kind="company")
    assert body["owner_id"] == str(people.rep.id)
    assert body["version"] == 1 and body["tags"] == ["export", "vip"] and body["stage"] == "potential"
    again = api.as_("rep").get(f"/api/v1/customers/{body['id']}")
    assert again.status_code == 200 and again.get_json()["name"] == "Acme Trading"


def test_list_is_paginated_filtered_and_sorted(api):
    for name, industry in [("Beta", "retail"), ("Alpha", "retail"), ("Gamma", "software")]:
        create(api, name=name, industry=industry)
    response = api.as_("rep").get("/api/v1/customers?industry=retail&sort=-name&page_size=1&page=2")
    assert response.status_code == 200
    assert [c["name"] for c in response.get_json()] == ["Alpha"]
    pagination = json.loads(response.headers["X-Pagination"])
    assert pagination["total"] == 2 and pagination["total_pages"] == 2 and pagination["page"] == 2


def test_page_size_over_100_is_refused_naming_the_field(api):
    response = api.as_("rep").get("/api/v1/customers?page_size=101")
    assert response.status_code == 422
    assert "page_size" in json.dumps(response.get_json())


def test_a_page_number_far_past_any_list_is_422_naming_the_field(api):
    for url in ("/api/v1/customers?page=100000000000000000000", "/api/v1/interactions?page=9223372036854775807",
                "/api/v1/notifications?page=100000000000000000000"):
        response = api.as_("rep").get(url)
        assert response.status_code == 422, (url, response.get_json())
        assert "page" in json.dumps(response.get_json())


def test_the_deepest_page_is_read_and_one_past_it_is_422(api):
    deepest = 2**31  # page_size 1: page n skips n - 1 rows, and 2**31 - 1 rows is as far as a list is read
    last = api.as_("rep").get(f"/api/v1/customers?page_size=1&page={deepest}")
    assert last.status_code == 200 and last.get_json() == []
    past = api.as_("rep").get(f"/api/v1/customers?page_size=1&page={deepest + 1}")
    assert past.status_code == 422 and "page" in past.get_json()["errors"]["json"]

def test_the_last_page_of_a_list_longer_than_256_offers_no_next_cursor(api, runtime, people):
    from core.services import customers

    with runtime.database.unit_of_work():
        for i in range(257):  # past CPython's small-int cache, where `is not` and `<` part ways
            customers.create(people.rep, {"name": f"Customer {i:03d}"})
    middle = api.as_("rep").get("/api/v1/customers?page_size=100&page=2")
    assert middle.status_code == 200 and json.loads(middle.headers["X-Pagination"]).get("next_cursor")
    last = api.as_("rep").get("/api/v1/customers?page_size=100&page=3")
    assert last.status_code == 200 and len(last.get_json()) == 57
    pagination = json.loads(last.headers["X-Pagination"])
    assert pagination["total"] == 257 and not pagination.get("next_cursor")
    assert 'rel="next"' not in last.headers.get("Link", "")

def test_an_empty_key_in_a_sort_list_is_skipped_not_the_end_of_the_list(api):
    for name in ("Beta", "Alpha", "Gamma"):
        create(api, name=name, industry="retail")

    def names(sort):
        response = api.as_("rep").get(f"/api/v1/customers?sort={sort}")
        assert response.status_code == 200, response.get_json()
        return [c["name"] for c in response.get_json()]

    # both cannot hold for a list that stopped at the empty key (it would come in id order)
    assert names(",-name") == ["Gamma", "Beta", "Alpha"]
    assert names("industry,,name") == ["Alpha", "Beta", "Gamma"]

def test_unknown_filter_and_sort_key_are_422_naming_them(api):
    bad_filter = api.as_("rep").get("/api/v1/customers?colour=red")
    assert bad_filter.status_code == 422 and "colour" in bad_filter.get_json()["errors"]["json"]
    bad_sort = api.as_("rep").get("/api/v1/customers?sort=password")
    assert bad_sort.status_code == 422 and "sort" in bad_sort.get_json()["errors"]["json"]


def test_patch_with_current_version_updates_and_bumps_version(api):
    body = create(api)
    response = api.as_("rep").patch(f"/api/v1/customers/{body['id']}",
                                    json={"version": body["version"], "region": "华东", "tags": ["key"]})
    assert response.status_code == 200, response.get_json()
    updated = response.get_json()
    assert updated["region"] == "华东" and updated["tags"] == ["key"] and updated["version"] == 2
    assert updated["name"] == "Acme Trading" and updated["kind"] == "company"


def test_patch_with_stale_version_is_409_and_changes_nothing(api):
    body = create(api)
    first = api.as_("rep").patch(f"/api/v1/customers/{body['id']}", json={"version": 1, "region": "North"})
    assert first.status_code == 200
    stale = api.as_("rep").patch(f"/api/v1/customers/{body['id']}", json={"version": 1, "region": "South"})
    assert stale.status_code == 409
    assert "version" in stale.get_json()["errors"]["json"]
    assert api.as_("rep").get(f"/api/v1/customers/{body['id']}").get_json()["region"] == "North"


def test_patch_without_version_is_422(api):
    body = create(api)
    response = api.as_("rep").patch(f"/api/v1/customers/{body['id']}", json={"region": "North"})
    assert response.status_code == 422 and "version" in response.get_json()["errors"]["json"]


def test_delete_is_soft_and_restorable(api, runtime):
    body = create(api)
    assert api.as_("rep").delete(f"/api/v1/customers/{body['id']}").status_code == 204
    assert api.as_("rep").get(f"/api/v1/customers/{body['id']}").status_code == 404
    assert customer_count(runtime) == 1  # the row is kept
    listed = api.as_("rep").get("/api/v1/customers?deleted=true").get_json()
    assert [c["id"] for c in listed] == [body["id"]]
    restored = api.as_("rep").post(f"/api/v1/customers/{body['id']}/restore")
    assert restored.status_code == 200 and restored.get_json()["deleted_at"] is None
    assert api.as_("rep").get(f"/api/v1/customers/{body['id']}").status_code == 200


def test_rep_cannot_read_change_or_delete_another_reps_customer(api):
    body = create(api, who="rep")
    url = f"/api/v1/customers/{body['id']}"
    assert api.as_("rep2").get(url).status_code == 404
    assert api.as_("rep2").patch(url, json={"version": 1, "name": "Mine"}).status_code == 404
    assert api.as_("rep2").delete(url).status_code == 404
    assert api.as_("rep2").get("/api/v1/customers").get_json() == []


def test_manager_sees_the_teams_customers_other_manager_does_not(api):
    body = create(api, who="rep")
    url = f"/api/v1/customers/{body['id']}"
    assert api.as_("manager").get(url).status_code == 200
    assert api.as_("admin").get(url).status_code == 200
    assert api.as_("other_manager").get(url).status_code == 404
    assert api.as_("other_rep").get(url).status_code == 404


def test_rep_cannot_give_a_customer_to_someone_else(api, people, runtime):
    response = api.as_("rep").post("/api/v1/customers", json={"name": "X", "owner_id": str(people.rep2.id)})
    assert response.status_code == 403
    assert response.get_json()["message"] == "You may only assign customers to yourself."
    assert customer_count(runtime) == 0


def test_manager_can_assign_within_the_team_only(api, people):
    ok = api.as_("manager").post("/api/v1/customers", json={"name": "X", "owner_id": str(people.rep2.id)})
    assert ok.status_code == 201
    refused = api.as_("manager").post("/api/v1/customers", json={"name": "Y", "owner_id": str(people.other_rep.id)})
    assert refused.status_code == 403
    assert refused.get_json()["message"] == "You may only assign customers to yourself or your team."


def test_a_customer_cannot_be_given_to_a_deactivated_or_deleted_user(api, people, runtime):
    from core.services import people as people_service

    with runtime.database.unit_of_work():
        people_service.update_user(people.admin, people.rep2.id, {"version": people.rep2.version, "is_active": False})
    for who in ("admin", "manager"):
        response = api.as_(who).post("/api/v1/customers", json={"name": "X", "owner_id": str(people.rep2.id)})
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["errors"]["json"]["owner_id"] == ["No active user has this id."]
    assert customer_count(runtime) == 0


def test_rep_cannot_hand_a_customer_over_by_patching_its_owner(api, people):
    body = create(api, who="rep")
    url = f"/api/v1/customers/{body['id']}"
    refused = api.as_("rep").patch(url, json={"version": 1, "owner_id": str(people.rep2.id)})
    assert refused.status_code == 403
    kept = api.as_("rep").patch(url, json={"version": 1, "owner_id": str(people.rep.id), "region": "North"})
    assert kept.status_code == 200 and kept.get_json()["owner_id"] == str(people.rep.id)
    moved = api.as_("manager").patch(url, json={"version": 2, "owner_id": str(people.rep2.id)})
    assert moved.status_code == 200 and moved.get_json()["owner_id"] == str(people.rep2.id)
    assert api.as_("rep").get(url).status_code == 404

# --- bad input: every kind answers 4xx naming the field, and writes nothing ---------------------------

def test_malformed_json_is_400_and_writes_nothing(api, runtime):
    response = api.as_("rep").post("/api/v1/customers", data="{not json",
                                   headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.is_json
    assert customer_count(runtime) == 0


def test_body_that_is_not_an_object_is_422(api, runtime):
    response = api.as_("rep").post("/api/v1/customers", json=["a list"])
    assert response.status_code == 422
    assert customer_count(runtime) == 0


def test_unknown_field_is_422_naming_it(api, runtime):
    response = api.as_("rep").post("/api/v1/customers", json={"name": "X", "colour": "red"})
    assert response.status_code == 422
    assert response.get_json()["errors"]["json"]["colour"] == ["Unknown field."]
    assert customer_count(runtime) == 0


def test_wrong_type_is_422_naming_the_field(api, runtime):
    response = api.as_("rep").post("/api/v1/customers", json={"name": 42, "tags": "vip"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert set(errors) == {"name", "tags"}
    assert customer_count(runtime) == 0


def test_over_long_string_is_422_naming_the_field(api, runtime):
    response = api.as_("rep").post("/api/v1/customers", json={"name": "x" * 201})
    assert response.status_code == 422 and "name" in response.get_json()["errors"]["json"]
    assert customer_count(runtime) == 0


def test_missing_required_field_and_bad_choice_are_422(api):
    response = api.as_("rep").post("/api/v1/customers", json={"kind": "robot"})
    errors = response.get_json()["errors"]["json"]
    assert response.status_code == 422 and set(errors) == {"name", "kind"}


def test_owner_that_does_not_exist_is_422_naming_owner_id(api, runtime):
    response = api.as_("admin").post("/api/v1/customers",
                                     json={"name": "X", "owner_id": "00000000-0000-0000-0000-000000000000"})
    assert response.status_code == 422 and "owner_id" in response.get_json()["errors"]["json"]
    assert customer_count(runtime) == 0


def test_unknown_id_in_the_path_is_404(api):
    assert api.as_("rep").get("/api/v1/customers/00000000-0000-0000-0000-000000000000").status_code == 404
    assert api.as_("rep").get("/api/v1/customers/not-a-uuid").status_code == 404


def test_labels_come_in_english_and_chinese(api):
    labels = api.as_("rep").get("/api/v1/labels").get_json()
    assert {"value": "referral", "en": "Referral", "zh_cn": "转介绍"} in labels["customer_source"]
    assert [c["zh_cn"] for c in labels["lifecycle_stage"]] == ["潜在客户", "意向客户", "购买客户", "历史客户", "流失客户"]


def test_blank_names_are_refused(api, runtime):
    response = api.as_("rep").post("/api/v1/customers", json={"name": "   "})
    assert response.status_code == 422 and response.get_json()["errors"]["json"]["name"] == ["Must not be blank."]
    assert customer_count(runtime) == 0


def test_customer_search_takes_percent_and_underscore_literally(api):
    create(api, name="Acme_Trading")
    create(api, name="AcmeXTrading")
    search = "/api/v1/customers?q="
    assert [c["name"] for c in api.as_("rep").get(search + "acme_t").get_json()] == ["Acme_Trading"]
    assert api.as_("rep").get(search + "%25").get_json() == []  # a "%" is not a wildcard
    assert sorted(c["name"] for c in api.as_("rep").get(search + "TRADING").get_json()) == [
        "AcmeXTrading", "Acme_Trading"]  # case-insensitive
