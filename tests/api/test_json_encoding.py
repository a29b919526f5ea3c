"""Response bodies are written by orjson (api/json_encoding.py, issue #16): the same values Flask's own
provider wrote, non-ASCII text as UTF-8 rather than ``\\uXXXX`` escapes, REST and GraphQL alike."""
from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from api.json_encoding import OrjsonProvider, dumps_bytes


@dataclasses.dataclass
class Point:
    x: int
    label: str


VALUES = {
    "text": "杭州恒达 “quoted” \\ / \n tab\t",
    "ints": [0, -1, 2**63 - 1],
    "floats": [0.1, 1e-7, 12345.678],
    "uuid": uuid.UUID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
    "decimal": Decimal("1234.50"),
    "when": datetime(2026, 12, 5, 3, 0, 0, 123456, tzinfo=timezone.utc),
    "day": date(2026, 12, 5),
    "point": Point(1, "一"),
    "nested": {"b": 1, "a": [None, True, False, {}]},
    1: "a number key",
}


@pytest.fixture
def providers():
    app = Flask(__name__)
    theirs, ours = DefaultJSONProvider(app), OrjsonProvider(app)
    theirs.sort_keys = ours.sort_keys = False
    return app, theirs, ours


def test_the_values_are_those_flasks_own_provider_writes(providers):
    _app, theirs, ours = providers
    assert json.loads(ours.dumps(VALUES)) == json.loads(theirs.dumps(VALUES))
    assert list(json.loads(ours.dumps(VALUES))) == list(json.loads(theirs.dumps(VALUES)))  # key order kept


def test_non_ascii_is_utf8_not_escapes(providers):
    _app, _theirs, ours = providers
    assert ours.dumps({"name": "杭州"}) == '{"name":"杭州"}'


def test_sort_keys_is_honoured(providers):
    _app, _theirs, ours = providers
    ours.sort_keys = True
    assert ours.dumps({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def test_what_orjson_refuses_is_written_by_pythons_json():
    assert json.loads(dumps_bytes({"big": 2**70})) == {"big": 2**70}
    assert dumps_bytes({"lone": "a\ud800b"}) == b'{"lone":"a\\ud800b"}'


def test_options_for_pythons_json_go_to_pythons_json(providers):
    _app, _theirs, ours = providers
    assert ours.dumps({"a": 1}, indent=2) == '{\n  "a": 1\n}'


def test_a_response_is_compact_utf8_with_a_newline_and_pretty_in_debug(providers):
    app, _theirs, ours = providers
    with app.app_context():
        assert ours.response({"name": "杭州"}).get_data() == '{"name":"杭州"}\n'.encode()
        app.debug = True
        assert ours.response({"name": "杭州"}).get_data(as_text=True) == '{\n  "name": "\\u676d\\u5dde"\n}\n'


def test_rest_and_graphql_bodies_carry_chinese_as_utf8(api, client, tokens):
    created = api.post("/api/v1/customers", json={"name": "杭州恒达"})
    assert created.status_code == 201
    assert "杭州恒达".encode() in created.get_data()
    assert created.get_json()["name"] == "杭州恒达"
    answer = client.post("/graphql", headers={"Authorization": f"Bearer {tokens['admin']}"},
                         json={"query": 'query($id: ID!) { customer(id: $id) { name } }',
                               "variables": {"id": created.get_json()["id"]}})
    assert "杭州恒达".encode() in answer.get_data()
    assert answer.get_json()["data"]["customer"]["name"] == "杭州恒达"
