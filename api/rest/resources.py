"""The core's REST resources."""
from __future__ import annotations

from flask_login import current_user
from marshmallow import EXCLUDE, Schema, fields

from api.rest.crud import (LINK_HEADER, Blueprint, CrudService, NoArgs, StrictCursorArgs, crud_blueprint, list_query, served,
                           sort_field)
from core import runtime
from core.schemas import (
    AuditEntryOut, ContactCreate, ContactFilter, ContactOut, ContactUpdate, CustomerCreate, CustomerFilter, CustomerOut,
    CustomerUpdate, InteractionCreate, InteractionFilter, InteractionOut, InteractionUpdate, MAX_PAGE_SIZE,
)
from api.rest.duplicates import add_routes as duplicate_routes
from core.services import audit, contacts, customers, interactions, metric_results
from core.services.permissions import require_actor


class ChoiceOut(Schema):
    value = fields.String()
    en = fields.String()
    zh_cn = fields.String()

class MetricOut(Schema):
    name = fields.String()
    label_en = fields.String()
    label_zh_cn = fields.String()
    description = fields.String()
    unit = fields.String()
    group_by = fields.List(fields.String())
    owner = fields.String()

class PluginOut(Schema):
    name = fields.String()
    version = fields.String()
    source = fields.String()

class MetricArgs(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    group_by = fields.String()
    refresh = fields.Boolean(load_default=False, metadata={"description": (
        "Compute the numbers now, even when a stored result younger than TRELLIS_METRIC_RESULT_MAX_AGE "
        "would be served (docs/metrics.md, \"Materialised results\").")})

class MetricRowOut(Schema):
    group = fields.Dict()
    value = fields.Raw(allow_none=True)
    extra = fields.Dict()

class AuditArgs(audit.AuditFilter, StrictCursorArgs):
    class Meta:
        unknown = EXCLUDE

    sort = sort_field(sorted(audit.SORTABLE))


class MetricResultOut(Schema):
    name = fields.String()
    rows = fields.List(fields.Nested(MetricRowOut))
    computed_at = fields.DateTime(metadata={"description": (
        "When these numbers were computed: now for a live answer, earlier for a stored one.")})
    materialised = fields.Boolean(metadata={"description": (
        "Served from a stored result (as of computed_at) rather than computed for this request.")})


def core_blueprints() -> list[Blueprint]:
    """Fresh blueprints for one app (blueprints carry per-app OpenAPI state)."""
    customers_blp = crud_blueprint(
        "customers", "/customers", description="Customers (客户): companies and people.",
        service=CrudService(customers.list_customers, customers.read, customers.create, customers.update,
                            customers.delete, customers.restore),
        out_schema=CustomerOut, create_schema=CustomerCreate, update_schema=CustomerUpdate,
        filter_schema=CustomerFilter, sortable=sorted(customers.SORTABLE),
    )
    contacts_blp = crud_blueprint(
        "contacts", "/contacts", description="Contacts (联系人): people at a customer; one is primary.",
        service=CrudService(contacts.list_contacts, contacts.get, contacts.create, contacts.update,
                            contacts.delete, contacts.restore),
        out_schema=ContactOut, create_schema=ContactCreate, update_schema=ContactUpdate,
        filter_schema=ContactFilter, sortable=sorted(contacts.SORTABLE),
    )
    interactions_blp = crud_blueprint(
        "interactions", "/interactions", description="Interactions (交往记录): the timeline and planned tasks.",
        service=CrudService(interactions.list_interactions, interactions.get, interactions.create,
                            interactions.update, interactions.delete, interactions.restore),
        out_schema=InteractionOut, create_schema=InteractionCreate, update_schema=InteractionUpdate,
        filter_schema=InteractionFilter, sortable=sorted(interactions.SORTABLE),
    )


    duplicate_routes(customers_blp)

    @customers_blp.route("/<uuid:record_id>/timeline")
    @customers_blp.arguments(StrictCursorArgs, location="query", as_kwargs=False)
    @customers_blp.response(200, InteractionOut(many=True), headers={"Link": LINK_HEADER})
    @customers_blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def timeline(_args, record_id, pagination_parameters):
        """The customer's interactions, newest first"""
        _filters, paging = list_query(pagination_parameters, _args)
        return served(pagination_parameters, customers.timeline(current_user, record_id, page=paging))


    meta_blp = Blueprint("meta", "meta", url_prefix="", description="Labels, metrics and plugins.")







    @meta_blp.route("/labels")
    @meta_blp.arguments(NoArgs, location="query", as_kwargs=True)
    @meta_blp.doc(responses={"200": {"description": "vocabulary → choices",
                                     "content": {"application/json": {"schema": {
                                         "type": "object", "additionalProperties": {
                                             "type": "array", "items": {"type": "object", "properties": {
                                                 k: {"type": "string"} for k in ("value", "en", "zh_cn")}}}}}}}})
    def labels():
        """Every vocabulary with its English and zh-CN labels"""
        require_actor(current_user)
        return {name: [c.as_dict() for c in choices] for name, choices in runtime.current().labels.vocabularies().items()}


    @meta_blp.route("/metrics")
    @meta_blp.arguments(NoArgs, location="query", as_kwargs=True)
    @meta_blp.response(200, MetricOut(many=True))
    def metrics_list():
        """The metrics this deployment computes"""
        require_actor(current_user)
        return [m.as_dict() for m in runtime.current().metrics.all()]


    @meta_blp.route("/metrics/<name>")
    @meta_blp.arguments(MetricArgs, location="query")
    @meta_blp.response(200, MetricResultOut)
    def metric(args, name):
        """Compute one metric over what you may see

        A metric whose computation is slow may be answered from a stored result of your scope, up to
        TRELLIS_METRIC_RESULT_MAX_AGE seconds old: computed_at and materialised say so, refresh=true
        computes it now."""
        result = metric_results.answer(current_user, name, date_from=args.get("from_"), date_to=args.get("to"),
                                       group_by=args.get("group_by"), refresh=args["refresh"])
        return {"name": name, "rows": [r.as_dict() for r in result.rows], "computed_at": result.computed_at,
                "materialised": result.materialised}


    @meta_blp.route("/plugins")
    @meta_blp.arguments(NoArgs, location="query", as_kwargs=True)
    @meta_blp.response(200, PluginOut(many=True))
    def plugins():
        """The enabled plugins"""
        require_actor(current_user)
        return [{"name": p.name, "version": p.version, "source": p.source}
                for p in runtime.current().plugins.enabled]

    @meta_blp.route("/audit")
    @meta_blp.arguments(AuditArgs, location="query")
    @meta_blp.response(200, AuditEntryOut(many=True), headers={"Link": LINK_HEADER})
    @meta_blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def audit_trail(args, pagination_parameters):
        """Who changed what, newest first (admins; filter by record_type, record_id or request_id)"""
        args, paging = list_query(pagination_parameters, args)
        return served(pagination_parameters, audit.entries(current_user, **args, page=paging))  # filters and sort

    from api.rest.lifecycle import lifecycle_blueprints
    from api.rest.analytics import analytics_blueprints
    from api.rest.people import people_blueprints
    from api.rest.imports import imports_blueprints
    from api.rest.exports import exports_blueprints
    from api.rest.privacy import privacy_blueprints
    from api.rest.webhooks import webhook_blueprints

    return [customers_blp, contacts_blp, interactions_blp, meta_blp, *lifecycle_blueprints(), *webhook_blueprints(),
            *analytics_blueprints(), *people_blueprints(), *privacy_blueprints(),
            *imports_blueprints(), *exports_blueprints()]
