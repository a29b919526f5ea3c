"""The customer lifecycle, approvals, stagnation alerts and levels — through the workflow engine and
the same hooks a plugin uses."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from api.app import create_app
from core.db import utcnow
from core.errors import PluginError, ValidationFailed
from core.hookspecs import hookimpl
from core.jobs import Job, run_all
from core.models import Customer
from core.workflow import State, Transition, Workflow
from tests.api.rest.test_customers import create
from api.testing import Api, app_config, bound, make_people


def purchase(api, customer_id, amount="100.00", who="rep", when="2026-11-01T10:00:00Z"):
    response = api.as_(who).post("/api/v1/interactions", json={
        "customer_id": customer_id, "kind": "purchase", "amount": amount, "occurred_at": when})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def history(api, customer_id, who="rep", workflow="customer.lifecycle"):
    response = api.as_(who).get(f"/api/v1/customers/{customer_id}/history?workflow={workflow}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_first_and_second_purchase_move_the_customer_automatically(api, people):
    customer = create(api)
    purchase(api, customer["id"])
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["stage"] == "first_purchase"
    purchase(api, customer["id"])
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["stage"] == "repeat"
    moves = history(api, customer["id"])
    assert [(m["from_state"], m["to_state"], m["trigger"], m["trigger_event"]) for m in moves] == [
        ("potential", "first_purchase", "automatic", "interaction.created"),
        ("first_purchase", "repeat", "automatic", "interaction.created")]
    assert moves[0]["actor_id"] == str(people.rep.id) and moves[1]["seconds_in_previous"] >= 0


def test_a_call_does_not_move_the_stage(api):
    customer = create(api)
    api.as_("rep").post("/api/v1/interactions", json={"customer_id": customer["id"], "kind": "call"})
    assert history(api, customer["id"]) == []


def test_illegal_move_is_422_naming_the_allowed_targets(api):
    customer = create(api)
    response = api.as_("rep").post(f"/api/v1/customers/{customer['id']}/stage", json={"to": "repeat"})
    assert response.status_code == 422
    message = response.get_json()["errors"]["json"]["to"][0]   # the field sent, not the record's
    assert "Allowed: intent, first_purchase, lost" in message


def test_manual_move_records_who_and_why(api, people):
    customer = create(api)
    response = api.as_("rep").post(f"/api/v1/customers/{customer['id']}/stage",
                                   json={"to": "intent", "reason": "asked for a quote"})
    assert response.status_code == 200 and response.get_json()["stage"] == "intent"
    [move] = history(api, customer["id"])
    assert move["reason"] == "asked for a quote" and move["actor_id"] == str(people.rep.id)
    assert move["trigger"] == "manual" and move["approved_by_id"] is None


def test_rep_cannot_give_up_a_customer_without_approval(api, people):
    customer = create(api)
    response = api.as_("rep").post(f"/api/v1/customers/{customer['id']}/stage", json={"to": "lost"})
    assert response.status_code == 403
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["stage"] == "potential"


def test_approval_request_is_decided_by_the_teams_manager(api, people):
    customer = create(api)
    asked = api.as_("rep").post(f"/api/v1/customers/{customer['id']}/stage-requests",
                                json={"to": "lost", "reason": "went with a competitor"})
    assert asked.status_code == 201 and asked.get_json()["status"] == "pending"
    note = api.as_("manager").get("/api/v1/notifications?unread=true").get_json()
    assert [n["kind"] for n in note] == ["workflow.approval_requested"]
    # another team's manager can neither see nor decide it
    assert api.as_("other_manager").get("/api/v1/approvals").get_json() == []
    request_id = asked.get_json()["id"]
    assert api.as_("other_manager").post(f"/api/v1/approvals/{request_id}/decision",
                                         json={"approve": True}).status_code == 404
    decided = api.as_("manager").post(f"/api/v1/approvals/{request_id}/decision",
                                      json={"approve": True, "note": "agreed"})
    assert decided.status_code == 200 and decided.get_json()["status"] == "approved"
    [move] = history(api, customer["id"])
    assert move["to_state"] == "lost" and move["actor_id"] == str(people.rep.id)
    assert move["approved_by_id"] == str(people.manager.id) and move["reason"] == "went with a competitor"
    again = api.as_("manager").post(f"/api/v1/approvals/{request_id}/decision", json={"approve": False})
    assert again.status_code == 422
    assert [n["kind"] for n in api.as_("rep").get("/api/v1/notifications").get_json()] == ["workflow.approval_approved"]


def test_each_role_lists_the_requests_it_may_decide_or_made(api, people):
    """A rep sees their own requests (not a teammate's), a manager their team's, an admin everyone's."""
    asked = {}
    for who in ("rep", "rep2", "other_rep"):
        customer = create(api, who=who, name=f"Gone {who}")
        response = api.as_(who).post(f"/api/v1/customers/{customer['id']}/stage-requests",
                                     json={"to": "lost", "reason": "went with a competitor"})
        assert response.status_code == 201, response.get_json()
        asked[who] = response.get_json()["id"]

    def listed(who):
        return {r["id"] for r in api.as_(who).get("/api/v1/approvals").get_json()}

    assert listed("rep") == {asked["rep"]}
    assert listed("rep2") == {asked["rep2"]}
    assert listed("manager") == {asked["rep"], asked["rep2"]}
    assert listed("other_manager") == {asked["other_rep"]}
    assert listed("admin") == set(asked.values())


def test_a_managers_own_request_goes_to_the_admins_not_to_themself(api, people):
    """A manager is their team's manager: their request waits for an (active) admin, who is notified;
    the manager cannot approve it."""
    customer = create(api, who="manager", name="Own Co")
    asked = api.as_("manager").post(f"/api/v1/customers/{customer['id']}/stage-requests",
                                    json={"to": "lost", "reason": "closed down"})
    assert asked.status_code == 201, asked.get_json()
    assert [n["kind"] for n in api.as_("admin").get("/api/v1/notifications").get_json()] == [
        "workflow.approval_requested"]
    assert api.as_("manager").get("/api/v1/notifications").get_json() == []
    url = f"/api/v1/approvals/{asked.get_json()['id']}/decision"
    assert api.as_("manager").post(url, json={"approve": True}).status_code == 404
    assert api.as_("admin").post(url, json={"approve": True}).get_json()["status"] == "approved"
    [move] = history(api, customer["id"], who="manager")
    assert (move["to_state"], move["approved_by_id"]) == ("lost", str(people.admin.id))


def test_a_move_reason_is_at_most_2000_characters_whoever_calls_the_service(api, runtime, people):
    """The service holds the limit itself (a plugin's move has no REST schema in front of it)."""
    from core.services import customers, workflow

    customer = create(api)
    with runtime.database.unit_of_work():
        row = customers.get(people.rep, customer["id"])
        with pytest.raises(ValidationFailed) as refused:
            workflow.transition(people.rep, "customer.lifecycle", row, "intent", reason="x" * 2001)
        assert refused.value.fields == {"reason": ["At most 2000 characters."]}
        workflow.transition(people.rep, "customer.lifecycle", row, "intent", reason="x" * 2000)
    [move] = history(api, customer["id"])
    assert (move["to_state"], len(move["reason"])) == ("intent", 2000)


def test_an_unknown_approval_status_filter_is_named_not_an_empty_list(api):
    response = api.as_("manager").get("/api/v1/approvals?status=approve")
    assert response.status_code == 422 and "status" in str(response.get_json())
    body = api.as_("manager").graphql('{ approvals(filter: {status: APPROVE}) { totalCount } }')
    assert list(body["errors"][0]["extensions"]["fields"]) == ["filter.status"]
    assert "Did you mean the enum value 'APPROVED'?" in body["errors"][0]["message"]
    assert api.as_("manager").get("/api/v1/approvals?status=").status_code == 200  # empty: every status


def test_manager_gives_up_directly_as_the_approver_and_win_back_follows(api, people):
    customer = create(api)
    url = f"/api/v1/customers/{customer['id']}/stage"
    assert api.as_("manager").post(url, json={"to": "lost", "reason": "closed down"}).status_code == 200
    assert api.as_("rep").post(url, json={"to": "intent", "reason": "reopened"}).status_code == 200
    moves = history(api, customer["id"])
    assert [(m["to_state"], m["approved_by_id"]) for m in moves] == [("lost", str(people.manager.id)),
                                                                    ("intent", None)]


def test_a_lost_customer_buying_again_is_won_back_automatically(api):
    customer = create(api)
    api.as_("manager").post(f"/api/v1/customers/{customer['id']}/stage", json={"to": "lost"})
    purchase(api, customer["id"])
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["stage"] == "first_purchase"


def test_customer_created_in_a_later_stage_has_a_history_entry(api):
    customer = create(api, stage="intent")  # a rep's create: the manual move potential → intent
    [entry] = history(api, customer["id"])
    assert (entry["from_state"], entry["to_state"], entry["trigger"]) == (None, "intent", "manual")
    imported = create(api, who="admin", stage="intent")  # an admin's create is an import
    [entry] = history(api, imported["id"], who="admin")
    assert (entry["from_state"], entry["to_state"], entry["trigger"]) == (None, "intent", "import")


def test_stage_cannot_be_patched_around_the_workflow(api):
    customer = create(api)
    response = api.as_("rep").patch(f"/api/v1/customers/{customer['id']}", json={"version": 1, "stage": "repeat"})
    assert response.status_code == 422 and "stage" in response.get_json()["errors"]["json"]


# --- stagnation --------------------------------------------------------------------------------------

def age_customer(runtime, customer_id, days):
    with runtime.database.unit_of_work() as s:
        row = s.get(Customer, customer_id)
        row.created_at = utcnow() - timedelta(days=days)


def test_hook_trellis_scheduled_jobs(api, runtime, people):
    fresh, stale = create(api, name="Fresh"), create(api, name="Stale")
    age_customer(runtime, __import__("uuid").UUID(stale["id"]), 20)
    results = dict(run_all(runtime, utcnow()))
    assert results["workflow.stagnation"] == 1
    rep_notes = api.as_("rep").get("/api/v1/notifications").get_json()
    manager_notes = api.as_("manager").get("/api/v1/notifications").get_json()
    assert [n["title"] for n in rep_notes] == ["Stale has been 'Potential' for 20 days"]
    assert [n["kind"] for n in manager_notes] == ["workflow.stagnation"]
    # running tick again sends nothing twice
    assert dict(run_all(runtime, utcnow()))["workflow.stagnation"] == 0
    assert len(api.as_("rep").get("/api/v1/notifications").get_json()) == 1


def test_moving_on_and_stalling_again_alerts_again(api, runtime):
    customer = create(api)
    age_customer(runtime, __import__("uuid").UUID(customer["id"]), 20)
    run_all(runtime, utcnow())
    api.as_("rep").post(f"/api/v1/customers/{customer['id']}/stage", json={"to": "intent"})
    assert dict(run_all(runtime, utcnow() + timedelta(days=29)))["workflow.stagnation"] == 0
    assert dict(run_all(runtime, utcnow() + timedelta(days=31)))["workflow.stagnation"] == 1


def test_notifications_are_marked_read(api, runtime):
    customer = create(api)
    age_customer(runtime, __import__("uuid").UUID(customer["id"]), 20)
    run_all(runtime, utcnow())
    [note] = api.as_("rep").get("/api/v1/notifications?unread=true").get_json()
    assert api.as_("rep2").post(f"/api/v1/notifications/{note['id']}/read").status_code == 404
    assert api.as_("rep").post(f"/api/v1/notifications/{note['id']}/read").get_json()["read_at"]
    assert api.as_("rep").get("/api/v1/notifications?unread=true").get_json() == []


def test_reading_all_marks_only_your_unread_notifications_and_says_how_many(api, runtime, people):
    from core.services import notifications

    with runtime.database.unit_of_work():
        for user, title in ((people.rep, "first"), (people.rep, "second"), (people.rep2, "not yours")):
            notifications.notify(user, "task.reminder", title)
    rep = api.as_("rep")
    first = next(n for n in rep.get("/api/v1/notifications").get_json() if n["title"] == "first")
    read_at = rep.post(f"/api/v1/notifications/{first['id']}/read").get_json()["read_at"]
    assert rep.post(f"/api/v1/notifications/{first['id']}/read").get_json()["read_at"] == read_at  # read once
    assert rep.post("/api/v1/notifications/read-all").get_json() == {"marked": 1}
    assert rep.get("/api/v1/notifications?unread=true").get_json() == []
    assert {n["title"]: n["read_at"] for n in rep.get("/api/v1/notifications").get_json()}["first"] == read_at
    assert [n["title"] for n in api.as_("rep2").get("/api/v1/notifications?unread=true").get_json()] == ["not yours"]
    assert rep.post("/api/v1/notifications/read-all").get_json() == {"marked": 0}
    with runtime.database.unit_of_work():  # a plugin calling the service lists read ones too unless it asks
        assert sorted(n.title for n in notifications.list_for(people.rep).items) == ["first", "second"]
        assert notifications.list_for(people.rep, unread=True).items == []


def test_a_notification_points_at_its_record_and_one_without_a_record_at_none(api, runtime, people):
    from core.services import notifications

    customer = create(api)
    asked = api.as_("rep").post(f"/api/v1/customers/{customer['id']}/stage-requests",
                                json={"to": "lost", "reason": "went with a competitor"}).get_json()
    [note] = api.as_("manager").get("/api/v1/notifications").get_json()
    assert (note["record_type"], note["record_id"]) == ("workflow_approval", asked["id"])
    assert note["data"] == {"workflow": "customer.lifecycle", "record_id": customer["id"]}
    with runtime.database.unit_of_work():
        notifications.notify(people.rep2, "task.reminder", "Nothing attached")
    [plain] = api.as_("rep2").get("/api/v1/notifications").get_json()
    assert (plain["record_type"], plain["record_id"], plain["data"]) == (None, None, {})


def test_a_long_title_and_dedupe_key_are_cut_to_their_columns_200_characters(runtime, people):
    """``Notification.title`` and ``dedupe_key`` are ``String(200)`` (PostgreSQL refuses a longer value);
    the user's id is part of the key, so the same long key still sends once per user."""
    from core.services import notifications

    long_key = "stagnation:" + "x" * 300
    with runtime.database.unit_of_work():
        note = notifications.notify(people.rep, "workflow.stagnation", "T" * 250, dedupe_key=long_key)
        assert note.title == "T" * 200
        assert note.dedupe_key == f"{people.rep.id}:{long_key}"[:200] and len(note.dedupe_key) == 200
        assert notifications.notify(people.rep, "workflow.stagnation", "Stale", dedupe_key=long_key) is None
        assert notifications.notify(people.rep2, "workflow.stagnation", "Stale", dedupe_key=long_key) is not None


# --- levels ------------------------------------------------------------------------------------------

def test_purchases_grade_the_customer_and_the_history_says_why(api):
    customer = create(api)
    purchase(api, customer["id"], amount="15000.00")
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["level"] == "C"
    purchase(api, customer["id"], amount="6000.00")
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["level"] == "B"
    moves = history(api, customer["id"], workflow="customer.level")
    assert [(m["from_state"], m["to_state"]) for m in moves] == [(None, "D"), ("D", "C"), ("C", "B")]
    assert "revenue_12m=21000" in moves[2]["reason"]


def test_a_new_customer_starts_in_the_default_level_of_the_rules(api):
    customer = create(api)
    assert customer["level"] == "D"  # TRELLIS_LEVEL_RULES' last level, without a rule
    [start] = history(api, customer["id"], workflow="customer.level")
    assert (start["from_state"], start["to_state"], start["reason"]) == (None, "D", "the default level")
    found = api.as_("rep").get("/api/v1/customers?level=D").get_json()
    assert customer["id"] in [c["id"] for c in found]


def test_when_every_level_has_a_rule_a_new_customer_is_not_graded(runtime):
    from core import levels
    rules = levels.parse_rules("A=revenue_12m>=100,B=purchases_12m>=1")
    assert levels.default_level(rules) == levels.UNGRADED
    assert levels.default_level(levels.parse_rules("A=revenue_12m>=100,B")) == "B"


def test_manager_overrides_a_level_with_a_reason_and_it_stays_pinned(api):
    customer = create(api)
    url = f"/api/v1/customers/{customer['id']}/level"
    assert api.as_("rep").post(url, json={"level": "A", "reason": "strategic"}).status_code == 403
    assert api.as_("manager").post(url, json={"level": "A"}).status_code == 422  # a reason is required
    assert api.as_("manager").post(url, json={"level": "Z", "reason": "x"}).status_code == 422
    set_ = api.as_("manager").post(url, json={"level": "A", "reason": "strategic account"})
    assert set_.status_code == 200 and set_.get_json()["level_pinned"] is True
    purchase(api, customer["id"], amount="10.00")
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["level"] == "A"
    released = api.as_("manager").delete(url)
    assert released.get_json()["level"] == "C" and released.get_json()["level_pinned"] is False


def test_a_level_set_by_hand_must_be_one_of_the_graded_levels(api):
    customer = create(api)
    url = f"/api/v1/customers/{customer['id']}/level"
    for level in ("Z", "none"):  # unknown, and the workflow's "not graded" state: neither may be chosen
        refused = api.as_("manager").post(url, json={"level": level, "reason": "x"})
        assert refused.status_code == 422
        assert refused.get_json()["errors"]["json"] == {"level": ["One of: A, B, C, D."]}
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["level"] == "D"


def test_pinning_and_releasing_a_level_is_audited_even_when_the_level_stays(api):
    customer = create(api)
    url = f"/api/v1/customers/{customer['id']}/level"

    def pin_changes():
        trail = api.get(f"/api/v1/audit?record_id={customer['id']}").get_json()
        return [e["changes"]["level_pinned"] for e in reversed(trail) if "level_pinned" in e["changes"]]

    level = customer["level"]
    assert api.as_("manager").post(url, json={"level": level, "reason": "keep it"}).status_code == 200
    pinned = api.as_("manager").post(url, json={"level": level, "reason": "keep it"})  # already pinned: no entry
    assert pinned.get_json()["level_pinned"] is True
    released = api.as_("manager").delete(url)
    assert released.get_json()["level_pinned"] is False
    assert pin_changes() == [[False, True], [True, False]]


def test_old_purchases_stop_counting_when_the_window_slides(api, runtime):
    customer = create(api)
    purchase(api, customer["id"], amount="30000.00", when=(utcnow() - timedelta(days=300)).isoformat())
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["level"] == "B"
    results = dict(run_all(runtime, utcnow() + timedelta(days=100)))
    assert results["customer.regrade"] == 1
    assert api.as_("rep").get(f"/api/v1/customers/{customer['id']}").get_json()["level"] == "D"


# --- the hooks, exercised by plugins -----------------------------------------------------------------

@pytest.fixture
def plugin_app(engine, database_url, connection):
    """Build an app with extra plugins, bound to this test's transaction, with people and an api."""
    stack = []

    def build(*plugins):
        app = create_app(app_config(database_url), extra_plugins=plugins)
        ctx = bound(app, connection)
        runtime = ctx.__enter__()
        stack.append(ctx)
        people = make_people(runtime)
        from core.services import users

        with runtime.database.unit_of_work():
            tokens = {r: users.create_token(getattr(people, r))[1] for r in ("admin", "manager", "rep")}
        return Api(app.test_client(), tokens), runtime, people

    yield build
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


def test_hook_trellis_workflows(plugin_app):
    def workflows(settings):
        return [Workflow(name="thermo.temperature", model=Customer, field="region", initial="cold",
                         states=(State("cold", "Cold", "冷"), State("warm", "Warm", "温", timedelta(days=3))),
                         transitions=(Transition("cold", "warm"),))]

    extra = SimpleNamespace(name="thermo", version="1", trellis_workflows=hookimpl(workflows))
    api, runtime, _ = plugin_app(extra)
    listed = {w["name"]: w for w in api.as_("rep").get("/api/v1/workflows").get_json()}
    assert listed["thermo.temperature"]["states"][1] == {"name": "warm", "en": "Warm", "zh_cn": "温",
                                                          "expected_days": 3.0}
    assert "customer.lifecycle" in listed and "customer.level" in listed
    labels = api.as_("rep").get("/api/v1/labels").get_json()
    assert labels["thermo.temperature.state"][0] == {"value": "cold", "en": "Cold", "zh_cn": "冷"}
    with runtime.database.unit_of_work():
        from core.services import customers, workflow

        customer = customers.create(runtime.plugins and _admin(runtime), {"name": "T", "region": "cold"})
        workflow.transition(None, "thermo.temperature", customer, "warm", trigger="automatic")
        with pytest.raises(ValidationFailed):
            workflow.transition(None, "thermo.temperature", customer, "cold", trigger="automatic")
    # another plugin cannot declare a workflow in thermo's name: the prefix rule names it and the fix
    squatter = SimpleNamespace(name="thermo2", version="1", trellis_workflows=hookimpl(workflows))
    with pytest.raises(PluginError, match=r"Plugin 'thermo2' declares the workflow 'thermo.temperature', which "
                                          r"does not start with 'thermo2_' or 'thermo2.'"):
        create_app({"DATABASE_URL": "sqlite://"}, extra_plugins=[extra, squatter])
    # names that satisfy both prefixes ("thermo_x_…" for the plugins thermo and thermo_x) still clash by name
    def overlapping(settings):
        return [Workflow(name="thermo_x_temperature", model=Customer, field="region", initial="cold",
                         states=(State("cold", "Cold", "冷"),), transitions=())]

    one = SimpleNamespace(name="thermo", version="1", trellis_workflows=hookimpl(overlapping))
    two = SimpleNamespace(name="thermo_x", version="1", trellis_workflows=hookimpl(overlapping))
    with pytest.raises(PluginError, match="'thermo' and 'thermo_x' both declare the workflow"):
        create_app({"DATABASE_URL": "sqlite://"}, extra_plugins=[one, two])


def _admin(runtime):
    from core.models import User

    from core import db

    return db.session().scalars(select(User).where(User.role == "admin")).first()


def test_hook_trellis_event_subscribers(plugin_app):
    seen = []

    def on_created(event, actor):
        seen.append((event.name, event.payload["changes"]["name"][1], actor.email))
        if event.payload["changes"]["name"][1] == "Forbidden Corp":
            raise ValidationFailed(fields={"name": ["This name is refused by a plugin."]})

    extra = SimpleNamespace(name="listener", version="1",
                            trellis_event_subscribers=hookimpl(lambda: {"customer.created": [on_created]}))
    api, runtime, _ = plugin_app(extra)
    assert api.as_("rep").post("/api/v1/customers", json={"name": "Fine Corp"}).status_code == 201
    refused = api.as_("rep").post("/api/v1/customers", json={"name": "Forbidden Corp"})
    assert refused.status_code == 422  # a handler's error fails the change that caused it
    assert seen == [("customer.created", "Fine Corp", "rep@example.com"),
                    ("customer.created", "Forbidden Corp", "rep@example.com")]
    names = [c["name"] for c in api.as_("rep").get("/api/v1/customers").get_json()]
    assert names == ["Fine Corp"]


def test_hook_trellis_deliver_notification(plugin_app):
    delivered = []
    extra = SimpleNamespace(name="mailer", version="1", trellis_deliver_notification=hookimpl(
        lambda notification, user: delivered.append((user.email, notification.kind))))
    api, runtime, _ = plugin_app(extra)
    customer = create(api)
    api.as_("rep").post(f"/api/v1/customers/{customer['id']}/stage-requests", json={"to": "lost", "reason": "gone"})
    assert delivered == [("manager@example.com", "workflow.approval_requested")]


def test_jobs_from_plugins_run_in_tick_and_a_failing_one_does_not_stop_the_others(plugin_app):
    calls = []

    def boom(now):
        raise RuntimeError("broken job")

    extra = SimpleNamespace(name="cron", version="1", trellis_scheduled_jobs=hookimpl(
        lambda: [Job("cron.boom", boom), Job("cron.count", lambda now: calls.append(now) or len(calls))]))
    _, runtime, _ = plugin_app(extra)
    results = dict(run_all(runtime, utcnow()))
    assert isinstance(results["cron.boom"], RuntimeError) and results["cron.count"] == 1


def test_a_refused_or_unknown_target_is_reported_under_to_the_field_the_client_sent(api):
    """The workflow names the argument that carried the state (``to``), not the record's ``stage``, in a
    move and in a request for approval alike."""
    customer = create(api)
    rep = api.as_("rep")
    for url, body in ((f"/api/v1/customers/{customer['id']}/stage", {"to": "repeat"}),
                      (f"/api/v1/customers/{customer['id']}/stage-requests", {"to": "repeat", "reason": "why not"})):
        response = rep.post(url, json=body)
        assert response.status_code == 422, response.get_json()
        assert list(response.get_json()["errors"]["json"]) == ["to"]
        assert "Allowed:" in response.get_json()["errors"]["json"]["to"][0]
    assert rep.get(f"/api/v1/customers/{customer['id']}").get_json()["stage"] == "potential"
