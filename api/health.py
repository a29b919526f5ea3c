"""``/healthz`` (liveness), ``/readyz`` (readiness) and the schema gate in front of the API.

- ``GET /healthz``: the process answers and so does the database (one ``SELECT 1``). Cheap.
- ``GET /readyz``: the database answers and every enabled component is at its migration head
  (:func:`core.health.readiness`, which also refreshes the gate); 503 with a ``reason`` naming what is behind otherwise.
  With ``TRELLIS_WORKERS_EXPECTED``, also a fresh worker heartbeat and no stale webhook backlog
  (:func:`core.queue.worker_state`, under ``checks.workers``); the API itself is not refused for that.
- Every signed-in request passes the :class:`core.health.SchemaGate`, after sign-in (a stranger still
  gets 401, as ever): while the schema is behind or the database is unreachable it is refused with 503
  (REST) or a ``SERVICE_UNAVAILABLE`` error (GraphQL), both with ``Retry-After``. Public endpoints (the
  ``/auth`` blueprint, the health checks, the landing page, static files, the endpoints plugins declare
  public) are not gated, so signing in and the checks keep answering.
"""
from __future__ import annotations

from flask import Flask, current_app, jsonify, request
from flask_login import current_user

from api.auth import PUBLIC_ENDPOINTS
from core.errors import Unavailable
from core.health import SchemaGate
from core.queue import worker_state
from core.runtime import Runtime

#: Blueprints served whatever the schema: signing in and out, the OpenAPI document and Swagger UI.
UNGATED_BLUEPRINTS = {"auth", "api-docs"}
GATE_KEY = "trellis_schema_gate"


def init_app(app: Flask, runtime: Runtime) -> None:
    gate = SchemaGate(runtime)
    app.extensions[GATE_KEY] = gate

    @app.before_request
    def _schema_gate():
        endpoint = request.endpoint
        if request.method == "OPTIONS" or endpoint is None or endpoint in PUBLIC_ENDPOINTS \
                or endpoint in current_app.config.get("TRELLIS_PUBLIC_ENDPOINTS", ()) \
                or endpoint.split(".")[0] in UNGATED_BLUEPRINTS:
            return None
        if not current_user.is_authenticated:
            return None   # /graphql answers UNAUTHENTICATED itself (sign-in already ran: no query here)
        try:
            gate.check()
        except Unavailable as exc:
            if endpoint == "graphql":
                from api.graphql.errors import http_error_response

                return http_error_response(exc)
            raise   # api/rest/errors.py answers
        return None

    @app.get("/healthz")
    def healthz():
        ok = runtime.database.ping()
        return jsonify(status="ok" if ok else "unavailable", database=ok), (200 if ok else 503)

    @app.get("/readyz")
    def readyz():
        state = gate.refresh()   # the gate learns the news too (after an upgrade, say)
        ready, reason, checks = state.ready, state.reason, state.checks()
        if runtime.settings.workers_expected and ready:
            workers = worker_state(runtime)
            checks["workers"] = workers
            ready, reason = workers["ok"], workers["reason"]
        body: dict = {"status": "ready" if ready else "not ready", "checks": checks}
        if not ready:
            body["reason"] = reason
        response = jsonify(body)
        response.status_code = 200 if ready else 503
        response.headers["Cache-Control"] = "no-store"
        return response
