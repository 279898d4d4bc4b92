"""Monte Carlo: many calls through a policy against an upstream that fails at random.

Use :func:`run_monte_carlo` to see what a policy costs and buys at a given failure
rate: how often a call still succeeds, how many attempts each call sends upstream
(the load the policy multiplies), and how long callers wait. Each attempt fails
independently with probability ``fail_rate`` by raising ``ConnectionError``, which
every policy treats as transient, so the theory is simple and is reported next to
the measurement: success rate ``1 - P**attempts`` and mean attempts
``(1 - P**attempts) / (1 - P)`` (``attempts`` when ``P == 1``).

Each call is measured in isolation: a policy's retry budget and circuit breaker
are reset before every call. Across calls they depend on when calls arrive, which
back-to-back calls on a clock that only moves while sleeping cannot model (an
open breaker would never cool down); that is a job for a simulation of many
clients over time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from src.simulation.clock import VirtualClock
from src.simulation.engine import silenced_retry_hooks, simulate_call
from src.simulation.stats import percentile
from src.utils.retry import RetryPolicy

__all__ = ["MonteCarloSummary", "expected_mean_attempts", "expected_success_rate", "run_monte_carlo"]

_PROGRESS_EVERY = 1000


@dataclass(frozen=True, slots=True)
class MonteCarloSummary:
    """What ``runs`` random calls through one policy measured, next to the theory."""

    policy: str
    runs: int
    fail_rate: float
    seed: int
    max_attempts: int
    success_rate: float
    mean_attempts: float
    """Attempts per call: the load the policy multiplies onto the upstream."""
    wait_p50: float
    """Total virtual wait per call (successful or not), median; likewise p95, p99 and max."""
    wait_p95: float
    wait_p99: float
    wait_max: float
    expected_success_rate: float
    expected_mean_attempts: float


def expected_success_rate(fail_rate: float, attempts: int) -> float:
    """``1 - P**attempts``: the chance one of ``attempts`` independent tries succeeds."""
    return 1.0 - fail_rate**attempts


def expected_mean_attempts(fail_rate: float, attempts: int) -> float:
    """Mean tries of a call that stops at the first success or after ``attempts``: ``(1 - P**a) / (1 - P)``."""
    if fail_rate >= 1.0:
        return float(attempts)
    return (1.0 - fail_rate**attempts) / (1.0 - fail_rate)


def run_monte_carlo(
    policy: RetryPolicy,
    *,
    runs: int,
    fail_rate: float,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> MonteCarloSummary:
    """Make ``runs`` calls through ``policy``, each attempt failing with probability ``fail_rate``.

    Failures are drawn from one generator seeded by ``seed`` and jitter from another,
    so two policies given the same seed face the same upstream. ``progress``, if
    given, is called now and then with the number of calls finished since its last
    call. Raises ``ValueError`` for ``runs < 1`` or a ``fail_rate`` outside [0, 1].
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be an integer >= 1, got {runs!r}")
    if not 0.0 <= fail_rate <= 1.0:  # also rejects NaN
        raise ValueError(f"fail_rate must be between 0 and 1, got {fail_rate!r}")

    failures = random.Random(f"failures:{seed}")
    jitter = random.Random(seed)
    clock = VirtualClock()
    isolated = policy.with_fresh_state(clock.time)
    runner = isolated.runner(sleep=clock.advance, rng=jitter)

    def source(attempt: int, now: float) -> BaseException | None:
        if failures.random() < fail_rate:
            return ConnectionError("simulated transient failure")
        return None

    waits: list[float] = []
    successes = 0
    attempts = 0
    with silenced_retry_hooks():
        for done in range(1, runs + 1):
            isolated.reset()
            trace = simulate_call(isolated, source, clock=clock, rng=jitter, runner=runner)
            successes += trace.error is None
            attempts += trace.attempts
            waits.append(trace.elapsed)
            if progress is not None and done % _PROGRESS_EVERY == 0:
                progress(_PROGRESS_EVERY)
    if progress is not None and runs % _PROGRESS_EVERY:
        progress(runs % _PROGRESS_EVERY)

    waits.sort()
    return MonteCarloSummary(
        policy=policy.name,
        runs=runs,
        fail_rate=fail_rate,
        seed=seed,
        max_attempts=policy.attempts,
        success_rate=successes / runs,
        mean_attempts=attempts / runs,
        wait_p50=percentile(waits, 0.50),
        wait_p95=percentile(waits, 0.95),
        wait_p99=percentile(waits, 0.99),
        wait_max=waits[-1],
        expected_success_rate=expected_success_rate(fail_rate, policy.attempts),
        expected_mean_attempts=expected_mean_attempts(fail_rate, policy.attempts),
    )
