"""REST for webhooks (admins only): subscriptions under ``/webhooks``, their deliveries, ping and
replay. The views only translate; ``core.services.webhooks`` validates and checks the role."""
from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from marshmallow import EXCLUDE, fields

from api.rest.crud import (LINK_HEADER, Blueprint, CursorArgs, body_doc, json_body, list_args_schema, list_query,
                           served, sort_field)
from core.schemas import MAX_PAGE_SIZE
from core.services import webhooks
from core.services.webhooks import DeliveryOut, WebhookOut


class WebhookCreatedOut(WebhookOut):
    secret = fields.String(metadata={"description": "Signs every delivery. Shown only in this response: "
                                                    "store it now."})


class DeliveryQuery(CursorArgs):
    """For the OpenAPI document only: the service validates the raw query (a 422 naming the field)."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(metadata={"enum": list(webhooks.STATUSES)})
    sort = sort_field(sorted(webhooks.DELIVERY_SORTABLE))


def webhook_blueprints() -> list[Blueprint]:
    blp = Blueprint("webhooks", "webhooks", url_prefix="",
                    description="Webhooks: domain events POSTed to other systems, signed (admins only).")

    @blp.route("/webhooks")
    class Subscriptions(MethodView):
        @blp.arguments(list_args_schema(webhooks.WebhookFilter, sorted(webhooks.SORTABLE)), location="query",
                       as_kwargs=False)
        @blp.response(200, WebhookOut(many=True), headers={"Link": LINK_HEADER})
        @blp.paginate(max_page_size=MAX_PAGE_SIZE)
        def get(self, args, pagination_parameters):
            """List subscriptions"""
            args, paging = list_query(pagination_parameters)
            sort = args.pop("sort", None)
            return served(pagination_parameters,
                          webhooks.list_subscriptions(current_user, args, sort=sort, page=paging))

        @blp.doc(**body_doc(webhooks.WebhookCreate))
        @blp.response(201, WebhookCreatedOut)
        def post(self):
            """Subscribe a URL to events; the response holds the signing secret, shown only once"""
            return webhooks.create(current_user, json_body())

    @blp.route("/webhooks/<uuid:subscription_id>")
    class Subscription(MethodView):
        @blp.response(200, WebhookOut)
        def get(self, subscription_id):
            """Read one subscription"""
            return webhooks.get(current_user, subscription_id)

        @blp.doc(**body_doc(webhooks.WebhookUpdate))
        @blp.response(200, WebhookOut)
        def patch(self, subscription_id):
            """Change url, description, events or active; send the `version` you read (stale is 409)"""
            return webhooks.update(current_user, subscription_id, json_body())

        @blp.response(204)
        def delete(self, subscription_id):
            """Soft delete (restorable); pending deliveries wait"""
            webhooks.delete(current_user, subscription_id)

    @blp.route("/webhooks/<uuid:subscription_id>/restore", methods=["POST"])
    @blp.response(200, WebhookOut)
    def restore(subscription_id):
        """Restore a deleted subscription"""
        return webhooks.restore(current_user, subscription_id)

    @blp.route("/webhooks/<uuid:subscription_id>/deliveries")
    @blp.arguments(DeliveryQuery, location="query", as_kwargs=False)
    @blp.response(200, DeliveryOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def deliveries(args, subscription_id, pagination_parameters):
        """The subscription's deliveries, newest first (filter by status: pending, delivered, failed)"""
        filters, paging = list_query(pagination_parameters)
        sort = filters.pop("sort", None)
        return served(pagination_parameters,
                      webhooks.deliveries(current_user, subscription_id, filters, page=paging, sort=sort))

    @blp.route("/webhooks/<uuid:subscription_id>/ping", methods=["POST"])
    @blp.response(202, DeliveryOut)
    def ping(subscription_id):
        """Queue a webhook.ping delivery to this subscription"""
        return webhooks.ping(current_user, subscription_id)

    @blp.route("/webhook-deliveries/<uuid:delivery_id>")
    @blp.response(200, DeliveryOut)
    def delivery(delivery_id):
        """Read one delivery"""
        return webhooks.get_delivery(current_user, delivery_id)

    @blp.route("/webhook-deliveries/<uuid:delivery_id>/replay", methods=["POST"])
    @blp.response(200, DeliveryOut)
    def replay(delivery_id):
        """Send a failed or delivered delivery again (pending, attempts reset)"""
        return webhooks.replay(current_user, delivery_id)

    return [blp]
