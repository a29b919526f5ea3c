"""SLA clocks in working hours, at-risk warnings and escalation through ``trellis tick`` — each once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core import db
from core.jobs import run_all
from core.models import Notification
from plugins.property_service import requests as service
from plugins.property_service import services, sla
from tests.plugins.property_service.conftest import monday

H = 3600


def notes(ps, user, kind=None):
    with ps.runtime.database.unit_of_work():
        stmt = select(Notification).where(Notification.user_id == user.id)
        if kind:
            stmt = stmt.where(Notification.kind == kind)
        return [(n.kind, n.data.get("level"), n.data.get("deadline")) for n in db.session().scalars(stmt)]


def tick(ps, now):
    results = dict(run_all(ps.runtime, now))
    for name in ("property_service.sla", "property_service.auto_close"):
        assert not isinstance(results[name], Exception), results[name]
    return results


def make(ps, received, **data):
    with ps.runtime.database.unit_of_work():
        row = service.create(ps.centre, {"kind": "repair", "requester_id": str(ps.owner.id),
                                         "description": "Leak", "received_at": received.isoformat(), **data})
        return row.id


def get(ps, rid):
    with ps.runtime.database.unit_of_work():
        return service.get(ps.centre, rid)


def test_deadlines_count_working_hours_only(ps):
    # normal: 2 working hours to respond, 27 to resolve; Mon–Fri 09–18 in Beijing
    rid = make(ps, monday(10))
    row = get(ps, rid)
    assert row.response_due_at == monday(12)
    assert row.resolution_due_at == monday(10, day=5)  # Thursday 10:00


def test_without_a_policy_each_priority_has_the_documented_targets(ps):
    # README: urgent 30/240/60, high 60/540/120, normal 120/1620/240, low 480/2700/540 working minutes
    due = {"urgent": (monday(10, 30), monday(14)), "high": (monday(11), monday(10, day=3)),
           "normal": (monday(12), monday(10, day=5)), "low": (monday(18), monday(10, day=9))}
    for priority, (response, resolution) in due.items():
        row = get(ps, make(ps, monday(10), priority=priority))
        assert (row.response_due_at, row.resolution_due_at) == (response, resolution), priority
    with ps.runtime.database.unit_of_work():
        escalate = {p: sla.Policies().targets("repair", p).escalate_after / 60 for p in due}
    assert escalate == {"urgent": 60, "high": 120, "normal": 240, "low": 540}


def test_a_friday_evening_request_waits_for_monday(ps):
    rid = make(ps, monday(17, day=6), priority="urgent")  # Friday 17:00: 30 min / 4 h
    row = get(ps, rid)
    assert row.response_due_at == monday(17, 30, day=6)
    assert row.resolution_due_at == monday(12, day=9)  # 1 h on Friday, 3 h on Monday


def test_a_holiday_moves_the_deadline(ps):
    with ps.runtime.database.unit_of_work():
        services.update_settings(ps.centre, {"holidays": ["2026-03-09"]})
    rid = make(ps, monday(17, day=6), priority="urgent")
    assert get(ps, rid).resolution_due_at == monday(12, day=10)  # Tuesday


def test_policies_override_the_defaults_per_kind_and_priority(ps):
    with ps.runtime.database.unit_of_work():
        services.sla_policies.create(ps.centre, {"kind": "repair", "priority": "normal", "response_minutes": 60,
                                                 "resolution_minutes": 120, "escalate_after_minutes": 30})
    rid = make(ps, monday(10))
    row = get(ps, rid)
    assert row.response_due_at == monday(11) and row.resolution_due_at == monday(12)
    other = make(ps, monday(10), kind="complaint")
    assert get(ps, other).response_due_at == monday(12)


def test_at_risk_warns_the_assignee_once(ps):
    rid = make(ps, monday(10))
    with ps.runtime.database.unit_of_work():
        service.dispatch(ps.centre, rid, {"team_id": str(ps.engineering.id), "assignee_id": str(ps.eng.id)},
                         at=monday(10, 20))
    # resolution due Thursday 10:00; at-risk under 25 % of 27 h = 6.75 h: from Wednesday 12:15
    tick(ps, monday(12, day=4))
    assert get(ps, rid).sla_state == "on_time"
    tick(ps, monday(13, day=4))
    assert get(ps, rid).sla_state == "at_risk"
    tick(ps, monday(13, 30, day=4))
    assert notes(ps, ps.eng, "property_service.sla_at_risk") == [("property_service.sla_at_risk", None, "resolution")]
    listed = ps.as_("centre").get("/api/v1/property-service/requests?sla_state=at_risk").get_json()
    assert [r["id"] for r in listed] == [str(rid)]
    # each change of state is audited once, by the tick (no actor); the ticks that changed nothing are not
    trail = ps.as_("admin").get(f"/api/v1/audit?record_type=property_service_request&record_id={rid}").get_json()
    changes = [(e["changes"], e["actor_id"]) for e in trail if e["action"] == "property_service_request.sla_changed"]
    assert changes == [({"sla_state": ["on_time", "at_risk"]}, None)]


def test_at_risk_without_an_assignee_warns_the_teams_manager(ps):
    rid = make(ps, monday(10))
    with ps.runtime.database.unit_of_work():
        service.dispatch(ps.centre, rid, {"team_id": str(ps.engineering.id)}, at=monday(10, 20))
    tick(ps, monday(13, day=4))  # resolution due Thursday 10:00, at risk from Wednesday 12:15
    assert get(ps, rid).sla_state == "at_risk"
    assert notes(ps, ps.eng_manager, "property_service.sla_at_risk") == [
        ("property_service.sla_at_risk", None, "resolution")]
    assert notes(ps, ps.centre, "property_service.sla_at_risk") == []


def test_overdue_escalates_to_the_manager_then_the_centre_once_per_level(ps):
    rid = make(ps, monday(10))
    with ps.runtime.database.unit_of_work():
        service.dispatch(ps.centre, rid, {"team_id": str(ps.engineering.id), "assignee_id": str(ps.eng.id)},
                         at=monday(10, 20))
    late = monday(10, 30, day=5)  # Thursday, half an hour past the resolution deadline
    tick(ps, late)
    tick(ps, late + timedelta(minutes=5))
    row = get(ps, rid)
    assert row.sla_state == "breached" and row.escalation_level == 1
    assert notes(ps, ps.eng_manager, "property_service.escalated") == [("property_service.escalated", 1, "resolution")]
    assert notes(ps, ps.centre, "property_service.escalated") == []
    # 4 working hours past the deadline (escalate_after for normal priority) the centre hears of it
    tick(ps, monday(14, 30, day=5))
    tick(ps, monday(15, day=5))
    assert get(ps, rid).escalation_level == 2
    assert notes(ps, ps.centre, "property_service.escalated") == [("property_service.escalated", 2, "resolution")]
    assert len(notes(ps, ps.eng_manager, "property_service.escalated")) == 1


def test_an_overdue_request_of_a_team_whose_manager_left_escalates_to_the_centre(ps):
    from core.services import people as people_service

    rid = make(ps, monday(10))
    with ps.runtime.database.unit_of_work():
        service.dispatch(ps.centre, rid, {"team_id": str(ps.engineering.id), "assignee_id": str(ps.eng.id)},
                         at=monday(10, 20))
        manager = db.session().get(type(ps.eng_manager), ps.eng_manager.id)
        people_service.update_user(ps.people.admin, manager.id, {"version": manager.version, "is_active": False})
    tick(ps, monday(10, 30, day=5))  # half an hour past the resolution deadline
    assert get(ps, rid).escalation_level == 1
    # the deactivated manager would never read it: the first level goes to the centre instead
    assert notes(ps, ps.centre, "property_service.escalated") == [("property_service.escalated", 1, "resolution")]
    assert notes(ps, ps.eng_manager, "property_service.escalated") == []


def test_an_undispatched_request_escalates_to_the_centre(ps):
    rid = make(ps, monday(10))
    tick(ps, monday(12, 30))  # the response deadline (12:00) has passed
    assert get(ps, rid).escalation_level == 1
    assert notes(ps, ps.centre, "property_service.escalated") == [("property_service.escalated", 1, "response")]


def test_a_breach_stays_after_resolution(ps):
    rid = make(ps, monday(10))
    with ps.runtime.database.unit_of_work():
        service.resolve(ps.centre, rid, {"resolution": "Fixed late"}, at=monday(10, day=6))
    row = get(ps, rid)
    assert row.sla_state == "breached" and row.resolution_seconds == 36 * H
    assert row.response_seconds == 36 * H  # resolving is also the first response here


def test_a_request_is_at_risk_from_the_instant_a_quarter_of_its_target_is_left(ps):
    # undispatched, normal: response due 12:00 (2 h); a quarter of it, 30 min, is left at 11:30 sharp
    rid = make(ps, monday(10))
    tick(ps, monday(11, 29) + timedelta(seconds=59))
    assert get(ps, rid).sla_state == "on_time"
    tick(ps, monday(11, 30))
    assert get(ps, rid).sla_state == "at_risk"


def test_even_a_one_second_wait_moves_the_deadlines_by_that_second(ps):
    rid = make(ps, monday(10))
    before = get(ps, rid)
    with ps.runtime.database.unit_of_work():
        service.dispatch(ps.centre, rid, {"team_id": str(ps.engineering.id)}, at=monday(10, 20))
        service.wait(ps.eng, rid, {"note": "Owner at the door in a second"}, at=monday(11))
        service.resume(ps.eng, rid, at=monday(11) + timedelta(seconds=1))
    after = get(ps, rid)
    assert after.resolution_due_at - before.resolution_due_at == timedelta(seconds=1)


def test_waiting_on_the_owner_pauses_escalation(ps):
    rid = make(ps, monday(10))
    with ps.runtime.database.unit_of_work():
        service.dispatch(ps.centre, rid, {"team_id": str(ps.engineering.id)}, at=monday(10, 20))
        service.wait(ps.eng, rid, {"note": "Owner abroad until next week"}, at=monday(11))
    tick(ps, monday(12, day=12))  # long after the original deadline
    row = get(ps, rid)
    assert row.status == "waiting" and row.sla_state == "on_time" and row.escalation_level == 0


def test_resolved_requests_close_after_the_feedback_timeout(ps):
    rid = make(ps, monday(10))
    with ps.runtime.database.unit_of_work():
        service.resolve(ps.centre, rid, {"resolution": "Fixed"}, at=monday(11))
    tick(ps, monday(11) + timedelta(hours=71))
    assert get(ps, rid).status == "resolved"
    results = tick(ps, monday(11) + timedelta(hours=73))
    assert results["property_service.auto_close"] == 1
    assert get(ps, rid).status == "closed"
    assert tick(ps, monday(11) + timedelta(hours=74))["property_service.auto_close"] == 0
    history = ps.as_("centre").get(f"/api/v1/property-service/requests/{rid}/history").get_json()
    assert history[-1]["trigger"] == "automatic" and history[-1]["to_state"] == "closed"


def test_at_risk_warns_only_for_the_deadline_that_is_at_risk(ps):
    # normal priority, received Monday 10:00: response due 12:00 (2 h), resolution Thursday 10:00 (27 h).
    # At 11:40 only 20 min of the 2 h response target is left (under 25 %); the resolution deadline has
    # more than 26 h of its 27 h left and must not be announced as "due soon".
    rid = make(ps, monday(10))
    tick(ps, monday(11, 40))
    assert get(ps, rid).sla_state == "at_risk"
    assert notes(ps, ps.centre, "property_service.sla_at_risk") == [("property_service.sla_at_risk", None, "response")]
