"""Tasks and escalation, handover and allocation, plugin roles and scopes, and the permission matrix."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from core.db import utcnow
from core.errors import ValidationFailed
from core.hookspecs import hookimpl
from core.jobs import run_all
from core.labels import Choice
from core.models import Customer
from tests.api.rest.test_customers import create
from tests.core.test_lifecycle import plugin_app  # noqa: F401  (fixture)


def task(api, customer_id, who="rep", **fields):
    due = (utcnow() + timedelta(days=2)).isoformat()
    response = api.as_(who).post("/api/v1/interactions", json={
        "customer_id": customer_id, "kind": "visit", "subject": "site visit", "due_at": due, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- tasks -------------------------------------------------------------------------------------------

def test_completing_a_task_puts_it_on_the_timeline_with_its_outcome(api):
    customer = create(api)
    planned = task(api, customer["id"])
    done = api.as_("rep").post(f"/api/v1/interactions/{planned['id']}/complete", json={"outcome": "met the buyer"})
    body = done.get_json()
    assert done.status_code == 200 and body["status"] == "done" and body["outcome"] == "met the buyer"
    assert body["occurred_at"] and body["completed_at"]
    again = api.as_("rep").post(f"/api/v1/interactions/{planned['id']}/complete", json={})
    assert again.status_code == 422 and "status" in again.get_json()["errors"]["json"]


def test_completing_a_planned_purchase_moves_the_lifecycle(api):
    customer = create(api)
    planned = task(api, customer["id"], kind="purchase", subject="order")
    api.as_("rep").post(f"/api/v1/interactions/{planned['id']}/complete", json={"amount": "500.00"})
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["stage"] == "first_purchase"


def test_cancelling_needs_a_reason(api):
    customer = create(api)
    planned = task(api, customer["id"])
    assert api.as_("rep").post(f"/api/v1/interactions/{planned['id']}/cancel", json={}).status_code == 422
    cancelled = api.as_("rep").post(f"/api/v1/interactions/{planned['id']}/cancel", json={"outcome": "postponed"})
    assert cancelled.get_json()["status"] == "cancelled"


def test_manager_escalates_and_the_assignee_is_notified_each_time(api, people):
    customer = create(api)
    planned = task(api, customer["id"])
    url = f"/api/v1/interactions/{planned['id']}/escalate"
    assert api.as_("rep2").post(url, json={}).status_code == 403
    assert api.as_("other_manager").post(url, json={}).status_code == 404  # outside their team
    first = api.as_("manager").post(url, json={"note": "the client is waiting"})
    assert first.status_code == 200 and first.get_json()["escalation_count"] == 1
    api.as_("manager").post(url, json={})
    notes = api.as_("rep").get("/api/v1/notifications").get_json()
    assert [n["kind"] for n in notes] == ["task.escalated", "task.escalated"]
    assert notes[1]["body"] == "the client is waiting" and notes[1]["title"].startswith("Mia Manager is chasing")


def test_tick_sends_reminders_and_overdue_notices_once(api, runtime):
    customer = create(api)
    now = utcnow()
    task(api, customer["id"], subject="call back", due_at=(now + timedelta(hours=2)).isoformat(),
         reminder_at=(now - timedelta(minutes=5)).isoformat())
    task(api, customer["id"], subject="late one", due_at=(now + timedelta(minutes=1)).isoformat())
    results = dict(run_all(runtime, now + timedelta(minutes=10)))
    assert results["tasks.reminders"] == 2
    titles = sorted(n["title"] for n in api.as_("rep").get("/api/v1/notifications").get_json())
    assert titles == ["Overdue: late one", "Reminder: call back"]
    assert dict(run_all(runtime, now + timedelta(minutes=20)))["tasks.reminders"] == 0


def test_tick_reminds_at_the_reminder_instant_and_calls_a_task_overdue_only_after_its_due_instant(api, runtime):
    customer = create(api)
    due = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    remind = due - timedelta(hours=1)
    task(api, customer["id"], subject="call back", due_at=due.isoformat(), reminder_at=remind.isoformat())
    assert dict(run_all(runtime, remind - timedelta(seconds=1)))["tasks.reminders"] == 0
    assert dict(run_all(runtime, remind))["tasks.reminders"] == 1  # the reminder's own instant
    assert dict(run_all(runtime, due))["tasks.reminders"] == 0  # due now is not overdue yet
    assert dict(run_all(runtime, due + timedelta(seconds=1)))["tasks.reminders"] == 1
    titles = [n["title"] for n in api.as_("rep").get("/api/v1/notifications").get_json()]
    assert sorted(titles) == ["Overdue: call back", "Reminder: call back"]


def test_reminder_after_due_time_is_422(api):
    customer = create(api)
    response = api.as_("rep").post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": "call", "due_at": "2026-12-01T10:00:00Z",
        "reminder_at": "2026-12-02T10:00:00Z"})
    assert response.status_code == 422 and "reminder_at" in response.get_json()["errors"]["json"]


def test_my_overdue_tasks_filter(api):
    customer = create(api)
    task(api, customer["id"], subject="late", due_at=(utcnow() - timedelta(days=1)).isoformat(), status="planned")
    task(api, customer["id"], subject="later")
    listed = api.as_("rep").get("/api/v1/interactions?mine=true&overdue=true").get_json()
    assert [t["subject"] for t in listed] == ["late"]


def test_due_window_filter_includes_its_start_and_excludes_its_end(api):
    customer = create(api)
    base = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    for hours, subject in ((0, "early"), (1, "start"), (2, "inside"), (3, "end")):
        task(api, customer["id"], subject=subject, due_at=(base + timedelta(hours=hours)).isoformat())
    after, before = (base + timedelta(hours=1)).isoformat(), (base + timedelta(hours=3)).isoformat()
    listed = api.as_("rep").get("/api/v1/interactions", query_string={
        "due_after": after, "due_before": before, "sort": "due_at"}).get_json()
    assert [t["subject"] for t in listed] == ["start", "inside"]


# --- handover and allocation -------------------------------------------------------------------------

def test_handover_moves_customers_and_their_planned_tasks_with_history(api, people):
    a, b = create(api, name="A Co"), create(api, name="B Co")
    planned = task(api, a["id"])
    response = api.as_("manager").post("/api/v1/customers/handover", json={
        "from_user_id": str(people.rep.id), "to_user_id": str(people.rep2.id), "reason": "Ray left"})
    assert response.status_code == 200, response.get_json()
    assert sorted(c["name"] for c in response.get_json()) == ["A Co", "B Co"]
    assert api.as_("rep").get(f"/api/v1/customers/{a['id']}").status_code == 404
    assert api.as_("rep2").get(f"/api/v1/interactions/{planned['id']}").get_json()["assignee_id"] == str(people.rep2.id)
    [move] = api.as_("rep2").get(f"/api/v1/customers/{b['id']}/history?workflow=customer.owner").get_json()
    assert (move["from_state"], move["to_state"], move["reason"]) == (str(people.rep.id), str(people.rep2.id), "Ray left")


def test_handover_rules(api, people):
    a = create(api)
    url = "/api/v1/customers/handover"
    body = {"customer_ids": [a["id"]], "to_user_id": str(people.rep2.id), "reason": "territory"}
    assert api.as_("rep").post(url, json=body).status_code == 403
    assert api.as_("other_manager").post(url, json={**body, "to_user_id": str(people.other_rep.id)}).status_code == 422
    cross = api.as_("manager").post(url, json={**body, "to_user_id": str(people.other_rep.id)})
    assert cross.status_code == 403  # a manager stays within the team
    assert api.as_("manager").post(url, json={**body, "from_user_id": str(people.rep.id)}).status_code == 422
    assert api.as_("admin").post(url, json={**body, "to_user_id": str(people.other_rep.id)}).status_code == 200


def test_allocation_plans_by_rules_balances_load_and_applies(api, people):
    ids = {}
    for name, industry in [("R1", "retail"), ("R2", "retail"), ("S1", "software"), ("S2", "software"), ("S3", "software")]:
        ids[name] = api.as_("manager").post("/api/v1/customers", json={"name": name, "industry": industry,
                                                                       "owner_id": None}).get_json()["id"]
    body = {"rules": [{"industry": "retail", "rep_ids": [str(people.rep2.id)]}],
            "rep_ids": [str(people.rep.id), str(people.rep2.id)]}
    plan = api.as_("manager").post("/api/v1/customers/allocate", json=body).get_json()
    assigned = {p["customer"]["name"]: p["rep"]["email"] for p in plan}
    assert assigned["R1"] == assigned["R2"] == "rep2@example.com"
    # rep2 already carries the two retail ones, so rep takes software until the loads are even (2–2),
    # and the tie goes to the first rep by name: 3 for rep, 2 for rep2
    assert [assigned[n] for n in ("S1", "S2", "S3")] == ["rep@example.com"] * 3
    assert api.as_("rep").get("/api/v1/customers").get_json() == []  # a dry run writes nothing
    applied = api.as_("manager").post("/api/v1/customers/allocate", json={**body, "dry_run": False}).get_json()
    assert len(applied) == 5
    assert len(api.as_("rep").get("/api/v1/customers").get_json()) == 3
    assert len(api.as_("rep2").get("/api/v1/customers").get_json()) == 2
    assert api.as_("manager").post("/api/v1/customers/allocate", json=body).get_json() == []


def test_a_managers_allocation_balances_their_own_team_and_ties_go_to_the_first_rep_by_name(api, people):
    """Without ``rep_ids`` a manager's pool is the active reps of their team (never another team's), each
    customer goes to the least loaded rep, and among equals to the first by name (not by email)."""
    alan = api.as_("admin").post("/api/v1/users", json={"email": "zed@example.com", "name": "Alan Rep",
                                                        "role": "rep", "team_id": str(people.rep.team_id)})
    assert alan.status_code == 201, alan.get_json()
    for name in ("C1", "C2", "C3", "C4"):
        api.as_("manager").post("/api/v1/customers", json={"name": name, "owner_id": None})
    plan = api.as_("manager").post("/api/v1/customers/allocate", json={}).get_json()
    assert [(p["customer"]["name"], p["rep"]["email"], p["rule"]) for p in plan] == [
        ("C1", "zed@example.com", None), ("C2", "rep@example.com", None), ("C3", "rep2@example.com", None),
        ("C4", "zed@example.com", None)]


def test_an_applied_allocation_records_which_rule_gave_each_customer(api, people):
    for name, industry in (("Shop", "retail"), ("Soft", "software")):
        api.as_("manager").post("/api/v1/customers", json={"name": name, "industry": industry, "owner_id": None})
    body = {"rules": [{"industry": "software", "rep_ids": [str(people.rep2.id)]},
                      {"industry": "retail", "rep_ids": [str(people.rep.id)]}],
            "rep_ids": [str(people.rep.id)], "dry_run": False}
    applied = api.as_("manager").post("/api/v1/customers/allocate", json=body).get_json()
    assert {p["customer"]["name"]: p["rule"] for p in applied} == {"Shop": 1, "Soft": 0}
    for p in applied:
        [move] = api.as_("manager").get(f"/api/v1/customers/{p['customer']['id']}/history?workflow=customer.owner"
                                        ).get_json()
        assert (move["from_state"], move["trigger"]) == (None, "automatic")
        assert move["reason"] == {"Shop": "allocated by rule 2", "Soft": "allocated by rule 1"}[p["customer"]["name"]]
    api.as_("manager").post("/api/v1/customers", json={"name": "Plain", "owner_id": None})
    [pooled] = api.as_("manager").post("/api/v1/customers/allocate", json=body).get_json()
    [move] = api.as_("manager").get(f"/api/v1/customers/{pooled['customer']['id']}/history?workflow=customer.owner"
                                    ).get_json()
    assert (pooled["rule"], move["reason"]) == (None, "allocated")


def test_a_handed_over_task_gets_a_new_version_so_a_stale_edit_is_refused(api, people):
    customer = create(api)
    planned = task(api, customer["id"])
    assert planned["version"] == 1
    api.as_("manager").post("/api/v1/customers/handover", json={
        "customer_ids": [customer["id"]], "to_user_id": str(people.rep2.id), "reason": "Ray left"})
    moved = api.as_("rep2").get(f"/api/v1/interactions/{planned['id']}").get_json()
    assert (moved["assignee_id"], moved["version"]) == (str(people.rep2.id), 2)
    stale = api.as_("rep2").patch(f"/api/v1/interactions/{planned['id']}", json={"version": 1, "subject": "mine"})
    assert stale.status_code == 409


def test_a_handover_to_an_unknown_or_deactivated_user_is_422_naming_the_field(api, people, runtime):
    from core.services import people as people_service

    customer = create(api)
    url = "/api/v1/customers/handover"
    with runtime.database.unit_of_work():
        people_service.update_user(people.admin, people.rep2.id, {"version": people.rep2.version, "is_active": False})
    for to in ("00000000-0000-4000-8000-000000000000", str(people.rep2.id)):
        response = api.as_("manager").post(url, json={"customer_ids": [customer["id"]], "to_user_id": to,
                                                      "reason": "territory"})
        assert response.status_code == 422, response.get_json()
        assert response.get_json()["errors"]["json"] == {"to_user_id": ["No active user has this id."]}
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").status_code == 200  # still Ray's


def test_allocation_refuses_reps_outside_the_team(api, people):
    response = api.as_("manager").post("/api/v1/customers/allocate", json={"rep_ids": [str(people.other_rep.id)]})
    assert response.status_code == 403


# --- plugin roles and scopes -------------------------------------------------------------------------

def test_hook_trellis_roles(plugin_app):
    extra = SimpleNamespace(name="expo", version="1", trellis_roles=hookimpl(
        lambda: [Choice("expo_organiser", "Organiser staff", "主办方")]))
    api, runtime, people = plugin_app(extra)
    created = api.as_("admin").post("/api/v1/customers", json={"name": "Visible"})
    assert created.status_code == 201
    from core.services import users

    with runtime.database.unit_of_work():
        staff = users.create_user(people.admin, {"email": "staff@example.com", "role": "expo_organiser"})
        api.tokens["staff"] = users.create_token(staff)[1]
        with pytest.raises(ValidationFailed) as refused:
            users.create_user(people.admin, {"email": "x@example.com", "role": "nobody"})
        assert refused.value.fields["role"][0].startswith("Unknown role")
    # a plugin role sees nothing until a scope grants it
    assert api.as_("staff").get("/api/v1/customers").get_json() == []
    roles = api.as_("staff").get("/api/v1/labels").get_json()["role"]
    assert {"value": "expo_organiser", "en": "Organiser staff", "zh_cn": "主办方"} in roles


def test_hook_trellis_record_scopes(plugin_app):
    def scopes():
        def exhibitors_visible(actor):
            return Customer.source == "exhibition" if actor.role == "expo_organiser" else None
        return {Customer: exhibitors_visible}

    extra = SimpleNamespace(name="expo", version="1",
                            trellis_roles=hookimpl(lambda: [Choice("expo_organiser", "Organiser", "主办方")]),
                            trellis_record_scopes=hookimpl(scopes))
    api, runtime, people = plugin_app(extra)
    api.as_("admin").post("/api/v1/customers", json={"name": "Exhibitor", "source": "exhibition", "owner_id": None})
    api.as_("admin").post("/api/v1/customers", json={"name": "Walk-in", "source": "walk_in", "owner_id": None})
    from core.services import users

    with runtime.database.unit_of_work():
        staff = users.create_user(people.admin, {"email": "staff@example.com", "role": "expo_organiser"})
        api.tokens["staff"] = users.create_token(staff)[1]
    assert [c["name"] for c in api.as_("staff").get("/api/v1/customers").get_json()] == ["Exhibitor"]
    # the grant does not widen what core roles see
    assert api.as_("rep").get("/api/v1/customers").get_json() == []
    rows = api.as_("staff").get("/api/v1/metrics/customers").get_json()["rows"]
    assert rows[0]["value"] == 1


# --- the permission matrix ---------------------------------------------------------------------------

MATRIX = {  # who: (read, list count, update, delete) on a customer owned by "rep"
    "rep": (200, 1, 200, 204),
    "rep2": (404, 0, 404, 404),
    "manager": (200, 1, 200, 204),
    "other_manager": (404, 0, 404, 404),
    "other_rep": (404, 0, 404, 404),
    "admin": (200, 1, 200, 204),
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_permission_matrix(api, who):
    customer = create(api, who="rep")
    url = f"/api/v1/customers/{customer['id']}"
    read, count, update, delete = MATRIX[who]
    assert api.as_(who).get(url).status_code == read
    assert len(api.as_(who).get("/api/v1/customers").get_json()) == count
    assert api.as_(who).get("/api/v1/metrics/customers").get_json()["rows"][0]["value"] == count
    assert api.as_(who).get(f"{url}/timeline").status_code == read
    assert api.as_(who).patch(url, json={"version": 1, "notes": "x"}).status_code == update
    assert api.as_(who).delete(url).status_code == delete


def test_a_plugin_records_on_a_customer_the_actor_cannot_read(api, runtime, people):
    from core.services import interactions

    customer = create(api, who="rep")
    with runtime.database.unit_of_work():
        row = interactions.record_on_behalf(people.rep2, {"customer_id": customer["id"], "kind": "check_in",
                                                          "subject": "badge scan"}, source="sample")
        assert row.created_by_id == people.rep2.id and row.source == "sample" and row.status == "done"
        with pytest.raises(ValidationFailed) as bad:
            interactions.record_on_behalf(None, {"customer_id": customer["id"], "kind": "telepathy"}, source="sample")
        assert "kind" in bad.value.fields
        with pytest.raises(ValueError):
            interactions.record_on_behalf(None, {"customer_id": customer["id"], "kind": "call"}, source="core")
    timeline = api.as_("rep").get(f"/api/v1/customers/{customer['id']}/timeline").get_json()
    assert [(i["subject"], i["source"]) for i in timeline] == [("badge scan", "sample")]
    trail = api.as_("admin").get("/api/v1/audit?record_type=interaction").get_json()
    assert trail[0]["action"] == "interaction.created" and trail[0]["actor_id"] == str(people.rep2.id)


def test_a_done_task_leaves_the_out_of_scope_assignees_view(api, people):
    customer = create(api, who="rep")
    planned = task(api, customer["id"], assignee_id=str(people.other_rep.id))
    url = f"/api/v1/interactions/{planned['id']}"
    assert api.as_("other_rep").get(url).status_code == 200  # theirs to do
    assert api.as_("other_rep").post(f"{url}/complete", json={"outcome": "done"}).status_code == 200
    assert api.as_("other_rep").get(url).status_code == 404  # now the customer's timeline, not theirs
    assert api.as_("other_rep").delete(url).status_code == 404
