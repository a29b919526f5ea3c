"""CLV mathematics: CDNOW reproduction of the published fits, independent checks of the
predictive formulas, the seed formula, and the edge cases."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy import integrate
from scipy.special import betaincinv, gammaincinv

from core.analytics import (
    BGNBDFit,
    FitFailure,
    GammaGammaFit,
    bgnbd_log_likelihood,
    customer_lifetime_value,
    discounted_clv,
    expected_average_spend,
    expected_transactions,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    probability_alive,
    seed_clv,
    summarize,
    unconditional_expected_transactions,
)
from core.analytics.cdnow import SAMPLE
from core.analytics import clv as clv_module

CDNOW = SAMPLE
PUBLISHED_BG = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
PUBLISHED_LL = -9582.43
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
BG_PARAMS = tuple(PUBLISHED_BG.values())


def sig3(v: float) -> str:
    return f"{v:.3g}"


@pytest.fixture(scope="module")
def cdnow():
    raw = np.loadtxt(CDNOW, dtype=str)
    ids = raw[:, 0].astype(np.int64)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[D]")
    amounts = raw[:, 4].astype(float)
    # Calibration: the first 39 weeks, 1997-01-01 .. 1997-09-30 inclusive, time in weeks.
    return summarize({"customer_id": ids, "date": dates, "amount": amounts}, "1997-09-30", period="W")


@pytest.fixture(scope="module")
def cdnow_bg(cdnow):
    return fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow.T)


@pytest.fixture(scope="module")
def cdnow_gg(cdnow):
    return fit_gamma_gamma(cdnow.frequency, cdnow.monetary_value)


# ------------------------------------------------------------------------------------------
# CDNOW: the published results
# ------------------------------------------------------------------------------------------


def test_cdnow_summary_matches_the_data_description(cdnow):
    assert len(cdnow) == 2357
    assert int((cdnow.frequency > 0).sum()) == 946
    # Customer 00004: purchases 1997-01-01, 01-18, 08-02 in calibration (12-12 is after it).
    i = int(np.flatnonzero(cdnow.customer_ids == 4)[0])
    assert cdnow.frequency[i] == 2
    assert cdnow.recency[i] == pytest.approx(213 / 7)  # 1997-01-01 -> 1997-08-02
    assert cdnow.T[i] == pytest.approx(272 / 7)  # 1997-01-01 -> 1997-09-30
    assert cdnow.monetary_value[i] == pytest.approx((29.73 + 14.96) / 2)
    assert cdnow.first_value[i] == pytest.approx(29.33)
    assert np.all(cdnow.recency <= cdnow.T)
    assert cdnow.T.max() == pytest.approx(272 / 7)


def test_cdnow_bgnbd_reproduces_published_fit(cdnow_bg):
    fit = cdnow_bg
    assert isinstance(fit, BGNBDFit) and fit.ok and fit.converged, fit.message
    for name, published in PUBLISHED_BG.items():
        fitted = getattr(fit, name)
        assert sig3(fitted) == sig3(published), (name, fitted, published)
        # Published to 4 decimals; we agree to within half a unit of the last one.
        assert fitted == pytest.approx(published, abs=5e-5), name
    assert fit.log_likelihood == pytest.approx(PUBLISHED_LL, abs=0.1)
    assert fit.n_customers == 2357


def test_cdnow_log_likelihood_at_published_params(cdnow):
    ll = bgnbd_log_likelihood(BG_PARAMS, cdnow.frequency, cdnow.recency, cdnow.T)
    assert ll.shape == (2357,)
    assert float(ll.sum()) == pytest.approx(PUBLISHED_LL, abs=0.1)


def test_cdnow_gamma_gamma_reproduces_published_fit(cdnow_gg):
    fit = cdnow_gg
    assert isinstance(fit, GammaGammaFit) and fit.ok and fit.converged, fit.message
    assert fit.n_customers == 946 and fit.n_excluded == 0
    for name, published in PUBLISHED_GG.items():
        fitted = getattr(fit, name)
        assert sig3(fitted) == sig3(published), (name, fitted, published)
        # Published to 2 decimals; we agree to within half a unit of the last one.
        assert fitted == pytest.approx(published, abs=5e-3), name


def test_cdnow_predictions_are_finite_and_plausible(cdnow, cdnow_bg, cdnow_gg):
    e39 = expected_transactions(cdnow_bg, 39, cdnow.frequency, cdnow.recency, cdnow.T)
    alive = probability_alive(cdnow_bg, cdnow.frequency, cdnow.recency, cdnow.T)
    clv = customer_lifetime_value(cdnow_bg, cdnow_gg, cdnow, horizon=12, period="M", discount_rate=0.01)
    for arr in (e39, alive, clv):
        assert arr.shape == (2357,) and np.all(np.isfinite(arr)) and np.all(arr >= 0)
    assert np.all(alive <= 1)
    # The cohort makes 1,882 repeat transactions in the 39-week holdout (weeks 40-78, through
    # 1998-06-30); the sum of the conditional expectations is 1,653 (12 % under), a sanity
    # bound only, not a published figure.
    assert e39.sum() == pytest.approx(1653.4, abs=0.5)


# ------------------------------------------------------------------------------------------
# BG/NBD predictions against brute-force integration over the individual-level model
# ------------------------------------------------------------------------------------------


def brute_force_bgnbd(params, x, tx, T, t):
    """P(alive) and E[Y(t)] by integrating the individual model over the mixing distributions.

    Individual level: Poisson purchases at rate lam while alive; dropout with prob. p after each
    repeat purchase. Likelihood of (x, tx, T): alive (1-p)^x lam^x e^{-lam T}; dropped after the
    last purchase p (1-p)^{x-1} lam^x e^{-lam tx}. An alive customer buys (1 - e^{-lam p t})/p in
    expectation in the next t. lam and p are integrated in quantile scale (u, v) in (0, 1)^2.
    """
    r, alpha, a, b = params

    def lik(u, v):
        lam = gammaincinv(r, u) / alpha
        p = betaincinv(a, b, v)
        alive = (1 - p) ** x * lam**x * math.exp(-lam * T)
        dead = p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * tx) if x > 0 else 0.0
        return lam, p, alive, dead

    def total(v, u):
        _, _, alive, dead = lik(u, v)
        return alive + dead

    def alive_only(v, u):
        return lik(u, v)[2]

    def future(v, u):
        lam, p, alive, _ = lik(u, v)
        return alive * -math.expm1(-lam * p * t) / p

    opts = {"epsabs": 0, "epsrel": 1e-9}
    den = integrate.dblquad(total, 0, 1, 0, 1, **opts)[0]
    return (
        integrate.dblquad(alive_only, 0, 1, 0, 1, **opts)[0] / den,
        integrate.dblquad(future, 0, 1, 0, 1, **opts)[0] / den,
    )


@pytest.mark.parametrize(
    "params, x, tx, T, t",
    [
        (BG_PARAMS, 2, 30.43, 38.86, 39.0),
        (BG_PARAMS, 0, 0.0, 38.86, 39.0),
        (BG_PARAMS, 5, 20.0, 35.0, 10.0),
        (BG_PARAMS, 1, 1.0, 30.0, 52.0),
        ((0.5, 3.0, 1.0, 2.0), 3, 10.0, 20.0, 15.0),  # a = 1: the closed form's 0/0 point
        ((1.3, 8.0, 2.5, 4.0), 4, 12.0, 26.0, 104.0),
    ],
)
def test_conditional_expectation_and_p_alive_match_integration(params, x, tx, T, t):
    p_alive_ref, expected_ref = brute_force_bgnbd(params, x, tx, T, t)
    assert probability_alive(params, x, tx, T)[0] == pytest.approx(p_alive_ref, rel=1e-6)
    assert expected_transactions(params, t, x, tx, T)[0] == pytest.approx(expected_ref, rel=1e-6)


def test_closed_form_special_cases():
    # No repeat purchase: BG/NBD customers can only drop out right after a repeat purchase.
    assert np.all(probability_alive(BG_PARAMS, [0, 0], [0.0, 0.0], [1.0, 500.0]) == 1.0)
    # Last purchase at the end of calibration: P(alive) = 1 / (1 + a/(b+x-1)).
    r, alpha, a, b = BG_PARAMS
    assert probability_alive(BG_PARAMS, 3, 20.0, 20.0)[0] == pytest.approx(1 / (1 + a / (b + 2)), rel=1e-12)
    # Nothing happens in a window of length 0.
    assert expected_transactions(BG_PARAMS, 0.0, 4, 10.0, 30.0)[0] == 0.0
    # A just-acquired customer: conditional = unconditional expectation.
    assert unconditional_expected_transactions(BG_PARAMS, 26.0)[0] == pytest.approx(
        expected_transactions(BG_PARAMS, 26.0, 0, 0.0, 0.0)[0], rel=1e-12
    )
    # Short windows: E[Y(t)] ~ P(alive) E[lambda | alive] t = P(alive) (r+x)/(alpha+T) t.
    x, tx, T, t = 3, 20.0, 30.0, 1e-4
    slope = probability_alive(BG_PARAMS, x, tx, T)[0] * (r + x) / (alpha + T)
    assert expected_transactions(BG_PARAMS, t, x, tx, T)[0] == pytest.approx(slope * t, rel=1e-3)


def test_expectation_grows_with_t_and_stays_finite_for_heavy_buyers():
    t = np.array([1.0, 39.0, 520.0, 5200.0])
    for x in (10, 100, 300):
        e = expected_transactions(BG_PARAMS, t, x, 38.0, 38.86)
        assert np.all(np.isfinite(e)) and np.all(np.diff(e) > 0)


def test_quadrature_fallback_agrees_with_hypergeometric_form():
    params = np.array(BG_PARAMS)
    x = np.array([0.0, 1, 2, 5, 30, 100])
    tx = np.array([0.0, 1, 30.43, 20, 38, 38])
    T = np.array([38.86, 30, 38.86, 35, 38.86, 38.86])
    for horizon in (1.0, 39.0, 520.0):
        t = np.full_like(x, horizon)
        np.testing.assert_allclose(
            clv_module._conditional_mean_quadrature(params, x, tx, T, t),
            clv_module._conditional_mean(params, x, tx, T, t),
            rtol=2e-6,
        )


def test_quadrature_fallback_agrees_where_the_dropout_quantiles_underflow_to_zero():
    # a tiny a: most customers' dropout probability is all but zero, and the Beta quantiles at the
    # first nodes underflow to p = 0 (14 of 128 at a = 0.005), where h(p) is taken at its limit (r+x) t/(alpha+T)
    params = np.array([0.2426, 4.4136, 0.005, 2.4259])
    x = np.array([0.0, 1, 2, 5, 30])
    tx = np.array([0.0, 1, 30.43, 20, 38])
    T = np.array([38.86, 30, 38.86, 35, 38.86])
    t = np.full_like(x, 39.0)
    np.testing.assert_allclose(clv_module._conditional_mean_quadrature(params, x, tx, T, t),
                               clv_module._conditional_mean(params, x, tx, T, t), rtol=1e-5)


def test_ordinary_parameters_are_answered_by_the_closed_form_alone(monkeypatch):
    # the quadrature (128 nodes per customer and horizon) is the fallback for where 2F1 fails; small
    # expectations (under one purchase) are not a failure
    def no_quadrature(*args):
        raise AssertionError("the quadrature fallback ran")

    monkeypatch.setattr(clv_module, "_conditional_mean_quadrature", no_quadrature)
    e = expected_transactions(BG_PARAMS, 1.0, [0, 1, 2, 5], [0.0, 1.0, 30.43, 20.0], [38.86, 30.0, 38.86, 35.0])
    assert np.all((e > 0) & (e < 1))


def test_extreme_parameters_fall_back_to_quadrature():
    # a huge, b tiny: p ~ 1, every customer drops out right after a repeat purchase. The
    # hypergeometric form overflows here; the answer for x = 0 is the chance of one more purchase,
    # 1 - ((alpha+T)/(alpha+T+t))^r.
    r, alpha, a, b = 0.65, 9.8, 1.6e5, 6e-6
    e = expected_transactions((r, alpha, a, b), 52.0, [0, 1], [0.0, 5.0], [20.0, 20.0])
    assert np.all(np.isfinite(e))
    assert e[0] == pytest.approx(1 - ((alpha + 20) / (alpha + 72)) ** r, rel=1e-5)
    assert e[1] == pytest.approx(0.0, abs=1e-9)


def test_bgnbd_log_likelihood_matches_direct_formula_and_gradient():
    from scipy.special import beta, gamma

    r, alpha, a, b = 0.7, 5.0, 1.4, 3.0
    x = np.array([0.0, 1, 4]), np.array([0.0, 3, 17]), np.array([20.0, 25, 30])
    direct = []
    for xi, txi, Ti in zip(*x):
        common = gamma(r + xi) * alpha**r / gamma(r)
        term = beta(a, b + xi) / beta(a, b) * common / (alpha + Ti) ** (r + xi)
        if xi > 0:
            term += beta(a + 1, b + xi - 1) / beta(a, b) * common / (alpha + txi) ** (r + xi)
        direct.append(math.log(term))
    np.testing.assert_allclose(bgnbd_log_likelihood((r, alpha, a, b), *x), direct, rtol=1e-12)

    params = np.array([r, alpha, a, b])
    _, g = clv_module._bgnbd_terms(params, *x, grad=True)
    for k in range(4):
        h = np.zeros(4)
        h[k] = 1e-6 * params[k]
        up = clv_module._bgnbd_terms(params + h, *x, grad=False)[0]
        down = clv_module._bgnbd_terms(params - h, *x, grad=False)[0]
        np.testing.assert_allclose(g[k], (up - down) / (2 * h[k]), rtol=1e-6, atol=1e-9)


def test_gamma_gamma_gradient_matches_finite_differences():
    params = np.array([3.0, 4.0, 12.0])
    x, m = np.array([1.0, 2, 7]), np.array([10.0, 35.5, 4.2])
    _, g = clv_module._gg_terms(params, x, m, grad=True)
    for k in range(3):
        h = np.zeros(3)
        h[k] = 1e-6 * params[k]
        up = clv_module._gg_terms(params + h, x, m, grad=False)[0]
        down = clv_module._gg_terms(params - h, x, m, grad=False)[0]
        np.testing.assert_allclose(g[k], (up - down) / (2 * h[k]), rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------------------
# Gamma-Gamma
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x, m", [(1, 20.0), (4, 35.0), (12, 8.0), (0, 0.0)])
def test_expected_average_spend_matches_integration(x, m):
    """E[spend | x, m] by integrating p/nu over the posterior of nu, built from the prior
    Gamma(q, gamma) and the density of the mean of x Gamma(p, nu) values, Gamma(p x, x nu)."""
    p, q, g = PUBLISHED_GG.values()

    def prior(nu):
        return nu ** (q - 1) * math.exp(-g * nu)

    def lik(nu):
        return 1.0 if x == 0 else (x * nu) ** (p * x) * math.exp(-x * nu * m)

    mode = (p * x + q - 1) / (g + x * m)  # of the (unnormalised) posterior, to guide quad
    upper = 30.0 * (p * x + q) / (g + x * m)
    opts = {"epsabs": 0, "epsrel": 1e-11, "limit": 400, "points": [mode / 2, mode, 2 * mode]}
    den = integrate.quad(lambda nu: prior(nu) * lik(nu), 0, upper, **opts)[0]
    num = integrate.quad(lambda nu: p / nu * prior(nu) * lik(nu), 0, upper, **opts)[0]
    assert expected_average_spend(PUBLISHED_GG.values(), x, m)[0] == pytest.approx(num / den, rel=1e-7)


def test_gamma_gamma_log_likelihood_skips_customers_without_positive_spend():
    ll = gamma_gamma_log_likelihood(PUBLISHED_GG.values(), [0, 1, 2, 3], [0.0, 10.0, 0.0, 5.0])
    assert ll.shape == (2,) and np.all(np.isfinite(ll))


# ------------------------------------------------------------------------------------------
# CLV
# ------------------------------------------------------------------------------------------


def test_seed_formula_hand_computed():
    # P0 = 100, C0 = 30, R = 50 a year, i = 10 %, N = 3:
    # 70 + 50/1.1 + 50/1.21 + 50/1.331 = 70 + 45.454545 + 41.322314 + 37.565740 = 194.342600
    assert seed_clv(100, 30, 50, 0.10, 3) == pytest.approx(194.342600, abs=1e-6)
    assert seed_clv(100, 30, 50, 0.0, 3) == pytest.approx(220.0)
    assert seed_clv(100, 130, 50, 0.10, 0) == pytest.approx(-30.0)
    for bad in ((100, 30, 50, -1.0, 3), (100, 30, 50, 0.1, 2.5), (100, 30, 50, 0.1, -1), (math.nan, 0, 0, 0, 1)):
        with pytest.raises(ValueError):
            seed_clv(*bad)


def test_discounted_clv_is_the_discounted_sum_of_per_period_expectations(cdnow_gg):
    x, tx, T, m = np.array([0, 2, 7]), np.array([0.0, 30.43, 35.0]), np.array([38.86] * 3), np.array([0, 22.3, 40.0])
    L, d, H = 4.35, 0.01, 12
    clv = discounted_clv(BG_PARAMS, cdnow_gg, x, tx, T, m, periods=H, period_length=L, discount_rate=d, margin=0.3)
    spend = expected_average_spend(cdnow_gg, x, m)
    by_hand = np.zeros(3)
    for k in range(1, H + 1):
        step = expected_transactions(BG_PARAMS, k * L, x, tx, T) - expected_transactions(BG_PARAMS, (k - 1) * L, x, tx, T)
        by_hand += step * spend * 0.3 / (1 + d) ** k
    np.testing.assert_allclose(clv, by_hand, rtol=1e-10)
    undiscounted = discounted_clv(BG_PARAMS, cdnow_gg, x, tx, T, m, periods=H, period_length=L, discount_rate=0.0)
    np.testing.assert_allclose(undiscounted, expected_transactions(BG_PARAMS, H * L, x, tx, T) * spend, rtol=1e-10)
    assert np.all(clv < undiscounted)
    assert np.all(discounted_clv(BG_PARAMS, cdnow_gg, x, tx, T, m, periods=0, period_length=L, discount_rate=d) == 0)


def test_customer_lifetime_value_periods_use_the_summary_unit(cdnow, cdnow_bg, cdnow_gg):
    monthly = customer_lifetime_value(cdnow_bg, cdnow_gg, cdnow, horizon=12, period="M", discount_rate=0.0)
    weekly = customer_lifetime_value(cdnow_bg, cdnow_gg, cdnow, horizon=52, period="W", discount_rate=0.0)
    yearly = customer_lifetime_value(cdnow_bg, cdnow_gg, cdnow, horizon=1, period="Y", discount_rate=0.0)
    # Undiscounted, 12 months = 1 year = 52.18 weeks.
    np.testing.assert_allclose(monthly, yearly, rtol=1e-10)
    assert np.all(weekly <= monthly + 1e-12)
    with pytest.raises(ValueError, match="period"):
        customer_lifetime_value(cdnow_bg, cdnow_gg, cdnow, period="fortnight")


# ------------------------------------------------------------------------------------------
# summarize
# ------------------------------------------------------------------------------------------


def test_summarize_rows_same_day_purchases_and_calibration_cut():
    rows = [
        ("ann", dt.date(2024, 1, 1), 10.0),
        ("ann", dt.date(2024, 1, 1), 5.0),  # same day: one transaction of 15
        ("ann", dt.date(2024, 1, 15), 20.0),
        ("ann", dt.datetime(2024, 1, 15, 18, 30), 4.0),  # same day again: 24
        ("ann", dt.date(2024, 1, 29), 0.0),  # zero-value purchase still counts
        ("ann", dt.date(2024, 3, 1), 99.0),  # after calibration: ignored
        ("bob", "2024-01-08", 7.5),
        ("cy", dt.date(2024, 2, 20), 3.0),  # first purchase after calibration: not a customer yet
    ]
    s = summarize(rows, dt.date(2024, 2, 5))
    assert list(s.customer_ids) == ["ann", "bob"]
    np.testing.assert_array_equal(s.frequency, [2, 0])
    np.testing.assert_allclose(s.recency, [4.0, 0.0])
    np.testing.assert_allclose(s.T, [5.0, 4.0])
    np.testing.assert_allclose(s.monetary_value, [12.0, 0.0])  # (24 + 0) / 2
    np.testing.assert_allclose(s.first_value, [15.0, 7.5])
    days = summarize(rows, "2024-02-05", period="D")
    np.testing.assert_allclose(days.T, [35.0, 28.0])


def test_summarize_keeps_ids_of_different_types_apart():
    s = summarize([(1, "2024-01-01", 1.0), ("1", "2024-01-08", 2.0), (1, "2024-01-15", 3.0)], "2024-01-15")
    assert len(s) == 2
    assert dict(zip(s.customer_ids, s.frequency.tolist())) == {1: 1, "1": 0}


def test_summarize_accepts_structured_arrays_and_defaults_to_last_date():
    arr = np.array(
        [(1, np.datetime64("2024-01-01"), 3.0), (1, np.datetime64("2024-01-22"), 4.0), (2, np.datetime64("2024-01-08"), 1.0)],
        dtype=[("customer_id", "i8"), ("date", "datetime64[D]"), ("amount", "f8")],
    )
    s = summarize(arr)
    assert s.calibration_end == np.datetime64("2024-01-22")
    np.testing.assert_allclose(s.T, [3.0, 2.0])
    np.testing.assert_array_equal(s.frequency, [1, 0])


@pytest.mark.parametrize(
    "rows, column",
    [
        ([("a", "2024-01-01", -1.0)], "amount"),
        ([("a", "2024-01-01", float("nan"))], "amount"),
        ([("a", "not a date", 1.0)], "date"),
        ([("a", None, 1.0)], "date"),
        ([(None, "2024-01-01", 1.0), ("b", "2024-01-02", 1.0)], "customer_id"),
    ],
)
def test_summarize_rejects_bad_input_naming_the_column(rows, column):
    with pytest.raises(ValueError, match=column):
        summarize(rows, "2024-02-01")


def test_fit_inputs_are_validated():
    with pytest.raises(ValueError, match="recency"):
        fit_bgnbd([1], [5.0], [3.0])
    with pytest.raises(ValueError, match="frequency"):
        fit_bgnbd([-1], [0.0], [3.0])
    with pytest.raises(ValueError, match="monetary_value"):
        fit_gamma_gamma([1], [-3.0])
    with pytest.raises(ValueError, match="t must"):
        expected_transactions(BG_PARAMS, -1.0, 1, 1.0, 2.0)


# ------------------------------------------------------------------------------------------
# Edge cases: a defined answer, never NaN/inf, never a crash
# ------------------------------------------------------------------------------------------


def test_no_customers():
    s = summarize([], "2024-01-01")
    assert len(s) == 0
    bg = fit_bgnbd(s.frequency, s.recency, s.T)
    gg = fit_gamma_gamma(s.frequency, s.monetary_value)
    assert isinstance(bg, FitFailure) and not bg and "no customers" in bg.reason
    assert isinstance(gg, FitFailure) and not gg and "no customers" in gg.reason
    assert expected_transactions(BG_PARAMS, 10.0, s.frequency, s.recency, s.T).shape == (0,)
    assert discounted_clv(BG_PARAMS, PUBLISHED_GG.values(), [], [], [], [], periods=12, period_length=4.0, discount_rate=0.01).shape == (0,)
    # Every transaction after the calibration end: no customers either.
    assert len(summarize([("a", "2024-05-01", 1.0)], "2024-01-01")) == 0


def test_all_customers_bought_on_one_day():
    rows = [(f"c{i}", "2024-03-01", 10.0 + i) for i in range(20)] + [("c0", "2024-03-01", 5.0)]
    s = summarize(rows, "2024-06-30")
    assert np.all(s.frequency == 0) and np.all(s.T == s.T[0])
    bg = fit_bgnbd(s.frequency, s.recency, s.T)
    gg = fit_gamma_gamma(s.frequency, s.monetary_value)
    assert isinstance(bg, FitFailure) and "repeat" in bg.reason and bg.n_customers == 20
    assert isinstance(gg, FitFailure) and "repeat" in gg.reason
    with pytest.raises(ValueError, match="failed"):
        expected_transactions(bg, 10.0, s.frequency, s.recency, s.T)
    # The same day as calibration end (T = 0) too.
    s0 = summarize(rows, "2024-03-01")
    assert np.all(s0.T == 0)
    assert isinstance(fit_bgnbd(s0.frequency, s0.recency, s0.T), FitFailure)


def test_one_customer_gives_finite_reported_fits():
    bg = fit_bgnbd([2], [10.0], [20.0])
    gg = fit_gamma_gamma([2], [10.0])
    assert isinstance(bg, BGNBDFit) and isinstance(gg, GammaGammaFit)
    assert all(np.isfinite(v) and v > 0 for v in (*bg.params, *gg.params, -bg.log_likelihood))
    assert not bg.converged and "identify" in bg.message  # one customer cannot identify heterogeneity
    for arr in (
        expected_transactions(bg, [1.0, 52.0, 520.0], 2, 10.0, 20.0),
        probability_alive(bg, [2, 0], [10.0, 0.0], [20.0, 20.0]),
        expected_average_spend(gg, [2, 0], [10.0, 0.0]),
        discounted_clv(bg, gg, [2, 0], [10.0, 0.0], [20.0, 20.0], [10.0, 0.0], periods=24, period_length=4.35, discount_rate=0.01),
    ):
        assert np.all(np.isfinite(arr)) and np.all(arr >= 0)


def test_identical_customers_hit_bounds_but_predict_finite_values():
    bg = fit_bgnbd([1] * 50 + [0] * 50, [5.0] * 50 + [0.0] * 50, [20.0] * 100)
    assert isinstance(bg, BGNBDFit) and np.all(np.isfinite(bg.params))
    e = expected_transactions(bg, 52.0, [1, 0], [5.0, 0.0], [20.0, 20.0])
    assert np.all(np.isfinite(e)) and np.all(e >= 0)
    gg = fit_gamma_gamma([1] * 50, [10.0] * 50)
    assert isinstance(gg, GammaGammaFit) and not gg.converged and "identify" in gg.message
    np.testing.assert_allclose(expected_average_spend(gg, [1, 0], [10.0, 0.0]), 10.0, rtol=1e-3)


def test_zero_value_purchases():
    rows = [
        ("free", "2024-01-01", 0.0), ("free", "2024-01-10", 0.0), ("free", "2024-01-20", 0.0),
        ("paid", "2024-01-02", 5.0), ("paid", "2024-01-12", 8.0), ("paid", "2024-01-25", 12.0),
        ("mixed", "2024-01-03", 0.0), ("mixed", "2024-01-09", 0.0), ("mixed", "2024-01-30", 6.0),
        ("once", "2024-01-04", 0.0),
    ]
    s = summarize(rows, "2024-03-01")
    by_id = dict(zip(s.customer_ids, s.monetary_value))
    assert by_id["free"] == 0.0 and by_id["paid"] == 10.0 and by_id["mixed"] == 3.0 and by_id["once"] == 0.0
    gg = fit_gamma_gamma(s.frequency, s.monetary_value)
    assert isinstance(gg, GammaGammaFit) and gg.n_customers == 2 and gg.n_excluded == 1
    spend = expected_average_spend(gg, s.frequency, s.monetary_value)
    assert np.all(np.isfinite(spend)) and np.all(spend >= 0)
    # Only free repeat purchases: nothing for a spend model to fit.
    none = fit_gamma_gamma([2, 3, 0], [0.0, 0.0, 0.0])
    assert isinstance(none, FitFailure) and "spend is 0" in none.reason


def test_non_convergence_is_reported(cdnow):
    bg = fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow.T, max_iter=1)
    assert isinstance(bg, BGNBDFit) and not bg.converged and "iteration limit" in bg.message
    assert np.all(np.isfinite(bg.params)) and math.isfinite(bg.log_likelihood)
    gg = fit_gamma_gamma(cdnow.frequency, cdnow.monetary_value, max_iter=1)
    assert isinstance(gg, GammaGammaFit) and not gg.converged and "iteration limit" in gg.message


def test_a_fit_cut_short_by_the_iteration_limit_keeps_the_best_point_its_retries_reached(cdnow):
    # five iterations per attempt: L-BFGS-B stops short, Nelder-Mead and a polishing L-BFGS-B go on from
    # there; the fit reports where they got (a log-likelihood within 0.1 of the optimum), not the first stop
    bg = fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow.T, max_iter=5)
    assert not bg.converged and bg.log_likelihood == pytest.approx(PUBLISHED_LL, abs=0.1)
    gg = fit_gamma_gamma(cdnow.frequency, cdnow.monetary_value, max_iter=5)
    full = fit_gamma_gamma(cdnow.frequency, cdnow.monetary_value)
    assert not gg.converged and gg.log_likelihood == pytest.approx(full.log_likelihood, abs=0.1)


def test_a_stall_at_a_bound_counts_as_the_optimum_when_only_the_bound_holds_the_gradient():
    # a parameter at its bound with the likelihood still rising beyond it: that component does not count
    top = clv_module._LOG_BOUND

    def stalled(theta, grad):
        return clv_module._stalled_at_optimum(lambda _: (1.0, np.array(grad)), np.array(theta))

    assert stalled([top, 0.0], [-0.5, 0.0]) and stalled([-top, 0.0], [0.5, 0.0])
    assert not stalled([top, 0.0], [0.5, 0.0]) and not stalled([0.0, 0.0], [-0.5, 0.0])
    assert not stalled([top, 0.0], [-0.5, 1e-3])  # the free parameter still has somewhere to go


def test_spend_with_q_below_one_falls_back_to_observed_means():
    gg = GammaGammaFit(p=0.2, q=0.5, gamma=3.0, log_likelihood=-1.0, n_customers=5, n_excluded=0,
                       mean_spend=12.0, converged=True, message="converged", iterations=1)
    spend = expected_average_spend(gg, [0, 1, 10], [0.0, 7.0, 9.0])
    # x = 0 and p x + q - 1 <= 0: no finite model mean; x = 10: the formula applies.
    np.testing.assert_allclose(spend, [12.0, 7.0, 0.2 * (3.0 + 90.0) / (2.0 + 0.5 - 1.0)])


def _expected_by_integration(r, alpha, a, b, x, tx, T, t):
    """E[Y(t) | x, t_x, T] straight from its definition, with scipy's adaptive quadrature over the
    dropout probability p ~ Beta(a, b + x) of a customer still active (independent of clv.py's code)."""
    from scipy import integrate, stats

    def h(p):
        return -np.expm1(-(r + x) * np.log1p(p * t / (alpha + T))) / p

    lo, hi = stats.beta.ppf([1e-12, 1 - 1e-12], a, b + x)
    mean, _ = integrate.quad(lambda p: h(p) * stats.beta.pdf(p, a, b + x), lo, hi, points=[a / (a + b + x)],
                             limit=200, epsabs=0, epsrel=1e-10)
    return mean * probability_alive((r, alpha, a, b), x, tx, T)


@pytest.mark.parametrize("a, b", [(0.79, 2.43), (5.0, 50.0), (20.0, 600.0), (50.0, 500.0), (200.0, 5000.0),
                                  (473.5, 162754.8)])
def test_expected_transactions_stay_accurate_for_large_a_and_b(a, b):
    # the closed form's 2F1 loses every digit once a passes ~15 (it gave 0 or NaN for a = 200); a real
    # fit can land there, e.g. when every customer drops out with about the same probability
    for x, tx, T in [(4, 30.0, 50.0), (16, 48.0, 52.0), (1, 2.0, 40.0)]:
        got = expected_transactions((1.72, 10.65, a, b), 52.0, x, tx, T)
        want = _expected_by_integration(1.72, 10.65, a, b, x, tx, T, 52.0)
        np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("p, seed", [(0.003, 3), (0.7, 3)])  # draws whose optimum lies on that ridge
def test_homogeneous_dropout_is_the_limit_fit_not_a_failure(p, seed):
    # every customer drops out after a purchase with the same probability (no heterogeneity in p):
    # a and b grow without bound while a/(a+b) settles at p (b hits its bound when p is small, a when it
    # is large), and the predictions along that ridge agree
    rng = np.random.default_rng(seed)
    n, T_weeks = 2000, 52.0
    lam = rng.gamma(1.5, 1 / 6.0, n)  # r = 1.5, alpha = 6
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T_weeks:
                break
            x[i] += 1
            tx[i] = t
            if rng.random() < p:
                break
    bg = fit_bgnbd(x, tx, np.full(n, T_weeks))
    assert bg.converged, bg.message
    assert "same probability" in bg.message and max(bg.a, bg.b) > 1e4
    assert abs(bg.a / (bg.a + bg.b) - p) < 0.01
    e = expected_transactions(bg, 52.0, x, tx, np.full(n, T_weeks))
    scaled = expected_transactions((bg.r, bg.alpha, bg.a / 100, bg.b / 100), 52.0, x, tx, np.full(n, T_weeks))
    assert np.all(np.isfinite(e)) and np.all(e >= 0) and e.max() > 0.1
    np.testing.assert_allclose(e, scaled, rtol=2e-2, atol=1e-2)


def test_a_stalled_line_search_at_the_optimum_is_not_a_search_of_twenty_thousand_steps():
    # Homogeneous-dropout draws put the optimum on a flat ridge where L-BFGS-B's line search stalls
    # (ABNORMAL) with a negligible gradient. That used to count as failure: Nelder-Mead then crawled
    # along the ridge for max_iter * 20 iterations from each start (over a minute; minutes on a loaded
    # machine, seen in a demo's analytics refresh) to land on the same optimum.
    rng = np.random.default_rng(2)
    n, T_weeks, p = 2000, 52.0, 0.01
    lam = rng.gamma(1.5, 1 / 6.0, n)
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T_weeks:
                break
            x[i] += 1
            tx[i] = t
            if rng.random() < p:
                break
    bg = fit_bgnbd(x, tx, np.full(n, T_weeks))
    assert bg.converged, bg.message
    assert bg.iterations < 1000
    np.testing.assert_allclose(bg.params, (1.4238, 5.7671, 5.817, 511.15), rtol=1e-3)
