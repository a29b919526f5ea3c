"""GraphQL for contacts (联系人): the people at a customer."""
import datetime as dt
from typing import Annotated, Optional

import strawberry
from strawberry import UNSET

from api.graphql.inputs import field_names, input_to_dict, sort_to_service
from api.graphql.loaders import customers_by_id
from api.graphql.pagination import connection, page_request
from core.services import contacts

ORDER_BY = "Comma-separated, `-` for descending: name, createdAt, updatedAt. Default: name."


def types(registry) -> None:
    @registry.type("Contact")
    class Contact:
        """A person at a customer. Each customer has exactly one primary contact while it has any."""

        id: strawberry.ID
        customer_id: strawberry.ID
        name: str
        title: str
        phone: str
        mobile: str
        email: str
        wechat: str
        birthday: Optional[dt.date]
        notes: str
        is_primary: bool
        created_at: dt.datetime
        updated_at: dt.datetime
        version: int
        deleted_at: Optional[dt.datetime]

        @strawberry.field
        def customer(self, info: strawberry.Info) -> registry.ref("Customer"):
            user = info.context.user
            return info.context.loaders.load("core.customers", lambda ids: customers_by_id(user, ids),
                                             self.customer_id)

    @registry.input("ContactCreateInput")
    class ContactCreateInput:
        customer_id: strawberry.ID
        name: str
        title: Optional[str] = UNSET
        phone: Optional[str] = UNSET
        mobile: Optional[str] = UNSET
        email: Optional[str] = UNSET
        wechat: Optional[str] = UNSET
        birthday: Optional[dt.date] = UNSET
        notes: Optional[str] = UNSET
        is_primary: Optional[bool] = strawberry.field(default=UNSET,
                                                      description="Make this the primary contact (the first one is).")

    @registry.input("ContactUpdateInput")
    class ContactUpdateInput:
        version: int = strawberry.field(description="The version you read; a stale one is a CONFLICT.")
        name: Optional[str] = UNSET
        title: Optional[str] = UNSET
        phone: Optional[str] = UNSET
        mobile: Optional[str] = UNSET
        email: Optional[str] = UNSET
        wechat: Optional[str] = UNSET
        birthday: Optional[dt.date] = UNSET
        notes: Optional[str] = UNSET
        is_primary: Optional[bool] = UNSET

    @registry.input("ContactFilter")
    class ContactFilter:
        customer_id: Optional[strawberry.ID] = UNSET
        q: Optional[str] = strawberry.field(default=UNSET, description="Name contains (case-insensitive).")
        deleted: Optional[bool] = strawberry.field(default=UNSET, description="List deleted contacts instead.")


def query_fields(registry) -> dict:
    def contact(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("Contact")]:
        return contacts.get(info.context.user, id)

    def contact_list(info: strawberry.Info, first: int = 20, after: Optional[str] = None,
                     filter: Optional[registry.ref("ContactFilter")] = None,
                     order_by: Annotated[Optional[str], strawberry.argument(description=ORDER_BY)] = None,
                     ) -> Optional[registry.connection("Contact")]:
        request = page_request(first, after)
        with field_names({"sort": "orderBy"}, prefix="filter."):
            page = contacts.list_contacts(info.context.user, input_to_dict(filter), page=request,
                                          sort=sort_to_service(order_by))
        return connection(info, page)

    return {
        "contact": strawberry.field(resolver=contact, description="One contact you may see."),
        "contacts": strawberry.field(resolver=contact_list, description="The contacts of the customers you may see."),
    }


def mutation_fields(registry) -> dict:
    def create_contact(info: strawberry.Info,
                       input: registry.ref("ContactCreateInput")) -> Optional[registry.ref("Contact")]:
        return contacts.create(info.context.user, input_to_dict(input))

    def update_contact(info: strawberry.Info, id: strawberry.ID,
                       input: registry.ref("ContactUpdateInput")) -> Optional[registry.ref("Contact")]:
        return contacts.update(info.context.user, id, input_to_dict(input))

    def delete_contact(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("Contact")]:
        contacts.delete(info.context.user, id)
        return contacts.get(info.context.user, id, deleted=True)

    def restore_contact(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("Contact")]:
        return contacts.restore(info.context.user, id)

    return {
        "createContact": strawberry.mutation(resolver=create_contact),
        "updateContact": strawberry.mutation(resolver=update_contact, description="Send the version you read."),
        "deleteContact": strawberry.mutation(resolver=delete_contact,
                                             description="Soft delete; returns the deleted record."),
        "restoreContact": strawberry.mutation(resolver=restore_contact),
    }
