"""What ``trellis tick`` does for retail membership. Every job is idempotent: dedupe keys on
notifications, one lapse alert per absence, expiry as a debit, downgrades as workflow moves.

- ``retail_membership.points_expiry``: expire what is left of lots past their date (FIFO).
- ``retail_membership.retier``: re-tier every member (a rolling 12-month window slides; downgrades wait
  for the configured grace).
- ``retail_membership.occasions``: tell the home store's staff about members' birthdays, children's
  birthdays and other occasions, holidays and season changes, from today to a few days ahead — each
  occasion once a year (recorded), whichever day the tick runs.
- ``retail_membership.lapsed``: flag regulars who stopped coming to their store (a call task), once.
- ``retail_membership.holiday_campaigns``: launch the holiday campaigns whose day has come (the holiday's
  date in the deployment's calendar, plus the offset); a repeating one schedules its copy for next year.
"""
from __future__ import annotations

import calendar
import statistics
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import and_, extract, or_, select

from core import db
from core.jobs import Job
from core.models import Customer, Role, User
from core.services import audit, interactions, workflow
from core.services.notifications import notify

from plugins.retail_membership import campaigns
from plugins.retail_membership import program as programme
from plugins.retail_membership import services
from plugins.retail_membership.models import (
    RetailLapseAlert, RetailMembership, RetailOccasion, RetailOccasionNotice, RetailPurchase, RetailStore,
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


def occasion_window(now: datetime, lead_days: int) -> dict[tuple[int, int], date]:
    """The days from today to ``lead_days`` ahead, by ``(month, day)``: the date each month-day falls on
    next within the window (a 29 February is greeted on the 28th in other years)."""
    out: dict[tuple[int, int], date] = {}
    for offset in range(max(lead_days, 0) + 1):
        day = (now + timedelta(days=offset)).date()
        out[(day.month, day.day)] = day
        if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
            out.setdefault((2, 29), day)
    return out


def send_occasion_reminders(now: datetime) -> int:
    """Notify each home store's staff of the members' occasions from today to ``occasion_lead_days``
    ahead that were not announced yet — each once per year, recorded in ``RetailOccasionNotice``, so a
    rerun repeats nothing and a tick that missed days (or an occasion added inside the window) misses
    nothing still ahead; every store's staff of holidays and season changes in the same window. Returns
    the notifications sent."""
    prog = programme.current()
    window = occasion_window(now, prog.occasion_lead_days)
    sess = db.session()
    staff: dict = {}
    live = (RetailMembership.deleted_at.is_(None), Customer.deleted_at.is_(None))
    on_birthday = or_(*[and_(extract("month", RetailMembership.birthday) == m, extract("day", RetailMembership.birthday) == d)
                        for m, d in window])
    on_occasion = or_(*[and_(RetailOccasion.month == m, RetailOccasion.day == d) for m, d in window])
    due = []   # (member, name, subject, day, kind, occasion or None)
    for member, name in sess.execute(
            select(RetailMembership, Customer.name).join(Customer, Customer.id == RetailMembership.customer_id)
            .where(*live, RetailMembership.birthday.is_not(None), on_birthday)):
        day = window[(member.birthday.month, member.birthday.day)]
        due.append((member, name, "birthday", day, "birthday", None))
    for occ, member, name in sess.execute(
            select(RetailOccasion, RetailMembership, Customer.name)
            .join(RetailMembership, RetailMembership.id == RetailOccasion.membership_id)
            .join(Customer, Customer.id == RetailMembership.customer_id)
            .where(*live, RetailOccasion.deleted_at.is_(None), on_occasion)):
        due.append((member, name, str(occ.id), window[(occ.month, occ.day)], occ.kind, occ))
    announced = set()
    if due:
        announced = set(sess.execute(select(RetailOccasionNotice.membership_id, RetailOccasionNotice.subject,
                                            RetailOccasionNotice.year)
                                     .where(RetailOccasionNotice.membership_id.in_({d[0].id for d in due}),
                                            RetailOccasionNotice.year.in_({d[3].year for d in due}))).all())
    sent = 0
    for member, name, subject, day, kind, occ in sorted(due, key=lambda d: (d[3], d[1], d[2])):
        if (member.id, subject, day.year) in announced:
            continue
        recipients = _recipients(member.home_store_id, staff)
        if not recipients:
            continue   # nobody to tell yet: a staff member assigned while it is still ahead will be
        if occ is None:
            title = f"{name}'s birthday on {day:%m-%d}"
            body = f"Greet {name} (card {member.card_number}, {member.tier}) on their birthday."
            data = {"occasion": "birthday"}
            key = f"retail_membership.birthday:{member.id}:{day.year}"
        else:
            what = OCCASION_LABELS.get(kind, kind)
            title = f"{name}: {occ.name + chr(39) + 's ' if occ.name else ''}{what} on {day:%m-%d}"
            body = f"Greet {name} (card {member.card_number})."
            data = {"occasion": kind, "name": occ.name}
            key = f"retail_membership.occasion:{occ.id}:{day.year}"
        for user in recipients:
            if notify(user, "retail_membership.occasion", title, body, record=member,
                      data={"membership_id": member.id, "customer_id": member.customer_id, **data,
                            "date": day.isoformat()}, dedupe_key=key):
                sent += 1
        sess.add(RetailOccasionNotice(membership_id=member.id, subject=subject, year=day.year, on_date=day,
                                      announced_at=now))
        announced.add((member.id, subject, day.year))
    sess.flush()
    stores = None
    for day in sorted(set(window.values())):
        for kind, key, en, zh in prog.occasions_on(day):
            if stores is None:
                stores = list(sess.scalars(select(RetailStore).where(RetailStore.deleted_at.is_(None))))
            # a season change keeps its key of before; a holiday's names the holiday (two on one day)
            dedupe = (f"retail_membership.season:{{}}:{day.isoformat()}" if kind == "season"
                      else f"retail_membership.holiday:{key}:{{}}:{day.isoformat()}")
            for store in stores:
                for user in _recipients(store.id, staff):
                    if notify(user, "retail_membership.season" if kind == "season" else "retail_membership.holiday",
                              f"{en} ({zh}) on {day:%m-%d}", f"Prepare greetings and displays at {store.name}.",
                              record=store, data={"store_id": store.id, "occasion": kind, kind: key,
                                                  "date": day.isoformat()},
                              dedupe_key=dedupe.format(store.id)):
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
        Job("retail_membership.holiday_campaigns", campaigns.launch_scheduled,
            "Launch the holiday campaigns whose day (the holiday's date plus the offset) has come."),
    ]
