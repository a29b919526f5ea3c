"""A plugin's long tasks (``trellis_long_tasks``) run on the same machinery as the core's: enqueued in the
unit of work that records their item, run by the SQLite runner when it commits, registered as procrastinate
tasks of the worker on PostgreSQL (issue #18: "a plugin's scheduled jobs and long tasks use the same
mechanism through the existing hooks")."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from api.app import create_app
from api.testing import app_config
from core import migrate, queue
from core.errors import PluginError
from tests.core.test_migrations import scratch_database
from tests.core.test_plugins import CONFIG, plugin


class Recount:
    """A plugin's long task over items it keeps itself (here: in memory)."""

    def __init__(self):
        self.waiting_ids: list[str] = []
        self.done: list[tuple[str, bool]] = []
        self.task = queue.Task("gardens.recount", self.run, lambda runtime: list(self.waiting_ids))

    def run(self, runtime, item_id: str, *, final: bool) -> str:
        self.waiting_ids.remove(item_id)
        self.done.append((item_id, final))
        return "recounted"


def gardens(recount: Recount):
    return plugin("gardens", trellis_long_tasks=lambda: [recount.task])


def test_hook_trellis_long_tasks(tmp_path):
    """A plugin's long task is queued with its item and run by the worker."""
    recount = Recount()
    with scratch_database(tmp_path) as url:
        app = create_app(app_config(url, PLUGINS="gardens"), extra_plugins=[gardens(recount)])
        rt = app.extensions["trellis"]
        migrate.upgrade(rt)
        try:
            assert [t.name for t in queue.tasks(rt)][-1] == "gardens.recount"
            assert {"trellis.analytics.refresh", "trellis.privacy.erase", "trellis.imports.run",
                    "trellis.exports.write"} <= {t.name for t in queue.tasks(rt)}
            with rt.database.unit_of_work():      # the plugin's service: record the item, queue its task
                recount.waiting_ids.append("bed-1")
                queue.enqueue(recount.task, "bed-1")
            if queue.is_postgresql(rt):           # a procrastinate job deferred in that transaction …
                with rt.database.engine.connect() as conn:
                    jobs = conn.execute(text("SELECT task_name, args->>'item_id' FROM procrastinate_jobs")).all()
                assert [tuple(j) for j in jobs] == [("gardens.recount", "bed-1")]
                assert "gardens.recount" in queue.build_app(rt).tasks   # … that the worker knows how to run
                queue.run_task(rt, recount.task, "bed-1")
            else:                                 # the runner's round its commit wakes
                queue.LocalRunner(rt)._run_tasks()
            assert recount.done == [("bed-1", False)] and recount.waiting_ids == []
        finally:
            rt.database.dispose()


def test_a_long_task_needs_the_plugins_prefix():
    recount = Recount()
    unprefixed = queue.Task("recount", recount.run, lambda runtime: [])
    with pytest.raises(PluginError, match="long task 'recount'"):
        create_app(CONFIG, extra_plugins=[plugin("gardens", trellis_long_tasks=lambda: [unprefixed])])
