"""In-process delivery of domain events to the subscribers plugins declared.

Events are stored in the outbox by ``core.services.audit.record_change``; :func:`publish` then calls the
handlers of ``trellis_event_subscribers`` in the same transaction. Webhooks deliver the same stored
events to other systems later (``core.services.webhooks``).
"""
from __future__ import annotations

import contextvars
from typing import Any

from core import runtime
from core.errors import TrellisError

MAX_DEPTH = 8
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("trellis_event_depth", default=0)


def publish(event: Any, actor: Any) -> None:
    """Call every handler subscribed to ``event.name`` (and to ``*``)."""
    rt = runtime.current()
    handlers = rt.subscribers.get(event.name, []) + rt.subscribers.get("*", [])
    if not handlers:
        return
    depth = _depth.get()
    if depth >= MAX_DEPTH:
        raise TrellisError(f"Event handlers re-triggered each other more than {MAX_DEPTH} times ({event.name}).")
    token = _depth.set(depth + 1)
    try:
        for handler in handlers:
            handler(event=event, actor=actor)
    finally:
        _depth.reset(token)
