"""Demo data: six stores with their staff, ~2,400 members and 13 months of purchases, two campaigns with
control groups (one that works, one that does not), refunds, redemptions, expired points and lapsed
regulars — so every metric of the plugin shows something. Deterministic through ``rng``; dates are
relative to today. Members and purchases go through the bulk path (:mod:`.bulk`); everything else
through the ordinary services.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from core import db
from core.db import utcnow
from core.services.bulk import gc_paused

from plugins.retail_membership import bulk, campaigns, jobs, services
from plugins.retail_membership.models import RetailCampaignMember, RetailPurchase

MEMBERS = 2400
DAYS = 395

STORES = [
    ("SH-CL1", "静安时装店 Jing'an Fashion", "clothing", "上海"),
    ("SH-CO1", "徐汇美妆店 Xuhui Beauty", "cosmetics", "上海"),
    ("BJ-CL1", "三里屯时装店 Sanlitun Fashion", "clothing", "北京"),
    ("GZ-CO1", "天河美妆店 Tianhe Beauty", "cosmetics", "广州"),
    ("SZ-BK1", "福田书店 Futian Books", "books", "深圳"),
    ("CD-AP1", "春熙路家电 Chunxi Appliances", "appliances", "成都"),
]

CATALOGUE = {
    "clothing": [("shirts", 199), ("dresses", 459), ("jackets", 899), ("shoes", 599), ("accessories", 129)],
    "cosmetics": [("lipstick", 289), ("skincare", 520), ("perfume", 760), ("masks", 98)],
    "books": [("novels", 49), ("children", 39), ("business", 79), ("stationery", 25)],
    "appliances": [("kitchen", 699), ("small_appliances", 329), ("audio", 1299), ("accessories", 89)],
}

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞",
         "晓东", "海燕", "志强", "雅琴", "子涵", "欣怡"]
PREFERENCES = ["新品", "折扣", "环保", "简约风", "国潮", "护肤", "亲子", "数码"]


def demo(admin, rng, members: int = MEMBERS, progress=None) -> dict:
    """Load the demo; ``progress`` (a ``core.demo.Progress``) hears of members and purchases as written."""
    with gc_paused():  # its few cycles wait for one collection at the end (core.services.bulk.gc_paused)
        return _demo(admin, rng, members, progress)


def _demo(admin, rng, members: int, progress) -> dict:
    from core.demo import Progress, create_demo_user

    progress = progress or Progress(services.PLUGIN)
    progress.expect(members * 9)  # about eight purchases a member; corrected once they are generated
    now = utcnow().replace(microsecond=0)
    today = now.date()
    stores = []
    for code, name, kind, city in STORES:
        store = services.store_by_code(code) or services.create_store(
            admin, {"code": code, "name": name, "kind": kind, "city": city})
        staff = create_demo_user(admin, {"email": f"staff.{code.lower()}@example.com", "name": f"{city}店员",
                                          "role": services.STAFF_ROLE, "password": "store-staff-password"})
        services.assign_staff(admin, store.id, {"user_id": str(staff.id)})
        stores.append(store)

    people = []
    for i in range(members):
        store = stores[rng.randrange(len(stores))]
        joined = today - timedelta(days=DAYS + rng.randrange(0, 900)) if rng.random() < 0.8 else \
            today - timedelta(days=rng.randrange(0, DAYS))
        birthday = date(rng.randrange(1960, 2004), rng.randrange(1, 13), rng.randrange(1, 29))
        occasions = []
        if rng.random() < 0.25:
            occasions.append({"kind": "child_birthday", "name": rng.choice(["小明", "小红", "乐乐", "豆豆", "果果"]),
                              "date": date(rng.randrange(2012, 2023), rng.randrange(1, 13), rng.randrange(1, 29))})
        people.append({"name": rng.choice(SURNAMES) + rng.choice(GIVEN), "card_number": f"D{i + 1:08d}",
                       "home_store_id": store.id, "joined_on": joined, "birthday": birthday,
                       "region": store.city, "preferences": rng.sample(PREFERENCES, 2), "occasions": occasions,
                       "_store": store})
    ids = bulk.enrol(admin, [{k: v for k, v in p.items() if not k.startswith("_")} for p in people])
    progress(len(ids))

    # two campaigns launched 45 days ago, before the purchases are generated, so their effect can be built in
    launch_at = now - timedelta(days=45)
    cosmetics = [s for s in stores if s.kind == "cosmetics"]
    sample = campaigns.create(admin, {"name": "口红小样 Lipstick samples", "offer_kind": "sample",
                                      "goal_category": "lipstick", "goal_days": 30, "control_share": "0.3",
                                      "segment": {"store_ids": [str(s.id) for s in cosmetics]}})
    campaigns.launch(admin, sample.id, {"at": launch_at.isoformat()})
    coupon = campaigns.create(admin, {"name": "满减券 50 off", "offer_kind": "coupon", "offer_value": "50",
                                      "goal_days": 30, "control_share": "0.5",
                                      "segment": {"store_ids": [str(stores[2].id)]}})
    campaigns.launch(admin, coupon.id, {"at": launch_at.isoformat()})
    groups = {}
    coupons = {}
    for cm in db.session().scalars(select(RetailCampaignMember)):
        groups[(cm.campaign_id, cm.membership_id)] = cm.group
        if cm.coupon_code:
            coupons[cm.membership_id] = cm.coupon_code

    purchases = []
    start = now - timedelta(days=DAYS)
    for person, mid in zip(people, ids):
        store = person["_store"]
        rate = rng.gammavariate(1.3, 6.0)                     # visits a year
        lapses = rate >= 10 and rng.random() < 0.12           # a regular who stops coming
        first = max(start, datetime.combine(person["joined_on"], datetime.min.time(), tzinfo=timezone.utc))
        end = now - timedelta(days=rng.randrange(70, 150)) if lapses else now
        at = first + timedelta(days=rng.expovariate(rate / 365) if rate > 0 else DAYS)
        n = 0
        while at < end:
            purchases.append(_purchase(rng, mid, store, at, f"{person['card_number']}-{n:03d}"))
            n += 1
            at += timedelta(days=max(rng.expovariate(rate / 365), 1.0))
        if groups.get((sample.id, mid)) is not None and rng.random() < (
                0.45 if groups[(sample.id, mid)] == "treated" else 0.18):
            when = launch_at + timedelta(days=rng.uniform(1, 29))
            purchases.append(_purchase(rng, mid, store, when, f"{person['card_number']}-S", category="lipstick"))
        if groups.get((coupon.id, mid)) is not None and rng.random() < 0.25:
            when = launch_at + timedelta(days=rng.uniform(1, 29))
            row = _purchase(rng, mid, store, when, f"{person['card_number']}-C")
            if mid in coupons:
                row["coupon_code"] = coupons[mid]
            purchases.append(row)
    for row in purchases:
        if rng.random() < 0.04:
            row["redeem"] = rng.choice([200, 500, 1000])
    progress.expect(len(ids) + len(purchases))
    counts = bulk.import_purchases(admin, purchases, now=now)
    progress(len(purchases))

    # a few refunds through the ordinary service (points and spend reversed, the timeline shows the net)
    recent = list(db.session().scalars(select(RetailPurchase).where(RetailPurchase.occurred_at > now - timedelta(days=60))
                                       .order_by(RetailPurchase.pos_transaction_id).limit(400)))
    for p in rng.sample(recent, min(30, len(recent))):
        services.refund(admin, {"purchase_id": str(p.id), "pos_refund_id": f"RF-{p.pos_transaction_id}",
                                "amount": str((p.total * Decimal(rng.choice(["0.5", "1"]))).quantize(Decimal("0.01"))),
                                "reason": rng.choice(["尺码不合适", "质量问题", "不喜欢"])})
    campaigns.close(admin, coupon.id)
    summary = {**counts, "members": len(ids), "expired": services.expire_points(now),
               "lapsed": jobs.flag_lapsed(now), "reminders": jobs.send_occasion_reminders(now)}
    return summary


def _purchase(rng, mid, store, at, pos_id, category=None) -> dict:
    items = CATALOGUE.get(store.kind, CATALOGUE["clothing"])
    lines = []
    for i in range(1 if category else rng.choice([1, 1, 1, 2, 2, 3])):
        cat, price = next((c for c in items if c[0] == category), items[0]) if category else rng.choice(items)
        unit = Decimal(price) * Decimal(rng.choice(["0.8", "0.9", "1", "1", "1.2"]))
        lines.append({"sku": f"{cat[:3].upper()}-{rng.randrange(100, 999)}", "category": cat,
                      "quantity": rng.choice([1, 1, 1, 2]), "unit_price": unit.quantize(Decimal("0.01"))})
    return {"membership_id": mid, "store_id": store.id, "store_name": store.name,
            "pos_transaction_id": pos_id,
            "occurred_at": at.replace(microsecond=0), "lines": lines,
            "payment_method": rng.choice(["wechat_pay", "alipay", "card", "cash"])}
