"""Value tiers by cumulative revenue share (the 80/20 rule), the Pareto curve, and the churn rules.

Pure functions over numpy arrays; docs/analytics.md §8–§10 explains each number.
"""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Sequence

import numpy as np

__all__ = ["TIERS", "exact_units", "value_tiers", "pareto_curve", "revenue_drop", "usual_gap_days"]

#: tier key → (en, zh-CN), best first
TIERS: dict[str, tuple[str, str]] = {
    "key": ("Key account", "大客户"),
    "major": ("Major customer", "重要客户"),
    "regular": ("Regular customer", "普通客户"),
    "small": ("Small customer", "小客户"),
}


def parse_cuts(text: str) -> tuple[float, float, float]:
    """``"0.5,0.8,0.95"`` → three increasing shares in (0, 1]."""
    try:
        cuts = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"analytics_tier_cuts must be three numbers, got {text!r}") from None
    if len(cuts) != 3 or not all(a < b for a, b in zip((0.0,) + cuts, cuts)) or cuts[-1] > 1:
        raise ValueError(f"analytics_tier_cuts must be three increasing shares between 0 and 1, got {text!r}")
    return cuts  # type: ignore[return-value]


def value_tiers(revenue: np.ndarray, cuts: Sequence[float] = (0.5, 0.8, 0.95)) -> tuple[np.ndarray, np.ndarray]:
    """(tier key, cumulative share) per customer.

    Customers are ranked by revenue, highest first; a customer's *share before* is the part of all
    revenue brought by the customers ranked above it (tied customers share the rank of the first of
    them). Tier: ``key`` while the share before is under ``cuts[0]``, ``major`` under ``cuts[1]``,
    ``regular`` under ``cuts[2]``, ``small`` otherwise — and ``small`` whenever the revenue is not
    positive. The returned share is the cumulative share *including* the customer (the Pareto curve's y).

    The tiers are computed exactly, in integers (:func:`exact_units`), and the cuts as the decimals they
    are written as (0.8 is 4/5): a share before of exactly a cut is at the cut whatever the currency unit
    (with floats, [56, 24, 10.56, 5.76, 3.68] put the third customer in ``major`` and the same ×100 in
    ``regular``).
    """
    rev = np.clip(np.asarray(revenue, dtype=float), 0, None)
    n = rev.shape[0]
    tiers = np.full(n, "small", dtype=object)
    share = np.zeros(n)
    if n == 0 or rev.sum() <= 0:
        return tiers, share
    units = exact_units(rev)
    order = np.argsort(-rev, kind="stable")
    sorted_units = units[order]
    fractions = [Fraction(str(cut)) for cut in cuts]
    # int64 while every product below fits in it, else Python ints: exact either way
    small = units.dtype != object and int(units.sum()) * max(f.denominator + f.numerator for f in fractions) < 2 ** 62
    cum = np.cumsum(sorted_units if small else sorted_units.astype(object))
    total = cum[-1]
    before = np.concatenate([np.zeros(1, dtype=cum.dtype), cum[:-1]])
    # ties: every customer of a run of equal revenue gets the "before" of the run's first member
    first_of_run = np.ones(n, dtype=bool)
    first_of_run[1:] = sorted_units[1:] != sorted_units[:-1]
    run_start = np.maximum.accumulate(np.where(first_of_run, np.arange(n), 0))
    before = before[run_start]
    # how many cuts the share before has reached: before / total >= p / q  <=>  before * q >= p * total
    idx = np.zeros(n, dtype=np.int64)
    for f in fractions:
        idx += (before * f.denominator >= f.numerator * total).astype(bool)
    names = np.array(list(TIERS), dtype=object)
    t = names[np.minimum(idx, 3)]
    t[sorted_units <= 0] = "small"
    tiers[order] = t
    share[order] = np.minimum(cum.astype(float) / float(total), 1.0)
    return tiers, share


def exact_units(values: np.ndarray) -> np.ndarray:
    """Non-negative money amounts as integers in one common unit, exactly: whole cents (an int64 array)
    when every amount is a whole number of cents (all that ``interaction.amount``, two decimals, can
    hold; a sum of them is off whole cents by float rounding only), else the amounts' shortest decimal
    representation (``repr``: 0.1056 is 1056 × 10⁻⁴) scaled to integers (Python ints)."""
    v = np.asarray(values, dtype=float)
    cents = np.rint(v * 100)
    if np.all(np.abs(v * 100 - cents) <= 1e-6 * np.maximum(1.0, np.abs(cents))) and cents.max(initial=0) < 2 ** 53:
        return cents.astype(np.int64)
    decimals = [Decimal(repr(float(x))) for x in v]
    exponent = min(d.as_tuple().exponent for d in decimals)
    return np.array([int(d.scaleb(-exponent)) for d in decimals], dtype=object)


def pareto_curve(revenue: np.ndarray, points: int = 20) -> list[tuple[float, float]]:
    """(share of customers, share of revenue) at ``points`` evenly spaced customer shares, customers
    ranked by revenue, highest first; starts at (0, 0). Empty or all-zero revenue: the diagonal is
    meaningless, so only (0, 0) is returned."""
    rev = np.sort(np.clip(np.asarray(revenue, dtype=float), 0, None))[::-1]
    n, total = rev.shape[0], rev.sum()
    if n == 0 or total <= 0:
        return [(0.0, 0.0)]
    cum = np.concatenate([[0.0], np.cumsum(rev) / total])
    xs = np.linspace(0, 1, points + 1)
    ys = np.interp(xs * n, np.arange(n + 1), cum)
    return [(round(float(x), 4), round(float(min(y, 1.0)), 4)) for x, y in zip(xs, ys)]


def revenue_drop(last: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """1 - last / baseline where the baseline is positive, else 0 (nothing to drop from)."""
    last = np.asarray(last, dtype=float)
    baseline = np.asarray(baseline, dtype=float)
    return np.where(baseline > 0, 1.0 - last / np.where(baseline > 0, baseline, 1.0), 0.0)


def usual_gap_days(cust: np.ndarray, day: np.ndarray, n_customers: int) -> np.ndarray:
    """Median days between consecutive transaction days of each customer (NaN-free: 0 with fewer than
    two transaction days). ``cust``/``day`` are one row per (customer, day), sorted by customer then day."""
    out = np.zeros(n_customers)
    if cust.shape[0] < 2:
        return out
    same = cust[1:] == cust[:-1]
    gaps = (day[1:] - day[:-1])[same].astype(float)
    owners = cust[1:][same]
    if gaps.shape[0] == 0:
        return out
    order = np.lexsort((gaps, owners))
    gaps, owners = gaps[order], owners[order]
    starts = np.flatnonzero(np.concatenate([[True], owners[1:] != owners[:-1]]))
    ends = np.append(starts[1:], owners.shape[0])
    counts = ends - starts
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    out[owners[starts]] = (gaps[lo] + gaps[hi]) / 2.0
    return out
