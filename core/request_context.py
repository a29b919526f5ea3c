"""The request (or job run) being served, for what the core writes on its behalf: the id the web layer
accepted from ``X-Request-Id`` (or made), set for the duration of a request, and a fresh id for each
scheduled job run. Audit entries and outbox events carry it, so a client's request id, the log lines,
the audit trail and the webhooks it caused lead to each other."""
from __future__ import annotations

import contextvars

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trellis_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request (or job run) being served, or None outside one."""
    return request_id_var.get()
