"""RFM scores and segments."""
from __future__ import annotations


import numpy as np
import pytest

from core.analytics import SEGMENT_GRID, SEGMENTS, rfm, rfm_from_summary, rfm_score, rfm_segment, summarize
from core.analytics.cdnow import SAMPLE

CDNOW = SAMPLE


def test_scores_are_quantiles_with_ties_sharing_a_score():
    np.testing.assert_array_equal(rfm_score(np.arange(10.0)), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    np.testing.assert_array_equal(rfm_score(np.arange(10.0), higher_is_better=False), [5, 5, 4, 4, 3, 3, 2, 2, 1, 1])
    np.testing.assert_array_equal(rfm_score([7.0, 7.0, 7.0]), [3, 3, 3])  # all equal: middle
    np.testing.assert_array_equal(rfm_score([42.0]), [3])  # a lone customer: middle
    tied = rfm_score([1, 1, 1, 1, 1, 1, 9, 9, 10, 11])
    assert len(set(tied[:6])) == 1 and tied[6] == tied[7]
    np.testing.assert_array_equal(rfm_score([1.0, 2.0, 3.0, 4.0], bins=4), [1, 2, 3, 4])
    assert rfm_score([], bins=5).shape == (0,)


def test_score_validation():
    with pytest.raises(ValueError, match="bins"):
        rfm_score([1.0, 2.0], bins=1)
    with pytest.raises(ValueError, match="monetary"):
        rfm_score([1.0, float("nan")], column="monetary")


def test_segment_grid_covers_every_cell_with_known_names():
    assert {name for row in SEGMENT_GRID for name in row} == set(SEGMENTS)
    r, f = np.meshgrid(np.arange(1, 6), np.arange(1, 6), indexing="ij")
    names = rfm_segment(r.ravel(), f.ravel())
    assert names.shape == (25,)
    assert rfm_segment([5, 5, 1, 1, 3], [5, 1, 1, 5, 3]).tolist() == [
        "Champions", "New customers", "Hibernating", "Can't lose them", "Need attention",
    ]
    # A 1..10 scale is mapped onto the 5 x 5 grid.
    assert rfm_segment([10, 1], [10, 1], bins=10).tolist() == ["Champions", "Hibernating"]
    with pytest.raises(ValueError, match="r_score"):
        rfm_segment([6], [1])


def test_rfm_from_rows_by_hand():
    rows = [
        ("ann", "2024-01-01", 10.0), ("ann", "2024-01-01", 5.0), ("ann", "2024-02-20", 30.0),
        ("ann", "2024-03-01", 5.0),
        ("bob", "2024-01-05", 100.0),
        ("cy", "2024-02-01", 1.0), ("cy", "2024-02-25", 2.0),
        ("dee", "2024-04-01", 50.0),  # after as_of: not yet a customer
    ]
    t = rfm(rows, "2024-03-01")
    assert list(t.customer_ids) == ["ann", "bob", "cy"]
    np.testing.assert_array_equal(t.recency_days, [0, 56, 5])
    np.testing.assert_array_equal(t.frequency, [3, 1, 2])
    np.testing.assert_allclose(t.monetary, [50.0, 100.0, 3.0])
    np.testing.assert_array_equal(t.r_score, [5, 1, 3])
    np.testing.assert_array_equal(t.f_score, [5, 1, 3])
    np.testing.assert_array_equal(t.m_score, [3, 5, 1])
    assert t.segment.tolist() == ["Champions", "Hibernating", "Need attention"]
    assert t.score.tolist() == ["553", "115", "331"]
    mean = rfm(rows, "2024-03-01", monetary="mean")
    np.testing.assert_allclose(mean.monetary, [50.0 / 3, 100.0, 1.5])
    with pytest.raises(ValueError, match="monetary"):
        rfm(rows, "2024-03-01", monetary="median")


def test_rfm_edge_cases():
    empty = rfm([], "2024-01-01")
    assert len(empty) == 0 and empty.segment.shape == (0,)
    one = rfm([("solo", "2024-01-01", 0.0)], "2024-01-31")
    assert one.r_score.tolist() == [3] and one.segment.tolist() == ["Need attention"]
    with pytest.raises(ValueError, match="amount"):
        rfm([("a", "2024-01-01", -5.0)], "2024-01-31")


def test_rfm_on_cdnow_summary_is_consistent():
    raw = np.loadtxt(CDNOW, dtype=str)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[D]")
    data = {"customer_id": raw[:, 0].astype(np.int64), "date": dates, "amount": raw[:, 4].astype(float)}
    weekly = rfm_from_summary(summarize(data, "1997-09-30"))
    daily = rfm(data, "1997-09-30")
    np.testing.assert_array_equal(weekly.recency_days, daily.recency_days)
    np.testing.assert_array_equal(weekly.segment, daily.segment)
    assert len(daily) == 2357
    assert daily.frequency.sum() == 2357 + summarize(data, "1997-09-30").frequency.sum()
    assert set(daily.segment) <= set(SEGMENTS)
    for s in (daily.r_score, daily.f_score, daily.m_score):
        assert s.min() >= 1 and s.max() <= 5


def test_the_smallest_scale_is_two_bins_and_scores_must_fit_it():
    np.testing.assert_array_equal(rfm_score([1.0, 2.0, 3.0, 4.0], bins=2), [1, 1, 2, 2])
    with pytest.raises(ValueError, match="bins"):
        rfm_score([1.0, 2.0], bins=2.5)
    with pytest.raises(ValueError, match="f_score"):
        rfm_segment([1], [0])
    with pytest.raises(ValueError, match="same length"):
        rfm_segment([1, 2], [1])


# --- ties (issue #15): a large tie group takes the lowest score of its group, not its middle rank ---------

def test_a_large_tie_group_takes_the_lowest_score_of_its_group():
    # nine tied and one other: the nine are the worst value present, so they score 1, not 3
    np.testing.assert_array_equal(rfm_score([1] * 9 + [5]), [1] * 9 + [5])
    np.testing.assert_array_equal(rfm_score([1] * 9 + [5], higher_is_better=False), [5] * 9 + [1])
    # the best value present always scores the top of the scale, however many share it
    np.testing.assert_array_equal(rfm_score([1, 2, 2, 2, 2, 2, 2, 2]), [1] + [5] * 7)
    np.testing.assert_array_equal(rfm_score([1, 1, 2, 2]), [1, 1, 5, 5])
    # a group in between takes the score of its lowest-ranked member: 60 % below it -> 4
    np.testing.assert_array_equal(rfm_score([1] * 6 + [2, 2, 3, 4]), [1] * 6 + [4, 4, 5, 5])
    # distinct values: quintiles as before; one distinct value: the middle, as before
    np.testing.assert_array_equal(rfm_score(np.arange(10.0)), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    np.testing.assert_array_equal(rfm_score([7.0] * 4), [3] * 4)
    np.testing.assert_array_equal(rfm_score([7.0] * 4, bins=4), [3] * 4)


def skewed_rows(n=500, one_time_share=0.6, seed=15):
    """n customers over one year, ``one_time_share`` of them buying once; the others 2-12 times."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01")
    rows = []
    for i in range(n):
        k = 1 if i < n * one_time_share else int(rng.integers(2, 13))
        days = np.sort(rng.choice(365, size=k, replace=False))
        rows += [(i, start + int(d), float(rng.integers(10, 500))) for d in days]
    return rows


@pytest.mark.parametrize("one_time_share", [0.4, 0.6, 0.9])
def test_on_skewed_data_one_time_buyers_score_f1_and_every_f1_segment_is_reachable(one_time_share):
    t = rfm(skewed_rows(one_time_share=one_time_share), "2024-12-31")
    once = t.frequency == 1
    assert once.mean() >= 0.4
    assert set(t.f_score[once]) == {1}
    assert set(t.f_score[~once]) >= {5} and 1 not in set(t.f_score[~once])
    # every recency score occurs among the one-time buyers, so each F = 1 cell of the grid is filled
    assert set(t.r_score[once]) == {1, 2, 3, 4, 5}
    assert set(t.segment[once]) == {"New customers", "Promising", "About to sleep", "Hibernating"}


def test_on_cdnow_one_time_buyers_score_f1_and_the_scale_keeps_both_ends():
    raw = np.loadtxt(CDNOW, dtype=str)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[D]")
    t = rfm({"customer_id": raw[:, 0].astype(np.int64), "date": dates, "amount": raw[:, 4].astype(float)},
            "1997-09-30")
    once = t.frequency == 1
    assert 0.55 < once.mean() < 0.65
    assert set(t.f_score[once]) == {1}
    assert set(t.f_score[t.frequency == 2]) == {3}
    assert {1, 5} <= set(t.f_score) and set(t.r_score) == {1, 2, 3, 4, 5}
    # the cohort first bought in Q1 1997: by September no one-time buyer is among the most recent (R = 5,
    # "New customers"), but every other F = 1 cell is filled
    assert set(t.segment[once]) == {"Promising", "About to sleep", "Hibernating"}
