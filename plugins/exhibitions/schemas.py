"""Exhibitions (会展): Marshmallow schemas: the plugin's input validation and REST output.

Services validate raw input with the input schemas (``core.services.common.validate``); REST documents
the same schemas and dumps records with the output ones.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from core.schemas import BoundedList, RecordOut, StrictSchema
from plugins.exhibitions import labels as L

MAX_SCANS = 5000
MAX_IMPORT = 2000


def one_of(choices) -> validate.OneOf:
    return validate.OneOf(L.values(choices))


def category_list(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=one_of(L.PRODUCT_CATEGORY)), validate=validate.Length(max=20), **kwargs)


Tags = lambda **kw: fields.List(fields.String(validate=validate.Length(min=1, max=40)),  # noqa: E731
                                validate=validate.Length(max=20), **kw)


# --- participations ----------------------------------------------------------------------------------

class ParticipationCreate(StrictSchema):
    edition_id = fields.UUID(required=True)
    company_id = fields.UUID(required=True)
    is_key = fields.Boolean(load_default=False)
    categories = category_list(load_default=list)
    notes = fields.String(validate=validate.Length(max=20000))


class ParticipationUpdate(StrictSchema):
    is_key = fields.Boolean()
    categories = category_list()
    notes = fields.String(validate=validate.Length(max=20000))
    version = fields.Integer(required=True)


class ParticipationFilter(StrictSchema):
    edition_id = fields.UUID()
    company_id = fields.UUID()
    status = fields.String(validate=validate.Length(max=20))
    is_key = fields.Boolean()
    deleted = fields.Boolean(load_default=False)


class StatusChange(StrictSchema):
    to = fields.String(required=True, validate=validate.Length(min=1, max=20))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class BoothAssignment(StrictSchema):
    booth_id = fields.UUID(required=True)


class ExhibitorUserLink(StrictSchema):
    user_id = fields.UUID(required=True)
    company_id = fields.UUID(required=True)


# --- registrations -----------------------------------------------------------------------------------

def _trimmed_contact(data, *, drop_empty: bool):
    """Spreadsheets carry stray spaces: ``email`` and ``phone`` are trimmed before they are checked (a
    blank one on a new registration is as if not given)."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for key in ("email", "phone"):
        if isinstance(data.get(key), str):
            data[key] = data[key].strip()
            if drop_empty and not data[key]:
                del data[key]
    return data


class RegistrationCreate(StrictSchema):
    edition_id = fields.UUID(required=True)
    visitor_id = fields.UUID(metadata={"description": "An existing person customer; or give `name` to create one."})
    name = fields.String(validate=validate.Length(min=1, max=200),
                         metadata={"description": "Creates the visitor as a person customer."})
    region = fields.String(allow_none=True, validate=validate.Length(max=80),
                           metadata={"description": "The visitor's region, for a new visitor (with `name`)."})
    company_id = fields.UUID(allow_none=True)
    company_name = fields.String(validate=validate.Length(max=200),
                                 metadata={"description": "The visitor's company as registered; empty when not given."})
    job_title = fields.String(validate=validate.Length(max=120),
                              metadata={"description": "The visitor's job title; empty when not given."})
    email = fields.Email(validate=validate.Length(max=254),
                         metadata={"description": "The visitor's email address as registered; empty when not given."})
    phone = fields.String(validate=validate.Length(max=40),
                          metadata={"description": "The visitor's phone number as registered; empty when not given."})
    category = fields.String(load_default="general", validate=one_of(L.VISITOR_CATEGORY),
                             metadata={"description": "Professional buyer (专业观众), general visitor, media or VIP."})
    interests = category_list(load_default=list, metadata={
        "description": "The product categories the visitor is interested in, used to match exhibitors."})
    purchase_intent = fields.String(load_default="none", validate=one_of(L.PURCHASE_INTENT),
                                    metadata={"description": "How ready the visitor says they are to buy."})
    source = fields.String(load_default="web", validate=one_of(L.REGISTRATION_SOURCE), metadata={
        "description": "How the visitor came to register: a past edition, a partner, the web or on site."})
    badge_code = fields.String(validate=[validate.Length(min=4, max=40), validate.Regexp(r"^[A-Za-z0-9-]+$")],
                               metadata={"description": "Generated when omitted."})
    registered_at = fields.AwareDateTime(metadata={"description": "When the visitor registered (UTC, ISO 8601)."})

    @pre_load
    def trim(self, data, **kwargs):
        return _trimmed_contact(data, drop_empty=True)

    @validates_schema
    def who(self, data, **kwargs):
        if not data.get("visitor_id") and not data.get("name"):
            raise ValidationError("Give visitor_id (an existing person) or name (a new one).", "visitor_id")


class RegistrationUpdate(StrictSchema):
    company_id = fields.UUID(allow_none=True)
    company_name = fields.String(validate=validate.Length(max=200))
    job_title = fields.String(validate=validate.Length(max=120))
    email = fields.Email(validate=validate.Length(max=254))
    phone = fields.String(validate=validate.Length(max=40))
    category = fields.String(validate=one_of(L.VISITOR_CATEGORY))
    interests = category_list()
    purchase_intent = fields.String(validate=one_of(L.PURCHASE_INTENT))
    version = fields.Integer(required=True)

    @pre_load
    def trim(self, data, **kwargs):
        return _trimmed_contact(data, drop_empty=False)


class RegistrationFilter(StrictSchema):
    edition_id = fields.UUID()
    visitor_id = fields.UUID()
    category = fields.String(validate=one_of(L.VISITOR_CATEGORY))
    status = fields.String(validate=one_of(L.REGISTRATION_STATUS))
    source = fields.String(validate=one_of(L.REGISTRATION_SOURCE))
    badge_code = fields.String(validate=validate.Length(max=40))
    deleted = fields.Boolean(load_default=False)


#: Visitor categories a visitor may choose when registering themselves (media and VIP are the organiser's).
SELF_CATEGORIES = ("buyer", "general")


class ExhibitionSelfRegistration(StrictSchema):
    """A visitor registering themselves (no sign-in): who they are and how to reach them."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "The visitor's name."})
    email = fields.Email(required=True, validate=validate.Length(max=254),
                         metadata={"description": "The visitor's e-mail address; the confirmation goes there."})
    phone = fields.String(validate=[validate.Length(min=5, max=40),
                                    validate.Regexp(r"^\+?[0-9][0-9 ()./-]{3,38}[0-9]$",
                                                    error="Digits, with an optional leading + and spaces, dashes, "
                                                          "dots or brackets, e.g. +86 138 0013 8000.")],
                          metadata={"description": "A mobile or landline number (optional)."})
    company = fields.String(validate=validate.Length(max=200), metadata={"description": "The visitor's company."})
    job_title = fields.String(validate=validate.Length(max=120))
    category = fields.String(load_default="general", validate=validate.OneOf(SELF_CATEGORIES), metadata={
        "description": "buyer (专业观众) or general (普通观众); media and VIP are registered by the organiser."})
    interests = category_list(load_default=list, metadata={
        "description": "Product categories the visitor is interested in (for matching exhibitors)."})
    purchase_intent = fields.String(load_default="none", validate=one_of(L.PURCHASE_INTENT))

    @pre_load
    def trim(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        data = _trimmed_contact(data, drop_empty=True)
        for key in ("name", "company", "job_title"):
            if isinstance(data.get(key), str):
                data[key] = " ".join(data[key].split())
        return data


class ExhibitionSelfRegistrationEditionOut(Schema):
    id = fields.UUID()
    name = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    venue = fields.String()


class ExhibitionSelfRegistrationOut(Schema):
    """The confirmation: only what the visitor sent, the edition and the badge code."""

    badge_code = fields.String(metadata={"description": "The code on the visitor's badge (show it at the gate)."})
    status = fields.String()
    name = fields.String()
    email = fields.String()
    category = fields.String()
    registered_at = fields.DateTime()
    edition = fields.Nested(ExhibitionSelfRegistrationEditionOut)


class RegistrationImport(StrictSchema):
    registrations = BoundedList(fields.Dict(), required=True, min_items=1, max_items=MAX_IMPORT)


# --- scans -------------------------------------------------------------------------------------------

class Scan(StrictSchema):
    badge_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    scanned_at = fields.AwareDateTime(required=True)
    gate = fields.String(load_default="", validate=validate.Length(max=40))
    direction = fields.String(load_default="entry", validate=one_of(L.SCAN_DIRECTION))
    device = fields.String(load_default="", validate=validate.Length(max=60))


class ScanUpload(StrictSchema):
    scans = BoundedList(fields.Dict(), required=True, min_items=1, max_items=MAX_SCANS)


# --- leads -------------------------------------------------------------------------------------------

class LeadCreate(StrictSchema):
    participation_id = fields.UUID(required=True, metadata={"description": "The exhibitor's participation."})
    badge_code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    rating = fields.String(load_default="warm", validate=one_of(L.LEAD_RATING))
    tags = Tags(load_default=list)
    notes = fields.String(load_default="", validate=validate.Length(max=20000))
    captured_at = fields.AwareDateTime()


class LeadUpdate(StrictSchema):
    rating = fields.String(validate=one_of(L.LEAD_RATING))
    tags = Tags()
    notes = fields.String(validate=validate.Length(max=20000))
    version = fields.Integer(required=True)


class LeadFilter(StrictSchema):
    edition_id = fields.UUID()
    participation_id = fields.UUID()
    rating = fields.String(validate=one_of(L.LEAD_RATING))
    tag = fields.String(validate=validate.Length(max=40), metadata={"description": "Only leads carrying this tag."})
    deleted = fields.Boolean(load_default=False)


# --- meetings ----------------------------------------------------------------------------------------

class MeetingCreate(StrictSchema):
    participation_id = fields.UUID(required=True)
    registration_id = fields.UUID(required=True)
    starts_at = fields.AwareDateTime(allow_none=True)
    location = fields.String(load_default="", validate=validate.Length(max=120))
    notes = fields.String(load_default="", validate=validate.Length(max=20000))


class MeetingFilter(StrictSchema):
    edition_id = fields.UUID()
    participation_id = fields.UUID()
    registration_id = fields.UUID()
    status = fields.String(validate=validate.Length(max=20))


# --- invitations, follow-ups, surveys ----------------------------------------------------------------

class InvitationCriteria(StrictSchema):
    from_edition_ids = BoundedList(fields.UUID(), max_items=20,
                                   metadata={"description": "Past editions to draw from (default: every earlier "
                                                            "edition of the same show)."})
    attended = fields.Boolean(allow_none=True, load_default=None,
                              metadata={"description": "true: only visitors who checked in; false: only no-shows."})
    categories = fields.List(fields.String(validate=one_of(L.VISITOR_CATEGORY)), load_default=list)
    interests = category_list(load_default=list, metadata={"description": "Any of these interests."})
    lapsed = fields.Boolean(load_default=False,
                            metadata={"description": "Only visitors who came before but skipped the latest edition."})
    dry_run = fields.Boolean(load_default=False)


class InvitationFilter(StrictSchema):
    status = fields.String(validate=one_of(L.INVITATION_STATUS))


class InvitationListFilter(InvitationFilter):
    """GraphQL's ``exhibitionInvitations(filter:)``: every condition in one input, the edition included
    (REST has it in the path)."""

    edition_id = fields.UUID(required=True, metadata={"description": "The edition whose invitations are listed."})


class ExhibitionCheckInListFilter(StrictSchema):
    """An edition's scans as a list's filters (``trellis export exhibitions.checkins``; REST has the
    edition in the path)."""

    edition_id = fields.UUID(required=True, metadata={"description": "The edition whose scans are listed."})
    registration_id = fields.UUID(metadata={"description": "Only this registration's scans."})


class ExhibitionExhibitorUserFilter(StrictSchema):
    """The exhibitor users' list's filter (``trellis export exhibitions.exhibitor_users``)."""

    company_id = fields.UUID(metadata={"description": "Only the users of this company."})


class ExhibitionParticipationHistoryFilter(StrictSchema):
    """A participation's status moves as a list's filters (``trellis export exhibitions.participation_history``;
    REST has the participation in the path)."""

    participation_id = fields.UUID(required=True, metadata={"description": "The participation whose moves are listed."})


class ExhibitionMeetingHistoryFilter(StrictSchema):
    """A meeting's status moves as a list's filters (``trellis export exhibitions.meeting_history``; REST has
    the meeting in the path)."""

    meeting_id = fields.UUID(required=True, metadata={"description": "The meeting whose moves are listed."})


class SurveyCreate(StrictSchema):
    edition_id = fields.UUID(required=True)
    registration_id = fields.UUID(allow_none=True)
    participation_id = fields.UUID(allow_none=True)
    phase = fields.String(load_default="after", validate=one_of(L.SURVEY_PHASE))
    satisfaction = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(load_default="", validate=validate.Length(max=5000))

    @validates_schema
    def one_respondent(self, data, **kwargs):
        if bool(data.get("registration_id")) == bool(data.get("participation_id")):
            raise ValidationError("Give exactly one of registration_id (a visitor) or participation_id "
                                  "(an exhibitor).", "registration_id")


class SurveyFilter(StrictSchema):
    edition_id = fields.UUID()
    respondent = fields.String(validate=one_of(L.SURVEY_RESPONDENT),
                               metadata={"description": "Only visitors' or only exhibitors' answers."})
    phase = fields.String(validate=one_of(L.SURVEY_PHASE))
    registration_id = fields.UUID()
    participation_id = fields.UUID()


class MatchArgs(StrictSchema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class ExhibitionParticipationMatchFilter(MatchArgs):
    """An exhibitor's matches as a list's filters (``trellis export exhibitions.participation_matches``; REST
    has the participation in the path and ``limit`` in the query)."""

    participation_id = fields.UUID(required=True, metadata={"description": "The participation whose buyers are ranked."})


class ExhibitionRegistrationMatchFilter(MatchArgs):
    """A buyer's matches as a list's filters (``trellis export exhibitions.registration_matches``; REST has
    the registration in the path and ``limit`` in the query)."""

    registration_id = fields.UUID(required=True, metadata={"description": "The registration whose exhibitors are ranked."})


# --- output ------------------------------------------------------------------------------------------

class ParticipationOut(RecordOut):
    edition_id = fields.UUID()
    company_id = fields.UUID()
    company_name = fields.Function(lambda p: p.company.name if p.company else None)
    status = fields.String()
    is_key = fields.Boolean()
    categories = fields.List(fields.String())
    notes = fields.String()


class ExhibitorUserOut(Schema):
    id = fields.UUID()
    user_id = fields.UUID()
    company_id = fields.UUID()
    created_at = fields.DateTime()


class RegistrationOut(RecordOut):
    edition_id = fields.UUID()
    visitor_id = fields.UUID()
    visitor_name = fields.Function(lambda r: r.visitor.name if r.visitor else None)
    company_id = fields.UUID(allow_none=True)
    company_name = fields.String()
    job_title = fields.String()
    email = fields.String()
    phone = fields.String()
    category = fields.String()
    interests = fields.List(fields.String())
    purchase_intent = fields.String()
    source = fields.String()
    badge_code = fields.String()
    status = fields.String()
    registered_at = fields.DateTime()


class CheckInOut(Schema):
    id = fields.UUID()
    edition_id = fields.UUID()
    registration_id = fields.UUID()
    scanned_at = fields.DateTime()
    day = fields.Date()
    gate = fields.String()
    direction = fields.String()
    device = fields.String()


class ScanRejectionOut(Schema):
    index = fields.Integer()
    badge_code = fields.String(allow_none=True)
    field = fields.String()
    message = fields.String()


class ScanResultOut(Schema):
    received = fields.Integer()
    accepted = fields.Integer()
    duplicates = fields.Integer()
    rejected = fields.List(fields.Nested(ScanRejectionOut))


class ImportResultOut(Schema):
    created = fields.Integer()
    existing = fields.Integer()
    registrations = fields.List(fields.Nested(RegistrationOut))


class LeadOut(Schema):
    """A lead with the visitor as the caller may see it: hidden fields are absent, not null."""

    id = fields.UUID()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()
    deleted_at = fields.DateTime(allow_none=True)
    edition_id = fields.UUID()
    participation_id = fields.UUID()
    registration_id = fields.UUID()
    captured_by_id = fields.UUID(allow_none=True)
    captured_at = fields.DateTime()
    rating = fields.String()
    tags = fields.List(fields.String())
    notes = fields.String()
    follow_up_task_id = fields.UUID(allow_none=True)
    visitor = fields.Dict()


class MeetingOut(Schema):
    id = fields.UUID()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()
    edition_id = fields.UUID()
    participation_id = fields.UUID()
    registration_id = fields.UUID()
    status = fields.String()
    requested_by_id = fields.UUID(allow_none=True)
    starts_at = fields.DateTime(allow_none=True)
    location = fields.String()
    notes = fields.String()
    visitor = fields.Dict()
    exhibitor_name = fields.String()


class MatchOut(Schema):
    score = fields.Float()
    reasons = fields.List(fields.String())
    common_categories = fields.List(fields.String())
    registration_id = fields.UUID(allow_none=True)
    participation_id = fields.UUID(allow_none=True)
    visitor = fields.Dict(allow_none=True)
    exhibitor_name = fields.String(allow_none=True)


class InvitationOut(RecordOut):
    edition_id = fields.UUID()
    visitor_id = fields.UUID()
    reason = fields.String()
    status = fields.String()
    invited_by_id = fields.UUID(allow_none=True)


class InvitationResultOut(Schema):
    selected = fields.Integer()
    created = fields.Integer()
    already_invited = fields.Integer()
    already_registered = fields.Integer()
    dry_run = fields.Boolean()


class SurveyOut(Schema):
    id = fields.UUID()
    edition_id = fields.UUID()
    respondent = fields.String()
    registration_id = fields.UUID(allow_none=True)
    participation_id = fields.UUID(allow_none=True)
    phase = fields.String()
    satisfaction = fields.Integer()
    comment = fields.String()
    interaction_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
