"""Retail membership (零售会员): GraphQL types and fields, contributed through the ``trellis_graphql_*`` hooks.

- ``Customer.membership``: the customer's card, with its tier, points balance, ``ledger`` and
  ``purchases`` connections — batched through the request's loaders, so a list of N customers costs
  the same number of SQL statements as a list of one.
- Queries: ``retailMembership(id:)``, ``retailMemberships``, ``retailStores``, ``retailTiers``,
  ``retailCampaigns``, ``retailCampaign(id:)`` (with its ``result``: the lift and its interval).
- Queries: ``retailRefunds``, ``retailLapses``; nested ``RetailMembership.occasions``,
  ``RetailStore.staff``, ``RetailCampaign.members`` (connections read per parent, through the services
  REST's views call).
- Mutations: ``createRetailMembership``, ``recordRetailPurchase``, ``uploadRetailPurchases``,
  ``refundRetailPurchase``, ``redeemRetailPoints``, ``launchRetailCampaign``, ``createRetailOccasion``,
  ``deleteRetailOccasion``, ``assignRetailStoreStaff``, ``removeRetailStoreStaff``, ``redeemRetailCoupon``.

Resolvers only translate: inputs become the dicts the REST API takes, the services do the rest. Money is
a decimal string, as in REST.
"""
import datetime as dt
from typing import Annotated, Optional

import strawberry
from strawberry import UNSET

from api.graphql.conventions import bounded_list, open_vocabulary
from api.graphql.crud import CrudFields, CrudService, crud_fields
from api.graphql.from_schema import input_from_schema
from api.graphql.lifecycle import history_field
from api.graphql.inputs import field_names, input_to_dict
from api.graphql.pagination import After, Before, First, Last, connection, nested_connection, page_request

from api.graphql.label import label_field
from api.graphql.money import Money
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.records import record_fields
from plugins.retail_membership import campaigns, models, services

#: a purchase line's category is what the POS sends (free text up to 60 characters), not a vocabulary
CATEGORY = open_vocabulary("The category the POS system sends with a line (free text), not a fixed list.")


def register_types(registry) -> None:
    vocabulary = registry.vocabulary_enum
    Tier = vocabulary("retail_membership_membership.tier.state")
    PaymentMethod = vocabulary("retail_membership_payment_method")
    StaffOrder = order_by_argument(registry, "RetailStoreStaff", list(services.STAFF_SORTABLE),
                                   default_text="longest-serving first (the order they were assigned)")
    PointsEntryOrder = order_by_argument(
        registry, "RetailPointsEntry", list(services.LEDGER_SORTABLE),
        default_text="newest first (OCCURRED_AT DESC; entries of the same moment, the last recorded first)")
    # the same input as the root list `retailPurchases` takes (same keys and default)
    PurchaseOrder = order_by_argument(registry, "RetailPurchase", list(services.PURCHASE_SORT), "-occurred_at")
    OccasionOrder = order_by_argument(registry, "RetailOccasion", list(services.OCCASION_SORTABLE),
                                      services.OCCASION_DEFAULT_SORT)
    CampaignMemberOrder = order_by_argument(registry, "RetailCampaignMember", list(campaigns.MEMBER_SORTABLE),
                                            campaigns.MEMBER_DEFAULT_SORT)

    @registry.type("RetailHoliday")
    class RetailHoliday:
        """A holiday of the deployment's calendar (TRELLIS_HOLIDAY_CALENDAR) a campaign can be keyed to."""

        key: str = strawberry.field(metadata=open_vocabulary(
            "The holidays of the deployment's configured calendar (a country of the holidays package)."),
            description="What a holiday campaign names it by (spring_festival, mid_autumn, dragon_boat, national_day, qixi …).")
        date: dt.date = strawberry.field(description="Its (first) day.")
        days: int = strawberry.field(description="Days of the year it is named on (3 for National Day).")
        category: vocabulary("retail_membership_holiday_category") = strawberry.field(
            description="PUBLIC (a day off), HALF_DAY or OBSERVANCE (a lunar festival, no day off).")
        official: bool = strawberry.field(description="In the official holiday calendar (public or half day).")
        label = label_field(registry, "en", "zh_cn", description="The holiday's name.")

    @registry.type("RetailTier")
    class RetailTier:
        """A tier of the membership programme (configuration)."""

        code: Tier = strawberry.field(description="The tier.")
        label = label_field(registry, "en", "zh_cn", description="The tier's name.")

        @strawberry.field(description="Spend that earns the tier.")
        def threshold(self) -> Money:
            return self.threshold

        @strawberry.field(description="Discount rate, 0..1 (decimal string).")
        def discount(self) -> str:
            return str(self.discount)

        @strawberry.field(description="Points multiplier (decimal string).")
        def multiplier(self) -> str:
            return str(self.multiplier)

    @registry.type("RetailStore")
    class RetailStore:
        """A store (门店)."""

        id: strawberry.ID
        code: str
        name: str
        kind: vocabulary("retail_membership_store_kind")
        city: str
        address: str
        version: int
        external_id: Optional[str] = strawberry.field(description=(
            "The store's id in the system it was imported from (`trellis import retail_membership.stores`), "
            "unique among live stores; null when created here."))

        @strawberry.field(description="Who works at the store, longest-serving first (20 by default): store staff see the members of their stores.")
        def staff(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                  before: Before = None, order_by: StaffOrder = None) -> registry.connection("RetailStoreStaff"):
            sort = order_to_service(order_by)
            return nested_connection(info.context.loaders, "retail_membership.staff",
                                     lambda ids, request: services.staff_pages_for(ids, request, sort),
                                     self.id, page_request(first, after, last, before),
                                     count_name="retail_membership.staff_counts", count_batch=services.staff_counts,
                                     sort=sort)

    @registry.type("RetailStoreStaff")
    class RetailStoreStaff:
        """A user's place on a store's staff (admins assign it)."""

        store_id: strawberry.ID = strawberry.field(description="The id of the store.")
        user_id: strawberry.ID = strawberry.field(description="The id of the user working there.")

        @strawberry.field(description="The user's sign-in email.")
        def email(self) -> str:
            return self.user.email

        @strawberry.field(description="The user's display name.")
        def name(self) -> str:
            return self.user.name

        @strawberry.field(description="The user working at the store, if you may see users.")
        def user(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            from api.graphql.loaders import users_by_id

            actor = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(actor, ids), self.user_id)

    @registry.type("RetailOccasion", node=NodeSource(models.RetailOccasion, visible=services.visible_occasions))
    class RetailOccasion:
        """A date the store greets the member on (a birthday, a child's birthday, an anniversary); its month and day recur yearly."""

        id: strawberry.ID
        membership_id: strawberry.ID = strawberry.field(description="The id of the membership.")
        kind: vocabulary("retail_membership_occasion_kind") = strawberry.field(description="What the occasion is.")
        name: str = strawberry.field(description="Whose occasion, in words (a child's name …); empty when not given.")
        month: int = strawberry.field(description="The month, 1–12.")
        day: int = strawberry.field(description="The day of the month, 1–31.")
        year: Optional[int] = strawberry.field(description="The year of the date given (a birth year); null when not known.")
        version: int

    @registry.type("RetailRefund")
    class RetailRefund:
        """A full or partial refund of a purchase at the POS: spend and points taken back in proportion."""

        id: strawberry.ID
        purchase_id: strawberry.ID = strawberry.field(description="The id of the refunded purchase.")
        membership_id: strawberry.ID = strawberry.field(description="The id of the member's membership.")
        pos_refund_id: str = strawberry.field(description="The POS system's id of the refund, unique per purchase.")
        occurred_at: dt.datetime = strawberry.field(description="When the refund happened (UTC, ISO 8601).")
        reason: str = strawberry.field(description="Why the member returned it; empty when not given.")
        points_reversed: int = strawberry.field(description="Points taken back from the balance.")
        points_unrecovered: int = strawberry.field(description="Points the refund should have taken back but could not (already spent): the balance never goes below zero.")
        created_at: dt.datetime
        version: int

        @strawberry.field(description="How much was refunded.")
        def amount(self) -> Money:
            return self.amount

    @registry.type("RetailLapse", node=models.RetailLapseAlert)
    class RetailLapse:
        """A regular who stopped coming, flagged by `trellis tick` once per absence (with a follow-up task)."""

        id: strawberry.ID
        membership_id: strawberry.ID = strawberry.field(description="The id of the lapsed member's membership.")
        last_purchase_at: dt.datetime = strawberry.field(description="The member's last purchase before the absence (UTC, ISO 8601).")
        usual_gap_days: float = strawberry.field(description="The member's usual days between purchases.")
        absent_days: float = strawberry.field(description="Days since the last purchase when flagged.")
        task_id: Optional[strawberry.ID] = strawberry.field(description="The id of the follow-up task on the customer's timeline; null when none was made.")
        flagged_at: dt.datetime = strawberry.field(description="When the absence was flagged (UTC, ISO 8601).")
        returned_at: Optional[dt.datetime] = strawberry.field(description="When the member came back (UTC, ISO 8601); null while absent.")

        @strawberry.field(description="The lapsed member's membership.")
        def membership(self, info: strawberry.Info) -> Optional[registry.ref("RetailMembership")]:
            user = info.context.user
            return info.context.loaders.load("retail_membership.memberships_by_id",
                                             lambda ids: _memberships_by_id(user, ids), self.membership_id)

    @registry.type("RetailCampaignMember")
    class RetailCampaignMember:
        """A member's place in a launched campaign: treated (got the offer, and a coupon) or control."""

        membership_id: strawberry.ID = strawberry.field(description="The id of the membership.")
        group: vocabulary("retail_membership_campaign_group") = strawberry.field(description="The group the member was drawn into.")
        coupon_code: Optional[str] = strawberry.field(description="The member's single-use coupon code; null in the control group or for an offer without coupons.")
        coupon_redeemed_at: Optional[dt.datetime] = strawberry.field(description="When the coupon was used (UTC, ISO 8601); null while unused.")

    @registry.type("RetailPointsEntry", node=NodeSource(models.RetailPointsEntry, get=services.get_points_entry))
    class RetailPointsEntry:
        """One movement on a member's points ledger (append-only)."""

        id: strawberry.ID
        kind: vocabulary("retail_membership_ledger_kind") = strawberry.field(
            description="What moved the points: a purchase earns, a redemption spends, a refund reverses …")
        points: int
        balance_after: int
        occurred_at: dt.datetime
        expires_at: Optional[dt.datetime]
        purchase_id: Optional[strawberry.ID]
        reason: str

    @registry.type("RetailPurchaseLine")
    class RetailPurchaseLine:
        """One line of a purchase: an article, how many and at what price."""

        line_no: int = strawberry.field(description="The line's position in the sale, from 1.")
        sku: str = strawberry.field(description="The article's stock-keeping unit, as the POS sends it.")
        category: str = strawberry.field(metadata=CATEGORY, description="The article's product category, as the POS sends it (campaign goals and segments use it).")
        quantity: int = strawberry.field(description="How many were bought.")

        @strawberry.field(description="The price of one, as a decimal string with two places.")
        def unit_price(self) -> Money:
            return self.unit_price

        @strawberry.field(description="The line's total, quantity × unitPrice, as a decimal string with two places.")
        def amount(self) -> Money:
            return self.amount

    @registry.type("RetailPurchase")
    class RetailPurchase:
        """A POS sale."""

        id: strawberry.ID
        pos_transaction_id: str
        store_id: strawberry.ID
        occurred_at: dt.datetime
        payment_method: PaymentMethod
        tier_at_purchase: Tier
        points_earned: int
        lines: list[registry.ref("RetailPurchaseLine")] = strawberry.field(description="The sale's lines, in order; empty when the POS sent only the total.")
        coupon_code: Optional[str] = strawberry.field(description="The coupon used with the sale; null when none.")
        version: int

        @strawberry.field(description="The lines' sum.")
        def subtotal(self) -> Money:
            return self.subtotal

        @strawberry.field(description="Everything taken off the lines.")
        def discount(self) -> Money:
            return self.discount

        @strawberry.field(description="The member's tier discount the till took off; null when the POS priced the sale (sent the total).")
        def tier_discount(self) -> Optional[Money]:
            return self.tier_discount

        @strawberry.field(description="The coupon's value the till took off; null when the POS priced the sale or no coupon was given.")
        def coupon_discount(self) -> Optional[Money]:
            return self.coupon_discount

        @strawberry.field(description="What the member paid: subtotal − discount.")
        def total(self) -> Money:
            return self.total

        @strawberry.field
        def refunded_total(self) -> Money:
            return self.refunded_total

    @registry.type("RetailMembership", node=NodeSource(models.RetailMembership, visible=services.visible_memberships))
    class RetailMembership:
        """A customer's member card (会员卡): home store, tier, points and purchases."""

        id: strawberry.ID
        customer_id: strawberry.ID
        card_number: str
        phone: str = strawberry.field(description="The member's phone number as given (the till finds the member by it); empty when not known.")
        home_store_id: strawberry.ID
        joined_on: dt.date
        tier: Tier = strawberry.field(description="The member's tier; tierInfo has its configuration.")
        tier_pinned: bool = strawberry.field(description=(
            "The tier was set by hand: sales, refunds and the tick leave it alone until it lapses or is released."))
        tier_pinned_until: Optional[dt.datetime] = strawberry.field(description=(
            "When a tier set by hand lapses; null: until released (or not set by hand)."))
        birthday: Optional[dt.date]
        preferences: list[str]
        purchase_count: int
        last_purchase_at: Optional[dt.datetime]
        version: int

        @strawberry.field(description="Net spend (purchases minus refunds).")
        def spend_total(self) -> Money:
            return self.spend_total

        @strawberry.field(description="The tier's configuration: threshold, discount, multiplier.")
        def tier_info(self) -> Optional[registry.ref("RetailTier")]:
            from plugins.retail_membership import program

            return program.current().tier(self.tier)

        @strawberry.field(description="The points balance: the sum of the ledger.")
        def points_balance(self, info: strawberry.Info) -> int:
            return info.context.loaders.load("retail_membership.balances", services.balances, self.id, default=0)

        @strawberry.field(description="What the points balance is worth in money: the balance × the configured value of a point (retail_membership_point_value).")
        def points_value(self, info: strawberry.Info) -> Money:
            from plugins.retail_membership import program

            balance = info.context.loaders.load("retail_membership.balances", services.balances, self.id, default=0)
            return program.current().points_money(balance)

        @strawberry.field(description="The member's home store.")
        def home_store(self, info: strawberry.Info) -> Optional[registry.ref("RetailStore")]:
            return info.context.loaders.load("retail_membership.stores", services.stores_by_id, self.home_store_id)

        @strawberry.field(description="The customer holding the card.")
        def customer(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            from core.services import customers

            user = info.context.user
            return info.context.loaders.load("retail_membership.customers",
                                             lambda ids: customers.get_many(user, ids), self.customer_id)

        @strawberry.field(description="The points ledger, newest first.")
        def ledger(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                   before: Before = None, order_by: PointsEntryOrder = None) -> registry.connection("RetailPointsEntry"):
            sort = order_to_service(order_by)
            return nested_connection(info.context.loaders, "retail_membership.ledger",
                                     lambda ids, request: services.ledger_pages_for(ids, request, sort),
                                     self.id, page_request(first, after, last, before, default=10),
                                     count_name="retail_membership.ledger_counts",
                                     count_batch=services.ledger_counts, sort=sort)

        @strawberry.field(description="Purchases, newest first.")
        def purchases(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                      before: Before = None, order_by: PurchaseOrder = None) -> registry.connection("RetailPurchase"):
            sort = order_to_service(order_by)
            return nested_connection(info.context.loaders, "retail_membership.purchases",
                                     lambda ids, request: services.purchase_pages_for(ids, request, sort), self.id,
                                     page_request(first, after, last, before, default=10),
                                     count_name="retail_membership.purchase_counts",
                                     count_batch=services.purchase_counts, sort=sort)

        @strawberry.field(description="Family occasions the store greets the member for, in calendar order (20 by default).")
        def occasions(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                      before: Before = None, order_by: OccasionOrder = None) -> registry.connection("RetailOccasion"):
            sort = order_to_service(order_by)
            return nested_connection(info.context.loaders, "retail_membership.occasions",
                                     lambda ids, request: services.occasion_pages_for(ids, request, sort), self.id,
                                     page_request(first, after, last, before),
                                     count_name="retail_membership.occasion_counts",
                                     count_batch=services.occasion_counts, sort=sort)

    @registry.type("RetailGroupResult")
    class RetailGroupResult:
        """How one group of a campaign (treated or control) converted."""

        members: int = strawberry.field(description="Members in the group.")
        converted: int = strawberry.field(description="Members who converted: a purchase (not fully refunded), in the goal category if set, within goalDays of launch.")
        rate: Optional[float] = strawberry.field(description="converted / members (0–1); null for an empty group.")

    @registry.type("RetailCampaignResult")
    class RetailCampaignResult:
        """Conversion of the treated and control groups and the lift (treated − control) with its interval."""

        treated: registry.ref("RetailGroupResult") = strawberry.field(description="The members who got the offer.")
        control: registry.ref("RetailGroupResult") = strawberry.field(description="The members kept as the control group.")
        lift: Optional[float] = strawberry.field(description="The treated group's rate minus the control group's; null when either group is empty.")
        ci_low: Optional[float] = strawberry.field(description="The lower bound of the lift's interval at `confidence` (Newcombe's hybrid score); null with the lift.")
        ci_high: Optional[float] = strawberry.field(description="The upper bound of the lift's interval; null with the lift.")
        confidence: float = strawberry.field(description="The confidence level of the interval (0.95 unless asked otherwise).")
        p_value: Optional[float] = strawberry.field(description="The pooled two-proportion z-test's p-value; null when either group is empty.")
        coupons_redeemed: int = strawberry.field(description="Coupon codes of the campaign used at a purchase.")
        window_start: Optional[dt.datetime] = strawberry.field(description="When conversions start counting: the launch (UTC, ISO 8601).")
        window_end: Optional[dt.datetime] = strawberry.field(description="When they stop: goalDays after the launch (UTC, ISO 8601).")

    @registry.type("RetailCampaign")
    class RetailCampaign:
        """A campaign with a random control group."""

        id: strawberry.ID
        name: str
        status: vocabulary("retail_membership_campaign.status.state")
        offer_kind: vocabulary("retail_membership_offer_kind")
        goal_category: Optional[str]
        goal_days: int
        launched_at: Optional[dt.datetime]
        treated_count: int
        control_count: int
        holiday: Optional[str] = strawberry.field(metadata=open_vocabulary(
            "A holiday of the deployment's configured calendar (retailHolidays)."),
            description="The holiday it is launched for (a key of retailHolidays); null: launched by hand.")
        holiday_offset_days: int = strawberry.field(description="Days from the holiday to the launch (-7: a week before).")
        repeat_yearly: bool = strawberry.field(description="When launched for its holiday, a draft copy is scheduled for the holiday's next date.")
        scheduled_on: Optional[dt.date] = strawberry.field(description="The day trellis tick launches the draft; null without a holiday or once launched.")
        version: int

        @strawberry.field(description="The share of members kept as the control group, 0–0.9 (3 places, as REST).")
        def control_share(self) -> str:
            # a row just created holds the Decimal it was given ("0.2"); one read back holds "0.200"
            return f"{self.control_share:.3f}"

        @strawberry.field(description="The lift against the control group (None before launch).")
        def result(self, info: strawberry.Info, confidence: Annotated[float, strawberry.argument(description="The confidence level of the interval (default 0.95).")] = 0.95) -> Optional[registry.ref("RetailCampaignResult")]:
            if self.launched_at is None:
                return None
            found = info.context.loaders.load(f"retail_membership.campaign_results:{confidence}",
                                              lambda ids: _results(ids, confidence), self.id)
            return _Result(found) if found else None

        @strawberry.field(description="Who is in which group, and their coupon, treated first (20 by default); members you may not see are left out.")
        def members(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                    before: Before = None, order_by: CampaignMemberOrder = None
                    ) -> registry.connection("RetailCampaignMember"):
            user, sort = info.context.user, order_to_service(order_by)
            return nested_connection(info.context.loaders, "retail_membership.campaign_members",
                                     lambda ids, request: campaigns.member_pages_for(user, ids, request, sort), self.id,
                                     page_request(first, after, last, before),
                                     count_name="retail_membership.campaign_member_counts",
                                     count_batch=lambda ids: campaigns.member_counts(user, ids), sort=sort)

    @registry.type("RetailTillCoupon")
    class RetailTillCoupon:
        """A coupon of the member's that can be used now: give its code with the sale."""

        code: str = strawberry.field(description="The single-use code.")
        campaign_id: strawberry.ID = strawberry.field(description="The id of the campaign that gave it.")
        campaign_name: str = strawberry.field(description="The campaign's name.")
        description: str = strawberry.field(description="The offer in words; empty when none.")
        expires_at: dt.datetime = strawberry.field(description="The end of the campaign's days (UTC, ISO 8601): not usable after.")

        @strawberry.field(description="What it takes off a sale.")
        def value(self) -> Money:
            return self.value

    @registry.type("RetailTillCampaign")
    class RetailTillCampaign:
        """A running campaign the member was drawn to get the offer of (the control group never hears of it)."""

        campaign_id: strawberry.ID = strawberry.field(description="The id of the campaign.")
        name: str = strawberry.field(description="The campaign's name.")
        offer_kind: vocabulary("retail_membership_offer_kind") = strawberry.field(description="COUPON, SAMPLE (hand it out) or POINTS_BONUS (credited at launch).")
        offer_description: str = strawberry.field(description="The offer in words; empty when none.")
        ends_at: dt.datetime = strawberry.field(description="When the campaign's days end (UTC, ISO 8601).")
        coupon_code: Optional[str] = strawberry.field(description="The member's coupon; null when the offer has none.")
        coupon_used: bool = strawberry.field(description="The member's coupon was used already.")

        @strawberry.field(description="The coupon's amount or the bonus points, as a decimal string.")
        def offer_value(self) -> str:
            return f"{self.offer_value:.2f}"

    @registry.type("RetailTillMember")
    class RetailTillMember:
        """What a clerk needs at the till, in one read: the card (with the customer), the tier and its discount, the points and their money value, the coupons usable now and the running campaigns."""

        membership: registry.ref("RetailMembership") = strawberry.field(description="The member's card.")
        tier: registry.ref("RetailTier") = strawberry.field(description="The member's tier: its discount comes off a sale the till prices.")
        points_balance: int = strawberry.field(description="The points balance (points past their expiry left out).")
        coupons: list[registry.ref("RetailTillCoupon")] = strawberry.field(description="Coupons usable now: campaign running, not expired, not used.")
        campaigns: list[registry.ref("RetailTillCampaign")] = strawberry.field(description="Running campaigns the member gets the offer of.")

        @strawberry.field(description="What the balance is worth in money.")
        def points_value(self) -> Money:
            return self.points_value

        @strawberry.field(description="What one point is worth (yuan), as a decimal string.")
        def point_value(self) -> str:
            return str(self.point_value)

    @registry.input("RetailPurchaseLineCreateInput")
    class RetailPurchaseLineCreateInput:
        sku: str
        category: str = strawberry.field(metadata=CATEGORY)
        quantity: int
        unit_price: Money

    @registry.input("RetailPurchaseCreateInput")
    class RetailPurchaseCreateInput:
        pos_transaction_id: str
        occurred_at: dt.datetime
        lines: list[registry.ref("RetailPurchaseLineCreateInput")] = strawberry.field(description="The sale's lines (1 to 500).")
        total: Optional[Money] = strawberry.field(default=UNSET, description="What the member paid, priced by the POS: the lines (minus the discount) must add up to it. Left out (with discount): the till prices the sale — the member's tier discount, then the coupon's value.")
        store_code: Optional[str] = strawberry.field(default=UNSET, description="The store's code; or give storeId (exactly one of the two).")
        store_id: Optional[strawberry.ID] = UNSET
        card_number: Optional[str] = strawberry.field(default=UNSET, description="The member's card number; or give membershipId.")
        membership_id: Optional[strawberry.ID] = UNSET
        discount: Optional[Money] = strawberry.field(default=UNSET, description="The discount given, as a decimal string; null or left out: none.")
        payment_method: Optional[PaymentMethod] = UNSET
        coupon_code: Optional[str] = strawberry.field(default=UNSET, description="A campaign's single-use coupon of the member's, used at this sale: it must be usable (campaign running, within its days, unused) and worth more than 0.00.")

    @registry.input("RetailMembershipCreateInput")
    class RetailMembershipCreateInput:
        home_store_id: strawberry.ID
        customer_id: Optional[strawberry.ID] = UNSET
        customer_name: Optional[str] = strawberry.field(default=UNSET, description="Creates a person customer.")
        card_number: Optional[str] = UNSET
        phone: Optional[str] = strawberry.field(default=UNSET, description="The member's phone number in any usual form; the till finds the member by it (unique among live members).")
        joined_on: Optional[dt.date] = UNSET
        birthday: Optional[dt.date] = UNSET
        preferences: Optional[list[str]] = UNSET
        referred_by_card: Optional[str] = strawberry.field(default=UNSET, description="The card number of the member who referred them (the referrer earns a bonus at their first purchase).")

    @registry.input("RetailRefundCreateInput")
    class RetailRefundCreateInput:
        """A refund at the POS, full or partial: it takes back spend and points in proportion."""

        purchase_id: strawberry.ID
        pos_refund_id: str = strawberry.field(description="The POS system's id of the refund, unique per purchase: recording it again changes nothing.")
        amount: Optional[Money] = strawberry.field(default=UNSET, description="How much is refunded, as a decimal string; left out: what is left of the purchase (a full refund).")
        reason: Optional[str] = strawberry.field(default=UNSET, description="Why the member returned it.")

    @registry.input("RetailMembershipFilter")
    class RetailMembershipFilter:
        q: Optional[str] = strawberry.field(default=UNSET, description="Only members whose name or card number contains this text.")
        tier: Optional[Tier] = UNSET
        home_store_id: Optional[strawberry.ID] = UNSET
        card_number: Optional[str] = UNSET

    @registry.input("RetailRefundFilter")
    class RetailRefundFilter:
        purchase_id: Optional[strawberry.ID] = strawberry.field(default=UNSET, description="Only the refunds of this purchase.")
        membership_id: Optional[strawberry.ID] = strawberry.field(default=UNSET, description="Only the refunds of this member.")

    @registry.input("RetailLapseFilter")
    class RetailLapseFilter:
        open: Optional[bool] = strawberry.field(default=UNSET, description="Only members who have not come back.")
        store_id: Optional[strawberry.ID] = strawberry.field(default=UNSET, description="Only members whose home store this is.")

    @registry.input("RetailOccasionCreateInput")
    class RetailOccasionCreateInput:
        """An occasion to greet the member for."""

        kind: vocabulary("retail_membership_occasion_kind") = strawberry.field(description="What the occasion is.")
        date: dt.date = strawberry.field(description="The date (ISO 8601); its month and day recur yearly.")
        name: Optional[str] = strawberry.field(default=UNSET, description="Whose occasion, in words (up to 120 characters).")

    _register_store_and_campaign_inputs(registry)
    _register_member_inputs(registry)

    @registry.type("RetailUploadItem")
    class RetailUploadItem:
        """What became of one purchase of a POS batch."""

        index: int = strawberry.field(description="The purchase's position in the batch, from 0.")
        pos_transaction_id: str = strawberry.field(description="The POS system's id of the sale.")
        status: vocabulary("retail_membership_upload_status") = strawberry.field(description="CREATED, or DUPLICATE (recorded before: nothing changed).")
        purchase_id: strawberry.ID = strawberry.field(description="The id of the purchase recorded for it.")
        points_earned: int = strawberry.field(description="Points the purchase earned.")

    @registry.type("RetailUploadResult")
    class RetailUploadResult:
        """What a POS batch upload recorded: uploading a batch twice leaves the same records, points and tiers as once."""

        received: int = strawberry.field(description="Purchases in the batch.")
        created: int = strawberry.field(description="Purchases recorded now.")
        duplicates: int = strawberry.field(description="Purchases recorded before (nothing changed).")
        items: list[registry.ref("RetailUploadItem")] = strawberry.field(description="One item per purchase, in batch order.")


class _Obj:
    def __init__(self, data: dict):
        self.__dict__.update(data)


class _Result(_Obj):
    def __init__(self, data: dict):
        super().__init__({**data, "treated": _Obj(data["treated"]), "control": _Obj(data["control"])})


def _memberships_by_id(actor, ids) -> dict:
    """Memberships by id, as the actor may see them (one statement for a page of lapses)."""
    from core import db

    stmt = services.visible_memberships(actor).where(models.RetailMembership.id.in_(ids))
    return {m.id: m for m in db.session().scalars(stmt)}


def _results(ids, confidence):
    from core import db
    from plugins.retail_membership.models import RetailCampaign as Model

    rows = [db.session().get(Model, i) for i in ids]
    return campaigns.results_for([r for r in rows if r is not None], confidence)


def _register_store_and_campaign_inputs(registry) -> None:
    @registry.input("RetailStoreCreateInput")
    class RetailStoreCreateInput:
        """A new store."""

        code: str = strawberry.field(description="Letters, digits, - and _, at most 40; unique.")
        name: str
        kind: Optional[registry.vocabulary_enum("retail_membership_store_kind")] = strawberry.field(
            default=UNSET, description="Default CLOTHING.")
        city: Optional[str] = UNSET
        address: Optional[str] = UNSET

    @registry.input("RetailStoreUpdateInput")
    class RetailStoreUpdateInput:
        """The fields to change and the version you read."""

        version: int
        code: Optional[str] = UNSET
        name: Optional[str] = UNSET
        kind: Optional[registry.vocabulary_enum("retail_membership_store_kind")] = UNSET
        city: Optional[str] = UNSET
        address: Optional[str] = UNSET

    @registry.input("RetailStoreFilter")
    class RetailStoreFilter:
        q: Optional[str] = strawberry.field(default=UNSET, description="In the code or the name.")
        kind: Optional[registry.vocabulary_enum("retail_membership_store_kind")] = UNSET
        city: Optional[str] = UNSET
        deleted: Optional[bool] = strawberry.field(default=UNSET, description="List deleted stores instead.")

    @registry.input("RetailCampaignSegmentInput")
    class RetailCampaignSegmentInput:
        """Which members a campaign targets (all conditions hold; empty lists match everyone)."""

        tiers: Optional[list[str]] = strawberry.field(default=UNSET, description="Members in one of these tiers (codes).")
        store_ids: Optional[list[strawberry.ID]] = UNSET
        categories: Optional[list[str]] = strawberry.field(
            default=UNSET, description="Bought something in one of these categories.")
        recency_days: Optional[int] = strawberry.field(default=UNSET,
                                                       description="Bought something within this many days.")
        min_purchases: Optional[int] = strawberry.field(default=UNSET, description="Members with at least this many purchases (default 0).")

    @registry.input("RetailCampaignCreateInput")
    class RetailCampaignCreateInput:
        """A draft campaign: its members are drawn and split into offer and control at launch."""

        name: str
        offer_kind: registry.vocabulary_enum("retail_membership_offer_kind")
        segment: Optional[registry.ref("RetailCampaignSegmentInput")] = strawberry.field(default=UNSET, description="Which members it targets; left out: every member.")
        control_share: Optional[str] = strawberry.field(default=UNSET,
                                                        description="0–0.9 as a decimal string (default 0.2).")
        offer_value: Optional[str] = strawberry.field(default=UNSET, description=(
            "Coupon amount, or points of a points bonus, as a decimal string."))
        offer_description: Optional[str] = strawberry.field(default=UNSET, description="The offer in words, for the staff.")
        goal_category: Optional[str] = strawberry.field(
            default=UNSET, description="A purchase in this category converts (any when empty).")
        goal_days: Optional[int] = UNSET
        holiday: Optional[str] = strawberry.field(default=UNSET, metadata=open_vocabulary(
            "A holiday of the deployment's configured calendar (retailHolidays)."), description=(
            "Launch it for this holiday (a key of retailHolidays, e.g. spring_festival); trellis tick "
            "launches the draft on its next date plus holidayOffsetDays. Null: launched by hand."))
        holiday_offset_days: Optional[int] = strawberry.field(default=UNSET, description="Days from the holiday to the launch, -90..90 (default 0).")
        repeat_yearly: Optional[bool] = strawberry.field(default=UNSET, description="When launched, schedule a draft copy for the holiday's next date.")

    @registry.input("RetailCampaignUpdateInput")
    class RetailCampaignUpdateInput:
        """The fields of a draft campaign to change and the version you read."""

        version: int
        name: Optional[str] = UNSET
        offer_kind: Optional[registry.vocabulary_enum("retail_membership_offer_kind")] = UNSET
        segment: Optional[registry.ref("RetailCampaignSegmentInput")] = strawberry.field(default=UNSET, description="Which members it targets.")
        control_share: Optional[str] = strawberry.field(default=UNSET, description="The share of members kept as the control group, 0–0.9 as a decimal string.")
        offer_value: Optional[str] = strawberry.field(default=UNSET, description="Coupon amount, or points of a points bonus, as a decimal string.")
        offer_description: Optional[str] = strawberry.field(default=UNSET, description="The offer in words, for the staff.")
        goal_category: Optional[str] = strawberry.field(default=UNSET, description="A purchase in this category converts (null: any).")
        goal_days: Optional[int] = UNSET
        holiday: Optional[str] = strawberry.field(default=UNSET, metadata=open_vocabulary(
            "A holiday of the deployment's configured calendar (retailHolidays)."), description=(
            "Launch it for this holiday (a key of retailHolidays, e.g. spring_festival); trellis tick "
            "launches the draft on its next date plus holidayOffsetDays. Null: launched by hand."))
        holiday_offset_days: Optional[int] = strawberry.field(default=UNSET, description="Days from the holiday to the launch, -90..90 (default 0).")
        repeat_yearly: Optional[bool] = strawberry.field(default=UNSET, description="When launched, schedule a draft copy for the holiday's next date.")

    @registry.input("RetailCampaignFilter")
    class RetailCampaignFilter:
        status: Optional[registry.vocabulary_enum("retail_membership_campaign.status.state")] = UNSET
        offer_kind: Optional[registry.vocabulary_enum("retail_membership_offer_kind")] = UNSET
        deleted: Optional[bool] = UNSET


def _register_member_inputs(registry) -> None:
    from plugins.retail_membership import schemas

    input_from_schema(registry, "RetailMembershipUpdateInput", schemas.MembershipUpdate, update=True)
    input_from_schema(registry, "RetailPurchaseFilter", schemas.PurchaseFilter, metadata={"category": CATEGORY})
    input_from_schema(registry, "RetailTierChangeInput", schemas.TierChange,
                      vocabularies={"tier": services.TIER_WORKFLOW + ".state"},
                      description="A tier set by hand, with the reason kept in the tier history.")
    input_from_schema(registry, "RetailPointsAdjustmentInput", schemas.Adjustment,
                      description="A manager's correction of a balance, with a reason.")


def _members_and_purchases(registry) -> CrudFields:
    """Updating, deleting and restoring a membership, and reading purchases, as REST does."""
    memberships = crud_fields(
        registry, "RetailMembership",
        service=CrudService(list=None, get=services.get_membership, create=None, update=services.update_membership,
                            delete=services.delete_membership, restore=services.restore_membership),
        update_input="RetailMembershipUpdateInput", names={"get": None, "list": None},
        descriptions={"update": "Change the home store, birthday or preferences; send the version you read.",
                      "restore": "Bring a deleted membership back."})
    purchases = crud_fields(
        registry, "RetailPurchase",
        service=CrudService(list=services.list_purchases, get=services.get_purchase, create=None, update=None,
                            delete=None, restore=None),
        filter_input="RetailPurchaseFilter", sortable=list(services.PURCHASE_SORT), default_sort="-occurred_at",
        names={"delete": None, "restore": None},
        descriptions={"get": "One purchase you may see.", "list": "Purchases you may see, newest first."})
    return CrudFields({**memberships.query, **purchases.query}, {**memberships.mutation, **purchases.mutation})


def _stores(registry) -> CrudFields:
    # the declared store's fields (services.STORES); its type and inputs are written above, as they were
    return record_fields(
        registry, services.STORES,
        descriptions={"get": "One store.", "list": "The stores.", "create": "A new store (admins).",
                      "restore": "Bring a deleted store back (admins)."})


def _campaigns(registry) -> CrudFields:
    # the declared campaign's fields (campaigns.CAMPAIGNS); its type and inputs are written above
    return record_fields(
        registry, campaigns.CAMPAIGNS,
        descriptions={"get": "One campaign.", "list": "The campaigns (managers and admins).",
                      "create": "A draft campaign (managers and admins).",
                      "update": "Change a draft campaign; send the version you read.",
                      "restore": "Bring a deleted campaign back."})


def type_fields(registry) -> dict:
    def membership(root: strawberry.Parent[object], info: strawberry.Info) -> Optional[registry.ref("RetailMembership")]:
        return info.context.loaders.load("retail_membership.by_customer", services.memberships_for_customers, root.id)

    return {"RetailMembership": {"tier_history": history_field(registry, services.TIER_WORKFLOW,
                                                               "Every tier change, oldest first (with its reason).")},
            "Customer": {"membership": strawberry.field(
        resolver=membership, description="The customer's member card (retail membership), if any.")}}


def query_fields(registry) -> dict:
    member_order = order_by_argument(registry, "RetailMembership", services.MEMBER_SORT, "card_number")
    refund_order = order_by_argument(registry, "RetailRefund", list(services.REFUND_SORTABLE), "-occurred_at")
    lapse_order = order_by_argument(registry, "RetailLapse", list(services.LAPSE_SORTABLE), "-flagged_at")

    def retail_membership(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("RetailMembership")]:
        return services.get_membership(info.context.user, id)

    def retail_memberships(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                           filter: Optional[registry.ref("RetailMembershipFilter")] = None,
                           order_by: member_order = None) -> registry.connection("RetailMembership"):
        request = page_request(first, after, last, before)
        with field_names(prefix="filter."):
            page = services.list_memberships(info.context.user, input_to_dict(filter), page=request,
                                             sort=order_to_service(order_by))
        return connection(info, page)

    def retail_till_member(info: strawberry.Info,
                           phone: Annotated[Optional[str], strawberry.argument(description="The member's phone number in any usual form (+86 138-0013-8000, 0086…, 138…).")] = None,
                           card: Annotated[Optional[str], strawberry.argument(description="The member's card number, exactly.")] = None,
                           ) -> Optional[registry.ref("RetailTillMember")]:
        args = {k: v for k, v in (("phone", phone), ("card", card)) if v is not None}
        found = services.till_lookup(info.context.user, args)
        return _Obj({**found, "coupons": [_Obj(c) for c in found["coupons"]],
                     "campaigns": [_Obj(c) for c in found["campaigns"]]})

    def retail_holidays(info: strawberry.Info,
                        start: Annotated[Optional[dt.date], strawberry.argument(name="from", description="First day (default: today).")] = None,
                        end: Annotated[Optional[dt.date], strawberry.argument(name="to", description="Last day (default: a year after the first; at most three years).")] = None,
                        ) -> list[registry.ref("RetailHoliday")]:
        args = {k: v.isoformat() for k, v in (("from", start), ("to", end)) if v is not None}
        return campaigns.holidays(info.context.user, args)

    def retail_tiers(info: strawberry.Info) -> list[registry.ref("RetailTier")]:
        from core.services.permissions import require_actor
        from plugins.retail_membership import program

        require_actor(info.context.user)
        return list(program.current().tiers)

    def retail_refunds(info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                       before: Before = None, filter: Optional[registry.ref("RetailRefundFilter")] = None,
                       order_by: refund_order = None) -> registry.connection("RetailRefund"):
        request = page_request(first, after, last, before)
        with field_names(prefix="filter."):
            page = services.list_refunds(info.context.user, input_to_dict(filter), page=request,
                                         sort=order_to_service(order_by))
        return connection(info, page)

    def retail_lapses(info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                      before: Before = None, filter: Optional[registry.ref("RetailLapseFilter")] = None,
                      order_by: lapse_order = None) -> registry.connection("RetailLapse"):
        request = page_request(first, after, last, before)
        with field_names(prefix="filter."):
            page = services.list_lapses(info.context.user, input_to_dict(filter), page=request,
                                        sort=order_to_service(order_by))
        return connection(info, page)

    return {
        "retailRefunds": strawberry.field(resolver=retail_refunds, description="Refunds of the members you may see, newest first."),
        "retailLapses": strawberry.field(resolver=retail_lapses, description="Lapsed regulars flagged by `trellis tick`, of the members you may see, newest first."),
        "retailMembership": strawberry.field(resolver=retail_membership, description="One membership you may see."),
        "retailMemberships": strawberry.field(resolver=retail_memberships, description="Memberships you may see."),
        "retailTiers": strawberry.field(resolver=retail_tiers, description="The tiers, lowest first."),
        "retailTillMember": strawberry.field(resolver=retail_till_member, description=(
            "At the till: the member with this phone (any usual form) or card number (give one) — card, tier, "
            "points and their money value, usable coupons, running campaigns. NOT_FOUND when no member you may see has it.")),
        "retailHolidays": strawberry.field(resolver=retail_holidays, metadata=bounded_list(
            "The holidays of at most three years of the configured calendar (about 20 a year)."),
            description="The holidays of the deployment's calendar a campaign can be keyed to, in date order."),
        **_stores(registry).query,
        **_campaigns(registry).query,
        **_members_and_purchases(registry).query,
    }


def mutation_fields(registry) -> dict:
    def create_retail_membership(info: strawberry.Info, input: registry.ref("RetailMembershipCreateInput")
                                 ) -> Optional[registry.ref("RetailMembership")]:
        data = input_to_dict(input)
        if "customer_name" in data:
            data["customer"] = {"name": data.pop("customer_name")}
        return services.create_membership(info.context.user, data)

    def record_retail_purchase(info: strawberry.Info, input: registry.ref("RetailPurchaseCreateInput")
                               ) -> Optional[registry.ref("RetailPurchase")]:
        return services.record_purchase(info.context.user, input_to_dict(input))[0]

    def upload_retail_purchases(info: strawberry.Info, purchases: Annotated[list[registry.ref("RetailPurchaseCreateInput")], strawberry.argument(description="The batch's purchases, validated together before any is recorded.")]
                                ) -> registry.ref("RetailUploadResult"):
        result = services.upload_batch(info.context.user, {"purchases": [input_to_dict(p) for p in purchases]})
        return _Obj({**result, "items": [_Obj(i) for i in result["items"]]})

    def refund_retail_purchase(info: strawberry.Info, input: registry.ref("RetailRefundCreateInput")
                               ) -> Optional[registry.ref("RetailPurchase")]:
        row, _ = services.refund(info.context.user, input_to_dict(input))
        return services.get_purchase(info.context.user, row.purchase_id)

    def redeem_retail_points(info: strawberry.Info, membership_id: strawberry.ID, points: Annotated[int, strawberry.argument(description="How many points to spend (1 to the balance).")],
                             reason: str = "") -> Optional[registry.ref("RetailPointsEntry")]:
        return services.redeem(info.context.user, membership_id, {"points": points, "reason": reason})

    def launch_retail_campaign(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("RetailCampaign")]:
        return campaigns.launch(info.context.user, id, {})

    def set_retail_membership_tier(info: strawberry.Info, membership_id: strawberry.ID,
                                   input: registry.ref("RetailTierChangeInput")
                                   ) -> Optional[registry.ref("RetailMembership")]:
        return services.set_tier(info.context.user, membership_id, input_to_dict(input))

    def release_retail_membership_tier(info: strawberry.Info, membership_id: strawberry.ID
                                       ) -> Optional[registry.ref("RetailMembership")]:
        return services.release_tier(info.context.user, membership_id)

    def adjust_retail_points(info: strawberry.Info, membership_id: strawberry.ID,
                             input: registry.ref("RetailPointsAdjustmentInput")
                             ) -> Optional[registry.ref("RetailPointsEntry")]:
        return services.adjust(info.context.user, membership_id, input_to_dict(input))

    def close_retail_campaign(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("RetailCampaign")]:
        return campaigns.close(info.context.user, id)

    def create_retail_occasion(info: strawberry.Info, membership_id: strawberry.ID,
                               input: registry.ref("RetailOccasionCreateInput")) -> Optional[registry.ref("RetailOccasion")]:
        return services.add_occasion(info.context.user, membership_id, input_to_dict(input))

    def delete_retail_occasion(info: strawberry.Info, membership_id: strawberry.ID,
                               id: Annotated[strawberry.ID, strawberry.argument(description="The id of the occasion to remove.")]
                               ) -> Optional[registry.ref("RetailOccasion")]:
        from core import db
        from core.services import common

        services.delete_occasion(info.context.user, membership_id, id)
        return db.session().get(models.RetailOccasion, common.parse_uuid(id))

    def assign_retail_store_staff(info: strawberry.Info, store_id: strawberry.ID, user_id: strawberry.ID
                                  ) -> Optional[registry.ref("RetailStoreStaff")]:
        return services.assign_staff(info.context.user, store_id, {"user_id": user_id})

    def remove_retail_store_staff(info: strawberry.Info, store_id: strawberry.ID, user_id: strawberry.ID
                                  ) -> Optional[registry.ref("RetailStore")]:
        services.remove_staff(info.context.user, store_id, user_id)
        return services.get_store(info.context.user, store_id)

    def redeem_retail_coupon(info: strawberry.Info, code: Annotated[str, strawberry.argument(description="The coupon's code, as the member shows it.")]
                             ) -> Optional[registry.ref("RetailCampaignMember")]:
        return campaigns.redeem_coupon(info.context.user, code)

    return {
        "createRetailOccasion": strawberry.mutation(resolver=create_retail_occasion, description="Add an occasion (a child's birthday …) the store greets the member for."),
        "deleteRetailOccasion": strawberry.mutation(resolver=delete_retail_occasion, description="Remove a member's occasion; returns the removed occasion."),
        "assignRetailStoreStaff": strawberry.mutation(resolver=assign_retail_store_staff, description="Put an active user on a store's staff (admins); assigning twice changes nothing."),
        "removeRetailStoreStaff": strawberry.mutation(resolver=remove_retail_store_staff, description="Take a user off a store's staff (admins); returns the store."),
        "redeemRetailCoupon": strawberry.mutation(resolver=redeem_retail_coupon, description="Use a campaign's single-use coupon at the till outside a recorded purchase; a second use is a CONFLICT."),
        "createRetailMembership": strawberry.mutation(resolver=create_retail_membership, description="Enrol a customer (or a new person customer) as a member at a home store."),
        "recordRetailPurchase": strawberry.mutation(
            resolver=record_retail_purchase, description="Idempotent by store and POS transaction id."),
        "uploadRetailPurchases": strawberry.mutation(
            resolver=upload_retail_purchases, description="A POS batch; recorded ones count as duplicates."),
        "refundRetailPurchase": strawberry.mutation(resolver=refund_retail_purchase,
                                                    description="Returns the refunded purchase."),
        "redeemRetailPoints": strawberry.mutation(resolver=redeem_retail_points, description="Spend points from a member's balance (oldest points first); returns the ledger entry."),
        "launchRetailCampaign": strawberry.mutation(resolver=launch_retail_campaign, description="Draw a draft campaign's members, split them at random into treated and control, and hand the offer to the treated."),
        "closeRetailCampaign": strawberry.mutation(resolver=close_retail_campaign,
                                                   description="End a launched campaign; its result stays."),
        "setRetailMembershipTier": strawberry.mutation(resolver=set_retail_membership_tier, description=(
            "Place a member in a tier by hand (managers), with the reason kept in the tier history; it holds "
            "(sales, refunds and the tick leave it alone) until `until` or releaseRetailMembershipTier.")),
        "releaseRetailMembershipTier": strawberry.mutation(resolver=release_retail_membership_tier, description=(
            "Release a tier set by hand (managers): the spend decides the tier again, at once.")),
        "adjustRetailPoints": strawberry.mutation(resolver=adjust_retail_points, description=(
            "Correct a balance (managers); a positive adjustment expires like earned points.")),
        **_stores(registry).mutation,
        **_campaigns(registry).mutation,
        **_members_and_purchases(registry).mutation,
    }
