"""REST for exports under ``/api/v1/exports``: ``GET /exports/<type>?format=csv&<the list's filters>`` streams
the list the caller sees, with those filters, as CSV, XLSX or JSON Lines in the columns ``trellis import``
reads. Thin: ``core.services.exports`` checks the caller, the type, the format and the filters before the
first byte (a 404 or 422 then), and reads and encodes as the response is sent. docs/import-export.md."""
from __future__ import annotations

from flask import Response, request, stream_with_context
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, fields

from api.rest.crud import Blueprint
from core import runtime as runtime_module
from core.exports import FORMATS, MEDIA_TYPES
from core.services import exports


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


EXPORT_DOC = {
    "description": (
        "The records the caller's list shows, with the list's filters as further query arguments (the same "
        "names, values and checks as the list's GET: `GET /exports` names them; an unknown or bad one is a 422 "
        "naming it), streamed as the file is written, in the columns `trellis import` reads (references by "
        "external id), so the file imports back unchanged. Ordered by id; no paging. An unknown type is a 404."),
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

    return [blp]
