"""The one mapping from errors to HTTP responses. No stack trace ever reaches a client."""
from __future__ import annotations

import logging

from flask import Flask, has_request_context, jsonify, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from core.db import BUSY_MESSAGE, UNREACHABLE_MESSAGE, is_connection_error, is_lock_timeout
from core.errors import Conflict, TrellisError, Unavailable
from core.health import UNREACHABLE_RETRY_AFTER

log = logging.getLogger("trellis.api")


def error_response(exc: BaseException):
    """A JSON response for any exception: typed errors keep their status, fields and message."""
    if isinstance(exc, StaleDataError):
        exc = Conflict()
    elif isinstance(exc, BaseException) and is_lock_timeout(exc):
        exc = Conflict(BUSY_MESSAGE)
    elif isinstance(exc, BaseException) and is_connection_error(exc):
        log.warning("Database unreachable: %s", getattr(exc, "orig", exc))
        exc = Unavailable(UNREACHABLE_MESSAGE, retry_after=UNREACHABLE_RETRY_AFTER)
    elif isinstance(exc, IntegrityError):
        exc = Conflict("This change conflicts with existing data (a duplicate or a missing reference).")
    if isinstance(exc, Unavailable) and has_request_context() and request.endpoint == "graphql":
        from api.graphql.errors import http_error_response

        return http_error_response(exc)  # raised before the operation ran (signing in): GraphQL's format
    if isinstance(exc, TrellisError):
        response = jsonify({**exc.to_dict(), "status": _reason(exc.http_status)})
        response.status_code = exc.http_status
        if getattr(exc, "retry_after", None):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, HTTPException) and exc.response is not None:
        return exc.response  # an error that brings its own answer (a rate limit's 429 with Retry-After)
    if isinstance(exc, HTTPException):
        body = {"code": exc.code, "status": exc.name, "message": exc.description}
        if isinstance(exc, RequestEntityTooLarge):
            limit = request.max_content_length if has_request_context() else None
            body["message"] = (f"The request body is larger than the {limit} bytes accepted here; send less "
                               "(split a batch into several requests)." if limit else exc.description)
        data = getattr(exc, "data", None)  # webargs / flask-smorest attach field messages here
        if isinstance(data, dict) and data.get("messages"):
            body["errors"] = data["messages"]
        response = jsonify(body)
        response.status_code = exc.code or 500
        for name, value in exc.get_headers():  # e.g. Allow on a 405, WWW-Authenticate, Retry-After
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
    from api.error_reports import report_unhandled

    report_unhandled(exc)
    response = jsonify({"code": 500, "status": "Internal Server Error",
                        "message": "Something went wrong on our side; it has been logged."})
    response.status_code = 500
    return response


def _reason(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase


def init_error_handlers(app: Flask) -> None:
    app.register_error_handler(TrellisError, error_response)
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(StaleDataError, error_response)
    app.register_error_handler(IntegrityError, error_response)
    app.register_error_handler(Exception, error_response)
