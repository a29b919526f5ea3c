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
from core.models.customers import live_unique


class PsEstate(Base, Record):
    """An estate (小区/物业项目) the company manages."""

    __tablename__ = "property_service_estate"

    name: Mapped[str] = mapped_column(String(200), doc="The estate's name (up to 200 characters).")
    address: Mapped[str] = mapped_column(String(300), default="", doc="Its street address; empty when not given.")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True, doc="Latitude in decimal degrees (WGS 84), for Open311 and maps; null when not known.")
    long: Mapped[float | None] = mapped_column(Float, nullable=True, doc="Longitude in decimal degrees (WGS 84); null when not known.")
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The estate's id in the system it was imported from (`trellis import property_service.estates`), unique among live estates; null when created here.")

    __table_args__ = (live_unique("property_service_estate"),)


class PsBuilding(Base, Record):
    """A building (楼栋) of an estate."""

    __tablename__ = "property_service_building"

    estate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("property_service_estate.id", ondelete="CASCADE"),
                                                 index=True)
    name: Mapped[str] = mapped_column(String(100), doc="The building's name or number within its estate (up to 100 characters).")
    address: Mapped[str] = mapped_column(String(300), default="", doc="Its street address; empty when not given.")
    lat: Mapped[float | None] = mapped_column(Float, nullable=True, doc="Latitude in decimal degrees (WGS 84), for Open311 and maps; null when not known.")
    long: Mapped[float | None] = mapped_column(Float, nullable=True, doc="Longitude in decimal degrees (WGS 84); null when not known.")
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The building's id in the system it was imported from (`trellis import property_service.buildings`), unique among live buildings; null when created here.")

    __table_args__ = (live_unique("property_service_building"),)

    estate: Mapped[PsEstate] = relationship(PsEstate)


class PsUnit(Base, Record):
    """A unit: building, staircase unit (单元), room (室) and floor area."""

    __tablename__ = "property_service_unit"

    building_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("property_service_building.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str] = mapped_column(String(20), default="", doc="The staircase unit (单元) within the building; empty when the building has none.")
    room: Mapped[str] = mapped_column(String(20), doc="The room number (up to 20 characters).")
    area: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), nullable=True, doc="Floor area in square metres; null when not known.")
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The unit's id in the system it was imported from (`trellis import property_service.units`), unique among live units; null when created here.")

    __table_args__ = (live_unique("property_service_unit"),)

    building: Mapped[PsBuilding] = relationship(PsBuilding)


class PsOccupancy(Base, Record):
    """A customer's link to a unit: owner (业主), tenant (租户) or family (家属), from / until."""

    __tablename__ = "property_service_occupancy"

    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("property_service_unit.id", ondelete="CASCADE"),
                                               index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(String(20), default="owner", doc="How the customer is linked to the unit: owner (业主), tenant (租户) or family (家属).")
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True, doc="From when (ISO 8601 date); null when not known.")
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True, doc="Until when (ISO 8601 date); null while it lasts.")
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The occupancy's id in the system it was imported from (`trellis import property_service.occupancies`), unique among live occupancies; null when created here.")

    __table_args__ = (live_unique("property_service_occupancy"),)

    unit: Mapped[PsUnit] = relationship(PsUnit)
    customer: Mapped[Customer] = relationship(Customer)


class PsTeam(Base, Record):
    """A service team (工程组, 环境组, 护卫组, 行政组 …) with a manager who receives escalations."""

    __tablename__ = "property_service_team"

    code: Mapped[str] = mapped_column(String(40), index=True, doc="A short code for the team (engineering, environment, security, administration …).")
    name: Mapped[str] = mapped_column(String(120), doc="The team's name in English.")
    name_zh_cn: Mapped[str] = mapped_column(String(120), default="", doc="The team's name in Chinese (zh-CN) (工程组 …); empty when not given.")
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

    code: Mapped[str] = mapped_column(String(40), index=True, doc="The kind's code (repair, complaint, consultation, suggestion …), also its Open311 service_code.")
    label_en: Mapped[str] = mapped_column(String(120))
    label_zh_cn: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="", doc="What requests of this kind are about; empty when not given.")
    #: Open311 ``group``
    group: Mapped[str] = mapped_column(String(60), default="", doc="The Open311 group the kind is listed under; empty when none.")
    #: Open311 ``keywords`` (comma-separated)
    keywords: Mapped[str] = mapped_column(String(300), default="", doc="Open311 keywords, comma-separated; empty when none.")
    default_team_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("property_service_team.id", ondelete="SET NULL"), nullable=True)
    #: listed as an Open311 service (and its requests readable there)
    public: Mapped[bool] = mapped_column(Boolean, default=True, doc="Listed as an Open311 service (and its requests readable there).")
    #: counted in demand analysis (consultations, suggestions)
    demand: Mapped[bool] = mapped_column(Boolean, default=False, doc="Counted in demand analysis (consultations, suggestions).")
    #: Open311 attribute definitions: ``[{code, datatype, required, description, order, values}]``
    attributes: Mapped[list] = mapped_column(JSON, default=list, doc="Open311 attribute definitions: what a request of this kind may or must say ([{code, datatype, required, description, order, values}]).")
    active: Mapped[bool] = mapped_column(Boolean, default=True, doc="False: no new requests of this kind are accepted; existing ones keep it.")


class PsSlaPolicy(Base, Record):
    """Targets in working minutes for a kind (``*`` for any) and a priority."""

    __tablename__ = "property_service_sla_policy"

    kind: Mapped[str] = mapped_column(String(40), default="*", doc="A kind's code, or * for every kind without its own policy.")
    priority: Mapped[str] = mapped_column(String(20), doc="The priority the targets apply to.")
    response_minutes: Mapped[int] = mapped_column(Integer, doc="Working minutes from acceptance to the first response.")
    resolution_minutes: Mapped[int] = mapped_column(Integer, doc="Working minutes from acceptance to resolution.")
    #: working minutes past a deadline before the centre is told (the team's manager is told at once)
    escalate_after_minutes: Mapped[int] = mapped_column(Integer, default=240, doc="Working minutes past a deadline before every centre user is told (the team's manager is told at once).")

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
    channel: Mapped[str] = mapped_column(String(20), default="phone", doc="How the request reached the centre: phone, in person, web, app, Open311 or in writing.")
    requester_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("property_service_unit.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    building_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("property_service_building.id", ondelete="SET NULL"), nullable=True, index=True)
    description: Mapped[str] = mapped_column(Text, default="", doc="What the requester asks for, in their words.")
    photos: Mapped[list] = mapped_column(JSON, default=list, doc="URLs of photos of the problem.")
    priority: Mapped[str] = mapped_column(String(20), default="normal", doc="Urgent, high, normal or low: sets the SLA targets.")
    #: what it is about, for demand analysis (``broadband``, ``dry_cleaning`` …)
    topic: Mapped[str] = mapped_column(String(80), default="", index=True, doc="What it is about, for demand analysis (broadband, dry_cleaning …); empty when not classified.")
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("property_service_team.id", ondelete="SET NULL"),
                                                      nullable=True, index=True)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                          nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(20), default="accepted", index=True)

    # SLA clocks (working time of the configured calendar)
    sla_state: Mapped[str] = mapped_column(String(20), default="on_time", index=True)
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When the first response is due under the SLA (UTC, ISO 8601); null while the clocks do not run.")
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When resolution is due under the SLA (UTC, ISO 8601); null while the clocks do not run.")
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When the team first responded (UTC, ISO 8601); null until then.")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When it was resolved (UTC, ISO 8601); null until then (and again after a reopen).")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When it was closed (UTC, ISO 8601); null until then.")
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    response_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolution_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    sla_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0, doc="0 not escalated, 1 to the team's manager, 2 to the service centre.")
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, doc="How many times it was reopened after being resolved or closed.")

    # outcomes
    resolution: Mapped[str] = mapped_column(Text, default="", doc="What was done, as reported on resolving it; empty until then.")
    explanation: Mapped[str] = mapped_column(Text, default="", doc="Why it was rejected, as owed to the owner; empty unless rejected.")
    referred_to: Mapped[str] = mapped_column(String(200), default="", doc="The outside party it was referred to; empty unless referred.")

    # feedback
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="The owner's rating, 1 (poor) to 5 (excellent); null until given.")
    feedback_comment: Mapped[str] = mapped_column(Text, default="", doc="The owner's comment with the rating; empty when none.")
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When the rating was given (UTC, ISO 8601); null until then.")
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
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The request's id in the system it was imported from (``trellis import property_service.requests``); null when filed here.")

    requester: Mapped[Customer] = relationship(Customer)
    unit: Mapped[PsUnit | None] = relationship(PsUnit)
    building: Mapped[PsBuilding | None] = relationship(PsBuilding)
    team: Mapped[PsTeam | None] = relationship(PsTeam)
    assignee: Mapped[User | None] = relationship(User, foreign_keys=[assignee_id])

    __table_args__ = (Index("ix_property_service_request_created", "created_at"),
                      Index("ix_property_service_request_open", "status", "sla_state"),
                      live_unique("property_service_request"))


class PsApiKey(Base, Record):
    """An Open311 ``api_key``: only its SHA-256 digest is stored; requests posted with it are written
    as ``user`` (an admin or a centre user)."""

    __tablename__ = "property_service_api_key"
    #: written on use, not a change (the test kit's audit watch)
    __audit_exempt__ = ("last_used_at",)

    name: Mapped[str] = mapped_column(String(120), default="")
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship(User)


MODELS = [PsEstate, PsBuilding, PsUnit, PsOccupancy, PsTeam, PsTeamMember, PsKind, PsSlaPolicy, PsSettings,
          PsRequest, PsApiKey]
