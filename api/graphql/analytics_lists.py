"""The analytics and audit lists REST serves under ``/analytics`` and ``/audit``, on GraphQL: the latest
run (``analyticsRun``), the segments (``analyticsSegments``), the win-back list (``winBack``) and turning it
into tasks (``createWinBackTasks``), a refresh (``refreshAnalytics``), a customer's satisfaction answers
(``Customer.satisfaction``) and the audit trail (``auditEntries``). Resolvers only translate: every rule and
permission check is in ``core.services.analytics`` and ``core.services.audit``, as for REST."""
# no `from __future__ import annotations`: the type classes use registry.ref() in their annotations

import datetime as dt
from typing import Annotated, Any, Optional

import strawberry

from api.graphql.conventions import bounded_list
from api.graphql.inputs import field_names, input_to_dict, json_field
from api.graphql.label import fold_labels
from api.graphql.money import Money
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, page_request
from core.errors import NotFound
from core.models.analytics import AnalyticsRun as AnalyticsRunModel
from core.models.analytics import CustomerSegment
from core.models.audit import AuditEntry as AuditEntryModel
from core.services import analytics, audit


def types(registry) -> None:
    @registry.type("AnalyticsRun", node=NodeSource(AnalyticsRunModel, get=analytics.get_run))
    class AnalyticsRun:
        """One analytics refresh: when, how, and the fitted model parameters (docs/analytics.md). A queued
        refresh is read by id with `node(id:)` (admins) until its status is OK, PARTIAL or FAILED."""

        id: strawberry.ID
        started_at: dt.datetime = strawberry.field(description=(
            "When the refresh started (UTC, ISO 8601); while it is queued, when it was asked for."))
        finished_at: Optional[dt.datetime] = strawberry.field(description="When it finished (UTC, ISO 8601); null while it runs.")
        status: registry.vocabulary_enum("analytics_run_status") = strawberry.field(description=(
            "QUEUED (waiting for the worker), RUNNING, OK, PARTIAL with the reason in `message`, or FAILED "
            "with the error in `message` (a failed attempt is tried again: the run is QUEUED meanwhile)."))
        request_id: Optional[str] = strawberry.field(description=(
            "The id (X-Request-Id) of the request that queued the refresh: what it writes carries it."))
        trigger: str = strawberry.field(description="What started it: schedule, manual (CLI) or api.")
        as_of: dt.date = strawberry.field(description=(
            "The day (UTC) the customers were analysed as of: purchases up to its end counted (the day the "
            "refresh ran, unless `refreshAnalytics(input: {asOf})` gave another)."))
        calibration_start: Optional[dt.date] = strawberry.field(description=(
            "The first day of purchases the CLV models were fitted on; null: all history."))
        current: bool = strawberry.field(description=(
            "Whether the customers' stored numbers are this run's: they are the last refresh started's, which "
            "is not this one after a back-dated refresh following it."))
        customers: Optional[int] = strawberry.field(
            description="Customers analysed (for non-admins: those they may see).")
        purchasers: Optional[int] = strawberry.field(
            description="Customers with a purchase (for non-admins: those they may see).")
        seconds: float = strawberry.field(description="How long the refresh took.")
        params = json_field("params", description="The fit and its settings, by model (bgnbd, gammaGamma, "
                                                  "churn …), keys camelCase; for non-admins counts are of their "
                                                  "customers and log-likelihoods null.")
        message: str = strawberry.field(description="Why it failed, or notes on the run; empty when none.")

    @registry.type("SegmentMeasure")
    class SegmentMeasure:
        """One feature's mean over a segment's members (recency days, frequency, monetary …)."""

        feature: str = strawberry.field(description="The feature: recency, frequency, monetary or tenure.")

        @strawberry.field(description="Its mean over the members you may see, for a feature that is not money (null for monetary, and when you see none).")
        def value(self) -> Optional[float]:
            return None if self.feature in MONEY_FEATURES else self.mean

        @strawberry.field(description="Its mean over the members you may see, for a feature that is money (monetary; null for the others, and when you see none).")
        def amount(self) -> Optional[Money]:
            return self.mean if self.feature in MONEY_FEATURES else None

    def segment_as_seen(actor: Any, segment_id: Any) -> Any:
        """node(id:) of a segment: the caller's view of it (sizes and centroid of the members they may see)."""
        for values in analytics.segments(actor):
            if str(values["id"]) == str(segment_id):
                return _segment(registry, values)
        raise NotFound("No segment with this id in the latest refresh.")

    @registry.type("AnalyticsSegment", node=NodeSource(CustomerSegment, get=segment_as_seen))
    class AnalyticsSegment:
        """A k-means segment of the last refresh and its profile."""

        id: strawberry.ID
        number: int = strawberry.field(description="The segment's number, 1 for the highest mean spend.")
        name: str = strawberry.field(description="The segment's name.")
        size: int = strawberry.field(description="Members you may see.")
        size_all: Optional[int] = strawberry.field(description="Every member (admins only; null otherwise).")
        profile: registry.ref("Label") = strawberry.field(description="What sets the segment apart.")
        centroid: list[registry.ref("SegmentMeasure")] = strawberry.field(
            description="Means of the members you may see (empty when you see none).")
        run_id: strawberry.ID = strawberry.field(description="The id of the analytics refresh that computed it.")

    @registry.type("WinBackEntry")
    class WinBackEntry:
        """A lost or at-risk customer on the win-back list (客户挽回)."""

        customer_id: strawberry.ID
        name: str = strawberry.field(description="The customer's name.")
        stage: registry.vocabulary_enum("lifecycle_stage") = strawberry.field(description="The customer's lifecycle stage.")
        owner_id: Optional[strawberry.ID]
        status: registry.vocabulary_enum("win_back_status") = strawberry.field(description="Lost or at risk.")
        expected_value: Money = strawberry.field(description="Expected value of winning the customer back.")
        clv: Optional[Money] = strawberry.field(description="Lifetime value by the model.")
        clv_seed: Optional[Money] = strawberry.field(description="Lifetime value by the seed formula.")
        lost_reason: Optional[str] = strawberry.field(description="Why the customer was marked lost.")
        churn_flags: list[registry.ref("ChurnFlag")] = strawberry.field(description="Why an at-risk customer is flagged; empty for a lost one.")

    @registry.type("CustomerSatisfaction")
    class CustomerSatisfaction:
        """The customer's survey answers (CSAT 1–5, NPS 0–10) as of the last analytics refresh."""

        csat_answers: Optional[int] = strawberry.field(description="How many CSAT (1–5) survey answers the customer gave; null before the first refresh.")
        csat_mean: Optional[float] = strawberry.field(description="Their mean (1–5); null without answers.")
        nps_answers: Optional[int] = strawberry.field(description="How many NPS (0–10) survey answers the customer gave; null before the first refresh.")
        nps_last: Optional[int] = strawberry.field(description="The latest 0–10 answer.")

    # an erasure's entry is read by node(id:) as the PrivacyErasure it stands for, not as an AuditEntry
    @registry.type("AuditEntry", node=NodeSource(AuditEntryModel, visible=lambda actor: audit.visible_entries(actor).where(
        AuditEntryModel.action.not_like("%.erased"))))
    class AuditEntry:
        """One change in the audit trail: who did what to which record, field by field."""

        id: strawberry.ID
        at: dt.datetime = strawberry.field(description="When the change happened (UTC, ISO 8601).")
        actor_id: Optional[strawberry.ID] = strawberry.field(description="Null for the system (jobs, rules).")
        action: str = strawberry.field(description="What happened, e.g. customer.created, customer.updated, customer.deleted.")
        record_type: str
        record_id: strawberry.ID
        changes = json_field("changes", description="Field name (camelCase) → [before, after].")
        request_id: Optional[str] = strawberry.field(description=(
            "The X-Request-Id of the request (or the id of the job run) that made the change; null for "
            "changes made outside both."))

    @registry.input("AuditEntryFilter")
    class AuditEntryFilter:
        """Which entries of the audit trail to list."""

        record_type: Optional[str] = strawberry.field(default=strawberry.UNSET, description=(
            "The changed record's type: customer, contact, interaction, or a plugin's record type."))
        record_id: Optional[strawberry.ID] = strawberry.field(default=strawberry.UNSET,
                                                              description="The changed record's id.")
        request_id: Optional[str] = strawberry.field(default=strawberry.UNSET, description=(
            "Only the changes made by this request (its X-Request-Id) or job run."))

    @registry.input("RefreshAnalyticsInput")
    class RefreshAnalyticsInput:
        """As of which day to analyse, and from which day on to fit the CLV models."""

        as_of: Optional[dt.date] = strawberry.field(default=strawberry.UNSET, description=(
            "The day (UTC) to analyse as of: purchases up to its end count and it stands for today. Not in "
            "the future; default today."))
        calibration_start: Optional[dt.date] = strawberry.field(default=strawberry.UNSET, description=(
            "The first day of purchases the CLV models (BG/NBD, Gamma-Gamma) are fitted on; not after asOf. "
            "Default: all history."))

    @registry.input("WinBackTasksInput")
    class WinBackTasksInput:
        """Which customers of your win-back list get a planned task for their owner."""

        customer_ids: Optional[list[strawberry.ID]] = strawberry.field(
            default=strawberry.UNSET, description="Only these customers of the list.")
        limit: Optional[int] = strawberry.field(default=strawberry.UNSET,
                                                description="The top N of the list (default 20).")
        due_in_days: Optional[int] = strawberry.field(default=strawberry.UNSET,
                                                      description="When the tasks are due (default: the setting).")


def type_fields(registry) -> dict:
    def satisfaction(root: strawberry.Parent[object], info: strawberry.Info) -> registry.ref("CustomerSatisfaction"):
        user = info.context.user
        row = info.context.loaders.load("analytics.by_customer", lambda ids: analytics.for_customers(user, ids),
                                        root.id)
        values = analytics.describe(root.id, row, None)["satisfaction"]
        return getattr(registry.module, "CustomerSatisfaction")(**values)

    return {"Customer": {
        "satisfaction": strawberry.field(resolver=satisfaction,
                                         description="CSAT and NPS answers (last analytics refresh)."),
    }}


#: the segment features that are amounts of money (SegmentMeasure.amount)
MONEY_FEATURES = frozenset({"monetary"})


def _segment(registry, values: dict) -> Any:
    measure = getattr(registry.module, "SegmentMeasure")
    centroid = []
    for k, v in sorted((values.get("centroid") or {}).items()):
        centroid.append(measure(feature=k))
        centroid[-1].mean = v
    return getattr(registry.module, "AnalyticsSegment")(**{**fold_labels(values), "centroid": centroid})


def _win_back_entry(registry, values: dict) -> Any:
    flag = getattr(registry.module, "ChurnFlag")
    return getattr(registry.module, "WinBackEntry")(**{
        **values, "churn_flags": [flag(flag=f["flag"], reason=f["reason"]) for f in values["churn_flags"]]})


def query_fields(registry) -> dict:
    def analytics_run(info: strawberry.Info) -> Optional[registry.ref("AnalyticsRun")]:
        return analytics.latest_run(info.context.user)

    def analytics_segments(info: strawberry.Info) -> list[registry.ref("AnalyticsSegment")]:
        return [_segment(registry, s) for s in analytics.segments(info.context.user)]

    def win_back(info: strawberry.Info, limit: Annotated[int, strawberry.argument(description="How many customers, 1–500 (default 50).")] = 50) -> list[registry.ref("WinBackEntry")]:
        return [_win_back_entry(registry, e) for e in analytics.win_back(info.context.user, limit=limit)]

    audit_order = order_by_argument(registry, "AuditEntry", list(audit.SORTABLE), "-at")

    def audit_entries(info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                      before: Before = None, filter: Optional[registry.ref("AuditEntryFilter")] = None,
                      order_by: audit_order = None) -> registry.connection("AuditEntry"):
        given = input_to_dict(filter)
        with field_names(prefix="filter."):
            page = audit.entries(info.context.user, record_type=given.get("record_type"),
                                 record_id=given.get("record_id"), request_id=given.get("request_id"),
                                 page=page_request(first, after, last, before),
                                 sort=order_to_service(order_by))
        return connection(info, page)

    return {
        "analyticsRun": strawberry.field(resolver=analytics_run, description=(
            "The latest analytics refresh: the run with the latest as-of date (of two on one day, the one "
            "started last); `current` says whether the customers carry its numbers. An error NOT_FOUND "
            "before the first one.")),
        "analyticsSegments": strawberry.field(resolver=analytics_segments, description=(
            "The k-means segments of the latest refresh, as you may see them."), metadata=bounded_list(
            "The segments of one refresh: at most k_max (8 by default), computed per call for your scope.")),
        "winBack": strawberry.field(resolver=win_back, description=(
            "Lost and at-risk customers you may see, highest expected value first (limit 1–500).")),
        "auditEntries": strawberry.field(resolver=audit_entries, description=(
            "The audit trail, newest first (admins); filter by record type and id.")),
    }


def mutation_fields(registry) -> dict:
    def refresh_analytics(info: strawberry.Info, input: Optional[registry.ref("RefreshAnalyticsInput")] = None,
                          wait: Annotated[bool, strawberry.argument(description=(
                              "true: refresh within the request and return the finished run; default: queue "
                              "it for the worker and return it QUEUED."))] = False
                          ) -> registry.ref("AnalyticsRun"):
        with field_names(prefix="input."):
            if wait:
                return analytics.refresh_now(info.context.user, input_to_dict(input))
            return analytics.queue_refresh(info.context.user, input_to_dict(input))

    def create_win_back_tasks(info: strawberry.Info, input: Optional[registry.ref("WinBackTasksInput")] = None
                              ) -> list[registry.ref("Interaction")]:
        return analytics.make_win_back_tasks(info.context.user, input_to_dict(input))

    return {
        "refreshAnalytics": strawberry.mutation(resolver=refresh_analytics, description=(
            "Recompute every customer's analytics (admins), as of today or of `input.asOf`, as "
            "`trellis analytics refresh [--as-of DATE] [--calibration-start DATE]` does: queued for the worker "
            "(follow the run with `node(id:)`), or within the request with `wait: true`.")),
        "createWinBackTasks": strawberry.mutation(resolver=create_win_back_tasks, description=(
            "A planned win-back task for the owner of each listed customer (once per customer).")),
    }
