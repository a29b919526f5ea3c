"""Users, teams, passwords and API tokens."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any, Mapping

from marshmallow import fields, validate
from sqlalchemy import bindparam, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from core import db, runtime
from core.db import utcnow
from core.errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from core.models import ApiToken, Role, Team, User
from core.schemas import StrictSchema, UserCreate
from core.services import common
from core.services.permissions import require_actor, require_role

TOKEN_PREFIX = "trl_"
# A hash to verify against when the email is unknown, so a login takes as long either way: one per
# hashing method, computed once per process (by the first sign-in, whatever its email), never per login.
_DUMMY_HASH: dict[str, str] = {}
#: ``last_used_at`` of a token is written at most this often, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: The longest expiry a token may be created with.
MAX_TOKEN_DAYS = 3650


def known_roles() -> list[str]:
    return runtime.current().labels.values("role") or [r.value for r in Role]


def check_role(role: str) -> str:
    """``role`` if the core or an enabled plugin declares it; a ValidationFailed on ``role`` otherwise."""
    if role not in known_roles():
        raise ValidationFailed(fields={"role": [f"Unknown role. Known: {', '.join(known_roles())}."]})
    return role


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=runtime.current().settings.password_hash_method)


def create_user(actor: Any | None, data: Mapping[str, Any]) -> User:
    """Create a user. ``actor`` None means the system (the CLI); otherwise only an admin may."""
    if actor is not None:
        require_role(actor, Role.ADMIN.value)
    values = common.validate(UserCreate, data)
    values["email"] = values["email"].strip().lower()
    check_role(values["role"])
    if db.session().scalar(select(func.count()).select_from(User).where(func.lower(User.email) == values["email"])):
        raise Conflict("A user with this email exists.", fields={"email": ["Already taken."]})
    if values.get("team_id") is not None and db.session().get(Team, values["team_id"]) is None:
        raise ValidationFailed(fields={"team_id": ["No team with this id."]})
    password = values.pop("password", None)
    user = User(**values)
    if password:
        user.password_hash = hash_password(password)
    db.session().add(user)
    db.session().flush()
    return user


def create_team(actor: Any | None, name: str, manager: User | None = None) -> Team:
    if actor is not None:
        require_role(actor, Role.ADMIN.value)
    if not name or len(name) > 120:
        raise ValidationFailed(fields={"name": ["Between 1 and 120 characters."]})
    team = Team(name=name, manager_id=manager.id if manager else None)
    db.session().add(team)
    db.session().flush()
    if manager is not None:
        manager.team_id = team.id
        db.session().flush()
    return team


def set_password(user: User, password: str) -> None:
    """Set ``user``'s password and end their sessions (a session that should survive, the caller's
    own after a self-service change, is re-stamped by the transport with :func:`session_generation`)."""
    if not isinstance(password, str) or len(password) < 8:
        raise ValidationFailed(fields={"password": ["At least 8 characters."]})
    if len(password) > 200:
        raise ValidationFailed(fields={"password": ["At most 200 characters."]})
    user.password_hash = hash_password(password)
    end_sessions(user)


def end_sessions(user: User) -> None:
    """End every session ``user`` has: a session signed in under an older generation is refused."""
    user.session_generation = (user.session_generation or 0) + 1
    db.session().flush()


def session_generation(user: User) -> int:
    """What a new session of ``user`` stores; compared by :func:`user_for_session` on every request."""
    return user.session_generation or 0


def user_for_session(user_id: Any, generation: Any) -> User | None:
    """The active user a session cookie names, or None when the session was ended since it was signed
    (logout, a password change, deactivation) or carries no generation."""
    user = by_id(user_id)
    if user is None or not isinstance(generation, int) or generation != session_generation(user):
        return None
    return user


class PasswordChange(StrictSchema):
    current_password = fields.String(required=True, validate=validate.Length(max=200))
    new_password = fields.String(required=True, validate=validate.Length(min=8, max=200))


class PasswordReset(StrictSchema):
    password = fields.String(required=True, validate=validate.Length(min=8, max=200))


def change_own_password(actor: Any, data: Mapping[str, Any]) -> User:
    """Self-service: the current password and a new one. Ends the user's sessions (the transport keeps
    the one that asked); a wrong current password is a 422 on ``current_password``, nothing written."""
    from core.services import audit

    user = require_actor(actor)
    values = common.validate(PasswordChange, data)
    if not user.password_hash or not check_password_hash(user.password_hash, values["current_password"]):
        raise ValidationFailed(fields={"current_password": ["Wrong password."]})
    set_password(user, values["new_password"])
    audit.record_change(user, "password_changed", user)
    return user


def reset_password(actor: Any, user_id: Any, data: Mapping[str, Any]) -> User:
    """An admin sets another user's password; every session of that user ends."""
    from core.services import audit

    admin = require_role(actor, Role.ADMIN.value)
    values = common.validate(PasswordReset, data)
    user = _user(user_id)
    set_password(user, values["password"])
    audit.record_change(admin, "password_reset", user)
    return user


def end_credentials(user: User) -> None:
    """Deactivation: end every session and revoke every API token of ``user``, so re-activating the
    user later revives none of them."""
    end_sessions(user)
    db.session().execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                         .values(revoked_at=utcnow()))
    db.session().flush()


def _user(user_id: Any) -> User:
    user = db.session().get(User, common.parse_uuid(user_id, "user_id"))
    if user is None or user.deleted_at is not None:
        raise NotFound("No user with this id.")
    return user


def by_email(email: str) -> User:
    user = db.session().scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()
    if user is None:
        raise NotFound(f"No user with email {email}.")
    return user


def by_id(user_id: Any) -> User | None:
    try:
        uid = common.parse_uuid(user_id)
    except ValidationFailed:
        return None
    user = db.session().get(User, uid)
    if user is None or user.deleted_at is not None or not user.is_active:
        return None
    return user


def prepare_dummy_hash(method: str) -> str:
    """The hash an unknown email's login is checked against, made once per method. :func:`authenticate`
    makes it before looking the email up, so the first sign-in of a process costs the same extra hash
    whether or not the email is known (not at start-up: a scrypt hash is a noticeable part of it)."""
    if method not in _DUMMY_HASH:
        _DUMMY_HASH[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASH[method]


def authenticate(email: str, password: str) -> User:
    """The user with these credentials, or Unauthenticated (the same error whatever was wrong).

    Exactly one hash check runs whether or not the email is known, so the answer takes as long."""
    dummy = prepare_dummy_hash(runtime.current().settings.password_hash_method)
    user = db.session().scalars(select(User).where(func.lower(User.email) == (email or "").strip().lower())).first()
    stored = user.password_hash if user is not None and user.password_hash else None
    if stored is None:
        stored = dummy
    ok = check_password_hash(stored, password or "")
    if not ok or user is None or not user.password_hash or not user.is_active or user.deleted_at is not None:
        raise Unauthenticated("Wrong email or password.")
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "", *, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the token itself, which is never stored or shown again.
    ``expires_in_days`` None: the token works until revoked."""
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise ValidationFailed(fields={"expires_in_days": [f"Between 1 and {MAX_TOKEN_DAYS}."]})
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    row = ApiToken(user_id=user.id, name=name[:120], token_hash=_digest(plain), prefix=plain[:12],
                   expires_at=expires_at)
    db.session().add(row)
    db.session().flush()
    return row, plain


def _aware(value):
    from datetime import timezone

    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


#: Every API request runs this first: one statement, built once (building a SELECT and its cache key
#: each time cost a third of the lookup), the user its only ORM object (the token's few columns as
#: values; an ApiToken object with a joined load cost more). Nothing is kept between requests: a revoked
#: token fails at once.
_TOKEN_LOOKUP = (select(User, ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.last_used_at)
                 .join(ApiToken, ApiToken.user_id == User.id)
                 .where(ApiToken.token_hash == bindparam("token_hash")))


def user_for_token(plain: str) -> User | None:
    """The active user a bearer token belongs to, or None for an unknown, revoked or expired token.
    Records ``last_used_at``, at most once per :data:`LAST_USED_RESOLUTION`."""
    if not plain or not plain.startswith(TOKEN_PREFIX):
        return None
    row = db.session().execute(_TOKEN_LOOKUP, {"token_hash": _digest(plain)}).first()
    if row is None:
        return None
    user, token_id, revoked_at, expires_at, last_used_at = row
    if revoked_at is not None:
        return None
    now = utcnow()
    if expires_at is not None and _aware(expires_at) <= now:
        return None
    if not user.is_active or user.deleted_at is not None:
        return None
    if last_used_at is None or now - _aware(last_used_at) >= LAST_USED_RESOLUTION:
        db.session().execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
                             .execution_options(synchronize_session=False))
    return user


class TokenCreate(StrictSchema):
    name = fields.String(load_default="", validate=validate.Length(max=120))
    expires_in_days = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=MAX_TOKEN_DAYS),
                                     metadata={"description": "Days until the token stops working; "
                                                              "omit or null for none."})
    user_id = fields.UUID(allow_none=True, metadata={"description": "Admins: whose token (default: yours)."})


class TokenFilter(StrictSchema):
    """The filters of the API tokens' list (``GET /tokens``, ``trellis export tokens``)."""

    user_id = fields.UUID()
    include_revoked = fields.Boolean()


def _token_owner(actor: User, user_id: Any) -> User:
    if user_id is None or user_id == actor.id:
        return actor
    if actor.role != Role.ADMIN.value:
        raise ValidationFailed(fields={"user_id": ["Only admins create tokens for other users."]})
    user = db.session().get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise ValidationFailed(fields={"user_id": ["No user with this id."]})
    return user


def issue_token(actor: Any, data: Mapping[str, Any]) -> tuple[ApiToken, str]:
    """Create an API token for yourself (admins: for anyone). Returns the row and the token, shown once."""
    from core.services import audit

    user = require_actor(actor)
    values = common.validate(TokenCreate, dict(data))
    owner = _token_owner(user, values.get("user_id"))
    if not owner.is_active:
        raise ValidationFailed(fields={"user_id": ["This user is deactivated."]})
    row, plain = create_token(owner, values.get("name") or "", expires_in_days=values.get("expires_in_days"))
    audit.record_change(user, "created", row, audit.created_fields(row, ["user_id", "name", "expires_at"]))
    return row, plain


#: the orderings of :func:`list_tokens` (``sort``)
TOKEN_SORTABLE = {
    "created_at": ApiToken.created_at,
    "name": ApiToken.name,
    "expires_at": ApiToken.expires_at,
    "last_used_at": ApiToken.last_used_at,
}


def _tokens(user: User, f: Mapping[str, Any]):
    stmt = select(ApiToken)
    if user.role != Role.ADMIN.value:
        stmt = stmt.where(ApiToken.user_id == user.id)
    if "user_id" in f:
        stmt = stmt.where(ApiToken.user_id == f["user_id"])
    if not f.get("include_revoked"):
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    return stmt


def filtered_tokens(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the tokens :func:`list_tokens` lists with ``filters`` (``TokenFilter``, checked: a bad
    one is a ValidationFailed naming it), unordered: the actor's own (admins: everybody's)."""
    user = require_actor(actor)
    return _tokens(user, common.validate(TokenFilter, dict(filters or {})))


def list_tokens(actor: Any, filters: Mapping[str, Any] | None = None, *,
                page: common.PageRequest = common.PageRequest(), sort: str | None = None) -> common.Page[ApiToken]:
    """Your tokens, newest first (``sort``: keys of ``TOKEN_SORTABLE``, "-" for descending) (admins:
    everybody's, or one user's with ``user_id``). Revoked tokens are left out unless ``include_revoked``."""
    return common.paginate(filtered_tokens(actor, filters), page,
                           common.parse_sort(sort, TOKEN_SORTABLE, "-created_at"), ApiToken.id)


def get_token(actor: Any, token_id: Any) -> ApiToken:
    user = require_actor(actor)
    row = db.session().get(ApiToken, common.parse_uuid(token_id))
    if row is None or (row.user_id != user.id and user.role != Role.ADMIN.value):
        raise NotFound("No token with this id.")
    return row


def revoke_token(actor: Any, token_id: Any) -> ApiToken:
    """Revoke a token for good (yours; admins: anyone's). Revoking a revoked token changes nothing."""
    return _revoke(actor, get_token(actor, token_id))


def system_revoke_token(token_id: Any) -> ApiToken:
    """The CLI's revoke (run by whoever holds the server): any token, recorded without an actor."""
    row = db.session().get(ApiToken, common.parse_uuid(token_id))
    if row is None:
        raise NotFound("No token with this id.")
    return _revoke(None, row)


def tokens_of(user: User, *, include_revoked: bool = False) -> list[ApiToken]:
    """The CLI's list: ``user``'s tokens, newest first."""
    stmt = select(ApiToken).where(ApiToken.user_id == user.id)
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    return list(db.session().scalars(stmt.order_by(ApiToken.created_at.desc(), ApiToken.id)))


def _revoke(actor: Any, row: ApiToken) -> ApiToken:
    from core.services import audit

    if row.revoked_at is None:
        row.revoked_at = utcnow()
        db.session().flush()
        audit.record_change(actor, "revoked", row, {"revoked_at": (None, row.revoked_at)})
    return row
