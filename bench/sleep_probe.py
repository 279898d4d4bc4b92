"""A pytest plugin that records every ``time.sleep`` and ``asyncio.sleep`` of a test run.

Load it on the command line; nothing in ``conftest.py`` is needed::

    python -m pytest -p bench.sleep_probe --sleep-probe-out=sleeps.json

From ``pytest_configure`` until the session ends, ``time.sleep`` and ``asyncio.sleep`` are wrapped:
each call still sleeps, and is recorded with the seconds requested, the seconds it took, the test
running at the time, the code that called it and the first frame of the repository's own code on
the stack (its *origin*: a test, or the module under test). A sleep replaced by a mock never
reaches the wrapper and is not recorded, which is the point: only real waiting counts.

Real or virtual. An ``asyncio.sleep`` on an event loop whose clock is virtual (a simulation's
loop, where an hour passes in microseconds) waits for nothing real. The probe tells them apart by
reading the loop's clock before and after the sleep: a real loop's clock is ``time.monotonic``
(give or take a second, for loops that cache their time); a sleep on any other clock is virtual.
Virtual sleeps are counted on their own and never in the real totals.

A sleep whose caller is the retry machinery (``src/utils/retry.py``, tenacity, backoff, stamina or
the anthropic SDK) counts as a *retry wait*: a suite that switches retries to testing mode, or runs
them on virtual time, should have no real ones. A sleep that ends early (cancelled, interrupted)
counts for the time it lasted, not for what it asked.

At session end the plugin prints one summary line and, with ``--sleep-probe-out``, writes the
summary as JSON (see :func:`summarise`).

Limits: code that bound ``from time import sleep`` before the plugin loaded, and subprocesses the
tests start, are not seen.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any, SupportsIndex, TypeVar

import pytest

__all__ = ["RETRY_WAIT_SOURCES", "SleepProbe", "SleepRecord", "summarise"]

T = TypeVar("T")

#: Callers whose sleeps are retry waits (paths as :func:`_short_path` writes them).
RETRY_WAIT_SOURCES = ("src/utils/retry.py", "tenacity/", "backoff/", "stamina/", "anthropic/")
_TOP = 10


@dataclass(frozen=True, slots=True)
class SleepRecord:
    """One call of ``time.sleep`` or ``asyncio.sleep``."""

    function: str
    """``"time.sleep"`` or ``"asyncio.sleep"``."""
    requested: float
    waited: float
    """Seconds the sleep lasted on its own clock: real time, or the loop's virtual time."""
    virtual: bool
    """Whether it ran on an event loop with a virtual clock, so nothing really waited."""
    interrupted: bool
    """Whether it ended with an exception (cancelled, interrupted) instead of running out."""
    test: str
    """The node id of the test running at the time, or what pytest was doing."""
    caller: str
    """``path:line (function)`` of the code that called the sleep."""
    origin: str
    """The innermost frame of the repository's own code on the stack, in the same form."""

    @property
    def seconds(self) -> float:
        """What the sleep cost on its clock: the time requested, or the time it lasted if cut short."""
        return self.waited if self.interrupted else self.requested

    @property
    def is_retry_wait(self) -> bool:
        """Whether the retry machinery asked for this sleep."""
        return self.caller.startswith(RETRY_WAIT_SOURCES)


def _short_path(filename: str, root: str) -> str:
    if "site-packages" + os.sep in filename:
        return filename.split("site-packages" + os.sep, 1)[1]
    if filename.startswith(root + os.sep):
        return filename[len(root) + 1 :]
    return os.path.basename(filename)


def _where(frame: FrameType, root: str) -> str:
    return f"{_short_path(frame.f_code.co_filename, root)}:{frame.f_lineno} ({frame.f_code.co_name})"


def _sum(records: Iterable[SleepRecord]) -> float:
    return sum(record.seconds for record in records)


def _grouped(records: list[SleepRecord], key: Callable[[SleepRecord], str], name: str) -> list[dict[str, Any]]:
    groups: dict[str, list[SleepRecord]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    ordered = sorted(groups.items(), key=lambda item: _sum(item[1]), reverse=True)
    return [{name: group, "calls": len(items), "seconds": _sum(items)} for group, items in ordered[:_TOP]]


def _record_json(record: SleepRecord) -> dict[str, Any]:
    return {**asdict(record), "seconds": record.seconds}


def _totals(records: list[SleepRecord], *, examples: bool = False) -> dict[str, Any]:
    totals: dict[str, Any] = {"calls": len(records), "seconds": _sum(records)}
    if examples:
        totals["examples"] = [_record_json(record) for record in records[:_TOP]]
    return totals


def summarise(records: list[SleepRecord]) -> dict[str, Any]:
    """The sleeps of a run, real and virtual apart.

    ``real``: count, seconds (see :attr:`SleepRecord.seconds`), the measured total, the largest
    sleeps and the biggest sleepers by origin and by test. ``virtual``: count, virtual seconds and
    origins. ``retry_waits``: the retry machinery's sleeps, real (with examples) and virtual.
    ``measured_seconds`` adds up sleeps of concurrent threads and tasks, so it can exceed the wall time.
    """
    real = [record for record in records if not record.virtual]
    virtual = [record for record in records if record.virtual]
    return {
        "real": {
            **_totals(real),
            "nonzero_calls": sum(record.seconds > 0 for record in real),
            "measured_seconds": sum(record.waited for record in real),
            "largest": [_record_json(record) for record in sorted(real, key=lambda r: r.seconds, reverse=True)[:_TOP]],
            "by_origin": _grouped(real, lambda record: record.origin, "origin"),
            "by_test": _grouped(real, lambda record: record.test, "test"),
        },
        "virtual": {**_totals(virtual), "by_origin": _grouped(virtual, lambda record: record.origin, "origin")},
        "retry_waits": {
            "real": _totals([record for record in real if record.is_retry_wait], examples=True),
            "virtual": _totals([record for record in virtual if record.is_retry_wait]),
        },
    }


# asyncio's own loops read time.monotonic; others may cache it for a loop iteration.
_STALE_CLOCK = 1.0


def _reads_real_time(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop.time()`` is the monotonic clock (a virtual-time loop's is anything else)."""
    before = time.monotonic()
    reading = loop.time()
    return before - _STALE_CLOCK <= reading <= time.monotonic() + 1e-6


class SleepProbe:
    """Wraps the sleeps and keeps the records; registered by :func:`pytest_configure`."""

    def __init__(self, root: Path, out: Path | None) -> None:
        self.root = str(root)
        self.out = out
        self.records: list[SleepRecord] = []
        self.test = "(collection)"
        self._lock = threading.Lock()
        self._this_file = os.path.abspath(__file__)
        self._real_time_sleep = time.sleep
        self._real_asyncio_sleep = asyncio.sleep

    def _origin(self, frame: FrameType | None) -> str:
        while frame is not None:
            filename = frame.f_code.co_filename
            ours = filename.startswith(self.root + os.sep) and "site-packages" not in filename
            if ours and filename != self._this_file:
                return _where(frame, self.root)
            frame = frame.f_back
        return "(outside the repository)"

    def _record(
        self, function: str, seconds: object, waited: float, caller: FrameType, *, virtual: bool, interrupted: bool
    ) -> None:
        try:
            requested = float(seconds)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            requested = float("nan")
        record = SleepRecord(
            function,
            requested,
            waited,
            virtual,
            interrupted,
            self.test,
            _where(caller, self.root),
            self._origin(caller),
        )
        with self._lock:
            self.records.append(record)

    def install(self) -> None:
        """Replace ``time.sleep`` and ``asyncio.sleep`` with recording wrappers."""
        real_time_sleep, real_asyncio_sleep = self._real_time_sleep, self._real_asyncio_sleep
        monotonic = time.monotonic

        def sleep(seconds: float | SupportsIndex) -> None:
            caller = sys._getframe(1)
            start = monotonic()
            interrupted = True
            try:
                real_time_sleep(seconds)
                interrupted = False
            finally:
                self._record("time.sleep", seconds, monotonic() - start, caller, virtual=False, interrupted=interrupted)

        async def asyncio_sleep(delay: float, result: T | None = None) -> T | None:
            caller = sys._getframe(1)
            loop = asyncio.get_running_loop()
            real_clock = _reads_real_time(loop)
            start, loop_start = monotonic(), loop.time()
            interrupted = True
            try:
                value = await real_asyncio_sleep(delay, result)
                interrupted = False
                return value
            finally:
                real_elapsed, loop_elapsed = monotonic() - start, loop.time() - loop_start
                virtual = not (real_clock and _reads_real_time(loop))
                self._record(
                    "asyncio.sleep",
                    delay,
                    loop_elapsed if virtual else real_elapsed,
                    caller,
                    virtual=virtual,
                    interrupted=interrupted,
                )

        time.sleep = sleep
        asyncio.sleep = asyncio_sleep  # type: ignore[assignment]

    def uninstall(self) -> None:
        """Put the real sleeps back."""
        time.sleep = self._real_time_sleep
        asyncio.sleep = self._real_asyncio_sleep

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.test = item.nodeid
        try:
            return (yield)
        finally:
            self.test = "(between tests)"

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.uninstall()
        if self.out is not None:
            with self._lock:
                summary = summarise(list(self.records))
            self.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        with self._lock:
            summary = summarise(list(self.records))
        real, waits = summary["real"], summary["retry_waits"]
        line = f"sleep probe: {real['calls']} real sleeps, {real['seconds']:.2f} s"
        if real["largest"]:
            largest = real["largest"][0]
            line += f", largest {largest['seconds']:g} s in {largest['test']}"
        line += (
            f"; retry waits: {waits['real']['calls']} real ({waits['real']['seconds']:.2f} s), "
            f"{waits['virtual']['calls']} on virtual time; {summary['virtual']['calls']} virtual sleeps in all"
        )
        terminalreporter.write_line(line)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sleep-probe", "record real sleeps (bench.sleep_probe)")
    group.addoption("--sleep-probe-out", metavar="PATH", default=None, help="Write the sleep summary as JSON to PATH.")


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("--sleep-probe-out")
    probe = SleepProbe(config.rootpath, Path(out) if out else None)
    probe.install()
    config.pluginmanager.register(probe, "bench-sleep-probe")


def pytest_unconfigure(config: pytest.Config) -> None:
    probe = config.pluginmanager.get_plugin("bench-sleep-probe")
    if isinstance(probe, SleepProbe):
        probe.uninstall()
