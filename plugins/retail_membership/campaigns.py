"""Campaigns (营销活动): a target segment, a random control group, an offer and a goal; the result is the
lift — the treated group's conversion minus the control group's — with a confidence interval.

Assignment is random but reproducible: the campaign's id seeds the generator, so launching is
deterministic for a given campaign and segment. Coupons are single-use codes, one per treated member.
"""
from __future__ import annotations

import math
import random
import secrets
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from contextvars import ContextVar
from typing import Any, Mapping

from marshmallow import fields, validate
from sqlalchemy import exists, func, insert, or_, select

from core import db, holiday_calendar
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.records import FieldSpec, RecordSpec
from core.models import Role, User
from core.services import audit, common, paging, workflow
from core.services.permissions import require_actor, require_role, visibility
from core.workflow import AUTOMATIC, MANUAL

from plugins.retail_membership import schemas as S
from plugins.retail_membership import services
from plugins.retail_membership.models import (
    RetailCampaign, RetailCampaignMember, RetailMembership, RetailPurchase, RetailPurchaseLine,
)
from plugins.retail_membership.workflows import CAMPAIGN

AUDITED = ["name", "segment", "control_share", "offer_kind", "offer_value", "offer_description", "goal_category",
           "goal_days", "holiday", "holiday_offset_days", "repeat_yearly", "scheduled_on", "scheduled_by_id"]
DEFAULT_CONTROL_SHARE = Decimal("0.200")   # as the column holds it: the create answer reads as later reads do
ZERO_COUPON = "A coupon must be worth more than 0.00: one worth nothing would be refused at the till."
#: the day a new draft's holiday date is counted from, when :func:`create` is given one (else today)
_TODAY: ContextVar[date | None] = ContextVar("retail_campaign_today", default=None)


def _segment_json(segment: dict) -> dict:
    return audit.jsonable({k: v for k, v in segment.items() if v not in (None, [], 0) or k == "min_purchases"})


def _check(values: dict) -> None:
    from plugins.retail_membership import program

    unknown = [t for t in values.get("segment", {}).get("tiers", []) if t not in program.current().codes]
    if unknown:
        raise ValidationFailed(fields={"segment.tiers": [f"Unknown tier(s): {', '.join(unknown)}."]})
    if values.get("offer_kind") == "points_bonus" and values.get("offer_value") is not None \
            and values["offer_value"] != int(values["offer_value"]):
        raise ValidationFailed(fields={"offer_value": ["A points bonus is a whole number of points."]})
    if values.get("offer_kind") == "coupon" and (values.get("offer_value") or 0) <= 0:
        raise ValidationFailed(fields={"offer_value": [ZERO_COUPON]})


def schedule_for(holiday: str | None, offset_days: int, today: date) -> date | None:
    """The day a draft keyed to ``holiday`` is launched: the holiday's next date (this year's, or next
    year's once this year's launch day has passed) plus ``offset_days``; a key the deployment's calendar
    does not know is a 422 on ``holiday``."""
    if holiday is None:
        return None
    cal = holiday_calendar.current()
    on = cal.next_on_or_after(holiday, today, offset_days)
    if on is None:
        known = ", ".join(sorted(cal.keys(today.year)))
        raise ValidationFailed(fields={"holiday": [
            f"The holiday calendar ({cal.country}) has no holiday '{holiday}'. Known: {known}."]})
    return on


def holidays(actor: Any, args: Mapping[str, Any] | None = None) -> list[holiday_calendar.Holiday]:
    """The holidays of the deployment's calendar a campaign can be keyed to, from ``from`` (default today)
    to ``to`` (default a year on; at most three years), in date order, with their labels in English and
    Simplified Chinese."""
    require_actor(actor)
    values = common.validate(S.RetailHolidayArgs, dict(args or {}))
    start = values.get("start") or utcnow().date()
    end = values.get("end") or start + timedelta(days=365)
    if end < start:
        raise ValidationFailed(fields={"to": ["Must not be before from."]})
    return holiday_calendar.current().between(start, end)


def listed_holidays(actor: Any, args: Mapping[str, Any] | None = None) -> list[dict]:
    """:func:`holidays` as the holidays list answers them (``RetailHolidayOut``: the label in English and
    Simplified Chinese as one ``label``), in date order: what ``GET …/holidays`` answers and ``trellis export
    retail_membership.holidays`` writes, ``from`` and ``to`` checked as :func:`holidays` checks them."""
    return [{"key": h.key, "date": h.date, "days": h.days, "category": h.category, "official": h.official,
             "label": {"en": h.en, "zh_cn": h.zh_cn}} for h in holidays(actor, args)]


def _before_create(user: User, values: dict) -> None:
    """The offer's rules, the segment as stored, the default control share (a null one too), and the
    launch day of a holiday draft, scheduled with the creator's authority."""
    _check(values)
    values["segment"] = _segment_json(values["segment"])
    if values["control_share"] is None:
        values["control_share"] = DEFAULT_CONTROL_SHARE
    values["scheduled_on"] = schedule_for(values.get("holiday"), values["holiday_offset_days"],
                                          _TODAY.get() or utcnow().date())
    if values["scheduled_on"] is not None:
        values["scheduled_by_id"] = user.id


def _before_update(user: User, row: RetailCampaign, values: dict) -> None:
    """Only a draft changes; the offer's rules on what it becomes; a new holiday or offset reschedules it."""
    if row.status != "draft":
        raise ValidationFailed(fields={"status": ["Only a draft campaign can be changed."]})
    _check({**values, "offer_kind": values.get("offer_kind", row.offer_kind),
            "offer_value": values.get("offer_value", row.offer_value)})
    if "segment" in values:
        values["segment"] = _segment_json(values["segment"])
    if "holiday" in values or "holiday_offset_days" in values:
        values["scheduled_on"] = schedule_for(values.get("holiday", row.holiday),
                                              values.get("holiday_offset_days", row.holiday_offset_days),
                                              utcnow().date())
        values["scheduled_by_id"] = user.id if values["scheduled_on"] is not None else None


_HOLIDAY = ("Launch it for a holiday of the deployment's calendar: its key (GET /holidays), e.g. spring_festival, "
            "mid_autumn, dragon_boat, national_day, qixi. trellis tick launches the draft on the holiday's next "
            "date plus holiday_offset_days. Null: launched by hand.")
_SHARE = {"places": 3, "validate": validate.Range(min=0, max=0.9)}
CAMPAIGNS = RecordSpec(   # declared once (core.records); its output and GraphQL type and inputs are written by hand
    RetailCampaign, "RetailCampaign", schema_prefix="Campaign", noun="campaign", out_schema=S.CampaignOut,
    writers=(Role.MANAGER.value, Role.ADMIN.value), sortable=("name", "created_at", "launched_at"),
    fields={"name": FieldSpec(validate=validate.Length(min=1, max=200)),
            "status": FieldSpec(read_only=True, filter=True, choices=S.CAMPAIGN_STATUSES),
            "offer_kind": FieldSpec(filter=True, choices=S.OFFER_KINDS),
            "offer_value": FieldSpec(default=Decimal("0.00"), validate=validate.Range(min=0, max=10**9),
                                     description="Coupon amount, or points of a points bonus."),
            "offer_description": FieldSpec(default="", validate=validate.Length(max=2000)),
            "goal_category": FieldSpec(description="A purchase in this category converts (any when empty)."),
            "goal_days": FieldSpec(default=30, validate=validate.Range(min=1, max=365)),
            "holiday": FieldSpec(validate=validate.Length(min=1, max=60), description=_HOLIDAY),
            "holiday_offset_days": FieldSpec(default=0, validate=validate.Range(min=-90, max=90), description=(
                "Days from the holiday to the launch (-7: a week before; default 0: on the day).")),
            "repeat_yearly": FieldSpec(default=False, description=(
                "With a holiday: when launched, a draft copy is scheduled for the holiday's next date.")),
            **{key: FieldSpec(read_only=True) for key in ("launched_at", "closed_at", "treated_count",
                                                          "control_count", "scheduled_on")},
            "scheduled_by_id": FieldSpec(hidden=True)},
    extra={"create": {"segment": fields.Nested(S.SegmentIn, load_default=dict),
                      "control_share": fields.Decimal(load_default=None, allow_none=True, **_SHARE)},
           "update": {"segment": fields.Nested(S.SegmentIn), "control_share": fields.Decimal(**_SHARE)}},
    hooks={"before_create": _before_create, "before_update": _before_update})
SORT = CAMPAIGNS.sortable
get, list_campaigns, update, delete, restore = (CAMPAIGNS.get, CAMPAIGNS.list, CAMPAIGNS.update, CAMPAIGNS.delete,
                                                CAMPAIGNS.restore)


def create(actor: Any, data: Mapping[str, Any], *, today: date | None = None) -> RetailCampaign:
    """A draft campaign (``CAMPAIGNS.create``); a holiday draft's launch day is counted from ``today``
    (default: the current date)."""
    token = _TODAY.set(today)
    try:
        return CAMPAIGNS.create(actor, data)
    finally:
        _TODAY.reset(token)


def segment_members(actor: Any, segment: dict, now: datetime) -> list[uuid.UUID]:
    """Ids of the live members (visible to ``actor``) the segment selects, in a stable order."""
    stmt = select(RetailMembership.id).where(visibility(actor, RetailMembership), RetailMembership.deleted_at.is_(None))
    if segment.get("tiers"):
        stmt = stmt.where(RetailMembership.tier.in_(segment["tiers"]))
    if segment.get("store_ids"):
        stmt = stmt.where(RetailMembership.home_store_id.in_([common.parse_uuid(s, "segment.store_ids")
                                                               for s in segment["store_ids"]]))
    if segment.get("recency_days"):
        stmt = stmt.where(RetailMembership.last_purchase_at >= now - timedelta(days=int(segment["recency_days"])))
    if segment.get("min_purchases"):
        stmt = stmt.where(RetailMembership.purchase_count >= int(segment["min_purchases"]))
    if segment.get("categories"):
        stmt = stmt.where(exists(select(RetailPurchaseLine.id)
                                 .join(RetailPurchase, RetailPurchase.id == RetailPurchaseLine.purchase_id)
                                 .where(RetailPurchase.membership_id == RetailMembership.id,
                                        RetailPurchase.deleted_at.is_(None),
                                        RetailPurchaseLine.category.in_(segment["categories"]))))
    return list(db.session().scalars(stmt.order_by(RetailMembership.card_number)))


def assign(campaign: RetailCampaign, member_ids: list[uuid.UUID]) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Split members at random (seeded by the campaign id) into treated and control groups."""
    rng = random.Random(campaign.id.int)
    shuffled = list(member_ids)
    rng.shuffle(shuffled)
    n_control = int((Decimal(len(shuffled)) * campaign.control_share).to_integral_value())
    return shuffled[n_control:], shuffled[:n_control]


def launch(actor: Any, campaign_id: Any, data: Mapping[str, Any] | None = None) -> RetailCampaign:
    """Draw the segment, split it into treated and control groups, and hand the offer to the treated:
    a single-use coupon code each, or the points bonus; samples are handed out in store."""
    user = require_role(actor, Role.MANAGER.value, Role.ADMIN.value)
    row = get(actor, campaign_id)
    values = common.validate(S.LaunchIn, dict(data or {}))
    return _launch(user, row, values.get("at") or utcnow())


def _launch(user: User, row: RetailCampaign, at: datetime, *, trigger: str = MANUAL,
            reason: str = "") -> RetailCampaign:
    if row.offer_kind == "coupon" and (row.offer_value or 0) <= 0:  # a draft from before the rule
        raise ValidationFailed(fields={"offer_value": [ZERO_COUPON]})
    members = segment_members(user, row.segment or {}, at)
    if not members:
        raise ValidationFailed(fields={"segment": ["The segment selects no member."]})
    workflow.transition(user, CAMPAIGN, row, "launched", reason=reason or f"{len(members)} members", trigger=trigger)
    treated, control = assign(row, members)
    rows = [{"id": uuid.uuid4(), "campaign_id": row.id, "membership_id": mid, "group": "treated", "assigned_at": at,
             "coupon_code": f"C{secrets.token_hex(5).upper()}" if row.offer_kind == "coupon" else None}
            for mid in treated]
    rows += [{"id": uuid.uuid4(), "campaign_id": row.id, "membership_id": mid, "group": "control", "assigned_at": at,
              "coupon_code": None} for mid in control]
    db.session().execute(insert(RetailCampaignMember), rows)
    row.launched_at, row.treated_count, row.control_count = at, len(treated), len(control)
    scheduled, row.scheduled_on = row.scheduled_on, None
    db.session().flush()
    audit.record_change(user, "launched", row, {"treated_count": (0, len(treated)), "control_count": (0, len(control)),
                                                **({"scheduled_on": (scheduled, None)} if scheduled else {})})
    if row.offer_kind == "points_bonus" and row.offer_value > 0:
        for mid in treated:
            services.award_bonus(user, mid, int(row.offer_value), reason=f"campaign {row.name}", at=at,
                                 campaign_id=row.id)
    return row


def launch_scheduled(now: datetime) -> int:
    """``trellis tick``: launch the holiday campaigns (drafts) whose day has come, on behalf of who
    scheduled them (their segment is what that user sees); a repeating one leaves a draft copy scheduled
    for the holiday's next date. A draft whose segment selects nobody, or whose scheduler may no longer
    run campaigns, stays a draft (its ``scheduled_on`` kept) and is tried again on the next tick while
    the day is less than a week past. Returns the campaigns launched."""
    sess = db.session()
    today = now.date()
    due = list(sess.scalars(select(RetailCampaign).where(
        RetailCampaign.status == "draft", RetailCampaign.deleted_at.is_(None), RetailCampaign.scheduled_on <= today,
        RetailCampaign.scheduled_on > today - timedelta(days=7)).order_by(RetailCampaign.scheduled_on, RetailCampaign.id)))
    launched = 0
    for row in due:
        user = sess.get(User, row.scheduled_by_id) if row.scheduled_by_id else None
        if user is None or not user.is_active or user.deleted_at is not None \
                or user.role not in (Role.MANAGER.value, Role.ADMIN.value):
            continue
        day = row.scheduled_on
        try:   # the segment is checked before anything is written
            _launch(user, row, now, trigger=AUTOMATIC, reason=f"{row.holiday} {day.isoformat()}")
        except ValidationFailed:
            continue
        launched += 1
        if row.repeat_yearly:
            _schedule_next(user, row, day)
    return launched


def _schedule_next(user: User, row: RetailCampaign, launched_for: date) -> RetailCampaign | None:
    """A draft copy of a repeating holiday campaign, scheduled for the holiday's next date."""
    holiday_day = launched_for - timedelta(days=row.holiday_offset_days)
    cal = holiday_calendar.current()
    next_on = cal.next_on_or_after(row.holiday, holiday_day + timedelta(days=1), row.holiday_offset_days)
    if next_on is None or next_on <= launched_for:
        return None
    copy = RetailCampaign(name=row.name, segment=dict(row.segment or {}), control_share=row.control_share,
                          offer_kind=row.offer_kind, offer_value=row.offer_value,
                          offer_description=row.offer_description, goal_category=row.goal_category,
                          goal_days=row.goal_days, holiday=row.holiday, holiday_offset_days=row.holiday_offset_days,
                          repeat_yearly=True, scheduled_on=next_on, scheduled_by_id=row.scheduled_by_id,
                          status="draft")
    db.session().add(copy)
    db.session().flush()
    audit.record_change(user, "created", copy, audit.created_fields(copy, AUDITED),
                        payload={"repeats": str(row.id)})
    return copy


def close(actor: Any, campaign_id: Any) -> RetailCampaign:
    user = require_role(actor, Role.MANAGER.value, Role.ADMIN.value)
    row = get(actor, campaign_id)
    workflow.transition(user, CAMPAIGN, row, "closed")
    row.closed_at = utcnow()
    db.session().flush()
    return row


#: the orderings of a campaign's members (``sort`` of :func:`members` and :func:`member_pages_for`)
MEMBER_SORTABLE = {"group": RetailCampaignMember.group, "coupon_code": RetailCampaignMember.coupon_code,
                   "coupon_redeemed_at": RetailCampaignMember.coupon_redeemed_at}
#: treated first
MEMBER_DEFAULT_SORT = "-group"


def members(actor: Any, campaign_id: Any, *, page=common.PageRequest(), sort: str | None = None):
    """One page of the campaign's members the actor may see, treated first (``sort``: keys of
    ``MEMBER_SORTABLE``)."""
    row = get(actor, campaign_id)
    stmt = _visible_members(actor).where(RetailCampaignMember.campaign_id == row.id)
    return common.paginate(stmt, page, common.parse_sort(sort, MEMBER_SORTABLE, MEMBER_DEFAULT_SORT),
                           RetailCampaignMember.id)


def filtered_members(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the campaign members :func:`members` lists, the campaign a filter
    (``RetailCampaignMemberListFilter``: ``campaign_id`` required; missing, or a campaign the actor may not
    see, is a ValidationFailed naming it), unordered: what ``trellis export`` reads."""
    row = services._one_filter(actor, get, S.RetailCampaignMemberListFilter, filters, "campaign_id", "campaign")
    return _visible_members(actor).where(RetailCampaignMember.campaign_id == row.id)


def _visible_members(actor: Any):
    return select(RetailCampaignMember).where(RetailCampaignMember.membership_id.in_(
        select(RetailMembership.id).where(visibility(actor, RetailMembership))))


def member_pages_for(actor: Any, campaign_ids: list, page: paging.KeysetRequest, sort: str | None = None) -> dict:
    """A keyset page of each campaign's members you may see (treated first; ``sort`` — keys of
    ``MEMBER_SORTABLE`` — orders them otherwise), in one statement; the campaigns are ones the caller was
    allowed to read (GraphQL's ``RetailCampaign.members``, as :func:`members`)."""
    return paging.seek_windows(db.session(), _visible_members(actor), RetailCampaignMember.campaign_id, campaign_ids,
                               page, common.parse_sort(sort, MEMBER_SORTABLE, MEMBER_DEFAULT_SORT),
                               RetailCampaignMember.id)


def member_counts(actor: Any, campaign_ids: list) -> dict:
    return paging.count_windows(db.session(), _visible_members(actor), RetailCampaignMember.campaign_id, campaign_ids)


def redeem_coupon(actor: Any, code: str) -> RetailCampaignMember:
    """Use a coupon at the till outside a recorded purchase; a second use is a 409. A coupon that cannot
    be used (campaign not running, expired, worth 0.00: ``services.coupon_problem``) is a 422 on ``code``."""
    row = db.session().scalar(select(RetailCampaignMember).where(RetailCampaignMember.coupon_code == code))
    if row is None:
        raise NotFound("No coupon with this code.")
    services.get_membership(actor, row.membership_id)  # the caller must see the member
    if row.coupon_redeemed_at is not None:
        raise Conflict("This coupon was already used.", fields={"coupon_code": ["Already used."]})
    now = utcnow()
    if (problem := services.coupon_problem(row, db.session().get(RetailCampaign, row.campaign_id), now)) is not None:
        raise ValidationFailed(fields={"code": [problem]})
    services.use_coupon(actor, row, now)
    return row


# --- results -----------------------------------------------------------------------------------------

def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def lift_interval(x1: int, n1: int, x0: int, n0: int, confidence: float = 0.95) -> dict:
    """Difference of two proportions (treated − control) with Newcombe's hybrid score interval (robust
    for small groups and rates near 0 or 1) and the two-sided p-value of the pooled z-test."""
    from scipy.stats import norm

    if n1 == 0 or n0 == 0:
        return {"lift": None, "ci_low": None, "ci_high": None, "p_value": None}
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = _wilson(x1, n1, z)
    l0, u0 = _wilson(x0, n0, z)
    d = p1 - p0
    low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    pooled = (x1 + x0) / (n1 + n0)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    p_value = 1.0 if se == 0 else float(2 * norm.sf(abs(d) / se))
    return {"lift": d, "ci_low": low, "ci_high": high, "p_value": p_value}


def conversions(campaign_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, tuple[int, int]]]:
    """``{campaign: {group: (members, converted)}}`` for many campaigns in one query: a member converts
    with a purchase (in the goal category, when one is set) within the goal window after launch."""
    out = {cid: {"treated": (0, 0), "control": (0, 0)} for cid in campaign_ids}
    if not campaign_ids:
        return out
    C, M, P, L = RetailCampaign, RetailCampaignMember, RetailPurchase, RetailPurchaseLine
    first_buy = (select(func.min(P.occurred_at))
                 .where(P.membership_id == M.membership_id, P.deleted_at.is_(None), P.occurred_at > C.launched_at,
                        P.total > P.refunded_total,
                        or_(C.goal_category.is_(None),
                            exists(select(L.id).where(L.purchase_id == P.id, L.category == C.goal_category))))
                 .scalar_subquery())
    stmt = (select(M.campaign_id, M.group, C.launched_at, C.goal_days, first_buy)
            .join(C, C.id == M.campaign_id).where(M.campaign_id.in_(campaign_ids)))
    counts: dict[tuple, list[int]] = {}
    for cid, group, launched, days, first in db.session().execute(stmt):
        bucket = counts.setdefault((cid, group), [0, 0])
        bucket[0] += 1
        if first is not None and launched is not None:
            first = first if first.tzinfo else first.replace(tzinfo=launched.tzinfo)
            if first <= launched + timedelta(days=days):
                bucket[1] += 1
    for (cid, group), (n, x) in counts.items():
        out[cid][group] = (n, x)
    return out


def result(actor: Any, campaign_id: Any, args: Mapping[str, Any] | None = None) -> dict:
    row = get(actor, campaign_id)
    confidence = common.validate(S.ResultArgs, dict(args or {}))["confidence"]
    return results_for([row], confidence)[row.id]


def results_for(rows: list[RetailCampaign], confidence: float = 0.95) -> dict[uuid.UUID, dict]:
    conv = conversions([r.id for r in rows])
    redeemed = dict(db.session().execute(
        select(RetailCampaignMember.campaign_id, func.count()).where(
            RetailCampaignMember.campaign_id.in_([r.id for r in rows]),
            RetailCampaignMember.coupon_redeemed_at.is_not(None)).group_by(RetailCampaignMember.campaign_id)).all()) \
        if rows else {}
    out = {}
    for row in rows:
        (n1, x1), (n0, x0) = conv[row.id]["treated"], conv[row.id]["control"]
        out[row.id] = {
            "campaign_id": row.id, "window_start": row.launched_at,
            "window_end": row.launched_at + timedelta(days=row.goal_days) if row.launched_at else None,
            "treated": {"members": n1, "converted": x1, "rate": x1 / n1 if n1 else None},
            "control": {"members": n0, "converted": x0, "rate": x0 / n0 if n0 else None},
            "confidence": confidence, "coupons_redeemed": int(redeemed.get(row.id, 0)),
            **lift_interval(x1, n1, x0, n0, confidence)}
    return out
