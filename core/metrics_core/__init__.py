"""The core's metrics, registered through the same ``trellis_metrics`` hook a plugin uses."""
from __future__ import annotations

from sqlalchemy import func, select

from core import db
from core.metrics import Metric, MetricQuery, MetricRow
from core.models import Customer, Interaction, InteractionStatus
from core.services.permissions import customer_visibility

CUSTOMER_GROUPS = ("stage", "industry", "region", "source", "level", "kind", "owner_id")


def _rows(stmt, query: MetricQuery, value_cast=float) -> list[MetricRow]:
    if query.group_by:
        return [MetricRow(value=value_cast(v or 0), group={query.group_by: str(g) if g is not None else None})
                for g, v in db.session().execute(stmt)]
    return [MetricRow(value=value_cast(db.session().scalar(stmt) or 0))]


def customers_count(query: MetricQuery) -> list[MetricRow]:
    """Live customers the caller may see, created in the period (when one is given)."""
    stmt = select(func.count(Customer.id)).where(customer_visibility(query.actor), Customer.deleted_at.is_(None))
    if query.start:
        stmt = stmt.where(Customer.created_at >= query.start)
    if query.end:
        stmt = stmt.where(Customer.created_at <= query.end)
    if query.group_by:
        column = getattr(Customer, query.group_by)
        stmt = stmt.add_columns(column).with_only_columns(column, func.count(Customer.id)).group_by(column).order_by(column)
    return _rows(stmt, query, int)


def revenue(query: MetricQuery) -> list[MetricRow]:
    """Sum of the amounts of done purchase interactions in the period."""
    stmt = (
        select(func.coalesce(func.sum(Interaction.amount), 0))
        .join(Customer, Customer.id == Interaction.customer_id)
        .where(customer_visibility(query.actor), Customer.deleted_at.is_(None), Interaction.deleted_at.is_(None),
               Interaction.kind == "purchase", Interaction.status == InteractionStatus.DONE.value)
    )
    if query.start:
        stmt = stmt.where(Interaction.occurred_at >= query.start)
    if query.end:
        stmt = stmt.where(Interaction.occurred_at <= query.end)
    if query.group_by:
        column = getattr(Customer, query.group_by)
        stmt = stmt.with_only_columns(column, func.coalesce(func.sum(Interaction.amount), 0)).group_by(column).order_by(column)
    return _rows(stmt, query, float)


CORE_METRICS = [
    Metric("customers", "Customers", "客户数", customers_count,
           description="Live customers you may see, created in the period.", group_by=CUSTOMER_GROUPS),
    Metric("revenue", "Revenue", "销售额", revenue, unit="currency",
           description="Sum of done purchase interactions in the period.",
           group_by=("stage", "industry", "region", "source", "level", "kind", "owner_id")),
]
