"""Request ids and logging: every log line of a request carries its id, and each request leaves one
access line.

- ``X-Request-Id``: a client's (or proxy's) id is kept when it is 1–128 characters of letters, digits
  and ``-_.:/+=@``; otherwise a new one is made (32 hex digits). Every response echoes it.
- :class:`RequestIdFilter` puts ``request_id`` on every record a Trellis handler formats (``-`` outside a
  request), from a context variable set for the request.
- The access line (logger ``trellis.access``, INFO): method, path, status, duration in ms and the signed-in
  user's id, as fields of the record (``extra``) and in its message.
- ``TRELLIS_LOG_FORMAT``: ``text`` (default) or ``json`` — one JSON object per line with ``time``,
  ``level``, ``logger``, ``message``, ``request_id`` and the access fields. Standard library only.

:func:`configure` installs one stderr handler on the root logger unless the host already configured
logging (gunicorn's ``--log-config``, pytest): then Trellis leaves the handlers alone.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import Flask, g, request

from core.config import LOG_FORMATS
from core.request_context import request_id_var

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_ID = re.compile(r"[A-Za-z0-9\-_.:/+=@]{1,128}")
#: the fields the access line adds to its record (and to a JSON line)
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "user_id")
FORMATS = LOG_FORMATS
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

access_log = logging.getLogger("trellis.access")


def accepted_id(value: str | None) -> str:
    """``value`` when it is a sane request id, else a new one."""
    if value and _VALID_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request); never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request_id, the access
    fields when the record has them, and ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get() or None,
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                out[name] = getattr(record, name)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def make_handler(log_format: str, stream=None) -> logging.Handler:
    """A stream handler (stderr by default) with the request-id filter and the chosen format."""
    if log_format not in FORMATS:
        raise ValueError(f"TRELLIS_LOG_FORMAT: {log_format!r} is not one of {', '.join(FORMATS)}.")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure(log_format: str) -> None:
    """Send log lines to stderr in ``log_format``, unless the host configured logging itself. Several apps
    in one process share the one handler (the last app's format wins)."""
    handler = make_handler(log_format)  # checks the format even when it is not installed
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_trellis", False)]
    if ours:
        ours[0].setFormatter(handler.formatter)
    elif not root.handlers:
        handler._trellis = True
        root.addHandler(handler)
    trellis = logging.getLogger("trellis")
    if trellis.level == logging.NOTSET:
        trellis.setLevel(logging.INFO)   # the access lines; the root's WARNING would hide them


def _user_id(user) -> str | None:
    """The signed-in user's id from the identity SQLAlchemy keeps: the unit of work has ended by now,
    and reading an attribute of the (expired, detached) user would need a query."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import NoInspectionAvailable

    if user is None:
        return None
    try:
        identity = inspect(user).identity
    except NoInspectionAvailable:   # flask-login's anonymous user
        return None
    return str(identity[0]) if identity else None


def init_app(app: Flask, log_format: str) -> None:
    """Request ids and the access line. Register first: its ``after_request`` then runs last, so it sees
    the final response (and its duration)."""
    configure(log_format)

    @app.before_request
    def _start():
        g.trellis_started = time.perf_counter()
        g.trellis_request_id = accepted_id(request.headers.get(REQUEST_ID_HEADER))
        g._trellis_request_id_token = request_id_var.set(g.trellis_request_id)

    @app.after_request
    def _finish(response):
        request_id = g.get("trellis_request_id") or accepted_id(None)
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("trellis_started")
        duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        user_id = _user_id(g.get("_login_user"))  # only when signing in already ran: logging never queries
        access_log.info("%s %s %s %sms", request.method, request.path, response.status_code, duration_ms,
                        extra={"method": request.method, "path": request.path, "status": response.status_code,
                               "duration_ms": duration_ms, "user_id": user_id, "request_id": request_id})
        return response

    @app.teardown_request
    def _forget(_exc):
        token = g.pop("_trellis_request_id_token", None)
        if token is not None:
            try:
                request_id_var.reset(token)
            except ValueError:   # set in another context (a streamed response): nothing to undo here
                request_id_var.set(None)
