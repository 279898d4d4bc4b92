"""The figures of a fleet run: load, amplification, success, latency and recovery.

Use :func:`summarize` on a :class:`~src.simulation.fleet.FleetRun` to get a
:class:`FleetSummary`, and :func:`timeline` for the run second by second.

Definitions (times are virtual seconds):

* amplification — upstream calls ÷ logical requests;
* success rate — successful requests ÷ logical requests;
* latency — from a request's arrival to its outcome (success, failure or
  refusal), waits included: how long a caller is blocked; p50 and p99 over every
  request, by linear interpolation between ranks;
* recovery — seconds from the end of the outage to the start of the first 1 s
  window (windows start at the outage's end) from which on every window's requests,
  grouped by arrival, succeed at :data:`RECOVERY_THRESHOLD` or better, up to the end
  of the run. Windows with no arrivals are skipped. ``None`` when there is no
  outage, no complete window after it, or the run never recovers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from src.simulation.fleet import FleetRun
from src.simulation.stats import percentile

__all__ = ["RECOVERY_THRESHOLD", "FleetSummary", "Second", "percentile", "recovery_time", "summarize", "timeline"]

RECOVERY_THRESHOLD = 0.95
"""The success rate per 1 s window that counts as recovered."""


@dataclass(frozen=True, slots=True)
class FleetSummary:
    """A fleet run in figures; rates and latencies are ``None`` when the run had no request."""

    policy: str
    guarded: bool
    """Whether the run had the retry budget and circuit breaker."""
    requests: int
    successes: int
    failures: int
    """Requests the policy gave up on, re-raising the upstream's failure."""
    refusals: int
    """Requests the policy failed fast with its own 503 (breaker open or budget spent)."""
    upstream_calls: int
    served: int
    """Calls answered within the caller's timeout (one per success)."""
    timed_out: int
    """Calls the caller gave up on, most after waiting in the upstream's queue."""
    down: int
    """Calls lost to the outage."""
    wasted: int
    """Timed-out calls the upstream served all the same: work nobody waited for."""
    amplification: float | None
    success_rate: float | None
    latency_p50: float | None
    latency_p99: float | None
    recovery: float | None
    breaker_opened: int | None
    """Times the breaker opened; ``None`` without one."""
    retries_denied: int | None
    """Retries the budget refused; ``None`` without one."""


@dataclass(frozen=True, slots=True)
class Second:
    """One second ``[start, start + 1)`` of a run."""

    start: int
    arrivals: int
    """Requests that arrived in this second."""
    successes: int
    """Of those, the ones that eventually succeeded."""
    calls: int
    """Upstream calls that started in this second."""


def summarize(run: FleetRun) -> FleetSummary:
    """The figures of ``run``; see the module docstring for their definitions."""
    requests = run.requests
    outcomes = [record.outcome for record in requests]
    results = [call.result for call in run.calls]
    count = len(requests)
    latencies = sorted(record.latency for record in requests)
    successes = outcomes.count("success")
    return FleetSummary(
        policy=run.policy.name,
        guarded=run.guarded,
        requests=count,
        successes=successes,
        failures=outcomes.count("failed"),
        refusals=outcomes.count("refused"),
        upstream_calls=len(run.calls),
        served=results.count("served"),
        timed_out=results.count("timed_out"),
        down=results.count("down"),
        wasted=run.wasted,
        amplification=len(run.calls) / count if count else None,
        success_rate=successes / count if count else None,
        latency_p50=percentile(latencies, 0.50) if count else None,
        latency_p99=percentile(latencies, 0.99) if count else None,
        recovery=recovery_time(run),
        breaker_opened=run.breaker.times_opened if run.breaker is not None else None,
        retries_denied=run.budget.retries_denied if run.budget is not None else None,
    )


def recovery_time(run: FleetRun, threshold: float = RECOVERY_THRESHOLD) -> float | None:
    """Seconds from the outage's end until every later 1 s window succeeds at ``threshold`` or better.

    See the module docstring; ``None`` when it can't be measured or never happens.
    """
    outage = run.config.outage
    if outage is None:
        return None
    windows = math.floor(run.config.duration - outage.end)
    if windows < 1:
        return None
    arrivals = [0] * windows
    successes = [0] * windows
    for record in run.requests:
        index = math.floor(record.arrived - outage.end)
        if 0 <= index < windows:
            arrivals[index] += 1
            successes[index] += record.outcome == "success"
    recovered_from: int | None = 0
    for index in range(windows):
        if arrivals[index] and successes[index] < threshold * arrivals[index]:
            recovered_from = index + 1 if index + 1 < windows else None
    return None if recovered_from is None else float(recovered_from)


def timeline(run: FleetRun) -> tuple[Second, ...]:
    """The run second by second, from 0 to the last request's end."""
    end = max((record.ended for record in run.requests), default=0.0)
    seconds = max(1, math.ceil(max(end, run.config.duration)))
    arrivals = [0] * seconds
    successes = [0] * seconds
    calls = [0] * seconds
    for record in run.requests:
        index = min(int(record.arrived), seconds - 1)
        arrivals[index] += 1
        successes[index] += record.outcome == "success"
    for call in run.calls:
        calls[min(int(call.start), seconds - 1)] += 1
    return tuple(Second(index, arrivals[index], successes[index], calls[index]) for index in range(seconds))
