"""RFM (Recency, Frequency, Monetary) scores and named segments (DOMAIN §2).

Pure functions over numpy arrays, built on ``clv.summarize`` so both analyses count
transactions the same way (several purchases on one day are one transaction).

* Recency: days from the customer's last purchase to ``as_of`` (fewer is better).
* Frequency: number of transactions, the first included.
* Monetary: total spend (default) or mean spend per transaction.

Each is scored 1..``bins`` (5 by default: quintiles, 5 best) from its rank among the customers;
tied values share the score of the group's lowest-ranked member, and the best value always scores
``bins`` (see :func:`rfm_score`). The segment name comes from the (R, F) pair on the usual 5 x 5 grid
(``SEGMENT_GRID``), M being reported but not used for the name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analytics.clv import Summary, summarize

__all__ = ["RFMTable", "SEGMENT_GRID", "SEGMENTS", "rfm", "rfm_from_summary", "rfm_score", "rfm_segment"]

SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential loyalists",
    "New customers",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose them",
    "Hibernating",
)

# SEGMENT_GRID[r - 1][f - 1]: rows are the recency score 1..5 (5 = bought most recently),
# columns the frequency score 1..5 (5 = buys most often).
_H, _AR, _CL = "Hibernating", "At risk", "Can't lose them"
_AS, _NA, _L = "About to sleep", "Need attention", "Loyal"
_PR, _PL, _NC, _CH = "Promising", "Potential loyalists", "New customers", "Champions"
SEGMENT_GRID: tuple[tuple[str, ...], ...] = (
    (_H, _H, _AR, _AR, _CL),  # r = 1
    (_H, _H, _AR, _AR, _CL),  # r = 2
    (_AS, _AS, _NA, _L, _L),  # r = 3
    (_PR, _PL, _PL, _L, _L),  # r = 4
    (_NC, _PL, _PL, _CH, _CH),  # r = 5
)


@dataclass(frozen=True, eq=False)
class RFMTable:
    """Per-customer RFM values, scores (1..bins) and segment names, aligned with ``customer_ids``."""

    customer_ids: np.ndarray
    recency_days: np.ndarray
    frequency: np.ndarray
    monetary: np.ndarray
    r_score: np.ndarray
    f_score: np.ndarray
    m_score: np.ndarray
    segment: np.ndarray
    as_of: np.datetime64
    bins: int

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])

    @property
    def score(self) -> np.ndarray:
        """The three scores as one "RFM cell" string per customer, e.g. "545"."""
        return np.array([f"{r}{f}{m}" for r, f, m in zip(self.r_score, self.f_score, self.m_score)], dtype=object)


def _check_bins(bins: int) -> int:
    if int(bins) != bins or bins < 2:
        raise ValueError("bins must be a whole number >= 2")
    return int(bins)


def rfm_score(values: Any, *, bins: int = 5, higher_is_better: bool = True, column: str = "values") -> np.ndarray:
    """Score each value 1..bins by its percentile: floor((rank - 0.5) / n * bins) + 1.

    Tied values share one score, that of the group's lowest-ranked member (``rank`` is the group's
    lowest rank, not its average): nine tied customers and one other score 1 ×9 and 5, not 3 ×9 and 5.
    The best value present always scores ``bins``, however many customers share it, so both ends of
    the scale are reached whenever the values differ at all. A lone customer, or a column where
    everyone is equal, scores in the middle (floor(bins / 2) + 1). docs/analytics.md §5.
    """
    bins = _check_bins(bins)
    v = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"column '{column}' has a missing or infinite value")
    n = v.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    from scipy.stats import rankdata   # here: importing scipy.stats costs every app start a quarter second

    x = v if higher_is_better else -v
    if np.all(x == x[0]):
        return np.full(n, bins // 2 + 1, dtype=np.int64)
    ranks = rankdata(x, method="min")
    scores = np.floor((ranks - 0.5) / n * bins).astype(np.int64) + 1
    scores[x == x.max()] = bins
    return np.clip(scores, 1, bins)


def rfm_segment(r_score: Any, f_score: Any, *, bins: int = 5) -> np.ndarray:
    """Segment name per customer from the recency and frequency scores (``SEGMENT_GRID``).

    Scores on another scale than 1..5 are first mapped onto it: s -> ceil(s * 5 / bins).
    """
    bins = _check_bins(bins)
    r = np.asarray(r_score, dtype=np.int64).reshape(-1)
    f = np.asarray(f_score, dtype=np.int64).reshape(-1)
    if r.shape != f.shape:
        raise ValueError("r_score and f_score must have the same length")
    for name, s in (("r_score", r), ("f_score", f)):
        if ((s < 1) | (s > bins)).any():
            raise ValueError(f"column '{name}' must hold scores between 1 and {bins}")
    grid = np.array(SEGMENT_GRID, dtype=object)
    r5 = np.ceil(r * 5 / bins).astype(np.int64)
    f5 = np.ceil(f * 5 / bins).astype(np.int64)
    return grid[r5 - 1, f5 - 1] if r.shape[0] else np.zeros(0, dtype=object)


def rfm_from_summary(summary: Summary, *, monetary: str = "total", bins: int = 5) -> RFMTable:
    """RFM table from a ``clv.Summary`` (its calibration end is the "as of" date)."""
    bins = _check_bins(bins)
    if monetary not in ("total", "mean"):
        raise ValueError("monetary must be 'total' or 'mean'")
    n_txn = summary.frequency + 1
    total = summary.first_value + summary.frequency * summary.monetary_value
    money = total if monetary == "total" else np.divide(total, n_txn, out=np.zeros_like(total), where=n_txn > 0)
    recency_days = np.rint((summary.T - summary.recency) * summary.unit_days)
    r = rfm_score(recency_days, bins=bins, higher_is_better=False, column="recency")
    f = rfm_score(n_txn, bins=bins, column="frequency")
    m = rfm_score(money, bins=bins, column="monetary")
    return RFMTable(
        customer_ids=summary.customer_ids,
        recency_days=recency_days.astype(np.int64),
        frequency=n_txn.astype(np.int64),
        monetary=money,
        r_score=r,
        f_score=f,
        m_score=m,
        segment=rfm_segment(r, f, bins=bins),
        as_of=summary.calibration_end,
        bins=bins,
    )


def rfm(transactions: Any, as_of: Any = None, *, monetary: str = "total", bins: int = 5) -> RFMTable:
    """RFM table from (customer_id, date, amount) rows as of ``as_of`` (inclusive; default the
    last date present). Purchases after ``as_of`` are ignored. See ``clv.summarize`` for the
    accepted input forms and validation."""
    return rfm_from_summary(summarize(transactions, as_of, period="D"), monetary=monetary, bins=bins)

