"""The simulated upstream many clients share: capacity, a queue, client timeouts and an outage window.

Use :class:`Upstream` inside a :func:`~src.simulation.vloop.run_virtual` run; its
:meth:`~Upstream.call` is one attempt, to be wrapped by a retry policy. The model:

* The upstream works on at most ``capacity`` attempts at once, each for
  ``service_time`` seconds. Further attempts wait in a FIFO queue; when
  ``queue_limit`` attempts are already waiting, a new one is refused at once with
  :class:`UpstreamOverloaded` (a ``ConnectionError``), like a server shedding load
  with a 529. ``queue_limit=0`` means no queue at all.
* The caller gives up on an attempt after ``timeout`` seconds, queueing included,
  with :class:`UpstreamTimeout` (a ``TimeoutError``). The upstream does not know:
  it still serves the abandoned attempt when its turn comes, as a server without
  deadline propagation does. That wasted work is what lets retries keep an
  overloaded upstream overloaded after the cause has gone (a "metastable failure").
* An attempt that starts during the :class:`Outage` fails with
  :class:`UpstreamDown` (a ``TimeoutError``) after ``timeout`` seconds: the host
  does not answer. Attempts admitted before the outage are unaffected.

All three failures are cheap built-in subclasses that every retry policy treats
as transient. Every call is logged with the logical request it belongs to, so a
simulation can check that no call goes unaccounted for. Everything runs as loop
callbacks (no task per attempt), so many thousands of attempts cost little.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AttemptResult",
    "Outage",
    "Upstream",
    "UpstreamCall",
    "UpstreamDown",
    "UpstreamOverloaded",
    "UpstreamTimeout",
]

AttemptResult = Literal["served", "timed_out", "overloaded", "down"]
"""What became of one call: answered in time, given up on by the caller, refused at once, or lost to the outage."""


class UpstreamOverloaded(ConnectionError):
    """The upstream's queue was full and it refused the attempt at once."""


class UpstreamTimeout(TimeoutError):
    """The attempt was not answered within the caller's timeout (it waited in the queue, most likely)."""


class UpstreamDown(TimeoutError):
    """The attempt started during the outage and timed out."""


@dataclass(frozen=True, slots=True)
class Outage:
    """The virtual-time window ``[start, end)`` during which every new attempt fails."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end) and 0 <= self.start < self.end):
            raise ValueError(f"an outage needs 0 <= start < end, got {self.start!r}:{self.end!r}")

    def covers(self, moment: float) -> bool:
        """Whether an attempt starting at ``moment`` hits the outage."""
        return self.start <= moment < self.end

    def __str__(self) -> str:
        return f"{self.start:g}:{self.end:g}"


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One attempt as the upstream saw it."""

    request: int
    """The logical request the attempt belongs to."""
    start: float
    result: AttemptResult


class _Job:
    __slots__ = ("future", "index")

    def __init__(self, index: int, future: asyncio.Future[None]) -> None:
        self.index = index
        self.future = future


class Upstream:
    """One upstream shared by every client of a simulation; see the module docstring.

    ``queue_limit=None`` (the default) is an unbounded queue. Raises ``ValueError``
    for a capacity below 1, a negative queue limit, or a time that is negative or
    not finite (``timeout`` must also be more than 0).
    """

    def __init__(
        self,
        *,
        capacity: int,
        service_time: float,
        timeout: float,
        queue_limit: int | None = None,
        outage: Outage | None = None,
    ) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        if queue_limit is not None and (isinstance(queue_limit, bool) or queue_limit < 0):
            raise ValueError(f"queue_limit must be an integer >= 0 or None, got {queue_limit!r}")
        if not (math.isfinite(service_time) and service_time >= 0):
            raise ValueError(f"service_time must be a finite number of seconds >= 0, got {service_time!r}")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
        self.capacity = capacity
        self.service_time = float(service_time)
        self.timeout = float(timeout)
        self.queue_limit = queue_limit
        self.outage = outage
        self.in_service = 0
        self.peak_in_service = 0
        self.peak_queue = 0
        self.wasted = 0
        """Attempts the upstream served after their caller had given up on them (by the end of the run)."""
        self._queue: deque[_Job] = deque()
        self._requests: list[int] = []
        self._starts: list[float] = []
        self._results: list[AttemptResult] = []

    @property
    def calls(self) -> tuple[UpstreamCall, ...]:
        """Every call so far, in the order they started."""
        return tuple(map(UpstreamCall, self._requests, self._starts, self._results))

    async def call(self, request: int) -> None:
        """One attempt on behalf of logical request ``request``: returns when served in time, raises otherwise."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        index = len(self._results)
        self._requests.append(request)
        self._starts.append(now)
        if self.outage is not None and self.outage.covers(now):
            self._results.append("down")
            await asyncio.sleep(self.timeout)
            raise UpstreamDown(f"the upstream is down: the attempt at {now:.3f}s timed out")
        busy = self.in_service >= self.capacity
        if busy and self.queue_limit is not None and len(self._queue) >= self.queue_limit:
            self._results.append("overloaded")
            raise UpstreamOverloaded(f"the upstream is overloaded: {len(self._queue)} attempts already queued")
        self._results.append("timed_out")  # until served in time
        job = _Job(index, loop.create_future())
        timer = loop.call_later(self.timeout, self._expire, job, now)
        if busy:
            self._queue.append(job)
            self.peak_queue = max(self.peak_queue, len(self._queue))
        else:
            self._start(loop, job)
        try:
            await job.future
        finally:
            timer.cancel()

    def _start(self, loop: asyncio.AbstractEventLoop, job: _Job) -> None:
        self.in_service += 1
        self.peak_in_service = max(self.peak_in_service, self.in_service)
        loop.call_later(self.service_time, self._finish, loop, job)

    def _finish(self, loop: asyncio.AbstractEventLoop, job: _Job) -> None:
        self.in_service -= 1
        if job.future.done():
            self.wasted += 1
        else:
            self._results[job.index] = "served"
            job.future.set_result(None)
        while self._queue and self.in_service < self.capacity:
            self._start(loop, self._queue.popleft())

    def _expire(self, job: _Job, started: float) -> None:
        if not job.future.done():
            job.future.set_exception(
                UpstreamTimeout(f"no answer within {self.timeout:g}s to the attempt at {started:.3f}s")
            )
