"""Request ids and the access log (#18 part 4): ``X-Request-Id`` is kept (when sane) or made, echoed on
every response and written on every log line of the request; ``TRELLIS_LOG_FORMAT=json`` makes each line
one JSON object."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import re

import pytest

from api import logs
from api.app import create_app
from api.testing import app_config


@contextlib.contextmanager
def log_lines(log_format: str = "json"):
    """The lines Trellis loggers write during the block, formatted as ``log_format``."""
    stream = io.StringIO()
    handler = logs.make_handler(log_format, stream)
    logger = logging.getLogger("trellis")
    logger.addHandler(handler)
    lines: list[str] = []
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        lines.extend(stream.getvalue().splitlines())


def test_a_sane_request_id_is_echoed(api):
    response = api.as_(None).get("/healthz", headers={"X-Request-Id": "lb-7f3a:42"})
    assert response.headers["X-Request-Id"] == "lb-7f3a:42"


@pytest.mark.parametrize("sent", [None, "", "x" * 129, "two words", "evil\u00e9"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(api, sent):
    headers = {} if sent is None else {"X-Request-Id": sent}
    first = api.as_(None).get("/healthz", headers=headers).headers["X-Request-Id"]
    second = api.as_(None).get("/healthz", headers=headers).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_errors_carry_the_request_id_too(api):
    assert api.as_(None).get("/api/v1/customers", headers={"X-Request-Id": "r-401"}).headers["X-Request-Id"] == "r-401"
    assert api.get("/api/v1/no-such-thing", headers={"X-Request-Id": "r-404"}).headers["X-Request-Id"] == "r-404"


def test_one_json_access_line_per_request_with_the_user(api, people):
    with log_lines("json") as lines:
        response = api.as_("rep").get("/api/v1/customers?page_size=5", headers={"X-Request-Id": "req-42"})
    assert response.status_code == 200
    records = [json.loads(line) for line in lines]
    [access] = [r for r in records if r["logger"] == "trellis.access"]
    assert access["request_id"] == "req-42" and access["level"] == "INFO"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/api/v1/customers", 200)
    assert access["user_id"] == str(people.rep.id)
    assert isinstance(access["duration_ms"], (int, float)) and access["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", access["time"])
    assert access["message"].startswith("GET /api/v1/customers 200 ")


def test_a_stranger_s_access_line_has_no_user(api):
    with log_lines("json") as lines:
        api.as_(None).get("/api/v1/customers")
    [access] = [json.loads(line) for line in lines if '"trellis.access"' in line]
    assert access["status"] == 401 and access["user_id"] is None


def test_every_line_of_a_request_carries_its_id(tmp_path):
    """Here the error mapper's warning about the unreachable database, besides the access line."""
    app = create_app(app_config(f"sqlite:///{tmp_path}/no/such/dir/x.db"))
    try:
        with log_lines("json") as lines:
            app.test_client().get("/auth/me", headers={"Authorization": "Bearer trl_x", "X-Request-Id": "r-9"})
    finally:
        app.extensions["trellis"].database.dispose()
    records = [json.loads(line) for line in lines]
    assert {r["logger"] for r in records} >= {"trellis.api", "trellis.access"}
    assert {r["request_id"] for r in records} == {"r-9"}


def test_the_text_format_shows_the_request_id(api):
    with log_lines("text") as lines:
        api.as_(None).get("/healthz", headers={"X-Request-Id": "plain-1"})
    [access] = [line for line in lines if " trellis.access " in line]
    assert "INFO trellis.access [plain-1] GET /healthz 200 " in access


def test_an_unknown_log_format_stops_the_start(tmp_path):
    with pytest.raises(ValueError, match="TRELLIS_LOG_FORMAT: 'xml' is not one of text, json"):
        create_app(app_config(f"sqlite:///{tmp_path}/x.db", LOG_FORMAT="xml"))
