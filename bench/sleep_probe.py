"""A pytest plugin that records every real ``time.sleep`` and ``asyncio.sleep`` of a test run.

Load it on the command line; nothing in ``conftest.py`` is needed::

    python -m pytest -p bench.sleep_probe --sleep-probe-out=sleeps.json

From ``pytest_configure`` until the session ends, ``time.sleep`` and ``asyncio.sleep`` are wrapped:
each call still sleeps, and is recorded with the seconds requested, the seconds it took, the test
running at the time, the code that called it and the first frame of the repository's own code on
the stack (its *origin*: a test, or the module under test). A sleep replaced by a mock never
reaches the wrapper and is not recorded, which is the point: only real waiting counts.

At session end the plugin prints one summary line and, with ``--sleep-probe-out``, writes the
summary as JSON (see :func:`summarise`). A sleep whose caller is the retry machinery
(``src/utils/retry.py``, tenacity, backoff, stamina or the anthropic SDK) counts as a *retry wait*:
a test suite that switches retries to testing mode should have none.

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
    """One real sleep."""

    function: str
    """``"time.sleep"`` or ``"asyncio.sleep"``."""
    requested: float
    measured: float
    test: str
    """The node id of the test running at the time, or what pytest was doing."""
    caller: str
    """``path:line (function)`` of the code that called the sleep."""
    origin: str
    """The innermost frame of the repository's own code on the stack, in the same form."""

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
    return sum(record.requested for record in records)


def _grouped(records: list[SleepRecord], key: Callable[[SleepRecord], str], name: str) -> list[dict[str, Any]]:
    groups: dict[str, list[SleepRecord]] = defaultdict(list)
    for record in records:
        groups[key(record)].append(record)
    ordered = sorted(groups.items(), key=lambda item: _sum(item[1]), reverse=True)
    return [{name: group, "calls": len(items), "requested_seconds": _sum(items)} for group, items in ordered[:_TOP]]


def summarise(records: list[SleepRecord]) -> dict[str, Any]:
    """Totals, the largest sleeps, the biggest sleepers by origin and by test, and the retry waits.

    ``measured_seconds`` adds up sleeps of concurrent threads, so it can exceed the wall time.
    """
    largest = sorted(records, key=lambda record: record.requested, reverse=True)
    retry_waits = [record for record in records if record.is_retry_wait]
    return {
        "calls": len(records),
        "nonzero_calls": sum(record.requested > 0 for record in records),
        "requested_seconds": _sum(records),
        "measured_seconds": sum(record.measured for record in records),
        "largest": [asdict(record) for record in largest[:_TOP]],
        "by_origin": _grouped(records, lambda record: record.origin, "origin"),
        "by_test": _grouped(records, lambda record: record.test, "test"),
        "retry_waits": {
            "calls": len(retry_waits),
            "requested_seconds": _sum(retry_waits),
            "examples": [asdict(record) for record in retry_waits[:_TOP]],
        },
    }


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

    def _record(self, function: str, seconds: object, measured: float, caller: FrameType) -> None:
        try:
            requested = float(seconds)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            requested = float("nan")
        record = SleepRecord(function, requested, measured, self.test, _where(caller, self.root), self._origin(caller))
        with self._lock:
            self.records.append(record)

    def install(self) -> None:
        """Replace ``time.sleep`` and ``asyncio.sleep`` with recording wrappers."""
        real_time_sleep, real_asyncio_sleep = self._real_time_sleep, self._real_asyncio_sleep

        def sleep(seconds: float | SupportsIndex) -> None:
            caller = sys._getframe(1)
            start = time.perf_counter()
            try:
                real_time_sleep(seconds)
            finally:
                self._record("time.sleep", seconds, time.perf_counter() - start, caller)

        async def asyncio_sleep(delay: float, result: T | None = None) -> T | None:
            caller = sys._getframe(1)
            start = time.perf_counter()
            try:
                return await real_asyncio_sleep(delay, result)
            finally:
                self._record("asyncio.sleep", delay, time.perf_counter() - start, caller)

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
            records = list(self.records)
        largest = max(records, key=lambda record: record.requested, default=None)
        retry_waits = [record for record in records if record.is_retry_wait]
        line = f"sleep probe: {len(records)} real sleeps, {_sum(records):.2f} s requested"
        if largest is not None:
            line += f", largest {largest.requested:g} s in {largest.test}"
        line += f"; retry waits: {len(retry_waits)} ({_sum(retry_waits):.2f} s)"
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
