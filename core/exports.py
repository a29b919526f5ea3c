"""Exports: what ``trellis export`` and ``GET /api/v1/exports/<type>`` write.

An import type (:class:`core.imports.ImportType`) becomes exportable with one more declaration, its
``export`` (an :class:`Export`): the list's SELECT for an actor and the list's filters (the same
function the list service pages through, so the scope and the filters are the list's), and how a batch
of records turns into rows keyed by the type's import columns. The file written is one ``trellis
import`` reads back unchanged: the same columns, references by external id (``customer_external_id``),
lists joined as the import splits them.

The writers here are streams: :func:`encode` takes an iterator of rows and yields bytes as it goes — CSV
and JSON Lines a line at a time, XLSX through openpyxl's write-only workbook (rows go to a temporary file
as they come; the zip is read back in chunks at the end) — so memory does not grow with the export.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

#: what each export format is sent as (Content-Type) and the file name's ending
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "jsonl": "application/x-ndjson",
}
EXTENSIONS = {"csv": ".csv", "xlsx": ".xlsx", "jsonl": ".jsonl"}
FORMATS = tuple(MEDIA_TYPES)

#: records read per statement (keyset batches by id)
BATCH_SIZE = 1000


@dataclass(frozen=True)
class Export:
    """How an import type's records are exported (``ImportType(..., export=Export(...))``).

    ``query(actor, filters)`` is the SELECT of the records the actor's list shows with those filters
    (``filters``: the list's query arguments as plain data; the function validates them as the list does,
    a ``ValidationFailed`` naming the field, and applies the actor's scope). The exporter orders it by the
    model's ``id`` and reads it in keyset batches, so it must select one model with an ``id`` (joins for
    the scope are fine). ``rows(records)`` turns one batch (a list of those records) into one mapping per
    record, keyed by import column; it looks up what the rows reference in one query per batch (see
    :func:`core.services.import_types.customer_refs`), never one per record. Values: text, numbers,
    ``Decimal``, booleans, dates and datetimes (written ISO 8601), lists of text (joined by ``;``) or
    ``None`` (a blank cell: the import leaves the field as it is). ``columns`` are the columns written, in
    order (default: every import column); ``filters`` the list's filter schema, for the documentation.
    ``views(actor, records)``, when given, turns each batch into what the list shows that actor before
    ``rows`` sees it (a list whose items carry what the service computes for the caller, e.g. the fields
    of a visitor they may see), in one query or a few per batch.

    ``route`` is the REST list the export is, as its GET path reads in the OpenAPI document below
    ``/api/v1`` (``"/customers"``, ``"/customers/{customer_id}/history"``; a plugin's under its prefix):
    declared data, so the documentation and the test that every list of the app exports
    (tests/api/rest/test_every_list_exports.py) name it instead of guessing it from the type's name.

    ``ordered``: the list has an order of its own the export keeps (a ranking, pairs that have no id):
    ``query`` then returns the SELECT in the list's order — any columns, not one model with an ``id`` —
    and it is read as one streamed statement, ``BATCH_SIZE`` rows fetched at a time (a server-side cursor
    on PostgreSQL), each batch of rows (a record when the SELECT is one model, a row of columns otherwise)
    handed to ``views`` and ``rows`` as the keyset batches are.

    ``computed``: the list is no SELECT but built per request (a ranking scored in Python, configuration):
    ``query(actor, filters)`` then returns the list's items themselves, an iterable in the list's order —
    what the list's service returns for the caller, through the same function, so the scope and the
    permission are the list's. It checks the filters (a ``ValidationFailed`` naming the field), the scope and
    the permission when it is called, not when its items are first taken: the export calls it once to check
    them before the first byte and once more, in the unit of work that writes the file, for the items (so
    the list is built twice; return a generator only after checking, if building it costs). The items are
    handed to ``views`` and ``rows`` ``BATCH_SIZE`` at a time, in their order (``ordered`` is implied)."""

    query: Callable[[Any, Mapping[str, Any]], Any]
    rows: Callable[[Sequence[Any]], Iterable[Mapping[str, Any]]]
    columns: tuple[str, ...] | None = None
    filters: type | None = None
    views: Callable[[Any, Sequence[Any]], Sequence[Any]] | None = None
    route: str | None = None
    ordered: bool = False
    computed: bool = False


@dataclass(frozen=True)
class ListExport:
    """A list that is exported but not imported (declared by ``trellis_export_types``; a record declared
    with :class:`core.records.RecordSpec` gets one from ``spec.list_export(name)``). ``name`` is what
    ``trellis export NAME`` and ``GET /api/v1/exports/NAME`` take (a plugin's starts with its name and
    ``.``); ``export`` must name its ``columns``, as there are no import columns to fall back on."""

    name: str
    description: str
    export: Export

    @property
    def route(self) -> str | None:
        """The REST list exported (:attr:`Export.route`)."""
        return self.export.route

    def __post_init__(self) -> None:
        if not self.export.columns:
            from core.errors import PluginError

            raise PluginError(f"ListExport('{self.name}'): give its Export the columns it writes (columns=...).")


def schema_export(name: str, description: str, query: Callable[[Any, Mapping[str, Any]], Any], out_schema: Any, *,
                  filters: type | None = None, columns: Sequence[str] | None = None,
                  views: Callable[[Any, Sequence[Any]], Sequence[Any]] | None = None,
                  route: str | None = None, ordered: bool = False, computed: bool = False) -> ListExport:
    """A :class:`ListExport` of a list whose records are written as its REST output: ``query(actor,
    filters)`` is the list's SELECT (as :class:`Export` says), ``out_schema`` the marshmallow schema (class
    or instance) the list answers with; the columns are its dumped fields in order (or ``columns``), a
    nested value written as JSON text (:func:`flat_value`); ``filters`` the list's filter schema, for the
    documentation; ``views(actor, records)`` what the list's service makes of a page's records for the
    caller before the schema dumps them (:class:`Export`), when it does; ``route`` the REST list's path,
    ``ordered`` whether the export keeps the list's own order and ``computed`` whether ``query`` returns the
    list's items (a list built per request) rather than its SELECT (all as :class:`Export` says)."""
    schema = out_schema() if isinstance(out_schema, type) else out_schema
    names = tuple(columns or (key for key, f in schema.fields.items() if not f.load_only))

    def rows(records: Sequence[Any]) -> list[dict[str, Any]]:
        return [{key: flat_value(row.get(key)) for key in names} for row in schema.dump(records, many=True)]

    return ListExport(name, description, Export(query, rows, names, filters, views, route, ordered, computed))


def columns_of(export_type: Any) -> list[str]:
    """The columns an export of ``export_type`` (an import type, or a :class:`ListExport`) writes, in order."""
    declared = export_type.export.columns
    return list(declared) if declared else [c.name for c in export_type.columns]


def filter_names(export_type: Any) -> list[str]:
    """The filters an export of ``export_type`` takes, sorted, named as the list's query string names them
    (a field's ``data_key`` when it has one: the holidays' ``from`` and ``to``)."""
    schema = export_type.export.filters
    if schema is None:
        return []
    return sorted(f.data_key or key for key, f in schema._declared_fields.items())


def export_types(runtime: Any) -> dict[str, Any]:
    """Every exportable list of ``runtime``, by name: the import types that declare an ``export`` and the
    lists of ``trellis_export_types``."""
    found = {name: t for name, t in runtime.import_types.items() if t.export is not None}
    found.update(runtime.export_types)
    return dict(sorted(found.items()))


def flat_value(value: Any) -> Any:
    """A value of a record's output (``schema.dump``) as one cell: a mapping, or a list holding anything but
    text and numbers, as JSON text; lists of text as they are (joined by ``;`` in CSV)."""
    if isinstance(value, dict) or (isinstance(value, (list, tuple))
                                   and any(isinstance(v, (dict, list, tuple)) for v in value)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return value


# --- values --------------------------------------------------------------------------------------------

def join_list(values: Sequence[str]) -> str:
    """A list as one cell the import splits back (``core.imports.split_list``): joined by ``;``; a single
    item holding a ``,`` gets a trailing ``;``, so the import does not split it on the comma."""
    text = ";".join(values)
    if len(values) == 1 and "," in text:
        text += ";"
    return text


def text_value(value: Any) -> str:
    """A value as CSV text ("" for None)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return join_list([str(v) for v in value])
    return str(value)


def json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


# --- writers -------------------------------------------------------------------------------------------

def encode(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str) -> Iterator[bytes]:
    """The file of ``rows`` in ``fmt`` (``csv``, ``xlsx`` or ``jsonl``), as a stream of byte chunks; the
    header (CSV, XLSX) holds ``columns``. Nothing is read from ``rows`` before the first chunk is asked for."""
    if fmt == "csv":
        return _csv(rows, columns)
    if fmt == "jsonl":
        return _jsonl(rows, columns)
    if fmt == "xlsx":
        return _xlsx(rows, columns)
    raise ValueError(f"Unknown export format {fmt!r}")


#: rows gathered into one chunk of CSV or JSON Lines (a chunk per row would be a write per row)
_ROWS_PER_CHUNK = 200


def _csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    pending = 1
    for row in rows:
        writer.writerow([text_value(row.get(c)) for c in columns])
        pending += 1
        if pending >= _ROWS_PER_CHUNK:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode("utf-8")


def _jsonl(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
    lines: list[str] = []
    for row in rows:
        lines.append(json.dumps({c: json_value(row.get(c)) for c in columns}, ensure_ascii=False,
                                separators=(",", ":")))
        if len(lines) >= _ROWS_PER_CHUNK:
            yield ("\n".join(lines) + "\n").encode("utf-8")
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode("utf-8")


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """A value as a cell the import reads back as it was: numbers and booleans as such, everything else
    as text (never a formula: a text starting with ``=`` stays text). A Decimal is a number when the
    spreadsheet's float holds it exactly, text otherwise."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**53):
        return value
    if isinstance(value, Decimal) and Decimal(repr(float(value))) == value:
        return float(value)
    text = ILLEGAL_CHARACTERS_RE.sub("", text_value(value))
    cell = WriteOnlyCell(sheet, value=text)
    cell.data_type = "s"
    return cell


def _xlsx(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[bytes]:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("export")
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_xlsx_cell(sheet, row.get(c)) for c in columns])
    fd, path = tempfile.mkstemp(suffix=".xlsx", prefix="trellis-export-")
    os.close(fd)
    try:
        book.save(path)
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 16):
                yield chunk
    finally:
        os.unlink(path)


__all__ = ["BATCH_SIZE", "EXTENSIONS", "Export", "FORMATS", "MEDIA_TYPES", "columns_of", "encode", "filter_names", "join_list"]
