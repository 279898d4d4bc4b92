"""A circuit breaker: stop calling an upstream that keeps failing, then probe it.

Use a :class:`CircuitBreaker` in front of an upstream whose outages last longer
than a retry policy's waits. After ``failure_threshold`` consecutive transient
failures it *opens*: calls are refused at once (the caller gets a fast 503 with a
Retry-After instead of blocking a worker). After ``cool_down`` seconds it turns
*half-open* and lets one probe through; the probe's success closes it, its failure
opens it for another cool-down.

The clock is injectable, so simulations run it on virtual time. Thread- and
asyncio-safe: state changes take a short lock and never await; the closed-state
checks on the success path take no lock at all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["BreakerState", "BreakerStats", "CircuitBreaker"]

logger = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerStats:
    """A snapshot of a :class:`CircuitBreaker`."""

    state: BreakerState
    consecutive_failures: int
    failure_threshold: int
    cool_down: float
    retry_after: float
    """Seconds until the breaker lets a probe through (0 unless open)."""
    times_opened: int
    calls_refused: int


class CircuitBreaker:
    """Closed -> open after N consecutive failures -> half-open probe after a cool-down."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        cool_down: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "breaker",
    ) -> None:
        if isinstance(failure_threshold, bool) or failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold!r}")
        if not cool_down > 0:
            raise ValueError(f"cool_down must be > 0, got {cool_down!r}")
        self.failure_threshold = failure_threshold
        self.cool_down = float(cool_down)
        self.clock = clock
        self.name = name
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._times_opened = 0
        self._refused = 0
        self.clean = True
        """True while closed with no failure counted: a success then changes nothing (read lock-free)."""

    @property
    def state(self) -> BreakerState:
        """The current state, turning open into half-open once the cool-down has passed."""
        if self._state == "open" and self.clock() - self._opened_at >= self.cool_down:
            return "half_open"
        return self._state

    def allow(self) -> bool:
        """Whether a call may go ahead now. In half-open state only one probe at a time may."""
        if self._state == "closed":  # closed -> True without the lock: the hot path
            return True
        with self._lock:
            if self._state == "open":
                if self.clock() - self._opened_at < self.cool_down:
                    self._refused += 1
                    return False
                self._state = "half_open"
                self._probe_in_flight = False
                logger.info("circuit %s half-open: letting a probe through", self.name)
            if self._state == "half_open":
                if self._probe_in_flight:
                    self._refused += 1
                    return False
                self._probe_in_flight = True
            return True

    def retry_after(self) -> float:
        """Seconds until the breaker will let a probe through; 0 when it would now."""
        if self._state != "open":
            return 0.0
        return max(0.0, self.cool_down - (self.clock() - self._opened_at))

    def record_success(self) -> None:
        """A call got through: reset the failure count, and close after a good probe."""
        if self.clean:
            return
        closed = False
        with self._lock:
            self._failures = 0
            self.clean = True
            if self._state != "closed":
                self._state = "closed"
                self._probe_in_flight = False
                closed = True
        if closed:
            logger.info("circuit %s closed: the probe succeeded", self.name)

    def release(self) -> None:
        """A call ended without telling anything about the upstream (a permanent error, a
        cancellation, a refusal elsewhere): free the half-open probe slot it may hold."""
        if self._state != "half_open":
            return
        with self._lock:
            self._probe_in_flight = False

    def record_failure(self) -> None:
        """A call failed transiently: count it, and open at the threshold or after a failed probe."""
        opened = False
        with self._lock:
            self._failures += 1
            self.clean = False
            if self._state == "half_open" or (self._state == "closed" and self._failures >= self.failure_threshold):
                self._state = "open"
                self._opened_at = self.clock()
                self._probe_in_flight = False
                self._times_opened += 1
                opened = True
        if opened:
            logger.warning(
                "circuit %s open after %d consecutive failures: refusing calls for %.1fs",
                self.name,
                self._failures,
                self.cool_down,
            )

    def reset(self) -> None:
        """Close the breaker and zero its counters."""
        with self._lock:
            self._state = "closed"
            self._failures = self._times_opened = self._refused = 0
            self._probe_in_flight = False
            self.clean = True

    def fresh(self, clock: Callable[[], float] | None = None) -> CircuitBreaker:
        """A new, closed breaker with the same settings, on ``clock`` if given."""
        return CircuitBreaker(
            failure_threshold=self.failure_threshold,
            cool_down=self.cool_down,
            clock=clock or self.clock,
            name=self.name,
        )

    def stats(self) -> BreakerStats:
        """The state, the failure count and what the breaker has refused so far."""
        with self._lock:
            return BreakerStats(
                state=self.state,
                consecutive_failures=self._failures,
                failure_threshold=self.failure_threshold,
                cool_down=self.cool_down,
                retry_after=self.retry_after(),
                times_opened=self._times_opened,
                calls_refused=self._refused,
            )

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state}, failures={self._failures})"
