"""Who works which customers: handover (业务移交) and allocation of unowned customers (客户资源分配).

Handover moves customers from one rep to another with their planned interactions, and records each move
in the ``customer.owner`` history (the same history table as stage changes) and the audit trail.
Allocation assigns unowned customers to reps by rules (industry, region, size), giving each customer to
the eligible rep with the lightest load so the team stays balanced; a dry run shows the plan first.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import func, select, update

from core import db
from core.errors import Forbidden, ValidationFailed
from core.models import Customer, Interaction, InteractionStatus, Role, User, WorkflowTransitionEntry
from core.schemas import Allocation, Handover
from core.services import audit, common, customers
from core.services.permissions import require_role

OWNER_HISTORY = "customer.owner"


def _manageable(actor: User, user_id: Any, field: str) -> User:
    """A user the actor may hand customers to or from: an admin any active user, a manager their team."""
    user = db.session().get(User, user_id)
    if user is None or user.deleted_at is not None or not user.is_active:
        raise ValidationFailed(fields={field: ["No active user has this id."]})
    if actor.role == Role.MANAGER.value and (actor.team_id is None or user.team_id != actor.team_id) \
            and user.id != actor.id:
        raise Forbidden("A manager hands customers over within their own team.")
    return user


def _move(actor: User, customer: Customer, to: User, reason: str, trigger: str = "manual") -> None:
    old = customer.owner_id
    if old == to.id:
        return
    customer.owner_id = to.id
    moved = db.session().execute(
        update(Interaction)
        .where(Interaction.customer_id == customer.id, Interaction.status == InteractionStatus.PLANNED.value,
               Interaction.deleted_at.is_(None), (Interaction.assignee_id == old) | Interaction.assignee_id.is_(None))
        .values(assignee_id=to.id, version=Interaction.version + 1, updated_at=db.utcnow())
        .execution_options(synchronize_session="fetch")).rowcount
    db.session().add(WorkflowTransitionEntry(
        workflow=OWNER_HISTORY, record_type="customer", record_id=customer.id,
        from_state=str(old) if old else None, to_state=str(to.id), actor_id=actor.id, trigger=trigger,
        reason=reason))
    db.session().flush()
    audit.record_change(actor, "handed_over", customer, {"owner_id": (old, to.id)},
                        payload={"reason": reason, "tasks_moved": moved})


def handover(actor: Any, data: Mapping[str, Any]) -> list[Customer]:
    """Hand the listed customers, or every customer of ``from_user_id``, to ``to_user_id``."""
    user = require_role(actor, Role.MANAGER.value, Role.ADMIN.value)
    values = common.validate(Handover, data)
    if bool(values.get("customer_ids")) == bool(values.get("from_user_id")):
        raise ValidationFailed(fields={"customer_ids": ["Give either customer_ids or from_user_id."]})
    to = _manageable(user, values["to_user_id"], "to_user_id")
    if values.get("from_user_id"):
        source = _manageable(user, values["from_user_id"], "from_user_id")
        batch = list(db.session().scalars(customers.visible(user).where(Customer.owner_id == source.id)
                                          .order_by(Customer.name, Customer.id)))
    else:
        found = customers.get_many(user, values["customer_ids"])
        missing = [str(cid) for cid in values["customer_ids"] if cid not in found]
        if missing:
            raise ValidationFailed(fields={"customer_ids": [f"Not found: {', '.join(missing[:10])}."]})
        batch = [found[cid] for cid in values["customer_ids"]]
    for customer in batch:
        _move(user, customer, to, values["reason"])
    return batch


@dataclass(frozen=True)
class Assignment:
    customer: Customer
    rep: User
    rule: int | None  # index of the rule that matched, None for the default pool


def _reps(ids, actor: User, field: str) -> list[User]:
    reps = [_manageable(actor, rid, field) for rid in ids]
    return sorted(reps, key=lambda u: (u.name or u.email, str(u.id)))


def allocate(actor: Any, data: Mapping[str, Any]) -> list[Assignment]:
    """Plan (and unless ``dry_run``, apply) the assignment of unowned customers to reps."""
    user = require_role(actor, Role.MANAGER.value, Role.ADMIN.value)
    values = common.validate(Allocation, data)
    rules = values["rules"]
    if values.get("rep_ids"):
        pool = _reps(values["rep_ids"], user, "rep_ids")
    else:
        stmt = select(User).where(User.role == Role.REP.value, User.is_active.is_(True), User.deleted_at.is_(None))
        if user.role == Role.MANAGER.value:
            stmt = stmt.where(User.team_id == user.team_id)
        pool = sorted(db.session().scalars(stmt), key=lambda u: (u.name or u.email, str(u.id)))
    rule_reps = [_reps(rule["rep_ids"], user, f"rules.{i}.rep_ids") for i, rule in enumerate(rules)]
    everyone = {u.id for u in pool} | {u.id for reps in rule_reps for u in reps}
    load = Counter(dict(db.session().execute(
        select(Customer.owner_id, func.count()).where(Customer.owner_id.in_(everyone), Customer.deleted_at.is_(None))
        .group_by(Customer.owner_id)).all()))
    unowned = db.session().scalars(customers.visible(user).where(Customer.owner_id.is_(None))
                                   .order_by(Customer.created_at, Customer.id).limit(values["limit"]))
    plan: list[Assignment] = []
    for customer in unowned:
        matched = next((i for i, rule in enumerate(rules)
                        if all(getattr(customer, key) == rule[key] for key in ("industry", "region", "size")
                               if key in rule)), None)
        candidates = rule_reps[matched] if matched is not None else pool
        if not candidates:
            continue
        rep = min(candidates, key=lambda u: load[u.id])  # stable: candidates are sorted by name
        load[rep.id] += 1
        plan.append(Assignment(customer, rep, matched))
    if not values["dry_run"]:
        for item in plan:
            _move(user, item.customer, item.rep, "allocated" + (f" by rule {item.rule + 1}" if item.rule is not None else ""),
                  trigger="automatic")
    return plan
