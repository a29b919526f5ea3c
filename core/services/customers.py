"""Customers: create, read, list, update, soft delete, restore, timeline."""
from __future__ import annotations

import uuid
from typing import Any, Mapping

from sqlalchemy import Select, func, or_, select

from core import db
from core.errors import NotFound
from core.models import Customer, CustomerTag, Interaction
from core.schemas import CustomerCreate, CustomerFilter, CustomerUpdate
from core.services import audit, common
from core.services.permissions import check_owner_assignment, customer_visibility, require_actor

AUDITED = ["kind", "name", "industry", "region", "size", "source", "level", "stage", "notes", "owner_id"]

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
    """SELECT of the customers ``actor`` may see (live ones, or the deleted ones)."""
    return select(Customer).where(customer_visibility(actor), common.not_deleted(Customer, deleted))


def get(actor: Any, customer_id: Any, *, deleted: bool = False) -> Customer:
    """One customer the actor may see; NotFound otherwise (also when outside their scope)."""
    cid = common.parse_uuid(customer_id)
    customer = db.session().scalars(visible(actor, deleted=deleted).where(Customer.id == cid)).first()
    if customer is None:
        raise NotFound("No customer with this id.")
    return customer


def get_many(actor: Any, ids: list[uuid.UUID]) -> dict[uuid.UUID, Customer]:
    if not ids:
        return {}
    rows = db.session().scalars(visible(actor).where(Customer.id.in_(ids))).all()
    return {c.id: c for c in rows}


def filtered(actor: Any, filters: Mapping[str, Any] | None = None) -> Select:
    f = common.validate(CustomerFilter, dict(filters or {}))
    stmt = visible(actor, deleted=f.pop("deleted", False))
    if q := f.pop("q", None):
        stmt = stmt.where(func.lower(Customer.name).contains(q.lower(), autoescape=True))
    if tag := f.pop("tag", None):
        stmt = stmt.where(Customer.id.in_(select(CustomerTag.customer_id).where(CustomerTag.tag == tag)))
    for key, value in f.items():
        stmt = stmt.where(getattr(Customer, key) == value)
    return stmt


def list_customers(actor: Any, filters: Mapping[str, Any] | None = None, *,
                   page: common.PageRequest = common.PageRequest(), sort: str | None = None) -> common.Page[Customer]:
    order = common.parse_sort(sort, SORTABLE, "name")
    return common.paginate(filtered(actor, filters), page, order, Customer.id)


def _set_tags(customer: Customer, tags: list[str]) -> None:
    wanted = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    customer.tag_rows = [row for row in customer.tag_rows if row.tag in wanted]
    have = {row.tag for row in customer.tag_rows}
    customer.tag_rows.extend(CustomerTag(tag=t) for t in wanted if t not in have)


def create(actor: Any, data: Mapping[str, Any]) -> Customer:
    user = require_actor(actor)
    values = common.validate(CustomerCreate, data)
    tags = values.pop("tags", [])
    values.setdefault("owner_id", user.id)
    check_owner_assignment(user, values["owner_id"])
    customer = Customer(**values)
    _set_tags(customer, tags)
    db.session().add(customer)
    db.session().flush()
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
