"""How a PostgreSQL engine's connections are made and handed out (``core.db.make_engine``).

Three costs every request paid and the yardstick of issue #16 does not (docs/performance.md):

- **A ping at every checkout.** SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` each time a request
  takes a connection from the pool. :func:`ping_when_idle` tests a connection only when it has sat unused
  for ``TRELLIS_DB_PING_IDLE_SECONDS`` (HikariCP's "alive bypass window"): a connection used a moment
  ago is almost always alive; one a database restart dropped in that moment fails its request (a 503)
  where a ping would have replaced it, and SQLAlchemy then discards the pool's other connections, so the
  next requests get fresh ones.
- **Converting every timestamp to UTC.** Trellis keeps and returns times in UTC (``core.db.UTCDateTime``).
  psycopg hands ``timestamptz`` values back in the session's time zone (``Etc/UTC`` on a default
  install, a ``ZoneInfo``), and each was converted again: four per customer of a page, a twentieth of a
  GraphQL page of customers with contacts. :func:`utc_sessions` sets every connection's ``TimeZone`` to
  UTC, so values arrive as UTC and the conversion is none. It also makes anything the database computes
  from a timestamp (a ``::date``) use UTC as on SQLite, whatever the server's default.
- **A ``Column`` object per result column.** psycopg's ``Cursor.description`` builds one for every
  column of every result (about 80 for a customer read by id); SQLAlchemy only asks whether there is a
  description once it has the statement's result columns cached. :class:`Cursor` builds them when one is
  read.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

#: result statuses that carry rows, as ``psycopg.Cursor.description`` tests them
_ROWS = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, getattr(pq.ExecStatus, "TUPLES_CHUNK", -1))
#: ``ConnectionPoolEntry.info`` key: ``time.monotonic()`` when the connection went back to the pool
_IDLE_SINCE = "trellis.idle_since"


class Description(Sequence):
    """``cursor.description`` whose ``psycopg.Column`` objects are made when first read. It holds the
    result it describes, so reading it after the cursor has run another statement still describes this
    one."""

    __slots__ = ("_source", "_count", "_columns")

    def __init__(self, cursor: psycopg.Cursor, result: Any):
        # what psycopg.Column reads of its cursor, as it is now
        self._source = SimpleNamespace(pgresult=result, _encoding=cursor._encoding, adapters=cursor.adapters)
        self._count = result.nfields
        self._columns: list[psycopg.Column] | None = None

    def _materialised(self) -> list[psycopg.Column]:
        if self._columns is None:
            self._columns = [psycopg.Column(self._source, i) for i in range(self._count)]  # type: ignore[arg-type]
        return self._columns

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):  # type: ignore[override]
        return self._materialised()[index]

    def __iter__(self):
        return iter(self._materialised())

    def __repr__(self) -> str:
        return repr(self._materialised())


class Cursor(psycopg.Cursor):
    """psycopg's default cursor, with a :class:`Description` that makes its columns when read."""

    @property
    def description(self) -> Description | None:  # type: ignore[override]
        result = self.pgresult
        if result and (result.nfields or result.status in _ROWS):
            return Description(self, result)
        return None


def utc_sessions(engine: Engine) -> None:
    """Set each new connection's session ``TimeZone`` to UTC (a URL's ``-c TimeZone=…`` included):
    ``timestamptz`` values then arrive in UTC, as Trellis keeps them."""

    @event.listens_for(engine, "connect")
    def _utc(dbapi_connection, _record) -> None:
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()   # a session setting, kept by the pool's rollbacks from now on


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Test a connection with a round trip when the pool hands it out after it sat unused for at least
    ``idle_seconds`` (0: every time, as ``pool_pre_ping``); a connection that fails the test is replaced
    before the caller gets it."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # a new connection, or one in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001 - any failure of SELECT 1 means this connection is gone
            # the pool discards it and connects again (up to three tries) before the caller sees it
            raise exc.DisconnectionError(f"connection failed its ping after {idle_seconds:g} s idle") from error
