"""GraphQL for duplicate customers: ``duplicateCustomers`` and ``mergeCustomers``, over the same service as
``GET /customers/duplicates`` and ``POST /customers/{id}/merge`` (core.services.duplicates)."""
from typing import Annotated, Optional

import strawberry
from strawberry import UNSET

from api.graphql.inputs import stored
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, First, Slice
from core.services import duplicates
from core.services.common import PageRequest


def types(registry) -> None:
    Reason = registry.vocabulary_enum("duplicate_reason")

    @registry.type("CustomerDuplicate")
    class CustomerDuplicate:
        """Two customers that look like one (a duplicate candidate), and why."""

        customer: registry.ref("Customer") = strawberry.field(description="One of the pair (the smaller id).")
        duplicate: registry.ref("Customer") = strawberry.field(description="The other one.")
        reasons: list[Reason] = strawberry.field(description="What they share, normalised: a contact's e-mail, a contact's phone or mobile number, the name. Pairs sharing most come first.")
        email: Optional[str] = strawberry.field(description="The shared e-mail address (trimmed, lower-case); null when not shared.")
        phone: Optional[str] = strawberry.field(description="The shared phone number as +<country code><digits>; null when not shared.")
        name: Optional[str] = strawberry.field(description="The shared name (NFKC, case-folded, spaces collapsed); null when not shared.")

    @registry.input("CustomerDuplicateFilter")
    class CustomerDuplicateFilter:
        reason: Optional[Reason] = strawberry.field(default=UNSET, description="Only pairs sharing this.")
        customer_id: Optional[strawberry.ID] = strawberry.field(default=UNSET,
                                                               description="Only pairs this customer is part of.")


def query_fields(registry) -> dict:
    Order = order_by_argument(registry, "CustomerDuplicate", list(duplicates.SORTABLE), "-reasons")

    def duplicate_customers(info: strawberry.Info, first: First = None, after: After = None,
                            filter: Optional[registry.ref("CustomerDuplicateFilter")] = None,
                            order_by: Order = None) -> registry.connection("CustomerDuplicate"):
        offset = duplicates.offset_after(after) if after else 0
        filters = {}
        if filter is not None and filter.reason not in (None, UNSET):
            filters["reason"] = stored(filter.reason)
        if filter is not None and filter.customer_id not in (None, UNSET):
            filters["customer_id"] = filter.customer_id
        page = duplicates.find_duplicate_candidates(
            info.context.user, filters, page=PageRequest(offset=offset, limit=20 if first is None else first),
            sort=order_to_service(order_by))
        info.context.loaders.prime([c for pair in page.items for c in (pair.customer, pair.duplicate)])
        return Slice.from_page(page)

    return {"duplicateCustomers": strawberry.field(
        resolver=duplicate_customers,
        description="Duplicate candidates: pairs of your customers sharing a contact's e-mail, a contact's phone "
                    "or mobile number, or the name, each normalised (phone numbers with the country code, "
                    "full-width as half-width); most shared reasons first (20 by default). Admins, managers "
                    "and reps.")}


def mutation_fields(registry) -> dict:
    def merge_customers(info: strawberry.Info,
                        survivor_id: Annotated[strawberry.ID, strawberry.argument(description="The customer that stays.")],
                        merged_id: Annotated[strawberry.ID, strawberry.argument(description="The duplicate merged into it: hidden afterwards, reading as merged into the survivor.")],
                        version: Annotated[Optional[int], strawberry.argument(description="The survivor's version as you read it: a newer one is a CONFLICT.")] = None,
                        merged_version: Annotated[Optional[int], strawberry.argument(description="The duplicate's version as you read it: a newer one is a CONFLICT.")] = None,
                        ) -> registry.ref("Customer"):
        data = {"merged_id": merged_id, "version": version, "merged_version": merged_version}
        return duplicates.merge_customers(info.context.user, survivor_id,
                                          {k: v for k, v in data.items() if v is not None})

    return {"mergeCustomers": strawberry.mutation(
        resolver=merge_customers,
        description="Merge a duplicate customer into another: its contacts, interactions, tags and every "
                    "plugin's records move to the survivor in one transaction. Returns the survivor.")}
