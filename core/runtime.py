"""The per-app runtime: settings, the plugin manager and the registries the plugins filled.

Services reach it through :func:`current`, which reads it from the current unit of work's session, so
the core needs no web framework and two apps with different plugin sets can live in one process.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core import db
from core.config import Settings
from core.labels import LabelRegistry
from core.metrics import MetricRegistry
from core.workflow import WorkflowRegistry

if TYPE_CHECKING:
    from core.plugins import PluginSet


@dataclass
class Runtime:
    settings: Settings
    plugins: "PluginSet"
    labels: LabelRegistry = field(default_factory=LabelRegistry)
    metrics: MetricRegistry = field(default_factory=MetricRegistry)
    database: db.Database | None = None
    #: table name → the component (``core`` or a plugin name) that owns it
    tables: dict[str, str] = field(default_factory=dict)
    workflows: WorkflowRegistry = field(default_factory=WorkflowRegistry)
    #: event name (or ``*``) → in-process handlers
    subscribers: dict[str, list] = field(default_factory=dict)
    jobs: list = field(default_factory=list)
    #: the long tasks of ``trellis_long_tasks`` (core.queue.Task), the core's first
    long_tasks: list = field(default_factory=list)
    #: model → [(owner, scope(actor) -> condition | None)]
    scopes: dict[type, list] = field(default_factory=dict)
    #: ``[(owner, core.privacy.PersonalData)]``, core first
    personal_data: list = field(default_factory=list)
    #: import type name → ``core.imports.ImportType`` (``trellis import``), core first
    import_types: dict = field(default_factory=dict)
    #: lists exported but not imported (``trellis_export_types``), by name
    export_types: dict = field(default_factory=dict)
    #: the background-work state of this runtime (``core.queue.Background``), made when first needed
    background: object = None

    @property
    def interaction_kinds(self) -> list[str]:
        return self.labels.values("interaction_kind")


def current() -> Runtime:
    """The runtime of the app whose unit of work is open."""
    runtime = db.session().info.get("runtime")
    if runtime is None:
        raise RuntimeError("The open unit of work belongs to no Trellis runtime.")
    return runtime


def _check_prefixed(owner: str, what: str, name: str, separators: tuple[str, ...] = ("_", ".")) -> None:
    """A plugin's global names — metrics, workflows, scheduled jobs, its vocabularies and the values it adds
    to another component's vocabulary (interaction and notification kinds); tables and REST blueprints with
    ``separators=("_",)`` — start with the plugin's name and one of ``separators``, so two plugins never
    collide and every name says where it comes from. (Roles are the exception: they are named for the
    people who hold them, ``exhibitor``; a clash is refused.) docs/plugins.md, "Names", lists every rule."""
    from core.errors import PluginError
    from core.plugins import CORE_NAME, name_stem

    stem = name_stem(owner)
    if owner == CORE_NAME or name.startswith(tuple(stem + sep for sep in separators)):
        return
    allowed = " or ".join(f"'{stem}{sep}'" for sep in separators)
    raise PluginError(f"Plugin '{owner}' declares the {what} '{name}', which does not start with {allowed}. "
                      f"Prefix it with the plugin's name ('{stem}{separators[0]}{name}') so plugins never collide.")


def build_runtime(settings: Settings, *, extra_plugins=(), bind=None, installed=None) -> Runtime:
    """Load the plugin set and fill the registries from every enabled component's hooks.

    ``extra_plugins`` are plugin objects registered as if installed (tests, embedding applications);
    ``bind`` is a connection with an open transaction for tests.
    """
    from core.errors import PluginError
    from core.plugins import PluginSet

    from core.config import resolve_plugin_settings

    plugins = PluginSet(enabled_names=settings.enabled_plugin_names, extra=extra_plugins, installed=installed)
    rt = Runtime(settings=settings, plugins=plugins)
    for owner, declared in plugins.call_each("trellis_settings"):
        for setting in declared:
            if not setting.name.startswith(owner + "_"):
                raise PluginError(f"Plugin '{owner}' declares the setting '{setting.name}', which does not start "
                                  f"with '{owner}_'. Prefix plugin settings with the plugin name.")
        resolve_plugin_settings(settings, list(declared))
    for owner, vocabularies in plugins.call_each("trellis_labels"):
        for vocabulary, choices in vocabularies.items():
            if rt.labels.owner(vocabulary) not in (None, owner):   # adding to another's: values prefixed
                for choice in choices:
                    _check_prefixed(owner, f"value of the vocabulary '{vocabulary}'", choice.value)
            else:
                _check_prefixed(owner, "vocabulary", vocabulary)
            rt.labels.add(vocabulary, list(choices), owner=owner)
    for owner, kinds in plugins.call_each("trellis_interaction_kinds"):
        for kind in kinds:
            _check_prefixed(owner, "interaction kind", kind.value)
        rt.labels.add("interaction_kind", list(kinds), owner=owner)
    for owner, metrics in plugins.call_each("trellis_metrics"):
        for metric in metrics:
            _check_prefixed(owner, "metric", metric.name)
            rt.metrics.add(metric, owner=owner)
    for owner, roles in plugins.call_each("trellis_roles"):
        rt.labels.add("role", list(roles), owner=owner)
    for owner, scopes in plugins.call_each("trellis_record_scopes"):
        for model, scope in scopes.items():
            rt.scopes.setdefault(model, []).append((owner, scope))
    for owner, workflows in plugins.call_each("trellis_workflows", settings=settings):
        for workflow in workflows:
            _check_prefixed(owner, "workflow", workflow.name)
            rt.workflows.add(workflow, owner=owner)
            rt.labels.add(f"{workflow.name}.state", workflow.labels(), owner=owner)
    for owner, subscribers in plugins.call_each("trellis_event_subscribers"):
        for name, handlers in subscribers.items():
            rt.subscribers.setdefault(name, []).extend(handlers)
    seen_jobs: dict[str, str] = {}
    for owner, jobs in plugins.call_each("trellis_scheduled_jobs"):
        for job in jobs:
            _check_prefixed(owner, "scheduled job", job.name)
            if job.name in seen_jobs:
                raise PluginError(f"Plugins '{seen_jobs[job.name]}' and '{owner}' both schedule a job named "
                                  f"'{job.name}'. Rename one.")
            seen_jobs[job.name] = owner
            rt.jobs.append(job)
    for owner, models in plugins.call_each("trellis_models"):
        for model in models:
            table = model.__table__.name
            _check_prefixed(owner, "table", table, separators=("_",))
            if rt.tables.get(table, owner) != owner:
                raise PluginError(f"Plugins '{rt.tables[table]}' and '{owner}' both list a model of the table "
                                  f"'{table}' in trellis_models. A table has one owner: leave it out of "
                                  f"'{owner}'s trellis_models (use the model, do not declare it).")
            rt.tables[table] = owner
    for owner, declared in plugins.call_each("trellis_personal_data"):
        for item in declared:
            if rt.tables.get(item.model.__table__.name) != owner:
                raise PluginError(f"Plugin '{owner}' declares personal data in '{item.model.__table__.name}', "
                                  "a table it does not define. Declare only your own tables.")
            item.check(owner)
            rt.personal_data.append((owner, item))
    task_owners: dict[str, str] = {}
    for owner, declared in plugins.call_each("trellis_long_tasks"):
        for task in declared:
            _check_prefixed(owner, "long task", task.name, separators=(".",))
            if task.name in task_owners:
                raise PluginError(f"Plugins '{task_owners[task.name]}' and '{owner}' both declare the long task "
                                  f"'{task.name}'. Rename one.")
            task_owners[task.name] = owner
            rt.long_tasks.append(task)
    import_owners: dict[str, str] = {}
    for owner, declared in plugins.call_each("trellis_import_types"):
        for itype in declared:
            _check_prefixed(owner, "import type", itype.name)
            if itype.name in import_owners:
                raise PluginError(f"Plugins '{import_owners[itype.name]}' and '{owner}' both declare the import "
                                  f"type '{itype.name}'. Rename one.")
            import_owners[itype.name] = owner
            rt.import_types[itype.name] = itype
    for owner, declared in plugins.call_each("trellis_export_types"):
        for listed in declared:
            _check_prefixed(owner, "export type", listed.name)
            if listed.name in rt.import_types:
                raise PluginError(f"Plugin '{owner}' declares the export type '{listed.name}', which is an import "
                                  "type already: give the import type an export=Export(...) instead.")
            if listed.name in import_owners:
                raise PluginError(f"Plugins '{import_owners[listed.name]}' and '{owner}' both declare the export "
                                  f"type '{listed.name}'. Rename one.")
            import_owners[listed.name] = owner
            rt.export_types[listed.name] = listed
    rt.database = db.Database(settings.resolved_database_url(), echo=settings.sql_echo, bind=bind,
                              info={"runtime": rt}, pool=settings.db_pool())
    from core import queue   # (its session listeners defer a delivery round when a commit queues a webhook)

    rt.background = queue.Background(rt)
    return rt
