"""Exhibitions (会展): SQLAlchemy models of the plugin; every table is prefixed with the plugin name.

Exhibitors and visitors are core customers (a company, a person); the plugin's tables hold what is
particular to a show: editions, booths, participations, registrations with badge codes, gate scans,
leads, meetings, invitations and survey answers.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON, Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, Record, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow
from core.models import Customer, User
from core.models.customers import live_unique


class ExhibitionShow(Base, Record):
    """A recurring show (展会), usually held once a year."""

    __tablename__ = "exhibitions_exhibition"

    name: Mapped[str] = mapped_column(String(200), index=True, doc="The show's name (up to 200 characters).")
    industry: Mapped[str | None] = mapped_column(String(80), nullable=True, doc="The industry the show serves; null when not given.")
    description: Mapped[str] = mapped_column(Text, default="", doc="What the show is about, free text; empty when none.")
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The show's id in the system it was imported from (`trellis import exhibitions.shows`), unique among live shows; null when created here.")

    __table_args__ = (live_unique("exhibitions_exhibition"),)


class ExhibitionEdition(Base, Record):
    """One edition (届) of a show: dates, venue, halls, and what exhibitors may see of their leads."""

    __tablename__ = "exhibitions_edition"

    exhibition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exhibitions_exhibition.id", ondelete="CASCADE"),
                                                     index=True)
    name: Mapped[str] = mapped_column(String(200), doc="The edition's name, such as the show's name and year.")
    starts_on: Mapped[date] = mapped_column(Date, doc="The first show day (ISO 8601 date, in the edition's time zone).")
    ends_on: Mapped[date] = mapped_column(Date, doc="The last show day (ISO 8601 date), on or after the first.")
    venue: Mapped[str] = mapped_column(String(200), default="", doc="Where the edition is held; empty when not yet known.")
    halls: Mapped[list] = mapped_column(JSON, default=list, doc="The halls booths may be in (up to 50 names).")
    #: IANA zone of the venue: a scan's show day is its local date there.
    timezone: Mapped[str] = mapped_column(String(60), default="Asia/Shanghai", doc="The IANA time zone of the venue (default Asia/Shanghai): a gate scan's show day is its local date there.")
    #: Visitor fields an exhibitor may read on its leads, matches and meetings (organiser's setting).
    lead_visible_fields: Mapped[list] = mapped_column(JSON, default=list)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The edition's id in the system it was imported from (`trellis import exhibitions.editions`), unique among live editions; null when created here.")

    exhibition: Mapped[ExhibitionShow] = relationship(ExhibitionShow, lazy="joined")

    __table_args__ = (live_unique("exhibitions_edition"),)


class ExhibitorParticipation(Base, Record):
    """An exhibitor (a company customer) at one edition; ``status`` moves through the workflow."""

    __tablename__ = "exhibitions_participation"

    edition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exhibitions_edition.id", ondelete="CASCADE"),
                                                  index=True)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="invited", index=True)
    is_key: Mapped[bool] = mapped_column(Boolean, default=False, doc="A key exhibitor (重点展商), whose presence draws others.")
    categories: Mapped[list] = mapped_column(JSON, default=list, doc="The product categories the exhibitor offers (up to 20), used to match buyers.")
    notes: Mapped[str] = mapped_column(Text, default="", doc="Organiser staff's free-text notes; empty when none.")
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The participation's id in the system it was imported from (``trellis import exhibitions.exhibitors``); null when made here.")

    company: Mapped[Customer] = relationship(Customer)

    @property
    def owner(self) -> User | None:
        """Whom stagnation alerts go to: the account owner of the exhibiting company."""
        return self.company.owner if self.company is not None else None

    @property
    def name(self) -> str:
        return self.company.name if self.company is not None else str(self.id)

    __table_args__ = (UniqueConstraint("edition_id", "company_id"), live_unique("exhibitions_participation"))


class ExhibitionBooth(Base, Record):
    """A booth (展位): number, hall, area (m²), price; reserved for or sold to a participation."""

    __tablename__ = "exhibitions_booth"

    edition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exhibitions_edition.id", ondelete="CASCADE"),
                                                  index=True)
    number: Mapped[str] = mapped_column(String(20), doc="The booth number, unique within the edition (up to 20 characters).")
    hall: Mapped[str] = mapped_column(String(40), default="", doc="The hall it is in (one of the edition's halls); empty when not set.")
    area: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("9"), doc="The floor area in square metres.")
    price: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"), doc="The booth's price in the app's currency.")
    status: Mapped[str] = mapped_column(String(20), default="available", index=True, doc="available → reserved → sold: reserved when a participation takes it, sold once the exhibitor has paid.")
    participation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("exhibitions_participation.id", ondelete="SET NULL"), nullable=True, index=True)
    #: The purchase (a done core interaction of kind ``purchase`` on the exhibitor company) that sold the
    #: booth: written once when the participation is paid, so later moves do not charge it again.
    purchase_interaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("interaction.id", ondelete="SET NULL"), nullable=True,
        doc="The purchase on the buying company's history that sold the booth; null until it is paid for.")
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The booth's id in the system it was imported from (`trellis import exhibitions.booths`), unique among live booths; null when created here.")

    __table_args__ = (UniqueConstraint("edition_id", "number"), live_unique("exhibitions_booth"))


class ExhibitorUser(Base, UUIDPrimaryKey, Timestamps):
    """Links a user with the ``exhibitor`` role to the company (customer) they work for."""

    __tablename__ = "exhibitions_exhibitor_user"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), unique=True)
    company_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)


class VisitorRegistration(Base, Record):
    """A visitor (a person customer) registered for an edition, with a unique badge code."""

    __tablename__ = "exhibitions_registration"

    edition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exhibitions_edition.id", ondelete="CASCADE"),
                                                  index=True)
    visitor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"),
                                                         nullable=True, index=True)
    company_name: Mapped[str] = mapped_column(String(200), default="", doc="The visitor's company as registered; empty when not given.")
    job_title: Mapped[str] = mapped_column(String(120), default="", doc="The visitor's job title; empty when not given.")
    email: Mapped[str] = mapped_column(String(254), default="", doc="The visitor's email address as registered; empty when not given.")
    phone: Mapped[str] = mapped_column(String(40), default="", doc="The visitor's phone number as registered; empty when not given.")
    category: Mapped[str] = mapped_column(String(20), default="general", index=True, doc="Professional buyer (专业观众), general visitor, media or VIP.")
    interests: Mapped[list] = mapped_column(JSON, default=list, doc="The product categories the visitor is interested in, used to match exhibitors.")
    purchase_intent: Mapped[str] = mapped_column(String(20), default="none", doc="How ready the visitor says they are to buy.")
    source: Mapped[str] = mapped_column(String(20), default="web", doc="How the visitor came to register: a past edition, a partner, the web or on site.")
    badge_code: Mapped[str] = mapped_column(String(40), unique=True, doc="The code printed on the visitor's badge, unique across editions; gates and booths scan it.")
    status: Mapped[str] = mapped_column(String(20), default="registered", index=True, doc="Registered, or cancelled.")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, doc="When the visitor registered (UTC, ISO 8601).")
    #: ``email`` and ``phone`` normalised (``services.email_key``, ``core.phones.phone_key``): how a returning visitor
    #: is found again, within the edition and across editions.
    email_key: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone_key: Mapped[str] = mapped_column(String(40), default="", index=True)
    #: When the buyer was told of the exhibitors matching their interests (once per registration).
    matches_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The registration's id in the system it was imported from (``trellis import exhibitions.visitors``); null when registered here.")

    visitor: Mapped[Customer] = relationship(Customer, foreign_keys=[visitor_id])

    __table_args__ = (UniqueConstraint("edition_id", "visitor_id"), live_unique("exhibitions_registration"))


class CheckIn(Base, UUIDPrimaryKey):
    """One gate scan (门禁数据). The natural key (badge, gate, direction, instant) makes a re-sent scan
    a harmless duplicate, so an offline scanner may upload its whole log again."""

    __tablename__ = "exhibitions_checkin"

    edition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exhibitions_edition.id", ondelete="CASCADE"))
    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exhibitions_registration.id", ondelete="CASCADE"))
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[date] = mapped_column(Date)
    gate: Mapped[str] = mapped_column(String(40), default="")
    direction: Mapped[str] = mapped_column(String(10), default="entry")
    device: Mapped[str] = mapped_column(String(60), default="")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                             nullable=True)

    __table_args__ = (
        UniqueConstraint("registration_id", "gate", "direction", "scanned_at"),
        Index("ix_exhibitions_checkin_edition_day", "edition_id", "day"),
    )


class ExhibitionLead(Base, Record):
    """A visitor's badge scanned at an exhibitor's booth, rated and noted by the exhibitor's staff."""

    __tablename__ = "exhibitions_lead"

    edition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exhibitions_edition.id", ondelete="CASCADE"),
                                                  index=True)
    participation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exhibitions_participation.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exhibitions_registration.id", ondelete="CASCADE"), index=True)
    captured_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                             nullable=True)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, doc="When the badge was scanned at the booth (UTC, ISO 8601).")
    rating: Mapped[str] = mapped_column(String(10), default="warm", index=True, doc="How promising the exhibitor's staff rate the lead: hot, warm or cold.")
    tags: Mapped[list] = mapped_column(JSON, default=list, doc="Free-form tags the exhibitor's staff add.")
    notes: Mapped[str] = mapped_column(Text, default="", doc="The exhibitor's free-text notes on the conversation; empty when none.")
    #: The post-show follow-up task (a planned core interaction), once created.
    follow_up_task_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("interaction.id", ondelete="SET NULL"), nullable=True)

    __table_args__ = (UniqueConstraint("participation_id", "registration_id"),)


class ExhibitionMeeting(Base, Record):
    """A meeting between an exhibitor and a buyer: requested → accepted/declined → held/no-show."""

    __tablename__ = "exhibitions_meeting"

    edition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exhibitions_edition.id", ondelete="CASCADE"),
                                                  index=True)
    participation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exhibitions_participation.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exhibitions_registration.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="requested", index=True)
    requested_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                              nullable=True)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    location: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")

    @property
    def name(self) -> str:
        return f"meeting {self.id}"


class ExhibitionInvitation(Base, Record):
    """A visitor invited to an edition, with the reason they were picked from past editions."""

    __tablename__ = "exhibitions_invitation"

    edition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exhibitions_edition.id", ondelete="CASCADE"),
                                                  index=True)
    visitor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="invited", index=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                            nullable=True)

    __table_args__ = (UniqueConstraint("edition_id", "visitor_id"),)


class SurveyAnswer(Base, UUIDPrimaryKey, Timestamps):
    """A satisfaction answer (during or after the show); the same answer is on the timeline."""

    __tablename__ = "exhibitions_survey_answer"

    edition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exhibitions_edition.id", ondelete="CASCADE"),
                                                  index=True)
    respondent: Mapped[str] = mapped_column(String(20))
    registration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("exhibitions_registration.id", ondelete="CASCADE"), nullable=True)
    participation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("exhibitions_participation.id", ondelete="CASCADE"), nullable=True)
    phase: Mapped[str] = mapped_column(String(10), default="after")
    satisfaction: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    interaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"),
                                                             nullable=True)
    submitted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                              nullable=True)


MODELS = [ExhibitionShow, ExhibitionEdition, ExhibitorParticipation, ExhibitionBooth, ExhibitorUser,
          VisitorRegistration, CheckIn, ExhibitionLead, ExhibitionMeeting, ExhibitionInvitation, SurveyAnswer]

__all__ = [m.__name__ for m in MODELS] + ["MODELS"]
