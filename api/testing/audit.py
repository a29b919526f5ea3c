"""The contract's "every change audited", watched: which plugin records were written without an audit entry.

:class:`AuditWatch` listens to the ORM sessions of every Trellis app in the process. For each unit of work
that commits, it compares the records a plugin owns (models with the :class:`core.db.Record` mixin in the
plugin's ``trellis_models``) that were created, changed or deleted with the audit entries
(:func:`core.services.audit.record_change`) written in the same unit of work, matched by the record's id.
A savepoint rolled back (a failed GraphQL mutation) takes its writes and its entries with it; a unit of work
rolled back counts for nothing.

Two declarations on a model narrow what counts: ``__audit_exempt__ = ("spend_total", …)`` names columns
other audited changes keep up (a member's spend total follows the audited purchases; a key's last use is
no change), so a write touching only those (and ``updated_at``/``version``) is not a change to audit;
``__audited_with__ = "membership_id"`` says the record's changes are audited on its parent's entry (a
member's occasions, written with the membership): an entry for either, in the unit of work, counts.
A test that writes records itself (setting up a state no service makes) is marked
``@pytest.mark.unaudited_writes("why")``: the writes of its run are not reported.

What it sees: writes through the ORM session (``session.add``, attribute changes, ``session.delete``),
whatever code made them — a service, a job, a CLI command, demo data — in the tests that ran. What it
does not see: writes made with SQL statements (``session.execute(update(...))``, bulk inserts), rows of
models without the ``Record`` mixin (a purchase's lines, a team's members: the parent's entry covers
them), and code no test runs. An entry for the record, whatever its verb, counts.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from core import side_rows

STATE = "trellis.audit_watch"


@dataclass(frozen=True)
class Unaudited:
    """A record written in a committed unit of work with no audit entry for it."""

    owner: str
    table: str
    record_id: Any
    change: str          # created, changed, deleted
    test: str = ""       # the pytest test that ran it, when known
    fields: tuple[str, ...] = ()   # what a "changed" changed

    def __str__(self) -> str:
        where = f" in {self.test}" if self.test else ""
        what = f" ({', '.join(self.fields)})" if self.fields else ""
        return (f"every change audited: a '{self.table}' record was {self.change}{what}{where} with no audit "
                "entry (call record_change(actor, verb, record, changes) in the service that writes it)")


@dataclass
class _Bucket:
    #: id → (owner, table, change, changed fields, the parent whose entry covers it)
    changed: dict[Any, tuple] = field(default_factory=dict)
    audited: set = field(default_factory=set)


class AuditWatch:
    """Collects :class:`Unaudited` writes of plugin records while started (``start``/``stop``, or
    ``with AuditWatch() as watch:``); ``found(plugin)`` lists them."""

    def __init__(self) -> None:
        self.unaudited: list[Unaudited] = []
        #: node ids of tests whose writes are not reported (marked ``unaudited_writes``)
        self.exempt_tests: set[str] = set()
        self._started = False

    def found(self, plugin: str | None = None) -> list[Unaudited]:
        return [u for u in self.unaudited if (plugin is None or u.owner == plugin) and u.test not in self.exempt_tests]

    def start(self) -> "AuditWatch":
        if not self._started:
            event.listen(Session, "after_flush", self._after_flush)
            event.listen(Session, "after_soft_rollback", self._after_soft_rollback)
            event.listen(Session, "after_commit", self._after_commit)
            side_rows.watchers.append(self._side_rows_written)
            self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            event.remove(Session, "after_flush", self._after_flush)
            event.remove(Session, "after_soft_rollback", self._after_soft_rollback)
            event.remove(Session, "after_commit", self._after_commit)
            side_rows.watchers.remove(self._side_rows_written)
            self._started = False

    def __enter__(self) -> "AuditWatch":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the listeners ----------------------------------------------------------------------------------

    def _state(self, session: Session) -> dict | None:
        if session.info.get("runtime") is None:
            return None
        return session.info.setdefault((STATE, id(self)), {"buckets": {}, "dropped": set()})

    def _after_flush(self, session: Session, _flush_context: Any) -> None:
        state = self._state(session)
        if state is None:
            return
        from core.db import Record
        from core.models import AuditEntry
        from core.plugins import CORE_NAME

        tables = session.info["runtime"].tables
        txn = session.get_nested_transaction() or session.get_transaction()
        bucket = state["buckets"].setdefault(txn, _Bucket())
        for change, objects in (("created", session.new), ("changed", session.dirty), ("deleted", session.deleted)):
            for obj in objects:
                if isinstance(obj, AuditEntry):
                    bucket.audited.add(obj.record_id)
                    continue
                if not isinstance(obj, Record):
                    continue
                owner = tables.get(obj.__table__.name)
                if owner in (None, CORE_NAME):
                    continue
                changed_fields: tuple[str, ...] = ()
                if change == "changed":
                    changed_fields = _changed_columns(obj)
                    if not changed_fields:
                        continue
                with_ = getattr(type(obj), "__audited_with__", None)
                parent = getattr(obj, with_, None) if with_ else None
                bucket.changed.setdefault(obj.id, (owner, obj.__table__.name, change, changed_fields, parent))

    def _side_rows_written(self, session: Session, objects: list) -> None:
        """Audit entries written by one statement before the flush (core.side_rows): not in ``session.new``."""
        state = self._state(session)
        if state is None:
            return
        from core.models import AuditEntry

        txn = session.get_nested_transaction() or session.get_transaction()
        bucket = state["buckets"].setdefault(txn, _Bucket())
        bucket.audited.update(obj.record_id for obj in objects if isinstance(obj, AuditEntry))

    def _after_soft_rollback(self, session: Session, previous_transaction: Any) -> None:
        state = session.info.get((STATE, id(self)))
        if state is None:
            return
        if previous_transaction.nested:
            state["dropped"].add(previous_transaction)
        else:
            session.info.pop((STATE, id(self)), None)

    def _after_commit(self, session: Session) -> None:
        state = session.info.pop((STATE, id(self)), None)
        if state is None:
            return
        changed: dict[Any, tuple] = {}
        audited: set = set()
        for txn, bucket in state["buckets"].items():
            if _dropped(txn, state["dropped"]):
                continue
            for record_id, what in bucket.changed.items():
                changed.setdefault(record_id, what)
            audited |= bucket.audited
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
        for record_id, (owner, table, change, fields, parent) in changed.items():
            if record_id not in audited and (parent is None or parent not in audited):
                self.unaudited.append(Unaudited(owner, table, record_id, change, test, fields))


#: columns that change with every change (the house mixins'): not a change of their own
BOOKKEEPING = frozenset({"updated_at", "version"})


def _changed_columns(obj: Any) -> tuple[str, ...]:
    """The mapped columns of ``obj`` with pending changes, less the house bookkeeping and the model's
    ``__audit_exempt__`` (columns other audited changes keep up: a member's spend total, a key's last use)."""
    from sqlalchemy import inspect

    state = inspect(obj)
    exempt = BOOKKEEPING | frozenset(getattr(type(obj), "__audit_exempt__", ()))
    return tuple(sorted(attr.key for attr in state.mapper.column_attrs
                        if attr.key not in exempt and state.attrs[attr.key].history.has_changes()))


def _dropped(txn: Any, dropped: set) -> bool:
    while txn is not None:
        if txn in dropped:
            return True
        txn = txn.parent if txn.nested else None
    return False
