"""REST for imports under ``/api/v1/imports`` (admins only): upload a file to import as a background job,
then read the run's status, counts and row errors. Thin: ``core.services.imports`` checks the role, the
type and the file's columns, stores the upload, records the run and queues its job in the upload's
transaction; the worker starts it as soon as the upload commits. docs/import-export.md."""
from __future__ import annotations

import csv
import io

from flask import Response, request
from flask_login import current_user
from marshmallow import Schema, fields

from api.rest.crud import LINK_HEADER, Blueprint, NoArgs, StrictCursorArgs, body_limit, list_query, served
from core.errors import ValidationFailed
from core.imports import load_mapping
from core.schemas import MAX_PAGE_SIZE
from core.services import imports
from core.services.imports import ImportRunOut

#: the largest file ``POST /imports`` takes (a million interactions as CSV is about 100 MB)
IMPORT_REQUEST_BYTES = 512 * 1024 * 1024


class ImportColumnOut(Schema):
    name = fields.String()
    description = fields.String()
    required = fields.Boolean()


class ImportTypeOut(Schema):
    name = fields.String()
    description = fields.String()
    columns = fields.List(fields.Nested(ImportColumnOut))


UPLOAD_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["type", "file"],
    "properties": {
        "type": {"type": "string", "description": "The import type: customers, contacts, interactions or a plugin's."},
        "file": {"type": "string", "format": "binary", "description": "The file: .csv, .xlsx or .jsonl."},
        "mapping": {"type": "string", "description": 'JSON {"column in the file": "column of the type" | null}.'},
        "dry_run": {"type": "boolean", "description": "Check every row, write nothing."},
    }}}}}}


def imports_blueprints() -> list[Blueprint]:
    blp = Blueprint("imports", "imports", url_prefix="/imports",
                    description="Imports (admins): files of customers, contacts, interactions or a plugin's records "
                                "imported as background jobs. See docs/import-export.md.")

    @blp.route("", methods=["POST"])
    @body_limit(IMPORT_REQUEST_BYTES)
    @blp.doc(**UPLOAD_DOC)
    @blp.response(202, ImportRunOut)
    def upload():
        """Queue a file for import (the same file and mapping as an unfinished run continues that run)"""
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ValidationFailed(fields={"file": ["Attach the file (multipart/form-data, field 'file')."]})
        dry_run = request.form.get("dry_run", "false").strip().lower()
        if dry_run not in ("true", "false", "1", "0", ""):
            raise ValidationFailed(fields={"dry_run": ["true or false."]})
        return imports.queue_upload(current_user, request.form.get("type", ""), upload.stream, upload.filename,
                                    mapping=load_mapping(request.form.get("mapping")),
                                    dry_run=dry_run in ("true", "1"))

    @blp.route("", methods=["GET"])
    @blp.arguments(StrictCursorArgs, location="query")
    @blp.response(200, ImportRunOut(many=True), headers={"Link": LINK_HEADER})
    @blp.paginate(max_page_size=MAX_PAGE_SIZE)
    def list_runs(args, pagination_parameters):
        """Import runs, newest first"""
        _, paging = list_query(pagination_parameters, args)
        return served(pagination_parameters, imports.list_runs(current_user, page=paging))

    @blp.route("/types", methods=["GET"])
    @blp.arguments(NoArgs, location="query", as_kwargs=True)
    @blp.response(200, ImportTypeOut(many=True))
    def types():
        """The import types and their columns"""
        return imports.describe_types(current_user)

    @blp.route("/<uuid:run_id>", methods=["GET"])
    @blp.response(200, ImportRunOut)
    def get_run(run_id):
        """An import run: its status, rows done, counts and row errors"""
        return imports.get_run(current_user, run_id)

    @blp.route("/<uuid:run_id>/errors", methods=["GET"])
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    def run_errors(run_id):
        """The run's stored row errors as CSV (row, column, reason)"""
        run = imports.get_run(current_user, run_id)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["row", "column", "reason"])
        writer.writerows([e["row"], e["column"], e["reason"]] for e in run.errors or [])
        return Response(out.getvalue(), mimetype="text/csv")

    return [blp]
