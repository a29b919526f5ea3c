"""The core's metrics, registered through the same ``trellis_metrics`` hook a plugin uses.

Every metric applies :func:`core.services.permissions.customer_visibility`: a rep's numbers cover only
their customers, a manager's their team's (and the unowned ones), an admin's every customer. Their exact
definitions are in ``docs/metrics.md`` and in each compute function's docstring.
"""
from __future__ import annotations

from core.metrics import Metric
from core.metrics_core.customers import CUSTOMER_GROUPS, customers_count, revenue
from core.metrics_core.funnel import funnel
from core.metrics_core.reps import rep_kpis
from core.metrics_core.sql import PERIOD_GROUPS

__all__ = ["CORE_METRICS", "CUSTOMER_GROUPS", "PERIOD_GROUPS"]

CORE_METRICS = [
    Metric("customers", "Customers", "客户数", customers_count,
           description="Live customers you may see, created in the period (any time when it is open). "
                       "Group by a customer attribute (its current value), or by period:day/week/month "
                       "for new customers per period (by creation time, UTC).",
           group_by=CUSTOMER_GROUPS + PERIOD_GROUPS),
    Metric("revenue", "Revenue", "销售额", revenue, unit="currency",
           description="Sum of the amounts of done purchase interactions that occurred in the period, on "
                       "live customers you may see; extra.purchases counts them. Group by a customer "
                       "attribute (its current value) or by period:day/week/month (by occurrence, UTC).",
           group_by=CUSTOMER_GROUPS + PERIOD_GROUPS),
    Metric("funnel", "Sales funnel", "销售漏斗", funnel,
           description="Customers in each lifecycle stage now; extra: customers that entered the stage in "
                       "the period, how many of them later reached the next stage (conversion_rate), and "
                       "the median days spent in the stage by moves out of it in the period.",
           group_by=()),
    Metric("rep_kpis", "Sales rep KPIs", "销售人员绩效", rep_kpis,
           description="Per rep over the period: deals closed (value); extra: calls, visits, customers "
                       "reached, meetings booked and held, referrals, appointment success rate, signing "
                       "rate. A rep sees their own row, a manager their team's, an admin everyone's.",
           group_by=PERIOD_GROUPS),
]
