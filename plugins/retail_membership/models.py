"""Retail membership (零售会员): SQLAlchemy models of the plugin; every table is prefixed with the plugin name.

Class names carry the plugin's prefix (``Retail…``) so they can never collide with another plugin's in
SQLAlchemy's registry; relationships name classes, not strings.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON, Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, false, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, Record, UTCDateTime, UUIDPrimaryKey, utcnow
from core.models import Customer, User
from core.models.customers import live_unique

MONEY = Numeric(14, 2)


class RetailStore(Base, Record):
    """A shop (门店): where members are enrolled and purchases happen."""

    __tablename__ = "retail_membership_store"

    code: Mapped[str] = mapped_column(String(40), unique=True, doc="The store's code, unique: letters, digits, - and _ (up to 40); a POS upload names the store by it.")
    name: Mapped[str] = mapped_column(String(120), doc="The store's name.")
    kind: Mapped[str] = mapped_column(String(30), default="clothing", doc="What the store sells: clothing, cosmetics, restaurant, books, appliances, grocery or other.")
    city: Mapped[str] = mapped_column(String(80), default="", doc="The city it is in; empty when not given.")
    address: Mapped[str] = mapped_column(String(300), default="", doc="Its street address; empty when not given.")
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The store's id in the system it was imported from (`trellis import retail_membership.stores`), unique among live stores; null when created here.")

    __table_args__ = (live_unique("retail_membership_store"),)


class RetailStoreStaff(Base, UUIDPrimaryKey):
    """A user working at a store: a ``store_staff`` user sees the store's members (and is told about them)."""

    __tablename__ = "retail_membership_store_staff"

    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("retail_membership_store.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(User)

    __table_args__ = (UniqueConstraint("store_id", "user_id"),)


class RetailMembership(Base, Record):
    """A customer's member card (会员卡): one per customer. ``tier`` moves only through the workflow
    ``retail_membership_membership.tier``; ``spend_total`` is the net spend (purchases minus refunds)."""

    __tablename__ = "retail_membership_membership"
    #: kept up by the audited purchases and refunds, not changes of their own (the test kit's audit watch)
    #: (``phone_key`` is ``phone`` normalised: the audited ``phone`` covers it)
    __audit_exempt__ = ("spend_total", "purchase_count", "first_purchase_at", "last_purchase_at", "ledger_seq",
                        "phone_key")

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), unique=True)
    card_number: Mapped[str] = mapped_column(String(40), unique=True, doc="The member card's number, unique (4–40 letters, digits or dashes).")
    phone: Mapped[str] = mapped_column(String(40), default="", server_default="", doc="The member's phone number as given; empty when not known. The till finds a member by it.")
    #: ``phone`` normalised (``core.phones.phone_key``: ``+86…``, digits only): what the till looks up;
    #: unique among live members, empty when no phone is known (and ``[erased]`` once erased: the unique
    #: index takes only keys starting with ``+``)
    phone_key: Mapped[str] = mapped_column(String(40), default="", server_default="")
    home_store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("retail_membership_store.id"), index=True)
    joined_on: Mapped[date] = mapped_column(Date, doc="The day the customer became a member (ISO 8601 date).")
    tier: Mapped[str] = mapped_column(String(30), index=True)
    #: a tier set by hand holds (sales, refunds and the tick leave it alone) until released or until
    #: ``tier_pinned_until``, like a customer's pinned level in the core
    tier_pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), doc="The tier was set by hand and holds until it lapses or is released.")
    tier_pinned_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When a tier set by hand lapses (UTC, ISO 8601); null: until released.")
    birthday: Mapped[date | None] = mapped_column(Date, nullable=True, doc="The member's birthday (ISO 8601 date), for greetings; null when not known.")
    preferences: Mapped[list] = mapped_column(JSON, default=list, doc="What the member likes (free-form, up to 30 entries), for the store's staff.")
    referred_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("retail_membership_membership.id", ondelete="SET NULL"), nullable=True)
    spend_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    purchase_count: Mapped[int] = mapped_column(Integer, default=0, doc="How many purchases the member has made.")
    first_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When the member last bought (UTC, ISO 8601); null before the first purchase.")
    #: Raised by every ledger write: the row lock that serialises point movements on every database.
    ledger_seq: Mapped[int] = mapped_column(Integer, default=0)
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True, doc="The member's id in the system it was imported from (``trellis import retail_membership.members``); null when enrolled here.")

    customer: Mapped[Customer] = relationship(Customer)
    home_store: Mapped[RetailStore] = relationship(RetailStore)

    __table_args__ = (Index("uq_retail_membership_membership_phone_key_live", "phone_key", unique=True,
                            sqlite_where=text("phone_key LIKE '+%' AND deleted_at IS NULL"),
                            postgresql_where=text("phone_key LIKE '+%' AND deleted_at IS NULL")),
                      live_unique("retail_membership_membership"))


class RetailOccasion(Base, Record):
    """A date the store greets the member on: their birthday, a child's birthday, an anniversary."""

    __tablename__ = "retail_membership_occasion"
    #: written with its membership when a member enrols: the membership's entry covers them
    __audited_with__ = "membership_id"

    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_membership.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(120), default="")
    month: Mapped[int] = mapped_column(Integer)
    day: Mapped[int] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)


class RetailOccasionNotice(Base, UUIDPrimaryKey):
    """An occasion of a member announced to their home store's staff: one per occasion and year, so a
    rerun of the reminders, or a tick that missed days, neither repeats nor misses one."""

    __tablename__ = "retail_membership_occasion_notice"

    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_membership.id", ondelete="CASCADE"), index=True)
    #: ``birthday`` (the card's) or the id of the :class:`RetailOccasion`
    subject: Mapped[str] = mapped_column(String(40))
    year: Mapped[int] = mapped_column(Integer)
    on_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    announced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("membership_id", "subject", "year"),)


class RetailPurchase(Base, Record):
    """A sale from a POS. ``(store_id, pos_transaction_id)`` is unique: a retried upload never counts twice."""

    __tablename__ = "retail_membership_purchase"
    #: kept up by the audited refunds
    __audit_exempt__ = ("refunded_total",)

    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_membership.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    store_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("retail_membership_store.id"), index=True)
    pos_transaction_id: Mapped[str] = mapped_column(String(80), doc="The POS system's id of the sale, unique per store: recording it again returns this purchase.")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True, doc="When the sale happened (UTC, ISO 8601).")
    subtotal: Mapped[Decimal] = mapped_column(MONEY)
    discount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    #: the parts of ``discount`` the till priced (a sale sent without ``total``): the member's tier
    #: discount and the coupon's value; null when the POS priced the sale itself (``total`` sent)
    tier_discount: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True, doc="The member's tier discount the till took off the lines; null when the POS priced the sale (sent the total).")
    coupon_discount: Mapped[Decimal | None] = mapped_column(MONEY, nullable=True, doc="The coupon's value the till took off; null when the POS priced the sale or no coupon was given.")
    coupon_code: Mapped[str | None] = mapped_column(String(40), nullable=True, doc="The coupon used with the sale; null when none.")
    total: Mapped[Decimal] = mapped_column(MONEY, doc="What the member paid, after the discount, as a decimal string with two places.")
    refunded_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"), doc="How much of it was refunded so far, as a decimal string; \"0.00\" when nothing was.")
    payment_method: Mapped[str] = mapped_column(String(30), default="card", doc="How the member paid.")
    tier_at_purchase: Mapped[str] = mapped_column(String(30), default="", doc="The member's tier when they bought (it set the points multiplier).")
    points_earned: Mapped[int] = mapped_column(Integer, default=0, doc="Points the purchase earned: ⌊total × points per unit × the tier's multiplier⌋.")
    #: The purchase on the customer's core timeline (kind ``purchase``, source ``retail_membership``).
    interaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"),
                                                             nullable=True)

    lines: Mapped[list["RetailPurchaseLine"]] = relationship(
        "RetailPurchaseLine", back_populates="purchase", cascade="all, delete-orphan",
        order_by="RetailPurchaseLine.line_no", lazy="selectin")
    store: Mapped[RetailStore] = relationship(RetailStore)

    __table_args__ = (UniqueConstraint("store_id", "pos_transaction_id"),
                      Index("ix_retail_membership_purchase_member_time", "membership_id", "occurred_at"))

    @property
    def net_total(self) -> Decimal:
        return self.total - self.refunded_total


class RetailPurchaseLine(Base, UUIDPrimaryKey):
    __tablename__ = "retail_membership_purchase_line"

    purchase_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_purchase.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(60), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    purchase: Mapped[RetailPurchase] = relationship(RetailPurchase, back_populates="lines")


class RetailRefund(Base, Record):
    """A full or partial refund of a purchase; ``(purchase_id, pos_refund_id)`` is unique."""

    __tablename__ = "retail_membership_refund"

    purchase_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_purchase.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_membership.id", ondelete="CASCADE"), index=True)
    pos_refund_id: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reason: Mapped[str] = mapped_column(Text, default="")
    points_reversed: Mapped[int] = mapped_column(Integer, default=0)
    #: Points the refund should have taken back but could not (already redeemed): the balance never
    #: goes below zero.
    points_unrecovered: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("purchase_id", "pos_refund_id"),)


class RetailPointsEntry(Base, UUIDPrimaryKey):
    """One movement of points. Append-only: never updated, never deleted. The balance is the sum of a
    member's entries; ``balance_after`` is the running sum at the time of writing (a check, not a source).

    Credits (earn, adjust > 0, bonus, referral) are lots that expire at ``expires_at``; a reversal carries
    the expiry of the lot it reverses; debits (redeem, expire, adjust < 0) consume lots oldest first."""

    __tablename__ = "retail_membership_points_entry"

    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_membership.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    points: Mapped[int] = mapped_column(Integer, doc="The points moved: positive for a credit (earn, bonus, referral), negative for a debit (redeem, expire).")
    balance_after: Mapped[int] = mapped_column(Integer, doc="The member's balance after this entry (never negative).")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), doc="When the points moved (UTC, ISO 8601).")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When the points of a credit expire (UTC, ISO 8601); null for a debit or points that do not expire.")
    purchase_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("retail_membership_purchase.id", ondelete="SET NULL"), nullable=True, index=True)
    refund_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("retail_membership_refund.id", ondelete="SET NULL"), nullable=True)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("retail_membership_campaign.id", ondelete="SET NULL"), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="", doc="Why, for a redemption or an adjustment; empty otherwise.")
    actor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_retail_membership_points_entry_member_time", "membership_id", "occurred_at"),)


class RetailCampaign(Base, Record):
    """A campaign: a segment, a random control group, an offer and a goal; its result is the lift."""

    __tablename__ = "retail_membership_campaign"

    name: Mapped[str] = mapped_column(String(200), doc="The campaign's name.")
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True, doc="draft (being prepared), launched (groups drawn, offer out) or closed.")
    #: ``{"tiers": [...], "store_ids": [...], "categories": [...], "recency_days": n, "min_purchases": n}``
    segment: Mapped[dict] = mapped_column(JSON, default=dict)
    control_share: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.2"))
    offer_kind: Mapped[str] = mapped_column(String(20), doc="What the treated members get: a coupon, a sample or a points bonus.")
    offer_value: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    offer_description: Mapped[str] = mapped_column(Text, default="", doc="The offer in words, for the staff; empty when none.")
    goal_category: Mapped[str | None] = mapped_column(String(60), nullable=True, doc="A purchase in this category converts a member; null: any purchase does.")
    goal_days: Mapped[int] = mapped_column(Integer, default=30, doc="How many days after launch a purchase still converts (default 30).")
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, doc="When it was launched (UTC, ISO 8601); null while a draft.")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    treated_count: Mapped[int] = mapped_column(Integer, default=0, doc="Members who got the offer; 0 before launch.")
    control_count: Mapped[int] = mapped_column(Integer, default=0, doc="Members kept as the control group; 0 before launch.")
    #: a holiday campaign: the key of a holiday of the deployment's calendar (core.holiday_calendar);
    #: ``trellis tick`` launches the draft on ``scheduled_on`` (the holiday's date that year + offset)
    holiday: Mapped[str | None] = mapped_column(String(60), nullable=True, doc="The holiday the campaign is launched for (a key of the deployment's holiday calendar, e.g. spring_festival); null: launched by hand.")
    holiday_offset_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0", doc="Days from the holiday to the launch: -7 launches a week before it (default 0: on the day).")
    repeat_yearly: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), doc="When launched for its holiday, a draft copy is scheduled for the holiday's next date.")
    scheduled_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True, doc="The day trellis tick launches the draft (its holiday's next date plus the offset); null without a holiday.")
    #: whose authority the scheduled launch uses (who scheduled it)
    scheduled_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                              nullable=True)


class RetailCampaignMember(Base, UUIDPrimaryKey):
    """A member's assignment in a campaign: ``treated`` (gets the offer) or ``control`` (does not)."""

    __tablename__ = "retail_membership_campaign_member"

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_campaign.id", ondelete="CASCADE"))
    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_membership.id", ondelete="CASCADE"), index=True)
    group: Mapped[str] = mapped_column(String(10))
    coupon_code: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)
    coupon_redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    coupon_purchase_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("retail_membership_purchase.id", ondelete="SET NULL"), nullable=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "membership_id"),)


class RetailLapseAlert(Base, UUIDPrimaryKey):
    """A regular who stopped coming, flagged once per absence (keyed by their last purchase)."""

    __tablename__ = "retail_membership_lapse_alert"

    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("retail_membership_membership.id", ondelete="CASCADE"), index=True)
    last_purchase_at: Mapped[datetime] = mapped_column(UTCDateTime())
    usual_gap_days: Mapped[float] = mapped_column(Float)
    absent_days: Mapped[float] = mapped_column(Float)
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("interaction.id", ondelete="SET NULL"),
                                                      nullable=True)
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (UniqueConstraint("membership_id", "last_purchase_at"),)


MODELS = [RetailStore, RetailStoreStaff, RetailMembership, RetailOccasion, RetailPurchase, RetailPurchaseLine,
          RetailRefund, RetailCampaign, RetailPointsEntry, RetailCampaignMember, RetailLapseAlert,
          RetailOccasionNotice]
