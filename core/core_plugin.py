"""The core, registered as the plugin ``core``: it contributes its records, migrations, vocabularies
and metrics through the same hooks every plugin uses."""
from __future__ import annotations

from pathlib import Path

from core.hookspecs import hookimpl

name = "core"
version = "0.1.0"


@hookimpl
def trellis_models():
    from core import models

    return [models.Team, models.User, models.ApiToken, models.Customer, models.CustomerTag, models.Contact,
            models.Interaction, models.AuditEntry, models.OutboxEvent, models.WorkflowTransitionEntry,
            models.ApprovalRequest, models.StagnationAlert, models.Notification, models.WebhookSubscription,
            models.WebhookDelivery,
            models.AnalyticsRun, models.CustomerSegment, models.CustomerAnalytics, models.DemoDataset,
            models.ImportRun, models.ErasureJob, models.MetricResult]


@hookimpl
def trellis_migrations():
    return Path(__file__).parent / "migrations" / "versions"


@hookimpl
def trellis_labels():
    from core.labels import CORE_LABELS

    return CORE_LABELS


@hookimpl
def trellis_roles():
    from core.labels import CORE_ROLES

    return CORE_ROLES


@hookimpl
def trellis_interaction_kinds():
    from core.labels import CORE_INTERACTION_KINDS

    return CORE_INTERACTION_KINDS


@hookimpl
def trellis_metrics():
    from core.metrics_core import CORE_METRICS
    from core.services.analytics import ANALYTICS_METRICS

    return CORE_METRICS + ANALYTICS_METRICS


@hookimpl
def trellis_workflows(settings):
    from core.levels import level_workflow
    from core.lifecycle import lifecycle_workflow

    return [lifecycle_workflow(settings), level_workflow(settings)]


def _on_interaction_event(event, actor):
    """Purchases drive the lifecycle (first purchase, repeat) and the customer's level."""
    from core import db, lifecycle
    from core.models import Customer, Interaction
    from core.services import customers

    interaction = db.session().get(Interaction, event.record_id)
    if interaction is None or interaction.kind != lifecycle.PURCHASE_KIND:
        return
    if event.name in ("interaction.created", "interaction.updated", "interaction.restored"):
        lifecycle.on_interaction_changed(event, actor)
    customers.regrade([db.session().get(Customer, interaction.customer_id)], actor=actor, event=event.name)


@hookimpl
def trellis_event_subscribers():
    from core.services import webhooks

    subscribers = {name: [_on_interaction_event] for name in
                   ("interaction.created", "interaction.updated", "interaction.deleted", "interaction.restored")}
    subscribers["*"] = [webhooks.on_event]  # queue a delivery for every matching webhook subscription
    return subscribers


@hookimpl
def trellis_scheduled_jobs():
    from core.jobs import Job
    from core.services import (analytics, customers, export_jobs, imports, interactions, metric_results, webhooks,
                               workflow)

    return [
        Job("workflow.stagnation", lambda now: workflow.check_stagnation(now),
            "Alert owners and their managers about records that overstay a state."),
        Job("customer.regrade", customers.regrade_all, "Re-grade customer levels as the 12-month window slides."),
        Job("tasks.reminders", interactions.send_due_reminders, "Remind assignees of due and overdue tasks."),
        webhooks.delivery_job(),
        Job("analytics.refresh", analytics.refresh_job,
            "Recompute customer analytics when the last run is older than TRELLIS_ANALYTICS_REFRESH_HOURS."),
        Job("imports.run", imports.run_pending, "Run the imports uploaded to POST /api/v1/imports."),
        Job("exports.expire", export_jobs.expire,
            "Remove queued exports' files older than TRELLIS_EXPORT_RETENTION_HOURS; mark those jobs expired."),
        Job("metrics.refresh", metric_results.refresh_job,
            "Recompute stored metric results asked for within a day once half TRELLIS_METRIC_RESULT_MAX_AGE old; "
            "delete those not asked for within a day."),
    ]


@hookimpl
def trellis_long_tasks():
    from core.services import analytics, export_jobs, imports, privacy

    return [analytics.REFRESH_TASK, privacy.ERASE_TASK, imports.RUN_TASK, export_jobs.EXPORT_TASK]


@hookimpl
def trellis_import_types():
    from core.services.import_types import core_import_types

    return core_import_types()


@hookimpl
def trellis_export_types():
    """The core's lists that are exported but not imported, each as its REST list (``route``) shows it: the
    same filters, the caller's scope, the item's fields (a webhook's never hold its secret, a token's never
    the token nor its hash). The lists with an order of their own (a ranking, pairs without an id, the
    segments by number) keep it (``ordered``)."""
    from core import schemas
    from core.exports import schema_export
    from core.services import (
        analytics, audit, customers, duplicates, imports, notifications, people, privacy, users, webhooks, workflow,
    )

    return [
        schema_export("audit", "The audit trail: who changed what (admins).", audit.filtered_entries,
                      schemas.AuditEntryOut, filters=audit.AuditFilter, route="/audit"),
        schema_export("users", "Users (admins: all; others: their team).", people.filtered_users,
                      schemas.UserDetailOut, filters=people.UserFilter, route="/users"),
        schema_export("teams", "Teams (admins: all; others: their own).", people.filtered_teams,
                      schemas.SalesTeamOut, filters=people.TeamFilter, route="/teams"),
        schema_export("approvals", "Approval requests you may decide or made (pending unless status says).",
                      workflow.filtered_approvals, schemas.ApprovalOut, filters=workflow.ApprovalFilter,
                      route="/approvals"),
        schema_export("notifications", "Your notifications.", notifications.filtered, schemas.NotificationOut,
                      filters=notifications.NotificationFilter, route="/notifications"),
        schema_export("webhooks", "Webhook subscriptions (admins), without their secrets.",
                      webhooks.filtered_subscriptions, webhooks.WebhookOut, filters=webhooks.WebhookFilter,
                      route="/webhooks"),
        schema_export("webhook_deliveries", "A webhook subscription's deliveries (admins; subscription_id required).",
                      webhooks.filtered_deliveries, webhooks.DeliveryOut, filters=webhooks.DeliveryListFilter,
                      route="/webhooks/{subscription_id}/deliveries"),
        schema_export("tokens", "API tokens: yours (admins: everybody's), never the token itself.",
                      users.filtered_tokens, schemas.TokenOut, filters=users.TokenFilter, route="/tokens"),
        schema_export("imports", "Import runs (admins).", imports.filtered_runs, imports.ImportRunOut,
                      filters=imports.ImportRunFilter, route="/imports"),
        schema_export("customer_history", "A customer's stage (or level, owner) moves (customer_id required).",
                      customers.filtered_history, schemas.TransitionOut, filters=customers.HistoryFilter,
                      route="/customers/{customer_id}/history"),
        schema_export("duplicates", "Duplicate candidates: pairs of your customers sharing an e-mail, a phone "
                      "number or a name, most shared first (each customer as JSON text).",
                      duplicates.filtered_pairs, duplicates.CustomerDuplicateOut, filters=schemas.DuplicateFilter,
                      views=duplicates.pair_views, route="/customers/duplicates", ordered=True),
        schema_export("privacy_erasures", "The erasures recorded for a person (admins; person required).",
                      privacy.filtered_erasures, privacy.ErasureOut, filters=privacy.ErasureFilter,
                      views=privacy.erasure_views, route="/privacy/erasures"),
        schema_export("analytics_segments", "The latest refresh's segments, sized and described by the members "
                      "you may see.", analytics.filtered_segments, analytics.SegmentOut,
                      filters=analytics.SegmentFilter, views=analytics.segment_views, route="/analytics/segments",
                      ordered=True),
        schema_export("win_back", "The win-back ranking: the top `limit` lost and at-risk customers you may see "
                      "by expected value, in rank order.", analytics.filtered_win_back, analytics.WinBackOut,
                      filters=analytics.WinBackFilter, views=analytics.win_back_views, route="/analytics/win-back",
                      ordered=True),
    ]


@hookimpl
def trellis_personal_data():
    from sqlalchemy import or_

    from core import models
    from core.privacy import PersonalData

    def of_customer(model, column):
        return lambda person: getattr(model, column).in_(person.customer_ids)

    return [
        PersonalData(models.Customer, of_customer(models.Customer, "id"), fields=("name", "notes"),
                     description="The customer: its name and notes (kind, industry, region, level, stage kept)."),
        PersonalData(models.Contact, lambda p: models.Contact.id.in_(p.contact_ids),
                     fields=("name", "title", "phone", "mobile", "email", "wechat", "birthday", "notes"),
                     description="Contacts: every field that describes the person."),
        PersonalData(models.Interaction,
                     lambda p: or_(models.Interaction.customer_id.in_(p.customer_ids),
                                   models.Interaction.contact_id.in_(p.contact_ids)),
                     fields=("subject", "notes", "outcome"),
                     description="The timeline and tasks: texts erased; kind, dates, amounts, scores kept."),
        PersonalData(models.CustomerAnalytics, of_customer(models.CustomerAnalytics, "customer_id"),
                     description="Analytics figures (exported, kept: they hold no names)."),
        PersonalData(models.WorkflowTransitionEntry, of_customer(models.WorkflowTransitionEntry, "record_id"),
                     fields=("reason",), description="Stage and level history: who and when kept, the reason erased."),
        PersonalData(models.ApprovalRequest, of_customer(models.ApprovalRequest, "record_id"),
                     fields=("reason", "decision_note"), description="Approval requests about the customer."),
    ]
