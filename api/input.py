"""Every request's raw input is vetted once, here, before any view, service or plugin sees it.

Text that no database can store and no JSON encoder can write back is refused at the door, naming where
it was found: a NUL character (PostgreSQL text cannot hold one) or a lone UTF-16 surrogate (``"\\ud800"``
is valid JSON but no valid UTF-8), in a query parameter, a path segment, a form field or any string of a
JSON body (GraphQL variables included). A JSON body that is not JSON, not UTF-8 or nested deeper than
:data:`MAX_JSON_DEPTH` is a 400. Because the check sits in ``before_request``, a plugin's endpoints get it
without doing anything. Field-shaped rules (datetimes that leave the calendar when turned into UTC) live
in the marshmallow base schema (:mod:`core.schemas`); GraphQL literals are checked by a validation rule
(:mod:`api.graphql.limits`).
"""
from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any, Iterator

from flask import Flask, Response, jsonify, request

from core.errors import ValidationFailed

#: Deeper bodies are refused. Trellis' deepest documented body (a purchase batch's lines) is 4 levels.
MAX_JSON_DEPTH = 32

_UNSAFE = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be accepted as text, or None when it can."""
    match = _UNSAFE.search(value)
    if match is None:
        return None
    if match.group() == "\x00":
        return "Must not contain NUL (\\u0000) characters."
    return "Must not contain unpaired UTF-16 surrogates (not valid Unicode text)."


class BadJSON(ValueError):
    """The body is not JSON Trellis accepts (malformed, not UTF-8, or too deep)."""


def load_json(data: bytes | str) -> Any:
    """Parse a JSON body; a body too deep for the parser is a :class:`BadJSON`, like any malformed one."""
    try:
        return json.loads(data)
    except RecursionError:
        raise BadJSON(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise BadJSON(f"The body is not valid JSON: {exc}") from None


def _walk(value: Any, path: str, depth: int = 1) -> Iterator[tuple[str, str]]:
    """(path, problem) for every string in a parsed JSON value that cannot be accepted."""
    stack = [(value, path, depth)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH and isinstance(value, (dict, list)):
            raise BadJSON(f"The JSON body is nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                yield path or "_schema", problem
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                problem = text_problem(key)
                if problem:
                    yield (f"{path}.{key!r}" if path else repr(key)), "A key " + problem[0].lower() + problem[1:]
                    continue
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((item, f"{path}.{index}" if path else str(index), depth + 1))


def problems_in_json(value: Any, prefix: str = "") -> dict[str, list[str]]:
    """Every unacceptable string in a parsed JSON value, by dotted path (raises BadJSON when too deep)."""
    found: dict[str, list[str]] = {}
    for path, problem in _walk(value, prefix):
        found.setdefault(path, []).append(problem)
    return found


def _problems_in_request() -> dict[str, dict[str, list[str]]]:
    """Unacceptable text by location (``query``, ``path``, ``form``, ``json``) and field."""
    found: dict[str, dict[str, list[str]]] = {}

    def check(location: str, name: str, value: Any) -> None:
        problem = text_problem(value) if isinstance(value, str) else None
        if problem:
            found.setdefault(location, {}).setdefault(name if not text_problem(name) else repr(name),
                                                      []).append(problem)

    for key, values in request.args.lists():
        check("query", key, key)
        for value in values:
            check("query", key, value)
    for key, value in (request.view_args or {}).items():
        check("path", key, value)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, values in request.form.lists():
            check("form", key, key)
            for value in values:
                check("form", key, value)
    if request.is_json:
        body = request.get_data(cache=True)
        if body.strip():
            problems = problems_in_json(load_json(body))
            if problems:
                found["json"] = problems
    return found


class UnacceptableInput(ValidationFailed):
    """Input refused at the door: ``problems`` by location (``query``, ``path``, ``form``, ``json``) and
    field. Raised, not returned, so a blueprint with an error format of its own (Open311) answers in it;
    everywhere else :func:`_refuse` writes the answer."""

    def __init__(self, message: str, problems: dict[str, dict[str, list[str]]] | None = None, *,
                 status: int = ValidationFailed.http_status):
        self.problems = problems or {}
        super().__init__(message, fields={name: messages for located in self.problems.values()
                                          for name, messages in located.items()})
        self.http_status = status


def _refuse(exc: UnacceptableInput) -> Response:
    status, message, problems = exc.http_status, exc.message, exc.problems
    if request.endpoint == "graphql":  # answer in GraphQL's own shape, so GraphQL clients can read it
        extensions: dict[str, Any] = {"code": "BAD_USER_INPUT"}
        if problems:
            extensions["fields"] = dict(exc.fields)
        response = jsonify({"data": None, "errors": [{"message": message, "extensions": extensions}]})
    else:
        body: dict[str, Any] = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
        if problems:
            body["errors"] = problems
        response = jsonify(body)
    response.status_code = status
    return response


def apply_body_limit(app: Flask) -> None:
    """Give this request its endpoint's own body limit (``max_body_bytes`` on the view function, set by
    :func:`api.rest.crud.body_limit` or the GraphQL view) before anything reads the body."""
    view = app.view_functions.get(request.endpoint or "")
    while view is not None:
        limit = getattr(view, "max_body_bytes", None)
        if limit is not None:
            request.max_content_length = limit
            return
        view = getattr(view, "__wrapped__", None)


def init_app(app: Flask) -> None:
    """Vet every request's input before anything else runs (registered first in the app factory)."""

    @app.before_request
    def _vet_input():
        apply_body_limit(app)
        try:
            problems = _problems_in_request()
        except BadJSON as exc:
            raise UnacceptableInput(str(exc), status=400) from None
        if problems:
            raise UnacceptableInput("Some input is not acceptable text.", problems)

    app.register_error_handler(UnacceptableInput, _refuse)
