"""The one-time feedback link, the metrics, the settings, the reference records and the labels."""
from __future__ import annotations

import pytest

BASE = "/api/v1/property-service"


@pytest.fixture
def public_feedback():
    """The feedback link is public through trellis_public_endpoints; nothing to set up."""


def resolved(ps):
    r = ps.new_request()
    ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    return ps.act(r["id"], "resolve", who="eng", resolution="Replaced the washer.")


def test_the_owner_rates_once_through_the_link(ps, public_feedback, client):
    r = resolved(ps)
    response = ps.as_("centre").post(f"{BASE}/requests/{r['id']}/feedback-link")
    assert response.status_code == 201
    path = response.get_json()["path"]
    shown = client.get(path)
    assert shown.status_code == 200 and shown.get_json()["resolution"] == "Replaced the washer."
    assert "requester_id" not in shown.get_json()
    bad = client.post(path, json={"rating": 9})
    assert bad.status_code == 422 and "rating" in bad.get_json()["errors"]["json"]
    rated = client.post(path, json={"rating": 1, "comment": "Still drips."})
    assert rated.status_code == 200 and rated.get_json()["status"] == "closed"
    assert client.post(path, json={"rating": 5}).status_code == 404  # spent
    request = ps.as_("centre").get(f"{BASE}/requests/{r['id']}").get_json()
    assert request["rating"] == 1 and request["follow_up_id"]  # a low rating opens a follow-up


def test_only_the_centre_makes_links_and_only_for_resolved_requests(ps):
    r = ps.new_request()
    assert ps.as_("centre").post(f"{BASE}/requests/{r['id']}/feedback-link").status_code == 422
    r = resolved(ps)
    assert ps.as_("eng").post(f"{BASE}/requests/{r['id']}/feedback-link").status_code == 403


def test_hook_trellis_public_endpoints(ps, client):
    r = resolved(ps)
    path = ps.as_("centre").post(f"{BASE}/requests/{r['id']}/feedback-link").get_json()["path"]
    assert client.get(path).status_code == 200  # no login: the link's token is the secret
    forged = path.rstrip("/")[:-4] + "abcd"
    assert client.get(forged).status_code == 404
    assert client.get(f"{BASE}/requests/{r['id']}").status_code == 401  # the rest still needs a login


def metric(ps, name, who="centre", **query):
    response = ps.as_(who).get(f"/api/v1/metrics/{name}", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["rows"]


def test_metrics_count_time_breaches_reopens_and_satisfaction(ps):
    from plugins.property_service import requests as service
    from tests.plugins.property_service.conftest import monday

    with ps.runtime.database.unit_of_work():
        def one(kind, respond_h, resolve_at, rating, topic=""):
            row = service.create(ps.centre, {"kind": kind, "requester_id": str(ps.owner.id), "description": "x",
                                             "unit_id": str(ps.unit.id), "topic": topic,
                                             "received_at": monday(10).isoformat()})
            service.dispatch(ps.centre, row.id, {"team_id": str(ps.engineering.id)}, at=monday(10 + respond_h))
            service.resolve(ps.eng, row.id, {"resolution": "done"}, at=resolve_at)
            service.give_feedback(ps.centre, row.id, {"rating": rating}, at=resolve_at)
            return row

        one("repair", 1, monday(15), 5)
        one("repair", 3, monday(17), 4)  # response 3 h > 2 h: breached
        late = one("repair", 1, monday(12, day=6), 2)  # resolved after the 27 h deadline
        one("suggestion", 1, monday(16), 3, topic="dry_cleaning")
        one("consultation", 1, monday(16), 4, topic="dry_cleaning")
        one("consultation", 1, monday(16), 5, topic="broadband")
        service.reopen(ps.centre, late.id, {"reason": "again"}, at=monday(13, day=6))

    assert metric(ps, "property_service_requests") == [{"group": {}, "value": 6}]
    by_kind = {r["group"]["kind"]: r["value"] for r in metric(ps, "property_service_requests", group_by="kind")}
    assert by_kind == {"consultation": 2, "repair": 3, "suggestion": 1}
    [first] = metric(ps, "property_service_first_response_hours")
    assert first["value"] == 1.0 and first["extra"]["n"] == 6 and first["extra"]["p90"] == 2.0
    [breach] = metric(ps, "property_service_sla_breach_rate")
    assert breach["extra"]["hits"] == 2 and breach["value"] == round(2 / 6, 4)
    [reopen] = metric(ps, "property_service_reopen_rate")
    assert reopen["extra"] == {"n": 6, "hits": 1}
    [satisfaction] = metric(ps, "property_service_satisfaction")
    assert satisfaction["value"] == round((5 + 4 + 3 + 4 + 5) / 5, 2) and satisfaction["extra"]["share_4_5"] == 0.8
    themes = metric(ps, "property_service_demand_themes")
    assert themes[0] == {"group": {"topic": "dry_cleaning"}, "value": 2}
    monthly = metric(ps, "property_service_demand_themes", group_by="month")
    assert monthly[0]["group"] == {"month": "2026-03", "topic": "dry_cleaning"}
    # a rep sees none of these requests, so every number is empty for them
    assert metric(ps, "property_service_requests", who="rep") == [{"group": {}, "value": 0}]
    assert ps.as_("centre").get("/api/v1/metrics/property_service_requests?group_by=colour").status_code == 422


def test_metrics_are_listed_with_both_labels(ps):
    listed = {m["name"]: m for m in ps.as_("centre").get("/api/v1/metrics").get_json()}
    for name in ("property_service_requests", "property_service_first_response_hours",
                 "property_service_resolution_hours", "property_service_sla_breach_rate",
                 "property_service_reopen_rate", "property_service_satisfaction", "property_service_demand_themes"):
        assert listed[name]["label_zh_cn"] and listed[name]["owner"] == "property_service"


def test_settings_are_read_by_all_and_changed_by_the_centre(ps):
    current = ps.as_("eng").get(f"{BASE}/settings").get_json()
    assert current["timezone"] == "Asia/Shanghai" and current["workdays"] == [0, 1, 2, 3, 4]
    assert ps.as_("eng").put(f"{BASE}/settings", json={"workdays": [0, 1, 2, 3, 4, 5]}).status_code == 403
    changed = ps.as_("centre").put(f"{BASE}/settings", json={
        "workdays": [5, 0, 1, 2, 3, 4], "hours": [["08:30", "12:00"], ["13:00", "17:30"]],
        "holidays": ["2026-05-01"]})
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["workdays"] == [0, 1, 2, 3, 4, 5] and body["holidays"] == ["2026-05-01"]
    stale = ps.as_("centre").put(f"{BASE}/settings", json={"at_risk_share": 0.5, "version": body["version"] + 5})
    assert stale.status_code == 409
    for bad in ({"hours": [["18:00", "09:00"]]}, {"timezone": "Mars/Base"}, {"hours": [["9am", "5pm"]]},
                {"workdays": [8]}):
        response = ps.as_("centre").put(f"{BASE}/settings", json=bad)
        assert response.status_code == 422, (bad, response.get_json())


def test_reference_records_follow_the_rest_contract(ps):
    api = ps.as_("centre")
    estate = api.post(f"{BASE}/estates", json={"name": "River Side"}).get_json()
    building = api.post(f"{BASE}/buildings", json={"estate_id": estate["id"], "name": "A"}).get_json()
    unit = api.post(f"{BASE}/units", json={"building_id": building["id"], "unit": "1", "room": "101",
                                           "area": "77.5"})
    assert unit.status_code == 201 and unit.get_json()["area"] == "77.50"
    clash = api.post(f"{BASE}/units", json={"building_id": building["id"], "unit": "1", "room": "101"})
    assert clash.status_code == 409
    assert api.post(f"{BASE}/units", json={"building_id": estate["id"], "room": "1"}).status_code == 422
    assert ps.as_("eng").post(f"{BASE}/estates", json={"name": "Nope"}).status_code == 403
    assert ps.as_("rep").get(f"{BASE}/estates/{estate['id']}").status_code == 200  # reference data
    renamed = api.patch(f"{BASE}/estates/{estate['id']}", json={"name": "Riverside", "version": estate["version"]})
    assert renamed.status_code == 200
    assert api.patch(f"{BASE}/estates/{estate['id']}", json={"name": "x", "version": estate["version"]}).status_code == 409
    assert api.delete(f"{BASE}/estates/{estate['id']}").status_code == 204
    assert api.get(f"{BASE}/estates?q=river").get_json() == []
    assert api.post(f"{BASE}/estates/{estate['id']}/restore").status_code == 200
    listed = api.get(f"{BASE}/units?building_id={building['id']}")
    assert len(listed.get_json()) == 1 and "X-Pagination" in listed.headers


def test_an_sla_policy_never_resolves_sooner_than_it_responds_even_when_one_side_is_patched(ps):
    api = ps.as_("centre")
    url = f"{BASE}/sla-policies"
    made = api.post(url, json={"kind": "repair", "priority": "urgent", "response_minutes": 60,
                               "resolution_minutes": 120})
    assert made.status_code == 201, made.get_json()
    policy = made.get_json()
    one = f"{url}/{policy['id']}"
    for change in ({"response_minutes": 180}, {"resolution_minutes": 30}):  # against the stored other side
        refused = api.patch(one, json={"version": policy["version"], **change})
        assert refused.status_code == 422, change
        assert refused.get_json()["errors"]["json"] == {"resolution_minutes": ["Must not be shorter than response_minutes."]}
    widened = api.patch(one, json={"version": policy["version"], "resolution_minutes": 240})
    assert widened.status_code == 200 and widened.get_json()["resolution_minutes"] == 240
    again = api.post(url, json={"kind": "repair", "priority": "urgent", "response_minutes": 5, "resolution_minutes": 9})
    assert again.status_code == 409 and "priority" in again.get_json()["errors"]["json"]
    other = api.post(url, json={"kind": "repair", "priority": "normal", "response_minutes": 5, "resolution_minutes": 9})
    assert other.status_code == 201
    unknown = api.post(url, json={"kind": "no-such-kind", "priority": "normal", "response_minutes": 5,
                                  "resolution_minutes": 9})
    assert unknown.status_code == 422 and "kind" in unknown.get_json()["errors"]["json"]

def test_teams_carry_their_members(ps):
    api = ps.as_("admin")
    team = api.get(f"{BASE}/teams/{ps.engineering.id}").get_json()
    assert sorted(team["member_ids"]) == sorted([str(ps.eng.id), str(ps.eng2.id)])
    changed = api.patch(f"{BASE}/teams/{ps.engineering.id}", json={"member_ids": [str(ps.eng.id)],
                                                                   "version": team["version"]})
    assert changed.status_code == 200 and changed.get_json()["member_ids"] == [str(ps.eng.id)]
    assert changed.get_json()["version"] == team["version"] + 1
    rep_member = api.patch(f"{BASE}/teams/{ps.engineering.id}", json={
        "member_ids": [str(ps.people.rep.id)], "version": changed.get_json()["version"]})
    assert rep_member.status_code == 422 and "member_ids" in rep_member.get_json()["errors"]["json"]
    assert api.post(f"{BASE}/teams", json={"code": "engineering", "name": "Again"}).status_code == 409
    listed = api.get(f"{BASE}/teams").get_json()
    assert [t["code"] for t in listed] == ["engineering", "security"]


def test_a_restored_team_comes_back_with_its_members(ps):
    api = ps.as_("admin")
    made = api.post(f"{BASE}/teams", json={"code": "cleaning", "name": "Cleaning", "member_ids": [str(ps.eng.id)]})
    assert made.status_code == 201 and made.get_json()["member_ids"] == [str(ps.eng.id)]
    url = f"{BASE}/teams/{made.get_json()['id']}"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    restored = api.post(f"{url}/restore")
    assert restored.status_code == 200 and restored.get_json()["member_ids"] == [str(ps.eng.id)]

def test_occupancies_follow_their_customer(ps):
    api = ps.as_("centre")
    bad = api.post(f"{BASE}/occupancies", json={"unit_id": str(ps.unit.id), "customer_id": str(ps.owner.id),
                                                "relation": "landlord"})
    assert bad.status_code == 422 and "relation" in bad.get_json()["errors"]["json"]
    dates = api.post(f"{BASE}/occupancies", json={"unit_id": str(ps.unit.id), "customer_id": str(ps.owner.id),
                                                  "start_date": "2024-01-01", "end_date": "2023-01-01"})
    assert dates.status_code == 422 and "end_date" in dates.get_json()["errors"]["json"]
    assert len(ps.as_("rep").get(f"{BASE}/occupancies").get_json()) == 0
    assert len(api.get(f"{BASE}/occupancies").get_json()) == 2


def test_an_occupancy_cannot_end_before_it_starts_even_when_only_one_date_is_patched(ps):
    api = ps.as_("centre")
    made = api.post(f"{BASE}/occupancies", json={"unit_id": str(ps.unit.id), "customer_id": str(ps.tenant.id),
                                                 "relation": "tenant", "start_date": "2024-01-01"})
    assert made.status_code == 201, made.get_json()
    url = f"{BASE}/occupancies/{made.get_json()['id']}"
    early = api.patch(url, json={"version": made.get_json()["version"], "end_date": "2023-06-30"})
    assert early.status_code == 422 and early.get_json()["errors"]["json"] == {
        "end_date": ["Must not be before start_date."]}
    ended = api.patch(url, json={"version": made.get_json()["version"], "end_date": "2024-06-30"})
    assert ended.status_code == 200 and ended.get_json()["end_date"] == "2024-06-30"
    late = api.patch(url, json={"version": ended.get_json()["version"], "start_date": "2024-07-01"})
    assert late.status_code == 422 and "end_date" in late.get_json()["errors"]["json"]

def test_labels_and_roles_have_english_and_chinese(ps):
    labels = ps.as_("centre").get("/api/v1/labels").get_json()
    assert {"value": "repair", "en": "Repair", "zh_cn": "报修"} in labels["property_service_kind"]
    assert {"value": "breached", "en": "Breached", "zh_cn": "已超时"} in labels["property_service_sla_state"]
    assert {"value": "property_centre", "en": "Customer-service centre", "zh_cn": "客户服务中心"} in labels["role"]
    states = {c["value"]: c["zh_cn"] for c in labels["property_service_request.status.state"]}
    assert states["dispatched"] == "已派工" and set(states) >= {"accepted", "resolved", "closed", "rejected", "referred"}
    for vocabulary, choices in labels.items():
        if vocabulary.startswith("property_service"):
            assert all(c["en"] and c["zh_cn"] for c in choices), vocabulary


def test_the_demo_loads_a_busy_estate_once(ps):
    import random

    from sqlalchemy import func, select

    from core import db
    from plugins.property_service.demo import build
    from plugins.property_service.models import PsRequest

    with ps.runtime.database.unit_of_work():
        build(ps.people.admin, random.Random(3))
        build(ps.people.admin, random.Random(3))
        counts = dict(db.session().execute(select(PsRequest.status, func.count()).group_by(PsRequest.status)).all())
    assert sum(counts.values()) == 300
    assert {"closed", "resolved", "rejected", "referred"} <= set(counts)
    assert set(counts) & {"accepted", "dispatched", "in_progress", "waiting"}
    [count] = metric(ps, "property_service_requests", who="admin")
    assert count["value"] == 300


def test_the_team_that_did_the_work_cannot_rate_it(ps):
    # the assignee (and their team) rating their own work 5/5 would close it and count in satisfaction
    r = resolved(ps)
    for who in ("eng", "eng2", "eng_manager"):
        response = ps.as_(who).post(f"{BASE}/requests/{r['id']}/feedback", json={"rating": 5})
        assert response.status_code == 403, (who, response.get_json())
    body = ps.as_("eng").graphql('mutation($id: ID!) { ratePropertyServiceRequest(id: $id, rating: 5) { status } }',
                                 {"id": r["id"]})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    request = ps.as_("centre").get(f"{BASE}/requests/{r['id']}").get_json()
    assert request["status"] == "resolved" and request["rating"] is None and request["feedback_at"] is None
    [row] = metric(ps, "property_service_satisfaction")
    assert row["extra"]["n"] == 0


def test_the_stored_feedback_says_who_gave_it(ps, public_feedback, client):
    on_behalf = resolved(ps)
    rated = ps.act(on_behalf["id"], "feedback", who="admin", rating=4)
    assert rated["feedback_via"] == "on_behalf" and rated["feedback_by_id"] == str(ps.people.admin.id)
    by_link = resolved(ps)
    path = ps.as_("centre").post(f"{BASE}/requests/{by_link['id']}/feedback-link").get_json()["path"]
    assert client.post(path, json={"rating": 5}).status_code == 200
    shown = ps.as_("centre").get(f"{BASE}/requests/{by_link['id']}").get_json()
    assert shown["feedback_via"] == "link" and shown["feedback_by_id"] is None
    query = 'query($id: ID!) { propertyServiceRequest(id: $id) { feedbackVia feedbackById } }'
    body = ps.as_("centre").graphql(query, {"id": on_behalf["id"]})
    assert body["data"]["propertyServiceRequest"] == {"feedbackVia": "on_behalf", "feedbackById": str(ps.people.admin.id)}
    body = ps.as_("centre").graphql(query, {"id": by_link["id"]})
    assert body["data"]["propertyServiceRequest"] == {"feedbackVia": "link", "feedbackById": None}
    # the feedback event (what a webhook delivers) says the same: rated over the API or through the link
    assert feedback_event(ps, on_behalf["id"])["via"] == "api" and feedback_event(ps, on_behalf["id"])["rating"] == 4
    assert feedback_event(ps, by_link["id"])["via"] == "link" and feedback_event(ps, by_link["id"])["rating"] == 5


def feedback_event(ps, request_id):
    import uuid

    from sqlalchemy import select

    from core import db
    from core.models import OutboxEvent

    with ps.runtime.database.unit_of_work():
        [event] = db.session().scalars(select(OutboxEvent).where(
            OutboxEvent.record_id == uuid.UUID(request_id), OutboxEvent.name == "property_service_request.feedback"))
        return event.payload
