"""GraphQL for contacts (联系人): the people at a customer."""
import datetime as dt
from typing import Optional

import strawberry
from strawberry import UNSET

from api.graphql.crud import CrudFields, CrudService, crud_fields
from api.graphql.loaders import customers_by_id
from api.graphql.nodes import NodeSource
from core import models
from core.services import contacts


def types(registry) -> None:
    @registry.type("Contact", node=NodeSource(models.Contact, visible=contacts.visible))
    class Contact:
        """A person at a customer. Each customer has exactly one primary contact while it has any."""

        id: strawberry.ID
        customer_id: strawberry.ID = strawberry.field(description="The id of the customer this person works at; `customer` reads it.")
        name: str = strawberry.field(description="The person's full name.")
        title: str = strawberry.field(description="Job title or role at the customer; empty when not known.")
        phone: str = strawberry.field(description="Office or landline phone number, as written; empty when not known.")
        mobile: str = strawberry.field(description="Mobile phone number, as written; empty when not known.")
        email: str = strawberry.field(description="Email address; empty when not known.")
        wechat: str = strawberry.field(description="WeChat id (微信号); empty when not known.")
        birthday: Optional[dt.date] = strawberry.field(description="Date of birth (ISO 8601 date), for greetings; null when not known.")
        notes: str = strawberry.field(description="Free-text notes about the person; empty when none.")
        is_primary: bool = strawberry.field(description="The customer's primary contact: exactly one of its live contacts is.")
        created_at: dt.datetime
        updated_at: dt.datetime
        version: int
        deleted_at: Optional[dt.datetime]

        @strawberry.field(description="The customer this person works at.")
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


def _crud(registry) -> CrudFields:
    return crud_fields(
        registry, "Contact",
        service=CrudService(contacts.list_contacts, contacts.get, contacts.create, contacts.update,
                            contacts.delete, contacts.restore),
        create_input="ContactCreateInput", update_input="ContactUpdateInput", filter_input="ContactFilter",
        sortable=list(contacts.SORTABLE), default_sort="name",
        descriptions={"get": "One contact you may see.", "list": "The contacts of the customers you may see."})


def query_fields(registry) -> dict:
    return _crud(registry).query


def mutation_fields(registry) -> dict:
    return _crud(registry).mutation
