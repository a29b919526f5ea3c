"""Moving records through their workflows: the one place a state changes.

``transition`` checks the declared transitions, needs a manager's approval where the workflow says so,
writes the history row (with the time spent in the previous state), the audit entry and the
``<record>.<field>_changed`` event. ``request_approval`` / ``decide`` handle moves a rep may ask for but
not make; ``check_stagnation`` raises one alert per overlong stay.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from marshmallow import fields
from sqlalchemy import and_, func, select

from core import db, runtime
from core.db import utcnow
from core.errors import Forbidden, NotFound, ValidationFailed
from core.models import ApprovalRequest, Role, StagnationAlert, Team, User, WorkflowTransitionEntry
from core.schemas import StrictSchema
from core.services import audit, common
from core.workflow import ANY, MANUAL, TRIGGERS, Workflow


def _workflow(name: str) -> Workflow:
    return runtime.current().workflows.get(name)


def entered_at(workflow: Workflow, record: Any) -> datetime:
    """When ``record`` entered its current state: its last transition, or its creation."""
    last = db.session().scalar(
        select(func.max(WorkflowTransitionEntry.at)).where(
            WorkflowTransitionEntry.workflow == workflow.name, WorkflowTransitionEntry.record_id == record.id))
    if last is not None and last.tzinfo is None:
        from datetime import timezone

        last = last.replace(tzinfo=timezone.utc)
    return last or record.created_at


def is_approver(user: User) -> bool:
    return user.role in (Role.ADMIN.value, Role.MANAGER.value)


def check_move(actor: Any, workflow: Workflow, source: str, to: str, *, trigger: str, reason: str,
               approved_by: Any = None, argument: str | None = None) -> Any:
    """Check a move is declared for ``trigger`` and its reason fits; returns who approved it (the actor
    itself for a manual move needing approval that a manager or admin makes). Raises ValidationFailed
    (an unknown or refused target under ``argument``, the name of the input it came in; default: the
    workflow's field), or Forbidden when the move needs an approval the actor cannot give."""
    if trigger not in TRIGGERS:
        raise ValidationFailed(fields={"trigger": [f"One of: {', '.join(TRIGGERS)}."]})
    if reason and len(reason) > 2000:
        raise ValidationFailed(fields={"reason": ["At most 2000 characters."]})
    rule = workflow.find(source, to, trigger, argument=argument)
    if rule.needs_approval and trigger == MANUAL and approved_by is None:
        if actor is not None and is_approver(actor):
            return actor
        raise Forbidden(f"Moving to '{to}' needs a manager's approval: ask for it with an approval request.")
    return approved_by


def history_values(workflow: Workflow, record_id: Any, source: str, to: str, *, at: datetime, actor: Any,
                   approved_by: Any, trigger: str, event: str | None, reason: str,
                   entered: datetime) -> dict[str, Any]:
    """The columns of a move's history row (``entered``: when the record entered ``source``)."""
    return dict(workflow=workflow.name, record_type=workflow.record_type, record_id=record_id, from_state=source,
                to_state=to, at=at, actor_id=getattr(actor, "id", None),
                approved_by_id=getattr(approved_by, "id", None), trigger=trigger, trigger_event=event,
                reason=reason, seconds_in_previous=max((at - entered).total_seconds(), 0.0))


def move_payload(workflow: Workflow, source: str, to: str, *, trigger: str, event: str | None, reason: str,
                 approved_by: Any) -> dict[str, Any]:
    """What the ``<record>.<field>_changed`` event of a move carries besides the change itself."""
    return {"workflow": workflow.name, "from": source, "to": to, "trigger": trigger, "trigger_event": event,
            "reason": reason, "approved_by": getattr(approved_by, "id", None)}


def transition(actor: Any, workflow_name: str, record: Any, to: str, *, reason: str = "",
               trigger: str = MANUAL, event: str | None = None, approved_by: User | None = None,
               at: datetime | None = None, argument: str | None = None) -> WorkflowTransitionEntry:
    """Move ``record`` (already loaded through a permission-checked service) to state ``to``. A refused
    or unknown ``to`` is a ValidationFailed naming ``argument`` — the input field the client sent the
    state in (``"to"``) — or, when not given, the workflow's field (``stage``)."""
    workflow = _workflow(workflow_name)
    source = getattr(record, workflow.field)
    approved_by = check_move(actor, workflow, source, to, trigger=trigger, reason=reason, approved_by=approved_by,
                             argument=argument)
    now = at or utcnow()
    entry = WorkflowTransitionEntry(**history_values(
        workflow, record.id, source, to, at=now, actor=actor, approved_by=approved_by, trigger=trigger,
        event=event, reason=reason, entered=entered_at(workflow, record)))
    db.session().add(entry)
    setattr(record, workflow.field, to)
    db.session().flush()
    audit.record_change(actor, f"{workflow.field}_changed", record, {workflow.field: (source, to)},
                        payload=move_payload(workflow, source, to, trigger=trigger, event=event, reason=reason,
                                             approved_by=approved_by))
    return entry


def check_start(actor: Any, workflow_name: str, state: str, *, trigger: str = MANUAL) -> Any:
    """Check that a new record may start in ``state``. Starting anywhere but the workflow's initial
    state is the move ``initial → state``, held to the rules of any move: declared for ``trigger``, and
    a gated (approval) move only by someone who may approve it — so a gated state is reachable only
    through its gate, never by creating the record in it. Returns who approved (as :func:`check_move`);
    a refused state is a ValidationFailed naming the workflow's field. Call it before writing anything,
    then :func:`record_start` once the record has its id."""
    workflow = _workflow(workflow_name)
    initial = workflow.initial
    workflow.state(state)
    if state == initial:
        return None
    try:
        return check_move(actor, workflow, initial, state, trigger=trigger, reason="")
    except (ValidationFailed, Forbidden):
        possible = [initial]
        for target in workflow.targets(initial, trigger):
            try:
                check_move(actor, workflow, initial, target, trigger=trigger, reason="")
            except (ValidationFailed, Forbidden):
                continue
            possible.append(target)
        gated = any(t.needs_approval and t.target == state and t.source in (initial, ANY)
                    for t in workflow.transitions)
        why = (f"Moving to '{state}' needs a manager's approval: start at '{initial}' and ask for the move."
               if gated and trigger == MANUAL else f"A new record cannot start at '{state}'.")
        raise ValidationFailed(why, fields={workflow.field: [f"{why} Possible: {', '.join(possible)}."]}) from None


def record_start(actor: Any, workflow_name: str, record: Any, *, trigger: str = MANUAL, approved_by: Any = None,
                 reason: str = "created in this state") -> WorkflowTransitionEntry | None:
    """The history row of a record created in a state other than the initial one (checked by
    :func:`check_start`): a move from no state, with its trigger and approver. The row is added to the
    session, written by its next flush (with the record's audit entry and event: one flush, not three)."""
    workflow = _workflow(workflow_name)
    state = getattr(record, workflow.field)
    if state == workflow.initial:
        return None
    at = record.created_at or utcnow()
    entry = WorkflowTransitionEntry(**history_values(
        workflow, record.id, None, state, at=at, actor=actor, approved_by=approved_by, trigger=trigger,
        event=None, reason=reason, entered=at))
    db.session().add(entry)
    return entry


def history_query(workflow_name: str, record: Any):
    """The SELECT of ``record``'s moves in one workflow, unordered (the caller checked it may see it): what
    :func:`history` lists and a record's history export reads."""
    return select(WorkflowTransitionEntry).where(WorkflowTransitionEntry.workflow == workflow_name,
                                                 WorkflowTransitionEntry.record_id == record.id)


def history(workflow_name: str, record: Any) -> list[WorkflowTransitionEntry]:
    """Every move of ``record`` in one workflow, oldest first (the caller checked it may see it)."""
    return list(db.session().scalars(history_query(workflow_name, record)
                                     .order_by(WorkflowTransitionEntry.at, WorkflowTransitionEntry.id)))


def history_for(workflow_name: str, record_ids: list) -> dict:
    """Histories of many records in one query (for list views and DataLoaders)."""
    out = {rid: [] for rid in record_ids}
    if record_ids:
        rows = db.session().scalars(
            select(WorkflowTransitionEntry)
            .where(WorkflowTransitionEntry.workflow == workflow_name, WorkflowTransitionEntry.record_id.in_(record_ids))
            .order_by(WorkflowTransitionEntry.record_id, WorkflowTransitionEntry.at, WorkflowTransitionEntry.id))
        for row in rows:
            out[row.record_id].append(row)
    return out


#: the orderings of a record's history (``sort`` of :func:`history_pages_for`)
HISTORY_SORTABLE = {"at": WorkflowTransitionEntry.at}


def history_pages_for(workflow_name: str, record_ids: list, page: Any, sort: str | None = None) -> dict:
    """A keyset page (``page``: a :class:`core.services.paging.KeysetRequest`) of each record's moves in the
    workflow, oldest first (``sort="-at"``: newest first), for many records in one statement (a window): a
    nested ``history``. The caller read the records through their own permission-checked service."""
    from core.services import common, paging

    stmt = select(WorkflowTransitionEntry).where(WorkflowTransitionEntry.workflow == workflow_name)
    return paging.seek_windows(db.session(), stmt, WorkflowTransitionEntry.record_id, record_ids, page,
                               common.parse_sort(sort, HISTORY_SORTABLE, "at"), WorkflowTransitionEntry.id)


def history_counts_for(workflow_name: str, record_ids: list) -> dict:
    """How many moves each record has in the workflow, in one grouped COUNT."""
    from core.services import paging

    stmt = select(WorkflowTransitionEntry).where(WorkflowTransitionEntry.workflow == workflow_name)
    return paging.count_windows(db.session(), stmt, WorkflowTransitionEntry.record_id, record_ids)


# --- approvals ---------------------------------------------------------------------------------------

APPROVAL_STATUSES = ("pending", "approved", "rejected")

def approvers_of(user: User) -> list[User]:
    """Who may approve ``user``'s requests: their team's manager, else every admin."""
    sess = db.session()
    if user.team_id is not None:
        team = sess.get(Team, user.team_id)
        if team is not None and team.manager_id is not None and team.manager_id != user.id:
            manager = sess.get(User, team.manager_id)
            if manager is not None and manager.is_active:
                return [manager]
    return list(sess.scalars(select(User).where(User.role == Role.ADMIN.value, User.is_active.is_(True),
                                                User.deleted_at.is_(None))))


def request_approval(actor: User, workflow_name: str, record: Any, to: str, *, reason: str = "") -> ApprovalRequest:
    """Ask for a move that needs approval (sent as ``to``: errors name it); the approvers are notified."""
    from core.services.notifications import notify

    workflow = _workflow(workflow_name)
    rule = workflow.find(getattr(record, workflow.field), to, MANUAL, argument="to")
    if not rule.needs_approval:
        raise ValidationFailed(fields={"to": ["This move needs no approval: make it directly."]})
    if not reason.strip():
        raise ValidationFailed(fields={"reason": ["Say why, for the approver."]})
    request = ApprovalRequest(workflow=workflow.name, record_type=workflow.record_type, record_id=record.id,
                              to_state=to, reason=reason, requested_by_id=actor.id)
    db.session().add(request)
    db.session().flush()
    audit.record_change(actor, "created", request, {"to_state": (None, to)})
    for approver in approvers_of(actor):
        notify(approver, "workflow.approval_requested", f"Approval requested: {getattr(record, 'name', '')} → {to}",
               reason, record=request, data={"workflow": workflow.name, "record_id": record.id})
    return request


def decide(actor: User, request_id: Any, *, approve: bool, note: str = "", load_record=None) -> ApprovalRequest:
    """Approve (and carry out) or reject a pending request. ``load_record(actor, record_id)`` loads the
    record through its own permission-checked service."""
    sess = db.session()
    request = sess.get(ApprovalRequest, common.parse_uuid(request_id))
    if request is None or request.deleted_at is not None:
        raise NotFound("No approval request with this id.")
    requester = sess.get(User, request.requested_by_id)
    if actor.role != Role.ADMIN.value and actor not in approvers_of(requester):
        raise NotFound("No approval request with this id.")
    if request.status != "pending":
        raise ValidationFailed(fields={"status": [f"Already {request.status}."]})
    request.status = "approved" if approve else "rejected"
    request.decided_by_id, request.decided_at, request.decision_note = actor.id, utcnow(), note
    if approve:
        record = load_record(actor, request.record_id)
        transition(requester, request.workflow, record, request.to_state, reason=request.reason,
                   approved_by=actor)
    sess.flush()
    audit.record_change(actor, request.status, request, {"status": ("pending", request.status)})
    from core.services.notifications import notify

    notify(requester, f"workflow.approval_{request.status}", f"Your request was {request.status}", note,
           record=request)
    return request


# --- stagnation --------------------------------------------------------------------------------------

def check_stagnation(now: datetime, *, owner_of=None) -> int:
    """Alert the owner (and the owner's manager) of every record that has overstayed a state with an
    expected duration — once per stay. ``owner_of(record) -> User | None`` finds whom to tell (the
    record's ``owner`` attribute by default). Returns the number of new alerts."""
    from core.services.notifications import notify

    sess = db.session()
    created = 0
    for workflow in runtime.current().workflows.all():
        model = workflow.model
        for state in workflow.states:
            expected = workflow.expected(state.name)
            if expected is None:
                continue
            last_move = (select(WorkflowTransitionEntry.record_id, func.max(WorkflowTransitionEntry.at).label("at"))
                         .where(WorkflowTransitionEntry.workflow == workflow.name)
                         .group_by(WorkflowTransitionEntry.record_id).subquery())
            entered = func.coalesce(last_move.c.at, model.created_at)
            stmt = (select(model, entered.label("entered"))
                    .outerjoin(last_move, last_move.c.record_id == model.id)
                    .where(getattr(model, workflow.field) == state.name, entered <= now - expected))
            if hasattr(model, "deleted_at"):
                stmt = stmt.where(model.deleted_at.is_(None))
            for record, since in sess.execute(stmt):
                if since.tzinfo is None:
                    from datetime import timezone

                    since = since.replace(tzinfo=timezone.utc)
                already = sess.scalar(select(StagnationAlert.id).where(and_(
                    StagnationAlert.workflow == workflow.name, StagnationAlert.record_id == record.id,
                    StagnationAlert.state == state.name, StagnationAlert.entered_at == since)))
                if already is not None:
                    continue
                sess.add(StagnationAlert(workflow=workflow.name, record_type=workflow.record_type,
                                         record_id=record.id, state=state.name, entered_at=since, alerted_at=now))
                created += 1
                owner = owner_of(record) if owner_of else getattr(record, "owner", None)
                recipients = [owner] if owner is not None else []
                if owner is not None:
                    recipients += [m for m in approvers_of(owner) if m.role == Role.MANAGER.value]
                days = (now - since).days
                label = getattr(record, "name", str(record.id))
                for user in recipients:
                    notify(user, "workflow.stagnation",
                           f"{label} has been '{state.en}' for {days} days",
                           f"Expected at most {expected.days} days. Push it on, or give it up.",
                           record=record, data={"workflow": workflow.name, "state": state.name, "days": days},
                           dedupe_key=f"stagnation:{workflow.name}:{record.id}:{state.name}:{since.isoformat()}")
    sess.flush()
    return created


#: the orderings of :func:`approvals_for` (``sort``)
APPROVAL_SORTABLE = {"created_at": ApprovalRequest.created_at, "status": ApprovalRequest.status,
                     "decided_at": ApprovalRequest.decided_at}


class ApprovalFilter(StrictSchema):
    """The filters of the approval requests' list (``GET /approvals``, ``trellis export approvals``)."""

    status = fields.String(load_default="pending", metadata={
        "description": "pending (the default), approved or rejected; empty: every status."})


def _approvals(actor: Any, status: str | None):
    if status and status not in APPROVAL_STATUSES:
        raise ValidationFailed(fields={"status": [f"One of: {', '.join(APPROVAL_STATUSES)}."]})
    stmt = visible_approvals(actor)
    if status:
        stmt = stmt.where(ApprovalRequest.status == status)
    return stmt


def filtered_approvals(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the approval requests :func:`approvals_for` lists with ``filters`` (``ApprovalFilter``,
    checked: a bad one is a ValidationFailed naming it; no ``status``: the pending ones), unordered."""
    f = common.validate(ApprovalFilter, dict(filters or {}))
    return _approvals(actor, f["status"] or None)


def approvals_for(actor: User, *, status: str | None = "pending",
                  page: common.PageRequest = common.PageRequest(),
                  sort: str | None = None) -> common.Page[ApprovalRequest]:
    """Approval requests the actor may decide (admins: all; managers: their team's) or made, newest
    first (``sort``: keys of ``APPROVAL_SORTABLE``, "-" for descending)."""
    return common.paginate(_approvals(actor, status), page, common.parse_sort(sort, APPROVAL_SORTABLE, "-created_at"),
                           ApprovalRequest.id)


def visible_approvals(actor: Any):
    """SELECT of the live approval requests the actor may decide (admins: all; managers: their team's)
    or made."""
    from core.services.permissions import require_actor, team_member_ids

    user = require_actor(actor)
    stmt = select(ApprovalRequest).where(ApprovalRequest.deleted_at.is_(None))
    if user.role == Role.MANAGER.value and user.team_id is not None:
        stmt = stmt.where((ApprovalRequest.requested_by_id.in_(team_member_ids(user.team_id)))
                          | (ApprovalRequest.requested_by_id == user.id))
    elif user.role != Role.ADMIN.value:
        stmt = stmt.where(ApprovalRequest.requested_by_id == user.id)
    return stmt


def declared(actor: Any) -> list[dict]:
    """Every declared workflow as plain data (states with labels and expected days, transitions), for
    front-ends that draw pipelines or offer the allowed moves."""
    from core.services.permissions import require_actor

    require_actor(actor)
    out = []
    for w in runtime.current().workflows.all():
        def days(state: str) -> float | None:
            expected = w.expected(state)
            return expected.total_seconds() / 86400 if expected else None

        out.append({
            "name": w.name, "record_type": w.record_type, "field": w.field, "initial": w.initial,
            "label_en": w.label_en, "label_zh_cn": w.label_zh_cn,
            "states": [{"name": s.name, "en": s.en, "zh_cn": s.zh_cn, "expected_days": days(s.name)}
                       for s in w.states],
            "transitions": [{"source": t.source, "target": t.target, "needs_approval": t.needs_approval,
                             "triggers": list(t.triggers)} for t in w.transitions],
        })
    return out
