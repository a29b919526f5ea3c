"""Side rows: the append-only rows a change leaves beside it (its audit entry, its outbox event, its
workflow history), written at the flush by one prebuilt statement instead of one INSERT each through the
unit of work.

A create sent three INSERTs for them after the record's own, each with the unit of work's bookkeeping:
that flush took 1.2 ms of a 5.6 ms create on PostgreSQL, and one statement (data-modifying ``WITH``
clauses, a single-row INSERT each), built once per shape and sent with the values as parameters, 0.56 ms
(``bench/side_rows.py``; docs/performance.md, "A change's side rows in one statement").

A model opts in with ``__side_row__ = True``. Its rows must be append-only and need nothing from the
database: every column has a value or a Python-side default (no server default, no relationship to
load). Services keep adding them to the session as any object; :func:`write_pending` (a ``before_flush``
listener) takes them out of the flush, fills in their defaults (id, time), writes them, and leaves them
detached with their identity: their attributes read as before, a later query loads the rows.

They go in before the flush's other INSERTs. The unit of work did not write them after the rows their
foreign keys name either (no relationship told it to), so the actor a side row names is written already,
as before. Callbacks in :data:`watchers` (``watcher(session, objects)``) hear of the rows written this
way, for those who used to find them in ``session.new`` after a flush (the test suite's audit watch,
api/testing/audit.py).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

from sqlalchemy import Table, bindparam, event, insert, inspect
from sqlalchemy.orm import Session, make_transient_to_detached

#: side rows one prebuilt statement carries; a flush with more (a bulk change) sends one INSERT per table
#: with every row as parameters (executemany) instead
MAX_ROWS_PER_STATEMENT = 12

#: ``watcher(session, objects)``: called after side rows were written outside the unit of work
watchers: list[Callable[[Session, list[Any]], None]] = []

_statements: dict[tuple, Any] = {}
_tables: dict[type, tuple] = {}


def _is_side_row(obj: Any) -> bool:
    return getattr(type(obj), "__side_row__", False) is True


def _shape(cls: type) -> tuple:
    """(table, [(attribute key, column, default)]), once per class."""
    found = _tables.get(cls)
    if found is None:
        mapper = inspect(cls)
        table = mapper.local_table
        columns = [(prop.key, prop.columns[0], prop.columns[0].default) for prop in mapper.column_attrs]
        for key, column, default in columns:
            if column.server_default is not None or (default is not None and not (default.is_callable or
                                                                                   default.is_scalar)):
                raise TypeError(f"{cls.__name__}.{key}: a side row's columns take Python-side defaults only")
        if mapper.relationships:
            raise TypeError(f"{cls.__name__}: a side row has no relationships (it is written outside the unit "
                            "of work and read detached)")
        found = _tables[cls] = (table, columns)
    return found


def _default(default: Any) -> Any:
    if default is None:
        return None
    if default.is_callable:
        return default.arg(None)  # SQLAlchemy wraps a no-argument callable into one taking the context
    return default.arg if default.is_scalar else None


def _values(obj: Any, columns: list) -> dict[str, Any]:
    """The row of ``obj``, its Python-side defaults filled in on the object too (as a flush would)."""
    state_dict = obj.__dict__
    row = {}
    for key, column, default in columns:
        value = state_dict.get(key)
        if value is None:
            value = _default(default)
            setattr(obj, key, value)  # every column loaded: the detached object never needs the database
        row[column.key] = value
    return row


def _statement(shape: tuple[Table, ...]) -> Any:
    """One PostgreSQL statement inserting a row into each table of ``shape`` (a table may come again),
    with a parameter per value (``p<row>_<column>``): a single-row INSERT per row, all but the last in
    ``WITH`` clauses. Single-row, because SQLAlchemy caches no multi-row VALUES: such a statement would
    be compiled again at every flush."""
    stmt = _statements.get(shape)
    if stmt is None:
        inserts = [insert(table).values({c.key: bindparam(f"p{r}_{c.key}", type_=c.type) for c in table.columns})
                   for r, table in enumerate(shape)]
        stmt = inserts[-1].add_cte(*(ins.cte(f"side_{r}") for r, ins in enumerate(inserts[:-1])))
        _statements[shape] = stmt
    return stmt


@event.listens_for(Session, "before_flush")
def write_pending(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Write the side rows pending in ``session`` (see the module's docstring), before the flush."""
    side = [obj for obj in session.new if _is_side_row(obj)]
    if not side:
        return
    by_table: dict[Table, list] = defaultdict(list)
    side.sort(key=lambda o: inspect(o).insert_order)  # the order they were added, as a flush keeps it
    for obj in side:
        table, columns = _shape(type(obj))
        by_table[table].append(_values(obj, columns))
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(side) <= MAX_ROWS_PER_STATEMENT:
        tables = sorted(by_table, key=lambda t: t.name)
        rows = [(table, row) for table in tables for row in by_table[table]]
        params = {f"p{r}_{key}": value for r, (_, row) in enumerate(rows) for key, value in row.items()}
        connection.execute(_statement(tuple(table for table, _ in rows)), params)
    else:
        for table, table_rows in by_table.items():  # SQLite has no INSERT in WITH; a bulk change's rows
            connection.execute(insert(table), table_rows)  # go as one executemany per table
    for obj in side:
        session.expunge(obj)
        make_transient_to_detached(obj)
    for watcher in watchers:
        watcher(session, side)


__all__ = ["MAX_ROWS_PER_STATEMENT", "watchers", "write_pending"]
