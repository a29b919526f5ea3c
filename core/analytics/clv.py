"""Customer lifetime value: BG/NBD purchase counts, Gamma-Gamma spend, discounted CLV.

Pure functions over numpy arrays; nothing here touches the database. The mathematics is
documented in ``docs/analytics.md``; the short version:

* ``summarize`` turns (customer_id, date, amount) rows into the "RFM" sufficient statistics the
  models need: frequency x (repeat transactions), recency t_x and age T (in weeks by default),
  and the mean value of the repeat transactions.
* BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while active, a
  customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after every transaction
  they become inactive with probability p ~ Beta(a, b).
* Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves"): transaction
  values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers.
* ``discounted_clv`` combines the two; ``seed_clv`` is the brief's formula
  V = (P0 - C0) + sum_{n=1..N} R / (1+i)^n.

Every fit returns either a fit dataclass (``ok`` is True; ``converged`` says whether the
optimiser reported success at an interior optimum) or a ``FitFailure`` carrying the reason; no
edge case of the data yields NaN or inf. Bad input (negative amounts, recency above T, ...)
raises ``ValueError`` naming the offending column.
"""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
# SciPy is imported inside the functions that use it: importing it costs about half a second, which every
# app start (registering the analytics metrics) would otherwise pay without fitting anything

__all__ = [
    "PERIOD_DAYS",
    "Summary",
    "FitFailure",
    "BGNBDFit",
    "GammaGammaFit",
    "summarize",
    "bgnbd_log_likelihood",
    "fit_bgnbd",
    "expected_transactions",
    "unconditional_expected_transactions",
    "probability_alive",
    "gamma_gamma_log_likelihood",
    "fit_gamma_gamma",
    "expected_average_spend",
    "discounted_clv",
    "customer_lifetime_value",
    "seed_clv",
]

#: Length of each supported period in days. "M" is the mean Gregorian month.
PERIOD_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.2425 / 12.0, "Y": 365.2425}

# Optimisation happens over log-parameters kept inside these bounds (about 6e-6 .. 1.6e5), so
# a degenerate data set (one customer, no heterogeneity) ends at a finite, reported boundary
# instead of running off to infinity.
_LOG_BOUND = 12.0

# Gauss-Legendre nodes of the quadrature fallback for the conditional expectation.
_QUAD_NODES = 128
# Above this a the 2F1 closed form of E[Y(t)] cancels catastrophically (measured against adaptive
# quadrature: 1e-5 agreement up to a = 15, digits lost from a = 20); the quadrature is used instead.
_CLOSED_FORM_MAX_A = 10.0
# How many (cell, node) values the quadrature holds at once: bounds its memory (16 MB of float64).
_QUAD_CELLS = 1 << 21


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Summary:
    """Per-customer sufficient statistics, all arrays aligned with ``customer_ids``.

    ``frequency``: number of repeat transactions (distinct purchase days after the first).
    ``recency``: time from first to last transaction; ``T``: time from first transaction to
    the end of calibration; both in units of ``unit_days`` days (7 = weeks).
    ``monetary_value``: mean value of the repeat transactions (0 when frequency is 0).
    ``first_value``: value of the first transaction (not used by the models).
    """

    customer_ids: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary_value: np.ndarray
    first_value: np.ndarray
    calibration_end: np.datetime64
    unit_days: float

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])


@dataclass(frozen=True)
class FitFailure:
    """A model that could not be fitted, and why. Falsy, so ``if not fit:`` reads naturally."""

    model: str
    reason: str
    n_customers: int = 0
    ok: bool = field(default=False, init=False)

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class BGNBDFit:
    """Maximum-likelihood BG/NBD parameters.

    ``converged`` is False when the optimiser did not report success, a parameter ended at its
    bound, or there are fewer customers than parameters (the data cannot identify them, e.g. a
    single customer); ``message`` says which.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    converged: bool
    message: str
    iterations: int
    ok: bool = field(default=True, init=False)

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


@dataclass(frozen=True)
class GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma spend parameters (p, q, gamma).

    ``mean_spend`` is the observed mean of the fitted customers' average spend; it stands in
    for the population mean p*gamma/(q-1) when q <= 1 makes that mean infinite.
    ``n_excluded`` counts repeat customers left out because their average spend was 0.
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int
    n_excluded: int
    mean_spend: float
    converged: bool
    message: str
    iterations: int
    ok: bool = field(default=True, init=False)

    @property
    def params(self) -> tuple[float, float, float]:
        return (self.p, self.q, self.gamma)


FitResult = Union[BGNBDFit, GammaGammaFit, FitFailure]


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _period_days(period: str | float) -> float:
    if isinstance(period, str):
        try:
            return PERIOD_DAYS[period.upper()]
        except KeyError:
            raise ValueError(f"period must be one of {sorted(PERIOD_DAYS)} or a number of days, got {period!r}") from None
    days = float(period)
    if not math.isfinite(days) or days <= 0:
        raise ValueError(f"period must be a positive number of days, got {period!r}")
    return days


def _columns(transactions: Any) -> tuple[Any, Any, Any]:
    """(customer_id, date, amount) columns from rows, a mapping of columns or a structured array."""
    names = ("customer_id", "date", "amount")
    dtype_names = getattr(getattr(transactions, "dtype", None), "names", None)
    if isinstance(transactions, Mapping) or dtype_names:
        available = set(transactions.keys()) if isinstance(transactions, Mapping) else set(dtype_names)
        missing = [n for n in names if n not in available]
        if missing:
            raise ValueError(f"transactions lack column(s) {', '.join(missing)}")
        return transactions["customer_id"], transactions["date"], transactions["amount"]
    if isinstance(transactions, np.ndarray) and transactions.ndim == 2:
        if transactions.shape[1] != 3:
            raise ValueError("transactions must have 3 columns: customer_id, date, amount")
        return transactions[:, 0], transactions[:, 1], transactions[:, 2]
    if not isinstance(transactions, Iterable):
        raise ValueError("transactions must be rows of (customer_id, date, amount) or a mapping of those columns")
    rows = list(transactions)
    if not rows:
        return [], [], []
    for i, row in enumerate(rows):
        if len(row) != 3:
            raise ValueError(f"transaction row {i} has {len(row)} fields; expected (customer_id, date, amount)")
    ids, dates, amounts = zip(*rows)
    return ids, dates, amounts


def _to_days(values: Any, column: str) -> np.ndarray:
    """Dates (datetime.date/datetime, numpy datetime64, ISO strings) as int64 days since 1970."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        days = arr.astype("datetime64[D]")
    else:
        try:
            if arr.dtype == object:
                arr = np.array(
                    [v.date() if isinstance(v, _dt.datetime) else v for v in arr.ravel()],
                    dtype="datetime64[D]",
                ).reshape(arr.shape)
                days = arr
            else:
                days = arr.astype("datetime64[D]")
        except (TypeError, ValueError) as exc:
            raise ValueError(f"column '{column}' holds values that are not dates: {exc}") from None
    if np.isnat(days).any():
        first = int(np.flatnonzero(np.isnat(days).ravel())[0])
        raise ValueError(f"column '{column}' has a missing date (first at row {first})")
    return days.astype(np.int64)


def _to_day(value: Any, column: str) -> int:
    return int(_to_days(np.asarray([value]), column)[0])


def _factorize(ids: Any) -> tuple[np.ndarray, np.ndarray]:
    """(unique ids, inverse index). Fast path for numeric/string arrays, dict for the rest."""
    if isinstance(ids, np.ndarray):
        arr = ids.reshape(-1)
    else:
        seq = list(ids)
        kinds = {type(v) for v in seq}
        # One plain type converts losslessly; a mix (1 and "1") must stay distinct objects.
        if len(kinds) == 1 and (kinds <= {int, str} or issubclass(next(iter(kinds)), np.generic)):
            arr = np.asarray(seq)
        else:
            arr = np.empty(len(seq), dtype=object)
            arr[:] = seq
    if arr.dtype != object:
        uniq, inverse = np.unique(arr, return_inverse=True)
        return uniq, inverse.astype(np.int64).reshape(-1)
    index: dict[Any, int] = {}
    inverse = np.empty(arr.shape[0], dtype=np.int64)
    for i, v in enumerate(arr):
        if v is None:
            raise ValueError(f"column 'customer_id' has a missing id (first at row {i})")
        inverse[i] = index.setdefault(v, len(index))
    uniq = np.empty(len(index), dtype=object)
    uniq[:] = list(index)
    return uniq, inverse


def _float_array(values: Any, column: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"column '{column}' must be numeric: {exc}") from None
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"column '{column}' has a missing or infinite value (first at row {int(np.flatnonzero(bad)[0])})")
    return arr


# --------------------------------------------------------------------------------------------
# Summary statistics
# --------------------------------------------------------------------------------------------


def summarize(transactions: Any, calibration_end: Any = None, *, period: str | float = "W") -> Summary:
    """Frequency, recency, T and repeat-purchase mean value per customer.

    ``transactions``: rows of (customer_id, date, amount), or a mapping / structured array with
    those three columns. Several purchases by one customer on one day are one transaction whose
    value is their sum. Transactions after ``calibration_end`` (inclusive last day; default: the
    last date present) are ignored, as are customers whose first purchase comes after it.
    ``period``: time unit of recency and T, "D", "W" (default, as in Fader-Hardie), "M", "Y" or
    a number of days.
    """
    unit = _period_days(period)
    ids, dates, amounts = _columns(transactions)
    amount = _float_array(amounts, "amount")
    day = _to_days(dates, "date").reshape(-1)
    n_rows = amount.shape[0]
    if day.shape[0] != n_rows or len(ids) != n_rows:
        raise ValueError("columns customer_id, date and amount must have the same length")
    if (amount < 0).any():
        i = int(np.flatnonzero(amount < 0)[0])
        raise ValueError(f"column 'amount' has a negative value ({amount[i]!r} at row {i})")

    if calibration_end is None:
        if n_rows == 0:
            raise ValueError("calibration_end is required when there are no transactions")
        end = int(day.max())
    else:
        end = _to_day(calibration_end, "calibration_end")
    end_dt = np.datetime64(end, "D")

    empty = Summary(
        customer_ids=np.asarray([], dtype=object),
        frequency=np.zeros(0, dtype=np.int64),
        recency=np.zeros(0),
        T=np.zeros(0),
        monetary_value=np.zeros(0),
        first_value=np.zeros(0),
        calibration_end=end_dt,
        unit_days=unit,
    )
    if n_rows == 0:
        return empty

    uniq, cust = _factorize(ids)
    keep = day <= end
    cust, day, amount = cust[keep], day[keep], amount[keep]
    if cust.shape[0] == 0:
        return empty

    # One transaction per (customer, day): sort by customer then day, sum runs of equal keys.
    order = np.lexsort((day, cust))
    cust, day, amount = cust[order], day[order], amount[order]
    new_txn = np.ones(cust.shape[0], dtype=bool)
    new_txn[1:] = (cust[1:] != cust[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(new_txn)
    t_cust, t_day = cust[starts], day[starts]
    t_value = np.add.reduceat(amount, starts)

    # Per customer: first and last transaction, count, value of first and sum of the rest.
    new_cust = np.ones(t_cust.shape[0], dtype=bool)
    new_cust[1:] = t_cust[1:] != t_cust[:-1]
    c_start = np.flatnonzero(new_cust)
    c_end = np.append(c_start[1:], t_cust.shape[0]) - 1
    n_txn = c_end - c_start + 1
    first_day, last_day = t_day[c_start], t_day[c_end]
    total = np.add.reduceat(t_value, c_start)
    first_value = t_value[c_start]
    frequency = (n_txn - 1).astype(np.int64)
    repeat_total = np.maximum(total - first_value, 0.0)  # guard against rounding below zero
    monetary = np.divide(repeat_total, frequency, out=np.zeros_like(repeat_total), where=frequency > 0)

    return Summary(
        customer_ids=uniq[t_cust[c_start]],
        frequency=frequency,
        recency=(last_day - first_day) / unit,
        T=(end - first_day) / unit,
        monetary_value=monetary,
        first_value=first_value,
        calibration_end=end_dt,
        unit_days=unit,
    )


def _rft(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = _float_array(frequency, "frequency")
    tx = _float_array(recency, "recency")
    T_ = _float_array(T, "T")
    if not (x.shape == tx.shape == T_.shape):
        x, tx, T_ = np.broadcast_arrays(np.asarray(frequency, float), np.asarray(recency, float), np.asarray(T, float))
        x, tx, T_ = x.reshape(-1), tx.reshape(-1), T_.reshape(-1)
    if (x < 0).any() or (np.round(x) != x).any():
        raise ValueError("column 'frequency' must hold non-negative whole numbers")
    if (tx < 0).any():
        raise ValueError("column 'recency' has a negative value")
    if (T_ < 0).any():
        raise ValueError("column 'T' has a negative value")
    if (tx > T_ * (1 + 1e-12) + 1e-12).any():
        raise ValueError("column 'recency' exceeds column 'T' for some customer")
    return x, tx, T_


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------


def _bgnbd_terms(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, grad: bool):
    """Per-customer log-likelihood and (optionally) its gradient w.r.t. (r, alpha, a, b).

    L = B(a, b+x)/B(a, b) * G(r+x)/G(r) * alpha^r / (alpha+T)^(r+x)
        + [x>0] B(a+1, b+x-1)/B(a, b) * G(r+x)/G(r) * alpha^r / (alpha+t_x)^(r+x)
    The second term over the first is exp(D), D = log(a/(b+x-1)) + (r+x) log((alpha+T)/(alpha+t_x)),
    so log L = first + log(1 + exp(D)) is a numerically safe log-sum-exp.
    """
    from scipy.special import betaln, digamma, expit, gammaln
    r, alpha, a, b = params
    rx = r + x
    log_aT = np.log(alpha + T)
    log_atx = np.log(alpha + tx)
    pos = x > 0
    ll = (
        gammaln(rx) - gammaln(r) + r * math.log(alpha)
        + betaln(a, b + x) - betaln(a, b)
        - rx * log_aT
    )
    bx1 = np.where(pos, b + x - 1.0, 1.0)
    D = np.where(pos, math.log(a) - np.log(bx1) + rx * (log_aT - log_atx), -np.inf)
    ll = ll + np.logaddexp(0.0, D)
    if not grad:
        return ll, None
    s = expit(D)  # weight of the second term; 0 where x == 0
    psi_abx = digamma(a + b + x)
    psi_ab = digamma(a + b)
    g = np.empty((4,) + x.shape)
    g[0] = digamma(rx) - digamma(r) + math.log(alpha) - log_aT + s * (log_aT - log_atx)
    g[1] = r / alpha - rx / (alpha + T) + s * rx * (1.0 / (alpha + T) - 1.0 / (alpha + tx))
    g[2] = psi_ab - psi_abx + s / a
    g[3] = digamma(b + x) - psi_abx - digamma(b) + psi_ab - s / bx1
    return ll, g


def bgnbd_log_likelihood(params: Iterable[float], frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood at ``params`` = (r, alpha, a, b)."""
    p = np.asarray(list(params), dtype=float)
    if p.shape != (4,) or not np.all(p > 0) or not np.all(np.isfinite(p)):
        raise ValueError("BG/NBD params must be four positive numbers (r, alpha, a, b)")
    x, tx, T_ = _rft(frequency, recency, T)
    return _bgnbd_terms(p, x, tx, T_, grad=False)[0]


def _compress(*cols: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Unique rows of the given columns and how many customers share each (speeds up fitting)."""
    stacked = np.column_stack(cols)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return tuple(uniq[:, i] for i in range(uniq.shape[1])), counts.astype(float)


def _minimize_log(neg_ll_and_grad, start: np.ndarray, max_iter: int, extra_starts: Iterable[np.ndarray] = ()):
    """Minimise over log-parameters with L-BFGS-B; on failure retry with Nelder-Mead and polish.

    A line search that stalls where the projected gradient is already negligible is the optimum reached to
    rounding (the tolerances ask for more digits than the likelihood has), not a failure: it is accepted
    as it is. Nelder-Mead gets ``max_iter`` iterations per start: on a flat ridge it would otherwise crawl
    for tens of thousands of them (over a minute) to gain nothing. Among the starts, a converged result
    beats an unconverged one that is lower only by rounding.

    Returns (best scipy result, combined iteration count).
    """
    from scipy.optimize import minimize
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * start.shape[0]
    opts = {"maxiter": max_iter, "ftol": 1e-14, "gtol": 1e-9, "maxls": 50}
    iterations = 0
    best = None

    def lbfgs(x0):
        res = minimize(neg_ll_and_grad, x0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
        if not res.success and res.nit < max_iter and _stalled_at_optimum(neg_ll_and_grad, res.x):
            res.success, res.message = True, f"line search stalled at a stationary point ({res.message})"
        return res

    def better(res, than) -> bool:
        if than is None:
            return True
        if not np.isfinite(res.fun):
            return False
        if res.success != than.success:  # the converged one, unless the other is lower by more than rounding
            slack = _SAME_OPTIMUM * max(1.0, abs(than.fun))
            return res.fun < than.fun + slack if res.success else res.fun < than.fun - slack
        return res.fun < than.fun

    for x0 in (start, *extra_starts):
        res = lbfgs(x0)
        iterations += int(res.nit)
        if not res.success and max_iter > 1:
            nm = minimize(
                lambda z: neg_ll_and_grad(z)[0], res.x, method="Nelder-Mead", bounds=bounds,
                options={"maxiter": max_iter, "xatol": 1e-10, "fatol": 1e-14},
            )
            iterations += int(nm.nit)
            polished = lbfgs(nm.x)
            iterations += int(polished.nit)
            if np.isfinite(polished.fun) and (polished.fun <= res.fun or (polished.success and better(polished, res))):
                res = polished
        if better(res, best):
            best = res
        if best.success:
            break
    return best, iterations


# Relative difference in the mean negative log-likelihood below which two optima are the same one.
_SAME_OPTIMUM = 1e-9
# Largest projected-gradient component (of the mean log-likelihood over log-parameters) at which a stalled
# line search counts as having reached the optimum.
_STALL_GTOL = 1e-5


def _stalled_at_optimum(neg_ll_and_grad, theta: np.ndarray) -> bool:
    """The projected gradient at ``theta`` is negligible: components pushing against a bound do not count."""
    f, grad = neg_ll_and_grad(theta)
    if not np.isfinite(f) or f >= 1e10:
        return False
    top = _LOG_BOUND - 1e-6
    projected = np.where(((theta >= top) & (grad < 0)) | ((theta <= -top) & (grad > 0)), 0.0, grad)
    return bool(np.all(np.abs(projected) <= _STALL_GTOL))


def _homogeneous_dropout(theta: np.ndarray) -> bool:
    """The BG/NBD optimum ran off along a -> inf, b -> inf with a/(a+b) fixed: the Beta mixing of the dropout
    probability collapsed to a point. That limit is a proper model (no heterogeneity in p), not a failure:
    exactly one of a and b is at its upper bound (b when p is small, a when it is large), the other is
    well above 1 and inside its bounds, and so are r and alpha."""
    log_r, log_alpha, log_a, log_b = theta
    top = _LOG_BOUND - 1e-6
    inside = all(abs(v) < top for v in (log_r, log_alpha))
    one_at_top = (log_a >= top) != (log_b >= top)
    other = log_a if log_b >= top else log_b
    return inside and one_at_top and math.log(10.0) < other < top


def _convergence(res, names: tuple[str, ...], max_iter: int, n_customers: int) -> tuple[bool, str]:
    at_bound = [n for n, v in zip(names, res.x) if abs(v) >= _LOG_BOUND - 1e-6]
    if not res.success:
        msg = str(res.message)
        if res.nit >= max_iter:
            msg = f"iteration limit {max_iter} reached: {msg}"
        return False, f"did not converge: {msg}"
    if at_bound:
        return False, (
            f"parameter(s) {', '.join(at_bound)} at the optimisation bound exp(+-{_LOG_BOUND:g}); "
            "the data cannot identify them (too few customers or no heterogeneity)"
        )
    if n_customers < len(names):
        # Fewer customers than parameters never identify the mixing distributions. Where the optimiser stops
        # on the flat likelihood depends on the SciPy release (at the bound, or earlier with "success"), so
        # this is decided from the data, not from where it stopped.
        return False, (
            f"{n_customers} customer(s) cannot identify the {len(names)} parameters {', '.join(names)} "
            "(too few customers)"
        )
    return True, "converged"


def fit_bgnbd(
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    initial: tuple[float, float, float, float] | None = None,
    max_iter: int = 1000,
) -> BGNBDFit | FitFailure:
    """Maximum-likelihood BG/NBD fit. Returns ``FitFailure`` when the data identify nothing.

    Fails (with the reason) when there are no customers or no customer ever bought again; then
    the purchase and dropout processes cannot be told apart.
    """
    x, tx, T_ = _rft(frequency, recency, T)
    n = int(x.shape[0])
    if n == 0:
        return FitFailure("bgnbd", "no customers to fit", 0)
    if not (x > 0).any():
        return FitFailure(
            "bgnbd", "no customer made a repeat transaction: purchase and dropout rates cannot be identified", n
        )
    (cx, ctx, cT), w = _compress(x, tx, T_)
    total = float(w.sum())

    def neg(theta: np.ndarray):
        params = np.exp(theta)
        with np.errstate(all="ignore"):
            ll, g = _bgnbd_terms(params, cx, ctx, cT, grad=True)
        f = -float(w @ ll) / total
        grad = -(g @ w) * params / total
        if not np.isfinite(f) or not np.all(np.isfinite(grad)):
            return 1e10, np.zeros_like(theta)
        return f, grad

    if initial is None:
        rate = float(x.sum()) / max(float(T_.sum()), 1e-9)
        alpha0 = 1.0 / max(rate, 1e-6)
        start = np.log([1.0, min(max(alpha0, 1e-3), 1e4), 1.0, 1.0])
        extra = [np.log([0.1, min(max(alpha0 / 10, 1e-3), 1e4), 0.5, 3.0]), np.zeros(4)]
    else:
        if len(initial) != 4 or not all(v > 0 for v in initial):
            raise ValueError("initial must be four positive numbers (r, alpha, a, b)")
        start, extra = np.log(np.asarray(initial, dtype=float)), []
    res, iterations = _minimize_log(neg, start, max_iter, extra)
    converged, message = _convergence(res, ("r", "alpha", "a", "b"), max_iter, n)
    r, alpha, a, b = (float(v) for v in np.exp(res.x))
    if not converged and res.success and _homogeneous_dropout(res.x):
        converged, message = True, (
            f"converged to the limit where every customer drops out after a purchase with the same "
            f"probability p = a/(a+b) = {a / (a + b):.4g}: a and b grow without bound and only their ratio is "
            f"identified (predictions do not depend on their scale there)")
    ll = float(w @ _bgnbd_terms(np.exp(res.x), cx, ctx, cT, grad=False)[0])
    return BGNBDFit(r, alpha, a, b, ll, n, converged, message, iterations)


def _params_of(fit: Any, n: int, model: str) -> np.ndarray:
    if isinstance(fit, FitFailure):
        raise ValueError(f"cannot predict with a failed {fit.model} fit: {fit.reason}")
    params = getattr(fit, "params", fit)
    p = np.asarray(list(params), dtype=float)
    if p.shape != (n,) or not np.all(p > 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"{model} params must be {n} positive finite numbers")
    return p


def probability_alive(fit: BGNBDFit | Iterable[float], frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """P(customer still active at T | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).

    Under BG/NBD a customer with no repeat purchase is always alive (dropout happens only
    right after a transaction).
    """
    params = _params_of(fit, 4, "BG/NBD")
    x, tx, T_ = _rft(frequency, recency, T)
    with np.errstate(all="ignore"):
        return _p_alive(params, x, tx, T_)


def _growth(r: float, alpha: float, a: float, b: float, x: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))].

    Evaluated through Euler's transformation 2F1(A,B;C;z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z):
    the bracket becomes 1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose upper parameters do
    not grow with x, so it stays accurate for heavy buyers and long horizons.
    """
    from scipy.special import hyp2f1
    z = t / (alpha + T + t)
    c = a + b + x - 1.0
    F = hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
    bracket = -np.expm1((a - 1.0) * np.log1p(-z)) * F + (1.0 - F)  # 1 - (1-z)^(a-1) F
    return (c / (a - 1.0)) * bracket


def _conditional_mean_quadrature(
    params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """E[Y(t) | x, t_x, T] without hypergeometric functions, for parameters where 2F1 fails.

    Given the history, an active customer's (lambda, p) are independent with
    lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x), and a customer with rates (lambda, p)
    makes (1 - exp(-lambda p t)) / p purchases in expectation in the next t. Integrating lambda
    out leaves h(p) = (1 - (1 + p t/(alpha+T))^-(r+x)) / p, bounded and smooth on [0, 1]; the
    p-integral is taken with Gauss-Legendre nodes in the Beta quantile scale (p = I^-1(v)).
    """
    from scipy.special import betaincinv
    r, alpha, a, b = params
    # p's coefficient of variation is below 1/sqrt(a): for a >= 100 the Beta is narrow, h is nearly
    # linear over it, and 32 nodes are as accurate as 128 are below (about 1e-5 at worst)
    nodes, weights = np.polynomial.legendre.leggauss(_QUAD_NODES if a < 100.0 else _QUAD_NODES // 4)
    v = 0.5 * (nodes + 1.0)
    w = 0.5 * weights
    shape = np.broadcast_shapes(np.shape(x), np.shape(tx), np.shape(T), np.shape(t))
    x, T, t = (np.broadcast_to(arr, shape).ravel() for arr in (x, T, t))
    ux, inv = np.unique(x, return_inverse=True)
    p_by_x = betaincinv(a, b + ux[:, None], v[None, :])  # (distinct x, nodes)
    out = np.empty(x.shape[0])
    # customers x horizons x nodes would be gigabytes for 100,000 customers over 36 months: integrate
    # a block of cells at a time
    step = max(1, _QUAD_CELLS // len(v))
    for start in range(0, x.shape[0], step):
        cells = slice(start, start + step)
        p_nodes = p_by_x[inv.reshape(-1)[cells]]
        k = (r + x[cells])[:, None]
        s = (t[cells] / (alpha + T[cells]))[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(p_nodes > 1e-300, -np.expm1(-k * np.log1p(p_nodes * s)) / p_nodes, k * s)
        out[cells] = h @ w
    return out.reshape(shape) * _p_alive(params, x.reshape(shape), tx, T.reshape(shape))


def _p_alive(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    from scipy.special import expit
    r, alpha, a, b = params
    pos = x > 0
    bx1 = np.where(pos, b + x - 1.0, 1.0)
    D = np.where(pos, math.log(a) - np.log(bx1) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)), -np.inf)
    return expit(-D)


def _conditional_mean(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray, t: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params
    # discounted_clv passes (1, n) customer rows against (periods, n) horizons: broadcast them so the
    # quadrature fallback below can pick the same cells out of every array
    x, tx, T, t = np.broadcast_arrays(x, tx, T, t)
    if a > _CLOSED_FORM_MAX_A:
        # the closed form is a difference of two nearly equal numbers times (a+b+x-1)/(a-1), and scipy's
        # 2F1 loses every digit there (0 or NaN at a = 200): integrate, which holds at any a and b
        with np.errstate(all="ignore"):
            out = _conditional_mean_quadrature(params, x, tx, T, t)
        return np.where((t > 0) & np.isfinite(out), np.clip(out, 0.0, None), 0.0)
    with np.errstate(all="ignore"):
        if abs(a - 1.0) < 1e-4:
            # (a+b+x-1)/(a-1) * bracket is 0/0 at a = 1; the function is smooth in a, so take
            # the mean of both sides (error O(h^2)).
            h = 1e-4
            g = 0.5 * (_growth(r, alpha, 1.0 - h, b, x, T, t) + _growth(r, alpha, 1.0 + h, b, x, T, t))
        else:
            g = _growth(r, alpha, a, b, x, T, t)
        out = g * _p_alive(params, x, tx, T)
        # 0 <= E[Y(t)] <= P(alive) (r+x) t / (alpha+T) (Bernoulli's inequality on h(p) above).
        # Outside that range (2F1 failing at extreme, e.g. boundary, parameters) integrate instead.
        upper = _p_alive(params, x, tx, T) * (r + x) * t / (alpha + T)
        bad = ~np.isfinite(out) | (out < -1e-9) | (out > upper * (1 + 1e-6) + 1e-12)
        if bad.any():
            out = np.array(out, dtype=float, copy=True)
            out[bad] = _conditional_mean_quadrature(params, x[bad], tx[bad], T[bad], t[bad])
        out = np.where(t > 0, np.clip(out, 0.0, None), 0.0)
    return np.where(np.isfinite(out), out, 0.0)


def expected_transactions(
    fit: BGNBDFit | Iterable[float], t: Any, frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected transactions in the next ``t`` time units for each customer.

    = (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
      / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))      (FHL 2005, eq. 10)
    ``t`` may be a scalar or an array broadcastable against the customers.
    """
    params = _params_of(fit, 4, "BG/NBD")
    x, tx, T_ = _rft(frequency, recency, T)
    t_arr = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t_arr)) or (t_arr < 0).any():
        raise ValueError("t must be finite and non-negative")
    x, tx, T_, t_arr = np.broadcast_arrays(x, tx, T_, t_arr)
    return _conditional_mean(params, x, tx, T_, t_arr)


def unconditional_expected_transactions(fit: BGNBDFit | Iterable[float], t: Any) -> np.ndarray:
    """E[X(t)] for a customer just acquired (x = 0, T = 0): repeat purchases in (0, t]."""
    t_arr = np.atleast_1d(np.asarray(t, dtype=float))
    zero = np.zeros_like(t_arr)
    return expected_transactions(fit, t_arr, zero, zero, zero)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


def _gg_terms(params: np.ndarray, x: np.ndarray, m: np.ndarray, grad: bool):
    """Log-likelihood of the mean spend m of x transactions:
    log L = -log B(px, q) + q log(gamma) + (px-1) log m + px log x - (px+q) log(gamma + m x)."""
    from scipy.special import betaln, digamma
    p, q, g_ = params
    px = p * x
    log_gmx = np.log(g_ + m * x)
    ll = -betaln(px, q) + q * math.log(g_) + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * log_gmx
    if not grad:
        return ll, None
    psi_pxq = digamma(px + q)
    g = np.empty((3,) + x.shape)
    g[0] = x * (psi_pxq - digamma(px) + np.log(m) + np.log(x) - log_gmx)
    g[1] = psi_pxq - digamma(q) + math.log(g_) - log_gmx
    g[2] = q / g_ - (px + q) / (g_ + m * x)
    return ll, g


def _spend_inputs(frequency: Any, monetary_value: Any) -> tuple[np.ndarray, np.ndarray]:
    x = _float_array(frequency, "frequency")
    m = _float_array(monetary_value, "monetary_value")
    if x.shape != m.shape:
        raise ValueError("frequency and monetary_value must have the same length")
    if (x < 0).any() or (np.round(x) != x).any():
        raise ValueError("column 'frequency' must hold non-negative whole numbers")
    if (m < 0).any():
        raise ValueError("column 'monetary_value' has a negative value")
    return x, m


def gamma_gamma_log_likelihood(params: Iterable[float], frequency: Any, monetary_value: Any) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood (customers with x > 0 and positive spend only)."""
    p = np.asarray(list(params), dtype=float)
    if p.shape != (3,) or not np.all(p > 0) or not np.all(np.isfinite(p)):
        raise ValueError("Gamma-Gamma params must be three positive numbers (p, q, gamma)")
    x, m = _spend_inputs(frequency, monetary_value)
    use = (x > 0) & (m > 0)
    return _gg_terms(p, x[use], m[use], grad=False)[0]


def fit_gamma_gamma(
    frequency: Any,
    monetary_value: Any,
    *,
    initial: tuple[float, float, float] | None = None,
    max_iter: int = 1000,
) -> GammaGammaFit | FitFailure:
    """Maximum-likelihood Gamma-Gamma fit on customers with frequency > 0.

    Repeat customers whose average spend is 0 (only free purchases) have zero likelihood under
    a Gamma spend distribution; they are left out and counted in ``n_excluded``. Returns a
    ``FitFailure`` when no customer is left to fit.
    """
    x, m = _spend_inputs(frequency, monetary_value)
    repeat = x > 0
    use = repeat & (m > 0)
    n_excluded = int((repeat & ~use).sum())
    n = int(use.sum())
    if x.shape[0] == 0:
        return FitFailure("gamma_gamma", "no customers to fit", 0)
    if not repeat.any():
        return FitFailure(
            "gamma_gamma", "no customer made a repeat transaction: the spend model needs frequency > 0", 0
        )
    if n == 0:
        return FitFailure("gamma_gamma", "every repeat customer's average spend is 0", 0)
    (cx, cm), w = _compress(x[use], m[use])
    total = float(w.sum())

    def neg(theta: np.ndarray):
        params = np.exp(theta)
        with np.errstate(all="ignore"):
            ll, g = _gg_terms(params, cx, cm, grad=True)
        f = -float(w @ ll) / total
        grad = -(g @ w) * params / total
        if not np.isfinite(f) or not np.all(np.isfinite(grad)):
            return 1e10, np.zeros_like(theta)
        return f, grad

    mean_spend = float(np.average(cm, weights=w))
    if initial is None:
        # p = 1, q = 2 give a population mean of gamma; start it at the observed mean.
        start = np.log([1.0, 2.0, max(mean_spend, 1e-6)])
        extra = [np.log([5.0, 5.0, max(4.0 * mean_spend / 5.0, 1e-6)]), np.zeros(3)]
    else:
        if len(initial) != 3 or not all(v > 0 for v in initial):
            raise ValueError("initial must be three positive numbers (p, q, gamma)")
        start, extra = np.log(np.asarray(initial, dtype=float)), []
    res, iterations = _minimize_log(neg, start, max_iter, extra)
    converged, message = _convergence(res, ("p", "q", "gamma"), max_iter, n)
    p, q, g_ = (float(v) for v in np.exp(res.x))
    ll = float(w @ _gg_terms(np.exp(res.x), cx, cm, grad=False)[0])
    return GammaGammaFit(p, q, g_, ll, n, n_excluded, mean_spend, converged, message, iterations)


def expected_average_spend(fit: GammaGammaFit | Iterable[float], frequency: Any, monetary_value: Any) -> np.ndarray:
    """E[M | x, m_x] = p (gamma + x m_x) / (p x + q - 1), a weighted mean of the population mean
    p gamma / (q-1) and the customer's own m_x (weight p x / (p x + q - 1) on m_x).

    Where the denominator is not positive (q <= 1, so the population mean is infinite) the
    customer's own m_x is used, or, for x = 0, ``fit.mean_spend`` (observed mean spend).
    """
    p, q, g_ = _params_of(fit, 3, "Gamma-Gamma")
    x, m = _spend_inputs(frequency, monetary_value)
    denom = p * x + q - 1.0
    fallback_mean = float(getattr(fit, "mean_spend", 0.0))
    fallback = np.where(x > 0, m, fallback_mean)
    safe = denom > 1e-12
    out = np.where(safe, p * (g_ + x * m) / np.where(safe, denom, 1.0), fallback)
    return np.where(np.isfinite(out), out, fallback)


# --------------------------------------------------------------------------------------------
# Customer lifetime value
# --------------------------------------------------------------------------------------------


def discounted_clv(
    bgnbd: BGNBDFit | Iterable[float],
    gamma_gamma: GammaGammaFit | Iterable[float],
    frequency: Any,
    recency: Any,
    T: Any,
    monetary_value: Any,
    *,
    periods: int,
    period_length: float,
    discount_rate: float,
    margin: float = 1.0,
) -> np.ndarray:
    """Discounted expected value of each customer's purchases over the next ``periods`` periods.

    CLV = margin * E[M] * sum_{k=1..periods} (E[Y(k L)] - E[Y((k-1) L)]) / (1 + d)^k

    with L = ``period_length`` in the summary's time unit (e.g. 365.2425/12/7 weeks for months),
    d = ``discount_rate`` per period, E[Y] from BG/NBD and E[M] from Gamma-Gamma.
    """
    if int(periods) != periods or periods < 0:
        raise ValueError("periods must be a non-negative whole number")
    if not (math.isfinite(period_length) and period_length > 0):
        raise ValueError("period_length must be positive")
    if not (math.isfinite(discount_rate) and discount_rate > -1):
        raise ValueError("discount_rate must be greater than -1")
    if not math.isfinite(margin):
        raise ValueError("margin must be finite")
    params = _params_of(bgnbd, 4, "BG/NBD")
    x, tx, T_ = _rft(frequency, recency, T)
    spend = expected_average_spend(gamma_gamma, x, monetary_value)
    periods = int(periods)
    if periods == 0 or x.shape[0] == 0:
        return np.zeros(x.shape[0])
    k = np.arange(1, periods + 1, dtype=float)
    ends = k[:, None] * period_length
    cum = _conditional_mean(params, x[None, :], tx[None, :], T_[None, :], np.broadcast_to(ends, (periods, x.shape[0])))
    per_period = np.diff(np.vstack([np.zeros((1, x.shape[0])), cum]), axis=0)
    discount = (1.0 + discount_rate) ** -k
    value = margin * spend * (discount @ per_period)
    return np.where(np.isfinite(value), value, 0.0)


def customer_lifetime_value(
    bgnbd: BGNBDFit,
    gamma_gamma: GammaGammaFit,
    summary: Summary,
    *,
    horizon: int = 12,
    period: str | float = "M",
    discount_rate: float = 0.01,
    margin: float = 1.0,
) -> np.ndarray:
    """``discounted_clv`` for every customer of ``summary`` over ``horizon`` periods of ``period``
    ("W", "M", "Y" or days), ``discount_rate`` per period."""
    length = _period_days(period) / summary.unit_days
    return discounted_clv(
        bgnbd, gamma_gamma, summary.frequency, summary.recency, summary.T, summary.monetary_value,
        periods=horizon, period_length=length, discount_rate=discount_rate, margin=margin,
    )


def seed_clv(
    first_purchase: float,
    acquisition_cost: float,
    yearly_revenue: float,
    interest_rate: float,
    years: int,
) -> float:
    """The brief's formula: V = (P0 - C0) + sum_{n=1..N} R / (1+i)^n.

    P0 ``first_purchase``, C0 ``acquisition_cost``, R ``yearly_revenue`` (expected added revenue
    per year), i ``interest_rate`` (per year, > -1), N ``years`` (whole, >= 0).
    """
    for name, v in (("first_purchase", first_purchase), ("acquisition_cost", acquisition_cost),
                    ("yearly_revenue", yearly_revenue), ("interest_rate", interest_rate)):
        if not math.isfinite(float(v)):
            raise ValueError(f"{name} must be finite")
    if interest_rate <= -1:
        raise ValueError("interest_rate must be greater than -1")
    if int(years) != years or years < 0:
        raise ValueError("years must be a non-negative whole number")
    annuity = sum(1.0 / (1.0 + interest_rate) ** n for n in range(1, int(years) + 1))
    return float(first_purchase - acquisition_cost + yearly_revenue * annuity)
