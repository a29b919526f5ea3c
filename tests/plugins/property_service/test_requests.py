"""The closed loop over REST: accept, dispatch, work, wait, resolve, rate, close; reject, refer, reopen;
the timeline, the core workflow history, audit events and permissions."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from core.models import AuditEntry, OutboxEvent

BASE = "/api/v1/property-service"


def events(ps, record_id):
    from core import db

    with ps.runtime.database.unit_of_work():
        return [e.name for e in db.session().scalars(
            select(OutboxEvent).where(OutboxEvent.record_id == uuid.UUID(str(record_id))).order_by(OutboxEvent.at))]


def timeline(ps, customer_id, who="centre"):
    response = ps.as_(who).get(f"/api/v1/customers/{customer_id}/timeline")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_new_request_is_accepted_with_clocks_and_lands_on_the_owners_timeline(ps):
    created = ps.new_request()
    assert created["status"] == "accepted" and created["sla_state"] == "on_time"
    assert created["building_id"] == str(ps.building.id) and created["channel"] == "phone"
    assert created["response_due_at"] < created["resolution_due_at"]
    [entry] = [e for e in timeline(ps, ps.owner.id) if e["kind"] == "property_service_request"]
    assert entry["id"] == created["interaction_id"] and "kitchen tap" in entry["subject"]
    assert entry["source"] == "property_service"
    assert "property_service_request.created" in events(ps, created["id"])


def test_the_full_loop_is_in_the_core_history(ps):
    r = ps.new_request()
    r = ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    assert r["status"] == "dispatched" and r["first_response_at"] and r["response_seconds"] is not None
    r = ps.act(r["id"], "start", who="eng")
    r = ps.act(r["id"], "resolve", who="eng", resolution="Replaced the washer.")
    assert r["status"] == "resolved" and r["resolution_seconds"] is not None
    r = ps.act(r["id"], "feedback", rating=5, comment="Quick and tidy.")
    assert r["status"] == "closed" and r["rating"] == 5 and r["closed_at"]
    history = ps.as_("centre").get(f"{BASE}/requests/{r['id']}/history").get_json()
    assert [(h["from_state"], h["to_state"]) for h in history] == [
        ("accepted", "dispatched"), ("dispatched", "in_progress"), ("in_progress", "resolved"),
        ("resolved", "closed")]
    names = events(ps, r["id"])
    assert names.count("property_service_request.status_changed") == 4
    assert {"property_service_request.dispatched", "property_service_request.feedback"} <= set(names)
    feedback = [e for e in timeline(ps, ps.owner.id) if e["kind"] == "property_service_feedback"]
    assert feedback and feedback[0]["subject"].startswith("Rated 5/5")


def test_dispatch_notifies_the_assignee(ps):
    r = ps.new_request()
    ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    notes = ps.as_("eng").get("/api/v1/notifications").get_json()
    assert [n["kind"] for n in notes] == ["property_service.dispatched"]
    assert notes[0]["record_id"] == r["id"]


def test_a_staff_member_cannot_dispatch_but_the_teams_manager_reassigns_within_the_team(ps):
    r = ps.new_request()
    ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    ps.act(r["id"], "dispatch", who="eng", expect=403, team_id=str(ps.engineering.id), assignee_id=str(ps.eng2.id))
    moved = ps.act(r["id"], "dispatch", who="eng_manager", team_id=str(ps.engineering.id),
                   assignee_id=str(ps.eng2.id))
    assert moved["assignee_id"] == str(ps.eng2.id) and moved["status"] == "dispatched"
    ps.act(r["id"], "dispatch", who="eng_manager", expect=403, team_id=str(ps.security.id))
    # the centre has priority: it can move any request to any team
    moved = ps.act(r["id"], "dispatch", team_id=str(ps.security.id), assignee_id=str(ps.sec.id))
    assert moved["team_id"] == str(ps.security.id)
    assert "property_service_request.reassigned" in events(ps, r["id"])


def test_the_assignee_must_belong_to_the_team(ps):
    r = ps.new_request()
    response = ps.as_("centre").post(f"{BASE}/requests/{r['id']}/dispatch",
                                     json={"team_id": str(ps.security.id), "assignee_id": str(ps.eng.id)})
    assert response.status_code == 422 and "assignee_id" in response.get_json()["errors"]["json"]
    assert ps.as_("centre").get(f"{BASE}/requests/{r['id']}").get_json()["status"] == "accepted"


def test_illegal_move_names_the_allowed_ones(ps):
    r = ps.new_request()
    response = ps.as_("centre").post(f"{BASE}/requests/{r['id']}/reopen", json={"reason": "why not"})
    assert response.status_code == 422
    response = ps.as_("centre").post(f"{BASE}/requests/{r['id']}/feedback", json={"rating": 3})
    assert response.status_code == 422 and "rating" in response.get_json()["errors"]["json"]


def test_reject_needs_an_explanation_and_refer_a_party(ps):
    r = ps.new_request(kind="complaint", description="The neighbours' dog barks.")
    bad = ps.as_("centre").post(f"{BASE}/requests/{r['id']}/reject", json={})
    assert bad.status_code == 422 and "explanation" in bad.get_json()["errors"]["json"]
    done = ps.act(r["id"], "reject", explanation="Noise between neighbours is a police matter; call 110.")
    assert done["status"] == "rejected" and done["explanation"].startswith("Noise")
    r2 = ps.new_request(description="Gas meter reading is wrong.")
    done = ps.act(r2["id"], "refer", referred_to="City Gas Company", note="Their meter, their fix.")
    assert done["status"] == "referred" and done["referred_to"] == "City Gas Company"
    # staff may not reject
    r3 = ps.new_request()
    ps.act(r3["id"], "dispatch", team_id=str(ps.engineering.id))
    ps.act(r3["id"], "reject", who="eng", expect=403, explanation="no")


def test_reopen_sends_the_request_back_to_its_team_and_counts(ps):
    r = ps.new_request()
    ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    ps.act(r["id"], "resolve", who="eng", resolution="Tightened it.")
    ps.act(r["id"], "feedback", rating=4)
    again = ps.act(r["id"], "reopen", reason="It drips again.")
    assert again["status"] == "dispatched" and again["reopen_count"] == 1 and again["rating"] is None
    assert again["resolved_at"] is None and again["escalation_level"] == 0
    ps.act(r["id"], "resolve", who="eng", resolution="New tap.")
    assert "property_service_request.reopened" in events(ps, r["id"])
    ps.act(r["id"], "reopen", reason="Still drips.")
    # the audit trail says by how much each reopening moved the count
    trail = ps.as_("admin").get(f"/api/v1/audit?record_type=property_service_request&record_id={r['id']}").get_json()
    reopened = [e["changes"] for e in trail if e["action"] == "property_service_request.reopened"]
    assert reopened == [{"reopen_count": [1, 2]}, {"reopen_count": [0, 1]}]  # newest first


def test_wait_pauses_the_clocks_and_resume_moves_the_deadline(ps):
    from tests.plugins.property_service.conftest import monday

    r = ps.new_request(received_at=monday(10).isoformat())
    from plugins.property_service import requests as service

    with ps.runtime.database.unit_of_work():
        service.dispatch(ps.centre, r["id"], {"team_id": str(ps.engineering.id), "assignee_id": str(ps.eng.id)},
                         at=monday(10, 30))
        service.wait(ps.eng, r["id"], {"note": "Owner away; needs access to the unit."}, at=monday(11))
        before = service.get(ps.centre, r["id"]).resolution_due_at
        # waits Monday 11:00 → Tuesday 11:00: 9 working hours (Mon 11–18, Tue 09–11)
        row = service.resume(ps.eng, r["id"], {}, at=monday(11, day=3))
        assert row.status == "dispatched"
        assert row.paused_seconds == 9 * 3600 and row.paused_at is None
        from plugins.property_service import sla

        assert row.resolution_due_at == sla.calendar().add(before, 9 * 3600)


def test_wait_needs_a_note(ps):
    r = ps.new_request()
    ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id))
    ps.act(r["id"], "wait", who="eng", expect=422)


def test_patch_takes_the_version_and_a_stale_one_is_409(ps):
    r = ps.new_request()
    ok = ps.as_("centre").patch(f"{BASE}/requests/{r['id']}", json={"priority": "urgent", "topic": "plumbing",
                                                                     "version": r["version"]})
    assert ok.status_code == 200 and ok.get_json()["priority"] == "urgent"
    assert ok.get_json()["resolution_due_at"] < r["resolution_due_at"]
    stale = ps.as_("centre").patch(f"{BASE}/requests/{r['id']}", json={"topic": "x", "version": r["version"]})
    assert stale.status_code == 409


def test_a_request_moved_to_another_unit_takes_its_building_and_a_missing_or_deleted_unit_is_422(ps):
    r = ps.new_request()
    url = f"{BASE}/requests/{r['id']}"
    moved = ps.as_("centre").patch(url, json={"unit_id": str(ps.unit2.id), "version": r["version"]})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["unit_id"] == str(ps.unit2.id) and moved.get_json()["building_id"] == str(ps.building.id)
    version = moved.get_json()["version"]
    missing = ps.as_("centre").patch(url, json={"unit_id": "00000000-0000-0000-0000-000000000000", "version": version})
    assert missing.status_code == 422 and missing.get_json()["errors"]["json"]["unit_id"] == ["No unit with this id."]
    assert ps.as_("admin").delete(f"{BASE}/units/{ps.unit.id}").status_code == 204
    gone = ps.as_("centre").patch(url, json={"unit_id": str(ps.unit.id), "version": version})
    assert gone.status_code == 422 and gone.get_json()["errors"]["json"]["unit_id"] == ["No unit with this id."]
    assert ps.as_("centre").get(url).get_json()["unit_id"] == str(ps.unit2.id)


def test_bad_input_is_422_naming_the_field_and_writes_nothing(ps):
    response = ps.as_("centre").post(f"{BASE}/requests", json={
        "kind": "teleportation", "requester_id": str(ps.owner.id), "description": "Beam me up"})
    assert response.status_code == 422 and "kind" in response.get_json()["errors"]["json"]
    response = ps.as_("centre").post(f"{BASE}/requests", json={
        "kind": "repair", "requester_id": str(ps.owner.id), "description": "", "priority": "whenever"})
    fields = response.get_json()["errors"]["json"]
    assert response.status_code == 422 and {"description", "priority"} <= set(fields)
    assert ps.as_("centre").get(f"{BASE}/requests").get_json() == []


def test_delete_is_soft_and_restorable(ps):
    r = ps.new_request()
    assert ps.as_("eng").delete(f"{BASE}/requests/{r['id']}").status_code == 403
    assert ps.as_("centre").delete(f"{BASE}/requests/{r['id']}").status_code == 204
    assert ps.as_("centre").get(f"{BASE}/requests/{r['id']}").status_code == 404
    listed = ps.as_("centre").get(f"{BASE}/requests?deleted=true").get_json()
    assert [x["id"] for x in listed] == [r["id"]]
    assert ps.as_("centre").post(f"{BASE}/requests/{r['id']}/restore").status_code == 200
    assert ps.as_("centre").get(f"{BASE}/requests/{r['id']}").status_code == 200


def test_filters_status_kind_team_building_and_sla_state(ps):
    a = ps.new_request()
    ps.new_request(kind="consultation", description="When is the pool open?", topic="pool", unit_id=None)
    ps.act(a["id"], "dispatch", team_id=str(ps.engineering.id))
    get = ps.as_("centre").get
    assert [x["id"] for x in get(f"{BASE}/requests?status=dispatched").get_json()] == [a["id"]]
    assert len(get(f"{BASE}/requests?kind=consultation").get_json()) == 1
    assert [x["id"] for x in get(f"{BASE}/requests?team_id={ps.engineering.id}").get_json()] == [a["id"]]
    assert len(get(f"{BASE}/requests?building_id={ps.building.id}").get_json()) == 1
    assert len(get(f"{BASE}/requests?sla_state=on_time").get_json()) == 2
    assert get(f"{BASE}/requests?sla_state=late").status_code == 422
    assert get(f"{BASE}/requests?status=lost").status_code == 422
    assert get(f"{BASE}/requests?colour=red").status_code == 422


def test_permissions_team_members_see_their_teams_requests_reps_their_customers(ps):
    mine = ps.new_request()
    ps.act(mine["id"], "dispatch", team_id=str(ps.engineering.id))
    other = ps.new_request(kind="complaint", description="Parking", team_id=str(ps.security.id),
                           requester_id=str(ps.tenant.id), unit_id=str(ps.unit2.id))
    rep_req = ps.new_request(who="rep", requester_id=str(ps.rep_customer.id), unit_id=None,
                             description="Lift is noisy.")

    def ids(who):
        return {x["id"] for x in ps.as_(who).get(f"{BASE}/requests").get_json()}

    assert ids("centre") == ids("admin") == {mine["id"], other["id"], rep_req["id"]}
    assert ids("eng") == {mine["id"]} | ({rep_req["id"]} if rep_req["team_id"] == str(ps.engineering.id) else set())
    assert other["id"] in ids("sec") and mine["id"] not in ids("sec")
    assert ids("rep") == {rep_req["id"]}
    assert ids("rep2") == set()
    assert ps.as_("sec").get(f"{BASE}/requests/{mine['id']}").status_code == 404
    assert ps.as_("rep").get(f"{BASE}/requests/{mine['id']}").status_code == 404
    # team members see the requesters of their team's requests, and nobody else's customers
    assert ps.as_("eng").get(f"/api/v1/customers/{ps.owner.id}").status_code == 200
    assert ps.as_("sec").get(f"/api/v1/customers/{ps.owner.id}").status_code == 404
    assert ps.as_("sec").get(f"/api/v1/customers/{ps.tenant.id}").status_code == 200


def test_a_rep_files_a_request_that_goes_to_the_kinds_default_team(ps):
    from plugins.property_service import services

    with ps.runtime.database.unit_of_work():
        services.kinds.update(ps.people.admin, services.kind_by_code("repair").id,
                              {"default_team_id": str(ps.engineering.id),
                               "version": services.kind_by_code("repair").version})
    r = ps.new_request(who="rep", requester_id=str(ps.rep_customer.id), unit_id=None)
    assert r["team_id"] == str(ps.engineering.id) and r["status"] == "dispatched"
    assert ps.as_("rep").post(f"{BASE}/requests", json={
        "kind": "repair", "requester_id": str(ps.owner.id), "description": "x"}).status_code == 422


def test_every_write_is_audited(ps):
    r = ps.new_request()
    ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id))
    from core import db

    with ps.runtime.database.unit_of_work():
        actions = {a.action for a in db.session().scalars(select(AuditEntry).where(AuditEntry.record_id == uuid.UUID(r["id"])))}
    assert {"property_service_request.created", "property_service_request.dispatched",
            "property_service_request.status_changed"} <= actions


def test_low_rating_opens_a_follow_up_task_for_the_centre(ps):
    r = ps.new_request()
    ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    ps.act(r["id"], "resolve", who="eng", resolution="Done.")
    rated = ps.act(r["id"], "feedback", who="centre", rating=2, comment="Left a mess.")
    assert rated["follow_up_id"]
    task = ps.as_("centre").get(f"/api/v1/interactions/{rated['follow_up_id']}").get_json()
    assert task["status"] == "planned" and task["kind"] == "property_service_follow_up"
    assert task["assignee_id"] == str(ps.centre.id) and task["due_at"]
    kinds = [n["kind"] for n in ps.as_("centre").get("/api/v1/notifications").get_json()]
    assert "property_service.low_rating" in kinds


def test_a_low_rating_given_by_an_admin_is_followed_up_by_the_centre_not_the_admin(ps):
    r = ps.new_request()
    ps.act(r["id"], "resolve", resolution="Answered on the phone.")
    rated = ps.act(r["id"], "feedback", who="admin", rating=1, comment="Nobody came.")
    task = ps.as_("admin").get(f"/api/v1/interactions/{rated['follow_up_id']}").get_json()
    assert task["assignee_id"] == str(ps.centre.id) and task["kind"] == "property_service_follow_up"


def test_a_good_rating_opens_no_follow_up(ps):
    r = ps.new_request()
    ps.act(r["id"], "resolve", resolution="Answered on the phone.")
    rated = ps.act(r["id"], "feedback", rating=4)
    assert rated["follow_up_id"] is None


def test_customer_units_and_requests(ps):
    r = ps.new_request()
    units = ps.as_("centre").get(f"{BASE}/customers/{ps.owner.id}/units").get_json()
    assert [(u["unit_id"], u["relation"]) for u in units] == [(str(ps.unit.id), "owner")]
    listed = ps.as_("centre").get(f"{BASE}/customers/{ps.owner.id}/requests").get_json()
    assert [x["id"] for x in listed] == [r["id"]]
    assert ps.as_("rep2").get(f"{BASE}/customers/{ps.owner.id}/requests").status_code == 404


def test_a_request_backdated_before_1990_is_refused(ps):
    response = ps.api.as_("centre").post("/api/v1/property-service/requests", json={
        "kind": "repair", "requester_id": str(ps.owner.id), "unit_id": str(ps.unit.id),
        "description": "Imported", "received_at": "0001-01-01T00:00:00Z"})
    assert response.status_code == 422 and "received_at" in response.get_json()["errors"]["json"]
