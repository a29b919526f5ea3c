"""The demo (through the bulk path) gives every metric something to show; the bulk import keeps the
ledger balanced and is idempotent."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select

from tests.plugins.retail_membership.conftest import BASE


def test_the_demo_fills_every_metric(api, runtime, people):
    from plugins.retail_membership.demo import demo
    from plugins.retail_membership.metrics import METRICS

    with runtime.database.unit_of_work():
        summary = demo(people.admin, random.Random(7), members=300)
    assert summary["members"] == 300 and summary["purchases"] > 1000
    for metric in METRICS:
        rows = api.get(f"/api/v1/metrics/{metric.name}").get_json()["rows"]
        assert rows and any(r["value"] for r in rows), metric.name
    lift = api.get("/api/v1/metrics/retail_membership_campaign_lift").get_json()["rows"]
    assert len(lift) == 2
    staff = api.get(f"{BASE}/stores?q=SH-CO1").get_json()[0]
    assert api.get(f"{BASE}/stores/{staff['id']}/staff").get_json()[0]["email"] == "staff.sh-co1@example.com"
    with runtime.database.unit_of_work():
        _every_demo_record_is_audited_and_announced(summary)


def _every_demo_record_is_audited_and_announced(summary):
    """What a user of the audit trail, the webhooks and the timelines sees of the demo's records: one
    audit entry and one event per record created, per tier and lifecycle move, per ledger movement that
    is not a purchase's own earning; each purchase on its customer's timeline; the job's alerts."""
    from core import db
    from core.models import Customer, Interaction, WorkflowTransitionEntry
    from core.models.audit import AuditEntry, OutboxEvent
    from plugins.retail_membership.models import (
        RetailLapseAlert, RetailMembership, RetailPointsEntry, RetailPurchase,
    )
    from plugins.retail_membership.services import TIER_WORKFLOW

    sess = db.session()

    def audited(action):
        return sorted(sess.scalars(select(AuditEntry.record_id).where(AuditEntry.action == action)))

    def announced(name):
        return sorted(sess.scalars(select(OutboxEvent.record_id).where(OutboxEvent.name == name)))

    def both(action):
        assert audited(action) == announced(action), action
        return audited(action)

    def moves(workflow, record_ids):
        return sorted(r for r in sess.scalars(select(WorkflowTransitionEntry.record_id).where(
            WorkflowTransitionEntry.workflow == workflow, WorkflowTransitionEntry.from_state.is_not(None)))
            if r in record_ids)

    purchases = list(sess.scalars(select(RetailPurchase)))
    members = list(sess.scalars(select(RetailMembership)))
    assert len(purchases) == summary["purchases"] and len(members) == summary["members"]
    assert both("retail_membership_purchase.created") == sorted(p.id for p in purchases)
    assert both("retail_membership_membership.created") == sorted(m.id for m in members)
    customer_ids = {m.customer_id for m in members}
    assert set(both("customer.created")) >= customer_ids
    timeline = {i.id: i for i in sess.scalars(select(Interaction).where(Interaction.kind == "purchase"))}
    assert sorted(timeline) == sorted(p.interaction_id for p in purchases)
    assert set(both("interaction.created")) >= set(timeline)
    assert all(timeline[p.interaction_id].customer_id == p.customer_id for p in purchases)
    counts = {}
    for p in purchases:
        counts[p.membership_id] = counts.get(p.membership_id, 0) + 1
    assert {m.id: m.purchase_count for m in members} == {m.id: counts.get(m.id, 0) for m in members}
    # moves: the audit entry and event of each, and its history row
    member_ids = {m.id for m in members}
    tier_moves = [r for r in both("retail_membership_membership.tier_changed")]
    assert tier_moves == moves(TIER_WORKFLOW, member_ids) and tier_moves
    assert {m.id for m in members if m.tier != "member"} <= set(tier_moves)
    stage_moves = [r for r in both("customer.stage_changed") if r in customer_ids]
    assert stage_moves == moves("customer.lifecycle", customer_ids) and stage_moves
    stages = dict(sess.execute(select(Customer.id, Customer.stage).where(Customer.id.in_(customer_ids))).all())
    assert {stages[m.customer_id] for m in members if m.purchase_count >= 2} == {"repeat"}
    # the ledger: earnings belong to their purchase; every other movement is audited and announced
    entries = list(sess.scalars(select(RetailPointsEntry)))
    assert {e.purchase_id for e in entries if e.kind == "earn"} == {p.id for p in purchases if p.points_earned}
    # (a refund's reversal is audited as the refund)
    others = sorted(e.id for e in entries if e.kind not in ("earn", "reverse"))
    assert set(others) <= set(both("retail_membership_points_entry.created"))
    kinds = {}
    for e in entries:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    # (the demo's refunds write off the lots already past their expiry first, then the job the rest)
    assert kinds["expire"] >= summary["expired"] > 0 and kinds["redeem"] > 0 and kinds["reverse"] > 0
    for mid in member_ids:
        own = [e for e in entries if e.membership_id == mid]
        assert sum(e.points for e in own) >= 0
    # the lapse job: an alert per lapsed regular, audited, with a call task on their customer's timeline
    alerts = list(sess.scalars(select(RetailLapseAlert)))
    assert len(alerts) == summary["lapsed"] > 0
    assert sorted(a.id for a in alerts) == both("retail_membership_lapse_alert.created")
    for alert in alerts:
        task = sess.get(Interaction, alert.task_id)
        member = sess.get(RetailMembership, alert.membership_id)
        assert (task.kind, task.status, task.customer_id) == ("call", "planned", member.customer_id)
        assert task.subject.startswith("Lapsed regular: call ")


def test_bulk_import_is_idempotent_and_keeps_the_ledger_balanced(shop):
    from plugins.retail_membership import bulk, services
    from plugins.retail_membership.models import RetailPointsEntry

    admin = shop.people.admin
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with shop.runtime.database.unit_of_work():
        [mid] = bulk.enrol(admin, [{"name": "Bulk Bao", "card_number": "B0001", "home_store_id": shop.north["id"],
                                    "joined_on": (now - timedelta(days=400)).date()}])
        rows = [{"membership_id": mid, "store_id": shop.north["id"], "pos_transaction_id": f"B{i}",
                 "occurred_at": now - timedelta(days=300 - i * 30), "redeem": 100 if i == 5 else 0,
                 "lines": [{"sku": "X", "category": "shirts", "quantity": 2, "unit_price": Decimal("300.00")}]}
                for i in range(10)]
        assert bulk.import_purchases(admin, rows, now=now)["purchases"] == 10
        assert bulk.import_purchases(admin, rows, now=now)["purchases"] == 0
    m = shop.api.get(f"{BASE}/memberships/{mid}").get_json()
    assert (m["purchase_count"], m["spend_total"], m["tier"]) == (10, "6000.00", "silver")
    history = shop.api.get(f"{BASE}/memberships/{mid}/tier-history").get_json()
    assert [(h["from_state"], h["to_state"], h["trigger"]) for h in history] == [("member", "silver", "import")]
    customer = shop.api.get(f"/api/v1/customers/{m['customer_id']}").get_json()
    assert customer["stage"] == "repeat"
    timeline = shop.api.get(f"/api/v1/customers/{m['customer_id']}/timeline?page_size=100").get_json()
    assert len(timeline) == 10 and {t["kind"] for t in timeline} == {"purchase"}
    with shop.runtime.database.unit_of_work() as sess:
        entries = list(sess.scalars(select(RetailPointsEntry).where(RetailPointsEntry.membership_id == mid)
                                    .order_by(RetailPointsEntry.occurred_at)))
        assert services.balance_of(mid) == sum(e.points for e in entries) == entries[-1].balance_after
        # 4 purchases of 600 at 1x, then 6 at silver's 1.2x (720), minus 100 redeemed
        assert services.balance_of(mid) == 4 * 600 + 6 * 720 - 100


def test_a_bulk_import_that_would_pass_the_points_cap_is_refused_whole(shop):
    import pytest

    from core.errors import ValidationFailed
    from plugins.retail_membership import bulk, services
    from plugins.retail_membership.models import RetailPurchase

    admin = shop.people.admin
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with shop.runtime.database.unit_of_work():
        [mid] = bulk.enrol(admin, [{"name": "Full Fu", "card_number": "B0002", "home_store_id": shop.north["id"],
                                    "joined_on": (now - timedelta(days=400)).date()}])
        services.adjust(admin, mid, {"points": 10**9, "reason": "top up"})
        services.adjust(admin, mid, {"points": 10**9 - 100, "reason": "top up"})
    rows = [{"membership_id": mid, "store_id": shop.north["id"], "pos_transaction_id": f"F{i}",
             "occurred_at": now - timedelta(days=10 - i),
             "lines": [{"sku": "X", "category": "shirts", "quantity": 1, "unit_price": Decimal("60.00")}]}
            for i in range(2)]
    with pytest.raises(ValidationFailed) as refused:
        with shop.runtime.database.unit_of_work():
            bulk.import_purchases(admin, rows, now=now)
    assert list(refused.value.fields) == ["purchases.1.lines"]  # the second sale is the one past the cap
    with shop.runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(RetailPurchase)) == 0
        assert services.balance_of(mid) == 2 * 10**9 - 100


def test_an_enrolled_member_starts_in_the_default_level_like_a_customer_created_one_by_one(shop):
    from plugins.retail_membership import bulk

    with shop.runtime.database.unit_of_work():
        [mid] = bulk.enrol(shop.people.admin, [{"name": "New Niu", "card_number": "B0002",
                                                "home_store_id": shop.north["id"],
                                                "joined_on": datetime.now(timezone.utc).date()}])
    m = shop.api.get(f"{BASE}/memberships/{mid}").get_json()
    customer = shop.api.get(f"/api/v1/customers/{m['customer_id']}").get_json()
    assert customer["level"] == "D"
    history = shop.api.get(f"/api/v1/customers/{m['customer_id']}/history?workflow=customer.level").get_json()
    assert [(h["from_state"], h["to_state"], h["reason"]) for h in history] == [(None, "D", "the default level")]
