"""Importing files (admins only): ``trellis import`` and ``POST /api/v1/imports`` both end here.

A file is read as a stream (``core.imports.read_rows``) and written in batches; each batch is one
transaction holding its records, their audit entries and events (through the bulk recorder) *and* the
progress of its :class:`core.models.ImportRun`, so whatever a run reports done is committed, and nothing
committed is done twice. A run interrupted (Ctrl-C, a crash, a failed batch) is continued by importing
the same file with the same mapping again: the rows it has done are skipped. A file imported again after
it finished is read again from the start, and changes nothing: rows are found by their ``external_id``
and only a row whose values differ from the record's is written (as an update, through the service's own
update rules). A dry run checks every row in transactions it rolls back: nothing is written.

Per-row problems do not stop an import: the row is skipped and reported (row, column, reason); the run
keeps the first :data:`MAX_STORED_ERRORS`, the CLI writes every one to its ``--errors`` file.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from marshmallow import Schema, fields
from sqlalchemy import select

from core import db, queue
from core import runtime as runtime_module
from core.db import utcnow
from core.errors import NotFound, ValidationFailed
from core.imports import ImportBatch, ImportRow, ImportType, RowError, file_format, read_rows, scan
from core.models import ImportRun, Role, User
from core.request_context import current_request_id, request_id_var
from core.schemas import StrictSchema
from core.services import common
from core.services.bulk import BulkRecorder, gc_paused
from core.services.permissions import require_role

#: errors kept on the run (the REST status shows them); the CLI's ``--errors`` file has them all
MAX_STORED_ERRORS = 1000

#: statuses of a run that a rerun of the same file continues
UNFINISHED = ("pending", "running", "interrupted", "failed")


def types() -> dict[str, ImportType]:
    """Every import type of the app: the core's and the enabled plugins' (``trellis_import_types``)."""
    return runtime_module.current().import_types


def import_type(name: str) -> ImportType:
    found = types().get(name)
    if found is None:
        raise ValidationFailed(fields={"type": [f"Unknown import type '{name}'. Known: {', '.join(sorted(types()))}."]})
    return found


def _require_admin(actor: Any) -> User:
    return require_role(actor, Role.ADMIN.value)


def fingerprint(sha256: str, import_type: str, mapping: dict) -> str:
    """What makes a rerun "the same import": the file's bytes, the type and the mapping."""
    import hashlib

    text = json.dumps({"file": sha256, "type": import_type, "mapping": mapping}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Outcome:
    """What an import did (also for a dry run, which has no run record)."""

    record_type: str
    rows_done: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    resumed_from: int = 0
    run_id: uuid.UUID | None = None
    status: str = "done"
    dry_run: bool = False
    rows_total: int | None = None
    first_errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        if self.dry_run:
            text = (f"{self.record_type}: {self.rows_done:,} rows checked, nothing written: {self.created:,} to create, "
                    f"{self.updated:,} to update, {self.unchanged:,} unchanged, {self.errors:,} with errors")
        else:
            text = (f"{self.record_type}: {self.rows_done:,} rows imported: {self.created:,} created, "
                    f"{self.updated:,} updated, {self.unchanged:,} unchanged, {self.errors:,} with errors")
        if self.resumed_from:
            text += f" (continued after row {self.resumed_from:,} of an earlier run)"
        return text + "."


def start_run(actor: Any, record_type: str, path: str | Path, *, mapping: dict | None = None,
              file_name: str | None = None, fmt: str | None = None, dry_run: bool = False,
              stored_path: str = "") -> ImportRun:
    """Record an import to run (``pending``), or, for a file and mapping whose last run did not finish,
    return that run to continue. Checks the actor (admins only), the type, the format and the columns
    (the header; a file whose columns do not fit is refused before anything is queued)."""
    user = _require_admin(actor)
    itype = import_type(record_type)
    name = file_name or Path(path).name
    fmt = file_format(name, fmt)
    mapping = dict(mapping or {})
    _check_header(path, fmt, itype, mapping)
    facts = scan(path, fmt)
    key = fingerprint(facts.sha256, itype.name, mapping)
    if not dry_run:
        earlier = db.session().scalars(
            select(ImportRun).where(ImportRun.file_hash == key, ImportRun.record_type == itype.name,
                                    ImportRun.dry_run.is_(False), ImportRun.status.in_(UNFINISHED))
            .order_by(ImportRun.created_at.desc())).first()
        if earlier is not None:
            if stored_path and earlier.stored_path != stored_path:
                _discard(earlier.stored_path)
                earlier.stored_path = stored_path
            earlier.status = "pending" if earlier.status != "running" else earlier.status
            db.session().flush()
            return earlier
    run = ImportRun(record_type=itype.name, file_name=name[:255], file_hash=key, format=fmt, mapping=mapping,
                    dry_run=dry_run, status="pending", actor_id=user.id, stored_path=stored_path, errors=[],
                    message="", request_id=current_request_id())
    db.session().add(run)
    db.session().flush()
    return run


def _check_header(path: str | Path, fmt: str, itype: ImportType, mapping: dict) -> None:
    """Read up to the first row, so a header that does not fit is refused at once."""
    rows = read_rows(path, fmt, itype, mapping)
    try:
        next(rows, None)
    finally:
        rows.close()


def _discard(path: str) -> None:
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def describe_types(actor: Any) -> list[dict]:
    """The import types and their columns (admins)."""
    _require_admin(actor)
    return [{"name": t.name, "description": t.description,
             "columns": [{"name": c.name, "description": c.description, "required": c.required} for c in t.columns]}
            for _, t in sorted(types().items())]


def get_run(actor: Any, run_id: Any) -> ImportRun:
    _require_admin(actor)
    run = db.session().get(ImportRun, common.parse_uuid(run_id))
    if run is None:
        raise NotFound("No import run with this id.")
    return run


# --- the runs' list (``GET /imports``; `trellis export imports` writes the same fields) ----------------

class RowErrorOut(Schema):
    row = fields.Integer(metadata={"description": "The row as the user sees it (CSV/XLSX: the header is row 1; "
                                                  "JSON Lines: the line)."})
    column = fields.String()
    reason = fields.String()


class ImportRunOut(Schema):
    class Meta:
        ordered = True

    id = fields.UUID()
    record_type = fields.String(metadata={"description": "The import type (GET /imports/types)."})
    file_name = fields.String()
    format = fields.String(metadata={"description": "csv, xlsx or jsonl"})
    dry_run = fields.Boolean()
    request_id = fields.String(allow_none=True, metadata={"description": (
        "The upload request's id (X-Request-Id): the audit entries of what the run writes carry it "
        "(GET /audit?request_id=).")})
    status = fields.String(metadata={"description": "pending (waiting for the worker), running, done, failed or "
                                                    "interrupted (upload the same file again to continue)"})
    rows_done = fields.Integer(metadata={"description": "Rows committed (checked, for a dry run) so far."})
    created = fields.Integer(attribute="created_count")
    updated = fields.Integer(attribute="updated_count")
    unchanged = fields.Integer(attribute="unchanged_count")
    error_count = fields.Integer()
    errors = fields.List(fields.Nested(RowErrorOut), metadata={
        "description": f"The first {MAX_STORED_ERRORS} row errors (GET …/errors: as CSV)."})
    message = fields.String(metadata={"description": "Why the run failed."})
    mapping = fields.Dict()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class ImportRunFilter(StrictSchema):
    """The import runs' list takes no filters: any is refused (a ValidationFailed naming it)."""


def filtered_runs(actor: Any, filters: Any = None):
    """The SELECT of the runs :func:`list_runs` lists (``filters`` must be empty: ``ImportRunFilter``),
    unordered; admins only (anyone else: Forbidden)."""
    _require_admin(actor)
    common.validate(ImportRunFilter, dict(filters or {}))
    return select(ImportRun)


def list_runs(actor: Any, *, page: Any = common.PageRequest()) -> common.Page[ImportRun]:
    """Import runs, newest first (admins); ``page`` an offset ``PageRequest`` or a cursor ``KeysetRequest``."""
    return common.paginate(filtered_runs(actor), page, [ImportRun.created_at.desc()], ImportRun.id)


# --- running -------------------------------------------------------------------------------------------

Progress = Callable[[int, "int | None"], None]


def run_import(run_id: Any, *, database: Any = None, path: str | Path | None = None,
               progress: Progress | None = None, on_errors: Callable[[list[RowError]], None] | None = None,
               fail_after_batches: int | None = None) -> Outcome:
    """Run (or continue) the recorded import ``run_id`` to its end: the background job's body, and what
    ``trellis import`` calls. Opens its own units of work (one per batch): call it outside one. ``path``
    is the file (default: the run's stored upload). ``fail_after_batches`` (tests) raises after that many
    batches were committed, as a crash would."""
    database = database or _database()
    with database.unit_of_work():
        run = db.session().get(ImportRun, common.parse_uuid(run_id))
        if run is None:
            raise NotFound("No import run with this id.")
        actor = db.session().get(User, run.actor_id) if run.actor_id else None
        _require_admin(actor)
        itype = import_type(run.record_type)
        source = Path(path or run.stored_path)
        skip, dry_run, mapping, fmt = run.rows_done, run.dry_run, dict(run.mapping or {}), run.format
        if dry_run:
            skip = 0
        run.status, run.started_at, run.finished_at, run.message = "running", run.started_at or utcnow(), None, ""
        if not skip:
            run.created_count = run.updated_count = run.unchanged_count = run.error_count = 0
            run.errors = []
    outcome = Outcome(itype.name, rows_done=skip, resumed_from=skip, run_id=run.id, dry_run=dry_run,
                      created=run.created_count, updated=run.updated_count, unchanged=run.unchanged_count,
                      errors=run.error_count)
    # a queued run writes on behalf of the request that queued it (its audit entries and events carry that id)
    queued_by = request_id_var.set(run.request_id) if run.request_id else None
    try:
        _run_batches(database, itype, source, fmt, mapping, actor, outcome, skip=skip, dry_run=dry_run,
                     run_id=run.id, progress=progress, on_errors=on_errors, fail_after_batches=fail_after_batches)
    except KeyboardInterrupt:
        _finish(database, run.id, "interrupted", "Interrupted; import the same file again to continue.")
        raise
    except Exception as exc:
        _finish(database, run.id, "failed", _message(exc)[:2000])
        raise
    finally:
        if queued_by is not None:
            request_id_var.reset(queued_by)
    _finish(database, run.id, "done", "")
    if run.stored_path:
        _discard(run.stored_path)
    outcome.status = "done"
    return outcome


def dry_run(actor: Any, record_type: str, path: str | Path, *, mapping: dict | None = None, fmt: str | None = None,
            database: Any = None, progress: Progress | None = None,
            on_errors: Callable[[list[RowError]], None] | None = None) -> Outcome:
    """Check every row of a file as an import would, writing nothing (not even a run record)."""
    database = database or _database()
    with database.unit_of_work():
        _require_admin(actor)
        itype = import_type(record_type)
        fmt = file_format(str(path), fmt)
    outcome = Outcome(itype.name, dry_run=True)
    _run_batches(database, itype, Path(path), fmt, dict(mapping or {}), actor, outcome, skip=0, dry_run=True,
                 run_id=None, progress=progress, on_errors=on_errors)
    return outcome


def _message(exc: BaseException) -> str:
    from core.errors import TrellisError

    if isinstance(exc, TrellisError):
        return exc.message + "".join(f" {k}: {' '.join(v)}" for k, v in (exc.fields or {}).items())
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split()) or type(exc).__name__


def _database() -> Any:
    return runtime_module.current().database


def _finish(database: Any, run_id: uuid.UUID, status: str, message: str) -> None:
    with database.unit_of_work():
        run = db.session().get(ImportRun, run_id)
        if run is not None:
            run.status, run.message, run.finished_at = status, message, utcnow()


def _batches(rows: Iterator[ImportRow], size: int, skip: int) -> Iterator[list[ImportRow]]:
    batch: list[ImportRow] = []
    for index, row in enumerate(rows):
        if index < skip:
            continue
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _DryRunRollback(Exception):
    """Raised inside a dry run's unit of work so it rolls back."""


def _run_batches(database: Any, itype: ImportType, source: Path, fmt: str, mapping: dict, actor: Any,
                 outcome: Outcome, *, skip: int, dry_run: bool, run_id: uuid.UUID | None,
                 progress: Progress | None, on_errors: Callable[[list[RowError]], None] | None,
                 fail_after_batches: int | None = None) -> None:
    facts_rows = None
    if progress is not None and fmt != "xlsx":
        facts_rows = scan(source, fmt).rows
    outcome.rows_total = facts_rows
    columns: dict[str, str] = {}
    if progress is not None:
        progress(outcome.rows_done, facts_rows)
    done_batches = 0
    for rows in _batches(read_rows(source, fmt, itype, mapping, columns), itype.batch_size, skip):
        counts: dict[str, int] = {}
        errors: list[RowError] = []
        try:
            with database.unit_of_work() as sess, gc_paused():
                actor_here = sess.get(User, actor.id) if actor is not None else None
                rec = BulkRecorder(actor_here)
                batch = ImportBatch(rows, actor=actor_here, recorder=rec, now=utcnow(), columns=columns)
                for row in rows:
                    if "_error" in row.values:
                        batch.fail(row, "_row", row.values.pop("_error"))
                itype.write(batch)
                rec.flush(itype.models)
                for row in rows:
                    if not row.failed:
                        counts[row.outcome or "unchanged"] = counts.get(row.outcome or "unchanged", 0) + 1
                errors = batch.errors
                if dry_run:
                    raise _DryRunRollback
                _record_progress(run_id, len(rows), counts, errors)
        except _DryRunRollback:
            if run_id is not None:
                with database.unit_of_work():
                    _record_progress(run_id, len(rows), counts, errors)
        outcome.rows_done += len(rows)
        outcome.created += counts.get("created", 0)
        outcome.updated += counts.get("updated", 0)
        outcome.unchanged += counts.get("unchanged", 0)
        outcome.errors += len(errors)
        if len(outcome.first_errors) < MAX_STORED_ERRORS:
            outcome.first_errors.extend(errors[:MAX_STORED_ERRORS - len(outcome.first_errors)])
        if errors and on_errors is not None:
            on_errors(errors)
        if progress is not None:
            progress(outcome.rows_done, facts_rows)
        done_batches += 1
        if not dry_run and done_batches & (done_batches - 1) == 0:   # 1, 2, 4, 8 … batches
            refresh_statistics(database, itype.models)
        if fail_after_batches is not None and done_batches >= fail_after_batches:
            raise RuntimeError(f"Simulated failure after {done_batches} batch(es).")


def refresh_statistics(database: Any, models: Any) -> None:
    """On PostgreSQL, ``ANALYZE`` the tables of ``models`` and the workflow history, each in its own short
    transaction: the tables an import looks its rows' records up in while it fills them; elsewhere nothing.

    An import calls it after 1, 2, 4, 8 … batches, i.e. each time it has about doubled what it wrote. Each
    batch looks its rows' records up (by external id, a customer's purchases and workflow history) in the
    tables the import is filling; planned with the statistics of the tables as they were before (empty, or
    never analysed), those lookups scan the whole table instead of an index — with 200,000 purchases 70 ms
    per query and batch, growing with every batch. Autovacuum analyses a table only after a tenth of it
    changed and at most once a minute (and not at all where it is off), too late for an import that
    doubles a table in seconds. ANALYZE reads a fixed sample (tens of milliseconds); a table the database
    user does not own is skipped with a warning, not an error. Audit entries and events are written, never
    read, by an import: not analysed."""
    from sqlalchemy import text

    from core.models import WorkflowTransitionEntry

    if database.engine.dialect.name != "postgresql":
        return
    for table in dict.fromkeys(m.__table__ for m in (*models, WorkflowTransitionEntry)):
        with database.unit_of_work() as sess:
            name = sess.get_bind().dialect.identifier_preparer.format_table(table)
            sess.execute(text(f"ANALYZE {name}"))


def _record_progress(run_id: uuid.UUID | None, rows: int, counts: dict[str, int], errors: list[RowError]) -> None:
    if run_id is None:
        return
    run = db.session().get(ImportRun, run_id)
    run.rows_done += rows
    run.created_count += counts.get("created", 0)
    run.updated_count += counts.get("updated", 0)
    run.unchanged_count += counts.get("unchanged", 0)
    run.error_count += len(errors)
    room = MAX_STORED_ERRORS - len(run.errors or [])
    if errors and room > 0:
        run.errors = list(run.errors or []) + [{"row": e.row, "column": e.column, "reason": e.reason}
                                               for e in errors[:room]]
    run.updated_at = utcnow()


# --- the REST job --------------------------------------------------------------------------------------

def upload_dir() -> Path:
    """Where uploaded files wait for the worker: ``TRELLIS_IMPORT_PATH`` (default: ``<instance>/imports``)."""
    settings = runtime_module.current().settings
    path = Path(settings.import_path or Path(settings.instance_path) / "imports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def queue_upload(actor: Any, record_type: str, stream: Any, file_name: str, *, mapping: dict | None = None,
                 dry_run: bool = False) -> ImportRun:
    """Store an uploaded file, record its run as ``pending`` and queue its job (:data:`RUN_TASK`) in this
    unit of work, so the worker starts it as soon as the upload commits (a rollback leaves neither); the
    same file and mapping as an unfinished run continues that run. Checks everything :func:`start_run`
    checks."""
    _require_admin(actor)
    import_type(record_type)
    target = upload_dir() / f"{uuid.uuid4().hex}{Path(file_name).suffix.lower()[:10]}"
    with open(target, "wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    try:
        run = start_run(actor, record_type, target, mapping=mapping, file_name=file_name, dry_run=dry_run,
                        stored_path=str(target))
    except BaseException:
        _discard(str(target))
        raise
    if run.status == "pending":   # a run still running picks the new upload up itself: no second job
        queue.enqueue(RUN_TASK, run.id)
    return run


def _waiting_ids(database: Any) -> list[uuid.UUID]:
    """The uploads waiting for the worker, oldest first (runs of ``trellis import`` have no stored file)."""
    with database.unit_of_work():
        return list(db.session().scalars(select(ImportRun.id).where(ImportRun.status == "pending",
                                                                    ImportRun.stored_path != "")
                                         .order_by(ImportRun.created_at)))


def _still_pending(database: Any, run_id: Any) -> bool:
    with database.unit_of_work():
        run = db.session().get(ImportRun, common.parse_uuid(run_id))
        return run is not None and run.status == "pending" and bool(run.stored_path)


def run_pending(now: datetime | None = None, *, database: Any = None) -> str:
    """The scheduled job ``imports.run``: run every pending upload, oldest first — a safety net for uploads
    whose own job (:data:`RUN_TASK`) was lost or that were queued before uploads had one. Called by
    ``trellis tick`` and the worker inside a unit of work it does not write in; each import opens its own."""
    database = database or _database()
    ids = _waiting_ids(database)
    done = 0
    for run_id in ids:
        if not _still_pending(database, run_id):   # its own job ran it meanwhile
            continue
        try:
            run_import(run_id, database=database)
            done += 1
        except Exception:  # recorded on the run (failed, with its message); the next one still runs
            continue
    return f"{done} of {len(ids)} import(s) run"


def _run_queued(rt: Any, run_id: str, *, final: bool) -> str:
    """The worker's body of :data:`RUN_TASK`: run the upload ``run_id`` if it still waits (``pending``); a
    run the sweep or an earlier attempt already took is left alone. A failure is recorded on the run
    (``failed``, as before: uploading the same file again continues it) and raised, so the job's line
    says so; a retry of the job then finds nothing to do. A run that fails before it starts (the database
    is gone, its admin is no longer one) stays ``pending`` for the next attempt, and is ``failed`` after
    the last (``final``), so no runner tries it forever."""
    if not _still_pending(rt.database, run_id):
        return "nothing to do"
    try:
        outcome = run_import(run_id, database=rt.database)
    except Exception as exc:
        if final and _still_pending(rt.database, run_id):
            _finish(rt.database, common.parse_uuid(run_id), "failed", _message(exc)[:2000])
        raise
    return f"{outcome.rows_done} rows, {outcome.errors} with errors"


#: An uploaded import, run by the worker as soon as its upload commits. It shares the lock of the scheduled
#: sweep ``imports.run``: on PostgreSQL no two imports (queued or swept) run at once, so none runs twice.
RUN_TASK = queue.Task("trellis.imports.run", _run_queued, lambda rt: [str(i) for i in _waiting_ids(rt.database)],
                      lock=queue.JOB_TASK_PREFIX + "imports.run")


__all__ = ["MAX_STORED_ERRORS", "Outcome", "RUN_TASK", "ImportRunFilter", "ImportRunOut", "dry_run", "filtered_runs", "get_run", "import_type", "list_runs", "queue_upload",
           "run_import", "run_pending", "start_run", "types"]
