"""Customer analytics: pure numerical functions (no database access).

``clv``: BG/NBD + Gamma-Gamma customer-lifetime-value models and the seed CLV formula.
``rfm``: recency / frequency / monetary scores and named segments.
"""
from core.analytics.clv import (
    PERIOD_DAYS,
    BGNBDFit,
    FitFailure,
    GammaGammaFit,
    Summary,
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
from core.analytics.rfm import (
    SEGMENT_GRID,
    SEGMENTS,
    RFMTable,
    rfm,
    rfm_from_summary,
    rfm_score,
    rfm_segment,
)

__all__ = [
    "PERIOD_DAYS",
    "BGNBDFit",
    "FitFailure",
    "GammaGammaFit",
    "Summary",
    "bgnbd_log_likelihood",
    "customer_lifetime_value",
    "discounted_clv",
    "expected_average_spend",
    "expected_transactions",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "probability_alive",
    "seed_clv",
    "summarize",
    "unconditional_expected_transactions",
    "SEGMENT_GRID",
    "SEGMENTS",
    "RFMTable",
    "rfm",
    "rfm_from_summary",
    "rfm_score",
    "rfm_segment",
]
