"""Customer analytics on the GraphQL ``Customer``: ``rfm``, ``valueTier``, ``segment``, ``clv`` and
``churnRisk``, contributed by the core through ``trellis_graphql_types`` / ``trellis_graphql_type_fields``
like any plugin. Resolvers only translate: the numbers come from ``core.services.analytics`` (stored by
the last refresh, scoped to the caller), two batched queries for a whole list of customers."""
# no `from __future__ import annotations`: the type classes use registry.ref() in their annotations

import datetime as dt
from typing import Any, Optional

import strawberry

from api.graphql.label import fold_labels
from api.graphql.money import Money
from core.services import analytics


def types(registry) -> None:
    @registry.type("ChurnFlag")
    class ChurnFlag:
        """One reason a customer is on the churn watchlist."""

        flag: str = strawberry.field(description="drop, gap or p_alive (docs/analytics.md).")
        reason: str

    @registry.type("CustomerRfm")
    class CustomerRfm:
        """Recency, frequency, monetary over the analytics window, scored 1–5 by quintiles."""

        recency_days: Optional[int]
        frequency: Optional[int]
        monetary: Optional[Money]
        r_score: Optional[int]
        f_score: Optional[int]
        m_score: Optional[int]
        score: Optional[str] = strawberry.field(description="The RFM cell, e.g. \"545\".")
        segment: Optional[str] = strawberry.field(description="Named segment key (champions, at_risk …).")
        label: Optional[registry.ref("Label")] = strawberry.field(description="The segment's name.")
        reason: Optional[str] = strawberry.field(description="Why the numbers are null, when they are.")

    @registry.type("CustomerValueTier")
    class CustomerValueTier:
        """大客户/重要客户/普通客户/小客户 by cumulative share of revenue."""

        tier: Optional[str] = strawberry.field(description="key, major, regular or small.")
        label: Optional[registry.ref("Label")] = strawberry.field(description="The tier's name.")
        revenue_share: Optional[float]
        reason: Optional[str]

    @registry.type("CustomerSegmentInfo")
    class CustomerSegmentInfo:
        """The customer's k-means segment and what distinguishes it."""

        id: Optional[strawberry.ID]
        number: Optional[int]
        name: Optional[str]
        profile: Optional[registry.ref("Label")] = strawberry.field(description="What distinguishes the segment.")
        reason: Optional[str]

    @registry.type("CustomerClv")
    class CustomerClv:
        """Lifetime value by the seed formula and by BG/NBD + Gamma-Gamma."""

        seed: Optional[Money]
        seed_reason: Optional[str]
        model: Optional[Money]
        model_reason: Optional[str]
        p_alive: Optional[float]
        expected_transactions: Optional[float]
        expected_value: Optional[Money]

    @registry.type("ChurnRisk")
    class ChurnRisk:
        """The churn warning (流失预警): flags with reasons, since when, and the owner's task."""

        at_risk: bool
        flags: list[registry.ref("ChurnFlag")]
        since: Optional[dt.datetime]
        task_id: Optional[strawberry.ID]
        reason: Optional[str]


def type_fields(registry) -> dict:
    module = registry.module

    def described(root: Any, info: strawberry.Info) -> dict:
        user = info.context.user
        row = info.context.loaders.load("analytics.by_customer", lambda ids: analytics.for_customers(user, ids),
                                        root.id)
        segment = (info.context.loaders.load("analytics.segment", analytics.segments_by_id, row.segment_id)
                   if row is not None else None)
        return analytics.describe(root.id, row, segment)

    def build(type_name: str, values: dict) -> Any:
        cls = getattr(module, type_name)
        names = {f.python_name for f in cls.__strawberry_definition__.fields}
        return cls(**{k: v for k, v in fold_labels(values).items() if k in names})

    def rfm(root: strawberry.Parent[object], info: strawberry.Info) -> Optional[registry.ref("CustomerRfm")]:
        return build("CustomerRfm", described(root, info)["rfm"])

    def value_tier(root: strawberry.Parent[object], info: strawberry.Info) -> Optional[registry.ref("CustomerValueTier")]:
        return build("CustomerValueTier", described(root, info)["value_tier"])

    def segment(root: strawberry.Parent[object], info: strawberry.Info) -> Optional[registry.ref("CustomerSegmentInfo")]:
        return build("CustomerSegmentInfo", described(root, info)["segment"])

    def clv(root: strawberry.Parent[object], info: strawberry.Info) -> Optional[registry.ref("CustomerClv")]:
        return build("CustomerClv", described(root, info)["clv"])

    def churn_risk(root: strawberry.Parent[object], info: strawberry.Info) -> Optional[registry.ref("ChurnRisk")]:
        values = dict(described(root, info)["churn"])
        values["flags"] = [build("ChurnFlag", f) for f in values["flags"]]
        return build("ChurnRisk", values)

    return {"Customer": {
        "rfm": strawberry.field(resolver=rfm, description="RFM scores and segment (last analytics refresh)."),
        "value_tier": strawberry.field(resolver=value_tier, description="Value tier by revenue share."),
        "segment": strawberry.field(resolver=segment, description="k-means segment and its profile."),
        "clv": strawberry.field(resolver=clv, description="Lifetime value: seed formula and BG/NBD + Gamma-Gamma."),
        "churn_risk": strawberry.field(resolver=churn_risk, description="Churn warning flags and their reasons."),
    }}
