"""Every hook a Trellis plugin may implement.

A plugin is an object (usually a module) with ``name``, ``version``, optional ``requires`` (names of
plugins it needs) and functions marked with :data:`hookimpl` whose names match the specs below. The
core itself is registered as the plugin ``core`` and uses these same hooks for its own records.

Pluggy passes arguments by name and ignores defaults on implementations: an implementation may accept
any subset of a spec's arguments, in any order. Results are collected per plugin (never merged
silently): two plugins contributing the same GraphQL type or field, REST path, metric, label or CLI
command name is a start-up error naming both.
"""
from __future__ import annotations

import pluggy

PROJECT_NAME = "trellis"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def trellis_models():
    """Return the plugin's SQLAlchemy model classes (subclasses of ``core.db.Base``).

    Called once when an app is created. The classes' tables form the plugin's part of the schema: the
    migration environment compares exactly these tables with the plugin's migrations, and a disabled
    plugin's tables are ignored. Table names must start with the plugin's name (``exhibitions_visitor``),
    and a table has one owner: a model another component lists is refused (docs/plugins.md, "Names").
    """


@hookspec
def trellis_migrations():
    """Return the path (``str`` or ``pathlib.Path``) of the plugin's Alembic ``versions`` folder.

    Called by ``trellis db upgrade`` and the migration environment. The folder's first revision must
    carry ``branch_labels = ("<plugin name>",)`` and ``depends_on = "core@head"`` (or the revision id
    of the core head it needs), so ``db upgrade`` brings the core and every enabled plugin to head.
    """


@hookspec
def trellis_rest_blueprints():
    """Return a list of ``flask_smorest.Blueprint`` objects for the plugin's REST endpoints.

    Called once per app; return new Blueprint objects on every call (a blueprint carries per-app
    OpenAPI state). Each blueprint is mounted under ``/api/v1/<plugin-name-with-dashes>`` (the
    core's under ``/api/v1``) and documented in the one OpenAPI document. Two plugins answering the
    same method and path is a start-up error; so is a blueprint name without ``<plugin>_`` and a schema
    name (the marshmallow class name less ``Schema``) without the plugin's type prefix
    (``TrainingCourseOut``; docs/plugins.md, "Names").
    """


@hookspec
def trellis_graphql_types(registry):
    """Register GraphQL object types with ``registry.type(name)``; return nothing.

    ``registry`` is the schema being built for one app (:class:`api.graphql.registry.SchemaRegistry`).
    Types are plain classes decorated with ``@registry.type("Name")``; the registry turns them into
    strawberry types after every plugin has added its fields, so other plugins can extend them. Refer to
    any other type with ``registry.ref("Name")`` and to a connection with ``registry.connection("Name")``.
    Type names start with the plugin's type prefix, the first word of its name singular and capitalised
    (``exhibitions`` → ``ExhibitionBooth``); another name is a start-up error. Give each type a docstring and each field a description of its own; paging, the house record fields,
    ``<thing>Id`` references, inputs named after their record and model columns' ``doc=`` are described
    for you (docs/graphql.md, "Descriptions").
    """


@hookspec
def trellis_graphql_type_fields(registry):
    """Return ``{"TypeName": {"fieldName": strawberry.field(resolver=...)}}`` to add fields to types
    registered by other components (``Customer.membership``).

    Resolvers receive the underlying record as ``root``. Load related rows through
    ``info.context.loaders`` so a list of N customers costs a fixed number of SQL statements.
    """


@hookspec
def trellis_graphql_query_fields(registry):
    """Return ``{"fieldName": strawberry.field(resolver=...)}`` to add to the root ``Query`` type.

    Resolvers only translate: they call the plugin's services with ``flask_login.current_user`` and
    return records. Field names are global: two components adding the same one is a start-up error.
    """


@hookspec
def trellis_graphql_mutation_fields(registry):
    """Return ``{"fieldName": strawberry.mutation(resolver=...)}`` to add to the root ``Mutation`` type.

    Follow the house shape: ``createX(input:)``, ``updateX(id:, input:)``, ``deleteX(id:)`` returning the
    record. Each root mutation field runs in a savepoint of its own: when its resolver raises, everything
    it wrote is rolled back (and the field answers null with the error), while the other mutations of the
    request keep theirs. Raise the service's typed error; do not catch it. Root fields are made nullable.
    """


@hookspec
def trellis_metrics():
    """Return a list of :class:`core.metrics.Metric` the plugin computes.

    Each metric is listed at ``GET /api/v1/metrics`` and GraphQL ``metrics``, and computed on demand
    with the caller's permission scope. Names are global: prefix them with the plugin's name.
    """


@hookspec
def trellis_interaction_kinds():
    """Return a list of :class:`core.labels.Choice` naming the interaction kinds the plugin writes to
    customers' timelines (an exhibition check-in, a store purchase). Values are global: prefix them.
    """


@hookspec
def trellis_labels():
    """Return ``{"vocabulary": [Choice(value, en, zh_cn), ...]}``: the en and zh-CN labels of the
    plugin's enumerations, served at ``GET /api/v1/labels`` and GraphQL ``labels``.
    """


@hookspec
def trellis_cli_commands():
    """Return a list of ``click.Command`` objects to add to the ``trellis`` command.

    Commands run inside the app context with a unit of work open when they use
    ``api.cli.with_unit_of_work``.
    """


@hookspec
def trellis_demo_data(admin, rng, progress):
    """Add the plugin's demo records; called by ``trellis demo`` after the core's demo data.

    ``admin`` is the demo administrator (a ``core.models.User``), ``rng`` a ``random.Random`` seeded for
    this plugin alone, so its demo is the same on every machine whatever else is enabled. A unit of work is
    open: write through services, and through the bulk paths (``core.services.bulk.BulkRecorder``) for
    thousands of rows, so the whole demo loads in seconds; demo accounts with a published password are
    best made with ``core.demo.create_demo_user`` (one hash per demo password, not one per account). The
    core records that the plugin's demo data
    are loaded and calls the hook once per database: after ``trellis demo --core-only``, or when the
    plugin is enabled later, the next ``trellis demo`` adds just the missing plugins' data (a database
    whose demo was loaded before data sets were recorded one by one counts as complete).

    ``progress`` (a ``core.demo.Progress``; optional: an implementation may leave the argument out) is
    how the plugin shows how far it has got: ``progress.expect(total)`` with the number of records it
    will write (an estimate is fine), then ``progress(n)`` after writing ``n`` more. ``trellis demo``
    draws one line per data set from it, with a progress bar and records per second on a terminal.
    """


@hookspec
def trellis_workflows(settings):
    """Return a list of :class:`core.workflow.Workflow` state machines for the plugin's records.

    Called once per app with the app's :class:`core.config.Settings` (for configurable durations). Moves are made with ``core.services.workflow.transition``, which checks the
    declared transitions, writes the history row, audit entry and ``<record>.<field>_changed`` event,
    and raises stagnation alerts in ``trellis tick`` for states with an expected duration. Workflow
    names are global: prefix them with the record type (``exhibitions_participation.status``).
    """


@hookspec
def trellis_event_subscribers():
    """Return ``{"event.name": [callable, ...]}`` (``"*"`` for every event) to react in-process.

    Each callable is called as ``fn(event=OutboxEvent, actor=User | None)`` right after the event is
    stored, inside the same transaction: what it writes commits or rolls back with the change that
    caused it, and an exception it raises fails that change. Keep handlers quick; slow or external work
    belongs in webhooks or a scheduled job.
    """


@hookspec
def trellis_deliver_notification(notification, user):
    """Deliver a stored notification through another channel (email, WeChat, SMS …).

    Called for every implementation each time a notification is created, inside the transaction
    that created it; the notification is already stored and readable over the API whatever a delivery
    does. Queue slow work (an outbox table, a job) rather than sending inline. Return value ignored.
    """


@hookspec
def trellis_scheduled_jobs():
    """Return a list of :class:`core.jobs.Job` run by ``trellis worker`` on ``TRELLIS_JOB_SCHEDULE`` (or
    the job's own ``schedule``, a cron expression) and by ``trellis tick``.

    Each job is called as ``job.run(now)`` in its own unit of work and must be idempotent: running
    ``tick`` twice in a row sends nothing twice. Return value of ``run``: a short count or message.
    With PostgreSQL a job runs once per period for all workers together and never twice at once; a
    failing run is retried with backoff (core.queue, docs/deployment.md "Background work").
    """


@hookspec
def trellis_long_tasks():
    """Return a list of :class:`core.queue.Task`: work a request asks for that is too long for the request
    (a bulk recompute, a large send), run by the same workers as the scheduled jobs.

    A task works on items the plugin records itself (a row with a status, e.g. ``queued`` → ``running`` →
    ``done`` / ``failed``): the service records the item and calls :func:`core.queue.enqueue(task,
    item_id) <core.queue.enqueue>` in the same unit of work, so the item and its job exist together or
    not at all, and answers at once (REST: 202 with the item). ``task.run(runtime, item_id, final=...)``
    does one item in units of work of its own, records its outcome on the item and raises on failure; a
    failed run is tried again with backoff, ``final=True`` on the last attempt (mark the item failed
    then). ``task.waiting(runtime)`` lists the ids of the items still queued, oldest first (the SQLite
    runner's work list). ``task.lock``: no two items of tasks sharing it run at once (PostgreSQL). Names
    start with the plugin's name and a dot (``retail_membership.relaunch``), as procrastinate task names
    are global. On PostgreSQL a task runs on procrastinate (a job deferred in the item's transaction, the
    worker woken at its commit); on SQLite the commit wakes the in-process runner (docs/deployment.md,
    "Background work").
    """


@hookspec
def trellis_import_types():
    """Return a list of :class:`core.imports.ImportType`: record types a file can be imported into with
    ``trellis import NAME FILE`` and ``POST /api/v1/imports`` (CSV, XLSX or JSON Lines; docs/import-export.md).

    Called once per app. Names are global: prefix them with the plugin's name and a dot
    (``retail_membership.members``). An import type lists its columns (``ImportColumn``: name, description,
    required), one of them ``external_id``, the record's id in the system it comes from, by which a
    re-import finds it again. Its ``write(batch)`` gets an :class:`core.imports.ImportBatch` of rows (values
    keyed by column name, blank cells left out) and, for each row: validates it through the same schemas
    and service rules as the plugin's API (``batch.fail(row, column, reason)`` or
    ``batch.fail_validation(row, exc)`` for a bad one: it is skipped and reported), finds an existing record
    by its external id (unchanged: ``row.outcome = "unchanged"``, nothing written; changed: update it through
    the plugin's own update service, ``"updated"``), and collects a new one with its audit entry and event in
    ``batch.recorder`` (a :class:`core.services.bulk.BulkRecorder`; ``"created"``). The import flushes the
    recorder with ``models`` (parents first) and commits each batch together with its progress, so an
    interrupted import continues where it stopped; a dry run rolls every batch back. The admin importing is
    ``batch.actor``, already checked.

    Give the type an ``export`` (:class:`core.exports.Export`: the list's SELECT for an actor and its
    filters, and how a batch of records becomes rows of the import's columns) and ``trellis export NAME``
    and ``GET /api/v1/exports/NAME`` write the list, in the caller's scope, as a file that imports back
    unchanged.

    A record declared with :class:`core.records.RecordSpec` whose model has an ``external_id`` column has
    both ready made: return ``spec.import_type("my_plugin.things")`` (its create's fields as columns,
    references by the referenced record's external id, new rows in bulk, its export included).
    """


@hookspec
def trellis_export_types():
    """Return a list of :class:`core.exports.ListExport`: lists that ``trellis export NAME``, ``GET
    /api/v1/exports/NAME`` and queued exports write but that are not imported (an import type exports
    through its own ``export``). Names are global, prefixed with the plugin's name and a dot, and
    distinct from every import type's.

    A record declared with :class:`core.records.RecordSpec` has one ready: ``spec.list_export(
    "my_plugin.things")`` exports the list ``GET`` on the record serves, with its filters and the
    caller's scope, in the columns of its REST output. Otherwise give a ``ListExport(name, description,
    Export(query, rows, columns, filters))``: ``query(actor, filters)`` is the list's SELECT (validating
    the filters as the list does), ``rows(records)`` turns a batch into mappings keyed by column.

    Name the REST list each export is with ``route=`` (``spec.list_export(name, route=...)``,
    ``schema_export(..., route=...)``, ``Export(..., route=...)``): its GET path below ``/api/v1`` as the
    OpenAPI document has it (``"/my-plugin/things/{thing_id}/parts"``). A list with an order of its own
    that the export must keep (a ranking; rows without an id) passes ``ordered=True``, its SELECT then
    read in its own order as one streamed statement. A list that is no SELECT but built per request (a
    ranking scored in Python, configuration) passes ``computed=True``: ``query(actor, filters)`` then
    returns the list's items themselves, in order — the list's own service function, checking the filters,
    scope and permission when called — and they are written as it returns them.
    """


@hookspec
def trellis_roles():
    """Return a list of :class:`core.labels.Choice` naming roles the plugin adds (``exhibitor``,
    ``store_staff`` …), with en and zh-CN labels.

    Users can be created with these roles. A plugin role sees no customer until a scope of the plugin
    grants it some (``trellis_record_scopes``); the core roles keep their rules (admin all, manager the
    team's, rep their own).
    """


@hookspec
def trellis_record_scopes():
    """Return ``{Model: scope}`` where ``scope(actor)`` returns a SQLAlchemy condition on ``Model`` saying
    which rows ``actor`` may see, or None to grant nothing.

    Called once per app. For ``core.models.Customer`` a scope *adds* to the core's rule (conditions are
    OR-ed), so a plugin can let a service team see the customers whose requests it handles. For the
    plugin's own models, ``core.services.permissions.visibility(actor, Model)`` combines the scopes every
    plugin declared; with none declared only admins see the rows. Services apply it to every read,
    list, count and metric.
    """


@hookspec
def trellis_mounted_blueprints():
    """Return ``[(blueprint, url_prefix)]`` for HTTP APIs that must answer at a path of their own,
    outside ``/api/v1`` (a standard such as Open311's ``/open311/v2``).

    Called once per app. ``url_prefix`` is absolute and may not fall under ``/api``, ``/graphql``,
    ``/auth`` or ``/healthz``; these blueprints are not part of the OpenAPI document. A clash of paths
    or blueprint names with another component is a start-up error naming both.
    """


@hookspec
def trellis_public_endpoints():
    """Return endpoint names (``"<blueprint name>.<view>"``) of the plugin's own blueprints that answer
    without a login (a public read API, a one-time feedback link carrying its own secret).

    Everything else requires authentication. An endpoint of another component's blueprint is refused at
    start-up, so no plugin can open up the core. The view itself must still check whatever secret or key
    it relies on.
    """


@hookspec
def trellis_settings():
    """Return a list of :class:`core.config.PluginSetting` the plugin reads, each named
    ``<plugin>_<setting>`` (``retail_membership_basis``).

    Called once per app, before any other hook that may read settings. Values come from the
    ``create_app`` config (``{"RETAIL_MEMBERSHIP_BASIS": ...}``), else the ``TRELLIS_<NAME>`` environment
    variable, else the default, coerced to the default's type; they are then read as attributes of the
    app's settings (``runtime.current().settings.retail_membership_basis``). Document them in the
    plugin's README.
    """


@hookspec
def trellis_personal_data():
    """Return a list of :class:`core.privacy.PersonalData` saying where the plugin keeps personal data:
    for each model, which rows belong to a person (a customer or a contact) and which columns are personal.

    Called once per app (checked at start-up: the columns must exist and be erasable). ``trellis privacy
    export`` and the admin-only privacy API gather the declared rows of every enabled component into one
    document; ``privacy erase`` replaces the declared columns with a tombstone and scrubs the audit trail,
    outbox events and notifications of those rows, keeping amounts, counts and ids. Declare every column a
    person could be recognised by (names, emails, phones, free-text notes, photos); see docs/privacy.md.
    """


@hookspec
def trellis_merge_customers(survivor, merged, actor, session):
    """Move the plugin's records of the customer ``merged`` to the customer ``survivor``; return nothing,
    or a short ``{"what": count}`` of what was moved (it goes into the merge's audit entry and event).

    Called by ``core.services.duplicates.merge_customers`` once per merge, core first, after the core has
    moved the contacts, interactions and tags and before ``merged`` is marked merged (it is still live
    here). ``survivor`` and ``merged`` are ``core.models.Customer`` rows the acting user ``actor`` may edit,
    already checked (scope, versions, neither merged before); ``session`` is the open SQLAlchemy session.
    Runs inside the merge's transaction: write through ``session`` (or the plugin's services), audit each
    record you move (``record_change``), and never commit or roll back — if anything fails the whole merge,
    the core's moves and every other plugin's included, is rolled back.

    Every row of the plugin pointing at ``merged.id`` should end up pointing at ``survivor.id``, or be
    retired with a reason: after the merge, ``merged`` is hidden from every list and reads as merged-into.
    Where both customers hold something only one may have (a unique row per customer, such as a member
    card), apply the plugin's documented rule, or raise ``core.errors.Conflict`` naming the clash so the
    user can resolve it first; a typed error (``trellis.plugin``'s errors) reaches the client as it is,
    any other exception is a 500 naming the plugin. Say in the plugin's README what its merge does.
    """
