"""REST for the machinery around customers: stage moves and approvals, levels, history,
notifications and the declared workflows."""
from __future__ import annotations

from flask_login import current_user
from marshmallow import EXCLUDE, Schema, fields, pre_dump

from api.rest.crud import LINK_HEADER, Blueprint, NoArgs, StrictCursorArgs, body_doc, json_body, list_query, served, sort_field
from core.schemas import (
    Allocation, ApprovalDecision, ApprovalOut, NotificationOut, CustomerOut, Escalation, Handover, InteractionOut, LevelChange, MAX_PAGE_SIZE,
    StageChange, TaskCancellation, TaskCompletion, TransitionOut, UserOut, preload_analytics,
)
from core.services import customers, interactions, notifications, ownership, workflow


class AssignmentOut(Schema):
    customer = fields.Nested(CustomerOut)
    rep = fields.Nested(UserOut)
    rule = fields.Integer(allow_none=True)

    @pre_dump(pass_collection=True)
    def _preload_analytics(self, data, many, **kwargs):
        if not many:
            return data
        data = list(data)
        preload_analytics([assignment.customer for assignment in data])
        return data


class HistoryArgs(Schema):
    workflow = fields.String(load_default="customer.lifecycle", metadata={
        "description": "customer.lifecycle (the stages; the default), customer.level or customer.owner."})


class ApprovalArgs(workflow.ApprovalFilter, StrictCursorArgs):
    class Meta:
        unknown = EXCLUDE

    sort = sort_field(sorted(workflow.APPROVAL_SORTABLE))


class NotificationArgs(notifications.NotificationFilter, StrictCursorArgs):
    class Meta:
        unknown = EXCLUDE

    sort = sort_field(sorted(notifications.SORTABLE))



class MarkedOut(Schema):
    marked = fields.Integer(metadata={"description": "How many notifications were marked read."})


class WorkflowStateOut(Schema):
    name = fields.String()
    en = fields.String()
    zh_cn = fields.String()
    expected_days = fields.Float(allow_none=True)


class WorkflowTransitionOut(Schema):
    from_ = fields.String(attribute="source", data_key="from")
    to = fields.String(attribute="target")
    needs_approval = fields.Boolean()
    triggers = fields.List(fields.String())


class WorkflowOut(Schema):
    name = fields.String()
    record_type = fields.String()
    field = fields.String()
    initial = fields.String()
    label_en = fields.String()
    label_zh_cn = fields.String()
    states = fields.List(fields.Nested(WorkflowStateOut))
    transitions = fields.List(fields.Nested(WorkflowTransitionOut))

def lifecycle_blueprints() -> list[Blueprint]:
    blp = Blueprint("lifecycle", "lifecycle", url_prefix="", description="Stages, levels, approvals, history.")

    @blp.route("/customers/<uuid:customer_id>/stage", methods=["POST"])
    @blp.doc(**body_doc(StageChange))
    @blp.response(200, CustomerOut)
    def change_stage(customer_id):
        """Move the customer to another lifecycle stage (giving up needs a manager)"""
        return customers.change_stage(current_user, customer_id, json_body())

    @blp.route("/customers/<uuid:customer_id>/stage-requests", methods=["POST"])
    @blp.doc(**body_doc(StageChange))
    @blp.response(201, ApprovalOut)
    def request_stage(customer_id):
        """Ask the team's manager to approve a move"""
        return customers.request_stage_change(current_user, customer_id, json_body())

    @blp.route("/customers/<uuid:customer_id>/history")
    @blp.arguments(HistoryArgs, location="query")
    @blp.response(200, TransitionOut(many=True))
    def history(args, customer_id):
        """Every stage (or, with workflow=customer.level, level) change, oldest first"""
        return customers.history(current_user, customer_id, workflow_name=args["workflow"])

    @blp.route("/customers/<uuid:customer_id>/level", methods=["POST"])
    @blp.doc(**body_doc(LevelChange))
    @blp.response(200, CustomerOut)
    def set_level(customer_id):
        """Set the level by hand, with a reason (pins it; managers and admins)"""
        return customers.set_level(current_user, customer_id, json_body())

    @blp.route("/customers/<uuid:customer_id>/level", methods=["DELETE"])
    @blp.response(200, CustomerOut)
    def release_level(customer_id):
        """Release a pinned level: the rules grade the customer again"""
        return customers.release_level(current_user, customer_id)

    @blp.route("/approvals")
    @blp.arguments(ApprovalArgs, location="query")
    @blp.response(200, ApprovalOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def approvals(args, pagination_parameters):
        """Approval requests you may decide (or made), newest first"""
        args, paging = list_query(pagination_parameters, args)
        return served(pagination_parameters, workflow.approvals_for(
            current_user, status=args["status"] or None, page=paging, sort=args.get("sort")))

    @blp.route("/approvals/<uuid:request_id>/decision", methods=["POST"])
    @blp.doc(**body_doc(ApprovalDecision))
    @blp.response(200, ApprovalOut)
    def decide(request_id):
        """Approve (and carry out) or reject a request"""
        return customers.decide_approval(current_user, request_id, json_body())

    @blp.route("/notifications")
    @blp.arguments(NotificationArgs, location="query")
    @blp.response(200, NotificationOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def notification_list(args, pagination_parameters):
        """Your notifications, newest first"""
        args, paging = list_query(pagination_parameters, args)
        return served(pagination_parameters, notifications.list_for(current_user, unread=args["unread"], page=paging,
                                                                    sort=args.get("sort")))

    @blp.route("/notifications/<uuid:notification_id>/read", methods=["POST"])
    @blp.response(200, NotificationOut)
    def read(notification_id):
        """Mark one notification read"""
        return notifications.mark_read(current_user, notification_id)

    @blp.route("/notifications/read-all", methods=["POST"])
    @blp.response(200, MarkedOut)
    def read_all():
        """Mark all your notifications read"""
        return {"marked": notifications.mark_all_read(current_user)}

    @blp.route("/interactions/<uuid:interaction_id>/complete", methods=["POST"])
    @blp.doc(**body_doc(TaskCompletion))
    @blp.response(200, InteractionOut)
    def complete(interaction_id):
        """Mark a task done, with its outcome"""
        return interactions.complete(current_user, interaction_id, json_body())

    @blp.route("/interactions/<uuid:interaction_id>/cancel", methods=["POST"])
    @blp.doc(**body_doc(TaskCancellation))
    @blp.response(200, InteractionOut)
    def cancel(interaction_id):
        """Cancel a task, saying why"""
        return interactions.cancel(current_user, interaction_id, json_body())

    @blp.route("/interactions/<uuid:interaction_id>/escalate", methods=["POST"])
    @blp.doc(**body_doc(Escalation))
    @blp.response(200, InteractionOut)
    def escalate(interaction_id):
        """Chase a task (催办; managers): the assignee is notified"""
        return interactions.escalate(current_user, interaction_id, json_body())

    @blp.route("/customers/handover", methods=["POST"])
    @blp.doc(**body_doc(Handover))
    @blp.response(200, CustomerOut(many=True))
    def handover():
        """Hand customers (and their planned tasks) to another rep (业务移交)"""
        return ownership.handover(current_user, json_body())

    @blp.route("/customers/allocate", methods=["POST"])
    @blp.doc(**body_doc(Allocation))
    @blp.response(200, AssignmentOut(many=True))
    def allocate():
        """Assign unowned customers to reps by rules, balancing load (dry_run shows the plan)"""
        return ownership.allocate(current_user, json_body())

    @blp.route("/workflows")
    @blp.arguments(NoArgs, location="query", as_kwargs=True)
    @blp.response(200, WorkflowOut(many=True))
    def workflows():
        """The declared workflows: states (labels, expected days) and transitions"""
        return workflow.declared(current_user)

    return [blp]
