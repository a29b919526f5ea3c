"""Engine, sessions, the declarative Base and the mixins every record uses.

Services never receive a session argument: they call :func:`session()`, which returns the session of
the current unit of work (an HTTP request, a CLI command, a test). :class:`Database` opens units of work
with :meth:`Database.unit_of_work`; everything written inside one commits together or not at all.
"""
from __future__ import annotations

import contextlib
import contextvars
import statistics
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import (
    DateTime,
    Integer,
    MetaData,
    Uuid,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator
from uuid_utils.compat import uuid7

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> uuid.UUID:
    """A new record id: a UUID (``uuid.UUID``, version 7), unique like any, whose first 48 bits are the
    time it was made (milliseconds) and which are increasing within a process. Callers treat it as
    opaque; the time order is for the database: rows written one after another land side by side in the
    primary key's B-tree (and in every index that ends with the id), where random ids (version 4) would
    each dirty a page of their own — on a million-row import, most of PostgreSQL's work."""
    return uuid7()


def utcnow() -> datetime:
    """Now, as an aware UTC datetime: what every timestamp column stores and every rule compares with."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite hands back naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        elif value.tzinfo is not timezone.utc:  # already UTC (most values): no conversion to make
            value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """The declarative base of every table, the core's and every plugin's: one ``MetaData`` with the house
    constraint naming convention (so migrations name constraints the same on every database), ``datetime``
    columns stored as UTC (:class:`UTCDateTime`) and ``uuid.UUID`` columns portable across SQLite and
    PostgreSQL. A plugin's model is ``class MyThing(Base, Record)`` with ``__tablename__`` prefixed with
    the plugin's name."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), uuid.UUID: Uuid()}


class UUIDPrimaryKey:
    """A UUID ``id``: the record's identity in REST and GraphQL alike (made by :func:`new_id`)."""

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False)


class Versioned:
    """Optimistic locking: ``version`` rises on every UPDATE; a concurrent writer's UPDATE matches no row
    and SQLAlchemy raises ``StaleDataError`` (mapped to Conflict). Services also compare the version a
    client sends with the current one."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}


class SoftDelete:
    """Deleted records keep their row; ``deleted_at`` marks them and every default query hides them."""

    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, default=None)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Record(UUIDPrimaryKey, Timestamps, Versioned, SoftDelete):
    """The mixins every business record uses: id, timestamps, version, soft delete."""


# --- units of work ---------------------------------------------------------------------------------

_current: contextvars.ContextVar[Session | None] = contextvars.ContextVar("trellis_session", default=None)


def session() -> Session:
    """The session of the current unit of work. Raises when called outside one."""
    current = _current.get()
    if current is None:
        raise RuntimeError("No unit of work is open: wrap the call in Database.unit_of_work().")
    return current


def in_values(column: Any, values: Any) -> Any:
    """``column IN values`` for a long list of values (thousands: an import's batch), as the current unit of
    work's database takes it best: on PostgreSQL ``column = ANY(:values)``, one array parameter (the
    driver and the planner handle one parameter, not one per value: a 2,000-value ``IN`` costs the driver
    milliseconds to rewrite and the server to plan, per query); elsewhere ``IN``."""
    values = list(values)
    if session().get_bind().dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def has_session() -> bool:
    return _current.get() is not None


#: Seconds an SQLite writer waits for the database's write lock before giving up (then: 409 Conflict).
SQLITE_BUSY_TIMEOUT = 30.0


def _on_sqlite_connect(dbapi_connection, _record) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINTs; let SQLAlchemy emit BEGIN itself
    # (the recipe from SQLAlchemy's SQLite dialect docs), and turn foreign keys on.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
    cursor.close()
    dbapi_connection.create_aggregate("median", 1, _SQLiteMedian)


class _SQLiteMedian:
    """``median(x)``, the aggregate SQLite lacks (``core.metrics_core.sql.median``; PostgreSQL's is
    ``percentile_cont(0.5)``): the middle value, or the mean of the two middle ones; NULLs are skipped,
    none at all is NULL."""

    def __init__(self):
        self.values: list[float] = []

    def step(self, value) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return float(statistics.median(self.values)) if self.values else None


def is_lock_timeout(exc: BaseException) -> bool:
    """An SQLite writer that waited the whole busy timeout for the write lock: a Conflict, not a bug."""
    from sqlalchemy.exc import OperationalError

    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


BUSY_MESSAGE = "The database is busy with other changes; try again."

#: What DBAPI drivers say when there is no connection to be had (SQLite: a file that cannot be opened;
#: psycopg: a refused, unresolvable, timed-out or dropped connection; a server starting or stopping).
CONNECTION_FAILURES = (
    "unable to open database file", "connection refused", "could not connect", "connection failed",
    "connection timed out", "timeout expired", "could not translate host name", "name or service not known",
    "no route to host", "server closed the connection", "terminating connection", "connection is closed",
    "connection already closed", "the connection is lost", "ssl connection has been closed",
    "the database system is starting up", "the database system is shutting down",
)
UNREACHABLE_MESSAGE = "The database cannot be reached right now; try again shortly."


def is_connection_error(exc: BaseException) -> bool:
    """The database could not be reached (or the connection dropped): a 503 with ``Retry-After``, not a
    bug; so is a pool with no free connection within ``TRELLIS_DB_POOL_TIMEOUT``. A lock timeout is not
    one (:func:`is_lock_timeout`, a Conflict)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError) or is_lock_timeout(exc):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    text = str(exc.orig).lower()
    return any(failure in text for failure in CONNECTION_FAILURES)


def _on_sqlite_file_connect(dbapi_connection, _record) -> None:
    # WAL: readers outside a unit of work (health checks, other tools) never wait for a writer
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _on_sqlite_begin(conn) -> None:
    # BEGIN IMMEDIATE takes the write lock when a unit of work starts, so concurrent writers queue (up to
    # the busy timeout) instead of failing: a deferred transaction that read first and then wants to write
    # gets SQLITE_BUSY at once, without waiting, because the other writer may have changed what it read.
    # Queued in turn, the second of two PATCHes sees the first one's version and is refused with 409, as
    # on PostgreSQL. The price: units of work on one SQLite database run one after another. A connection
    # that only reads and must not queue (the health check) asks for ``execution_options(sqlite_begin=
    # "DEFERRED")``.
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'IMMEDIATE')}")


class Database:
    """One per app: the engine and the session factory.

    ``bind`` lets tests hand in a connection that already has a transaction open; the sessions then join
    it through savepoints, so a test's writes vanish when the test's transaction rolls back.
    """

    def __init__(self, url: str, *, echo: bool = False, bind: Connection | None = None,
                 info: dict[str, Any] | None = None, pool: Mapping[str, Any] | None = None):
        self.url = url
        if bind is not None:
            self.engine: Engine = bind.engine
            self._bind: Engine | Connection = bind
            join_mode = "create_savepoint"
        else:
            self.engine = make_engine(url, echo=echo, pool=pool)
            self._bind = self.engine
            join_mode = "rollback_only"
        self.sessionmaker = sessionmaker(bind=self._bind, expire_on_commit=False,
                                         join_transaction_mode=join_mode, info=dict(info or {}))
        #: what this process keeps of the database between units of work, by name (the active webhook
        #: subscriptions: ``core.services.webhooks``); emptied when the database is bound elsewhere
        self.caches: dict[str, Any] = {}

    def bind_to(self, connection: Connection | None) -> None:
        """Run every later unit of work inside ``connection``'s open transaction (tests), or, with
        None, on the engine again."""
        info = self.sessionmaker.kw.get("info", {})
        self.caches.clear()  # another transaction (a test's), other rows
        if connection is None:
            self._bind = self.engine
            self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False, info=info)
        else:
            self._bind = connection
            self.sessionmaker = sessionmaker(bind=connection, expire_on_commit=False,
                                             join_transaction_mode="create_savepoint", info=info)

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """Open a session, make it current, commit on success, roll back on any exception."""
        sess = self.sessionmaker()
        token = _current.set(sess)
        try:
            yield sess
            sess.commit()
        except BaseException:
            sess.rollback()
            raise
        finally:
            _current.reset(token)
            sess.close()

    def open(self) -> tuple[Session, contextvars.Token]:
        """Open a session and make it current; pair with :meth:`close` (used per HTTP request)."""
        sess = self.sessionmaker()
        return sess, _current.set(sess)

    @staticmethod
    def close(sess: Session, token: contextvars.Token, *, commit: bool) -> None:
        try:
            if commit:
                sess.commit()
            else:
                sess.rollback()
        finally:
            _current.reset(token)
            sess.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execution_options(sqlite_begin="DEFERRED").execute(select(1))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        if self._bind is self.engine:
            self.engine.dispose()


#: Callables ``(connection, statement)`` told of each statement Trellis sends to the driver past
#: SQLAlchemy's ``execute`` (the bulk recorder's ``COPY``), which SQLAlchemy's cursor events do not see.
#: The test kit's statement counter (``count_queries``) listens here as well, so such a statement counts.
RAW_STATEMENT_LISTENERS: list[Callable[[Connection, str], None]] = []


def raw_statement_sent(connection: Connection, statement: str) -> None:
    """Tell :data:`RAW_STATEMENT_LISTENERS` that ``statement`` goes to the database on ``connection``."""
    for listener in list(RAW_STATEMENT_LISTENERS):
        listener(connection, statement)


def normalize_url(url: str) -> str:
    """``postgresql://`` (and ``postgres://``) mean psycopg 3, the driver Trellis installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, echo: bool = False, pool: Mapping[str, Any] | None = None) -> Engine:
    """The engine of ``url``; ``pool`` (``pool_size``, ``max_overflow``, ``pool_timeout``: the
    ``TRELLIS_DB_POOL_*`` settings; ``ping_idle_seconds``: ``TRELLIS_DB_PING_IDLE_SECONDS``, 0 when not
    given) sizes a server database's connection pool and says when a pooled connection is tested."""
    url = normalize_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
    else:
        pool = dict(pool or {})
        ping_idle_seconds = pool.pop("ping_idle_seconds", 0.0)
        kwargs.update(pool)
        if url.startswith("postgresql+psycopg://"):
            from core import postgres_connections

            kwargs["connect_args"] = {"cursor_factory": postgres_connections.Cursor}
        else:  # another server's driver: SQLAlchemy's ping at every checkout
            kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if "cursor_factory" in kwargs.get("connect_args", {}):
        postgres_connections.utc_sessions(engine)
        postgres_connections.ping_when_idle(engine, ping_idle_seconds)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
        if engine.url.database not in (None, "", ":memory:"):
            event.listen(engine, "connect", _on_sqlite_file_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    return engine
