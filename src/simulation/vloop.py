"""A virtual-time asyncio event loop: ``asyncio.sleep`` costs nothing and every timing is exact.

Use :func:`run_virtual` to run a coroutine on a fresh :class:`VirtualTimeLoop`:
many tasks sleep, time out and retry concurrently, and minutes of simulated time
pass in milliseconds. The loop's ``time()`` is virtual, so code that sleeps with
``asyncio.sleep`` or reads ``loop.time`` (a circuit breaker's clock, say) runs on
simulated time without being changed.

How it works: an asyncio loop waits for its next timer by calling
``selector.select(timeout)``. This loop's selector does not block; it moves the
virtual clock forward by ``timeout`` and reports no I/O. Nothing real happens in a
simulation, so there is nothing else to wait for; a loop with no timer and no ready
callback would wait forever, and raises :class:`VirtualTimeDeadlock` instead.

Deterministic: callbacks run in the order asyncio schedules them, which depends
only on the program, so the same program (and the same seeds) gives the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import selectors
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike as _FileObj

__all__ = ["VirtualTimeDeadlock", "VirtualTimeLoop", "run_virtual"]

T = TypeVar("T")


class VirtualTimeDeadlock(RuntimeError):
    """The loop had no timer and no ready callback: the simulated program waits on something that never happens."""


class _VirtualSelector(selectors.BaseSelector):
    """Advances the virtual clock instead of blocking; real registrations (the loop's self-pipe) are kept."""

    def __init__(self, start: float) -> None:
        self.now = start
        self._real = selectors.DefaultSelector()

    def register(self, fileobj: _FileObj, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: _FileObj) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: _FileObj, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)  # a wake-up from another thread, if any; never waits
        if ready:
            return ready
        if timeout is None:
            raise VirtualTimeDeadlock(
                f"nothing is scheduled at virtual time {self.now:g}s: the simulation would wait forever"
            )
        if timeout > 0:
            self.now += timeout
        return []

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Mapping[_FileObj, selectors.SelectorKey]:
        return self._real.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock only moves when every task is waiting for a timer.

    Prefer :func:`run_virtual`, which creates, runs and closes one. The loop does
    no real I/O: sockets, subprocesses and threads' ``call_soon_threadsafe`` are
    not simulated.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._virtual = _VirtualSelector(0.0)
        super().__init__(self._virtual)
        if not math.isfinite(start):
            self.close()  # a loop that failed half-way through __init__ would break in __del__
            raise ValueError(f"start must be a finite number of seconds, got {start!r}")
        self._virtual.now = float(start)

    def time(self) -> float:
        """The virtual time in seconds."""
        return self._virtual.now


def run_virtual(main: Coroutine[Any, Any, T], *, start: float = 0.0) -> T:
    """Run ``main`` to completion on a new :class:`VirtualTimeLoop` and close the loop.

    Returns what ``main`` returns, or raises what it raises (and
    :class:`VirtualTimeDeadlock` if it waits on something no timer will ever
    complete). Tasks still pending when ``main`` ends are cancelled. The loop is
    never installed as the thread's current event loop, so nothing outside this
    call sees it. Must not be called from inside a running event loop.
    """
    loop = VirtualTimeLoop(start)
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_pending(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not pending:
        return
    for task in pending:
        task.cancel()
    # A task that swallows its cancellation and then waits forever would deadlock: give up on it.
    with contextlib.suppress(VirtualTimeDeadlock):
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
