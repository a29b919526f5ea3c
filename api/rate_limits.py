"""Moving-window rate limits per client address or account: failed sign-ins (api/auth.py) and the public
endpoints that call :func:`api.auth.rate_limited` (a plugin's self-registration).

The counters live in the store ``TRELLIS_RATELIMIT_STORAGE_URI`` names (``memory://`` per process;
``redis://…`` shared by every worker), through the ``limits`` library. A store that cannot be reached
does not turn sign-in into a 500: the limits count in this process's memory instead, and the shared
store is tried again after :data:`RETRY_SHARED_AFTER` seconds.

Only the requests that are limited pay anything. (Flask-Limiter, used before, ran three hooks on every
request of the app to find the limits of its endpoint: about 0.16 ms of CPU, 7 % of a read by id, for
the one view that has limits; issue #16, docs/performance.md.)
"""
from __future__ import annotations

import logging
import math
import time
from typing import Callable, TypeVar

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("trellis.rate_limits")

#: seconds the process counts in memory after the shared store failed, before trying it again
RETRY_SHARED_AFTER = 30.0
#: the first part of every counter's key
KEY_PREFIX = "trellis"

T = TypeVar("T")


class RateLimits:
    """Counters of a moving window per ``(scope, key)``, in the shared store or, while that is down, in
    this process's memory."""

    def __init__(self, storage_uri: str):
        self.storage_uri = storage_uri
        self._shared = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared_down_until = 0.0

    def _run(self, call: Callable[[MovingWindowRateLimiter], T]) -> T:
        if time.monotonic() >= self._shared_down_until:
            try:
                return call(self._shared)
            except Exception as error:   # the store is unreachable or refused: count here meanwhile
                log.warning("Rate-limit store %s failed (%s): counting in this process's memory for %.0f s",
                            self.storage_uri, error, RETRY_SHARED_AFTER)
                self._shared_down_until = time.monotonic() + RETRY_SHARED_AFTER
        return call(self._local)

    def hit(self, limit: str | RateLimitItem, scope: str, key: str) -> bool:
        """Count one request; False when that is past ``limit`` (``"5 per 15 minutes"``), which then is
        not counted."""
        item = parse(limit) if isinstance(limit, str) else limit
        return self._run(lambda strategy: strategy.hit(item, KEY_PREFIX, scope, key))

    def exhausted(self, limit: str | RateLimitItem, scope: str, key: str) -> bool:
        """Whether one more request would be past ``limit``, counting nothing."""
        item = parse(limit) if isinstance(limit, str) else limit
        return not self._run(lambda strategy: strategy.test(item, KEY_PREFIX, scope, key))

    def retry_after(self, limit: str | RateLimitItem, scope: str, key: str) -> int:
        """Whole seconds until the oldest counted request leaves the window (at least 1)."""
        item = parse(limit) if isinstance(limit, str) else limit
        try:
            reset = self._run(lambda strategy: strategy.get_window_stats(item, KEY_PREFIX, scope, key).reset_time)
        except Exception:   # noqa: BLE001 - the answer is a 429 either way; say the whole window
            reset = time.time() + item.get_expiry()
        return max(1, math.ceil(reset - time.time()))

    def reset(self) -> None:
        """Forget every counter (tests)."""
        for strategy in (self._shared, self._local):
            try:
                strategy.storage.reset()
            except Exception:   # noqa: BLE001 - a store that is down has nothing to forget here
                pass
        self._shared_down_until = 0.0
