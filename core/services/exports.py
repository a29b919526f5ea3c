"""Exporting a list (``trellis export``, ``GET /api/v1/exports/<type>``): the records the actor's list shows
with the list's filters, streamed as CSV, XLSX or JSON Lines in the columns ``trellis import`` reads, so
the file re-imports unchanged (docs/import-export.md, "Export").

The export checks everything before the first byte — the actor, the type, the format, the filters (by
building the list's SELECT: a bad filter is a ``ValidationFailed`` naming it) — in :func:`prepare`; then
:func:`rows` reads the SELECT in keyset batches by id (:data:`core.exports.BATCH_SIZE` records per
statement, each batch turned into rows by the type's ``Export.rows``) and :func:`stream` encodes them as
they come. Memory does not grow with the list: no batch is read before the rows of the one before were
handed on, and the session keeps no reference to records once they are written.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import Select

from core import db
from core import runtime as runtime_module
from core.errors import NotFound, ValidationFailed
from core.exports import BATCH_SIZE, EXTENSIONS, FORMATS, MEDIA_TYPES, columns_of, encode, export_types, filter_names
from core.models import User
from core.services.permissions import require_actor


def types() -> dict[str, Any]:
    """The exportable lists of the app: the import types (the core's, the enabled plugins') that declare
    an ``export``, and the lists of ``trellis_export_types`` (:class:`core.exports.ListExport`)."""
    return export_types(runtime_module.current())


def export_type(name: str) -> Any:
    found = types().get(name)
    if found is None:
        known = ", ".join(sorted(types())) or "none"
        raise NotFound(f"No export type '{name}'. Known: {known}.")
    return found


def check_format(fmt: str | None) -> str:
    fmt = (fmt or "csv").strip().lower()
    if fmt not in FORMATS:
        raise ValidationFailed(fields={"format": [f"One of: {', '.join(FORMATS)}."]})
    return fmt


@dataclass
class ExportRequest:
    """An export checked by :func:`prepare`: what :func:`stream` writes, and how the file is sent."""

    record_type: str
    fmt: str
    filters: dict[str, Any]
    actor_id: uuid.UUID
    columns: list[str] = field(default_factory=list)

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]

    @property
    def file_name(self) -> str:
        return f"{self.record_type}{EXTENSIONS[self.fmt]}"


def prepare(actor: Any, record_type: str, filters: Mapping[str, Any] | None = None,
            fmt: str | None = "csv") -> ExportRequest:
    """Check an export before anything is written: the actor (signed in, active), the type (unknown or not
    exportable: NotFound), the format (``format``) and the filters, validated by building the list's SELECT
    for the actor, or a computed list (``Export.computed``) itself (a bad one: ValidationFailed naming the
    field, as the list answers)."""
    user = require_actor(actor)
    itype = export_type(record_type)
    fmt = check_format(fmt)
    filters = dict(filters or {})
    itype.export.query(user, filters)
    return ExportRequest(itype.name, fmt, filters, user.id, columns_of(itype))


def rows(actor: Any, record_type: str, filters: Mapping[str, Any] | None = None, *,
         batch_size: int = BATCH_SIZE) -> Iterator[dict[str, Any]]:
    """The export's rows, keyed by column, in the current unit of work: the list's SELECT for ``actor`` and
    ``filters`` ordered by id and read ``batch_size`` records at a time (``WHERE id > <last id> ORDER BY id
    LIMIT batch_size``), each batch turned into rows by the type's ``Export.rows`` (after its ``views``
    for the actor, if it has them); an ordered list (``Export.ordered``) in its own order, one statement
    streamed ``batch_size`` rows at a time; a computed list (``Export.computed``) as its items come, in
    batches of ``batch_size``. A generator: each batch is read when the rows before it were taken."""
    itype = export_type(record_type)
    user = require_actor(actor)
    stmt = itype.export.query(user, dict(filters or {}))   # a computed list's items
    if itype.export.computed:
        yield from _computed(stmt, itype, batch_size, user)
    elif itype.export.ordered:
        yield from _streamed(stmt, itype, batch_size, user)
    else:
        yield from _batched(stmt, itype, batch_size, user)


def _streamed(stmt: Select, itype: Any, batch_size: int, actor: Any) -> Iterator[dict[str, Any]]:
    """An ordered list (``Export.ordered``): its SELECT as it orders it, one statement streamed
    ``batch_size`` rows at a time (keyset batches by id would lose a ranking's order, and re-running a
    grouped SELECT per batch would cost the whole aggregate each time)."""
    sess = db.session()
    one_model = len(stmt.column_descriptions) == 1 and stmt.column_descriptions[0]["entity"] is not None
    streamed = stmt.execution_options(yield_per=batch_size)
    result = sess.scalars(streamed) if one_model else sess.execute(streamed)
    views = itype.export.views
    try:
        for records in result.partitions(batch_size):
            batch = list(itype.export.rows(views(actor, records) if views is not None else records))
            del records
            yield from batch
    finally:
        result.close()


def _computed(items: Iterable[Any], itype: Any, batch_size: int, actor: Any) -> Iterator[dict[str, Any]]:
    """A computed list (``Export.computed``): the items its ``query`` returned, in their order, handed to
    ``views`` and ``rows`` ``batch_size`` at a time."""
    views = itype.export.views
    source = iter(items)
    while batch := list(islice(source, batch_size)):
        yield from list(itype.export.rows(views(actor, batch) if views is not None else batch))


def _batched(stmt: Select, itype: Any, batch_size: int, actor: Any) -> Iterator[dict[str, Any]]:
    model = stmt.column_descriptions[0]["entity"]
    key = model.id
    sess = db.session()
    last = None
    while True:
        query = stmt.order_by(None).order_by(key).limit(batch_size)
        if last is not None:
            query = query.where(key > last)
        records = sess.scalars(query).all()
        if not records:
            return
        last = records[-1].id
        views = itype.export.views
        batch = list(itype.export.rows(views(actor, records) if views is not None else records))
        full = len(records) == batch_size
        del records   # the identity map holds records weakly: once written, a batch can go
        yield from batch
        if not full:
            return


def stream(request: ExportRequest, *, database: Any = None, batch_size: int = BATCH_SIZE,
           tally: dict | None = None) -> Iterator[bytes]:
    """The file of a prepared export as byte chunks, read in a unit of work of its own (a streamed HTTP
    response is sent after the request's own unit of work closed), as the actor who asked (read again:
    a user deactivated since is refused). ``tally["rows"]`` counts the rows written."""
    database = database or runtime_module.current().database
    with database.unit_of_work() as sess:
        actor = sess.get(User, request.actor_id)
        source = rows(actor, request.record_type, request.filters, batch_size=batch_size)
        if tally is not None:
            source = _counted(source, tally)
        yield from encode(source, request.columns, request.fmt)


def _counted(source: Iterator[dict], tally: dict) -> Iterator[dict]:
    tally["rows"] = 0
    for row in source:
        tally["rows"] += 1
        yield row


def describe_types() -> list[dict]:
    """The exportable types, their columns, the filters their list takes and the REST list each is (its
    declared ``route`` below ``/api/v1``; None when a plugin declares none), for help texts."""
    out = []
    for name, itype in sorted(types().items()):
        out.append({"name": name, "description": itype.description, "columns": columns_of(itype),
                    "filters": filter_names(itype),
                    "route": itype.export.route})
    return out


__all__ = ["ExportRequest", "check_format", "describe_types", "export_type", "prepare", "rows", "stream", "types"]
