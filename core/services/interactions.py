"""Interactions (交往记录): the customer timeline (done) and reps' tasks (planned)."""
from __future__ import annotations

import uuid
from typing import Any, Mapping

from sqlalchemy import Select, func, or_, select

from core import db, runtime
from core.db import utcnow
from core.errors import NotFound, ValidationFailed
from core.models import Contact, Customer, Interaction, InteractionStatus
from core.schemas import (
    Escalation, InteractionCreate, InteractionFilter, InteractionUpdate, TaskCancellation, TaskCompletion,
)
from core.services import audit, common, customers, paging
from core.services.permissions import customer_is_live, customer_visibility, sees_every_customer

AUDITED = ["customer_id", "contact_id", "kind", "direction", "status", "subject", "occurred_at", "due_at",
           "amount", "assignee_id", "reminder_at", "outcome", "score", "score_scale"]

SORTABLE = {
    "occurred_at": Interaction.occurred_at,
    "due_at": Interaction.due_at,
    "created_at": Interaction.created_at,
    "kind": Interaction.kind,
}


def visible(actor: Any, *, deleted: bool = False) -> Select:
    """Interactions of customers the actor may see, and open tasks assigned to the actor (a task handed
    to someone outside the owner's team is still theirs to do; once done it belongs to the timeline)."""
    if sees_every_customer(actor):   # no scope: the customer's row is read only to know it is live
        return select(Interaction).where(customer_is_live(Interaction.customer_id),
                                         common.not_deleted(Interaction, deleted))
    return (
        select(Interaction)
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(or_(customer_visibility(actor),
                   (Interaction.assignee_id == actor.id) & (Interaction.status == InteractionStatus.PLANNED.value)),
               Customer.deleted_at.is_(None), common.not_deleted(Interaction, deleted))
    )


def get(actor: Any, interaction_id: Any, *, deleted: bool = False) -> Interaction:
    iid = common.parse_uuid(interaction_id)
    row = db.session().scalars(visible(actor, deleted=deleted).where(Interaction.id == iid)).first()
    if row is None:
        raise NotFound("No interaction with this id.")
    return row


def filtered(actor: Any, filters: Mapping[str, Any] | None = None) -> Select:
    """SELECT of the interactions the actor's list shows with ``filters`` (``InteractionFilter``; the
    export reads it too)."""
    f = common.validate(InteractionFilter, dict(filters or {}))
    stmt = visible(actor, deleted=f.pop("deleted", False))
    if f.pop("mine", False):
        stmt = stmt.where(Interaction.assignee_id == actor.id)
    if f.pop("overdue", False):
        stmt = stmt.where(Interaction.status == InteractionStatus.PLANNED.value, Interaction.due_at < utcnow())
    if (before := f.pop("due_before", None)) is not None:
        stmt = stmt.where(Interaction.due_at < before)
    if (after := f.pop("due_after", None)) is not None:
        stmt = stmt.where(Interaction.due_at >= after)
    for key, value in f.items():
        stmt = stmt.where(getattr(Interaction, key) == value)
    return stmt


def list_interactions(actor: Any, filters: Mapping[str, Any] | None = None, *,
                      page: common.PageRequest = common.PageRequest(), sort: str | None = None) -> common.Page[Interaction]:
    return common.paginate(filtered(actor, filters), page, common.parse_sort(sort, SORTABLE, "-occurred_at"),
                           Interaction.id)


def latest_for_customers(actor: Any, customer_ids: list[uuid.UUID], limit: int) -> dict[uuid.UUID, list[Interaction]]:
    """The newest ``limit`` live interactions of each customer, in one query (a window function)."""
    out: dict[uuid.UUID, list[Interaction]] = {cid: [] for cid in customer_ids}
    if not customer_ids:
        return out
    when = func.coalesce(Interaction.occurred_at, Interaction.due_at)
    ranked = (
        visible(actor).where(Interaction.customer_id.in_(customer_ids))
        .add_columns(func.row_number().over(partition_by=Interaction.customer_id,
                                            order_by=(when.desc(), Interaction.id)).label("rank"))
        .subquery()
    )
    from sqlalchemy.orm import aliased

    alias = aliased(Interaction, ranked)
    stmt = select(alias).where(ranked.c.rank <= limit).order_by(ranked.c.customer_id, ranked.c.rank)
    for row in db.session().scalars(stmt):
        out[row.customer_id].append(row)
    return out


#: a customer's timeline order: newest first, a planned one by its due time (``timeline`` and the nested list)
def timeline_order() -> list:
    return [func.coalesce(Interaction.occurred_at, Interaction.due_at).desc()]


def pages_for_customers(actor: Any, customer_ids: list[uuid.UUID], page: paging.KeysetRequest,
                        sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """One keyset page of each customer's timeline (newest first; ``sort`` — keys of ``SORTABLE``, as the
    root list takes them — orders it otherwise), for many customers in one statement (a window function;
    one more when a cursor is given): the nested ``Customer.interactions``."""
    order = common.parse_sort(sort, SORTABLE, "-occurred_at") if sort else timeline_order()
    return paging.seek_windows(db.session(), visible(actor), Interaction.customer_id, customer_ids, page,
                               order, Interaction.id)


def count_for_customers(actor: Any, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    out = {cid: 0 for cid in customer_ids}
    if customer_ids:
        stmt = (select(Interaction.customer_id, func.count())
                .join(Customer, Customer.id == Interaction.customer_id)
                .where(customer_visibility(actor), Interaction.deleted_at.is_(None),
                       Interaction.customer_id.in_(customer_ids))
                .group_by(Interaction.customer_id))
        out.update({cid: n for cid, n in db.session().execute(stmt)})
    return out


def _check_references(actor: Any, values: dict, customer_id: uuid.UUID) -> None:
    kinds = runtime.current().interaction_kinds
    if "kind" in values and values["kind"] not in kinds:
        raise ValidationFailed(fields={"kind": [f"Unknown interaction kind. Known: {', '.join(kinds)}."]})
    if values.get("contact_id") is not None:
        contact = db.session().get(Contact, values["contact_id"])
        if contact is None or contact.deleted_at is not None or contact.customer_id != customer_id:
            raise ValidationFailed(fields={"contact_id": ["No contact with this id at this customer."]})
    if values.get("assignee_id") is not None:
        from core.models import User

        assignee = db.session().get(User, values["assignee_id"])
        if assignee is None or assignee.deleted_at is not None or not assignee.is_active:
            raise ValidationFailed(fields={"assignee_id": ["No active user has this id."]})


def check_times(values: dict) -> None:
    """The rules on an interaction's times, on its column values (``status``, ``due_at``, ``reminder_at``,
    ``occurred_at``): a planned one needs a due time, a reminder comes before it, a done one without a
    time happened now (``occurred_at`` is set). Used by :func:`create`, :func:`update` and the import."""
    status, due_at, reminder_at = values.get("status"), values.get("due_at"), values.get("reminder_at")
    if status == InteractionStatus.PLANNED.value and due_at is None:
        raise ValidationFailed(fields={"due_at": ["A planned interaction needs a due time."]})
    if reminder_at is not None and due_at is not None and reminder_at > due_at:
        raise ValidationFailed(fields={"reminder_at": ["The reminder must come before the due time."]})
    if status == InteractionStatus.DONE.value and values.get("occurred_at") is None:
        values["occurred_at"] = utcnow()


def _check_times(interaction: Interaction) -> None:
    values = {key: getattr(interaction, key) for key in ("status", "due_at", "reminder_at", "occurred_at")}
    check_times(values)
    if interaction.occurred_at is None and values["occurred_at"] is not None:
        interaction.occurred_at = values["occurred_at"]


def create(actor: Any, data: Mapping[str, Any], *, source: str = "core") -> Interaction:
    """Record a touchpoint. ``source`` names the component writing it (a plugin passes its name)."""
    values = common.validate(InteractionCreate, data)
    try:
        customer = customers.get(actor, values["customer_id"])
    except NotFound:
        raise ValidationFailed(fields={"customer_id": ["No customer with this id."]}) from None
    return _write(actor, values, customer.id, source)


def record_on_behalf(actor: Any, data: Mapping[str, Any], *, source: str) -> Interaction:
    """Record a touchpoint caused by a record the calling plugin has already permission-checked (a badge
    scanned at a booth, a follow-up task for an exhibitor, a scheduled job's entry), without requiring
    that ``actor`` may read the customer: an exhibitor must not read a visitor's customer record, yet the
    scan belongs on the visitor's timeline. ``actor`` may be None (a job). Everything else is as
    :func:`create`: the same validation, the same audit entry and ``interaction.created`` event."""
    if not source or source == "core":
        raise ValueError("record_on_behalf is for plugins: pass source=<plugin name>.")
    values = common.validate(InteractionCreate, data)
    customer = db.session().get(Customer, values["customer_id"])
    if customer is None or customer.deleted_at is not None:
        raise ValidationFailed(fields={"customer_id": ["No customer with this id."]})
    return _write(actor, values, customer.id, source)


def prepare_new(actor: Any, values: dict, customer_id: Any) -> dict:
    """The rules of a new interaction on its validated values (``InteractionCreate``), for a customer
    already found: a registered kind, a contact of that customer, an active assignee, the default status
    (planned when only a due time is given) and assignee (the actor, for a planned one), and the times
    (:func:`check_times`). Returns ``values`` completed; raises ValidationFailed. Used by :func:`create`,
    :func:`record_on_behalf` and the import (``core.services.import_types``)."""
    _check_references(actor, values, customer_id)
    values.setdefault("status", InteractionStatus.PLANNED.value if values.get("due_at") and not values.get("occurred_at")
                      else InteractionStatus.DONE.value)
    actor_id = getattr(actor, "id", None)
    if values["status"] == InteractionStatus.PLANNED.value and actor_id is not None:
        values.setdefault("assignee_id", actor_id)
    check_times(values)
    return values


def _write(actor: Any, values: dict, customer_id: Any, source: str) -> Interaction:
    values = prepare_new(actor, values, customer_id)
    interaction = Interaction(**values, created_by_id=getattr(actor, "id", None), source=source)
    db.session().add(interaction)
    db.session().flush()
    audit.record_change(actor, "created", interaction, audit.created_fields(interaction, AUDITED),
                        payload={"customer_id": interaction.customer_id, "kind": interaction.kind,
                                 "source": source})
    return interaction


def update(actor: Any, interaction_id: Any, data: Mapping[str, Any]) -> Interaction:
    interaction = get(actor, interaction_id)
    values = common.validate_update(InteractionUpdate, data)
    common.check_version(interaction, values.pop("version"))
    _check_references(actor, values, interaction.customer_id)
    changes = common.apply_changes(interaction, values)
    _check_times(interaction)
    db.session().flush()
    if changes:
        audit.record_change(actor, "updated", interaction, changes)
    return interaction


def delete(actor: Any, interaction_id: Any) -> None:
    row = get(actor, interaction_id)
    common.soft_delete(row)
    audit.record_change(actor, "deleted", row)


def restore(actor: Any, interaction_id: Any) -> Interaction:
    row = get(actor, interaction_id, deleted=True)
    common.restore(row)
    audit.record_change(actor, "restored", row)
    return row


# --- tasks -------------------------------------------------------------------------------------------

def _planned(actor: Any, interaction_id: Any) -> Interaction:
    row = get(actor, interaction_id)
    if row.status != InteractionStatus.PLANNED.value:
        raise ValidationFailed(fields={"status": [f"This interaction is {row.status}, not planned."]})
    return row


def complete(actor: Any, interaction_id: Any, data: Mapping[str, Any]) -> Interaction:
    """Mark a task done with its outcome; it joins the timeline (a done purchase moves the lifecycle)."""
    row = _planned(actor, interaction_id)
    values = common.validate(TaskCompletion, data)
    now = utcnow()
    changes = common.apply_changes(row, {
        "status": InteractionStatus.DONE.value, "outcome": values["outcome"],
        "occurred_at": values.get("occurred_at") or now, "completed_at": now,
        **({"amount": values["amount"]} if "amount" in values else {})})
    db.session().flush()
    audit.record_change(actor, "updated", row, changes, payload={"kind": row.kind, "customer_id": row.customer_id})
    return row


def cancel(actor: Any, interaction_id: Any, data: Mapping[str, Any]) -> Interaction:
    row = _planned(actor, interaction_id)
    values = common.validate(TaskCancellation, data)
    changes = common.apply_changes(row, {"status": InteractionStatus.CANCELLED.value, "outcome": values["outcome"],
                                         "completed_at": utcnow()})
    db.session().flush()
    audit.record_change(actor, "updated", row, changes, payload={"kind": row.kind, "customer_id": row.customer_id})
    return row


def escalate(actor: Any, interaction_id: Any, data: Mapping[str, Any]) -> Interaction:
    """A manager chases a task (催办): the assignee is notified every time."""
    from core.models import Role, User
    from core.services.notifications import notify
    from core.services.permissions import require_role

    require_role(actor, Role.MANAGER.value, Role.ADMIN.value)
    row = _planned(actor, interaction_id)
    values = common.validate(Escalation, data)
    if row.assignee_id is None:
        raise ValidationFailed(fields={"assignee_id": ["The task has no assignee to chase."]})
    row.escalated_at = utcnow()
    row.escalation_count = (row.escalation_count or 0) + 1
    db.session().flush()
    audit.record_change(actor, "escalated", row, {"escalation_count": (row.escalation_count - 1, row.escalation_count)},
                        payload={"note": values["note"]})
    assignee = db.session().get(User, row.assignee_id)
    due = row.due_at.strftime("%Y-%m-%d %H:%M UTC") if row.due_at else ""
    notify(assignee, "task.escalated", f"{actor.name or actor.email} is chasing: {row.subject or row.kind}",
           values["note"] or f"Due {due}.", record=row,
           data={"customer_id": row.customer_id, "escalated_by": actor.id, "count": row.escalation_count})
    return row


def send_due_reminders(now) -> int:
    """``trellis tick``: remind assignees of tasks whose reminder time has come, and tell them of tasks
    that went overdue — each once (dedupe keys carry the times, so a rescheduled task reminds again)."""
    from core.models import User
    from core.services.notifications import notify

    sess = db.session()
    sent = 0
    live = (Interaction.status == InteractionStatus.PLANNED.value, Interaction.deleted_at.is_(None),
            Interaction.assignee_id.is_not(None))
    for row in sess.scalars(select(Interaction).where(*live, Interaction.reminder_at <= now)):
        user = sess.get(User, row.assignee_id)
        if notify(user, "task.reminder", f"Reminder: {row.subject or row.kind}",
                  f"Due {row.due_at:%Y-%m-%d %H:%M} UTC.", record=row, data={"customer_id": row.customer_id},
                  dedupe_key=f"task.reminder:{row.id}:{row.reminder_at.isoformat()}"):
            sent += 1
    for row in sess.scalars(select(Interaction).where(*live, Interaction.due_at < now)):
        user = sess.get(User, row.assignee_id)
        if notify(user, "task.overdue", f"Overdue: {row.subject or row.kind}",
                  f"It was due {row.due_at:%Y-%m-%d %H:%M} UTC.", record=row, data={"customer_id": row.customer_id},
                  dedupe_key=f"task.overdue:{row.id}:{row.due_at.isoformat()}"):
            sent += 1
    return sent
