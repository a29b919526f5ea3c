"""``customers`` (how many, and new ones per period) and ``revenue`` (done purchases), sliceable by the
customer's attributes or by calendar period."""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import func, select

from core import db
from core.metrics import MetricQuery, MetricRow
from core.metrics_core.sql import (
    PERIOD_KEY, VOCABULARIES, bucket_key, buckets, grain_of, in_period, labels_for, period_start, sort_key,
)
from core.models import Customer, Interaction, InteractionStatus, User
from core.services.permissions import customer_is_live, customer_visibility, sees_every_customer

#: Customer attributes both metrics group by: the customer's *current* value of each.
CUSTOMER_GROUPS = ("stage", "industry", "region", "source", "level", "kind", "owner_id")
PURCHASE_KIND = "purchase"


def _group_column(query: MetricQuery, timestamp: Any):
    grain = grain_of(query.group_by)
    return period_start(grain, timestamp) if grain else getattr(Customer, query.group_by)


def _owner_names(ids: list[Any]) -> dict[str, str]:
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    rows = db.session().execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {str(uid): name or email for uid, name, email in rows}


def grouped_rows(query: MetricQuery, data: dict[Any, tuple[Any, dict]],
                 zero: Callable[[], tuple[Any, dict]]) -> list[MetricRow]:
    """Rows of a grouped metric from ``{raw group value: (value, extra)}``, in a stable order.

    Period groups are keyed by the period's first day; with both ``from`` and ``to`` every period in
    between gets a row (``zero()`` where nothing happened). Vocabulary groups carry their en/zh-CN labels
    in ``extra``; ``owner_id`` groups the owner's name.
    """
    grain = grain_of(query.group_by)
    if grain:
        by_key = {bucket_key(g): v for g, v in data.items()}
        rows = []
        for key in sorted(set(buckets(query, grain) or ()) | set(by_key), key=sort_key):
            value, extra = by_key.get(key) or zero()
            rows.append(MetricRow(value=value, group={PERIOD_KEY: key}, extra=dict(extra)))
        return rows
    labels = labels_for(VOCABULARIES[query.group_by]) if query.group_by in VOCABULARIES else {}
    owners = _owner_names(list(data)) if query.group_by == "owner_id" else {}
    rows = []
    for raw in sorted(data, key=sort_key):
        key = str(raw) if raw is not None else None
        value, extra = data[raw]
        extra = {**labels.get(key, {}), **({"owner": owners.get(key)} if query.group_by == "owner_id" else {}),
                 **extra}
        rows.append(MetricRow(value=value, group={query.group_by: key}, extra=extra))
    return rows


def customers_count(query: MetricQuery) -> list[MetricRow]:
    """Live customers the caller may see, created in the period when one is given (so, grouped by
    ``period:*``, the new customers of each day / week / month)."""
    conditions = [customer_visibility(query.actor), Customer.deleted_at.is_(None),
                  *in_period(Customer.created_at, query)]
    count = func.count(Customer.id)
    if not query.group_by:
        return [MetricRow(value=int(db.session().scalar(select(count).where(*conditions)) or 0))]
    column = _group_column(query, Customer.created_at)
    data = {g: (int(n), {}) for g, n in db.session().execute(select(column, count).where(*conditions).group_by(column))}
    return grouped_rows(query, data, lambda: (0, {}))


def _money(value: Any) -> float:
    return round(float(value or 0), 2)


def revenue(query: MetricQuery) -> list[MetricRow]:
    """The sum of the amounts of done purchase interactions that occurred in the period, on live
    customers the caller may see; ``extra.purchases`` counts them."""
    conditions = [Interaction.deleted_at.is_(None), Interaction.kind == PURCHASE_KIND,
                  Interaction.status == InteractionStatus.DONE.value, *in_period(Interaction.occurred_at, query)]
    measures = (func.coalesce(func.sum(Interaction.amount), 0), func.count(Interaction.id))
    base = select(*measures).select_from(Interaction)
    if query.group_by in CUSTOMER_GROUPS or not sees_every_customer(query.actor):
        base = base.join(Customer, Customer.id == Interaction.customer_id)
        conditions += [customer_visibility(query.actor), Customer.deleted_at.is_(None)]
    else:  # nothing read from the customer but whether it is live: the bin's few ids, not a join of every one
        conditions.append(customer_is_live(Interaction.customer_id))
    if not query.group_by:
        total, count = db.session().execute(base.where(*conditions)).one()
        return [MetricRow(value=_money(total), extra={"purchases": int(count or 0)})]
    column = _group_column(query, Interaction.occurred_at)
    stmt = base.add_columns(column).where(*conditions).group_by(column)
    data = {g: (_money(total), {"purchases": int(count)}) for total, count, g in db.session().execute(stmt)}
    return grouped_rows(query, data, lambda: (0.0, {"purchases": 0}))
