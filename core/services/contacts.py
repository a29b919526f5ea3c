"""Contacts (联系人): people at a customer. A customer's first contact is its primary one; making another
contact primary demotes the previous one, so there is exactly one primary per customer."""
from __future__ import annotations

import uuid
from typing import Any, Mapping

from sqlalchemy import Select, func, select, update as sql_update

from core import db
from core.errors import NotFound, ValidationFailed
from core.models import Contact, ContactNameGram, Customer
from core.schemas import ContactCreate, ContactFilter, ContactUpdate
from core.services import audit, common, customers, name_search, paging
from core.services.permissions import customer_is_live, customer_visibility, sees_every_customer

AUDITED = ["customer_id", "name", "title", "phone", "mobile", "email", "wechat", "birthday", "is_primary"]

SORTABLE = {"name": Contact.name, "created_at": Contact.created_at, "updated_at": Contact.updated_at}


def visible(actor: Any, *, deleted: bool = False) -> Select:
    """The contacts of customers the actor may see (live customers; live contacts, or with ``deleted``
    the bin's)."""
    if sees_every_customer(actor):   # no scope: the customer's row is read only to know it is live
        return select(Contact).where(customer_is_live(Contact.customer_id), common.not_deleted(Contact, deleted))
    return (
        select(Contact)
        .join(Customer, Customer.id == Contact.customer_id)
        .where(customer_visibility(actor), Customer.deleted_at.is_(None), common.not_deleted(Contact, deleted))
    )


def get(actor: Any, contact_id: Any, *, deleted: bool = False) -> Contact:
    cid = common.parse_uuid(contact_id)
    contact = db.session().scalars(visible(actor, deleted=deleted).where(Contact.id == cid)).first()
    if contact is None:
        raise NotFound("No contact with this id.")
    return contact


def filtered(actor: Any, filters: Mapping[str, Any] | None = None) -> Select:
    """SELECT of the contacts the actor's list shows with ``filters`` (``ContactFilter``; the export reads it too)."""
    f = common.validate(ContactFilter, dict(filters or {}))
    stmt = visible(actor, deleted=f.pop("deleted", False))
    if customer_id := f.get("customer_id"):
        stmt = stmt.where(Contact.customer_id == customer_id)
    if q := f.get("q"):
        stmt = name_search.name_contains(stmt, Contact, ContactNameGram, ContactNameGram.contact_id, q)
    return stmt


def list_contacts(actor: Any, filters: Mapping[str, Any] | None = None, *,
                  page: common.PageRequest = common.PageRequest(), sort: str | None = None) -> common.Page[Contact]:
    stmt = filtered(actor, filters)
    sortable, tiebreak = name_search.ordering(stmt, SORTABLE, Contact.id, ContactNameGram, ContactNameGram.contact_id)
    return common.paginate(stmt, page, common.parse_sort(sort, sortable, "name"), tiebreak)


def for_customers(actor: Any, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Contact]]:
    """Live contacts of many customers in one query, primary first (for list views and DataLoaders).
    The caller passes customers it already loaded through a permission-checked query."""
    out: dict[uuid.UUID, list[Contact]] = {cid: [] for cid in customer_ids}
    if not customer_ids:
        return out
    rows = db.session().scalars(
        visible(actor).where(Contact.customer_id.in_(customer_ids))
        .order_by(Contact.customer_id, Contact.is_primary.desc(), Contact.name, Contact.id)
    ).all()
    for row in rows:
        out[row.customer_id].append(row)
    return out


#: the order of a customer's contacts: the primary one first, then by name
NESTED_ORDER = (Contact.is_primary.desc(), Contact.name.asc())


def pages_for_customers(actor: Any, customer_ids: list[uuid.UUID], page: paging.KeysetRequest,
                        sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """One keyset page of each customer's live contacts (primary first, then by name; ``sort`` — keys of
    ``SORTABLE``, as the root list takes them — orders them otherwise), for many customers in one
    statement (a window function; one more when a cursor is given): the nested ``Customer.contacts``. The
    caller passes customers it already loaded through a permission-checked query."""
    order = common.parse_sort(sort, SORTABLE, "name") if sort else NESTED_ORDER
    return paging.seek_windows(db.session(), visible(actor), Contact.customer_id, customer_ids, page,
                               order, Contact.id)


def count_for_customers(actor: Any, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """How many live contacts each customer has, in one grouped COUNT."""
    return paging.count_windows(db.session(), visible(actor), Contact.customer_id, customer_ids)


def _make_primary(contact: Contact) -> None:
    db.session().execute(
        sql_update(Contact)
        .where(Contact.customer_id == contact.customer_id, Contact.id != contact.id, Contact.is_primary.is_(True))
        .values(is_primary=False, version=Contact.version + 1, updated_at=db.utcnow())
        .execution_options(synchronize_session="fetch")
    )
    contact.is_primary = True


def becomes_primary(wants_primary: bool, customer_has_primary: bool) -> bool:
    """Is a new contact its customer's primary one? When asked, or when the customer has none (its first
    contact); the customer's other primary contact is then demoted. Used by :func:`create` and the import."""
    return bool(wants_primary) or not customer_has_primary


def create(actor: Any, data: Mapping[str, Any]) -> Contact:
    values = common.validate(ContactCreate, data)
    try:
        customer = customers.get(actor, values["customer_id"])
    except NotFound:
        raise ValidationFailed(fields={"customer_id": ["No customer with this id."]}) from None
    has_primary = db.session().scalar(
        select(func.count()).select_from(Contact)
        .where(Contact.customer_id == customer.id, Contact.is_primary.is_(True), Contact.deleted_at.is_(None))
    )
    wants_primary = values.pop("is_primary", False)
    contact = Contact(**values)
    db.session().add(contact)
    db.session().flush()
    if becomes_primary(wants_primary, bool(has_primary)):
        _make_primary(contact)
    db.session().flush()
    audit.record_change(actor, "created", contact, audit.created_fields(contact, AUDITED))
    return contact


def update(actor: Any, contact_id: Any, data: Mapping[str, Any]) -> Contact:
    contact = get(actor, contact_id)
    values = common.validate_update(ContactUpdate, data)
    common.check_version(contact, values.pop("version"))
    wants_primary = values.pop("is_primary", None)
    changes = common.apply_changes(contact, values)
    if wants_primary and not contact.is_primary:
        _make_primary(contact)
        changes["is_primary"] = (False, True)
    elif wants_primary is False and contact.is_primary:
        raise ValidationFailed(fields={"is_primary": ["Make another contact primary instead."]})
    db.session().flush()
    if changes:
        audit.record_change(actor, "updated", contact, changes)
    return contact


def delete(actor: Any, contact_id: Any) -> None:
    contact = get(actor, contact_id)
    common.soft_delete(contact)
    audit.record_change(actor, "deleted", contact)
    if contact.is_primary:
        contact.is_primary = False
        successor = db.session().scalars(
            select(Contact).where(Contact.customer_id == contact.customer_id, Contact.deleted_at.is_(None))
            .order_by(Contact.created_at, Contact.id)
        ).first()
        if successor is not None:
            _make_primary(successor)
        db.session().flush()


def restore(actor: Any, contact_id: Any) -> Contact:
    contact = get(actor, contact_id, deleted=True)
    common.restore(contact)
    audit.record_change(actor, "restored", contact)
    return contact
