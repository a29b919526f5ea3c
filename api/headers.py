"""Security headers on every response (docs/security.md, "Response headers").

JSON answers get a Content-Security-Policy that allows nothing (``default-src 'none'``): a browser that
is tricked into rendering one as a page runs no script and loads nothing. The two HTML pages Trellis
serves — Swagger UI at ``/api/v1/docs`` and GraphiQL on a browser's ``GET /graphql`` — load their
scripts and styles from Trellis itself (``/static/``, shipped in the package) and start with an inline
``<script>``; their policy allows only this site ('self') and exactly the inline scripts of the page
being sent, by their SHA-256 hash, so no injected script would run and nothing loads from elsewhere. The
landing page at ``/`` (:mod:`api.landing`) gets the same page policy; it has no script and loads nothing,
its one ``<style>`` is allowed by ``style-src``. Every response forbids framing (``X-Frame-Options: DENY`` and
``frame-ancestors 'none'``) and MIME sniffing, sends no referrer, and, once the site is served over
HTTPS (``TRELLIS_SECURE_COOKIES=1``), tells browsers to use nothing else for a year (HSTS).

A small ``after_request`` rather than flask-talisman: Talisman's releases have slowed to a trickle, and
the per-page script hashes are the one thing it could not do for us anyway.
"""
from __future__ import annotations

import base64
import hashlib
import re

from flask import Flask, Response
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from core.config import Settings

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

#: What the development server would otherwise announce (``Werkzeug/3.x Python/3.x``).
SERVER_NAME = "Trellis"

HSTS = "max-age=31536000; includeSubDomains"

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def page_policy(html: str) -> str:
    """The CSP of an HTML page: assets from this site, its own inline scripts (by hash), calls back to us."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}".rstrip() + "; "
        "style-src 'self' 'unsafe-inline'; "  # the UIs set inline styles as they render
        "img-src 'self' data:; "
        "font-src 'self' data:; "
        "connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def init_app(app: Flask, settings: Settings) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        if response.mimetype == "text/html" and not response.is_streamed:
            headers["Content-Security-Policy"] = page_policy(response.get_data(as_text=True))
        else:
            headers["Content-Security-Policy"] = API_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "no-referrer"
        if settings.secure_cookies:
            headers["Strict-Transport-Security"] = HSTS
        return response


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without ``Server: Werkzeug/3.x Python/3.x`` (it sends that whatever the app
    says). gunicorn, in production, sends ``Server: gunicorn`` without a version."""

    def version_string(self) -> str:
        return SERVER_NAME


def dev_server(host: str, port: int, app: Flask) -> BaseWSGIServer:
    """The server ``trellis serve`` and ``trellis demo`` run (threaded, no reloader, no debugger)."""
    return make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
