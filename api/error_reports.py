"""Unhandled errors, reported once with their context: the log line (``trellis.errors``, ERROR) names the
request (method, path, user id; the request id comes with every line) and carries the traceback, and —
when ``TRELLIS_SENTRY_DSN`` is set — the same error goes to Sentry (or a Sentry-compatible server) tagged
with the request id, so a report, a log line and the client's ``X-Request-Id`` lead to each other.

Sentry is optional (``pip install 'trellis-crm[sentry]'``); nothing is imported when no DSN is set. No
personal data is sent: no cookies, headers or bodies, only the user's id.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import g, has_request_context, request

from api.logs import _user_id
from core.request_context import current_request_id

log = logging.getLogger("trellis.errors")
_sentry_dsn: str | None = None


def init_sentry(dsn: str, *, environment: str, release: str | None) -> None:
    """Start the Sentry client for this process (once per DSN: several apps in one process share it)."""
    global _sentry_dsn
    if not dsn or dsn == _sentry_dsn:
        return
    import sentry_sdk

    # no local variables (they hold request data and secrets), no request bodies; only what we set below
    sentry_sdk.init(dsn=dsn, environment=environment, release=release, include_local_variables=False,
                    max_request_body_size="never",
                    traces_sample_rate=0.0, default_integrations=False, auto_enabling_integrations=False)
    _sentry_dsn = dsn


def report_unhandled(exc: BaseException, where: str | None = None) -> None:
    """Log ``exc`` with its request's context and send it to Sentry when configured. ``where`` says what
    failed when it is not the request itself (a GraphQL field's path, a job's name)."""
    context: dict[str, Any] = {"request_id": current_request_id()}
    if has_request_context():
        context.update(method=request.method, path=request.path, user_id=_user_id(g.get("_login_user")))
    place = f"{context.get('method', '')} {context.get('path', '')}".strip() or "outside a request"
    log.error("Unhandled error in %s%s (user %s): %s: %s", place, f" at {where}" if where else "",
              context.get("user_id") or "-", type(exc).__name__, exc, exc_info=exc,
              extra={k: v for k, v in context.items() if k != "request_id"})
    if _sentry_dsn:
        import sentry_sdk

        with sentry_sdk.new_scope() as scope:
            scope.set_tag("request_id", context["request_id"] or "-")
            if where:
                scope.set_tag("where", where)
            if context.get("user_id"):
                scope.set_user({"id": context["user_id"]})
            if "path" in context:
                scope.set_context("request", {"method": context["method"], "path": context["path"]})
            sentry_sdk.capture_exception(exc)
