"""GraphQL for customers (客户): the ``Customer`` type, its inputs, queries and mutations."""
import datetime as dt
from typing import Optional

import strawberry
from strawberry import UNSET

from api.graphql.crud import CrudFields, CrudService, crud_fields
from api.graphql.loaders import users_by_id
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, nested_connection, page_request
from core import models
from core.services import contacts, customers, interactions

def types(registry) -> None:
    Kind = registry.vocabulary_enum("customer_kind")
    Size = registry.vocabulary_enum("customer_size")
    Source = registry.vocabulary_enum("customer_source")
    Stage = registry.vocabulary_enum("lifecycle_stage")
    Level = registry.vocabulary_enum("customer.level.state")
    # the same inputs as the root lists `contacts` and `interactions` take (the nested defaults differ)
    ContactOrder = order_by_argument(registry, "Contact", list(contacts.SORTABLE),
                                     default_text="the primary contact first, then NAME ASC")
    InteractionOrder = order_by_argument(
        registry, "Interaction", list(interactions.SORTABLE),
        default_text="newest first, by OCCURRED_AT or, for a planned one, its due time")

    @registry.type("Customer", node=NodeSource(models.Customer, visible=customers.visible))
    class Customer:
        """A company or person the business sells to (客户). Reps see their own customers, managers their
        team's, admins all."""

        id: strawberry.ID
        kind: Kind = strawberry.field(description="A company or a person.")
        name: str = strawberry.field(description="The company's or person's name as the business knows it (up to 200 characters).")
        industry: Optional[str] = strawberry.field(description="The industry (行业) reports are cut by, free text; null when not known.")
        region: Optional[str] = strawberry.field(description="The region or territory, free text; null when not known.")
        size: Optional[Size] = strawberry.field(description="How big the customer is (companies); null when not known.")
        source: Optional[Source] = strawberry.field(description="How the customer found you (获客渠道).")
        level: Level = strawberry.field(description="The grade (A, B, C …) from the level rules or set by hand; a new customer starts in the rules' default level (the last one, D by default).")
        level_pinned: bool = strawberry.field(description="Set by hand: automatic re-grading leaves it alone.")
        stage: Stage = strawberry.field(description="Lifecycle stage; moves go through changeStage.")
        notes: str = strawberry.field(description="Free-text notes about the customer; empty when none.")
        tags: list[str] = strawberry.field(description="Free-form tags (up to 50, each 1–50 characters), in no particular order.")
        owner_id: Optional[strawberry.ID] = strawberry.field(description="The id of the owning sales rep (负责人); null when the customer has no owner.")
        created_at: dt.datetime = strawberry.field(description="When the customer was recorded (UTC, ISO 8601).")
        updated_at: dt.datetime
        version: int = strawberry.field(description="Raised on every change; send it back in updateCustomer.")
        deleted_at: Optional[dt.datetime]
        merged_into_id: Optional[strawberry.ID] = strawberry.field(description="Set when this customer was merged into another (a duplicate): the id of the customer holding its contacts, timeline and records now; `mergedInto` reads it. A merged customer is left out of every list; null when not merged.")
        merged_at: Optional[dt.datetime] = strawberry.field(description="When it was merged into another (UTC, ISO 8601); null when not merged.")

        @strawberry.field(description="The customer this one was merged into (follow it: that one holds its records now); null when not merged or when you may not see it.")
        def merged_into(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            user = info.context.user
            return info.context.loaders.load("core.customers_read", lambda ids: customers.read_many(user, ids),
                                             self.merged_into_id)

        @strawberry.field(description="The user responsible for the customer.")
        def owner(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            user = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(user, ids), self.owner_id)

        @strawberry.field(description="Live contacts, the primary one first, then by name (10 by default).")
        def contacts(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                     before: Before = None, order_by: ContactOrder = None) -> registry.connection("Contact"):
            user, sort = info.context.user, order_to_service(order_by)
            return nested_connection(
                info.context.loaders, "core.contacts_of_customers",
                lambda ids, request: contacts.pages_for_customers(user, ids, request, sort), self.id,
                page_request(first, after, last, before, default=10),
                count_name="core.contact_counts", count_batch=lambda ids: contacts.count_for_customers(user, ids),
                sort=sort)

        @strawberry.field(description="The customer's timeline, newest first (planned ones by their due time; "
                                      "10 by default).")
        def interactions(self, info: strawberry.Info, first: First = None, after: After = None,
                         last: Last = None, before: Before = None,
                         order_by: InteractionOrder = None) -> registry.connection("Interaction"):
            user, sort = info.context.user, order_to_service(order_by)
            return nested_connection(
                info.context.loaders, "core.interactions_of_customers",
                lambda ids, request: interactions.pages_for_customers(user, ids, request, sort), self.id,
                page_request(first, after, last, before, default=10),
                count_name="core.interaction_counts",
                count_batch=lambda ids: interactions.count_for_customers(user, ids), sort=sort)

    @registry.input("CustomerCreateInput")
    class CustomerCreateInput:
        name: str
        kind: Optional[Kind] = UNSET
        industry: Optional[str] = UNSET
        region: Optional[str] = UNSET
        size: Optional[Size] = UNSET
        source: Optional[Source] = UNSET
        stage: Optional[Stage] = strawberry.field(default=UNSET,
                                                description="Initial stage: one you could move a new customer to (an admin's "
                                                            "create is an import: any); later moves go through "
                                                            "the lifecycle.")
        notes: Optional[str] = UNSET
        tags: Optional[list[str]] = UNSET
        owner_id: Optional[strawberry.ID] = strawberry.field(default=UNSET,
                                                             description="Default: you.")

    @registry.input("CustomerUpdateInput")
    class CustomerUpdateInput:
        version: int = strawberry.field(description="The version you read; a stale one is a CONFLICT.")
        name: Optional[str] = UNSET
        kind: Optional[Kind] = UNSET
        industry: Optional[str] = UNSET
        region: Optional[str] = UNSET
        size: Optional[Size] = UNSET
        source: Optional[Source] = UNSET
        notes: Optional[str] = UNSET
        tags: Optional[list[str]] = UNSET
        owner_id: Optional[strawberry.ID] = UNSET

    @registry.input("CustomerFilter")
    class CustomerFilter:
        q: Optional[str] = strawberry.field(default=UNSET, description="Name contains (case-insensitive).")
        kind: Optional[Kind] = UNSET
        industry: Optional[str] = UNSET
        region: Optional[str] = UNSET
        source: Optional[Source] = UNSET
        stage: Optional[Stage] = UNSET
        level: Optional[Level] = UNSET
        tag: Optional[str] = strawberry.field(default=UNSET, description="Only customers with this tag (exact match).")
        owner_id: Optional[strawberry.ID] = UNSET
        segment: Optional[strawberry.ID] = strawberry.field(default=UNSET, description="k-means segment id.")
        value_tier: Optional[registry.vocabulary_enum("value_tier")] = strawberry.field(
            default=UNSET, description="Only customers in this value tier (KEY, MAJOR, REGULAR or SMALL).")
        rfm_segment: Optional[str] = strawberry.field(default=UNSET, description="An RFM segment key (champions …).")
        churn_risk: Optional[bool] = strawberry.field(default=UNSET, description="Flagged by the churn warning.")
        deleted: Optional[bool] = strawberry.field(default=UNSET, description="List deleted customers instead.")


def _crud(registry) -> CrudFields:
    return crud_fields(
        registry, "Customer",
        service=CrudService(customers.list_customers, customers.read, customers.create, customers.update,
                            customers.delete, customers.restore),
        create_input="CustomerCreateInput", update_input="CustomerUpdateInput", filter_input="CustomerFilter",
        sortable=list(customers.SORTABLE), default_sort="name",
        descriptions={"get": "One customer you may see.", "list": "The customers you may see."})


def query_fields(registry) -> dict:
    return _crud(registry).query


def mutation_fields(registry) -> dict:
    return _crud(registry).mutation
