"""The PostgreSQL connection pool is sized by TRELLIS_DB_POOL_SIZE / _MAX_OVERFLOW / _POOL_TIMEOUT (issue #16:
pool size and overflow set from the worker count), and a pool with no free connection is a 503, not a 500."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core import db
from core.config import load_settings
from core.errors import ConfigError


def test_the_pool_takes_its_size_from_the_settings():
    settings = load_settings({}, environ={"TRELLIS_DB_POOL_SIZE": "4", "TRELLIS_DB_MAX_OVERFLOW": "0",
                                          "TRELLIS_DB_POOL_TIMEOUT": "2.5"})
    engine = db.make_engine("postgresql://postgres@127.0.0.1:1/none", pool=settings.db_pool())  # never connects
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._timeout) == (4, 0, 2.5)
    default = db.make_engine("postgresql://postgres@127.0.0.1:1/none", pool=load_settings({}, environ={}).db_pool())
    assert (default.pool.size(), default.pool._max_overflow, default.pool._timeout) == (5, 10, 30.0)


@pytest.mark.parametrize("variable, value, says", [
    ("TRELLIS_DB_POOL_SIZE", "0", "TRELLIS_DB_POOL_SIZE"),
    ("TRELLIS_DB_MAX_OVERFLOW", "-1", "TRELLIS_DB_MAX_OVERFLOW"),
    ("TRELLIS_DB_POOL_TIMEOUT", "0", "TRELLIS_DB_POOL_TIMEOUT"),
    ("TRELLIS_DB_POOL_SIZE", "many", "TRELLIS_DB_POOL_SIZE: 'many' is not a whole number"),
])
def test_a_pool_setting_out_of_range_stops_the_start_naming_the_variable(variable, value, says):
    with pytest.raises(ConfigError, match=says):
        load_settings({}, environ={variable: value})


def test_no_free_connection_within_the_timeout_counts_as_the_database_being_unavailable(database_url):
    """Mapped like an unreachable database: a 503 with Retry-After (REST and GraphQL), not a bug."""
    assert db.is_connection_error(PoolTimeout("QueuePool limit of size 1 overflow 0 reached"))
    if not database_url.startswith("postgresql"):
        return
    engine = db.make_engine(database_url, pool={"pool_size": 1, "max_overflow": 0, "pool_timeout": 0.2})
    try:
        held = engine.connect()
        with pytest.raises(PoolTimeout) as caught:
            engine.connect()
        assert db.is_connection_error(caught.value)
        held.close()
    finally:
        engine.dispose()
