"""Customers: create, read, list, update, soft delete, restore, timeline."""
from __future__ import annotations

import uuid
from typing import Any, Mapping

from marshmallow import fields
from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import joinedload, lazyload, with_expression
from sqlalchemy.orm.attributes import set_committed_value

from core import db
from core.errors import NotFound
from core import levels, lifecycle, runtime
from core.db import utcnow
from core.errors import Forbidden, ValidationFailed
from core.models import (
    Customer, CustomerAnalytics, CustomerTag, Interaction, LifecycleStage, Role, WorkflowTransitionEntry,
)
from core.models.customers import tags_column
from core.models.name_grams import CustomerNameGram
from core.schemas import (
    ApprovalDecision, CustomerCreate, CustomerFilter, CustomerUpdate, LevelChange, StageChange, StrictSchema,
)
from core.services import audit, common, name_search, workflow
from core.workflow import AUTOMATIC, IMPORT, MANUAL
from core.services.permissions import check_owner_assignment, customer_visibility, require_actor, sees_every_customer

AUDITED = ["kind", "name", "industry", "region", "size", "source", "stage", "notes", "owner_id"]

SORTABLE = {
    "name": Customer.name,
    "created_at": Customer.created_at,
    "updated_at": Customer.updated_at,
    "industry": Customer.industry,
    "region": Customer.region,
    "stage": Customer.stage,
    "level": Customer.level,
}


def visible(actor: Any, *, deleted: bool = False) -> Select:
    """SELECT of the customers ``actor`` may see (live ones, or the deleted ones). A customer merged into
    another (``core.services.duplicates``) is in neither: it is read by id only (``duplicates.read``)."""
    stmt = select(Customer).where(customer_visibility(actor), common.not_deleted(Customer, deleted))
    return stmt.where(Customer.merged_into_id.is_(None)) if deleted else stmt


def get(actor: Any, customer_id: Any, *, deleted: bool = False) -> Customer:
    """One customer the actor may see; NotFound otherwise (also when outside their scope)."""
    cid = common.parse_uuid(customer_id)
    customer = db.session().scalars(visible(actor, deleted=deleted).where(Customer.id == cid)).first()
    if customer is None:
        raise NotFound("No customer with this id.")
    return customer


def live_or_merged(actor: Any, customer_id: uuid.UUID) -> Customer | None:
    """The customer ``actor`` may see with this id, live or merged into another; None otherwise."""
    return db.session().scalars(_live_or_merged(actor, customer_id)).first()


#: a live customer, or one merged into another; and what a read by id shows, joined into its statement
#: (tags, analytics and their segment). Built once: expressions and loader options are immutable, and
#: building them was a tenth of a read.
_LIVE_OR_MERGED = or_(Customer.deleted_at.is_(None), Customer.merged_into_id.is_not(None))
#: The tags come as one aggregated column in a list and a read (``Customer.tag_list``): a joined collection
#: made SQLAlchemy build a fourth object kind per read and repeat the customer's row per tag. A list's
#: options are built once too (with_expression's copies per request were a tenth of a page of 100).
_TAG_LOADS = (with_expression(Customer.tag_list, tags_column()), lazyload(Customer.tag_rows))
_READ_LOADS = (*_TAG_LOADS, joinedload(Customer.analytics).joinedload(CustomerAnalytics.segment))


def _live_or_merged(actor: Any, customer_id: uuid.UUID) -> Select:
    return select(Customer).where(customer_visibility(actor), Customer.id == customer_id, _LIVE_OR_MERGED)


#: :func:`read`'s statement for an actor who sees every customer (an admin), the id a parameter: the same
#: for every such read, so built once (building it and its cache key was 4 % of a read's CPU)
_READ_ANY = (select(Customer).where(Customer.id == bindparam("customer_id"), _LIVE_OR_MERGED)
             .options(*_READ_LOADS))


def read_many(actor: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Customer]:
    """:func:`read` for many ids in one statement (``Customer.mergedInto`` of a list): ``{id: customer}``,
    those not found left out."""
    if not ids:
        return {}
    rows = db.session().scalars(select(Customer).where(
        customer_visibility(actor), Customer.id.in_(ids), _LIVE_OR_MERGED)).all()
    return {c.id: c for c in rows}


def read(actor: Any, customer_id: Any, *, deleted: bool = False) -> Customer:
    """One customer by id as ``GET /customers/{id}`` and GraphQL ``customer`` read it: a live one, or one
    merged into another (a duplicate, ``core.services.duplicates``), whose ``merged_into_id`` says where
    its records went; with ``deleted``, one in the bin. NotFound otherwise (deleted, outside the scope).
    Changes go through :func:`get`, which finds live customers only."""
    if deleted:
        return get(actor, customer_id, deleted=True)
    # what an answer shows comes in the same statement (tags, analytics and their segment): a read by id is
    # the token's statement and this one
    cid = common.parse_uuid(customer_id)
    if sees_every_customer(actor):
        found = db.session().scalars(_READ_ANY, {"customer_id": cid}).all()
    else:
        found = db.session().scalars(_live_or_merged(actor, cid).options(*_READ_LOADS)).all()
    if not found:
        raise NotFound("No customer with this id.")
    return found[0]


def get_many(actor: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Customer]:
    if not ids:
        return {}
    rows = db.session().scalars(visible(actor).where(Customer.id.in_(ids))).all()
    return {c.id: c for c in rows}


def filtered(actor: Any, filters: Mapping[str, Any] | None = None) -> Select:
    """SELECT of the customers the actor's list shows with ``filters`` (``CustomerFilter``; the export
    reads it too)."""
    return _filtered(actor, filters)[0]


def _filtered(actor: Any, filters: Mapping[str, Any] | None) -> tuple[Select, Select | None]:
    """:func:`filtered`, and a cheaper statement to count its rows when there is one: an admin's live
    search by one or two characters and nothing else has as many rows as its live gram rows."""
    f = common.validate(CustomerFilter, dict(filters or {}))
    deleted = f.pop("deleted", False)
    stmt = visible(actor, deleted=deleted)
    counted = None
    if q := f.pop("q", None):
        live = CustomerNameGram.live == (not deleted)   # what visible()'s deleted_at condition implies
        stmt = name_search.name_contains(stmt, Customer, CustomerNameGram, CustomerNameGram.customer_id, q, live=live)
        if not f and not deleted and name_search.by_grams(q) and sees_every_customer(actor):
            counted = name_search.gram_rows(CustomerNameGram, CustomerNameGram.customer_id, q, live)
    if tag := f.pop("tag", None):
        stmt = stmt.where(Customer.id.in_(select(CustomerTag.customer_id).where(CustomerTag.tag == tag)))
    from core.services import analytics  # segment, value_tier, rfm_segment, churn_risk

    stmt = stmt.where(*analytics.filter_conditions(f))
    for key, value in f.items():
        stmt = stmt.where(getattr(Customer, key) == value)
    return stmt, counted


def list_customers(actor: Any, filters: Mapping[str, Any] | None = None, *,
                   page: common.PageRequest = common.PageRequest(), sort: str | None = None) -> common.Page[Customer]:
    """A page of the customers ``actor`` may see: their tags come in the page's statement, aggregated into
    one column of each customer's row (``Customer.tag_list``), and so does an offset page's total (a REST
    list is the token's statement and this one)."""
    stmt, counted = _filtered(actor, filters)
    sortable, tiebreak = name_search.ordering(stmt, SORTABLE, Customer.id, CustomerNameGram, CustomerNameGram.customer_id)
    return common.paginate(stmt, page, common.parse_sort(sort, sortable, "name"), tiebreak,
                           load=_TAG_LOADS, total_inline=True, counted=counted)


def _set_tags(customer: Customer, tags: list[str]) -> None:
    wanted = clean_tags(tags)
    customer.tag_rows = [row for row in customer.tag_rows if row.tag in wanted]
    have = {row.tag for row in customer.tag_rows}
    customer.tag_rows.extend(CustomerTag(tag=t) for t in wanted if t not in have)


def prepare_new(user: Any, values: dict) -> tuple[dict, list[str], str, Any]:
    """The rules of a new customer on its validated values (``CustomerCreate``): the owner (default: the
    creator; one the creator may assign) and the starting stage (:func:`create` explains the trigger).
    Returns ``(values without tags, tags, trigger, approved_by)``; raises ValidationFailed or Forbidden.
    Used by :func:`create` and the import (``core.services.import_types``)."""
    tags = values.pop("tags", [])
    values.setdefault("owner_id", user.id)
    check_owner_assignment(user, values["owner_id"])
    trigger = IMPORT if user.role == Role.ADMIN.value else MANUAL
    approved_by = workflow.check_start(user, lifecycle.WORKFLOW, values.get("stage", LifecycleStage.POTENTIAL.value),
                                       trigger=trigger)
    return values, tags, trigger, approved_by


def clean_tags(tags: list[str]) -> list[str]:
    """Tags as a customer keeps them: stripped, blanks and repeats dropped (first occurrence kept)."""
    return list(dict.fromkeys(t.strip() for t in tags if t.strip()))


def create(actor: Any, data: Mapping[str, Any]) -> Customer:
    """Create a customer. A ``stage`` other than ``potential`` is the move to it, checked by the lifecycle
    (:func:`core.services.workflow.check_start`): a person may start a customer where they could move
    it by hand (``lost`` only a manager or admin, who approve it themselves); an admin's create counts
    as an import (loading customers from an old system) and may start anywhere. A refused stage is a 422
    on ``stage``."""
    user = require_actor(actor)
    values, tags, trigger, approved_by = prepare_new(user, common.validate(CustomerCreate, data))
    rules = levels.parse_rules(runtime.current().settings.level_rules)
    customer = Customer(**values, level=levels.default_level(rules))  # the rules' default, not "none"
    _set_tags(customer, tags)
    db.session().add(customer)
    db.session().flush()
    set_committed_value(customer, "analytics", None)  # none yet: answering the create reads nothing to say so
    # a customer created in a later stage: the history says so, with the trigger and the approver. The
    # history rows, the audit entry and the event are written by one flush (the next statement's, or the
    # commit's), and are there when the event's subscribers run.
    workflow.record_start(user, lifecycle.WORKFLOW, customer, trigger=trigger, approved_by=approved_by,
                          reason="created in this stage")
    workflow.record_start(user, levels.WORKFLOW, customer, trigger=AUTOMATIC, reason="the default level")
    audit.record_change(user, "created", customer, audit.created_fields(customer, AUDITED) | (
        {"tags": ([], customer.tags)} if customer.tags else {}))
    return customer


def update(actor: Any, customer_id: Any, data: Mapping[str, Any]) -> Customer:
    customer = get(actor, customer_id)
    values = common.validate_update(CustomerUpdate, data)
    common.check_version(customer, values.pop("version"))
    if "owner_id" in values and values["owner_id"] != customer.owner_id:
        check_owner_assignment(actor, values["owner_id"])
    changes = {}
    if "tags" in values:
        before = customer.tags
        _set_tags(customer, values.pop("tags"))
        if customer.tags != before:
            changes["tags"] = (before, customer.tags)
            customer.updated_at = db.utcnow()  # a tag change is a change of the customer: bump its version
    changes |= common.apply_changes(customer, values)
    db.session().flush()
    if changes:
        audit.record_change(actor, "updated", customer, changes)
    return customer


def delete(actor: Any, customer_id: Any) -> None:
    customer = get(actor, customer_id)
    common.soft_delete(customer)
    audit.record_change(actor, "deleted", customer)


def restore(actor: Any, customer_id: Any) -> Customer:
    customer = get(actor, customer_id, deleted=True)
    common.restore(customer)
    audit.record_change(actor, "restored", customer)
    return customer


def timeline(actor: Any, customer_id: Any, *, page: common.PageRequest = common.PageRequest()) -> common.Page[Interaction]:
    """Every live interaction of a customer, newest first (planned ones by their due time)."""
    customer = get(actor, customer_id)
    when = func.coalesce(Interaction.occurred_at, Interaction.due_at)
    stmt = select(Interaction).where(Interaction.customer_id == customer.id, Interaction.deleted_at.is_(None))
    return common.paginate(stmt, page, [when.desc()], Interaction.id)


# --- lifecycle ---------------------------------------------------------------------------------------

def change_stage(actor: Any, customer_id: Any, data: Mapping[str, Any]) -> Customer:
    """Move a customer to another lifecycle stage by hand. Losing a customer needs a manager: a rep
    gets Forbidden and asks with :func:`request_stage_change`."""
    customer = get(actor, customer_id)
    values = common.validate(StageChange, data)
    workflow.transition(actor, lifecycle.WORKFLOW, customer, values["to"], reason=values["reason"], argument="to")
    return customer


def request_stage_change(actor: Any, customer_id: Any, data: Mapping[str, Any]):
    """Ask the team's manager to approve a move (giving a customer up)."""
    customer = get(actor, customer_id)
    values = common.validate(StageChange, data)
    return workflow.request_approval(actor, lifecycle.WORKFLOW, customer, values["to"], reason=values["reason"])


def decide_approval(actor: Any, request_id: Any, data: Mapping[str, Any]):
    values = common.validate(ApprovalDecision, data)
    return workflow.decide(require_actor(actor), request_id, approve=values["approve"], note=values["note"],
                           load_record=get)


#: the workflows a customer's history is listed for (``workflow`` of :func:`history`)
HISTORY_WORKFLOWS = (lifecycle.WORKFLOW, levels.WORKFLOW, "customer.owner")


def _history_workflow(workflow_name: str) -> str:
    if workflow_name not in HISTORY_WORKFLOWS:
        raise ValidationFailed(fields={"workflow": [f"One of: {', '.join(HISTORY_WORKFLOWS)}."]})
    return workflow_name


def history(actor: Any, customer_id: Any, *, workflow_name: str = lifecycle.WORKFLOW):
    """The customer's stage (or level) history, oldest first."""
    customer = get(actor, customer_id)
    return workflow.history(_history_workflow(workflow_name), customer)


class HistoryFilter(StrictSchema):
    """A customer's history as a list's filters (``trellis export customer_history``; REST has the customer
    in the path)."""

    customer_id = fields.UUID(required=True, metadata={"description": "The customer whose history is listed."})
    workflow = fields.String(load_default=lifecycle.WORKFLOW, metadata={
        "description": "customer.lifecycle (the stages; the default), customer.level or customer.owner."})


def filtered_history(actor: Any, filters: Mapping[str, Any] | None = None) -> Select:
    """The SELECT of the moves :func:`history` lists, the customer a filter (``HistoryFilter``:
    ``customer_id`` required, ``workflow``; a bad one is a ValidationFailed naming it, and so is a customer
    the actor may not see or that is deleted, as the list answers 404 for it), unordered. What ``trellis
    export customer_history`` reads."""
    f = common.validate(HistoryFilter, dict(filters or {}))
    try:
        customer = get(actor, f["customer_id"])
    except NotFound:
        # a filter, where the list has it in its path: unseen is a bad value, not a missing page
        raise ValidationFailed(fields={"customer_id": ["No customer with this id."]}) from None
    name = _history_workflow(f["workflow"])
    return select(WorkflowTransitionEntry).where(WorkflowTransitionEntry.workflow == name,
                                                 WorkflowTransitionEntry.record_id == customer.id)


# --- levels ------------------------------------------------------------------------------------------

def set_level(actor: Any, customer_id: Any, data: Mapping[str, Any]) -> Customer:
    """Override a customer's level by hand (managers and admins), with a reason. The level stays pinned
    until :func:`release_level`; automatic re-grading leaves it alone."""
    user = require_actor(actor)
    if user.role not in (Role.MANAGER.value, Role.ADMIN.value):
        raise Forbidden("Only a manager or an admin may set a level by hand.")
    customer = get(actor, customer_id)
    values = common.validate(LevelChange, data)
    wf = runtime.current().workflows.get(levels.WORKFLOW)
    if values["level"] not in wf.state_names or values["level"] == levels.UNGRADED:
        raise ValidationFailed(fields={"level": [f"One of: {', '.join(wf.state_names[1:])}."]})
    if values["level"] != customer.level:
        workflow.transition(actor, levels.WORKFLOW, customer, values["level"], reason=values["reason"])
    _set_pinned(user, customer, True, values["reason"])
    return customer


def _set_pinned(actor: Any, customer: Customer, pinned: bool, reason: str = "") -> None:
    """Pin or release a customer's level; a change of the flag is audited like any other field."""
    if customer.level_pinned != pinned:
        customer.level_pinned = pinned
        db.session().flush()
        audit.record_change(actor, "updated", customer, {"level_pinned": (not pinned, pinned)},
                            payload={"reason": reason} if reason else None)


def release_level(actor: Any, customer_id: Any) -> Customer:
    """Let automatic grading decide the level again (and re-grade now)."""
    user = require_actor(actor)
    if user.role not in (Role.MANAGER.value, Role.ADMIN.value):
        raise Forbidden("Only a manager or an admin may release a level.")
    customer = get(actor, customer_id)
    _set_pinned(user, customer, False)
    regrade([customer], actor=user)
    return customer


def regrade(batch: list[Customer], *, actor: Any = None, now=None, event: str | None = None) -> int:
    """Apply the level rules to customers (pinned ones are skipped); returns how many changed."""
    now = now or utcnow()
    rules = levels.parse_rules(runtime.current().settings.level_rules)
    candidates = [c for c in batch if not c.level_pinned and c.deleted_at is None]
    values = levels.measures([c.id for c in candidates], now)
    changed = 0
    for customer in candidates:
        target = levels.grade(rules, values[customer.id])
        if target != customer.level:
            workflow.transition(actor, levels.WORKFLOW, customer, target, trigger=AUTOMATIC, event=event,
                                reason=", ".join(f"{k}={v:g}" for k, v in values[customer.id].items()))
            changed += 1
    return changed


def regrade_all(now) -> int:
    """``trellis tick``: re-grade every live, unpinned customer (the 12-month window slides)."""
    changed = 0
    ids = list(db.session().scalars(select(Customer.id).where(Customer.deleted_at.is_(None),
                                                               Customer.level_pinned.is_(False))))
    for start in range(0, len(ids), 500):
        batch = list(db.session().scalars(select(Customer).where(Customer.id.in_(ids[start:start + 500]))))
        changed += regrade(batch, now=now, event="tick")
    return changed
