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
            models.Interaction, models.AuditEntry, models.OutboxEvent]


@hookimpl
def trellis_migrations():
    return Path(__file__).parent / "migrations" / "versions"


@hookimpl
def trellis_labels():
    from core.labels import CORE_LABELS

    return CORE_LABELS


@hookimpl
def trellis_interaction_kinds():
    from core.labels import CORE_INTERACTION_KINDS

    return CORE_INTERACTION_KINDS


@hookimpl
def trellis_metrics():
    from core.metrics_core import CORE_METRICS

    return CORE_METRICS
