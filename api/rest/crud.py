"""A REST resource for any record served by a conforming service: list, create, get, PATCH, DELETE,
restore. The core uses it for customers, contacts and interactions; plugins use it for theirs.

The view only translates: query and body go to the service as plain data, records come back through the
output schema. Bodies are validated by the service (with the same schema that documents them here), so
the rule is written once and both transports answer alike.
"""
from __future__ import annotations

import json
from typing import Any, Iterable
from urllib.parse import urlencode

from flask import g, has_request_context, request
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema

from api.rest.compiled_dump import compile_dump, compile_own
from core.errors import ValidationFailed
from core.schemas import MAX_PAGE_SIZE
from core.services.common import CrudService, Page, PageRequest  # CrudService: importable from here too
from core.services.paging import KeysetRequest

#: the query arguments of cursor paging (:func:`list_page_request`)
CURSOR_ARGUMENTS = ("after", "before")
#: the query arguments that choose what each item of a list carries (:func:`list_item_fields`), not filters
SHAPE_ARGUMENTS = ("fields", "expand")
#: the OpenAPI description of a list's Link header
LINK_HEADER = {
    "description": 'RFC 8288 links to the next and previous pages by cursor: `<…?after=…>; rel="next"`, '
                   '`<…?before=…>; rel="prev"` (absent at either end).',
    "schema": {"type": "string"},
}


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


def list_page_request(pagination_parameters, args: dict) -> PageRequest | KeysetRequest:
    """The page a list request asks for: ``?after=<cursor>`` (the ``page_size`` rows after it) or
    ``?before=<cursor>`` (the ``page_size`` rows before it) is a keyset page, which costs the same however
    deep it lies and holds still while rows are inserted and deleted; otherwise ``page``/``page_size`` as
    before. Pops ``after``/``before`` from ``args``. A cursor with ``page``, or both cursors, is a 422
    naming the argument; so is a cursor of another list or ordering (``sort``)."""
    after, before = (args.pop(key, None) for key in CURSOR_ARGUMENTS)
    if after is None and before is None:
        return page_request(pagination_parameters)
    if "page" in request.args:
        raise ValidationFailed(fields={"page": ["Not with after/before: a cursor says where the page starts."]})
    if after is not None and before is not None:
        raise ValidationFailed(fields={"before": ["Not with after: page one way at a time."]})
    size = pagination_parameters.page_size
    names = {"first": "page_size", "last": "page_size"}
    if before is not None:
        return KeysetRequest(last=size, before=before, names=names)
    return KeysetRequest(first=size, after=after, names=names)


def set_cursor_metadata(pagination_parameters, page: Page) -> None:
    """Give a list response its paging metadata: ``X-Pagination`` (total, and the page numbers or, for a
    keyset page, ``page_size``) with ``next_cursor``/``previous_cursor``, and an RFC 8288 ``Link`` header
    (``rel="next"``/``rel="prev"``, URLs with ``after``/``before``). Call it in a view under
    :class:`Blueprint`'s ``paginate``."""
    pagination_parameters.item_count = page.total
    pagination_parameters.total_capped = page.total_capped
    pagination_parameters.cursors = {
        "next_cursor": page.end_cursor if page.has_next else None,
        "previous_cursor": page.start_cursor if page.has_previous else None,
        "keyset": any(key in request.args for key in CURSOR_ARGUMENTS),
    }


class _ArgumentsParser(FlaskParser):
    """webargs' parser, loading a view's arguments with one instance of its schema class rather than a new
    one per request (building a list's query schema — its twenty fields deep-copied — was 5 % of the
    list's CPU; issue #16). Loading keeps no state on the instance (marshmallow 4 has no context). The
    instance is kept on its class (not in a dict here: the classes of an app built and dropped, in tests,
    go with it)."""

    def _get_schema(self, argmap, req):
        if isinstance(argmap, type) and issubclass(argmap, Schema):
            schema = argmap.__dict__.get("_trellis_arguments_instance")
            if schema is None:
                schema = argmap()
                argmap._trellis_arguments_instance = schema
            return schema
        return super()._get_schema(argmap, req)


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint whose paginated lists also offer keyset cursors (see
    :func:`set_cursor_metadata`), whose responses are dumped by compiled code
    (:mod:`api.rest.compiled_dump`: the same JSON as marshmallow's, in less time) and whose argument
    schemas are built once, not per request."""

    ARGUMENTS_PARSER = _ArgumentsParser()
    #: the page and page size of every list: the same one instance of their schema (flask-smorest's own
    #: parser built one per request)
    PAGINATION_ARGUMENTS_PARSER = _ArgumentsParser()

    def response(self, status_code, schema=None, **kwargs):
        if isinstance(schema, Schema) or (isinstance(schema, type) and issubclass(schema, Schema)):
            schema = compile_dump(schema)
        return super().response(status_code, schema, **kwargs)

    def _set_pagination_metadata(self, page_params, result, headers):
        cursors = getattr(page_params, "cursors", None)
        if cursors is None:
            return super()._set_pagination_metadata(page_params, result, headers)
        # flask-smorest's metadata, as its own _set_pagination_metadata makes it, before it is JSON
        headers = {} if headers is None else headers
        meta = self._make_pagination_metadata(page_params.page, page_params.page_size, page_params.item_count)
        if cursors["keyset"]:   # page numbers mean nothing on a keyset page
            meta = {"total": meta["total"], "page_size": page_params.page_size}
        if getattr(page_params, "total_capped", False):   # more rows than TRELLIS_LIST_COUNT_LIMIT counts
            meta["total_capped"] = True
        for key in ("next_cursor", "previous_cursor"):
            if cursors[key]:
                meta[key] = cursors[key]
        headers[self.PAGINATION_HEADER_NAME] = json.dumps(meta)
        links = [f'<{_cursor_url(cursor, which)}>; rel="{rel}"'
                 for cursor, which, rel in ((cursors["next_cursor"], "after", "next"),
                                            (cursors["previous_cursor"], "before", "prev")) if cursor]
        if links:
            headers["Link"] = ", ".join(links)
        return result, headers


def _cursor_url(cursor: str, which: str) -> str:
    """This request's URL with ``which`` (``after``/``before``) set to ``cursor``, without page/cursors."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", *CURSOR_ARGUMENTS)]
    return f"{request.base_url}?{urlencode([*kept, (which, cursor)])}"


def body_doc(schema: type[Schema]) -> dict:
    """OpenAPI ``requestBody`` for a schema the service validates."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class CursorArgs(Schema):
    """The cursor arguments every paginated list takes besides ``page``/``page_size``: give a list view's
    query schema this base (or use it alone), read the page with :func:`list_query` and answer with
    :func:`served`, on this module's :class:`Blueprint`. Other query keys pass through (the service
    validates its own filters)."""

    class Meta:
        unknown = EXCLUDE

    after = fields.String(metadata={"description": (
        "Keyset paging: the page_size records after this cursor (`next_cursor` of X-Pagination, or the "
        "Link rel=\"next\" URL), instead of `page`. It holds while records are added and removed, and "
        "a deep page costs what the first does. Keep the same `sort` and filters.")})
    before = fields.String(metadata={"description": (
        "Keyset paging backward: the page_size records before this cursor (`previous_cursor`, or the "
        "Link rel=\"prev\" URL), in list order.")})


class KnownArgs(Schema):
    """Query arguments that refuse what they do not declare. A view whose service gets only the parsed
    arguments (not the raw query, which the service would validate) takes this as its query schema's
    base, so an unknown key — a typo such as ``?record_typ=`` — is a 422 naming it rather than a silently
    wider list. ``passes`` are keys another decorator reads (the paginate decorator's by default)."""

    passes: tuple[str, ...] = ("page", "page_size")

    class Meta:
        unknown = EXCLUDE   # the other decorators' keys reach this schema too; the check below names the rest

    @validates_schema(pass_original=True, skip_on_field_errors=False)  # named with a missing one too
    def _refuse_unknown(self, _data, original, **_kwargs):
        declared = {field.data_key or name for name, field in self.load_fields.items()}
        unknown = sorted(set(original) - declared - set(self.passes))
        if unknown:
            raise ValidationError({key: ["Unknown query argument."] for key in unknown})


class StrictCursorArgs(KnownArgs, CursorArgs):
    """:class:`CursorArgs` for a view that passes only its parsed arguments on (:class:`KnownArgs`)."""


class NoArgs(KnownArgs):
    """The query of a view that takes no arguments at all: any key is a 422 naming it."""

    passes = ()


def list_query(pagination_parameters, args: dict | None = None) -> tuple[dict, PageRequest | KeysetRequest]:
    """A list view's query, split in two: the filters for the service and the page asked for (by
    ``page``/``page_size``, or by cursor: :func:`list_page_request`). ``args`` is the view's parsed query
    arguments; without it the filters are the raw query strings (the service validates them), less the
    paging keys."""
    if args is None:
        args = {k: v for k, v in request.args.items() if k not in ("page", "page_size", *SHAPE_ARGUMENTS)}
    else:
        args = dict(args)
    return args, list_page_request(pagination_parameters, args)


def served(pagination_parameters, page: Page) -> list:
    """A list view's answer: the page's rows, with its paging metadata and Link header
    (:func:`set_cursor_metadata`)."""
    set_cursor_metadata(pagination_parameters, page)
    return page.items


def sort_field(sortable: Iterable[str]) -> fields.String:
    """The ``sort`` query argument of a list whose service sorts by the keys ``sortable``, for a view's
    query schema (the service checks the value: an unknown key is a 422 naming the allowed ones)."""
    return fields.String(metadata={"description": "Comma-separated keys, '-' for descending: "
                                                  + ", ".join(sortable)})


def list_args_schema(filter_schema: type[Schema], sortable: list[str],
                     out_schema: type[Schema] | None = None) -> type[Schema]:
    """Query arguments of a list, for the OpenAPI document: the service's filters plus ``sort``, the
    cursors ``after``/``before`` (``page`` and ``page_size`` come from the paginate decorator) and, given
    the list's ``out_schema``, ``fields`` and ``expand`` (:func:`list_item_fields`). The service validates
    the raw query strictly, so an unknown filter is a 422 naming it rather than a silently wider list."""
    extra: dict[str, Any] = {"Meta": CursorArgs.Meta, "sort": sort_field(sortable)}
    if out_schema is not None:
        names = ", ".join(_item_field_names(out_schema))
        expandable = ", ".join(getattr(out_schema, "expandable", ())) or "none"
        extra["only_fields"] = fields.String(data_key="fields", metadata={"description": (
            "Sparse fieldset: comma-separated fields each item carries (`id` always comes), instead of the "
            f"list's default. One of: {names}.")})
        extra["expand"] = fields.String(metadata={"description": (
            "Comma-separated heavier parts a list leaves out by default, added to each item (a record read "
            f"by id always has them): {expandable}.")})
    return type(f"{filter_schema.__name__}Query", (filter_schema, CursorArgs), extra)


def _item_field_names(out_schema: type[Schema]) -> list[str]:
    return [name for name, field in out_schema._declared_fields.items() if not field.load_only]


def _names_argument(key: str) -> list[str]:
    return [name.strip() for value in request.args.getlist(key) for name in value.split(",") if name.strip()]


def list_item_fields(out_schema: type[Schema]) -> frozenset[str] | None:
    """The fields each item of this list request carries, from ``?fields=`` (a sparse fieldset: those,
    and ``id``) and ``?expand=`` (parts the schema's ``expandable`` leaves out of list items by default,
    such as a customer's analytics block); None when that is every field. An unknown name is a 422 naming
    the argument and the names it takes."""
    names = _item_field_names(out_schema)
    expandable = tuple(getattr(out_schema, "expandable", ()))
    expand, wanted = _names_argument("expand"), _names_argument("fields")
    unknown = [name for name in expand if name not in expandable]
    if unknown:
        raise ValidationFailed(fields={"expand": [
            f"Unknown: {', '.join(unknown)}. This list expands: {', '.join(expandable) or 'nothing'}."]})
    unknown = [name for name in wanted if name not in names]
    if unknown:
        raise ValidationFailed(fields={"fields": [f"Unknown: {', '.join(unknown)}. Fields: {', '.join(names)}."]})
    if wanted:
        only = {"id", *wanted, *expand}
    else:
        only = {name for name in names if name not in expandable} | set(expand)
    return None if only >= set(names) else frozenset(name for name in names if name in only)


def shaped_list_schema(out_schema: type[Schema]) -> Schema:
    """``out_schema(many=True)`` for a list view's response, dumping each item with the fields
    :func:`list_item_fields` chose for the request (the view stores them with :func:`shape_list_items`).
    The OpenAPI document still shows the whole schema."""
    instance = compile_own(out_schema(many=True))
    dump_all = instance.dump
    shaped: dict[frozenset[str], Schema] = {}

    def dump(obj, *, many=None):
        only = g.get("trellis_list_only") if has_request_context() else None
        if only is None:
            return dump_all(obj, many=many)
        schema = shaped.get(only)
        if schema is None:
            # in the schema's order (the body's keys are not sorted): ``only`` is a set
            schema = compile_own(out_schema(many=True, only=[name for name in out_schema._declared_fields
                                                             if name in only]))
            if len(shaped) < 64:  # a handful of shapes are in use; odd ones are built per request
                shaped[only] = schema
        return schema.dump(obj, many=many)

    instance.dump = dump
    return instance


def shape_list_items(out_schema: type[Schema]) -> None:
    """Read ``fields``/``expand`` of this request (:func:`list_item_fields`) for the response schema
    :func:`shaped_list_schema` made."""
    g.trellis_list_only = list_item_fields(out_schema)


def crud_blueprint(name: str, url_prefix: str, *, service: CrudService, out_schema: type[Schema],
                   create_schema: type[Schema], update_schema: type[Schema], filter_schema: type[Schema],
                   sortable: list[str], description: str = "") -> Blueprint:
    """A blueprint with a record's six REST operations, each calling ``service`` (a :class:`CrudService`)
    with the signed-in user: ``GET ""`` (list: the ``filter_schema`` fields and ``sort`` — keys of
    ``sortable`` — as query arguments, paged by ``page``/``page_size`` or by cursor ``after``/``before``),
    ``POST ""`` (create, 201), ``GET /<id>``, ``PATCH /<id>`` (send the ``version`` read; stale: 409),
    ``DELETE /<id>`` (soft, 204) and ``POST /<id>/restore``. Bodies are documented in OpenAPI from the
    schemas; the service validates them. ``url_prefix`` is relative to the plugin's ``/api/v1/<plugin>``;
    return the blueprint from ``trellis_rest_blueprints``."""
    blp = Blueprint(name, name, url_prefix=url_prefix, description=description)
    query_schema = list_args_schema(filter_schema, sortable, out_schema)

    @blp.route("")
    class Collection(MethodView):
        @blp.arguments(query_schema, location="query", as_kwargs=False)
        @blp.response(200, shaped_list_schema(out_schema), headers={"Link": LINK_HEADER})
        @blp.paginate(max_page_size=MAX_PAGE_SIZE)
        def get(self, args, pagination_parameters):
            """List (filtered, sorted, paginated by `page` or by cursor, `after`/`before`; metadata in the
            X-Pagination header, next and previous pages in the Link header; `fields` and `expand` choose
            what each item carries)"""
            shape_list_items(out_schema)
            args, paging = list_query(pagination_parameters)
            sort = args.pop("sort", None)
            return served(pagination_parameters, service.list(current_user, args, sort=sort, page=paging))

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


def record_blueprint(spec: Any, name: str, url_prefix: str, *, description: str = "") -> Blueprint:
    """:func:`crud_blueprint` for a declared record (``trellis.plugin.RecordSpec``): its six endpoints
    served by the spec's service, documented with its schemas and sort keys. Add other routes to the
    blueprint returned, as to any."""
    return crud_blueprint(name, url_prefix, service=spec.crud_service(), out_schema=spec.out_schema,
                          create_schema=spec.create_schema, update_schema=spec.update_schema,
                          filter_schema=spec.filter_schema, sortable=sorted(spec.sortable),
                          description=description)
