"""The one mapping from errors to HTTP responses. No stack trace ever reaches a client."""
from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from core.errors import Conflict, TrellisError

log = logging.getLogger("trellis.api")


def error_response(exc: BaseException):
    """A JSON response for any exception: typed errors keep their status, fields and message."""
    if isinstance(exc, StaleDataError):
        exc = Conflict()
    elif isinstance(exc, IntegrityError):
        exc = Conflict("This change conflicts with existing data (a duplicate or a missing reference).")
    if isinstance(exc, TrellisError):
        response = jsonify({**exc.to_dict(), "status": _reason(exc.http_status)})
        response.status_code = exc.http_status
        return response
    if isinstance(exc, HTTPException):
        body = {"code": exc.code, "status": exc.name, "message": exc.description}
        data = getattr(exc, "data", None)  # webargs / flask-smorest attach field messages here
        if isinstance(data, dict) and data.get("messages"):
            body["errors"] = data["messages"]
        response = jsonify(body)
        response.status_code = exc.code or 500
        for name, value in exc.get_headers():  # e.g. Allow on a 405, WWW-Authenticate, Retry-After
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
    log.exception("Unhandled error", exc_info=exc)
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
