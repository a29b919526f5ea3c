"""Retail membership (零售会员): flask-smorest blueprints, returned by the ``trellis_rest_blueprints`` hook.

Mounted under ``/api/v1/retail-membership``. Views only translate: bodies go to the services as sent
(the services validate them with the schemas documented here), records come back through the output
schemas.
"""
from __future__ import annotations

from flask import request
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, fields

from api.rest.crud import (BULK_REQUEST_BYTES, LINK_HEADER, Blueprint, CrudService, CursorArgs, KnownArgs, NoArgs, body_doc, body_limit,
                           crud_blueprint, json_body, list_args_schema, list_query, record_blueprint, served)
from core.schemas import MAX_PAGE_SIZE

from plugins.retail_membership import campaigns, services
from plugins.retail_membership import schemas as S


class TillLookupQuery(S.RetailTillLookupArgs, KnownArgs):
    """The till's lookup query: a key it does not know is a 422 naming it (:class:`KnownArgs`)."""

    passes = ()


def _sorted(name: str, sortable, base: type[Schema] = CursorArgs) -> type[Schema]:
    """A sub-list's query arguments: ``base``'s (the cursors) plus ``sort`` (keys of ``sortable``)."""
    # other query keys pass through, as before ``sort`` was taken
    return type(name, (base,), {"Meta": type("Meta", (), {"unknown": EXCLUDE}), "sort": fields.String(
        metadata={"description": "Comma-separated keys, '-' for descending: " + ", ".join(sortable)})})


def _memberships_list(actor, filters, *, page, sort=None):
    return services.list_memberships(actor, filters, page=page, sort=sort)


def blueprints() -> list[Blueprint]:
    stores = crud_blueprint(
        "retail_membership_stores", "/stores", description="Stores (门店). Admins write; everyone reads.",
        service=services.STORES.crud_service(), out_schema=services.STORES.out_schema,
        create_schema=services.STORES.create_schema, update_schema=services.STORES.update_schema,
        filter_schema=services.STORES.filter_schema, sortable=list(services.STORES.sortable))

    @stores.route("/<uuid:store_id>/staff")
    @stores.arguments(_sorted("StaffListArgs", services.STAFF_SORTABLE, Schema), location="query", as_kwargs=False)
    @stores.response(200, S.StaffOut(many=True))
    def store_staff(args, store_id):
        """The store's staff, longest-serving first"""
        return services.staff_of(current_user, store_id, sort=args.get("sort"))

    @stores.route("/<uuid:store_id>/staff", methods=["POST"])
    @stores.doc(**body_doc(S.StaffAssign))
    @stores.response(201, S.StaffOut)
    def add_staff(store_id):
        """Put a user on the store's staff (admins)"""
        return services.assign_staff(current_user, store_id, json_body())

    @stores.route("/<uuid:store_id>/staff/<uuid:user_id>", methods=["DELETE"])
    @stores.response(204)
    def remove_staff(store_id, user_id):
        """Take a user off the store's staff (admins)"""
        services.remove_staff(current_user, store_id, user_id)

    members = crud_blueprint(
        "retail_membership_memberships", "/memberships",
        description="Memberships (会员卡): a customer's card, home store, tier and points.",
        service=CrudService(list=_memberships_list, get=services.get_membership_out,
                            create=services.create_membership_out, update=services.update_membership,
                            delete=services.delete_membership, restore=services.restore_membership),
        out_schema=S.MembershipOut, create_schema=S.MembershipCreate, update_schema=S.MembershipUpdate,
        filter_schema=S.MembershipFilter, sortable=list(services.MEMBER_SORT))

    @members.route("/lookup")
    @members.arguments(TillLookupQuery, location="query", as_kwargs=False)
    @members.response(200, S.RetailTillMemberOut)
    def till_lookup(args):
        """At the till: find a member by phone (any usual form) or card number, with their tier, points (and
        their money value), usable coupons and running campaigns; 404 when none you may see has it"""
        return services.till_lookup(current_user, args)

    @members.route("/<uuid:membership_id>/ledger")
    @members.arguments(_sorted("LedgerListArgs", services.LEDGER_SORTABLE), location="query", as_kwargs=False)
    @members.response(200, S.PointsEntryOut(many=True), headers={"Link": LINK_HEADER})
    @members.paginate(max_page_size=MAX_PAGE_SIZE)
    def ledger(_args, membership_id, pagination_parameters):
        """The points ledger, newest first (append-only)"""
        args, paging = list_query(pagination_parameters, _args)
        return served(pagination_parameters, services.ledger(current_user, membership_id, page=paging,
                                                             sort=args.get("sort")))

    @members.route("/<uuid:membership_id>/balance")
    @members.response(200, S.BalanceOut)
    def balance(membership_id):
        """The points balance (the sum of the ledger) and the next expiry"""
        return services.balance_report(current_user, membership_id)

    @members.route("/<uuid:membership_id>/redemptions", methods=["POST"])
    @members.doc(**body_doc(S.Redemption))
    @members.response(201, S.PointsEntryOut)
    def redeem(membership_id):
        """Redeem points (never below zero)"""
        return services.redeem(current_user, membership_id, json_body())

    @members.route("/<uuid:membership_id>/adjustments", methods=["POST"])
    @members.doc(**body_doc(S.Adjustment))
    @members.response(201, S.PointsEntryOut)
    def adjust(membership_id):
        """Adjust points with a reason (managers, admins)"""
        return services.adjust(current_user, membership_id, json_body())

    @members.route("/<uuid:membership_id>/tier", methods=["POST"])
    @members.doc(**body_doc(S.TierChange))
    @members.response(200, S.MembershipOut)
    def set_tier(membership_id):
        """Place the member in a tier by hand, with a reason (pins it until released or `until`; managers, admins)"""
        return services.set_tier(current_user, membership_id, json_body())

    @members.route("/<uuid:membership_id>/tier", methods=["DELETE"])
    @members.response(200, S.MembershipOut)
    def release_tier(membership_id):
        """Release a tier set by hand: the spend decides the tier again (managers, admins)"""
        return services.release_tier(current_user, membership_id)

    @members.route("/<uuid:membership_id>/tier-history")
    @members.response(200, S.TierTransitionOut(many=True))
    def tier_history(membership_id):
        """Every tier change, oldest first"""
        return services.tier_history(current_user, membership_id)

    @members.route("/<uuid:membership_id>/purchases")
    @members.arguments(_sorted("MemberPurchaseListArgs", services.PURCHASE_SORT), location="query", as_kwargs=False)
    @members.response(200, S.PurchaseOut(many=True), headers={"Link": LINK_HEADER})
    @members.paginate(max_page_size=MAX_PAGE_SIZE)
    def member_purchases(_args, membership_id, pagination_parameters):
        """The member's purchases, newest first"""
        member = services.get_membership(current_user, membership_id)
        args, paging = list_query(pagination_parameters, _args)
        return served(pagination_parameters, services.list_purchases(
            current_user, {"membership_id": str(member.id)}, page=paging, sort=args.get("sort")))

    @members.route("/<uuid:membership_id>/occasions")
    @members.arguments(_sorted("OccasionListArgs", services.OCCASION_SORTABLE, Schema), location="query",
                       as_kwargs=False)
    @members.response(200, S.OccasionOut(many=True))
    def occasions(args, membership_id):
        """Family occasions the store greets the member for, in calendar order"""
        return services.occasions_of(current_user, membership_id, sort=args.get("sort"))

    @members.route("/<uuid:membership_id>/occasions", methods=["POST"])
    @members.doc(**body_doc(S.OccasionIn))
    @members.response(201, S.OccasionOut)
    def add_occasion(membership_id):
        """Add an occasion (a child's birthday …)"""
        return services.add_occasion(current_user, membership_id, json_body())

    @members.route("/<uuid:membership_id>/occasions/<uuid:occasion_id>", methods=["DELETE"])
    @members.response(204)
    def delete_occasion(membership_id, occasion_id):
        """Remove an occasion"""
        services.delete_occasion(current_user, membership_id, occasion_id)

    sales = Blueprint("retail_membership_sales", "retail_membership_sales", url_prefix="",
                      description="POS purchases and refunds, tiers, lapsed regulars.")

    @sales.route("/purchases")
    @sales.arguments(list_args_schema(S.PurchaseFilter, list(services.PURCHASE_SORT)), location="query", as_kwargs=False)
    @sales.response(200, S.PurchaseOut(many=True), headers={"Link": LINK_HEADER})
    @sales.paginate(max_page_size=MAX_PAGE_SIZE)
    def list_purchases(_args_, pagination_parameters):
        """Purchases you may see (filtered, newest first)"""
        args, paging = list_query(pagination_parameters)
        sort = args.pop("sort", None)
        return served(pagination_parameters, services.list_purchases(current_user, args, page=paging, sort=sort))

    @sales.route("/purchases", methods=["POST"])
    @sales.doc(**body_doc(S.PurchaseIn))
    @sales.response(201, S.PurchaseOut)
    @sales.alt_response(200, schema=S.PurchaseOut, description="Already recorded (same POS transaction id).")
    def post_purchase():
        """Record one POS sale (idempotent by store and POS transaction id: a retry answers 200)"""
        purchase, created = services.record_purchase(current_user, json_body())
        return purchase, 201 if created else 200

    @sales.route("/purchases/batch", methods=["POST"])
    @body_limit(BULK_REQUEST_BYTES)
    @sales.doc(**body_doc(S.PurchaseBatch))
    @sales.response(200, S.BatchOut)
    def upload():
        """Upload a batch of POS sales; already recorded ones are reported as duplicates and change nothing"""
        return services.upload_batch(current_user, json_body())

    @sales.route("/purchases/<uuid:purchase_id>")
    @sales.response(200, S.PurchaseOut)
    def get_purchase(purchase_id):
        """One purchase with its lines"""
        return services.get_purchase(current_user, purchase_id)

    @sales.route("/refunds")
    @sales.arguments(list_args_schema(S.RefundFilter, list(services.REFUND_SORTABLE)), location="query",
                     as_kwargs=False)
    @sales.response(200, S.RefundOut(many=True), headers={"Link": LINK_HEADER})
    @sales.paginate(max_page_size=MAX_PAGE_SIZE)
    def list_refunds(_args_, pagination_parameters):
        """Refunds you may see, newest first"""
        filters, paging = list_query(pagination_parameters)
        sort = filters.pop("sort", None)
        return served(pagination_parameters, services.list_refunds(current_user, filters, page=paging, sort=sort))

    @sales.route("/refunds", methods=["POST"])
    @sales.doc(**body_doc(S.RefundIn))
    @sales.response(201, S.RefundOut)
    @sales.alt_response(200, schema=S.RefundOut, description="Already recorded (same POS refund id).")
    def post_refund():
        """Refund a purchase in full or in part: points and spend are reversed (idempotent by pos_refund_id)"""
        row, created = services.refund(current_user, json_body())
        return row, 201 if created else 200

    @sales.route("/tiers")
    @sales.arguments(NoArgs, location="query", as_kwargs=True)
    @sales.response(200, S.TierOut(many=True))
    def list_tiers():
        """The tiers as configured: threshold, discount rate and points multiplier, lowest first"""
        return services.list_tiers(current_user)

    @sales.route("/holidays")
    @sales.arguments(S.RetailHolidayArgs, location="query", as_kwargs=False)
    @sales.response(200, S.RetailHolidayOut(many=True))
    def list_holidays(_args):
        """The holidays of the deployment's calendar (TRELLIS_HOLIDAY_CALENDAR) a campaign can be keyed to, in date order"""
        return campaigns.listed_holidays(current_user, request.args.to_dict())

    @sales.route("/lapses")
    @sales.arguments(list_args_schema(S.LapseFilter, list(services.LAPSE_SORTABLE)), location="query",
                     as_kwargs=False)
    @sales.response(200, S.LapseOut(many=True), headers={"Link": LINK_HEADER})
    @sales.paginate(max_page_size=MAX_PAGE_SIZE)
    def list_lapses(_args_, pagination_parameters):
        """Lapsed regulars flagged by `trellis tick`, newest flag first"""
        filters, paging = list_query(pagination_parameters)
        sort = filters.pop("sort", None)
        return served(pagination_parameters, services.list_lapses(current_user, filters, page=paging, sort=sort))

    promo = record_blueprint(campaigns.CAMPAIGNS, "retail_membership_campaigns", "/campaigns",
                             description="Campaigns with random control groups; the result is the lift.")

    @promo.route("/<uuid:campaign_id>/launch", methods=["POST"])
    @promo.doc(**body_doc(S.LaunchIn))
    @promo.response(200, S.CampaignOut)
    def launch(campaign_id):
        """Draw the segment, split treated and control at random, hand out the offer"""
        return campaigns.launch(current_user, campaign_id, request.get_json(silent=True) or {})

    @promo.route("/<uuid:campaign_id>/close", methods=["POST"])
    @promo.response(200, S.CampaignOut)
    def close(campaign_id):
        """Close a launched campaign"""
        return campaigns.close(current_user, campaign_id)

    @promo.route("/<uuid:campaign_id>/result")
    @promo.arguments(S.ResultArgs, location="query", as_kwargs=False)
    @promo.response(200, S.CampaignResultOut)
    def result(args, campaign_id):
        """Conversion of treated and control groups, the lift and its confidence interval"""
        return campaigns.result(current_user, campaign_id, args)

    @promo.route("/<uuid:campaign_id>/members")
    @promo.arguments(_sorted("CampaignMemberListArgs", campaigns.MEMBER_SORTABLE), location="query", as_kwargs=False)
    @promo.response(200, S.CampaignMemberOut(many=True), headers={"Link": LINK_HEADER})
    @promo.paginate(max_page_size=MAX_PAGE_SIZE)
    def campaign_members(_args, campaign_id, pagination_parameters):
        """Who is in which group (and their coupon)"""
        args, paging = list_query(pagination_parameters, _args)
        return served(pagination_parameters, campaigns.members(current_user, campaign_id, page=paging,
                                                               sort=args.get("sort")))

    coupons = Blueprint("retail_membership_coupons", "retail_membership_coupons", url_prefix="/coupons",
                        description="Single-use coupon codes.")

    @coupons.route("/<string:code>/redeem", methods=["POST"])
    @coupons.response(200, S.CampaignMemberOut)
    def redeem_coupon(code):
        """Use a coupon (a second use is a 409)"""
        return campaigns.redeem_coupon(current_user, code)

    return [stores, members, sales, promo, coupons]
