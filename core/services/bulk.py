"""Bulk writes for plugins: thousands of rows with one ``executemany`` per table, still audited.

The single-record services (``core.services.audit.record_change``, ``core.services.workflow.transition``)
flush the ORM once per change. An import that creates thousands of records cannot afford that, so it
collects plain rows in a :class:`BulkRecorder` and writes them with :meth:`BulkRecorder.flush`. Rather
than building the core's audit, outbox and workflow-history rows itself (their columns belong to the
core and change with it), it asks the recorder for them:

- :meth:`~BulkRecorder.change` writes the audit entry and the outbox event ``<record type>.<verb>`` of
  a change, exactly as ``record_change`` does (:meth:`~BulkRecorder.audit` and
  :meth:`~BulkRecorder.event` write one half each, e.g. one summary event for a whole batch);
- :meth:`~BulkRecorder.transition` writes a workflow move: the history row (with the time spent in the
  previous state), its audit entry and its ``<record type>.<field>_changed`` event, exactly as
  ``workflow.transition`` does, after checking the workflow permits the move for that trigger.

What differs from the single-record path, on purpose:

- **No permission check.** The recorder trusts its caller: check the actor (``require_role`` …) in the
  service that builds the batch, before using the recorder.
- **No in-process subscribers.** Events land in the outbox and are queued for the matching webhook
  subscriptions (as ``core.services.webhooks.on_event`` does for every event), but the other
  ``trellis_event_subscribers`` handlers are not called: a batch applies the rules they would have
  applied itself (the lifecycle move a purchase causes, say).
- **The caller updates state columns.** :meth:`~BulkRecorder.transition` records a move; setting the
  record's state field (and its ``version``) is the batch's own INSERT or UPDATE.
- **Time is the caller's.** Every row takes ``at`` (default: now), the audit entry and event of a move
  included (``workflow.transition`` stamps those with the present), so an import of last year's history
  keeps last year's dates.

Nothing is written before :meth:`~BulkRecorder.flush`, which runs in the caller's transaction: a
rolled-back batch leaves no row behind. Usage::

    rec = BulkRecorder(user)                      # user already permission-checked
    customer = rec.add(Customer, kind="person", name="Li Lei", ..., version=1)
    rec.change("created", customer, {"name": (None, "Li Lei")}, at=joined)
    rec.transition("customer.lifecycle", customer, "potential", "first_purchase", at=bought,
                   entered_at=joined, trigger=IMPORT, reason="1 purchase recorded")
    rec.flush([Customer])                         # the core's rows follow the listed models
"""
from __future__ import annotations

import contextlib
import gc
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import repeat
from operator import itemgetter
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import JSON, Uuid, insert
from sqlalchemy.sql.elements import Null

from core import db, runtime
from core.db import UTCDateTime, new_id, utcnow
from core.models import WorkflowTransitionEntry
from core.models.customers import KEYED_MODELS, match_keys
from core.models.audit import AuditEntry, OutboxEvent
from core.request_context import current_request_id
from core.services import webhooks
from core.services.audit import diff_of, event_payload, record_type_of
from core.services.workflow import check_move, history_values, move_payload
from core.workflow import IMPORT

#: Rows per INSERT statement (``executemany``).
CHUNK = 5000

#: The core's side tables, written after the caller's models in :meth:`BulkRecorder.flush`.
CORE_MODELS = (WorkflowTransitionEntry, AuditEntry, OutboxEvent)

_RECORD_VERSION = object()
_RECORDER_ACTOR = object()


@dataclass(frozen=True)
class BulkRow:
    """A row collected by :meth:`BulkRecorder.add`: its model and column values (``id`` always set)."""

    model: type
    values: dict = field(repr=False)

    @property
    def id(self) -> uuid.UUID:
        return self.values["id"]

    @property
    def version(self) -> int | None:
        return self.values.get("version")


class BulkRecorder:
    """Collects rows of any model plus the core's audit, outbox and workflow-history rows for them, and
    inserts each table with one ``executemany`` per :data:`CHUNK` rows. Checks no permission: its
    caller must have checked ``actor`` already.

    A *record* argument is a :class:`BulkRow` returned by :meth:`add` or a loaded model instance; its
    record type is its table name and its version its ``version`` column (``None`` if it has none), as
    in ``core.services.audit.record_change``."""

    def __init__(self, actor: Any):
        #: the user recorded as having made every change (``None`` for the system)
        self.actor = actor
        self.actor_id: uuid.UUID | None = getattr(actor, "id", None)
        #: the request (or job run) recorded on every audit entry and event of the batch
        self.request_id: str | None = current_request_id()
        self._rows: dict[type, list[dict]] = defaultdict(list)

    # --- the caller's own rows -----------------------------------------------------------------------

    def add(self, model: type, **values: Any) -> BulkRow:
        """Collect one row of ``model`` (column name → value; an ``id`` is generated unless given). Column
        defaults are not applied: pass every value the row needs (a column some rows of a model leave out
        is written as NULL in those rows)."""
        if "id" not in values:
            values["id"] = new_id()
        if model in KEYED_MODELS:  # the ORM listeners that keep the match keys do not see these rows
            values.update(match_keys(model, values))
        self._rows[model].append(values)
        return BulkRow(model, values)

    # --- the core's rows -----------------------------------------------------------------------------

    def audit(self, verb: str, record: Any, changes: Mapping[str, tuple[Any, Any]] | None = None, *,
              at: datetime | None = None) -> None:
        """Collect the audit entry ``<record type>.<verb>`` with ``changes`` (field → ``(old, new)``)."""
        rtype = _record_type(record)
        self.add(AuditEntry, at=at or utcnow(), actor_id=self.actor_id, action=f"{rtype}.{verb}", record_type=rtype,
                 record_id=record.id, changes=diff_of(changes), request_id=self.request_id)

    def event(self, verb: str, record: Any, payload: Mapping[str, Any] | None = None, *,
              changes: Mapping[str, tuple[Any, Any]] | None = None, at: datetime | None = None,
              version: Any = _RECORD_VERSION) -> None:
        """Collect the outbox event ``<record type>.<verb>``; its payload is ``{"id", "version",
        "changes", **payload}`` as in ``record_change``. ``version`` defaults to the record's; pass the
        version the record will have once the batch has updated it, when the batch does so itself."""
        rtype = _record_type(record)
        version = getattr(record, "version", None) if version is _RECORD_VERSION else version
        self.add(OutboxEvent, at=at or utcnow(), name=f"{rtype}.{verb}", record_type=rtype, record_id=record.id,
                 actor_id=self.actor_id, payload=event_payload(record.id, version, diff_of(changes), payload),
                 request_id=self.request_id)

    def change(self, verb: str, record: Any, changes: Mapping[str, tuple[Any, Any]] | None = None, *,
               payload: Mapping[str, Any] | None = None, at: datetime | None = None,
               version: Any = _RECORD_VERSION, actor: Any = _RECORDER_ACTOR) -> None:
        """Collect the audit entry and the outbox event of one change: the bulk form of
        ``core.services.audit.record_change(actor, verb, record, changes, payload=payload)``. ``actor``
        (a user, or None for the system) stands for the recorder's own for this change alone: a batch
        made on behalf of several users (the churn tasks of an analytics refresh, each its owner's)."""
        at = at or utcnow()
        rtype = _record_type(record)
        diff = diff_of(changes)  # once for both rows: on a large batch the JSON conversion is a real cost
        version = getattr(record, "version", None) if version is _RECORD_VERSION else version
        action, record_id = f"{rtype}.{verb}", record.id
        actor_id = self.actor_id if actor is _RECORDER_ACTOR else getattr(actor, "id", None)
        # appended directly, not through add(): a batch makes tens of thousands of these pairs
        self._rows[AuditEntry].append({"id": new_id(), "at": at, "actor_id": actor_id, "action": action,
                                       "record_type": rtype, "record_id": record_id, "changes": diff,
                                       "request_id": self.request_id})
        self._rows[OutboxEvent].append({"id": new_id(), "at": at, "name": action, "record_type": rtype,
                                        "record_id": record_id, "actor_id": actor_id,
                                        "payload": event_payload(record_id, version, diff, payload),
                                        "request_id": self.request_id})

    def start(self, workflow_name: str, record: Any, state: str, *, at: datetime, trigger: str = IMPORT,
              reason: str = "created in this state") -> None:
        """Collect the history row of a record created in ``state`` rather than the workflow's initial
        one (a move from no state) — the bulk form of ``core.services.workflow.record_start``."""
        workflow = runtime.current().workflows.get(workflow_name)
        if state == workflow.initial:
            return
        self.add(WorkflowTransitionEntry, **history_values(
            workflow, record.id, None, state, at=at, actor=self.actor, approved_by=None, trigger=trigger,
            event=None, reason=reason, entered=at))

    def transition(self, workflow_name: str, record: Any, from_state: str, to_state: str, *,
                   entered_at: datetime, at: datetime | None = None, trigger: str = IMPORT,
                   event: str | None = None, reason: str = "", approved_by: Any = None,
                   version: Any = _RECORD_VERSION) -> None:
        """Collect a move of ``record`` in a workflow: the history row, then the audit entry and event
        ``<record type>.<field>_changed`` — the bulk form of ``core.services.workflow.transition``.

        ``from_state`` is the state the batch has the record in (the loaded record may be behind it);
        ``entered_at`` when it entered that state (``core.services.workflow.entered_at`` for a loaded
        record), which gives the history's time in the previous state. ``event`` names what fired an
        automatic move. Raises ``ValidationFailed`` if the workflow does not permit the move for this
        trigger, and ``Forbidden`` for a manual move that needs an approval the actor cannot give."""
        workflow = runtime.current().workflows.get(workflow_name)
        if record_type_of(_model_of(record)) != workflow.record_type:
            raise ValueError(f"Workflow '{workflow.name}' moves {workflow.record_type} records, not "
                             f"{record_type_of(_model_of(record))}.")
        approved_by = check_move(self.actor, workflow, from_state, to_state, trigger=trigger, reason=reason,
                                 approved_by=approved_by)
        at = at or utcnow()
        self.add(WorkflowTransitionEntry, **history_values(
            workflow, record.id, from_state, to_state, at=at, actor=self.actor, approved_by=approved_by,
            trigger=trigger, event=event, reason=reason, entered=entered_at))
        self.change(f"{workflow.field}_changed", record, {workflow.field: (from_state, to_state)},
                    payload=move_payload(workflow, from_state, to_state, trigger=trigger, event=event,
                                         reason=reason, approved_by=approved_by),
                    at=at, version=version)

    # --- writing -------------------------------------------------------------------------------------

    def flush(self, models: Iterable[type]) -> dict[str, int]:
        """INSERT every collected row: ``models`` in the order given (parents before children), then the
        core's workflow history, audit entries and outbox events, each event then queued for the matching
        webhook subscriptions (with none, that costs one query per unit of work; with one, a flush per
        matching event, as in the single-record path). Returns rows written per table name
        (every listed model and core table, zeros included). Raises ``ValueError``, writing nothing,
        if rows were collected for a model not listed. The recorder is empty (and reusable) afterwards."""
        order = [m for m in models if m not in CORE_MODELS] + list(CORE_MODELS)
        unlisted = [m.__name__ for m, rows in self._rows.items() if rows and m not in order]
        if unlisted:
            raise ValueError(f"Rows collected for models not passed to flush: {', '.join(unlisted)}.")
        db.session().flush()  # rows may point at ORM objects added but not yet written
        conn = db.session().connection()
        counts = {}
        tables = []
        for model in order:
            rows = self._rows.pop(model, [])
            keys = set().union(*(row.keys() for row in rows)) if rows else set()
            rows = [row if len(row) == len(keys) else {k: row.get(k) for k in keys} for row in rows]
            tables.append((model, rows, keys))
            counts[model.__tablename__] = len(rows)
        with _sqlite_cache(conn, sum(len(rows) for _, rows, _ in tables)), gc_paused():
            _insert_all(conn, [(model.__table__, rows, keys) for model, rows, keys in tables if rows])
        for model, rows, _ in tables:
            if model is OutboxEvent and rows and webhooks.any_subscription():
                # queue webhook deliveries as the single-record path does (its ``*`` subscriber); the
                # other in-process subscribers are not called. With no subscription there is nothing
                # to queue, and building thousands of event objects to find that out is most of a flush.
                for row in rows:
                    webhooks.on_event(OutboxEvent(**row), self.actor)
        return counts


def _insert_all(conn: Any, tables: list[tuple[Any, list[dict], set[str]]]) -> None:
    """INSERT each ``(table, rows, keys)`` in order (:func:`_insert`). On PostgreSQL with psycopg, first as
    binary ``COPY`` (:func:`_copy` with the columns' types): PostgreSQL then parses no text (timestamps,
    UUIDs, numbers) and psycopg formats none — about half the import's formatting work and a good part of
    the server's. A value the binary format cannot take as it is (a UUID given as text, say) fails that
    attempt, which a savepoint undoes; the rows are then written as text, which PostgreSQL converts."""
    texts: dict = {}  # datetime → its stored text, for the whole flush: most rows repeat their batch's times
    if conn.dialect.driver == "psycopg" and tables:
        types = _column_types(conn, [table for table, _, _ in tables])
        savepoint = conn.begin_nested()
        try:
            for table, rows, keys in tables:
                if not _copy(conn, table, rows, keys, texts, types.get(table.name)):
                    _insert(conn, table, rows, keys, texts)
        except Exception:
            savepoint.rollback()
        else:
            savepoint.commit()
            return
    for table, rows, keys in tables:
        _insert(conn, table, rows, keys, texts)


def _column_types(conn: Any, tables: list[Any]) -> dict[str, dict[str, int]]:
    """PostgreSQL's type (OID) of each column of ``tables``, by table and column name, in one query: what a
    binary ``COPY`` must be told (its values carry no type)."""
    names = [conn.dialect.identifier_preparer.format_table(table) for table in tables]
    rows = conn.exec_driver_sql(
        "SELECT c.relname, a.attname, a.atttypid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE a.attrelid = ANY(CAST(%(names)s AS regclass[])) AND a.attnum > 0 AND NOT a.attisdropped",
        {"names": names}).all()
    out: dict[str, dict[str, int]] = {}
    for table, column, oid in rows:
        out.setdefault(table, {})[column] = oid
    return out


#: SQLite's page cache during a large flush (KiB; SQLite's default is 2,000) and the rows that make one large
BULK_CACHE_KIB, LARGE_FLUSH = 65536, 10000


@contextlib.contextmanager
def _sqlite_cache(conn: Any, rows: int) -> Iterator[None]:
    """On SQLite, a large flush runs with a page cache of :data:`BULK_CACHE_KIB` (then the connection's
    own again): with the default 2 MB, the index pages its inserts touch (random UUIDs) no longer fit,
    and SQLite keeps spilling pages to the WAL and reading them back (about 8 % of the retail demo's
    flush). Elsewhere, or for a small flush, nothing changes."""
    if conn.dialect.name != "sqlite" or rows < LARGE_FLUSH:
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a batch (unless it is already off). A batch allocates
    hundreds of thousands of row dicts and tuples, none of them in a reference cycle, and each of the
    collections their allocation triggers walks every one of them: a tenth of a large import's time
    for nothing. Reference counting still frees everything; cycles made meanwhile wait for the next
    collection after the batch."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _insert(conn: Any, table: Any, rows: list[dict], keys: set[str], texts: dict | None = None) -> None:
    """INSERT ``rows`` (dicts with the same ``keys``) into ``table``, :data:`CHUNK` rows a statement.

    On a driver with positional parameters (SQLite's ``qmark``) the statement is compiled once and the
    rows are converted by each column type's own bind processor (the conversion ``Connection.execute``
    applies) and handed to the driver's ``executemany`` as tuples: SQLAlchemy's per-row parameter
    building cost as much as SQLite's inserting. The conversion runs a column at a time (one loop per
    column, tuples built by ``zip``), with a cheaper equivalent of the two processors every row calls
    most (:func:`_fast_processor`; ``texts`` remembers the datetimes converted, across calls). On
    PostgreSQL with psycopg the rows, converted the same way, go in one ``COPY`` (:func:`_copy`). Other
    drivers go through ``Connection.execute``."""
    if not rows:
        return
    if conn.dialect.paramstyle != "qmark":
        if conn.dialect.driver == "psycopg" and _copy(conn, table, rows, keys, texts):
            return
        for start in range(0, len(rows), CHUNK):
            conn.execute(insert(table), rows[start:start + CHUNK])
        return
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=list(keys))
    order = list(compiled.positiontup)
    # a column left out gets its default, as Connection.execute gives it; only constant ones here
    constants = {}
    for key in order:
        if key not in keys:
            default = table.c[key].default if key in table.c else None
            if default is None or not default.is_scalar:
                for start in range(0, len(rows), CHUNK):
                    conn.execute(insert(table), rows[start:start + CHUNK])
                return
            constants[key] = default.arg
    texts = {} if texts is None else texts
    procs = [_fast_processor(table.c[key].type, conn.dialect, texts) for key in order]
    sql = str(compiled)
    for start in range(0, len(rows), CHUNK):
        conn.exec_driver_sql(sql, list(_converted(rows[start:start + CHUNK], order, procs, constants)))


def _copy(conn: Any, table: Any, rows: list[dict], keys: set[str], texts: dict | None,
          types: dict[str, int] | None = None) -> bool:
    """On PostgreSQL (psycopg), write ``rows`` with one ``COPY … FROM STDIN`` in the connection's
    transaction, each value converted by its column type's bind processor (what ``Connection.execute``
    applies) and a left-out column given its constant default. psycopg's pipelined statement per row cost
    half of an import's time. With ``types`` (each column's type OID, :func:`_column_types`) the COPY is
    binary, else text. Returns False, writing nothing, when a left-out column has a computed default (the
    caller inserts those rows the usual way)."""
    names, constants = [], {}
    for column in table.columns:
        if column.key in keys:
            names.append(column.key)
        elif column.default is not None:
            if not column.default.is_scalar:
                return False
            names.append(column.key)
            constants[column.key] = column.default.arg
    texts = {} if texts is None else texts
    procs = [_fast_processor(table.c[key].type, conn.dialect, texts) for key in names]
    quote = conn.dialect.identifier_preparer.quote
    target = conn.dialect.identifier_preparer.format_table(table)
    columns = [table.c[key].name for key in names]
    binary = types is not None and all(column in types for column in columns)
    if binary:
        # psycopg's binary int2/int4 keep the low bits of a number too large for the column, where text makes
        # PostgreSQL refuse it: refuse it here (the flush is then tried again as text, and refused there)
        procs = [_in_range(proc, _INT_BITS[types[column]]) if types[column] in _INT_BITS else proc
                 for proc, column in zip(procs, columns)]
    sql = f"COPY {target} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
    if binary:
        sql += " (FORMAT BINARY)"
    with conn.connection.cursor() as cursor:
        # the statement goes past SQLAlchemy's execute, so past its cursor events: say so (statement counts)
        db.raw_statement_sent(conn, sql)
        with cursor.copy(sql) as copy:
            if binary:
                copy.set_types([types[column] for column in columns])
            for start in range(0, len(rows), CHUNK):
                for row in _converted(rows[start:start + CHUNK], names, procs, constants):
                    copy.write_row(row)
    return True


#: the OIDs of PostgreSQL's int2 and int4, and their bits
_INT_BITS = {21: 16, 23: 32}


def _in_range(proc: Any, bits: int) -> Any:
    """``proc`` (a bind processor or None) followed by a check that an integer fits ``bits`` signed bits."""
    low, high = -(1 << (bits - 1)), 1 << (bits - 1)

    def process(value: Any) -> Any:
        if proc is not None:
            value = proc(value)
        if value is not None and not low <= value < high:
            raise OverflowError(f"{value} does not fit a {bits}-bit integer column.")
        return value

    return process


def _converted(chunk: list[dict], names: list[str], procs: list, constants: dict) -> Iterator[tuple]:
    """The rows of ``chunk`` as tuples of the columns ``names``, each value through its bind processor
    (``procs``, None: as it is) and ``constants`` for the columns the rows leave out; converted a column at
    a time (one loop per column, tuples built by ``zip``)."""
    columns = []
    for key, proc in zip(names, procs):
        if key in constants:
            value = constants[key] if proc is None else proc(constants[key])
            columns.append(repeat(value, len(chunk)))
        else:
            column = list(map(itemgetter(key), chunk))
            columns.append(column if proc is None else list(map(proc, column)))
    return zip(*columns)


def _fast_processor(column_type: Any, dialect: Any, texts: dict) -> Any:
    """The bind processor of ``column_type`` on ``dialect``: its own, or for the SQLite conversions every
    bulk row makes several of (UTC datetimes, UUIDs, JSON) a function giving the same string cheaper.
    Datetimes are converted once each (``texts`` maps each to its text): the rows of one change (the
    record, its audit entry, its event, its timeline entry) share their time."""
    impl = column_type.dialect_impl(dialect)
    generic = impl.bind_processor(dialect)
    if dialect.name != "sqlite" or generic is None:
        return generic
    if isinstance(column_type, UTCDateTime) and impl.impl_instance._storage_format == _SQLITE_DATETIME:
        def process(value: datetime | None) -> str | None:
            # equal aware datetimes are the same instant, hence the same UTC text; a naive one never
            # equals an aware one
            text = texts.get(value)
            if text is None:
                text = texts[value] = _sqlite_utc_datetime(value)
            return text

        return process
    if type(column_type) is JSON and dialect._json_serializer is None and impl._str_impl.bind_processor(dialect) is None:
        return _json_processor(column_type.none_as_null)
    if isinstance(column_type, Uuid) and column_type.as_uuid and not (dialect.supports_native_uuid
                                                                       and column_type.native_uuid):
        return _uuid_hex
    return generic


#: SQLAlchemy's default SQLite storage format of a datetime (what :func:`_sqlite_utc_datetime` writes)
_SQLITE_DATETIME = ("%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d")


def _sqlite_utc_datetime(value: datetime | None) -> str | None:
    """``UTCDateTime``'s bind processing on SQLite: the UTC time (a naive value is taken as UTC) as
    ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value is None:
        return None
    if value.tzinfo is not None and value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.isoformat(" ", "microseconds")[:26]


def _json_processor(none_as_null: bool) -> Any:
    """``JSON``'s bind processing with the default serializer, without its per-value attribute lookups:
    ``json.dumps`` of the value; ``None`` is SQL NULL if the column says so, JSON ``null`` otherwise."""
    dumps, json_null, sql_null = json.dumps, JSON.NULL, Null

    def process(value: Any) -> str | None:
        if value is None:
            return None if none_as_null else "null"
        if value is json_null:
            return "null"
        if isinstance(value, sql_null):
            return None
        return dumps(value)

    return process


def _uuid_hex(value: uuid.UUID | None) -> str | None:
    """``Uuid(as_uuid=True)``'s bind processing where the database has no UUID type: 32 hex digits."""
    return None if value is None else value.hex


def _model_of(record: Any) -> Any:
    return record.model if isinstance(record, BulkRow) else record


def _record_type(record: Any) -> str:
    """``record_type_of`` as a plain ``str``: a table's name is SQLAlchemy's ``quoted_name``, a ``str``
    subclass the SQLite driver does not take as text without asking it (and failing) to adapt itself,
    once per audit and outbox row."""
    model = record.model if isinstance(record, BulkRow) else type(record)
    try:
        return _RECORD_TYPES[model]
    except KeyError:
        rtype = _RECORD_TYPES[model] = str(record_type_of(model))
        return rtype


_RECORD_TYPES: dict[Any, str] = {}


__all__ = ["BulkRecorder", "BulkRow", "CHUNK", "gc_paused"]
