"""Timing helpers shared by the sections: interleaved rounds, calibration, medians, the machine.

On a shared machine the speed changes from one second to the next, so no section times one
candidate fully and then the next. :func:`interleave` gives every candidate one sample per round,
in an order rotated each round, so a burst of noise lands on all of them; the caller then compares
the minimum or the median of each candidate's samples.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any, TypeVar

from bench import REPO_ROOT

__all__ = [
    "Sampler",
    "calibrate",
    "interleave",
    "machine_description",
    "median",
    "paired_ratio",
    "rotated",
    "timed_loop",
]

T = TypeVar("T")

Sampler = Callable[[int], float]
"""Runs the measured operation ``n`` times and returns the seconds it took."""


def median(values: Iterable[float]) -> float:
    """The median; raises ``statistics.StatisticsError`` for no values."""
    return float(statistics.median(values))


def rotated(items: Sequence[T], round_index: int) -> list[T]:
    """``items`` starting at position ``round_index`` (modulo), wrapping around."""
    if not items:
        return []
    shift = round_index % len(items)
    return [*items[shift:], *items[:shift]]


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of per-round ratios: each round's figure against the baseline of the same round."""
    return median(n / d for n, d in zip(numerators, denominators, strict=True) if d > 0)


def timed_loop(loop: Callable[[int], None]) -> Sampler:
    """A sampler around ``loop(n)``, timed with the garbage collector off (as ``timeit`` does)."""

    def sample(n: int) -> float:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            start = time.perf_counter()
            loop(n)
            return time.perf_counter() - start
        finally:
            if was_enabled:
                gc.enable()

    return sample


def calibrate(sample: Sampler, seconds: float, *, probe: int = 20, max_number: int = 10_000_000) -> int:
    """How many operations make a sample of about ``seconds`` (at least one)."""
    sample(probe)  # warm-up
    n = probe
    elapsed = sample(n)
    while elapsed < seconds / 20 and n < max_number:
        n *= 10
        elapsed = sample(n)
    per_op = elapsed / n
    return max(1, min(max_number, round(seconds / per_op))) if per_op > 0 else max_number


def interleave(samplers: Mapping[str, Sampler], *, rounds: int, seconds: float) -> dict[str, list[float]]:
    """Seconds per operation of each sampler, one sample per round, the order rotated each round.

    Each sampler is first calibrated to samples of about ``seconds``; the whole run then takes
    about ``rounds * len(samplers) * seconds``.
    """
    numbers = {name: calibrate(sample, seconds) for name, sample in samplers.items()}
    per_op: dict[str, list[float]] = {name: [] for name in samplers}
    names = list(samplers)
    for round_index in range(rounds):
        for name in rotated(names, round_index):
            n = numbers[name]
            per_op[name].append(samplers[name](n) / n)
    return per_op


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_description() -> dict[str, Any]:
    """The machine, the date and the versions a run measured: the ``meta`` of the JSON document."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable_is_venv": sys.prefix != sys.base_prefix,
        "load_average": _load_average(),
        "commit": _git_commit(),
        "versions": {
            name: _version(name)
            for name in ("tenacity", "backoff", "stamina", "flask", "werkzeug", "gunicorn", "pytest")
        },
    }
