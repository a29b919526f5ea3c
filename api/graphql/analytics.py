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
        reason: str = strawberry.field(description="Why the flag is raised, in English, with the numbers (e.g. spend down 60 % against the customer's usual level).")

    @registry.type("CustomerRfm")
    class CustomerRfm:
        """Recency, frequency, monetary over the analytics window, scored 1–5 by quintiles."""

        recency_days: Optional[int] = strawberry.field(description="Days since the last purchase (all history); null with no purchase yet (see `reason`).")
        frequency: Optional[int] = strawberry.field(description="Purchase days in the analytics window (365 days by default); null with no purchase yet.")
        monetary: Optional[Money] = strawberry.field(description="Purchases minus refunds dated in the window, not below 0, in the app's currency; null with no purchase yet.")
        r_score: Optional[int] = strawberry.field(description="Recency score 1–5 (5: most recent) by quintile among the customers with a purchase; null with no purchase yet.")
        f_score: Optional[int] = strawberry.field(description="Frequency score 1–5 (5: most frequent) by quintile; null with no purchase yet.")
        m_score: Optional[int] = strawberry.field(description="Monetary score 1–5 (5: highest spend) by quintile; null with no purchase yet.")
        score: Optional[str] = strawberry.field(description="The RFM cell, e.g. \"545\".")
        segment: Optional[str] = strawberry.field(description="Named segment key (champions, at_risk …).")
        label: Optional[registry.ref("Label")] = strawberry.field(description="The segment's name.")
        reason: Optional[str] = strawberry.field(description="Why the numbers are null, when they are.")

    @registry.type("CustomerValueTier")
    class CustomerValueTier:
        """大客户/重要客户/普通客户/小客户 by cumulative share of revenue."""

        tier: Optional[registry.vocabulary_enum("value_tier")] = strawberry.field(
            description="Key, major, regular or small.")
        label: Optional[registry.ref("Label")] = strawberry.field(description="The tier's name.")
        revenue_share: Optional[float] = strawberry.field(description="The share (0–1) of all window revenue brought by the customers ranked above this one; null with no purchase yet.")
        reason: Optional[str] = strawberry.field(description="Why the tier is null, when it is.")

    @registry.type("CustomerSegmentInfo")
    class CustomerSegmentInfo:
        """The customer's k-means segment and what distinguishes it."""

        id: Optional[strawberry.ID] = strawberry.field(description="The segment's id (an AnalyticsSegment); null when the customer is in none (see `reason`).")
        number: Optional[int] = strawberry.field(description="The segment's number in the last refresh, 1 for the highest mean spend.")
        name: Optional[str] = strawberry.field(description="The segment's name.")
        profile: Optional[registry.ref("Label")] = strawberry.field(description="What sets the segment apart.")
        reason: Optional[str] = strawberry.field(description="Why the segment is null, when it is (no purchase yet, no segmentation run).")

    @registry.type("CustomerClv")
    class CustomerClv:
        """Lifetime value by the seed formula and by BG/NBD + Gamma-Gamma."""

        seed: Optional[Money] = strawberry.field(description="Lifetime value by the brief's seed formula, in the app's currency; null with no purchase yet (see `seedReason`).")
        seed_reason: Optional[str] = strawberry.field(description="Why `seed` is null, when it is.")
        model: Optional[Money] = strawberry.field(description="Lifetime value by BG/NBD + Gamma-Gamma over the configured horizon, in the app's currency; null when the model cannot tell (see `modelReason`).")
        model_reason: Optional[str] = strawberry.field(description="Why `model` is null, when it is (no or one purchase only, a fit that did not converge).")
        p_alive: Optional[float] = strawberry.field(description="The probability (0–1) that the customer is still active (BG/NBD); null when the model cannot tell.")
        expected_transactions: Optional[float] = strawberry.field(description="Expected purchases over the horizon (BG/NBD); null when the model cannot tell.")
        expected_value: Optional[Money] = strawberry.field(description="What the win-back list ranks by: the model value when both fits converged, else the seed value; 0 without purchases.")

    @registry.type("ChurnRisk")
    class ChurnRisk:
        """The churn warning (流失预警): flags with reasons, since when, and the owner's task."""

        at_risk: bool = strawberry.field(description="The customer is on the churn watchlist (at least one flag).")
        flags: list[registry.ref("ChurnFlag")] = strawberry.field(description="Each reason it is flagged; empty when not at risk.")
        since: Optional[dt.datetime] = strawberry.field(description="When it was first flagged (UTC, ISO 8601); null when not at risk.")
        task_id: Optional[strawberry.ID] = strawberry.field(description="The id of the planned call task made for the owner; null when none was made.")
        reason: Optional[str] = strawberry.field(description="Why the warning could not be computed, when it could not.")


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
