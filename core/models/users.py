"""Users, teams and API tokens."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, Record, Timestamps, UTCDateTime, UUIDPrimaryKey
from core.models.enums import Role


class Team(Base, Record):
    __tablename__ = "team"

    name: Mapped[str] = mapped_column(String(120), unique=True)
    manager_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", use_alter=True, ondelete="SET NULL"), nullable=True
    )


class User(Base, Record):
    """Someone who works with customers. ``role`` is one of the core roles or a plugin-declared one."""

    __tablename__ = "user_account"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    role: Mapped[str] = mapped_column(String(40), default=Role.REP.value)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"), nullable=True,
                                                      index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(10), default="en")
    #: Raised when the user's sessions must end (logout, a password change, deactivation). A session
    #: carries the generation it was signed in under; one from an older generation is refused.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    team: Mapped[Team | None] = relationship(Team, foreign_keys=[team_id])

    # Flask-Login's protocol, kept here so the auth layer needs no wrapper class.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER.value


class ApiToken(Base, UUIDPrimaryKey, Timestamps):
    """A bearer token. Only its SHA-256 digest is stored; the token itself is shown once."""

    __tablename__ = "api_token"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: None: the token works until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship(User)
