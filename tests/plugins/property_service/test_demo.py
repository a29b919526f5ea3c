"""``trellis demo``'s property-service part: 300 requests carried through the loop, and what a user sees of
them — statuses, histories, SLA fields, audit trail, events, the owners' timelines, notifications and the
metrics. The demo is loaded as of a fixed instant, so the pinned counts hold on any day; they were
measured on the demo that called the services request by request, and hold for the faster loader that
replaced it. (How fast it loads is measured by bench/demo_load.py, never asserted here.)"""
from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from core import db

#: a Wednesday, 14:30 in Shanghai: some requests are still in working hours' reach, others long closed
NOW = datetime(2026, 3, 11, 6, 30, tzinfo=timezone.utc)


@pytest.fixture
def loaded(runtime, people):
    from plugins.property_service import demo

    with runtime.database.unit_of_work():
        demo.build(people.admin, random.Random(7), now=NOW)
    return runtime


def _requests():
    from plugins.property_service.models import PsRequest

    return list(db.session().scalars(select(PsRequest).order_by(PsRequest.created_at, PsRequest.id)))


def test_the_demo_writes_what_the_services_wrote(loaded):
    """Counts by status, SLA state and escalation; audit entries and events by action; the timeline
    entries and notifications — as measured on the request-by-request demo."""
    from core.models import Interaction
    from core.models.audit import AuditEntry, OutboxEvent
    from core.models.notifications import Notification

    with loaded.database.unit_of_work() as sess:
        rows = _requests()
        assert len(rows) == 300
        assert Counter(r.status for r in rows) == {
            "closed": 175, "resolved": 88, "rejected": 14, "referred": 13, "in_progress": 5, "dispatched": 3,
            "accepted": 2}
        assert Counter(r.sla_state for r in rows) == {"on_time": 195, "breached": 104, "at_risk": 1}
        assert Counter(r.escalation_level for r in rows) == {0: 299, 2: 1}
        assert sum(r.reopen_count for r in rows) == 15
        assert sum(r.version for r in rows) == 2578
        ids = [r.id for r in rows]
        actions = Counter(sess.scalars(select(AuditEntry.action).where(AuditEntry.record_id.in_(ids))))
        assert actions == {"property_service_request.created": 300, "property_service_request.status_changed": 1043,
                           "property_service_request.dispatched": 241, "property_service_request.feedback": 190,
                           "property_service_request.reopened": 15, "property_service_request.sla_changed": 1,
                           "property_service_request.escalated": 2}
        events = Counter(sess.scalars(select(OutboxEvent.name).where(OutboxEvent.record_id.in_(ids))))
        assert events == actions
        kinds = Counter(sess.scalars(select(Interaction.kind).where(Interaction.source == "property_service")))
        assert kinds == {"property_service_request": 300, "property_service_feedback": 190,
                         "property_service_follow_up": 21}
        notes = Counter(sess.scalars(select(Notification.kind)))
        assert notes == {"property_service.dispatched": 241, "property_service.low_rating": 42,
                         "property_service.sla_at_risk": 1, "property_service.escalated": 3}


def test_every_history_leads_to_its_request_status_and_is_audited(loaded):
    from core.models import WorkflowTransitionEntry
    from core.models.audit import AuditEntry, OutboxEvent
    from plugins.property_service.workflows import WORKFLOW

    with loaded.database.unit_of_work() as sess:
        for r in _requests():
            moves = list(sess.scalars(select(WorkflowTransitionEntry).where(
                WorkflowTransitionEntry.workflow == WORKFLOW, WorkflowTransitionEntry.record_id == r.id)
                .order_by(WorkflowTransitionEntry.at)))
            state, entered = "accepted", r.created_at
            for move in moves:
                assert (move.from_state, move.at >= entered) == (state, True), r.id
                assert move.seconds_in_previous == (move.at - entered).total_seconds()
                state, entered = move.to_state, move.at
            assert state == r.status
            audited = list(sess.scalars(select(AuditEntry).where(AuditEntry.record_id == r.id)
                                        .order_by(AuditEntry.at)))
            assert audited[0].action == "property_service_request.created"
            assert [a.changes["status"] for a in audited if a.action.endswith(".status_changed")] == \
                [[m.from_state, m.to_state] for m in moves]
            events = list(sess.scalars(select(OutboxEvent).where(OutboxEvent.record_id == r.id)
                                       .order_by(OutboxEvent.at)))
            assert [e.name for e in events] == [a.action for a in audited]
            # each event carries the version the request had once the change was written
            versions = [e.payload["version"] for e in events]
            assert versions == sorted(versions) and versions[-1] <= r.version


def test_sla_fields_are_there_where_a_user_expects_them(loaded):
    from plugins.property_service import sla

    with loaded.database.unit_of_work():
        for r in _requests():
            assert r.clock_started_at and r.response_due_at and r.resolution_due_at
            if r.status != "accepted":
                assert r.first_response_at is not None and r.response_seconds is not None
            if r.status in ("resolved", "closed"):
                assert r.resolved_at is not None and r.resolution_seconds is not None
            else:
                assert r.resolved_at is None
            assert (r.rating is not None) == (r.feedback_at is not None)
            if r.rating is not None:
                assert r.status == "closed" and r.closed_at == r.feedback_at
                assert (r.follow_up_id is not None) == (r.rating <= 2)
            assert (r.paused_at is not None) == (r.status == "waiting")
            if r.sla_state == "breached":
                assert r.sla_breached_at is not None or sla.missed(r)
            assert r.interaction_id is not None


def test_owners_see_requests_and_ratings_on_their_timelines_and_the_metrics_answer(loaded, api):
    from plugins.property_service.metrics import METRICS

    with loaded.database.unit_of_work():
        rated = next(r for r in _requests() if r.rating is not None and r.rating <= 2)
        rid, customer_id, rating = str(rated.id), str(rated.requester_id), rated.rating
    request = api.get(f"/api/v1/property-service/requests/{rid}").get_json()
    assert (request["status"], request["rating"]) == ("closed", rating)
    timeline = api.get(f"/api/v1/customers/{customer_id}/timeline?page_size=100").get_json()
    feedback = [e for e in timeline if e["kind"] == "property_service_feedback"]
    assert rating in [e["score"] for e in feedback]
    assert {"property_service_request", "property_service_feedback"} <= {e["kind"] for e in timeline}
    history = api.get(f"/api/v1/property-service/requests/{rid}/history").get_json()
    assert history[-1]["to_state"] == "closed"
    for metric in METRICS:
        rows = api.get(f"/api/v1/metrics/{metric.name}").get_json()["rows"]
        assert rows and any(r["value"] for r in rows), metric.name


def test_a_second_run_adds_nothing(loaded, people):
    from plugins.property_service import demo
    from plugins.property_service.models import PsRequest

    with loaded.database.unit_of_work() as sess:
        demo.build(people.admin, random.Random(8), now=NOW)
        assert sess.scalar(select(func.count()).select_from(PsRequest)) == 300


def test_the_loader_writes_what_the_services_write(ps):
    """The demo plays the loop in memory (``demo._Loop``) and writes it in bulk; for one request taken
    through every step — dispatch, start, wait, resume, resolve, a poor rating (follow-up task and
    notifications), reopen, resolve again — and for a rejected one, it writes what the services write:
    the request with its SLA fields and version, the history, the audit trail and events with their
    versions, the timeline entries and the notifications."""
    import uuid
    from datetime import timedelta

    from core.models import Interaction, WorkflowTransitionEntry
    from core.models.audit import AuditEntry, OutboxEvent
    from core.models.notifications import Notification
    from plugins.property_service import demo, requests
    from plugins.property_service.models import PsRequest
    from tests.plugins.property_service.conftest import monday

    received = monday(10, 5)
    steps = [("dispatch", 1), ("start", 3), ("wait", 5), ("resume", 30), ("resolve", 50), ("give_feedback", 60),
             ("reopen", 70), ("resolve", 75)]

    def play(api, requester):
        """Both paths through one interface: ``api`` is the requests module or a ``_Loop``."""
        data = {"kind": "repair", "requester_id": str(requester.id), "unit_id": str(ps.unit.id), "priority": "high",
                "channel": "phone", "description": "厨房水龙头漏水", "topic": "", "received_at": received.isoformat()}
        first = api.create(ps.centre, data).id
        for step, hours in steps:
            at = received + timedelta(hours=hours)
            worker = ps.eng if step in ("start", "wait", "resume", "resolve") else ps.centre
            body = {"dispatch": {"team_id": str(ps.engineering.id), "assignee_id": str(ps.eng.id)},
                    "wait": {"note": "业主不在家"}, "resolve": {"resolution": "已处理完毕。"},
                    "give_feedback": {"rating": 1, "comment": "很不满意"}, "reopen": {"reason": "问题复发"}}.get(step, {})
            getattr(api, step)(worker, first, body, at=at)
        second = api.create(ps.centre, {**data, "description": "楼上装修噪音"}).id
        api.reject(ps.centre, second, {"explanation": "不属于物业服务范围"}, at=received + timedelta(hours=1))
        return [first, second]

    def written(sess, rids, requester_id):
        rows = [sess.get(PsRequest, rid) for rid in rids]
        entries = list(sess.scalars(select(Interaction).where(Interaction.customer_id == requester_id)
                                    .order_by(Interaction.kind, Interaction.occurred_at)))
        names = {requester_id: "requester", **{rid: f"request{n}" for n, rid in enumerate(rids)},
                 **{e.id: f"entry:{e.kind}:{e.occurred_at}" for e in entries}}

        def norm(value):
            if isinstance(value, dict):
                return {k: norm(v) for k, v in value.items() if k != "due_at"}  # real now + a working day
            if isinstance(value, list):
                return [norm(v) for v in value]
            if isinstance(value, (str, uuid.UUID)):
                for key, name in names.items():
                    value = str(value).replace(str(key), name)
            return value

        def columns(record, skip=()):
            return norm({c.key: getattr(record, c.key) for c in record.__table__.columns
                         if c.key not in ("id", "updated_at", *skip)})

        def trail(model, record_id):
            return [(row.action if model is AuditEntry else row.name, norm(row.changes if model is AuditEntry
                                                                           else row.payload))
                    for row in sess.scalars(select(model).where(model.record_id == record_id).order_by(model.at))]

        return {
            "requests": [columns(r) for r in rows],
            "history": [[columns(h, ("record_id",)) for h in sess.scalars(
                select(WorkflowTransitionEntry).where(WorkflowTransitionEntry.record_id == r.id)
                .order_by(WorkflowTransitionEntry.at))] for r in rows],
            "audit": [trail(AuditEntry, r.id) for r in rows] + [trail(AuditEntry, e.id) for e in entries],
            "events": [trail(OutboxEvent, r.id) for r in rows] + [trail(OutboxEvent, e.id) for e in entries],
            "timeline": [columns(e, ("created_at", "customer_id")) for e in entries],
            "notifications": sorted(str(columns(n, ("created_at",))) for n in sess.scalars(
                select(Notification).where(Notification.record_id.in_(rids)))),
        }

    with ps.runtime.database.unit_of_work() as sess:
        by_services = play(requests, ps.owner)
        loop = demo._Loop(requests.centre_users())
        in_bulk = play(loop, ps.tenant)
        loop.flush()
        expected, got = written(sess, by_services, ps.owner.id), written(sess, in_bulk, ps.tenant.id)
    assert [r["version"] for r in got["requests"]] == [r["version"] for r in expected["requests"]]
    for key in expected:
        assert got[key] == expected[key], key
    assert len(expected["timeline"]) == 4 and len(expected["notifications"]) == 2  # 2 requests, a rating, its follow-up
