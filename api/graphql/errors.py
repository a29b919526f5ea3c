"""Error formatting: every GraphQL error carries ``extensions.code``, and no trace reaches a client.

- A :class:`core.errors.TrellisError` keeps its message and maps through its ``graphql_code``
  (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, CONFLICT); its field messages become
  ``extensions.fields`` with camelCase names (``{"ownerId": ["No active user has this id."]}``).
- A request GraphQL itself refuses (syntax, validation, variable coercion, the depth / alias / token
  limits) is BAD_USER_INPUT; where the offending input can be located, ``extensions.fields`` names it the
  way the client wrote it, relative to a mutation's ``input`` (``name``, ``ownerId``, ``first``,
  ``filter.stage``).
- The database unreachable (a connection error, :func:`core.db.is_connection_error`) is
  SERVICE_UNAVAILABLE, and the HTTP response carries ``Retry-After``; so is a request refused because the
  schema is behind (:mod:`api.health`).
- Anything else is a bug: logged with its traceback, answered as "Internal server error" with code
  INTERNAL_SERVER_ERROR.

A query or a refused request that produced any error asks the request's unit of work to roll back
(``flask.g.trellis_rollback``). A mutation's root fields each run in a savepoint of their own
(:mod:`api.graphql.savepoints`): a failed one is already rolled back, the others commit.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Iterator

from flask import Response, g, has_request_context, json
from graphql import GraphQLError
from graphql.language import ArgumentNode, DocumentNode, FieldNode, Node, ObjectFieldNode, VariableNode
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from api.graphql.inputs import graphql_field_name
from core.db import BUSY_MESSAGE, UNREACHABLE_MESSAGE, is_connection_error, is_lock_timeout
from core.errors import Conflict, TrellisError, Unavailable
from core.health import UNREACHABLE_RETRY_AFTER

log = logging.getLogger("trellis.graphql")

BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"
INTERNAL_MESSAGE = "Internal server error"


class TrellisErrors(SchemaExtension):
    """Formats the errors of each operation (see the module docstring) and flags the rollback."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not getattr(result, "errors", None):
            return
        document = self.execution_context.graphql_document
        result.errors = [format_error(error, document) for error in result.errors]
        if document is None or self.execution_context.operation_type != OperationType.MUTATION \
                or any(error.path is None for error in result.errors):
            # a mutation's root fields each committed or rolled back to their own savepoint
            # (api.graphql.savepoints); anything else that failed writes nothing
            request_failed()


def request_failed() -> None:
    """Make the current request's unit of work roll back."""
    if has_request_context():
        g.trellis_rollback = True


def format_error(error: GraphQLError, document: DocumentNode | None = None) -> GraphQLError:
    """The error a client sees for ``error``."""
    if isinstance(error.extensions, dict) and error.extensions.get("code"):
        return error  # already formatted (or raised deliberately with a code)
    original = error.original_error
    if isinstance(original, StaleDataError):
        original = Conflict()
    elif isinstance(original, BaseException) and is_lock_timeout(original):
        original = Conflict(BUSY_MESSAGE)
    elif isinstance(original, BaseException) and is_connection_error(original):
        log.warning("Database unreachable: %s", getattr(original, "orig", original))
        original = Unavailable(UNREACHABLE_MESSAGE, retry_after=UNREACHABLE_RETRY_AFTER)
    elif isinstance(original, IntegrityError):
        original = Conflict("This change conflicts with existing data (a duplicate or a missing reference).")
    if isinstance(original, TrellisError):
        retry_after(getattr(original, "retry_after", None))
        extensions: dict[str, Any] = {"code": original.graphql_code}
        if original.fields:
            extensions["fields"] = {graphql_field_name(k): list(v) for k, v in original.fields.items()}
        return _rebuilt(error, original.message, extensions)
    if error.path is None:
        # refused before any resolver ran: parsing, validation, variable coercion, limits
        extensions = {"code": BAD_USER_INPUT}
        fields = input_fields(error, document)
        if fields:
            extensions["fields"] = fields
        return _rebuilt(error, error.message, extensions)
    where = "GraphQL " + ".".join(map(str, error.path))
    if isinstance(original, BaseException):
        from api.error_reports import report_unhandled

        report_unhandled(original, where)
    else:
        log.error("GraphQL resolver failed at %s: %s", where, error.message)
    return _rebuilt(error, INTERNAL_MESSAGE, {"code": INTERNAL})


def retry_after(seconds: int | None) -> None:
    """Ask for a ``Retry-After`` header on this request's HTTP response (set by the view)."""
    if seconds and has_request_context():
        g.trellis_retry_after = max(seconds, g.get("trellis_retry_after") or 0)


def http_error_response(error: TrellisError) -> Response:
    """The HTTP answer of ``/graphql`` to an error raised before any operation ran (not signed in, the
    schema behind, the database unreachable): one error with its code in GraphQL's shape, status 200 like
    every GraphQL answer, plus ``Retry-After`` when the error has one."""
    request_failed()
    body = {"data": None, "errors": [{"message": error.message, "extensions": {"code": error.graphql_code}}]}
    response = Response(json.dumps(body), status=200, content_type="application/json")
    if getattr(error, "retry_after", None):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _rebuilt(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions,
                        path=error.path, original_error=None, extensions=extensions)


# --- locating the input a request error is about ---------------------------------------------------------

_VARIABLE = re.compile(r"^Variable '\$(?P<var>\w+)' (?:got invalid value .*?(?: at '(?P<at>[^']+)')?; "
                       r"(?P<reason>.*)|(?P<other>(?:of required type|of non-null type).*))$", re.S)
# graphql-core 3.3 words the same errors differently; both wordings are understood.
_VARIABLE_33 = re.compile(r"^Variable '\$(?P<var>\w+)' has invalid value(?: at (?P<at>[^:]+))?: (?P<reason>.*)$", re.S)
_UNKNOWN_FIELD_33 = re.compile(r"not to include unknown field '(?P<name>\w+)'")
_REQUIRED_FIELD_33 = re.compile(r"to include required field '(?P<name>\w+)'")
_UNDEFINED_FIELD = re.compile(r"^Field '(?P<name>\w+)' is not defined by type")
_MISSING_FIELD = re.compile(r"^Field '(?:\w+\.)?(?P<name>\w+)' of required type '[^']*' was not provided")
_MISSING_ARGUMENT = re.compile(r"^Field '\w+' argument '(?P<name>\w+)' of type '[^']*' is required")


def input_fields(error: GraphQLError, document: DocumentNode | None) -> dict[str, list[str]]:
    """``{"fieldName": [reason]}`` for a request error about an argument or input field, else ``{}``."""
    message = error.message
    parents = _parents(document) if document is not None else {}
    match = _VARIABLE.match(message)
    if match:
        path = _variable_path(document, parents, match["var"])
        reason = match["reason"] or message
        if match["at"]:
            path += _split_path(match["at"])[1:]   # the path starts with the variable's own name
        if match["reason"]:
            tail = _UNDEFINED_FIELD.match(reason) or _MISSING_FIELD.match(reason)
            if tail:
                path.append(tail["name"])
        return _named(path, reason)
    match = _VARIABLE_33.match(message)
    if match:
        path = _variable_path(document, parents, match["var"])
        if match["at"]:
            path += re.findall(r"[A-Za-z_]\w*", match["at"])
        tail = _UNKNOWN_FIELD_33.search(match["reason"]) or _REQUIRED_FIELD_33.search(match["reason"])
        if tail:
            path.append(tail["name"])
        return _named(path, match["reason"])
    path: list[str] = []
    for node in error.nodes or ():
        path = _node_path(node, parents)
        if path or isinstance(node, FieldNode):
            break
    tail = (_MISSING_FIELD.match(message) or _MISSING_ARGUMENT.match(message)
            or _REQUIRED_FIELD_33.search(message) or _UNKNOWN_FIELD_33.search(message))
    if tail and (not path or path[-1] != tail["name"]):  # 3.3 may point at the unknown field itself
        path.append(tail["name"])
    return _named(path, message)


def _named(path: list[str], reason: str) -> dict[str, list[str]]:
    if len(path) > 1 and path[0] == "input":
        path = path[1:]   # a mutation's input fields are named as in REST: "name", not "input.name"
    if not path:
        return {}
    return {".".join(path): [reason]}


def _split_path(text: str) -> list[str]:
    """``input.tags[0]`` → ``["input", "tags", "0"]``."""
    return [part for part in re.split(r"[.\[\]]+", text) if part]


def _parents(document: DocumentNode) -> dict[int, Node]:
    parents: dict[int, Node] = {}
    stack: list[Node] = [document]
    while stack:
        node = stack.pop()
        for key in node.keys:
            if key == "loc":
                continue
            value = getattr(node, key, None)
            children = value if isinstance(value, (list, tuple)) else [value]
            for child in children:
                if isinstance(child, Node):
                    parents[id(child)] = node
                    stack.append(child)
    return parents


def _node_path(node: Node, parents: dict[int, Node]) -> list[str]:
    """The argument and input-field names from the enclosing field down to ``node``."""
    path: list[str] = []
    current: Node | None = node
    while current is not None and not isinstance(current, FieldNode):
        if isinstance(current, (ArgumentNode, ObjectFieldNode)):
            path.append(current.name.value)
        current = parents.get(id(current))
    return list(reversed(path))


def _variable_path(document: DocumentNode | None, parents: dict[int, Node], name: str) -> list[str]:
    """Where the variable ``$name`` is passed (``["input"]``), or ``[name]`` when that is unclear."""
    if document is not None:
        stack: list[Node] = [document]
        while stack:
            node = stack.pop()
            if isinstance(node, VariableNode) and node.name.value == name and \
                    isinstance(parents.get(id(node)), (ArgumentNode, ObjectFieldNode)):
                return _node_path(node, parents)
            for key in node.keys:
                if key == "loc":
                    continue
                value = getattr(node, key, None)
                stack.extend(c for c in (value if isinstance(value, (list, tuple)) else [value])
                             if isinstance(c, Node))
    return [name]
