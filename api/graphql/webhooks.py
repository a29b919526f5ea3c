"""GraphQL for webhook subscriptions and their deliveries (admins only; the service checks)."""

import datetime as dt
from typing import Annotated, Optional

import strawberry
from strawberry import UNSET

from api.graphql.inputs import field_names, input_to_dict
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, nested_connection, page_request
from core import models
from core.services import webhooks


def types(registry) -> None:
    DeliveryStatus = registry.vocabulary_enum("webhook_delivery_status")
    BreakerState = registry.vocabulary_enum("webhook_breaker_state")

    @registry.type("WebhookBreaker")
    class WebhookBreaker:
        """A subscription's circuit breaker: after failed attempts in a row it stops sending to the receiver for a while, then tries one delivery (docs/webhooks.md)."""

        state: BreakerState = strawberry.field(description="Closed: deliveries are sent; open: nothing is sent until openUntil; half-open: one trial delivery is being sent.")
        consecutive_failures: int = strawberry.field(description="Failed attempts in a row; 0 after a success.")
        open_until: Optional[dt.datetime] = strawberry.field(description="While open, when the trial delivery may be sent (UTC, ISO 8601); null when closed.")
        last_error: Optional[str] = strawberry.field(description="Why the last of the failures in a row failed; null once a delivery succeeds.")
    DeliveryOrder = order_by_argument(registry, "WebhookDelivery", list(webhooks.DELIVERY_SORTABLE), "-created_at")

    @registry.input("WebhookDeliveryFilter")
    class WebhookDeliveryFilter:
        """Which deliveries of a subscription to list."""

        status: Optional[DeliveryStatus] = strawberry.field(default=UNSET, description="Only deliveries in this state.")

    @registry.type("WebhookSubscription", node=NodeSource(models.WebhookSubscription, get=webhooks.get))
    class WebhookSubscription:
        """Where domain events are POSTed, signed with HMAC-SHA256 (see docs/webhooks.md)."""

        id: strawberry.ID
        url: str = strawberry.field(description="The absolute http(s) URL events are POSTed to (at most 2000 characters).")
        description: str = strawberry.field(description="What the subscription is for, in your words; may be empty.")
        events: list[str] = strawberry.field(description="Patterns: *, customer.*, or exact event names.")
        active: bool = strawberry.field(description="False: events are not sent to it (nothing is queued while inactive).")
        created_at: dt.datetime
        updated_at: dt.datetime
        version: int
        deleted_at: Optional[dt.datetime]

        @strawberry.field(description="The circuit breaker that pauses sending to a receiver that keeps failing.")
        def breaker(self) -> registry.ref("WebhookBreaker"):
            return registry.module.WebhookBreaker(**self.breaker)

        @strawberry.field(description="Deliveries, newest first.")
        def deliveries(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                       before: Before = None, filter: Optional[registry.ref("WebhookDeliveryFilter")] = None,
                       order_by: DeliveryOrder = None) -> registry.connection("WebhookDelivery"):
            user, sort = info.context.user, order_to_service(order_by)
            filters = {k: v for k, v in input_to_dict(filter).items() if v is not None}
            with field_names(prefix="filter."):   # the batch runs in the first sibling's call: errors name filter.*
                return nested_connection(
                    info.context.loaders, f"core.webhook_deliveries:{sorted(filters.items())}",
                    lambda ids, request: webhooks.delivery_pages_for(user, ids, request, filters, sort), self.id,
                    page_request(first, after, last, before),
                    count_name=f"core.webhook_delivery_counts:{sorted(filters.items())}",
                    count_batch=lambda ids: webhooks.delivery_counts_for(user, ids, filters), sort=sort)

    @registry.type("WebhookDelivery", node=NodeSource(models.WebhookDelivery, get=webhooks.get_delivery))
    class WebhookDelivery:
        """One event sent, or to be sent, to one subscription, with its attempts (retried with back-off until delivered or failed for good)."""

        id: strawberry.ID
        subscription_id: strawberry.ID = strawberry.field(description="The id of the subscription it is sent to.")
        event_id: strawberry.ID = strawberry.field(description="The id of the domain event it carries (the same for every subscription).")
        event_name: str = strawberry.field(description="The event's name, such as customer.created.")
        status: DeliveryStatus = strawberry.field(description="Pending (to be tried, again), delivered or failed for good.")
        attempts: int = strawberry.field(description="How many times sending it was tried; 0 while never tried.")
        next_attempt_at: Optional[dt.datetime] = strawberry.field(description="When it will be tried next (UTC, ISO 8601); null once delivered or failed for good.")
        last_status_code: Optional[int] = strawberry.field(description="The HTTP status the receiver answered last; null when it never answered.")
        last_error: Optional[str] = strawberry.field(description="Why the last attempt failed (timeout, status, connection error); null when none failed.")
        delivered_at: Optional[dt.datetime] = strawberry.field(description="When the receiver accepted it with a 2xx (UTC, ISO 8601); null until then.")
        created_at: dt.datetime = strawberry.field(description="When the delivery was queued (UTC, ISO 8601).")

    @registry.type("WebhookCreated")
    class WebhookCreated:
        """The new subscription and its signing secret, shown this once."""

        subscription: registry.ref("WebhookSubscription") = strawberry.field(description="The new subscription.")
        secret: str = strawberry.field(description="The HMAC-SHA256 signing secret: store it now to verify deliveries; it is never shown again.")

    @registry.input("WebhookSubscriptionFilter")
    class WebhookSubscriptionFilter:
        """Which subscriptions to list."""

        active: Optional[bool] = strawberry.field(default=UNSET, description="Only active (true) or paused (false).")

    @registry.input("WebhookCreateInput")
    class WebhookCreateInput:
        """A new webhook subscription."""

        url: str = strawberry.field(description="The absolute http(s) URL to POST events to (at most 2000 characters).")
        events: list[str] = strawberry.field(description="Event patterns: *, customer.* or exact event names.")
        description: Optional[str] = strawberry.field(default=UNSET, description="What the subscription is for, in your words.")
        active: Optional[bool] = strawberry.field(default=UNSET, description="Whether events are sent to it; default true.")

    @registry.input("WebhookUpdateInput")
    class WebhookUpdateInput:
        """Changes to a webhook subscription: only the fields sent change; `version` is the one you read."""

        version: int
        url: Optional[str] = strawberry.field(default=UNSET, description="The absolute http(s) URL to POST events to (at most 2000 characters).")
        events: Optional[list[str]] = strawberry.field(default=UNSET, description="Event patterns: *, customer.* or exact event names.")
        description: Optional[str] = strawberry.field(default=UNSET, description="What the subscription is for, in your words.")
        active: Optional[bool] = strawberry.field(default=UNSET, description="Whether events are sent to it.")


def query_fields(registry) -> dict:
    order = order_by_argument(registry, "WebhookSubscription", webhooks.SORTABLE, "created_at")

    def webhook_list(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                     filter: Optional[registry.ref("WebhookSubscriptionFilter")] = None, order_by: order = None
                     ) -> registry.connection("WebhookSubscription"):
        filters = {k: v for k, v in input_to_dict(filter).items() if v is not None}
        with field_names(prefix="filter."):
            page = webhooks.list_subscriptions(info.context.user, filters, page=page_request(first, after, last, before),
                                               sort=order_to_service(order_by))
        return connection(info, page)

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

    def update_webhook(info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The id (a UUID) of the subscription.")], input: registry.ref("WebhookUpdateInput")) -> Sub:
        return webhooks.update(info.context.user, id, input_to_dict(input))

    def delete_webhook(info: strawberry.Info, id: strawberry.ID) -> Sub:
        webhooks.delete(info.context.user, id)
        return webhooks.get(info.context.user, id, deleted=True)

    def restore_webhook(info: strawberry.Info, id: strawberry.ID) -> Sub:
        return webhooks.restore(info.context.user, id)

    def ping_webhook(info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The id (a UUID) of the subscription to ping.")]) -> Delivery:
        return webhooks.ping(info.context.user, id)

    def replay_webhook_delivery(info: strawberry.Info, id: strawberry.ID) -> Delivery:
        return webhooks.replay(info.context.user, id)

    m = strawberry.mutation
    return {"createWebhook": m(resolver=create_webhook, description="The secret is returned this once."),
            "updateWebhook": m(resolver=update_webhook, description="Change a subscription; send the version you read."),
            "deleteWebhook": m(resolver=delete_webhook, description="Soft-delete a subscription (no more deliveries); returns it."),
            "restoreWebhook": m(resolver=restore_webhook, description="Bring a deleted subscription back."),
            "pingWebhook": m(resolver=ping_webhook, description="Queue a webhook.ping delivery."),
            "replayWebhookDelivery": m(resolver=replay_webhook_delivery, description="Send a delivery again.")}
