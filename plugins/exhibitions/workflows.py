"""Exhibitions (会展): State machines of the plugin's records, declared through the core workflow engine."""
from __future__ import annotations

from datetime import timedelta

from core.workflow import ANY, State, Transition, Workflow

PARTICIPATION = "exhibitions_participation.status"
MEETING = "exhibitions_meeting.status"

#: The stages an exhibitor counts as exhibiting (booked) at an edition.
BOOKED = ("confirmed", "paid", "arrived", "attended")


def participation_workflow(settings) -> Workflow:
    from plugins.exhibitions.models import ExhibitorParticipation

    return Workflow(
        name=PARTICIPATION, model=ExhibitorParticipation, field="status", initial="invited",
        label_en="Exhibitor participation", label_zh_cn="展商参展状态",
        states=(
            State("invited", "Invited", "已邀请", expected=timedelta(days=30)),
            State("applied", "Applied", "已申请", expected=timedelta(days=14)),
            State("confirmed", "Confirmed", "已确认", expected=timedelta(days=30)),
            State("paid", "Paid", "已付款"),
            State("arrived", "Arrived", "已报到"),
            State("attended", "Attended", "已参展"),
            State("cancelled", "Cancelled", "已取消"),
        ),
        transitions=(
            Transition("invited", "applied"),
            Transition("applied", "confirmed"),
            Transition("confirmed", "paid"),
            Transition("paid", "arrived"),
            Transition("arrived", "attended"),
            Transition(ANY, "cancelled"),
            Transition("cancelled", "applied", name="reinstate"),
        ),
    )


def meeting_workflow(settings) -> Workflow:
    from plugins.exhibitions.models import ExhibitionMeeting

    return Workflow(
        name=MEETING, model=ExhibitionMeeting, field="status", initial="requested",
        label_en="Show meeting", label_zh_cn="展会洽谈",
        states=(
            State("requested", "Requested", "已申请"),
            State("accepted", "Accepted", "已接受"),
            State("declined", "Declined", "已拒绝"),
            State("held", "Held", "已举行"),
            State("no_show", "No-show", "未到场"),
        ),
        transitions=(
            Transition("requested", "accepted"),
            Transition("requested", "declined"),
            Transition("accepted", "held"),
            Transition("accepted", "no_show"),
        ),
    )


def workflows(settings) -> list[Workflow]:
    return [participation_workflow(settings), meeting_workflow(settings)]
