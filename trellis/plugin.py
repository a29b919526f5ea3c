"""Everything a Trellis plugin may use, importable from one place::

    from trellis.plugin import Record, hookimpl, crud_blueprint, crud_fields, Metric, ...

These names are the plugin API: they keep their meaning and signatures within a minor version of
``trellis-crm``, and a change to them is announced in the changelog. Anything else under ``core``, ``api``
or ``plugins`` is the framework's inside and may change without notice — if a plugin needs something that
is not here, ask for it to be added rather than importing it from inside.

docs/plugins.md is the tutorial; docs/plugins-reference.md lists every name below with its signature and
docstring (generated: ``trellis plugins reference``, and a test keeps it current). The hooks a plugin
implements are documented where they are declared, in ``core/hookspecs.py``; the test kit (fixtures,
clients, statement pins, the contract check) is the pytest plugin ``api.testing``.
"""
from __future__ import annotations

# --- hooks -----------------------------------------------------------------------------------------------
from core.hookspecs import hookimpl

# --- records: models, the database session, time ---------------------------------------------------------
from core.db import Base, Record, UTCDateTime, session, utcnow

# --- errors (mapped once to HTTP statuses and GraphQL codes) ---------------------------------------------
from core.errors import Conflict, Forbidden, NotFound, PluginError, Unauthenticated, ValidationFailed

# --- input schemas -----------------------------------------------------------------------------------------
from core.schemas import BoundedList, Money, RecordOut, StrictSchema, not_blank, one_of

# --- services: validation, versions, soft delete, paging ---------------------------------------------------
from core.services.common import (CrudService, Page, PageRequest, apply_changes, check_version, not_deleted,
                                  paginate, parse_sort, parse_uuid, restore, soft_delete, validate,
                                  validate_update)
from core.services.paging import count_windows, seek_windows

# --- a record declared once: schemas and the service from the model -------------------------------------
from core.records import FieldSpec, FilterSpec, RecordSpec

# --- permissions and the audit trail ---------------------------------------------------------------------------
from core.services.audit import created_fields, record_change
from core.services.permissions import customer_visibility, require_actor, require_role, visibility

# --- the core's records a plugin builds on -----------------------------------------------------------------
from core.models import Customer, Role, User
from core.services.customers import create as create_customer
from core.services.customers import get as get_customer
from core.services.interactions import record_on_behalf

# --- duplicate customers: match keys and the merge hook's helper (trellis_merge_customers) ----------------
from core.normalize import email_key, name_key, phone_key
from core.services.duplicates import move_customer_rows

# --- vocabularies, workflows, metrics, settings, jobs, personal data --------------------------------------
from core.config import PluginSetting
from core.jobs import Job
from core.queue import Task, enqueue
from core.labels import Choice
from core.metrics import Metric, MetricQuery, MetricRow
from core.metrics_core.sql import bucket_key, buckets, grain_of, period_start
from core.privacy import PersonalData
from core.services.workflow import history as workflow_history
from core.services.workflow import transition
from core.workflow import ANY, AUTOMATIC, IMPORT, MANUAL, State, Transition, Workflow

# --- CLI commands and demo data ---------------------------------------------------------------------------
from api.cli import with_unit_of_work
from core.demo import create_demo_user

# --- bulk loading (imports, demo data) ---------------------------------------------------------------------
from core.services.bulk import BulkRecorder

# --- importing files (trellis_import_types; docs/import-export.md) ------------------------------------------
from core.imports import ImportBatch, ImportColumn, ImportRow, ImportType, split_list, utc_datetime_text
from core.services.import_types import (CUSTOMER_REF, EXTERNAL_ID, customer_refs, existing_by_external_id,
                                        keyed_rows, resolve_customers, update_row)

# --- exporting lists (ImportType(..., export=Export(...)); docs/import-export.md) ---------------------------
from core.exports import Export, ListExport, schema_export

# --- REST --------------------------------------------------------------------------------------------------
from api.rest.crud import Blueprint, body_doc, crud_blueprint, list_args_schema, record_blueprint

# --- GraphQL -----------------------------------------------------------------------------------------------
from api.graphql.conventions import bounded_list, open_vocabulary
from api.graphql.crud import CrudFields, crud_fields
from api.graphql.from_schema import crud_inputs, input_from_schema, type_from_schema
from api.graphql.lifecycle import history_field
from api.graphql.money import Money as MoneyScalar
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, nested_connection, page_request
from api.graphql.records import nested_records, record_fields, record_types



def setting(name: str):
    """The value of the setting `name` (a plugin's, declared with `trellis_settings` as
    `PluginSetting("<plugin>_<name>", default)`, or the core's) in the app whose unit of work is open:
    `setting("training_grace_days")`. Read it where it is used, not at import, so each app (and each
    test's `trellis_settings`) gets its own value."""
    from core import runtime

    return getattr(runtime.current().settings, name)


#: the reference's sections (docs/plugins-reference.md), in order; ``__all__`` is their names
SECTIONS: dict[str, list[str]] = {
    "Hooks": ["hookimpl"],
    "Records": ["Base", "Record", "UTCDateTime", "session", "utcnow"],
    "Errors": ["ValidationFailed", "NotFound", "Forbidden", "Conflict", "Unauthenticated", "PluginError"],
    "Schemas": ["StrictSchema", "RecordOut", "Money", "BoundedList", "one_of", "not_blank"],
    "Services": ["validate", "validate_update", "check_version", "apply_changes", "soft_delete", "restore",
                 "not_deleted", "parse_uuid", "parse_sort", "paginate", "Page", "PageRequest", "CrudService",
                 "seek_windows", "count_windows"],
    "Declared records": ["RecordSpec", "FieldSpec", "FilterSpec"],
    "Permissions and audit": ["require_actor", "require_role", "customer_visibility", "visibility",
                              "record_change", "created_fields"],
    "The core's records": ["Customer", "User", "Role", "get_customer", "create_customer", "record_on_behalf"],
    "Duplicate customers": ["move_customer_rows", "email_key", "phone_key", "name_key"],
    "Vocabularies and workflows": ["Choice", "Workflow", "State", "Transition", "ANY", "MANUAL", "AUTOMATIC",
                                   "IMPORT", "transition", "workflow_history"],
    "Metrics": ["Metric", "MetricQuery", "MetricRow", "grain_of", "period_start", "buckets", "bucket_key"],
    "Settings, jobs, personal data": ["PluginSetting", "setting", "Job", "Task", "enqueue", "PersonalData"],
    "CLI commands and demo data": ["with_unit_of_work", "create_demo_user"],
    "Bulk loading": ["BulkRecorder"],
    "Importing files": ["ImportType", "ImportColumn", "ImportBatch", "ImportRow", "EXTERNAL_ID", "CUSTOMER_REF",
                        "keyed_rows", "resolve_customers", "existing_by_external_id", "update_row", "split_list",
                        "utc_datetime_text"],
    "Exporting lists": ["Export", "ListExport", "schema_export", "customer_refs"],
    "REST": ["Blueprint", "crud_blueprint", "record_blueprint", "list_args_schema", "body_doc"],
    "GraphQL": ["record_types", "record_fields", "nested_records", "crud_fields", "CrudFields",
                "input_from_schema", "type_from_schema", "crud_inputs", "history_field", "MoneyScalar",
                "order_by_argument", "order_to_service", "page_request", "connection", "nested_connection",
                "First", "After", "Last", "Before", "open_vocabulary", "bounded_list"],
}

__all__ = [name for names in SECTIONS.values() for name in names]
