"""``GET /metrics``: the operations metrics (core/prometheus.py) in Prometheus' text format, and the request
hooks that count every request by Flask endpoint (the URL rule's name, never the raw path), method and
status, with its duration.

Not a user endpoint: a user's sign-in or API token opens nothing here. ``TRELLIS_METRICS_TOKEN`` set: the
scraper sends ``Authorization: Bearer <token>`` (compared in constant time), from any address; anything else
is a 401. Not set: only clients in ``TRELLIS_METRICS_ALLOW`` (default: loopback) get an answer, others a
403, and so does a request forwarded by a proxy Trellis does not trust (``X-Forwarded-For`` without
``TRELLIS_PROXY_HOPS``), as its real client is unknown. ``TRELLIS_METRICS_ENABLED=0``: no endpoint (404)
and no request hooks. Declared public in api/auth.py (the sign-in and the schema gate leave it alone)
and, like ``/healthz``, not in the OpenAPI document (docs/deployment.md, "Metrics (Prometheus)").
"""
from __future__ import annotations

import hmac
import ipaddress
import time

from flask import Flask, Response, g, request

from core import prometheus
from core.errors import Forbidden, Unauthenticated
from core.runtime import Runtime

ENDPOINT = "metrics"
PATH = "/metrics"
#: Headers a proxy adds; with none trusted (TRELLIS_PROXY_HOPS=0) the address Trellis sees is the proxy's.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def init_app(app: Flask, runtime: Runtime) -> None:
    """Register right after the logging hooks: the timer starts before any other hook can answer, and the
    count sees the final status (after-request hooks run in reverse order of registration)."""
    settings = runtime.settings
    if not settings.metrics_enabled:
        return
    prometheus.configure(settings.metrics_multiproc_dir)
    prometheus.watch_pool(runtime.database.engine)
    networks = settings.metrics_networks
    token = settings.metrics_token
    trusts_proxy = settings.proxy_hops > 0

    @app.before_request
    def _start_timer():
        g._trellis_metrics_started = time.perf_counter()

    @app.after_request
    def _count(response):
        started = g.pop("_trellis_metrics_started", None)
        prometheus.request_finished(request.endpoint, request.method, response.status_code,
                                    None if started is None else time.perf_counter() - started)
        return response

    def metrics():
        """The operations metrics, for a Prometheus scraper (docs/deployment.md)."""
        if token:
            scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
                raise Unauthenticated("GET /metrics needs the bearer token of TRELLIS_METRICS_TOKEN.")
        elif not _internal(networks, trusts_proxy):
            raise Forbidden("GET /metrics answers only the addresses of TRELLIS_METRICS_ALLOW (or a scraper "
                            "with the TRELLIS_METRICS_TOKEN bearer token).")
        body, content_type = prometheus.exposition(runtime, request.headers.get("Accept"))
        response = Response(body, content_type=content_type)
        response.headers["Cache-Control"] = "no-store"
        return response

    app.add_url_rule(PATH, ENDPOINT, metrics, methods=["GET"])


def _internal(networks: list, trusts_proxy: bool) -> bool:
    """Whether the client is one of ``networks``, as far as Trellis can tell."""
    if not trusts_proxy and any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    if getattr(address, "ipv4_mapped", None) is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)
