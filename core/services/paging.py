"""Keyset (seek) paging: the slice of a list after or before a cursor, found by the row's sort key and id
rather than by a count of rows to skip.

A cursor stands for one row's place in one ordering: its sort key values and its id. The next page is
the rows whose (keys, id) come after it, so a row inserted or deleted elsewhere in the list moves no other
row between pages (no duplicates, no skips), and a page 10,000 rows deep costs what the first one does
(an index seek, no OFFSET to walk). ``first``/``after`` reads forward; ``last``/``before`` reads the same
ordering backwards and gives the rows back in list order.

Cursors are opaque to clients (URL-safe base64 of JSON) and bound to the list and its ordering: one given
out for ``sort=name`` is refused by ``sort=-created_at`` (a ``ValidationFailed`` naming ``after`` or
``before``). NULLs sort as the largest value on every database (last ascending, first descending, which
is PostgreSQL's default), so SQLite and PostgreSQL agree on where a row lies.

Services need nothing new: :func:`core.services.common.paginate` takes a :class:`KeysetRequest` where it
takes a ``PageRequest``, and the transports build one (``api.graphql.pagination.page_request``,
``api.rest.crud.page_request``).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

from sqlalchemy import Select, and_, false, func, inspect, literal, or_, select, true
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from core.errors import ValidationFailed
from core.schemas import MAX_PAGE_SIZE

DEFAULT_PAGE_SIZE = 20
_VERSION = 1


@dataclass(frozen=True)
class KeysetRequest:
    """Which slice of a list to return, Relay style: ``first`` rows after the cursor ``after``, or the
    ``last`` rows before the cursor ``before``. Neither count given: the first ``default`` rows.

    ``names`` maps ``first``/``after``/``last``/``before`` to what the transport calls them, so an error
    names the argument the client wrote. Passing both ``first`` and ``last``, or a count outside
    1..MAX_PAGE_SIZE, is a ``ValidationFailed`` naming the argument. A cursor is checked against the
    list's ordering when the list is read (:func:`seek_page`).
    """

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    default: int = DEFAULT_PAGE_SIZE
    names: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        problems: dict[str, list[str]] = {}
        if self.first is not None and self.last is not None:
            problems[self.name("last")] = [f"Pass either {self.name('first')} or {self.name('last')}, not both."]
        for which in ("first", "last"):
            count = getattr(self, which)
            if count is not None and not 1 <= count <= MAX_PAGE_SIZE:
                problems[self.name(which)] = [f"Must be between 1 and {MAX_PAGE_SIZE}."]
        for which in ("after", "before"):
            if getattr(self, which) == "":
                problems[self.name(which)] = ["Not a cursor this API gave out."]
        if problems:
            raise ValidationFailed(fields=problems)

    def name(self, which: str) -> str:
        return self.names.get(which, which)

    @property
    def backward(self) -> bool:
        return self.last is not None

    @property
    def limit(self) -> int:
        return self.last if self.backward else (self.first if self.first is not None else self.default)


@dataclass
class Key:
    """One column of an ordering: the expression, its direction and whether it may be NULL."""

    expr: Any
    desc: bool
    nullable: bool

    def reversed(self) -> "Key":
        return Key(self.expr, not self.desc, self.nullable)

    def order(self) -> Any:
        clause = self.expr.desc() if self.desc else self.expr.asc()
        if not self.nullable:
            return clause
        # NULL is the largest value everywhere (PostgreSQL's default; SQLite's is the opposite)
        return clause.nulls_first() if self.desc else clause.nulls_last()

    def bind(self, value: Any) -> Any:
        # a bound parameter of the key's type (True/False need it: SQLAlchemy allows only = with them)
        return literal(value, self.expr.type)

    def equal(self, value: Any) -> Any:
        return self.expr.is_(None) if value is None else self.expr == self.bind(value)

    def beyond(self, value: Any) -> Any:
        """Rows strictly past ``value`` in this key's direction (NULL being the largest value)."""
        if value is not None:
            value = self.bind(value)
        if not self.desc:
            if value is None:
                return false()
            return or_(self.expr > value, self.expr.is_(None)) if self.nullable else self.expr > value
        if value is None:
            return self.expr.is_not(None)
        return self.expr < value


def keys_of(order_by: Iterable[Any], tiebreak: Any) -> list[Key]:
    """ORDER BY clauses (``col``, ``col.asc()``, ``col.desc()``) and the unique tiebreak → keys. A bare
    tiebreak runs in the direction of the key before it: the lists' indexes are ``(key, id)``, which a
    backward scan reads as ``key DESC, id DESC`` in order; ``key DESC, id ASC`` had to sort each group of
    ties (1.6 s for ``sort=-stage`` on a million customers, bench/million.py)."""
    out = []
    for clause in [*order_by, tiebreak]:
        desc = False
        expr = clause
        if isinstance(clause, UnaryExpression) and clause.modifier in (operators.desc_op, operators.asc_op):
            desc, expr = clause.modifier is operators.desc_op, clause.element
        elif clause is tiebreak and out:
            desc = out[-1].desc
        column = getattr(expr, "expression", expr)   # an ORM attribute → its Column
        nullable = getattr(column, "nullable", True) is not False
        out.append(Key(expr, desc, nullable))
    out[-1].nullable = False   # the tiebreak is the primary key
    return out


def seek(keys: Sequence[Key], values: Sequence[Any]) -> Any:
    """The rows strictly after the row with ``values`` in the ordering ``keys`` (expanded row-value
    comparison: works with mixed directions and NULLs on every database)."""
    branches = []
    for i, key in enumerate(keys):
        branches.append(and_(*[k.equal(v) for k, v in zip(keys[:i], values[:i])], key.beyond(values[i])))
    lead = keys[0]
    if values[0] is not None and not lead.nullable:
        # redundant with the branches, but lets the planner range-scan an index on the first key
        bound = lead.bind(values[0])
        return and_(lead.expr <= bound if lead.desc else lead.expr >= bound, or_(*branches))
    return or_(*branches)


# --- cursors -------------------------------------------------------------------------------------------

def ordering_id(keys: Sequence[Key]) -> str:
    """A short fingerprint of the list (its tiebreak's table) and ordering a cursor belongs to."""
    text = "|".join(f"{key.expr}{' desc' if key.desc else ''}" for key in keys)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def _pack(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if hasattr(value, "value"):   # an enum
        return _pack(value.value)
    return str(value)


def _unpack(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    (tag, text), = value.items()
    return {"t": datetime.fromisoformat, "d": date.fromisoformat, "n": Decimal, "u": uuid.UUID}[tag](text)


def encode_cursor(keys: Sequence[Key], values: Sequence[Any]) -> str:
    raw = json.dumps([_VERSION, ordering_id(keys), [_pack(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[Key], field_name: str) -> list[Any]:
    """The key values a cursor stands for; one this list did not give out, or one from another ordering
    of it, is a ValidationFailed naming ``field_name``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, ordering, packed = json.loads(raw)
        values = [_unpack(v) for v in packed]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError, AttributeError):
        raise ValidationFailed(fields={field_name: ["Not a cursor this API gave out."]}) from None
    if version != _VERSION or ordering != ordering_id(keys) or len(values) != len(keys):
        raise ValidationFailed(fields={field_name: [
            "This cursor belongs to another list or ordering (orderBy/sort); page with the ordering "
            "that gave it out, or start again without a cursor."]})
    if not all(_fits(key, value) for key, value in zip(keys, values)):   # forged: never reaches the SQL
        raise ValidationFailed(fields={field_name: ["Not a cursor this API gave out."]})
    return values


def _bounds(request: "KeysetRequest", keys: list[Key]):
    """The decoded cursors and the direction of a read: ``(after, before, reversed keys, forward?, the
    keys in reading order, the bound the read starts from, the bound it stops at)``."""
    after = decode_cursor(request.after, keys, request.name("after")) if request.after else None
    before = decode_cursor(request.before, keys, request.name("before")) if request.before else None
    reverse = [key.reversed() for key in keys]
    forward = not request.backward
    read_keys = keys if forward else reverse
    start, end = (after, before) if forward else (before, after)
    return after, before, reverse, forward, read_keys, start, end


def _fits(key: Key, value: Any) -> bool:
    if value is None:
        return key.nullable
    # TypeEngine.python_type raises NotImplementedError for a type that declares no Python type (some
    # dialect and custom types): such a value cannot be checked by type, and it still reaches the SQL only
    # as a bound parameter, never as text
    try:
        wanted = key.expr.type.python_type
    except (NotImplementedError, AttributeError):
        return True
    if wanted is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if wanted is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if wanted is datetime or wanted is date:
        return type(value) is wanted
    return isinstance(value, wanted)


# --- reading a page ------------------------------------------------------------------------------------

@dataclass
class KeysetPage:
    """What :func:`seek_page` found: the rows in list order, each row's cursor, and where the page lies."""

    items: list
    cursors: Sequence[str]
    has_next: bool
    has_previous: bool


def seek_page(session: Any, stmt: Select, request: KeysetRequest, order_by: Iterable[Any], tiebreak: Any,
              *, load: Sequence[Any] = ()) -> KeysetPage:
    """Read the page ``request`` asks for from ``stmt`` (a ``select(Model)`` with its filters), ordered by
    ``order_by`` then ``tiebreak`` (the primary key). One statement (``limit + 1`` rows: the extra one
    tells whether the list goes on), plus one EXISTS when a cursor is given, to tell whether rows lie on
    its other side (Relay's ``hasPreviousPage`` after ``after``, ``hasNextPage`` before ``before``)."""
    keys = keys_of(order_by, tiebreak)
    after, before, reverse, forward, read_keys, start, end = _bounds(request, keys)

    query = stmt.order_by(None)
    if start is not None:
        query = query.where(seek(read_keys, start))
    if end is not None:
        query = query.where(seek([k.reversed() for k in read_keys], end))
    labelled = [key.expr.label(f"_seek{i}") for i, key in enumerate(keys)]
    query = query.add_columns(*labelled).order_by(*[key.order() for key in read_keys]).limit(request.limit + 1)
    if load:
        query = query.options(*load)
    result = session.execute(query)
    rows = (result.unique() if load else result).all()   # a joined collection repeats its parent's row
    more = len(rows) > request.limit
    rows = rows[:request.limit]
    if not forward:
        rows.reverse()
    width = len(keys)
    items = [row[0] for row in rows]
    cursors = LazyCursors(keys, [row[-width:] for row in rows])

    def beyond_exists(values: list[Any] | None, direction: Sequence[Key]) -> bool:
        """Whether any row lies at or past ``values`` going ``direction`` (the cursor's own row counts:
        it is not on the page)."""
        if values is None:
            return False
        at_or_beyond = or_(seek(direction, values), keys[-1].equal(values[-1]))
        return bool(session.scalar(select(true()).where(stmt.order_by(None).where(at_or_beyond).exists())))

    if forward:
        has_next = more or beyond_exists(before, keys)
        has_previous = beyond_exists(after, reverse)
    else:
        has_previous = more or beyond_exists(after, reverse)
        has_next = beyond_exists(before, keys)
    return KeysetPage(items=items, cursors=cursors, has_next=has_next, has_previous=has_previous)


def offset_page(session: Any, stmt: Select, offset: int, limit: int, order_by: Iterable[Any], tiebreak: Any,
                *, load: Sequence[Any] = (), total: bool = False, count_limit: int | None = None,
                counted: Select | None = None) -> tuple[list, Sequence[str], int | None]:
    """Rows ``offset`` to ``offset + limit`` of ``stmt`` in the same order keyset pages use, and their
    cursors, so a client paging by number can carry on with ``after`` (REST's ``next_cursor``). ``load``:
    loader options for the page's rows only (a joined collection comes in the same statement). With
    ``total``, the number of rows of ``stmt`` comes in the same statement too (an uncorrelated scalar
    subquery, run once: the page keeps its plan; counting at most ``count_limit + 1`` rows when given); it
    is None when the page is empty past the first row. ``counted``: a statement with as many rows as
    ``stmt`` that is cheaper to count, counted instead."""
    keys = keys_of(order_by, tiebreak)
    labelled = [key.expr.label(f"_seek{i}") for i, key in enumerate(keys)]
    query = stmt.order_by(None).add_columns(*labelled)
    if total:
        query = query.add_columns(count_of(stmt if counted is None else counted, count_limit)
                                  .scalar_subquery().label("_total"))
    if load:
        query = query.options(*load)
    result = session.execute(query.order_by(*[key.order() for key in keys]).offset(offset).limit(limit))
    rows = (result.unique() if load else result).all()   # a joined collection repeats its parent's row
    width = len(keys)
    counted = None
    if total:
        counted = rows[0][-1] if rows else (0 if offset == 0 else None)
        rows = [row[:-1] for row in rows]
    return [row[0] for row in rows], LazyCursors(keys, [row[-width:] for row in rows]), counted


def count_of(stmt: Select, limit: int | None = None) -> Select:
    """SELECT COUNT(*) of the rows of ``stmt``; with ``limit``, of at most ``limit + 1`` of them (a count
    that stops there: more than ``limit`` means "more than the limit", whatever the table's size)."""
    rows = stmt.order_by(None)
    if limit:
        rows = rows.limit(limit + 1)
    return select(func.count()).select_from(rows.subquery())


class LazyCursors(Sequence):
    """The cursors of a page's rows, each encoded when first read: a REST page hands out only its first
    and last (a page of 100 encoded all 100, a sixth of the list's CPU time), and a GraphQL page only
    those its query selects (``pageInfo``'s, an edge's ``cursor``)."""

    def __init__(self, keys: Sequence[Key], values: Sequence[Sequence[Any]]):
        self._keys, self._values = keys, values
        self._done: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self._values)
        if not 0 <= index < len(self._values):
            raise IndexError(index)
        cursor = self._done.get(index)
        if cursor is None:
            cursor = self._done[index] = encode_cursor(self._keys, list(self._values[index]))
        return cursor


def cursor_for(values: Sequence[Any], order_by: Iterable[Any], tiebreak: Any) -> str:
    """The cursor of a row whose sort key values (then id) are ``values`` in this ordering: for lists read
    another way (a batched nested list) that still hand out keyset cursors."""
    return encode_cursor(keys_of(order_by, tiebreak), values)


Total = int | Callable[[], int]


def seek_windows(session: Any, stmt: Select, partition: Any, parent_ids: Sequence[Any], request: KeysetRequest,
                 order_by: Iterable[Any], tiebreak: Any) -> dict[Any, KeysetPage]:
    """The page ``request`` asks for of each parent's list, for many parents in one statement: ``stmt``
    (a ``select(Model)`` with its filters) restricted to ``partition IN parent_ids``, ranked per parent with
    ``ROW_NUMBER() OVER (PARTITION BY partition ORDER BY …)`` after the cursor's seek condition, keeping
    ``limit + 1`` rows each. A cursor applies to every parent (the same arguments reach every sibling):
    it is a place in the ordering, not a row of one list. One more grouped statement when a cursor is
    given tells which parents have rows on its other side. Every parent gets a page (maybe empty).
    ``stmt`` may select an aliased model — a subquery with columns computed in the read, as a ledger's
    running balance — whose rows are mapped back by column name; its execution options (such as
    ``populate_existing``) apply to the read."""
    from sqlalchemy.orm import aliased

    out = {pid: KeysetPage(items=[], cursors=[], has_next=False, has_previous=False) for pid in parent_ids}
    if not parent_ids:
        return out
    keys = keys_of(order_by, tiebreak)
    after, before, reverse, forward, read_keys, start, end = _bounds(request, keys)

    base = stmt.order_by(None).where(partition.in_(list(parent_ids)))
    query = base
    if start is not None:
        query = query.where(seek(read_keys, start))
    if end is not None:
        query = query.where(seek([k.reversed() for k in read_keys], end))
    width = len(keys)
    ranked = query.add_columns(
        *[key.expr.label(f"_seek{i}") for i, key in enumerate(keys)],
        func.row_number().over(partition_by=partition, order_by=[k.order() for k in read_keys]).label("_rank"),
    ).subquery()
    model = stmt.column_descriptions[0]["entity"]
    found = inspect(model)
    if found.is_aliased_class:
        # a model read from a subquery (columns computed in the read, as a ledger's running balance): its
        # columns are found again by name, the correspondence to the table's being lost in the subquery
        alias = aliased(found.mapper, ranked, adapt_on_names=True)
    else:
        alias = aliased(model, ranked)
    rows = session.execute(
        select(alias, *[ranked.c[f"_seek{i}"] for i in range(width)])
        .where(ranked.c._rank <= request.limit + 1).order_by(ranked.c[partition.key], ranked.c._rank)
        .execution_options(**stmt.get_execution_options())).all()
    grouped: dict[Any, list] = {}
    for row in rows:
        grouped.setdefault(getattr(row[0], partition.key), []).append(row)

    def beyond(values: list[Any] | None, direction: Sequence[Key]) -> set:
        if values is None:
            return set()
        at_or_beyond = or_(seek(direction, values), keys[-1].equal(values[-1]))
        return set(session.scalars(base.where(at_or_beyond).with_only_columns(partition).distinct()))

    far_side = beyond(before, keys) if forward else beyond(after, reverse)
    for pid, found in grouped.items():
        more = len(found) > request.limit
        found = found[:request.limit]
        if not forward:
            found.reverse()
        page = out.setdefault(pid, KeysetPage([], [], False, False))
        page.items = [row[0] for row in found]
        page.cursors = LazyCursors(keys, [row[1:1 + width] for row in found])
        if forward:
            page.has_next = more
        else:
            page.has_previous = more
    for pid in far_side:
        if pid in out:
            if forward:
                out[pid].has_next = True
            else:
                out[pid].has_previous = True
    near_side = beyond(after, reverse) if forward else beyond(before, keys)
    for pid in near_side:
        if pid in out:
            if forward:
                out[pid].has_previous = True
            else:
                out[pid].has_next = True
    return out


def count_windows(session: Any, stmt: Select, partition: Any, parent_ids: Sequence[Any]) -> dict[Any, int]:
    """How many rows of ``stmt`` each parent has, in one grouped COUNT (a nested list's ``totalCount``)."""
    out = {pid: 0 for pid in parent_ids}
    if parent_ids:
        query = (stmt.order_by(None).where(partition.in_(list(parent_ids)))
                 .with_only_columns(partition, func.count()).group_by(partition))
        out.update({pid: n for pid, n in session.execute(query)})
    return out
