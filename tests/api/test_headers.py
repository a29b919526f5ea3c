"""Every response carries the security headers; the two HTML pages get a CSP they satisfy."""
from __future__ import annotations

import base64
import hashlib
import re
import threading
import urllib.request

import pytest

from api.app import create_app
from api.headers import dev_server
from api.testing import app_config

COMMON = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}


def _directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("who, path", [("admin", "/api/v1/customers"), (None, "/api/v1/customers"),
                                       (None, "/healthz"), ("admin", "/api/v1/no-such-thing")])
def test_json_answers_carry_the_security_headers_and_a_csp_that_allows_nothing(api, who, path):
    response = api.as_(who).get(path)
    for name, value in COMMON.items():
        assert response.headers[name] == value
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert "Strict-Transport-Security" not in response.headers  # not over plain HTTP


def _inline_hashes(html: str) -> set[str]:
    return {"'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
            for body in re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", html, re.S)}


@pytest.mark.parametrize("path", ["/api/v1/docs", "/graphql"])
def test_the_docs_pages_policy_allows_what_they_load_and_nothing_else(api, path):
    response = api.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    csp = _directives(response.headers["Content-Security-Policy"])
    for name, value in COMMON.items():
        assert response.headers[name] == value
    scripts = re.findall(r'<script[^>]*\bsrc="([^"]+)"', html)
    styles = re.findall(r'<link[^>]*\bhref="([^"]+\.css)"', html)
    assert scripts and styles  # the page does load its code, from this site (a path, no host)
    assert all(url.startswith("/") and not url.startswith("//") for url in scripts + styles), scripts + styles
    inline = _inline_hashes(html)
    assert inline and set(csp["script-src"]) == {"'self'"} | inline
    for directive in ("style-src", "img-src", "font-src"):
        assert not [source for source in csp[directive] if "://" in source or source.startswith("http")]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["connect-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]


def test_hsts_once_cookies_are_secure(database_url):
    app = create_app(app_config(database_url, SECURE_COOKIES=True, PLUGINS="exhibitions"))
    try:
        response = app.test_client().get("/healthz")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        app.extensions["trellis"].database.dispose()


def test_the_development_server_does_not_announce_werkzeug_and_its_version(database_url):
    app = create_app(app_config(database_url, PLUGINS="exhibitions"))
    server = dev_server("127.0.0.1", 0, app)  # what `trellis serve` runs
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/healthz") as response:
            servers = response.headers.get_all("Server")
        assert servers == ["Trellis"]
    finally:
        server.shutdown()
        app.extensions["trellis"].database.dispose()
