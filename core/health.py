"""Readiness: does the database answer, and is every enabled component's schema at its migration head?

``/readyz`` reports :func:`readiness` to load balancers. :class:`SchemaGate` keeps the answer for the
API: a server whose database is behind the code refuses API requests with a 503 naming the components
behind and ``trellis db upgrade``, instead of failing on missing tables. It checks once, on the first
request, and again at most every :data:`RECHECK_SECONDS`, so a request pays one clock read.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from core.db import UNREACHABLE_MESSAGE, is_connection_error
from core.errors import Unavailable

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger("trellis.health")

#: Seconds the API trusts the last schema check before it looks again (``trellis db upgrade`` on a
#: running server is noticed within this time, without a restart).
RECHECK_SECONDS = 30.0
#: ``Retry-After`` of a 503 while the database is unreachable.
UNREACHABLE_RETRY_AFTER = 5


@dataclass(frozen=True)
class Readiness:
    """What :func:`readiness` found. ``components`` maps every enabled component with migrations to
    ``{"current": revision or None, "head": revision}``; it is empty when the database did not answer."""

    database: bool
    components: dict[str, dict] = field(default_factory=dict)
    error: str = ""

    @property
    def behind(self) -> list[str]:
        """The components whose database revision is not their head (``core`` first)."""
        return [name for name, state in self.components.items() if state["current"] != state["head"]]

    @property
    def ready(self) -> bool:
        return self.database and not self.behind

    @property
    def reason(self) -> str:
        """Why it is not ready, in a sentence an operator can act on ("" when ready)."""
        if not self.database:   # the driver's words (host, port) go to the log, not to the public
            return "The database does not answer."
        if self.behind:
            names = ", ".join(f"{name} ({self._state(name)})" for name in self.behind)
            return (f"The database schema is behind the code for: {names}. Run 'trellis db upgrade', "
                    "then the server answers within a minute.")
        return ""

    def _state(self, name: str) -> str:
        current = self.components[name]["current"]
        return "not migrated" if current is None else f"at {current}, head {self.components[name]['head']}"

    def checks(self) -> dict:
        """The ``checks`` object of ``/readyz``: ``{"database": bool, "migrations": {component: {...}}}``."""
        return {"database": self.database,
                "migrations": {name: {**state, "ok": state["current"] == state["head"]}
                               for name, state in self.components.items()}}


def readiness(runtime: "Runtime") -> Readiness:
    """Ask the database which revisions it has and compare them with the heads of the enabled
    components' migration scripts. Never raises for an unreachable database: that is a finding."""
    from core import migrate

    try:
        heads = migrate.heads(runtime)
        with runtime.database.engine.connect() as conn:
            # a deferred BEGIN on SQLite: reading the version table never queues behind a writer
            current = migrate.current(runtime, connection=conn.execution_options(sqlite_begin="DEFERRED"))
    except Exception as exc:  # noqa: BLE001 - any failure to read the version table means "not ready"
        if is_connection_error(exc) or _is_dbapi_error(exc):
            log.warning("Readiness: the database does not answer: %s", _short(exc))
            return Readiness(database=False, error=_short(exc))
        raise
    return Readiness(database=True,
                     components={name: {"current": current.get(name), "head": head} for name, head in heads.items()})


def _is_dbapi_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError

    return isinstance(exc, DBAPIError)


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0][:200] if str(orig).strip() else type(orig).__name__


class SchemaGate:
    """The API's cached view of :func:`readiness`. :meth:`check` raises :class:`Unavailable` while the
    schema is behind or the database does not answer; otherwise it returns at once."""

    def __init__(self, runtime: "Runtime", *, interval: float = RECHECK_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.runtime = runtime
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._state: Readiness | None = None

    def check(self) -> None:
        """Raise :class:`Unavailable` when the last known state (refreshed when older than the interval)
        is not ready."""
        state = self._state
        if state is None or self.clock() - self._checked_at >= self._valid_for(state):
            state = self.refresh()
        if state.ready:
            return
        if not state.database:
            raise Unavailable(UNREACHABLE_MESSAGE, retry_after=UNREACHABLE_RETRY_AFTER)
        raise Unavailable(state.reason, retry_after=int(self.interval))

    def refresh(self) -> Readiness:
        """Check now (one thread at a time; the others keep using the last answer meanwhile)."""
        if not self._lock.acquire(blocking=self._state is None):
            return self._state
        try:
            state = readiness(self.runtime)
            self._state, self._checked_at = state, self.clock()
            return state
        finally:
            self._lock.release()

    def _valid_for(self, state: Readiness) -> float:
        # an unreachable database is asked again sooner: it usually comes back by itself
        return self.interval if state.database else min(self.interval, UNREACHABLE_RETRY_AFTER)
