"""Exhibitions (会展): shows and editions, exhibitors and booths, visitors, check-ins, leads."""
from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl

name = "exhibitions"
version = "0.2.0"
requires: list[str] = []
#: OpenAPI schema names published before a plugin's schemas had to start with its prefix (docs/plugins.md,
#: "Names"): kept so clients' generated code does not break. New schemas are prefixed; this only shrinks.
legacy_schema_names = frozenset({
    "BoothAssignment", "BoothCreate", "BoothOut", "BoothUpdate", "CheckInOut", "EditionCreate",
    "EditionOut", "EditionUpdate", "ExhibitorUserLink", "ExhibitorUserOut", "FollowUpsOut", "ImportOut",
    "ImportRowOut", "InvitationCriteria", "InvitationOut", "InvitationResultOut", "LeadCaptureOut",
    "LeadCreate", "LeadUpdate", "MatchOut", "MatchesSentOut", "MeetingCreate", "MeetingOut",
    "ParticipationCreate", "ParticipationOut", "ParticipationUpdate", "RegistrationCreate",
    "RegistrationImport", "RegistrationOut", "RegistrationUpdate", "Scan", "ScanRejectionOut",
    "ScanResultOut", "ScanUpload", "StatusChange", "SurveyCreate", "SurveyOut",
})


@hookimpl
def trellis_models():
    from plugins.exhibitions.models import MODELS

    return MODELS


@hookimpl
def trellis_migrations():
    return Path(__file__).parent / "migrations" / "versions"


@hookimpl
def trellis_rest_blueprints():
    from plugins.exhibitions.rest import blueprints

    return blueprints()


@hookimpl
def trellis_labels():
    from plugins.exhibitions.labels import LABELS

    return LABELS


@hookimpl
def trellis_roles():
    from plugins.exhibitions.labels import ROLES

    return ROLES


@hookimpl
def trellis_interaction_kinds():
    from plugins.exhibitions.labels import INTERACTION_KINDS

    return INTERACTION_KINDS


@hookimpl
def trellis_record_scopes():
    from plugins.exhibitions.scopes import SCOPES

    return SCOPES


@hookimpl
def trellis_workflows(settings):
    from plugins.exhibitions.workflows import workflows

    return workflows(settings)


@hookimpl
def trellis_metrics():
    from plugins.exhibitions.metrics import metrics

    return metrics()


@hookimpl
def trellis_scheduled_jobs():
    from core.jobs import Job
    from plugins.exhibitions import services

    return [Job("exhibitions.follow_ups", lambda now: services.create_follow_ups(None, now=now),
                "After an edition ends, a follow-up task for each hot lead's exhibitor.")]


@hookimpl
def trellis_public_endpoints():
    from plugins.exhibitions.rest import PUBLIC_ENDPOINTS

    return list(PUBLIC_ENDPOINTS)


@hookimpl
def trellis_settings():
    from core.config import PluginSetting

    return [PluginSetting("exhibitions_registration_rate_limit", "10 per minute",
                          "Visitors' own registrations (POST /editions/{id}/register) allowed per client address, "
                          "in the limits notation: '10 per minute', '100 per hour'.")]


@hookimpl
def trellis_demo_data(admin, rng, progress):
    from plugins.exhibitions.demo import load

    load(admin, rng, progress)


@hookimpl
def trellis_graphql_types(registry):
    from plugins.exhibitions import graphql

    graphql.trellis_graphql_types(registry)


@hookimpl
def trellis_graphql_type_fields(registry):
    from plugins.exhibitions import graphql

    return graphql.trellis_graphql_type_fields(registry)


@hookimpl
def trellis_graphql_query_fields(registry):
    from plugins.exhibitions import graphql

    return graphql.trellis_graphql_query_fields(registry)


@hookimpl
def trellis_graphql_mutation_fields(registry):
    from plugins.exhibitions import graphql

    return graphql.trellis_graphql_mutation_fields(registry)


@hookimpl
def trellis_personal_data():
    from plugins.exhibitions.privacy import personal_data

    return personal_data()


@hookimpl
def trellis_merge_customers(survivor, merged, actor):
    from plugins.exhibitions.merge import merge

    return merge(actor, survivor, merged)


@hookimpl
def trellis_import_types():
    from plugins.exhibitions.imports import import_types

    return import_types()


@hookimpl
def trellis_export_types():
    from plugins.exhibitions import exports
    from plugins.exhibitions.imports import export_types

    return [*export_types(), *exports.export_types()]
