"""GraphQL for webhook subscriptions and their deliveries (admins only; the service checks)."""

import datetime as dt
from typing import Optional

import strawberry
from strawberry import UNSET

from api.graphql.inputs import input_to_dict, stored
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, page_request
from core import models
from core.services import webhooks


def types(registry) -> None:
    DeliveryStatus = registry.vocabulary_enum("webhook_delivery_status")

    @registry.type("WebhookSubscription", node=NodeSource(models.WebhookSubscription, get=webhooks.get))
    class WebhookSubscription:
        """Where domain events are POSTed, signed with HMAC-SHA256 (see docs/webhooks.md)."""

        id: strawberry.ID
        url: str
        description: str
        events: list[str] = strawberry.field(description="Patterns: *, customer.*, or exact event names.")
        active: bool
        created_at: dt.datetime
        updated_at: dt.datetime
        version: int
        deleted_at: Optional[dt.datetime]

        @strawberry.field(description="Deliveries, newest first.")
        def deliveries(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                       before: Before = None, status: Optional[DeliveryStatus] = None
                       ) -> registry.connection("WebhookDelivery"):
            filters = {"status": stored(status)} if status else {}
            return connection(info, webhooks.deliveries(info.context.user, self.id, filters,
                                                        page=page_request(first, after, last, before)))

    @registry.type("WebhookDelivery", node=NodeSource(models.WebhookDelivery, get=webhooks.get_delivery))
    class WebhookDelivery:
        id: strawberry.ID
        subscription_id: strawberry.ID
        event_id: strawberry.ID
        event_name: str
        status: DeliveryStatus = strawberry.field(description="Pending (to be tried, again), delivered or failed for good.")
        attempts: int
        next_attempt_at: Optional[dt.datetime]
        last_status_code: Optional[int]
        last_error: Optional[str]
        delivered_at: Optional[dt.datetime]

    @registry.type("WebhookCreated")
    class WebhookCreated:
        """The new subscription and its signing secret, shown this once."""

        subscription: registry.ref("WebhookSubscription")
        secret: str

    @registry.input("WebhookCreateInput")
    class WebhookCreateInput:
        url: str
        events: list[str]
        description: Optional[str] = UNSET
        active: Optional[bool] = UNSET

    @registry.input("WebhookUpdateInput")
    class WebhookUpdateInput:
        version: int
        url: Optional[str] = UNSET
        events: Optional[list[str]] = UNSET
        description: Optional[str] = UNSET
        active: Optional[bool] = UNSET


def query_fields(registry) -> dict:
    order = order_by_argument(registry, "WebhookSubscription", webhooks.SORTABLE, "created_at")

    def webhook_list(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                     active: Optional[bool] = None, order_by: order = None) -> registry.connection("WebhookSubscription"):
        filters = {} if active is None else {"active": active}
        return connection(info, webhooks.list_subscriptions(info.context.user, filters,
                                                            page=page_request(first, after, last, before),
                                                            sort=order_to_service(order_by)))

    def webhook(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("WebhookSubscription")]:
        return webhooks.get(info.context.user, id)

    def webhook_delivery(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("WebhookDelivery")]:
        return webhooks.get_delivery(info.context.user, id)

    return {"webhooks": strawberry.field(resolver=webhook_list, description="Webhook subscriptions (admins)."),
            "webhook": strawberry.field(resolver=webhook, description="One webhook subscription (admins)."),
            "webhookDelivery": strawberry.field(resolver=webhook_delivery, description=(
                "One delivery of an event to a subscription (admins)."))}


def mutation_fields(registry) -> dict:
    Sub, Delivery = registry.ref("WebhookSubscription"), registry.ref("WebhookDelivery")

    def create_webhook(info: strawberry.Info, input: registry.ref("WebhookCreateInput")) -> registry.ref("WebhookCreated"):
        subscription = webhooks.create(info.context.user, input_to_dict(input))
        return registry.module.WebhookCreated(subscription=subscription, secret=subscription.secret)

    def update_webhook(info: strawberry.Info, id: strawberry.ID, input: registry.ref("WebhookUpdateInput")) -> Sub:
        return webhooks.update(info.context.user, id, input_to_dict(input))

    def delete_webhook(info: strawberry.Info, id: strawberry.ID) -> Sub:
        webhooks.delete(info.context.user, id)
        return webhooks.get(info.context.user, id, deleted=True)

    def restore_webhook(info: strawberry.Info, id: strawberry.ID) -> Sub:
        return webhooks.restore(info.context.user, id)

    def ping_webhook(info: strawberry.Info, id: strawberry.ID) -> Delivery:
        return webhooks.ping(info.context.user, id)

    def replay_webhook_delivery(info: strawberry.Info, id: strawberry.ID) -> Delivery:
        return webhooks.replay(info.context.user, id)

    m = strawberry.mutation
    return {"createWebhook": m(resolver=create_webhook, description="The secret is returned this once."),
            "updateWebhook": m(resolver=update_webhook), "deleteWebhook": m(resolver=delete_webhook),
            "restoreWebhook": m(resolver=restore_webhook),
            "pingWebhook": m(resolver=ping_webhook, description="Queue a webhook.ping delivery."),
            "replayWebhookDelivery": m(resolver=replay_webhook_delivery, description="Send a delivery again.")}
