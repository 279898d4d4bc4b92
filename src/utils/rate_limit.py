"""A tiny in-memory sliding-window rate limiter, one window per client key.

Use :class:`SlidingWindowLimiter` to cap how often one client may call an expensive route of a
single process: it remembers the times of the last ``limit`` allowed hits per key. State lives in
the process, so each worker of a multi-process server counts on its own, and everything is
forgotten on restart; use a shared store (Redis...) when that matters.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """Allow at most ``limit`` hits per key in any ``window`` seconds.

    :meth:`hit` records a hit and returns None when it is allowed, or the seconds until the
    oldest remembered hit leaves the window when it is not (a refused hit is not recorded).
    ``clock`` is a monotonic time source in seconds; tests pass a fake one. Thread-safe. Raises
    ``ValueError`` unless ``limit`` is a positive int and ``window`` a positive finite number.
    """

    #: When this many keys are tracked, keys whose hits have all left the window are dropped.
    prune_threshold = 10_000

    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        if isinstance(window, bool) or not isinstance(window, int | float) or not 0 < window < math.inf:
            raise ValueError(f"window must be a positive number of seconds, got {window!r}")
        self.limit = limit
        self.window = float(window)
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record a hit for ``key``; None if allowed, else seconds to wait before the next one."""
        now = self._clock()
        with self._lock:
            if len(self._hits) >= self.prune_threshold:
                self._prune(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) < self.limit:
                hits.append(now)
                return None
            return hits[0] + self.window - now

    def _prune(self, now: float) -> None:
        stale = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self.window]
        for key in stale:
            del self._hits[key]
