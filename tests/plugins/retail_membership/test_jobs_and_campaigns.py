"""Occasion reminders and lapsed regulars in ``trellis tick`` (idempotent), campaigns with control groups
and their lift, and the metrics."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.plugins.retail_membership.conftest import BASE, buy, enrol, member, sale, when
from tests.plugins.retail_membership.test_points import run_job


def notifications(api, who):
    return api.as_(who).get("/api/v1/notifications?page_size=100").get_json()


def test_birthdays_and_childrens_birthdays_reach_the_home_stores_staff_once(shop):
    soon = (datetime.now(timezone.utc) + timedelta(days=3)).date()
    enrol(shop.api, shop.north, name="Birthday Girl", birthday=soon.replace(year=1990).isoformat())
    enrol(shop.api, shop.north, name="Proud Dad",
          occasions=[{"kind": "child_birthday", "name": "Tom", "date": soon.replace(year=2019).isoformat()}])
    far = (datetime.now(timezone.utc) + timedelta(days=100)).date()   # outside the reminders' window
    enrol(shop.api, shop.south, name="Not Today", birthday=far.replace(year=1992).isoformat())
    sent = run_job(shop.runtime, "retail_membership.occasions")
    assert sent >= 2
    titles = [n["title"] for n in notifications(shop.api, "staff_north")]
    assert any("Birthday Girl's birthday" in t for t in titles)
    assert any("Proud Dad: Tom's child's birthday" in t for t in titles)
    assert not any("Birthday" in n["title"] for n in notifications(shop.api, "staff_south"))
    assert run_job(shop.runtime, "retail_membership.occasions") == 0


def test_holidays_and_season_changes_reach_every_store(shop):
    when = datetime(2026, 9, 28, 8, tzinfo=timezone.utc)   # 3 days before National Day
    assert run_job(shop.runtime, "retail_membership.occasions", when) == 2
    assert "National Day" in notifications(shop.api, "staff_south")[0]["title"]
    assert run_job(shop.runtime, "retail_membership.occasions", when) == 0


def test_a_lapsed_regular_is_flagged_to_the_store_once(shop):
    regular = enrol(shop.api, shop.north, name="Regular Rita")
    casual = enrol(shop.api, shop.north, name="Casual Carl")
    for i, days_ago in enumerate((130, 120, 110, 100, 90)):       # every 10 days, then gone for 90
        buy(shop.api, sale(f"R{i}", regular["card_number"], total="30.00", days_ago=days_ago))
    for i, days_ago in enumerate((200, 100)):
        buy(shop.api, sale(f"C{i}", casual["card_number"], total="30.00", days_ago=days_ago))
    assert run_job(shop.runtime, "retail_membership.lapsed") == 1
    assert run_job(shop.runtime, "retail_membership.lapsed") == 0
    [alert] = shop.api.get(f"{BASE}/lapses").get_json()
    assert alert["membership_id"] == regular["id"] and alert["usual_gap_days"] == 10
    tasks = shop.api.as_("staff_north").get("/api/v1/interactions?mine=true&status=planned").get_json()
    assert [t["subject"] for t in tasks] == ["Lapsed regular: call Regular Rita"]
    assert shop.api.get("/api/v1/metrics/retail_membership_lapsed_members").get_json()["rows"][0]["value"] == 1
    # coming back closes the alert
    buy(shop.api, sale("R9", regular["card_number"], total="30.00", days_ago=0))
    assert shop.api.get(f"{BASE}/lapses?open=true").get_json() == []
    assert shop.api.get("/api/v1/metrics/retail_membership_lapsed_members").get_json()["rows"][0]["value"] == 0


def test_rolling_tiers_are_downgraded_by_tick_after_the_grace(shop):
    from dataclasses import replace

    from plugins.retail_membership import program

    settings = shop.runtime.settings
    program.override(settings, replace(program.program(settings), basis="rolling_12m", downgrade_grace_days=30))
    try:
        m = enrol(shop.api, shop.north)
        buy(shop.api, sale("T1", m["card_number"], total="2500.00", days_ago=300))
        assert member(shop.api, m["id"])["tier"] == "silver"
        now = datetime.now(timezone.utc)
        assert run_job(shop.runtime, "retail_membership.retier", now) == 0
        # 100 days on, the purchase left the 12-month window: silver for more than 30 days, so down
        assert run_job(shop.runtime, "retail_membership.retier", now + timedelta(days=100)) == 1
        assert member(shop.api, m["id"])["tier"] == "member"
        assert run_job(shop.runtime, "retail_membership.retier", now + timedelta(days=100)) == 0
    finally:
        program.override(settings, None)


def make_campaign(api, **extra):
    body = {"name": "Lipstick samples", "offer_kind": "sample", "goal_category": "lipstick", "goal_days": 30,
            "control_share": "0.5", **extra}
    response = api.as_("manager").post(f"{BASE}/campaigns", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_campaign_splits_its_segment_and_reports_the_lift(shop):
    cards = [enrol(shop.api, shop.south, name=f"M{i:02d}")["card_number"] for i in range(40)]
    campaign = make_campaign(shop.api, segment={"store_ids": [shop.south["id"]]})
    draft = shop.api.get(f"{BASE}/campaigns/{campaign['id']}/result")
    assert draft.status_code == 200 and (draft.get_json()["window_start"], draft.get_json()["window_end"]) == (None, None)
    at = when(1)
    launched = shop.api.as_("manager").post(f"{BASE}/campaigns/{campaign['id']}/launch", json={"at": at})
    assert launched.status_code == 200, launched.get_json()
    assert (launched.get_json()["treated_count"], launched.get_json()["control_count"]) == (20, 20)
    quiet = shop.api.get(f"{BASE}/campaigns/{campaign['id']}/result").get_json()  # nobody has bought yet
    assert (quiet["lift"], quiet["p_value"]) == (0.0, 1.0)
    trail = shop.api.as_("admin").get(
        f"/api/v1/audit?record_type=retail_membership_campaign&record_id={campaign['id']}").get_json()
    [launch] = [e["changes"] for e in trail if e["action"] == "retail_membership_campaign.launched"]
    assert launch == {"treated_count": [0, 20], "control_count": [0, 20]}
    assert shop.api.as_("manager").post(f"{BASE}/campaigns/{campaign['id']}/launch").status_code == 422
    groups = {row["membership_id"]: row["group"] for row in
              shop.api.get(f"{BASE}/campaigns/{campaign['id']}/members?page_size=100").get_json()}
    by_card = {m["card_number"]: m["id"] for m in shop.api.get(f"{BASE}/memberships?page_size=100").get_json()}
    treated = [c for c in cards if groups[by_card[c]] == "treated"]
    control = [c for c in cards if groups[by_card[c]] == "control"]
    lipstick = [{"sku": "LS-1", "category": "lipstick", "quantity": 1, "unit_price": "99.00"}]
    for i, card in enumerate(treated[:12]):
        buy(shop.api, sale(f"T{i}", card, store_code="S01", total="99.00", days_ago=0, lines=lipstick))
    for i, card in enumerate(control[:4]):
        buy(shop.api, sale(f"C{i}", card, store_code="S01", total="99.00", days_ago=0, lines=lipstick))
    # a purchase in another category does not convert
    buy(shop.api, sale("X1", control[10], store_code="S01", total="10.00", days_ago=0,
                       lines=[{"sku": "SOAP", "category": "soap", "quantity": 1, "unit_price": "10.00"}]))
    result = shop.api.get(f"{BASE}/campaigns/{campaign['id']}/result").get_json()
    assert result["treated"] == {"members": 20, "converted": 12, "rate": 0.6}
    assert result["control"] == {"members": 20, "converted": 4, "rate": 0.2}
    assert abs(result["lift"] - 0.4) < 1e-9
    # Newcombe's hybrid score interval (Wilson 12/20: 0.387–0.781, 4/20: 0.081–0.416); pooled z-test
    assert (round(result["ci_low"], 3), round(result["ci_high"], 3)) == (0.096, 0.617)
    assert round(result["p_value"], 4) == 0.0098 and result["confidence"] == 0.95
    # the goal window: goal_days (30) from the launch
    start, end = (datetime.fromisoformat(result[k]) for k in ("window_start", "window_end"))
    assert start == datetime.fromisoformat(at) and end - start == timedelta(days=30)
    rows = shop.api.get("/api/v1/metrics/retail_membership_campaign_lift").get_json()["rows"]
    assert rows[0]["group"] == {"campaign": "Lipstick samples"} and rows[0]["value"] == 0.4


def test_a_campaign_whose_treated_group_rounds_to_nobody_reports_no_lift(shop):
    # one member at a control share of 0.9: the control group rounds to that member, nobody is treated
    enrol(shop.api, shop.south, name="Only One")
    campaign = make_campaign(shop.api, segment={"store_ids": [shop.south["id"]]}, control_share="0.9")
    launched = shop.api.as_("manager").post(f"{BASE}/campaigns/{campaign['id']}/launch")
    assert (launched.get_json()["treated_count"], launched.get_json()["control_count"]) == (0, 1)
    result = shop.api.get(f"{BASE}/campaigns/{campaign['id']}/result")
    assert result.status_code == 200, result.get_json()
    body = result.get_json()
    assert body["treated"] == {"members": 0, "converted": 0, "rate": None}
    assert (body["lift"], body["ci_low"], body["ci_high"], body["p_value"]) == (None, None, None, None)


def test_a_recency_segment_takes_the_members_who_bought_within_its_days_of_the_launch(shop):
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    bought = {}
    for name, days_ago in (("Recent", 10), ("Edge", 30), ("Gone", 31)):
        card = enrol(shop.api, shop.south, name=name)["card_number"]
        bought[name] = buy(shop.api, sale(f"R-{name}", card, store_code="S01",
                                          occurred_at=when(days_ago, base)))["membership_id"]
    enrol(shop.api, shop.south, name="Never")
    campaign = make_campaign(shop.api, segment={"store_ids": [shop.south["id"]], "recency_days": 30})
    launched = shop.api.as_("manager").post(f"{BASE}/campaigns/{campaign['id']}/launch", json={"at": when(0, base)})
    assert launched.status_code == 200, launched.get_json()
    members = {r["membership_id"] for r in shop.api.get(f"{BASE}/campaigns/{campaign['id']}/members").get_json()}
    assert members == {bought["Recent"], bought["Edge"]}  # 30 days before the launch to the second is in
    # one treated, one control: a lift (0, nobody bought since) is reported even for groups of one
    result = shop.api.get(f"{BASE}/campaigns/{campaign['id']}/result").get_json()
    assert (result["treated"]["members"], result["control"]["members"]) == (1, 1)
    assert (result["lift"], result["p_value"]) == (0.0, 1.0)
    # a segment of members with at least two purchases
    recent_card = member(shop.api, bought["Recent"])["card_number"]
    buy(shop.api, sale("R-Recent-2", recent_card, store_code="S01", occurred_at=when(20, base)))
    regulars = make_campaign(shop.api, name="Regulars", segment={"store_ids": [shop.south["id"]], "min_purchases": 2})
    assert shop.api.as_("manager").post(f"{BASE}/campaigns/{regulars['id']}/launch").status_code == 200
    members = {r["membership_id"] for r in shop.api.get(f"{BASE}/campaigns/{regulars['id']}/members").get_json()}
    assert members == {bought["Recent"]}


def test_assignment_is_random_but_reproducible(shop, runtime):
    from plugins.retail_membership import campaigns
    from plugins.retail_membership.models import RetailCampaign
    import uuid
    from decimal import Decimal

    ids = [uuid.uuid4() for _ in range(1000)]
    c = RetailCampaign(id=uuid.uuid4(), control_share=Decimal("0.25"))
    treated, control = campaigns.assign(c, ids)
    assert (len(treated), len(control)) == (750, 250)
    assert campaigns.assign(c, ids) == (treated, control)
    other = campaigns.assign(RetailCampaign(id=uuid.uuid4(), control_share=Decimal("0.25")), ids)[1]
    assert set(other) != set(control)


def test_coupons_are_single_use_and_points_bonuses_are_credited(shop):
    cards = [enrol(shop.api, shop.north, name=f"C{i}")["card_number"] for i in range(4)]
    coupon = make_campaign(shop.api, name="10 off", offer_kind="coupon", offer_value="10", control_share="0.25")
    shop.api.as_("manager").post(f"{BASE}/campaigns/{coupon['id']}/launch")
    codes = [r["coupon_code"] for r in shop.api.get(f"{BASE}/campaigns/{coupon['id']}/members").get_json()
             if r["group"] == "treated"]
    assert len(codes) == 3 and all(codes)
    assert shop.api.as_("staff_north").post(f"{BASE}/coupons/{codes[0]}/redeem").status_code == 200
    assert shop.api.as_("staff_north").post(f"{BASE}/coupons/{codes[0]}/redeem").status_code == 409
    # a coupon given at the till with a purchase is used up too
    holder = next(r["membership_id"] for r in shop.api.get(f"{BASE}/campaigns/{coupon['id']}/members").get_json()
                  if r["coupon_code"] == codes[1])
    card = shop.api.get(f"{BASE}/memberships/{holder}").get_json()["card_number"]
    buy(shop.api, sale("CP1", card, total="90.00", coupon_code=codes[1]))
    reused = shop.api.post(f"{BASE}/purchases", json=sale("CP2", card, total="90.00", coupon_code=codes[1]))
    assert reused.status_code == 422 and "coupon_code" in reused.get_json()["errors"]["json"]
    result = shop.api.get(f"{BASE}/campaigns/{coupon['id']}/result").get_json()
    assert result["coupons_redeemed"] == 2
    bonus = make_campaign(shop.api, name="Bonus", offer_kind="points_bonus", offer_value="500", control_share="0.5")
    shop.api.as_("manager").post(f"{BASE}/campaigns/{bonus['id']}/launch")
    balances = [m["points_balance"] for m in shop.api.get(f"{BASE}/memberships").get_json()]
    assert sum(balances) == 90 + 2 * 500 and sum(b >= 500 for b in balances) == 2
    assert shop.api.as_("staff_north").post(f"{BASE}/campaigns", json={"name": "x", "offer_kind": "sample"}).status_code == 403
    del cards


def test_metrics_cover_members_spend_and_tiers(shop):
    a = enrol(shop.api, shop.north, name="A")
    b = enrol(shop.api, shop.south, name="B")
    enrol(shop.api, shop.south, name="C")
    buy(shop.api, sale("T1", a["card_number"], total="100.00", days_ago=3))
    buy(shop.api, sale("T2", a["card_number"], total="2000.00", days_ago=2))
    buy(shop.api, sale("T3", b["card_number"], store_code="S01", total="50.00", days_ago=1))
    shop.api.post(f"{BASE}/memberships/{b['id']}/redemptions", json={"points": 25})

    def metric(name, who="admin", query=""):
        response = shop.api.as_(who).get(f"/api/v1/metrics/retail_membership_{name}{query}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()["rows"]

    assert metric("active_members")[0]["value"] == 2
    assert metric("new_members")[0]["value"] == 3
    assert metric("repurchase_rate")[0]["value"] == 0.5
    assert metric("average_spend")[0]["value"] == 1075.0
    assert metric("visits_per_member")[0]["value"] == 1.5
    assert {r["group"]["tier"]: r["value"] for r in metric("tier_distribution")} == {
        "member": 2, "silver": 1, "gold": 0, "platinum": 0}
    assert metric("redemption_rate")[0]["value"] == round(25 / 2150, 4)
    assert {r["group"]["store"]: r["value"] for r in metric("active_members", query="?group_by=store")} == {
        "N01": 1, "S01": 1}
    # store staff see their store's numbers only
    assert metric("active_members", who="staff_north")[0]["value"] == 1
    assert metric("points_outstanding", who="staff_south")[0]["value"] == 25
    labels = shop.api.get("/api/v1/metrics").get_json()
    assert {"name": "retail_membership_tier_distribution"}.items() <= next(
        m for m in labels if m["name"] == "retail_membership_tier_distribution").items()


def test_campaigns_export_as_their_list_shows_them(shop):
    """The campaign is a declared record, so its list exports with its filters (RecordSpec.list_export)."""
    import json

    first = make_campaign(shop.api)
    make_campaign(shop.api, name="Perfume", offer_kind="coupon", offer_value="20")
    listed = shop.api.get(f"{BASE}/campaigns?offer_kind=sample").get_json()
    response = shop.api.get("/api/v1/exports/retail_membership.campaigns?format=jsonl&offer_kind=sample")
    assert response.status_code == 200, response.get_json()
    rows = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [r["id"] for r in rows] == [c["id"] for c in listed] == [first["id"]]
    assert {k: rows[0][k] for k in ("name", "status", "control_share", "goal_days")} == {
        k: listed[0][k] for k in ("name", "status", "control_share", "goal_days")}
    bad = shop.api.get("/api/v1/exports/retail_membership.campaigns?offer_kind=bribe")
    assert bad.status_code == 422 and "offer_kind" in bad.get_json()["errors"]["json"]
