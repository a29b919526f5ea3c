"""The pure pieces behind the refresh: value tiers, the Pareto curve, usual gaps, k-means segments,
and the CLV sum over a degenerate fit."""
from __future__ import annotations

import numpy as np
import pytest

from core.analytics.clv import discounted_clv
from core.analytics.segmentation import NoSegmentation, centroid, segment_customers
from core.analytics.value import pareto_curve, parse_cuts, usual_gap_days, value_tiers


def test_value_tiers_by_share_before_with_ties_and_zero_revenue():
    tiers, share = value_tiers(np.array([100, 50, 20, 20, 10, 0, 5]))
    assert list(tiers) == ["key", "key", "major", "major", "regular", "small", "small"]
    assert share[0] == pytest.approx(100 / 205) and share[5] == 1.0
    assert list(value_tiers(np.zeros(3))[0]) == ["small"] * 3
    assert value_tiers(np.array([]))[0].shape == (0,)


def test_tier_cuts_are_checked():
    assert parse_cuts("0.5,0.8,0.95") == (0.5, 0.8, 0.95)
    for bad in ("0.8,0.5,0.95", "0.5,0.8", "a,b,c", "0.5,0.8,1.5"):
        with pytest.raises(ValueError, match="analytics_tier_cuts"):
            parse_cuts(bad)


def test_pareto_curve_is_ranked_cumulative_share():
    assert pareto_curve(np.array([800, 100, 50, 30, 20]), points=5) == [
        (0.0, 0.0), (0.2, 0.8), (0.4, 0.9), (0.6, 0.95), (0.8, 0.98), (1.0, 1.0)]
    assert pareto_curve(np.array([0.0, 0.0])) == [(0.0, 0.0)]


def test_usual_gap_is_the_median_gap_per_customer():
    gaps = usual_gap_days(np.array([0, 0, 0, 1, 1, 2]), np.array([1, 3, 10, 5, 9, 4]), 4)
    assert list(gaps) == [4.5, 4.0, 0.0, 0.0]


def test_segments_choose_k_by_silhouette_and_say_what_distinguishes_them():
    rng = np.random.default_rng(1)
    n = 40
    behaviour = {"recency": np.r_[rng.integers(1, 10, n), rng.integers(200, 300, n)],
                 "frequency": np.r_[rng.integers(20, 30, n), rng.integers(1, 3, n)],
                 "monetary": np.r_[rng.normal(500, 50, n), rng.normal(20000, 2000, n)],
                 "tenure": np.r_[rng.integers(300, 400, n), rng.integers(300, 400, n)]}
    seg = segment_customers(behaviour, {"industry": ["retail"] * n + ["construction"] * n}, k_min=2, k_max=5)
    assert seg.k == 2 and seg.sizes == [40, 40] and seg.silhouette > 0.5
    assert seg.profiles[0] == "not bought for long, low frequency, high spend, mostly construction"
    assert seg.profiles[1] == "bought recently, high frequency, low spend, mostly retail"
    assert set(seg.labels[:n]) == {1} and set(seg.labels[n:]) == {0}


def _two_groups(n, seed=1):
    rng = np.random.default_rng(seed)
    return {"recency": np.r_[rng.integers(1, 10, n), rng.integers(200, 300, n)],
            "frequency": np.r_[rng.integers(20, 30, n), rng.integers(1, 3, n)],
            "monetary": np.r_[rng.normal(500, 50, n), rng.normal(20000, 2000, n)],
            "tenure": np.r_[rng.integers(300, 400, n), rng.integers(300, 400, n)]}


def test_a_category_everyone_shares_is_not_a_distinction_but_the_centroids_show_it():
    seg = segment_customers(_two_groups(40), {"industry": ["retail"] * 80}, k_min=2, k_max=5)
    assert seg.k == 2 and not any("retail" in p for p in seg.profiles)
    assert seg.profiles[0] == "not bought for long, low frequency, high spend"
    assert [c["industry"] for c in seg.centroids] == [{"value": "retail", "share": 1.0}] * 2
    assert seg.scores[seg.k] == seg.silhouette == round(seg.silhouette, 4)  # four decimals, both


@pytest.mark.parametrize("high_spenders_first", [False, True])
def test_segment_one_is_the_highest_spending_whatever_the_order_of_the_customers(high_spenders_first):
    behaviour = _two_groups(40)
    if high_spenders_first:
        behaviour = {name: values[::-1] for name, values in behaviour.items()}
    seg = segment_customers(behaviour, k_min=2, k_max=3)
    means = [c["monetary"] for c in seg.centroids]
    assert seg.k == 2 and means[0] > 10000 > means[1]
    assert seg.profiles[0].endswith("high spend") and seg.profiles[1].endswith("low spend")

def test_the_k_with_the_best_silhouette_wins_not_the_first_tried():
    rng = np.random.default_rng(3)
    n = 30  # three clear groups: k = 3 beats k = 2 and k = 4
    behaviour = {"recency": np.r_[rng.normal(5, 1, n), rng.normal(150, 5, n), rng.normal(300, 5, n)],
                 "monetary": np.r_[rng.normal(20000, 500, n), rng.normal(2000, 100, n), rng.normal(100, 10, n)]}
    seg = segment_customers(behaviour, k_min=2, k_max=4)
    assert seg.k == 3 and seg.sizes == [n, n, n]
    assert seg.silhouette == max(seg.scores.values()) > seg.scores[2]


def test_a_category_is_mentioned_for_a_majority_of_a_segment_not_a_plurality():
    industries = (["retail"] * 16 + ["construction"] * 12 + ["software"] * 12  # low spenders: retail 40 %
                  + ["farming"] * 20 + ["mining"] * 20)                          # high spenders: farming 50 %
    seg = segment_customers(_two_groups(40), {"industry": industries}, k_min=2, k_max=2)
    assert seg.profiles == ["not bought for long, low frequency, high spend, mostly farming",
                            "bought recently, high frequency, low spend"]
    assert seg.profiles_zh_cn[0].endswith("多为farming") and "多为" not in seg.profiles_zh_cn[1]

def test_a_centroid_is_the_mean_in_original_units_and_the_dominant_category_with_its_share():
    got = centroid({"monetary": np.array([1.0, 1.0, 2.0]), "recency": np.array([3, 4, 4])},
                   {"industry": ["retail", None, "retail"], "size": [None, "", "large"]})
    assert got == {"recency": 3.67, "monetary": 1.33, "industry": {"value": "retail", "share": 0.667},
                   "size": {"value": "unknown", "share": 0.667}}
    assert centroid({"monetary": np.array([])}) == {}


def test_past_two_thousand_customers_k_is_chosen_on_a_sample_and_everyone_gets_a_segment():
    n = 1100  # 2,200 customers: more than the 2,000 the silhouette is computed on
    seg = segment_customers(_two_groups(n, seed=2), k_min=2, k_max=3)
    assert seg.k == 2 and seg.labels.shape == (2 * n,) and seg.sizes == [n, n]
    assert set(seg.labels[:n]) == {1} and set(seg.labels[n:]) == {0}

def test_too_few_or_identical_customers_give_no_segmentation():
    same = {"recency": [1, 1, 1, 1], "frequency": [2, 2, 2, 2], "monetary": [5, 5, 5, 5], "tenure": [9, 9, 9, 9]}
    assert isinstance(segment_customers(same), NoSegmentation)
    assert not segment_customers({k: v[:2] for k, v in same.items()})
    assert "needs at least 3" in segment_customers({k: v[:2] for k, v in same.items()}).reason


def test_discounted_clv_survives_the_quadrature_fallback_of_a_degenerate_fit():
    # parameters at the optimiser's bounds, as fitted on a tiny data set: 2F1 fails and the
    # quadrature fallback runs for some (period, customer) cells
    bounds = (15051.37, 162754.79, 0.002218, 1073.9)
    x, tx, T, m = np.array([0, 1, 3]), np.array([0, 10.0, 30.0]), np.array([40, 40, 40.0]), np.array([0, 50, 80.0])
    value = discounted_clv(bounds, (1.0, 3.4, 100.0), x, tx, T, m, periods=12, period_length=4.35,
                           discount_rate=0.01)
    assert value.shape == (3,) and np.all(np.isfinite(value)) and np.all(value >= 0)


def test_usual_gap_of_several_customers_with_odd_and_even_gap_counts():
    cust = np.array([0, 0, 0, 0, 2, 2, 2, 3, 3])
    day = np.array([0, 1, 11, 13, 5, 6, 16, 0, 30])
    # customer 0: gaps 1, 10, 2 -> median 2; 1: no purchases; 2: gaps 1, 10 -> 5.5; 3: one gap of 30
    assert list(usual_gap_days(cust, day, 4)) == [2.0, 0.0, 5.5, 30.0]


# --- tier boundaries are exact (issue #15): shares summing to exactly a cut land on it at any scale --------

def scaled(values, scale):
    """``values`` times ``scale`` computed in decimal, as the amounts would be written in that currency unit
    (multiplying the floats would add the binary rounding of the product: 56 * 0.1 is 5.6000000000000005)."""
    from decimal import Decimal

    return np.array([float(Decimal(str(v)) * Decimal(str(scale))) for v in values])


def test_a_share_of_exactly_a_cut_lands_in_the_same_tier_whatever_the_currency_scale():
    # shares before: 0, .56, .80 exactly, .9056, .9632 -> the third customer starts at the 0.8 cut: regular
    expected = ["key", "major", "regular", "regular", "small"]
    for scale in (1, 100, 0.1, 0.01, 1000, 7):
        revenue = scaled([56, 24, 10.56, 5.76, 3.68], scale)
        assert list(value_tiers(revenue)[0]) == expected, scale
        assert list(value_tiers(revenue[::-1])[0]) == expected[::-1], scale


def test_tiers_do_not_depend_on_the_currency_scale_randomised():
    """Property: revenue drawn in whole cents, many landing exactly on a cut; the tiers at scale 1 equal the
    tiers at every other scale, and equal the tiers computed by hand with fractions."""
    from fractions import Fraction

    rng = np.random.default_rng(2026)
    cuts = (0.5, 0.8, 0.95)
    on_a_cut = 0
    for case in range(400):
        n = int(rng.integers(2, 12))
        cents = rng.integers(0, 10_000, size=n)
        if case % 2:  # make the first k customers bring exactly 50 %, 80 % or 95 % of the revenue
            cut = Fraction(str(cuts[case % 3]))
            k = int(rng.integers(1, n))
            rest = int(cents[k:].sum()) or 1
            cents[k:] = cents[k:] if cents[k:].sum() else 1
            head = rest * cut / (1 - cut)
            if head.denominator == 1:
                cents[:k] = 0
                cents[0] = int(head)
        total = int(cents.sum())
        if total == 0:
            continue
        order = sorted(range(n), key=lambda i: -cents[i])
        want = [None] * n
        before = Fraction(0)
        prev, prev_before = None, None
        for i in order:
            b = prev_before if cents[i] == prev else before
            want[i] = "small" if cents[i] == 0 else ["key", "major", "regular", "small"][
                sum(1 for c in cuts if b >= Fraction(str(c)))]
            on_a_cut += any(b == Fraction(str(c)) for c in cuts)
            prev, prev_before = cents[i], b
            before += Fraction(int(cents[i]), total)
        for scale in (0.01, 1, 100, 0.1, 3, 1000):
            assert list(value_tiers(scaled(cents / 100, scale), cuts)[0]) == want, (cents.tolist(), scale)
    assert on_a_cut > 50
