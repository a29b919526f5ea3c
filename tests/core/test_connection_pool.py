"""The PostgreSQL connection pool is sized by TRELLIS_DB_POOL_SIZE / _MAX_OVERFLOW / _POOL_TIMEOUT (issue #16:
pool size and overflow set from the worker count), a pool with no free connection is a 503, not a 500, and a
connection is tested before use once it sat idle for TRELLIS_DB_PING_IDLE_SECONDS (core.postgres_connections)."""
from __future__ import annotations

import contextlib
import time

import psycopg
import pytest
from sqlalchemy import literal, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core import db, postgres_connections
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


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's connection handling (SQLite has no server to drop a connection)")


def _backend(connection) -> int:
    return connection.scalar(text("SELECT pg_backend_pid()"))


def _terminate(database_url: str, pid: int) -> None:
    killer = db.make_engine(database_url, pool={"pool_size": 1, "max_overflow": 0})
    try:
        with killer.connect() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        killer.dispose()


@contextlib.contextmanager
def _a_pool_whose_one_connection_the_server_dropped(database_url: str, ping_idle_seconds: float):
    """(engine, backend pid): a pool of one connection, back in the pool, that the server just ended."""
    _postgres_only(database_url)
    engine = db.make_engine(database_url, pool={"pool_size": 1, "max_overflow": 0,
                                                "ping_idle_seconds": ping_idle_seconds})
    try:
        with engine.connect() as connection:
            dropped = _backend(connection)
        _terminate(database_url, dropped)
        yield engine, dropped
    finally:
        engine.dispose()


def test_a_connection_the_server_dropped_while_it_sat_idle_is_replaced_before_anyone_uses_it(database_url):
    """Past TRELLIS_DB_PING_IDLE_SECONDS in the pool, a connection is tested at checkout: a database
    restart between two requests costs no failed request."""
    with _a_pool_whose_one_connection_the_server_dropped(database_url, 0.05) as (engine, dropped):
        time.sleep(0.1)
        with engine.connect() as connection:
            assert _backend(connection) != dropped


def test_a_connection_used_a_moment_ago_is_handed_out_without_a_round_trip(database_url):
    """Within the idle window no ping is sent (the saving); a connection dropped in that moment fails the
    one statement that finds out, and SQLAlchemy discards it, so the next checkout connects afresh."""
    with _a_pool_whose_one_connection_the_server_dropped(database_url, 60) as (engine, dropped):
        with pytest.raises(OperationalError), engine.connect() as connection:
            _backend(connection)
        with engine.connect() as connection:
            assert _backend(connection) != dropped


def test_the_idle_window_is_a_setting_and_zero_tests_every_checkout():
    assert load_settings({}, environ={}).db_pool()["ping_idle_seconds"] == 1.0
    assert load_settings({}, environ={"TRELLIS_DB_PING_IDLE_SECONDS": "0"}).db_pool()["ping_idle_seconds"] == 0
    with pytest.raises(ConfigError, match="TRELLIS_DB_PING_IDLE_SECONDS"):
        load_settings({}, environ={"TRELLIS_DB_PING_IDLE_SECONDS": "-1"})


def test_a_result_description_describes_its_own_result_and_matches_psycopg(database_url):
    """``cursor.description`` makes its psycopg ``Column`` objects when read, from the result it was taken
    of, even after the cursor has run another statement."""
    _postgres_only(database_url)
    engine = db.make_engine(database_url)
    try:
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            ours, theirs = raw.cursor(), psycopg.Cursor(raw)
            assert isinstance(ours, postgres_connections.Cursor)
            sql = "SELECT 1 AS one, 'x'::varchar(7) AS two, now() AS three"
            ours.execute(sql)
            theirs.execute(sql)
            description = ours.description
            ours.execute("SELECT 2 AS other")
            assert len(description) == 3
            assert [tuple(column) for column in description] == [tuple(column) for column in theirs.description]
            assert description[-1].name == "three" and [c.name for c in description[:2]] == ["one", "two"]
            ours.execute("SET search_path TO public")
            assert ours.description is None
    finally:
        engine.dispose()


def test_a_repeated_statement_builds_no_column_objects(database_url, monkeypatch):
    """The point of the lazy description: SQLAlchemy has the statement's result columns cached after its
    first run and only asks whether there is a description (about 80 columns a customer read by id)."""
    _postgres_only(database_url)
    engine = db.make_engine(database_url)
    built = []
    original = psycopg.Column.__init__
    monkeypatch.setattr(psycopg.Column, "__init__", lambda self, *a: (built.append(1), original(self, *a))[1])
    statement = select(literal(1).label("one"), literal("x").label("two"))
    try:
        with engine.connect() as connection:
            connection.execute(statement).all()
            first = len(built)
            assert connection.execute(statement).all() == [(1, "x")]
        assert first >= 2 and len(built) == first  # the first run read them: its result columns were not known yet
    finally:
        engine.dispose()


def test_every_session_works_in_utc_whatever_the_server_or_the_url_says(database_url):
    """Times arrive in UTC, as Trellis keeps them (no conversion per value), and what the database derives
    from a time (a date) is the UTC one, as on SQLite — also when the URL asks for another zone."""
    from datetime import date, datetime, timezone

    _postgres_only(database_url)
    shanghai = "-cTimeZone%3DAsia/Shanghai"   # libpq options, before the test schema's search_path if any
    url = (database_url.replace("options=", f"options={shanghai}%20", 1) if "options=" in database_url
           else f"{database_url}{'&' if '?' in database_url else '?'}options={shanghai}")
    engine = db.make_engine(url, pool={"pool_size": 1, "max_overflow": 0})
    try:
        late = text("SELECT CAST('2026-12-05 23:30:00+00' AS timestamptz), "
                    "CAST(CAST('2026-12-05 23:30:00+00' AS timestamptz) AS date), current_setting('TimeZone')")
        for _ in range(2):   # the second time on the same pooled connection, after the pool's rollback
            with engine.connect() as conn:
                at, day, zone = conn.execute(late).one()
                conn.rollback()
            assert zone == "UTC" and day == date(2026, 12, 5)
            assert at == datetime(2026, 12, 5, 23, 30, tzinfo=timezone.utc) and at.tzinfo is timezone.utc
    finally:
        engine.dispose()
