"""Exhibitions (会展): GraphQL types and fields, contributed through the ``trellis_graphql_*`` hooks.

Resolvers only translate: they call ``plugins.exhibitions.services`` as ``info.context.user`` and batch
nested lists through ``info.context.loaders`` (one query per level however many editions a page holds).
Visitor data reaches exhibitor users only as an ``ExhibitionVisitorCard`` built by the services: fields the
organiser hides for the edition are null.
"""

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import Annotated, Optional

import strawberry

from api.graphql.crud import CrudFields, CrudService, crud_fields
from api.graphql.from_schema import crud_inputs, input_from_schema
from api.graphql.inputs import input_to_dict, stored
from api.graphql.lifecycle import history_field
from api.graphql.loaders import customers_by_id
from api.graphql.money import Money
from api.graphql.nodes import NodeSource
from api.graphql.pagination import After, Before, First, Last, nested_connection, page_request
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

    @registry.type("ExhibitionVisitorCard")
    class ExhibitionVisitorCard:
        """A visitor as the caller may see them: organiser staff see every field, an exhibitor only
        the fields the organiser allows for the edition (the others are null)."""

        registration_id: strawberry.ID = strawberry.field(description="The id of the visitor's registration for the edition.")
        badge_code: str = strawberry.field(description="The code on the visitor's badge.")
        name: Optional[str] = strawberry.field(description="The visitor's name; null when hidden from you.")
        company: Optional[str] = strawberry.field(description="The visitor's company; null when hidden from you or not given.")
        job_title: Optional[str] = strawberry.field(description="The visitor's job title; null when hidden from you or not given.")
        email: Optional[str] = strawberry.field(description="The visitor's email address; null when hidden from you or not given.")
        phone: Optional[str] = strawberry.field(description="The visitor's phone number; null when hidden from you or not given.")
        region: Optional[str] = strawberry.field(description="The visitor's region; null when hidden from you or not given.")
        category: Optional[VisitorCategory] = strawberry.field(description="Professional buyer, general visitor, media or VIP; null when hidden from you.")
        interests: Optional[list[ProductCategory]] = strawberry.field(description="The product categories the visitor is interested in; null when hidden from you.")
        purchase_intent: Optional[PurchaseIntent] = strawberry.field(description="How ready the visitor says they are to buy; null when hidden from you.")

    @registry.type("Exhibition", node=models.ExhibitionShow)
    class Exhibition:
        """A recurring show (展会)."""

        id: strawberry.ID
        name: str
        industry: Optional[str]
        description: str
        version: int

    @registry.type("ExhibitionBooth", node=models.ExhibitionBooth)
    class ExhibitionBooth:
        """A booth of an edition (展位): number, hall, area and price, and the exhibitor's participation that took it."""

        id: strawberry.ID
        number: str
        hall: str
        area: float
        price: Money
        status: vocabulary("exhibitions_booth_status")
        participation_id: Optional[strawberry.ID]
        version: int

    @registry.type("ExhibitionParticipation", node=models.ExhibitorParticipation)
    class ExhibitionParticipation:
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

        @strawberry.field(description="The exhibiting company (a customer); null when you may not see it.")
        def company(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            user = info.context.user
            return info.context.loaders.load("customers", lambda ids: customers_by_id(user, ids), self.company_id)

    @registry.type("ExhibitionVisitorRegistration", node=models.VisitorRegistration)
    class ExhibitionVisitorRegistration:
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

        @strawberry.field(description="The visitor (a person customer); null when you may not see it.")
        def visitor(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            user = info.context.user
            return info.context.loaders.load("customers", lambda ids: customers_by_id(user, ids), self.visitor_id)

    @registry.type("ExhibitionEditionMetrics")
    class ExhibitionEditionMetrics:
        """An edition's figures (null for roles that get no figures: exhibitors, reps)."""

        exhibitors: int = strawberry.field(description="Booked exhibitors (confirmed, paid, arrived or attended).")
        key_exhibitors: int = strawberry.field(description="Booked exhibitors flagged as key exhibitors (重点展商).")
        registrations: int = strawberry.field(description="Live registrations, cancelled ones not counted.")
        visitors: int = strawberry.field(description="Unique visitors, UFI-style: once per person per edition.")
        professional_share: Optional[float] = strawberry.field(description="Share (0–1) of unique visitors who are professional buyers or VIPs; null without visitors.")
        show_up_rate: Optional[float] = strawberry.field(description="Unique visitors / registrations (0–1); null without registrations.")
        new_visitor_share: Optional[float] = strawberry.field(description="Share (0–1) of unique visitors who attended no earlier edition of the show; null without visitors.")
        rebooking_rate: Optional[float] = strawberry.field(description="Share (0–1) of the previous edition's booked exhibitors booked again; null for a first edition.")
        churn_rate: Optional[float] = strawberry.field(description="1 − rebookingRate; null for a first edition.")
        leads_per_exhibitor: Optional[float] = strawberry.field(description="Live leads / booked exhibitors; null without exhibitors.")
        meetings_per_exhibitor: Optional[float] = strawberry.field(description="Accepted or held meetings / booked exhibitors; null without exhibitors.")
        satisfaction: Optional[float] = strawberry.field(description="Average satisfaction answer (1–5) of the edition's surveys; null without answers.")
        booth_area_sold: float = strawberry.field(description="Area of sold booths, in square metres.")
        booth_revenue: Money = strawberry.field(description="Price of sold booths, in the app's currency.")
        leads: int = strawberry.field(description="Live leads captured at the edition's booths.")
        hot_leads: int = strawberry.field(description="Of those, the ones rated hot.")
        meetings: int = strawberry.field(description="Meetings accepted or held between exhibitors and visitors.")
        meetings_held: int = strawberry.field(description="Of those, the ones held.")

    @registry.type("ExhibitionEdition", node=models.ExhibitionEdition)
    class ExhibitionEdition:
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

        @strawberry.field(description="The show this is an edition of.")
        def exhibition(self, info: strawberry.Info) -> Optional[registry.ref("Exhibition")]:
            return self.exhibition  # joined-loaded with the edition

        @strawberry.field(description="The edition's exhibitors, oldest first (10 by default).")
        def exhibitors(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                       before: Before = None) -> registry.connection("ExhibitionParticipation"):
            user = info.context.user
            return nested_connection(
                info.context.loaders, "exhibitions.participations_by_edition",
                lambda ids, request: svc.participation_pages_for_editions(user, ids, request), self.id,
                page_request(first, after, last, before, default=10),
                count_name="exhibitions.participation_counts_by_edition",
                count_batch=lambda ids: svc.participation_counts_for_editions(user, ids))

        @strawberry.field(description="The edition's visitor registrations, by registration time (20 by default).")
        def visitors(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                     before: Before = None) -> registry.connection("ExhibitionVisitorRegistration"):
            user = info.context.user
            return nested_connection(
                info.context.loaders, "exhibitions.registrations_by_edition",
                lambda ids, request: svc.registration_pages_for_editions(user, ids, request), self.id,
                page_request(first, after, last, before, default=20),
                count_name="exhibitions.registration_counts",
                count_batch=lambda ids: svc.count_registrations_for_editions(user, ids))

        @strawberry.field(description="How many registrations of the edition you may see.")
        def visitor_count(self, info: strawberry.Info) -> int:
            user = info.context.user
            return info.context.loaders.load("exhibitions.registration_counts",
                                             lambda ids: svc.count_registrations_for_editions(user, ids), self.id, 0)

        @strawberry.field(description="The edition's figures; null for roles that get none (exhibitors, reps).")
        def metrics(self, info: strawberry.Info) -> Optional[registry.ref("ExhibitionEditionMetrics")]:
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

        @strawberry.field(description="The scanned visitor, with only the fields the edition lets exhibitors see (staff: all).")
        def visitor(self) -> registry.ref("ExhibitionVisitorCard"):
            return _card(self.visitor)

    @registry.input("ExhibitionLeadCreateInput")
    class ExhibitionLeadCreateInput:
        participation_id: strawberry.ID
        badge_code: str = strawberry.field(description="The code on the visitor's badge, as scanned at the booth.")
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
    "Exhibition": ("exhibition", "Exhibition", "Exhibition", set()),
    "ExhibitionEdition": ("edition", "Edition", "ExhibitionEdition", set()),
    "ExhibitionBooth": ("booth", "Booth", "ExhibitionBooth", set()),
    "ExhibitionParticipation": ("participation", "Participation", "ExhibitionParticipation", set()),
    "ExhibitionVisitorRegistration": ("registration", "Registration", "ExhibitionVisitorRegistration", set()),
}


def _register_record_inputs(registry) -> None:
    """Each record's create, update and filter inputs, from the marshmallow schemas REST uses."""
    from plugins.exhibitions import schemas

    for _type, (_fn, stem, field_stem, _done) in RECORDS.items():
        crud_inputs(registry, field_stem, create=getattr(schemas, f"{stem}Create"),
                    update=getattr(schemas, f"{stem}Update"), filter=getattr(schemas, f"{stem}Filter"),
                    prefix="Exhibition", vocabularies={"status": "exhibitions_participation.status.state"}
                    if stem == "Participation" else None)
    input_from_schema(registry, "ExhibitionLeadFilter", schemas.LeadFilter)


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
                      ) -> registry.connection("ExhibitionVisitorRegistration"):
        user = info.context.user
        return nested_connection(
            info.context.loaders, "exhibitions.registrations_by_customer",
            lambda ids, request: svc.registration_pages_for_customers(user, ids, request), root.id,
            page_request(first, after, last, before, default=10), count_name="exhibitions.registration_counts",
            count_batch=lambda ids: svc.registration_counts(user, ids))

    def exhibitor_participations(root: strawberry.Parent[object], info: strawberry.Info, first: First = None,
                                 after: After = None, last: Last = None, before: Before = None
                                 ) -> registry.connection("ExhibitionParticipation"):
        user = info.context.user
        return nested_connection(
            info.context.loaders, "exhibitions.participations_by_customer",
            lambda ids, request: svc.participation_pages_for_customers(user, ids, request), root.id,
            page_request(first, after, last, before, default=10), count_name="exhibitions.participation_counts",
            count_batch=lambda ids: svc.participation_counts(user, ids))

    from plugins.exhibitions.workflows import PARTICIPATION

    return {"ExhibitionParticipation": {"history": history_field(registry, PARTICIPATION, "Every status move, oldest first.")},
            "Customer": {
        "registrations": strawberry.field(resolver=registrations,
                                          description="Show registrations of this visitor (exhibitions)."),
        "exhibitorParticipations": strawberry.field(resolver=exhibitor_participations,
                                                    description="Editions this company exhibits at (exhibitions)."),
    }}


def trellis_graphql_query_fields(registry):
    leads = crud_fields(
        registry, "ExhibitionLead",
        service=CrudService(list=svc.list_leads, get=svc.get_lead, create=None, update=None, delete=None,
                            restore=None),
        filter_input="ExhibitionLeadFilter", sortable=list(svc.LEAD_SORT), default_sort="-captured_at",
        names={"delete": None, "restore": None})
    return {**_records(registry).query, **leads.query}


def trellis_graphql_mutation_fields(registry):
    def capture_exhibition_lead(info: strawberry.Info, input: registry.ref("ExhibitionLeadCreateInput")
                                ) -> registry.ref("ExhibitionLead"):
        return svc.capture_lead(info.context.user, input_to_dict(input))[0]

    def update_exhibition_lead(info: strawberry.Info, id: strawberry.ID,
                               input: registry.ref("ExhibitionLeadUpdateInput")) -> registry.ref("ExhibitionLead"):
        return svc.update_lead(info.context.user, id, input_to_dict(input))

    def change_participation_status(info: strawberry.Info, id: strawberry.ID,
                                    to: Annotated[registry.vocabulary_enum("exhibitions_participation.status.state"), strawberry.argument(description="The status to move to.")],
                                    reason: str = "") -> registry.ref("ExhibitionParticipation"):
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
            "restoreExhibitionLead": strawberry.mutation(resolver=restore_exhibition_lead, description="Bring a deleted lead back."),
            "captureExhibitionLead": strawberry.mutation(resolver=capture_exhibition_lead, description="Record a badge scanned at a booked exhibitor's booth; scanning the same badge again returns the lead already captured."),
            "updateExhibitionLead": strawberry.mutation(resolver=update_exhibition_lead, description="Rate, tag or note a lead; send the version you read."),
            "changeExhibitionParticipationStatus": strawberry.mutation(resolver=change_participation_status, description="Move a participation along its workflow (invited → applied → confirmed → paid → arrived → attended, or cancelled); paying sells its reserved booths, cancelling frees them.")}
