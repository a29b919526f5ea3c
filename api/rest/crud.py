"""A REST resource for any record served by a conforming service: list, create, get, PATCH, DELETE,
restore. The core uses it for customers, contacts and interactions; plugins use it for theirs.

The view only translates: query and body go to the service as plain data, records come back through the
output schema. Bodies are validated by the service (with the same schema that documents them here), so
the rule is written once and both transports answer alike.
"""
from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields

from core.schemas import MAX_PAGE_SIZE
from core.services.common import CrudService, PageRequest  # CrudService: importable from here too


#: the body limit of bulk endpoints (POS batches, imports, scans), above the app-wide TRELLIS_MAX_REQUEST_BYTES
BULK_REQUEST_BYTES = 8 * 1024 * 1024


def body_limit(max_bytes: int):
    """Let a view accept bodies up to ``max_bytes`` instead of the app-wide ``TRELLIS_MAX_REQUEST_BYTES``
    (larger for bulk uploads, or smaller). Put it right under ``@blp.route``. The limit is applied by
    :func:`api.input.apply_body_limit` before anything reads the body (the input vetting included); a
    larger body is a 413 JSON answer naming the limit."""

    def decorate(view):
        view.max_body_bytes = max_bytes  # copied onto the wrappers above it by functools.wraps
        return view

    return decorate


def json_body() -> Any:
    """The request's JSON body as sent (a malformed body is a 400 from Flask, named as such)."""
    return request.get_json(force=False, silent=False)


def page_request(pagination_parameters) -> PageRequest:
    """flask-smorest's ``page`` / ``page_size`` → the service's PageRequest (a page past any list is a 422
    naming ``page``)."""
    return PageRequest(offset=pagination_parameters.first_item, limit=pagination_parameters.page_size,
                       offset_field="page")


def body_doc(schema: type[Schema]) -> dict:
    """OpenAPI ``requestBody`` for a schema the service validates."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def list_args_schema(filter_schema: type[Schema], sortable: list[str]) -> type[Schema]:
    """Query arguments of a list, for the OpenAPI document: the service's filters plus ``sort``
    (``page`` and ``page_size`` come from the paginate decorator). The service validates the raw query
    strictly, so an unknown filter is a 422 naming it rather than a silently wider list."""
    meta = type("Meta", (), {"unknown": EXCLUDE})
    return type(f"{filter_schema.__name__}Query", (filter_schema,), {
        "Meta": meta,
        "sort": fields.String(metadata={"description": "Comma-separated keys, '-' for descending: "
                                                       + ", ".join(sortable)}),
    })


def crud_blueprint(name: str, url_prefix: str, *, service: CrudService, out_schema: type[Schema],
                   create_schema: type[Schema], update_schema: type[Schema], filter_schema: type[Schema],
                   sortable: list[str], description: str = "") -> Blueprint:
    blp = Blueprint(name, name, url_prefix=url_prefix, description=description)
    query_schema = list_args_schema(filter_schema, sortable)

    @blp.route("")
    class Collection(MethodView):
        @blp.arguments(query_schema, location="query", as_kwargs=False)
        @blp.response(200, out_schema(many=True))
        @blp.paginate(max_page_size=MAX_PAGE_SIZE)
        def get(self, args, pagination_parameters):
            """List (filtered, sorted, paginated; metadata in the X-Pagination header)"""
            args = dict(request.args)
            for key in ("page", "page_size"):
                args.pop(key, None)
            sort = args.pop("sort", None)
            page = service.list(current_user, args, sort=sort,
                                page=page_request(pagination_parameters))
            pagination_parameters.item_count = page.total
            return page.items

        @blp.doc(**body_doc(create_schema))
        @blp.response(201, out_schema)
        def post(self):
            """Create"""
            return service.create(current_user, json_body())

    @blp.route("/<uuid:record_id>")
    class Item(MethodView):
        @blp.response(200, out_schema)
        def get(self, record_id):
            """Read one"""
            return service.get(current_user, record_id)

        @blp.doc(**body_doc(update_schema))
        @blp.response(200, out_schema)
        def patch(self, record_id):
            """Change some fields; send the `version` you read (a stale one is 409)"""
            return service.update(current_user, record_id, json_body())

        @blp.response(204)
        def delete(self, record_id):
            """Soft delete (restorable)"""
            service.delete(current_user, record_id)

    @blp.route("/<uuid:record_id>/restore", methods=["POST"])
    @blp.response(200, out_schema)
    def restore(record_id):
        """Restore a deleted record"""
        return service.restore(current_user, record_id)

    return blp
