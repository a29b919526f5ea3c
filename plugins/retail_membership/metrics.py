"""Retail membership (零售会员): Metrics of the plugin, returned by the ``trellis_metrics`` hook.

Every metric covers the members the caller may see (store staff: their stores' members) and the
period asked for (``from``/``to``; open ends when omitted). Names are prefixed ``retail_membership_``.
"""
from __future__ import annotations

from sqlalchemy import case, distinct, func, or_, select

from core import db
from core.db import utcnow
from core.metrics import Metric, MetricQuery, MetricRow
from core.services.permissions import visibility

from plugins.retail_membership import program as programme
from plugins.retail_membership.models import (
    RetailCampaign, RetailLapseAlert, RetailMembership, RetailPointsEntry, RetailPurchase, RetailStore,
)

P = "retail_membership_"


def _members(query: MetricQuery):
    return select(RetailMembership.id).where(visibility(query.actor, RetailMembership),
                                             RetailMembership.deleted_at.is_(None))


def _period(stmt, column, query: MetricQuery):
    if query.start:
        stmt = stmt.where(column >= query.start)
    if query.end:
        stmt = stmt.where(column <= query.end)
    return stmt


def _grouping(query: MetricQuery):
    """The column a ``group_by`` names: ``store`` (the store's code: where the purchase happened, or the
    member's home store) or ``tier``."""
    if query.group_by == "store":
        return RetailStore.code
    if query.group_by == "tier":
        return RetailMembership.tier
    return None


def _purchases(query: MetricQuery, *columns):
    stmt = (select(*columns).select_from(RetailPurchase)
            .join(RetailMembership, RetailMembership.id == RetailPurchase.membership_id)
            .join(RetailStore, RetailStore.id == RetailPurchase.store_id)
            .where(RetailPurchase.membership_id.in_(_members(query)), RetailPurchase.deleted_at.is_(None)))
    return _period(stmt, RetailPurchase.occurred_at, query)


def _grouped(query: MetricQuery, stmt, value_of) -> list[MetricRow]:
    column = _grouping(query)
    if column is None:
        row = db.session().execute(stmt).one()
        return [value_of(row, {})]
    stmt = stmt.add_columns(column).group_by(column).order_by(column)
    return [value_of(row[:-1], {query.group_by: row[-1]}) for row in db.session().execute(stmt)]


#: a purchase that still stands: not refunded in full (a sale of 0.00 stands unless refunded, which it cannot be)
STANDING = or_(RetailPurchase.refunded_total < RetailPurchase.total, RetailPurchase.total == 0)


def active_members(query: MetricQuery) -> list[MetricRow]:
    """Members with a purchase in the period that was not refunded in full."""
    stmt = _purchases(query, func.count(distinct(RetailPurchase.membership_id))).where(STANDING)
    return _grouped(query, stmt, lambda r, g: MetricRow(value=int(r[0] or 0), group=g))


def average_spend(query: MetricQuery) -> list[MetricRow]:
    stmt = _purchases(query, func.sum(RetailPurchase.total - RetailPurchase.refunded_total),
                      func.count(distinct(RetailPurchase.membership_id)), func.count(RetailPurchase.id))

    def value(r, g):
        spend, members, visits = float(r[0] or 0), int(r[1] or 0), int(r[2] or 0)
        return MetricRow(value=round(spend / members, 2) if members else None, group=g,
                         extra={"spend": round(spend, 2), "members": members, "visits": visits})
    return _grouped(query, stmt, value)


def visits_per_member(query: MetricQuery) -> list[MetricRow]:
    stmt = _purchases(query, func.count(RetailPurchase.id), func.count(distinct(RetailPurchase.membership_id)))
    return _grouped(query, stmt, lambda r, g: MetricRow(
        value=round(int(r[0] or 0) / int(r[1]), 3) if r[1] else None, group=g))


def repurchase_rate(query: MetricQuery) -> list[MetricRow]:
    """Of the members who bought in the period, the share who bought at least twice."""
    per_member = _purchases(query, RetailPurchase.membership_id, func.count(RetailPurchase.id).label("n")) \
        .group_by(RetailPurchase.membership_id).subquery()
    total, repeat = db.session().execute(select(func.count(), func.sum(case((per_member.c.n >= 2, 1), else_=0)))).one()
    total, repeat = int(total or 0), int(repeat or 0)
    return [MetricRow(value=round(repeat / total, 4) if total else None,
                      extra={"buyers": total, "repeat_buyers": repeat})]


def new_members(query: MetricQuery) -> list[MetricRow]:
    stmt = (select(func.count(RetailMembership.id)).join(RetailStore, RetailStore.id == RetailMembership.home_store_id)
            .where(RetailMembership.id.in_(_members(query))))
    if query.date_from:
        stmt = stmt.where(RetailMembership.joined_on >= query.date_from)
    if query.date_to:
        stmt = stmt.where(RetailMembership.joined_on <= query.date_to)
    return _grouped(query, stmt, lambda r, g: MetricRow(value=int(r[0] or 0), group=g))


def tier_distribution(query: MetricQuery) -> list[MetricRow]:
    """Live members per tier (every tier listed, lowest first); the period is ignored."""
    counts = dict(db.session().execute(select(RetailMembership.tier, func.count()).where(
        RetailMembership.id.in_(_members(query))).group_by(RetailMembership.tier)).all())
    total = sum(counts.values())
    return [MetricRow(value=int(counts.get(t.code, 0)), group={"tier": t.code},
                      extra={"share": round(counts.get(t.code, 0) / total, 4) if total else None})
            for t in programme.current().tiers]


def _points(query: MetricQuery, condition, sign: int = 1, *, cumulative: bool = False) -> list[MetricRow]:
    stmt = select(func.coalesce(func.sum(RetailPointsEntry.points), 0)).where(
        RetailPointsEntry.membership_id.in_(_members(query)), condition)
    if cumulative:
        if query.end:
            stmt = stmt.where(RetailPointsEntry.occurred_at <= query.end)
    else:
        stmt = _period(stmt, RetailPointsEntry.occurred_at, query)
    return [MetricRow(value=sign * int(db.session().scalar(stmt) or 0))]


ISSUED = RetailPointsEntry.points > 0
REDEEMED = RetailPointsEntry.kind == "redeem"


def points_issued(query):
    return _points(query, ISSUED)


def points_redeemed(query):
    return _points(query, REDEEMED, -1)


def points_expired(query):
    return _points(query, RetailPointsEntry.kind == "expire", -1)


def points_outstanding(query):
    """The liability: every point earned and not yet redeemed, expired or reversed, at the period's end
    (points past their expiry then are left out, whether or not their ``expire`` entry is written); its
    ``extra`` gives it in money (``money``, a decimal string: points × ``point_value``)."""
    from plugins.retail_membership.services import ledger_sums

    end = query.end or utcnow()
    per_member = ledger_sums(end, RetailPointsEntry.membership_id.in_(_members(query)),
                             RetailPointsEntry.occurred_at <= end).subquery()
    points = int(db.session().scalar(select(func.coalesce(func.sum(per_member.c.total - per_member.c.due), 0))) or 0)
    prog = programme.current()
    # the liability in money: the points at what a point is worth (the setting retail_membership_point_value)
    return [MetricRow(value=points, extra={"money": str(prog.points_money(points)),
                                           "point_value": str(prog.point_value)})]


def redemption_rate(query):
    issued = points_issued(query)[0].value
    redeemed = points_redeemed(query)[0].value
    return [MetricRow(value=round(redeemed / issued, 4) if issued else None,
                      extra={"issued": issued, "redeemed": redeemed})]


def campaign_lift(query: MetricQuery) -> list[MetricRow]:
    """One row per launched campaign (launched in the period): the lift and its 95% interval."""
    from plugins.retail_membership import campaigns

    stmt = select(RetailCampaign).where(visibility(query.actor, RetailCampaign), RetailCampaign.deleted_at.is_(None),
                                        RetailCampaign.launched_at.is_not(None))
    rows = list(db.session().scalars(_period(stmt, RetailCampaign.launched_at, query).order_by(RetailCampaign.launched_at)))
    results = campaigns.results_for(rows)
    return [MetricRow(value=None if results[c.id]["lift"] is None else round(results[c.id]["lift"], 4),
                      group={"campaign": c.name},
                      extra={"campaign_id": str(c.id), "treated": results[c.id]["treated"],
                             "control": results[c.id]["control"],
                             "ci_low": results[c.id]["ci_low"], "ci_high": results[c.id]["ci_high"]})
            for c in rows]


def lapsed_members(query: MetricQuery) -> list[MetricRow]:
    """Members flagged as lapsed regulars (in the period) who have not come back."""
    stmt = (select(func.count(distinct(RetailLapseAlert.membership_id)))
            .join(RetailMembership, RetailMembership.id == RetailLapseAlert.membership_id)
            .join(RetailStore, RetailStore.id == RetailMembership.home_store_id)
            .where(RetailLapseAlert.membership_id.in_(_members(query)), RetailLapseAlert.returned_at.is_(None)))
    stmt = _period(stmt, RetailLapseAlert.flagged_at, query)
    return _grouped(query, stmt, lambda r, g: MetricRow(value=int(r[0] or 0), group=g))


GROUPS = ("store", "tier")

METRICS = [
    Metric(P + "active_members", "Active members", "活跃会员数", active_members, group_by=GROUPS,
           description="Members who bought something in the period (by purchase store or member tier)."),
    Metric(P + "new_members", "New members", "新增会员数", new_members, group_by=GROUPS,
           description="Members who joined in the period (by home store or tier)."),
    Metric(P + "repurchase_rate", "Repurchase rate", "复购率", repurchase_rate, unit="ratio",
           description="Of the members who bought in the period, the share who bought at least twice."),
    Metric(P + "average_spend", "Average spend per member", "会员人均消费", average_spend, unit="currency",
           group_by=GROUPS, description="Net spend (after refunds) in the period per active member."),
    Metric(P + "visits_per_member", "Visits per member", "会员人均到店次数", visits_per_member, unit="ratio",
           group_by=GROUPS, description="Purchases in the period per active member."),
    Metric(P + "tier_distribution", "Tier distribution", "会员等级分布", tier_distribution,
           description="Live members per tier, lowest tier first."),
    Metric(P + "points_issued", "Points issued", "积分发放", points_issued, unit="points",
           description="Points credited in the period (earned, bonuses, referrals, positive adjustments)."),
    Metric(P + "points_redeemed", "Points redeemed", "积分兑换", points_redeemed, unit="points",
           description="Points redeemed in the period."),
    Metric(P + "points_expired", "Points expired", "积分过期", points_expired, unit="points",
           description="Points that expired in the period."),
    Metric(P + "points_outstanding", "Points outstanding (liability)", "未兑换积分(负债)", points_outstanding,
           unit="points", description="The sum of every ledger up to the end of the period (less points past their "
                                      "expiry); extra.money is its value in money (points × point_value)."),
    Metric(P + "redemption_rate", "Redemption rate", "积分兑换率", redemption_rate, unit="ratio",
           description="Points redeemed over points issued in the period."),
    Metric(P + "campaign_lift", "Campaign lift", "营销活动提升", campaign_lift, unit="ratio",
           description="Per campaign launched in the period: treated minus control conversion, with a 95% interval."),
    Metric(P + "lapsed_members", "Lapsed regulars", "流失常客数", lapsed_members, group_by=GROUPS,
           description="Regulars flagged as lapsed (in the period) who have not come back."),
]
