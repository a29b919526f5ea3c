"""Fixtures of the core's tests: ``worker_app``, for long tasks run by a procrastinate worker (PostgreSQL) —
a database of the test's own, since a worker sees only what is committed, and a worker in a thread of the
test's process, so a test may patch what the job calls."""
from __future__ import annotations

import asyncio
import threading

import pytest

from core import queue


@pytest.fixture
def worker_app(tmp_path):
    """A migrated database of its own, its app (the core alone), an admin, and a procrastinate worker
    (three jobs at a time) running in a thread of this process until the test ends."""
    from api.app import create_app
    from api.testing import app_config
    from core import migrate
    from core.config import test_database_url
    from core.services import users
    from tests.core.test_migrations import scratch_database

    if not test_database_url().startswith("postgresql"):
        pytest.skip("procrastinate workers need PostgreSQL (TRELLIS_TEST_DATABASE_URL)")
    with scratch_database(tmp_path) as url:
        app = create_app(app_config(url, PLUGINS="none", WORKER_STALLED_SECONDS=3))
        rt = app.extensions["trellis"]
        migrate.upgrade(rt)
        with rt.database.unit_of_work():
            admin = users.create_user(None, {"email": "admin@example.com", "name": "Ada", "role": "admin"})
        supervisor = queue.Supervisor(rt, concurrency=3)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete,
                                  args=(supervisor.run(install_signal_handlers=False),), daemon=True)
        thread.start()
        try:
            yield app, rt, admin
        finally:
            loop.call_soon_threadsafe(supervisor.stop)
            thread.join(30)
            rt.database.dispose()
