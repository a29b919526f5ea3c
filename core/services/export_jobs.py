"""Exports as queued long tasks (issue #18): ``POST /api/v1/exports/<type>/jobs`` and GraphQL ``exportList``.

The streamed export (``GET /api/v1/exports/<type>``, :mod:`core.services.exports`) writes the file within
the request, which a proxy or browser gives up on for a big list. Here the request checks the export
exactly as the streamed one does (:func:`core.services.exports.prepare`: the actor, the type, the format,
the filters — a bad one is refused naming it, and nothing is recorded), records an :class:`ExportJob`
``queued`` and queues :data:`EXPORT_TASK` in the same unit of work. The worker writes the file with the
same :func:`core.services.exports.stream`, as the user who asked (read again: their scope at run time; a
user deactivated meanwhile is refused), into a temporary file of the export directory
(``TRELLIS_EXPORT_PATH``) that it renames once complete — a file under its final name is always whole.
Only the requester and admins read a job and its file; the file is kept ``TRELLIS_EXPORT_RETENTION_HOURS``
after it was written, then the scheduled job ``exports.expire`` removes it and marks the job ``expired``.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

from marshmallow import fields
from sqlalchemy import Select, select

from core import db, queue
from core import runtime as runtime_module
from core.db import utcnow
from core.errors import Conflict, Forbidden, Gone, NotFound, ValidationFailed
from core.exports import EXTENSIONS, MEDIA_TYPES
from core.models import AuditEntry, ExportJob, Role, User
from core.request_context import current_request_id, request_id_var
from core.schemas import StrictSchema
from core.services import common, exports
from core.services.permissions import require_actor

#: the statuses of a job the worker has still to finish
WAITING = ("queued", "running")
#: the suffix of a file being written (never a finished export's name)
PART_SUFFIX = ".part"


def export_dir(settings: Any = None, *, create: bool = True) -> Path:
    """Where queued exports write their files: ``TRELLIS_EXPORT_PATH`` (default ``<instance>/exports``),
    created unless ``create`` is false."""
    settings = settings or runtime_module.current().settings
    path = Path(settings.export_path or Path(settings.instance_path) / "exports")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _filters(filters: Any) -> dict[str, str]:
    """The filters of a request body as the list's query arguments are: names to text (a number or a
    boolean as it is written in a URL); anything else is refused, naming ``filters``."""
    if filters is None:
        return {}
    if not isinstance(filters, Mapping):
        raise ValidationFailed(fields={"filters": ["An object of the list's filters, e.g. {\"stage\": \"intent\"}."]})
    out: dict[str, str] = {}
    for name, value in filters.items():
        if isinstance(value, bool):
            out[str(name)] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            out[str(name)] = str(value)
        elif value is not None:
            raise ValidationFailed(fields={str(name): ["One value: text, a number or true/false."]})
    return out


class ExportJobRequest(StrictSchema):
    format = fields.String(load_default="csv", metadata={
        "description": "csv (UTF-8, a header row), xlsx (one sheet, a header row) or jsonl (a JSON object a line)."})
    filters = fields.Dict(keys=fields.String(), load_default=dict, allow_none=True, metadata={"description": (
        "The list's filters, by the names and values the list's GET takes as query arguments "
        "(`{\"stage\": \"intent\", \"owner_id\": \"…\"}`; GET /exports names them); a number or true/false "
        "is taken as written in a URL. An unknown or bad one is a 422 naming it.")})


def queue_export_request(actor: Any, record_type: str, data: Any) -> ExportJob:
    """:func:`queue_export` with a transport's body ``{"format", "filters"}`` validated first."""
    require_actor(actor)
    values = common.validate(ExportJobRequest, {} if data is None else data)
    return queue_export(actor, record_type, values.get("filters"), values.get("format"))


def queue_export(actor: Any, record_type: str, filters: Mapping[str, Any] | None = None,
                 fmt: str | None = "csv") -> ExportJob:
    """Check an export as the streamed one is checked (:func:`core.services.exports.prepare`: unknown type
    NotFound; a bad format or filter ValidationFailed naming it) before anything is recorded, then record
    it ``queued`` for the worker — who asked, the request's id — with an audit entry
    ``export_job.requested``, its job (:data:`EXPORT_TASK`) queued in this unit of work."""
    prepared = exports.prepare(actor, record_type, _filters(filters), fmt)
    job = ExportJob(record_type=prepared.record_type, format=prepared.fmt, filters=prepared.filters,
                    status="queued", rows=0, size_bytes=0, message="", file="",
                    requested_by_id=prepared.actor_id, request_id=current_request_id())
    sess = db.session()
    sess.add(job)
    sess.flush()
    # who exported what: the export changes no record, so an audit entry and no event (as privacy.export)
    sess.add(AuditEntry(actor_id=prepared.actor_id, action="export_job.requested", record_type="export_job",
                        record_id=job.id, request_id=job.request_id,
                        changes={"record_type": [None, job.record_type], "format": [None, job.format],
                                 "filters": [None, dict(job.filters)]}))
    sess.flush()
    queue.enqueue(EXPORT_TASK, job.id)
    return job


def visible_jobs(actor: Any) -> Select:
    """SELECT of the export jobs ``actor`` may read: their own; every one for an admin."""
    user = require_actor(actor)
    stmt = select(ExportJob)
    if user.role != Role.ADMIN.value:
        stmt = stmt.where(ExportJob.requested_by_id == user.id)
    return stmt


def get_export_job(actor: Any, job_id: Any) -> ExportJob:
    """One export job by id, for the user who asked or an admin; NotFound for anyone else (so ids cannot
    be probed) and for an unknown id."""
    the_id = common.parse_uuid(job_id)
    job = db.session().scalars(visible_jobs(actor).where(ExportJob.id == the_id)).first()
    if job is None:
        raise NotFound("No export job with this id.")
    return job


@dataclass(frozen=True)
class ExportFile:
    """A finished export's file, to send: its path, media type and the name to save it under."""

    path: Path
    media_type: str
    download_name: str


def open_export_file(actor: Any, job_id: Any) -> ExportFile:
    """The file of a finished export (as :func:`get_export_job` finds the job). Not finished yet (queued,
    running, failed): Conflict; removed after its retention: Gone."""
    job = get_export_job(actor, job_id)
    if job.status == "expired":
        raise Gone(f"This export's file was removed when it expired at {job.expires_at:%Y-%m-%d %H:%M} UTC; "
                   "queue the export again.")
    if job.status != "done":
        hint = job.message if job.status == "failed" else "follow the job until its status is done"
        raise Conflict(f"This export is {job.status}, it has no file yet: {hint}.")
    path = export_dir() / job.file
    if not job.file or not path.is_file():
        raise Gone("This export's file is no longer there; queue the export again.")
    return ExportFile(path, MEDIA_TYPES[job.format], f"{job.record_type}{EXTENSIONS[job.format]}")


# --- the worker ----------------------------------------------------------------------------------------

def _run(rt: Any, job_id: str, *, final: bool) -> str:
    """The worker's body of :data:`EXPORT_TASK`: mark the job ``running`` (committed), write the file as the
    user who asked — checked again, their scope as it is now — into a temporary file renamed once whole,
    then record ``done`` with the rows, the size and when the file expires, and notify them. A job no
    longer waiting is left alone (a retry after the commit changes nothing). A failure removes the
    temporary file, records the error — ``queued`` again while attempts remain, ``failed`` on the last
    (``final``), the requester notified — and is raised."""
    database = rt.database
    with database.unit_of_work():
        job = db.session().get(ExportJob, common.parse_uuid(job_id))
        if job is None or job.status not in WAITING:
            return "nothing to do"
        job.status, job.started_at, job.finished_at = "running", utcnow(), None
        the_id, request_id = job.id, job.request_id
        record_type, fmt, filters, user_id = job.record_type, job.format, dict(job.filters or {}), job.requested_by_id
    directory = export_dir(rt.settings)
    name = f"{the_id.hex}{EXTENSIONS.get(fmt, '')}"
    part = directory / f".{name}.{uuid.uuid4().hex}{PART_SUFFIX}"
    queued_by = request_id_var.set(request_id) if request_id else None
    try:
        with database.unit_of_work() as sess:
            actor = sess.get(User, user_id) if user_id else None
            if actor is None or not actor.is_active:
                raise Forbidden("The user who asked for this export is no longer active: nothing is written "
                                "on their behalf.")
            prepared = exports.prepare(actor, record_type, filters, fmt)
        tally: dict[str, int] = {}
        with open(part, "wb") as out:
            for chunk in exports.stream(prepared, database=database, tally=tally):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        size = part.stat().st_size
        os.replace(part, directory / name)   # atomic: the final name only ever holds a whole file
        with database.unit_of_work() as sess:
            job = sess.get(ExportJob, the_id)
            job.status, job.finished_at, job.message = "done", utcnow(), ""
            job.rows, job.size_bytes, job.file = tally.get("rows", 0), size, name
            job.expires_at = job.finished_at + timedelta(hours=rt.settings.export_retention_hours)
            _notify(sess, job, "export.ready", f"Your export of {record_type} is ready",
                    f"{job.rows:,} rows, {fmt}; it can be downloaded until {job.expires_at:%Y-%m-%d %H:%M} UTC.")
            summary = f"{job.rows} rows, {size} bytes"
    except Exception as exc:
        part.unlink(missing_ok=True)
        with database.unit_of_work() as sess:
            failed = sess.get(ExportJob, the_id)
            if failed is not None:
                failed.status = "failed" if final else "queued"
                failed.finished_at = utcnow() if final else None
                failed.message = (queue.describe_error(exc, None) + ("" if final else " (it will be tried again)"))[:2000]
                if final:
                    _notify(sess, failed, "export.failed", f"Your export of {record_type} failed", failed.message)
        raise
    finally:
        if queued_by is not None:
            request_id_var.reset(queued_by)
    return summary


def _notify(sess: Any, job: ExportJob, kind: str, title: str, body: str) -> None:
    """Tell the requester (if still an active user) how their export ended."""
    from core.services import notifications

    user = sess.get(User, job.requested_by_id) if job.requested_by_id else None
    if user is not None and user.is_active:
        notifications.notify(user, kind, title, body, record=job,
                             data={"export_job_id": str(job.id), "record_type": job.record_type,
                                   "format": job.format, "status": job.status})


def _waiting(rt: Any) -> list[str]:
    with rt.database.unit_of_work():
        return [str(i) for i in db.session().scalars(
            select(ExportJob.id).where(ExportJob.status.in_(WAITING)).order_by(ExportJob.created_at))]


#: A queued export, written by the worker.
EXPORT_TASK = queue.Task("trellis.exports.write", _run, _waiting)


# --- retention -------------------------------------------------------------------------------------------

def expire(now: datetime | None = None) -> str:
    """The scheduled job ``exports.expire``: remove the files of the finished exports whose ``expires_at``
    has passed and mark those jobs ``expired`` (the rows stay), and the temporary files a killed worker
    left behind once they are older than the retention. Runs in the caller's unit of work."""
    now = now or utcnow()
    settings = runtime_module.current().settings
    directory = export_dir(settings, create=False)   # no directory yet: nothing was exported
    jobs = db.session().scalars(select(ExportJob).where(ExportJob.status == "done", ExportJob.expires_at <= now)).all()
    for job in jobs:
        if job.file:
            (directory / job.file).unlink(missing_ok=True)
        job.status, job.file = "expired", ""
    stale = now.timestamp() - settings.export_retention_hours * 3600
    leftovers = 0
    for part in directory.glob(f".*{PART_SUFFIX}") if directory.is_dir() else ():
        try:
            if part.stat().st_mtime < min(stale, time.time() - 3600):
                part.unlink()
                leftovers += 1
        except OSError:   # another process removed it meanwhile
            continue
    return f"{len(jobs)} export(s) expired" + (f", {leftovers} unfinished file(s) removed" if leftovers else "")


__all__ = ["EXPORT_TASK", "ExportFile", "ExportJobRequest", "queue_export_request", "expire", "export_dir", "get_export_job", "open_export_file", "queue_export",
           "visible_jobs"]
