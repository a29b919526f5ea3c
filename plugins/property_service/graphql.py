"""Property service (物业服务): GraphQL types and fields, contributed through the ``trellis_graphql_*`` hooks.

Types ``PropertyServiceRequest``, ``PropertyTeam``, ``PropertyOccupancy``, ``PropertyUnit``,
``PropertyBuilding``; ``Customer.units`` and ``Customer.serviceRequests`` on the core type (connections,
batched per request: a list of N customers costs the same statements as one); the
``propertyServiceRequests`` connection with filters and ``propertyServiceRequest(id:)``; mutations for the
loop. Resolvers only translate to the services.
"""
import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Annotated, Optional

import strawberry
from strawberry import UNSET

from api.graphql.conventions import open_vocabulary
from api.graphql.crud import CrudFields, CrudService, crud_fields
from api.graphql.from_schema import crud_inputs, type_from_schema
from api.graphql.inputs import input_to_dict
from api.graphql.lifecycle import history_field
from api.graphql.label import label_field
from api.graphql.loaders import customers_by_id, users_by_id
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, nested_connection, page_request
from api.graphql.records import record_fields, record_types
from core import db
from core.records import RecordSpec
from api.graphql.nodes import NodeSource
from plugins.property_service import models, requests, services


def _buildings(ids: list) -> dict:
    from sqlalchemy import select

    from plugins.property_service.models import PsBuilding

    return {b.id: b for b in db.session().scalars(select(PsBuilding).where(PsBuilding.id.in_(ids)))}


def _units(ids: list) -> dict:
    from sqlalchemy import select

    from plugins.property_service.models import PsUnit

    return {u.id: u for u in db.session().scalars(select(PsUnit).where(PsUnit.id.in_(ids)))}


def _teams(ids: list) -> dict:
    from sqlalchemy import select

    from plugins.property_service.models import PsTeam

    return {t.id: t for t in db.session().scalars(select(PsTeam).where(PsTeam.id.in_(ids)))}


def register_types(registry) -> None:
    @registry.type("PropertyBuilding", node=models.PsBuilding)
    class PropertyBuilding:
        """A building (楼栋) of an estate."""

        id: strawberry.ID
        estate_id: strawberry.ID
        name: str
        address: str
        lat: Optional[float]
        long: Optional[float]
        version: int
        external_id: Optional[str] = strawberry.field(description=(
            "The building's id in the system it was imported from (`trellis import property_service.buildings`), "
            "unique among live buildings; null when created here."))

    @registry.type("PropertyUnit", node=models.PsUnit)
    class PropertyUnit:
        """A unit: building, staircase unit (单元), room, floor area."""

        id: strawberry.ID
        building_id: strawberry.ID
        unit: str
        room: str
        area: Optional[Decimal]
        version: int
        external_id: Optional[str] = strawberry.field(description=(
            "The unit's id in the system it was imported from (`trellis import property_service.units`), "
            "unique among live units; null when created here."))

        @strawberry.field
        def building(self, info: strawberry.Info) -> Optional[registry.ref("PropertyBuilding")]:
            return info.context.loaders.load("property_service.buildings", _buildings, self.building_id)

    @registry.type("PropertyOccupancy", node=models.PsOccupancy)
    class PropertyOccupancy:
        """A customer's link to a unit: owner (业主), tenant (租户) or family (家属)."""

        id: strawberry.ID
        unit_id: strawberry.ID
        customer_id: strawberry.ID
        relation: registry.vocabulary_enum("property_service_relation")
        start_date: Optional[dt.date]
        end_date: Optional[dt.date]
        version: int
        external_id: Optional[str] = strawberry.field(description=(
            "The occupancy's id in the system it was imported from (`trellis import property_service.occupancies`), "
            "unique among live occupancies; null when created here."))

        @strawberry.field
        def unit(self, info: strawberry.Info) -> Optional[registry.ref("PropertyUnit")]:
            return info.context.loaders.load("property_service.units", _units, self.unit_id)

    @registry.type("PropertyTeam", node=models.PsTeam)
    class PropertyTeam:
        """A service team (工程组, 环境组, 护卫组, 行政组 …)."""

        id: strawberry.ID
        code: str
        name = label_field(registry, "name", "name_zh_cn", description="The team's name.")
        manager_id: Optional[strawberry.ID]
        version: int

    Channel = registry.vocabulary_enum("property_service_channel")
    Priority = registry.vocabulary_enum("property_service_priority")
    Status = registry.vocabulary_enum("property_service_request.status.state")
    SlaState = registry.vocabulary_enum("property_service_sla_state")

    @registry.type("PropertyServiceRequest", node=NodeSource(models.PsRequest, visible=requests.visible))
    class PropertyServiceRequest:
        """A service request (服务申请) in the closed loop, with its SLA clocks and the owner's rating."""

        id: strawberry.ID
        kind: str = strawberry.field(description="A service kind's code (the centre keeps the list of kinds).",
                                     metadata=open_vocabulary("A service kind's code: the kinds are records the service centre keeps (propertyRequestKinds)."))
        channel: Channel
        requester_id: strawberry.ID
        unit_id: Optional[strawberry.ID]
        building_id: Optional[strawberry.ID]
        description: str
        photos: list[str]
        priority: Priority
        topic: str
        team_id: Optional[strawberry.ID]
        assignee_id: Optional[strawberry.ID]
        status: Status = strawberry.field(description="Where the request is in the closed loop.")
        sla_state: SlaState = strawberry.field(description="Whether the request keeps its SLA clocks.")
        response_due_at: Optional[dt.datetime]
        resolution_due_at: Optional[dt.datetime]
        first_response_at: Optional[dt.datetime]
        resolved_at: Optional[dt.datetime]
        closed_at: Optional[dt.datetime]
        response_seconds: Optional[float] = strawberry.field(description="Working seconds to the first response.")
        resolution_seconds: Optional[float] = strawberry.field(description="Working seconds to resolution.")
        escalation_level: int
        reopen_count: int
        resolution: str
        explanation: str
        referred_to: str
        rating: Optional[int]
        feedback_comment: str
        feedback_at: Optional[dt.datetime]
        feedback_via: Optional[str] = strawberry.field(description=(
            "Who gave the rating: link (the requester, through their one-time link) or on_behalf (recorded "
            "for the owner by feedbackById)."))
        feedback_by_id: Optional[strawberry.ID] = strawberry.field(description=(
            "The centre user, manager or admin who recorded the rating on the owner's behalf."))
        created_at: dt.datetime
        updated_at: dt.datetime
        version: int
        deleted_at: Optional[dt.datetime]

        @strawberry.field
        def requester(self, info: strawberry.Info) -> Optional[registry.ref("Customer")]:
            user = info.context.user
            return info.context.loaders.load("core.customers", lambda ids: customers_by_id(user, ids),
                                             self.requester_id)

        @strawberry.field
        def team(self, info: strawberry.Info) -> Optional[registry.ref("PropertyTeam")]:
            return info.context.loaders.load("property_service.teams", _teams, self.team_id)

        @strawberry.field
        def assignee(self, info: strawberry.Info) -> Optional[registry.ref("User")]:
            user = info.context.user
            return info.context.loaders.load("core.users", lambda ids: users_by_id(user, ids), self.assignee_id)

        @strawberry.field
        def unit(self, info: strawberry.Info) -> Optional[registry.ref("PropertyUnit")]:
            return info.context.loaders.load("property_service.units", _units, self.unit_id)

        @strawberry.field
        def building(self, info: strawberry.Info) -> Optional[registry.ref("PropertyBuilding")]:
            return info.context.loaders.load("property_service.buildings", _buildings, self.building_id)

    @registry.input("PropertyServiceRequestFilter")
    class PropertyServiceRequestFilter:
        status: Optional[Status] = UNSET
        kind: Optional[str] = strawberry.field(default=UNSET, metadata=open_vocabulary("A service kind's code: the kinds are records the service centre keeps (propertyRequestKinds)."))
        channel: Optional[Channel] = UNSET
        priority: Optional[Priority] = UNSET
        sla_state: Optional[SlaState] = UNSET
        team_id: Optional[strawberry.ID] = UNSET
        assignee_id: Optional[strawberry.ID] = UNSET
        requester_id: Optional[strawberry.ID] = UNSET
        building_id: Optional[strawberry.ID] = UNSET
        unit_id: Optional[strawberry.ID] = UNSET
        topic: Optional[str] = UNSET
        open: Optional[bool] = strawberry.field(default=UNSET, description="Only requests still owed work.")
        deleted: Optional[bool] = UNSET

    @registry.input("PropertyServiceRequestCreateInput")
    class PropertyServiceRequestCreateInput:
        kind: str = strawberry.field(metadata=open_vocabulary("A service kind's code: the kinds are records the service centre keeps (propertyRequestKinds)."))
        requester_id: strawberry.ID
        description: str
        channel: Optional[Channel] = UNSET
        unit_id: Optional[strawberry.ID] = UNSET
        building_id: Optional[strawberry.ID] = UNSET
        photos: Optional[list[str]] = UNSET
        priority: Optional[Priority] = UNSET
        topic: Optional[str] = UNSET
        team_id: Optional[strawberry.ID] = strawberry.field(default=UNSET, description="Dispatch at once.")
        assignee_id: Optional[strawberry.ID] = UNSET

    @registry.input("PropertyServiceRequestUpdateInput")
    class PropertyServiceRequestUpdateInput:
        version: int = strawberry.field(description="The version you read; a stale one is a CONFLICT.")
        description: Optional[str] = UNSET
        photos: Optional[list[str]] = UNSET
        priority: Optional[Priority] = UNSET
        topic: Optional[str] = UNSET
        unit_id: Optional[strawberry.ID] = UNSET

    register_record_types(registry)
    register_settings_types(registry)


def register_settings_types(registry) -> None:
    """The service centre's settings: working calendar, SLA warning share and feedback rules (one per deployment)."""

    @registry.type("PropertyWorkingHours")
    class PropertyWorkingHours:
        """One working interval of a working day, in the settings' time zone."""

        start: str = strawberry.field(description="When work starts, HH:MM (24-hour clock).")
        end: str = strawberry.field(description="When it stops, HH:MM (24:00 for midnight at the end of the day).")

    @registry.type("PropertyFeedbackLink")
    class PropertyFeedbackLink:
        """A one-time link for the owner to rate a resolved request without signing in (send it by SMS or WeChat)."""

        token: str = strawberry.field(description="The link's secret, shown this once; a new link replaces the previous one.")
        path: str = strawberry.field(description="The owner's feedback page, relative to this site (it holds the token).")

    @registry.type("PropertySettings")
    class PropertySettings:
        """The working calendar the SLA clocks count in, and the feedback rules."""

        timezone: str = strawberry.field(description="The IANA time zone of the working calendar (Asia/Shanghai).")
        workdays: list[int] = strawberry.field(description="The working days of the week: 0 = Monday … 6 = Sunday.")
        at_risk_share: float = strawberry.field(description="A request is at risk when less than this share (0–1) of a target is left.")
        feedback_timeout_hours: int = strawberry.field(description="Hours a resolved request waits for the owner's rating before it closes by itself.")
        low_rating_threshold: int = strawberry.field(description="A rating at or below this (1–5) alerts the service centre.")
        version: Optional[int] = strawberry.field(description="Send it back with updatePropertySettings; null while the defaults were never changed.")

        @strawberry.field(description="The working intervals of a working day, in order.")
        def hours(self) -> list[registry.ref("PropertyWorkingHours")]:
            return [SimpleNamespace(start=start, end=end) for start, end in self.hours]

        @strawberry.field(description="Public holidays: days off although on a working weekday.")
        def holidays(self) -> list[dt.date]:
            return [dt.date.fromisoformat(str(d)) for d in self.holidays]

        @strawberry.field(description="Weekend days that are worked (调休).")
        def extra_workdays(self) -> list[dt.date]:
            return [dt.date.fromisoformat(str(d)) for d in self.extra_workdays]

    @registry.input("PropertyWorkingHoursInput")
    class PropertyWorkingHoursInput:
        """One working interval."""

        start: str = strawberry.field(description="When work starts, HH:MM.")
        end: str = strawberry.field(description="When it stops, HH:MM (24:00 for midnight).")

    @registry.input("PropertySettingsUpdateInput")
    class PropertySettingsUpdateInput:
        """The settings to change (the others stay) and the version you read."""

        version: Optional[int] = strawberry.field(description="The version you read (propertySettings.version); a stale one is a CONFLICT. Null only while the defaults were never changed.")
        timezone: Optional[str] = strawberry.field(default=UNSET, description="An IANA time zone (Asia/Shanghai).")
        workdays: Optional[list[int]] = strawberry.field(default=UNSET, description="The working days of the week: 0 = Monday … 6 = Sunday.")
        hours: Optional[list[registry.ref("PropertyWorkingHoursInput")]] = strawberry.field(default=UNSET, description="The working intervals of a day (1–6, not overlapping).")
        holidays: Optional[list[dt.date]] = strawberry.field(default=UNSET, description="Public holidays (the whole list: it replaces the one kept).")
        extra_workdays: Optional[list[dt.date]] = strawberry.field(default=UNSET, description="Weekend days that are worked (调休; the whole list).")
        at_risk_share: Optional[float] = strawberry.field(default=UNSET, description="A request is at risk when less than this share (0–1) of a target is left.")
        feedback_timeout_hours: Optional[int] = strawberry.field(default=UNSET, description="Hours a resolved request waits for a rating before it closes (1–2160).")
        low_rating_threshold: Optional[int] = strawberry.field(default=UNSET, description="A rating at or below this (1–5) alerts the service centre.")

def type_fields(registry) -> dict:
    # the same inputs the root lists propertyOccupancies and propertyServiceRequests take
    OccupancyOrder = order_by_argument(registry, "PropertyOccupancy", list(services.occupancies.sortable),
                                       default_text="by unit, then room")
    RequestOrder = order_by_argument(registry, "PropertyServiceRequest", list(requests.SORTABLE), "-created_at")

    def units(root: strawberry.Parent[object], info: strawberry.Info, first: First = None, after: After = None,
              last: Last = None, before: Before = None,
              order_by: OccupancyOrder = None) -> registry.connection("PropertyOccupancy"):
        """The units the customer owns or lives in now (业主/住户), by unit and room (10 by default)."""
        user, sort = info.context.user, order_to_service(order_by)
        return nested_connection(
            info.context.loaders, "property_service.units_of",
            lambda ids, request: services.occupancy_pages_for_customers(user, ids, request, sort), root.id,
            page_request(first, after, last, before, default=10), count_name="property_service.unit_counts",
            count_batch=lambda ids: services.occupancy_counts_for_customers(user, ids), sort=sort)

    def service_requests(root: strawberry.Parent[object], info: strawberry.Info, first: First = None,
                         after: After = None, last: Last = None, before: Before = None,
                         order_by: RequestOrder = None) -> registry.connection("PropertyServiceRequest"):
        """The customer's service requests you may see, newest first (10 by default)."""
        user, sort = info.context.user, order_to_service(order_by)
        return nested_connection(
            info.context.loaders, "property_service.requests_of",
            lambda ids, request: requests.pages_for_customers(user, ids, request, sort), root.id,
            page_request(first, after, last, before, default=10), count_name="property_service.request_counts",
            count_batch=lambda ids: requests.counts_for_customers(user, ids), sort=sort)

    return {"PropertyServiceRequest": {"history": history_field(registry, requests.WORKFLOW,
                                                        "Every status move of the request, oldest first.")},
            "Customer": {"units": strawberry.field(resolver=units, description="Units the customer owns or lives in."),
                         "serviceRequests": strawberry.field(resolver=service_requests,
                                                             description="The customer's newest service requests.")}}


#: the reference records served with the house CRUD fields, in the schema's order: type name → (service,
#: list field). The declared ones (a ``RecordSpec``: services.estates …) get their inputs and fields from the
#: spec (``record_types`` / ``record_fields``); teams have a service written by hand.
RECORDS = {
    "PropertyEstate": (services.estates, "propertyEstates"),
    "PropertyBuilding": (services.buildings, "propertyBuildings"),
    "PropertyUnit": (services.units, "propertyUnits"),
    "PropertyOccupancy": (services.occupancies, "propertyOccupancies"),
    "PropertyRequestKind": (services.kinds, "propertyRequestKinds"),
    "PropertySlaPolicy": (services.sla_policies, "propertySlaPolicies"),
    "PropertyTeam": (services.teams, "propertyTeams"),
}
#: the SLA policy's kind: a kind's code, no closed vocabulary
SLA_KIND = {"kind": open_vocabulary("A service kind's code (propertyRequestKinds), or * for every kind.")}


def register_record_types(registry) -> None:
    """The types the hand-written ones above do not cover (from the declared records' output schemas),
    and every record's inputs."""
    from plugins.property_service import schemas
    from plugins.property_service.models import PsEstate, PsKind, PsSlaPolicy

    type_from_schema(registry, "PropertyEstate", services.estates.out_schema, node=PsEstate,
                     description="An estate (小区) and its address.")
    type_from_schema(registry, "PropertyAttributeDefinition", schemas.AttributeDefinition, prefix="Property",
                     node=False, description="A question a request of this kind answers (Open311 attribute).")

    class KindFields:
        @strawberry.field(description="The questions a request of this kind answers (Open311 attributes).")
        def attributes(self) -> list[registry.ref("PropertyAttributeDefinition")]:
            return [_attribute(a) for a in (self.attributes or [])]

    type_from_schema(registry, "PropertyRequestKind", services.kinds.out_schema, node=PsKind, base=KindFields,
                     description="A kind of service request (报修, 投诉, 咨询 …) with its default team.")
    type_from_schema(registry, "PropertySlaPolicy", services.sla_policies.out_schema, node=PsSlaPolicy,
                     vocabularies={"priority": "property_service_priority"}, metadata=SLA_KIND,
                     description="Response and resolution targets in working minutes, by kind and priority.")
    for type_name, (service, _list) in RECORDS.items():
        if isinstance(service, RecordSpec):   # its type is written above (or by hand: buildings, units,
            # occupancies)
            record_types(registry, service, own_type=True, prefix="Property", metadata=SLA_KIND)
        else:
            crud_inputs(registry, type_name, create=service.create_schema, update=service.update_schema,
                        filter=service.filter_schema, prefix="Property", metadata=SLA_KIND)


def _attribute(stored: dict) -> SimpleNamespace:
    """A kind's stored attribute (a JSON object) as PropertyAttributeDefinition reads it, defaults filled."""
    values = [SimpleNamespace(**v) for v in stored.get("values") or []]
    return SimpleNamespace(**{"datatype": "string", "required": False, "variable": True, "description": "",
                              "datatype_description": "", "order": None, **stored, "values": values})


_DESCRIPTIONS = {"create": "Create one (the service centre).", "restore": "Bring a deleted one back."}


def _records(registry) -> CrudFields:
    out = CrudFields({}, {})
    for type_name, (service, list_name) in RECORDS.items():
        if isinstance(service, RecordSpec):
            fields = record_fields(registry, service, names={"list": list_name}, descriptions=_DESCRIPTIONS)
        else:
            fields = crud_fields(
                registry, type_name,
                service=CrudService(list=service.list, get=service.get, create=service.create,
                                    update=service.update, delete=service.delete, restore=service.restore),
                create_input=f"{type_name}CreateInput", update_input=f"{type_name}UpdateInput",
                filter_input=f"{type_name}Filter", sortable=list(service.sortable),
                default_sort=service.default_sort, names={"list": list_name}, descriptions=_DESCRIPTIONS)
        out.query.update(fields.query)
        out.mutation.update(fields.mutation)
    return out


def _crud(registry) -> CrudFields:
    return crud_fields(
        registry, "PropertyServiceRequest",
        service=CrudService(list=requests.list_requests, get=requests.get, create=requests.create,
                            update=requests.update, delete=requests.delete, restore=requests.restore),
        create_input="PropertyServiceRequestCreateInput", update_input="PropertyServiceRequestUpdateInput",
        filter_input="PropertyServiceRequestFilter", sortable=list(requests.SORTABLE), default_sort="-created_at",
        descriptions={"get": "One service request you may see.",
                      "list": "Service requests you may see, filtered and paginated.",
                      "delete": "Soft delete (centre); returns the record."})


def _settings(values: dict) -> SimpleNamespace:
    return SimpleNamespace(**values)


def query_fields(registry) -> dict:
    def property_settings(info: strawberry.Info) -> Optional[registry.ref("PropertySettings")]:
        return _settings(services.get_settings(info.context.user))

    return {
        "propertySettings": strawberry.field(resolver=property_settings, description="The working calendar and feedback rules (everyone signed in reads them)."),
        **_crud(registry).query,
        **_records(registry).query,
    }


def mutation_fields(registry) -> dict:
    Ref = registry.ref("PropertyServiceRequest")

    def dispatch(info: strawberry.Info, id: strawberry.ID, team_id: strawberry.ID,
                 assignee_id: Optional[strawberry.ID] = None, note: str = "") -> Optional[Ref]:
        return requests.dispatch(info.context.user, id, {"team_id": team_id, "assignee_id": assignee_id,
                                                         "note": note})

    def start(info: strawberry.Info, id: strawberry.ID, note: str = "") -> Optional[Ref]:
        return requests.start(info.context.user, id, {"note": note})

    def wait(info: strawberry.Info, id: strawberry.ID, note: str) -> Optional[Ref]:
        return requests.wait(info.context.user, id, {"note": note})

    def resume(info: strawberry.Info, id: strawberry.ID, note: str = "") -> Optional[Ref]:
        return requests.resume(info.context.user, id, {"note": note})

    def resolve(info: strawberry.Info, id: strawberry.ID, resolution: Annotated[str, strawberry.argument(description="What was done, reported to the owner.")]) -> Optional[Ref]:
        return requests.resolve(info.context.user, id, {"resolution": resolution})

    def reject(info: strawberry.Info, id: strawberry.ID, explanation: Annotated[str, strawberry.argument(description="Why the request is not taken up, as owed to the owner.")]) -> Optional[Ref]:
        return requests.reject(info.context.user, id, {"explanation": explanation})

    def refer(info: strawberry.Info, id: strawberry.ID, referred_to: Annotated[str, strawberry.argument(description="The outside party that can help (a utility, the police …).")],
              note: str = "") -> Optional[Ref]:
        return requests.refer(info.context.user, id, {"referred_to": referred_to, "note": note})

    def close(info: strawberry.Info, id: strawberry.ID, note: str = "") -> Optional[Ref]:
        return requests.close(info.context.user, id, {"note": note})

    def reopen(info: strawberry.Info, id: strawberry.ID, reason: str) -> Optional[Ref]:
        return requests.reopen(info.context.user, id, {"reason": reason})

    def rate(info: strawberry.Info, id: strawberry.ID, rating: Annotated[int, strawberry.argument(description="The owner’s rating, 1 (poor) to 5 (excellent).")],
             comment: Annotated[str, strawberry.argument(description="The owner’s comment, if any.")] = "") -> Optional[Ref]:
        return requests.give_feedback(info.context.user, id, {"rating": rating, "comment": comment})

    def feedback_link(info: strawberry.Info, id: Annotated[strawberry.ID, strawberry.argument(description="The id of the resolved service request to rate.")]
                      ) -> Optional[registry.ref("PropertyFeedbackLink")]:
        return SimpleNamespace(**requests.feedback_link(info.context.user, id))

    def update_settings(info: strawberry.Info, input: registry.ref("PropertySettingsUpdateInput")
                        ) -> Optional[registry.ref("PropertySettings")]:
        data = input_to_dict(input)
        if "hours" in data:
            data["hours"] = [[h["start"], h["end"]] for h in data["hours"]] if data["hours"] is not None else None
        return _settings(services.update_settings(info.context.user, data))

    m = strawberry.mutation
    return {
        "createPropertyFeedbackLink": m(resolver=feedback_link, description="A one-time link for the owner to rate a resolved request without signing in (the service centre); a new link replaces the previous one."),
        "updatePropertySettings": m(resolver=update_settings, description="Change the working calendar and feedback rules (the service centre, admins); send the version you read."),
        **_crud(registry).mutation,
        **_records(registry).mutation,
        "dispatchPropertyServiceRequest": m(resolver=dispatch, description="Dispatch or reassign to a team (and person)."),
        "startPropertyServiceRequest": m(resolver=start, description="The team starts work on a dispatched request."),
        "waitPropertyServiceRequest": m(resolver=wait, description="Wait on the owner: the SLA clocks pause."),
        "resumePropertyServiceRequest": m(resolver=resume, description="The owner did their part: back to the state the request waited in, deadlines moved on."),
        "resolvePropertyServiceRequest": m(resolver=resolve, description="Report the request resolved; the owner then rates the work (it closes by itself when no rating comes)."),
        "rejectPropertyServiceRequest": m(resolver=reject, description="Reject with the explanation owed to the owner."),
        "referPropertyServiceRequest": m(resolver=refer, description="Refer to an outside party."),
        "closePropertyServiceRequest": m(resolver=close, description="Close a resolved request without a rating (the owner confirmed by phone …)."),
        "reopenPropertyServiceRequest": m(resolver=reopen, description="Bring back a resolved or closed request (the fix did not hold): to its team, with a new resolution deadline."),
        "ratePropertyServiceRequest": m(resolver=rate, description="The owner's rating 1–5, on their behalf."),
    }
