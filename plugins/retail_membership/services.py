"""Retail membership (零售会员): The plugin's service functions: the only place its records are written;
each takes the acting user first.

Permissions: admins see everything; a ``store_staff`` user sees the members of the stores they work
at (and customers who bought there); managers and reps see the memberships of the customers the core
lets them see. Every read goes through :func:`visible_memberships` and friends, so a record outside the
caller's scope is NotFound. Every write is audited through ``core.services.audit.record_change``.

Points: the ledger is append-only and every write to it happens under a lock on the member's row
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite an UPDATE of the row, which takes the database's write
lock), then reads the balance, then appends — so concurrent redemptions can never overdraw.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta, timezone
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Mapping, Sequence

from marshmallow import fields, validate
from sqlalchemy import and_, case, func, or_, select, true, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload, lazyload, selectinload

from core import db
from core.db import utcnow
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Customer, Role, User
from core.phones import phone_key
from core.records import FieldSpec, RecordSpec
from core.services import audit, common, customers, interactions, paging, workflow
from core.services.permissions import customer_visibility, require_actor, require_role, visibility
from core.workflow import AUTOMATIC, MANUAL

from plugins.retail_membership import program as programme
from plugins.retail_membership import schemas as S
from plugins.retail_membership.models import (
    RetailCampaign, RetailCampaignMember, RetailLapseAlert, RetailMembership, RetailOccasion, RetailPointsEntry,
    RetailPurchase, RetailPurchaseLine, RetailRefund, RetailStore, RetailStoreStaff,
)

PLUGIN = "retail_membership"
STAFF_ROLE = "store_staff"
TIER_WORKFLOW = "retail_membership_membership.tier"
CENT = Decimal("0.01")


# --- scopes ------------------------------------------------------------------------------------------

def staff_store_ids(user_id: uuid.UUID):
    """SELECT of the stores a user works at."""
    return select(RetailStoreStaff.store_id).where(RetailStoreStaff.user_id == user_id)


def customer_scope(actor: User):
    """Grant of ``trellis_record_scopes`` on Customer: store staff see their stores' members and the
    customers who bought at their stores."""
    if actor.role != STAFF_ROLE:
        return None
    stores = staff_store_ids(actor.id)
    return or_(Customer.id.in_(select(RetailMembership.customer_id).where(RetailMembership.home_store_id.in_(stores))),
               Customer.id.in_(select(RetailPurchase.customer_id).where(RetailPurchase.store_id.in_(stores))))


def _visible_customer_ids(actor: User):
    return select(Customer.id).where(customer_visibility(actor), Customer.deleted_at.is_(None))


def membership_scope(actor: User):
    """A membership is visible with its customer."""
    return RetailMembership.customer_id.in_(_visible_customer_ids(actor))


def purchase_scope(actor: User):
    return RetailPurchase.customer_id.in_(_visible_customer_ids(actor))


def refund_scope(actor: User):
    return RetailRefund.membership_id.in_(select(RetailMembership.id).where(membership_scope(actor)))


def store_scope(actor: User):
    """Every signed-in user may read the list of stores."""
    return true()


def campaign_scope(actor: User):
    """Campaigns are read by managers and store staff (admins see everything anyway)."""
    return true() if actor.role in (Role.MANAGER.value, STAFF_ROLE) else None


def lapse_scope(actor: User):
    return RetailLapseAlert.membership_id.in_(select(RetailMembership.id).where(membership_scope(actor)))


def is_admin(actor: User) -> bool:
    return actor.role == Role.ADMIN.value


def _may_sell_at(actor: User, store: RetailStore) -> None:
    """Who records sales and refunds at a store: admins and managers anywhere, staff at their stores."""
    user = require_actor(actor)
    if user.role in (Role.ADMIN.value, Role.MANAGER.value):
        return
    if user.role == STAFF_ROLE and db.session().scalar(
            select(RetailStoreStaff.id).where(RetailStoreStaff.user_id == user.id,
                                              RetailStoreStaff.store_id == store.id)) is not None:
        return
    raise Forbidden(f"You do not work at store {store.code}.")


# --- stores: a declared record (docs/plugins.md, "Declaring a record") ---------------------------------

def _unique_store_code(user: Any, values: Mapping[str, Any], store: RetailStore | None = None) -> None:
    """A store's code is unique ignoring case, deleted stores included (a hook before create and update)."""
    if "code" not in values:
        return
    stmt = select(RetailStore.id).where(func.lower(RetailStore.code) == values["code"].lower())
    if store is not None:
        stmt = stmt.where(RetailStore.id != store.id)
    if db.session().scalar(stmt) is not None:
        raise Conflict("A store with this code exists.", fields={"code": ["Already taken."]})


def _unique_store_codes(user: Any, values_list: list[Mapping[str, Any]]) -> dict[int, Conflict]:
    """``_unique_store_code`` for an import batch's new stores at once (the ``before_import`` hook): a code
    taken ignoring case, deleted stores included, or by an earlier row of the batch, in one query."""
    wanted = {v["code"].lower() for v in values_list if v.get("code")}
    lowered = func.lower(RetailStore.code, type_=RetailStore.code.type)
    taken = set(db.session().scalars(select(lowered).where(db.in_values(lowered, wanted)))) if wanted else set()
    refused: dict[int, Conflict] = {}
    for index, values in enumerate(values_list):
        code = (values.get("code") or "").lower()
        if not code:
            continue
        if code in taken:
            refused[index] = Conflict("A store with this code exists.", fields={"code": ["Already taken."]})
        taken.add(code)
    return refused


def _code_or_name_contains(q: str):
    return or_(func.lower(RetailStore.name).contains(q.lower(), autoescape=True),
               func.lower(RetailStore.code).contains(q.lower(), autoescape=True))


_CODE = r"^[A-Za-z0-9_-]{1,40}$"
STORES = RecordSpec(
    RetailStore, "RetailStore", schema_prefix="Store", noun="store", writers=(Role.ADMIN.value,),
    sortable=("code", "name", "city", "created_at"), default_sort="code", out_schema=S.StoreOut,
    fields={"code": FieldSpec(unique=False,   # checked ignoring case by _unique_store_code
                              validate=validate.Regexp(_CODE, error="Letters, digits, - and _, at most 40.")),
            "name": FieldSpec(validate=validate.Length(min=1, max=120)),
            "kind": FieldSpec(default="clothing", choices=S.STORE_KINDS, filter=True),
            "city": FieldSpec(default="", filter=True), "address": FieldSpec(default=""),
            "external_id": FieldSpec(read_only=True)},   # set by trellis import retail_membership.stores
    extra={"update": {"code": fields.String(validate=validate.Regexp(_CODE))},   # as it was: no message of its own
           "filter": {"q": fields.String(validate=validate.Length(max=120))}},
    where={"q": _code_or_name_contains},
    hooks={"before_create": _unique_store_code, "before_import": _unique_store_codes,
           "before_update": lambda user, store, values: _unique_store_code(user, values, store)})
get_store = STORES.get   # the staff, the sales and the tests read stores through it
create_store = STORES.create


def store_by_code(code: str) -> RetailStore | None:
    return db.session().scalar(select(RetailStore).where(RetailStore.code == code, RetailStore.deleted_at.is_(None)))


def stores_by_id(ids: list[uuid.UUID]) -> dict[uuid.UUID, RetailStore]:
    """Stores by id (every signed-in user may read stores), for DataLoaders."""
    return {s.id: s for s in db.session().scalars(select(RetailStore).where(RetailStore.id.in_(ids)))}


#: the orderings of a store's staff (``sort`` of :func:`staff_of` and :func:`staff_pages_for`): the user's
#: name or email; without one, longest-serving first (the order they were assigned)
STAFF_SORTABLE = {"name": User.name, "email": User.email}
STAFF_ORDER = (RetailStoreStaff.created_at,)


def _staff(sort: str | None):
    """The staff rows and their ORDER BY: the users are joined only to sort by their name or email."""
    stmt = select(RetailStoreStaff)
    if not sort:
        return stmt, list(STAFF_ORDER)
    order = common.parse_sort(sort, STAFF_SORTABLE, "name")
    return stmt.join(User, User.id == RetailStoreStaff.user_id), order


def staff_of(actor: Any, store_id: Any, *, page=None, sort: str | None = None):
    """The store's staff, longest-serving first (``sort`` — keys of ``STAFF_SORTABLE`` — orders them
    otherwise): a list, or one :class:`common.Page` when ``page`` is given."""
    store = get_store(actor, store_id)
    stmt, order = _staff(sort)
    stmt = stmt.where(RetailStoreStaff.store_id == store.id)
    if page is not None:
        return common.paginate(stmt, page, order, RetailStoreStaff.id)
    return list(db.session().scalars(stmt.order_by(*order, RetailStoreStaff.id)))


def filtered_staff(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the staff :func:`staff_of` lists, the store a filter (``RetailStaffListFilter``:
    ``store_id`` required; missing, or a store the actor may not see, is a ValidationFailed naming it),
    unordered: what ``trellis export`` reads."""
    store = _one_filter(actor, get_store, S.RetailStaffListFilter, filters, "store_id", "store")
    stmt, _order = _staff(None)
    # the users (the rows' email and name) in one more query per batch, not one per row
    return stmt.where(RetailStoreStaff.store_id == store.id).options(selectinload(RetailStoreStaff.user))


def _one_filter(actor: Any, get: Any, schema, filters: Mapping[str, Any] | None, field: str, noun: str):
    """The record a list under one record is exported for (``schema``: ``field`` required, a filter where
    the list has it in its path), read by ``get(actor, id)``, the list's own reader: missing, or one the
    actor may not see, is a 422 on ``field``."""
    f = common.validate(schema, dict(filters or {}))
    try:
        return get(actor, f[field])
    except NotFound:
        raise ValidationFailed(fields={field: [f"No {noun} with this id."]}) from None


def assign_staff(actor: Any, store_id: Any, data: Mapping[str, Any]) -> RetailStoreStaff:
    """Put a user on a store's staff (admins). Any role may work at a store; ``store_staff`` users
    see only the members of their stores."""
    require_role(actor, Role.ADMIN.value)
    store = get_store(actor, store_id)
    values = common.validate(S.StaffAssign, data)
    user = db.session().get(User, values["user_id"])
    if user is None or user.deleted_at is not None or not user.is_active:
        raise ValidationFailed(fields={"user_id": ["No active user has this id."]})
    row = db.session().scalar(select(RetailStoreStaff).where(RetailStoreStaff.store_id == store.id,
                                                             RetailStoreStaff.user_id == user.id))
    if row is None:
        row = RetailStoreStaff(store_id=store.id, user_id=user.id)
        db.session().add(row)
        db.session().flush()
        audit.record_change(actor, "created", row, {"store_id": (None, store.id), "user_id": (None, user.id)})
    return row


def remove_staff(actor: Any, store_id: Any, user_id: Any) -> None:
    require_role(actor, Role.ADMIN.value)
    store = get_store(actor, store_id)
    row = db.session().scalar(select(RetailStoreStaff).where(
        RetailStoreStaff.store_id == store.id, RetailStoreStaff.user_id == common.parse_uuid(user_id, "user_id")))
    if row is None:
        raise NotFound("This user does not work at this store.")
    audit.record_change(actor, "deleted", row, {"store_id": (store.id, None), "user_id": (row.user_id, None)})
    db.session().delete(row)
    db.session().flush()


def staff_users(store_id: uuid.UUID) -> list[User]:
    return list(db.session().scalars(
        select(User).join(RetailStoreStaff, RetailStoreStaff.user_id == User.id)
        .where(RetailStoreStaff.store_id == store_id, User.is_active.is_(True), User.deleted_at.is_(None))
        .order_by(User.email)))


# --- memberships -------------------------------------------------------------------------------------

MEMBER_SORT = {"card_number": RetailMembership.card_number, "joined_on": RetailMembership.joined_on,
               "tier": RetailMembership.tier, "spend_total": RetailMembership.spend_total,
               "last_purchase_at": RetailMembership.last_purchase_at, "created_at": RetailMembership.created_at}
MEMBER_AUDITED = ["customer_id", "card_number", "phone", "home_store_id", "joined_on", "tier", "birthday",
                  "preferences", "referred_by_id"]


def visible_memberships(actor: Any, *, deleted: bool = False):
    return select(RetailMembership).where(visibility(actor, RetailMembership),
                                          common.not_deleted(RetailMembership, deleted))


def visible_points_entries(actor: Any):
    """SELECT of the ledger entries of the memberships the actor may see."""
    return select(RetailPointsEntry).where(RetailPointsEntry.membership_id.in_(
        select(RetailMembership.id).where(visibility(actor, RetailMembership), RetailMembership.deleted_at.is_(None))))


def get_membership(actor: Any, membership_id: Any, *, deleted: bool = False) -> RetailMembership:
    mid = common.parse_uuid(membership_id)
    row = db.session().scalars(visible_memberships(actor, deleted=deleted).where(RetailMembership.id == mid)).first()
    if row is None:
        raise NotFound("No membership with this id.")
    return row


def memberships_for_customers(customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, RetailMembership]:
    """Live memberships of customers the caller already may see, in one query (DataLoaders)."""
    if not customer_ids:
        return {}
    rows = db.session().scalars(select(RetailMembership).where(RetailMembership.customer_id.in_(customer_ids),
                                                               RetailMembership.deleted_at.is_(None)))
    return {m.customer_id: m for m in rows}


def filtered_memberships(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the memberships the actor's list shows with ``filters`` (``MembershipFilter``, checked:
    a bad one is a ValidationFailed naming it): the list pages it, ``trellis export`` reads it whole."""
    f = common.validate(S.MembershipFilter, dict(filters or {}))
    stmt = visible_memberships(actor, deleted=f.pop("deleted"))
    if q := f.pop("q", None):
        stmt = stmt.join(Customer, Customer.id == RetailMembership.customer_id).where(or_(
            func.lower(Customer.name).contains(q.lower(), autoescape=True),
            RetailMembership.card_number.contains(q, autoescape=True)))
    for key, value in f.items():
        stmt = stmt.where(getattr(RetailMembership, key) == value)
    return stmt


def list_memberships(actor: Any, filters: Mapping[str, Any] | None = None, *, page=common.PageRequest(), sort=None):
    # the list shows each member's name: load the customers in one statement, not one per row
    stmt = filtered_memberships(actor, filters).options(selectinload(RetailMembership.customer))
    result = common.paginate(stmt, page, common.parse_sort(sort, MEMBER_SORT, "card_number"), RetailMembership.id)
    attach_balances(result.items)
    return result


def _check_home_store(actor: User, store_id: uuid.UUID, field: str = "home_store_id") -> RetailStore:
    store = db.session().get(RetailStore, store_id)
    if store is None or store.deleted_at is not None:
        raise ValidationFailed(fields={field: ["No store with this id."]})
    if actor.role == STAFF_ROLE and db.session().scalar(
            select(RetailStoreStaff.id).where(RetailStoreStaff.user_id == actor.id,
                                              RetailStoreStaff.store_id == store.id)) is None:
        raise ValidationFailed(fields={field: ["You may only enrol members at a store you work at."]})
    return store


def new_card_number() -> str:
    while True:
        number = f"M{secrets.randbelow(10**11):011d}"
        if db.session().scalar(select(RetailMembership.id).where(RetailMembership.card_number == number)) is None:
            return number


def _phone(values: dict) -> None:
    """Trim ``phone`` and add its normalised ``phone_key`` (:func:`core.phones.phone_key`): a 422 on
    ``phone`` when it is no phone number."""
    if "phone" not in values:
        return
    values["phone"] = (values["phone"] or "").strip()
    values["phone_key"] = phone_key(values["phone"]) if values["phone"] else ""
    if values["phone"] and not values["phone_key"]:
        raise ValidationFailed(fields={"phone": ["Not a phone number: give at least 5 digits."]})


def _unique_phone(key: str, exclude: uuid.UUID | None = None) -> None:
    """A phone number finds one member at the till: a 409 on ``phone`` when a live member has it."""
    if not key.startswith("+"):  # none, or erased
        return
    stmt = select(RetailMembership.id).where(RetailMembership.phone_key == key, RetailMembership.deleted_at.is_(None))
    if exclude is not None:
        stmt = stmt.where(RetailMembership.id != exclude)
    if db.session().scalar(stmt) is not None:
        raise Conflict("Another member has this phone number.", fields={"phone": ["Already a member's."]})


def create_membership(actor: Any, data: Mapping[str, Any]) -> RetailMembership:
    """Enrol a member: an existing customer (``customer_id``) or a new person (``customer``)."""
    user = require_actor(actor)
    values = common.validate(S.MembershipCreate, data)
    store = _check_home_store(user, values["home_store_id"])
    _phone(values)
    sess = db.session()
    _unique_phone(values["phone_key"])
    card = values.get("card_number") or new_card_number()
    if sess.scalar(select(RetailMembership.id).where(RetailMembership.card_number == card)) is not None:
        raise Conflict("This card number is taken.", fields={"card_number": ["Already taken."]})
    referrer = None
    if values.get("referred_by_card"):
        referrer = sess.scalar(select(RetailMembership).where(RetailMembership.card_number == values["referred_by_card"],
                                                              RetailMembership.deleted_at.is_(None)))
        if referrer is None:
            raise ValidationFailed(fields={"referred_by_card": ["No member has this card number."]})
    if "customer_id" in values:
        try:
            customer = customers.get(user, values["customer_id"])
        except NotFound:
            raise ValidationFailed(fields={"customer_id": ["No customer with this id."]}) from None
        if sess.scalar(select(RetailMembership.id).where(RetailMembership.customer_id == customer.id)) is not None:
            raise Conflict("This customer already has a membership.", fields={"customer_id": ["Already a member."]})
    else:
        new = {"owner_id": None, "source": "walk_in", **values["customer"], "kind": "person"}
        customer = customers.create(user, {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in new.items()})
    membership = RetailMembership(
        customer_id=customer.id, card_number=card, phone=values["phone"], phone_key=values["phone_key"],
        home_store_id=store.id,
        joined_on=values.get("joined_on") or utcnow().date(), tier=programme.current().lowest.code,
        birthday=values.get("birthday"), preferences=values["preferences"],
        referred_by_id=referrer.id if referrer else None)
    sess.add(membership)
    sess.flush()
    for occ in values["occasions"]:
        sess.add(RetailOccasion(membership_id=membership.id, kind=occ["kind"], name=occ["name"],
                                month=occ["date"].month, day=occ["date"].day, year=occ["date"].year))
    sess.flush()
    audit.record_change(user, "created", membership, audit.created_fields(membership, MEMBER_AUDITED),
                        payload={"customer_id": customer.id})
    return membership


def update_membership(actor: Any, membership_id: Any, data: Mapping[str, Any]) -> RetailMembership:
    membership = get_membership(actor, membership_id)
    values = common.validate_update(S.MembershipUpdate, data)
    common.check_version(membership, values.pop("version"))
    if "home_store_id" in values:
        _check_home_store(actor, values["home_store_id"])
    _phone(values)
    if "phone_key" in values:
        _unique_phone(values["phone_key"], exclude=membership.id)
    changes = common.apply_changes(membership, values)
    db.session().flush()
    if changes:
        audit.record_change(actor, "updated", membership, changes)
    attach_balances([membership])
    return membership


def delete_membership(actor: Any, membership_id: Any) -> None:
    membership = get_membership(actor, membership_id)
    common.soft_delete(membership)
    audit.record_change(actor, "deleted", membership)


def restore_membership(actor: Any, membership_id: Any) -> RetailMembership:
    membership = get_membership(actor, membership_id, deleted=True)
    _unique_phone(membership.phone_key, exclude=membership.id)
    common.restore(membership)
    audit.record_change(actor, "restored", membership)
    attach_balances([membership])
    return membership


def get_membership_out(actor: Any, membership_id: Any) -> RetailMembership:
    membership = get_membership(actor, membership_id)
    attach_balances([membership])
    return membership


def create_membership_out(actor: Any, data: Mapping[str, Any]) -> RetailMembership:
    membership = create_membership(actor, data)
    membership.points_balance = 0
    return membership


def visible_occasions(actor: Any):
    """SELECT of the live occasions of the memberships the actor may see."""
    return select(RetailOccasion).where(RetailOccasion.deleted_at.is_(None), RetailOccasion.membership_id.in_(
        select(RetailMembership.id).where(visibility(actor, RetailMembership), RetailMembership.deleted_at.is_(None))))


#: the orderings of a member's occasions (``sort`` of :func:`occasions_of` and :func:`occasion_pages_for`)
OCCASION_SORTABLE = {"month": RetailOccasion.month, "day": RetailOccasion.day, "year": RetailOccasion.year,
                     "name": RetailOccasion.name}
#: calendar order
OCCASION_DEFAULT_SORT = "month,day"


def occasions_of(actor: Any, membership_id: Any, *, page=None, sort: str | None = None):
    """The member's occasions in calendar order (``sort`` — keys of ``OCCASION_SORTABLE`` — orders them
    otherwise): a list, or one :class:`common.Page` when ``page`` is given."""
    membership = get_membership(actor, membership_id)
    stmt = select(RetailOccasion).where(RetailOccasion.membership_id == membership.id,
                                        RetailOccasion.deleted_at.is_(None))
    order = common.parse_sort(sort, OCCASION_SORTABLE, OCCASION_DEFAULT_SORT)
    if page is not None:
        return common.paginate(stmt, page, order, RetailOccasion.id)
    return list(db.session().scalars(stmt.order_by(*order, RetailOccasion.id)))


def _member_filter(actor: Any, schema, filters: Mapping[str, Any] | None) -> RetailMembership:
    """The member a list under one member is exported for (``schema``: ``membership_id`` required, a
    filter where the list has it in its path): missing, or a member the actor may not see, is a 422 on
    ``membership_id``."""
    f = common.validate(schema, dict(filters or {}))
    try:
        return get_membership(actor, f["membership_id"])
    except NotFound:
        raise ValidationFailed(fields={"membership_id": ["No membership with this id."]}) from None


def filtered_occasions(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the occasions :func:`occasions_of` lists, the member a filter (``OccasionListFilter``:
    ``membership_id`` required; a bad one is a ValidationFailed naming it), unordered: what ``trellis
    export`` reads."""
    membership = _member_filter(actor, S.OccasionListFilter, filters)
    return select(RetailOccasion).where(RetailOccasion.membership_id == membership.id,
                                        RetailOccasion.deleted_at.is_(None))


def add_occasion(actor: Any, membership_id: Any, data: Mapping[str, Any]) -> RetailOccasion:
    membership = get_membership(actor, membership_id)
    values = common.validate(S.OccasionIn, data)
    occ = RetailOccasion(membership_id=membership.id, kind=values["kind"], name=values["name"],
                         month=values["date"].month, day=values["date"].day, year=values["date"].year)
    db.session().add(occ)
    db.session().flush()
    audit.record_change(actor, "created", occ, audit.created_fields(occ, ["membership_id", "kind", "name", "month", "day"]))
    return occ


def delete_occasion(actor: Any, membership_id: Any, occasion_id: Any) -> None:
    membership = get_membership(actor, membership_id)
    occ = db.session().get(RetailOccasion, common.parse_uuid(occasion_id))
    if occ is None or occ.membership_id != membership.id or occ.deleted_at is not None:
        raise NotFound("No occasion with this id.")
    common.soft_delete(occ)
    audit.record_change(actor, "deleted", occ)


# --- tiers -------------------------------------------------------------------------------------------

def spend_basis(membership: RetailMembership, now: datetime) -> Decimal:
    prog = programme.current()
    if prog.basis == "cumulative":
        return membership.spend_total or Decimal("0")
    return rolling_spend([membership.id], now)[membership.id]


def rolling_spend(membership_ids: list[uuid.UUID], now: datetime) -> dict[uuid.UUID, Decimal]:
    out = {mid: Decimal("0") for mid in membership_ids}
    if membership_ids:
        rows = db.session().execute(
            select(RetailPurchase.membership_id, func.sum(RetailPurchase.total - RetailPurchase.refunded_total))
            .where(RetailPurchase.membership_id.in_(membership_ids), RetailPurchase.deleted_at.is_(None),
                   RetailPurchase.occurred_at > now - timedelta(days=365), RetailPurchase.occurred_at <= now)
            .group_by(RetailPurchase.membership_id))
        out.update({mid: Decimal(str(v or 0)) for mid, v in rows})
    return out


def tier_held(actor: Any, membership: RetailMembership, now: datetime) -> bool:
    """Whether a tier set by hand still holds at ``now``; a pin past its ``tier_pinned_until`` is released
    here (audited, by nobody: it lapsed), so the spend decides again."""
    if not membership.tier_pinned:
        return False
    until = membership.tier_pinned_until
    if until is None or until > now:
        return True
    _pin_tier(None, membership, False, None, reason="the tier set by hand lapsed")
    return False


def retier(actor: Any, membership: RetailMembership, *, now: datetime | None = None, event: str | None = None,
           spend: Decimal | None = None) -> bool:
    """Move the member to the tier their spend earns (through the tier workflow), up or down; True when it
    moved. A tier set by hand holds until it lapses or is released (:func:`set_tier`). A downgrade's
    grace period is the caller's to apply (the tick's ``retier_all`` does)."""
    now = now or utcnow()
    if tier_held(actor, membership, now):
        return False
    prog = programme.current()
    spend = spend_basis(membership, now) if spend is None else spend
    target = prog.tier_for(spend)
    if target.code == membership.tier:
        return False
    workflow.transition(actor, TIER_WORKFLOW, membership, target.code, trigger=AUTOMATIC, event=event,
                        reason=f"{prog.basis} spend {spend:.2f}")
    return True


def _pin_tier(actor: Any, membership: RetailMembership, pinned: bool, until: datetime | None, reason: str = "") -> None:
    """Pin or release a member's tier (and when the pin lapses); a change is audited like any other field."""
    changes = {}
    if membership.tier_pinned != pinned:
        changes["tier_pinned"] = (membership.tier_pinned, pinned)
    if membership.tier_pinned_until != until:
        changes["tier_pinned_until"] = (membership.tier_pinned_until, until)
    if changes:
        membership.tier_pinned, membership.tier_pinned_until = pinned, until
        db.session().flush()
        audit.record_change(actor, "updated", membership, changes, payload={"reason": reason} if reason else None)


def set_tier(actor: Any, membership_id: Any, data: Mapping[str, Any]) -> RetailMembership:
    """A manager places a member in a tier by hand, with a reason (kept in the tier history). The tier
    is pinned, like a customer's level set by hand: sales, refunds and the tick leave it alone until it
    is released (:func:`release_tier`) or ``until`` passes."""
    require_role(actor, Role.MANAGER.value, Role.ADMIN.value)
    membership = get_membership(actor, membership_id)
    values = common.validate(S.TierChange, data)
    if values["tier"] not in programme.current().codes:
        raise ValidationFailed(fields={"tier": [f"One of: {', '.join(programme.current().codes)}."]})
    until = values.get("until")
    if until is not None and until <= utcnow():
        raise ValidationFailed(fields={"until": ["Must be in the future (leave it out to hold until released)."]})
    if values["tier"] != membership.tier:
        workflow.transition(actor, TIER_WORKFLOW, membership, values["tier"], trigger=MANUAL, reason=values["reason"])
    _pin_tier(actor, membership, True, until, values["reason"])
    attach_balances([membership])
    return membership


def release_tier(actor: Any, membership_id: Any) -> RetailMembership:
    """Release a tier set by hand (managers, admins): the spend decides the tier again, at once."""
    require_role(actor, Role.MANAGER.value, Role.ADMIN.value)
    membership = get_membership(actor, membership_id)
    _pin_tier(actor, membership, False, None)
    retier(actor, membership, now=utcnow())
    attach_balances([membership])
    return membership


def tier_history(actor: Any, membership_id: Any):
    membership = get_membership(actor, membership_id)
    return workflow.history(TIER_WORKFLOW, membership)


def filtered_tier_history(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the tier changes :func:`tier_history` lists, the member a filter
    (``RetailTierHistoryFilter``: ``membership_id`` required; a bad one is a ValidationFailed naming it),
    unordered: what ``trellis export`` reads."""
    return workflow.history_query(TIER_WORKFLOW, _member_filter(actor, S.RetailTierHistoryFilter, filters))


def tiers() -> list[dict]:
    return [{"code": t.code, "en": t.en, "zh_cn": t.zh_cn, "threshold": t.threshold, "discount": t.discount,
             "multiplier": t.multiplier} for t in programme.current().tiers]


def list_tiers(actor, filters=None) -> list[dict]:
    """The tiers as configured, lowest first (:func:`tiers`), for any signed-in user: what ``GET …/tiers``
    answers and ``trellis export retail_membership.tiers`` writes. The list takes no filters
    (``RetailTierFilter``): any is a ValidationFailed naming it."""
    require_actor(actor)
    common.validate(S.RetailTierFilter, dict(filters or {}))
    return tiers()


# --- points ledger -----------------------------------------------------------------------------------

def lock_member(membership_id: uuid.UUID) -> None:
    """Serialise point movements of one member: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite an
    UPDATE of the row, which takes the database write lock (a writer that cannot get it is a 409)."""
    lock_members([membership_id])


def lock_members(membership_ids: list[uuid.UUID]) -> None:
    sess = db.session()
    try:
        if sess.get_bind().dialect.name == "sqlite":
            sess.execute(update(RetailMembership).where(RetailMembership.id.in_(membership_ids))
                         .values(ledger_seq=RetailMembership.ledger_seq + 1)
                         .execution_options(synchronize_session=False))
        else:
            sess.execute(select(RetailMembership.id).where(RetailMembership.id.in_(membership_ids))
                         .order_by(RetailMembership.id).with_for_update())
    except OperationalError as exc:
        if "locked" in str(exc).lower():
            raise Conflict("Another change to this member's points is in progress; try again.") from None
        raise


def balance_of(membership_id: uuid.UUID) -> int:
    """The sum of the member's ledger as written. Points past their expiry stay in it until an ``expire``
    entry is written (:func:`settle_expiry`, the tick): a debit settles first; reads use :func:`balances`."""
    return int(db.session().scalar(select(func.coalesce(func.sum(RetailPointsEntry.points), 0))
                                   .where(RetailPointsEntry.membership_id == membership_id)) or 0)


def ledger_sums(now: datetime, *conditions):
    """SELECT of ``(membership_id, ledger sum, points due to expire)`` per member, over the entries matching
    ``conditions``: what the lots past their expiry at ``now`` still hold once every debit has taken the
    oldest lots first (lots in expiry order: those expired come first, so the debits take them first) —
    the same figure as :func:`fifo_lots` gives, in one grouped statement."""
    E = RetailPointsEntry
    total = func.coalesce(func.sum(E.points), 0)
    lapsed = func.coalesce(func.sum(case((and_(E.expires_at.is_not(None), E.expires_at <= now), E.points),
                                         else_=0)), 0)
    debits = func.coalesce(func.sum(case((E.expires_at.is_(None), E.points), else_=0)), 0)
    left = lapsed + debits   # what the debits left of the lapsed lots (<= 0: nothing)
    due = case((left <= 0, 0), (left >= total, total), else_=left)
    return select(E.membership_id, total.label("total"), due.label("due")).where(*conditions).group_by(E.membership_id)


def balances(membership_ids: list[uuid.UUID], now: datetime | None = None) -> dict[uuid.UUID, int]:
    """Balances of many members in one query: the sum of each one's ledger less the points past their
    expiry (whether or not the ``expire`` entry is written yet), so expiry holds whatever the job's
    schedule."""
    out = {mid: 0 for mid in membership_ids}
    if membership_ids:
        rows = db.session().execute(ledger_sums(now or utcnow(), RetailPointsEntry.membership_id.in_(membership_ids)))
        out.update({mid: int(total or 0) - int(due or 0) for mid, total, due in rows})
    return out


def attach_balances(memberships: list[RetailMembership]) -> None:
    found = balances([m.id for m in memberships])
    for m in memberships:
        m.points_balance = found[m.id]


#: The most points one member may hold: it fits a 32-bit integer column on every database and GraphQL's Int.
MAX_BALANCE = 2_000_000_000


def check_balance_limit(balance: int, points: int, field: str = "points") -> None:
    """Refuse (422 on ``field``) a movement that would take a balance past :data:`MAX_BALANCE`."""
    if points > 0 and balance + points > MAX_BALANCE:
        raise ValidationFailed(fields={field: [
            f"This would take the balance from {balance:,} to {balance + points:,} points, over the maximum "
            f"of {MAX_BALANCE:,}. Redeem or adjust points first."]})


def _append(membership_id: uuid.UUID, kind: str, points: int, *, at: datetime, actor: Any = None,
            expires_at: datetime | None = None, reason: str = "", **refs) -> RetailPointsEntry:
    """Append one entry; the caller holds the member's lock (:func:`lock_member`). A debit may take
    only what the statement holds from ``at`` on (:func:`spendable_at`)."""
    current = balance_of(membership_id)
    if points < 0 and (available := spendable_at(membership_id, at)) + points < 0:
        raise ValidationFailed(fields={"points": [f"Only {available} points available."]})
    check_balance_limit(current, points)
    entry = RetailPointsEntry(membership_id=membership_id, kind=kind, points=points, balance_after=current + points,
                              occurred_at=at, expires_at=expires_at, reason=reason,
                              actor_id=getattr(actor, "id", None), **refs)
    db.session().add(entry)
    db.session().flush()
    return entry


def spendable_at(membership_id: uuid.UUID, at: datetime) -> int:
    """What a debit dated ``at`` may take without any running balance of the statement going below zero:
    the balance at ``at`` and the lowest running balance after it (a debit dated now: the balance). One
    statement; the caller holds the member's lock."""
    E = RetailPointsEntry
    entries = statement(E.membership_id == membership_id)
    upto = (select(func.coalesce(func.sum(E.points), 0))
            .where(E.membership_id == membership_id, E.occurred_at <= at).scalar_subquery())
    lowest_after = select(func.min(entries.balance_after)).where(entries.occurred_at > at).scalar_subquery()
    before, after = db.session().execute(select(upto, lowest_after)).one()
    return max(min(int(before or 0), int(after)) if after is not None else int(before or 0), 0)


def lot_expiry(at: datetime) -> datetime:
    return at + timedelta(days=programme.current().points_expiry_days)


def earn_points(total: Decimal, tier_code: str) -> int:
    prog = programme.current()
    value = (total * prog.points_per_unit * prog.tier(tier_code).multiplier).to_integral_value(rounding=ROUND_FLOOR)
    return max(int(value), 0)


#: the orderings of a member's ledger (``sort`` of :func:`ledger` and :func:`ledger_pages_for`)
LEDGER_SORTABLE = {"occurred_at": RetailPointsEntry.occurred_at, "points": RetailPointsEntry.points,
                   "balance_after": RetailPointsEntry.balance_after, "expires_at": RetailPointsEntry.expires_at}
def statement(*conditions):
    """The ledger as a statement: the entries matching ``conditions`` (they should select whole members),
    each with ``balance_after`` read as the running balance in statement order — the sum of the member's
    entries up to it by ``occurred_at`` (then the order they were written) — computed in the read by one
    window function, so an entry written later but dated earlier (a back-dated sale, an expiry dated when
    its lot expired) never leaves the running balance out of step with the order the statement is read
    in. The stored column keeps what the balance was when the entry was written (a check; the ledger
    itself is never updated). An aliased ``RetailPointsEntry``: read it with ``populate_existing`` so an
    entry already in the session takes the statement's balance."""
    from sqlalchemy.orm import aliased

    E = RetailPointsEntry
    running = func.sum(E.points).over(partition_by=E.membership_id,
                                      order_by=(E.occurred_at, E.created_at, E.id.desc()))
    columns = [c for c in E.__table__.c if c.key != "balance_after"]
    sub = select(*columns, running.label("balance_after")).where(*conditions).subquery("statement")
    return aliased(E, sub, adapt_on_names=True)


def _ledger_order(sort: str | None, entity=RetailPointsEntry) -> list:
    """The ORDER BY of a ledger read from ``entity`` (the table or a :func:`statement`); the id breaks
    ties last (ascending), so the default order is exactly the reverse of the statement's running order."""
    if not sort:
        return [entity.occurred_at.desc(), entity.created_at.desc()]
    return common.parse_sort(sort, {key: getattr(entity, key) for key in LEDGER_SORTABLE}, "-occurred_at")


def ledger(actor: Any, membership_id: Any, *, page=common.PageRequest(), sort: str | None = None):
    """One page of the member's points ledger, newest first (``sort`` — keys of ``LEDGER_SORTABLE`` —
    orders it otherwise), ``balance_after`` running in statement order (:func:`statement`)."""
    membership = get_membership(actor, membership_id)
    entries = statement(RetailPointsEntry.membership_id == membership.id)
    stmt = select(entries).execution_options(populate_existing=True)
    return common.paginate(stmt, page, _ledger_order(sort, entries), entries.id)


def filtered_ledger(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the entries :func:`ledger` lists, the member a filter (``LedgerListFilter``:
    ``membership_id`` required; a bad one is a ValidationFailed naming it), unordered and with
    ``balance_after`` as stored: what ``trellis export`` reads, each batch then shown through
    :func:`statement_views`."""
    membership = _member_filter(actor, S.LedgerListFilter, filters)
    return select(RetailPointsEntry).where(RetailPointsEntry.membership_id == membership.id)


def statement_views(_actor: Any, records: Sequence[RetailPointsEntry]) -> list[RetailPointsEntry]:
    """``records`` (ledger entries) as the ledger shows them, in the same order: each ``balance_after`` the
    running balance over its member's whole ledger (:func:`statement`), read in one query — the window
    runs over the members' entries, the outer query keeps the batch's. The entries are the same objects,
    refreshed (``populate_existing``: loaded state, nothing to write back)."""
    if not records:
        return []
    entries = statement(RetailPointsEntry.membership_id.in_(sorted({r.membership_id for r in records})))
    found = {e.id: e for e in db.session().scalars(select(entries).where(entries.id.in_([r.id for r in records]))
                                                   .execution_options(populate_existing=True))}
    return [found[r.id] for r in records]


def get_points_entry(actor: Any, entry_id: Any) -> RetailPointsEntry:
    """One ledger entry of a member the actor may see (GraphQL's ``node``), its ``balance_after`` as the
    statement shows it."""
    eid = common.parse_uuid(entry_id)
    mid = db.session().scalar(visible_points_entries(actor).with_only_columns(RetailPointsEntry.membership_id)
                              .where(RetailPointsEntry.id == eid))
    if mid is None:
        raise NotFound("No ledger entry with this id.")
    entries = statement(RetailPointsEntry.membership_id == mid)
    return db.session().scalars(select(entries).where(entries.id == eid)
                                .execution_options(populate_existing=True)).one()


def ledgers_for(membership_ids: list[uuid.UUID], limit: int) -> dict[uuid.UUID, list[RetailPointsEntry]]:
    """The newest ``limit`` entries of each member, in one query (a window function), as the statement
    shows them."""
    from sqlalchemy.orm import aliased

    out = {mid: [] for mid in membership_ids}
    if not membership_ids:
        return out
    entries = statement(RetailPointsEntry.membership_id.in_(membership_ids))
    ranked = (select(entries).add_columns(func.row_number().over(
        partition_by=entries.membership_id,
        order_by=(entries.occurred_at.desc(), entries.created_at.desc(), entries.id)).label("rank")).subquery())
    alias = aliased(RetailPointsEntry, ranked, adapt_on_names=True)
    for row in db.session().scalars(select(alias).where(ranked.c.rank <= limit)
                                    .order_by(ranked.c.membership_id, ranked.c.rank)
                                    .execution_options(populate_existing=True)):
        out[row.membership_id].append(row)
    return out


def ledger_pages_for(membership_ids: list[uuid.UUID], page: paging.KeysetRequest,
                     sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """A keyset page of each member's ledger (newest first; ``sort`` — keys of ``LEDGER_SORTABLE`` —
    orders it otherwise), in one statement (a window function), as the statement shows it."""
    entries = statement(RetailPointsEntry.membership_id.in_(membership_ids))
    return paging.seek_windows(db.session(), select(entries).execution_options(populate_existing=True),
                               entries.membership_id, membership_ids, page, _ledger_order(sort, entries), entries.id)


def _fifo(lots: list[tuple[datetime, int]], debit: int) -> list[tuple[datetime, int]]:
    """Consume ``debit`` points from ``lots`` (expiry, amount) oldest first; what is left of each lot."""
    left = []
    for expires_at, amount in lots:
        used = min(max(debit, 0), max(amount, 0))
        debit -= used
        if amount - used > 0:
            left.append((expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=timezone.utc), amount - used))
    return left


def _lots_and_debits(membership_ids: list[uuid.UUID]) -> tuple[dict, dict]:
    """Per member: lots ``[(expires_at, amount)]`` oldest first (credits and the reversals of them) and
    the total of debits (redemptions, expiries, negative adjustments), in two queries."""
    sess = db.session()
    lots: dict = {mid: [] for mid in membership_ids}
    for mid, expires_at, amount in sess.execute(
            select(RetailPointsEntry.membership_id, RetailPointsEntry.expires_at, func.sum(RetailPointsEntry.points))
            .where(RetailPointsEntry.membership_id.in_(membership_ids), RetailPointsEntry.expires_at.is_not(None))
            .group_by(RetailPointsEntry.membership_id, RetailPointsEntry.expires_at)
            .order_by(RetailPointsEntry.membership_id, RetailPointsEntry.expires_at)):
        lots[mid].append((expires_at, int(amount or 0)))
    debits = {mid: 0 for mid in membership_ids}
    debits.update({mid: -int(v or 0) for mid, v in sess.execute(
        select(RetailPointsEntry.membership_id, func.sum(RetailPointsEntry.points))
        .where(RetailPointsEntry.membership_id.in_(membership_ids), RetailPointsEntry.expires_at.is_(None))
        .group_by(RetailPointsEntry.membership_id))})
    return lots, debits


def fifo_lots(membership_id: uuid.UUID) -> list[tuple[datetime, int]]:
    """What is left of each lot (by expiry, oldest first) once every debit has consumed the oldest."""
    lots, debits = _lots_and_debits([membership_id])
    return _fifo(lots[membership_id], debits[membership_id])


def balance_report(actor: Any, membership_id: Any) -> dict:
    """The balance (points past their expiry left out, written off or not) and its money value, the
    ledger's sum as written, and the next lot to expire."""
    membership = get_membership(actor, membership_id)
    sess = db.session()
    now = utcnow()
    count = sess.scalar(select(func.count()).where(RetailPointsEntry.membership_id == membership.id))
    row = sess.execute(ledger_sums(now, RetailPointsEntry.membership_id == membership.id)).first()
    total, due = (int(row.total), int(row.due)) if row is not None else (0, 0)
    upcoming = [(at, pts) for at, pts in fifo_lots(membership.id) if at > now]
    prog = programme.current()
    return {"membership_id": membership.id, "balance": int(total) - int(due),
            "value": prog.points_money(int(total) - int(due)), "point_value": prog.point_value,
            "ledger_sum": int(total),
            "entries": count, "next_expiry": {"at": upcoming[0][0].isoformat(), "points": upcoming[0][1]} if upcoming else None}


def _due_lots(lots: list[tuple[datetime, int]], debits: int, balance: int, now: datetime) -> list[tuple[datetime, int]]:
    """The lots (expiry, points left) past their expiry at ``now``, oldest first, never more in all than
    ``balance``."""
    out = []
    for at, points in _fifo(lots, debits):
        if at > now or balance <= 0:
            break
        take = min(points, balance)
        out.append((at, take))
        balance -= take
    return out


def _expiry_entries(membership_id: uuid.UUID, lots: list, debits: int, now: datetime) -> list[RetailPointsEntry]:
    """Write an ``expire`` entry for each lot past its expiry at ``now`` (dated when the lot expired, so
    the statement shows it where it happened), audited; the caller holds the member's lock."""
    sess = db.session()
    balance = sum(amount for _, amount in lots) - debits
    entries = []
    for at, points in _due_lots(lots, debits, balance, now):
        balance -= points
        # the id is set here so the entries need no flush each: the ORM writes them in one batch
        entry = RetailPointsEntry(id=uuid.uuid4(), membership_id=membership_id, kind="expire", points=-points,
                                  balance_after=balance, occurred_at=at, reason="points past their expiry date")
        sess.add(entry)
        audit.record_change(None, "created", entry, {"kind": (None, "expire"), "points": (None, entry.points)},
                            payload={"membership_id": membership_id, "balance_after": entry.balance_after})
        entries.append(entry)
    return entries


def settle_expiry(membership_id: uuid.UUID, now: datetime | None = None) -> int:
    """Expire what is due of the member's lots before a debit takes points, so a redemption (an
    adjustment, a refund) can never spend points past their expiry however late the tick runs. The
    caller holds the member's lock. Returns the points expired."""
    lots, debits = _lots_and_debits([membership_id])
    entries = _expiry_entries(membership_id, lots[membership_id], debits[membership_id], now or utcnow())
    if entries:
        db.session().flush()
    return -sum(e.points for e in entries)


def redeem(actor: Any, membership_id: Any, data: Mapping[str, Any]) -> RetailPointsEntry:
    """Spend points; never below zero, even with concurrent redemptions."""
    membership = get_membership(actor, membership_id)
    values = common.validate(S.Redemption, data)
    lock_member(membership.id)
    settle_expiry(membership.id)
    entry = _append(membership.id, "redeem", -values["points"], at=utcnow(), actor=actor, reason=values["reason"])
    audit.record_change(actor, "created", entry, {"kind": (None, "redeem"), "points": (None, entry.points)},
                        payload={"membership_id": membership.id, "balance_after": entry.balance_after})
    return entry


def adjust(actor: Any, membership_id: Any, data: Mapping[str, Any]) -> RetailPointsEntry:
    """A manager's correction, with a reason. A positive adjustment is a lot that expires like earned points."""
    require_role(actor, Role.MANAGER.value, Role.ADMIN.value)
    membership = get_membership(actor, membership_id)
    values = common.validate(S.Adjustment, data)
    now = utcnow()
    lock_member(membership.id)
    settle_expiry(membership.id, now)
    entry = _append(membership.id, "adjust", values["points"], at=now, actor=actor, reason=values["reason"],
                    expires_at=lot_expiry(now) if values["points"] > 0 else None)
    audit.record_change(actor, "created", entry, {"kind": (None, "adjust"), "points": (None, entry.points),
                                                  "reason": (None, entry.reason)},
                        payload={"membership_id": membership.id, "balance_after": entry.balance_after})
    return entry


def award_bonus(actor: Any, membership_id: uuid.UUID, points: int, *, kind: str = "bonus", reason: str = "",
                at: datetime | None = None, **refs) -> RetailPointsEntry | None:
    """Credit points outside a purchase (campaign bonus, referral reward); the caller checked the rights.

    A gift never fails the sale or the launch that gives it: for a member near :data:`MAX_BALANCE` it is
    cut to what fits (the audit entry records ``capped_from``), and a member at the cap gets none (None)."""
    at = at or utcnow()
    lock_member(membership_id)
    granted = min(points, MAX_BALANCE - balance_of(membership_id))
    if granted <= 0:
        return None
    entry = _append(membership_id, kind, granted, at=at, actor=actor, reason=reason, expires_at=lot_expiry(at),
                    **refs)
    changes = {"kind": (None, kind), "points": (None, granted)}
    if granted < points:
        changes["capped_from"] = (None, points)
    audit.record_change(actor, "created", entry, changes,
                        payload={"membership_id": membership_id, "balance_after": entry.balance_after})
    return entry


def expire_points(now: datetime) -> int:
    """``trellis tick``: expire what is left of every lot whose time has come, oldest first — one
    ``expire`` entry per lot, dated when it expired. Idempotent: an expiry is a debit, so the next run
    finds nothing left to expire (nor does it after a debit settled the member: :func:`settle_expiry`).
    Members are locked (and read) 500 at a time; returns how many ``expire`` entries (lots) it wrote."""
    sess = db.session()
    lots = (select(RetailPointsEntry.membership_id, func.sum(RetailPointsEntry.points).label("due"))
            .where(RetailPointsEntry.expires_at.is_not(None), RetailPointsEntry.expires_at <= now)
            .group_by(RetailPointsEntry.membership_id).subquery())
    debits = (select(RetailPointsEntry.membership_id, func.sum(RetailPointsEntry.points).label("spent"))
              .where(RetailPointsEntry.expires_at.is_(None), RetailPointsEntry.points < 0)
              .group_by(RetailPointsEntry.membership_id).subquery())
    candidates = sess.execute(select(lots.c.membership_id).outerjoin(debits, debits.c.membership_id == lots.c.membership_id)
                              .where(lots.c.due + func.coalesce(debits.c.spent, 0) > 0)
                              .order_by(lots.c.membership_id)).scalars().all()
    expired = 0
    for start in range(0, len(candidates), 500):
        chunk = candidates[start:start + 500]
        lock_members(chunk)
        member_lots, member_debits = _lots_and_debits(chunk)
        for mid in chunk:
            expired += len(_expiry_entries(mid, member_lots[mid], member_debits[mid], now))
    return expired


# --- purchases ---------------------------------------------------------------------------------------

PURCHASE_SORT = {"occurred_at": RetailPurchase.occurred_at, "total": RetailPurchase.total,
                 "created_at": RetailPurchase.created_at}


def visible_purchases(actor: Any, *, deleted: bool = False):
    return select(RetailPurchase).where(visibility(actor, RetailPurchase), common.not_deleted(RetailPurchase, deleted))


def get_purchase(actor: Any, purchase_id: Any) -> RetailPurchase:
    row = db.session().scalars(visible_purchases(actor).where(RetailPurchase.id == common.parse_uuid(purchase_id))).first()
    if row is None:
        raise NotFound("No purchase with this id.")
    return row


def filtered_purchases(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the purchases the actor's list shows with ``filters`` (``PurchaseFilter``, checked: a
    bad one is a ValidationFailed naming it), unordered: the list pages it, ``trellis export`` reads it whole."""
    f = common.validate(S.PurchaseFilter, dict(filters or {}))
    stmt = visible_purchases(actor, deleted=f.pop("deleted"))
    if (after := f.pop("occurred_after", None)) is not None:
        stmt = stmt.where(RetailPurchase.occurred_at >= after)
    if (before := f.pop("occurred_before", None)) is not None:
        stmt = stmt.where(RetailPurchase.occurred_at < before)
    if category := f.pop("category", None):
        stmt = stmt.where(RetailPurchase.id.in_(select(RetailPurchaseLine.purchase_id)
                                                .where(RetailPurchaseLine.category == category)))
    for key, value in f.items():
        stmt = stmt.where(getattr(RetailPurchase, key) == value)
    return stmt


def list_purchases(actor: Any, filters: Mapping[str, Any] | None = None, *, page=common.PageRequest(), sort=None):
    return common.paginate(filtered_purchases(actor, filters), page,
                           common.parse_sort(sort, PURCHASE_SORT, "-occurred_at"), RetailPurchase.id)


def purchase_pages_for(membership_ids: list[uuid.UUID], page: paging.KeysetRequest,
                       sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """A keyset page of each member's purchases (newest first; ``sort`` — keys of ``PURCHASE_SORT``, as
    :func:`list_purchases` takes them — orders them otherwise), in one statement (a window function)."""
    return paging.seek_windows(db.session(), select(RetailPurchase).where(RetailPurchase.deleted_at.is_(None)),
                               RetailPurchase.membership_id, membership_ids, page,
                               common.parse_sort(sort, PURCHASE_SORT, "-occurred_at"), RetailPurchase.id)


def purchase_counts(membership_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    out = {mid: 0 for mid in membership_ids}
    if membership_ids:
        out.update(dict(db.session().execute(
            select(RetailPurchase.membership_id, func.count()).where(RetailPurchase.membership_id.in_(membership_ids),
                                                                     RetailPurchase.deleted_at.is_(None))
            .group_by(RetailPurchase.membership_id)).all()))
    return out


def _live_occasions():
    return select(RetailOccasion).where(RetailOccasion.deleted_at.is_(None))


def occasion_pages_for(membership_ids: list[uuid.UUID], page: paging.KeysetRequest,
                       sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """A keyset page of each member's occasions (calendar order; ``sort`` — keys of ``OCCASION_SORTABLE``
    — orders them otherwise), in one statement; the members are ones the caller was allowed to read
    (GraphQL's ``RetailMembership.occasions``, as :func:`occasions_of`)."""
    return paging.seek_windows(db.session(), _live_occasions(), RetailOccasion.membership_id, membership_ids, page,
                               common.parse_sort(sort, OCCASION_SORTABLE, OCCASION_DEFAULT_SORT), RetailOccasion.id)


def occasion_counts(membership_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return paging.count_windows(db.session(), _live_occasions(), RetailOccasion.membership_id, membership_ids)


def staff_pages_for(store_ids: list[uuid.UUID], page: paging.KeysetRequest,
                    sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """A keyset page of each store's staff (longest-serving first; ``sort`` — keys of ``STAFF_SORTABLE``
    — orders them otherwise), in one statement; the stores are ones the caller was allowed to read
    (GraphQL's ``RetailStore.staff``, as :func:`staff_of`)."""
    stmt, order = _staff(sort)
    return paging.seek_windows(db.session(), stmt, RetailStoreStaff.store_id, store_ids, page, order,
                               RetailStoreStaff.id)


def staff_counts(store_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return paging.count_windows(db.session(), select(RetailStoreStaff), RetailStoreStaff.store_id, store_ids)


def ledger_counts(membership_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    out = {mid: 0 for mid in membership_ids}
    if membership_ids:
        out.update(dict(db.session().execute(
            select(RetailPointsEntry.membership_id, func.count())
            .where(RetailPointsEntry.membership_id.in_(membership_ids))
            .group_by(RetailPointsEntry.membership_id)).all()))
    return out


def _resolve_store(values: dict) -> RetailStore:
    if "store_id" in values:
        store = db.session().get(RetailStore, values["store_id"])
        if store is None or store.deleted_at is not None:
            raise ValidationFailed(fields={"store_id": ["No store with this id."]})
        return store
    store = store_by_code(values["store_code"])
    if store is None:
        raise ValidationFailed(fields={"store_code": ["No store with this code."]})
    return store


def _resolve_member(actor: User, values: dict) -> RetailMembership:
    """The member of a sale. Staff at the till look a card up across stores (a member may shop anywhere);
    others must be able to see the member."""
    sess = db.session()
    if "membership_id" in values:
        stmt, field = select(RetailMembership).where(RetailMembership.id == values["membership_id"]), "membership_id"
    else:
        stmt, field = select(RetailMembership).where(RetailMembership.card_number == values["card_number"]), "card_number"
    stmt = stmt.where(RetailMembership.deleted_at.is_(None))
    if actor.role != STAFF_ROLE:
        stmt = stmt.where(visibility(actor, RetailMembership))
    member = sess.scalar(stmt)
    if member is None:
        raise ValidationFailed(fields={field: ["No member with this card." if field == "card_number"
                                               else "No membership with this id."]})
    return member


def _amounts(values: dict) -> tuple[list[dict], Decimal, Decimal, Decimal | None]:
    """The lines with their amounts, the subtotal (their sum), the discount and the total. The lines
    minus ``discount`` (0 when not sent) must make the total: a total below the lines is not taken for a
    discount the POS did not send, and either way the 422 on ``total`` shows the two amounts. Without a
    ``total`` the till prices the sale: the total is None here (and a ``discount`` a 422)."""
    lines = [{**line, "line_no": i + 1, "amount": (line["unit_price"] * line["quantity"]).quantize(CENT)}
             for i, line in enumerate(values["lines"])]
    subtotal = sum((line["amount"] for line in lines), Decimal("0"))
    if values.get("total") is None:  # the till prices it (record_purchase): the discount is its own
        if values.get("discount") is not None:
            raise ValidationFailed(fields={"discount": [
                "Send a discount only with the total the POS priced; without `total` the till prices the sale "
                "(the tier's discount and the coupon)."]})
        return lines, subtotal, Decimal("0.00"), None
    total = values["total"].quantize(CENT)
    if values.get("discount") is None:
        discount = Decimal("0.00")
        if subtotal != total:
            raise ValidationFailed(fields={"total": [f"The lines add up to {subtotal}, not {total} (send a discount "
                                                     f"as `discount`)."]})
    else:
        discount = values["discount"].quantize(CENT)
        if subtotal - discount != total:
            raise ValidationFailed(fields={"total": [f"The lines add up to {subtotal}; minus the discount of "
                                                     f"{discount} that is {subtotal - discount}, not {total}."]})
    return lines, subtotal, discount, total


#: how far ahead of the server's clock a POS may date a sale or a refund (clocks drift a little)
CLOCK_SKEW = timedelta(minutes=5)


def _not_ahead(at: datetime, field: str = "occurred_at") -> None:
    """Refuse (422 on ``field``) a moment more than :data:`CLOCK_SKEW` ahead of now."""
    now = utcnow()
    if at > now + CLOCK_SKEW:
        raise ValidationFailed(fields={field: [f"{at.isoformat()} is in the future (it is {now:%Y-%m-%d %H:%M} UTC)."]})


def _iso(value: datetime) -> str:
    return value.isoformat()


def _recorded(actor: User, store: RetailStore, member: RetailMembership, pos_transaction_id: str,
              total: Decimal | None, subtotal: Decimal) -> RetailPurchase | None:
    """The purchase already recorded under this POS transaction id at the store, for a retry by someone
    who may read it. ``member`` was resolved through the caller's scope first, so a caller naming a
    member they cannot see never gets here (422 on the card, as for a fresh POS id). A POS id taken by
    another member's sale — one the caller may not see, or one of another member they may — is a 409
    that names nothing of that sale; one taken by this member's sale with another total is a 409 naming
    the total (the caller may read that sale)."""
    existing = db.session().scalar(select(RetailPurchase).where(RetailPurchase.store_id == store.id,
                                                                RetailPurchase.pos_transaction_id == pos_transaction_id))
    if existing is None:
        return None
    readable = db.session().scalar(select(RetailPurchase.id).where(
        RetailPurchase.id == existing.id, visibility(actor, RetailPurchase))) is not None
    if existing.membership_id != member.id or not readable:
        raise Conflict(f"POS transaction {pos_transaction_id} is already used at {store.code} for another sale.",
                       fields={"pos_transaction_id": ["Already used."]})
    if total is None and existing.subtotal != subtotal:  # priced by the till: the lines must be the same
        raise Conflict(f"POS transaction {pos_transaction_id} was recorded at {store.code} with other lines "
                       f"(adding up to {existing.subtotal}).", fields={"pos_transaction_id": ["Already used."]})
    if total is not None and existing.total != total:
        raise Conflict(f"POS transaction {pos_transaction_id} was recorded at {store.code} with another "
                       f"total ({existing.total}).", fields={"pos_transaction_id": ["Already used."]})
    return existing


def record_purchase(actor: Any, data: Mapping[str, Any], *, _values: dict | None = None) -> tuple[RetailPurchase, bool]:
    """Record a POS sale: lines, points earned at the member's tier, spend and tier, the purchase on the
    customer's timeline. Returns ``(purchase, created)``: a POS transaction id already recorded at the
    store for this member returns the first purchase unchanged (``created`` False) — retried uploads
    never count twice. The member is resolved through the caller's scope before any retry is looked up,
    so a retry is answered only to someone who may read the sale (see :func:`_recorded`)."""
    user = require_actor(actor)
    values = _values if _values is not None else common.validate(S.PurchaseIn, data)
    store = _resolve_store(values)
    _may_sell_at(user, store)
    sess = db.session()
    _not_ahead(values["occurred_at"])
    lines, subtotal, discount, total = _amounts(values)
    member = _resolve_member(user, values)
    pos_id = values["pos_transaction_id"]
    if (existing := _recorded(user, store, member, pos_id, total, subtotal)) is not None:
        return existing, False
    lock_member(member.id)
    # a retry sent while the first upload was in flight waited for the lock: the first is committed now
    if (existing := _recorded(user, store, member, pos_id, total, subtotal)) is not None:
        return existing, False
    sess.refresh(member)
    coupon = _take_coupon(member, values.get("coupon_code"), values["occurred_at"])
    tier_discount = coupon_discount = None
    if total is None:  # the till prices the sale: the tier's discount, then the coupon's value
        tier_discount, coupon_discount = price(subtotal, member.tier, coupon[1] if coupon else None)
        discount = tier_discount + (coupon_discount or Decimal("0.00"))
        total = subtotal - discount
    earned = earn_points(total, member.tier)
    check_balance_limit(balance_of(member.id), earned, field="total")  # before any row is written
    first = member.purchase_count == 0
    purchase = RetailPurchase(
        membership_id=member.id, customer_id=member.customer_id, store_id=store.id,
        pos_transaction_id=pos_id, occurred_at=values["occurred_at"], subtotal=subtotal,
        discount=discount, tier_discount=tier_discount, coupon_discount=coupon_discount,
        coupon_code=coupon[0].coupon_code if coupon else None, total=total, payment_method=values["payment_method"],
        tier_at_purchase=member.tier, points_earned=earned,
        lines=[RetailPurchaseLine(**{k: line[k] for k in ("line_no", "sku", "category", "quantity", "unit_price",
                                                          "amount")}) for line in lines])
    sess.add(purchase)
    sess.flush()
    if coupon is not None:
        use_coupon(user, coupon[0], purchase.occurred_at, purchase=purchase)
    if purchase.points_earned:
        _append(member.id, "earn", purchase.points_earned, at=purchase.occurred_at, actor=user,
                expires_at=lot_expiry(purchase.occurred_at), purchase_id=purchase.id,
                reason=f"{store.code} #{purchase.pos_transaction_id}")
    member.spend_total = (member.spend_total or Decimal("0")) + total
    member.purchase_count += 1
    if member.first_purchase_at is None or purchase.occurred_at < member.first_purchase_at:
        member.first_purchase_at = purchase.occurred_at
    if member.last_purchase_at is None or purchase.occurred_at > member.last_purchase_at:
        member.last_purchase_at = purchase.occurred_at
        _close_lapses(member.id, purchase.occurred_at)
    sess.flush()
    interaction = interactions.create(user, {
        "customer_id": str(member.customer_id), "kind": "purchase", "direction": "inbound", "status": "done",
        "subject": f"{store.name}: {sum(line['quantity'] for line in lines) or 1} item(s)",
        "occurred_at": _iso(purchase.occurred_at), "amount": str(total)}, source=PLUGIN)
    purchase.interaction_id = interaction.id
    sess.flush()
    audit.record_change(user, "created", purchase, {
        "pos_transaction_id": (None, purchase.pos_transaction_id), "total": (None, total),
        "points_earned": (None, purchase.points_earned),
        **({"tier_discount": (None, tier_discount)} if tier_discount is not None else {}),
        **({"coupon_code": (None, purchase.coupon_code), "coupon_discount": (None, coupon_discount)}
           if coupon is not None else {})},
        payload={"membership_id": member.id, "store_id": store.id, "customer_id": member.customer_id})
    retier(user, member, now=max(purchase.occurred_at, utcnow()), event="retail_membership_purchase.created")
    if first and member.referred_by_id is not None:
        _reward_referrer(user, member, purchase)
    return purchase, True


def record_purchase_out(actor: Any, data: Mapping[str, Any]) -> RetailPurchase:
    return record_purchase(actor, data)[0]


def upload_batch(actor: Any, data: Mapping[str, Any]) -> dict:
    """The POS upload: a batch of purchases. The whole batch is validated first (a bad row is a 422
    naming ``purchases.<index>.<field>``, nothing written); then each purchase is recorded, and one
    already recorded counts as a duplicate and changes nothing — so uploading a batch twice leaves the
    same records, points and tiers as uploading it once."""
    values = common.validate(S.PurchaseBatch, data)
    items = []
    created = 0
    ordered = sorted(enumerate(values["purchases"]), key=lambda pair: pair[1]["occurred_at"])
    for index, row in ordered:
        try:
            purchase, new = record_purchase(actor, {}, _values=row)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, fields={f"purchases.{index}.{k}": v for k, v in exc.fields.items()}) from None
        except Conflict as exc:  # a POS id reused with another total, within the batch or against a stored sale
            raise Conflict(exc.message, fields={f"purchases.{index}.{k}": v for k, v in (exc.fields or {}).items()}) from None
        created += int(new)
        items.append({"index": index, "pos_transaction_id": purchase.pos_transaction_id,
                      "status": "created" if new else "duplicate", "purchase_id": purchase.id,
                      "points_earned": purchase.points_earned})
    items.sort(key=lambda item: item["index"])
    return {"received": len(items), "created": created, "duplicates": len(items) - created, "items": items}


def _close_lapses(membership_id: uuid.UUID, at: datetime) -> None:
    db.session().execute(update(RetailLapseAlert).where(RetailLapseAlert.membership_id == membership_id,
                                                        RetailLapseAlert.returned_at.is_(None))
                         .values(returned_at=at).execution_options(synchronize_session=False))


def _take_coupon(member: RetailMembership, code: str | None,
                 at: datetime) -> tuple[RetailCampaignMember, RetailCampaign] | None:
    """The member's coupon given with a sale at ``at``, checked (a 422 on ``coupon_code`` saying why it
    cannot be used: not this member's, campaign not running, expired, used, worth 0.00)."""
    if not code:
        return None
    found = db.session().execute(
        select(RetailCampaignMember, RetailCampaign).join(RetailCampaign, RetailCampaign.id == RetailCampaignMember.campaign_id)
        .where(RetailCampaignMember.coupon_code == code)).first()
    if found is None or found[0].membership_id != member.id:
        raise ValidationFailed(fields={"coupon_code": ["No coupon with this code for this member."]})
    if (problem := coupon_problem(found[0], found[1], at)) is not None:
        raise ValidationFailed(fields={"coupon_code": [problem]})
    return found[0], found[1]


# --- coupons and pricing at the till ---------------------------------------------------------------

def coupon_expires_at(campaign: RetailCampaign) -> datetime | None:
    """A coupon is good for the campaign's days: from the launch to ``goal_days`` after it."""
    if campaign.launched_at is None:
        return None
    return campaign.launched_at + timedelta(days=campaign.goal_days)


def coupon_problem(row: RetailCampaignMember, campaign: RetailCampaign, at: datetime) -> str | None:
    """Why the coupon cannot be used at ``at``, or None when it can: its campaign must be running (launched,
    not closed or deleted), ``at`` within the campaign's days, the coupon unused and worth more than 0.00
    (a coupon that takes nothing off is refused rather than used up for nothing). A sale dated before
    the launch may use it (a POS uploading late, a clock behind): only the end is checked."""
    if campaign.deleted_at is not None or campaign.status != "launched" or campaign.offer_kind != "coupon":
        return "This coupon's campaign is not running."
    if row.coupon_redeemed_at is not None:
        return "This coupon was already used."
    if (campaign.offer_value or 0) <= 0:
        return "This coupon is worth 0.00: it takes nothing off, so it is not taken."
    expires = coupon_expires_at(campaign)
    if at > expires:
        return f"This coupon expired on {expires:%Y-%m-%d %H:%M} UTC."
    return None


def use_coupon(actor: Any, row: RetailCampaignMember, at: datetime, *, purchase: RetailPurchase | None = None) -> None:
    """Mark a checked coupon used (audited), only if it is still unused: a concurrent use that got there
    first makes this a 409 on ``coupon_code`` (the transaction then writes nothing)."""
    done = db.session().execute(
        update(RetailCampaignMember).where(RetailCampaignMember.id == row.id,
                                           RetailCampaignMember.coupon_redeemed_at.is_(None))
        .values(coupon_redeemed_at=at, coupon_purchase_id=purchase.id if purchase else None)
        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise Conflict("This coupon was already used.", fields={"coupon_code": ["Already used."]})
    db.session().refresh(row)
    payload = {"membership_id": row.membership_id}
    if purchase is not None:
        payload["purchase_id"] = purchase.id
    audit.record_change(actor, "updated", row, {"coupon_redeemed_at": (None, at)}, payload=payload)


def price(subtotal: Decimal, tier_code: str, campaign: RetailCampaign | None) -> tuple[Decimal, Decimal | None]:
    """The till's pricing of a sale of ``subtotal``: ``(tier discount, coupon discount)``. The tier's
    discount rate comes off first (rounded half up to the cent), then the coupon's value, never more than
    what is left (a ¥50 coupon on a ¥30 sale takes ¥30). The coupon discount is None without a coupon."""
    rate = programme.current().tier(tier_code).discount
    tier_discount = (subtotal * rate).quantize(CENT, rounding=ROUND_HALF_UP)
    if campaign is None:
        return tier_discount, None
    return tier_discount, min(campaign.offer_value.quantize(CENT), subtotal - tier_discount)


def _offers(actor: Any, membership_id: uuid.UUID, now: datetime) -> list[tuple[RetailCampaignMember, RetailCampaign]]:
    """The running campaigns (launched, within their days, campaigns the actor may read) the member was
    drawn to get the offer of — never the control group's, which must not hear of it — in one statement."""
    rows = db.session().execute(
        select(RetailCampaignMember, RetailCampaign).join(RetailCampaign, RetailCampaign.id == RetailCampaignMember.campaign_id)
        .where(RetailCampaignMember.membership_id == membership_id, RetailCampaignMember.group == "treated",
               RetailCampaign.status == "launched", RetailCampaign.deleted_at.is_(None),
               RetailCampaign.launched_at <= now, visibility(actor, RetailCampaign))
        .order_by(RetailCampaign.launched_at, RetailCampaign.id)).all()
    return [(m, c) for m, c in rows if coupon_expires_at(c) >= now]


def till_lookup(actor: Any, args: Mapping[str, Any]) -> dict:
    """What a clerk needs at the till, found by the member's phone (any usual form: ``+86 138-0013-8000``,
    ``0086…``, ``138…``; :func:`core.phones.phone_key`) or card number (exactly): the card with the
    customer's name, the tier (its discount), the points balance and its money value, the coupons usable
    now and the running campaigns the member gets the offer of. Scoped like every read of a member (404
    outside it); a fixed number of statements whatever the member holds."""
    require_actor(actor)
    values = common.validate(S.RetailTillLookupArgs, dict(args))
    stmt = visible_memberships(actor).options(joinedload(RetailMembership.customer).options(lazyload(Customer.tag_rows)))
    if "phone" in values:
        key = phone_key(values["phone"])
        if not key:
            raise ValidationFailed(fields={"phone": ["Not a phone number: give at least 5 digits."]})
        stmt = stmt.where(RetailMembership.phone_key == key)
    else:
        stmt = stmt.where(RetailMembership.card_number == values["card"])
    member = db.session().scalars(stmt).unique().first()
    if member is None:
        raise NotFound("No member with this phone number." if "phone" in values else "No member with this card number.")
    now = utcnow()
    prog = programme.current()
    member.points_balance = balances([member.id], now)[member.id]
    tier = prog.tier(member.tier)
    offers = _offers(actor, member.id, now)
    coupons = [{"code": m.coupon_code, "campaign_id": c.id, "campaign_name": c.name, "value": c.offer_value,
                "description": c.offer_description, "expires_at": coupon_expires_at(c)}
               for m, c in offers if m.coupon_code and coupon_problem(m, c, now) is None]
    return {"membership": member,
            "tier": tier,
            "points_balance": member.points_balance, "points_value": prog.points_money(member.points_balance),
            "point_value": prog.point_value, "coupons": coupons,
            "campaigns": [{"campaign_id": c.id, "name": c.name, "offer_kind": c.offer_kind, "offer_value": c.offer_value,
                           "offer_description": c.offer_description, "ends_at": coupon_expires_at(c),
                           "coupon_code": m.coupon_code, "coupon_used": m.coupon_redeemed_at is not None}
                          for m, c in offers]}


def _reward_referrer(actor: User, member: RetailMembership, purchase: RetailPurchase) -> None:
    bonus = programme.current().referral_bonus
    referrer = db.session().get(RetailMembership, member.referred_by_id)
    if bonus <= 0 or referrer is None or referrer.deleted_at is not None:
        return
    already = db.session().scalar(select(RetailPointsEntry.id).where(
        RetailPointsEntry.membership_id == referrer.id, RetailPointsEntry.kind == "referral",
        RetailPointsEntry.reason == f"referred {member.card_number}"))
    if already is None:
        award_bonus(actor, referrer.id, bonus, kind="referral", reason=f"referred {member.card_number}",
                    at=purchase.occurred_at, purchase_id=purchase.id)


# --- refunds -----------------------------------------------------------------------------------------

#: the orderings of the refunds list (``sort`` of :func:`list_refunds`)
REFUND_SORTABLE = {"occurred_at": RetailRefund.occurred_at, "amount": RetailRefund.amount,
                   "points_reversed": RetailRefund.points_reversed, "created_at": RetailRefund.created_at}


def filtered_refunds(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the refunds the actor's list shows with ``filters`` (``RefundFilter``, checked),
    unordered: :func:`list_refunds` pages it, ``trellis export`` reads it whole."""
    f = common.validate(S.RefundFilter, dict(filters or {}))
    stmt = select(RetailRefund).where(visibility(actor, RetailRefund), RetailRefund.deleted_at.is_(None))
    for key, value in f.items():
        stmt = stmt.where(getattr(RetailRefund, key) == value)
    return stmt


def list_refunds(actor: Any, filters: Mapping[str, Any] | None = None, *, page=common.PageRequest(), sort=None):
    """Refunds of the members the actor may see, newest first (``sort``: keys of ``REFUND_SORTABLE``)."""
    return common.paginate(filtered_refunds(actor, filters), page, common.parse_sort(sort, REFUND_SORTABLE, "-occurred_at"), RetailRefund.id)


def _refunded(purchase: RetailPurchase, values: Mapping[str, Any]) -> RetailRefund | None:
    """The refund already recorded under this POS refund id (a 409 if it was for another amount)."""
    existing = db.session().scalar(select(RetailRefund).where(RetailRefund.purchase_id == purchase.id,
                                                              RetailRefund.pos_refund_id == values["pos_refund_id"]))
    if existing is not None and "amount" in values and values["amount"].quantize(CENT) != existing.amount:
        raise Conflict(f"POS refund {values['pos_refund_id']} was recorded with another amount ({existing.amount}).",
                       fields={"pos_refund_id": ["Already used."]})
    return existing


def refund(actor: Any, data: Mapping[str, Any]) -> tuple[RetailRefund, bool]:
    """Refund a purchase fully or in part: the spend and the points it earned are taken back in
    proportion (never below a zero balance — what cannot be taken back is recorded as unrecovered),
    the timeline entry shows the net amount, and the tier is recomputed. Idempotent by
    ``pos_refund_id``."""
    user = require_actor(actor)
    values = common.validate(S.RefundIn, data)
    try:
        purchase = get_purchase(user, values["purchase_id"])
    except NotFound:
        raise ValidationFailed(fields={"purchase_id": ["No purchase with this id."]}) from None
    _may_sell_at(user, db.session().get(RetailStore, purchase.store_id))
    sess = db.session()
    if (existing := _refunded(purchase, values)) is not None:
        return existing, False
    if values.get("occurred_at") is not None:
        _not_ahead(values["occurred_at"])
        if values["occurred_at"] < purchase.occurred_at:
            raise ValidationFailed(fields={"occurred_at": [
                f"The refund cannot be before the sale ({purchase.occurred_at.isoformat()})."]})
    member = sess.get(RetailMembership, purchase.membership_id)
    lock_member(member.id)
    # a retry sent while the first was in flight waited for the lock: the first is committed now
    if (existing := _refunded(purchase, values)) is not None:
        return existing, False
    sess.refresh(member)
    sess.refresh(purchase)
    settle_expiry(member.id)
    remaining = purchase.total - purchase.refunded_total
    amount = values.get("amount", remaining)
    amount = amount.quantize(CENT) if isinstance(amount, Decimal) else Decimal(str(amount)).quantize(CENT)
    if amount <= 0 or amount > remaining:
        raise ValidationFailed(fields={"amount": [f"At most {remaining} is left to refund on this purchase."]})
    already = int(sess.scalar(select(func.coalesce(func.sum(RetailRefund.points_reversed + RetailRefund.points_unrecovered), 0))
                              .where(RetailRefund.purchase_id == purchase.id)) or 0)
    refunded_after = purchase.refunded_total + amount
    target = (purchase.points_earned if refunded_after == purchase.total or purchase.total == 0 else
              int((Decimal(purchase.points_earned) * refunded_after / purchase.total).to_integral_value(ROUND_FLOOR)))
    to_reverse = max(target - already, 0)
    now = values.get("occurred_at") or utcnow()
    # a refund dated in the past takes back no more than the statement still holds from then on
    reversed_now = min(to_reverse, spendable_at(member.id, now))
    row = RetailRefund(purchase_id=purchase.id, membership_id=member.id, pos_refund_id=values["pos_refund_id"],
                       occurred_at=now, amount=amount, reason=values["reason"], points_reversed=reversed_now,
                       points_unrecovered=to_reverse - reversed_now)
    sess.add(row)
    sess.flush()
    if reversed_now:
        lot = sess.scalar(select(RetailPointsEntry.expires_at).where(RetailPointsEntry.purchase_id == purchase.id,
                                                                     RetailPointsEntry.kind == "earn"))
        _append(member.id, "reverse", -reversed_now, at=now, actor=user, expires_at=lot, purchase_id=purchase.id,
                refund_id=row.id, reason=f"refund {row.pos_refund_id}")
    purchase.refunded_total = refunded_after
    member.spend_total = (member.spend_total or Decimal("0")) - amount
    sess.flush()
    if purchase.interaction_id is not None:
        timeline_row = interactions.get(user, purchase.interaction_id)
        interactions.update(user, timeline_row.id, {"version": timeline_row.version,
                                                    "amount": str(purchase.total - purchase.refunded_total)})
    audit.record_change(user, "created", row, {"amount": (None, amount), "points_reversed": (None, reversed_now)},
                        payload={"purchase_id": purchase.id, "membership_id": member.id,
                                 "points_unrecovered": row.points_unrecovered})
    retier(user, member, now=utcnow(), event="retail_membership_refund.created")
    return row, True


# --- lapsed regulars ---------------------------------------------------------------------------------

#: the orderings of the lapsed regulars (``sort`` of :func:`list_lapses`)
LAPSE_SORTABLE = {"flagged_at": RetailLapseAlert.flagged_at, "last_purchase_at": RetailLapseAlert.last_purchase_at,
                  "absent_days": RetailLapseAlert.absent_days, "usual_gap_days": RetailLapseAlert.usual_gap_days,
                  "returned_at": RetailLapseAlert.returned_at}


def filtered_lapses(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the lapsed regulars the actor's list shows with ``filters`` (``LapseFilter``, checked),
    unordered: :func:`list_lapses` pages it, ``trellis export`` reads it whole."""
    f = common.validate(S.LapseFilter, dict(filters or {}))
    stmt = select(RetailLapseAlert).where(visibility(actor, RetailLapseAlert))
    if f.get("open"):
        stmt = stmt.where(RetailLapseAlert.returned_at.is_(None))
    if f.get("store_id"):
        stmt = stmt.where(RetailLapseAlert.membership_id.in_(
            select(RetailMembership.id).where(RetailMembership.home_store_id == f["store_id"])))
    return stmt


def list_lapses(actor: Any, filters: Mapping[str, Any] | None = None, *, page=common.PageRequest(), sort=None):
    """Lapsed regulars of the members the actor may see, newest flag first (``sort``: keys of
    ``LAPSE_SORTABLE``)."""
    return common.paginate(filtered_lapses(actor, filters), page,
                           common.parse_sort(sort, LAPSE_SORTABLE, "-flagged_at"), RetailLapseAlert.id)

