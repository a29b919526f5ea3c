"""What ``trellis tick`` does for retail membership. Every job is idempotent: dedupe keys on
notifications, one lapse alert per absence, expiry as a debit, downgrades as workflow moves.

- ``retail_membership.points_expiry``: expire what is left of lots past their date (FIFO).
- ``retail_membership.retier``: re-tier every member (a rolling 12-month window slides; downgrades wait
  for the configured grace).
- ``retail_membership.occasions``: tell the home store's staff about members' birthdays, children's
  birthdays and other occasions, holidays and season changes, a few days ahead.
- ``retail_membership.lapsed``: flag regulars who stopped coming to their store (a call task), once.
"""
from __future__ import annotations

import statistics
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import extract, select

from core import db
from core.jobs import Job
from core.models import Customer, Role, User
from core.services import audit, interactions, workflow
from core.services.notifications import notify

from plugins.retail_membership import program as programme
from plugins.retail_membership import services
from plugins.retail_membership.models import (
    RetailLapseAlert, RetailMembership, RetailOccasion, RetailPurchase, RetailStore,
)

OCCASION_LABELS = {"birthday": "birthday", "child_birthday": "child's birthday", "anniversary": "anniversary",
                   "other": "occasion"}


def retier_all(now: datetime) -> int:
    """Upgrades at once; downgrades only after ``downgrade_grace_days`` in the current tier. A tier set
    by hand is left alone until its pin lapses (then released here) or is released."""
    prog = programme.current()
    sess = db.session()
    ids = list(sess.scalars(select(RetailMembership.id).where(RetailMembership.deleted_at.is_(None))))
    moved = 0
    for start in range(0, len(ids), 500):
        batch = list(sess.scalars(select(RetailMembership).where(RetailMembership.id.in_(ids[start:start + 500]))))
        spends = (services.rolling_spend([m.id for m in batch], now) if prog.basis == "rolling_12m"
                  else {m.id: m.spend_total or 0 for m in batch})
        wf = workflow._workflow(services.TIER_WORKFLOW)
        for member in batch:
            if services.tier_held(None, member, now):   # set by hand: holds until it lapses or is released
                continue
            target = prog.tier_for(spends[member.id])
            if target.code == member.tier:
                continue
            if prog.rank(target.code) < prog.rank(member.tier):
                since = workflow.entered_at(wf, member)
                if since.tzinfo is None:
                    since = since.replace(tzinfo=now.tzinfo)
                if now - since < timedelta(days=prog.downgrade_grace_days):
                    continue
            services.retier(None, member, now=now, event="tick", spend=spends[member.id])
            moved += 1
    return moved


def _recipients(store_id, cache: dict) -> list[User]:
    if store_id not in cache:
        cache[store_id] = services.staff_users(store_id)
    return cache[store_id]


def send_occasion_reminders(now: datetime) -> int:
    """Notify each home store's staff of the occasions ``occasion_lead_days`` ahead (once per year each)."""
    prog = programme.current()
    day: date = (now + timedelta(days=prog.occasion_lead_days)).date()
    sess = db.session()
    staff: dict = {}
    sent = 0
    live = (RetailMembership.deleted_at.is_(None), Customer.deleted_at.is_(None))
    birthdays = sess.execute(
        select(RetailMembership, Customer.name).join(Customer, Customer.id == RetailMembership.customer_id)
        .where(*live, extract("month", RetailMembership.birthday) == day.month,
               extract("day", RetailMembership.birthday) == day.day))
    for member, name in birthdays:
        for user in _recipients(member.home_store_id, staff):
            if notify(user, "retail_membership.occasion", f"{name}'s birthday on {day:%m-%d}",
                      f"Greet {name} (card {member.card_number}, {member.tier}) on their birthday.", record=member,
                      data={"membership_id": member.id, "customer_id": member.customer_id, "occasion": "birthday",
                            "date": day.isoformat()},
                      dedupe_key=f"retail_membership.birthday:{member.id}:{day.year}"):
                sent += 1
    others = sess.execute(
        select(RetailOccasion, RetailMembership, Customer.name)
        .join(RetailMembership, RetailMembership.id == RetailOccasion.membership_id)
        .join(Customer, Customer.id == RetailMembership.customer_id)
        .where(*live, RetailOccasion.deleted_at.is_(None), RetailOccasion.month == day.month,
               RetailOccasion.day == day.day))
    for occ, member, name in others:
        what = OCCASION_LABELS.get(occ.kind, occ.kind)
        title = f"{name}: {occ.name + chr(39) + 's ' if occ.name else ''}{what} on {day:%m-%d}"
        for user in _recipients(member.home_store_id, staff):
            if notify(user, "retail_membership.occasion", title, f"Greet {name} (card {member.card_number}).",
                      record=member, data={"membership_id": member.id, "customer_id": member.customer_id,
                                           "occasion": occ.kind, "name": occ.name, "date": day.isoformat()},
                      dedupe_key=f"retail_membership.occasion:{occ.id}:{day.year}"):
                sent += 1
    for kind, en, zh in prog.occasions_on(day):
        for store in sess.scalars(select(RetailStore).where(RetailStore.deleted_at.is_(None))):
            for user in _recipients(store.id, staff):
                if notify(user, "retail_membership.season" if kind == "season" else "retail_membership.holiday",
                          f"{en} ({zh}) on {day:%m-%d}", f"Prepare greetings and displays at {store.name}.",
                          record=store, data={"store_id": store.id, "occasion": kind, "date": day.isoformat()},
                          dedupe_key=f"retail_membership.{kind}:{store.id}:{day.isoformat()}"):
                    sent += 1
    return sent


def median_gap_days(times: list[datetime]) -> float | None:
    times = sorted(times)
    gaps = [(b - a).total_seconds() / 86400 for a, b in zip(times, times[1:])]
    gaps = [g for g in gaps if g > 0]
    return statistics.median(gaps) if gaps else None


def _task_owner(store_id) -> User | None:
    staff = services.staff_users(store_id)
    if staff:
        return staff[0]
    return db.session().scalar(select(User).where(User.role == Role.ADMIN.value, User.is_active.is_(True),
                                                  User.deleted_at.is_(None)).order_by(User.email).limit(1))


def flag_lapsed(now: datetime) -> int:
    """A regular (at least ``lapse_min_visits`` visits) absent for more than ``lapse_factor`` times their
    own median gap (and at least ``lapse_min_days``) gets a call task for the home store — once per
    absence (the alert is keyed by their last purchase)."""
    prog = programme.current()
    sess = db.session()
    already = select(RetailLapseAlert.id).where(RetailLapseAlert.membership_id == RetailMembership.id,
                                                RetailLapseAlert.last_purchase_at == RetailMembership.last_purchase_at)
    candidates = list(sess.scalars(select(RetailMembership).where(
        RetailMembership.deleted_at.is_(None), RetailMembership.purchase_count >= prog.lapse_min_visits,
        RetailMembership.last_purchase_at <= now - timedelta(days=prog.lapse_min_days), ~already.exists())))
    if not candidates:
        return 0
    times: dict = {m.id: [] for m in candidates}
    for mid, at in sess.execute(select(RetailPurchase.membership_id, RetailPurchase.occurred_at).where(
            RetailPurchase.membership_id.in_(list(times)), RetailPurchase.deleted_at.is_(None))):
        times[mid].append(at)
    lapsed = []
    for member in candidates:
        gap = median_gap_days(times[member.id])
        absent = (now - member.last_purchase_at).total_seconds() / 86400
        if gap is not None and absent > prog.lapse_factor * gap:
            lapsed.append((member, gap, absent))
    # the lapsed members' customers, loaded in one query rather than one each (the task's service
    # finds them in the session)
    names: dict = {}
    customer_ids = [member.customer_id for member, _, _ in lapsed]
    for start in range(0, len(customer_ids), 500):
        names.update((c.id, c.name) for c in sess.scalars(
            select(Customer).where(Customer.id.in_(customer_ids[start:start + 500]))))
    flagged = 0
    owners: dict = {}  # a store's task owner, looked up once per run (the job changes no staff)
    for member, gap, absent in lapsed:
        if member.home_store_id not in owners:
            owners[member.home_store_id] = _task_owner(member.home_store_id)
        owner = owners[member.home_store_id]
        task = None
        if owner is not None:
            # on behalf: the owner is staff of the member's home store (or an admin), who sees the
            # customer anyway; create() would check that again with a scope query per task
            task = interactions.record_on_behalf(owner, {
                "customer_id": str(member.customer_id), "kind": "call", "status": "planned",
                "due_at": (now + timedelta(days=3)).isoformat(), "assignee_id": str(owner.id),
                "subject": f"Lapsed regular: call {names[member.customer_id]}"[:200],
                "notes": f"Used to come every {gap:.0f} days; last visit {member.last_purchase_at:%Y-%m-%d} "
                         f"({absent:.0f} days ago)."}, source=services.PLUGIN)
        # the id is set here so the alert needs no flush of its own: the next task's flushes it
        alert = RetailLapseAlert(id=uuid.uuid4(), membership_id=member.id, last_purchase_at=member.last_purchase_at,
                                 usual_gap_days=round(gap, 2), absent_days=round(absent, 2),
                                 task_id=task.id if task else None, flagged_at=now)
        sess.add(alert)
        audit.record_change(None, "created", alert, {"membership_id": (None, member.id)},
                            payload={"usual_gap_days": alert.usual_gap_days, "absent_days": alert.absent_days})
        flagged += 1
    return flagged


def jobs() -> list[Job]:
    return [
        Job("retail_membership.points_expiry", services.expire_points,
            "Expire points past their date, oldest lots first."),
        Job("retail_membership.retier", retier_all, "Re-tier members; downgrades after the configured grace."),
        Job("retail_membership.occasions", send_occasion_reminders,
            "Tell store staff about members' birthdays and occasions, holidays and season changes."),
        Job("retail_membership.lapsed", flag_lapsed, "Flag lapsed regulars to their store with a call task."),
    ]
