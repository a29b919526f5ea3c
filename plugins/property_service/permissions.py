"""Property service (物业服务): who sees which records, declared through ``trellis_record_scopes``.

- The customer-service centre (role ``property_centre``) and admins see every service request; the
  centre also sees the customers it serves (owners and residents linked to units, requesters, and the
  customers it created).
- A service team's members and manager (role ``property_staff``) see their teams' requests and the
  requesters of those requests.
- A core rep or manager sees the requests of the customers the core lets them see (a rep: their own).
- Estates, buildings, units, teams, kinds and SLA policies are reference data every signed-in user reads;
  occupancies follow their customer except for the centre and staff.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import false, or_, select, true

from core.errors import Forbidden
from core.models import Customer, Role, User
from core.services.permissions import customer_visibility, require_actor
from plugins.property_service.labels import CENTRE, STAFF
from plugins.property_service.models import PsOccupancy, PsRequest, PsTeam, PsTeamMember


def is_centre(user: User) -> bool:
    return user.role in (Role.ADMIN.value, CENTRE)


def require_centre(actor: Any) -> User:
    user = require_actor(actor)
    if not is_centre(user):
        raise Forbidden("Only the customer-service centre or an admin may do this.")
    return user


def team_ids_of(user: User):
    """SELECT of the ids of the live teams ``user`` serves on or manages."""
    return select(PsTeam.id).where(
        PsTeam.deleted_at.is_(None),
        or_(PsTeam.manager_id == user.id,
            PsTeam.id.in_(select(PsTeamMember.team_id).where(PsTeamMember.user_id == user.id))))


def request_scope(actor: User):
    if actor.role == CENTRE:
        return true()
    conditions = [PsRequest.team_id.in_(team_ids_of(actor))]
    if actor.role in (Role.REP.value, Role.MANAGER.value):
        conditions.append(PsRequest.requester_id.in_(select(Customer.id).where(customer_visibility(actor))))
    return or_(*conditions)


def customer_scope(actor: User):
    if actor.role == CENTRE:
        return or_(Customer.owner_id == actor.id,
                   Customer.id.in_(select(PsOccupancy.customer_id).where(PsOccupancy.deleted_at.is_(None))),
                   Customer.id.in_(select(PsRequest.requester_id).where(PsRequest.deleted_at.is_(None))))
    if actor.role == STAFF:
        return Customer.id.in_(select(PsRequest.requester_id).where(
            PsRequest.deleted_at.is_(None), PsRequest.team_id.in_(team_ids_of(actor))))
    return None


def everyone(actor: User):
    """Reference data: every signed-in user reads it."""
    return true()


def occupancy_scope(actor: User):
    if actor.role in (CENTRE, STAFF):
        return true()
    if actor.role in (Role.REP.value, Role.MANAGER.value):
        return PsOccupancy.customer_id.in_(select(Customer.id).where(customer_visibility(actor)))
    return false()


def scopes() -> dict:
    from plugins.property_service import models as m

    return {Customer: customer_scope, m.PsRequest: request_scope, m.PsOccupancy: occupancy_scope,
            m.PsEstate: everyone, m.PsBuilding: everyone, m.PsUnit: everyone, m.PsTeam: everyone,
            m.PsKind: everyone, m.PsSlaPolicy: everyone}
