"""Unhandled errors (#18 part 6): one ERROR line naming the request (method, path, user, request id) with
the traceback, and — with ``TRELLIS_SENTRY_DSN`` — the same error sent to a Sentry-compatible server, here a
local one that records what it receives."""
from __future__ import annotations

import gzip
import http.server
import json
import threading

import pytest

from api import error_reports
from api.app import create_app
from api.testing import app_config
from tests.api.test_request_log import log_lines


class Boom(RuntimeError):
    pass


def app_with_a_failing_route(database_url, **settings):
    app = create_app(app_config(database_url, **settings))

    def fail():
        raise Boom("the ledger is on fire")

    app.add_url_rule("/boom", view_func=fail)
    app.config["TRELLIS_PUBLIC_ENDPOINTS"] = {"fail"}   # no sign-in needed to reach the failure
    return app


def test_an_unhandled_error_is_one_line_naming_the_request_and_its_id(engine, database_url):
    client = app_with_a_failing_route(database_url).test_client()
    with log_lines("json") as lines:
        response = client.get("/boom", headers={"X-Request-Id": "req-boom-1"})
    assert response.status_code == 500
    assert response.get_json()["message"] == "Something went wrong on our side; it has been logged."
    assert response.headers["X-Request-Id"] == "req-boom-1"
    [error] = [json.loads(line) for line in lines if json.loads(line)["logger"] == "trellis.errors"]
    assert error["level"] == "ERROR" and error["request_id"] == "req-boom-1"
    assert error["message"] == "Unhandled error in GET /boom (user -): Boom: the ledger is on fire"
    assert "raise Boom" in error["exception"]


class SentryServer(http.server.ThreadingHTTPServer):
    """Records every envelope POSTed to it (the events a Sentry SDK sends)."""

    def __init__(self):
        self.envelopes: list[list[dict]] = []
        self.received = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                outer.envelopes.append([json.loads(line) for line in body.splitlines() if line.strip()])
                outer.received.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def sentry_server(monkeypatch):
    sentry_sdk = pytest.importorskip("sentry_sdk")
    server = SentryServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(error_reports, "_sentry_dsn", None)
    yield server
    sentry_sdk.get_client().close()
    sentry_sdk.init(dsn=None)   # no client for the rest of the run
    server.shutdown()


def test_with_a_sentry_dsn_the_error_is_reported_with_its_request_id_and_no_personal_data(
        engine, database_url, sentry_server):
    import sentry_sdk

    dsn = f"http://publickey@127.0.0.1:{sentry_server.server_address[1]}/42"
    client = app_with_a_failing_route(database_url, SENTRY_DSN=dsn).test_client()
    response = client.get("/boom?card=6222000011112222", headers={"X-Request-Id": "req-boom-2",
                                                                 "Cookie": "session=secret-cookie"})
    assert response.status_code == 500
    sentry_sdk.flush(timeout=5)
    assert sentry_server.received.wait(5)
    events = [item for envelope in sentry_server.envelopes for item in envelope if "exception" in item]
    [event] = events
    [exception] = event["exception"]["values"]
    assert (exception["type"], exception["value"]) == ("Boom", "the ledger is on fire")
    assert event["tags"]["request_id"] == "req-boom-2"
    assert event["contexts"]["request"] == {"method": "GET", "path": "/boom"}
    sent = json.dumps(sentry_server.envelopes)
    assert "secret-cookie" not in sent and "6222000011112222" not in sent


def test_a_sentry_dsn_without_sentry_sdk_installed_is_refused_naming_the_extra(monkeypatch):
    from core.config import load_settings
    from core.errors import ConfigError

    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None if name == "sentry_sdk" else object())
    with pytest.raises(ConfigError, match=r"TRELLIS_SENTRY_DSN is set but sentry-sdk is not installed: "
                                          r"pip install 'trellis-crm\[sentry\]'"):
        load_settings({"SENTRY_DSN": "https://k@sentry.example.com/1"}, environ={})
