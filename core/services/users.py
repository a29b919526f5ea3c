"""Users, teams, passwords and API tokens."""
from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any, Mapping

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from core import db, runtime
from core.db import utcnow
from core.errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from core.models import ApiToken, Role, Team, User
from core.schemas import UserCreate
from core.services import common
from core.services.permissions import require_role

TOKEN_PREFIX = "trl_"
# A fixed hash to compare against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH: dict[str, str] = {}


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
    if len(password) < 8:
        raise ValidationFailed(fields={"password": ["At least 8 characters."]})
    user.password_hash = hash_password(password)
    db.session().flush()


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


def authenticate(email: str, password: str) -> User:
    """The user with these credentials, or Unauthenticated (the same error whatever was wrong)."""
    user = db.session().scalars(select(User).where(func.lower(User.email) == (email or "").strip().lower())).first()
    stored = user.password_hash if user is not None and user.password_hash else None
    if stored is None:
        method = runtime.current().settings.password_hash_method
        stored = _DUMMY_HASH.setdefault(method, generate_password_hash(secrets.token_hex(8), method=method))
    ok = check_password_hash(stored, password or "")
    if not ok or user is None or not user.password_hash or not user.is_active or user.deleted_at is not None:
        raise Unauthenticated("Wrong email or password.")
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create an API token; returns the row and the token itself, which is never stored or shown again."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name[:120], token_hash=_digest(plain), prefix=plain[:12])
    db.session().add(row)
    db.session().flush()
    return row, plain


def user_for_token(plain: str) -> User | None:
    """The active user a bearer token belongs to, or None for an unknown or revoked token."""
    if not plain or not plain.startswith(TOKEN_PREFIX):
        return None
    row = db.session().scalars(select(ApiToken).where(ApiToken.token_hash == _digest(plain))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = row.user
    if user is None or not user.is_active or user.deleted_at is not None:
        return None
    return user


def revoke_token(actor: User, token_id: uuid.UUID) -> None:
    row = db.session().get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and actor.role != Role.ADMIN.value):
        raise NotFound("No token with this id.")
    row.revoked_at = utcnow()
    db.session().flush()
