"""The bulk path: enrol thousands of members and import a year of their purchases in seconds (the demo,
a first import from an old system). Admins only.

It applies the same rules as the one-by-one services — points at the tier's multiplier with FIFO lots,
tier moves through the tier workflow's history, purchases on the customers' timelines as ``purchase``
interactions, the lifecycle (first purchase, repeat) and the core level — and writes the same audit
entries and outbox events, but computes them in Python and inserts them with one ``executemany`` per
table through the core's :class:`core.services.bulk.BulkRecorder`, which builds the audit, outbox and
workflow-history rows (this module never touches those tables). In-process event subscribers are not
called for these rows (webhooks still deliver them from the outbox); their events carry the version the
record has after the import. The recorder checks no permission: both entry points require an admin
first. It assumes it imports each member's history in one go: members start from their current
counters, purchases are applied in time order, and POS transactions already recorded are skipped, so an
import run twice adds nothing.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update

from core import db, levels, lifecycle, runtime
from core.db import utcnow
from core.models import Customer, Interaction, Role
from core.services.bulk import BulkRecorder, gc_paused
from core.services.common import parse_uuid
from core.services.permissions import require_role
from core.workflow import AUTOMATIC, IMPORT

from plugins.retail_membership import program as programme
from plugins.retail_membership.models import (
    RetailCampaignMember, RetailMembership, RetailOccasion, RetailPointsEntry, RetailPurchase, RetailPurchaseLine,
)
from plugins.retail_membership.services import (
    PLUGIN, TIER_WORKFLOW, check_balance_limit, earn_points, lock_members,
)

EVENT = "retail_membership.bulk_import"


def enrol(actor: Any, members: list[dict]) -> list[uuid.UUID]:
    """Enrol new members, each a new person customer. A member is ``{"name", "card_number",
    "home_store_id", "joined_on", "birthday"?, "preferences"?, "region"?, "occasions"?: [{"kind", "name",
    "date"}]}``. Returns the membership ids in order."""
    user = require_role(actor, Role.ADMIN.value)
    rec = BulkRecorder(user)
    lowest = programme.current().lowest.code
    level = levels.default_level(levels.parse_rules(runtime.current().settings.level_rules))
    ids = []
    for m in members:
        m = {**m, "home_store_id": parse_uuid(m["home_store_id"], "home_store_id")}
        at = datetime.combine(m["joined_on"], datetime.min.time(), tzinfo=utcnow().tzinfo)
        customer = rec.add(Customer, kind="person", name=m["name"], region=m.get("region"), source="walk_in",
                           level=level, level_pinned=False, stage="potential", notes="", owner_id=None,
                           created_at=at, updated_at=at, version=1)
        rec.change("created", customer, {"kind": (None, "person"), "name": (None, m["name"]),
                                         "source": (None, "walk_in")}, at=at)
        rec.start(levels.WORKFLOW, customer, level, at=at, trigger=AUTOMATIC, reason="the default level")
        membership = rec.add(RetailMembership, customer_id=customer.id, card_number=m["card_number"],
                             home_store_id=m["home_store_id"], joined_on=m["joined_on"], tier=lowest,
                             birthday=m.get("birthday"), preferences=list(m.get("preferences", [])),
                             referred_by_id=m.get("referred_by_id"), spend_total=Decimal("0"), purchase_count=0,
                             ledger_seq=0, created_at=at, updated_at=at, version=1)
        rec.change("created", membership, {
            "customer_id": (None, customer.id), "card_number": (None, m["card_number"]),
            "home_store_id": (None, m["home_store_id"]), "tier": (None, lowest)}, payload={"customer_id": customer.id},
            at=at)
        for occ in m.get("occasions", []):
            rec.add(RetailOccasion, membership_id=membership.id, kind=occ["kind"], name=occ.get("name", ""),
                    month=occ["date"].month, day=occ["date"].day, year=occ["date"].year, created_at=at,
                    updated_at=at, version=1)
        ids.append(membership.id)
    rec.flush([Customer, RetailMembership, RetailOccasion])
    return ids


def import_purchases(actor: Any, purchases: list[dict], *, now: datetime | None = None) -> dict[str, int]:
    """Import POS purchases: ``{"membership_id", "store_id", "pos_transaction_id", "occurred_at",
    "lines": [{"sku", "category", "quantity", "unit_price"}], "payment_method"?, "redeem"?: points to
    redeem right after it, "coupon_code"?}``. Totals are the sums of the lines. Returns row counts."""
    user = require_role(actor, Role.ADMIN.value)
    with gc_paused():  # a year of purchases is a few hundred thousand rows: see gc_paused
        return _import_purchases(user, purchases, now)


def _import_purchases(user: Any, purchases: list[dict], now: datetime | None) -> dict[str, int]:
    now = now or utcnow()
    prog = programme.current()
    sess = db.session()
    rec = BulkRecorder(user)
    purchases = [{**p, "index": i, "store_id": parse_uuid(p["store_id"], "store_id"),
                  "membership_id": parse_uuid(p["membership_id"], "membership_id")} for i, p in enumerate(purchases)]
    stores = {p["store_id"] for p in purchases}
    known = set(sess.execute(select(RetailPurchase.store_id, RetailPurchase.pos_transaction_id)
                             .where(RetailPurchase.store_id.in_(stores))).all()) if stores else set()
    fresh = [p for p in purchases if (p["store_id"], p["pos_transaction_id"]) not in known]
    by_member: dict[uuid.UUID, list[dict]] = defaultdict(list)
    for p in sorted(fresh, key=lambda p: p["occurred_at"]):
        by_member[p["membership_id"]].append(p)
    if not by_member:
        return {"purchases": 0}
    lock_members(list(by_member))  # the balances read below stay true until the batch commits
    members = {m.id: m for m in sess.scalars(select(RetailMembership).where(RetailMembership.id.in_(list(by_member))))}
    customers = {c.id: c for c in sess.scalars(select(Customer).where(
        Customer.id.in_([m.customer_id for m in members.values()])))}
    balances = dict(sess.execute(select(RetailPointsEntry.membership_id, func.sum(RetailPointsEntry.points))
                                 .where(RetailPointsEntry.membership_id.in_(list(by_member)))
                                 .group_by(RetailPointsEntry.membership_id)).all())
    rules = levels.parse_rules(runtime.current().settings.level_rules)
    member_updates, customer_updates, coupon_updates = [], [], []
    for mid, rows in by_member.items():
        m = members[mid]
        customer = customers[m.customer_id]
        spend, count, tier, balance = m.spend_total or Decimal("0"), m.purchase_count, m.tier, int(balances.get(mid, 0))
        tier_since, stage, stage_since = m.created_at, customer.stage, customer.created_at
        first_at, last_at = m.first_purchase_at, m.last_purchase_at
        revenue_12m = Decimal("0")
        for p in rows:
            at = p["occurred_at"]
            lines = [{**line, "line_no": i + 1, "amount": (Decimal(str(line["unit_price"])) * line["quantity"])
                      .quantize(Decimal("0.01"))} for i, line in enumerate(p["lines"])]
            total = sum((line["amount"] for line in lines), Decimal("0"))
            points = earn_points(total, tier)
            interaction = rec.add(
                Interaction, customer_id=customer.id, kind=lifecycle.PURCHASE_KIND, direction="inbound", status="done",
                subject=f"{p.get('store_name', 'Store')}: {sum(l['quantity'] for l in lines)} item(s)", notes="",
                occurred_at=at, amount=total, created_by_id=user.id, outcome="", escalation_count=0, source=PLUGIN,
                created_at=at, updated_at=at, version=1)
            rec.change("created", interaction, {"kind": (None, "purchase"), "amount": (None, total),
                                                "occurred_at": (None, at)},
                       payload={"customer_id": customer.id, "kind": "purchase", "source": PLUGIN}, at=at)
            purchase = rec.add(
                RetailPurchase, membership_id=mid, customer_id=customer.id, store_id=p["store_id"],
                pos_transaction_id=p["pos_transaction_id"], occurred_at=at, subtotal=total, discount=Decimal("0"),
                total=total, refunded_total=Decimal("0"), payment_method=p.get("payment_method", "card"),
                tier_at_purchase=tier, points_earned=points, interaction_id=interaction.id, created_at=at,
                updated_at=at, version=1)
            pid = purchase.id
            for line in lines:
                rec.add(RetailPurchaseLine, purchase_id=pid, line_no=line["line_no"], sku=line["sku"],
                        category=line["category"], quantity=line["quantity"],
                        unit_price=Decimal(str(line["unit_price"])), amount=line["amount"])
            rec.change("created", purchase, {
                "pos_transaction_id": (None, p["pos_transaction_id"]), "total": (None, total),
                "points_earned": (None, points)}, payload={"membership_id": mid, "store_id": p["store_id"],
                                                           "customer_id": customer.id}, at=at)
            if points:
                check_balance_limit(balance, points, field=f"purchases.{p['index']}.lines")
                balance += points
                rec.add(RetailPointsEntry, membership_id=mid, kind="earn", points=points, balance_after=balance,
                        occurred_at=at, expires_at=at + timedelta(days=prog.points_expiry_days), purchase_id=pid,
                        reason=f"#{p['pos_transaction_id']}", actor_id=user.id, created_at=at)
            if p.get("coupon_code"):
                coupon_updates.append({"code": p["coupon_code"], "at": at, "pid": pid})
            redeem = min(int(p.get("redeem") or 0), balance)
            if redeem > 0:
                balance -= redeem
                r_at = at + timedelta(minutes=1)
                entry = rec.add(RetailPointsEntry, membership_id=mid, kind="redeem", points=-redeem,
                                balance_after=balance, occurred_at=r_at, reason="redeemed at the till",
                                actor_id=user.id, created_at=r_at)
                rec.change("created", entry, {"kind": (None, "redeem"), "points": (None, -redeem)},
                           payload={"membership_id": mid, "balance_after": balance}, at=r_at)
            spend += total
            count += 1
            first_at = first_at or at
            last_at = at
            if at > now - timedelta(days=365):
                revenue_12m += total
            target = prog.tier_for(spend).code
            pinned = m.tier_pinned and (m.tier_pinned_until is None or m.tier_pinned_until > at)
            if prog.rank(target) > prog.rank(tier) and not pinned:   # a tier set by hand holds
                rec.transition(TIER_WORKFLOW, m, tier, target, at=at, entered_at=tier_since, trigger=IMPORT,
                               event=EVENT, reason=f"cumulative spend {spend:.2f}", version=m.version + 1)
                tier, tier_since = target, at
            wanted = "repeat" if count >= 2 else "first_purchase"
            if stage != wanted and stage in ("potential", "intent", "first_purchase", "lost"):
                rec.transition(lifecycle.WORKFLOW, customer, stage, wanted, at=at, entered_at=stage_since,
                               trigger=IMPORT, event=EVENT, version=customer.version + 1,
                               reason=f"{count} purchase{'s' if count > 1 else ''} recorded")
                stage, stage_since = wanted, at
        level = customer.level
        if not customer.level_pinned:
            graded = levels.grade(rules, {"revenue_12m": float(revenue_12m), "purchases_12m": float(
                sum(1 for p in rows if p["occurred_at"] > now - timedelta(days=365)))})
            if graded != level:
                rec.transition(levels.WORKFLOW, customer, level, graded, at=now, entered_at=customer.created_at,
                               trigger=IMPORT, event=EVENT, reason=f"revenue_12m={float(revenue_12m):g}",
                               version=customer.version + 1)
                level = graded
        member_updates.append({"b_id": mid, "b_spend": spend, "b_count": count, "b_tier": tier, "b_first": first_at,
                               "b_last": last_at, "b_version": m.version})
        customer_updates.append({"b_id": customer.id, "b_stage": stage, "b_level": level, "b_version": customer.version})
    counts = rec.flush([Interaction, RetailPurchase, RetailPurchaseLine, RetailPointsEntry])
    conn = sess.connection()
    conn.execute(update(RetailMembership.__table__).where(RetailMembership.__table__.c.id == bindparam("b_id"))
                 .values(spend_total=bindparam("b_spend"), purchase_count=bindparam("b_count"),
                         tier=bindparam("b_tier"), first_purchase_at=bindparam("b_first"),
                         last_purchase_at=bindparam("b_last"), version=bindparam("b_version") + 1,
                         updated_at=now), member_updates)
    conn.execute(update(Customer.__table__).where(Customer.__table__.c.id == bindparam("b_id"))
                 .values(stage=bindparam("b_stage"), level=bindparam("b_level"), version=bindparam("b_version") + 1,
                         updated_at=now), customer_updates)
    if coupon_updates:
        t = RetailCampaignMember.__table__
        conn.execute(update(t).where(t.c.coupon_code == bindparam("code"))
                     .values(coupon_redeemed_at=bindparam("at"), coupon_purchase_id=bindparam("pid")), coupon_updates)
    sess.expire_all()
    return {"purchases": counts["retail_membership_purchase"], **counts}

