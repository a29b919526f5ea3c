"""Exhibitions (会展): GraphQL types and fields, contributed through the ``trellis_graphql_*`` hooks.

Resolvers only translate: they call ``plugins.exhibitions.services`` as ``info.context.user`` and batch
nested lists through ``info.context.loaders`` (one query per level however many editions a page holds).
Visitor data reaches exhibitor users only as a ``VisitorCard`` built by the services: fields the
organiser hides for the edition are null.
"""

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import Optional

import strawberry

from api.graphql.crud import CrudFields, CrudService, crud_fields
from api.graphql.from_schema import crud_inputs
from api.graphql.inputs import input_to_dict, stored
from api.graphql.lifecycle import history_field
from api.graphql.loaders import customers_by_id
from api.graphql.money import Money
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, nested_connection, page_request
from plugins.exhibitions import models
from plugins.exhibitions import services as svc

CARD_FIELDS = ("registration_id", "badge_code", "name", "company", "job_title", "email", "phone", "region",
               "category", "interests", "purchase_intent")
METRIC_FIELDS = ("exhibitors", "key_exhibitors", "registrations", "visitors", "professional_share", "show_up_rate",
                 "new_visitor_share", "rebooking_rate", "churn_rate", "leads_per_exhibitor", "meetings_per_exhibitor",
                 "satisfaction", "booth_area_sold", "booth_revenue", "leads", "hot_leads", "meetings",
                 "meetings_held")


def _card(visitor: dict | None):
    if visitor is None:
        return None
    return SimpleNamespace(**{name: visitor.get(name) for name in CARD_FIELDS})


def _edition_metrics(user, ids: list[uuid.UUID]) -> dict:
    from plugins.exhibitions import metrics

    if user.role not in metrics.VIEWERS:
        return {}
    return {eid: SimpleNamespace(**{k: values[k] for k in METRIC_FIELDS}) for eid, values in metrics.compute(ids).items()}


def trellis_graphql_types(registry):
    vocabulary = registry.vocabulary_enum
    VisitorCategory, ProductCategory = vocabulary("exhibitions_visitor_category"), vocabulary("exhibitions_product_category")
    PurchaseIntent, LeadRating = vocabulary("exhibitions_purchase_intent"), vocabulary("exhibitions_lead_rating")

    @registry.type("VisitorCard")
    class VisitorCard:
        """A visitor as the caller may see them: organiser staff see every field, an exhibitor only
        the fields the organiser allows for the edition (the others are null)."""

        registration_id: strawberry.ID
        badge_code: str
        name: Optional[str]
        company: Optional[str]
        job_title: Optional[str]
        email: Optional[str]
        phone: Optional[str]
        region: Optional[str]
        category: Optional[VisitorCategory]
        interests: Optional[list[ProductCategory]]
        purchase_intent: Optional[PurchaseIntent]

    @registry.type("Exhibition", node=models.ExhibitionShow)
    class Exhibition:
        """A recurring show (展会)."""

        id: strawberry.ID
        name: str
        industry: Optional[str]
        description: str
        version: int

    @registry.type("Booth", node=models.ExhibitionBooth)
    class Booth:
        id: strawberry.ID
        number: str
        hall: str
        area: float
        price: Money
        status: vocabulary("exhibitions_booth_status")
        participation_id: Optional[strawberry.ID]
        version: int

    @registry.type("ExhibitorParticipation")
    class ExhibitorParticipation:
        """An exhibitor (a company customer) at one edition (参展)."""

        id: strawberry.ID
        edition_id: strawberry.ID
        status: vocabulary("exhibitions_participation.status.state") = strawberry.field(
            description="invited → applied → confirmed → paid → arrived → attended, "
                                                   "or cancelled.")
        is_key: bool
        categories: list[ProductCategory]
        notes: str
        version: int

        @strawberry.field
        def company(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            user = info.context.user
            return info.context.loaders.load("customers", lambda ids: customers_by_id(user, ids), self.company_id)

    @registry.type("VisitorRegistration")
    class VisitorRegistration:
        """A visitor registered for an edition, with a badge code (organiser staff, and managers and reps for
        the visitors they may see)."""

        id: strawberry.ID
        edition_id: strawberry.ID
        badge_code: str
        category: VisitorCategory
        interests: list[ProductCategory]
        purchase_intent: PurchaseIntent
        source: vocabulary("exhibitions_registration_source")
        status: vocabulary("exhibitions_registration_status")
        company_name: str
        job_title: str
        email: str
        phone: str
        registered_at: dt.datetime
        version: int

        @strawberry.field
        def visitor(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            user = info.context.user
            return info.context.loaders.load("customers", lambda ids: customers_by_id(user, ids), self.visitor_id)

    @registry.type("EditionMetrics")
    class EditionMetrics:
        """An edition's figures (null for roles that get no figures: exhibitors, reps)."""

        exhibitors: int
        key_exhibitors: int
        registrations: int
        visitors: int = strawberry.field(description="Unique visitors, UFI-style: once per person per edition.")
        professional_share: Optional[float]
        show_up_rate: Optional[float]
        new_visitor_share: Optional[float]
        rebooking_rate: Optional[float]
        churn_rate: Optional[float]
        leads_per_exhibitor: Optional[float]
        meetings_per_exhibitor: Optional[float]
        satisfaction: Optional[float]
        booth_area_sold: float
        booth_revenue: Money
        leads: int
        hot_leads: int
        meetings: int
        meetings_held: int

    @registry.type("Edition", node=models.ExhibitionEdition)
    class Edition:
        """One edition (届) of a show."""

        id: strawberry.ID
        exhibition_id: strawberry.ID
        name: str
        starts_on: dt.date
        ends_on: dt.date
        venue: str
        halls: list[str]
        timezone: str
        lead_visible_fields: list[vocabulary("exhibitions_visitor_field")] = strawberry.field(
            description="The visitor fields the edition's exhibitors see on their leads.")
        version: int

        @strawberry.field
        def exhibition(self, info: strawberry.Info) -> Optional[registry.ref("Exhibition")]:
            return self.exhibition  # joined-loaded with the edition

        @strawberry.field
        def exhibitors(self, info: strawberry.Info) -> list[registry.ref("ExhibitorParticipation")]:
            user = info.context.user
            return info.context.loaders.load("exhibitions.participations_by_edition",
                                             lambda ids: svc.participations_for_editions(user, ids), self.id, [])

        @strawberry.field
        def visitors(self, info: strawberry.Info, first: int = 20) -> list[registry.ref("VisitorRegistration")]:
            user = info.context.user
            limit = max(1, min(first, 100))
            return info.context.loaders.load(f"exhibitions.registrations_by_edition:{limit}",
                                             lambda ids: svc.registrations_for_editions(user, ids, limit), self.id, [])

        @strawberry.field
        def visitor_count(self, info: strawberry.Info) -> int:
            user = info.context.user
            return info.context.loaders.load("exhibitions.registration_counts",
                                             lambda ids: svc.count_registrations_for_editions(user, ids), self.id, 0)

        @strawberry.field
        def metrics(self, info: strawberry.Info) -> Optional[registry.ref("EditionMetrics")]:
            user = info.context.user
            return info.context.loaders.load("exhibitions.edition_metrics", lambda ids: _edition_metrics(user, ids),
                                             self.id)

    @registry.type("ExhibitionLead", node=NodeSource(models.ExhibitionLead, get=svc.get_lead))
    class ExhibitionLead:
        """A badge scanned at an exhibitor's booth. An exhibitor sees only its own leads."""

        id: strawberry.ID
        edition_id: strawberry.ID
        participation_id: strawberry.ID
        rating: LeadRating
        tags: list[str]
        notes: str
        captured_at: dt.datetime
        follow_up_task_id: Optional[strawberry.ID]
        version: int

        @strawberry.field
        def visitor(self) -> registry.ref("VisitorCard"):
            return _card(self.visitor)

    @registry.input("ExhibitionLeadInput")
    class ExhibitionLeadInput:
        participation_id: strawberry.ID
        badge_code: str
        rating: Optional[LeadRating] = strawberry.UNSET
        tags: Optional[list[str]] = strawberry.UNSET
        notes: Optional[str] = strawberry.UNSET

    @registry.input("ExhibitionLeadUpdateInput")
    class ExhibitionLeadUpdateInput:
        version: int
        rating: Optional[LeadRating] = strawberry.UNSET
        tags: Optional[list[str]] = strawberry.UNSET
        notes: Optional[str] = strawberry.UNSET

    _register_record_inputs(registry)


#: records served with the house CRUD fields: type → (service functions' stem, schemas' stem, field stem,
#: the operations a hand-written field already serves)
RECORDS = {
    "Exhibition": ("exhibition", "Exhibition", "Exhibition", {"list"}),
    "Edition": ("edition", "Edition", "ExhibitionEdition", {"list", "get"}),
    "Booth": ("booth", "Booth", "ExhibitionBooth", set()),
    "ExhibitorParticipation": ("participation", "Participation", "ExhibitorParticipation", set()),
    "VisitorRegistration": ("registration", "Registration", "VisitorRegistration", set()),
}


def _register_record_inputs(registry) -> None:
    """Each record's create, update and filter inputs, from the marshmallow schemas REST uses."""
    from plugins.exhibitions import schemas

    for _type, (_fn, stem, field_stem, _done) in RECORDS.items():
        crud_inputs(registry, field_stem, create=getattr(schemas, f"{stem}Create"),
                    update=getattr(schemas, f"{stem}Update"), filter=getattr(schemas, f"{stem}Filter"),
                    prefix="Exhibition")


def _records(registry) -> CrudFields:
    out = CrudFields({}, {})
    for type_name, (fn, _stem, field_stem, done) in RECORDS.items():
        one = field_stem[:1].lower() + field_stem[1:]
        names = {"get": one, "list": f"{one}s", **{op: f"{op}{field_stem}" for op in
                                                    ("create", "update", "delete", "restore")}}
        names.update({op: None for op in done})
        sort = getattr(svc, f"{fn.upper()}_SORT")
        fields = crud_fields(
            registry, type_name,
            service=CrudService(list=getattr(svc, f"list_{fn}s"), get=getattr(svc, f"get_{fn}"),
                                create=getattr(svc, f"create_{fn}"), update=getattr(svc, f"update_{fn}"),
                                delete=getattr(svc, f"delete_{fn}"), restore=getattr(svc, f"restore_{fn}")),
            create_input=f"{field_stem}CreateInput", update_input=f"{field_stem}UpdateInput",
            filter_input=f"{field_stem}Filter", sortable=list(sort), names=names,
            descriptions={"restore": "Bring a deleted one back."})
        out.query.update(fields.query)
        out.mutation.update(fields.mutation)
    return out


def trellis_graphql_type_fields(registry):
    def registrations(root: strawberry.Parent[object], info: strawberry.Info, first: First = None,
                      after: After = None, last: Last = None, before: Before = None
                      ) -> registry.connection("VisitorRegistration"):
        user = info.context.user
        return nested_connection(
            info.context.loaders, "exhibitions.registrations_by_customer",
            lambda ids, request: svc.registration_pages_for_customers(user, ids, request), root.id,
            page_request(first, after, last, before, default=10), count_name="exhibitions.registration_counts",
            count_batch=lambda ids: svc.registration_counts(user, ids))

    def exhibitor_participations(root: strawberry.Parent[object], info: strawberry.Info, first: First = None,
                                 after: After = None, last: Last = None, before: Before = None
                                 ) -> registry.connection("ExhibitorParticipation"):
        user = info.context.user
        return nested_connection(
            info.context.loaders, "exhibitions.participations_by_customer",
            lambda ids, request: svc.participation_pages_for_customers(user, ids, request), root.id,
            page_request(first, after, last, before, default=10), count_name="exhibitions.participation_counts",
            count_batch=lambda ids: svc.participation_counts(user, ids))

    from plugins.exhibitions.workflows import PARTICIPATION

    return {"ExhibitorParticipation": {"history": history_field(registry, PARTICIPATION, "Every status move, oldest first.")},
            "Customer": {
        "registrations": strawberry.field(resolver=registrations,
                                          description="Show registrations of this visitor (exhibitions)."),
        "exhibitorParticipations": strawberry.field(resolver=exhibitor_participations,
                                                    description="Editions this company exhibits at (exhibitions)."),
    }}


def trellis_graphql_query_fields(registry):
    exhibition_order = order_by_argument(registry, "Exhibition", svc.EXHIBITION_SORT, "name")
    edition_order = order_by_argument(registry, "Edition", svc.EDITION_SORT, "-starts_on")
    lead_order = order_by_argument(registry, "ExhibitionLead", svc.LEAD_SORT, "-captured_at")

    def exhibitions(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                    order_by: exhibition_order = None) -> registry.connection("Exhibition"):
        return connection(info, svc.list_exhibitions(info.context.user, page=page_request(first, after, last, before),
                                                     sort=order_to_service(order_by)))

    def editions(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                 exhibition_id: Optional[strawberry.ID] = None, order_by: edition_order = None) -> registry.connection("Edition"):
        filters = {"exhibition_id": exhibition_id} if exhibition_id else {}
        return connection(info, svc.list_editions(info.context.user, filters, page=page_request(first, after, last, before),
                                                  sort=order_to_service(order_by)))

    def edition(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("Edition")]:
        return svc.get_edition(info.context.user, id)

    def exhibition_leads(info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                         before: Before = None, edition_id: Optional[strawberry.ID] = None,
                         rating: Optional[registry.vocabulary_enum("exhibitions_lead_rating")] = None,
                         order_by: lead_order = None) -> registry.connection("ExhibitionLead"):
        filters = {k: stored(v) for k, v in (("edition_id", edition_id), ("rating", rating)) if v}
        return connection(info, svc.list_leads(info.context.user, filters,
                                               page=page_request(first, after, last, before),
                                               sort=order_to_service(order_by)))

    def exhibition_lead(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("ExhibitionLead")]:
        return svc.get_lead(info.context.user, id)

    return {**_records(registry).query,
            "exhibitions": strawberry.field(resolver=exhibitions),
            "editions": strawberry.field(resolver=editions),
            "edition": strawberry.field(resolver=edition),
            "exhibitionLeads": strawberry.field(resolver=exhibition_leads),
            "exhibitionLead": strawberry.field(resolver=exhibition_lead)}


def trellis_graphql_mutation_fields(registry):
    def capture_exhibition_lead(info: strawberry.Info, input: registry.ref("ExhibitionLeadInput")
                                ) -> registry.ref("ExhibitionLead"):
        return svc.capture_lead(info.context.user, input_to_dict(input))[0]

    def update_exhibition_lead(info: strawberry.Info, id: strawberry.ID,
                               input: registry.ref("ExhibitionLeadUpdateInput")) -> registry.ref("ExhibitionLead"):
        return svc.update_lead(info.context.user, id, input_to_dict(input))

    def change_participation_status(info: strawberry.Info, id: strawberry.ID,
                                    to: registry.vocabulary_enum("exhibitions_participation.status.state"),
                                    reason: str = "") -> registry.ref("ExhibitorParticipation"):
        return svc.change_participation_status(info.context.user, id, {"to": stored(to), "reason": reason})

    def delete_exhibition_lead(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("ExhibitionLead")]:
        lead = svc.get_lead(info.context.user, id)   # as it was: the service reads no deleted lead
        svc.delete_lead(info.context.user, id)
        return lead

    def restore_exhibition_lead(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("ExhibitionLead")]:
        return svc.restore_lead(info.context.user, id)

    return {**_records(registry).mutation,
            "deleteExhibitionLead": strawberry.mutation(resolver=delete_exhibition_lead,
                                                        description="Soft delete; returns the deleted lead."),
            "restoreExhibitionLead": strawberry.mutation(resolver=restore_exhibition_lead),
            "captureExhibitionLead": strawberry.mutation(resolver=capture_exhibition_lead),
            "updateExhibitionLead": strawberry.mutation(resolver=update_exhibition_lead),
            "changeParticipationStatus": strawberry.mutation(resolver=change_participation_status)}
