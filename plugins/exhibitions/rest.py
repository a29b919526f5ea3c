"""Exhibitions (会展): flask-smorest blueprints, returned by the ``trellis_rest_blueprints`` hook.

Mounted under ``/api/v1/exhibitions``. The views only translate: bodies and queries go to
``plugins.exhibitions.services`` as plain data, records come back through the output schemas.
"""
from __future__ import annotations

from flask_login import current_user
from marshmallow import Schema, fields

from api.rest.crud import (BULK_REQUEST_BYTES, LINK_HEADER, Blueprint, CrudService, CursorArgs, KnownArgs, body_doc, body_limit,
                           crud_blueprint, json_body, list_args_schema, list_query, record_blueprint, served)
from core.schemas import MAX_PAGE_SIZE, TransitionOut
from plugins.exhibitions import schemas as S
from plugins.exhibitions import services as svc


class CheckInQuery(CursorArgs):
    registration_id = fields.UUID(metadata={"description": "Only this registration's scans."})


class ImportRowOut(Schema):
    index = fields.Integer()
    registration_id = fields.UUID(allow_none=True)
    visitor_id = fields.UUID(allow_none=True)
    badge_code = fields.String(allow_none=True)
    created = fields.Boolean()


class ImportOut(Schema):
    created = fields.Integer()
    existing = fields.Integer()
    registrations = fields.List(fields.Nested(ImportRowOut))


class LeadCaptureOut(S.LeadOut):
    new = fields.Boolean(metadata={"description": "False when this badge was already a lead of this exhibitor."})


class MatchesSentOut(Schema):
    exhibitors = fields.Integer(metadata={"description": "Booked exhibitors with at least one matching buyer."})
    notified = fields.Integer(metadata={"description": "Exhibitor users notified now (each exhibitor once)."})
    buyers = fields.Integer(metadata={"description": "Professional buyers registered (cancelled ones not counted)."})
    buyers_notified = fields.Integer(metadata={"description": "Buyers told of their matching exhibitors now "
                                                              "(each buyer once)."})


class FollowUpsOut(Schema):
    created = fields.Integer()


class LinkArgs(KnownArgs):
    passes = ()

    company_id = fields.UUID()


def _crud(name, prefix, description, *, list_, get, create, update, delete, restore, out, create_schema,
          update_schema, filter_schema, sortable):
    return crud_blueprint(f"exhibitions_{name}", prefix, description=description,
                          service=CrudService(list_, get, create, update, delete, restore), out_schema=out,
                          create_schema=create_schema, update_schema=update_schema, filter_schema=filter_schema,
                          sortable=sorted(sortable))


def blueprints() -> list[Blueprint]:
    shows = record_blueprint(svc.SHOWS, "exhibitions_shows", "/exhibitions",
                             description="Shows (展会): recurring exhibitions.")
    editions = record_blueprint(svc.EDITIONS, "exhibitions_editions", "/editions",
                                description="Editions (届): dates, venue, halls, lead privacy setting.")
    booths = record_blueprint(svc.BOOTHS, "exhibitions_booths", "/booths",
                              description="Booths (展位): number, hall, area, price, status.")
    participations = _crud(
        "participations", "/participations", "Exhibitor participations (参展): workflow, booths, categories.",
        list_=svc.list_participations, get=svc.get_participation, create=svc.create_participation,
        update=svc.update_participation, delete=svc.delete_participation, restore=svc.restore_participation,
        out=S.ParticipationOut, create_schema=S.ParticipationCreate, update_schema=S.ParticipationUpdate,
        filter_schema=S.ParticipationFilter, sortable=svc.PARTICIPATION_SORT)
    registrations = _crud(
        "registrations", "/registrations", "Visitor registrations (观众预登记) with badge codes.",
        list_=svc.list_registrations, get=svc.get_registration, create=svc.create_registration,
        update=svc.update_registration, delete=svc.delete_registration, restore=svc.restore_registration,
        out=S.RegistrationOut, create_schema=S.RegistrationCreate, update_schema=S.RegistrationUpdate,
        filter_schema=S.RegistrationFilter, sortable=svc.REGISTRATION_SORT)
    leads = _crud(
        "leads", "/leads", "Leads (展位线索): badges scanned at a booth. POST with the same badge again returns "
                           "the same lead (200, new=false; 201 when created). Visitor fields follow the "
                           "edition's setting.",
        list_=svc.list_leads, get=svc.get_lead, create=_capture, update=svc.update_lead,
        delete=svc.delete_lead, restore=svc.restore_lead, out=LeadCaptureOut, create_schema=S.LeadCreate,
        update_schema=S.LeadUpdate, filter_schema=S.LeadFilter, sortable=svc.LEAD_SORT)
    return [shows, editions, booths, participations, registrations, leads, _actions(), _public()]


#: Answer without a sign-in (declared through ``trellis_public_endpoints``): visitors register themselves.
PUBLIC_ENDPOINTS = ("exhibitions_public.self_register",)


def _public() -> Blueprint:
    blp = Blueprint("exhibitions_public", "exhibitions_public", url_prefix="",
                    description="Visitors' own registration (no sign-in; rate-limited per address).")

    @blp.route("/editions/<uuid:edition_id>/register", methods=["POST"])
    @blp.doc(security=[], **body_doc(S.ExhibitionSelfRegistration))
    @blp.response(201, S.ExhibitionSelfRegistrationOut)
    def self_register(edition_id):
        """Register yourself as a visitor (no sign-in): the confirmation carries your badge code.

        Rate-limited per client address (TRELLIS_EXHIBITIONS_REGISTRATION_RATE_LIMIT, default 10 per
        minute; 429 with Retry-After beyond it). 422 names each bad field and writes nothing; an unknown
        edition is 404, one that is over 409; someone already registered for the edition (same e-mail, or
        phone) 409 naming the field, without their badge."""
        from flask import current_app

        from api.auth import rate_limited

        limit = current_app.extensions["trellis"].settings.exhibitions_registration_rate_limit
        refused = rate_limited("exhibitions_register", limit, what="registrations")
        if refused is not None:
            return refused
        return svc.self_register(edition_id, json_body()), 201

    return blp


def _capture(actor, data):
    """201 with ``new: true`` for a lead captured now; 200 with ``new: false`` for the badge captured before."""
    view, new = svc.capture_lead(actor, data)
    view.new = new
    return view, 201 if new else 200


def _actions() -> Blueprint:
    blp = Blueprint("exhibitions_actions", "exhibitions_actions", url_prefix="",
                    description="Exhibitions: workflow moves, scans, matching, meetings, invitations, follow-ups, "
                                "surveys, metrics.")

    # participations -------------------------------------------------------------------------------
    @blp.route("/participations/<uuid:participation_id>/status", methods=["POST"])
    @blp.doc(**body_doc(S.StatusChange))
    @blp.response(200, S.ParticipationOut)
    def participation_status(participation_id):
        """Move a participation (invited → applied → confirmed → paid → arrived → attended; cancelled)"""
        return svc.change_participation_status(current_user, participation_id, json_body())

    @blp.route("/participations/<uuid:participation_id>/history")
    @blp.response(200, TransitionOut(many=True))
    def participation_history(participation_id):
        """Every status move, oldest first"""
        return svc.participation_history(current_user, participation_id)

    @blp.route("/participations/<uuid:participation_id>/booths", methods=["POST"])
    @blp.doc(**body_doc(S.BoothAssignment))
    @blp.response(200, svc.BOOTHS.out_schema)
    def assign_booth(participation_id):
        """Reserve a booth for the participation (sold once it is paid)"""
        return svc.assign_booth(current_user, participation_id, json_body())

    @blp.route("/participations/<uuid:participation_id>/booths/<uuid:booth_id>", methods=["DELETE"])
    @blp.response(200, svc.BOOTHS.out_schema)
    def release_booth(participation_id, booth_id):
        """Release a booth"""
        return svc.release_booth(current_user, participation_id, booth_id)

    @blp.route("/participations/<uuid:participation_id>/matches")
    @blp.arguments(S.MatchArgs, location="query")
    @blp.response(200, S.MatchOut(many=True))
    def exhibitor_matches(args, participation_id):
        """Buyers ranked by how well their needs meet this exhibitor's offer, with reasons"""
        return svc.matches_for_exhibitor(current_user, participation_id, limit=args["limit"])

    @blp.route("/exhibitor-users", methods=["POST"])
    @blp.doc(**body_doc(S.ExhibitorUserLink))
    @blp.response(200, S.ExhibitorUserOut)
    def link_user():
        """Link a user with the exhibitor role to their company"""
        return svc.link_exhibitor_user(current_user, json_body())

    @blp.route("/exhibitor-users")
    @blp.arguments(LinkArgs, location="query")
    @blp.response(200, S.ExhibitorUserOut(many=True))
    def list_users(args):
        """Exhibitor users and their companies"""
        return svc.list_exhibitor_users(current_user, args.get("company_id"))

    @blp.route("/exhibitor-users/<uuid:user_id>", methods=["DELETE"])
    @blp.response(204)
    def unlink_user(user_id):
        """Unlink an exhibitor user"""
        svc.unlink_exhibitor_user(current_user, user_id)

    # registrations --------------------------------------------------------------------------------
    @blp.route("/registrations/<uuid:registration_id>/cancel", methods=["POST"])
    @blp.response(200, S.RegistrationOut)
    def cancel_registration(registration_id):
        """Cancel a registration: its badge no longer opens the gates"""
        return svc.cancel_registration(current_user, registration_id)

    @blp.route("/registrations/<uuid:registration_id>/matches")
    @blp.arguments(S.MatchArgs, location="query")
    @blp.response(200, S.MatchOut(many=True))
    def buyer_matches(args, registration_id):
        """Exhibitors ranked by how well their offer meets this buyer's needs, with reasons"""
        return svc.matches_for_buyer(current_user, registration_id, limit=args["limit"])

    @blp.route("/editions/<uuid:edition_id>/registrations/import", methods=["POST"])
    @body_limit(BULK_REQUEST_BYTES)
    @blp.doc(**body_doc(S.RegistrationImport))
    @blp.response(200, ImportOut)
    def import_registrations(edition_id):
        """Register many visitors at once (all rows valid, or nothing written); re-sending is harmless"""
        return svc.import_registrations(current_user, edition_id, json_body())

    # scans ----------------------------------------------------------------------------------------
    @blp.route("/editions/<uuid:edition_id>/scans", methods=["POST"])
    @body_limit(BULK_REQUEST_BYTES)
    @blp.doc(**body_doc(S.ScanUpload))
    @blp.response(200, S.ScanResultOut)
    def upload_scans(edition_id):
        """Upload gate scans (an offline scanner's log): idempotent; bad badges listed in `rejected`"""
        return svc.upload_scans(current_user, edition_id, json_body())

    @blp.route("/editions/<uuid:edition_id>/scan", methods=["POST"])
    @blp.doc(**body_doc(S.Scan))
    @blp.response(201, S.CheckInOut)
    @blp.alt_response(200, schema=S.CheckInOut, description="The same scan was already stored.")
    def scan(edition_id):
        """One scan at a gate: 201 stored, 200 duplicate, 422 unknown or cancelled badge"""
        checkin, new = svc.record_scan(current_user, edition_id, json_body())
        return checkin, 201 if new else 200

    @blp.route("/editions/<uuid:edition_id>/checkins")
    @blp.arguments(CheckInQuery, location="query", as_kwargs=False)
    @blp.response(200, S.CheckInOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def checkins(_args, edition_id, pagination_parameters):
        """Stored scans, in time order"""
        filters, paging = list_query(pagination_parameters)
        return served(pagination_parameters, svc.list_checkins(
            current_user, edition_id, page=paging, registration_id=filters.get("registration_id")))

    # matching, invitations, follow-up, metrics ----------------------------------------------------
    @blp.route("/editions/<uuid:edition_id>/matches/send", methods=["POST"])
    @blp.response(200, MatchesSentOut)
    def send_matches(edition_id):
        """Tell every booked exhibitor how many buyers match (once per exhibitor)"""
        return svc.send_matches(current_user, edition_id)

    @blp.route("/editions/<uuid:edition_id>/invitations", methods=["POST"])
    @blp.doc(**body_doc(S.InvitationCriteria))
    @blp.response(200, S.InvitationResultOut)
    def build_invitations(edition_id):
        """Build the visitor invitation list from past editions (attended, category, interests, lapsed)"""
        return svc.build_invitations(current_user, edition_id, json_body())

    @blp.route("/editions/<uuid:edition_id>/invitations")
    @blp.arguments(list_args_schema(S.InvitationFilter, sorted(svc.INVITATION_SORT)), location="query",
                   as_kwargs=False)
    @blp.response(200, S.InvitationOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def invitations(_args, edition_id, pagination_parameters):
        """The edition's invitations (filter: status)"""
        args, paging = list_query(pagination_parameters)
        sort = args.pop("sort", None)
        return served(pagination_parameters,
                      svc.list_invitations(current_user, edition_id, args, page=paging, sort=sort))

    @blp.route("/editions/<uuid:edition_id>/exhibitor-invitations", methods=["POST"])
    @blp.response(200, S.ParticipationOut(many=True))
    def invite_exhibitors(edition_id):
        """Invite the previous edition's exhibitors that are not yet part of this one (rebooking)"""
        return svc.invite_exhibitors(current_user, edition_id)

    @blp.route("/editions/<uuid:edition_id>/follow-ups", methods=["POST"])
    @blp.response(200, FollowUpsOut)
    def follow_ups(edition_id):
        """A follow-up task for each hot lead's exhibitor (idempotent)"""
        return {"created": svc.create_follow_ups(current_user, edition_id)}

    @blp.route("/editions/<uuid:edition_id>/metrics")
    @blp.doc(responses={"200": {"description": "metric name → value, plus unique visitors per day", "content": {
        "application/json": {"schema": {"type": "object", "additionalProperties": {}, "properties": {
            "visitors_by_day": {"type": "array", "items": {"type": "object", "properties": {
                "day": {"type": "string", "format": "date"}, "visitors": {"type": "integer"}}}}}}}}}})
    def edition_metrics(edition_id):
        """Every metric of the edition, with unique visitors per day"""
        return svc.edition_metrics(current_user, edition_id)

    # meetings -------------------------------------------------------------------------------------
    @blp.route("/meetings", methods=["POST"])
    @blp.doc(**body_doc(S.MeetingCreate))
    @blp.response(201, S.MeetingOut)
    def request_meeting():
        """Request a meeting between an exhibitor and a registered buyer"""
        return svc.request_meeting(current_user, json_body())

    @blp.route("/meetings")
    @blp.arguments(list_args_schema(S.MeetingFilter, sorted(svc.MEETING_SORT)), location="query", as_kwargs=False)
    @blp.response(200, S.MeetingOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def meetings(_args, pagination_parameters):
        """Meetings you may see"""
        args, paging = list_query(pagination_parameters)
        sort = args.pop("sort", None)
        return served(pagination_parameters, svc.list_meetings(current_user, args, page=paging, sort=sort))

    @blp.route("/meetings/<uuid:meeting_id>")
    @blp.response(200, S.MeetingOut)
    def meeting(meeting_id):
        """One meeting"""
        return svc.get_meeting(current_user, meeting_id)

    @blp.route("/meetings/<uuid:meeting_id>/status", methods=["POST"])
    @blp.doc(**body_doc(S.StatusChange))
    @blp.response(200, S.MeetingOut)
    def meeting_status(meeting_id):
        """requested → accepted/declined → held/no_show"""
        return svc.change_meeting_status(current_user, meeting_id, json_body())

    @blp.route("/meetings/<uuid:meeting_id>/history")
    @blp.response(200, TransitionOut(many=True))
    def meeting_history(meeting_id):
        """Every status move, oldest first"""
        return svc.meeting_history(current_user, meeting_id)

    # surveys --------------------------------------------------------------------------------------
    @blp.route("/surveys", methods=["POST"])
    @blp.doc(**body_doc(S.SurveyCreate))
    @blp.response(201, S.SurveyOut)
    @blp.alt_response(200, schema=S.SurveyOut, description="The respondent had answered this survey: the answer "
                                                           "is replaced.")
    def survey():
        """A satisfaction answer (also written to the respondent's timeline); one per respondent and survey"""
        answer, new = svc.record_survey(current_user, json_body())
        return answer, 201 if new else 200

    @blp.route("/surveys")
    @blp.arguments(list_args_schema(S.SurveyFilter, sorted(svc.SURVEY_SORT)), location="query", as_kwargs=False)
    @blp.response(200, S.SurveyOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def surveys(_args, pagination_parameters):
        """Survey answers you may see (organiser staff: all; an exhibitor: its own), newest first"""
        args, paging = list_query(pagination_parameters)
        sort = args.pop("sort", None)
        return served(pagination_parameters, svc.list_surveys(current_user, args, page=paging, sort=sort))

    @blp.route("/surveys/<uuid:answer_id>")
    @blp.response(200, S.SurveyOut)
    def survey_answer(answer_id):
        """One survey answer"""
        return svc.get_survey(current_user, answer_id)

    return blp
