"""Managing the people who work customers: users and teams.

Admins create and change users and teams; a manager sees their team; a rep sees their team's members
(to hand tasks to a colleague). Changing a user's team or role changes what they see at once, since
every permission check reads them per request.
"""
from __future__ import annotations

from typing import Any, Mapping

from marshmallow import fields, validate
from sqlalchemy import func, select

from core import db
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import Role, Team, User
from core.schemas import StrictSchema
from core.services import audit, common, users
from core.services.permissions import require_actor, require_role


class UserUpdate(StrictSchema):
    version = fields.Integer(required=True)
    name = fields.String(validate=validate.Length(max=120))
    role = fields.String(validate=validate.Length(min=1, max=40))
    team_id = fields.UUID(allow_none=True)
    is_active = fields.Boolean()
    locale = fields.String(validate=validate.OneOf(["en", "zh-CN"]))


class UserFilter(StrictSchema):
    q = fields.String(validate=validate.Length(max=120))
    role = fields.String(validate=validate.Length(max=40))
    team_id = fields.UUID()


class SalesTeamCreate(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    manager_id = fields.UUID(allow_none=True)


def visible_users(actor: Any):
    """SELECT of the live users ``actor`` may see: admins everyone, others their team (or themselves)."""
    return _visible_users(actor)


def _visible_users(actor: Any):
    user = require_actor(actor)
    stmt = select(User).where(User.deleted_at.is_(None))
    if user.role == Role.ADMIN.value:
        return stmt
    if user.team_id is None:
        return stmt.where(User.id == user.id)
    return stmt.where(User.team_id == user.team_id)


#: the orderings of :func:`list_users` (``sort``)
USER_SORTABLE = {"name": User.name, "email": User.email, "role": User.role, "created_at": User.created_at}
#: the orderings of :func:`team_page` (``sort``)
TEAM_SORTABLE = {"name": Team.name, "created_at": Team.created_at}


def list_users(actor: Any, filters: Mapping[str, Any] | None = None, *,
               page: common.PageRequest = common.PageRequest(), sort: str | None = None) -> common.Page[User]:
    """The users ``actor`` may see, by name then email (``sort``: keys of ``USER_SORTABLE``, "-" for
    descending); ``filters`` may hold ``q`` (in the name or email), ``role`` and ``team_id``."""
    return common.paginate(filtered_users(actor, filters), page, common.parse_sort(sort, USER_SORTABLE, "name,email"),
                           User.id)


def filtered_users(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the users :func:`list_users` lists with ``filters`` (``UserFilter``, checked: a bad
    one, or an unknown role, is a ValidationFailed naming it), unordered."""
    f = common.validate(UserFilter, dict(filters or {}))
    stmt = _visible_users(actor)
    if q := f.get("q"):
        stmt = stmt.where(func.lower(User.name).contains(q.lower(), autoescape=True)
                          | func.lower(User.email).contains(q.lower(), autoescape=True))
    if "role" in f and not db.session().scalar(select(User.id).where(User.role == f["role"]).limit(1)):
        # an unknown role is a typo, not an empty list; a disabled plugin's role still finds its users
        users.check_role(f["role"])
    for key in ("role", "team_id"):
        if key in f:
            stmt = stmt.where(getattr(User, key) == f[key])
    return stmt


def get_user(actor: Any, user_id: Any) -> User:
    row = db.session().scalars(_visible_users(actor).where(User.id == common.parse_uuid(user_id))).first()
    if row is None:
        raise NotFound("No user with this id.")
    return row


def create_user(actor: Any, data: Mapping[str, Any]) -> User:
    user = users.create_user(require_role(actor, Role.ADMIN.value), data)
    audit.record_change(actor, "created", user, audit.created_fields(user, ["email", "name", "role", "team_id"]))
    return user


def update_user(actor: Any, user_id: Any, data: Mapping[str, Any]) -> User:
    require_role(actor, Role.ADMIN.value)
    user = get_user(actor, user_id)
    values = common.validate_update(UserUpdate, data)
    common.check_version(user, values.pop("version"))
    if "role" in values:
        users.check_role(values["role"])
    if values.get("team_id") is not None and db.session().get(Team, values["team_id"]) is None:
        raise ValidationFailed(fields={"team_id": ["No team with this id."]})
    if user.id == actor.id and (values.get("is_active") is False or values.get("role", user.role) != user.role):
        raise ValidationFailed(fields={"role": ["You cannot demote or deactivate yourself."]})
    changes = common.apply_changes(user, values)
    db.session().flush()
    if changes.get("is_active", (None, None))[1] is False:
        # sessions and tokens issued before deactivation stay dead if the user is re-activated
        users.end_credentials(user)
    if changes:
        audit.record_change(actor, "updated", user, changes)
    return user


def reset_password(actor: Any, user_id: Any, data: Mapping[str, Any]) -> User:
    """Admins set a user's password (``{"password": ...}``); every session of that user ends."""
    require_role(actor, Role.ADMIN.value)
    get_user(actor, user_id)
    return users.reset_password(actor, user_id, data)


def visible_teams(actor: Any):
    """SELECT of the live teams ``actor`` may see: admins all, others their own."""
    user = require_actor(actor)
    stmt = select(Team).where(Team.deleted_at.is_(None))
    if user.role != Role.ADMIN.value:
        stmt = stmt.where(Team.id == user.team_id)
    return stmt


class TeamFilter(StrictSchema):
    """The teams' list takes no filters: any is refused (a ValidationFailed naming it)."""


def filtered_teams(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the teams :func:`list_teams` lists (``filters`` must be empty: ``TeamFilter``), unordered."""
    common.validate(TeamFilter, dict(filters or {}))
    return visible_teams(actor)


def list_teams(actor: Any) -> list[Team]:
    return list(db.session().scalars(filtered_teams(actor).order_by(Team.name)))


def team_page(actor: Any, page: Any, sort: str | None = None) -> common.Page:
    """One page (keyset or offset) of the teams ``actor`` may see, by name (``sort``: keys of
    ``TEAM_SORTABLE``, "-" for descending)."""
    return common.paginate(visible_teams(actor), page, common.parse_sort(sort, TEAM_SORTABLE, "name"), Team.id)


def create_team(actor: Any, data: Mapping[str, Any]) -> Team:
    require_role(actor, Role.ADMIN.value)
    values = common.validate(SalesTeamCreate, data)
    if db.session().scalar(select(func.count()).select_from(Team).where(Team.name == values["name"])):
        raise Conflict("A team with this name exists.", fields={"name": ["Already taken."]})
    manager = None
    if values.get("manager_id") is not None:
        manager = db.session().get(User, values["manager_id"])
        if manager is None or manager.deleted_at is not None or manager.role != Role.MANAGER.value:
            raise ValidationFailed(fields={"manager_id": ["No manager has this id."]})
    team = users.create_team(None, values["name"], manager=manager)
    audit.record_change(actor, "created", team, audit.created_fields(team, ["name", "manager_id"]))
    return team
