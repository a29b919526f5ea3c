"""Shows, editions, booths and the exhibitor participation workflow — over REST, as users see them."""
from __future__ import annotations

from sqlalchemy import select

from core import db
from core.models import OutboxEvent
from tests.plugins.exhibitions.conftest import BASE, ok, participate


def test_participation_moves_through_the_workflow_with_history(show):
    p = participate(show, "alpha", show.first, status="confirmed")
    assert p["status"] == "confirmed" and p["company_name"] == "Alpha Machines Ltd"
    history = ok(show.api.get(f"{BASE}/participations/{p['id']}/history"))
    assert [(h["from_state"], h["to_state"]) for h in history] == [("invited", "applied"), ("applied", "confirmed")]


def test_illegal_move_is_422_naming_the_allowed_targets(show):
    p = participate(show, "alpha", show.first, status="applied")
    response = show.api.post(f"{BASE}/participations/{p['id']}/status", json={"to": "attended"})
    assert response.status_code == 422
    assert "Allowed: confirmed, cancelled" in response.get_json()["errors"]["json"]["to"][0]   # the field sent


def test_exhibitor_applies_and_cancels_but_cannot_confirm(show):
    p = ok(show.api.post(f"{BASE}/participations", json={"edition_id": show.first["id"],
                                                         "company_id": show.companies["alpha"]["id"]}), 201)
    alpha = show.as_("alpha")
    assert ok(alpha.post(f"{BASE}/participations/{p['id']}/status", json={"to": "applied"}))["status"] == "applied"
    assert alpha.post(f"{BASE}/participations/{p['id']}/status", json={"to": "confirmed"}).status_code == 403
    assert ok(alpha.post(f"{BASE}/participations/{p['id']}/status", json={"to": "cancelled"}))["status"] == "cancelled"


def test_exhibitor_applies_for_its_own_company_only(show):
    alpha = show.as_("alpha")
    mine = ok(alpha.post(f"{BASE}/participations", json={"edition_id": show.first["id"],
                                                         "company_id": show.companies["alpha"]["id"]}), 201)
    assert mine["status"] == "applied"
    # beta's company is not even visible to alpha
    other = alpha.post(f"{BASE}/participations", json={"edition_id": show.first["id"],
                                                       "company_id": show.companies["beta"]["id"]})
    assert other.status_code == 422 and "company_id" in other.get_json()["errors"]["json"]


def test_second_participation_of_a_company_in_an_edition_is_409(show):
    participate(show, "alpha", show.first, status="invited")
    again = show.api.post(f"{BASE}/participations", json={"edition_id": show.first["id"],
                                                          "company_id": show.companies["alpha"]["id"]})
    assert again.status_code == 409


def test_paying_sells_the_reserved_booth_and_cancelling_frees_it(show):
    booth = ok(show.api.post(f"{BASE}/booths", json={"edition_id": show.first["id"], "number": "1-001", "hall": "1",
                                                     "area": "18", "price": "36000"}), 201)
    p = participate(show, "alpha", show.first, status="confirmed")
    assigned = ok(show.api.post(f"{BASE}/participations/{p['id']}/booths", json={"booth_id": booth["id"]}))
    assert assigned["status"] == "reserved" and assigned["participation_id"] == p["id"]
    ok(show.api.post(f"{BASE}/participations/{p['id']}/status", json={"to": "paid"}))
    assert ok(show.api.get(f"{BASE}/booths/{booth['id']}"))["status"] == "sold"
    metrics = ok(show.api.get(f"{BASE}/editions/{show.first['id']}/metrics"))
    assert metrics["booth_area_sold"] == 18.0 and metrics["booth_revenue"] == 36000.0
    ok(show.api.post(f"{BASE}/participations/{p['id']}/status", json={"to": "cancelled", "reason": "withdrew"}))
    freed = ok(show.api.get(f"{BASE}/booths/{booth['id']}"))
    assert freed["status"] == "available" and freed["participation_id"] is None


def test_a_taken_booth_cannot_be_given_to_another_exhibitor(show):
    booth = ok(show.api.post(f"{BASE}/booths", json={"edition_id": show.first["id"], "number": "1-002",
                                                     "area": "9"}), 201)
    a = participate(show, "alpha", show.first, status="confirmed")
    b = participate(show, "beta", show.first, status="confirmed")
    ok(show.api.post(f"{BASE}/participations/{a['id']}/booths", json={"booth_id": booth["id"]}))
    assert show.api.post(f"{BASE}/participations/{b['id']}/booths", json={"booth_id": booth["id"]}).status_code == 409


def test_booth_hall_must_be_one_of_the_editions_halls(show):
    response = show.api.post(f"{BASE}/booths", json={"edition_id": show.first["id"], "number": "9", "hall": "7",
                                                     "area": "9"})
    assert response.status_code == 422 and "hall" in response.get_json()["errors"]["json"]


def test_edition_dates_and_timezone_are_validated(show):
    bad = show.api.post(f"{BASE}/editions", json={"exhibition_id": show.exhibition["id"], "name": "x",
                                                  "starts_on": "2027-05-10", "ends_on": "2027-05-01"})
    assert bad.status_code == 422 and "ends_on" in bad.get_json()["errors"]["json"]
    bad = show.api.patch(f"{BASE}/editions/{show.first['id']}", json={"version": show.first["version"],
                                                                      "timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and "timezone" in bad.get_json()["errors"]["json"]


def test_stale_patch_is_409_and_delete_is_soft_and_restorable(show):
    url = f"{BASE}/editions/{show.first['id']}"
    ok(show.api.patch(url, json={"version": show.first["version"], "venue": "Hall X"}))
    assert show.api.patch(url, json={"version": show.first["version"], "venue": "Hall Y"}).status_code == 409
    assert show.api.delete(url).status_code == 204
    assert show.api.get(url).status_code == 404
    assert ok(show.api.post(f"{url}/restore"))["venue"] == "Hall X"


def test_every_write_is_audited_and_emits_an_event(show, runtime):
    participate(show, "alpha", show.first, status="applied")
    with runtime.database.unit_of_work():
        names = set(db.session().scalars(select(OutboxEvent.name)))
    assert {"exhibitions_exhibition.created", "exhibitions_edition.created", "exhibitions_participation.created",
            "exhibitions_participation.status_changed", "exhibitions_exhibitor_user.created"} <= names


def test_only_staff_plan_editions_everyone_reads_them(show):
    body = {"exhibition_id": show.exhibition["id"], "name": "x", "starts_on": "2027-05-10", "ends_on": "2027-05-11"}
    for who in ("rep", "manager", "alpha"):
        assert show.as_(who).post(f"{BASE}/editions", json=body).status_code == 403
        assert show.as_(who).get(f"{BASE}/editions/{show.first['id']}").status_code == 200
    assert ok(show.as_("admin").post(f"{BASE}/editions", json=body), 201)


def test_exhibitor_sees_only_its_own_participations_and_booths(show):
    a = participate(show, "alpha", show.first, status="confirmed")
    b = participate(show, "beta", show.first, status="confirmed")
    booth = ok(show.api.post(f"{BASE}/booths", json={"edition_id": show.first["id"], "number": "2-1", "area": "9"}), 201)
    ok(show.api.post(f"{BASE}/participations/{b['id']}/booths", json={"booth_id": booth["id"]}))
    alpha = show.as_("alpha")
    assert [p["id"] for p in ok(alpha.get(f"{BASE}/participations"))] == [a["id"]]
    assert alpha.get(f"{BASE}/participations/{b['id']}").status_code == 404
    assert alpha.get(f"{BASE}/booths/{booth['id']}").status_code == 404
    assert ok(show.as_("beta").get(f"{BASE}/booths"))[0]["id"] == booth["id"]
    # a user with the exhibitor role but no company sees no participation at all
    assert ok(show.as_("loose").get(f"{BASE}/participations")) == []


def test_exhibitor_sees_its_own_company_but_no_other_customer(show):
    alpha = show.as_("alpha")
    assert ok(alpha.get(f"/api/v1/customers/{show.companies['alpha']['id']}"))["name"] == "Alpha Machines Ltd"
    assert alpha.get(f"/api/v1/customers/{show.companies['beta']['id']}").status_code == 404


def test_rebooking_invites_last_editions_exhibitors(show):
    participate(show, "alpha", show.first, status="attended", categories=("machinery", "software"))
    participate(show, "beta", show.first, status="cancelled")
    invited = ok(show.api.post(f"{BASE}/editions/{show.second['id']}/exhibitor-invitations"))
    assert [(p["company_name"], p["status"], p["categories"]) for p in invited] == [
        ("Alpha Machines Ltd", "invited", ["machinery", "software"])]
    assert ok(show.api.post(f"{BASE}/editions/{show.second['id']}/exhibitor-invitations")) == []


def test_labels_and_roles_have_english_and_chinese(show):
    labels = ok(show.api.get("/api/v1/labels"))
    assert {"value": "buyer", "en": "Professional buyer", "zh_cn": "专业观众"} in labels["exhibitions_visitor_category"]
    assert {c["value"] for c in labels["role"]} >= {"organiser", "exhibitor"}
    states = {c["value"]: c["zh_cn"] for c in labels["exhibitions_participation.status.state"]}
    assert states["attended"] == "已参展"


def test_booth_rules_of_the_declared_record(show):
    """The booth is a declared record (services.BOOTHS): its own rules live in hooks."""
    url = f"{BASE}/booths"
    booth = ok(show.api.post(url, json={"edition_id": show.first["id"], "number": "3-001", "area": "12.5"}), 201)
    assert (booth["status"], booth["price"], booth["area"]) == ("available", "0.00", "12.50")
    again = show.api.post(url, json={"edition_id": show.first["id"], "number": "3-001", "area": "9"})
    assert again.status_code == 409 and list(again.get_json()["errors"]["json"]) == ["number"]
    assert ok(show.api.post(url, json={"edition_id": show.second["id"], "number": "3-001", "area": "9"}), 201)
    no_area = show.api.post(url, json={"edition_id": show.first["id"], "number": "3-002"})
    assert no_area.status_code == 422 and list(no_area.get_json()["errors"]["json"]) == ["area"]
    for body in ({"status": "sold"}, {"edition_id": show.second["id"]}):
        bad = show.api.patch(f"{url}/{booth['id']}", json={"version": booth["version"], **body})
        assert bad.status_code == 422 and list(bad.get_json()["errors"]["json"]) == list(body)
    p = participate(show, "alpha", show.first, status="confirmed")
    ok(show.api.post(f"{BASE}/participations/{p['id']}/booths", json={"booth_id": booth["id"]}))
    taken = show.api.delete(f"{url}/{booth['id']}")
    assert taken.status_code == 422 and list(taken.get_json()["errors"]["json"]) == ["participation_id"]


def test_edition_rules_of_the_declared_record(show):
    """The edition is a declared record (services.EDITIONS): exhibitors see the default visitor fields
    unless told otherwise, each once; a PATCH keeps the dates in order."""
    from plugins.exhibitions.labels import DEFAULT_VISIBLE_FIELDS

    body = {"exhibition_id": show.exhibition["id"], "name": "CMF 2027", "starts_on": "2027-05-10",
            "ends_on": "2027-05-12"}
    edition = ok(show.api.post(f"{BASE}/editions", json=body), 201)
    assert edition["lead_visible_fields"] == list(DEFAULT_VISIBLE_FIELDS) and edition["timezone"] == "Asia/Shanghai"
    url = f"{BASE}/editions/{edition['id']}"
    edition = ok(show.api.patch(url, json={"version": edition["version"], "lead_visible_fields": ["name", "name"]}))
    assert edition["lead_visible_fields"] == ["name"]
    backwards = show.api.patch(url, json={"version": edition["version"], "ends_on": "2027-05-01"})
    assert backwards.status_code == 422 and list(backwards.get_json()["errors"]["json"]) == ["ends_on"]
    unknown = show.api.post(f"{BASE}/editions", json={**body, "exhibition_id": show.companies["alpha"]["id"]})
    assert unknown.status_code == 422 and list(unknown.get_json()["errors"]["json"]) == ["exhibition_id"]
