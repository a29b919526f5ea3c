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
