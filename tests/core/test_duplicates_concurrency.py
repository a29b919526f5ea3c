"""Two merges of the same pair at once, either way round (A into B and B into A), by real threads each with
its own connection, on a database of their own: exactly one wins, the other is refused (409), never both
half-done and never a deadlock."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from api.app import create_app
from api.testing import app_config, scratch_database
from core.errors import Conflict
from tests.plugins.retail_membership.test_concurrency import run_together


@pytest.fixture
def own_app(tmp_path):
    from core.migrate import upgrade

    with scratch_database(tmp_path / "merge.db", name="trellis_merge") as url:
        app = create_app(app_config(url, PLUGINS=""))
        runtime = app.extensions["trellis"]
        upgrade(runtime)
        try:
            yield runtime
        finally:
            runtime.database.dispose()


def test_opposite_merges_of_one_pair_at_once_leave_one_winner(own_app):
    from core.models import Customer
    from core.services import customers, duplicates, users

    runtime = own_app
    with runtime.database.unit_of_work():
        admin = users.create_user(None, {"email": "admin@example.com", "role": "admin"})
        a = customers.create(admin, {"name": "Acme"}).id
        b = customers.create(admin, {"name": "ACME"}).id
    pairs = iter([(a, b), (b, a)])

    def merge():
        survivor, merged = next(pairs)
        try:
            with runtime.database.unit_of_work():
                duplicates.merge_customers(admin, survivor, {"merged_id": str(merged)})
            return "ok"
        except Conflict:
            return "refused"

    outcomes = run_together(merge, 2)
    assert sorted(outcomes) == ["ok", "refused"], outcomes
    with runtime.database.unit_of_work() as s:
        rows = {c.id: c for c in s.scalars(select(Customer))}
        merged = [c for c in rows.values() if c.merged_into_id is not None]
        assert len(merged) == 1 and rows[merged[0].merged_into_id].merged_into_id is None
