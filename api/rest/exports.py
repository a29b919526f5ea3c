"""REST for exports under ``/api/v1/exports``: ``GET /exports/<type>?format=csv&<the list's filters>`` streams
the list the caller sees, with those filters, as CSV, XLSX or JSON Lines in the columns ``trellis import``
reads. Thin: ``core.services.exports`` checks the caller, the type, the format and the filters before the
first byte (a 404 or 422 then), and reads and encodes as the response is sent. The same export queued for
the worker: ``POST /exports/<type>/jobs`` (202, the job), ``GET /exports/jobs/<id>`` (its status) and
``GET /exports/jobs/<id>/file`` (the file once done), through ``core.services.export_jobs``.
docs/import-export.md."""
from __future__ import annotations

from flask import Response, request, send_file, stream_with_context, url_for
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, fields

from api.rest.crud import Blueprint, NoArgs, body_doc, json_body
from core import runtime as runtime_module
from core.exports import FORMATS, MEDIA_TYPES
from core.services import export_jobs, exports


class ExportArgs(Schema):
    class Meta:
        unknown = EXCLUDE   # the other query arguments are the list's filters: the service validates them

    # checked by the service (a 422 naming `format`, as a bad filter is named), documented as an enum here
    format = fields.String(load_default="csv", metadata={"enum": list(FORMATS), "description": (
        "csv (UTF-8, a header row), xlsx (one sheet, a header row) or jsonl (a JSON object a line).")})


class ExportTypeOut(Schema):
    name = fields.String(metadata={"description": "The type, as in the path: customers, contacts, interactions "
                                                  "or a plugin's."})
    description = fields.String()
    columns = fields.List(fields.String(), metadata={"description": "The columns written, in order: those "
                                                                    "`trellis import` reads."})
    filters = fields.List(fields.String(), metadata={"description": "The query arguments the list takes "
                                                                    "(as GET on the list)."})
    route = fields.String(allow_none=True, metadata={"description": (
        "The REST list exported: its GET path below /api/v1, as the OpenAPI document names it "
        "(`/customers/{customer_id}/history`); null when a plugin declares none.")})


def download_url(job) -> str | None:
    """Where a finished export's file is downloaded (``GET /exports/jobs/<id>/file``); None until it is done
    and once it expired."""
    return url_for("exports.job_file", job_id=job.id) if job.status == "done" else None


class ExportJobOut(Schema):
    class Meta:
        ordered = True

    id = fields.UUID()
    record_type = fields.String(metadata={"description": "The export type (GET /exports)."})
    format = fields.String(metadata={"enum": list(FORMATS), "description": "csv, xlsx or jsonl."})
    filters = fields.Dict(metadata={"description": "The list's filters, as the list's GET takes them."})
    status = fields.String(metadata={"enum": ["queued", "running", "done", "failed", "expired"], "description": (
        "queued (waiting for the worker; after a failed attempt, message says what failed), running, done (the "
        "file can be downloaded until expires_at), failed (message says why) once every attempt failed, or "
        "expired (the file was removed; the job stays).")})
    rows = fields.Integer(metadata={"description": "Rows written, once done."})
    size_bytes = fields.Integer(metadata={"description": "The file's size in bytes, once done."})
    message = fields.String(metadata={"description": "Why it failed; empty otherwise."})
    request_id = fields.String(allow_none=True, metadata={"description": "The id (X-Request-Id) of the request "
                                                                         "that queued the export."})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    expires_at = fields.DateTime(allow_none=True, metadata={"description": "When the file is removed (once done)."})
    download = fields.Function(download_url, allow_none=True, metadata={"description": (
        "The URL of the file (GET /exports/jobs/{id}/file) once done; null before and once expired.")})


JOB_ERRORS = {"404": {"description": "No such job, or another user's (only the requester and admins see one)."}}

EXPORT_DOC = {
    "description": (
        "The records the caller's list shows, with the list's filters as further query arguments (the same "
        "names, values and checks as the list's GET: `GET /exports` names them; an unknown or bad one is a 422 "
        "naming it), streamed as the file is written, in the columns `trellis import` reads (references by "
        "external id), so the file imports back unchanged (a list that is not imported: in the fields of its REST "
        "items). Ordered by id, but for a list with an order of its own (duplicates, analytics_segments, "
        "win_back: as the list ranks it); no paging. An unknown type is a 404."),
    "responses": {"200": {
        "description": "The file, streamed (`Content-Disposition: attachment`).",
        "headers": {"Content-Disposition": {"description": 'attachment; filename="<type>.<format>"',
                                            "schema": {"type": "string"}}},
        "content": {media: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA_TYPES.values()},
    }},
}


def exports_blueprints() -> list[Blueprint]:
    blp = Blueprint("exports", "exports", url_prefix="/exports",
                    description="Exports: a list, with its filters, as CSV, XLSX or JSON Lines that imports back "
                                "unchanged. See docs/import-export.md.")

    @blp.route("", methods=["GET"])
    @blp.arguments(NoArgs, location="query", as_kwargs=True)
    @blp.response(200, ExportTypeOut(many=True))
    def types():
        """The exportable types, their columns and the filters their lists take"""
        from core.services.permissions import require_actor

        require_actor(current_user)
        return exports.describe_types()

    @blp.route("/<string:record_type>", methods=["GET"], parameters=[{
        "in": "path", "name": "record_type", "schema": {"type": "string", "minLength": 1},
        "description": "customers, contacts, interactions or a plugin's type (`GET /exports` lists them)."}])
    @blp.arguments(ExportArgs, location="query")
    @blp.doc(**EXPORT_DOC)
    def export(args, record_type):
        """Export a list (its filters as query arguments) as CSV, XLSX or JSON Lines"""
        filters = {k: v for k, v in request.args.items() if k != "format"}
        prepared = exports.prepare(current_user, record_type, filters, args["format"])
        database = runtime_module.current().database
        body = stream_with_context(exports.stream(prepared, database=database))
        response = Response(body, mimetype=prepared.media_type)
        response.headers["Content-Type"] = prepared.media_type
        response.headers["Content-Disposition"] = f'attachment; filename="{prepared.file_name}"'
        response.headers["X-Accel-Buffering"] = "no"   # nginx: pass it on as it comes
        return response

    @blp.route("/<string:record_type>/jobs", methods=["POST"], parameters=[{
        "in": "path", "name": "record_type", "schema": {"type": "string", "minLength": 1},
        "description": "customers, contacts, interactions or a plugin's type (`GET /exports` lists them)."}])
    @blp.doc(**{**body_doc(export_jobs.ExportJobRequest), "description": (
        "The same export as `GET /exports/{record_type}`, written by the worker instead of within the request: "
        "for big lists, which a proxy or browser would give up waiting for. Checked now as the GET checks it "
        "(an unknown type is a 404; a bad format or filter a 422 naming it, and nothing is queued); the worker "
        "writes the file as the caller, with their scope when it runs. Follow `GET /exports/jobs/{id}` until "
        "`status` is done, then download `download`; the file is kept TRELLIS_EXPORT_RETENTION_HOURS "
        "(24 by default). Only the caller and admins see the job.")})
    @blp.response(202, ExportJobOut)
    def queue_job(record_type):
        """Queue an export of a list (its filters in the body) for the worker"""
        return export_jobs.queue_export_request(current_user, record_type, json_body() if request.data else None)

    @blp.route("/jobs/<uuid:job_id>", methods=["GET"])
    @blp.response(200, ExportJobOut)
    @blp.doc(responses=JOB_ERRORS)
    def job(job_id):
        """A queued export: queued, running, done (with its download URL), failed with the error, or expired"""
        return export_jobs.get_export_job(current_user, job_id)

    @blp.route("/jobs/<uuid:job_id>/file", methods=["GET"])
    @blp.doc(responses={
        "200": {"description": "The file (`Content-Disposition: attachment`).",
                "headers": {"Content-Disposition": {"description": 'attachment; filename="<type>.<format>"',
                                                    "schema": {"type": "string"}}},
                "content": {media: {"schema": {"type": "string", "format": "binary"}}
                            for media in MEDIA_TYPES.values()}},
        **JOB_ERRORS,
        "409": {"description": "The export is not done (queued, running or failed): no file yet."},
        "410": {"description": "The file was removed after its retention (the job is expired): queue it again."}})
    def job_file(job_id):
        """The file of a finished queued export"""
        found = export_jobs.open_export_file(current_user, job_id)
        response = send_file(found.path, mimetype=found.media_type, as_attachment=True,
                             download_name=found.download_name, max_age=0)
        response.headers["Content-Type"] = found.media_type
        response.headers["Content-Disposition"] = f'attachment; filename="{found.download_name}"'
        return response

    return [blp]
