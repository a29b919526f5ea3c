"""Customer analytics end to end: data written through REST, a refresh, and the numbers a user reads
back over REST, the metrics, the customer list filters, the CLI and the tick job."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from core.analytics.clv import seed_clv
from core.db import utcnow
from core.models import Interaction
from tests.api.rest.test_customers import create
from api.testing import graphql_list, pin_statements, rest_list


def strict_json(response):
    """The body parsed the way a browser would: NaN or Infinity fail."""
    def refuse(constant):
        raise AssertionError(f"{constant} in JSON: {response.get_data(as_text=True)[:300]}")
    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


def buy(api, customer, days_ago, amount="100.00", who="rep"):
    when = (utcnow() - timedelta(days=days_ago)).replace(hour=10, minute=0, second=0, microsecond=0)
    response = api.as_(who).post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": "purchase", "amount": amount, "occurred_at": when.isoformat()})
    assert response.status_code == 201, response.get_json()


def survey(api, customer, scale, score, days_ago=5, who="rep", source_kind="survey"):
    when = (utcnow() - timedelta(days=days_ago)).isoformat()
    response = api.as_(who).post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": source_kind, "score": score, "score_scale": scale,
        "occurred_at": when})
    assert response.status_code == 201, response.get_json()


def refresh(api):
    response = api.as_("admin").post("/api/v1/analytics/refresh?wait=true")
    assert response.status_code == 201, response.get_json()
    return strict_json(response)


def analytics_of(api, customer, who="rep"):
    response = api.as_(who).get(f"/api/v1/analytics/customers/{customer['id']}")
    assert response.status_code == 200, response.get_json()
    return strict_json(response)


def configure(runtime, monkeypatch, **settings):
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, **settings))


def customer_ids(api, who="admin", **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    response = api.as_(who).get(f"/api/v1/customers?page_size=100&{query}")
    assert response.status_code == 200, response.get_json()
    return {c["id"] for c in response.get_json()}


# --- edge cases -----------------------------------------------------------------------------------------

def test_no_purchase_one_purchase_refund_and_zero_value_each_get_a_defined_answer(api):
    nothing = create(api, name="Never bought")
    once = create(api, name="Bought once")
    refunded = create(api, name="Refunded part")
    free = create(api, name="Free sample then order")
    buy(api, once, 30, "100.00")
    buy(api, refunded, 60, "100.00")
    buy(api, refunded, 20, "200.00")
    buy(api, refunded, 10, "-50.00")          # a refund: nets against spend, is no transaction
    buy(api, free, 40, "0.00")                # a zero-value purchase is a transaction
    buy(api, free, 15, "100.00")
    refresh(api)

    a = analytics_of(api, nothing)
    assert a["purchases"]["transactions"] == 0
    assert a["rfm"]["segment"] is None and a["rfm"]["reason"] == "no purchase yet"
    assert a["value_tier"]["tier"] is None and a["segment"]["id"] is None
    assert a["clv"]["seed"] is None and a["clv"]["model"] is None and a["clv"]["model_reason"] == "no purchase yet"
    assert a["churn"]["at_risk"] is False

    b = analytics_of(api, once)
    assert b["purchases"]["transactions"] == 1 and b["rfm"]["recency_days"] == 30
    assert b["clv"]["model"] is None and b["clv"]["p_alive"] is None
    assert b["clv"]["model_reason"].startswith("one purchase so far")
    yearly = 100.0 * 365.2425 / 365
    assert b["clv"]["seed"] == pytest.approx(seed_clv(100.0, 0.0, yearly, 0.08, 3), abs=0.01)

    c = analytics_of(api, refunded)
    assert c["purchases"]["transactions"] == 2
    assert c["purchases"]["lifetime_revenue"] == 250.0 and c["rfm"]["monetary"] == 250.0
    assert c["rfm"]["frequency"] == 2 and c["rfm"]["recency_days"] == 20

    d = analytics_of(api, free)
    assert d["purchases"]["transactions"] == 2 and d["rfm"]["monetary"] == 100.0
    assert d["clv"]["seed"] == pytest.approx(0.0 + 100.0 * 365.2425 / 365 * seed_clv(0, 0, 1, 0.08, 3), abs=0.01)
    for row in (b, c, d):
        assert 1 <= row["rfm"]["r_score"] <= 5 and row["rfm"]["label_zh_cn"]


def test_all_customers_buying_on_one_day_gives_reasons_not_a_crash(api, runtime, monkeypatch):
    customers = [create(api, name=f"Same day {i}") for i in range(3)]
    for c in customers:
        buy(api, c, 10, "80.00")
    run = refresh(api)
    assert run["status"] == "partial"
    assert run["params"]["bgnbd"]["ok"] is False and "repeat transaction" in run["params"]["bgnbd"]["reason"]
    assert run["params"]["kmeans"]["ok"] is False and "distinct" in run["params"]["kmeans"]["reason"]
    a = analytics_of(api, customers[0])
    # everyone ties on every measure: the middle score, the same segment
    assert (a["rfm"]["r_score"], a["rfm"]["f_score"], a["rfm"]["m_score"]) == (3, 3, 3)
    assert a["rfm"]["segment"] == "need_attention" and a["rfm"]["label_en"] == "Need attention"
    assert a["segment"]["id"] is None and "distinct" in a["segment"]["reason"]
    assert a["clv"]["model"] is None and a["clv"]["model_reason"].startswith("one purchase so far")
    # equal revenue: the same tier for all three (the first of the tied group decides)
    assert {analytics_of(api, c)["value_tier"]["tier"] for c in customers} == {"key"}


def test_fewer_customers_than_clusters_means_no_segmentation_with_the_reason(api, runtime, monkeypatch):
    configure(runtime, monkeypatch, analytics_k_min=3, analytics_k_max=5)
    one, two = create(api, name="One"), create(api, name="Two")
    buy(api, one, 100, "10.00")
    buy(api, two, 5, "900.00")
    buy(api, two, 3, "900.00")
    run = refresh(api)
    assert run["params"]["kmeans"] == {"ok": False, "reason": "2 customer(s) with purchases: k-means with at "
                                                              "least 3 segments needs at least 4"}
    assert api.get("/api/v1/analytics/segments").get_json() == []
    assert "needs at least 4" in analytics_of(api, two)["segment"]["reason"]


# --- what a deployment sees ---------------------------------------------------------------------------------

def build_population(api):
    """Six frequent small retail buyers and six rare big construction buyers."""
    retail, build = [], []
    for i in range(6):
        c = create(api, name=f"Shop {i}", industry="retail")
        for days in range(5 + i, 200, 20):
            buy(api, c, days, "50.00")
        retail.append(c)
    for i in range(6):
        c = create(api, name=f"Builder {i}", industry="construction", who="rep2")
        buy(api, c, 300 - 10 * i, "5000.00", who="rep2")
        buy(api, c, 150 + i, "7000.00", who="rep2")
        build.append(c)
    return retail, build


def test_segments_are_profiled_in_words_and_customers_filter_by_them(api):
    retail, build = build_population(api)
    run = refresh(api)
    assert run["params"]["kmeans"]["ok"] and run["params"]["kmeans"]["k"] >= 2
    segments = strict_json(api.get("/api/v1/analytics/segments"))
    assert sum(s["size"] for s in segments) == 12 and all(s["size_all"] == s["size"] for s in segments)
    top = segments[0]  # numbered by spend: the builders first
    assert "high spend" in top["profile"] and "mostly construction" in top["profile"]
    assert "消费高" in top["profile_zh_cn"]
    members = customer_ids(api, segment=top["id"])
    assert members and members <= {c["id"] for c in build}
    shop = analytics_of(api, retail[0])
    assert shop["segment"]["id"] != top["id"] and "mostly retail" in shop["segment"]["profile"]
    # a rep counts only the members they may see
    rep_view = {s["id"]: s["size"] for s in api.as_("rep").get("/api/v1/analytics/segments").get_json()}
    assert rep_view[top["id"]] == 0 and sum(rep_view.values()) == 6
    assert all(s["size_all"] is None for s in api.as_("rep").get("/api/v1/analytics/segments").get_json())
    # RFM segment and value tier filters
    champions = customer_ids(api, rfm_segment=shop["rfm"]["segment"])
    assert retail[0]["id"] in champions
    assert customer_ids(api, value_tier="key") <= {c["id"] for c in build}
    bad = api.get("/api/v1/customers?value_tier=huge")
    assert bad.status_code == 422
    # the same filters over GraphQL
    body = api.graphql('query($s: ID!) { customers(first: 100, filter: {segment: $s}) { edges { node { id '
                       'segment { id } } } } }', {"s": top["id"]})
    assert body.get("errors") is None, body
    assert {e["node"]["id"] for e in body["data"]["customers"]["edges"]} == members
    body = api.graphql('{ customers(first: 100, filter: {valueTier: KEY}) { edges { node { id } } } }')
    assert body.get("errors") is None, body
    assert {e["node"]["id"] for e in body["data"]["customers"]["edges"]} == customer_ids(api, value_tier="key")
    body = api.graphql('{ customers(first: 100, filter: {valueTier: HUGE}) { totalCount } }')   # an enum
    assert list(body["errors"][0]["extensions"]["fields"]) == ["filter.valueTier"]
    # survey answers grouped by segment name their segment; a customer in none (created after the refresh)
    # is the group without a name
    newcomer = create(api, name="Newcomer")
    survey(api, retail[0], "nps", 10)
    survey(api, newcomer, "nps", 2)
    rows = {r["group"]["segment"]: r for r in api.get("/api/v1/metrics/analytics_nps?group_by=segment").get_json()["rows"]}
    names = {s["id"]: s["name"] for s in segments}
    assert {k: (r["value"], r["extra"]["name"]) for k, r in rows.items()} == {
        shop["segment"]["id"]: (100.0, names[shop["segment"]["id"]]), None: (-100.0, None)}


def test_value_tiers_follow_cumulative_revenue_share_and_the_pareto_curve(api):
    revenues = [800, 100, 50, 30, 20]
    customers = []
    for i, amount in enumerate(revenues):
        c = create(api, name=f"Tier {i}")
        buy(api, c, 10 + i, f"{amount}.00")
        customers.append(c)
    refresh(api)
    tiers = [analytics_of(api, c)["value_tier"] for c in customers]
    # shares before each customer: 0, .80, .90, .95, .98 against the cuts .5 / .8 / .95
    assert [t["tier"] for t in tiers] == ["key", "regular", "regular", "small", "small"]
    assert tiers[0]["label_zh_cn"] == "大客户" and tiers[0]["revenue_share"] == 0.8
    rows = api.get("/api/v1/metrics/analytics_pareto").get_json()["rows"]
    curve = {r["group"]["customer_share"]: r["value"] for r in rows}
    assert curve[0.0] == 0.0 and curve[0.2] == 0.8 and curve[1.0] == 1.0
    tiers_metric = {r["group"]["value_tier"]: r["value"] for r in
                    api.get("/api/v1/metrics/analytics_value_tiers").get_json()["rows"]}
    assert tiers_metric == {"key": 1, "major": 0, "regular": 2, "small": 2}


def test_a_new_churn_flag_creates_one_task_for_the_owner_and_names_its_reason(api, people, runtime):
    regular = create(api, name="Monthly buyer")
    for days in range(130, 400, 30):      # every 30 days for 9 months, then nothing for 130 days
        buy(api, regular, days, "1000.00")
    refresh(api)
    a = analytics_of(api, regular)
    flags = {f["flag"]: f["reason"] for f in a["churn"]["flags"]}
    assert a["churn"]["at_risk"] and {"drop", "gap"} <= set(flags)
    assert flags["gap"] == "130 days since the last purchase, against a usual gap of 30 days"
    assert "100% below its usual" in flags["drop"]
    assert regular["id"] in customer_ids(api, churn_risk="true")

    def tasks():
        with runtime.database.unit_of_work() as sess:
            return sess.scalars(select(Interaction).where(Interaction.customer_id == uuid.UUID(a["customer_id"]),
                                                          Interaction.source == "analytics")).all()

    [task] = tasks()
    assert task.status == "planned" and task.assignee_id == people.rep.id and task.due_at > utcnow()
    assert "Monthly buyer" in task.subject and "130 days since the last purchase" in task.notes
    assert str(task.id) == a["churn"]["task_id"]
    refresh(api)                          # the flag persists: no second task
    assert len(tasks()) == 1
    assert analytics_of(api, regular)["churn"]["since"] == a["churn"]["since"]
    watch = api.as_("rep").get("/api/v1/metrics/analytics_churn_watchlist").get_json()["rows"]
    assert [r["group"]["customer_id"] for r in watch] == [a["customer_id"]]
    assert api.as_("other_rep").get("/api/v1/metrics/analytics_churn_watchlist").get_json()["rows"] == []


def test_the_gap_flag_waits_for_three_usual_gaps_of_silence(api):
    # a monthly buyer (usual gap 30 days; analytics_churn_gap_factor 3): 90 silent days are still within
    # the usual rhythm, 91 are not
    quiet = {}
    for silent in (60, 90, 91):
        quiet[silent] = create(api, name=f"Quiet for {silent} days")
        for days in range(silent, silent + 271, 30):
            buy(api, quiet[silent], days, "1000.00")
    refresh(api)
    gap = {silent: [f["reason"] for f in analytics_of(api, c)["churn"]["flags"] if f["flag"] == "gap"]
           for silent, c in quiet.items()}
    assert gap == {60: [], 90: [], 91: ["91 days since the last purchase, against a usual gap of 30 days"]}


def test_win_back_list_ranks_lost_and_at_risk_customers_and_turns_into_tasks_once(api, people):
    gone = create(api, name="Gone")
    buy(api, gone, 200, "3000.00")
    buy(api, gone, 100, "3000.00")
    assert api.as_("manager").post(f"/api/v1/customers/{gone['id']}/stage",
                                   json={"to": "lost", "reason": "moved to a competitor"}).status_code == 200
    small = create(api, name="Small and lost")
    buy(api, small, 90, "10.00")
    api.as_("manager").post(f"/api/v1/customers/{small['id']}/stage", json={"to": "lost", "reason": "closed"})
    create(api, name="Happy")
    refresh(api)
    listed = strict_json(api.as_("rep").get("/api/v1/analytics/win-back"))
    assert [r["name"] for r in listed] == ["Gone", "Small and lost"]
    assert listed[0]["status"] == "lost" and listed[0]["lost_reason"] == "moved to a competitor"
    assert listed[0]["expected_value"] > listed[1]["expected_value"] > 0
    assert api.as_("other_rep").get("/api/v1/analytics/win-back").get_json() == []

    made = api.as_("manager").post("/api/v1/analytics/win-back/tasks", json={"customer_ids": [gone["id"]]})
    assert made.status_code == 201, made.get_json()
    [task] = made.get_json()
    assert task["assignee_id"] == str(people.rep.id) and task["status"] == "planned"
    assert task["subject"] == "Win back: Gone" and "moved to a competitor" in task["notes"]
    again = api.as_("manager").post("/api/v1/analytics/win-back/tasks", json={})
    assert [t["subject"] for t in again.get_json()] == ["Win back: Small and lost"]
    assert api.as_("manager").post("/api/v1/analytics/win-back/tasks", json={}).get_json() == []
    foreign = api.as_("other_rep").post("/api/v1/analytics/win-back/tasks", json={"customer_ids": [gone["id"]]})
    assert foreign.status_code == 422 and "customer_ids" in foreign.get_json()["errors"]["json"]


def test_a_lost_customer_not_yet_analysed_ranks_as_worth_nothing_and_a_long_name_fits_its_task(api):
    def lose(customer):
        response = api.as_("manager").post(f"/api/v1/customers/{customer['id']}/stage",
                                           json={"to": "lost", "reason": "closed"})
        assert response.status_code == 200, response.get_json()

    scored = create(api, name="Aardvark Ltd")  # lost without a purchase: the refresh values it at 0
    lose(scored)
    refresh(api)
    long_name = "B" * 200  # the longest name a customer may have; lost after the refresh, so not analysed
    fresh = create(api, name=long_name)
    lose(fresh)
    listed = strict_json(api.as_("rep").get("/api/v1/analytics/win-back"))
    # equal expected values (0) fall back to the name
    assert [(r["name"], r["expected_value"]) for r in listed] == [("Aardvark Ltd", 0.0), (long_name, 0.0)]
    made = api.as_("manager").post("/api/v1/analytics/win-back/tasks", json={"customer_ids": [fresh["id"]]})
    assert made.status_code == 201, made.get_json()
    [task] = made.get_json()
    assert task["subject"] == ("Win back: " + long_name)[:200]  # cut to the 200 characters a subject holds


def test_win_back_tasks_take_up_to_ten_thousand_ids_and_may_fall_due_today(api):
    gone = create(api, name="Gone")
    assert api.as_("manager").post(f"/api/v1/customers/{gone['id']}/stage",
                                   json={"to": "lost", "reason": "closed"}).status_code == 200
    url = "/api/v1/analytics/win-back/tasks"
    ids = [str(uuid.uuid4()) for _ in range(9999)] + [gone["id"]]
    [most] = api.as_("manager").post(url, json={"customer_ids": ids}).get_json()["errors"]["json"]["customer_ids"]
    assert most.startswith("Not on your win-back list: ")  # read, not refused for its length
    too_many = api.as_("manager").post(url, json={"customer_ids": ids + [str(uuid.uuid4())]})
    assert too_many.status_code == 422
    assert not too_many.get_json()["errors"]["json"]["customer_ids"][0].startswith("Not on your win-back list")
    past = api.as_("manager").post(url, json={"customer_ids": [gone["id"]], "due_in_days": -1})
    assert past.status_code == 422 and "due_in_days" in past.get_json()["errors"]["json"]
    today = api.as_("manager").post(url, json={"customer_ids": [gone["id"]], "due_in_days": 0})
    assert today.status_code == 201, today.get_json()
    due = datetime.fromisoformat(today.get_json()[0]["due_at"])
    assert abs((due - utcnow()).total_seconds()) < 60


def test_a_refresh_counts_the_purchases_up_to_its_instant_included(api, runtime):
    from core.services import analytics

    shop = create(api, name="Shop")
    buy(api, shop, 30)
    buy(api, shop, 5)
    last = (utcnow() - timedelta(days=5)).replace(hour=10, minute=0, second=0, microsecond=0)  # as buy() dates it
    for now, counted in ((last, 2), (last - timedelta(seconds=1), 1)):
        with runtime.database.unit_of_work():
            analytics.refresh(now=now, trigger="test")
        assert analytics_of(api, shop)["purchases"]["transactions"] == counted, now


def test_reads_respect_the_permission_scope(api):
    mine = create(api, name="Mine")
    buy(api, mine, 10)
    theirs = create(api, who="other_rep", name="Theirs")
    buy(api, theirs, 10, who="other_rep")
    refresh(api)
    assert api.as_("rep").get(f"/api/v1/analytics/customers/{theirs['id']}").status_code == 404
    assert api.as_(None).get(f"/api/v1/analytics/customers/{mine['id']}").status_code == 401
    counts = api.as_("rep").get("/api/v1/metrics/analytics_rfm_segments").get_json()["rows"]
    assert sum(r["value"] for r in counts) == 1
    assert sum(r["value"] for r in api.get("/api/v1/metrics/analytics_rfm_segments").get_json()["rows"]) == 2
    assert customer_ids(api, "rep", churn_risk="false") == {mine["id"]}
    assert api.as_("rep").post("/api/v1/analytics/refresh?wait=true").status_code == 403


def test_nothing_computed_yet_is_a_reason_and_a_404_for_the_run(api):
    c = create(api)
    assert api.get("/api/v1/analytics/runs/latest").status_code == 404
    a = analytics_of(api, c)
    assert a["computed_at"] is None and a["rfm"]["reason"].startswith("not analysed yet")


def test_model_clv_for_repeat_buyers_and_the_run_records_the_fit(api):
    retail, build = build_population(api)
    run = refresh(api)
    assert run["params"]["bgnbd"]["ok"] and run["params"]["gamma_gamma"]["ok"]
    shop = analytics_of(api, retail[0])
    if run["params"]["bgnbd"]["converged"]:
        assert 0 < shop["clv"]["p_alive"] <= 1 and shop["clv"]["expected_transactions"] > 0
        assert shop["clv"]["model"] > 0 and shop["clv"]["model_reason"] is None
    else:  # parameters stuck at a bound predict nothing: null with the reason, never a misleading 0
        assert shop["clv"]["model"] is None and shop["clv"]["p_alive"] is None
        assert "did not converge" in shop["clv"]["model_reason"]
    # twelve customers identify no heterogeneity: the fit ends at a bound, so the seed CLV ranks
    assert run["params"]["expected_value_from"] == ("model" if run["params"]["bgnbd"]["converged"]
                                                    and run["params"]["gamma_gamma"]["converged"] else "seed")
    ranked_by = shop["clv"]["model"] if run["params"]["expected_value_from"] == "model" else shop["clv"]["seed"]
    assert shop["clv"]["expected_value"] == ranked_by
    latest = strict_json(api.get("/api/v1/analytics/runs/latest"))
    assert latest["id"] == run["id"] and latest["customers"] == 12 and latest["purchasers"] == 12
    as_rep = strict_json(api.as_("rep").get("/api/v1/analytics/runs/latest"))  # deployment totals: admins only
    assert as_rep["id"] == run["id"] and as_rep["customers"] == 6 and as_rep["purchasers"] == 6  # the rep's
    dist = strict_json(api.get("/api/v1/metrics/analytics_clv_distribution"))["rows"]
    assert sum(r["value"] for r in dist) == 12
    seed = strict_json(api.get("/api/v1/metrics/analytics_clv_distribution?group_by=formula:seed"))["rows"]
    assert sum(r["value"] for r in seed if r["group"]["band"] is not None) == 12


def test_nps_csat_and_satisfaction_against_repurchase(api):
    fan, critic = create(api, name="Fan"), create(api, name="Critic", who="rep2")
    survey(api, fan, "nps", 10, days_ago=20)
    survey(api, critic, "nps", 3, days_ago=20, who="rep2")
    survey(api, fan, "csat", 5, days_ago=20)
    survey(api, critic, "csat", 2, days_ago=20, who="rep2")
    buy(api, fan, 5)                              # the fan bought again after answering
    refresh(api)
    [row] = api.get("/api/v1/metrics/analytics_nps").get_json()["rows"]
    assert row["value"] == 0.0 and row["extra"] == {"answers": 2, "promoters": 1, "passives": 0, "detractors": 1}
    by_rep = {r["group"]["owner_id"]: r["value"] for r in
              api.get("/api/v1/metrics/analytics_nps?group_by=owner_id").get_json()["rows"]}
    assert sorted(by_rep.values()) == [-100.0, 100.0]
    [csat] = api.get("/api/v1/metrics/analytics_csat").get_json()["rows"]
    assert csat["value"] == 50.0 and csat["extra"]["mean"] == 3.5
    [mine] = api.as_("rep").get("/api/v1/metrics/analytics_csat?group_by=source").get_json()["rows"]
    assert mine["group"] == {"source": "core"} and mine["value"] == 100.0
    link = {(r["group"]["scale"], r["group"]["band"]): r for r in
            api.get("/api/v1/metrics/analytics_satisfaction_repurchase").get_json()["rows"]}
    assert link[("nps", "promoter")]["value"] == 1.0 and link[("nps", "detractor")]["value"] == 0.0
    assert link[("nps", "passive")]["value"] is None
    assert analytics_of(api, fan)["satisfaction"] == {"csat_answers": 1, "csat_mean": 5.0, "nps_answers": 1,
                                                      "nps_last": 10}


def test_csat_bands_call_four_and_up_satisfied_and_two_and_below_unsatisfied(api):
    # no refresh needed: the satisfaction metrics read the survey answers as they are
    [nps] = api.get("/api/v1/metrics/analytics_nps").get_json()["rows"]
    assert nps["value"] is None and nps["extra"] == {"answers": 0, "promoters": 0, "passives": 0, "detractors": 0}
    for name, score, bought_again in (("Four", 4, True), ("Three", 3, True), ("Two", 2, False), ("One", 1, True)):
        customer = create(api, name=name)
        survey(api, customer, "csat", score, days_ago=20)
        if bought_again:
            buy(api, customer, 5)
    link = {(r["group"]["scale"], r["group"]["band"]): (r["value"], r["extra"]["customers"]) for r in
            api.get("/api/v1/metrics/analytics_satisfaction_repurchase").get_json()["rows"]}
    assert link[("csat", "satisfied")] == (1.0, 1)
    assert link[("csat", "neutral")] == (1.0, 1)
    assert link[("csat", "unsatisfied")] == (0.5, 2)


def test_the_tick_job_recomputes_only_when_due(api, runtime):
    from core.services import analytics

    c = create(api)
    buy(api, c, 3)
    now = utcnow()
    with runtime.database.unit_of_work():
        first = analytics.refresh_job(now)
    with runtime.database.unit_of_work():
        assert analytics.refresh_job(now + timedelta(hours=1)) == "not due"
        assert analytics.refresh_job(now + timedelta(hours=25)) != "not due"
    assert "1 customers" in first
    job_names = [job.name for job in runtime.jobs]
    assert "analytics.refresh" in job_names


def test_cli_refresh_prints_what_it_did(app, runtime, api):
    from api.cli import build_cli

    c = create(api)
    buy(api, c, 3)
    result = CliRunner().invoke(build_cli(app), ["analytics", "refresh"])
    assert result.exit_code == 0, result.output
    assert "1 customers (1 with purchases)" in result.output and "Refreshing analytics" in result.output


def test_a_deployment_can_rename_rfm_segments(api, runtime, monkeypatch):
    grid = ";".join(["vip,vip,vip,vip,vip"] * 5)
    configure(runtime, monkeypatch, analytics_rfm_grid=grid, analytics_rfm_labels="vip=Very important|贵宾")
    c = create(api)
    buy(api, c, 3)
    refresh(api)
    rfm = analytics_of(api, c)["rfm"]
    assert (rfm["segment"], rfm["label_en"], rfm["label_zh_cn"]) == ("vip", "Very important", "贵宾")
    configure(runtime, monkeypatch, analytics_rfm_grid="vip")
    with pytest.raises(ValueError, match="analytics_rfm_grid must be 5 rows"):
        from core.services import analytics
        analytics.rfm_grid(runtime.settings)


def test_no_number_in_any_response_is_nan(api):
    build_population(api)
    refresh(api)
    for url in ["/api/v1/analytics/segments", "/api/v1/analytics/win-back", "/api/v1/analytics/runs/latest",
                *[f"/api/v1/metrics/{m}" for m in ("analytics_rfm_segments", "analytics_pareto",
                                                    "analytics_clv_distribution", "analytics_churn_watchlist",
                                                    "analytics_nps", "analytics_csat")]]:
        response = api.get(url)
        assert response.status_code == 200, (url, response.get_json())
        assert isinstance(strict_json(response), (list, dict)), url


def add_buyers(runtime, owner, start, stop):
    """Customers ``start..stop-1``, each with two purchases (built through the services: fast)."""
    from core.services import customers, interactions

    with runtime.database.unit_of_work():
        for i in range(start, stop):
            c = customers.create(owner, {"name": f"Buyer {i:03d}", "industry": "retail" if i % 2 else "software"})
            for days, amount in ((10 + i, "50.00"), (40 + i, "70.00")):
                when = (utcnow() - timedelta(days=days)).isoformat()
                interactions.create(owner, {"customer_id": str(c.id), "kind": "purchase", "amount": amount,
                                            "occurred_at": when})


def test_graphql_customer_fields_in_a_fixed_number_of_queries(api, runtime, people, count_queries):
    query = """query($first: Int!) { customers(first: $first) { edges { node { name
        rfm { segment label { zhCn } rScore reason } valueTier { tier label { zhCn } } segment { name profile { en zhCn } }
        clv { seed model pAlive modelReason } churnRisk { atRisk flags { flag reason } } } } } }"""

    def grow(have, want):
        add_buyers(runtime, people.rep, have, want)
        refresh(api)

    edges = pin_statements(count_queries, grow=grow,
                           fetch=lambda n: graphql_list(api.as_("rep").graphql(query, {"first": n}), "customers.edges"))
    nodes = [e["node"] for e in edges]
    assert all(n["rfm"]["segment"] and n["rfm"]["label"]["zhCn"] for n in nodes)
    assert {n["valueTier"]["tier"] for n in nodes} <= {"KEY", "MAJOR", "REGULAR", "SMALL"}
    assert all(n["segment"]["profile"] and n["clv"]["seed"] is not None for n in nodes)


def test_the_customer_resource_carries_its_analytics(api):
    retail, _ = build_population(api)
    never = create(api, name="Nothing bought yet")
    refresh(api)
    one = retail[0]
    body = strict_json(api.as_("rep").get(f"/api/v1/customers/{one['id']}"))
    standalone = analytics_of(api, one)
    assert body["analytics"] == standalone
    assert body["analytics"]["rfm"]["segment"] and body["analytics"]["value_tier"]["tier"]
    assert "mostly retail" in body["analytics"]["segment"]["profile"]

    fresh = strict_json(api.get(f"/api/v1/customers/{never['id']}"))["analytics"]
    assert fresh["rfm"]["segment"] is None and fresh["rfm"]["reason"] == "no purchase yet"
    created = api.post("/api/v1/customers", json={"name": "Created after the refresh"}).get_json()
    assert created["analytics"]["rfm"]["reason"].startswith("not analysed yet")

    listed = {c["id"]: c["analytics"] for c in strict_json(api.get("/api/v1/customers?page_size=100&expand=analytics"))}
    assert listed[one["id"]]["clv"] == standalone["clv"]
    assert listed[created["id"]]["churn"]["at_risk"] is False


def test_a_customer_list_loads_analytics_in_a_fixed_number_of_queries(api, runtime, people, count_queries):
    def grow(have, want):
        add_buyers(runtime, people.rep, have, want)
        refresh(api)

    listed = pin_statements(count_queries, grow=grow,
                            fetch=lambda n: rest_list(api.as_("rep").get(f"/api/v1/customers?page_size={n}&expand=analytics")))
    assert all(c["analytics"]["rfm"]["segment"] and c["analytics"]["purchases"]["transactions"] == 2
               for c in listed)


def test_a_refresh_writes_the_analytics_rows_in_one_insert_per_five_thousand(api, count_queries):
    # rows differ in which numbers are null (no purchase, one purchase, repeat buyers); the insert must
    # not split into one statement per pattern (it did: 6,000 statements for 10,000 customers)
    build_population(api)
    create(api, name="Never bought")
    with count_queries() as counter:
        refresh(api)
    inserts = [s for s in counter.statements
               if s.lstrip().upper().startswith(("INSERT INTO CUSTOMER_ANALYTICS", "COPY CUSTOMER_ANALYTICS"))]
    assert len(inserts) == 1


def test_customers_nested_in_an_allocation_plan_load_analytics_in_a_fixed_number_of_queries(api, runtime, people,
                                                                                            count_queries):
    def grow(have, want):
        with runtime.database.unit_of_work():
            from core.services import customers, interactions

            for i in range(have, want):
                c = customers.create(people.manager, {"name": f"Pool {i:03d}", "owner_id": None})
                for days, amount in ((10 + i, "50.00"), (40 + i, "70.00")):
                    interactions.create(people.manager, {
                        "customer_id": str(c.id), "kind": "purchase", "amount": amount,
                        "occurred_at": (utcnow() - timedelta(days=days)).isoformat()})
        refresh(api)

    plan = {"rep_ids": [str(people.rep.id)], "dry_run": True}
    large = pin_statements(count_queries, grow=grow, fetch=lambda n: rest_list(
        api.as_("manager").post("/api/v1/customers/allocate", json={**plan, "limit": n})))
    assert all(a["customer"]["analytics"]["rfm"]["segment"] for a in large)
    assert {a["customer"]["name"] for a in large} == {f"Pool {i:03d}" for i in range(50)}


def test_customers_serialise_from_a_query_result_read_once(api, runtime):
    from sqlalchemy import select

    from core import db
    from core.models import Customer
    from core.schemas import CustomerOut

    for i in range(3):
        create(api, name=f"Streamed {i}")
    refresh(api)
    with runtime.database.unit_of_work():
        streamed = CustomerOut(many=True).dump(db.session().scalars(select(Customer)))
    assert len(streamed) == 3 and all(c["analytics"]["rfm"]["reason"] == "no purchase yet" for c in streamed)


def test_rfm_scores_land_in_the_named_segment_of_the_default_grid(api):
    """Five customers, each a distinct recency and frequency rank: the (R, F) pair names the segment on
    the documented grid (R = 5 bought most recently, F = 5 buys most often)."""
    plan = {  # name: (days since the last purchase, number of purchases) -> (R, F, segment)
        "Recent and frequent": ((2, 5), (5, 5, "champions")),
        "Recent-ish, rare": ((20, 2), (4, 2, "potential_loyalists")),
        "Middling": ((40, 3), (3, 3, "need_attention")),
        "Lapsing, frequent": ((60, 4), (2, 4, "at_risk")),
        "Long gone, once": ((80, 1), (1, 1, "lost")),
    }
    made = {}
    for name, ((last, count), _) in plan.items():
        c = create(api, name=name)
        for k in range(count):
            buy(api, c, last + 30 * k, "100.00")
        made[name] = c
    refresh(api)
    seen = {}
    for name, c in made.items():
        rfm = analytics_of(api, c)["rfm"]
        seen[name] = (rfm["r_score"], rfm["f_score"], rfm["segment"])
    assert seen == {name: want for name, (_, want) in plan.items()}
    assert analytics_of(api, made["Recent and frequent"])["rfm"]["label_en"] == "Champions"
    assert customer_ids(api, rfm_segment="champions") == {made["Recent and frequent"]["id"]}
    assert customer_ids(api, rfm_segment="lost") == {made["Long gone, once"]["id"]}
