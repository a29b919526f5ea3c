"""Who may see and change which records. Every service calls these; no view or resolver does.

The rule of the core: an admin sees every customer; a manager the customers owned by their team
(and unowned ones, which they allocate); a rep the customers they own. Contacts and interactions follow
their customer. A record outside the caller's scope is reported as not found, so ids cannot be probed.
"""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, select, true
from sqlalchemy.sql.expression import True_

from core import db
from core.errors import Forbidden, Unauthenticated, ValidationFailed
from core.models import Customer, Role, User


def require_actor(actor: Any) -> User:
    """``actor`` if it is a signed-in, active user; otherwise :class:`Unauthenticated`. Every service
    entry point calls it (or a function that does) before reading anything."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", True):
        raise Unauthenticated()
    return actor


def require_role(actor: Any, *roles: str) -> User:
    """:func:`require_actor`, and :class:`Forbidden` naming ``roles`` unless the user has one of them."""
    user = require_actor(actor)
    if user.role not in roles:
        raise Forbidden(f"This needs one of the roles: {', '.join(roles)}.")
    return user


def team_member_ids(team_id: uuid.UUID | None):
    return select(User.id).where(User.team_id == team_id)


def _plugin_grants(actor: User, model: type) -> list[ColumnElement[bool]]:
    from core import runtime

    grants = []
    for _owner, scope in runtime.current().scopes.get(model, []):
        condition = scope(actor)
        if condition is not None:
            grants.append(condition)
    return grants


def customer_visibility(actor: Any) -> ColumnElement[bool]:
    """A WHERE condition on ``Customer`` limited to what ``actor`` may see: the core's rule for its
    roles, OR-ed with whatever plugin scopes grant (``trellis_record_scopes``)."""
    user = require_actor(actor)
    if user.role == Role.ADMIN.value:
        return true()
    if user.role == Role.MANAGER.value:
        conditions = [Customer.owner_id.is_(None), Customer.owner_id == user.id]
        if user.team_id is not None:
            conditions.append(Customer.owner_id.in_(team_member_ids(user.team_id)))
    elif user.role == Role.REP.value:
        conditions = [Customer.owner_id == user.id]
    else:
        conditions = []
    conditions += _plugin_grants(user, Customer)
    return or_(*conditions) if conditions else false()


def sees_every_customer(actor: Any) -> bool:
    """Whether ``actor``'s scope is every customer (an admin's): their statements need no scope condition,
    so none needs the customer's row for it."""
    return isinstance(customer_visibility(actor), True_)


def customer_is_live(customer_id: Any) -> ColumnElement[bool]:
    """A condition on a row of a customer's (a contact, an interaction; ``customer_id``: its column): its
    customer is live, i.e. no customer in the bin has that id (every such row's customer exists: a foreign
    key). The same rows as joining ``customer`` with ``deleted_at IS NULL``, read from
    ``ix_customer_bin_id`` (the ids in the bin, a few) instead of a probe of every live customer's id per
    row: a capped count of 2,001 interactions at 1 M customers spent 4.5 ms in those probes."""
    return ~exists().where(Customer.id == customer_id, Customer.deleted_at.is_not(None))


def visibility(actor: Any, model: type) -> ColumnElement[bool]:
    """A WHERE condition on a plugin's ``model``: admins see every row, everyone else what the scopes
    declared for the model grant (nothing when none do)."""
    user = require_actor(actor)
    if user.role == Role.ADMIN.value:
        return true()
    grants = _plugin_grants(user, model)
    return or_(*grants) if grants else false()


def check_owner_assignment(actor: User, owner_id: uuid.UUID | None, field: str = "owner_id") -> None:
    """A rep may only own customers themselves; a manager may give them to their team; an admin to anyone."""
    if owner_id is None:
        if actor.role == Role.REP.value:
            raise Forbidden("A rep cannot leave a customer without an owner.")
        return
    owner = db.session().get(User, owner_id)
    if owner is None or owner.deleted_at is not None or not owner.is_active:
        raise ValidationFailed(fields={field: ["No active user has this id."]})
    if actor.role == Role.ADMIN.value or owner.id == actor.id:
        return
    if actor.role == Role.MANAGER.value and actor.team_id is not None and owner.team_id == actor.team_id:
        return
    raise Forbidden("You may only assign customers to yourself" +
                    (" or your team." if actor.role == Role.MANAGER.value else "."))
