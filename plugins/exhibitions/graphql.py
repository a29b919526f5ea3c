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
from api.graphql.inputs import field_names, input_to_dict, stored
from api.graphql.lifecycle import history_field
from api.graphql.loaders import customers_by_id, users_by_id
from api.graphql.money import Money
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, nested_connection, page_request
from api.graphql.records import record_fields, record_types
from plugins.exhibitions import models
from plugins.exhibitions import services as svc

CARD_FIELDS = ("registration_id", "badge_code", "name", "company", "job_title", "email", "phone", "region",
               "category", "interests", "purchase_intent")
METRIC_FIELDS = ("exhibitors", "key_exhibitors", "registrations", "visitors", "professional_share", "show_up_rate",
                 "new_visitor_share", "rebooking_rate", "churn_rate", "leads_per_exhibitor", "meetings_per_exhibitor",
                 "visitor_satisfaction", "exhibitor_satisfaction", "booth_area_sold", "booth_revenue", "leads", "hot_leads", "meetings",
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
    # the same inputs the root lists exhibitionParticipations / exhibitionVisitorRegistrations take
    ParticipationOrder = order_by_argument(registry, "ExhibitionParticipation", list(svc.PARTICIPATION_SORT),
                                           "created_at")
    RegistrationOrder = order_by_argument(registry, "ExhibitionVisitorRegistration", list(svc.REGISTRATION_SORT),
                                          "registered_at")

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
        external_id: Optional[str] = strawberry.field(description=(
            "The show's id in the system it was imported from (`trellis import exhibitions.shows`), unique among "
            "live shows; null when created here."))

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
        external_id: Optional[str] = strawberry.field(description=(
            "The booth's id in the system it was imported from (`trellis import exhibitions.booths`), unique among "
            "live booths; null when created here."))

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
            return info.context.loaders.load("core.customers", lambda ids: customers_by_id(user, ids), self.company_id)

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
            return info.context.loaders.load("core.customers", lambda ids: customers_by_id(user, ids), self.visitor_id)

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
        visitor_satisfaction: Optional[float] = strawberry.field(description="Average satisfaction answer (1–5) of the edition's visitors, one answer per visitor and survey; null without answers.")
        exhibitor_satisfaction: Optional[float] = strawberry.field(description="Average satisfaction answer (1–5) of the edition's exhibitors, one answer per exhibitor and survey; null without answers.")
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
        external_id: Optional[str] = strawberry.field(description=(
            "The edition's id in the system it was imported from (`trellis import exhibitions.editions`), unique "
            "among live editions; null when created here."))

        @strawberry.field(description="The show this is an edition of.")
        def exhibition(self, info: strawberry.Info) -> Optional[registry.ref("Exhibition")]:
            return self.exhibition  # joined-loaded with the edition

        @strawberry.field(description="The edition's exhibitors, oldest first (10 by default).")
        def exhibitors(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                       before: Before = None, order_by: ParticipationOrder = None
                       ) -> registry.connection("ExhibitionParticipation"):
            user, sort = info.context.user, order_to_service(order_by)
            return nested_connection(
                info.context.loaders, "exhibitions.participations_by_edition",
                lambda ids, request: svc.participation_pages_for_editions(user, ids, request, sort), self.id,
                page_request(first, after, last, before, default=10),
                count_name="exhibitions.participation_counts_by_edition",
                count_batch=lambda ids: svc.participation_counts_for_editions(user, ids), sort=sort)

        @strawberry.field(description="The edition's visitor registrations, by registration time (20 by default).")
        def visitors(self, info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                     before: Before = None, order_by: RegistrationOrder = None
                     ) -> registry.connection("ExhibitionVisitorRegistration"):
            user, sort = info.context.user, order_to_service(order_by)
            return nested_connection(
                info.context.loaders, "exhibitions.registrations_by_edition",
                lambda ids, request: svc.registration_pages_for_editions(user, ids, request, sort), self.id,
                page_request(first, after, last, before, default=20),
                count_name="exhibitions.registration_counts",
                count_batch=lambda ids: svc.count_registrations_for_editions(user, ids), sort=sort)

        @strawberry.field(description="How many live registrations of the edition you may see (cancelled ones not counted, as in metrics.registrations).")
        def visitor_count(self, info: strawberry.Info) -> int:
            user = info.context.user
            return info.context.loaders.load(
                "exhibitions.live_registration_counts",
                lambda ids: svc.count_registrations_for_editions(user, ids, live=True), self.id, 0)

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

    MeetingStatus = vocabulary("exhibitions_meeting.status.state")

    @registry.type("ExhibitionMeeting", node=NodeSource(models.ExhibitionMeeting, get=svc.get_meeting))
    class ExhibitionMeeting:
        """A meeting between an exhibitor and a registered buyer (洽谈): requested → accepted or declined →
        held or no-show. An exhibitor sees only its own meetings."""

        id: strawberry.ID
        edition_id: strawberry.ID
        participation_id: strawberry.ID
        registration_id: strawberry.ID
        status: MeetingStatus = strawberry.field(
            description="requested → accepted or declined → held or no_show.")
        requested_by_id: Optional[strawberry.ID] = strawberry.field(
            description="The id of the user who asked for the meeting; null when that user is gone.")
        starts_at: Optional[dt.datetime] = strawberry.field(
            description="When the meeting starts (UTC, ISO 8601); null when no time is set yet.")
        location: str = strawberry.field(description="Where the meeting takes place (a booth, a room); empty when not set.")
        notes: str = strawberry.field(description="Free-text notes on the meeting; empty when none.")
        exhibitor_name: Optional[str] = strawberry.field(description="The exhibiting company's name.")
        version: int

        @strawberry.field(description="The buyer, with only the fields the edition lets exhibitors see (staff: all).")
        def visitor(self) -> registry.ref("ExhibitionVisitorCard"):
            return _card(self.visitor)

    @registry.type("ExhibitionCheckIn", node=models.CheckIn)
    class ExhibitionCheckIn:
        """One badge scan at a gate (门禁数据), organiser staff only. The same scan sent again is stored once."""

        id: strawberry.ID
        edition_id: strawberry.ID
        registration_id: strawberry.ID
        scanned_at: dt.datetime = strawberry.field(description="When the badge was scanned (UTC, ISO 8601).")
        day: dt.date = strawberry.field(description="The show day of the scan, in the edition's timezone (ISO 8601).")
        gate: str = strawberry.field(description="The gate the badge was scanned at; empty when not given.")
        direction: vocabulary("exhibitions_scan_direction") = strawberry.field(
            description="Whether the visitor went in or out.")
        device: str = strawberry.field(description="The scanner that read the badge; empty when not given.")

    @registry.type("ExhibitionInvitation", node=models.ExhibitionInvitation)
    class ExhibitionInvitation:
        """A past visitor invited to an edition, with the reason they were picked (organiser staff only)."""

        id: strawberry.ID
        edition_id: strawberry.ID
        visitor_id: strawberry.ID
        reason: str = strawberry.field(description="Why the visitor was picked (attended before, interests, lapsed …).")
        status: vocabulary("exhibitions_invitation_status") = strawberry.field(
            description="Invited, or registered once the visitor registers for the edition.")
        invited_by_id: Optional[strawberry.ID] = strawberry.field(
            description="The id of the user who built the list; null when that user is gone.")
        created_at: dt.datetime
        version: int

        @strawberry.field(description="The invited visitor (a person customer); null when you may not see it.")
        def visitor(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            user = info.context.user
            return info.context.loaders.load("core.customers", lambda ids: customers_by_id(user, ids), self.visitor_id)

    @registry.type("ExhibitionInvitationResult")
    class ExhibitionInvitationResult:
        """What building an edition's invitation list did (or, as a dry run, would do)."""

        selected: int = strawberry.field(description="Past visitors matching the criteria.")
        created: int = strawberry.field(description="Invitations written (in a dry run: the ones that would be).")
        already_invited: int = strawberry.field(description="Matching visitors already invited to the edition.")
        already_registered: int = strawberry.field(description="Matching visitors already registered for the edition.")
        dry_run: bool = strawberry.field(description="True when nothing was written.")

    @registry.input("ExhibitionInvitationCriteriaInput")
    class ExhibitionInvitationCriteriaInput:
        """Which past visitors to invite; every criterion given must hold."""

        from_edition_ids: Optional[list[strawberry.ID]] = strawberry.field(
            default=strawberry.UNSET, description="Past editions to draw from (default: every earlier edition of the same show; at most 20).")
        attended: Optional[bool] = strawberry.field(
            default=strawberry.UNSET, description="true: only visitors who checked in; false: only no-shows; null or absent: both.")
        categories: Optional[list[VisitorCategory]] = strawberry.field(
            default=strawberry.UNSET, description="Only visitors of these categories (default: any).")
        interests: Optional[list[ProductCategory]] = strawberry.field(
            default=strawberry.UNSET, description="Only visitors with any of these interests (default: any).")
        lapsed: Optional[bool] = strawberry.field(
            default=strawberry.UNSET, description="Only visitors who came before but skipped the latest edition.")
        dry_run: Optional[bool] = strawberry.field(
            default=strawberry.UNSET, description="Count only; write nothing.")

    @registry.type("ExhibitionMatch")
    class ExhibitionMatch:
        """A buyer and an exhibitor whose offer meets the buyer's needs, ranked by score, with the reasons."""

        score: float = strawberry.field(description="How well they match; higher is better.")
        reasons: list[str] = strawberry.field(description="Why they match, in English.")
        common_categories: list[ProductCategory] = strawberry.field(
            description="The product categories the exhibitor offers and the buyer wants.")
        registration_id: Optional[strawberry.ID] = strawberry.field(
            description="The buyer's registration (in a list of buyers); null in a list of exhibitors.")
        participation_id: Optional[strawberry.ID] = strawberry.field(
            description="The exhibitor's participation (in a list of exhibitors); null in a list of buyers.")
        exhibitor_name: Optional[str] = strawberry.field(
            description="The exhibiting company's name (in a list of exhibitors); null in a list of buyers.")

        @strawberry.field(description="The buyer as you may see them (in a list of buyers); null in a list of exhibitors.")
        def visitor(self) -> Optional[registry.ref("ExhibitionVisitorCard")]:
            return _card(self.visitor)

    @registry.type("ExhibitionMatchesSent")
    class ExhibitionMatchesSent:
        """What telling an edition's exhibitors about their matching buyers did."""

        exhibitors: int = strawberry.field(description="Booked exhibitors with at least one matching buyer.")
        notified: int = strawberry.field(description="Exhibitor users notified now (each exhibitor is told once).")
        buyers: int = strawberry.field(description="Professional buyers registered for the edition (cancelled ones not counted).")
        buyers_notified: int = strawberry.field(description="Buyers told now of the exhibitors matching their interests, on their timeline and in the event exhibitions_registration.matches_sent (each buyer once).")

    @registry.type("ExhibitionExhibitorUser")
    class ExhibitionExhibitorUser:
        """A user with the exhibitor role and the company they work for (one company per user)."""

        user_id: strawberry.ID
        company_id: strawberry.ID
        created_at: dt.datetime = strawberry.field(description="When the user was first linked to a company (UTC, ISO 8601).")

        @strawberry.field(description="The exhibitor user; null when you may not see it.")
        def user(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            user = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(user, ids), self.user_id)

        @strawberry.field(description="The company (a customer); null when you may not see it.")
        def company(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            user = info.context.user
            return info.context.loaders.load("core.customers", lambda ids: customers_by_id(user, ids), self.company_id)

    @registry.type("ExhibitionSurveyAnswer", node=models.SurveyAnswer)
    class ExhibitionSurveyAnswer:
        """A satisfaction answer of a visitor or an exhibitor (organiser staff only); the same answer is on
        the respondent's timeline."""

        id: strawberry.ID
        edition_id: strawberry.ID
        respondent: vocabulary("exhibitions_survey_respondent") = strawberry.field(
            description="Whether a visitor or an exhibitor answered.")
        registration_id: Optional[strawberry.ID] = strawberry.field(
            description="The visitor's registration, when a visitor answered.")
        participation_id: Optional[strawberry.ID] = strawberry.field(
            description="The exhibitor's participation, when an exhibitor answered.")
        phase: vocabulary("exhibitions_survey_phase") = strawberry.field(
            description="Whether the answer was given during or after the show.")
        satisfaction: int = strawberry.field(description="The satisfaction answer, 1 (poor) to 5 (excellent).")
        comment: str = strawberry.field(description="The respondent's comment; empty when none.")
        interaction_id: Optional[strawberry.ID] = strawberry.field(
            description="The interaction on the respondent's timeline that holds the answer.")
        created_at: dt.datetime
        updated_at: dt.datetime = strawberry.field(description="When the answer was last given (a re-answer replaces it).")

    @registry.input("ExhibitionSurveyAnswerCreateInput")
    class ExhibitionSurveyAnswerCreateInput:
        """A satisfaction answer: give exactly one of registrationId (a visitor) or participationId (an exhibitor)."""

        edition_id: strawberry.ID
        satisfaction: int = strawberry.field(description="1 (poor) to 5 (excellent).")
        registration_id: Optional[strawberry.ID] = strawberry.field(
            default=strawberry.UNSET, description="The visitor's registration, when a visitor answers.")
        participation_id: Optional[strawberry.ID] = strawberry.field(
            default=strawberry.UNSET, description="The exhibitor's participation, when an exhibitor answers.")
        phase: Optional[vocabulary("exhibitions_survey_phase")] = strawberry.field(
            default=strawberry.UNSET, description="During or after the show (default: after).")
        comment: Optional[str] = strawberry.field(default=strawberry.UNSET, description="The respondent's comment (at most 5000 characters).")

    @registry.type("ExhibitionRegistrationImportRow")
    class ExhibitionRegistrationImportRow:
        """What became of one row of a registration import."""

        index: int = strawberry.field(description="The row's position in the import, from 0.")
        registration_id: Optional[strawberry.ID] = strawberry.field(
            description="The registration the row made, or the visitor's existing one (a visitor named by id, or "
                        "recognised by e-mail or phone, in this edition or an earlier row).")
        visitor_id: Optional[strawberry.ID] = strawberry.field(description="The visitor (a person customer, new or existing).")
        badge_code: Optional[str] = strawberry.field(description="The registration's badge code.")
        created: bool = strawberry.field(description="True when the row made a new registration, false when the visitor was already registered.")

    @registry.type("ExhibitionRegistrationImportResult")
    class ExhibitionRegistrationImportResult:
        """What a registration import did: every row was valid, or nothing was written."""

        created: int = strawberry.field(description="Registrations made.")
        existing: int = strawberry.field(description="Rows whose visitor was already registered for the edition.")
        registrations: list[registry.ref("ExhibitionRegistrationImportRow")] = strawberry.field(
            description="One entry per row, in the import's order.")

    @registry.input("ExhibitionCheckInFilter")
    class ExhibitionCheckInFilter:
        """Which of the stored scans to list: one edition's, maybe only one registration's."""

        edition_id: strawberry.ID = strawberry.field(description="The edition whose scans are listed.")
        registration_id: Optional[strawberry.ID] = strawberry.field(
            default=strawberry.UNSET, description="Only this registration's scans.")

    @registry.input("ExhibitionCheckInCreateInput")
    class ExhibitionCheckInCreateInput:
        """One badge scanned at a gate."""

        badge_code: str = strawberry.field(description="The code on the visitor's badge, as scanned.")
        scanned_at: dt.datetime = strawberry.field(description="When the badge was scanned (ISO 8601 with an offset).")
        gate: Optional[str] = strawberry.field(default=strawberry.UNSET, description="The gate (at most 40 characters).")
        direction: Optional[vocabulary("exhibitions_scan_direction")] = strawberry.field(
            default=strawberry.UNSET, description="In or out (default: entry).")
        device: Optional[str] = strawberry.field(default=strawberry.UNSET, description="The scanner (at most 60 characters).")

    _register_record_inputs(registry)


#: records served with the house CRUD fields: type → (service functions' stem, schemas' stem, field stem,
#: the operations a hand-written field already serves)
RECORDS = {   # the show, its editions and booths are declared once: services.SHOWS, EDITIONS, BOOTHS
    "ExhibitionParticipation": ("participation", "Participation", "ExhibitionParticipation", set()),
    "ExhibitionVisitorRegistration": ("registration", "Registration", "ExhibitionVisitorRegistration", set()),
}


def _register_record_inputs(registry) -> None:
    """Each record's create, update and filter inputs, from the marshmallow schemas REST uses."""
    from plugins.exhibitions import schemas

    record_types(registry, svc.SHOWS, own_type=True)   # the types are written above
    record_types(registry, svc.EDITIONS, svc.BOOTHS, own_type=True, prefix="Exhibition")
    for _type, (_fn, stem, field_stem, _done) in RECORDS.items():
        crud_inputs(registry, field_stem, create=getattr(schemas, f"{stem}Create"),
                    update=getattr(schemas, f"{stem}Update"), filter=getattr(schemas, f"{stem}Filter"),
                    prefix="Exhibition", vocabularies={"status": "exhibitions_participation.status.state"}
                    if stem == "Participation" else None)
    input_from_schema(registry, "ExhibitionLeadFilter", schemas.LeadFilter)
    input_from_schema(registry, "ExhibitionMeetingCreateInput", schemas.MeetingCreate)
    input_from_schema(registry, "ExhibitionMeetingFilter", schemas.MeetingFilter,
                      vocabularies={"status": "exhibitions_meeting.status.state"})
    input_from_schema(registry, "ExhibitionInvitationFilter", schemas.InvitationListFilter)
    input_from_schema(registry, "ExhibitionSurveyAnswerFilter", schemas.SurveyFilter,
                      vocabularies={"respondent": "exhibitions_survey_respondent", "phase": "exhibitions_survey_phase"})
    input_from_schema(registry, "ExhibitionRegistrationImportRowInput", schemas.RegistrationCreate,
                      exclude=("edition_id",),
                      description="One visitor to register: an existing person customer (visitorId) or a new "
                                  "one (name).")


def _records(registry) -> CrudFields:
    out = record_fields(registry, svc.SHOWS, svc.EDITIONS, svc.BOOTHS, default_sort=None,
                        descriptions={"restore": "Bring a deleted one back."})
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
    # the same inputs the root lists take
    RegistrationOrder = order_by_argument(registry, "ExhibitionVisitorRegistration", list(svc.REGISTRATION_SORT),
                                          "registered_at")
    ParticipationOrder = order_by_argument(registry, "ExhibitionParticipation", list(svc.PARTICIPATION_SORT),
                                           "created_at")

    def registrations(root: strawberry.Parent[object], info: strawberry.Info, first: First = None,
                      after: After = None, last: Last = None, before: Before = None,
                      order_by: RegistrationOrder = None) -> registry.connection("ExhibitionVisitorRegistration"):
        user, sort = info.context.user, order_to_service(order_by)
        return nested_connection(
            info.context.loaders, "exhibitions.registrations_by_customer",
            lambda ids, request: svc.registration_pages_for_customers(user, ids, request, sort), root.id,
            page_request(first, after, last, before, default=10), count_name="exhibitions.registration_counts",
            count_batch=lambda ids: svc.registration_counts(user, ids), sort=sort)

    def exhibitor_participations(root: strawberry.Parent[object], info: strawberry.Info, first: First = None,
                                 after: After = None, last: Last = None, before: Before = None,
                                 order_by: ParticipationOrder = None
                                 ) -> registry.connection("ExhibitionParticipation"):
        user, sort = info.context.user, order_to_service(order_by)
        return nested_connection(
            info.context.loaders, "exhibitions.participations_by_customer",
            lambda ids, request: svc.participation_pages_for_customers(user, ids, request, sort), root.id,
            page_request(first, after, last, before, default=10), count_name="exhibitions.participation_counts",
            count_batch=lambda ids: svc.participation_counts(user, ids), sort=sort)

    from plugins.exhibitions.workflows import MEETING, PARTICIPATION

    return {"ExhibitionParticipation": {"history": history_field(registry, PARTICIPATION, "Every status move, oldest first.")},
            "ExhibitionMeeting": {"history": history_field(registry, MEETING, "Every status move, oldest first.")},
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
    meetings = crud_fields(
        registry, "ExhibitionMeeting",
        service=CrudService(list=svc.list_meetings, get=svc.get_meeting, create=None, update=None, delete=None,
                            restore=None),
        filter_input="ExhibitionMeetingFilter", sortable=list(svc.MEETING_SORT), default_sort="starts_at",
        names={"delete": None, "restore": None},
        descriptions={"get": "One meeting you may see (an exhibitor: its own).",
                      "list": "The meetings you may see (an exhibitor: its own)."})
    surveys = crud_fields(
        registry, "ExhibitionSurveyAnswer",
        service=CrudService(list=svc.list_surveys, get=svc.get_survey, create=None, update=None, delete=None,
                            restore=None),
        filter_input="ExhibitionSurveyAnswerFilter", sortable=list(svc.SURVEY_SORT), default_sort="-created_at",
        names={"delete": None, "restore": None},
        descriptions={"get": "One survey answer you may see (organiser staff; an exhibitor: its own).",
                      "list": "The survey answers you may see (organiser staff: all; an exhibitor: its own), "
                              "newest first."})
    Limit = Annotated[int, strawberry.argument(description="At most this many matches (1–100).")]

    check_in_order = order_by_argument(registry, "ExhibitionCheckIn", list(svc.CHECKIN_SORT), "scanned_at")

    def exhibition_check_ins(info: strawberry.Info, filter: registry.ref("ExhibitionCheckInFilter"),
                             order_by: check_in_order = None, first: First = None, after: After = None,
                             last: Last = None, before: Before = None
                             ) -> Optional[registry.connection("ExhibitionCheckIn")]:
        wanted = input_to_dict(filter)
        with field_names({"sort": "orderBy"}, prefix="filter."):
            return connection(info, svc.list_checkins(info.context.user, wanted["edition_id"],
                                                      page=page_request(first, after, last, before),
                                                      registration_id=wanted.get("registration_id"),
                                                      sort=order_to_service(order_by)))

    invitation_order = order_by_argument(registry, "ExhibitionInvitation", list(svc.INVITATION_SORT), "created_at")

    def exhibition_invitations(info: strawberry.Info, filter: registry.ref("ExhibitionInvitationFilter"),
                               order_by: invitation_order = None, first: First = None, after: After = None,
                               last: Last = None, before: Before = None
                               ) -> Optional[registry.connection("ExhibitionInvitation")]:
        wanted = input_to_dict(filter)
        edition_id = wanted.pop("edition_id")
        with field_names({"sort": "orderBy"}, prefix="filter."):
            return connection(info, svc.list_invitations(
                info.context.user, edition_id, wanted, page=page_request(first, after, last, before),
                sort=order_to_service(order_by)))

    def _limit(limit: int) -> int:
        from plugins.exhibitions import schemas
        from core.services import common

        with field_names():
            return common.validate(schemas.MatchArgs, {"limit": limit})["limit"]

    def exhibition_buyer_matches(info: strawberry.Info, participation_id: strawberry.ID, limit: Limit = 20
                                 ) -> Optional[list[registry.ref("ExhibitionMatch")]]:
        return svc.matches_for_exhibitor(info.context.user, participation_id, limit=_limit(limit))

    def exhibition_exhibitor_matches(info: strawberry.Info, registration_id: strawberry.ID, limit: Limit = 20
                                     ) -> Optional[list[registry.ref("ExhibitionMatch")]]:
        return svc.matches_for_buyer(info.context.user, registration_id, limit=_limit(limit))

    def exhibition_exhibitor_users(info: strawberry.Info, company_id: Optional[strawberry.ID] = None
                                   ) -> Optional[list[registry.ref("ExhibitionExhibitorUser")]]:
        with field_names():
            return svc.list_exhibitor_users(info.context.user, company_id)

    return {**_records(registry).query, **leads.query, **meetings.query, **surveys.query,
            "exhibitionCheckIns": strawberry.field(
                resolver=exhibition_check_ins, description="An edition's gate scans in time order (organiser staff)."),
            "exhibitionInvitations": strawberry.field(
                resolver=exhibition_invitations, description="An edition's visitor invitations (organiser staff)."),
            "exhibitionBuyerMatches": strawberry.field(
                resolver=exhibition_buyer_matches,
                description="Buyers of the participation's edition ranked by how well their needs meet the "
                            "exhibitor's offer, with reasons (organiser staff, or the exhibitor itself)."),
            "exhibitionExhibitorMatches": strawberry.field(
                resolver=exhibition_exhibitor_matches,
                description="Exhibitors of the registration's edition ranked by how well their offer meets the "
                            "buyer's needs, with reasons."),
            "exhibitionExhibitorUsers": strawberry.field(
                resolver=exhibition_exhibitor_users,
                description="Exhibitor users and their companies (an exhibitor: its own company's); at most one "
                            "row per exhibitor user, so the list is not paged."),
            }


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

    MeetingStatus = registry.vocabulary_enum("exhibitions_meeting.status.state")
    EditionId = Annotated[strawberry.ID, strawberry.argument(description="The id of the edition.")]

    def request_exhibition_meeting(info: strawberry.Info, input: registry.ref("ExhibitionMeetingCreateInput")
                                   ) -> Optional[registry.ref("ExhibitionMeeting")]:
        with field_names():
            return svc.request_meeting(info.context.user, input_to_dict(input))

    def change_meeting_status(info: strawberry.Info, id: strawberry.ID,
                              to: Annotated[MeetingStatus, strawberry.argument(description="The status to move to.")],
                              reason: str = "") -> Optional[registry.ref("ExhibitionMeeting")]:
        with field_names():
            return svc.change_meeting_status(info.context.user, id, {"to": stored(to), "reason": reason})

    def assign_booth(info: strawberry.Info, participation_id: strawberry.ID, booth_id: strawberry.ID
                     ) -> Optional[registry.ref("ExhibitionBooth")]:
        with field_names():
            return svc.assign_booth(info.context.user, participation_id, {"booth_id": booth_id})

    def release_booth(info: strawberry.Info, participation_id: strawberry.ID, booth_id: strawberry.ID
                      ) -> Optional[registry.ref("ExhibitionBooth")]:
        with field_names():
            return svc.release_booth(info.context.user, participation_id, booth_id)

    def cancel_registration(info: strawberry.Info, id: strawberry.ID
                            ) -> Optional[registry.ref("ExhibitionVisitorRegistration")]:
        return svc.cancel_registration(info.context.user, id)

    def record_check_in(info: strawberry.Info, edition_id: EditionId,
                        input: registry.ref("ExhibitionCheckInCreateInput")) -> Optional[registry.ref("ExhibitionCheckIn")]:
        with field_names():
            return svc.record_scan(info.context.user, edition_id, input_to_dict(input))[0]

    def build_invitations(info: strawberry.Info, edition_id: EditionId,
                          input: registry.ref("ExhibitionInvitationCriteriaInput")
                          ) -> Optional[registry.ref("ExhibitionInvitationResult")]:
        with field_names():
            return svc.build_invitations(info.context.user, edition_id, input_to_dict(input))

    def invite_exhibitors(info: strawberry.Info, edition_id: EditionId
                          ) -> Optional[list[registry.ref("ExhibitionParticipation")]]:
        with field_names():
            return svc.invite_exhibitors(info.context.user, edition_id)

    def create_follow_ups(info: strawberry.Info, edition_id: EditionId) -> Optional[int]:
        with field_names():
            return svc.create_follow_ups(info.context.user, edition_id)

    def send_matches(info: strawberry.Info, edition_id: EditionId) -> Optional[registry.ref("ExhibitionMatchesSent")]:
        with field_names():
            return SimpleNamespace(**svc.send_matches(info.context.user, edition_id))

    def link_exhibitor_user(info: strawberry.Info, user_id: strawberry.ID, company_id: strawberry.ID
                            ) -> Optional[registry.ref("ExhibitionExhibitorUser")]:
        with field_names():
            return svc.link_exhibitor_user(info.context.user, {"user_id": user_id, "company_id": company_id})

    def unlink_exhibitor_user(info: strawberry.Info, user_id: strawberry.ID) -> Optional[bool]:
        with field_names():
            svc.unlink_exhibitor_user(info.context.user, user_id)
        return True

    def submit_survey(info: strawberry.Info, input: registry.ref("ExhibitionSurveyAnswerCreateInput")
                      ) -> Optional[registry.ref("ExhibitionSurveyAnswer")]:
        with field_names():
            return svc.submit_survey(info.context.user, input_to_dict(input))

    def import_registrations(
            info: strawberry.Info, edition_id: EditionId,
            registrations: Annotated[list[registry.ref("ExhibitionRegistrationImportRowInput")], strawberry.argument(
                description="The visitors to register (at most the import limit, see the REST API's README).")]
    ) -> Optional[registry.ref("ExhibitionRegistrationImportResult")]:
        with field_names():
            result = svc.import_registrations(info.context.user, edition_id,
                                              {"registrations": [input_to_dict(row) for row in registrations]})
        result.registrations = [SimpleNamespace(**row) for row in result.registrations]
        return result

    actions = {
        "importExhibitionVisitorRegistrations": (import_registrations, "Register many visitors for the edition at once (organiser staff): every row is checked first and a bad row rejects the whole import (BAD_USER_INPUT naming registrations.<i>.<field>); visitors already registered are reported, not duplicated, so an import may be sent again."),
        "requestExhibitionMeeting": (request_exhibition_meeting, "Request a meeting between a booked exhibitor and a buyer registered for the same edition: an exhibitor user for its own participation, or organiser staff on a buyer's behalf (the exhibitor's users are told)."),
        "changeExhibitionMeetingStatus": (change_meeting_status, "Move a meeting: requested → accepted or declined (answered by the side that did not ask; staff answer for buyers) → held or no_show. A held meeting goes onto both timelines."),
        "assignExhibitionBooth": (assign_booth, "Reserve a booth of the same edition for a participation (sold once the participation is paid); organiser staff."),
        "releaseExhibitionBooth": (release_booth, "Release a booth the participation holds; it becomes available again. Organiser staff."),
        "cancelExhibitionVisitorRegistration": (cancel_registration, "Cancel a registration: its badge no longer opens the gates. Organiser staff."),
        "recordExhibitionCheckIn": (record_check_in, "One badge scanned at a gate of the edition (organiser staff). The same scan sent again returns the check-in already stored; an unknown or cancelled badge is BAD_USER_INPUT naming badgeCode."),
        "buildExhibitionInvitations": (build_invitations, "Build the edition's visitor invitation list from past editions' visitors (attendance, category, interests, lapse); visitors already invited or registered are skipped, so it may be built again. Organiser staff."),
        "inviteExhibitionExhibitors": (invite_exhibitors, "Rebooking: invite every company booked at the previous edition that is not yet part of this one; returns the participations created. Organiser staff."),
        "createExhibitionFollowUps": (create_follow_ups, "A follow-up task for each hot lead of the edition, assigned to the exhibitor user who captured it; a lead gets one task however often this runs. Returns how many tasks were created. Organiser staff."),
        "sendExhibitionMatches": (send_matches, "Tell every booked exhibitor of the edition how many buyers match its offer, and every registered buyer which exhibitors match their interests (each once). Organiser staff."),
        "linkExhibitionExhibitorUser": (link_exhibitor_user, "Link a user with the exhibitor role to the company they work for (a user already linked moves to this company). Organiser staff."),
        "unlinkExhibitionExhibitorUser": (unlink_exhibitor_user, "Unlink an exhibitor user from their company; true when done. Organiser staff."),
        "submitExhibitionSurveyAnswer": (submit_survey, "Store a satisfaction answer (staff for visitors; an exhibitor user for its own participation) and put it on the respondent's timeline; one answer per respondent and survey (edition and phase): answering again replaces it."),
    }
    return {**_records(registry).mutation,
            **{name: strawberry.mutation(resolver=resolver, description=text) for name, (resolver, text) in actions.items()},
            "deleteExhibitionLead": strawberry.mutation(resolver=delete_exhibition_lead,
                                                        description="Soft delete; returns the deleted lead."),
            "restoreExhibitionLead": strawberry.mutation(resolver=restore_exhibition_lead, description="Bring a deleted lead back."),
            "captureExhibitionLead": strawberry.mutation(resolver=capture_exhibition_lead, description="Record a badge scanned at a booked exhibitor's booth; scanning the same badge again returns the lead already captured."),
            "updateExhibitionLead": strawberry.mutation(resolver=update_exhibition_lead, description="Rate, tag or note a lead; send the version you read."),
            "changeExhibitionParticipationStatus": strawberry.mutation(resolver=change_participation_status, description="Move a participation along its workflow (invited → applied → confirmed → paid → arrived → attended, or cancelled); paying sells its reserved booths, cancelling frees them.")}
