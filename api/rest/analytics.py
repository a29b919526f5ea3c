"""REST for customer analytics under ``/api/v1/analytics``: a customer's numbers, the segments, the
win-back list (and turning it into tasks), the latest run. Thin: every rule and permission check is in
``core.services.analytics``; the metrics are served by ``/api/v1/metrics/analytics_*``."""
from __future__ import annotations

from flask import request
from flask_login import current_user
from marshmallow import Schema, fields, validate

from api.rest.crud import Blueprint, KnownArgs, NoArgs, body_doc, json_body
from core.schemas import CustomerAnalyticsOut, InteractionOut
from core.services import analytics
from core.services.analytics import SegmentOut, WinBackOut


class RunOut(Schema):
    id = fields.UUID()
    started_at = fields.DateTime(metadata={"description": (
        "When the refresh started; while it is queued, when it was asked for.")})
    finished_at = fields.DateTime(allow_none=True)
    status = fields.String(metadata={"description": (
        "queued (waiting for the worker), running, ok, partial (a model could not be fitted: see message) or "
        "failed (message says why; a failed attempt is tried again, and the run is queued meanwhile).")})
    trigger = fields.String()
    as_of = fields.Date(metadata={"description": (
        "The day (UTC) the customers were analysed as of: purchases up to its end counted (the day the "
        "refresh ran, unless it was given).")})
    calibration_start = fields.Date(allow_none=True, metadata={"description": (
        "The first day of purchases the CLV models were fitted on; null: all history.")})
    current = fields.Boolean(metadata={"description": (
        "Whether the customers' stored numbers are this run's: they are the last refresh started's, which is "
        "not this one after a back-dated refresh following it.")})
    customers = fields.Integer(allow_none=True,
                               metadata={"description": "Customers analysed (for non-admins: those they may see)."})
    purchasers = fields.Integer(allow_none=True, metadata={
        "description": "Customers with a purchase (for non-admins: those they may see)."})
    seconds = fields.Float()
    params = fields.Dict(metadata={"description": "The fit and its settings; for non-admins the counts in it "
                                               "are of the customers they may see and log-likelihoods null."})
    message = fields.String()
    request_id = fields.String(allow_none=True, metadata={"description": (
        "The id (X-Request-Id) of the request that queued the refresh: the tasks, audit entries and events "
        "it writes carry it (GET /audit?request_id=).")})


class RefreshArgs(Schema):
    wait = fields.Boolean(load_default=False, metadata={"description": (
        "true: refresh within the request and answer 201 with the finished run (scripts); default: queue "
        "the refresh for the worker and answer 202 at once.")})


class WinBackArgs(KnownArgs):
    passes = ()

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


def analytics_blueprints() -> list[Blueprint]:
    blp = Blueprint("analytics", "analytics", url_prefix="/analytics",
                    description="Customer analytics (客户分析): RFM, value tiers, segments, CLV, churn, win-back.")

    @blp.route("/customers/<uuid:customer_id>")
    @blp.response(200, CustomerAnalyticsOut)
    def customer(customer_id):
        """A customer's analytics as of the last refresh (a null number comes with its reason)"""
        return analytics.get_customer(current_user, customer_id)

    @blp.route("/segments")
    @blp.arguments(NoArgs, location="query", as_kwargs=True)
    @blp.response(200, SegmentOut(many=True))
    def segment_list():
        """The k-means segments of the last refresh, with their profiles"""
        return analytics.segments(current_user)

    @blp.route("/win-back")
    @blp.arguments(WinBackArgs, location="query")
    @blp.response(200, WinBackOut(many=True))
    def win_back(args):
        """Lost and at-risk customers, highest expected value first"""
        return analytics.win_back(current_user, limit=args["limit"])

    @blp.route("/win-back/tasks", methods=["POST"])
    @blp.doc(**body_doc(analytics.WinBackTaskRequest))
    @blp.response(201, InteractionOut(many=True))
    def win_back_tasks():
        """Create a planned win-back task for the owner of each listed customer (once per customer)"""
        return analytics.make_win_back_tasks(current_user, json_body())

    @blp.route("/runs/latest")
    @blp.arguments(NoArgs, location="query", as_kwargs=True)
    @blp.response(200, RunOut)
    def latest_run():
        """The run with the latest as-of date (of two on one day, the one started last): when, its status
        and the fitted model parameters; `current` says whether the customers carry its numbers"""
        return analytics.latest_run(current_user)

    @blp.route("/runs/<uuid:run_id>")
    @blp.response(200, RunOut)
    def run(run_id):
        """A run by id (admins): a queued refresh's status — queued, running, ok, partial or failed with the
        error in `message`"""
        return analytics.get_run(current_user, run_id)

    @blp.route("/refresh", methods=["POST"])
    @blp.arguments(RefreshArgs, location="query", as_kwargs=True)
    @blp.doc(requestBody={"required": False,
                          "content": {"application/json": {"schema": analytics.RefreshRequest}}})
    @blp.response(202, RunOut)
    @blp.alt_response(201, schema=RunOut, description="`wait=true`: the refresh finished within the request.")
    def refresh(wait):
        """Recompute every customer's analytics (admins), as of today or of `as_of` (a past day), the CLV
        models fitted from `calibration_start` on (optional): queued for the worker (202; follow
        `GET /analytics/runs/{id}`), or within the request with `wait=true` (201)"""
        data = json_body() if request.get_data(cache=True) else None
        if wait:
            return analytics.refresh_now(current_user, data), 201
        return analytics.queue_refresh(current_user, data)

    return [blp]
