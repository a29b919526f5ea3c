"""The analytics run and the segments show each caller figures of their own scope only.

The latest run (``/api/v1/analytics/runs/latest``) carried deployment-wide counts in its parameters —
how many customers the BG/NBD and Gamma-Gamma models were fitted on, how many were flagged for churn —
and the segments' centroids were means over every customer. A rep read the size and the average spend
of the whole customer base from them. Now, following ``core.services.permissions`` (a rep: their own
customers; a manager: their team's and unowned ones; an admin: everyone), a non-admin reads the counts
over the customers they may see, the centroids as means over the segment's members they may see
(``{}`` for a segment with none), and no log-likelihood (a sum over every customer, it tells the
deployment's size). The fitted parameters themselves (r, alpha, a, b, p, q, gamma) stay: they describe
the model every customer is scored by, not a count of anyone. There is no GraphQL field for the run or
the segment list (``Customer.segment`` shows no centroid), so REST is the whole surface.
"""
from __future__ import annotations

from statistics import mean

from tests.api.rest.test_customers import create
from tests.core.analytics.test_service import analytics_of, build_population, buy, customer_ids, refresh, strict_json


def population(api):
    """Six retail shops of the rep, six builders of rep2 (same team), two lapsed regulars of other_rep."""
    retail, build = build_population(api)
    lapsed = []
    for i in range(2):
        c = create(api, name=f"Lapsed {i}", industry="retail", who="other_rep")
        for days in range(130 + i, 400, 30):
            buy(api, c, days, "1000.00", who="other_rep")
        lapsed.append(c)
    return retail, build, lapsed


def test_the_latest_run_counts_only_the_callers_customers(api):
    retail, build, lapsed = population(api)
    refresh(api)
    everyone = strict_json(api.get("/api/v1/analytics/runs/latest"))
    assert everyone["customers"] == 14 and everyone["params"]["churn"]["flagged"] >= 2
    assert everyone["params"]["bgnbd"]["customers"] == 14
    assert everyone["params"]["bgnbd"]["log_likelihood"] is not None
    expected = {"rep": 6, "rep2": 6, "manager": 12, "other_rep": 2, "other_manager": 2}
    for who, n in expected.items():
        run = strict_json(api.as_(who).get("/api/v1/analytics/runs/latest"))
        assert run["id"] == everyone["id"]
        assert (run["customers"], run["purchasers"]) == (n, n), who
        assert run["params"]["bgnbd"]["customers"] == n, who
        assert run["params"]["gamma_gamma"]["customers"] == n, who      # all of them bought twice or more
        assert run["params"]["bgnbd"]["log_likelihood"] is None
        assert run["params"]["gamma_gamma"]["log_likelihood"] is None
        assert run["params"]["bgnbd"]["r"] == everyone["params"]["bgnbd"]["r"]   # the model is the model
        at_risk = customer_ids(api, who, churn_risk="true")
        assert run["params"]["churn"]["flagged"] == len(at_risk), who
    west = strict_json(api.as_("other_rep").get("/api/v1/analytics/runs/latest"))
    assert west["params"]["churn"] == {"flagged": 2, "tasks_created": 2}
    assert strict_json(api.as_("rep").get("/api/v1/analytics/runs/latest"))["params"]["churn"]["tasks_created"] == 0


def test_the_latest_run_counts_a_callers_purchasers_and_repeat_buyers_apart(api):
    create(api, name="Browsing")                     # no purchase
    once = create(api, name="Once")
    buy(api, once, 30, "100.00")
    twice = create(api, name="Twice")
    buy(api, twice, 60, "100.00")
    buy(api, twice, 20, "100.00")
    refresh(api)
    run = strict_json(api.as_("rep").get("/api/v1/analytics/runs/latest"))
    assert (run["customers"], run["purchasers"]) == (3, 2)
    assert run["params"]["bgnbd"]["customers"] == 2 and run["params"]["gamma_gamma"]["customers"] == 1


def test_segment_centroids_are_means_over_the_members_the_caller_sees(api):
    retail, build, lapsed = population(api)
    refresh(api)
    admin_view = {s["id"]: s for s in strict_json(api.get("/api/v1/analytics/segments"))}
    everyone = {c["id"]: analytics_of(api, c, who="admin") for c in retail + build + lapsed}
    for who in ("rep", "manager", "other_rep", "admin"):
        visible = customer_ids(api, who)
        for s in strict_json(api.as_(who).get("/api/v1/analytics/segments")):
            members = [a for cid, a in everyone.items() if cid in visible and a["segment"]["id"] == s["id"]]
            assert s["size"] == len(members)
            if not members:
                assert s["centroid"] == {}, (who, s)
                continue
            assert s["centroid"]["monetary"] == round(mean(a["rfm"]["monetary"] for a in members), 2), who
            assert s["centroid"]["recency"] == round(mean(a["rfm"]["recency_days"] for a in members), 2), who
            assert s["centroid"]["frequency"] == round(mean(a["rfm"]["frequency"] for a in members), 2), who
            if who == "admin":
                assert s["centroid"] == admin_view[s["id"]]["centroid"]
    # the rep sees none of the builders' segment and the retail centroid without the lapsed West regulars
    rep_view = {s["id"]: s for s in strict_json(api.as_("rep").get("/api/v1/analytics/segments"))}
    top = strict_json(api.get("/api/v1/analytics/segments"))[0]
    assert rep_view[top["id"]]["centroid"] == {} and top["centroid"] != {}
    assert all(s["centroid"].get("industry", {"value": "retail"})["value"] == "retail" for s in rep_view.values())
