"""Typed errors raised by services and mapped once to HTTP statuses and GraphQL error codes.

A service never returns an error value; it raises one of these. ``api/rest/errors.py`` and
``api/graphql/errors.py`` translate them: the mapping lives on the class (``http_status``,
``graphql_code``) so both transports agree by construction.
"""
from __future__ import annotations

from typing import Mapping, Sequence


class TrellisError(Exception):
    """Base class of every error a client may see."""

    http_status = 400
    graphql_code = "BAD_USER_INPUT"
    default_message = "Bad request."

    def __init__(self, message: str | None = None, *, fields: Mapping[str, Sequence[str]] | None = None):
        self.message = message or self.default_message
        self.fields: dict[str, list[str]] = {k: list(v) for k, v in (fields or {}).items()}
        super().__init__(self.message)

    def to_dict(self) -> dict:
        body: dict = {"code": self.http_status, "message": self.message}
        if self.fields:
            body["errors"] = {"json": self.fields}
        return body


class ValidationFailed(TrellisError):
    """Input was malformed or broke a rule; ``fields`` maps each field to its messages."""

    http_status = 422
    graphql_code = "BAD_USER_INPUT"
    default_message = "Invalid input."


class Unauthenticated(TrellisError):
    """No signed-in, active user: HTTP 401, GraphQL ``UNAUTHENTICATED``."""

    http_status = 401
    graphql_code = "UNAUTHENTICATED"
    default_message = "Authentication required."


class Forbidden(TrellisError):
    """The user is known but may not do this (a role or an approval is missing): HTTP 403, GraphQL
    ``FORBIDDEN``. A record outside the user's scope is :class:`NotFound` instead, so ids cannot be
    probed."""

    http_status = 403
    graphql_code = "FORBIDDEN"
    default_message = "You are not allowed to do this."


class NotFound(TrellisError):
    """The record does not exist, is deleted, or lies outside the caller's scope (never 403, so ids
    cannot be probed)."""

    http_status = 404
    graphql_code = "NOT_FOUND"
    default_message = "Not found."


class Conflict(TrellisError):
    """The record changed since the caller read it (stale ``version``) or a uniqueness rule broke."""

    http_status = 409
    graphql_code = "CONFLICT"
    default_message = "The record was changed by someone else; reload it and try again."


class Gone(TrellisError):
    """What was asked for existed but has been removed for good (a queued export's file past its
    retention): HTTP 410. GraphQL serves no such thing itself; should it see one, ``NOT_FOUND``."""

    http_status = 410
    graphql_code = "NOT_FOUND"
    default_message = "This is no longer available."


class Unavailable(TrellisError):
    """The server cannot answer now, through no fault of the request: the database is unreachable, or its
    schema is behind the code (``trellis db upgrade`` has not run). HTTP 503 with ``Retry-After``; GraphQL
    ``SERVICE_UNAVAILABLE`` (and the same header on the HTTP response)."""

    http_status = 503
    graphql_code = "SERVICE_UNAVAILABLE"
    default_message = "The service is unavailable right now; try again shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 5,
                 fields: Mapping[str, Sequence[str]] | None = None):
        super().__init__(message, fields=fields)
        #: seconds a client should wait before trying again (the ``Retry-After`` header)
        self.retry_after = retry_after


class ConfigError(ValueError):
    """A setting that stops the start: the message names the ``TRELLIS_*`` variable and what to do."""


class PluginError(Exception):
    """A start-up error in the plugin set. The message names the plugin at fault and what to do."""
