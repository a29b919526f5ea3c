"""Retail membership (零售会员): Marshmallow schemas: the plugin's input validation and REST output.

Input schemas are strict (unknown fields are a 422 naming them); services validate with them through
``core.services.common.validate``, and the REST layer documents the same schemas.
"""
from __future__ import annotations


from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from core.schemas import BoundedList, CustomerCreate, Money, StrictSchema

#: purchases in one POS batch upload (REST and GraphQL)
MAX_BATCH = 5000

STORE_KINDS = ("clothing", "cosmetics", "restaurant", "books", "appliances", "grocery", "other")
OCCASION_KINDS = ("birthday", "child_birthday", "anniversary", "other")
PAYMENT_METHODS = ("cash", "card", "wechat_pay", "alipay", "points", "other")
OFFER_KINDS = ("coupon", "sample", "points_bonus")
CAMPAIGN_STATUSES = ("draft", "launched", "closed")
LEDGER_KINDS = ("earn", "redeem", "adjust", "expire", "reverse", "bonus", "referral")


class Strict(StrictSchema):
    """The core's strict base (unknown fields refused, datetimes checked), under the plugin's old name."""


# --- stores ------------------------------------------------------------------------------------------

class StoreOut(Schema):
    """A store as REST shows it (the create, update and filter schemas are derived: services.STORES)."""

    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    city = fields.String()
    address = fields.String()
    external_id = fields.String(allow_none=True, dump_only=True, metadata={"description": (
        "The store's id in the system it was imported from (`trellis import retail_membership.stores`), unique "
        "among live stores; null when created here. Set by the import only.")})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class StaffAssign(Strict):
    user_id = fields.UUID(required=True)


class RetailStaffListFilter(Strict):
    """A store's staff as a list's filters (``trellis export retail_membership.store_staff``; REST has the
    store in the path)."""

    store_id = fields.UUID(required=True, metadata={"description": "The store whose staff are listed."})


class StaffOut(Schema):
    user_id = fields.UUID()
    store_id = fields.UUID()
    email = fields.String(attribute="user.email")
    name = fields.String(attribute="user.name")


# --- memberships -------------------------------------------------------------------------------------

class NewMemberCustomer(CustomerCreate):
    class Meta:
        unknown = RAISE
        exclude = ("kind", "stage")


class OccasionIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(OCCASION_KINDS))
    name = fields.String(load_default="", validate=validate.Length(max=120))
    date = fields.Date(required=True, metadata={"description": "The date (its month and day recur yearly)."})


class MembershipCreate(Strict):
    customer_id = fields.UUID(metadata={"description": "An existing customer; or give `customer` to create one."})
    customer = fields.Nested(NewMemberCustomer, metadata={"description": "A new person customer for the member."})
    card_number = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9-]{4,40}$",
                                                         error="4 to 40 letters, digits or dashes."),
                                metadata={"description": "Generated when omitted."})
    home_store_id = fields.UUID(required=True)
    phone = fields.String(load_default="", validate=validate.Length(max=40), metadata={
        "description": "The member's phone number, in any usual form (+86 138-0013-8000, 0086…, 138…): the till "
                       "finds the member by it; unique among live members."})
    joined_on = fields.Date(metadata={"description": "Default: today."})
    birthday = fields.Date(allow_none=True)
    preferences = fields.List(fields.String(validate=validate.Length(min=1, max=60)), load_default=list,
                              validate=validate.Length(max=30))
    referred_by_card = fields.String(validate=validate.Length(max=40),
                                     metadata={"description": "Card number of the member who referred them."})
    occasions = BoundedList(fields.Nested(OccasionIn), load_default=list, max_items=20)

    @validates_schema
    def one_customer(self, data, **kwargs):
        if ("customer_id" in data) == ("customer" in data):
            raise ValidationError("Give exactly one of customer_id and customer.", "customer_id")


class MembershipUpdate(Strict):
    home_store_id = fields.UUID()
    phone = fields.String(validate=validate.Length(max=40),
                          metadata={"description": "The member's phone number (empty: none); unique among live members."})
    birthday = fields.Date(allow_none=True)
    preferences = fields.List(fields.String(validate=validate.Length(min=1, max=60)),
                              validate=validate.Length(max=30))
    version = fields.Integer(required=True)


class MembershipFilter(Strict):
    q = fields.String(validate=validate.Length(max=200), metadata={"description": "Name or card number contains."})
    tier = fields.String(validate=validate.Length(max=30))
    home_store_id = fields.UUID()
    card_number = fields.String(validate=validate.Length(max=40))
    customer_id = fields.UUID()
    deleted = fields.Boolean(load_default=False)


class MembershipOut(Schema):
    id = fields.UUID()
    customer_id = fields.UUID()
    name = fields.String(attribute="customer.name")
    card_number = fields.String()
    phone = fields.String(metadata={"description": "The member's phone number as given; empty when not known."})
    home_store_id = fields.UUID()
    joined_on = fields.Date()
    tier = fields.String()
    tier_pinned = fields.Boolean(metadata={"description": "The tier was set by hand: sales, refunds and the "
                                                          "tick leave it alone until it lapses or is released."})
    tier_pinned_until = fields.DateTime(allow_none=True, metadata={
        "description": "When a tier set by hand lapses; null: until released (or not set by hand)."})
    birthday = fields.Date(allow_none=True)
    preferences = fields.List(fields.String())
    referred_by_id = fields.UUID(allow_none=True)
    spend_total = Money(as_string=True)
    purchase_count = fields.Integer()
    first_purchase_at = fields.DateTime(allow_none=True)
    last_purchase_at = fields.DateTime(allow_none=True)
    points_balance = fields.Integer(dump_only=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class OccasionOut(Schema):
    id = fields.UUID()
    membership_id = fields.UUID()
    kind = fields.String()
    name = fields.String()
    month = fields.Integer()
    day = fields.Integer()
    year = fields.Integer(allow_none=True)
    version = fields.Integer()


class OccasionListFilter(Strict):
    """A member's occasions as a list's filters (``trellis export retail_membership.occasions``; REST has
    the member in the path)."""

    membership_id = fields.UUID(required=True, metadata={"description": "The member whose occasions are listed."})


class RetailTierHistoryFilter(Strict):
    """A member's tier changes as a list's filters (``trellis export retail_membership.tier_history``; REST
    has the member in the path)."""

    membership_id = fields.UUID(required=True, metadata={"description": "The member whose tier changes are listed."})


class TierTransitionOut(Schema):
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    at = fields.DateTime()
    actor_id = fields.UUID(allow_none=True)
    trigger = fields.String()
    trigger_event = fields.String(allow_none=True)
    reason = fields.String()


class TierChange(Strict):
    tier = fields.String(required=True, validate=validate.Length(min=1, max=30),
                         metadata={"description": "The tier to place the member in."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                           metadata={"description": "Why (1–2000 characters), kept in the tier history."})
    until = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When the tier set by hand lapses (in the future); without it, it holds until released."})


# --- points ------------------------------------------------------------------------------------------

class Redemption(Strict):
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10**9))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class Adjustment(Strict):
    points = fields.Integer(required=True, strict=True, validate=[
        validate.Range(min=-10**9, max=10**9),
        validate.NoneOf([0], error="An adjustment of 0 changes nothing.")],
        metadata={"description": "Points to add (positive) or take away (negative), not 0."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                           metadata={"description": "Why (1–2000 characters), kept on the ledger entry."})


class LedgerListFilter(Strict):
    """A member's points ledger as a list's filters (``trellis export retail_membership.ledger``; REST has
    the member in the path)."""

    membership_id = fields.UUID(required=True, metadata={"description": "The member whose ledger is listed."})


class PointsEntryOut(Schema):
    id = fields.UUID()
    membership_id = fields.UUID()
    kind = fields.String()
    points = fields.Integer()
    balance_after = fields.Integer()
    occurred_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    purchase_id = fields.UUID(allow_none=True)
    refund_id = fields.UUID(allow_none=True)
    campaign_id = fields.UUID(allow_none=True)
    reason = fields.String()
    actor_id = fields.UUID(allow_none=True)


class BalanceOut(Schema):
    membership_id = fields.UUID()
    balance = fields.Integer()
    value = Money(as_string=True, metadata={"description": "What the balance is worth in money: balance × "
                                                           "`point_value` (the setting retail_membership_point_value)."})
    point_value = fields.Decimal(as_string=True, metadata={"description": "What one point is worth (yuan)."})
    ledger_sum = fields.Integer()
    entries = fields.Integer()
    next_expiry = fields.Dict(allow_none=True)


# --- purchases ---------------------------------------------------------------------------------------

money = dict(places=2, validate=validate.Range(min=0, max=10**9))


class LineIn(Strict):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=60))
    category = fields.String(required=True, validate=validate.Length(min=1, max=60))
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100000))
    unit_price = Money(required=True, **money)


class PurchaseIn(Strict):
    pos_transaction_id = fields.String(required=True, validate=validate.Length(min=1, max=80))
    store_code = fields.String(validate=validate.Length(min=1, max=40))
    store_id = fields.UUID()
    card_number = fields.String(validate=validate.Length(min=1, max=40))
    membership_id = fields.UUID()
    occurred_at = fields.AwareDateTime(required=True, metadata={
        "description": "When the sale happened; not more than 5 minutes ahead of the server's clock."})
    lines = BoundedList(fields.Nested(LineIn), required=True, min_items=1, max_items=500,
                        metadata={"description": "What was sold (1–500 lines); their amounts minus `discount` "
                                                 "make the total."})
    discount = Money(load_default=None, allow_none=True, metadata={
        "description": "Taken off the lines' sum; without it the lines must add up to the total."}, **money)
    total = Money(load_default=None, allow_none=True, metadata={
        "description": "What the member paid, priced by the POS: the lines minus `discount` must make it. Leave it "
                       "(and `discount`) out to have the till price the sale: the member's tier discount and the "
                       "coupon's value are taken off the lines."}, **money)
    payment_method = fields.String(load_default="card", validate=validate.OneOf(PAYMENT_METHODS))
    coupon_code = fields.String(validate=validate.Length(min=1, max=40), metadata={
        "description": "A campaign's single-use coupon of this member, used with the sale: it must be live (campaign "
                       "launched, within its days, not used) and worth more than 0.00."})

    @validates_schema
    def references(self, data, **kwargs):
        if ("store_code" in data) == ("store_id" in data):
            raise ValidationError("Give exactly one of store_code and store_id.", "store_code")
        if ("card_number" in data) == ("membership_id" in data):
            raise ValidationError("Give exactly one of card_number and membership_id.", "card_number")


class PurchaseBatch(Strict):
    purchases = BoundedList(fields.Nested(PurchaseIn), required=True, min_items=1, max_items=MAX_BATCH)


class PurchaseFilter(Strict):
    membership_id = fields.UUID()
    customer_id = fields.UUID()
    store_id = fields.UUID()
    occurred_after = fields.AwareDateTime(metadata={"description": "Only purchases at or after this instant."})
    occurred_before = fields.AwareDateTime(metadata={"description": "Only purchases before this instant."})
    category = fields.String(validate=validate.Length(max=60),
                             metadata={"description": "Only purchases with a line in this category."})
    deleted = fields.Boolean(load_default=False)


class LineOut(Schema):
    line_no = fields.Integer()
    sku = fields.String()
    category = fields.String()
    quantity = fields.Integer()
    unit_price = Money(as_string=True)
    amount = Money(as_string=True)


class PurchaseOut(Schema):
    id = fields.UUID()
    membership_id = fields.UUID()
    customer_id = fields.UUID()
    store_id = fields.UUID()
    pos_transaction_id = fields.String()
    occurred_at = fields.DateTime()
    subtotal = Money(as_string=True, metadata={"description": "The lines' sum."})
    discount = Money(as_string=True, metadata={"description": "Everything taken off the lines."})
    tier_discount = Money(as_string=True, allow_none=True, metadata={
        "description": "The member's tier discount the till took off; null when the POS priced the sale."})
    coupon_discount = Money(as_string=True, allow_none=True, metadata={
        "description": "The coupon's value the till took off; null when the POS priced the sale or without a coupon."})
    coupon_code = fields.String(allow_none=True, metadata={"description": "The coupon used with the sale."})
    total = Money(as_string=True, metadata={"description": "What the member paid: subtotal − discount."})
    refunded_total = Money(as_string=True)
    payment_method = fields.String()
    tier_at_purchase = fields.String()
    points_earned = fields.Integer()
    interaction_id = fields.UUID(allow_none=True)
    lines = fields.List(fields.Nested(LineOut))
    created_at = fields.DateTime()
    version = fields.Integer()


class BatchItemOut(Schema):
    index = fields.Integer()
    pos_transaction_id = fields.String()
    status = fields.String(metadata={"description": "created, or duplicate (already uploaded: nothing changed)"})
    purchase_id = fields.UUID()
    points_earned = fields.Integer()


class BatchOut(Schema):
    received = fields.Integer()
    created = fields.Integer()
    duplicates = fields.Integer()
    items = fields.List(fields.Nested(BatchItemOut))


class RefundIn(Strict):
    purchase_id = fields.UUID(required=True)
    pos_refund_id = fields.String(required=True, validate=validate.Length(min=1, max=80))
    amount = Money(metadata={"description": "Default: what is left of the purchase (a full refund)."},
                   places=2, validate=validate.Range(min=0.01, max=10**9))
    occurred_at = fields.AwareDateTime(metadata={
        "description": "Default: now. Not before the sale, not more than 5 minutes ahead of the server's clock."})
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class RefundFilter(Strict):
    purchase_id = fields.UUID()
    membership_id = fields.UUID()


class RefundOut(Schema):
    id = fields.UUID()
    purchase_id = fields.UUID()
    membership_id = fields.UUID()
    pos_refund_id = fields.String()
    occurred_at = fields.DateTime()
    amount = Money(as_string=True)
    reason = fields.String()
    points_reversed = fields.Integer()
    points_unrecovered = fields.Integer()
    created_at = fields.DateTime()
    version = fields.Integer()


# --- campaigns ---------------------------------------------------------------------------------------

class SegmentIn(Strict):
    tiers = BoundedList(fields.String(validate=validate.Length(max=30)), load_default=list, max_items=50)
    store_ids = BoundedList(fields.UUID(), load_default=list, max_items=1000)
    categories = BoundedList(fields.String(validate=validate.Length(max=60)), load_default=list, max_items=200,
                             metadata={"description": "Bought something in one of these categories."})
    recency_days = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=3650),
                                  metadata={"description": "Bought something within this many days."})
    min_purchases = fields.Integer(load_default=0, validate=validate.Range(min=0, max=100000))


class LaunchIn(Strict):
    at = fields.AwareDateTime(metadata={"description": "Launch time (default: now); the goal window starts here."})


class CampaignOut(Schema):
    id = fields.UUID()
    name = fields.String()
    status = fields.String()
    segment = fields.Dict()
    control_share = fields.Decimal(as_string=True)
    offer_kind = fields.String()
    offer_value = fields.Decimal(as_string=True)
    offer_description = fields.String()
    goal_category = fields.String(allow_none=True)
    goal_days = fields.Integer()
    launched_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    treated_count = fields.Integer()
    control_count = fields.Integer()
    holiday = fields.String(allow_none=True)
    holiday_offset_days = fields.Integer()
    repeat_yearly = fields.Boolean()
    scheduled_on = fields.Date(allow_none=True, metadata={
        "description": "The day trellis tick launches the draft (its holiday's date plus the offset); null "
                       "without a holiday or once launched."})
    created_at = fields.DateTime()
    version = fields.Integer()


class RetailHolidayArgs(Strict):
    start = fields.Date(data_key="from", metadata={"description": "First day (default: today)."})
    end = fields.Date(data_key="to", metadata={"description": "Last day (default: a year after the first)."})

    @validates_schema
    def _order(self, data, **kwargs):
        if data.get("start") and data.get("end"):
            if data["end"] < data["start"]:
                raise ValidationError("Must not be before from.", "to")
            if (data["end"] - data["start"]).days > 3 * 366:
                raise ValidationError("At most three years after from.", "to")


class RetailHolidayLabelOut(Schema):
    en = fields.String()
    zh_cn = fields.String()


class RetailHolidayOut(Schema):
    key = fields.String(metadata={"description": "What a holiday campaign names it by."})
    date = fields.Date(metadata={"description": "Its (first) day."})
    days = fields.Integer(metadata={"description": "Days of the year it is named on (3 for National Day)."})
    category = fields.String(metadata={"description": "public (a day off), half_day or observance (a lunar festival, no day off)."})
    official = fields.Boolean(metadata={"description": "In the official holiday calendar (public or half_day)."})
    label = fields.Nested(RetailHolidayLabelOut)


class GroupResultOut(Schema):
    members = fields.Integer()
    converted = fields.Integer()
    rate = fields.Float(allow_none=True)


class CampaignResultOut(Schema):
    campaign_id = fields.UUID()
    window_start = fields.DateTime(allow_none=True)
    window_end = fields.DateTime(allow_none=True)
    treated = fields.Nested(GroupResultOut)
    control = fields.Nested(GroupResultOut)
    lift = fields.Float(allow_none=True, metadata={"description": "Treated rate minus control rate."})
    ci_low = fields.Float(allow_none=True)
    ci_high = fields.Float(allow_none=True)
    confidence = fields.Float()
    p_value = fields.Float(allow_none=True)
    coupons_redeemed = fields.Integer()


class RetailCampaignMemberListFilter(Strict):
    """A campaign's members as a list's filters (``trellis export retail_membership.campaign_members``; REST
    has the campaign in the path)."""

    campaign_id = fields.UUID(required=True, metadata={"description": "The campaign whose members are listed."})


class CampaignMemberOut(Schema):
    membership_id = fields.UUID()
    group = fields.String()
    coupon_code = fields.String(allow_none=True)
    coupon_redeemed_at = fields.DateTime(allow_none=True)


class ResultArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    confidence = fields.Float(load_default=0.95, validate=validate.Range(min=0.5, max=0.999))


class LapseOut(Schema):
    id = fields.UUID()
    membership_id = fields.UUID()
    last_purchase_at = fields.DateTime()
    usual_gap_days = fields.Float()
    absent_days = fields.Float()
    task_id = fields.UUID(allow_none=True)
    flagged_at = fields.DateTime()
    returned_at = fields.DateTime(allow_none=True)


class LapseFilter(Strict):
    open = fields.Boolean(metadata={"description": "Only members who have not come back."})
    store_id = fields.UUID()


class RetailTierFilter(Strict):
    """The tiers list takes no filters (``trellis export retail_membership.tiers``): any is refused, naming it."""


class TierOut(Schema):
    code = fields.String()
    en = fields.String()
    zh_cn = fields.String()
    threshold = Money(as_string=True)
    discount = fields.Decimal(as_string=True)
    multiplier = fields.Decimal(as_string=True)


# --- the till ----------------------------------------------------------------------------------------

class RetailTillLookupArgs(Strict):
    phone = fields.String(validate=validate.Length(min=1, max=40), metadata={
        "description": "The member's phone number in any usual form: spaces and dashes are ignored, a +86 or "
                       "0086 prefix is optional."})
    card = fields.String(validate=validate.Length(min=1, max=40), metadata={
        "description": "The member's card number, exactly."})

    @validates_schema
    def exactly_one(self, data, **kwargs):
        if "phone" in data and "card" in data:
            raise ValidationError("Give the phone or the card number, not both.", "card")
        if "phone" not in data and "card" not in data:
            raise ValidationError("Give the member's phone (or their card number as `card`).", "phone")


class RetailTillCouponOut(Schema):
    code = fields.String(metadata={"description": "The single-use code to give with the sale."})
    campaign_id = fields.UUID()
    campaign_name = fields.String()
    value = Money(as_string=True, metadata={"description": "What it takes off a sale."})
    description = fields.String(metadata={"description": "The offer in words; empty when none."})
    expires_at = fields.DateTime(metadata={"description": "The end of the campaign's days: not usable after."})


class RetailTillCampaignOut(Schema):
    campaign_id = fields.UUID()
    name = fields.String()
    offer_kind = fields.String(metadata={"description": "coupon, sample (hand it out) or points_bonus (credited)."})
    offer_value = fields.Decimal(as_string=True)
    offer_description = fields.String()
    ends_at = fields.DateTime(metadata={"description": "When the campaign's days end."})
    coupon_code = fields.String(allow_none=True, metadata={"description": "The member's coupon; null when none."})
    coupon_used = fields.Boolean(metadata={"description": "The member's coupon was used already."})


class RetailTillMemberOut(Schema):
    membership = fields.Nested(MembershipOut, metadata={"description": "The card, with the customer's `name`."})
    tier = fields.Nested(TierOut, metadata={"description": "The member's tier: its discount is taken off a sale "
                                                            "the till prices."})
    points_balance = fields.Integer()
    points_value = Money(as_string=True, metadata={"description": "What the balance is worth in money."})
    point_value = fields.Decimal(as_string=True, metadata={"description": "What one point is worth (yuan)."})
    coupons = fields.List(fields.Nested(RetailTillCouponOut), metadata={
        "description": "The member's coupons that can be used now (campaign running, not expired, not used)."})
    campaigns = fields.List(fields.Nested(RetailTillCampaignOut), metadata={
        "description": "The running campaigns the member was drawn to get the offer of (never the control group)."})
