"""Property service (物业服务): the service request's closed loop, declared through the core workflow engine.

accepted → dispatched → in_progress → resolved → closed, with ``waiting`` (on the owner; the SLA clocks
pause), ``rejected`` (with the explanation owed to the owner) and ``referred`` (to an outside party) as
ends, and reopening from resolved or closed. Every move is made by ``core.services.workflow.transition``
from :mod:`plugins.property_service.requests`, so each one is in the core history, audited and emitted
as ``property_service_request.status_changed``.
"""
from __future__ import annotations

from core.workflow import AUTOMATIC, MANUAL, State, Transition, Workflow

WORKFLOW = "property_service_request.status"

ACCEPTED, DISPATCHED, IN_PROGRESS, WAITING = "accepted", "dispatched", "in_progress", "waiting"
RESOLVED, CLOSED, REJECTED, REFERRED = "resolved", "closed", "rejected", "referred"

#: states in which the team still owes work (the SLA clocks run, unless paused in ``waiting``)
OPEN = (ACCEPTED, DISPATCHED, IN_PROGRESS, WAITING)
#: states that end the loop
FINISHED = (RESOLVED, CLOSED, REJECTED, REFERRED)

STATES = (
    State(ACCEPTED, "Accepted", "已受理"),
    State(DISPATCHED, "Dispatched", "已派工"),
    State(IN_PROGRESS, "In progress", "处理中"),
    State(WAITING, "Waiting on the owner", "等待业主"),
    State(RESOLVED, "Resolved", "已解决"),
    State(CLOSED, "Closed", "已关闭"),
    State(REJECTED, "Rejected", "不予受理"),
    State(REFERRED, "Referred", "已转介"),
)


def _t(source: str, target: str, name: str, triggers=(MANUAL,)) -> Transition:
    return Transition(source, target, name=name, triggers=tuple(triggers))


TRANSITIONS = (
    _t(ACCEPTED, DISPATCHED, "dispatch"),
    _t(ACCEPTED, IN_PROGRESS, "start"),
    _t(DISPATCHED, IN_PROGRESS, "start"),
    _t(ACCEPTED, RESOLVED, "resolve"),  # a consultation answered on the spot
    _t(DISPATCHED, RESOLVED, "resolve"),
    _t(IN_PROGRESS, RESOLVED, "resolve"),
    *(_t(s, WAITING, "wait") for s in (ACCEPTED, DISPATCHED, IN_PROGRESS)),
    *(_t(WAITING, s, "resume") for s in (ACCEPTED, DISPATCHED, IN_PROGRESS)),
    *(_t(s, REJECTED, "reject") for s in OPEN),
    *(_t(s, REFERRED, "refer") for s in OPEN),
    _t(RESOLVED, CLOSED, "close", (MANUAL, AUTOMATIC)),
    *(_t(s, t, "reopen") for s in (RESOLVED, CLOSED) for t in (ACCEPTED, DISPATCHED)),
)


def request_workflow(settings=None) -> Workflow:
    from plugins.property_service.models import PsRequest

    return Workflow(name=WORKFLOW, model=PsRequest, field="status", states=STATES, transitions=TRANSITIONS,
                    initial=ACCEPTED, label_en="Service request status", label_zh_cn="服务申请状态")
