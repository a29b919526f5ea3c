"""Retail membership (零售会员): stores, member cards, tiers, points, purchases, campaigns."""
from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl
from core.labels import Choice

name = "retail_membership"
version = "0.2.0"
requires: list[str] = []
#: OpenAPI schema names published before a plugin's schemas had to start with its prefix (docs/plugins.md,
#: "Names"): kept so clients' generated code does not break. New schemas are prefixed; this only shrinks.
legacy_schema_names = frozenset({
    "Adjustment", "BalanceOut", "BatchItemOut", "BatchOut", "CampaignCreate", "CampaignMemberOut",
    "CampaignOut", "CampaignResultOut", "CampaignUpdate", "GroupResultOut", "LapseOut", "LaunchIn",
    "LineIn", "LineOut", "MembershipCreate", "MembershipOut", "MembershipUpdate", "NewMemberCustomer",
    "OccasionIn", "OccasionOut", "PointsEntryOut", "PurchaseBatch", "PurchaseIn", "PurchaseOut",
    "Redemption", "RefundIn", "RefundOut", "SegmentIn", "StaffAssign", "StaffOut", "StoreCreate",
    "StoreOut", "StoreUpdate", "TierChange", "TierOut", "TierTransitionOut",
})


@hookimpl
def trellis_models():
    from plugins.retail_membership.models import MODELS

    return MODELS


@hookimpl
def trellis_migrations():
    return Path(__file__).parent / "migrations" / "versions"


@hookimpl
def trellis_rest_blueprints():
    from plugins.retail_membership.rest import blueprints

    return blueprints()


@hookimpl
def trellis_workflows(settings):
    from plugins.retail_membership.workflows import workflows

    return workflows(settings)


@hookimpl
def trellis_metrics():
    from plugins.retail_membership.metrics import METRICS

    return METRICS


@hookimpl
def trellis_scheduled_jobs():
    from plugins.retail_membership.jobs import jobs

    return jobs()


@hookimpl
def trellis_roles():
    return [Choice("store_staff", "Store staff", "门店店员")]


@hookimpl
def trellis_record_scopes():
    from core.models import Customer
    from plugins.retail_membership import services as s
    from plugins.retail_membership.models import (
        RetailCampaign, RetailLapseAlert, RetailMembership, RetailPurchase, RetailRefund, RetailStore,
    )

    return {Customer: s.customer_scope, RetailMembership: s.membership_scope, RetailPurchase: s.purchase_scope,
            RetailRefund: s.refund_scope, RetailStore: s.store_scope, RetailCampaign: s.campaign_scope,
            RetailLapseAlert: s.lapse_scope}


@hookimpl
def trellis_labels():
    return {
        "notification_kind": [
            Choice("retail_membership.occasion", "Member's occasion", "会员纪念日"),
            Choice("retail_membership.season", "Seasonal greeting", "季节问候"),
            Choice("retail_membership.holiday", "Holiday greeting", "节日问候")],
        "retail_membership_upload_status": [
            Choice("created", "Recorded", "已记录"), Choice("duplicate", "Already recorded", "重复")],
        "retail_membership_store_kind": [
            Choice("clothing", "Clothing", "服装"), Choice("cosmetics", "Cosmetics", "化妆品"),
            Choice("restaurant", "Restaurant", "餐饮"), Choice("books", "Books", "图书"),
            Choice("appliances", "Appliances", "家电"), Choice("grocery", "Grocery", "超市"),
            Choice("other", "Other", "其他")],
        "retail_membership_occasion_kind": [
            Choice("birthday", "Birthday", "生日"), Choice("child_birthday", "Child's birthday", "子女生日"),
            Choice("anniversary", "Anniversary", "纪念日"), Choice("other", "Other occasion", "其他节日")],
        "retail_membership_payment_method": [
            Choice("cash", "Cash", "现金"), Choice("card", "Bank card", "银行卡"),
            Choice("wechat_pay", "WeChat Pay", "微信支付"), Choice("alipay", "Alipay", "支付宝"),
            Choice("points", "Points", "积分"), Choice("other", "Other", "其他")],
        "retail_membership_offer_kind": [
            Choice("coupon", "Coupon", "优惠券"), Choice("sample", "Free sample", "赠送样品"),
            Choice("points_bonus", "Points bonus", "积分奖励")],
        "retail_membership_ledger_kind": [
            Choice("earn", "Earned", "消费积分"), Choice("redeem", "Redeemed", "积分兑换"),
            Choice("adjust", "Adjusted", "积分调整"), Choice("expire", "Expired", "积分过期"),
            Choice("reverse", "Reversed (refund)", "退货冲减"), Choice("bonus", "Bonus", "活动奖励"),
            Choice("referral", "Referral reward", "推荐奖励")],
        "retail_membership_campaign_group": [
            Choice("treated", "Treated", "实验组"), Choice("control", "Control", "对照组")],
        "retail_membership_holiday_category": [
            Choice("public", "Public holiday", "法定节假日"), Choice("half_day", "Half day off", "部分公民放假"),
            Choice("observance", "Traditional festival", "传统节日")],
        "retail_membership_tier_basis": [
            Choice("cumulative", "Cumulative spend", "累计消费"),
            Choice("rolling_12m", "Spend over the last 12 months", "近12个月消费")],
    }


@hookimpl
def trellis_demo_data(admin, rng, progress):
    from plugins.retail_membership.demo import demo

    demo(admin, rng, progress=progress)


@hookimpl
def trellis_graphql_types(registry):
    from plugins.retail_membership import graphql

    graphql.register_types(registry)


@hookimpl
def trellis_graphql_type_fields(registry):
    from plugins.retail_membership import graphql

    return graphql.type_fields(registry)


@hookimpl
def trellis_graphql_query_fields(registry):
    from plugins.retail_membership import graphql

    return graphql.query_fields(registry)


@hookimpl
def trellis_graphql_mutation_fields(registry):
    from plugins.retail_membership import graphql

    return graphql.mutation_fields(registry)


@hookimpl
def trellis_settings():
    from core.config import PluginSetting
    from plugins.retail_membership.program import DEFAULT_TIERS, Program

    d = Program(tiers=())
    return [
        PluginSetting("retail_membership_tiers", DEFAULT_TIERS,
                      "code=threshold/discount/multiplier, lowest first (threshold of the first is 0)."),
        PluginSetting("retail_membership_basis", d.basis, "cumulative or rolling_12m spend."),
        PluginSetting("retail_membership_point_value", d.point_value,
                      "What one point is worth in yuan (the liability in money): 0.01 = 100 points per yuan."),
        PluginSetting("retail_membership_downgrade_grace_days", d.downgrade_grace_days, "Days before a downgrade."),
        PluginSetting("retail_membership_points_expiry_days", d.points_expiry_days, "Days an earned lot lives."),
        PluginSetting("retail_membership_referral_bonus", d.referral_bonus, "Points for a referrer."),
        PluginSetting("retail_membership_lapse_min_visits", d.lapse_min_visits, "Visits that make a regular."),
        PluginSetting("retail_membership_lapse_factor", d.lapse_factor, "Absence beyond this × the usual gap."),
        PluginSetting("retail_membership_lapse_min_days", d.lapse_min_days, "…and at least this many days."),
        PluginSetting("retail_membership_occasion_lead_days", d.occasion_lead_days, "Days of notice for occasions."),
    ]


@hookimpl
def trellis_personal_data():
    from plugins.retail_membership.privacy import personal_data

    return personal_data()


@hookimpl
def trellis_merge_customers(survivor, merged, actor):
    from plugins.retail_membership.merge import merge

    return merge(actor, survivor, merged)


@hookimpl
def trellis_import_types():
    from plugins.retail_membership.imports import import_types

    return import_types()


@hookimpl
def trellis_export_types():
    from plugins.retail_membership import exports
    from plugins.retail_membership.imports import export_types

    return [*export_types(), *exports.export_types()]
