"""A virtual clock: time that moves only when something sleeps on it.

Use :class:`VirtualClock` wherever code would sleep for real but you want the
waiting to cost nothing and the timings to be exact: hand its :meth:`~VirtualClock.advance`
to a retry policy as ``sleep``, its :meth:`~VirtualClock.time` to anything that
reads a monotonic clock (a circuit breaker's cool-down), and read
:attr:`~VirtualClock.now` to timestamp attempts. One clock can be shared by many
simulated callers.
"""

from __future__ import annotations

import math

__all__ = ["VirtualClock"]


class VirtualClock:
    """Seconds of simulated time, starting at ``start`` (0 by default).

    Nothing advances it but :meth:`advance`, so a simulation that sleeps for
    minutes runs in microseconds and prints the same numbers every time.
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = _checked(start, "start")

    @property
    def now(self) -> float:
        """The current virtual time in seconds."""
        return self._now

    def time(self) -> float:
        """The current virtual time: pass ``clock.time`` wherever code wants ``time.monotonic``."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``: the ``sleep`` to give a retry policy.

        Raises ``ValueError`` for a negative, NaN or infinite duration, which
        would mean the caller computed its wait wrongly.
        """
        self._now += _checked(seconds, "seconds")

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r})"


def _checked(seconds: float, what: str) -> float:
    value = float(seconds)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite number >= 0, got {seconds!r}")
    return value
