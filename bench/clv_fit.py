"""Benchmark: summarise + fit BG/NBD and Gamma-Gamma on simulated customers.

Simulates the models' own generative process, so the recovered parameters can be compared with
the true ones:
  * each customer is acquired (first purchase) on a uniformly random day of the first 12 weeks;
  * while active they buy as a Poisson process with rate lambda ~ Gamma(r, alpha) per week, and
    right after every repeat purchase they drop out with probability p ~ Beta(a, b) (never
    right after the first: a customer with no repeat purchase is alive);
  * every purchase is worth z ~ Gamma(p_spend, nu) with nu ~ Gamma(q, gamma) per customer.
Purchase times are truncated to whole days (so two purchases on one day merge, as in real data),
the calibration period is the first 52 weeks and the next 26 weeks are a holdout used to compare
predicted with actual purchase counts.

Run: python bench/clv_fit.py [--customers 100000] [--seed 20260523]. Prints numbers; not a test.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.analytics import (  # noqa: E402
    customer_lifetime_value,
    expected_transactions,
    fit_bgnbd,
    fit_gamma_gamma,
    summarize,
)

TRUE_BG = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
TRUE_GG = {"p": 6.0, "q": 4.0, "gamma": 15.0}
START = np.datetime64("2024-01-01")
ACQUISITION_DAYS = 84
CALIBRATION_DAYS = 52 * 7
HOLDOUT_DAYS = 26 * 7


def simulate(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lam = rng.gamma(TRUE_BG["r"], 1.0 / TRUE_BG["alpha"], n)  # per week
    drop = rng.beta(TRUE_BG["a"], TRUE_BG["b"], n)
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["gamma"], n)
    birth = rng.integers(0, ACQUISITION_DAYS, n)  # day of first purchase
    horizon_weeks = (CALIBRATION_DAYS + HOLDOUT_DAYS - birth) / 7.0
    # The dropout coin is tossed after each repeat purchase, so the k-th repeat is the last one
    # with k ~ Geometric(p) on {1, 2, ...}. Poisson events on (0, horizon] arrive as sorted
    # uniforms given their count; dropout keeps only the first k of them.
    allowed = rng.geometric(drop)
    events = rng.poisson(lam * horizon_weeks)
    repeats = np.minimum(events, allowed)
    # To keep the first `repeats` of `events` sorted uniforms exactly, draw all `events` of them.
    owner = np.repeat(np.arange(n), events)
    u = rng.random(owner.shape[0])
    order = np.lexsort((u, owner))
    owner, u = owner[order], u[order]
    rank = np.arange(owner.shape[0]) - np.repeat(np.cumsum(events) - events, events)
    keep = rank < repeats[owner]
    owner, u = owner[keep], u[keep]
    repeat_day = birth[owner] + np.floor(u * horizon_weeks[owner] * 7.0).astype(np.int64)
    cust = np.concatenate([np.arange(n), owner])
    day = np.concatenate([birth, repeat_day])
    amount = rng.gamma(TRUE_GG["p"], 1.0 / nu[cust])
    return {"customer_id": cust, "date": START + day.astype("timedelta64[D]"), "amount": np.round(amount, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20260523)
    args = parser.parse_args()

    t0 = time.perf_counter()
    data = simulate(args.customers, args.seed)
    t_sim = time.perf_counter() - t0
    calibration_end = START + np.timedelta64(CALIBRATION_DAYS - 1, "D")

    t0 = time.perf_counter()
    summary = summarize(data, calibration_end)
    t_sum = time.perf_counter() - t0
    t0 = time.perf_counter()
    bg = fit_bgnbd(summary.frequency, summary.recency, summary.T)
    t_bg = time.perf_counter() - t0
    t0 = time.perf_counter()
    gg = fit_gamma_gamma(summary.frequency, summary.monetary_value)
    t_gg = time.perf_counter() - t0
    t0 = time.perf_counter()
    clv = customer_lifetime_value(bg, gg, summary, horizon=12, period="M", discount_rate=0.01)
    t_clv = time.perf_counter() - t0

    print(f"customers {len(summary):,}, transactions (rows) {data['amount'].shape[0]:,}, "
          f"repeat customers {(summary.frequency > 0).sum():,}; simulated in {t_sim:.2f} s")
    print(f"summarize {t_sum:.3f} s | fit BG/NBD {t_bg:.3f} s | fit Gamma-Gamma {t_gg:.3f} s | "
          f"total summarise+fit {t_sum + t_bg + t_gg:.3f} s | 12-month CLV {t_clv:.3f} s")
    print(f"BG/NBD converged={bg.converged} ({bg.message}), log-likelihood {bg.log_likelihood:.2f}, "
          f"{bg.iterations} iterations")
    for name, true in TRUE_BG.items():
        fitted = getattr(bg, name)
        print(f"  {name:6s} true {true:8.4f}  fitted {fitted:8.4f}  ({100 * (fitted / true - 1):+.1f} %)")
    print(f"Gamma-Gamma converged={gg.converged} ({gg.message}), on {gg.n_customers:,} repeat customers, "
          f"{gg.iterations} iterations")
    for name, true in TRUE_GG.items():
        fitted = getattr(gg, name)
        print(f"  {name:6s} true {true:8.4f}  fitted {fitted:8.4f}  ({100 * (fitted / true - 1):+.1f} %)")

    # Holdout: predicted vs actual repeat transactions (distinct purchase days) in the next 26 weeks.
    day = (data["date"] - START).astype(np.int64)
    hold = (day >= CALIBRATION_DAYS) & (day < CALIBRATION_DAYS + HOLDOUT_DAYS)
    actual = np.unique(np.column_stack([data["customer_id"][hold], day[hold]]), axis=0).shape[0]
    predicted = expected_transactions(bg, HOLDOUT_DAYS / 7.0, summary.frequency, summary.recency, summary.T).sum()
    print(f"holdout 26 weeks: predicted {predicted:,.0f} transactions, actual {actual:,} "
          f"({100 * (predicted / actual - 1):+.1f} %)")
    print(f"12-month CLV (1 %/month): mean {clv.mean():.2f}, median {np.median(clv):.2f}, max {clv.max():.2f}")


if __name__ == "__main__":
    main()
