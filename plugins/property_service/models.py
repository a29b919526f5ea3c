"""Property service (物业服务): SQLAlchemy models of the plugin; every table is prefixed with the plugin name.

Owners and residents are core customers (kind ``person``); users are core users. Relationships to core
classes use the class objects, never strings, and every class name here is prefixed ``Ps`` so no other
plugin's ``Unit`` or ``Team`` can collide with it in SQLAlchemy's registry.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, Record, UTCDateTime
from core.models import Customer, User


class PsEstate(Base, Record):
    """An estate (小区/物业项目) the company manages."""

    __tablename__ = "property_service_estate"

    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    long: Mapped[float | None] = mapped_column(Float, nullable=True)


class PsBuilding(Base, Record):
    """A building (楼栋) of an estate."""

    __tablename__ = "property_service_building"

    estate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("property_service_estate.id", ondelete="CASCADE"),
                                                 index=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300), default="")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    long: Mapped[float | None] = mapped_column(Float, nullable=True)

    estate: Mapped[PsEstate] = relationship(PsEstate)


class PsUnit(Base, Record):
    """A unit: building, staircase unit (单元), room (室) and floor area."""

    __tablename__ = "property_service_unit"

    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("property_service_building.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str] = mapped_column(String(20), default="")
    room: Mapped[str] = mapped_column(String(20))
    area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True)

    building: Mapped[PsBuilding] = relationship(PsBuilding)


class PsOccupancy(Base, Record):
    """A customer's link to a unit: owner (业主), tenant (租户) or family (家属), from / until."""

    __tablename__ = "property_service_occupancy"

    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("property_service_unit.id", ondelete="CASCADE"),
                                               index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(20), default="owner")
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)

    unit: Mapped[PsUnit] = relationship(PsUnit)
    customer: Mapped[Customer] = relationship(Customer)


class PsTeam(Base, Record):
    """A service team (工程组, 环境组, 护卫组, 行政组 …) with a manager who receives escalations."""

    __tablename__ = "property_service_team"

    code: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh_cn: Mapped[str] = mapped_column(String(120), default="")
    manager_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                         nullable=True)

    manager: Mapped[User | None] = relationship(User, foreign_keys=[manager_id])

    @property
    def member_ids(self) -> list[uuid.UUID]:
        """Set by the teams service when it loads teams (one query for a whole list)."""
        return self.__dict__.get("_member_ids", [])


class PsTeamMember(Base):
    """A user's membership of a service team (a user may serve on several)."""

    __tablename__ = "property_service_team_member"

    team_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("property_service_team.id", ondelete="CASCADE"),
                                               primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                               primary_key=True)

    __table_args__ = (Index("ix_property_service_team_member_user", "user_id"),)


class PsKind(Base, Record):
    """A kind of service request (报修, 投诉, 咨询, 书面建议 and more by configuration). It is also an
    Open311 service: ``code`` is the ``service_code`` and ``attributes`` its attribute definitions."""

    __tablename__ = "property_service_kind"

    code: Mapped[str] = mapped_column(String(40), index=True)
    label_en: Mapped[str] = mapped_column(String(120))
    label_zh_cn: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Open311 ``group``
    group: Mapped[str] = mapped_column(String(60), default="")
    #: Open311 ``keywords`` (comma-separated)
    keywords: Mapped[str] = mapped_column(String(300), default="")
    default_team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("property_service_team.id", ondelete="SET NULL"), nullable=True)
    #: listed as an Open311 service (and its requests readable there)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    #: counted in demand analysis (consultations, suggestions)
    demand: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Open311 attribute definitions: ``[{code, datatype, required, description, order, values}]``
    attributes: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PsSlaPolicy(Base, Record):
    """Targets in working minutes for a kind (``*`` for any) and a priority."""

    __tablename__ = "property_service_sla_policy"

    kind: Mapped[str] = mapped_column(String(40), default="*")
    priority: Mapped[str] = mapped_column(String(20))
    response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    #: working minutes past a deadline before the centre is told (the team's manager is told at once)
    escalate_after_minutes: Mapped[int] = mapped_column(Integer, default=240)

    __table_args__ = (Index("ix_property_service_sla_policy_kind", "kind", "priority"),)


class PsSettings(Base, Record):
    """The plugin's runtime settings, one row (``name = "default"``): the working calendar and the
    feedback rules. Absent, the defaults of :mod:`plugins.property_service.sla` apply."""

    __tablename__ = "property_service_settings"

    name: Mapped[str] = mapped_column(String(40), default="default", unique=True)
    timezone: Mapped[str] = mapped_column(String(60), default="Asia/Shanghai")
    workdays: Mapped[list] = mapped_column(JSON, default=list)
    hours: Mapped[list] = mapped_column(JSON, default=list)
    holidays: Mapped[list] = mapped_column(JSON, default=list)
    extra_workdays: Mapped[list] = mapped_column(JSON, default=list)
    #: share of a target left (0..1) under which a request is "at risk" and its assignee warned
    at_risk_share: Mapped[float] = mapped_column(Float, default=0.25)
    #: calendar hours after resolution without feedback before a request closes by itself
    feedback_timeout_hours: Mapped[int] = mapped_column(Integer, default=72)
    #: ratings at or below this open a follow-up task for the centre
    low_rating_threshold: Mapped[int] = mapped_column(Integer, default=2)


class PsRequest(Base, Record):
    """A service request (服务申请) in the closed loop accepted → … → closed."""

    __tablename__ = "property_service_request"

    kind: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(20), default="phone")
    requester_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("property_service_unit.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    building_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("property_service_building.id", ondelete="SET NULL"), nullable=True, index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    photos: Mapped[list] = mapped_column(JSON, default=list)
    priority: Mapped[str] = mapped_column(String(20), default="normal")
    #: what it is about, for demand analysis (``broadband``, ``dry_cleaning`` …)
    topic: Mapped[str] = mapped_column(String(80), default="", index=True)
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("property_service_team.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                          nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20), default="accepted", index=True)

    # SLA clocks (working time of the configured calendar)
    sla_state: Mapped[str] = mapped_column(String(20), default="on_time", index=True)
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    response_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    sla_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)

    # outcomes
    resolution: Mapped[str] = mapped_column(Text, default="")
    explanation: Mapped[str] = mapped_column(Text, default="")
    referred_to: Mapped[str] = mapped_column(String(200), default="")

    # feedback
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    feedback_comment: Mapped[str] = mapped_column(Text, default="")
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: who gave the rating: ``link`` (the requester, through their one-time link) or ``on_behalf``
    #: (recorded by ``feedback_by_id`` — the centre, a manager or an admin — for the owner)
    feedback_via: Mapped[str | None] = mapped_column(String(20), nullable=True)
    feedback_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                             nullable=True)
    feedback_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    follow_up_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)

    #: the requester's timeline entry for this request (a core interaction)
    interaction_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)

    # Open311
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    long: Mapped[float | None] = mapped_column(Float, nullable=True)
    address_string: Mapped[str] = mapped_column(String(300), default="")
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    open311_token: Mapped[str | None] = mapped_column(String(40), nullable=True, unique=True)

    requester: Mapped[Customer] = relationship(Customer)
    unit: Mapped[PsUnit | None] = relationship(PsUnit)
    building: Mapped[PsBuilding | None] = relationship(PsBuilding)
    team: Mapped[PsTeam | None] = relationship(PsTeam)
    assignee: Mapped[User | None] = relationship(User, foreign_keys=[assignee_id])

    __table_args__ = (Index("ix_property_service_request_created", "created_at"),
                      Index("ix_property_service_request_open", "status", "sla_state"))


class PsApiKey(Base, Record):
    """An Open311 ``api_key``: only its SHA-256 digest is stored; requests posted with it are written
    as ``user`` (an admin or a centre user)."""

    __tablename__ = "property_service_api_key"

    name: Mapped[str] = mapped_column(String(120), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship(User)


MODELS = [PsEstate, PsBuilding, PsUnit, PsOccupancy, PsTeam, PsTeamMember, PsKind, PsSlaPolicy, PsSettings,
          PsRequest, PsApiKey]
