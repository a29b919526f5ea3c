"""Property service (物业服务): Marshmallow schemas: the plugin's input validation and REST output.

Services validate raw input with these (``core.services.common.validate``); REST documents and dumps
with the same classes. Estates, buildings, units, occupancies, request kinds and SLA policies are declared
records (``services.estates`` …, ``core.records.RecordSpec``): their schemas are derived from the models.
"""
from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate

from core.schemas import BoundedList, RecordOut, StrictSchema
from plugins.property_service import labels

PRIORITY = validate.OneOf(labels.values(labels.PRIORITIES))
CHANNEL = validate.OneOf(labels.values(labels.CHANNELS))
SLA_STATE = validate.OneOf(labels.values(labels.SLA_STATES))
CODE = validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$", error="Lower-case letters, digits and '_', starting with a letter.")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

LAT = validate.Range(min=-90, max=90)
LONG = validate.Range(min=-180, max=180)


def _updatable(create: type[Schema], name: str, exclude: tuple[str, ...] = ()) -> type[Schema]:
    """``XUpdate``: the create schema's fields, all optional, plus the required ``version``."""
    meta = type("Meta", (), {"unknown": "raise", "exclude": exclude})
    return type(name, (create,), {"Meta": meta, "version": fields.Integer(
        required=True, metadata={"description": "The version you read; a stale one is 409."})})


# --- teams, kinds' attribute definitions, settings -------------------------------------------------------------

class TeamCreate(StrictSchema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    name_zh_cn = fields.String(validate=validate.Length(max=120))
    manager_id = fields.UUID(allow_none=True)
    member_ids = BoundedList(fields.UUID(), max_items=200)


TeamUpdate = _updatable(TeamCreate, "TeamUpdate")


class TeamFilter(StrictSchema):
    code = fields.String(validate=validate.Length(max=40))
    deleted = fields.Boolean(load_default=False)


class TeamOut(RecordOut):
    code = fields.String()
    name = fields.String()
    name_zh_cn = fields.String()
    manager_id = fields.UUID(allow_none=True)
    member_ids = fields.List(fields.UUID())


class AttributeValue(StrictSchema):
    """One choice of a list attribute (Open311)."""

    key = fields.String(required=True, validate=validate.Length(min=1, max=60),
                        metadata={"description": "The value sent in a request (1–60 characters)."})
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "The value as shown to the requester."})


class AttributeDefinition(StrictSchema):
    """Something a request of the kind may or must say (an Open311 attribute definition)."""

    code = fields.String(required=True, validate=validate.Length(min=1, max=60),
                         metadata={"description": "The attribute's code, unique within the kind."})
    datatype = fields.String(load_default="string", validate=validate.OneOf(
        ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]),
        metadata={"description": "string (default), number, datetime, text, singlevaluelist or multivaluelist."})
    required = fields.Boolean(load_default=False, metadata={"description": "A request must give it (default false)."})
    variable = fields.Boolean(load_default=True, metadata={
        "description": "The requester gives a value (default true); false: only informational text."})
    description = fields.String(load_default="", validate=validate.Length(max=500),
                                metadata={"description": "The question or label shown to the requester."})
    datatype_description = fields.String(load_default="", validate=validate.Length(max=500),
                                         metadata={"description": "How to fill it in (format, unit)."})
    order = fields.Integer(validate=validate.Range(min=1, max=1000), metadata={
        "description": "Unique within the kind (Open311); left out, the lowest free number."})
    values = BoundedList(fields.Nested(AttributeValue), load_default=list, max_items=500,
                         metadata={"description": "The choices of a list attribute (up to 500)."})


def _hhmm(value: str) -> None:
    if not HHMM.match(value or ""):
        raise ValidationError("A time as HH:MM (24:00 for midnight at the end of the day).")


class SettingsUpdate(StrictSchema):
    timezone = fields.String(validate=validate.Length(min=1, max=60))
    workdays = fields.List(fields.Integer(validate=validate.Range(min=0, max=6)), validate=validate.Length(max=7),
                           metadata={"description": "0 = Monday … 6 = Sunday."})
    hours = fields.List(fields.List(fields.String(validate=_hhmm), validate=validate.Length(equal=2)),
                        validate=validate.Length(min=1, max=6),
                        metadata={"description": 'Working intervals: [["09:00", "12:00"], ["13:30", "18:00"]].'})
    holidays = fields.List(fields.Date(), validate=validate.Length(max=1000))
    extra_workdays = fields.List(fields.Date(), validate=validate.Length(max=1000),
                                 metadata={"description": "Weekend days that are worked (调休)."})
    at_risk_share = fields.Float(validate=validate.Range(min=0, max=1))
    feedback_timeout_hours = fields.Integer(validate=validate.Range(min=1, max=24 * 90))
    low_rating_threshold = fields.Integer(validate=validate.Range(min=1, max=5))
    version = fields.Integer(allow_none=True, metadata={"description": "The version you read (409 when stale)."})


class SettingsOut(Schema):
    timezone = fields.String()
    workdays = fields.List(fields.Integer())
    hours = fields.List(fields.List(fields.String()))
    holidays = fields.List(fields.String())
    extra_workdays = fields.List(fields.String())
    at_risk_share = fields.Float()
    feedback_timeout_hours = fields.Integer()
    low_rating_threshold = fields.Integer()
    version = fields.Integer(allow_none=True)


# --- service requests -------------------------------------------------------------------------------

class RequestCreate(StrictSchema):
    kind = fields.String(required=True, validate=validate.Length(min=1, max=40))
    channel = fields.String(load_default="phone", validate=CHANNEL)
    requester_id = fields.UUID(required=True)
    unit_id = fields.UUID(allow_none=True)
    building_id = fields.UUID(allow_none=True)
    description = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    photos = fields.List(fields.Url(validate=validate.Length(max=2000)), validate=validate.Length(max=20))
    priority = fields.String(load_default="normal", validate=PRIORITY)
    topic = fields.String(validate=validate.Length(max=80))
    team_id = fields.UUID(allow_none=True, metadata={"description": "Dispatch at once to this team."})
    assignee_id = fields.UUID(allow_none=True)
    lat = fields.Float(allow_none=True, validate=LAT)
    long = fields.Float(allow_none=True, validate=LONG)
    address_string = fields.String(validate=validate.Length(max=300))
    attributes = fields.Dict(keys=fields.String(), values=fields.Raw())
    received_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When the request came in (imports, demo); defaults to now."})


class RequestUpdate(StrictSchema):
    description = fields.String(validate=validate.Length(min=1, max=4000))
    photos = fields.List(fields.Url(validate=validate.Length(max=2000)), validate=validate.Length(max=20))
    priority = fields.String(validate=PRIORITY)
    topic = fields.String(validate=validate.Length(max=80))
    unit_id = fields.UUID(allow_none=True)
    version = fields.Integer(required=True)


class RequestFilter(StrictSchema):
    status = fields.String(validate=validate.Length(max=20))
    kind = fields.String(validate=validate.Length(max=40))
    channel = fields.String(validate=CHANNEL)
    priority = fields.String(validate=PRIORITY)
    sla_state = fields.String(validate=SLA_STATE)
    team_id = fields.UUID()
    assignee_id = fields.UUID()
    requester_id = fields.UUID()
    building_id = fields.UUID()
    unit_id = fields.UUID()
    topic = fields.String(validate=validate.Length(max=80))
    open = fields.Boolean(metadata={"description": "Only requests still owed work (or only finished ones)."})
    deleted = fields.Boolean(load_default=False)


class PropertyRequestHistoryFilter(StrictSchema):
    """A request's status moves as a list's filters (``trellis export property_service.request_history``;
    REST has the request in the path)."""

    request_id = fields.UUID(required=True, metadata={"description": "The request whose moves are listed."})


class RequestOut(RecordOut):
    kind = fields.String()
    channel = fields.String()
    requester_id = fields.UUID()
    unit_id = fields.UUID(allow_none=True)
    building_id = fields.UUID(allow_none=True)
    description = fields.String()
    photos = fields.List(fields.String())
    priority = fields.String()
    topic = fields.String()
    team_id = fields.UUID(allow_none=True)
    assignee_id = fields.UUID(allow_none=True)
    status = fields.String()
    sla_state = fields.String()
    response_due_at = fields.DateTime(allow_none=True)
    resolution_due_at = fields.DateTime(allow_none=True)
    first_response_at = fields.DateTime(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    paused_at = fields.DateTime(allow_none=True)
    response_seconds = fields.Float(allow_none=True, metadata={"description": "Working seconds to first response."})
    resolution_seconds = fields.Float(allow_none=True, metadata={"description": "Working seconds to resolution."})
    escalation_level = fields.Integer()
    reopen_count = fields.Integer()
    resolution = fields.String()
    explanation = fields.String()
    referred_to = fields.String()
    rating = fields.Integer(allow_none=True)
    feedback_comment = fields.String()
    feedback_at = fields.DateTime(allow_none=True)
    feedback_via = fields.String(allow_none=True, metadata={
        "description": "Who gave the rating: 'link' (the requester, through their one-time link) or "
                       "'on_behalf' (recorded for the owner by feedback_by_id)."})
    feedback_by_id = fields.UUID(allow_none=True, metadata={
        "description": "The centre user, manager or admin who recorded the rating on the owner's behalf."})
    follow_up_id = fields.UUID(allow_none=True)
    interaction_id = fields.UUID(allow_none=True)
    lat = fields.Float(allow_none=True)
    long = fields.Float(allow_none=True)
    address_string = fields.String()
    attributes = fields.Dict()


class Dispatch(StrictSchema):
    team_id = fields.UUID(required=True)
    assignee_id = fields.UUID(allow_none=True)
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class Note(StrictSchema):
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class Resolution(StrictSchema):
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class Rejection(StrictSchema):
    explanation = fields.String(required=True, validate=validate.Length(min=1, max=4000),
                                metadata={"description": "The explanation owed to the owner."})


class Referral(StrictSchema):
    referred_to = fields.String(required=True, validate=validate.Length(min=1, max=200))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class Reopen(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class Feedback(StrictSchema):
    rating = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default="", validate=validate.Length(max=4000))


class FeedbackLinkOut(Schema):
    token = fields.String()
    path = fields.String()


class PublicRequestOut(Schema):
    """What the one-time feedback link shows: no personal data."""

    kind = fields.String()
    status = fields.String()
    description = fields.String()
    resolution = fields.String()
    resolved_at = fields.DateTime(allow_none=True)


class ApiKeyCreate(StrictSchema):
    name = fields.String(load_default="", validate=validate.Length(max=120))
    user_id = fields.UUID(allow_none=True, metadata={
        "description": "The admin or centre user the key writes as (default: you)."})


class PropertyApiKeyFilter(StrictSchema):
    """The API keys' list has no filters (its export refuses any)."""


class ApiKeyOut(RecordOut):
    name = fields.String()
    prefix = fields.String()
    user_id = fields.UUID()
    last_used_at = fields.DateTime(allow_none=True)
    key = fields.String(metadata={"description": "The key itself: shown once, at creation."})


