"""Run calls through the real retry policies on a virtual clock and record what happened.

Use :func:`run_scenario` to replay one scripted sequence of outcomes and get a
timeline back, and :func:`simulate_call` when the outcome of each attempt is
decided some other way (a random failure rate, or later an upstream shared by many
clients): it takes an :data:`AttemptSource`.

Nothing here computes a wait. Every call goes through ``RetryPolicy.call`` with
the clock's ``advance`` as its sleep and a seeded ``random.Random`` as its jitter,
so the waits, the stops and the Retry-After handling are the policy's own.

A policy may carry a retry budget and a circuit breaker shared by all its calls
(``ai_retry`` does). A simulation must not drain the process-wide ones, so
:func:`run_scenario` runs on ``policy.with_fresh_state(clock.time)``; callers of
:func:`simulate_call` choose for themselves.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from src.simulation.clock import VirtualClock
from src.simulation.scenario import Scenario
from src.utils.retry import RetryDetails, RetryHook, RetryPolicy, get_on_retry_hooks, set_on_retry_hooks
from src.utils.transient import http_status_of, retry_after_of

__all__ = [
    "AttemptRecord",
    "AttemptSource",
    "CallTrace",
    "Result",
    "ScenarioRun",
    "random_seed",
    "run_scenario",
    "silenced_retry_hooks",
    "simulate_call",
]

AttemptSource = Callable[[int, float], BaseException | None]
"""Decides one attempt: called with its number (1-based) and the virtual time, returns
the exception the attempt raises, or ``None`` if it succeeds."""

Result = Literal["success", "gave_up", "not_retried", "refused"]
"""How a call ended: it succeeded, the policy gave up on a retryable failure, the failure was
permanent, or the policy's own circuit breaker or retry budget failed it fast."""


@dataclass(frozen=True, slots=True)
class CallTrace:
    """One simulated call: how many attempts it took and how it ended."""

    attempts: int
    error: BaseException | None
    """The exception the call finally raised, or ``None`` if it succeeded."""
    started: float
    ended: float
    refused: bool = False
    """Whether the policy raised an error of its own (an open circuit, a spent budget)
    instead of the last attempt's failure."""

    @property
    def elapsed(self) -> float:
        """Virtual seconds from the first attempt to the end: the total wait, since attempts take no time."""
        return self.ended - self.started


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt in a :class:`ScenarioRun`."""

    attempt: int
    start: float
    """Virtual seconds since the call began."""
    outcome: str
    """The scenario's outcome, e.g. ``"ai-ratelimit@7"``."""
    error: str | None
    """What was raised, e.g. ``"429 RateLimitError"``; ``None`` for a success."""
    retry_after: float | None
    """The Retry-After the failure carried, as the policy reads it."""
    wait: float | None
    """The policy's wait before the next attempt; ``None`` after the last one."""


@dataclass(frozen=True, slots=True)
class ScenarioRun:
    """A scenario replayed through one policy: every attempt and the verdict."""

    policy: str
    scenario: str
    seed: int
    max_attempts: int
    wait_min: float
    wait_max: float
    attempts: tuple[AttemptRecord, ...]
    result: Result
    total_time: float
    retry_after_too_long: float | None
    """Set when the policy gave up early because the server asked for more than ``wait_max``."""
    refusal: str | None = None
    """For a ``"refused"`` call: what the policy's breaker or budget raised."""


class _SourceFailed(Exception):
    """The attempt source itself broke; carried through the policy (which retries no such thing) and unwrapped."""


@contextmanager
def silenced_retry_hooks() -> Iterator[None]:
    """Switch off the global retry hooks (the WARNING log, metrics) for a simulation, then restore them.

    Use it around simulated calls so that thousands of virtual retries neither
    flood the log nor count as real ones.
    """
    previous = get_on_retry_hooks()
    set_on_retry_hooks([])
    try:
        yield
    finally:
        set_on_retry_hooks(previous)


def random_seed() -> int:
    """A fresh seed for a run the user did not seed, short enough to retype (0 to 999,999)."""
    return secrets.randbelow(1_000_000)


def simulate_call(
    policy: RetryPolicy,
    source: AttemptSource,
    *,
    clock: VirtualClock,
    rng: random.Random,
    on_retry: RetryHook | None = None,
    runner: Callable[[Callable[[], None]], None] | None = None,
) -> CallTrace:
    """Run one call through ``policy``: ``source`` decides each attempt, ``clock`` takes the waits.

    The policy is used as given, budget and breaker included: pass
    ``policy.with_fresh_state(clock.time)`` for calls that must not share them with
    the process. The global retry hooks still fire; wrap the run in
    :func:`silenced_retry_hooks` to keep them quiet. An exception raised by
    ``source`` itself (not returned by it) propagates unchanged rather than being
    mistaken for the call's failure. For many calls, pass ``runner``, a
    ``policy.runner(sleep=clock.advance, rng=rng)`` built once, instead of
    paying for a fresh ``policy.call`` each time.
    """
    started = clock.now
    attempts = 0
    last: BaseException | None = None

    def attempt() -> None:
        nonlocal attempts, last
        attempts += 1
        try:
            last = source(attempts, clock.now)
        except Exception as bug:
            raise _SourceFailed() from bug
        if last is not None:
            raise last

    try:
        if runner is not None:
            runner(attempt)
        else:
            policy.call(attempt, sleep=clock.advance, rng=rng, on_retry=on_retry)
    except _SourceFailed as failed:
        bug = failed.__cause__
        assert bug is not None  # set by `raise ... from bug` above
        raise bug from None
    except Exception as error:
        return CallTrace(attempts, error, started, clock.now, refused=error is not last)
    return CallTrace(attempts, None, started, clock.now)


def run_scenario(
    policy: RetryPolicy, scenario: Scenario, *, seed: int, clock: VirtualClock | None = None
) -> ScenarioRun:
    """Replay ``scenario`` through ``policy`` with jitter from ``random.Random(seed)``.

    The run gets its own fresh budget and breaker on the run's clock, so the same
    policy, scenario and seed always give the same run, whatever ran before, and
    the process-wide policy is left untouched. Global retry hooks are silenced for
    the duration.
    """
    clock = clock or VirtualClock()
    isolated = policy.with_fresh_state(clock.time)
    origin = clock.now
    starts: list[float] = []
    errors: list[BaseException | None] = []
    retries: dict[int, RetryDetails] = {}

    def source(attempt: int, now: float) -> BaseException | None:
        starts.append(now - origin)
        error = scenario.outcome_for(attempt).exception()
        errors.append(error)
        return error

    def on_retry(details: RetryDetails) -> None:
        retries[details.attempt] = details

    with silenced_retry_hooks():
        trace = simulate_call(isolated, source, clock=clock, rng=random.Random(seed), on_retry=on_retry)

    records = tuple(
        AttemptRecord(
            attempt=number,
            start=start,
            outcome=str(scenario.outcome_for(number)),
            error=None if error is None else _describe(error),
            retry_after=None if error is None else retry_after_of(error),
            wait=retries[number].wait if number in retries else None,
        )
        for number, (start, error) in enumerate(zip(starts, errors, strict=True), start=1)
    )
    result: Result
    too_long: float | None = None
    refusal: str | None = None
    if trace.error is None:
        result = "success"
    elif trace.refused:
        result, refusal = "refused", str(trace.error) or type(trace.error).__name__
    elif not policy.is_retryable(trace.error):
        result = "not_retried"
    else:
        result = "gave_up"
        asked = records[-1].retry_after
        if asked is not None and asked >= policy.wait_max and trace.attempts < policy.attempts:
            too_long = asked
    return ScenarioRun(
        policy=policy.name,
        scenario=str(scenario),
        seed=seed,
        max_attempts=policy.attempts,
        wait_min=policy.wait_min,
        wait_max=policy.wait_max,
        attempts=records,
        result=result,
        total_time=trace.elapsed,
        retry_after_too_long=too_long,
        refusal=refusal,
    )


def _describe(error: BaseException) -> str:
    status = http_status_of(error)
    name = type(error).__name__
    return name if status is None else f"{status} {name}"
