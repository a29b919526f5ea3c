"""Helpers for tests of long tasks run by a procrastinate worker (the ``worker_app`` fixture of
tests/core/conftest.py)."""
from __future__ import annotations

import time

from sqlalchemy import select


def wait_for_status(rt, model, ids, statuses, timeout: float = 60.0) -> dict:
    """``{id: (status, message)}`` of the rows of ``model`` once all have one of ``statuses`` (or at the
    timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        with rt.database.unit_of_work() as sess:
            found = {str(r.id): (r.status, r.message) for r in sess.scalars(select(model).where(model.id.in_(ids)))}
        if all(status in statuses for status, _ in found.values()) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
