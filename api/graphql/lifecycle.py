"""GraphQL for the machinery around customers: stage and level moves with their history, approvals,
tasks and escalation, handover and allocation, notifications and the declared workflows. Every resolver
translates to the same service the REST endpoints call (api/rest/lifecycle.py)."""

import datetime as dt
from typing import Optional

import strawberry
from strawberry import UNSET

from api.graphql.inputs import input_to_dict, json_field, stored
from api.graphql.label import fold_labels
from api.graphql.loaders import users_by_id
from api.graphql.money import Money
from api.graphql.nodes import NodeSource
from api.graphql.pagination import After, Before, First, Last, connection, page_request
from core import levels, lifecycle, models
from core.services import customers, interactions, notifications, ownership, workflow
from core.services.ownership import OWNER_HISTORY


def _history_loader(name: str):
    def field(root: strawberry.Parent[object], info: strawberry.Info) -> list:
        return info.context.loaders.load(f"core.history:{name}", lambda ids: workflow.history_for(name, ids),
                                         root.id, default=[])
    return field


def history_field(registry, workflow_name: str, description: str | None = None):
    """A ``[WorkflowTransition!]!`` field with every move of the record in the workflow ``workflow_name``,
    oldest first, loaded in one statement for a whole list of records. A plugin adds it to its own type
    from ``trellis_graphql_type_fields``: ``{"Booking": {"history": history_field(registry, "booking")}}``.
    The record itself was read through its service, so the caller may see it."""
    return strawberry.field(resolver=_history_loader(workflow_name),
                            graphql_type=list[registry.ref("WorkflowTransition")],
                            description=description or "Every move of this record in its workflow, oldest first.")


def types(registry) -> None:
    Trigger = registry.vocabulary_enum("workflow_trigger")
    ApprovalStatus = registry.vocabulary_enum("approval_status")
    Size = registry.vocabulary_enum("customer_size")

    # a move's visibility would follow its record's, of any type: admins only (the default scope rule)
    @registry.type("WorkflowTransition", node=models.WorkflowTransitionEntry)
    class WorkflowTransition:
        """One move of a record: from, to, when, who, who approved, what fired it and why."""

        id: strawberry.ID
        workflow: str
        from_state: Optional[str]
        to_state: str
        at: dt.datetime
        actor_id: Optional[strawberry.ID]
        approved_by_id: Optional[strawberry.ID]
        trigger: Trigger = strawberry.field(description="Who fired the move: a person, an automatic rule or an import.")
        trigger_event: Optional[str] = strawberry.field(description="The event that fired an automatic move.")
        reason: str
        seconds_in_previous: Optional[float] = strawberry.field(description="Time spent in the previous state.")

        @strawberry.field
        def actor(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            user = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(user, ids), self.actor_id)

        @strawberry.field
        def approved_by(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            user = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(user, ids), self.approved_by_id)

    @registry.type("ApprovalRequest", node=NodeSource(models.ApprovalRequest, visible=workflow.visible_approvals))
    class ApprovalRequest:
        """A move that needs a manager's approval."""

        id: strawberry.ID
        workflow: str
        record_type: str
        record_id: strawberry.ID
        to_state: str
        reason: str
        requested_by_id: strawberry.ID
        status: ApprovalStatus = strawberry.field(description="Pending until a manager approves or rejects it.")
        decided_by_id: Optional[strawberry.ID]
        decided_at: Optional[dt.datetime]
        decision_note: str
        created_at: dt.datetime
        version: int

    @registry.type("Notification", node=NodeSource(models.Notification, visible=notifications.visible))
    class Notification:
        id: strawberry.ID
        kind: str = strawberry.field(description="task.reminder, task.overdue, task.escalated, workflow.stagnation …")
        title: str
        body: str
        record_type: Optional[str]
        record_id: Optional[strawberry.ID]
        data = json_field("data", description="More about the notification, by kind (keys camelCase).")
        created_at: dt.datetime
        read_at: Optional[dt.datetime]

    @registry.type("WorkflowState")
    class WorkflowState:
        name: str
        label: registry.ref("Label")
        expected_days: Optional[float]

    @registry.type("WorkflowRule")
    class WorkflowRule:
        source: str = strawberry.field(description="A state, or * for any.")
        target: str
        needs_approval: bool
        triggers: list[str]

    @registry.type("Workflow")
    class Workflow:
        name: str
        record_type: str
        field: str
        initial: str
        label: registry.ref("Label")
        states: list[registry.ref("WorkflowState")]
        transitions: list[registry.ref("WorkflowRule")]

    @registry.type("Allocation")
    class Allocation:
        """One customer of an allocation plan and the rep it goes to."""

        rule: Optional[int] = strawberry.field(description="Index of the matching rule; null for the default pool.")

        @strawberry.field
        def customer(self) -> registry.ref("Customer"):
            return self.customer

        @strawberry.field
        def rep(self) -> registry.ref("User"):
            return self.rep

    @registry.input("TaskCompletionInput")
    class TaskCompletionInput:
        outcome: Optional[str] = UNSET
        occurred_at: Optional[dt.datetime] = UNSET
        amount: Optional[Money] = UNSET

    @registry.input("HandoverInput")
    class HandoverInput:
        to_user_id: strawberry.ID
        reason: str
        customer_ids: Optional[list[strawberry.ID]] = UNSET
        from_user_id: Optional[strawberry.ID] = strawberry.field(
            default=UNSET, description="Hand over every customer of this user.")

    @registry.input("AllocationRuleInput")
    class AllocationRuleInput:
        rep_ids: list[strawberry.ID]
        industry: Optional[str] = UNSET
        region: Optional[str] = UNSET
        size: Optional[Size] = UNSET

    @registry.input("AllocationInput")
    class AllocationInput:
        rules: Optional[list[registry.ref("AllocationRuleInput")]] = UNSET
        rep_ids: Optional[list[strawberry.ID]] = UNSET
        dry_run: Optional[bool] = strawberry.field(default=UNSET, description="Default true: show the plan only.")
        limit: Optional[int] = UNSET


def type_fields(registry) -> dict:
    ref = registry.ref("WorkflowTransition")
    return {"Customer": {
        "stage_history": strawberry.field(resolver=_history_loader(lifecycle.WORKFLOW), graphql_type=list[ref],
                                          description="Every lifecycle stage change, oldest first."),
        "level_history": strawberry.field(resolver=_history_loader(levels.WORKFLOW), graphql_type=list[ref],
                                          description="Every level change, oldest first."),
        "owner_history": strawberry.field(resolver=_history_loader(OWNER_HISTORY), graphql_type=list[ref],
                                          description="Every handover, oldest first (states are user ids)."),
    }}


def query_fields(registry) -> dict:
    ApprovalStatus = registry.vocabulary_enum("approval_status")

    def notification_list(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                          unread: bool = False) -> registry.connection("Notification"):
        return connection(info, notifications.list_for(info.context.user, unread=unread,
                                                       page=page_request(first, after, last, before)))

    def approval_list(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                      status: Optional[ApprovalStatus] = ApprovalStatus("pending"),
                      ) -> registry.connection("ApprovalRequest"):
        return connection(info, workflow.approvals_for(info.context.user, status=stored(status),
                                                       page=page_request(first, after, last, before)))

    def workflow_list(info: strawberry.Info) -> list[registry.ref("Workflow")]:
        module = registry.module
        return [module.Workflow(**{**fold_labels(w), "states": [
                    module.WorkflowState(**fold_labels({"label_en": st["en"], "label_zh_cn": st["zh_cn"], **{
                        k: v for k, v in st.items() if k not in ("en", "zh_cn")}})) for st in w["states"]],
                                   "transitions": [module.WorkflowRule(**t) for t in w["transitions"]]})
                for w in workflow.declared(info.context.user)]

    return {
        "notifications": strawberry.field(resolver=notification_list, description="Your notifications, newest first."),
        "approvals": strawberry.field(resolver=approval_list, description="Approval requests you may decide or made."),
        "workflows": strawberry.field(resolver=workflow_list, description="The declared workflows."),
    }


def mutation_fields(registry) -> dict:
    Customer, Interaction = registry.ref("Customer"), registry.ref("Interaction")
    Stage, Level = registry.vocabulary_enum("lifecycle_stage"), registry.vocabulary_enum("customer.level.state")

    def change_stage(info: strawberry.Info, customer_id: strawberry.ID, to: Stage, reason: str = "") -> Customer:
        return customers.change_stage(info.context.user, customer_id, {"to": stored(to), "reason": reason})

    def request_stage_change(info: strawberry.Info, customer_id: strawberry.ID, to: Stage,
                             reason: str) -> registry.ref("ApprovalRequest"):
        return customers.request_stage_change(info.context.user, customer_id, {"to": stored(to), "reason": reason})

    def decide_approval(info: strawberry.Info, id: strawberry.ID, approve: bool,
                        note: str = "") -> registry.ref("ApprovalRequest"):
        return customers.decide_approval(info.context.user, id, {"approve": approve, "note": note})

    def set_customer_level(info: strawberry.Info, customer_id: strawberry.ID, level: Level, reason: str) -> Customer:
        return customers.set_level(info.context.user, customer_id, {"level": stored(level), "reason": reason})

    def release_customer_level(info: strawberry.Info, customer_id: strawberry.ID) -> Customer:
        return customers.release_level(info.context.user, customer_id)

    def complete_task(info: strawberry.Info, id: strawberry.ID,
                      input: Optional[registry.ref("TaskCompletionInput")] = None) -> Interaction:
        return interactions.complete(info.context.user, id, input_to_dict(input))

    def cancel_task(info: strawberry.Info, id: strawberry.ID, outcome: str) -> Interaction:
        return interactions.cancel(info.context.user, id, {"outcome": outcome})

    def escalate_task(info: strawberry.Info, id: strawberry.ID, note: str = "") -> Interaction:
        return interactions.escalate(info.context.user, id, {"note": note})

    def handover_customers(info: strawberry.Info, input: registry.ref("HandoverInput")) -> list[Customer]:
        return ownership.handover(info.context.user, input_to_dict(input))

    def allocate_customers(info: strawberry.Info,
                           input: registry.ref("AllocationInput")) -> list[registry.ref("Allocation")]:
        return ownership.allocate(info.context.user, input_to_dict(input))

    def mark_notification_read(info: strawberry.Info, id: strawberry.ID) -> registry.ref("Notification"):
        return notifications.mark_read(info.context.user, id)

    def mark_all_notifications_read(info: strawberry.Info) -> int:
        return notifications.mark_all_read(info.context.user)

    m = strawberry.mutation
    return {
        "changeStage": m(resolver=change_stage, description="Move a customer to another lifecycle stage."),
        "requestStageChange": m(resolver=request_stage_change, description="Ask the team's manager to approve a move."),
        "decideApproval": m(resolver=decide_approval, description="Approve (and carry out) or reject a request."),
        "setCustomerLevel": m(resolver=set_customer_level, description="Set a level by hand (pins it)."),
        "releaseCustomerLevel": m(resolver=release_customer_level, description="Let the rules grade again."),
        "completeTask": m(resolver=complete_task, description="Mark a planned interaction done."),
        "cancelTask": m(resolver=cancel_task, description="Cancel a planned interaction, saying why."),
        "escalateTask": m(resolver=escalate_task, description="Chase a task (催办): the assignee is notified."),
        "handoverCustomers": m(resolver=handover_customers, description="Hand customers to another rep (业务移交)."),
        "allocateCustomers": m(resolver=allocate_customers, description="Assign unowned customers by rules."),
        "markNotificationRead": m(resolver=mark_notification_read),
        "markAllNotificationsRead": m(resolver=mark_all_notifications_read, description="Returns how many."),
    }
