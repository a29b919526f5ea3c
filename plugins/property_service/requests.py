"""Property service (物业服务): service requests (服务申请) in the closed loop.

The centre accepts a request (it lands on the requester's timeline), dispatches it to a team (the centre
may reassign any request; a team's manager within the team), the team starts, may wait on the owner
(clocks paused), and resolves; the owner rates the work (on the API on their behalf, or through a
one-time link) and the request closes — or closes by itself when no feedback comes. Unreasonable requests
are rejected with an explanation, impossible ones referred; resolved or closed ones can be reopened.
Every state move goes through ``core.services.workflow.transition``; every write is audited.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from sqlalchemy import Select, select

from core import db, runtime
from core.db import utcnow
from core.errors import Forbidden, NotFound, ValidationFailed
from core.models import Role, User
from core.services import audit, common, customers, interactions, paging, workflow
from core.services.notifications import notify
from core.services.permissions import require_actor, visibility
from core.workflow import AUTOMATIC
from plugins.property_service import schemas as s
from plugins.property_service import services, sla
from plugins.property_service.labels import CENTRE
from plugins.property_service.models import PsBuilding, PsRequest, PsTeam, PsUnit
from plugins.property_service.permissions import is_centre, require_centre
from plugins.property_service.workflows import (
    ACCEPTED, CLOSED, DISPATCHED, FINISHED, IN_PROGRESS, OPEN, REFERRED, REJECTED, RESOLVED, WAITING, WORKFLOW,
)

SOURCE = "property_service"

AUDITED = ["kind", "channel", "requester_id", "unit_id", "building_id", "description", "photos", "priority",
           "topic", "team_id", "assignee_id", "status", "response_due_at", "resolution_due_at"]

SORTABLE = {
    "created_at": PsRequest.created_at,
    "updated_at": PsRequest.updated_at,
    "priority": PsRequest.priority,
    "status": PsRequest.status,
    "resolution_due_at": PsRequest.resolution_due_at,
    "response_due_at": PsRequest.response_due_at,
    "rating": PsRequest.rating,
}


# --- reading -----------------------------------------------------------------------------------------

def visible(actor: Any, *, deleted: bool = False) -> Select:
    return select(PsRequest).where(visibility(actor, PsRequest), common.not_deleted(PsRequest, deleted))


def get(actor: Any, request_id: Any, *, deleted: bool = False) -> PsRequest:
    rid = common.parse_uuid(request_id)
    row = db.session().scalars(visible(actor, deleted=deleted).where(PsRequest.id == rid)).first()
    if row is None:
        raise NotFound("No service request with this id.")
    return row


def filtered(actor: Any, filters: Mapping[str, Any] | None = None) -> Select:
    f = common.validate(s.RequestFilter, dict(filters or {}))
    stmt = visible(actor, deleted=f.pop("deleted", False))
    if (is_open := f.pop("open", None)) is not None:
        stmt = stmt.where(PsRequest.status.in_(OPEN) if is_open else PsRequest.status.in_(FINISHED))
    if (status := f.get("status")) is not None:
        known = runtime.current().workflows.get(WORKFLOW).state_names
        if status not in known:
            raise ValidationFailed(fields={"status": [f"One of: {', '.join(known)}."]})
    for key, value in f.items():
        stmt = stmt.where(getattr(PsRequest, key) == value)
    return stmt


def list_requests(actor: Any, filters: Mapping[str, Any] | None = None, *,
                  page: common.PageRequest = common.PageRequest(), sort: str | None = None) -> common.Page[PsRequest]:
    order = common.parse_sort(sort, SORTABLE, "-created_at")
    return common.paginate(filtered(actor, filters), page, order, PsRequest.id)


def pages_for_customers(actor: Any, customer_ids: list[uuid.UUID], page: paging.KeysetRequest,
                        sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """A keyset page of each customer's visible requests (newest first; ``sort``, keys of ``SORTABLE`` as
    the root list takes them, orders them otherwise), in one statement (a window)."""
    return paging.seek_windows(db.session(), visible(actor), PsRequest.requester_id, customer_ids, page,
                               common.parse_sort(sort, SORTABLE, "-created_at"), PsRequest.id)


def counts_for_customers(actor: Any, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return paging.count_windows(db.session(), visible(actor), PsRequest.requester_id, customer_ids)


def history(actor: Any, request_id: Any):
    return workflow.history(WORKFLOW, get(actor, request_id))


def filtered_history(actor: Any, filters: Mapping[str, Any] | None = None) -> Select:
    """The SELECT of the status moves :func:`history` lists, the request a filter
    (``PropertyRequestHistoryFilter``: ``request_id`` required; missing, or a request the actor may not
    see, is a ValidationFailed naming it), unordered: what ``trellis export`` reads."""
    f = common.validate(s.PropertyRequestHistoryFilter, dict(filters or {}))
    try:
        request = get(actor, f["request_id"])
    except NotFound:
        raise ValidationFailed(fields={"request_id": ["No service request with this id."]}) from None
    return workflow.history_query(WORKFLOW, request)


# --- helpers -----------------------------------------------------------------------------------------

def _now(at: datetime | None) -> datetime:
    return at or utcnow()


def _context():
    return sla.settings_values(), sla.calendar()


def _refresh(request: PsRequest, now: datetime, *, policies: sla.Policies | None = None, values=None, cal=None):
    """Recompute the stored SLA state after a change (it is a filterable field)."""
    if values is None:
        values, cal = _context()
    targets = (policies or sla.Policies()).targets(request.kind, request.priority)
    state = sla.evaluate(request, now, cal, targets, values["at_risk_share"])
    if state == sla.BREACHED and request.sla_breached_at is None:
        request.sla_breached_at = now
    old = request.sla_state
    request.sla_state = state
    return old, state


def _move(actor: Any, request: PsRequest, to: str, now: datetime, *, reason: str = "", trigger: str = "manual"):
    workflow.transition(actor, WORKFLOW, request, to, reason=reason, at=now, trigger=trigger)


def _first_response(request: PsRequest, now: datetime, cal) -> None:
    if request.first_response_at is None:
        request.first_response_at = now
        request.response_seconds = cal.between(request.created_at, now)


def _team(team_id: Any, field: str = "team_id") -> PsTeam:
    team = db.session().get(PsTeam, team_id) if team_id is not None else None
    if team is None or team.deleted_at is not None:
        raise ValidationFailed(fields={field: ["No team with this id."]})
    return team


def _check_assignee(team: PsTeam, assignee_id: Any) -> User | None:
    if assignee_id is None:
        return None
    user = db.session().get(User, assignee_id)
    if user is None or user.deleted_at is not None or not user.is_active or not services.is_member(user, team):
        raise ValidationFailed(fields={"assignee_id": ["Not an active member of the team."]})
    return user


def _require_worker(actor: Any, request: PsRequest) -> User:
    """The centre, an admin, or a member (or the manager) of the request's team."""
    user = require_actor(actor)
    if is_centre(user):
        return user
    team = db.session().get(PsTeam, request.team_id) if request.team_id else None
    if team is None or not services.is_member(user, team):
        raise Forbidden("Only the request's team or the customer-service centre may do this.")
    return user


def centre_users() -> list[User]:
    return list(db.session().scalars(select(User).where(User.role == CENTRE, User.is_active.is_(True),
                                                        User.deleted_at.is_(None)).order_by(User.created_at, User.id)))


def _system_actor() -> User | None:
    """Who writes what nobody signed in wrote (a feedback link, a timeout): the first centre user, else
    the first admin."""
    users = centre_users()
    if users:
        return users[0]
    return db.session().scalar(select(User).where(User.role == Role.ADMIN.value, User.is_active.is_(True),
                                                  User.deleted_at.is_(None)).order_by(User.created_at, User.id))


def _label(kind: str) -> str:
    row = services.kind_by_code(kind, active_only=False)
    return row.label_en if row is not None else kind


# --- creating and changing ---------------------------------------------------------------------------

#: Imports may backdate requests, but not to before the property-management era of any real deployment.
EARLIEST_RECEIVED = datetime(1990, 1, 1, tzinfo=timezone.utc)


def create(actor: Any, data: Mapping[str, Any], *, open311: Mapping[str, Any] | None = None) -> PsRequest:
    """Accept a request: validate it, start its SLA clocks, put it on the requester's timeline, and
    dispatch it at once when a team is given (or the kind has a default team and the actor is staff)."""
    user = require_actor(actor)
    values = common.validate(s.RequestCreate, data)
    kind = services.kind_by_code(values["kind"])
    if kind is None:
        known = ", ".join(k.code for k in services.all_kinds())
        raise ValidationFailed(fields={"kind": [f"Unknown kind. Known: {known}."]})
    try:
        requester = customers.get(user, values["requester_id"])
    except NotFound:
        raise ValidationFailed(fields={"requester_id": ["No customer with this id."]}) from None
    if values.get("unit_id") is not None:
        unit = db.session().get(PsUnit, values["unit_id"])
        if unit is None or unit.deleted_at is not None:
            raise ValidationFailed(fields={"unit_id": ["No unit with this id."]})
        values["building_id"] = unit.building_id
    elif values.get("building_id") is not None:
        building = db.session().get(PsBuilding, values["building_id"])
        if building is None or building.deleted_at is not None:
            raise ValidationFailed(fields={"building_id": ["No building with this id."]})
    team_id, assignee_id = values.pop("team_id", None), values.pop("assignee_id", None)
    if team_id is None and assignee_id is not None:
        raise ValidationFailed(fields={"team_id": ["Give the team of the assignee."]})
    if team_id is None and not is_centre(user):
        # staff and reps file requests; the kind's default team takes them (the centre dispatches itself)
        team_id = kind.default_team_id
    now = utcnow()
    received = values.pop("received_at", None) or now
    if received > now + timedelta(minutes=5):
        raise ValidationFailed(fields={"received_at": ["Must not be in the future."]})
    if received < EARLIEST_RECEIVED:
        raise ValidationFailed(fields={"received_at": [f"Must not be before {EARLIEST_RECEIVED.date()}."]})
    values.setdefault("photos", [])
    values.setdefault("attributes", {})
    values["requester_id"] = requester.id
    request = PsRequest(**values, status=ACCEPTED, created_at=received,
                        updated_at=received, **(dict(open311) if open311 else {}))
    sess = db.session()
    settings_values, cal = _context()
    policies = sla.Policies()
    sla.start_clocks(request, received, cal, policies.targets(request.kind, request.priority))
    sess.add(request)
    sess.flush()
    audit.record_change(user, "created", request, audit.created_fields(request, AUDITED),
                        payload={"requester_id": request.requester_id, "kind": request.kind})
    entry = interactions.create(user, {
        "customer_id": str(requester.id), "kind": "property_service_request", "direction": "inbound",
        "status": "done", "occurred_at": received.isoformat(),
        "subject": f"{_label(request.kind)}: {request.description[:150]}", "notes": request.description,
    }, source=SOURCE)
    request.interaction_id = entry.id
    sess.flush()
    if team_id is not None:
        dispatch(user, request.id, {"team_id": str(team_id), "assignee_id": str(assignee_id) if assignee_id else None},
                 at=received, _check=False)
    else:
        _refresh(request, received, policies=policies, values=settings_values, cal=cal)
    sess.flush()
    return request


def update(actor: Any, request_id: Any, data: Mapping[str, Any]) -> PsRequest:
    """Correct a request's description, photos, priority, topic or unit. A new priority re-targets the
    deadlines still to be met."""
    request = get(actor, request_id)
    user = _require_worker(actor, request)
    values = common.validate_update(s.RequestUpdate, data)
    common.check_version(request, values.pop("version"))
    if "unit_id" in values and values["unit_id"] is not None:
        unit = db.session().get(PsUnit, values["unit_id"])
        if unit is None or unit.deleted_at is not None:
            raise ValidationFailed(fields={"unit_id": ["No unit with this id."]})
        values["building_id"] = unit.building_id
    old_priority = request.priority
    changes = common.apply_changes(request, values)
    if "priority" in changes and request.status in OPEN:
        _, cal = _context()
        targets = sla.Policies().targets(request.kind, request.priority)
        start = request.clock_started_at or request.created_at
        if request.first_response_at is None:
            request.response_due_at = cal.add(start, targets.response)
            changes["response_due_at"] = (None, request.response_due_at)
        request.resolution_due_at = cal.add(cal.add(start, targets.resolution), request.paused_seconds or 0)
        changes["resolution_due_at"] = (None, request.resolution_due_at)
        _refresh(request, utcnow())
    db.session().flush()
    if changes:
        audit.record_change(user, "updated", request, changes,
                            payload={"priority_from": old_priority} if "priority" in changes else None)
    return request


def delete(actor: Any, request_id: Any) -> None:
    user = require_centre(actor)
    request = get(user, request_id)
    common.soft_delete(request)
    audit.record_change(user, "deleted", request)


def restore(actor: Any, request_id: Any) -> PsRequest:
    user = require_centre(actor)
    request = get(user, request_id, deleted=True)
    common.restore(request)
    audit.record_change(user, "restored", request)
    return request


# --- the loop ----------------------------------------------------------------------------------------

def dispatch(actor: Any, request_id: Any, data: Mapping[str, Any], *, at: datetime | None = None,
             _check: bool = True) -> PsRequest:
    """Send a request to a team (and a person). The centre may (re)assign any request; a team's
    manager may reassign within the team. The first dispatch is the first response."""
    user = require_actor(actor)
    request = get(user, request_id) if _check else db.session().get(PsRequest, request_id)
    values = common.validate(s.Dispatch, data)
    team = _team(values["team_id"])
    assignee = _check_assignee(team, values.get("assignee_id"))
    if _check and not is_centre(user):
        current = db.session().get(PsTeam, request.team_id) if request.team_id else None
        if current is None or current.id != team.id or current.manager_id != user.id:
            raise Forbidden("The customer-service centre dispatches; a team's manager may only reassign "
                            "within the team.")
    if request.status in FINISHED:
        raise ValidationFailed(fields={"status": [f"A {request.status} request cannot be dispatched; reopen it."]})
    now = _now(at)
    changes = common.apply_changes(request, {"team_id": team.id, "assignee_id": assignee.id if assignee else None})
    verb = "dispatched"
    if request.status == ACCEPTED:
        _, cal = _context()
        _first_response(request, now, cal)
        _move(user, request, DISPATCHED, now, reason=values["note"])
    elif not changes:
        return request
    else:
        verb = "reassigned"
    _refresh(request, now)
    db.session().flush()
    audit.record_change(user, verb, request, changes, payload={"team_id": team.id, "note": values["note"]})
    recipient = assignee or (db.session().get(User, team.manager_id) if team.manager_id else None)
    if recipient is not None:
        notify(recipient, "property_service.dispatched", f"New {_label(request.kind).lower()}: "
               f"{request.description[:120]}", values["note"], record=request,
               data={"team_id": team.id, "priority": request.priority})
    return request


def start(actor: Any, request_id: Any, data: Mapping[str, Any] | None = None, *, at: datetime | None = None) -> PsRequest:
    request = get(actor, request_id)
    user = _require_worker(actor, request)
    values = common.validate(s.Note, dict(data or {}))
    now = _now(at)
    _, cal = _context()
    _first_response(request, now, cal)
    if request.assignee_id is None and request.team_id is not None and not is_centre(user):
        request.assignee_id = user.id
    _move(user, request, IN_PROGRESS, now, reason=values["note"])
    _refresh(request, now)
    db.session().flush()
    return request


def wait(actor: Any, request_id: Any, data: Mapping[str, Any], *, at: datetime | None = None) -> PsRequest:
    """Wait on the owner (access to the unit, a missing part the owner buys …): the clocks pause."""
    request = get(actor, request_id)
    user = _require_worker(actor, request)
    values = common.validate(s.Note, dict(data or {}))
    if not values["note"].strip():
        raise ValidationFailed(fields={"note": ["Say what the owner is to do."]})
    now = _now(at)
    _, cal = _context()
    _first_response(request, now, cal)
    _move(user, request, WAITING, now, reason=values["note"])
    sla.pause(request, now)
    db.session().flush()
    return request


def resume(actor: Any, request_id: Any, data: Mapping[str, Any] | None = None, *, at: datetime | None = None) -> PsRequest:
    """The owner did their part: back to the state the request waited in, deadlines moved on."""
    request = get(actor, request_id)
    user = _require_worker(actor, request)
    values = common.validate(s.Note, dict(data or {}))
    if request.status != WAITING:
        raise ValidationFailed(fields={"status": [f"The request is {request.status}, not waiting."]})
    entries = workflow.history(WORKFLOW, request)
    previous = entries[-1].from_state if entries and entries[-1].from_state in (ACCEPTED, DISPATCHED, IN_PROGRESS) \
        else IN_PROGRESS
    now = _now(at)
    _, cal = _context()
    sla.unpause(request, now, cal)
    _move(user, request, previous, now, reason=values["note"])
    _refresh(request, now)
    db.session().flush()
    return request


def resolve(actor: Any, request_id: Any, data: Mapping[str, Any], *, at: datetime | None = None) -> PsRequest:
    request = get(actor, request_id)
    user = _require_worker(actor, request)
    values = common.validate(s.Resolution, data)
    now = _now(at)
    _, cal = _context()
    _first_response(request, now, cal)
    request.resolution = values["resolution"]
    request.resolved_at = now
    start_at = request.clock_started_at or request.created_at
    request.resolution_seconds = max(cal.between(start_at, now) - (request.paused_seconds or 0.0), 0.0)
    _move(user, request, RESOLVED, now, reason=values["resolution"][:2000])
    _refresh(request, now)
    db.session().flush()
    return request


def _end(actor: Any, request: PsRequest, to: str, now: datetime, reason: str, changes: dict) -> PsRequest:
    _, cal = _context()
    sla.unpause(request, now, cal)
    _first_response(request, now, cal)
    common.apply_changes(request, changes)
    _move(actor, request, to, now, reason=reason[:2000])
    _refresh(request, now)
    db.session().flush()
    return request


def reject(actor: Any, request_id: Any, data: Mapping[str, Any], *, at: datetime | None = None) -> PsRequest:
    """An unreasonable request ends with the explanation owed to the owner (the centre decides)."""
    user = require_centre(actor)
    request = get(user, request_id)
    values = common.validate(s.Rejection, data)
    return _end(user, request, REJECTED, _now(at), values["explanation"], {"explanation": values["explanation"]})


def refer(actor: Any, request_id: Any, data: Mapping[str, Any], *, at: datetime | None = None) -> PsRequest:
    """An impossible request (not ours to do) is referred to an outside party."""
    user = require_centre(actor)
    request = get(user, request_id)
    values = common.validate(s.Referral, data)
    reason = values["note"] or f"Referred to {values['referred_to']}"
    return _end(user, request, REFERRED, _now(at), reason, {"referred_to": values["referred_to"]})


def close(actor: Any, request_id: Any, data: Mapping[str, Any] | None = None, *, at: datetime | None = None) -> PsRequest:
    """The centre closes a resolved request without a rating (the owner confirmed by phone …)."""
    user = require_centre(actor)
    request = get(user, request_id)
    values = common.validate(s.Note, dict(data or {}))
    now = _now(at)
    request.closed_at = now
    _move(user, request, CLOSED, now, reason=values["note"])
    db.session().flush()
    return request


def reset_for_reopening(request: PsRequest, now: datetime, cal: Any, targets: Any) -> None:
    """What reopening does to a request besides its move (the service and the demo's bulk loop share it):
    one more reopening counted, the resolution and the feedback cleared, the escalation reset and a new
    resolution clock started (the response was given already)."""
    request.reopen_count = (request.reopen_count or 0) + 1
    request.resolved_at = request.closed_at = request.resolution_seconds = None
    request.rating, request.feedback_comment, request.feedback_at = None, "", None
    request.feedback_via = request.feedback_by_id = None
    request.feedback_token_hash = None
    request.escalation_level = 0
    sla.start_clocks(request, now, cal, targets, response=False)


def reopen(actor: Any, request_id: Any, data: Mapping[str, Any], *, at: datetime | None = None) -> PsRequest:
    """A resolved or closed request comes back (the fix did not hold): to its team if it had one, with a
    new resolution deadline; the reopening is counted."""
    user = require_centre(actor)
    request = get(user, request_id)
    values = common.validate(s.Reopen, data)
    if request.status not in (RESOLVED, CLOSED):
        raise ValidationFailed(fields={"status": [f"Only resolved or closed requests reopen, not {request.status}."]})
    now = _now(at)
    _, cal = _context()
    target = DISPATCHED if request.team_id else ACCEPTED
    _move(user, request, target, now, reason=values["reason"])
    reset_for_reopening(request, now, cal, sla.Policies().targets(request.kind, request.priority))
    _refresh(request, now)
    db.session().flush()
    audit.record_change(user, "reopened", request, {"reopen_count": (request.reopen_count - 1, request.reopen_count)},
                        payload={"reason": values["reason"]})
    return request


# --- feedback ----------------------------------------------------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feedback_link(actor: Any, request_id: Any) -> dict:
    """A one-time token for the owner to rate a resolved request without signing in (send it by SMS or
    WeChat). A new link replaces the previous one."""
    user = require_centre(actor)
    request = get(user, request_id)
    if request.status != RESOLVED:
        raise ValidationFailed(fields={"status": ["Only a resolved request can be rated."]})
    token = secrets.token_urlsafe(24)
    request.feedback_token_hash = _digest(token)
    db.session().flush()
    audit.record_change(user, "feedback_link_created", request)
    return {"token": token, "path": f"/api/v1/property-service/feedback/{token}"}


def _by_token(token: str) -> PsRequest:
    request = db.session().scalar(select(PsRequest).where(PsRequest.feedback_token_hash == _digest(token or ""),
                                                          PsRequest.deleted_at.is_(None)))
    if request is None or request.status != RESOLVED:
        raise NotFound("This feedback link is unknown or was already used.")
    return request


def request_for_token(token: str) -> PsRequest:
    """What the owner sees behind a feedback link (no sign-in)."""
    return _by_token(token)


def feedback_by_token(token: str, data: Mapping[str, Any]) -> PsRequest:
    """The owner rates through the one-time link; the link is spent."""
    request = _by_token(token)
    return _record_feedback(None, request, common.validate(s.Feedback, data), utcnow())


#: Who may record the owner's rating for them (a call-back, a form on paper); the owner themselves uses
#: their one-time link.
ON_BEHALF_ROLES = (Role.ADMIN.value, Role.MANAGER.value, CENTRE)


def _require_on_behalf(user: User, request: PsRequest) -> None:
    """The rating is the owner's: only the centre, a manager or an admin may record it for them, and never
    someone of the team that did the work (its assignee, members or manager) — they would grade
    themselves, close the request and count in satisfaction."""
    if user.role not in ON_BEHALF_ROLES:
        raise Forbidden("Only the owner (through their feedback link), or the customer-service centre, a "
                        "manager or an admin on the owner's behalf, may rate a request.")
    team = db.session().get(PsTeam, request.team_id) if request.team_id else None
    if request.assignee_id == user.id or (team is not None and services.is_member(user, team)):
        raise Forbidden("The team that handled the request may not rate it; the owner rates it through their "
                        "link, or the centre records the owner's rating.")


def give_feedback(actor: Any, request_id: Any, data: Mapping[str, Any], *, at: datetime | None = None) -> PsRequest:
    """Record the owner's rating (1–5) and comment on their behalf; a resolved request closes."""
    user = require_actor(actor)
    request = get(user, request_id)
    _require_on_behalf(user, request)
    values = common.validate(s.Feedback, data)
    return _record_feedback(user, request, values, _now(at))


def _record_feedback(actor: User | None, request: PsRequest, values: dict, now: datetime) -> PsRequest:
    if request.status not in (RESOLVED, CLOSED) or (request.status == CLOSED and request.rating is not None):
        raise ValidationFailed(fields={"rating": ["Only a resolved request (or a closed one not yet rated) "
                                                  "can be rated."]})
    writer = actor or _system_actor()
    changes = common.apply_changes(request, {"rating": values["rating"], "feedback_comment": values["comment"],
                                             "feedback_at": now, "feedback_token_hash": None,
                                             "feedback_via": "on_behalf" if actor else "link",
                                             "feedback_by_id": actor.id if actor else None})
    if request.status == RESOLVED:
        request.closed_at = now
        _move(actor, request, CLOSED, now, reason=f"Rated {values['rating']}/5")
    db.session().flush()
    audit.record_change(actor, "feedback", request, changes,
                        payload={"rating": values["rating"], "via": "api" if actor else "link"})
    if writer is not None:
        interactions.create(writer, {
            "customer_id": str(request.requester_id), "kind": "property_service_feedback", "direction": "inbound",
            "status": "done", "occurred_at": now.isoformat(), "score": values["rating"], "score_scale": "csat",
            "subject": f"Rated {values['rating']}/5: {_label(request.kind).lower()}",
            "notes": values["comment"]}, source=SOURCE)
        threshold = sla.settings_values()["low_rating_threshold"]
        if values["rating"] <= threshold:
            _follow_up(writer, request, now)
    return request


def _follow_up(writer: User, request: PsRequest, now: datetime) -> None:
    """A low rating opens a follow-up task (回访) for the centre, due within a working day."""
    _, cal = _context()
    assignee = (centre_users() or [writer])[0]
    task = interactions.create(writer, {
        "customer_id": str(request.requester_id), "kind": "property_service_follow_up", "direction": "outbound",
        "status": "planned", "due_at": cal.add(max(now, utcnow()), cal.seconds_per_day or 8 * 3600).isoformat(),
        "assignee_id": str(assignee.id),
        "subject": f"Follow up a {request.rating}/5 rating: {_label(request.kind).lower()}",
        "notes": request.feedback_comment}, source=SOURCE)
    request.follow_up_id = task.id
    db.session().flush()
    for user in centre_users():
        notify(user, "property_service.low_rating", f"Rated {request.rating}/5: {request.description[:100]}",
               request.feedback_comment, record=request, data={"follow_up_id": task.id},
               dedupe_key=f"ps.low_rating:{request.id}:{request.feedback_at.isoformat()}")


# --- scheduled jobs ----------------------------------------------------------------------------------

def _escalation_recipients(request: PsRequest, level: int) -> list[User]:
    if level == 1 and request.team_id is not None:
        team = db.session().get(PsTeam, request.team_id)
        if team is not None and team.manager_id is not None:
            manager = db.session().get(User, team.manager_id)
            if manager is not None and manager.is_active:
                return [manager]
    return centre_users()


def check_sla(now: datetime) -> int:
    """``trellis tick``: refresh every running request's SLA state, warn the assignee of each deadline
    with less than ``at_risk_share`` of its own target left (not of every pending deadline once the
    request as a whole is at risk), escalate an overdue one to the team's manager and, once it is overdue by the policy's
    ``escalate_after``, to the centre — each once (levels on the record, dedupe keys on notifications)."""
    sess = db.session()
    values, cal = _context()
    policies = sla.Policies()
    sent = 0
    rows = sess.scalars(select(PsRequest).where(PsRequest.status.in_(sla.RUNNING), PsRequest.deleted_at.is_(None))
                        .order_by(PsRequest.created_at, PsRequest.id))
    for request in rows:
        targets = policies.targets(request.kind, request.priority)
        old, state = _refresh(request, now, policies=policies, values=values, cal=cal)
        if old != state:
            audit.record_change(None, "sla_changed", request, {"sla_state": (old, state)})
        if state == sla.AT_RISK:
            for which, due in sla.deadlines_at_risk(request, now, cal, targets, values["at_risk_share"]):
                recipient = (sess.get(User, request.assignee_id) if request.assignee_id else None)
                recipients = [recipient] if recipient else _escalation_recipients(request, 1)
                for user in recipients:
                    if notify(user, "property_service.sla_at_risk",
                              f"Due soon ({which}): {request.description[:100]}",
                              f"The {which} deadline is {due:%Y-%m-%d %H:%M} UTC.", record=request,
                              data={"deadline": which, "due_at": due},
                              dedupe_key=f"ps.at_risk:{request.id}:{which}:{due.isoformat()}"):
                        sent += 1
        late = sla.overdue(request, now, targets)
        if late is None:
            continue
        which, due = late
        levels = [1] if request.escalation_level < 1 else []
        if request.escalation_level < 2 and cal.between(due, now) >= targets.escalate_after:
            levels.append(2)
        for level in levels:
            for user in _escalation_recipients(request, level):
                if notify(user, "property_service.escalated",
                          f"Overdue ({which}): {request.description[:100]}",
                          f"The {which} deadline was {due:%Y-%m-%d %H:%M} UTC. Escalation level {level}.",
                          record=request, data={"level": level, "deadline": which},
                          dedupe_key=f"ps.escalated:{request.id}:{request.reopen_count}:{level}"):
                    sent += 1
            old_level = request.escalation_level
            request.escalation_level = level
            sess.flush()
            audit.record_change(None, "escalated", request, {"escalation_level": (old_level, level)},
                                payload={"level": level, "deadline": which})
    sess.flush()
    return sent


def auto_close(now: datetime) -> int:
    """``trellis tick``: close resolved requests that got no feedback within the configured time."""
    hours = sla.settings_values()["feedback_timeout_hours"]
    sess = db.session()
    closed = 0
    for request in sess.scalars(select(PsRequest).where(
            PsRequest.status == RESOLVED, PsRequest.deleted_at.is_(None),
            PsRequest.resolved_at <= now - timedelta(hours=hours)).order_by(PsRequest.resolved_at, PsRequest.id)):
        request.closed_at = now
        _move(None, request, CLOSED, now, reason=f"No feedback within {hours} hours", trigger=AUTOMATIC)
        closed += 1
    sess.flush()
    return closed
