"""Import types and import files: what ``trellis import`` and ``POST /api/v1/imports`` read.

An *import type* (:class:`ImportType`) is a record type a file can be imported into: the core declares
``customers``, ``contacts`` and ``interactions`` and a plugin adds its own with the hook
``trellis_import_types``. It names its columns (:class:`ImportColumn`, shown by ``trellis import TYPE
--help``) and writes one :class:`ImportBatch` of rows at a time: it validates each row through the same
schemas and rules as the API, reports a bad row with :meth:`ImportBatch.fail` (the row is skipped, the
rest of the batch goes on) and collects the good ones in the batch's :class:`core.services.bulk.BulkRecorder`,
which the import flushes, commits and records as done (``core.services.imports``).

A *file* is CSV (UTF-8, a header row), XLSX (the first sheet, a header row) or JSON Lines (one object per
line). :func:`read_rows` streams it — memory does not grow with the file — as :class:`ImportRow`
values keyed by field name, after the column mapping (:func:`resolve_columns`).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from core.errors import ValidationFailed

#: File formats by file name ending
FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class ImportColumn:
    """A column of an import type: its field ``name`` (what a header or a mapping names), what it holds, and
    whether every file must have it. The descriptions are the documentation ``trellis import TYPE --help``
    prints."""

    name: str
    description: str
    required: bool = False


@dataclass
class ImportRow:
    """One row of a file: ``number`` as the user sees it (CSV and XLSX: the spreadsheet row, the header being
    row 1; JSON Lines: the line), ``values`` by field name (blank cells left out)."""

    number: int
    values: dict[str, Any]
    #: set by the import type: ``created``, ``updated``, ``unchanged`` (``None``: failed, or not reached)
    outcome: str | None = None
    failed: bool = False


@dataclass
class RowError:
    row: int
    column: str
    reason: str


class ImportBatch:
    """The rows an import type writes at once, in one transaction. ``actor`` is the admin importing (already
    checked); ``recorder`` collects the rows to insert (the import flushes it with the type's ``models``);
    ``now`` is the import's time."""

    def __init__(self, rows: list[ImportRow], *, actor: Any, recorder: Any, now: datetime,
                 columns: Mapping[str, str]):
        self.rows, self.actor, self.recorder, self.now = rows, actor, recorder, now
        self._columns = columns
        self.errors: list[RowError] = []

    def fail(self, row: ImportRow, field: str, reason: str) -> None:
        """Report a problem with ``row``'s ``field`` (named by its column in the file); the row is skipped."""
        row.failed = True
        row.outcome = None
        self.errors.append(RowError(row.number, self._columns.get(field, field), reason))

    def fail_validation(self, row: ImportRow, exc: ValidationFailed) -> None:
        """Report each field of a ``ValidationFailed`` (from ``common.validate`` or a service rule)."""
        if not exc.fields:
            self.fail(row, "_row", exc.message)
        for name, reasons in exc.fields.items():
            self.fail(row, name, " ".join(reasons))

    def live(self) -> list[ImportRow]:
        """The rows not failed (yet)."""
        return [row for row in self.rows if not row.failed]


@dataclass(frozen=True)
class ImportType:
    """A record type files can be imported into (declared by ``trellis_import_types``).

    ``name`` is what ``trellis import NAME FILE`` takes (a plugin's starts with its name and ``.``:
    ``retail_membership.members``). ``columns`` are the fields a file may have; a row must have an
    ``external_id`` column the import finds the record again by (re-importing a file changes nothing; a
    corrected file updates). ``write(batch)`` validates and collects one :class:`ImportBatch`;
    ``models`` are the models it collects rows of, parents first (``BulkRecorder.flush``). ``export``
    (a :class:`core.exports.Export`) makes the type exportable too (docs/import-export.md, "Export")."""

    name: str
    description: str
    columns: tuple[ImportColumn, ...]
    write: Callable[[ImportBatch], None]
    models: tuple[type, ...] = ()
    #: rows per batch (one transaction each)
    batch_size: int = 2000
    #: how the type's records are exported (``trellis export``, ``GET /api/v1/exports/<name>``), so the file
    #: re-imports unchanged: a :class:`core.exports.Export`; ``None``: import only
    export: Any = None

    def help(self) -> str:
        width = max(len(c.name) for c in self.columns)
        lines = [f"  {c.name.ljust(width)}  {'(required) ' if c.required else ''}{c.description}" for c in self.columns]
        return "\n".join(lines)


# --- reading files -------------------------------------------------------------------------------------

def file_format(name: str, given: str | None = None) -> str:
    """``csv``, ``xlsx`` or ``jsonl``: ``given``, else by the file name's ending."""
    if given:
        if given not in ("csv", "xlsx", "jsonl"):
            raise ValidationFailed(fields={"format": ["One of: csv, xlsx, jsonl."]})
        return given
    fmt = FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        raise ValidationFailed(fields={"format": [f"Cannot tell the format of '{name}': name it .csv, .xlsx or "
                                                  ".jsonl, or give the format."]})
    return fmt


@dataclass
class FileFacts:
    """What one pass over the bytes tells: their hash and (CSV, JSON Lines) about how many rows there are."""

    sha256: str
    rows: int | None


def scan(path: str | Path, fmt: str) -> FileFacts:
    """Hash the file and count its lines in one streamed pass (an estimate of the rows, for the ETA)."""
    digest, lines = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    if fmt == "csv":
        rows: int | None = max(lines - 1, 0)
    elif fmt == "jsonl":
        rows = lines
    else:
        rows = None
    return FileFacts(digest.hexdigest(), rows)


def _header_key(text: Any) -> str:
    return "_".join(str(text or "").strip().lower().replace("-", " ").split())


def resolve_columns(header: list[Any], import_type: ImportType, mapping: Mapping[str, Any] | None) -> list[str | None]:
    """The field each column of ``header`` feeds (``None``: ignored). ``mapping`` maps a column of the file
    to a field (``null`` or ``""``: ignore the column); other columns must be named like a field (case,
    spaces and dashes aside). Raises ValidationFailed naming every unknown column and missing required
    field, before any row is read."""
    known = {c.name for c in import_type.columns}
    by_key = {_header_key(k): v for k, v in (mapping or {}).items()}
    out: list[str | None] = []
    problems: dict[str, list[str]] = {}
    for column in header:
        key = _header_key(column)
        if key in by_key:
            target = by_key[key] or None
            if target is not None and target not in known:
                problems.setdefault("mapping", []).append(f"'{column}' maps to '{target}', which is no column of "
                                                          f"{import_type.name}.")
            out.append(target)
        elif key in known:
            out.append(key)
        elif not key:
            out.append(None)
        else:
            problems.setdefault("columns", []).append(
                f"Unknown column '{column}': rename it, or map it (or to null, to ignore it) with a mapping file.")
            out.append(None)
    missing = [c.name for c in import_type.columns if c.required and c.name not in out]
    if missing:
        problems.setdefault("columns", []).append(f"Missing required column(s): {', '.join(missing)}.")
    doubled = sorted({f for f in out if f is not None and out.count(f) > 1})
    if doubled:
        problems.setdefault("columns", []).append(f"Two columns feed {', '.join(doubled)}.")
    if problems:
        problems.setdefault("expected", [", ".join(c.name for c in import_type.columns)])
        raise ValidationFailed(f"The file's columns do not fit {import_type.name}.", fields=problems)
    return out


def _cell(value: Any) -> Any:
    """A spreadsheet cell as the text a CSV would hold (datetimes in ISO 8601, whole floats without .0)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def read_rows(path: str | Path, fmt: str, import_type: ImportType, mapping: Mapping[str, Any] | None = None,
              columns_out: dict | None = None) -> Iterator[ImportRow]:
    """Stream the rows of the file (blank rows skipped), keyed by field; the column check runs before the
    first row. ``columns_out`` receives field → the file's column name (for error reports)."""
    if fmt == "csv":
        yield from _read_table(_csv_rows(path), import_type, mapping, columns_out)
    elif fmt == "xlsx":
        yield from _read_table(_xlsx_rows(path), import_type, mapping, columns_out)
    else:
        yield from _read_jsonl(path, import_type, mapping, columns_out)


def _csv_rows(path: str | Path) -> Iterator[list[Any]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        try:
            yield from csv.reader(fh)
        except UnicodeDecodeError as exc:
            raise ValidationFailed(fields={"file": [f"Not UTF-8 text ({exc.reason} at byte {exc.start})."]}) from None
        except csv.Error as exc:
            raise ValidationFailed(fields={"file": [f"Not a CSV file: {exc}."]}) from None


def _xlsx_rows(path: str | Path) -> Iterator[list[Any]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ValidationFailed(fields={"file": [f"Not an XLSX workbook: {exc}."]}) from None
    try:
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [None if v is None else _cell(v) for v in values]
    finally:
        book.close()


def _read_table(rows: Iterator[list[Any]], import_type: ImportType, mapping: Mapping[str, Any] | None,
                columns_out: dict | None) -> Iterator[ImportRow]:
    header = next(rows, None)
    if header is None:
        return
    while header and header[-1] in (None, ""):
        header = header[:-1]
    fields = resolve_columns(list(header), import_type, mapping)
    if columns_out is not None:
        columns_out.update({f: str(h) for f, h in zip(fields, header) if f})
    pairs = [(i, f) for i, f in enumerate(fields) if f]
    number = 1
    for cells in rows:
        number += 1
        values = {}
        for i, name in pairs:
            if i < len(cells):
                value = cells[i]
                if value is not None:
                    value = value.strip() if isinstance(value, str) else value
                    if value != "":
                        values[name] = value
        if values:
            yield ImportRow(number, values)


def _read_jsonl(path: str | Path, import_type: ImportType, mapping: Mapping[str, Any] | None,
                columns_out: dict | None) -> Iterator[ImportRow]:
    fields: dict[str, str | None] = {}
    with open(path, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield ImportRow(number, {"_error": f"Not JSON: {exc.msg} (column {exc.colno})."})
                continue
            if not isinstance(obj, dict):
                yield ImportRow(number, {"_error": "Each line must be a JSON object."})
                continue
            new = [k for k in obj if k not in fields]
            if new:  # a key first seen on this line: checked as a header would be
                resolved = resolve_columns(list(fields) + new, _relaxed(import_type), mapping)
                fields = dict(zip(list(fields) + new, resolved))
                if columns_out is not None:
                    columns_out.update({f: k for k, f in fields.items() if f})
            values = {}
            for key, value in obj.items():
                name = fields[key]
                if name is None or value is None:
                    continue
                if isinstance(value, str):
                    value = value.strip()
                    if not value:
                        continue
                values[name] = value
            yield ImportRow(number, values)


def _relaxed(import_type: ImportType) -> ImportType:
    """The type without required columns: JSON Lines has no header, a line may leave a field out (the row
    is then refused by the schema, naming it)."""
    from dataclasses import replace

    return replace(import_type, columns=tuple(replace(c, required=False) for c in import_type.columns))


def load_mapping(text: str | bytes | None) -> dict[str, Any]:
    """A mapping file's content: a JSON object ``{"column in the file": "field" | null}``."""
    if not text:
        return {}
    try:
        mapping = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationFailed(fields={"mapping": [f"Not JSON: {exc}."]}) from None
    if not isinstance(mapping, dict) or not all(isinstance(v, (str, type(None))) for v in mapping.values()):
        raise ValidationFailed(fields={"mapping": ['A JSON object {"column in the file": "field" or null}.']})
    return mapping


# --- helpers for import types ------------------------------------------------------------------------------

def utc_datetime_text(value: Any) -> Any:
    """A date or a datetime without an offset, as the aware ISO 8601 text the API's schemas take: a date
    means midnight UTC, a naive time UTC (``1997-01-01`` → ``1997-01-01T00:00:00+00:00``). Anything else
    (aware text, a wrong value) is returned as it is, for the schema to judge."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=timezone.utc).isoformat()
    if not isinstance(value, str):
        return value
    text = value.strip()
    if len(text) == 8 and text.isdigit():  # 19970101
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.isoformat()


_SCHEMAS: dict = {}


def schema_for(schema: type, keys: Any) -> Any:
    """An instance of the marshmallow ``schema`` restricted to the fields a row has (``keys``) and its required
    ones: the same fields, validators and schema rules, without visiting the dozen fields an import file does
    not have on every one of a million rows. Cached per schema and set of keys."""
    key = (schema, frozenset(keys))
    found = _SCHEMAS.get(key)
    if found is None:
        declared = schema._declared_fields
        only = {k for k in keys if k in declared} | {n for n, f in declared.items() if f.required}
        unknown = set(keys) - set(declared)
        # an unknown key must still be refused as the full schema refuses it: keep every field then
        found = _SCHEMAS[key] = schema() if unknown else schema(only=sorted(only))
    return found


def split_list(value: Any) -> list[str]:
    """A list cell: a JSON list as it is; text split on ``;`` or ``,``."""
    if isinstance(value, list):
        return value
    text = str(value)
    sep = ";" if ";" in text else ","
    return [part.strip() for part in text.split(sep) if part.strip()]


def error_csv(errors: list[RowError]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for e in errors:
        writer.writerow([e.row, e.column, e.reason])
    return out.getvalue()


__all__ = ["ImportBatch", "ImportColumn", "ImportRow", "ImportType", "RowError", "file_format", "load_mapping",
           "read_rows", "resolve_columns", "scan", "schema_for", "split_list", "utc_datetime_text"]
