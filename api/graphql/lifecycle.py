"""GraphQL for the machinery around customers: stage and level moves with their history, approvals,
tasks and escalation, handover and allocation, notifications and the declared workflows. Every resolver
translates to the same service the REST endpoints call (api/rest/lifecycle.py)."""

import datetime as dt
from typing import Annotated, Optional

import strawberry
from strawberry import UNSET

from api.graphql.inputs import field_names, input_to_dict, json_field, stored
from api.graphql.label import fold_labels
from api.graphql.loaders import users_by_id
from api.graphql.money import Money
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, nested_connection, page_request
from core import levels, lifecycle, models
from core.services import customers, interactions, notifications, ownership, workflow
from core.services.ownership import OWNER_HISTORY


def _history_loader(registry, name: str):
    # the core's input, whoever asks first (a plugin's history field may be composed before the core's)
    owner, registry.owner = registry.owner, "core"
    try:
        Order = order_by_argument(registry, "WorkflowTransition", workflow.HISTORY_SORTABLE, "at")
    finally:
        registry.owner = owner

    def field(root: strawberry.Parent[object], info: strawberry.Info, first: First = None, after: After = None,
              last: Last = None, before: Before = None, order_by: Order = None) -> list:
        sort = order_to_service(order_by)
        return nested_connection(
            info.context.loaders, f"core.history:{name}",
            lambda ids, request: workflow.history_pages_for(name, ids, request, sort), root.id,
            page_request(first, after, last, before, default=10), count_name=f"core.history_counts:{name}",
            count_batch=lambda ids: workflow.history_counts_for(name, ids), sort=sort)
    return field


def history_field(registry, workflow_name: str, description: str | None = None):
    """A ``WorkflowTransitionConnection`` field with the moves of the record in the workflow
    ``workflow_name``, oldest first (10 by default), read for a whole list of records in one statement
    (nested paging, docs/graphql.md). A plugin adds it to its own type from ``trellis_graphql_type_fields``:
    ``{"Booking": {"history": history_field(registry, "booking")}}``. The record itself was read through its
    service, so the caller may see it."""
    return strawberry.field(resolver=_history_loader(registry, workflow_name),
                            # the core's type, whoever asks first: its connection belongs to the core
                            graphql_type=registry._connection("WorkflowTransition", "core"),
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
        workflow: str = strawberry.field(description="The workflow's name: lifecycle, customer.level, the owner history or a plugin's workflow.")
        from_state: Optional[str] = strawberry.field(description="The state before the move (a stored value of the workflow's states); null for the first state.")
        to_state: str = strawberry.field(description="The state after the move (a stored value of the workflow's states).")
        at: dt.datetime = strawberry.field(description="When the move happened (UTC, ISO 8601).")
        actor_id: Optional[strawberry.ID] = strawberry.field(description="The id of the user who made the move; `actor` reads it; null for an automatic move.")
        approved_by_id: Optional[strawberry.ID] = strawberry.field(description="The id of the manager who approved it; `approvedBy` reads it; null when it needed no approval.")
        trigger: Trigger = strawberry.field(description="Who fired the move: a person, an automatic rule or an import.")
        trigger_event: Optional[str] = strawberry.field(description="The event that fired an automatic move.")
        reason: str = strawberry.field(description="Why, as the actor wrote it; empty when no reason was given.")
        seconds_in_previous: Optional[float] = strawberry.field(description="Time spent in the previous state.")

        @strawberry.field(description="The user who made the move; null for an automatic move or one you may not see.")
        def actor(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            user = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(user, ids), self.actor_id)

        @strawberry.field(description="The manager who approved the move; null when it needed no approval.")
        def approved_by(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            user = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(user, ids), self.approved_by_id)

    @registry.type("ApprovalRequest", node=NodeSource(models.ApprovalRequest, visible=workflow.visible_approvals))
    class ApprovalRequest:
        """A move that needs a manager's approval."""

        id: strawberry.ID
        workflow: str = strawberry.field(description="The name of the workflow the move belongs to (lifecycle …).")
        record_type: str
        record_id: strawberry.ID
        to_state: str = strawberry.field(description="The state asked for (a stored value of the workflow's states).")
        reason: str = strawberry.field(description="Why the requester asks for the move.")
        requested_by_id: strawberry.ID = strawberry.field(description="The id of the user who asked.")
        status: ApprovalStatus = strawberry.field(description="Pending until a manager approves or rejects it.")
        decided_by_id: Optional[strawberry.ID] = strawberry.field(description="The id of the manager who decided; null while pending.")
        decided_at: Optional[dt.datetime] = strawberry.field(description="When it was decided (UTC, ISO 8601); null while pending.")
        decision_note: str = strawberry.field(description="The deciding manager's note; empty when none.")
        created_at: dt.datetime
        version: int

    @registry.type("Notification", node=NodeSource(models.Notification, visible=notifications.visible))
    class Notification:
        """A message to one user in the app (a task reminder, an overdue task, a chased task, a customer staying too long in a stage …)."""

        id: strawberry.ID
        kind: registry.vocabulary_enum("notification_kind") = strawberry.field(
            description="What it is about: TASK_REMINDER, TASK_OVERDUE, TASK_ESCALATED, WORKFLOW_STAGNATION …")
        title: str = strawberry.field(description="A one-line summary.")
        body: str = strawberry.field(description="The message; may be empty.")
        record_type: Optional[str]
        record_id: Optional[strawberry.ID]
        data = json_field("data", description="Details for a program, by kind (ids, states, dates; keys camelCase); an empty object when none.")
        created_at: dt.datetime
        read_at: Optional[dt.datetime] = strawberry.field(description="When the user marked it read (UTC, ISO 8601); null while unread.")

    @registry.type("WorkflowState")
    class WorkflowState:
        """One state of a declared workflow, with its labels."""

        name: str = strawberry.field(description="The stored value of the state.")
        label: registry.ref("Label") = strawberry.field(description="The state's name, in English and Chinese.")
        expected_days: Optional[float] = strawberry.field(description="How long a record is expected to stay in this state, in days; longer raises a stagnation alert to its owner and their manager. Null: no limit.")

    @registry.type("WorkflowRule")
    class WorkflowRule:
        """A move a workflow allows: from which state to which, whether a manager must approve it, and what may fire it."""

        source: str = strawberry.field(description="A state, or * for any.")
        target: str = strawberry.field(description="The state the move leads to.")
        needs_approval: bool = strawberry.field(description="A person's move needs a manager's approval (requestStageChange); automatic moves do not.")
        triggers: list[str] = strawberry.field(description="What may fire the move: manual, automatic rules, import (workflow triggers).")

    @registry.type("Workflow")
    class Workflow:
        """A state machine the core or a plugin declares over a field of a record type (the lifecycle, the customer level …): its states and allowed moves. Every move is kept as a WorkflowTransition."""

        name: str = strawberry.field(description="The workflow's name (lifecycle, customer.level, a plugin's).")
        record_type: str = strawberry.field(description="The record type whose field it drives (customer, a plugin's record).")
        field: str = strawberry.field(description="The record's field holding the state (stage, level …).")
        initial: str = strawberry.field(description="The state a new record starts in.")
        label: registry.ref("Label") = strawberry.field(description="The workflow's name, in English and Chinese.")
        states: list[registry.ref("WorkflowState")] = strawberry.field(description="Its states, in order.")
        transitions: list[registry.ref("WorkflowRule")] = strawberry.field(description="The moves it allows.")

    @registry.type("Allocation")
    class Allocation:
        """One customer of an allocation plan and the rep it goes to."""

        rule: Optional[int] = strawberry.field(description="Index of the matching rule; null for the default pool.")

        @strawberry.field(description="The customer to assign.")
        def customer(self) -> registry.ref("Customer"):
            return self.customer

        @strawberry.field(description="The rep it goes to.")
        def rep(self) -> registry.ref("User"):
            return self.rep

    @registry.input("NotificationFilter")
    class NotificationFilter:
        """Which of your notifications to list."""

        unread: Optional[bool] = strawberry.field(default=UNSET, description="Only those not yet read (true).")

    @registry.input("ApprovalRequestFilter")
    class ApprovalRequestFilter:
        """Which approval requests to list."""

        status: Optional[ApprovalStatus] = strawberry.field(default=UNSET, description=(
            "Left out: PENDING only; null: every status."))

    @registry.input("TaskCompletionInput")
    class TaskCompletionInput:
        """How a planned interaction went, recorded as it is marked done."""

        outcome: Optional[str] = strawberry.field(default=UNSET, description="What came of it (up to 20000 characters).")
        occurred_at: Optional[dt.datetime] = strawberry.field(default=UNSET, description="When it happened (UTC, ISO 8601); default now.")
        amount: Optional[Money] = strawberry.field(default=UNSET, description="The money involved, as a decimal string with two places (negative for a refund).")

    @registry.input("HandoverInput")
    class HandoverInput:
        """Which customers go to which rep (业务移交); each move is kept in the customers' owner history."""

        to_user_id: strawberry.ID = strawberry.field(description="The id of the rep who takes the customers over.")
        reason: str = strawberry.field(description="Why (1–2000 characters): kept in each customer's owner history.")
        customer_ids: Optional[list[strawberry.ID]] = strawberry.field(default=UNSET, description="The ids of the customers to hand over (1–10000); or use fromUserId.")
        from_user_id: Optional[strawberry.ID] = strawberry.field(
            default=UNSET, description="Hand over every customer of this user.")

    @registry.input("AllocationRuleInput")
    class AllocationRuleInput:
        """Customers matching every criterion given go, in turn, to these reps."""

        rep_ids: list[strawberry.ID] = strawberry.field(description="The ids of the reps who share the matching customers (1–1000).")
        industry: Optional[str] = strawberry.field(default=UNSET, description="Only customers of this industry.")
        region: Optional[str] = strawberry.field(default=UNSET, description="Only customers of this region.")
        size: Optional[Size] = strawberry.field(default=UNSET, description="Only customers of this size.")

    @registry.input("AllocateCustomersInput")
    class AllocateCustomersInput:
        """How to assign unowned customers to reps: rules tried in order, then a default pool; a dry run (the default) only shows the plan."""

        rules: Optional[list[registry.ref("AllocationRuleInput")]] = strawberry.field(default=UNSET, description="Rules tried in order; the first that matches a customer picks its reps (up to 200).")
        rep_ids: Optional[list[strawberry.ID]] = strawberry.field(default=UNSET, description="The pool for customers no rule matches (default: every rep you manage).")
        dry_run: Optional[bool] = strawberry.field(default=UNSET, description="Default true: show the plan only.")
        limit: Optional[int] = strawberry.field(default=UNSET, description="At most this many unowned customers (1–10000, default 1000).")


def type_fields(registry) -> dict:
    return {"Customer": {
        "stage_history": history_field(registry, lifecycle.WORKFLOW, "Every lifecycle stage change, oldest first."),
        "level_history": history_field(registry, levels.WORKFLOW, "Every level change, oldest first."),
        "owner_history": history_field(registry, OWNER_HISTORY, "Every handover, oldest first (states are user ids)."),
    }}


def query_fields(registry) -> dict:
    notification_order = order_by_argument(registry, "Notification", list(notifications.SORTABLE), "-created_at")
    approval_order = order_by_argument(registry, "ApprovalRequest", list(workflow.APPROVAL_SORTABLE), "-created_at")

    def notification_list(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                          filter: Optional[registry.ref("NotificationFilter")] = None,
                          order_by: notification_order = None) -> registry.connection("Notification"):
        unread = bool(input_to_dict(filter).get("unread"))
        return connection(info, notifications.list_for(info.context.user, unread=unread,
                                                       page=page_request(first, after, last, before),
                                                       sort=order_to_service(order_by)))

    def approval_list(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                      filter: Optional[registry.ref("ApprovalRequestFilter")] = None,
                      order_by: approval_order = None) -> registry.connection("ApprovalRequest"):
        status = input_to_dict(filter).get("status", "pending")
        with field_names({"status": "filter.status"}):
            page = workflow.approvals_for(info.context.user, status=status, page=page_request(first, after, last, before),
                                          sort=order_to_service(order_by))
        return connection(info, page)

    def workflow_list(info: strawberry.Info) -> list[registry.ref("Workflow")]:
        module = registry.module
        return [module.Workflow(**{**fold_labels(w), "states": [
                    module.WorkflowState(**fold_labels({"label_en": st["en"], "label_zh_cn": st["zh_cn"], **{
                        k: v for k, v in st.items() if k not in ("en", "zh_cn")}})) for st in w["states"]],
                                   "transitions": [module.WorkflowRule(**t) for t in w["transitions"]]})
                for w in workflow.declared(info.context.user)]

    return {
        "notifications": strawberry.field(resolver=notification_list, description="Your notifications, newest first."),
        "approvals": strawberry.field(resolver=approval_list, description="Approval requests you may decide or made, newest first."),
        "workflows": strawberry.field(resolver=workflow_list, description="The declared workflows."),
    }


def mutation_fields(registry) -> dict:
    Customer, Interaction = registry.ref("Customer"), registry.ref("Interaction")
    Stage, Level = registry.vocabulary_enum("lifecycle_stage"), registry.vocabulary_enum("customer.level.state")

    def change_stage(info: strawberry.Info, customer_id: strawberry.ID, to: Annotated[Stage, strawberry.argument(description="The stage to move to.")], reason: str = "") -> Customer:
        return customers.change_stage(info.context.user, customer_id, {"to": stored(to), "reason": reason})

    def request_stage_change(info: strawberry.Info, customer_id: strawberry.ID, to: Annotated[Stage, strawberry.argument(description="The stage asked for.")],
                             reason: str) -> registry.ref("ApprovalRequest"):
        return customers.request_stage_change(info.context.user, customer_id, {"to": stored(to), "reason": reason})

    def decide_approval(info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The id (a UUID) of the approval request.")], approve: Annotated[bool, strawberry.argument(description="True approves and carries out the move; false rejects it.")],
                        note: str = "") -> registry.ref("ApprovalRequest"):
        return customers.decide_approval(info.context.user, id, {"approve": approve, "note": note})

    def set_customer_level(info: strawberry.Info, customer_id: strawberry.ID, level: Annotated[Level, strawberry.argument(description="The level to set.")], reason: str) -> Customer:
        return customers.set_level(info.context.user, customer_id, {"level": stored(level), "reason": reason})

    def release_customer_level(info: strawberry.Info, customer_id: strawberry.ID) -> Customer:
        return customers.release_level(info.context.user, customer_id)

    def complete_task(info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The id (a UUID) of the planned interaction.")],
                      input: Optional[registry.ref("TaskCompletionInput")] = None) -> Interaction:
        return interactions.complete(info.context.user, id, input_to_dict(input))

    def cancel_task(info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The id (a UUID) of the planned interaction.")], outcome: Annotated[str, strawberry.argument(description="Why it is cancelled, kept as the outcome.")]) -> Interaction:
        return interactions.cancel(info.context.user, id, {"outcome": outcome})

    def escalate_task(info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The id (a UUID) of the planned interaction.")], note: str = "") -> Interaction:
        return interactions.escalate(info.context.user, id, {"note": note})

    def handover_customers(info: strawberry.Info, input: registry.ref("HandoverInput")) -> list[Customer]:
        return ownership.handover(info.context.user, input_to_dict(input))

    def allocate_customers(info: strawberry.Info,
                           input: registry.ref("AllocateCustomersInput")) -> list[registry.ref("Allocation")]:
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
        "markNotificationRead": m(resolver=mark_notification_read, description="Mark one of your notifications read."),
        "markAllNotificationsRead": m(resolver=mark_all_notifications_read, description="Returns how many."),
    }
