"""Property service (物业服务): flask-smorest blueprints, returned by the ``trellis_rest_blueprints`` hook.

Mounted under ``/api/v1/property-service``. Views only translate: the services validate, check
permissions and audit. The Open311 GeoReport v2 blueprint is in :mod:`plugins.property_service.open311`.
"""
from __future__ import annotations

from flask_login import current_user

from api.rest.crud import (LINK_HEADER, Blueprint, CrudService, CursorArgs, NoArgs, StrictCursorArgs, body_doc, crud_blueprint, json_body,
                           list_query, record_blueprint, served)
from core.schemas import MAX_PAGE_SIZE
from plugins.property_service import requests, schemas as s, services


def reference_blueprints() -> list[Blueprint]:
    """The reference records' six endpoints each: the declared ones (``record_blueprint``) and the teams,
    whose service is written by hand."""
    teams = services.teams
    return [
        record_blueprint(services.estates, "property_service_estates", "/estates", description="Estates (小区)."),
        record_blueprint(services.buildings, "property_service_buildings", "/buildings",
                         description="Buildings (楼栋)."),
        record_blueprint(services.units, "property_service_units", "/units",
                         description="Units: building, unit, room, area."),
        record_blueprint(services.occupancies, "property_service_occupancies", "/occupancies",
                         description="Owners', tenants' and family members' links to units."),
        crud_blueprint("property_service_teams", "/teams", service=CrudService(
            list=teams.list, get=teams.get, create=teams.create, update=teams.update, delete=teams.delete,
            restore=teams.restore), out_schema=s.TeamOut, create_schema=teams.create_schema,
            update_schema=teams.update_schema, filter_schema=teams.filter_schema, sortable=sorted(teams.sortable),
            description="Service teams and their members."),
        record_blueprint(services.kinds, "property_service_kinds", "/kinds",
                         description="Kinds of service request (also the Open311 services)."),
        record_blueprint(services.sla_policies, "property_service_sla_policies", "/sla-policies",
                         description="SLA targets in working minutes per kind and priority."),
    ]


def requests_blueprint() -> Blueprint:
    blp = crud_blueprint(
        "property_service_requests", "/requests",
        service=CrudService(list=requests.list_requests, get=requests.get, create=requests.create,
                            update=requests.update, delete=requests.delete, restore=requests.restore),
        out_schema=s.RequestOut, create_schema=s.RequestCreate, update_schema=s.RequestUpdate,
        filter_schema=s.RequestFilter, sortable=sorted(requests.SORTABLE),
        description="Service requests (服务申请) in the closed loop, with SLA clocks and feedback.")

    def action(path: str, fn, schema, doc: str):
        def view(record_id):
            return fn(current_user, record_id, json_body() if schema is not None else {})

        view.__name__ = view.__qualname__ = path.replace("-", "_")
        view.__doc__ = doc
        if schema is not None:
            view = blp.doc(**body_doc(schema))(view)
        view = blp.response(200, s.RequestOut)(view)
        blp.route(f"/<uuid:record_id>/{path}", methods=["POST"])(view)

    action("dispatch", requests.dispatch, s.Dispatch,
           "Dispatch to a team (and person); the centre may reassign any request, a manager within the team")
    action("start", requests.start, s.Note, "The team starts work")
    action("wait", requests.wait, s.Note, "Wait on the owner (the SLA clocks pause); say what they are to do")
    action("resume", requests.resume, s.Note, "The owner did their part: the clocks run again")
    action("resolve", requests.resolve, s.Resolution, "Resolved: say what was done")
    action("reject", requests.reject, s.Rejection, "Reject, with the explanation owed to the owner (centre)")
    action("refer", requests.refer, s.Referral, "Refer to an outside party (centre)")
    action("close", requests.close, s.Note, "Close a resolved request without a rating (centre)")
    action("reopen", requests.reopen, s.Reopen, "Reopen a resolved or closed request (centre)")
    action("feedback", requests.give_feedback, s.Feedback,
           "Record the owner's rating (1–5) and comment on their behalf; a resolved request closes")

    @blp.route("/<uuid:record_id>/feedback-link", methods=["POST"])
    @blp.response(201, s.FeedbackLinkOut)
    def feedback_link(record_id):
        """A one-time link for the owner to rate a resolved request without signing in (centre)"""
        return requests.feedback_link(current_user, record_id)

    @blp.route("/<uuid:record_id>/history")
    @blp.response(200, _transition_schema()(many=True))
    def history(record_id):
        """Every status move of the request, oldest first (from the core workflow history)"""
        return requests.history(current_user, record_id)

    return blp


def _transition_schema():
    from core.schemas import TransitionOut

    return TransitionOut


def misc_blueprint() -> Blueprint:
    blp = Blueprint("property_service_misc", "property_service_misc", url_prefix="",
                    description="Settings, Open311 API keys, customers' units and requests.")

    @blp.route("/settings")
    @blp.arguments(NoArgs, location="query", as_kwargs=True)
    @blp.response(200, s.SettingsOut)
    def get_settings():
        """The working calendar and feedback rules"""
        return services.get_settings(current_user)

    @blp.route("/settings", methods=["PUT"])
    @blp.doc(**body_doc(s.SettingsUpdate))
    @blp.response(200, s.SettingsOut)
    def put_settings():
        """Change the working calendar and feedback rules (centre, admin); send the version you read"""
        return services.update_settings(current_user, json_body())

    @blp.route("/api-keys")
    @blp.arguments(StrictCursorArgs, location="query", as_kwargs=False)
    @blp.response(200, s.ApiKeyOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def api_keys(_args, pagination_parameters):
        """Open311 API keys (admins)"""
        _filters, paging = list_query(pagination_parameters, _args)
        return served(pagination_parameters, services.list_api_keys(current_user, page=paging))

    @blp.route("/api-keys", methods=["POST"])
    @blp.doc(**body_doc(s.ApiKeyCreate))
    @blp.response(201, s.ApiKeyOut)
    def create_api_key():
        """Create an Open311 API key (admins); the key is in the answer, once"""
        key, plain = services.create_api_key(current_user, json_body())
        key.key = plain  # shown this once; only its digest is stored
        return key

    @blp.route("/api-keys/<uuid:key_id>", methods=["DELETE"])
    @blp.response(204)
    def revoke_api_key(key_id):
        """Revoke an Open311 API key (admins)"""
        services.revoke_api_key(current_user, key_id)

    @blp.route("/customers/<uuid:customer_id>/units")
    @blp.response(200, services.occupancies.out_schema(many=True))
    def customer_units(customer_id):
        """The customer's links to units (past ones included)"""
        return [occupancy for occupancy, _unit in services.units_of(current_user, customer_id)]

    @blp.route("/customers/<uuid:customer_id>/requests")
    @blp.arguments(CursorArgs, location="query", as_kwargs=False)
    @blp.response(200, s.RequestOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def customer_requests(_args, customer_id, pagination_parameters):
        """The customer's service requests you may see, newest first"""
        from core.services import customers

        customer = customers.get(current_user, customer_id)
        _filters, paging = list_query(pagination_parameters, _args)
        return served(pagination_parameters,
                      requests.list_requests(current_user, {"requester_id": str(customer.id)}, page=paging))

    return blp


def feedback_blueprint() -> Blueprint:
    """The owner's one-time feedback link. Public by design: ``api/auth.py``'s PUBLIC_ENDPOINTS must list
    ``property_service_feedback.show`` and ``property_service_feedback.rate`` (see the README)."""
    blp = Blueprint("property_service_feedback", "property_service_feedback", url_prefix="/feedback",
                    description="The owner's one-time feedback link (no sign-in).")

    @blp.route("/<token>")
    @blp.response(200, s.PublicRequestOut)
    def show(token):
        """What the owner is asked to rate"""
        return requests.request_for_token(token)

    @blp.route("/<token>", methods=["POST"])
    @blp.doc(**body_doc(s.Feedback))
    @blp.response(200, s.PublicRequestOut)
    def rate(token):
        """Rate the work 1–5 with a comment; the link is spent"""
        return requests.feedback_by_token(token, json_body())

    return blp


#: The owner's one-time feedback link answers without a login; its token is the secret.
PUBLIC_ENDPOINTS = ("property_service_feedback.show", "property_service_feedback.rate")


def blueprints() -> list[Blueprint]:

    return [*reference_blueprints(), requests_blueprint(), misc_blueprint(), feedback_blueprint()]

