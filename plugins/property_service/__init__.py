"""Property service (物业服务): owners and units, service requests in a closed loop, dispatch, SLA clocks in
working hours, feedback, demand metrics and the Open311 GeoReport v2 API."""
from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl

name = "property_service"
version = "0.2.0"
requires: list[str] = []
#: OpenAPI schema names published before a plugin's schemas had to start with its prefix (docs/plugins.md,
#: "Names"): kept so clients' generated code does not break. New schemas are prefixed; this only shrinks.
legacy_schema_names = frozenset({
    "ApiKeyCreate", "ApiKeyOut", "AttributeDefinition", "AttributeValue", "BuildingCreate",
    "BuildingOut", "BuildingUpdate", "Dispatch", "EstateCreate", "EstateOut", "EstateUpdate",
    "Feedback", "FeedbackLinkOut", "KindCreate", "KindOut", "KindUpdate", "Note", "OccupancyCreate",
    "OccupancyOut", "OccupancyUpdate", "PublicRequestOut", "Referral", "Rejection", "Reopen",
    "RequestCreate", "RequestOut", "RequestUpdate", "Resolution", "SettingsOut", "SettingsUpdate",
    "SlaPolicyCreate", "SlaPolicyOut", "SlaPolicyUpdate", "TeamCreate", "TeamOut", "TeamUpdate",
    "UnitCreate", "UnitOut", "UnitUpdate",
})


@hookimpl
def trellis_models():
    from plugins.property_service.models import MODELS

    return MODELS


@hookimpl
def trellis_migrations():
    return Path(__file__).parent / "migrations" / "versions"


@hookimpl
def trellis_rest_blueprints():
    from plugins.property_service import rest

    return rest.blueprints()


@hookimpl
def trellis_mounted_blueprints():
    from plugins.property_service import open311

    return [(open311.blueprint(), open311.URL_PREFIX)]


@hookimpl
def trellis_public_endpoints():
    from plugins.property_service import open311, rest

    return [*open311.PUBLIC_ENDPOINTS, *rest.PUBLIC_ENDPOINTS]


@hookimpl
def trellis_workflows(settings):
    from plugins.property_service.workflows import request_workflow

    return [request_workflow(settings)]


@hookimpl
def trellis_labels():
    from plugins.property_service.labels import LABELS

    return LABELS


@hookimpl
def trellis_roles():
    from plugins.property_service.labels import ROLES

    return ROLES


@hookimpl
def trellis_interaction_kinds():
    from plugins.property_service.labels import INTERACTION_KINDS

    return INTERACTION_KINDS


@hookimpl
def trellis_record_scopes():
    from plugins.property_service.permissions import scopes

    return scopes()


@hookimpl
def trellis_metrics():
    from plugins.property_service.metrics import METRICS

    return METRICS


@hookimpl
def trellis_scheduled_jobs():
    from core.jobs import Job
    from plugins.property_service import requests

    return [
        Job("property_service.sla", requests.check_sla,
            "Refresh SLA states; warn assignees before deadlines; escalate overdue requests to the team's "
            "manager, then to the centre."),
        Job("property_service.auto_close", requests.auto_close,
            "Close resolved requests that got no feedback within the configured time."),
    ]


@hookimpl
def trellis_demo_data(admin, rng, progress):
    from plugins.property_service.demo import build

    build(admin, rng, progress)


@hookimpl
def trellis_graphql_types(registry):
    from plugins.property_service import graphql

    graphql.register_types(registry)


@hookimpl
def trellis_graphql_type_fields(registry):
    from plugins.property_service import graphql

    return graphql.type_fields(registry)


@hookimpl
def trellis_graphql_query_fields(registry):
    from plugins.property_service import graphql

    return graphql.query_fields(registry)


@hookimpl
def trellis_graphql_mutation_fields(registry):
    from plugins.property_service import graphql

    return graphql.mutation_fields(registry)


@hookimpl
def trellis_personal_data():
    from plugins.property_service.privacy import personal_data

    return personal_data()


@hookimpl
def trellis_merge_customers(survivor, merged, actor):
    from plugins.property_service.merge import merge

    return merge(actor, survivor, merged)


@hookimpl
def trellis_import_types():
    from plugins.property_service.imports import import_types

    return import_types()


@hookimpl
def trellis_export_types():
    from plugins.property_service import exports
    from plugins.property_service.imports import export_types

    return [*export_types(), *exports.export_types()]
