"""Analytics as of a date (issue #15): ``trellis analytics refresh --as-of DATE [--calibration-start DATE]``,
the same in REST and GraphQL, the run recording both, and ``runs/latest`` meaning the latest as-of date."""
from __future__ import annotations

from datetime import date, timedelta

from click.testing import CliRunner

from core.db import utcnow
from tests.api.rest.test_customers import create
from tests.core.analytics.test_service import analytics_of, buy, strict_json


def day(days_ago: int) -> str:
    return (utcnow().date() - timedelta(days=days_ago)).isoformat()


def refresh(api, body=None, status=201):
    response = api.as_("admin").post("/api/v1/analytics/refresh?wait=true", **({"json": body} if body is not None else {}))
    assert response.status_code == status, response.get_json()
    return strict_json(response)


def latest(api, who="admin"):
    response = api.as_(who).get("/api/v1/analytics/runs/latest")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_refresh_as_of_a_past_day_counts_only_what_was_known_then(api):
    c = create(api, name="Early and late")
    buy(api, c, 100, "100.00")
    buy(api, c, 10, "300.00")
    run = refresh(api, {"as_of": day(50)})
    assert run["as_of"] == day(50) and run["calibration_start"] is None and run["current"] is True
    assert run["started_at"][:10] == utcnow().date().isoformat()   # when it ran, not the day analysed
    a = analytics_of(api, c)
    assert a["purchases"]["transactions"] == 1 and a["purchases"]["lifetime_revenue"] == 100.0
    assert a["rfm"]["recency_days"] == 50 and a["rfm"]["monetary"] == 100.0
    assert a["run_id"] == run["id"]
    # the same day again, given explicitly as today, counts both purchases
    assert refresh(api, {"as_of": day(0)})["as_of"] == day(0)
    assert analytics_of(api, c)["purchases"]["transactions"] == 2


def test_bad_dates_are_422s_naming_the_field_and_write_nothing(api):
    c = create(api)
    buy(api, c, 5)
    for body, field in (({"as_of": "1997-13-01"}, "as_of"), ({"as_of": "yesterday"}, "as_of"),
                        ({"as_of": day(-1)}, "as_of"),
                        ({"calibration_start": "30/09/1997"}, "calibration_start"),
                        ({"as_of": day(30), "calibration_start": day(29)}, "calibration_start"),
                        ({"calibration_start": day(-1)}, "calibration_start"),
                        ({"as_of": day(3), "unknown": 1}, "unknown")):
        errors = refresh(api, body, status=422)
        assert set(errors["errors"]["json"]) == {field}, (body, errors)
    assert "in the future" in str(refresh(api, {"as_of": day(-1)}, status=422))
    assert "after as_of" in str(refresh(api, {"as_of": day(30), "calibration_start": day(29)}, status=422))
    assert api.as_("admin").get("/api/v1/analytics/runs/latest").status_code == 404   # no run was recorded
    assert api.as_("manager").post("/api/v1/analytics/refresh?wait=true", json={"as_of": day(3)}).status_code == 403
    # the calibration start may be the as-of day itself, and a body may be empty
    assert refresh(api, {"as_of": day(3), "calibration_start": day(3)})["calibration_start"] == day(3)
    assert refresh(api, {})["as_of"] == day(0)


def test_latest_run_is_the_latest_as_of_date_after_a_back_dated_run_then_a_normal_one(api):
    c = create(api)
    buy(api, c, 40)
    back = refresh(api, {"as_of": day(30)})
    normal = refresh(api)
    run = latest(api)
    assert (run["id"], run["as_of"], run["current"]) == (normal["id"], day(0), True)
    assert analytics_of(api, c)["run_id"] == normal["id"] != back["id"]
    rep = latest(api, "rep")
    assert rep["id"] == normal["id"] and rep["customers"] == 1 and rep["purchasers"] == 1


def test_latest_run_is_the_latest_as_of_date_after_a_normal_run_then_a_back_dated_one(api):
    c = create(api)
    buy(api, c, 40)
    normal = refresh(api)
    back = refresh(api, {"as_of": day(30)})
    run = latest(api)
    # the normal run has the later as-of date, so it is the latest; the customers carry the back-dated
    # numbers (the last refresh started), which `current` and each customer's run_id say
    assert (run["id"], run["as_of"], run["current"]) == (normal["id"], day(0), False)
    a = analytics_of(api, c)
    assert a["run_id"] == back["id"] and a["rfm"]["recency_days"] == 10
    # a rep's scoped counts of a run whose per-customer rows were replaced: null, not a wrong 0
    rep = latest(api, "rep")
    assert rep["id"] == normal["id"] and rep["customers"] is None and rep["purchasers"] is None
    assert rep["params"]["churn"]["flagged"] is None and rep["params"]["bgnbd"].get("customers") is None
    # two runs as of the same day: the one started last
    again = refresh(api)
    assert latest(api)["id"] == again["id"] and latest(api)["current"] is True


def test_the_calibration_start_limits_the_purchases_the_clv_models_see(api):
    old = create(api, name="Bought only long ago")
    both = create(api, name="Bought before and after")
    buy(api, old, 300)
    buy(api, old, 250)
    buy(api, both, 300)
    buy(api, both, 60)
    buy(api, both, 20)
    run = refresh(api, {"calibration_start": day(100)})
    assert run["calibration_start"] == day(100) and run["as_of"] == day(0)
    a = analytics_of(api, old)
    assert a["clv"]["model"] is None and "calibration start" in a["clv"]["model_reason"]
    assert a["purchases"]["transactions"] == 2 and a["rfm"]["r_score"] is not None   # RFM still sees them
    assert run["params"]["bgnbd"].get("customers", 1) == 1   # one customer bought in the period
    assert latest(api)["calibration_start"] == day(100)


def test_graphql_refresh_as_of_and_the_latest_run(api):
    c = create(api)
    buy(api, c, 40)
    made = api.as_("admin").graphql(
        "mutation($input: RefreshAnalyticsInput) { refreshAnalytics(input: $input, wait: true) { id asOf calibrationStart "
        "current } }", {"input": {"asOf": day(30), "calibrationStart": day(60)}})
    assert made.get("errors") is None, made
    run = made["data"]["refreshAnalytics"]
    assert (run["asOf"], run["calibrationStart"], run["current"]) == (day(30), day(60), True)
    normal = api.as_("admin").graphql("mutation { refreshAnalytics(wait: true) { id asOf } }")["data"]["refreshAnalytics"]
    assert normal["asOf"] == day(0)
    read = api.as_("admin").graphql("{ analyticsRun { id asOf current } }")["data"]["analyticsRun"]
    assert read == {"id": normal["id"], "asOf": day(0), "current": True}
    rest = latest(api)
    assert rest["id"] == read["id"] and rest["as_of"] == read["asOf"]
    for given, field in (({"asOf": day(-1)}, "asOf"), ({"asOf": day(10), "calibrationStart": day(5)},
                                                        "calibrationStart")):
        bad = api.as_("admin").graphql(
            "mutation($input: RefreshAnalyticsInput) { refreshAnalytics(input: $input, wait: true) { id } }", {"input": given})
        assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", bad
        assert field in str(bad["errors"][0]["extensions"]), bad
    malformed = api.as_("admin").graphql(
        "mutation($input: RefreshAnalyticsInput) { refreshAnalytics(input: $input, wait: true) { id } }",
        {"input": {"asOf": "1997-13-01"}})
    assert malformed["errors"] and "asOf" in str(malformed["errors"][0])
    assert latest(api)["id"] == normal["id"]


def test_cli_refresh_as_of_prints_the_day_and_refuses_a_bad_one(app, api):
    from api.cli import build_cli

    c = create(api)
    buy(api, c, 40)
    result = CliRunner().invoke(build_cli(app), ["analytics", "refresh", "--as-of", day(30),
                                                 "--calibration-start", "2020-01-01"])
    assert result.exit_code == 0, result.output
    assert f"as of {day(30)}, CLV models from 2020-01-01: 1 customers (1 with purchases)" in result.output
    assert latest(api)["as_of"] == day(30)
    for args, field in ((["--as-of", "1997-02-30"], "as_of"), (["--as-of", day(-2)], "as_of"),
                        (["--as-of", "2020-01-01", "--calibration-start", "2020-01-02"], "calibration_start")):
        bad = CliRunner().invoke(build_cli(app), ["analytics", "refresh", *args])
        assert bad.exit_code != 0 and f"{field}:" in bad.output, bad.output
    assert latest(api)["as_of"] == day(30)
    assert date.fromisoformat(latest(api)["as_of"])
